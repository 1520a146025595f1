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
	switch (dtype) {
	case NPU_I4:
		return cols / 2;
	case NPU_I8:
		return cols;
	case NPU_I16:
		return 2ull * cols;
	case NPU_I32:
		return 4ull * cols;
	default:
		return 0;
	}
}
