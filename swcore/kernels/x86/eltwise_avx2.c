// SPDX-License-Identifier: MIT
/*
 * Element-wise ops in AVX2, four elements in 64-bit lanes, bit for bit
 * the firmware's loops and with eltwise_avx512.c's bounds and refusals
 * (its comments say why each is exact): SILU, ADD's two rescalings, the
 * norms' loops, the softmax and the row maximum of the output stage.
 * AVX2 has no 64-bit multiply: every product here is of 32-bit operands
 * (vpmuldq, vpmuludq), which those bounds allow.
 */
#include <string.h>

#include "x86.h"
#include "int64_avx2.h"
#include "../../../firmware/include/npu_fw_image.h"

/* log2(e) in Q30, as the firmware's sigmoid. */
#define LOG2E_Q30 1549082005ll
/* |xq| below this (Q24) keeps xq * sigmoid (<= 2^30 + 1) under 2^63, and xq in 32 bits. */
#define XQ_LIMIT (1ll << 32)

/*
 * exp2[idx] and exp2[idx + 1] in one 64-bit load per lane. Not vpgatherqq:
 * QEMU 7.2's (make check's emulated AVX2 CPU) gave lanes of the wrong
 * entries here, and four loads cost little next to the division.
 */
static inline __m256i pairs(const __u32 *exp2, __m256i idx)
{
	uint64_t i[4], ab[4];
	int l;

	_mm256_storeu_si256((__m256i *)i, idx);
	for (l = 0; l < 4; l++)
		memcpy(&ab[l], exp2 + i[l], sizeof(ab[l]));
	return _mm256_loadu_si256((const __m256i *)ab);
}

/* fw_exp2_neg_q16: 2^(-u / 65536) in Q30, u read unsigned, with its 32-bit wraps. */
static inline __m256i exp2_neg_q16(const __u32 *exp2, __m256i u)
{
	const __m256i m32 = _mm256_set1_epi64x(0xffffffff), one = _mm256_set1_epi64x(1);
	__m256i ip = _mm256_srli_epi64(u, 16);
	__m256i idx = _mm256_and_si256(_mm256_srli_epi64(u, 8), _mm256_set1_epi64x(0xff));
	__m256i frac = _mm256_and_si256(u, _mm256_set1_epi64x(0xff));
	__m256i ab = pairs(exp2, idx);
	__m256i a = _mm256_and_si256(ab, m32), b = _mm256_srli_epi64(ab, 32);
	/* The low 32 bits of (a - b) * frac, both under 2^32. */
	__m256i d = _mm256_and_si256(_mm256_mul_epu32(_mm256_sub_epi64(a, b), frac), m32);
	__m256i v = _mm256_and_si256(
		_mm256_sub_epi64(a, _mm256_srli_epi64(_mm256_and_si256(
			_mm256_add_epi64(d, _mm256_set1_epi64x(128)), m32), 8)), m32);
	/* ip = 0: v; ip < 32: v / 2^ip rounded; else 0 (ip < 2^47: compares signed). */
	__m256i half = _mm256_sllv_epi64(one, _mm256_sub_epi64(ip, one));
	__m256i r = _mm256_srlv_epi64(_mm256_add_epi64(v, half), ip);

	r = _mm256_blendv_epi8(r, v, _mm256_cmpeq_epi64(ip, _mm256_setzero_si256()));
	return _mm256_and_si256(r, _mm256_cmpgt_epi64(_mm256_set1_epi64x(32), ip));
}

