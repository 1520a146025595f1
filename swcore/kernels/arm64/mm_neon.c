// SPDX-License-Identifier: MIT
/*
 * NEON sums, on every arm64 CPU: int8 products widened to int16 (smull,
 * at most 2^14 each) and added pairwise into int32 (sadalp); int16
 * activations multiplied into int32 (smlal). Each int32 lane takes at
 * most 128 products of 2^22 before it is folded into int64.
 */
#include <arm_neon.h>

#include "arm64.h"

/* Columns per int32 run: 256 * 2^22 / 4 lanes stays under 2^31. */
#define RUN 256

/* 32 weights from @w as int8: 32 bytes, or 16 bytes of nibbles (low first, signed). */
static inline void load_w(const uint8_t *w, uint32_t w_bits, uint32_t c, int8x16_t *w0,
			  int8x16_t *w1)
{
	int8x16_t b, lo, hi;

	if (w_bits == 8) {
		*w0 = vld1q_s8((const int8_t *)w + c);
		*w1 = vld1q_s8((const int8_t *)w + c + 16);
		return;
	}
	b = vld1q_s8((const int8_t *)w + c / 2);
	lo = vshrq_n_s8(vshlq_n_s8(b, 4), 4);
	hi = vshrq_n_s8(b, 4);
	*w0 = vzip1q_s8(lo, hi);
	*w1 = vzip2q_s8(lo, hi);
}

/* @acc plus 16 products of int8 x and w. */
static inline int32x4_t madd8(int32x4_t acc, int8x16_t x, int8x16_t w)
{
	acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(x), vget_low_s8(w)));
	return vpadalq_s16(acc, vmull_high_s8(x, w));
}

/* @acc plus 16 products of int16 x (at @x) and int8 w. */
static inline int32x4_t madd16(int32x4_t acc, const int16_t *x, int8x16_t w)
{
	int16x8_t x0 = vld1q_s16(x), x1 = vld1q_s16(x + 8);
	int16x8_t w0 = vmovl_s8(vget_low_s8(w)), w1 = vmovl_high_s8(w);

	acc = vmlal_s16(acc, vget_low_s16(x0), vget_low_s16(w0));
	acc = vmlal_high_s16(acc, x0, w0);
	acc = vmlal_s16(acc, vget_low_s16(x1), vget_low_s16(w1));
	return vmlal_high_s16(acc, x1, w1);
}

static inline int32_t x_at(const void *x, uint32_t bits, uint32_t c)
{
	return bits == 8 ? ((const int8_t *)x)[c] : ((const int16_t *)x)[c];
}

static inline int32_t w_at(const uint8_t *w, uint32_t bits, uint32_t c)
{
	if (bits == 8)
		return (int8_t)w[c];
	return c & 1 ? (int8_t)w[c / 2] >> 4 : (int8_t)(w[c / 2] << 4) >> 4;
}

int64_t npu_dot_neon(const void *x, uint32_t x_bits, const uint8_t *w, uint32_t w_bits,
		     uint32_t len)
{
	int64_t total = 0;
	uint32_t c0, c;

	for (c0 = 0; c0 + 32 <= len; c0 += RUN) {
		uint32_t end = len - c0 < RUN ? len : c0 + RUN;
		int32x4_t acc = vdupq_n_s32(0);

		for (c = c0; c + 32 <= end; c += 32) {
			int8x16_t w0, w1;

			load_w(w, w_bits, c, &w0, &w1);
			if (x_bits == 8) {
				acc = madd8(acc, vld1q_s8((const int8_t *)x + c), w0);
				acc = madd8(acc, vld1q_s8((const int8_t *)x + c + 16), w1);
			} else {
				acc = madd16(acc, (const int16_t *)x + c, w0);
				acc = madd16(acc, (const int16_t *)x + c + 16, w1);
			}
		}
		total += vaddlvq_s32(acc);
	}
	for (c = len - len % 32; c < len; c++)
		total += (int64_t)x_at(x, x_bits, c) * w_at(w, w_bits, c);
	return total;
}

void npu_mm_neon(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p, uint32_t n0,
		 uint32_t n1)
{
	(void)p;
	npu_mm_rows(mm, 0, mm->rows, n0, n1, npu_dot_neon);
}
