// SPDX-License-Identifier: MIT
/*
 * Element-wise ops in AVX-512, eight elements in 64-bit lanes, bit for
 * bit the firmware's loops: SILU (struct npu_fw_silu, as fw_silu_q24()),
 * ADD's two rescalings (struct npu_fw_add, as fw_requant()), the norms'
 * loops (struct npu_fw_norm), the softmax (struct npu_fw_softmax) and the
 * row maximum of the output stage, each for the inputs that keep its
 * products within 64 bits, handing other rows back.
 *
 * The firmware's SILU products need 128 bits only for inputs it clamps
 * at 2^23 in Q24; this path takes rows whose every |x| stays under 2^8
 * (far beyond any activation a model sends through SILU), where each
 * product fits 64 bits, and hands any other row back. The sigmoid's
 * 64-bit division runs in double precision and is then corrected to the
 * exact integer quotient.
 */
#include <immintrin.h>

#include "x86.h"
#include "mask_avx512.h"
#include "udiv_avx512.h"
#include "../../../firmware/include/npu_fw_image.h"

/* log2(e) in Q30, as the firmware's sigmoid. */
#define LOG2E_Q30 1549082005ll
/* |xq| below this (Q24) keeps xq * sigmoid (<= 2^30 + 1) under 2^63. */
#define XQ_LIMIT (1ll << 32)

/* round(p * 2^-n), ties away from zero, 1 <= n <= 63, |p| < 2^63. */
static inline __m512i rshift_round(__m512i p, __m512i n)
{
	__m512i half = _mm512_sllv_epi64(_mm512_set1_epi64(1), _mm512_sub_epi64(n, _mm512_set1_epi64(1)));
	__m512i r = _mm512_srlv_epi64(_mm512_add_epi64(_mm512_abs_epi64(p), half), n);
	__mmask8 neg = _mm512_cmplt_epi64_mask(p, _mm512_setzero_si512());

	return _mm512_mask_sub_epi64(r, neg, _mm512_setzero_si512(), r);
}

/* fw_exp2_neg_q16: 2^(-u / 65536) in Q30, u >= 0, with its 32-bit wraps. */
static inline __m512i exp2_neg_q16(const __u32 *exp2, __m512i u)
{
	const __m512i m32 = _mm512_set1_epi64(0xffffffff), one = _mm512_set1_epi64(1);
	__m512i ip = _mm512_srli_epi64(u, 16);
	__m512i idx = _mm512_and_si512(_mm512_srli_epi64(u, 8), _mm512_set1_epi64(0xff));
	__m512i frac = _mm512_and_si512(u, _mm512_set1_epi64(0xff));
	/* exp2[idx] and exp2[idx + 1] in one 64-bit load. */
	__m512i ab = _mm512_i64gather_epi64(idx, (const void *)exp2, 4);
	__m512i a = _mm512_and_si512(ab, m32), b = _mm512_srli_epi64(ab, 32);
	__m512i d = _mm512_and_si512(_mm512_mullo_epi64(_mm512_and_si512(_mm512_sub_epi64(a, b), m32),
							frac), m32);
	__m512i v = _mm512_and_si512(
		_mm512_sub_epi64(a, _mm512_srli_epi64(_mm512_and_si512(
			_mm512_add_epi64(d, _mm512_set1_epi64(128)), m32), 8)), m32);
	/* ip = 0: v; ip < 32: v / 2^ip rounded; else 0. */
	__m512i half = _mm512_sllv_epi64(one, _mm512_sub_epi64(ip, one));
	__m512i r = _mm512_srlv_epi64(_mm512_add_epi64(v, half), ip);

	r = _mm512_mask_mov_epi64(r, _mm512_cmpeq_epi64_mask(ip, _mm512_setzero_si512()), v);
	return _mm512_maskz_mov_epi64(_mm512_cmplt_epu64_mask(ip, _mm512_set1_epi64(32)), r);
}