int npu_silu_avx2(void *unused NPU_UNUSED, const struct npu_fw_silu *s)
{
	const __m256i shift = _mm256_set1_epi64x(s->to_act.shift);
	const __m256i mult = _mm256_set1_epi64x(s->to_act.mult);
	const __m256i one_q30 = _mm256_set1_epi64x(1ll << 30), r30 = _mm256_set1_epi64x(30);
	__m256i bad = _mm256_setzero_si256();
	__u32 i;

	/* x * mult < 2^62 for any int32 x; shifts past 62 leave nothing. */
	if (s->to_act.shift < 1 || s->to_act.shift > 62)
		return 1;
	for (i = 0; i < s->n; i += 4) {
		__m256i x = load4_epi32(s->x + i, s->n - i);
		__m256i xq = rshift_round4(_mm256_mul_epi32(x, mult), shift);
		__m256i x16 = rshift_round4(xq, _mm256_set1_epi64x(8));
		/* |x16| < 2^25 (where |xq| < 2^32): the product is under 2^56. */
		__m256i u = _mm256_srli_epi64(_mm256_add_epi64(
			_mm256_mul_epu32(abs64(x16), _mm256_set1_epi64x(LOG2E_Q30)),
			_mm256_set1_epi64x(1ll << 29)), 30);
		__m256i e = exp2_neg_q16(s->tables->exp2, u);
		__m256i den = _mm256_add_epi64(one_q30, e), half = _mm256_srli_epi64(den, 1);
		/* sigmoid(x) = 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below. */
		__m256i num = _mm256_blendv_epi8(_mm256_slli_epi64(one_q30, 30),
						 _mm256_slli_epi64(e, 30), neg_mask(x16));
		__m256i sig = udiv4(_mm256_add_epi64(num, half), den);
		__m256i neg = neg_mask(xq), a = negate_where(xq, neg);

		bad = _mm256_or_si256(bad, _mm256_cmpgt_epi64(a, _mm256_set1_epi64x(XQ_LIMIT - 1)));
		/* round(xq * sig / 2^30) from |xq| < 2^32 and sig >= 0, then xq's sign. */
		store4_epi64(s->v + i, s->n - i, negate_where(rshift_round4(
			_mm256_mul_epu32(a, sig), r30), neg));
	}
	return _mm256_testz_si256(bad, bad) ? 0 : 1;
}

/* round(x * s) for int32 x and 1 <= s.shift <= 62: |x * mult| < 2^62. */
static inline __m256i requant64(__m256i x, struct drm_npu_scale s)
{
	return rshift_round4(_mm256_mul_epi32(x, _mm256_set1_epi64x(s.mult)),
			     _mm256_set1_epi64x(s.shift));
}

int npu_add_avx2(void *unused NPU_UNUSED, const struct npu_fw_add *a)
{
	__u32 i;

	/* Other shifts round to nothing or saturate: the firmware's loop. */
	if (a->ma.shift < 1 || a->ma.shift > 62 || a->mb.shift < 1 || a->mb.shift > 62)
		return 1;
	for (i = 0; i < a->n; i += 4) {
		__m256i x = load4_epi32(a->a + i, a->n - i), y = load4_epi32(a->b + i, a->n - i);

		/* Each term is under 2^61: the sum cannot overflow. */
		store4_epi64(a->v + i, a->n - i,
			     _mm256_add_epi64(requant64(x, a->ma), requant64(y, a->mb)));
	}
	return 0;
}

/* v = x * 2^frac - mean and the sum of squares, for |v| < 2^24: under 2^64 for n <= 2^16. */
static int norm_center(const struct npu_fw_norm *nm)
{
	const __m256i mean = _mm256_set1_epi64x(nm->mean), limit = _mm256_set1_epi64x((1ll << 24) - 1);
	const __m128i frac = _mm_cvtsi32_si128(nm->frac);
	__m256i ss = _mm256_setzero_si256(), bad = _mm256_setzero_si256();
	__u32 i;

	if (nm->n > 65536 || nm->frac < 0 || nm->frac > 24)
		return 1;
	for (i = 0; i < nm->n; i += 4) {
		__m256i m = first4(nm->n - i);
		__m256i x = load4_epi32(nm->x + i, nm->n - i);
		/* Masked-off lanes would hold -mean: keep them out of the sum. */
		__m256i v = _mm256_and_si256(_mm256_sub_epi64(_mm256_sll_epi64(x, frac), mean), m);

		bad = _mm256_or_si256(bad, _mm256_cmpgt_epi64(abs64(v), limit));
		ss = _mm256_add_epi64(ss, _mm256_mul_epi32(v, v));
		store4_epi64(nm->v + i, nm->n - i, v);
	}
	if (!_mm256_testz_si256(bad, bad))
		return 1;
	*nm->ss = (__u64)hsum4(ss);
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
	const __m256i r = _mm256_set1_epi64x(nm->r), sh = _mm256_set1_epi64x(nm->shift);
	__u64 amax;
	__u32 i;

	if (nm->shift < 1 || nm->shift > 63)
		return 1;
	npu_amax_avx2(NULL, nm->v, nm->n, &amax);
	if (amax >= 1ull << 32 || (__uint128_t)amax * nm->r >= 1ull << 63 ||
	    ((__uint128_t)amax * nm->r + (1ull << (nm->shift - 1))) >> nm->shift >= 1ull << 31)
		return 1;
	for (i = 0; i < nm->n; i += 4) {
		__m256i v = load4_epi64(nm->v + i, nm->n - i);
		__m256i g = load4_epi32(nm->gamma + i, nm->n - i);
		/* |v| < 2^32 and r < 2^32: vpmuludq's product is exact, and under 2^63. */
		__m256i p = negate_where(_mm256_mul_epu32(abs64(v), r), neg_mask(v));

		store4_epi64(nm->v + i, nm->n - i, _mm256_mul_epi32(rshift_round4(p, sh), g));
	}
	return 0;
}

