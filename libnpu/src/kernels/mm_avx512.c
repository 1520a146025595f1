// SPDX-License-Identifier: MIT
/*
 * AVX-512 VNNI sums. vpdpbusd multiplies unsigned by signed bytes, so the
 * activations enter as x ^ 0x80 = x + 128 and each group's dot product is
 * corrected by 128 * sum(w), itself a vpdpbusd against ones. Int8 sums
 * stay far inside int32; int16 activations (vpdpwssd) are folded into
 * int64 every 256 columns so they cannot overflow.
 */
#include <immintrin.h>

#include "kernels.h"

/* The sum of 16 int32 lanes, in 64 bits (lanes may each be near 2^27). */
static inline int64_t hsum(__m512i v)
{
	__m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v));
	__m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1));

	return _mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi));
}

/* sum over c < len of x[c] * w[c], x as x + 128 (unsigned), w signed bytes. */
static inline int64_t dot_u8s8(const uint8_t *xu, const int8_t *w, uint32_t len)
{
	const __m512i ones = _mm512_set1_epi8(1);
	__m512i acc = _mm512_setzero_si512(), sw = _mm512_setzero_si512();
	uint32_t c;

	for (c = 0; c + 64 <= len; c += 64) {
		__m512i wv = _mm512_loadu_si512(w + c);

		acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(xu + c), wv);
		sw = _mm512_dpbusd_epi32(sw, ones, wv);
	}
	if (c < len) {
		__mmask64 m = _cvtu64_mask64((~0ull) >> (64 - (len - c)));
		__m512i wv = _mm512_maskz_loadu_epi8(m, w + c);

		acc = _mm512_dpbusd_epi32(acc, _mm512_maskz_loadu_epi8(m, xu + c), wv);
		sw = _mm512_dpbusd_epi32(sw, ones, wv);
	}
	return hsum(acc) - 128 * hsum(sw);
}

/* The same for int4 weights: @len elements, @len / 2 bytes, low nibble first. */
static inline int64_t dot_u8s4(const uint8_t *xe, const uint8_t *xo, const uint8_t *w,
			       uint32_t len)
{
	const __m512i ones = _mm512_set1_epi8(1), lo4 = _mm512_set1_epi8(0x0f);
	const __m512i eight = _mm512_set1_epi8(8);
	__m512i acc = _mm512_setzero_si512(), sw = _mm512_setzero_si512();
	uint32_t half = len / 2, c;

	for (c = 0; c < half; c += 64) {
		__mmask64 m = half - c >= 64 ? ~0ull : _cvtu64_mask64((~0ull) >> (64 - (half - c)));
		__m512i b = _mm512_maskz_loadu_epi8(m, w + c);
		/* A nibble n is the signed value (n ^ 8) - 8. */
		__m512i lo = _mm512_sub_epi8(_mm512_xor_si512(_mm512_and_si512(b, lo4), eight), eight);
		__m512i hi = _mm512_sub_epi8(_mm512_xor_si512(
			_mm512_and_si512(_mm512_srli_epi16(b, 4), lo4), eight), eight);

		lo = _mm512_maskz_mov_epi8(m, lo);
		hi = _mm512_maskz_mov_epi8(m, hi);
		acc = _mm512_dpbusd_epi32(acc, _mm512_maskz_loadu_epi8(m, xe + c), lo);
		acc = _mm512_dpbusd_epi32(acc, _mm512_maskz_loadu_epi8(m, xo + c), hi);
		sw = _mm512_dpbusd_epi32(sw, ones, lo);
		sw = _mm512_dpbusd_epi32(sw, ones, hi);
	}
	return hsum(acc) - 128 * hsum(sw);
}

/* int16 activations, int8 weights: 32 columns a step, int64 every 256. */
static inline int64_t dot_s16s8(const int16_t *x, const int8_t *w, uint32_t len)
{
	int64_t total = 0;
	uint32_t c0;

	for (c0 = 0; c0 < len; c0 += 256) {
		uint32_t end = len - c0 < 256 ? len : c0 + 256, c;
		__m512i acc = _mm512_setzero_si512();

		for (c = c0; c < end; c += 32) {
			__mmask32 m = end - c >= 32 ? ~0u : _cvtu32_mask32((~0u) >> (32 - (end - c)));
			__m512i xv = _mm512_maskz_loadu_epi16(m, x + c);
			__m512i wv = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, w + c));

			acc = _mm512_dpwssd_epi32(acc, xv, wv);
		}
		total += hsum(acc);
	}
	return total;
}