int npu_silu_avx512(void *unused NPU_UNUSED, const struct npu_fw_silu *s)
{
	const __m512i shift = _mm512_set1_epi64(s->to_act.shift), mult = _mm512_set1_epi64(s->to_act.mult);
	const __m512i one_q30 = _mm512_set1_epi64(1ll << 30), zero = _mm512_setzero_si512();
	__mmask8 bad = 0;
	__u32 i;

	/* x * mult < 2^62 for any int32 x; shifts past 62 leave nothing. */
	if (s->to_act.shift < 1 || s->to_act.shift > 62)
		return 1;
	for (i = 0; i < s->n; i += 8) {
		__mmask8 m = first8(s->n - i);
		__m512i x = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(m, s->x + i));
		__m512i xq = rshift_round(_mm512_mullo_epi64(x, mult), shift);
		__m512i x16 = rshift_round(xq, _mm512_set1_epi64(8));
		/* |x16| < 2^25: the product is under 2^56. */
		__m512i u = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mullo_epi64(_mm512_abs_epi64(x16),
									       _mm512_set1_epi64(LOG2E_Q30)),
							       _mm512_set1_epi64(1ll << 29)), 30);
		__m512i e = exp2_neg_q16(s->tables->exp2, u);
		__m512i den = _mm512_add_epi64(one_q30, e), half = _mm512_srli_epi64(den, 1);
		/* sigmoid(x) = 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below. */
		__m512i num = _mm512_mask_mov_epi64(_mm512_slli_epi64(one_q30, 30),
						    _mm512_cmplt_epi64_mask(x16, zero),
						    _mm512_slli_epi64(e, 30));
		__m512i sig = npu_udiv_avx512(_mm512_add_epi64(num, half), den);

		bad |= _mm512_cmpge_epi64_mask(_mm512_abs_epi64(xq), _mm512_set1_epi64(XQ_LIMIT));
		_mm512_mask_storeu_epi64(s->v + i, m,
					 rshift_round(_mm512_mullo_epi64(xq, sig), _mm512_set1_epi64(30)));
	}
	return bad ? 1 : 0;
}

/* round(x * s) for int32 x and 1 <= s.shift <= 62: |x * mult| < 2^62. */
static inline __m512i requant64(__m512i x, struct drm_npu_scale s)
{
	return rshift_round(_mm512_mullo_epi64(x, _mm512_set1_epi64(s.mult)),
			    _mm512_set1_epi64(s.shift));
}

int npu_add_avx512(void *unused NPU_UNUSED, const struct npu_fw_add *a)
{
	__u32 i;

	/* Other shifts round to nothing or saturate: the firmware's loop. */
	if (a->ma.shift < 1 || a->ma.shift > 62 || a->mb.shift < 1 || a->mb.shift > 62)
		return 1;
	for (i = 0; i < a->n; i += 8) {
		__mmask8 m = first8(a->n - i);
		__m512i x = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(m, a->a + i));
		__m512i y = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(m, a->b + i));

		/* Each term is under 2^61: the sum cannot overflow. */
		_mm512_mask_storeu_epi64(a->v + i, m, _mm512_add_epi64(requant64(x, a->ma),
								      requant64(y, a->mb)));
	}
	return 0;
}

/* v = x * 2^frac - mean and the sum of squares, for |v| < 2^24: under 2^64 for n <= 2^16. */
static int norm_center(const struct npu_fw_norm *nm)
{
	const __m512i mean = _mm512_set1_epi64(nm->mean), limit = _mm512_set1_epi64(1ll << 24);
	__m512i ss = _mm512_setzero_si512();
	__mmask8 bad = 0;
	__u32 i;

	if (nm->n > 65536 || nm->frac < 0 || nm->frac > 24)
		return 1;
	for (i = 0; i < nm->n; i += 8) {
		__mmask8 m = first8(nm->n - i);
		__m512i x = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(m, nm->x + i));
		__m512i v = _mm512_sub_epi64(_mm512_slli_epi64(x, (unsigned int)nm->frac), mean);

		/* Masked-off lanes hold -mean: keep them out of the sum. */
		v = _mm512_maskz_mov_epi64(m, v);
		bad |= _mm512_cmpge_epi64_mask(_mm512_abs_epi64(v), limit);
		ss = _mm512_add_epi64(ss, _mm512_mul_epi32(v, v));
		_mm512_mask_storeu_epi64(nm->v + i, m, v);
	}
	if (bad)
		return 1;
	*nm->ss = (__u64)_mm512_reduce_add_epi64(ss);
	return 0;
}

/*
 * v = round(v * r * 2^-shift) * gamma, where every |v| < 2^32, every
 * product under 2^63 and every rounded value under 2^31 (so that times
 * an int32 gain it fits 64 bits): checked on the row's largest |v|
 * before anything is written.
 */
