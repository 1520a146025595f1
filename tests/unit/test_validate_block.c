// SPDX-License-Identifier: MIT
/*
 * Validation of MATMUL's SCALE_BLOCK weights and EMBEDDING's SCALE_BLOCK
 * tables (ABI 1.2; test_validate_*: test_validate.h): the code types, the
 * block format's parameters, the records' placement, and binary16
 * infinities and NaNs met at run time.
 */
#include "test_validate.h"

/* Where good_block() keeps its records: 4 rows of 6 bytes, in f's buffer. */
enum { F_BLOCK = 512, REC = 6 };

#define H_ONE 0x3c00
#define H_INF 0x7c00
#define H_NAN 0x7e00

static void put_half(struct fx *f, uint32_t off, uint16_t h)
{
	uint8_t *p = (uint8_t *)f->f.p + off;

	p[0] = (uint8_t)h;
	p[1] = (uint8_t)(h >> 8);
}

/*
 * 2 x 64 I8 times 4 x 64 U4 codes in one super-block of two groups of 32,
 * with mins and a nibble scale and min per group: a record is d, dmin and
 * two bytes.
 */
static struct drm_npu_op good_block(struct fx *f)
{
	struct drm_npu_op op = good_matmul(f);
	uint8_t *rec = (uint8_t *)f->f.p + F_BLOCK;
	int n;

	for (n = 0; n < 4; n++) {
		put_half(f, F_BLOCK + n * REC, H_ONE);
		put_half(f, F_BLOCK + n * REC + 2, 0x3800);	/* 0.5 */
		rec[n * REC + 4] = 0x21;
		rec[n * REC + 5] = 0x13;
	}
	op.in[1] = TN(f->w.addr, 4, 64, U4, BLOCK, f->f.addr + F_BLOCK);
	op.matmul.group_size = 32;
	op.matmul.block_groups = 2;
	op.matmul.zero = 8;
	op.matmul.block_flags = DRM_NPU_BLOCK_F_MIN | DRM_NPU_BLOCK_F_SUB_U4;
	return op;
}

/* good_block() with codes of @dtype, packed. */
static struct drm_npu_op good_block_t(struct fx *f, uint8_t dtype)
{
	struct drm_npu_op op = good_block(f);

	op.in[1].dtype = dtype;
	op.in[1].stride = (uint32_t)npu_row_bytes((enum npu_dtype)dtype, 64);
	op.matmul.zero = 1;
	return op;
}

static void block_good_runs(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op = good_block(f);
	static const uint8_t types[] = {
		DRM_NPU_DTYPE_U2, DRM_NPU_DTYPE_U3, DRM_NPU_DTYPE_U4,
		DRM_NPU_DTYPE_U5, DRM_NPU_DTYPE_U6, DRM_NPU_DTYPE_U8,
	};
	size_t i;

	expect_ok(f, &op);
	for (i = 0; i < sizeof(types); i++) {
		op = good_block_t(f, types[i]);
		expect_ok(f, &op);
	}
	/* Without F_BIAS, and with an I16 x and a ROW output. */
	op = good_block(f);
	op.flags = 0;
	memset(&op.in[2], 0, sizeof(op.in[2]));
	op.in[0] = TN(f->x.addr, 2, 64, I16, TENSOR, 0);
	op.out = TN(f->o.addr, 2, 4, I8, ROW, f->o.addr + 2048);
	expect_ok(f, &op);
}

static void block_group_size(void **state)
{
	struct fx *f = *state;
	static const uint32_t bad[] = { 0, 8, 24, 64, 128, 1u << 31 };
	struct drm_npu_op op;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		op = good_block(f);
		op.matmul.group_size = bad[i];
		expect_bad(f, &op, ST(BAD_QPARAM));
	}
	op = good_block(f);
	op.matmul.group_size = 16;	/* 2 super-blocks of 2 groups of 16: 12 bytes a record */
	expect_ok(f, &op);
}

static void block_groups_range(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_block(f);
	op.matmul.block_groups = 0;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op.matmul.block_groups = 17;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op.matmul.block_groups = 0xffff;
	expect_bad(f, &op, ST(BAD_QPARAM));
	/* 64 columns are not a multiple of 32 x 4, nor of 16 x 3. */
	op = good_block(f);
	op.matmul.block_groups = 4;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op.matmul.group_size = 16;
	op.matmul.block_groups = 3;
	expect_bad(f, &op, ST(BAD_QPARAM));
	/* 16 x 4 is: one super-block of four groups, a record of 4 + 4 bytes. */
	op.matmul.block_groups = 4;
	expect_ok(f, &op);
}