/* int16 activations, int4 weights: 32 a step, int64 every 256 columns. */
static inline int64_t dot_s16s4(const int16_t *x, const uint8_t *w, uint32_t len)
{
	const __m128i lo4 = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
	int64_t total = 0;
	uint32_t c0, c;

	for (c0 = 0; c0 < len; c0 += 256) {
		uint32_t end = len - c0 < 256 ? len : c0 + 256;
		__m512i acc = _mm512_setzero_si512();

		for (c = c0; c + 32 <= end; c += 32) {
			__m128i b = _mm_loadu_si128((const __m128i *)(w + c / 2));
			/* A nibble n is the signed value (n ^ 8) - 8; low nibble first. */
			__m128i lo = _mm_sub_epi8(_mm_xor_si128(_mm_and_si128(b, lo4), eight), eight);
			__m128i hi = _mm_sub_epi8(_mm_xor_si128(
				_mm_and_si128(_mm_srli_epi16(b, 4), lo4), eight), eight);
			__m256i wb = _mm256_set_m128i(_mm_unpackhi_epi8(lo, hi), _mm_unpacklo_epi8(lo, hi));

			acc = _mm512_dpwssd_epi32(acc, _mm512_loadu_si512(x + c),
						  _mm512_cvtepi8_epi16(wb));
		}
		total += hsum(acc);
		for (; c < end; c += 2) {
			int8_t l = (int8_t)(w[c / 2] << 4) >> 4, h = (int8_t)w[c / 2] >> 4;

			total += (int64_t)x[c] * l + (int64_t)x[c + 1] * h;
		}
	}
	return total;
}

/*
 * A whole row of int4 weights in groups of 32, 64 or 128: 128 elements (64
 * bytes) a step. Lane i of a step covers elements 8i..8i+7, so its group
 * is known, and its factor is applied in the lane before summing: one
 * reduction per row instead of one per group.
 */
static int64_t row_u8s4(const uint8_t *xe, const uint8_t *xo, const uint8_t *w,
			const uint16_t *f, uint32_t k, uint32_t g)
{
	const __m512i ones = _mm512_set1_epi8(1), lo4 = _mm512_set1_epi8(0x0f);
	const __m512i eight = _mm512_set1_epi8(8);
	const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	/* Lane i's group within a step: 8i / g. */
	const __m512i idx = _mm512_srlv_epi32(_mm512_slli_epi32(lane, 3),
					      _mm512_set1_epi32(__builtin_ctz(g)));
	__m512i acc_lo = _mm512_setzero_si512(), acc_hi = _mm512_setzero_si512();
	uint32_t c;

	for (c = 0; c < k; c += 128) {
		uint32_t bytes = k - c >= 128 ? 64 : (k - c) / 2, groups = (bytes * 2 + g - 1) / g;
		__mmask64 m = bytes == 64 ? ~0ull : _cvtu64_mask64((~0ull) >> (64 - bytes));
		__m512i b = _mm512_maskz_loadu_epi8(m, w + c / 2);
		__m512i lo = _mm512_maskz_mov_epi8(m, _mm512_sub_epi8(_mm512_xor_si512(
			_mm512_and_si512(b, lo4), eight), eight));
		__m512i hi = _mm512_maskz_mov_epi8(m, _mm512_sub_epi8(_mm512_xor_si512(
			_mm512_and_si512(_mm512_srli_epi16(b, 4), lo4), eight), eight));
		__m512i d = _mm512_dpbusd_epi32(_mm512_setzero_si512(),
						_mm512_maskz_loadu_epi8(m, xe + c / 2), lo);
		__m512i sw = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, lo);
		__m512i fv = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(
			_cvtu32_mask16((1u << groups) - 1), f + c / g));

		d = _mm512_dpbusd_epi32(d, _mm512_maskz_loadu_epi8(m, xo + c / 2), hi);
		sw = _mm512_dpbusd_epi32(sw, ones, hi);
		/* Exact per lane: |d - 128 sw| <= 8192, times a factor < 2^16. */
		d = _mm512_mullo_epi32(_mm512_sub_epi32(d, _mm512_slli_epi32(sw, 7)),
				       _mm512_permutexvar_epi32(idx, fv));
		acc_lo = _mm512_add_epi64(acc_lo, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(d)));
		acc_hi = _mm512_add_epi64(acc_hi,
					  _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(d, 1)));
	}
	return _mm512_reduce_add_epi64(_mm512_add_epi64(acc_lo, acc_hi));
}

