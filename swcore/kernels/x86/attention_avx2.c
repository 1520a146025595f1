// SPDX-License-Identifier: MIT
/*
 * ATTENTION's sums (struct npu_fw_attention) in AVX2, exact like the
 * firmware's 64-bit loops and as attention_avx512.c: SCORES multiplies
 * 16-bit values in vpmaddwd (what vpdpwssd adds, pairs of products summed
 * in int32, here exact over a bounded number of elements); VALUES
 * multiplies int32 weights by 16-bit values in 64-bit lanes (vpmuldq).
 */
#include <string.h>

#include "x86.h"
#include "int64_avx2.h"

/*
 * Query elements summed in int32 at a time: a product is at most 2^22 in
 * magnitude (a 16-bit key times 8 bits of the query, or an 8-bit key times
 * a 16-bit query) and 255 * 2^15 for a low byte, so 256 of them fit.
 */
#define SCORES_PART 256

/* Lane i of the result: the sum of @v[i]'s eight int32 lanes. */
static inline __m256i sum8(const __m256i *v)
{
	__m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
	__m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));

	/* a: sums of v[0..3]'s low halves, then of their high halves; b likewise. */
	return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20),
				_mm256_permute2x128_si256(a, b, 0x31));
}

/* 16 signed elements of a cache row from @d as int16, zero from @end on. */
static inline __m256i load_k16(const uint8_t *row, uint32_t bits, uint32_t d, uint32_t end)
{
	int16_t part[16];

	if (end - d >= 16) {
		if (bits == 8)
			return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(row + d)));
		return _mm256_loadu_si256((const __m256i *)((const int16_t *)row + d));
	}
	memset(part, 0, sizeof(part));
	if (bits == 8) {
		uint32_t i;

		for (i = 0; i < end - d; i++)
			part[i] = (int8_t)row[d + i];
	} else {
		memcpy(part, (const int16_t *)row + d, (end - d) * 2);
	}
	return _mm256_loadu_si256((const __m256i *)part);
}

/*
 * One block of SCORES: query elements @p0..@p1 of a head (@qa, @qb from
 * element p0, zero past p1) against the rows @row of its KV head, added
 * to the head's scores @t (@add) or stored there. With 16-bit keys
 * (@split) each query element q enters as its high part q >> 8 (@qa) and
 * its low byte (@qb), and a block is 4 rows: vector r sums row r's high
 * products, vector 4 + r its low ones. With 8-bit keys @qa is q and a
 * block is 8 rows. @n rows are real; the others repeat the last and are
 * not stored.
 */
static inline __attribute__((always_inline)) void
scores_block(const uint8_t *const *row, uint32_t n, const int16_t *qa, const int16_t *qb,
	     uint32_t p0, uint32_t p1, __s64 *t, int add, const int split)
{
	const uint32_t rows = split ? 4 : 8;
	const uint32_t n_hi = n > 4 ? n - 4 : 0;
	__m256i s[8], r, lo, hi;
	uint32_t d, i;

#pragma GCC unroll 8
	for (i = 0; i < 8; i++)
		s[i] = _mm256_setzero_si256();
	for (d = p0; d < p1; d += 16) {
		__m256i qva = _mm256_load_si256((const __m256i *)(qa + d - p0));
		__m256i qvb = split ? _mm256_load_si256((const __m256i *)(qb + d - p0)) : qva;

#pragma GCC unroll 8
		for (i = 0; i < rows; i++) {
			__m256i kv = load_k16(row[i], split ? 16 : 8, d, p1);

			s[i] = _mm256_add_epi32(s[i], _mm256_madd_epi16(qva, kv));
			if (split)
				s[4 + i] = _mm256_add_epi32(s[4 + i], _mm256_madd_epi16(qvb, kv));
		}
	}
	r = sum8(s);
	lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(r));
	hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(r, 1));
	if (split) {
		lo = _mm256_add_epi64(_mm256_slli_epi64(lo, 8), hi);
		if (add)
			lo = _mm256_add_epi64(lo, load4_epi64(t, n));
		store4_epi64(t, n, lo);
		return;
	}
	if (add) {
		lo = _mm256_add_epi64(lo, load4_epi64(t, n));
		hi = _mm256_add_epi64(hi, load4_epi64(t + 4, n_hi));
	}
	store4_epi64(t, n, lo);
	store4_epi64(t + 4, n_hi, hi);
}

