/* SPDX-License-Identifier: MIT */
/* The int4 x int8 step of the AVX-512 row kernels (ABI layout and packed tiles alike). */
#ifndef LIBNPU_S4_AVX512_H
#define LIBNPU_S4_AVX512_H

#include <immintrin.h>
#include <stdint.h>

/* Lane i's group within a 128-column step, for groups of 2^@lg columns: 8i >> lg. */
static inline __m512i s4_lane_group(uint32_t lg)
{
	const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
					       15);

	return _mm512_srlv_epi32(_mm512_slli_epi32(lane, 3), _mm512_set1_epi32((int)lg));
}

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

/*
 * One 128-element step of the int4 row kernels on 64 weight bytes @b,
 * each nibble n taken as n ^ 8 = w + 8, against x's even (@e) and odd
 * (@o) elements: lane i holds elements 8i..8i+7's sum, started at its
 * correction (@nsx: -8 * sum(x)), times its group's factor (@fv).
 * |sum| <= 8 * 8 * 128 and a factor <= 65535: a lane's product is under
 * 2^29, and four steps' sum fits int32.
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

/* @acc's eight int64 lanes plus the sixteen int32 lanes of @s. */
static inline __m512i widen_add(__m512i acc, __m512i s)
{
	acc = _mm512_add_epi64(acc, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(s)));
	return _mm512_add_epi64(acc, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(s, 1)));
}

#endif
