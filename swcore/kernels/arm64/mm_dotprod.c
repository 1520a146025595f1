// SPDX-License-Identifier: MIT
/*
 * SDOT sums (Armv8.2 dot product): four int8 products added into each
 * int32 lane per instruction, at most 2^14 each, for int8 activations
 * against int8 weights or int4 ones widened to int8. An int32 lane takes
 * 512 products (under 2^23) in a run of 4096 columns before it is folded
 * into int64. Int16 activations take NEON's widening multiplies.
 */
#include <arm_neon.h>

#include "arm64.h"

/* Columns per int32 run. */
#define RUN 4096

int64_t npu_dot_dotprod(const void *x, uint32_t x_bits, const uint8_t *w, uint32_t w_bits,
			uint32_t len)
{
	const int8_t *xb = x;
	int64_t total = 0;
	uint32_t c0, c;

	if (x_bits != 8)
		return npu_dot_neon(x, x_bits, w, w_bits, len);
	for (c0 = 0; c0 + 32 <= len; c0 += RUN) {
		uint32_t end = len - c0 < RUN ? len : c0 + RUN;
		int32x4_t a0 = vdupq_n_s32(0), a1 = vdupq_n_s32(0);

		for (c = c0; c + 32 <= end; c += 32) {
			int8x16_t w0, w1;

			if (w_bits == 8) {
				w0 = vld1q_s8((const int8_t *)w + c);
				w1 = vld1q_s8((const int8_t *)w + c + 16);
			} else {
				/* Nibbles, low first: signed by shifting up and back. */
				int8x16_t b = vld1q_s8((const int8_t *)w + c / 2);
				int8x16_t lo = vshrq_n_s8(vshlq_n_s8(b, 4), 4), hi = vshrq_n_s8(b, 4);

				w0 = vzip1q_s8(lo, hi);
				w1 = vzip2q_s8(lo, hi);
			}
			a0 = vdotq_s32(a0, vld1q_s8(xb + c), w0);
			a1 = vdotq_s32(a1, vld1q_s8(xb + c + 16), w1);
		}
		total += vaddlvq_s32(a0) + vaddlvq_s32(a1);
	}
	/* The last columns, fewer than 32: NEON's tail. */
	c = len - len % 32;
	return total + npu_dot_neon(xb + c, 8, w + c * w_bits / 8, w_bits, len - c);
}

void npu_mm_dotprod(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p, uint32_t n0,
		    uint32_t n1)
{
	(void)p;
	npu_mm_rows(mm, 0, mm->rows, n0, n1, npu_dot_dotprod);
}
