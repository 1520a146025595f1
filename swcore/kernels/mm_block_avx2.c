// SPDX-License-Identifier: MIT
/*
 * AVX2 sums of MATMUL with SCALE_BLOCK weights (struct npu_fw_matmul_block):
 * each super-block's codes of one output are decoded once to int16 (BMI2's
 * pdep spreads 8 codes of b bits over 8 bytes), then multiplied with every
 * row of x pairwise into int32 (vpmaddwd): a group's sum is below 2^28, so
 * exact. Eight groups' sums at a time are gathered into one vector, scaled
 * into int64, and each super-block's two terms added in int128 as the
 * firmware does: the same exact integers.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels.h"

#define F_MIN DRM_NPU_BLOCK_F_MIN
#define F_S8 DRM_NPU_BLOCK_F_SUB_S8
#define F_U4 DRM_NPU_BLOCK_F_SUB_U4
/* Groups decoded at a time: a super-block of up to 16, or several of fewer. */
#define MAX_GROUPS 16
#define MAX_COLS (MAX_GROUPS * 32)

/* One span of super-blocks of one output: their scales, and their codes as int16. */
struct span {
	uint32_t blocks, groups;
	int64_t dm[MAX_GROUPS], mm[MAX_GROUPS];
	uint32_t de[MAX_GROUPS], me[MAX_GROUPS];
	int32_t sc[MAX_GROUPS], mn[MAX_GROUPS];
	int16_t q[MAX_COLS] __attribute__((aligned(32)));
};

/* A binary16 as mant * 2^(e - 24), as the firmware reads it; nonzero for an infinity or NaN. */
static inline int half(const uint8_t *p, int64_t *mant, uint32_t *e)
{
	uint32_t h = (uint32_t)p[0] | (uint32_t)p[1] << 8, ex = (h >> 10) & 31, f = h & 1023;
	int64_t m = ex ? 1024 + f : f;

	if (ex == 31)
		return 1;
	*e = ex ? ex - 1 : 0;
	*mant = h >> 15 ? -m : m;
	return 0;
}

/* @n codes of 8 bits from @p, minus @zero. */
static void decode_u8(const uint8_t *p, __m256i zero, uint32_t n, int16_t *q)
{
	uint32_t i;

	for (i = 0; i < n; i += 16) {
		__m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(p + i)));

		_mm256_store_si256((__m256i *)(q + i), _mm256_sub_epi16(v, zero));
	}
}

/* @n codes of 4 bits (the low nibble first) from @p, minus @zero. */
static void decode_u4(const uint8_t *p, __m256i zero, uint32_t n, int16_t *q)
{
	const __m128i lo4 = _mm_set1_epi8(0x0f);
	uint32_t i;

	for (i = 0; i + 32 <= n; i += 32) {
		__m128i b = _mm_loadu_si128((const __m128i *)(p + i / 2));
		__m128i lo = _mm_and_si128(b, lo4), hi = _mm_and_si128(_mm_srli_epi16(b, 4), lo4);
		__m256i c0 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(lo, hi));
		__m256i c1 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(lo, hi));

		_mm256_store_si256((__m256i *)(q + i), _mm256_sub_epi16(c0, zero));
		_mm256_store_si256((__m256i *)(q + i + 16), _mm256_sub_epi16(c1, zero));
	}
	if (i < n) {
		__m128i b = _mm_loadl_epi64((const __m128i *)(p + i / 2));
		__m128i lo = _mm_and_si128(b, lo4), hi = _mm_and_si128(_mm_srli_epi16(b, 4), lo4);
		__m256i c = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(lo, hi));

		_mm256_store_si256((__m256i *)(q + i), _mm256_sub_epi16(c, zero));
	}
}

/* 8 codes of @bits at @p, one per byte; @left bytes may be read from @p. */
static inline uint64_t spread8(const uint8_t *p, uint32_t bits, uint64_t left, uint64_t mask)
{
	uint64_t v = 0;

	if (left >= 8)
		memcpy(&v, p, 8);
	else
		memcpy(&v, p, bits);
	return _pdep_u64(v, mask);
}