static void block_zero_range(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint8_t dtype, max;
	} z[] = {
		{ DRM_NPU_DTYPE_U2, 3 }, { DRM_NPU_DTYPE_U3, 7 }, { DRM_NPU_DTYPE_U4, 15 },
		{ DRM_NPU_DTYPE_U5, 31 }, { DRM_NPU_DTYPE_U6, 63 },
	};
	struct drm_npu_op op;
	size_t i;

	for (i = 0; i < sizeof(z) / sizeof(z[0]); i++) {
		op = good_block_t(f, z[i].dtype);
		op.matmul.zero = z[i].max;
		expect_ok(f, &op);
		op.matmul.zero = (uint8_t)(z[i].max + 1);
		expect_bad(f, &op, ST(BAD_QPARAM));
		op.matmul.zero = 255;
		expect_bad(f, &op, ST(BAD_QPARAM));
	}
	op = good_block_t(f, DRM_NPU_DTYPE_U8);
	op.matmul.zero = 255;
	expect_ok(f, &op);
}

static void block_flags_rules(void **state)
{
	struct fx *f = *state;
	static const uint8_t bad[] = {
		0x08, 0x80, DRM_NPU_BLOCK_F_MIN | 0x10,
		/* both SUB flags */
		DRM_NPU_BLOCK_F_SUB_S8 | DRM_NPU_BLOCK_F_SUB_U4,
		DRM_NPU_BLOCK_F_MIN | DRM_NPU_BLOCK_F_SUB_S8 | DRM_NPU_BLOCK_F_SUB_U4,
		/* SUB_U4 without MIN */
		DRM_NPU_BLOCK_F_SUB_U4,
		/* no SUB flag with two groups per super-block */
		0, DRM_NPU_BLOCK_F_MIN,
	};
	static const uint8_t good[] = {
		DRM_NPU_BLOCK_F_SUB_S8, DRM_NPU_BLOCK_F_MIN | DRM_NPU_BLOCK_F_SUB_S8,
		DRM_NPU_BLOCK_F_MIN | DRM_NPU_BLOCK_F_SUB_U4,
	};
	struct drm_npu_op op;
	size_t i;

	for (i = 0; i < sizeof(bad); i++) {
		op = good_block(f);
		op.matmul.block_flags = bad[i];
		expect_bad(f, &op, ST(BAD_QPARAM));
	}
	for (i = 0; i < sizeof(good); i++) {
		op = good_block(f);
		op.matmul.block_flags = good[i];
		expect_ok(f, &op);
	}
	/* Without a SUB flag a super-block is one group. */
	op = good_block(f);
	op.matmul.block_groups = 1;
	op.matmul.block_flags = 0;
	expect_ok(f, &op);
	op.matmul.block_flags = DRM_NPU_BLOCK_F_MIN;
	expect_ok(f, &op);
}

static void block_pad2(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_block(f);
	op.matmul.pad2 = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_block(f);
	op.matmul.pad = 0x100;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_matmul(f);
	op.matmul.pad2 = 0x80000000u;
	expect_bad(f, &op, ST(BAD_RESERVED));
}

/* SCALE_GROUP weights have no block format: its fields are zero (BAD_QPARAM). */
static void block_fields_with_group(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;
	int i;

	for (i = 0; i < 2; i++) {
		op = i ? good_matmul_i4(f) : good_matmul(f);
		op.matmul.block_groups = 1;
		expect_bad(f, &op, ST(BAD_QPARAM));
		op = i ? good_matmul_i4(f) : good_matmul(f);
		op.matmul.zero = 1;
		expect_bad(f, &op, ST(BAD_QPARAM));
		op = i ? good_matmul_i4(f) : good_matmul(f);
		op.matmul.block_flags = DRM_NPU_BLOCK_F_MIN;
		expect_bad(f, &op, ST(BAD_QPARAM));
	}
}

