/* SPDX-License-Identifier: MIT */
/* Masks of the first @left lanes (all of them from the lane count up), for the AVX-512 kernels. */
#ifndef LIBNPU_MASK_AVX512_H
#define LIBNPU_MASK_AVX512_H

#include <immintrin.h>
#include <stdint.h>

static inline __mmask64 first64(uint32_t left)
{
	return left >= 64 ? ~0ull : _cvtu64_mask64((~0ull) >> (64 - left));
}

static inline __mmask32 first32(uint32_t left)
{
	return left >= 32 ? 0xffffffffu : (__mmask32)((1u << left) - 1);
}

static inline __mmask16 first16(uint32_t left)
{
	return left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
}

static inline __mmask8 first8(uint32_t left)
{
	return left >= 8 ? 0xff : (__mmask8)((1u << left) - 1);
}

#endif
