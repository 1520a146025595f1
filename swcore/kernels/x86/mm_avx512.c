// SPDX-License-Identifier: MIT
/*
 * AVX-512 VNNI sums. vpdpbusd multiplies unsigned by signed bytes. With
 * int8 weights the activations enter as x ^ 0x80 = x + 128 and each
 * group's dot product is corrected by 128 * sum(w). With int4 weights the
 * roles swap: a nibble n ^ 8 = w + 8 is the unsigned operand, x the signed
 * one, and the correction is 8 * sum(x), which depends on the activations
 * only and is computed once per call. Int8 sums stay far inside int32;
 * int16 activations (vpdpwssd) are folded into int64 every 256 columns so
 * they cannot overflow.
 */
#include <immintrin.h>
#include <string.h>

#include "x86.h"
#include "mask_avx512.h"
#include "widen_avx512.h"

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
		__mmask64 m = first64(len - c);
		__m512i wv = _mm512_maskz_loadu_epi8(m, w + c);

		acc = _mm512_dpbusd_epi32(acc, _mm512_maskz_loadu_epi8(m, xu + c), wv);
		sw = _mm512_dpbusd_epi32(sw, ones, wv);
	}
	return hsum(acc) - 128 * hsum(sw);
}

/*
 * The same for int4 weights (@len elements, @len / 2 bytes, low nibble
 * first) against x split into even (@xe) and odd (@xo) elements.
 */
static inline int64_t dot_u8s4(const uint8_t *xe, const uint8_t *xo, const uint8_t *w,
			       uint32_t len)
{
	const __m512i ones = _mm512_set1_epi8(1), lo4 = _mm512_set1_epi8(0x0f);
	const __m512i flip = _mm512_set1_epi8((char)0x88);
	__m512i acc = _mm512_setzero_si512(), sx = _mm512_setzero_si512();
	uint32_t half = len / 2, c;

	for (c = 0; c < half; c += 64) {
		__mmask64 m = first64(half - c);
		__m512i b = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, w + c), flip);
		__m512i e = _mm512_maskz_loadu_epi8(m, xe + c), o = _mm512_maskz_loadu_epi8(m, xo + c);

		/* Masked-off bytes of e and o are zero: their nibbles add nothing. */
		acc = _mm512_dpbusd_epi32(acc, _mm512_and_si512(b, lo4), e);
		acc = _mm512_dpbusd_epi32(acc, _mm512_and_si512(_mm512_srli_epi16(b, 4), lo4), o);
		sx = _mm512_dpbusd_epi32(sx, ones, e);
		sx = _mm512_dpbusd_epi32(sx, ones, o);
	}
	return hsum(acc) - 8 * hsum(sx);
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
			__mmask32 m = first32(end - c);
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
 * One 128-element step of row_u8s4 on 64 weight bytes @b, each nibble n
 * taken as n ^ 8 = w + 8, against x's even (@e) and odd (@o) elements:
 * lane i holds elements 8i..8i+7's sum, started at its correction (@nsx:
 * -8 * sum(x)), times its group's factor (@fv). |sum| <= 8 * 8 * 128 and
 * a factor <= 65535: a lane's product is under 2^29, and four steps' sum
 * fits int32.
 */
static inline __m512i u8s4_step(__m512i b, __m512i e, __m512i o, __m512i nsx, __m512i fv)
{
	const __m512i lo4 = _mm512_set1_epi8(0x0f), eight = _mm512_set1_epi8(8);
	/* (n & 0x0f) ^ 8 in one instruction: 0x6a is (A & B) ^ C. */
	__m512i d = _mm512_dpbusd_epi32(nsx, _mm512_ternarylogic_epi32(b, lo4, eight, 0x6a), e);

	d = _mm512_dpbusd_epi32(d, _mm512_ternarylogic_epi32(_mm512_srli_epi16(b, 4), lo4, eight,
							     0x6a), o);
	return _mm512_mullo_epi32(d, fv);
}

