// SPDX-License-Identifier: MIT
/*
 * The output stage in AVX2 lanes, as requant_avx512.c (whose comments
 * give why each case is exact) four int64 at a time: every op's
 * requantization, and ATTENTION's rescaling with a shift per lane. The
 * same integers as the firmware's fw_requant(), and the same refusals.
 */
#include <string.h>

#include "x86.h"
#include "int64_avx2.h"

/* Lanes 0..3 (each within the output's range) at @rq->out + i, @left of them. */
static inline void requant_store(const struct npu_fw_requant *rq, uint32_t i, uint32_t left,
				 __m256i v, __m256i r)
{
	const __m256i qmax = _mm256_set1_epi64x(rq->qmax);
	__m128i w;

	r = negate_where(r, neg_mask(v));
	r = min64(max64(r, _mm256_sub_epi64(_mm256_setzero_si256(), qmax)), qmax);
	w = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(r, _mm256_setr_epi32(0, 2, 4, 6,
										   0, 0, 0, 0)));
	left = left > 4 ? 4 : left;
	if (rq->out_bits == 8) {
		w = _mm_packs_epi16(_mm_packs_epi32(w, w), w);
		if (left == 4)
			_mm_storeu_si32((int8_t *)rq->out + i, w);
		else
			memcpy((int8_t *)rq->out + i, &w, left);
	} else if (rq->out_bits == 16) {
		w = _mm_packs_epi32(w, w);
		if (left == 4)
			_mm_storeu_si64((int16_t *)rq->out + i, w);
		else
			memcpy((int16_t *)rq->out + i, &w, left * 2);
	} else if (left == 4) {
		_mm_storeu_si128((__m128i *)((int32_t *)rq->out + i), w);
	} else {
		_mm_maskstore_epi32((int *)rq->out + i, first4x32(left), w);
	}
}

/* 0 <= shift <= 32. */
static void requant_small_shift(const struct npu_fw_requant *rq)
{
	const __m256i mult = _mm256_set1_epi64x(rq->mult), qmax = _mm256_set1_epi64x(rq->qmax);
	/* Half the rounding step, and the hi * mult from which lanes saturate (less one). */
	const __m256i half = _mm256_set1_epi64x(rq->shift ? 1ll << (rq->shift - 1) : 0);
	const __m256i limit = _mm256_set1_epi64x((rq->shift ? 1ll << (rq->shift - 1) : 1) - 1);
	const __m128i count = _mm_cvtsi32_si128(rq->shift), up = _mm_cvtsi32_si128(32 - rq->shift);
	uint32_t i;

	for (i = 0; i < rq->n; i += 4) {
		__m256i v = load4_epi64(rq->v + i, rq->n - i);
		__m256i a = abs64(v);
		/* hi < 2^62: a signed compare suffices. */
		__m256i hi = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), mult);
		__m256i lo = _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epu32(a, mult), half),
					      count);
		__m256i r = _mm256_add_epi64(_mm256_sll_epi64(hi, up), lo);

		r = _mm256_blendv_epi8(r, qmax, _mm256_cmpgt_epi64(hi, limit));
		requant_store(rq, i, rq->n - i, v, r);
	}
}

int npu_requant_avx2(void *unused NPU_UNUSED, const struct npu_fw_requant *rq)
{
	const __m256i mult = _mm256_set1_epi64x(rq->mult);
	__m256i half, bad = _mm256_setzero_si256();
	__m128i count;
	uint32_t i;

	if (rq->shift >= 0 && rq->shift <= 32) {
		requant_small_shift(rq);
		return 0;
	}
	if (rq->shift < 33 || rq->shift > 94)
		return 1;
	half = _mm256_set1_epi64x(1ll << (rq->shift - 33));
	count = _mm_cvtsi32_si128(rq->shift - 32);
	for (i = 0; i < rq->n; i += 4) {
		__m256i v = load4_epi64(rq->v + i, rq->n - i);
		__m256i a = abs64(v);
		__m256i hi = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), mult);
		__m256i lo = _mm256_srli_epi64(_mm256_mul_epu32(a, mult), 32);

		/* |INT64_MIN| is itself: negative after abs. */
		bad = _mm256_or_si256(bad, a);
		requant_store(rq, i, rq->n - i, v,
			      _mm256_srl_epi64(_mm256_add_epi64(_mm256_add_epi64(hi, lo), half),
					       count));
	}
	return _mm256_movemask_pd(_mm256_castsi256_pd(bad)) ? 1 : 0;
}

