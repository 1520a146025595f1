/* SPDX-License-Identifier: MIT */
/*
 * Exact unsigned 64-bit division in AVX-512 lanes, for the quotients of
 * the firmware's sigmoid and softmax (n < 2^62, 1 <= d < 2^62, quotient
 * under 2^32): the double quotient is within one of the true one (the
 * operands round to 53 bits), and one step on the remainder corrects
 * it. Either correction is rare (some 300 of the sigmoid's 2^30
 * divisors need one), so tests/unit/test_kernels_ops.c checks this on known
 * cases rather than only through the ops.
 */
#ifndef LIBNPU_UDIV_AVX512_H
#define LIBNPU_UDIV_AVX512_H

#include <immintrin.h>

__attribute__((target("avx512f,avx512dq"))) static inline __m512i npu_udiv_avx512(__m512i n,
										   __m512i d)
{
	__m512i q = _mm512_cvttpd_epu64(_mm512_div_pd(_mm512_cvtepu64_pd(n), _mm512_cvtepu64_pd(d)));
	__m512i r = _mm512_sub_epi64(n, _mm512_mullo_epi64(q, d));
	__mmask8 low = _mm512_cmplt_epi64_mask(r, _mm512_setzero_si512());
	__mmask8 high = _mm512_cmpge_epi64_mask(r, d);

	q = _mm512_mask_sub_epi64(q, low, q, _mm512_set1_epi64(1));
	return _mm512_mask_add_epi64(q, high, q, _mm512_set1_epi64(1));
}

#endif
