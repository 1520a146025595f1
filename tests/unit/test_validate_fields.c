// SPDX-License-Identifier: MIT
/*
 * Validation of one op's fields (test_validate_*: test_validate.h): opcode,
 * flags, pads and reserved fields, and each tensor's type, scale, shape,
 * stride and alignment; positions.
 */
#include "test_validate.h"

/* ---- op fields ---------------------------------------------------------- */

static void op_unknown_opcode(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op = good_unary(f, DRM_NPU_OP_SILU);

	op.opcode = DRM_NPU_OP_COUNT;
	expect_bad(f, &op, ST(BAD_OPCODE));
	op.opcode = 0xffff;
	expect_bad(f, &op, ST(BAD_OPCODE));
}

static void op_pad_nonzero(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op = good_matmul(f);

	op.pad = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op.pad = 0x80000000u;
	expect_bad(f, &op, ST(BAD_RESERVED));
}

static void op_reserved_nonzero(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;
	int i;

	for (i = 0; i < 5; i++) {
		op = good_unary(f, DRM_NPU_OP_GELU);
		op.reserved[i] = 1ull << (i * 13);
		expect_bad(f, &op, ST(BAD_RESERVED));
	}
}

static void op_undefined_flag(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_SILU);
	op.flags = DRM_NPU_OP_F_BIAS;
	expect_bad(f, &op, ST(BAD_FLAGS));
	op = good_matmul(f);
	op.flags |= DRM_NPU_OP_F_CAUSAL;
	expect_bad(f, &op, ST(BAD_FLAGS));
	op = good_matmul(f);
	op.flags |= 0x8000;
	expect_bad(f, &op, ST(BAD_FLAGS));
	op = good_rope(f);
	op.flags = DRM_NPU_OP_F_CAUSAL;
	expect_bad(f, &op, ST(BAD_FLAGS));
	op = blank(DRM_NPU_OP_NOP);
	op.flags = DRM_NPU_OP_F_POS_ADDR;
	expect_bad(f, &op, ST(BAD_FLAGS));
}

/* Parameter bytes the op does not read must be zero. */
static void op_unused_params_nonzero(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_SILU);
	op.params_raw[0] = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_unary(f, DRM_NPU_OP_QUANTIZE);
	op.params_raw[5] = 1ull << 63;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_matmul(f);
	op.params_raw[2] = 1;		/* past group_size .. pad2 */
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_norm(f, DRM_NPU_OP_RMSNORM);
	op.params_raw[2] = 1;		/* past eps */
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_embedding(f);
	op.params_raw[3] = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = blank(DRM_NPU_OP_NOP);
	op.params_raw[0] = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
}

static void op_matmul_pad_nonzero(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op = good_matmul(f);

	op.matmul.pad = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
}

/* A tensor slot the op does not use must be all zero. */
static void op_unused_tensor_nonzero(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[1].rows = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[2].scale.shift = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	/* The bias slot without F_BIAS. */
	op = good_matmul(f);
	op.flags = 0;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_norm(f, DRM_NPU_OP_RMSNORM);
	op.in[2].pad = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = blank(DRM_NPU_OP_NOP);
	op.out.addr = f->o.addr;
	expect_bad(f, &op, ST(BAD_RESERVED));
}

static void tensor_pad_nonzero(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;
	int i;

	for (i = 0; i < 4; i++) {
		op = good_matmul(f);
		if (i < 3)
			op.in[i].pad = 1;
		else
			op.out.pad = 0x8000;
		expect_bad(f, &op, ST(BAD_RESERVED));
	}
}

