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

#include "kernels.h"
#include "mask_avx512.h"
#include "s4_avx512.h"

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

/* ---- GEMM: int8 weights, one group per row, 16 or more rows ------------ */

/* sum(w[0..k)), for the x ^ 0x80 correction. */
static int64_t row_sum_s8(const uint8_t *w, uint32_t k)
{
	const __m512i ones = _mm512_set1_epi8(1);
	__m512i sw = _mm512_setzero_si512();
	uint32_t c;

	for (c = 0; c < k; c += 64) {
		__mmask64 m = first64(k - c);

		sw = _mm512_dpbusd_epi32(sw, ones, _mm512_maskz_loadu_epi8(m, w + c));
	}
	return hsum(sw);
}

/* One weight word (4 columns of a row) in every lane. */
static inline __m512i bcast4(const uint8_t *p)
{
	int32_t d;

	memcpy(&d, p, 4);
	return _mm512_set1_epi32(d);
}

#define DP(c, a, b) ((c) = _mm512_dpbusd_epi32((c), (a), (b)))

/* Rows r0.. of column n from 16 lanes of sums: (sum - 128 * sum(w)) * f. */
static void put16(const struct npu_fw_matmul *mm, __m512i acc, uint32_t r0, uint32_t n,
		  int64_t corr)
{
	uint32_t i, valid = mm->rows - r0 < 16 ? mm->rows - r0 : 16;
	int64_t f = mm->factors[n];
	int32_t lanes[16];

	_mm512_storeu_si512(lanes, acc);
	for (i = 0; i < valid; i++)
		mm->v[(uint64_t)(r0 + i) * mm->n + n] = ((int64_t)lanes[i] - corr) * f;
}

/*
 * 64 rows by 6 columns over columns [k0, k0 + kc) of k, 24 accumulators in
 * registers, carried between chunks in @part: each step loads 4 packed
 * activation vectors and broadcasts one word of each of 6 weight rows,
 * for 24 vpdpbusd. The weights are read straight from their rows.
 */
static void tile64x6(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p, uint32_t r0,
		     uint32_t n, uint32_t k0, uint32_t kc, __m512i *part)
{
	const uint64_t blk = (uint64_t)16 * mm->k;
	const uint8_t *a = p->xp + (uint64_t)(r0 / 16) * blk;
	const uint8_t *w0 = mm->w + (uint64_t)n * mm->w_stride, *w1 = w0 + mm->w_stride;
	const uint8_t *w2 = w1 + mm->w_stride, *w3 = w2 + mm->w_stride;
	const uint8_t *w4 = w3 + mm->w_stride, *w5 = w4 + mm->w_stride;
	__m512i c00 = part[0], c01 = part[1], c02 = part[2], c03 = part[3], c04 = part[4];
	__m512i c05 = part[5], c10 = part[6], c11 = part[7], c12 = part[8], c13 = part[9];
	__m512i c14 = part[10], c15 = part[11], c20 = part[12], c21 = part[13], c22 = part[14];
	__m512i c23 = part[15], c24 = part[16], c25 = part[17], c30 = part[18], c31 = part[19];
	__m512i c32 = part[20], c33 = part[21], c34 = part[22], c35 = part[23];
	uint32_t kk;

	for (kk = k0; kk < k0 + kc; kk += 4) {
		const uint8_t *ak = a + (uint64_t)kk * 16;
		__m512i a0 = _mm512_loadu_si512(ak), a1 = _mm512_loadu_si512(ak + blk);
		__m512i a2 = _mm512_loadu_si512(ak + 2 * blk), a3 = _mm512_loadu_si512(ak + 3 * blk);
		__m512i b;

		b = bcast4(w0 + kk);
		DP(c00, a0, b); DP(c10, a1, b); DP(c20, a2, b); DP(c30, a3, b);
		b = bcast4(w1 + kk);
		DP(c01, a0, b); DP(c11, a1, b); DP(c21, a2, b); DP(c31, a3, b);
		b = bcast4(w2 + kk);
		DP(c02, a0, b); DP(c12, a1, b); DP(c22, a2, b); DP(c32, a3, b);
		b = bcast4(w3 + kk);
		DP(c03, a0, b); DP(c13, a1, b); DP(c23, a2, b); DP(c33, a3, b);
		b = bcast4(w4 + kk);
		DP(c04, a0, b); DP(c14, a1, b); DP(c24, a2, b); DP(c34, a3, b);
		b = bcast4(w5 + kk);
		DP(c05, a0, b); DP(c15, a1, b); DP(c25, a2, b); DP(c35, a3, b);
	}
	part[0] = c00, part[1] = c01, part[2] = c02, part[3] = c03, part[4] = c04;
	part[5] = c05, part[6] = c10, part[7] = c11, part[8] = c12, part[9] = c13;
	part[10] = c14, part[11] = c15, part[12] = c20, part[13] = c21, part[14] = c22;
	part[15] = c23, part[16] = c24, part[17] = c25, part[18] = c30, part[19] = c31;
	part[20] = c32, part[21] = c33, part[22] = c34, part[23] = c35;
}

