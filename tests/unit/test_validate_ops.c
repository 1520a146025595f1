// SPDX-License-Identifier: MIT
/*
 * Validation of each op's semantics (test_validate_*: test_validate.h): shapes
 * and parameters per op, positions and data read at run time, aliasing,
 * core scratch, faults, and the order of the checks.
 */
#include "test_validate.h"

/* ---- shapes, per op ------------------------------------------------------ */

static void shape_matmul(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_matmul(f);
	op.in[1].cols = 32;		/* K 32 against x's 64 */
	op.in[1].stride = 32;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_matmul(f);
	op.out.rows = 3;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_matmul(f);
	op.out.cols = 3;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_matmul(f);
	op.in[2].rows = 2;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_matmul(f);
	op.in[2].cols = 3;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

static void matmul_group_size(void **state)
{
	struct fx *f = *state;
	static const uint32_t bad[] = { 0, 1, 16, 48, 96, 128, 256, 0xffffffffu };
	struct drm_npu_op op;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		op = good_matmul(f);
		op.matmul.group_size = bad[i];
		expect_bad(f, &op, ST(BAD_QPARAM));
	}
	op = good_matmul(f);
	op.matmul.group_size = 64;	/* one group per row */
	expect_ok(f, &op);
	/* K = 48: 48 is its own group, 32 does not divide it. */
	op = good_matmul(f);
	op.in[0].cols = 48;
	op.in[1].cols = 48;
	op.in[1].stride = 48;
	op.matmul.group_size = 48;
	expect_ok(f, &op);
	op.matmul.group_size = 32;
	expect_bad(f, &op, ST(BAD_QPARAM));
}