/* @n codes of @bits (2, 3, 5 or 6) from @p, minus @zero; @left bytes may be read. */
static void decode_bits(const uint8_t *p, uint32_t bits, uint64_t left, __m256i zero,
			uint32_t n, int16_t *q)
{
	uint64_t mask = ((1ull << bits) - 1) * 0x0101010101010101ull;
	uint32_t i;

	for (i = 0; i < n; i += 16, p += 2 * bits, left -= 2 * bits) {
		uint64_t a = spread8(p, bits, left, mask);
		uint64_t b = spread8(p + bits, bits, left - bits, mask);
		__m256i c = _mm256_cvtepu8_epi16(_mm_set_epi64x((long long)b, (long long)a));

		_mm256_store_si256((__m256i *)(q + i), _mm256_sub_epi16(c, zero));
	}
}

/*
 * Output @n's super-blocks from @b0, as many as make up to 8 groups (or
 * one of more): their binary16s and sub-scales, and their codes decoded.
 * Nonzero at an infinity or NaN.
 */
static int load_span(const struct npu_fw_matmul_block *mb, uint32_t n, uint32_t b0,
		     struct span *s)
{
	uint32_t g = mb->group_size, nb = mb->block_groups, groups = mb->k / g, blocks = groups / nb;
	uint32_t cols = g * nb, bits = mb->w_bits, f = mb->flags, i, j;
	const uint8_t *rec = mb->records + (uint64_t)n * mb->record_bytes;
	const uint8_t *sub = rec + mb->sub_off;
	const uint8_t *codes = mb->w + (uint64_t)n * mb->w_stride;
	uint64_t at = (uint64_t)b0 * cols * bits / 8;
	__m256i zero = _mm256_set1_epi16((int16_t)mb->zero);

	s->blocks = nb < 8 ? 8 / nb : 1;
	if (s->blocks > blocks - b0)
		s->blocks = blocks - b0;
	s->groups = s->blocks * nb;
	for (i = 0; i < s->blocks; i++) {
		s->mm[i] = 0;
		s->me[i] = 0;
		if (half(rec + 2 * (b0 + i), &s->dm[i], &s->de[i]) ||
		    ((f & F_MIN) && half(rec + mb->dmin_off + 2 * (b0 + i), &s->mm[i], &s->me[i])))
			return 1;
	}
	for (i = 0; i < s->groups; i++) {
		j = b0 * nb + i;
		if (f & F_S8) {
			s->sc[i] = (int8_t)sub[j];
			s->mn[i] = f & F_MIN ? sub[groups + j] : 0;
		} else if (f & F_U4) {
			s->sc[i] = sub[j] & 15;
			s->mn[i] = sub[j] >> 4;
		} else {
			s->sc[i] = 1;
			s->mn[i] = 1;
		}
	}
	if (bits == 8)
		decode_u8(codes + at, zero, s->groups * g, s->q);
	else if (bits == 4)
		decode_u4(codes + at, zero, s->groups * g, s->q);
	else
		decode_bits(codes + at, bits, (uint64_t)mb->k * bits / 8 - at, zero,
			    s->groups * g, s->q);
	return 0;
}

/* The sums of 8 vectors' lanes, in order. */
static inline __m256i reduce8(const __m256i *v)
{
	__m256i ab = _mm256_hadd_epi32(v[0], v[1]), cd = _mm256_hadd_epi32(v[2], v[3]);
	__m256i ef = _mm256_hadd_epi32(v[4], v[5]), gh = _mm256_hadd_epi32(v[6], v[7]);
	__m256i abcd = _mm256_hadd_epi32(ab, cd), efgh = _mm256_hadd_epi32(ef, gh);

	return _mm256_add_epi32(_mm256_permute2x128_si256(abcd, efgh, 0x20),
				_mm256_permute2x128_si256(abcd, efgh, 0x31));
}