/* The same for 16 rows (the rows a 64-row tile leaves) and 1..6 columns. */
static void tile16(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p, uint32_t r0,
		   uint32_t n, uint32_t cols, const int64_t *corr)
{
	const uint8_t *a = p->xp + (uint64_t)(r0 / 16) * 16 * mm->k;
	const uint8_t *w = mm->w + (uint64_t)n * mm->w_stride;
	const uint64_t ws = mm->w_stride;
	__m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
	uint32_t kk;

	for (kk = 0; kk < mm->k; kk += 4) {
		__m512i a0 = _mm512_loadu_si512(a + (uint64_t)kk * 16);

		DP(c0, a0, bcast4(w + kk));
		if (cols > 1)
			DP(c1, a0, bcast4(w + ws + kk));
		if (cols > 2)
			DP(c2, a0, bcast4(w + 2 * ws + kk));
		if (cols > 3)
			DP(c3, a0, bcast4(w + 3 * ws + kk));
		if (cols > 4)
			DP(c4, a0, bcast4(w + 4 * ws + kk));
		if (cols > 5)
			DP(c5, a0, bcast4(w + 5 * ws + kk));
	}
	put16(mm, c0, r0, n, corr[0]);
	if (cols > 1)
		put16(mm, c1, r0, n + 1, corr[1]);
	if (cols > 2)
		put16(mm, c2, r0, n + 2, corr[2]);
	if (cols > 3)
		put16(mm, c3, r0, n + 3, corr[3]);
	if (cols > 4)
		put16(mm, c4, r0, n + 4, corr[4]);
	if (cols > 5)
		put16(mm, c5, r0, n + 5, corr[5]);
}

/*
 * The GEMM's blocking: GEMM_TILES tiles of 6 columns share each chunk of
 * GEMM_KC columns of k of 64 rows of activations (8 KiB, in L1) and keep
 * their sums between chunks on the stack (12 KiB); the next chunk's
 * weights stream in behind.
 */
#define GEMM_KC 128
#define GEMM_TILES 8

/*
 * The sums of @tiles 64-row tiles from row @r0 and column @n, with their
 * corrections @corr: each row's columns gathered first, then written
 * whole. v's rows are far apart (often a multiple of 4 KiB, one cache
 * set), and writing them a column at a time missed the cache at nearly
 * every value.
 */
static void put_tiles(const struct npu_fw_matmul *mm, __m512i (*part)[24], uint32_t tiles,
		      uint32_t r0, uint32_t n, const int64_t *corr)
{
	int64_t rows[16][GEMM_TILES * 6];
	int32_t lanes[16];
	uint32_t blk, t, c, i;

	for (blk = 0; blk < 4 && r0 + 16 * blk < mm->rows; blk++) {
		uint32_t r = r0 + 16 * blk, valid = mm->rows - r < 16 ? mm->rows - r : 16;

		for (t = 0; t < tiles; t++)
			for (c = 0; c < 6; c++) {
				int64_t f = mm->factors[n + 6 * t + c], k = corr[6 * t + c];

				_mm512_storeu_si512(lanes, part[t][6 * blk + c]);
				for (i = 0; i < 16; i++)
					rows[i][6 * t + c] = ((int64_t)lanes[i] - k) * f;
			}
		for (i = 0; i < valid; i++)
			memcpy(mm->v + (uint64_t)(r + i) * mm->n + n, rows[i], tiles * 6 * 8);
	}
}