/*
 * A whole row of int4 weights in groups of 2^@lg = 8..128 elements: 128
 * elements (64 bytes) a step. Lane i of a step covers elements 8i..8i+7,
 * so its group is known, and its correction (@nsx8: -8 * sum(x) of each 8
 * elements) and factor are applied in the lane before summing: one
 * reduction per row instead of one per group.
 */
static int64_t row_u8s4(const uint8_t *xe, const uint8_t *xo, const int32_t *nsx8,
			const uint8_t *w, const uint16_t *f, uint32_t k, uint32_t lg)
{
	const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	/* Lane i's group within a step: 8i / g. */
	const __m512i idx = _mm512_srlv_epi32(_mm512_slli_epi32(lane, 3), _mm512_set1_epi32(lg));
	const uint32_t per = 128 >> lg, full = k / 128, tail = k % 128;
	const __mmask16 fm = first16(per);
	__m512i acc = _mm512_setzero_si512();
	uint32_t i = 0, j;

	while (i < full) {
		__m512i s = _mm512_setzero_si512();

		for (j = 0; j < 4 && i < full; j++, i++, w += 64, xe += 64, xo += 64, nsx8 += 16,
		     f += per) {
			__m512i fv = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(fm, f));

			s = _mm512_add_epi32(s, u8s4_step(
				_mm512_loadu_si512(w), _mm512_loadu_si512(xe),
				_mm512_loadu_si512(xo), _mm512_loadu_si512(nsx8),
				_mm512_permutexvar_epi32(idx, fv)));
		}
		acc = widen_add(acc, s);
	}
	if (tail) {
		/* Masked-off bytes of x are zero: their nibbles add nothing. */
		__mmask64 m = first64(tail / 2);
		__m512i fv = _mm512_cvtepu16_epi32(
			_mm256_maskz_loadu_epi16(first16((tail + (1u << lg) - 1) >> lg), f));

		acc = widen_add(acc, u8s4_step(
			_mm512_maskz_loadu_epi8(m, w),
			_mm512_maskz_loadu_epi8(m, xe), _mm512_maskz_loadu_epi8(m, xo),
			_mm512_maskz_loadu_epi32(first16(tail / 8), nsx8),
			_mm512_permutexvar_epi32(idx, fv)));
	}
	return _mm512_reduce_add_epi64(acc);
}

/*
 * One 128-element step of row_s16s4 on 64 weight bytes @v against x's
 * four phases: the 16-bit lane j holds elements 4j..4j+3 as its four
 * nibbles, and shifts sign-extend each in place (a stored nibble is the
 * value's two's complement). Lane i of the int32 sums covers elements
 * 8i..8i+7, |sum| <= 8 * 8 * 2^15.
 */
static inline __m512i s16s4_step(__m512i v, __m512i x0, __m512i x1, __m512i x2, __m512i x3)
{
	__m512i d;

	d = _mm512_dpwssd_epi32(_mm512_setzero_si512(),
				_mm512_srai_epi16(_mm512_slli_epi16(v, 12), 12), x0);
	d = _mm512_dpwssd_epi32(d, _mm512_srai_epi16(_mm512_slli_epi16(v, 8), 12), x1);
	d = _mm512_dpwssd_epi32(d, _mm512_srai_epi16(_mm512_slli_epi16(v, 4), 12), x2);
	return _mm512_dpwssd_epi32(d, _mm512_srai_epi16(v, 12), x3);
}

/* The int32 sums @d of a step times their factors @fv (one per 64-bit lane). */
static inline void scale64(__m512i d, __m512i fv, __m512i *even, __m512i *odd)
{
	*even = _mm512_add_epi64(*even, _mm512_mul_epi32(d, fv));
	*odd = _mm512_add_epi64(*odd, _mm512_mul_epi32(_mm512_srli_epi64(d, 32), fv));
}

