// SPDX-License-Identifier: MIT
/*
 * The output stage in AVX-512 lanes: every op's requantization, and
 * ATTENTION's rescaling with a shift per lane. Exact: the same integers as
 * the firmware's fw_requant().
 */
#include <immintrin.h>

#include "x86.h"
#include "mask_avx512.h"

/*
 * The output stage of every op (struct npu_fw_requant), 8 lanes of int64
 * at a time, exact without 128-bit products. With |v| = hi * 2^32 + lo,
 * both products hi * mult and lo * mult fit 64 bits, and:
 *
 * for 33 <= shift <= 94 and |v| < 2^63,
 *	round(|v| * mult / 2^shift) = (hi * mult + (lo * mult >> 32)
 *				       + 2^(shift - 33)) >> (shift - 32)
 * (the low 32 bits of lo * mult cannot carry the rounding over a multiple
 * of 2^(shift - 32));
 *
 * for 0 <= shift <= 32,
 *	round(|v| * mult / 2^shift) = (hi * mult << (32 - shift))
 *				      + ((lo * mult + half) >> shift)
 * with half = 2^(shift - 1) (0 for shift 0), which is past any qmax
 * (< 2^31) once hi * mult >= max(half, 1): those lanes saturate,
 * |INT64_MIN| = 2^63 among them.
 *
 * Other shifts, and v = INT64_MIN with a shift past 32, go back to the
 * firmware.
 */
static inline void requant_store(const struct npu_fw_requant *rq, uint32_t i, __mmask8 m,
				 __m512i v, __m512i r)
{
	const __m512i zero = _mm512_setzero_si512();

	r = _mm512_mask_sub_epi64(r, _mm512_cmplt_epi64_mask(v, zero), zero, r);
	r = _mm512_min_epi64(_mm512_max_epi64(r, _mm512_set1_epi64(-rq->qmax)),
			     _mm512_set1_epi64(rq->qmax));
	if (rq->out_bits == 8)
		_mm512_mask_cvtepi64_storeu_epi8((int8_t *)rq->out + i, m, r);
	else if (rq->out_bits == 16)
		_mm512_mask_cvtepi64_storeu_epi16((int16_t *)rq->out + i, m, r);
	else
		_mm512_mask_cvtepi64_storeu_epi32((int32_t *)rq->out + i, m, r);
}

/* 0 <= shift <= 32. */
static void requant_small_shift(const struct npu_fw_requant *rq)
{
	const __m512i mult = _mm512_set1_epi64(rq->mult), qmax = _mm512_set1_epi64(rq->qmax);
	/* Half the rounding step, and the hi * mult from which lanes saturate. */
	const __m512i half = _mm512_set1_epi64(rq->shift ? 1ll << (rq->shift - 1) : 0);
	const __m512i limit = _mm512_set1_epi64(rq->shift ? 1ll << (rq->shift - 1) : 1);
	const __m128i count = _mm_cvtsi32_si128(rq->shift), up = _mm_cvtsi32_si128(32 - rq->shift);
	uint32_t i;

	for (i = 0; i < rq->n; i += 8) {
		__mmask8 m = first8(rq->n - i);
		__m512i v = _mm512_maskz_loadu_epi64(m, rq->v + i);
		__m512i a = _mm512_abs_epi64(v);
		__m512i hi = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), mult);
		__m512i lo = _mm512_srl_epi64(_mm512_add_epi64(_mm512_mul_epu32(a, mult), half),
					      count);
		__m512i r = _mm512_add_epi64(_mm512_sll_epi64(hi, up), lo);

		r = _mm512_mask_mov_epi64(r, _mm512_cmpge_epu64_mask(hi, limit), qmax);
		requant_store(rq, i, m, v, r);
	}
}

int npu_requant_avx512(void *unused NPU_UNUSED, const struct npu_fw_requant *rq)
{
	const __m512i mult = _mm512_set1_epi64(rq->mult);
	__m512i half, bad = _mm512_setzero_si512();
	__m128i count;
	uint32_t i;

	if (rq->shift >= 0 && rq->shift <= 32) {
		requant_small_shift(rq);
		return 0;
	}
	if (rq->shift < 33 || rq->shift > 94)
		return 1;
	half = _mm512_set1_epi64(1ll << (rq->shift - 33));
	count = _mm_cvtsi32_si128(rq->shift - 32);
	for (i = 0; i < rq->n; i += 8) {
		__mmask8 m = first8(rq->n - i);
		__m512i v = _mm512_maskz_loadu_epi64(m, rq->v + i);
		__m512i a = _mm512_abs_epi64(v);
		__m512i hi = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), mult);
		__m512i lo = _mm512_srli_epi64(_mm512_mul_epu32(a, mult), 32);

		/* |INT64_MIN| is itself: negative after abs. */
		bad = _mm512_or_si512(bad, a);
		requant_store(rq, i, m, v,
			      _mm512_srl_epi64(_mm512_add_epi64(_mm512_add_epi64(hi, lo), half),
					       count));
	}
	return _mm512_cmplt_epi64_mask(bad, _mm512_setzero_si512()) ? 1 : 0;
}

