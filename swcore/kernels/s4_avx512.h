/* SPDX-License-Identifier: MIT */
/* The widening sum both AVX-512 int4 x int8 row kernels use (ABI layout and packed tiles). */
#ifndef LIBNPU_S4_AVX512_H
#define LIBNPU_S4_AVX512_H

#include <immintrin.h>
#include <stdint.h>

/* @acc's eight int64 lanes plus the sixteen int32 lanes of @s. */
static inline __m512i widen_add(__m512i acc, __m512i s)
{
	acc = _mm512_add_epi64(acc, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(s)));
	return _mm512_add_epi64(acc, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(s, 1)));
}

#endif