/* SCORES over cache rows j0..j1, head by head, SCORES_PART query elements at a time. */
static void scores_rows(const struct npu_fw_attention *a, uint32_t j0, uint32_t j1)
{
	const uint32_t hd = a->head_dim, kb = a->k_bits / 8;
	const int split = a->k_bits == 16;
	const uint32_t rows = split ? 4 : 8;
	int16_t qa[SCORES_PART] __attribute__((aligned(32)));
	int16_t qb[SCORES_PART] __attribute__((aligned(32)));
	const uint8_t *row[8];
	uint32_t h, p0, p1, j, i, d;

	for (h = 0; h < a->n_heads; h++) {
		const uint8_t *kh = a->k + (uint64_t)(h / a->group) * hd * kb;
		const __s32 *q = a->q + (uint64_t)h * hd;
		__s64 *t = a->t + h * a->t_stride;

		for (p0 = 0; p0 < hd; p0 = p1) {
			p1 = hd - p0 > SCORES_PART ? p0 + SCORES_PART : hd;
			/* The part's query elements (16-bit), zero up to a whole 16. */
			for (d = p0; d < (p1 - p0 + 15) / 16 * 16 + p0; d++) {
				__s32 v = d < p1 ? q[d] : 0;

				qa[d - p0] = (int16_t)(split ? v >> 8 : v);
				qb[d - p0] = (int16_t)(v & 255);
			}
			for (j = j0; j < j1; j += rows) {
				uint32_t n = j1 - j < rows ? j1 - j : rows;

				for (i = 0; i < rows; i++)
					row[i] = kh + (uint64_t)(i < n ? j + i : j1 - 1) *
						      a->k_stride;
				if (split)
					scores_block(row, n, qa, qb, p0, p1, t + j, p0 > 0, 1);
				else
					scores_block(row, n, qa, qb, p0, p1, t + j, p0 > 0, 0);
			}
		}
	}
}

/* 4 signed elements of a cache row from @d as int64, the first @left of them. */
static inline __m256i load_kv4(const uint8_t *row, uint32_t bits, uint32_t d, uint32_t left)
{
	const uint8_t *p = row + (uint64_t)d * bits / 8;
	uint64_t w = 0;
	uint32_t w8;

	/* Whole loads of a constant size: the compiler's memcpy is then one move. */
	if (left >= 4 && bits == 8) {
		memcpy(&w8, p, 4);
		return _mm256_cvtepi8_epi64(_mm_cvtsi32_si128((int)w8));
	}
	if (left >= 4) {
		memcpy(&w, p, 8);
		return _mm256_cvtepi16_epi64(_mm_cvtsi64_si128((long long)w));
	}
	memcpy(&w, p, left * bits / 8);
	if (bits == 8)
		return _mm256_cvtepi8_epi64(_mm_cvtsi64_si128((long long)w));
	return _mm256_cvtepi16_epi64(_mm_cvtsi64_si128((long long)w));
}

/*
 * VALUES for @nb query heads from @h0 that share one KV head: each 4
 * elements of a cache row are widened once for all of them.
 */
static inline __attribute__((always_inline)) void
values_heads(const struct npu_fw_attention *a, uint32_t h0, const int nb, uint32_t j0,
	     uint32_t j1, __s64 *acc)
{
	const uint32_t hd = a->head_dim;
	const uint8_t *v = a->v + (uint64_t)(h0 / a->group) * hd * (a->v_bits / 8);
	const __s64 *t = a->t + h0 * a->t_stride;
	__s64 *out = acc + (uint64_t)h0 * hd;
	__m256i sum[8];
	uint32_t d, j;
	int i;

	for (d = 0; d < hd; d += 4) {
		uint32_t left = hd - d;

#pragma GCC unroll 8
		for (i = 0; i < nb; i++)
			sum[i] = load4_epi64(out + i * hd + d, left);
		for (j = j0; j < j1; j++) {
			__m256i x = load_kv4(v + j * a->v_stride, a->v_bits, d, left);

#pragma GCC unroll 8
			for (i = 0; i < nb; i++)
				sum[i] = _mm256_add_epi64(sum[i], _mm256_mul_epi32(
					_mm256_set1_epi64x(t[i * a->t_stride + j]), x));
		}
#pragma GCC unroll 8
		for (i = 0; i < nb; i++)
			store4_epi64(out + i * hd + d, left, sum[i]);
	}
}

/* As npu_attention_rows_avx512. */
void npu_attention_rows_avx2(const struct npu_fw_attention *a, uint32_t j0, uint32_t j1,
			     __s64 *acc)
{
	uint32_t h, left;

	if (a->step == NPU_FW_ATTN_SCORES) {
		scores_rows(a, j0, j1);
		return;
	}
	/* Heads of one KV head together, up to 8 at a time. */
	for (h = 0; h < a->n_heads; h += left) {
		left = a->group - h % a->group;
		if (left >= 8) {
			left = 8;
			values_heads(a, h, 8, j0, j1, acc);
		} else if (left >= 4) {
			left = 4;
			values_heads(a, h, 4, j0, j1, acc);
		} else if (left >= 2) {
			left = 2;
			values_heads(a, h, 2, j0, j1, acc);
		} else {
			values_heads(a, h, 1, j0, j1, acc);
		}
	}
}

int npu_attention_avx2(void *unused NPU_UNUSED, const struct npu_fw_attention *a)
{
	if (npu_attention_begin(a))
		return 1;
	npu_attention_rows_avx2(a, 0, a->len, a->acc);
	return 0;
}