static void tensor_bad_dtype(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_matmul(f);
	op.in[0].dtype = DRM_NPU_DTYPE_I4;	/* activations are never I4 */
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_matmul(f);
	op.in[0].dtype = DRM_NPU_DTYPE_I32;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_matmul(f);
	op.in[1].dtype = DRM_NPU_DTYPE_I16;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_matmul(f);
	op.in[2].dtype = DRM_NPU_DTYPE_I8;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_matmul(f);
	op.out.dtype = DRM_NPU_DTYPE_I4;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_attention(f);
	op.in[0].dtype = DRM_NPU_DTYPE_I32;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_attention(f);
	op.in[2].dtype = DRM_NPU_DTYPE_I32;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_kv_append(f);
	op.out.dtype = DRM_NPU_DTYPE_I32;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_embedding(f);
	op.in[1].dtype = DRM_NPU_DTYPE_I16;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_rope(f);
	op.in[1].dtype = DRM_NPU_DTYPE_I16;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_argmax(f);
	op.out.dtype = DRM_NPU_DTYPE_I8;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_norm(f, DRM_NPU_OP_RMSNORM);
	op.in[1].dtype = DRM_NPU_DTYPE_I32;
	expect_bad(f, &op, ST(BAD_DTYPE));
	/* Values no dtype has. */
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].dtype = 0;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op.in[0].dtype = DRM_NPU_DTYPE_I32 + 1;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op.in[0].dtype = 200;
	expect_bad(f, &op, ST(BAD_DTYPE));
}

static void tensor_bad_scale_mode(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].scale_mode = DRM_NPU_SCALE_GROUP + 1;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op.in[0].scale_mode = 255;
	expect_bad(f, &op, ST(BAD_QPARAM));
	/* GROUP is for weights only. */
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].scale_mode = DRM_NPU_SCALE_GROUP;
	expect_bad(f, &op, ST(BAD_QPARAM));
	/* A scaled op needs a scale. */
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].scale_mode = DRM_NPU_SCALE_NONE;
	op.in[0].scale.mult = 0;
	op.in[0].scale.shift = 0;
	expect_bad(f, &op, ST(BAD_QPARAM));
	/* Weights are GROUP-scaled. */
	op = good_matmul(f);
	op.in[1].scale_mode = DRM_NPU_SCALE_TENSOR;
	op.in[1].scale_addr = 0;
	expect_bad(f, &op, ST(BAD_QPARAM));
	/* Ids and frequencies are plain integers. */
	op = good_embedding(f);
	op.in[1].scale_mode = DRM_NPU_SCALE_TENSOR;
	op.in[1].scale = one_abi;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_rope(f);
	op.in[1].scale_mode = DRM_NPU_SCALE_ROW;
	op.in[1].scale_addr = f->f.addr + F_ROWS;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_argmax(f);
	op.out.scale_mode = DRM_NPU_SCALE_TENSOR;
	op.out.scale = one_abi;
	expect_bad(f, &op, ST(BAD_QPARAM));
}

static void tensor_scale_invalid(void **state)
{
	struct fx *f = *state;
	static const struct drm_npu_scale bad[] = {
		{ 0, 30 }, { -1, 30 }, { (int32_t)0x80000000u, 30 },
		{ 1 << 30, -33 }, { 1 << 30, 127 }, { 1 << 30, (int32_t)0x80000000u },
	};
	struct drm_npu_op op;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		op = good_unary(f, DRM_NPU_OP_QUANTIZE);
		op.in[0].scale = bad[i];
		expect_bad(f, &op, ST(BAD_QPARAM));
		op = good_unary(f, DRM_NPU_OP_QUANTIZE);
		op.out.scale = bad[i];
		expect_bad(f, &op, ST(BAD_QPARAM));
		op = good_matmul(f);
		op.in[1].scale = bad[i];	/* GROUP's tensor scale */
		expect_bad(f, &op, ST(BAD_QPARAM));
	}
}

/* The ends of the scale range are valid scales. */
static void tensor_scale_bounds_accepted(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_QUANTIZE);
	op.in[0].scale.mult = 1;
	op.in[0].scale.shift = -32;
	expect_ok(f, &op);
	op.in[0].scale.mult = 0x7fffffff;
	op.in[0].scale.shift = 126;
	expect_ok(f, &op);
	op = good_unary(f, DRM_NPU_OP_QUANTIZE);
	op.out.scale.mult = 1;
	op.out.scale.shift = 126;
	expect_ok(f, &op);
	op.out.scale.mult = 0x7fffffff;
	op.out.scale.shift = -32;
	expect_ok(f, &op);
}