static inline int64_t hsum64(__m256i v)
{
	__m128i t = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));

	return _mm_cvtsi128_si64(t) + _mm_extract_epi64(t, 1);
}

/* sum a[i] * b[i] over 8 int32 lanes, in int64. */
static inline int64_t dot8(__m256i a, __m256i b)
{
	__m256i even = _mm256_mul_epi32(a, b);
	__m256i odd = _mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(b, 32));

	return hsum64(_mm256_add_epi64(even, odd));
}

/* Each group's sum of x times q over @s's groups of @g, into @sums. */
static void group_sums(const int16_t *x, const struct span *s, uint32_t g, int32_t *sums)
{
	__m256i v[MAX_GROUPS];
	uint32_t j, padded = (s->groups + 7) & ~7u;

	for (j = 0; j < s->groups; j++) {
		const __m256i *xv = (const __m256i *)(x + j * g);
		const __m256i *qv = (const __m256i *)(s->q + j * g);

		v[j] = _mm256_madd_epi16(_mm256_loadu_si256(xv), qv[0]);
		if (g == 32)
			v[j] = _mm256_add_epi32(v[j], _mm256_madd_epi16(_mm256_loadu_si256(xv + 1),
									 qv[1]));
	}
	for (; j < padded; j++)
		v[j] = _mm256_setzero_si256();
	for (j = 0; j < padded; j += 8)
		_mm256_storeu_si256((__m256i *)(sums + j), reduce8(v + j));
}

/* Row @x's (group sums @xs) terms of @s's super-blocks, added to *@acc. */
static void add_span(const struct npu_fw_matmul_block *mb, const struct span *s,
		     const int16_t *x, const int32_t *xs, __int128_t *acc)
{
	uint32_t nb = mb->block_groups, min = mb->flags & F_MIN, i, j;
	int32_t sums[MAX_GROUPS] __attribute__((aligned(32)));
	__int128_t v = *acc;

	group_sums(x, s, mb->group_size, sums);
	for (i = 0; i < s->blocks; i++) {
		const int32_t *sc = s->sc + i * nb, *mn = s->mn + i * nb, *gs = sums + i * nb;
		const int32_t *xj = xs + i * nb;
		int64_t p = 0, q = 0;

		if (nb % 8 == 0) {
			for (j = 0; j < nb; j += 8) {
				p += dot8(_mm256_load_si256((const __m256i *)(gs + j)),
					  _mm256_loadu_si256((const __m256i *)(sc + j)));
				if (min)
					q += dot8(_mm256_loadu_si256((const __m256i *)(xj + j)),
						  _mm256_loadu_si256((const __m256i *)(mn + j)));
			}
		} else {
			for (j = 0; j < nb; j++) {
				p += (int64_t)sc[j] * gs[j];
				if (min)
					q += (int64_t)mn[j] * xj[j];
			}
		}
		v += (__int128_t)(s->dm[i] * p) * ((__int128_t)1 << s->de[i]);
		if (min)
			v -= (__int128_t)(s->mm[i] * q) * ((__int128_t)1 << s->me[i]);
	}
	*acc = v;
}

int npu_mm_block_avx2(const struct npu_fw_matmul_block *mb, const int16_t *x16, uint32_t n0,
		      uint32_t n1)
{
	uint32_t groups = mb->k / mb->group_size, blocks = groups / mb->block_groups;
	uint32_t cols = mb->group_size * mb->block_groups, n, b, r;
	struct span s;

	for (n = n0; n < n1; n++) {
		for (r = 0; r < mb->rows; r++)
			mb->acc[(uint64_t)r * mb->n + n] = 0;
		for (b = 0; b < blocks; b += s.blocks) {
			if (load_span(mb, n, b, &s))
				return 1;
			for (r = 0; r < mb->rows; r++)
				add_span(mb, &s, x16 + (uint64_t)r * mb->k + (uint64_t)b * cols,
					 mb->xs + (uint64_t)r * groups + (uint64_t)b * mb->block_groups,
					 &mb->acc[(uint64_t)r * mb->n + n]);
		}
	}
	return 0;
}
