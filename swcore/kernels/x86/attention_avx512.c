// SPDX-License-Identifier: MIT
/*
 * ATTENTION's sums (struct npu_fw_attention) in AVX-512, exact like the
 * firmware's 64-bit loops. SCORES multiplies 16-bit values in vpdpwssd,
 * whose int32 sums stay exact over a bounded number of elements; VALUES
 * multiplies int32 weights by 16-bit values in 64-bit lanes (vpmuldq).
 */
#include <immintrin.h>
#include <string.h>

#include "x86.h"
#include "mask_avx512.h"

/*
 * Query elements summed in int32 at a time: a product is at most 2^22 in
 * magnitude (a 16-bit key times 8 bits of the query, or an 8-bit key times
 * a 16-bit query) and 255 * 2^15 for a low byte, so 256 of them fit.
 */
#define SCORES_PART 256

/* Lane i of the result: the sum of @v[i]'s sixteen int32 lanes. */
static inline __m512i sum16(const __m512i *v)
{
	__m512i s[8], u[4], x0, x1;
	int i;

	/* Pairs of vectors, then pairs of pairs, within each 128-bit lane... */
#pragma GCC unroll 8
	for (i = 0; i < 8; i++)
		s[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]),
					_mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]));
#pragma GCC unroll 4
	for (i = 0; i < 4; i++)
		u[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(s[2 * i], s[2 * i + 1]),
					_mm512_unpackhi_epi64(s[2 * i], s[2 * i + 1]));
	/* ...then across the four 128-bit lanes: u[i]'s vectors end in lane i. */
	x0 = _mm512_add_epi32(_mm512_shuffle_i32x4(u[0], u[1], 0x88),
			      _mm512_shuffle_i32x4(u[0], u[1], 0xdd));
	x1 = _mm512_add_epi32(_mm512_shuffle_i32x4(u[2], u[3], 0x88),
			      _mm512_shuffle_i32x4(u[2], u[3], 0xdd));
	return _mm512_add_epi32(_mm512_shuffle_i32x4(x0, x1, 0x88),
				_mm512_shuffle_i32x4(x0, x1, 0xdd));
}

/* 32 signed elements of a cache row from @d as int16, zero from @end on. */
static inline __m512i load_k32(const uint8_t *row, uint32_t bits, uint32_t d, uint32_t end)
{
	__mmask32 m = first32(end - d);

	if (bits == 8)
		return _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, row + d));
	return _mm512_maskz_loadu_epi16(m, (const int16_t *)row + d);
}

/* 8 signed elements of a cache row as int64, masked. */
static inline __m512i load_kv8(const uint8_t *row, uint32_t bits, uint32_t d, __mmask8 m)
{
	if (bits == 8)
		return _mm512_cvtepi8_epi64(_mm_maskz_loadu_epi8(m, row + d));
	return _mm512_cvtepi16_epi64(_mm_maskz_loadu_epi16(m, (const int16_t *)row + d));
}

/*
 * One block of SCORES: query elements @p0..@p1 of a head (@qa, @qb from
 * element p0, zero past p1) against the rows @row of its KV head, added
 * to the head's scores @t (@add) or stored there. With 16-bit keys
 * (@split) each query element q enters as its high part q >> 8 (@qa) and
 * its low byte (@qb), and a block is 8 rows: vector r sums row r's high
 * products, vector 8 + r its low ones. With 8-bit keys @qa is q and a
 * block is 16 rows. @n rows are real; the others repeat the last and are not
 * stored.
 */
static inline __attribute__((always_inline)) void
scores_block(const uint8_t *const *row, uint32_t n, const int16_t *qa, const int16_t *qb,
	     uint32_t p0, uint32_t p1, __s64 *t, int add, const int split)
{
	const uint32_t rows = split ? 8 : 16;
	__m512i s[16], r, lo, hi;
	uint32_t d, i;

	/* Unrolled, so that every sum stays in a register. */
#pragma GCC unroll 16
	for (i = 0; i < 16; i++)
		s[i] = _mm512_setzero_si512();
	for (d = p0; d < p1; d += 32) {
		__m512i qva = _mm512_load_si512(qa + d - p0);
		__m512i qvb = split ? _mm512_load_si512(qb + d - p0) : qva;

#pragma GCC unroll 16
		for (i = 0; i < rows; i++) {
			/* Split exactly when the keys are 16-bit: a constant here. */
			__m512i kv = load_k32(row[i], split ? 16 : 8, d, p1);

			s[i] = _mm512_dpwssd_epi32(s[i], qva, kv);
			if (split)
				s[8 + i] = _mm512_dpwssd_epi32(s[8 + i], qvb, kv);
		}
	}
	r = sum16(s);
	lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(r));
	hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(r, 1));
	if (split) {
		lo = _mm512_add_epi64(_mm512_slli_epi64(lo, 8), hi);
		if (add)
			lo = _mm512_add_epi64(lo, _mm512_maskz_loadu_epi64(first8(n), t));
		_mm512_mask_storeu_epi64(t, first8(n), lo);
		return;
	}
	if (add) {
		lo = _mm512_add_epi64(lo, _mm512_maskz_loadu_epi64(first8(n), t));
		hi = _mm512_add_epi64(hi, _mm512_maskz_loadu_epi64(first8(n > 8 ? n - 8 : 0),
								   t + 8));
	}
	_mm512_mask_storeu_epi64(t, first8(n), lo);
	_mm512_mask_storeu_epi64(t + 8, first8(n > 8 ? n - 8 : 0), hi);
}