/* Columns [n0, n1) for every row. */
static void gemm_u8s8(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p, uint32_t n0,
		      uint32_t n1)
{
	uint32_t blocks = (mm->rows + 15) / 16, n, b, j, t, k0;
	__m512i part[GEMM_TILES][24];
	int64_t corr[GEMM_TILES * 6];

	for (n = n0; n < n1; n += GEMM_TILES * 6) {
		uint32_t cols = n1 - n < GEMM_TILES * 6 ? n1 - n : GEMM_TILES * 6;
		uint32_t tiles = cols / 6;

		for (j = 0; j < cols; j++)
			corr[j] = 128 * row_sum_s8(mm->w + (uint64_t)(n + j) * mm->w_stride, mm->k);
		for (b = 0; tiles && b + 4 <= blocks; b += 4) {
			memset(part, 0, sizeof(part));
			for (k0 = 0; k0 < mm->k; k0 += GEMM_KC)
				for (t = 0; t < tiles; t++)
					tile64x6(mm, p, b * 16, n + 6 * t, k0,
						 mm->k - k0 < GEMM_KC ? mm->k - k0 : GEMM_KC, part[t]);
			put_tiles(mm, part, tiles, b * 16, n, corr);
		}
		/* Rows the 64-row tiles left, and columns past the last 6. */
		for (t = 0; t < (cols + 5) / 6; t++) {
			uint32_t c = cols - 6 * t < 6 ? cols - 6 * t : 6;

			for (j = t < tiles ? b : 0; j < blocks; j++)
				tile16(mm, p, j * 16, n + 6 * t, c, corr + 6 * t);
		}
	}
}

/* ---- GEMM: weights unpacked in chunks, 16 or more rows ---------------- */

/*
 * The unpacked GEMM's blocking: UNPACK_COLS weight rows are unpacked
 * UNPACK_KC columns of k at a time (whole groups) into a chunk that up to
 * UNPACK_BLOCKS blocks of 16 activation rows then share, their sums kept
 * between chunks on the stack.
 */
#define UNPACK_COLS 6
#define UNPACK_KC 256
#define UNPACK_BLOCKS 8

/*
 * A chunk of UNPACK_COLS weight rows, unpacked so that each 4 bytes are
 * one step's broadcast operand: with int8 x, int4 nibbles n ^ 8 = w + 8 as
 * bytes (4 columns of k a step); with int16 x, w as int16 (2 columns). A
 * tile's columns past the matrix's last keep what they held: their sums
 * are computed and never stored.
 */
struct unpacked_chunk {
	uint8_t w[UNPACK_COLS][UNPACK_KC * 2] __attribute__((aligned(64)));
	int32_t f[UNPACK_COLS][UNPACK_KC / 4];	/* each sum group's factor */
};

/* Up to 32 weight bytes from @w, @left of them there. */
static inline __m256i load32(const uint8_t *w, uint32_t left)
{
	return _mm256_maskz_loadu_epi8(first32(left), w);
}