/* The U types are MATMUL weights only; SCALE_BLOCK scales U types only. */
static void block_types_and_modes(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_block(f);
	op.in[0].dtype = DRM_NPU_DTYPE_U8;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_block(f);
	op.in[2].dtype = DRM_NPU_DTYPE_U4;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_block(f);
	op.out.dtype = DRM_NPU_DTYPE_U2;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].dtype = DRM_NPU_DTYPE_U8;
	expect_bad(f, &op, ST(BAD_DTYPE));
	/* A table of codes needs SCALE_BLOCK (and, below, its layout). */
	op = good_embedding(f);
	op.in[0].dtype = DRM_NPU_DTYPE_U4;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_kv_append(f);
	op.out.dtype = DRM_NPU_DTYPE_U8;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_block(f);
	op.in[1].dtype = 11;		/* past U8 */
	expect_bad(f, &op, ST(BAD_DTYPE));
	/* Codes under SCALE_GROUP; I8 and I4 under SCALE_BLOCK. */
	op = good_matmul(f);
	op.in[1].dtype = DRM_NPU_DTYPE_U4;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_matmul(f);
	op.in[1].dtype = DRM_NPU_DTYPE_U8;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_block(f);
	op.in[1].dtype = DRM_NPU_DTYPE_I8;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_block(f);
	op.in[1].dtype = DRM_NPU_DTYPE_I4;
	expect_bad(f, &op, ST(BAD_QPARAM));
	/* SCALE_BLOCK elsewhere. */
	op = good_block(f);
	op.in[0].scale_mode = DRM_NPU_SCALE_BLOCK;
	op.in[0].scale_addr = f->f.addr + F_BLOCK;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_unary(f, DRM_NPU_OP_QUANTIZE);
	op.out.scale_mode = DRM_NPU_SCALE_BLOCK;
	op.out.scale_addr = f->f.addr + F_BLOCK;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_block(f);
	op.in[1].scale_mode = DRM_NPU_SCALE_BLOCK + 1;
	expect_bad(f, &op, ST(BAD_QPARAM));
}

static void block_tensor_fields(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_block(f);
	op.in[1].scale_addr = 0;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_block(f);
	op.in[1].scale.mult = 0;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_block(f);
	op.in[1].scale.shift = 127;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_block(f);
	op.in[1].scale_addr += 1;
	expect_bad(f, &op, ST(BAD_ALIGN));
	/* Codes are bytes: any address, any stride from the row's bytes on. */
	op = good_block(f);
	op.in[1].addr += 1;
	op.in[1].stride = 33;
	expect_ok(f, &op);
	op.in[1].stride = 31;
	expect_bad(f, &op, ST(BAD_STRIDE));
	op = good_block_t(f, DRM_NPU_DTYPE_U3);	/* 64 x 3 bits: 24 bytes */
	assert_int_equal(op.in[1].stride, 24);
	expect_ok(f, &op);
	op.in[1].stride = 23;
	expect_bad(f, &op, ST(BAD_STRIDE));
	op = good_block_t(f, DRM_NPU_DTYPE_U5);	/* 40 bytes */
	op.in[1].stride = 39;
	expect_bad(f, &op, ST(BAD_STRIDE));
	op.in[1].stride = 41;
	expect_ok(f, &op);
	op = good_block(f);
	op.in[1].cols = 65537;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

/* The records span rows * record bytes: one byte more is translated too. */
static void block_records_fault(void **state)
{
	struct fx *f = *state;
	struct t_buf b = t_alloc(f->dev, 4096);
	uint64_t end = b.addr + b.size;
	struct drm_npu_op op = good_block(f);

	memset(b.p, 0, b.size);
	op.in[1].scale_addr = end - 4 * REC + 2;
	expect_fault(f, &op, end);
	op.in[1].scale_addr = end - 4 * REC;
	expect_ok(f, &op);
	/* SUB_S8 with MIN: 4 + 2 + 2 = 8 bytes a row. */
	op.matmul.block_flags = DRM_NPU_BLOCK_F_MIN | DRM_NPU_BLOCK_F_SUB_S8;
	expect_fault(f, &op, end);
	op.in[1].scale_addr = end - 32;
	expect_ok(f, &op);
	/* SUB_S8 alone: 2 + 2 bytes. */
	op.matmul.block_flags = DRM_NPU_BLOCK_F_SUB_S8;
	op.in[1].scale_addr = end - 14;
	expect_fault(f, &op, end);
	op.in[1].scale_addr = end - 16;
	expect_ok(f, &op);
	/* No SUB flag, groups of 16: 4 super-blocks, 8 bytes a row. */
	op.matmul.block_flags = 0;
	op.matmul.block_groups = 1;
	op.matmul.group_size = 16;
	op.in[1].scale_addr = end - 30;
	expect_fault(f, &op, end);
	op.in[1].scale_addr = end - 32;
	expect_ok(f, &op);
	/* The codes: 4 rows of 32 bytes. */
	op = good_block(f);
	op.in[1].addr = end - 127;
	expect_fault(f, &op, end);
	t_free(f->dev, &b);
}

/* A record's binary16 infinity or NaN is data: the op stops when it reads it. */
static void block_half_not_finite(void **state)
{
	struct fx *f = *state;
	static const uint16_t bad[] = { H_INF, H_INF | 0x8000, H_NAN, 0x7c01, 0xffff };
	struct drm_npu_op op;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		op = good_block(f);
		put_half(f, F_BLOCK + 3 * REC, bad[i]);		/* d of the last row */
		expect_stop(f, &op, ST(BAD_QPARAM));
		op = good_block(f);
		put_half(f, F_BLOCK + REC + 2, bad[i]);		/* dmin of row 1 */
		expect_stop(f, &op, ST(BAD_QPARAM));
	}
	/* Without F_MIN the dmin bytes are group bytes: anything goes. */
	op = good_block(f);
	op.matmul.block_flags = DRM_NPU_BLOCK_F_SUB_S8;
	put_half(f, F_BLOCK + 2, H_NAN);
	expect_ok(f, &op);
	/* The largest finite and the subnormals are fine. */
	op = good_block(f);
	put_half(f, F_BLOCK, 0x7bff);
	put_half(f, F_BLOCK + 2, 0x8001);
	put_half(f, F_BLOCK + REC, 0x03ff);
	expect_ok(f, &op);
}