/*
 * Prefill with int8 weights: a block of 4 activation rows by 4 weight rows
 * shares every load (8 loads feed 16 vpdpbusd), so many rows run at the
 * speed of the multiply-adds rather than of the loads. Each group ends
 * with one reduction per (row, column) pair.
 */
static void block_u8s8(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p, uint32_t r0,
		       uint32_t n0)
{
	const __m512i ones = _mm512_set1_epi8(1);
	uint32_t gpr = mm->groups_per_row, g = mm->k / gpr, j, c, a, b;
	const uint8_t *w0 = mm->w + (uint64_t)n0 * mm->w_stride, *w1 = w0 + mm->w_stride;
	const uint8_t *w2 = w1 + mm->w_stride, *w3 = w2 + mm->w_stride;
	const uint8_t *x0 = p->xu + (uint64_t)r0 * mm->k, *x1 = x0 + mm->k;
	const uint8_t *x2 = x1 + mm->k, *x3 = x2 + mm->k;
	int64_t out[4][4] = { { 0 } };

	for (j = 0; j < gpr; j++) {
		/* Twenty named accumulators: an array of them would live in memory. */
		__m512i a00 = _mm512_setzero_si512(), a01 = a00, a02 = a00, a03 = a00;
		__m512i a10 = a00, a11 = a00, a12 = a00, a13 = a00;
		__m512i a20 = a00, a21 = a00, a22 = a00, a23 = a00;
		__m512i a30 = a00, a31 = a00, a32 = a00, a33 = a00;
		__m512i s0 = a00, s1 = a00, s2 = a00, s3 = a00;
		int64_t dots[4][4], sums[4];

		for (c = j * g; c < (j + 1) * g; c += 64) {
			uint32_t left = (j + 1) * g - c;
			__mmask64 m = left >= 64 ? ~0ull : _cvtu64_mask64((~0ull) >> (64 - left));
			__m512i v0 = _mm512_maskz_loadu_epi8(m, w0 + c);
			__m512i v1 = _mm512_maskz_loadu_epi8(m, w1 + c);
			__m512i v2 = _mm512_maskz_loadu_epi8(m, w2 + c);
			__m512i v3 = _mm512_maskz_loadu_epi8(m, w3 + c);
			__m512i u;

			s0 = _mm512_dpbusd_epi32(s0, ones, v0);
			s1 = _mm512_dpbusd_epi32(s1, ones, v1);
			s2 = _mm512_dpbusd_epi32(s2, ones, v2);
			s3 = _mm512_dpbusd_epi32(s3, ones, v3);
			u = _mm512_maskz_loadu_epi8(m, x0 + c);
			a00 = _mm512_dpbusd_epi32(a00, u, v0);
			a01 = _mm512_dpbusd_epi32(a01, u, v1);
			a02 = _mm512_dpbusd_epi32(a02, u, v2);
			a03 = _mm512_dpbusd_epi32(a03, u, v3);
			u = _mm512_maskz_loadu_epi8(m, x1 + c);
			a10 = _mm512_dpbusd_epi32(a10, u, v0);
			a11 = _mm512_dpbusd_epi32(a11, u, v1);
			a12 = _mm512_dpbusd_epi32(a12, u, v2);
			a13 = _mm512_dpbusd_epi32(a13, u, v3);
			u = _mm512_maskz_loadu_epi8(m, x2 + c);
			a20 = _mm512_dpbusd_epi32(a20, u, v0);
			a21 = _mm512_dpbusd_epi32(a21, u, v1);
			a22 = _mm512_dpbusd_epi32(a22, u, v2);
			a23 = _mm512_dpbusd_epi32(a23, u, v3);
			u = _mm512_maskz_loadu_epi8(m, x3 + c);
			a30 = _mm512_dpbusd_epi32(a30, u, v0);
			a31 = _mm512_dpbusd_epi32(a31, u, v1);
			a32 = _mm512_dpbusd_epi32(a32, u, v2);
			a33 = _mm512_dpbusd_epi32(a33, u, v3);
		}
		dots[0][0] = hsum(a00), dots[0][1] = hsum(a01), dots[0][2] = hsum(a02);
		dots[0][3] = hsum(a03), dots[1][0] = hsum(a10), dots[1][1] = hsum(a11);
		dots[1][2] = hsum(a12), dots[1][3] = hsum(a13), dots[2][0] = hsum(a20);
		dots[2][1] = hsum(a21), dots[2][2] = hsum(a22), dots[2][3] = hsum(a23);
		dots[3][0] = hsum(a30), dots[3][1] = hsum(a31), dots[3][2] = hsum(a32);
		dots[3][3] = hsum(a33);
		sums[0] = hsum(s0), sums[1] = hsum(s1), sums[2] = hsum(s2), sums[3] = hsum(s3);
		for (b = 0; b < 4; b++) {
			int64_t f = mm->factors[(uint64_t)(n0 + b) * gpr + j];

			for (a = 0; a < 4; a++)
				out[a][b] += (dots[a][b] - 128 * sums[b]) * f;
		}
	}
	for (a = 0; a < 4; a++)
		for (b = 0; b < 4; b++)
			mm->v[(uint64_t)(r0 + a) * mm->n + n0 + b] = out[a][b];
}