static void unpack_chunk(const struct npu_fw_matmul *mm, uint32_t n, uint32_t cols, uint32_t k0,
			 uint32_t kc, struct unpacked_chunk *ch)
{
	const uint32_t gpr = mm->groups_per_row, g = mm->k / gpr, sg = npu_mm_sum_group(mm);
	const uint32_t bytes = kc * mm->w_bits / 8;
	uint32_t c, i, j;

	for (c = 0; c < cols; c++) {
		const uint8_t *w = mm->w + (uint64_t)(n + c) * mm->w_stride + k0 * mm->w_bits / 8;
		const uint16_t *f = mm->factors + (uint64_t)(n + c) * gpr;

		for (j = 0; j < (kc + sg - 1) / sg; j++)
			ch->f[c][j] = f[k0 / g + j];
		for (i = 0; i < bytes; i += 32) {
			__m256i b = load32(w + i, bytes - i);

			if (mm->w_bits == 8) {
				_mm512_store_si512(ch->w[c] + 2 * i, _mm512_cvtepi8_epi16(b));
			} else if (mm->x_bits == 8) {
				/* Bytes n_lo ^ 8, n_hi ^ 8 from each 16-bit lane's byte. */
				__m512i v = _mm512_cvtepu8_epi16(b);

				v = _mm512_and_si512(_mm512_or_si512(v, _mm512_slli_epi16(v, 4)),
						     _mm512_set1_epi16(0x0f0f));
				_mm512_store_si512(ch->w[c] + 2 * i,
						   _mm512_xor_si512(v, _mm512_set1_epi16(0x0808)));
			} else {
				/*
				 * Each 32-bit lane's byte to its two nibbles at the top of
				 * its 16-bit halves, then sign-extended in place.
				 */
				int h;

				for (h = 0; h < 2; h++) {
					__m512i v = _mm512_cvtepu8_epi32(h ? _mm256_extracti128_si256(b, 1) :
									 _mm256_castsi256_si128(b));

					v = _mm512_or_si512(_mm512_slli_epi32(v, 12),
							    _mm512_slli_epi32(v, 24));
					_mm512_store_si512(ch->w[c] + 4 * i + 64 * h,
							   _mm512_srai_epi16(v, 12));
				}
			}
		}
	}
}

/*
 * One block of 16 activation rows against @kc columns of a chunk, in sum
 * groups of @g: six columns' int32 sums in registers (int8 x against int4
 * weights starting at -8 * sum(x) over the group, which takes out the + 8
 * of the weights), each group's times its factor into 64-bit sums of the
 * even (@part[c]) and odd (@part[6 + c]) rows. @a is the block's packed
 * activations at the chunk, 64 bytes a step.
 */
static inline __attribute__((always_inline)) void
unpacked_block(const uint8_t *a, const int32_t *nsx, const struct unpacked_chunk *ch, uint32_t kc,
	       uint32_t g, int wide, __m512i *part)
{
	const uint32_t steps = wide ? g / 2 : g / 4;
	__m512i e0 = part[0], e1 = part[1], e2 = part[2], e3 = part[3], e4 = part[4];
	__m512i e5 = part[5], o0 = part[6], o1 = part[7], o2 = part[8], o3 = part[9];
	__m512i o4 = part[10], o5 = part[11];
	const uint8_t *w = ch->w[0];
	uint32_t j, s;

	for (j = 0; j < kc / g; j++) {
		__m512i c0 = wide ? _mm512_setzero_si512() : _mm512_loadu_si512(nsx + 16 * j);
		__m512i c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, f;

		for (s = 0; s < steps; s++, a += 64, w += 4) {
			__m512i x = _mm512_loadu_si512(a);

/* Column col's sums += its weight word times x: int16 pairs, or 4 bytes. */
#define STEP(c, col)                                                                          \
	((c) = wide ? _mm512_dpwssd_epi32((c), x, bcast4(w + UNPACK_KC * 2 * (col))) :        \
		      _mm512_dpbusd_epi32((c), bcast4(w + UNPACK_KC * 2 * (col)), x))
			STEP(c0, 0);
			STEP(c1, 1);
			STEP(c2, 2);
			STEP(c3, 3);
			STEP(c4, 4);
			STEP(c5, 5);
#undef STEP
		}
#define SCALE(c, e, o, col)                                                                   \
	do {                                                                                  \
		f = _mm512_set1_epi32(ch->f[col][j]);                                         \
		e = _mm512_add_epi64(e, _mm512_mul_epi32(c, f));                              \
		o = _mm512_add_epi64(o, _mm512_mul_epi32(_mm512_srli_epi64(c, 32), f));       \
	} while (0)
		SCALE(c0, e0, o0, 0);
		SCALE(c1, e1, o1, 1);
		SCALE(c2, e2, o2, 2);
		SCALE(c3, e3, o3, 3);
		SCALE(c4, e4, o4, 4);
		SCALE(c5, e5, o5, 5);
#undef SCALE
	}
	part[0] = e0, part[1] = e1, part[2] = e2, part[3] = e3, part[4] = e4, part[5] = e5;
	part[6] = o0, part[7] = o1, part[8] = o2, part[9] = o3, part[10] = o4, part[11] = o5;
}