/* SCORES over cache rows j0..j1, head by head, SCORES_PART query elements at a time. */
static void scores_rows(const struct npu_fw_attention *a, uint32_t j0, uint32_t j1)
{
	const uint32_t hd = a->head_dim, kb = a->k_bits / 8;
	const int split = a->k_bits == 16;
	const uint32_t rows = split ? 8 : 16;
	int16_t qa[SCORES_PART] __attribute__((aligned(64)));
	int16_t qb[SCORES_PART] __attribute__((aligned(64)));
	const uint8_t *row[16];
	uint32_t h, p0, p1, j, i, d;

	for (h = 0; h < a->n_heads; h++) {
		const uint8_t *kh = a->k + (uint64_t)(h / a->group) * hd * kb;
		const __s32 *q = a->q + (uint64_t)h * hd;
		__s64 *t = a->t + h * a->t_stride;

		for (p0 = 0; p0 < hd; p0 = p1) {
			p1 = hd - p0 > SCORES_PART ? p0 + SCORES_PART : hd;
			/* The part's query elements, zero up to a whole 32. */
			for (d = p0; d < p1; d += 16) {
				__m512i v = _mm512_maskz_loadu_epi32(first16(p1 - d), q + d);
				__m512i low = _mm512_and_si512(v, _mm512_set1_epi32(255));

				_mm256_store_si256((__m256i *)(qa + d - p0), _mm512_cvtepi32_epi16(
					split ? _mm512_srai_epi32(v, 8) : v));
				if (split)
					_mm256_store_si256((__m256i *)(qb + d - p0),
							   _mm512_cvtepi32_epi16(low));
			}
			if ((d - p0) % 32) {
				__m256i zero = _mm256_setzero_si256();

				_mm256_store_si256((__m256i *)(qa + d - p0), zero);
				_mm256_store_si256((__m256i *)(qb + d - p0), zero);
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

/*
 * VALUES for @nb query heads from @h0 that share one KV head: each 8
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
	__m512i sum[8];
	uint32_t d, j;
	int i;

	for (d = 0; d < hd; d += 8) {
		__mmask8 m = first8(hd - d);

		/* Unrolled, so that every sum stays in a register. */
#pragma GCC unroll 8
		for (i = 0; i < nb; i++)
			sum[i] = _mm512_maskz_loadu_epi64(m, out + i * hd + d);
		for (j = j0; j < j1; j++) {
			__m512i x = load_kv8(v + j * a->v_stride, a->v_bits, d, m);

#pragma GCC unroll 8
			for (i = 0; i < nb; i++)
				sum[i] = _mm512_add_epi64(sum[i], _mm512_mul_epi32(
					_mm512_set1_epi64(t[i * a->t_stride + j]), x));
		}
#pragma GCC unroll 8
		for (i = 0; i < nb; i++)
			_mm512_mask_storeu_epi64(out + i * hd + d, m, sum[i]);
	}
}

/*
 * ATTENTION's sums over cache rows j0..j1. SCORES stores t[h][j] of those
 * rows; VALUES adds their weighted values into @acc ([n_heads][head_dim]),
 * its weights fitting int32 (npu_attention_begin_avx512).
 */
void npu_attention_rows_avx512(const struct npu_fw_attention *a, uint32_t j0, uint32_t j1,
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

/* Whether each of @n int32 values fits 16 bits. */
static int fit16(const __s32 *v, uint64_t n)
{
	__mmask16 bad = 0;
	uint64_t i;

	for (i = 0; i < n; i += 16) {
		__mmask16 m = first16(n - i > 16 ? 16 : (uint32_t)(n - i));
		__m512i x = _mm512_maskz_loadu_epi32(m, v + i);

		bad |= _mm512_mask_cmpneq_epi32_mask(m, x, _mm512_srai_epi32(
			_mm512_slli_epi32(x, 16), 16));
	}
	return !bad;
}

/* Whether each of @n int64 values fits 32 bits. */
static int fit32(const __s64 *v, uint32_t n)
{
	__mmask8 bad = 0;
	uint32_t i;

	for (i = 0; i < n; i += 8) {
		__mmask8 m = first8(n - i);
		__m512i x = _mm512_maskz_loadu_epi64(m, v + i);

		bad |= _mm512_mask_cmpneq_epi64_mask(m, x, _mm512_cvtepi32_epi64(
			_mm512_cvtepi64_epi32(x)));
	}
	return !bad;
}

/*
 * Before a step's sums. SCORES needs 16-bit query values (an I8 or I16
 * tensor's, as the firmware gives). VALUES' weights must fit int32 for
 * vpmuldq, which they do (softmax in Q30 times a ratio <= 1), and its
 * sums start from zero in a->acc. Anything else goes back to the firmware.
 */
int npu_attention_begin_avx512(const struct npu_fw_attention *a)
{
	uint64_t n = (uint64_t)a->n_heads * a->head_dim;
	uint32_t h;

	if (a->step == NPU_FW_ATTN_SCORES)
		return !fit16(a->q, n);
	for (h = 0; h < a->n_heads; h++)
		if (!fit32(a->t + h * a->t_stride, a->len))
			return 1;
	memset(a->acc, 0, n * sizeof(*a->acc));
	return 0;
}

int npu_attention_avx512(void *unused NPU_UNUSED, const struct npu_fw_attention *a)
{
	if (npu_attention_begin_avx512(a))
		return 1;
	npu_attention_rows_avx512(a, 0, a->len, a->acc);
	return 0;
}
