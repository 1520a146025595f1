/* SPDX-License-Identifier: MIT */
/* What the AVX-512 int4 x int8 row kernels share (the ABI layout's and the packed tiles'). */
#ifndef LIBNPU_S4_AVX512_H
#define LIBNPU_S4_AVX512_H

#include <immintrin.h>
#include <stdint.h>

/*
 * The 64 bytes at @p in a register. A step uses its weights twice, and
 * the compiler would fold the load into each use: as many loads from L1,
 * where the loads beside the weights' own are what holds a thread's
 * stream under the memory's bandwidth (docs/performance.md).
 */
static inline __m512i load_once(const void *p)
{
	__m512i v = _mm512_loadu_si512(p);

	__asm__("" : "+v"(v));
	return v;
}

/* @acc's eight int64 lanes plus the sixteen int32 lanes of @s. */
static inline __m512i widen_add(__m512i acc, __m512i s)
{
	acc = _mm512_add_epi64(acc, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(s)));
	return _mm512_add_epi64(acc, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(s, 1)));
}

#endif
