// SPDX-License-Identifier: MIT
/*
 * How the NPU lays numbers out: scales, a positive real as mult * 2^-shift
 * with mult a normalized 31-bit integer (docs/numerics.md), and the bytes
 * of a row of each type.
 */
#include <math.h>

#include <npu/npu.h>

int npu_scale_from_double(double value, struct npu_scale *scale)
{
	long long mult;
	int e;

	if (!scale || !isfinite(value) || value <= 0)
		return NPU_E_INVAL;
	/* value = m * 2^e, m in [0.5, 1): mult = m * 2^31, shift = 31 - e. */
	mult = llround(ldexp(frexp(value, &e), 31));
	if (mult == 1ll << 31) {
		mult = 1ll << 30;
		e++;
	}
	if (31 - e < -32 || 31 - e > 126)
		return NPU_E_RANGE;
	scale->mult = (int32_t)mult;
	scale->shift = 31 - e;
	return NPU_OK;
}

double npu_scale_to_double(struct npu_scale scale)
{
	return ldexp((double)scale.mult, -scale.shift);
}

/* The firmware's row length (fw_tensor_map): I4 rows have even cols, or are BAD_SHAPE. */
uint64_t npu_row_bytes(enum npu_dtype dtype, uint32_t cols)
{
	static const uint8_t code_bits[] = {
		[NPU_U2] = 2, [NPU_U3] = 3, [NPU_U4] = 4, [NPU_U5] = 5, [NPU_U6] = 6, [NPU_U8] = 8,
	};

	switch (dtype) {
	case NPU_I4:
		return cols / 2;
	case NPU_I8:
		return cols;
	case NPU_I16:
		return 2ull * cols;
	case NPU_I32:
		return 4ull * cols;
	case NPU_U2:
	case NPU_U3:
	case NPU_U4:
	case NPU_U5:
	case NPU_U6:
	case NPU_U8:
		return ((uint64_t)cols * code_bits[dtype] + 7) / 8;
	default:
		return 0;
	}
}

/* The firmware's rules (fw_prepare_matmul_block) and its record layout. */
uint64_t npu_block_record_bytes(const struct npu_block_format *f, uint32_t cols)
{
	uint32_t sub, groups, blocks, min;

	if (!f || (f->group_size != 16 && f->group_size != 32) || f->block_groups < 1 ||
	    f->block_groups > 16 || f->zero > 255 || cols == 0 || cols > 65536 ||
	    cols % (f->group_size * f->block_groups))
		return 0;
	sub = f->flags & (NPU_BLOCK_SUB_S8 | NPU_BLOCK_SUB_U4);
	min = f->flags & NPU_BLOCK_MIN ? 1 : 0;
	if ((f->flags & ~(NPU_BLOCK_MIN | NPU_BLOCK_SUB_S8 | NPU_BLOCK_SUB_U4)) ||
	    sub == (NPU_BLOCK_SUB_S8 | NPU_BLOCK_SUB_U4) || (sub == NPU_BLOCK_SUB_U4 && !min) ||
	    (!sub && f->block_groups != 1))
		return 0;
	groups = cols / f->group_size;
	blocks = groups / f->block_groups;
	sub = sub == NPU_BLOCK_SUB_S8 ? groups * (1 + min) : sub ? groups : 0;
	return (2ull * blocks * (1 + min) + sub + 1) & ~1ull;
}