static void shape_norm(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_norm(f, DRM_NPU_OP_RMSNORM);
	op.in[1].rows = 2;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_norm(f, DRM_NPU_OP_RMSNORM);
	op.in[1].cols = 32;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_norm(f, DRM_NPU_OP_LAYERNORM);
	op.in[2].cols = 32;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_norm(f, DRM_NPU_OP_LAYERNORM);
	op.in[2].rows = 2;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_norm(f, DRM_NPU_OP_LAYERNORM);
	op.out.rows = 1;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_norm(f, DRM_NPU_OP_RMSNORM);
	op.out.cols = 63;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

static void norm_eps_invalid(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_norm(f, DRM_NPU_OP_RMSNORM);
	op.norm.eps.mult = 0;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_norm(f, DRM_NPU_OP_LAYERNORM);
	op.norm.eps.shift = 127;
	expect_bad(f, &op, ST(BAD_QPARAM));
}

static void shape_softmax(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_softmax(f);
	op.out.rows = 1;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_softmax(f);
	op.out.cols = 8;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

static void softmax_params(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_softmax(f);
	op.pos.alpha.mult = 0;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_softmax(f);
	op.pos.n_heads = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_softmax(f);
	op.pos.n_kv_heads = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_softmax(f);
	op.pos.head_dim = 2;
	expect_bad(f, &op, ST(BAD_RESERVED));
}

/* A position means nothing without F_CAUSAL. */
static void softmax_pos_without_causal(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_softmax(f);
	op.flags = 0;
	expect_bad(f, &op, ST(BAD_FLAGS));	/* pos 3 */
	op.pos.pos = 0;
	expect_ok(f, &op);
	op.flags = DRM_NPU_OP_F_POS_ADDR;
	op.pos.pos_addr = f->p.addr + P_POS;
	expect_bad(f, &op, ST(BAD_FLAGS));
	op.flags |= DRM_NPU_OP_F_CAUSAL;
	expect_ok(f, &op);
}

static void shape_unary(void **state)
{
	static const uint16_t ops[] = { DRM_NPU_OP_SILU, DRM_NPU_OP_GELU, DRM_NPU_OP_QUANTIZE };
	struct fx *f = *state;
	struct drm_npu_op op;
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		op = good_unary(f, ops[i]);
		op.out.rows = 1;
		expect_bad(f, &op, ST(BAD_SHAPE));
		op = good_unary(f, ops[i]);
		op.out.cols = 15;
		expect_bad(f, &op, ST(BAD_SHAPE));
	}
}

static void shape_binary(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;
	int i;

	for (i = 0; i < 2; i++) {
		uint16_t opc = i ? DRM_NPU_OP_MUL : DRM_NPU_OP_ADD;

		op = good_binary(f, opc);
		op.in[1].rows = 1;	/* broadcast over a's rows */
		expect_ok(f, &op);
		op.in[1].rows = 3;
		expect_bad(f, &op, ST(BAD_SHAPE));
		op = good_binary(f, opc);
		op.in[1].cols = 8;
		expect_bad(f, &op, ST(BAD_SHAPE));
		op = good_binary(f, opc);
		op.out.rows = 1;
		expect_bad(f, &op, ST(BAD_SHAPE));
		op = good_binary(f, opc);
		op.out.cols = 8;
		expect_bad(f, &op, ST(BAD_SHAPE));
	}
	/* rows 1 broadcasts b, never a. */
	op = good_binary(f, DRM_NPU_OP_ADD);
	op.in[0].rows = 1;
	op.out.rows = 1;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

static void shape_rope(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	/* Odd head_dim alone: 2 heads of 7, 14 columns, 3 frequencies. */
	op = good_rope(f);
	op.pos.head_dim = 7;
	op.in[0].cols = 14;
	op.out.cols = 14;
	op.in[1].cols = 3;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_rope(f);
	op.pos.head_dim = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_rope(f);
	op.pos.n_heads = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_rope(f);
	op.pos.n_heads = 4;		/* 4 x 8 != 16 columns */
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_rope(f);
	op.in[1].cols = 2;		/* head_dim / 2 == 4 */
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_rope(f);
	op.in[1].rows = 2;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_rope(f);
	op.out.rows = 1;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_rope(f);
	op.out.cols = 8;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

static void rope_params(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_rope(f);
	op.pos.n_kv_heads = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_rope(f);
	op.pos.alpha = one_abi;
	expect_bad(f, &op, ST(BAD_RESERVED));
}

static void shape_attention(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_attention(f);
	op.pos.n_heads = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_attention(f);
	op.pos.n_kv_heads = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_attention(f);
	op.pos.head_dim = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
	/* 3 query heads over 2 KV heads, every width consistent. */
	op = good_attention(f);
	op.pos.n_heads = 3;
	op.pos.n_kv_heads = 2;
	op.in[0] = TN(f->x.addr, 1, 24, I8, TENSOR, 0);
	op.in[1] = TN(f->w.addr + W_K, 8, 16, I8, TENSOR, 0);
	op.in[2] = TN(f->w.addr + W_V, 8, 16, I8, TENSOR, 0);
	op.out = TN(f->o.addr, 1, 24, I16, TENSOR, 0);
	expect_bad(f, &op, ST(BAD_SHAPE));
	op.pos.n_heads = 4;		/* 32 columns: 4 % 2 == 0 */
	op.in[0] = TN(f->x.addr, 1, 32, I8, TENSOR, 0);
	op.out = TN(f->o.addr, 1, 32, I16, TENSOR, 0);
	expect_ok(f, &op);
	/* Widths against heads x head_dim. */
	op = good_attention(f);
	op.pos.n_heads = 4;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_attention(f);
	op.pos.n_kv_heads = 2;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_attention(f);
	op.pos.head_dim = 4;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_attention(f);
	op.in[1].cols = 4;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_attention(f);
	op.in[2].cols = 4;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_attention(f);
	op.in[2].rows = 7;		/* k and v caches of different lengths */
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_attention(f);
	op.out.rows = 2;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_attention(f);
	op.out.cols = 8;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

/*
 * Only ROPE pairs elements: ATTENTION takes any head_dim, here 2 heads of
 * 7 with every width consistent.
 */
static void attention_odd_head_dim(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op = good_attention(f);

	op.pos.head_dim = 7;
	op.in[0].cols = 14;
	op.out.cols = 14;
	op.in[1].cols = 7;
	op.in[1].stride = 7;
	op.in[2].cols = 7;
	op.in[2].stride = 7;
	expect_ok(f, &op);
}

static void attention_alpha_invalid(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_attention(f);
	op.pos.alpha.mult = 0;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_attention(f);
	op.pos.alpha.shift = -33;
	expect_bad(f, &op, ST(BAD_QPARAM));
}

static void shape_kv_append(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op = good_kv_append(f);

	op.in[0].cols = 4;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

static void kv_append_params(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_kv_append(f);
	op.pos.n_heads = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_kv_append(f);
	op.pos.n_kv_heads = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_kv_append(f);
	op.pos.head_dim = 8;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_kv_append(f);
	op.pos.alpha.shift = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
}

static void shape_embedding(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_embedding(f);
	op.in[1].cols = 2;
	op.in[1].stride = 8;
	op.in[1].rows = 1;
	op.out.rows = 1;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_embedding(f);
	op.out.rows = 3;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_embedding(f);
	op.out.cols = 4;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

static void shape_argmax(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_argmax(f);
	op.out.cols = 2;
	op.out.stride = 8;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_argmax(f);
	op.out.rows = 1;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

/* ---- positions ------------------------------------------------------------ */

/* An immediate position past the cache is a validation error: nothing runs. */
static void range_immediate(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_attention(f);
	op.pos.pos = 7;			/* the last row of 8 */
	expect_ok(f, &op);
	op.pos.pos = 8;
	expect_bad(f, &op, ST(RANGE));
	op.pos.pos = 0xffffffffu;
	expect_bad(f, &op, ST(RANGE));
	op = good_kv_append(f);
	op.pos.pos = 7;
	expect_ok(f, &op);
	op.pos.pos = 8;
	expect_bad(f, &op, ST(RANGE));
	op.pos.pos = 0xffffffffu;
	expect_bad(f, &op, ST(RANGE));
	/* Two rows from position 7 need 9. */
	op = good_kv_append(f);
	op.in[0].rows = 2;
	op.pos.pos = 6;
	expect_ok(f, &op);
	op.pos.pos = 7;
	expect_bad(f, &op, ST(RANGE));
}

/* A position read from memory is checked as the op runs. */
static void range_from_memory(void **state)
{
	struct fx *f = *state;
	uint32_t *pos = (uint32_t *)((char *)f->p.p + P_POS);
	struct drm_npu_op ops[2];
	int i;

	ops[0] = good_attention(f);
	ops[1] = good_kv_append(f);
	for (i = 0; i < 2; i++) {
		ops[i].flags = DRM_NPU_OP_F_POS_ADDR;
		ops[i].pos.pos = 0;
		ops[i].pos.pos_addr = f->p.addr + P_POS;
		*pos = 7;
		expect_ok(f, &ops[i]);
		*pos = 8;
		expect_stop(f, &ops[i], ST(RANGE));
		*pos = 0xffffffffu;
		expect_stop(f, &ops[i], ST(RANGE));
	}
	/* Two rows from position 7 need 9. */
	ops[1].in[0].rows = 2;
	*pos = 6;
	expect_ok(f, &ops[1]);
	*pos = 7;
	expect_stop(f, &ops[1], ST(RANGE));
	ops[0].in[0].rows = 2;
	ops[0].out.rows = 2;
	*pos = 6;
	expect_ok(f, &ops[0]);
	*pos = 7;
	expect_stop(f, &ops[0], ST(RANGE));
}

/* ---- data read at run time ---------------------------------------------- */

static void index_out_of_range(void **state)
{
	struct fx *f = *state;
	static const int32_t bad[] = { 16, -1, 0x7fffffff, (int32_t)0x80000000u };
	int32_t *ids = (int32_t *)((char *)f->p.p + P_IDS);
	struct drm_npu_op op = good_embedding(f);
	size_t i;

	ids[1] = 15;
	expect_ok(f, &op);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ids[0] = 0;
		ids[1] = bad[i];
		expect_stop(f, &op, ST(INDEX));
		ids[0] = bad[i];
		ids[1] = 0;
		expect_stop(f, &op, ST(INDEX));
	}
}

static void row_scale_invalid_in_memory(void **state)
{
	struct fx *f = *state;
	static const struct drm_npu_scale bad[] = {
		{ 0, 30 }, { -5, 30 }, { 1 << 30, -33 }, { 1 << 30, 127 },
	};
	struct drm_npu_scale *rs = (struct drm_npu_scale *)((char *)f->f.p + F_ROWS);
	struct drm_npu_op op = good_silu_row(f);
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rs[1] = bad[i];
		expect_stop(f, &op, ST(BAD_QPARAM));
	}
	rs[1] = one_abi;
	expect_ok(f, &op);
}

/* ---- aliasing ------------------------------------------------------------- */

static void alias_matmul_out_over_x(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_matmul(f);
	op.out.addr = f->x.addr + 64;	/* inside x's second row */
	expect_bad(f, &op, ST(ALIAS));
	op.out.addr = f->x.addr + 128;	/* just past x */
	expect_ok(f, &op);
	op.out.addr = f->x.addr + 128 - 4;
	expect_bad(f, &op, ST(ALIAS));
	/* Over the weights' group factors or the bias. */
	op = good_matmul(f);
	op.out.addr = f->f.addr + F_FACT + 8;
	expect_bad(f, &op, ST(ALIAS));
	op = good_matmul(f);
	op.out.addr = f->p.addr + P_BIAS;
	expect_bad(f, &op, ST(ALIAS));
}

static void alias_out_over_own_scales(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_quantize_row(f);
	op.out.scale_addr = f->o.addr + 16;	/* inside out's 32 bytes */
	expect_bad(f, &op, ST(ALIAS));
	op.out.scale_addr = f->o.addr + 32;
	expect_ok(f, &op);
	op.out.scale_addr = f->o.addr;
	op.out.addr = f->o.addr + 12;		/* data over the last scale's end */
	expect_bad(f, &op, ST(ALIAS));
}

/* Scales are memory too: out may not overlap an input's, nor its own an input. */
static void alias_scales(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_silu_row(f);
	op.out.addr = f->f.addr + F_ROWS + 8;	/* over in's scale of row 1 */
	expect_bad(f, &op, ST(ALIAS));
	op = good_quantize_row(f);
	op.out.scale_addr = f->x.addr + 24;	/* out's scales over in's data */
	expect_bad(f, &op, ST(ALIAS));
	op = good_silu_row(f);
	op.out = TN(f->o.addr, 2, 16, I8, ROW, f->f.addr + F_ROWS + 8);
	expect_bad(f, &op, ST(ALIAS));		/* both scale arrays overlap */
	op.out.scale_addr = f->f.addr + F_ROWS + 16;
	expect_ok(f, &op);
}

static void alias_row_local_partial(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_SILU);
	op.out.addr = f->x.addr + 16;	/* one row behind */
	expect_bad(f, &op, ST(ALIAS));
	op.out.addr = f->x.addr + 31;
	expect_bad(f, &op, ST(ALIAS));
	/* Same start, another stride: not the same tensor. */
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.out.addr = f->x.addr;
	op.out.stride = 32;
	expect_bad(f, &op, ST(ALIAS));
	/* Same address, stride and shape, another dtype: not the same tensor. */
	op = good_binary(f, DRM_NPU_OP_ADD);
	op.out = TN(f->x2.addr, 2, 8, I16, TENSOR, 0);
	op.in[0].cols = 8;
	op.in[0].stride = 16;
	op.in[1] = TN(f->x2.addr, 2, 8, I8, TENSOR, 0);
	op.in[1].stride = 16;
	expect_bad(f, &op, ST(ALIAS));
}

/* A row-local op may write exactly over one of its inputs. */
static void alias_exact_in_place_ok(void **state)
{
	struct fx *f = *state;
	int8_t *x = f->x.p, *x2 = f->x2.p;
	int16_t *x16 = f->x.p;
	struct drm_npu_op op;
	int i;

	for (i = 0; i < 32; i++) {
		x[i] = (int8_t)(i - 10);
		x2[i] = 3;
	}
	op = good_binary(f, DRM_NPU_OP_ADD);
	op.out = TN(f->x.addr, 2, 16, I8, TENSOR, 0);
	expect_ok(f, &op);
	for (i = 0; i < 32; i++)
		assert_int_equal(x[i], i - 10 + 3);
	op.out = TN(f->x2.addr, 2, 16, I8, TENSOR, 0);
	expect_ok(f, &op);
	for (i = 0; i < 32; i++)
		assert_int_equal(x2[i], i - 10 + 3 + 3);

	/* QUANTIZE I16 in place from scale 1 to scale 2: values halve. */
	for (i = 0; i < 32; i++)
		x16[i] = (int16_t)(4 * i - 60);
	op = good_unary(f, DRM_NPU_OP_QUANTIZE);
	op.in[0] = TN(f->x.addr, 2, 16, I16, TENSOR, 0);
	op.out = op.in[0];
	op.out.scale.shift = 29;
	expect_ok(f, &op);
	for (i = 0; i < 32; i++)
		assert_int_equal(x16[i], 2 * i - 30);
}

/* Only row-local ops may work in place. */
static void alias_exact_not_row_local(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_kv_append(f);
	op.in[0] = TN(f->w.addr + W_K, 8, 8, I8, TENSOR, 0);
	op.pos.pos = 0;
	expect_bad(f, &op, ST(ALIAS));
	op = good_embedding(f);
	op.out = TN(f->w.addr + W_TAB, 2, 8, I8, TENSOR, 0);
	expect_bad(f, &op, ST(ALIAS));
	op = good_attention(f);
	op.out = TN(f->w.addr + W_K, 1, 16, I16, TENSOR, 0);
	expect_bad(f, &op, ST(ALIAS));
}

/* ---- scratch ---------------------------------------------------------------- */

/* Scores of every head over the whole cache live in the core's scratch. */
static void too_large_attention(void **state)
{
	struct fx *f = *state;
	struct npu_info info;
	struct drm_npu_op op = blank(DRM_NPU_OP_ATTENTION);
	uint32_t n_heads = 64, cap_big, cap_small;
	struct t_buf kv;

	assert_int_equal(npu_query(f->dev, &info), NPU_OK);
	/* Eight bytes per score: the scores alone overflow the scratch. */
	cap_big = (uint32_t)(info.scratch_size / (8ull * n_heads)) + 1;
	cap_small = cap_big / 2;
	kv = t_alloc(f->dev, 4ull * cap_big);
	op.in[0] = TN(f->x.addr, 1, 2 * n_heads, I8, TENSOR, 0);
	op.in[1] = TN(kv.addr, cap_small, 2, I8, TENSOR, 0);
	op.in[2] = TN(kv.addr + 2ull * cap_big, cap_small, 2, I8, TENSOR, 0);
	op.out = TN(f->o.addr, 1, 2 * n_heads, I16, TENSOR, 0);
	op.pos.n_heads = n_heads;
	op.pos.n_kv_heads = 1;
	op.pos.head_dim = 2;
	op.pos.alpha = one_abi;
	expect_ok(f, &op);
	op.in[1].rows = cap_big;
	op.in[2].rows = cap_big;
	expect_bad(f, &op, ST(TOO_LARGE));
}

/* ---- faults ---------------------------------------------------------------- */

/*
 * Fault tests use a page-sized buffer: both MMUs (cpu backend, npu.ko) map
 * whole pages, and a guard page follows every buffer.
 */
#define FB_SIZE 4096

/* An address in no buffer faults at that address. */
static void fault_unmapped(void **state)
{
	struct fx *f = *state;
	struct t_buf b = t_alloc(f->dev, FB_SIZE);
	uint64_t end = b.addr + b.size;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].addr = 0x1000;
	expect_fault(f, &op, 0x1000);
	op.in[0].addr = end + 7;		/* in the guard gap after b */
	expect_fault(f, &op, end + 7);
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.out.addr = end + 100;
	expect_fault(f, &op, end + 100);
	op = good_matmul(f);
	op.in[1].addr = 1ull << 62;
	expect_fault(f, &op, 1ull << 62);
	op = good_matmul(f);
	op.in[2].addr = end;
	expect_fault(f, &op, end);
}

/* A range that starts in a buffer and runs past it faults at its end. */
static void fault_past_end(void **state)
{
	struct fx *f = *state;
	struct t_buf b = t_alloc(f->dev, FB_SIZE);
	uint64_t end = b.addr + b.size;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].addr = end - 32;		/* 2 x 16 fit exactly */
	expect_ok(f, &op);
	op.in[0].addr = end - 31;
	expect_fault(f, &op, end);
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.out.addr = end - 10;
	expect_fault(f, &op, end);
	/* The stride carries the last row out. */
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].addr = b.addr;
	op.in[0].stride = (uint32_t)b.size - 6;
	expect_fault(f, &op, end);
}

static void fault_scales(void **state)
{
	struct fx *f = *state;
	struct t_buf b = t_alloc(f->dev, FB_SIZE);
	uint64_t end = b.addr + b.size;
	struct drm_npu_op op;

	op = good_silu_row(f);
	op.in[0].scale_addr = 0x2000;
	expect_fault(f, &op, 0x2000);
	op.in[0].scale_addr = end - 8;		/* 2 rows need 16 bytes */
	expect_fault(f, &op, end);
	op = good_quantize_row(f);
	op.out.scale_addr = end - 12;
	expect_fault(f, &op, end);
	op = good_matmul(f);
	op.in[1].scale_addr = end - 14;	/* 4 rows x 2 groups x 2 bytes */
	expect_fault(f, &op, end);
	op.in[1].scale_addr = end - 16;
	expect_ok(f, &op);
}

static void fault_pos_addr(void **state)
{
	struct fx *f = *state;
	struct t_buf b = t_alloc(f->dev, FB_SIZE);
	uint64_t end = b.addr + b.size;
	struct drm_npu_op op = good_rope(f);

	op.flags = DRM_NPU_OP_F_POS_ADDR;
	op.pos.pos = 0;
	op.pos.pos_addr = end - 4;
	expect_ok(f, &op);
	op.pos.pos_addr = end;
	expect_fault(f, &op, end);
	op.pos.pos_addr = 0;
	expect_fault(f, &op, 0);
}

/*
 * A freed buffer's address faults: it is reused only after many more frees
 * (64 on the accel driver, 1,024 on the software core) or when nothing
 * else fits, so the next buffer does not take its place.
 */
static void fault_freed_buffer(void **state)
{
	struct fx *f = *state;
	struct t_buf b = t_alloc(f->dev, FB_SIZE);
	uint64_t addr = b.addr;
	struct drm_npu_op op;

	memset(b.p, 1, FB_SIZE);
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].addr = addr;
	expect_ok(f, &op);
	t_free(f->dev, &b);
	b = t_alloc(f->dev, FB_SIZE);	/* a new buffer does not take its place */
	expect_fault(f, &op, addr);
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.out.addr = addr + 16;
	expect_fault(f, &op, addr + 16);
}