static int norm_scale(const struct npu_fw_norm *nm)
{
	const __m512i r = _mm512_set1_epi64(nm->r), sh = _mm512_set1_epi64(nm->shift);
	__u64 amax;
	__u32 i;

	if (nm->shift < 1 || nm->shift > 63)
		return 1;
	npu_amax_avx512(NULL, nm->v, nm->n, &amax);
	if (amax >= 1ull << 32 || (__uint128_t)amax * nm->r >= 1ull << 63 ||
	    ((__uint128_t)amax * nm->r + (1ull << (nm->shift - 1))) >> nm->shift >= 1ull << 31)
		return 1;
	for (i = 0; i < nm->n; i += 8) {
		__mmask8 m = first8(nm->n - i);
		__m512i v = _mm512_maskz_loadu_epi64(m, nm->v + i);
		__m512i g = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(m, nm->gamma + i));
		/* |v| < 2^32 and r < 2^32: vpmuludq's product is exact, and under 2^63. */
		__m512i p = _mm512_mul_epu32(_mm512_abs_epi64(v), r);

		p = _mm512_mask_sub_epi64(p, _mm512_cmplt_epi64_mask(v, _mm512_setzero_si512()),
					  _mm512_setzero_si512(), p);
		_mm512_mask_storeu_epi64(nm->v + i, m, _mm512_mul_epi32(rshift_round(p, sh), g));
	}
	return 0;
}

int npu_norm_avx512(void *unused NPU_UNUSED, const struct npu_fw_norm *nm)
{
	return nm->step == NPU_FW_NORM_CENTER ? norm_center(nm) : norm_scale(nm);
}

static void softmax_row(__s64 *t, __u32 n, const struct npu_fw_tables *tables)
{
	const __m512i low = _mm512_set1_epi64(INT64_MIN);
	__m512i top = low, sum = _mm512_setzero_si512(), half, total;
	__s64 tmax;
	__u32 i;

	if (!n)
		return;
	for (i = 0; i < n; i += 8) {
		__mmask8 m = first8(n - i);

		top = _mm512_max_epi64(top, _mm512_mask_loadu_epi64(low, m, t + i));
	}
	tmax = _mm512_reduce_max_epi64(top);
	/* e_j = 2^-((tmax - t_j) / 2^16) in Q30, at most 2^30 each. */
	for (i = 0; i < n; i += 8) {
		__mmask8 m = first8(n - i);
		__m512i e = exp2_neg_q16(tables->exp2, _mm512_sub_epi64(
			_mm512_set1_epi64(tmax), _mm512_maskz_loadu_epi64(m, t + i)));

		sum = _mm512_mask_add_epi64(sum, m, sum, e);
		_mm512_mask_storeu_epi64(t + i, m, e);
	}
	total = _mm512_set1_epi64(_mm512_reduce_add_epi64(sum));
	half = _mm512_srli_epi64(total, 1);
	/* The sum is at least 2^30 (the largest term): quotients up to 2^30. */
	for (i = 0; i < n; i += 8) {
		__mmask8 m = first8(n - i);
		__m512i e = _mm512_maskz_loadu_epi64(m, t + i);

		_mm512_mask_storeu_epi64(t + i, m, npu_udiv_avx512(
			_mm512_add_epi64(_mm512_slli_epi64(e, 30), half), total));
	}
}

void npu_softmax_rows_avx512(const struct npu_fw_softmax *sm, uint32_t r0, uint32_t r1)
{
	uint32_t r;

	for (r = r0; r < r1; r++)
		softmax_row(sm->t + r * sm->stride, sm->n, sm->tables);
}

int npu_softmax_avx512(void *unused NPU_UNUSED, const struct npu_fw_softmax *sm)
{
	npu_softmax_rows_avx512(sm, 0, sm->rows);
	return 0;
}

int npu_amax_avx512(void *unused NPU_UNUSED, const __s64 *v, __u32 n, __u64 *out)
{
	__m512i top = _mm512_setzero_si512();
	__u32 i;

	/* vpabsq leaves INT64_MIN as is: 2^63 when read unsigned, as the firmware's. */
	for (i = 0; i < n; i += 8) {
		__mmask8 m = first8(n - i);

		top = _mm512_max_epu64(top, _mm512_abs_epi64(_mm512_maskz_loadu_epi64(m, v + i)));
	}
	*out = (__u64)_mm512_reduce_max_epu64(top);
	return 0;
}
