/* SPDX-License-Identifier: MIT */
/*
 * What the AVX2 kernels need of AVX-512's 64-bit lane operations, from
 * AVX2's: masks of the first lanes as vectors, |v|, signed and unsigned
 * compares, min and max, rounding shifts and the exact unsigned division
 * of udiv_avx512.h, four int64 lanes at a time; and the horizontal sums
 * and the int128 shift the matmul kernels share.
 */
#ifndef LIBNPU_INT64_AVX2_H
#define LIBNPU_INT64_AVX2_H

#include <immintrin.h>
#include <stdint.h>

/* All ones in the first @left of four 64-bit lanes (all from 4 up). */
static inline __m256i first4(uint32_t left)
{
	return _mm256_cmpgt_epi64(_mm256_set1_epi64x(left > 4 ? 4 : left),
				  _mm256_setr_epi64x(0, 1, 2, 3));
}

/* The same for four 32-bit lanes, for _mm_maskload_epi32. */
static inline __m128i first4x32(uint32_t left)
{
	return _mm_cmpgt_epi32(_mm_set1_epi32(left > 4 ? 4 : (int)left), _mm_setr_epi32(0, 1, 2, 3));
}

/*
 * Four int32 from @p (the first @left of them, the rest 0) as int64. The
 * masked moves only at a row's end: on AMD's cores they are slower than
 * whole ones, a masked store much slower.
 */
static inline __m256i load4_epi32(const int32_t *p, uint32_t left)
{
	if (left >= 4)
		return _mm256_cvtepi32_epi64(_mm_loadu_si128((const __m128i *)p));
	return _mm256_cvtepi32_epi64(_mm_maskload_epi32((const int *)p, first4x32(left)));
}

/* Four int64 at @p, the first @left of them, zero in the other lanes. */
static inline __m256i load4_epi64(const void *p, uint32_t left)
{
	if (left >= 4)
		return _mm256_loadu_si256((const __m256i *)p);
	return _mm256_maskload_epi64((const long long *)p, first4(left));
}

/* The first @left lanes of @v to @p. */
static inline void store4_epi64(void *p, uint32_t left, __m256i v)
{
	if (left >= 4)
		_mm256_storeu_si256((__m256i *)p, v);
	else
		_mm256_maskstore_epi64((long long *)p, first4(left), v);
}

static inline __m256i neg_mask(__m256i v)
{
	return _mm256_cmpgt_epi64(_mm256_setzero_si256(), v);
}

/* -v where @m, as vpsubq under a mask. */
static inline __m256i negate_where(__m256i v, __m256i m)
{
	return _mm256_sub_epi64(_mm256_xor_si256(v, m), m);
}

/* vpabsq: INT64_MIN stays itself, 2^63 when read unsigned. */
static inline __m256i abs64(__m256i v)
{
	return negate_where(v, neg_mask(v));
}

static inline __m256i min64(__m256i a, __m256i b)
{
	return _mm256_blendv_epi8(a, b, _mm256_cmpgt_epi64(a, b));
}

static inline __m256i max64(__m256i a, __m256i b)
{
	return _mm256_blendv_epi8(b, a, _mm256_cmpgt_epi64(a, b));
}

/* a > b, unsigned. */
static inline __m256i cmpgt_epu64(__m256i a, __m256i b)
{
	const __m256i sign = _mm256_set1_epi64x(INT64_MIN);

	return _mm256_cmpgt_epi64(_mm256_xor_si256(a, sign), _mm256_xor_si256(b, sign));
}

/* round(p * 2^-n), ties away from zero, 1 <= n <= 63, |p| < 2^63. */
static inline __m256i rshift_round4(__m256i p, __m256i n)
{
	__m256i half = _mm256_sllv_epi64(_mm256_set1_epi64x(1),
					 _mm256_sub_epi64(n, _mm256_set1_epi64x(1)));
	__m256i neg = neg_mask(p);

	return negate_where(_mm256_srlv_epi64(_mm256_add_epi64(negate_where(p, neg), half), n), neg);
}

/* Lanes 0..3 summed. */
static inline int64_t hsum4(__m256i v)
{
	__m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));

	return _mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1);
}

/* The int32 lane sums of 8 vectors, in order: lane i is @v[i]'s. */
static inline __m256i reduce8(__m256i a, __m256i b, __m256i c, __m256i d, __m256i e, __m256i f,
			      __m256i g, __m256i h)
{
	__m256i ab = _mm256_hadd_epi32(a, b), cd = _mm256_hadd_epi32(c, d);
	__m256i ef = _mm256_hadd_epi32(e, f), gh = _mm256_hadd_epi32(g, h);
	__m256i abcd = _mm256_hadd_epi32(ab, cd), efgh = _mm256_hadd_epi32(ef, gh);

	return _mm256_add_epi32(_mm256_permute2x128_si256(abcd, efgh, 0x20),
				_mm256_permute2x128_si256(abcd, efgh, 0x31));
}

/* @t * 2^@e (e < 64), exactly, in int128. */
static inline __int128_t shl128(int64_t t, uint32_t e)
{
	return (__int128_t)((__uint128_t)(__int128_t)t << e);
}

/* u64 to double, correctly rounded: its high and low halves exact, one rounding in the sum. */
static inline __m256d u64_to_pd(__m256i x)
{
	__m256i hi = _mm256_or_si256(_mm256_srli_epi64(x, 32),
				     _mm256_set1_epi64x(0x4530000000000000ll)); /* 2^84 + hi * 2^32 */
	__m256i lo = _mm256_blend_epi32(x, _mm256_set1_epi64x(0x4330000000000000ll), 0xaa);
	__m256d h = _mm256_sub_pd(_mm256_castsi256_pd(hi),
				  _mm256_set1_pd(19342813118337666422669312.0)); /* 2^84 + 2^52 */

	return _mm256_add_pd(h, _mm256_castsi256_pd(lo));
}

/*
 * udiv_avx512.h's exact division, for quotients under 2^31 (those of the
 * sigmoid and the softmax, at most 2^30 + 1): the double quotient, within
 * one, truncated in int32, then corrected on the remainder n - q * d
 * (q * d's low 64 bits from two 32-bit products, q < 2^32).
 */
static inline __m256i udiv4(__m256i n, __m256i d)
{
	__m256i q = _mm256_cvtepi32_epi64(_mm256_cvttpd_epi32(_mm256_div_pd(u64_to_pd(n),
									    u64_to_pd(d))));
	__m256i qd = _mm256_add_epi64(_mm256_mul_epu32(q, d),
				      _mm256_slli_epi64(_mm256_mul_epu32(q, _mm256_srli_epi64(d, 32)),
							32));
	__m256i r = _mm256_sub_epi64(n, qd);

	/* r < 0: one too many; r >= d: one too few (both compares signed: |r|, d < 2^62). */
	q = _mm256_add_epi64(q, neg_mask(r));
	return _mm256_sub_epi64(q, _mm256_xor_si256(_mm256_cmpgt_epi64(d, r),
						    _mm256_set1_epi64x(-1)));
}

#endif