/*
 * As npu_rescale_begin_avx512 (not called: built for AVX-512, it may use
 * it): negative shifts, and multipliers below 1, go back to the firmware.
 */
int npu_rescale_begin_avx2(const struct npu_fw_rescale *r)
{
	uint32_t j;

	for (j = 0; j < r->len; j++)
		if (r->s[j].shift < 0 || r->s[j].mult < 1)
			return 1;
	return 0;
}

void npu_rescale_rows_avx2(const struct npu_fw_rescale *r, uint32_t h0, uint32_t h1)
{
	const __m256i zero = _mm256_setzero_si256(), one = _mm256_set1_epi64x(1);
	const __m256i c32 = _mm256_set1_epi64x(32), c94 = _mm256_set1_epi64x(94);
	const __m256i lo = _mm256_set1_epi64x(r->lo), hi = _mm256_set1_epi64x(r->hi);
	const __m256i smax = _mm256_set1_epi64x(INT64_MAX), smin = _mm256_set1_epi64x(INT64_MIN);
	uint32_t h, j;

	for (h = h0; h < h1; h++) {
		__s64 *t = r->t + h * r->t_stride;

		for (j = 0; j < r->len; j += 4) {
			uint32_t left = r->len - j;
			/* Lane i: s[j + i].mult in the low 32 bits, .shift (>= 0) in the high. */
			__m256i sc = load4_epi64(r->s + j, left);
			__m256i sh = _mm256_srli_epi64(sc, 32);
			__m256i small = _mm256_xor_si256(_mm256_cmpgt_epi64(sh, c32),
							 _mm256_set1_epi64x(-1));
			__m256i big = _mm256_andnot_si256(_mm256_or_si256(small,
									  _mm256_cmpgt_epi64(sh, c94)),
							  _mm256_set1_epi64x(-1));
			__m256i v = load4_epi64(t + j, left);
			__m256i a = abs64(v);
			__m256i ah = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), sc);
			__m256i al = _mm256_mul_epu32(a, sc);
			/* Shift 0..32: (ah << (32 - shift)) + ((al + half) >> shift). */
			__m256i rs = _mm256_add_epi64(
				_mm256_sllv_epi64(ah, _mm256_sub_epi64(c32, sh)),
				_mm256_srlv_epi64(_mm256_add_epi64(al, _mm256_sllv_epi64(
					one, _mm256_sub_epi64(sh, one))), sh));
			/* 33..94: (ah + (al >> 32) + 2^(shift - 33)) >> (shift - 32). */
			__m256i rb = _mm256_srlv_epi64(
				_mm256_add_epi64(_mm256_add_epi64(ah, _mm256_srli_epi64(al, 32)),
						 _mm256_sllv_epi64(one, _mm256_sub_epi64(
							 sh, _mm256_set1_epi64x(33)))),
				_mm256_sub_epi64(sh, c32));
			/* Saturated: ah >= 2^(31 + shift), or the sum past 2^63 - 1. */
			__m256i over = _mm256_srlv_epi64(ah, _mm256_add_epi64(
				sh, _mm256_set1_epi64x(31)));
			__m256i sat = _mm256_and_si256(small, _mm256_or_si256(
				_mm256_xor_si256(_mm256_cmpeq_epi64(over, zero),
						 _mm256_set1_epi64x(-1)), neg_mask(rs)));
			__m256i neg = neg_mask(v);
			__m256i res = _mm256_or_si256(_mm256_and_si256(small, rs),
						      _mm256_and_si256(big, rb));

			res = negate_where(res, neg);
			res = _mm256_blendv_epi8(res, _mm256_blendv_epi8(smax, smin, neg), sat);
			store4_epi64(t + j, left, min64(max64(res, lo), hi));
		}
	}
}

int npu_rescale_avx2(void *unused NPU_UNUSED, const struct npu_fw_rescale *r)
{
	if (npu_rescale_begin_avx2(r))
		return 1;
	npu_rescale_rows_avx2(r, 0, r->n_heads);
	return 0;
}