/* TENSOR and NONE carry no scale address; NONE carries no scale. */
static void tensor_scale_fields_not_zero(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].scale_addr = f->f.addr + F_ROWS;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_embedding(f);
	op.in[1].scale_addr = f->f.addr + F_ROWS;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_embedding(f);
	op.in[1].scale.mult = 1;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_argmax(f);
	op.out.scale.shift = 1;
	expect_bad(f, &op, ST(BAD_QPARAM));
}

static void tensor_row_scale_fields(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_silu_row(f);
	op.in[0].scale.mult = 1 << 30;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_silu_row(f);
	op.in[0].scale.shift = 1;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_silu_row(f);
	op.in[0].scale_addr = 0;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_quantize_row(f);
	op.out.scale = one_abi;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_quantize_row(f);
	op.out.scale_addr = 0;
	expect_bad(f, &op, ST(BAD_QPARAM));
	/* GROUP needs its factors. */
	op = good_matmul(f);
	op.in[1].scale_addr = 0;
	expect_bad(f, &op, ST(BAD_QPARAM));
}

static void tensor_rows_zero(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	/* Zero rows in and out: the shapes agree, the tensors are empty. */
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].rows = 0;
	op.out.rows = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));

	op = good_matmul(f);
	op.in[0].rows = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_matmul(f);
	op.in[2].rows = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_matmul(f);
	op.out.rows = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

static void tensor_cols_zero(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_QUANTIZE);
	op.in[0].cols = 0;
	op.out.cols = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));

	op = good_matmul(f);
	op.in[1].cols = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.out.cols = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

static void tensor_cols_too_many(void **state)
{
	struct fx *f = *state;
	struct t_buf a = t_alloc(f->dev, 65537), b = t_alloc(f->dev, 65537);
	struct drm_npu_op op = good_unary(f, DRM_NPU_OP_SILU);

	op.in[0] = TN(a.addr, 1, 65536, I8, TENSOR, 0);
	op.out = TN(b.addr, 1, 65536, I8, TENSOR, 0);
	expect_ok(f, &op);
	op.in[0].cols = 65537;
	op.in[0].stride = 65537;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op.in[0] = TN(a.addr, 1, 65536, I8, TENSOR, 0);
	op.out.cols = 0xffffffffu;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

/* K = 63 everywhere (one group of 63): only the I4 weight's oddness is wrong. */
static void tensor_i4_odd_cols(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op = good_matmul_i4(f);

	op.in[0].cols = 63;
	op.in[1].cols = 63;
	op.matmul.group_size = 63;
	expect_bad(f, &op, ST(BAD_SHAPE));
	/* The same as I8 runs. */
	op.in[1].dtype = DRM_NPU_DTYPE_I8;
	op.in[1].stride = 64;
	expect_ok(f, &op);
}

static void tensor_stride_short(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_matmul(f);
	op.in[0].stride = 63;
	expect_bad(f, &op, ST(BAD_STRIDE));
	op = good_matmul(f);
	op.in[0].stride = 0;
	expect_bad(f, &op, ST(BAD_STRIDE));
	op = good_matmul_i4(f);
	op.in[1].stride = 31;		/* 64 nibbles need 32 bytes */
	expect_bad(f, &op, ST(BAD_STRIDE));
	op = good_rope(f);
	op.in[0].stride = 30;		/* 16 x I16 */
	expect_bad(f, &op, ST(BAD_STRIDE));
	/* A longer stride is fine. */
	op = good_rope(f);
	op.in[0].stride = 64;
	expect_ok(f, &op);
}

static void tensor_stride_not_element_multiple(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_rope(f);
	op.in[0].stride = 33;
	expect_bad(f, &op, ST(BAD_STRIDE));
	op = good_matmul(f);
	op.out.stride = 18;		/* I32, 16 bytes a row */
	expect_bad(f, &op, ST(BAD_STRIDE));
	op = good_embedding(f);
	op.in[1].stride = 6;
	expect_bad(f, &op, ST(BAD_STRIDE));
}

static void tensor_addr_misaligned(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_rope(f);
	op.in[0].addr += 1;		/* I16 */
	expect_bad(f, &op, ST(BAD_ALIGN));
	op = good_rope(f);
	op.in[1].addr += 2;		/* I32 */
	expect_bad(f, &op, ST(BAD_ALIGN));
	op = good_matmul(f);
	op.out.addr += 1;
	expect_bad(f, &op, ST(BAD_ALIGN));
	/* I8 and I4 have no alignment. */
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].addr += 1;
	expect_ok(f, &op);
	op = good_matmul_i4(f);
	op.in[1].addr += 1;
	expect_ok(f, &op);
}