int npu_norm_avx2(void *unused NPU_UNUSED, const struct npu_fw_norm *nm)
{
	return nm->step == NPU_FW_NORM_CENTER ? norm_center(nm) : norm_scale(nm);
}

static void softmax_row(__s64 *t, __u32 n, const struct npu_fw_tables *tables)
{
	const __m256i low = _mm256_set1_epi64x(INT64_MIN);
	__m256i top = low, sum = _mm256_setzero_si256(), half, total;
	__s64 tmax, lanes[4];
	__u32 i;

	if (!n)
		return;
	for (i = 0; i < n; i += 4) {
		__m256i m = first4(n - i);

		top = max64(top, _mm256_blendv_epi8(low, load4_epi64(t + i, n - i), m));
	}
	_mm256_storeu_si256((__m256i *)lanes, top);
	tmax = lanes[0];
	for (i = 1; i < 4; i++)
		tmax = lanes[i] > tmax ? lanes[i] : tmax;
	/* e_j = 2^-((tmax - t_j) / 2^16) in Q30, at most 2^30 each. */
	for (i = 0; i < n; i += 4) {
		__m256i m = first4(n - i);
		__m256i e = _mm256_and_si256(exp2_neg_q16(tables->exp2, _mm256_sub_epi64(
			_mm256_set1_epi64x(tmax), load4_epi64(t + i, n - i))), m);

		sum = _mm256_add_epi64(sum, e);
		store4_epi64(t + i, n - i, e);
	}
	total = _mm256_set1_epi64x(hsum4(sum));
	half = _mm256_srli_epi64(total, 1);
	/* The sum is at least 2^30 (the largest term): quotients up to 2^30. */
	for (i = 0; i < n; i += 4) {
		__m256i e = load4_epi64(t + i, n - i);

		store4_epi64(t + i, n - i, udiv4(_mm256_add_epi64(_mm256_slli_epi64(e, 30), half),
					     total));
	}
}

void npu_softmax_rows_avx2(const struct npu_fw_softmax *sm, uint32_t r0, uint32_t r1)
{
	uint32_t r;

	for (r = r0; r < r1; r++)
		softmax_row(sm->t + r * sm->stride, sm->n, sm->tables);
}

int npu_softmax_avx2(void *unused NPU_UNUSED, const struct npu_fw_softmax *sm)
{
	npu_softmax_rows_avx2(sm, 0, sm->rows);
	return 0;
}

int npu_amax_avx2(void *unused NPU_UNUSED, const __s64 *v, __u32 n, __u64 *out)
{
	__m256i top = _mm256_setzero_si256();
	__u64 lanes[4], best = 0;
	__u32 i;

	/* |INT64_MIN| stays INT64_MIN: 2^63 when read unsigned, as the firmware's. */
	for (i = 0; i < n; i += 4) {
		__m256i a = abs64(load4_epi64(v + i, n - i));

		top = _mm256_blendv_epi8(top, a, cmpgt_epu64(a, top));
	}
	_mm256_storeu_si256((__m256i *)lanes, top);
	for (i = 0; i < 4; i++)
		best = lanes[i] > best ? lanes[i] : best;
	*out = best;
	return 0;
}