/* Columns [n0, n1) for every row. */
static void gemm_unpacked(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p,
			  uint32_t n0, uint32_t n1)
{
	const uint32_t sg = npu_mm_sum_group(mm), groups = npu_mm_sum_groups(mm);
	const uint32_t blocks = (mm->rows + 15) / 16;
	const uint64_t xb = mm->x_bits / 8, blk = 16 * mm->k * xb;
	struct unpacked_chunk ch = { 0 };
	__m512i part[UNPACK_BLOCKS][12];
	int64_t even[UNPACK_COLS][8], odd[UNPACK_COLS][8];
	uint32_t n, b0, b, k0, c, i;

	for (n = n0; n < n1; n += UNPACK_COLS) {
		uint32_t cols = n1 - n < UNPACK_COLS ? n1 - n : UNPACK_COLS;

		for (b0 = 0; b0 < blocks; b0 += UNPACK_BLOCKS) {
			uint32_t nb = blocks - b0 < UNPACK_BLOCKS ? blocks - b0 : UNPACK_BLOCKS;

			memset(part, 0, nb * sizeof(part[0]));
			for (k0 = 0; k0 < mm->k; k0 += UNPACK_KC) {
				uint32_t kc = mm->k - k0 < UNPACK_KC ? mm->k - k0 : UNPACK_KC;
				/* A chunk holds whole groups; a row's one group ends with k. */
				uint32_t g = kc < sg ? kc : sg;

				unpack_chunk(mm, n, cols, k0, kc, &ch);
				for (b = 0; b < nb; b++) {
					const uint8_t *a = p->xp + (b0 + b) * blk + k0 * 16 * xb;

					if (xb == 2)
						unpacked_block(a, NULL, &ch, kc, g, 1, part[b]);
					else
						unpacked_block(a, p->nsxg + ((uint64_t)(b0 + b) * groups +
									     k0 / sg) * 16,
							       &ch, kc, g, 0, part[b]);
				}
			}
			for (b = 0; b < nb; b++) {
				uint32_t r0 = (b0 + b) * 16, valid = mm->rows - r0 < 16 ?
								     mm->rows - r0 : 16;

				/* Row by row: v's rows are far apart (see put_tiles). */
				for (c = 0; c < cols; c++) {
					_mm512_storeu_si512(even[c], part[b][c]);
					_mm512_storeu_si512(odd[c], part[b][6 + c]);
				}
				for (i = 0; i < valid; i++)
					for (c = 0; c < cols; c++)
						mm->v[(uint64_t)(r0 + i) * mm->n + n + c] =
							i % 2 ? odd[c][i / 2] : even[c][i / 2];
			}
		}
	}
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
		gemm_u8s8(mm, p, n0, n1);
		return;
	}
	if (npu_mm_gemm_unpacked_fits(mm)) {
		gemm_unpacked(mm, p, n0, n1);
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

/*
 * The output stage of every op (struct npu_fw_requant), 8 lanes of int64
 * at a time, exact without 128-bit products. With |v| = hi * 2^32 + lo,
 * both products hi * mult and lo * mult fit 64 bits, and:
 *
 * for 33 <= shift <= 94 and |v| < 2^63,
 *	round(|v| * mult / 2^shift) = (hi * mult + (lo * mult >> 32)
 *				       + 2^(shift - 33)) >> (shift - 32)
 * (the low 32 bits of lo * mult cannot carry the rounding over a multiple
 * of 2^(shift - 32));
 *
 * for 0 <= shift <= 32,
 *	round(|v| * mult / 2^shift) = (hi * mult << (32 - shift))
 *				      + ((lo * mult + half) >> shift)
 * with half = 2^(shift - 1) (0 for shift 0), which is past any qmax
 * (< 2^31) once hi * mult >= max(half, 1): those lanes saturate,
 * |INT64_MIN| = 2^63 among them.
 *
 * Other shifts, and v = INT64_MIN with a shift past 32, go back to the
 * firmware.
 */
static inline void requant_store(const struct npu_fw_requant *rq, uint32_t i, __mmask8 m,
				 __m512i v, __m512i r)
{
	const __m512i zero = _mm512_setzero_si512();

	r = _mm512_mask_sub_epi64(r, _mm512_cmplt_epi64_mask(v, zero), zero, r);
	r = _mm512_min_epi64(_mm512_max_epi64(r, _mm512_set1_epi64(-rq->qmax)),
			     _mm512_set1_epi64(rq->qmax));
	if (rq->out_bits == 8)
		_mm512_mask_cvtepi64_storeu_epi8((int8_t *)rq->out + i, m, r);
	else if (rq->out_bits == 16)
		_mm512_mask_cvtepi64_storeu_epi16((int16_t *)rq->out + i, m, r);
	else
		_mm512_mask_cvtepi64_storeu_epi32((int32_t *)rq->out + i, m, r);
}

/* 0 <= shift <= 32. */
static void requant_small_shift(const struct npu_fw_requant *rq)
{
	const __m512i mult = _mm512_set1_epi64(rq->mult), qmax = _mm512_set1_epi64(rq->qmax);
	/* Half the rounding step, and the hi * mult from which lanes saturate. */
	const __m512i half = _mm512_set1_epi64(rq->shift ? 1ll << (rq->shift - 1) : 0);
	const __m512i limit = _mm512_set1_epi64(rq->shift ? 1ll << (rq->shift - 1) : 1);
	const __m128i count = _mm_cvtsi32_si128(rq->shift), up = _mm_cvtsi32_si128(32 - rq->shift);
	uint32_t i;

	for (i = 0; i < rq->n; i += 8) {
		__mmask8 m = first8(rq->n - i);
		__m512i v = _mm512_maskz_loadu_epi64(m, rq->v + i);
		__m512i a = _mm512_abs_epi64(v);
		__m512i hi = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), mult);
		__m512i lo = _mm512_srl_epi64(_mm512_add_epi64(_mm512_mul_epu32(a, mult), half),
					      count);
		__m512i r = _mm512_add_epi64(_mm512_sll_epi64(hi, up), lo);

		r = _mm512_mask_mov_epi64(r, _mm512_cmpge_epu64_mask(hi, limit), qmax);
		requant_store(rq, i, m, v, r);
	}
}

