// SPDX-License-Identifier: MIT
/*
 * SMMLA sums (Armv8.6 int8 matrix multiply) for prefill: two rows of
 * int8 activations against two columns of int8 or int4 weights, eight
 * columns of k per instruction, into a 2x2 block of int32. A lane takes
 * 8 products of at most 2^14 per instruction, so a group of up to 65536
 * columns (the ABI's widest row) sums under 2^30 exactly. Decode (one
 * row), int16 activations and groups that are not a multiple of 8 take
 * SDOT's kernel, as do a last odd row or column.
 */
#include <arm_neon.h>
#include <string.h>

#include "arm64.h"

/* Eight weights of columns @w0 and @w1 from column @c, as int8: {w0[c..c+8], w1[c..c+8]}. */
static inline int8x16_t load_w_pair(const uint8_t *w0, const uint8_t *w1, uint32_t bits,
				    uint32_t c)
{
	uint32_t b0, b1;
	int8x8_t s, lo, hi;

	if (bits == 8)
		return vcombine_s8(vld1_s8((const int8_t *)w0 + c), vld1_s8((const int8_t *)w1 + c));
	/* Four bytes of nibbles each, low nibble first: signed by shifting up and back. */
	memcpy(&b0, w0 + c / 2, 4);
	memcpy(&b1, w1 + c / 2, 4);
	s = vreinterpret_s8_u64(vcreate_u64((uint64_t)b0 | (uint64_t)b1 << 32));
	lo = vshr_n_s8(vshl_n_s8(s, 4), 4);
	hi = vshr_n_s8(s, 4);
	return vcombine_s8(vzip1_s8(lo, hi), vzip2_s8(lo, hi));
}

/* One group of @g columns: {x0.w0, x0.w1, x1.w0, x1.w1}. */
static inline int32x4_t group_2x2(const int8_t *x0, const int8_t *x1, const uint8_t *w0,
				  const uint8_t *w1, uint32_t bits, uint32_t g)
{
	int32x4_t acc = vdupq_n_s32(0);
	uint32_t c;

	for (c = 0; c < g; c += 8)
		acc = vmmlaq_s32(acc, vcombine_s8(vld1_s8(x0 + c), vld1_s8(x1 + c)),
				 load_w_pair(w0, w1, bits, c));
	return acc;
}

void npu_mm_i8mm(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p, uint32_t n0,
		 uint32_t n1)
{
	uint32_t gpr = mm->groups_per_row, g = mm->k / gpr, rows = mm->rows, n, r, j;

	if (mm->x_bits != 8 || g % 8 || rows < 2) {
		npu_mm_dotprod(mm, p, n0, n1);
		return;
	}
	for (n = n0; n + 2 <= n1; n += 2) {
		const uint8_t *w0 = mm->w + (uint64_t)n * mm->w_stride, *w1 = w0 + mm->w_stride;
		const uint16_t *f0 = mm->factors + (uint64_t)n * gpr, *f1 = f0 + gpr;

		for (r = 0; r + 2 <= rows; r += 2) {
			const int8_t *x0 = (const int8_t *)mm->x + r * mm->x_stride;
			const int8_t *x1 = x0 + mm->x_stride;
			int64_t s00 = 0, s01 = 0, s10 = 0, s11 = 0;
			__s64 *v = mm->v + (uint64_t)r * mm->n + n;

			for (j = 0; j < gpr; j++) {
				uint64_t c = (uint64_t)j * g, wc = c * mm->w_bits / 8;
				int32x4_t b = group_2x2(x0 + c, x1 + c, w0 + wc, w1 + wc, mm->w_bits, g);

				s00 += (int64_t)vgetq_lane_s32(b, 0) * f0[j];
				s01 += (int64_t)vgetq_lane_s32(b, 1) * f1[j];
				s10 += (int64_t)vgetq_lane_s32(b, 2) * f0[j];
				s11 += (int64_t)vgetq_lane_s32(b, 3) * f1[j];
			}
			v[0] = s00;
			v[1] = s01;
			v[mm->n] = s10;
			v[mm->n + 1] = s11;
		}
		if (r < rows)
			npu_mm_rows(mm, r, rows, n, n + 2, npu_dot_dotprod);
	}
	if (n < n1)
		npu_mm_rows(mm, 0, rows, n, n1, npu_dot_dotprod);
}