static void tensor_scale_addr_misaligned(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_silu_row(f);
	op.in[0].scale_addr += 2;
	expect_bad(f, &op, ST(BAD_ALIGN));
	op = good_quantize_row(f);
	op.out.scale_addr += 1;
	expect_bad(f, &op, ST(BAD_ALIGN));
	op = good_matmul(f);
	op.in[1].scale_addr += 1;
	expect_bad(f, &op, ST(BAD_ALIGN));
	/* ROW scales need 4 (not 8), GROUP factors 2. */
	memcpy((char *)f->f.p + 516, (struct drm_npu_scale[]){ one_abi, one_abi }, 16);
	op = good_silu_row(f);
	op.in[0].scale_addr = f->f.addr + 516;
	expect_ok(f, &op);
	op = good_matmul(f);
	op.in[1].scale_addr += 2;
	expect_ok(f, &op);
}

static void pos_addr_misaligned(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_kv_append(f);
	op.flags = DRM_NPU_OP_F_POS_ADDR;
	op.pos.pos = 0;
	op.pos.pos_addr = f->p.addr + P_POS;
	expect_ok(f, &op);
	op.pos.pos_addr += 2;
	expect_bad(f, &op, ST(BAD_ALIGN));
	op = good_rope(f);
	op.flags = DRM_NPU_OP_F_POS_ADDR;
	op.pos.pos = 0;
	op.pos.pos_addr = f->p.addr + P_POS + 1;
	expect_bad(f, &op, ST(BAD_ALIGN));
}

/* pos_addr only with F_POS_ADDR; the immediate pos only without it. */
static void pos_fields_exclusive(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_attention(f);
	op.pos.pos_addr = f->p.addr + P_POS;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_attention(f);
	op.flags = DRM_NPU_OP_F_POS_ADDR;
	op.pos.pos_addr = f->p.addr + P_POS;
	expect_bad(f, &op, ST(BAD_RESERVED));	/* pos 3 is still set */
	op.pos.pos = 0;
	expect_ok(f, &op);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(op_unknown_opcode),
		T(op_pad_nonzero),
		T(op_reserved_nonzero),
		T(op_undefined_flag),
		T(op_unused_params_nonzero),
		T(op_matmul_pad_nonzero),
		T(op_unused_tensor_nonzero),
		T(tensor_pad_nonzero),
		T(tensor_bad_dtype),
		T(tensor_bad_scale_mode),
		T(tensor_scale_invalid),
		T(tensor_scale_bounds_accepted),
		T(tensor_scale_fields_not_zero),
		T(tensor_row_scale_fields),
		T(tensor_rows_zero),
		T(tensor_cols_zero),
		T(tensor_cols_too_many),
		T(tensor_i4_odd_cols),
		T(tensor_stride_short),
		T(tensor_stride_not_element_multiple),
		T(tensor_addr_misaligned),
		T(tensor_scale_addr_misaligned),
		T(pos_addr_misaligned),
		T(pos_fields_exclusive),
	};

	return cmocka_run_group_tests_name("validate_fields", tests, NULL, NULL);
}