int npu_requant_avx512(void *unused NPU_UNUSED, const struct npu_fw_requant *rq)
{
	const __m512i mult = _mm512_set1_epi64(rq->mult);
	__m512i half, bad = _mm512_setzero_si512();
	__m128i count;
	uint32_t i;

	if (rq->shift >= 0 && rq->shift <= 32) {
		requant_small_shift(rq);
		return 0;
	}
	if (rq->shift < 33 || rq->shift > 94)
		return 1;
	half = _mm512_set1_epi64(1ll << (rq->shift - 33));
	count = _mm_cvtsi32_si128(rq->shift - 32);
	for (i = 0; i < rq->n; i += 8) {
		__mmask8 m = first8(rq->n - i);
		__m512i v = _mm512_maskz_loadu_epi64(m, rq->v + i);
		__m512i a = _mm512_abs_epi64(v);
		__m512i hi = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), mult);
		__m512i lo = _mm512_srli_epi64(_mm512_mul_epu32(a, mult), 32);

		/* |INT64_MIN| is itself: negative after abs. */
		bad = _mm512_or_si512(bad, a);
		requant_store(rq, i, m, v,
			      _mm512_srl_epi64(_mm512_add_epi64(_mm512_add_epi64(hi, lo), half),
					       count));
	}
	return _mm512_cmplt_epi64_mask(bad, _mm512_setzero_si512()) ? 1 : 0;
}

