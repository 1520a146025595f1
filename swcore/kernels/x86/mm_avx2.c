// SPDX-License-Identifier: MIT
/*
 * AVX2 sums: bytes widened to int16 and multiplied pairwise into int32
 * (vpmaddwd), exact for int8 and int4 weights. With int16 activations the
 * int32 lanes are folded into int64 every 256 columns.
 */
#include <immintrin.h>

#include "x86.h"

static inline int64_t hsum(__m256i v)
{
	__m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(v));
	__m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1));
	__m256i s = _mm256_add_epi64(lo, hi);
	__m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));

	return _mm_cvtsi128_si64(t) + _mm_extract_epi64(t, 1);
}

/* 16 activations as int16, from int8 or int16. */
static inline __m256i load_x(const void *x, uint32_t bits, uint32_t c)
{
	if (bits == 8)
		return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)((const int8_t *)x + c)));
	return _mm256_loadu_si256((const __m256i *)((const int16_t *)x + c));
}

static inline int32_t x_at(const void *x, uint32_t bits, uint32_t c)
{
	return bits == 8 ? ((const int8_t *)x)[c] : ((const int16_t *)x)[c];
}

static int64_t dot_w8(const void *x, uint32_t bits, const int8_t *w, uint32_t len)
{
	int64_t total = 0;
	uint32_t c0, c;

	for (c0 = 0; c0 + 16 <= len; c0 += 256) {
		uint32_t end = len - c0 < 256 ? len : c0 + 256;
		__m256i acc = _mm256_setzero_si256();

		for (c = c0; c + 16 <= end; c += 16) {
			__m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + c)));

			acc = _mm256_add_epi32(acc, _mm256_madd_epi16(load_x(x, bits, c), wv));
		}
		total += hsum(acc);
	}
	for (c = len - len % 16; c < len; c++)
		total += (int64_t)x_at(x, bits, c) * w[c];
	return total;
}

static int64_t dot_w4(const void *x, uint32_t bits, const uint8_t *w, uint32_t len)
{
	const __m128i lo4 = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
	int64_t total = 0;
	uint32_t c0, c;

	for (c0 = 0; c0 + 32 <= len; c0 += 256) {
		uint32_t end = len - c0 < 256 ? len : c0 + 256;
		__m256i acc = _mm256_setzero_si256();

		for (c = c0; c + 32 <= end; c += 32) {
			__m128i b = _mm_loadu_si128((const __m128i *)(w + c / 2));
			/* A nibble n is the signed value (n ^ 8) - 8; low nibble first. */
			__m128i lo = _mm_sub_epi8(_mm_xor_si128(_mm_and_si128(b, lo4), eight), eight);
			__m128i hi = _mm_sub_epi8(_mm_xor_si128(
				_mm_and_si128(_mm_srli_epi16(b, 4), lo4), eight), eight);
			__m256i w0 = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(lo, hi));
			__m256i w1 = _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(lo, hi));

			acc = _mm256_add_epi32(acc, _mm256_madd_epi16(load_x(x, bits, c), w0));
			acc = _mm256_add_epi32(acc, _mm256_madd_epi16(load_x(x, bits, c + 16), w1));
		}
		total += hsum(acc);
	}
	for (c = len - len % 32; c < len; c += 2) {
		int8_t lo = (int8_t)(w[c / 2] << 4) >> 4, hi = (int8_t)w[c / 2] >> 4;

		total += (int64_t)x_at(x, bits, c) * lo + (int64_t)x_at(x, bits, c + 1) * hi;
	}
	return total;
}

void npu_mm_avx2(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p, uint32_t n0,
		 uint32_t n1)
{
	uint32_t gpr = mm->groups_per_row, g = mm->k / gpr, n, r, j;
	uint32_t eb = mm->x_bits / 8;

	(void)p;
	for (n = n0; n < n1; n++) {
		const uint8_t *wr = mm->w + (uint64_t)n * mm->w_stride;
		const uint16_t *f = mm->factors + (uint64_t)n * gpr;

		for (r = 0; r < mm->rows; r++) {
			const uint8_t *xr = (const uint8_t *)mm->x + r * mm->x_stride;
			int64_t acc = 0;

			for (j = 0; j < gpr; j++) {
				uint64_t c = (uint64_t)j * g;
				int64_t d = mm->w_bits == 8 ?
					dot_w8(xr + c * eb, mm->x_bits, (const int8_t *)wr + c, g) :
					dot_w4(xr + c * eb, mm->x_bits, wr + c / 2, g);

				acc += d * f[j];
			}
			mm->v[(uint64_t)r * mm->n + n] = acc;
		}
	}
}