void npu_mm_avx512(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p, uint32_t n0,
		   uint32_t n1)
{
	uint32_t gpr = mm->groups_per_row, g = mm->k / gpr, n, r, j, r_blocked = 0;
	/* int4 weights in groups that tile 128 columns: a whole row at once. */
	int whole_row_s4 = mm->x_bits == 8 && mm->w_bits == 4 && g <= 128 && 128 % g == 0;

	/* Blocks of 4 x 4 where they fit; the rest one pair at a time. */
	if (mm->x_bits == 8 && mm->w_bits == 8 && mm->rows >= 4) {
		r_blocked = mm->rows / 4 * 4;
		for (n = n0; n + 4 <= n1; n += 4)
			for (r = 0; r < r_blocked; r += 4)
				block_u8s8(mm, p, r, n);
	}
	for (n = n0; n < n1; n++) {
		const uint8_t *wr = mm->w + (uint64_t)n * mm->w_stride;
		const uint16_t *f = mm->factors + (uint64_t)n * gpr;

		/* Columns a block covered need only the rows it did not. */
		for (r = n < n0 + (n1 - n0) / 4 * 4 ? r_blocked : 0; r < mm->rows; r++) {
			int64_t acc = 0;

			if (whole_row_s4) {
				mm->v[(uint64_t)r * mm->n + n] =
					row_u8s4(p->xe + (uint64_t)r * mm->k,
						 p->xo + (uint64_t)r * mm->k, wr, f, mm->k, g);
				continue;
			}
			for (j = 0; j < gpr; j++) {
				uint64_t c = (uint64_t)j * g;
				int64_t d;

				if (mm->x_bits == 8 && mm->w_bits == 8)
					d = dot_u8s8(p->xu + (uint64_t)r * mm->k + c,
						     (const int8_t *)wr + c, g);
				else if (mm->x_bits == 8)
					d = dot_u8s4(p->xe + (uint64_t)r * mm->k + c / 2,
						     p->xo + (uint64_t)r * mm->k + c / 2,
						     wr + c / 2, g);
				else if (mm->w_bits == 8)
					d = dot_s16s8((const int16_t *)((const uint8_t *)mm->x +
									r * mm->x_stride) + c,
						      (const int8_t *)wr + c, g);
				else
					d = dot_s16s4((const int16_t *)((const uint8_t *)mm->x +
									r * mm->x_stride) + c,
						      wr + c / 2, g);
				acc += d * f[j];
			}
			mm->v[(uint64_t)r * mm->n + n] = acc;
		}
	}
}