/*
 * A whole row of int4 weights against int16 activations (npu_mm_s16s4_fits),
 * 128 elements (64 bytes) a step, against x in four phases (@x4: x[4j + i]
 * at j of phase i, @ph elements apart). A 64-bit lane of a step covers 16
 * elements, all in one group: its sums are scaled in 64-bit lanes and
 * reduced once per row.
 */
static int64_t row_s16s4(const int16_t *x4, uint64_t ph, const uint8_t *w, const uint16_t *f,
			 uint32_t k, uint32_t g)
{
	const __m512i q = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
	/* Lane q's group within a step, for groups up to 128: 16q / g. */
	const __m512i idx = g > 128 ? _mm512_setzero_si512()
				    : _mm512_srlv_epi64(_mm512_slli_epi64(q, 4),
							_mm512_set1_epi64(__builtin_ctz(g)));
	const uint32_t full = k / 128, tail = k % 128;
	/* Factors a step advances by (groups up to 128), or steps a group lasts. */
	const uint32_t per = g > 128 ? 0 : 128 / g, steps = g > 128 ? g / 128 : 0;
	const __mmask8 fm = first8(per);
	__m512i even = _mm512_setzero_si512(), odd = even;
	uint32_t i, in_group = 0;

	for (i = 0; i < full; i++, w += 64, x4 += 32) {
		__m512i d = s16s4_step(_mm512_loadu_si512(w), _mm512_loadu_si512(x4),
				       _mm512_loadu_si512(x4 + ph), _mm512_loadu_si512(x4 + 2 * ph),
				       _mm512_loadu_si512(x4 + 3 * ph));

		if (per) {
			scale64(d, _mm512_permutexvar_epi64(idx, _mm512_cvtepu16_epi64(
						_mm_maskz_loadu_epi16(fm, f))), &even, &odd);
			f += per;
		} else {
			scale64(d, _mm512_set1_epi64(*f), &even, &odd);
			if (++in_group == steps) {
				in_group = 0;
				f++;
			}
		}
	}
	if (tail) {
		/* Masked-off weight bytes are zero nibbles, and x lanes zero. */
		__mmask32 mx = first32(tail / 4);
		__m512i d = s16s4_step(_mm512_maskz_loadu_epi8(first64(tail / 2), w),
				       _mm512_maskz_loadu_epi16(mx, x4),
				       _mm512_maskz_loadu_epi16(mx, x4 + ph),
				       _mm512_maskz_loadu_epi16(mx, x4 + 2 * ph),
				       _mm512_maskz_loadu_epi16(mx, x4 + 3 * ph));

		/* A tail exists only for groups under 128, which tile it. */
		scale64(d, _mm512_permutexvar_epi64(idx, _mm512_cvtepu16_epi64(
				   _mm_maskz_loadu_epi16(first8(tail / g), f))), &even, &odd);
	}
	return _mm512_reduce_add_epi64(_mm512_add_epi64(even, odd));
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
			__mmask64 m = first64((j + 1) * g - c);
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
	/* int4 weights in groups of 8..128 that tile 128 columns: a whole row at once. */
	int whole_row_s4 = mm->x_bits == 8 && mm->w_bits == 4 && g >= 8 && g <= 128 &&
			   128 % g == 0;
	int whole_row_s16s4 = npu_mm_s16s4_fits(mm);

	if (npu_mm_gemm_fits(mm)) {
		npu_mm_gemm_avx512(mm, p, n0, n1);
		return;
	}
	if (npu_mm_gemm_unpacked_fits(mm)) {
		npu_mm_gemm_unpacked_avx512(mm, p, n0, n1);
		return;
	}
	if (p->packed) {
		npu_mm_packed_avx512(mm, p, n0, n1);
		return;
	}
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

			if (whole_row_s16s4) {
				mm->v[(uint64_t)r * mm->n + n] =
					row_s16s4(p->x4 + r * 4 * p->x4_phase, p->x4_phase, wr, f,
						  mm->k, g);
				continue;
			}
			if (whole_row_s4) {
				mm->v[(uint64_t)r * mm->n + n] =
					row_u8s4(p->xe + r * p->x_stride, p->xo + r * p->x_stride,
						 p->nsx8 + (uint64_t)r * (mm->k / 8), wr, f, mm->k,
						 (uint32_t)__builtin_ctz(g));
				continue;
			}
			for (j = 0; j < gpr; j++) {
				uint64_t c = (uint64_t)j * g;
				int64_t d;

				if (mm->x_bits == 8 && mm->w_bits == 8)
					d = dot_u8s8(p->xu + (uint64_t)r * mm->k + c,
						     (const int8_t *)wr + c, g);
				else if (mm->x_bits == 8)
					d = dot_u8s4(p->xe + r * p->x_stride + c / 2,
						     p->xo + r * p->x_stride + c / 2,
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

/* x ^ 0x80 for @n bytes: the activations as vpdpbusd's unsigned operand. */
static void flip(const uint8_t *x, uint8_t *u, uint32_t n)
{
	const __m512i flip = _mm512_set1_epi8((char)0x80);
	uint32_t c;

	for (c = 0; c < n; c += 64) {
		__mmask64 m = first64(n - c);

		_mm512_mask_storeu_epi8(u + c, m,
					_mm512_xor_si512(_mm512_maskz_loadu_epi8(m, x + c), flip));
	}
}

/*
 * The GEMMs' layout: each block of 16 rows (zero past the last) a step at
 * a time, 4 bytes of each row a step; xor'ed with @flip.
 */
static void pack_rows(const struct npu_fw_matmul *mm, uint8_t *xp, uint32_t flip)
{
	uint32_t blocks = (mm->rows + 15) / 16, bytes = mm->k * mm->x_bits / 8, b, i, c;

	for (b = 0; b < blocks; b++)
		for (i = 0; i < 16; i++) {
			uint32_t r = b * 16 + i;
			uint8_t *d = xp + (size_t)b * 16 * bytes + (size_t)i * 4;
			const uint8_t *x = (const uint8_t *)mm->x + (uint64_t)r * mm->x_stride;

			for (c = 0; c < bytes; c += 4) {
				uint32_t word = 0;

				if (r < mm->rows) {
					memcpy(&word, x + c, 4);
					word ^= flip;
				}
				memcpy(d + (size_t)c * 16, &word, 4);
			}
		}
}

/* -8 * sum(x) over each sum group of each row, 16 rows a block (zero past the last). */
static void group_sums(const struct npu_fw_matmul *mm, int32_t *nsxg)
{
	uint32_t blocks = (mm->rows + 15) / 16, groups = npu_mm_sum_groups(mm);
	uint32_t sg = npu_mm_sum_group(mm), r, j, c;

	memset(nsxg, 0, (size_t)blocks * groups * 16 * sizeof(*nsxg));
	for (r = 0; r < mm->rows; r++) {
		const int8_t *x = (const int8_t *)mm->x + (uint64_t)r * mm->x_stride;

		for (j = 0; j < groups; j++) {
			int32_t sum = 0;

			for (c = j * sg; c < mm->k && c < (j + 1) * sg; c++)
				sum += x[c];
			nsxg[((size_t)(r / 16) * groups + j) * 16 + r % 16] = -8 * sum;
		}
	}
}

void npu_mm_avx512_prepare(const struct npu_fw_matmul *mm, uint8_t *buf, struct npu_mm_prep *p)
{
	uint32_t r, c;

	memset(p, 0, sizeof(*p));
	if (npu_mm_gemm_fits(mm)) {
		pack_rows(mm, buf, 0x80808080u);
		p->xp = buf;
		return;
	}
	if (npu_mm_gemm_unpacked_fits(mm)) {
		pack_rows(mm, buf, 0);
		p->xp = buf;
		if (mm->x_bits == 8) {
			int32_t *nsxg = (int32_t *)(buf + (size_t)(mm->rows + 15) / 16 * 16 * mm->k);

			group_sums(mm, nsxg);
			p->nsxg = nsxg;
		}
		return;
	}
	if (npu_mm_s16s4_fits(mm)) {
		int16_t *x4 = (int16_t *)buf;

		p->x4 = x4;
		p->x4_phase = NPU_MM_X4_PHASE(mm->k);
		for (r = 0; r < mm->rows; r++) {
			const int16_t *x = (const int16_t *)((const uint8_t *)mm->x +
							     r * mm->x_stride);
			int16_t *d = x4 + r * 4 * p->x4_phase;

			/* A 64-bit lane holds x[4j..4j+3]: its 16-bit quarters are the phases. */
			for (c = 0; c + 32 <= mm->k; c += 32) {
				__m512i v = _mm512_loadu_si512(x + c);
				int i;

				for (i = 0; i < 4; i++)
					_mm_storeu_si128((__m128i *)(d + i * p->x4_phase + c / 4),
							 _mm512_cvtepi64_epi16(_mm512_srli_epi64(v, 16 * i)));
			}
			for (; c < mm->k; c++)
				d[c % 4 * p->x4_phase + c / 4] = x[c];
		}
		return;
	}
	if (mm->w_bits == 8) {
		for (r = 0; r < mm->rows; r++)
			flip((const uint8_t *)mm->x + r * mm->x_stride, buf + (size_t)r * mm->k,
			     mm->k);
		p->xu = buf;
		return;
	}
	/*
	 * int4 weights: x itself, even and odd elements apart, and 8 * sum(x)
	 * per 8. The three streams a row reads are offset by odd multiples of
	 * 64 bytes, so they never share an L1 set in step (k is a multiple of
	 * 4 KiB in many models).
	 */
	p->x_stride = NPU_MM_PREP_STRIDE(mm->k);
	p->xe = buf;
	p->xo = buf + mm->k / 2 + 64;
	p->nsx8 = (const int32_t *)(buf + ((size_t)mm->rows * p->x_stride + 63) / 64 * 64 + 192);
	for (r = 0; r < mm->rows; r++) {
		const int8_t *x = (const int8_t *)mm->x + r * mm->x_stride;
		uint8_t *e = buf + r * p->x_stride, *o = e + mm->k / 2 + 64;
		int32_t *nsx8 = (int32_t *)(p->nsx8) + (size_t)r * (mm->k / 8);

		/*
		 * 64 elements a step: the low and high bytes of 16-bit lanes are
		 * the even and odd elements; vpsadbw sums each 8 of x + 128.
		 */
		for (c = 0; c + 64 <= mm->k; c += 64) {
			__m512i v = _mm512_loadu_si512(x + c);
			__m512i s = _mm512_sad_epu8(_mm512_xor_si512(v, _mm512_set1_epi8((char)0x80)),
						    _mm512_setzero_si512());

			_mm256_storeu_si256((__m256i *)(e + c / 2), _mm512_cvtepi16_epi8(v));
			_mm256_storeu_si256((__m256i *)(o + c / 2),
					    _mm512_cvtepi16_epi8(_mm512_srli_epi16(v, 8)));
			_mm256_storeu_si256((__m256i *)(nsx8 + c / 8), _mm512_cvtepi64_epi32(
				_mm512_slli_epi64(_mm512_sub_epi64(_mm512_set1_epi64(1024), s), 3)));
		}
		for (; c + 1 < mm->k; c += 2) {
			e[c / 2] = (uint8_t)x[c];
			o[c / 2] = (uint8_t)x[c + 1];
			if (c % 8 == 0 && c + 8 <= mm->k)
				nsx8[c / 8] = -8 * (x[c] + x[c + 1] + x[c + 2] + x[c + 3] +
						    x[c + 4] + x[c + 5] + x[c + 6] + x[c + 7]);
		}
	}
	if (npu_mm_packed_fits(mm))
		p->xt = buf + npu_mm_s8s4_prep_bytes(mm);
}