/* good_block()'s format as an 8-row table: rows 3 and 7 (the ids) picked. */
static struct drm_npu_op good_block_embedding(struct fx *f)
{
	struct drm_npu_op mm = good_block(f), op = good_embedding(f);
	int n;

	for (n = 4; n < 8; n++)
		memcpy((uint8_t *)f->f.p + F_BLOCK + n * REC, (uint8_t *)f->f.p + F_BLOCK, REC);
	op.in[0] = TN(f->w.addr, 8, 64, U4, BLOCK, f->f.addr + F_BLOCK);
	op.out = TN(f->o.addr, 2, 64, I8, TENSOR, 0);
	op.embedding.table = mm.matmul;
	return op;
}

static void block_embedding(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_block_embedding(f);
	expect_ok(f, &op);
	op.out = TN(f->o.addr, 2, 64, I16, ROW, f->o.addr + 2048);
	expect_ok(f, &op);
	/* The layout is checked as MATMUL's. */
	op = good_block_embedding(f);
	op.embedding.table.group_size = 64;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_block_embedding(f);
	op.embedding.table.zero = 16;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_block_embedding(f);
	op.embedding.table.block_flags = DRM_NPU_BLOCK_F_SUB_U4;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_block_embedding(f);
	op.embedding.table.pad2 = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	/* A layout for an I8 table, like a scale a mode has not. */
	op = good_embedding(f);
	op.embedding.table.group_size = 32;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_embedding(f);
	op.embedding.table.block_flags = DRM_NPU_BLOCK_F_MIN;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_embedding(f);
	op.embedding.table.pad = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	/* Records are read as rows are: row 7's infinity stops it, row 5's does not. */
	op = good_block_embedding(f);
	put_half(f, F_BLOCK + 5 * REC, H_INF);
	expect_ok(f, &op);
	op = good_block_embedding(f);
	put_half(f, F_BLOCK + 7 * REC + 2, H_NAN);
	expect_stop(f, &op, ST(BAD_QPARAM));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(block_good_runs),
		T(block_group_size),
		T(block_groups_range),
		T(block_zero_range),
		T(block_flags_rules),
		T(block_pad2),
		T(block_fields_with_group),
		T(block_types_and_modes),
		T(block_tensor_fields),
		T(block_records_fault),
		T(block_half_not_finite),
		T(block_embedding),
	};

	return cmocka_run_group_tests_name("validate_block", tests, NULL, NULL);
}