/*
 * ATTENTION's rescaling (struct npu_fw_rescale): the output stage's two
 * cases above, with each lane's own shift, and |v| taken as unsigned, so
 * that |INT64_MIN| = 2^63 is exact too. Where the shift is 0..32 a
 * product past 2^63 - 1 saturates, as in fw_requant(); past 94 every
 * result rounds to 0 (|v| * mult < 2^94). Negative shifts go back to the
 * firmware, found before anything is written.
 */
int npu_rescale_begin_avx512(const struct npu_fw_rescale *r)
{
	uint32_t j;

	for (j = 0; j < r->len; j++)
		if (r->s[j].shift < 0 || r->s[j].mult < 1)
			return 1;
	return 0;
}

void npu_rescale_rows_avx512(const struct npu_fw_rescale *r, uint32_t h0, uint32_t h1)
{
	const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi64(1);
	const __m512i c32 = _mm512_set1_epi64(32), c94 = _mm512_set1_epi64(94);
	const __m512i lo = _mm512_set1_epi64(r->lo), hi = _mm512_set1_epi64(r->hi);
	const __m512i smax = _mm512_set1_epi64(INT64_MAX), smin = _mm512_set1_epi64(INT64_MIN);
	uint32_t h, j;

	for (h = h0; h < h1; h++) {
		__s64 *t = r->t + h * r->t_stride;

		for (j = 0; j < r->len; j += 8) {
			__mmask8 m = first8(r->len - j);
			/* Lane i: s[j + i].mult in the low 32 bits, .shift in the high. */
			__m512i sc = _mm512_maskz_loadu_epi64(m, r->s + j);
			__m512i sh = _mm512_srai_epi64(sc, 32);
			__mmask8 small = _mm512_cmple_epi64_mask(sh, c32);
			__mmask8 big = _mm512_mask_cmple_epi64_mask((__mmask8)~small, sh, c94);
			__m512i v = _mm512_maskz_loadu_epi64(m, t + j);
			__m512i a = _mm512_abs_epi64(v);
			__m512i ah = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), sc);
			__m512i al = _mm512_mul_epu32(a, sc);
			/* Shift 0..32: (ah << (32 - shift)) + ((al + half) >> shift). */
			__m512i rs = _mm512_add_epi64(
				_mm512_sllv_epi64(ah, _mm512_sub_epi64(c32, sh)),
				_mm512_srlv_epi64(_mm512_add_epi64(al, _mm512_sllv_epi64(
					one, _mm512_sub_epi64(sh, one))), sh));
			/* 33..94: (ah + (al >> 32) + 2^(shift - 33)) >> (shift - 32). */
			__m512i rb = _mm512_srlv_epi64(
				_mm512_add_epi64(_mm512_add_epi64(ah, _mm512_srli_epi64(al, 32)),
						 _mm512_sllv_epi64(one, _mm512_sub_epi64(sh, _mm512_set1_epi64(33)))),
				_mm512_sub_epi64(sh, c32));
			/* Saturated: ah >= 2^(31 + shift), or the sum past 2^63 - 1. */
			__m512i over = _mm512_srlv_epi64(ah, _mm512_add_epi64(sh, _mm512_set1_epi64(31)));
			__mmask8 sat = small & (_mm512_test_epi64_mask(over, over) |
						_mm512_cmplt_epi64_mask(rs, zero));
			__mmask8 neg = _mm512_cmplt_epi64_mask(v, zero);
			__m512i res = _mm512_mask_mov_epi64(_mm512_maskz_mov_epi64(small, rs), big, rb);

			res = _mm512_mask_sub_epi64(res, neg, zero, res);
			res = _mm512_mask_mov_epi64(res, sat & (__mmask8)~neg, smax);
			res = _mm512_mask_mov_epi64(res, sat & neg, smin);
			_mm512_mask_storeu_epi64(t + j, m, _mm512_min_epi64(_mm512_max_epi64(res, lo), hi));
		}
	}
}

int npu_rescale_avx512(void *unused NPU_UNUSED, const struct npu_fw_rescale *r)
{
	if (npu_rescale_begin_avx512(r))
		return 1;
	npu_rescale_rows_avx512(r, 0, r->n_heads);
	return 0;
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
