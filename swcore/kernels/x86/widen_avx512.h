/* SPDX-License-Identifier: MIT */
/*
 * The widening sums the AVX-512 matmul kernels share: int32 lanes into
 * int64, where lanes of many products could overflow int32.
 */
#ifndef LIBNPU_WIDEN_AVX512_H
#define LIBNPU_WIDEN_AVX512_H

#include <immintrin.h>
#include <stdint.h>

/* The sum of 16 int32 lanes, in 64 bits (lanes may each be near 2^27). */
static inline int64_t hsum(__m512i v)
{
	__m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v));
	__m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1));

	return _mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi));
}

/* @acc's eight int64 lanes plus the sixteen int32 lanes of @s. */
static inline __m512i widen_add(__m512i acc, __m512i s)
{
	acc = _mm512_add_epi64(acc, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(s)));
	return _mm512_add_epi64(acc, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(s, 1)));
}

#endif