/* addr + span wrapping past 2^64 is an overflow, not a fault. */
static void overflow_wrap(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_matmul(f);
	op.in[0].addr = 0xffffffffffffffc0ull;	/* 128 bytes from 2^64 - 64 */
	expect_bad(f, &op, ST(OVERFLOW));
	op.in[0].addr = 0xffffffffffffff00ull;	/* no wrap: an unmapped address */
	expect_fault(f, &op, 0xffffffffffffff00ull);
	/* A stride of 2^32 - 1 carries row 1 over the top. */
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].addr = 0xffffffff00000000ull;
	op.in[0].stride = 0xffffffffu;
	expect_bad(f, &op, ST(OVERFLOW));
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.out.addr = 0xfffffffffffffff8ull;
	expect_bad(f, &op, ST(OVERFLOW));
	op = good_silu_row(f);
	op.in[0].scale_addr = 0xfffffffffffffffcull;	/* 16 bytes of scales */
	expect_bad(f, &op, ST(OVERFLOW));
	op = good_matmul(f);
	op.in[1].scale_addr = 0xfffffffffffffff8ull;	/* 16 bytes of factors */
	expect_bad(f, &op, ST(OVERFLOW));
}

/* ---- order of the checks --------------------------------------------------- */

/* Shapes and scratch are checked before any address is translated. */
static void order_shape_before_fault(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_matmul(f);
	op.in[0].addr = 0x1000;
	op.out.cols = 3;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_matmul(f);
	op.in[1].addr = 0x1000;
	op.matmul.group_size = 48;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_kv_append(f);
	op.out.addr = 0x1000;
	op.pos.pos = 8;
	expect_bad(f, &op, ST(RANGE));
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].addr = 0xffffffffffffffc0ull;
	op.out.rows = 3;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(shape_matmul),
		T(matmul_group_size),
		T(shape_norm),
		T(norm_eps_invalid),
		T(shape_softmax),
		T(softmax_params),
		T(softmax_pos_without_causal),
		T(shape_unary),
		T(shape_binary),
		T(shape_rope),
		T(rope_params),
		T(shape_attention),
		T(attention_odd_head_dim),
		T(attention_alpha_invalid),
		T(shape_kv_append),
		T(kv_append_params),
		T(shape_embedding),
		T(shape_argmax),
		T(range_immediate),
		T(range_from_memory),
		T(index_out_of_range),
		T(row_scale_invalid_in_memory),
		T(alias_matmul_out_over_x),
		T(alias_out_over_own_scales),
		T(alias_scales),
		T(alias_row_local_partial),
		T(alias_exact_in_place_ok),
		T(alias_exact_not_row_local),
		T(too_large_attention),
		T(fault_unmapped),
		T(fault_past_end),
		T(fault_scales),
		T(fault_pos_addr),
		T(fault_freed_buffer),
		T(overflow_wrap),
		T(order_shape_before_fault),
	};

	return cmocka_run_group_tests_name("validate_ops", tests, NULL, NULL);
}