/*
 * ATTENTION's rescaling (struct npu_fw_rescale): the output stage's two
 * cases above, with each lane's own shift, and |v| taken as unsigned, so
 * that |INT64_MIN| = 2^63 is exact too. Where the shift is 0..32 a
 * product past 2^63 - 1 saturates, as in fw_requant(); past 94 every
 * result rounds to 0 (|v| * mult < 2^94). Negative shifts go back to the
 * firmware, found before anything is written.
 */
int npu_rescale_begin_avx512(const struct npu_fw_rescale *r)
{
	uint32_t j;

	for (j = 0; j < r->len; j++)
		if (r->s[j].shift < 0 || r->s[j].mult < 1)
			return 1;
	return 0;
}

void npu_rescale_rows_avx512(const struct npu_fw_rescale *r, uint32_t h0, uint32_t h1)
{
	const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi64(1);
	const __m512i c32 = _mm512_set1_epi64(32), c94 = _mm512_set1_epi64(94);
	const __m512i lo = _mm512_set1_epi64(r->lo), hi = _mm512_set1_epi64(r->hi);
	const __m512i smax = _mm512_set1_epi64(INT64_MAX), smin = _mm512_set1_epi64(INT64_MIN);
	uint32_t h, j;

	for (h = h0; h < h1; h++) {
		__s64 *t = r->t + h * r->t_stride;

		for (j = 0; j < r->len; j += 8) {
			__mmask8 m = first8(r->len - j);
			/* Lane i: s[j + i].mult in the low 32 bits, .shift in the high. */
			__m512i sc = _mm512_maskz_loadu_epi64(m, r->s + j);
			__m512i sh = _mm512_srai_epi64(sc, 32);
			__mmask8 small = _mm512_cmple_epi64_mask(sh, c32);
			__mmask8 big = _mm512_mask_cmple_epi64_mask((__mmask8)~small, sh, c94);
			__m512i v = _mm512_maskz_loadu_epi64(m, t + j);
			__m512i a = _mm512_abs_epi64(v);
			__m512i ah = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), sc);
			__m512i al = _mm512_mul_epu32(a, sc);
			/* Shift 0..32: (ah << (32 - shift)) + ((al + half) >> shift). */
			__m512i rs = _mm512_add_epi64(
				_mm512_sllv_epi64(ah, _mm512_sub_epi64(c32, sh)),
				_mm512_srlv_epi64(_mm512_add_epi64(al, _mm512_sllv_epi64(
					one, _mm512_sub_epi64(sh, one))), sh));
			/* 33..94: (ah + (al >> 32) + 2^(shift - 33)) >> (shift - 32). */
			__m512i rb = _mm512_srlv_epi64(
				_mm512_add_epi64(_mm512_add_epi64(ah, _mm512_srli_epi64(al, 32)),
						 _mm512_sllv_epi64(one, _mm512_sub_epi64(sh, _mm512_set1_epi64(33)))),
				_mm512_sub_epi64(sh, c32));
			/* Saturated: ah >= 2^(31 + shift), or the sum past 2^63 - 1. */
			__m512i over = _mm512_srlv_epi64(ah, _mm512_add_epi64(sh, _mm512_set1_epi64(31)));
			__mmask8 sat = small & (_mm512_test_epi64_mask(over, over) |
						_mm512_cmplt_epi64_mask(rs, zero));
			__mmask8 neg = _mm512_cmplt_epi64_mask(v, zero);
			__m512i res = _mm512_mask_mov_epi64(_mm512_maskz_mov_epi64(small, rs), big, rb);

			res = _mm512_mask_sub_epi64(res, neg, zero, res);
			res = _mm512_mask_mov_epi64(res, sat & (__mmask8)~neg, smax);
			res = _mm512_mask_mov_epi64(res, sat & neg, smin);
			_mm512_mask_storeu_epi64(t + j, m, _mm512_min_epi64(_mm512_max_epi64(res, lo), hi));
		}
	}
}

int npu_rescale_avx512(void *unused NPU_UNUSED, const struct npu_fw_rescale *r)
{
	if (npu_rescale_begin_avx512(r))
		return 1;
	npu_rescale_rows_avx512(r, 0, r->n_heads);
	return 0;
}
