// SPDX-License-Identifier: MIT
/*
 * AVX2 sums of MATMUL with SCALE_BLOCK weights (struct npu_fw_matmul_block):
 * each super-block's codes of one output are decoded once to int16 (BMI2's
 * pdep spreads 8 codes of b bits over 8 bytes), then multiplied with every
 * row of x pairwise into int32 (vpmaddwd): a group's sum is below 2^28, so
 * exact. Eight groups' sums at a time are gathered into one vector and
 * scaled into int64; each super-block's two terms are added in int128 as
 * the firmware does, or, with one group a super-block, eight at a time in
 * exponent bins of int64. The same exact integers either way.
 */
#include <immintrin.h>
#include <string.h>

#include "int64_avx2.h"
#include "x86.h"

#define F_MIN DRM_NPU_BLOCK_F_MIN
#define F_S8 DRM_NPU_BLOCK_F_SUB_S8
#define F_U4 DRM_NPU_BLOCK_F_SUB_U4

/* Codes of one output decoded at a time: whole super-blocks, 4 of the largest. */
#define SEG_COLS 2048
#define SEG_GROUPS (SEG_COLS / 16)

#define ALIGNED __attribute__((aligned(32)))

/*
 * A segment of one output's super-blocks: each one's d and dmin as
 * mantissa and exponent, each group's scale and min (with one group a
 * super-block: times d and dmin's mantissas; zero after the last), and the
 * codes as int16.
 */
struct seg {
	uint32_t blocks, groups;
	int32_t dm[SEG_GROUPS + 8] ALIGNED, de[SEG_GROUPS + 8] ALIGNED;
	int32_t mm[SEG_GROUPS + 8] ALIGNED, me[SEG_GROUPS + 8] ALIGNED;
	int32_t sc[SEG_GROUPS + 8] ALIGNED, mn[SEG_GROUPS + 8] ALIGNED;
	int16_t q[SEG_COLS] ALIGNED;
};

/* A binary16 as mant * 2^(e - 24), as the firmware reads it; nonzero for an infinity or NaN. */
static inline int half(const uint8_t *p, int32_t *mant, int32_t *e)
{
	uint32_t h = (uint32_t)p[0] | (uint32_t)p[1] << 8, ex = (h >> 10) & 31, f = h & 1023;
	int32_t m = ex ? 1024 + (int32_t)f : (int32_t)f;

	if (ex == 31)
		return 1;
	*e = ex ? (int32_t)ex - 1 : 0;
	*mant = h >> 15 ? -m : m;
	return 0;
}

/* half() of @n binary16s at @p. */
static int halves(const uint8_t *p, uint32_t n, int32_t *mant, int32_t *e)
{
	const __m256i zero = _mm256_setzero_si256(), one = _mm256_set1_epi32(1);
	const __m256i max = _mm256_set1_epi32(31), lead = _mm256_set1_epi32(1024);
	uint32_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		__m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p + 2 * i)));
		__m256i ex = _mm256_and_si256(_mm256_srli_epi32(h, 10), max);
		__m256i normal = _mm256_cmpgt_epi32(ex, zero);
		__m256i neg = _mm256_srai_epi32(_mm256_slli_epi32(h, 16), 31);
		__m256i m = _mm256_add_epi32(_mm256_and_si256(h, _mm256_set1_epi32(1023)),
					     _mm256_and_si256(normal, lead));

		if (_mm256_movemask_epi8(_mm256_cmpeq_epi32(ex, max)))
			return 1;
		_mm256_store_si256((__m256i *)(mant + i),
				   _mm256_sub_epi32(_mm256_xor_si256(m, neg), neg));
		_mm256_store_si256((__m256i *)(e + i),
				   _mm256_sub_epi32(ex, _mm256_and_si256(normal, one)));
	}
	for (; i < n; i++)
		if (half(p + 2 * i, mant + i, e + i))
			return 1;
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

/* @s's groups' @n scales and mins from @sub (the mins of S8 @groups on). */
static void sub_scales(const uint8_t *sub, uint32_t f, uint32_t n, uint32_t groups,
		       struct seg *s)
{
	const __m256i lo4 = _mm256_set1_epi32(15), one = _mm256_set1_epi32(1);
	uint32_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		__m256i *sc = (__m256i *)(s->sc + i), *mn = (__m256i *)(s->mn + i), b;

		/* Without sub-scales @sub is NULL: not read. */
		if (f & F_S8) {
			_mm256_store_si256(sc, _mm256_cvtepi8_epi32(_mm_loadl_epi64(
				(const __m128i *)(sub + i))));
			if (f & F_MIN)
				_mm256_store_si256(mn, _mm256_cvtepu8_epi32(_mm_loadl_epi64(
					(const __m128i *)(sub + groups + i))));
		} else if (f & F_U4) {
			b = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(sub + i)));
			_mm256_store_si256(sc, _mm256_and_si256(b, lo4));
			_mm256_store_si256(mn, _mm256_srli_epi32(b, 4));
		} else {
			_mm256_store_si256(sc, one);
			_mm256_store_si256(mn, one);
		}
	}
	for (; i < n; i++) {
		if (f & F_S8) {
			s->sc[i] = (int8_t)sub[i];
			s->mn[i] = f & F_MIN ? sub[groups + i] : 0;
		} else if (f & F_U4) {
			s->sc[i] = sub[i] & 15;
			s->mn[i] = sub[i] >> 4;
		} else {
			s->sc[i] = 1;
			s->mn[i] = 1;
		}
	}
}

/*
 * @n codes of 6 bits from @p, minus @zero; @left bytes may be read. Each
 * 3 bytes are 4 codes: a 32-bit lane per 3 bytes gives them 6 bits apart.
 */
static void decode_u6(const uint8_t *p, uint64_t left, __m256i zero, uint32_t n, int16_t *q)
{
	const __m256i spread = _mm256_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1,
						0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
	const __m256i lo6 = _mm256_set1_epi32(63), hi6 = _mm256_set1_epi32(63 << 16);
	uint8_t tail[32] = { 0 };	/* its last 4 bytes are loaded, never used */
	uint32_t i = 0;

	for (; i + 32 <= n; i += 32, p += 24, left -= 24) {
		/* 24 bytes make 32 codes; the second half's 16-byte load reads 28. */
		const uint8_t *src = left < 28 ? memcpy(tail, p, 24) : p;
		__m256i v = _mm256_shuffle_epi8(_mm256_loadu2_m128i((const __m128i *)(src + 12),
								    (const __m128i *)src), spread);
		/* Codes 4j and 4j + 1, then 4j + 2 and 4j + 3, as int16 pairs of lane j. */
		__m256i c01 = _mm256_or_si256(_mm256_and_si256(v, lo6),
					      _mm256_and_si256(_mm256_slli_epi32(v, 10), hi6));
		__m256i c23 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(v, 12), lo6),
					      _mm256_and_si256(_mm256_srli_epi32(v, 2), hi6));
		__m256i a = _mm256_unpacklo_epi32(c01, c23), c = _mm256_unpackhi_epi32(c01, c23);

		_mm256_store_si256((__m256i *)(q + i),
				   _mm256_sub_epi16(_mm256_permute2x128_si256(a, c, 0x20), zero));
		_mm256_store_si256((__m256i *)(q + i + 16),
				   _mm256_sub_epi16(_mm256_permute2x128_si256(a, c, 0x31), zero));
	}
	decode_bits(p, 6, left, zero, n - i, q + i);
}

/*
 * Output @n's super-blocks from @b0, as many as the segment holds: their
 * binary16s and sub-scales, and their codes decoded. Nonzero at an
 * infinity or NaN.
 */
static int load_seg(const struct npu_fw_matmul_block *mb, uint32_t n, uint32_t b0,
		    struct seg *s)
{
	uint32_t g = mb->group_size, nb = mb->block_groups, groups = mb->k / g, blocks = groups / nb;
	uint32_t cols = g * nb, bits = mb->w_bits, f = mb->flags, i;
	const uint8_t *rec = mb->records + (uint64_t)n * mb->record_bytes;
	const uint8_t *sub = f & (F_S8 | F_U4) ? rec + mb->sub_off + (uint64_t)b0 * nb : NULL;
	const uint8_t *codes = mb->w + (uint64_t)n * mb->w_stride;
	uint64_t at = (uint64_t)b0 * cols * bits / 8;
	__m256i zero = _mm256_set1_epi16((int16_t)mb->zero);

	s->blocks = SEG_COLS / cols < blocks - b0 ? SEG_COLS / cols : blocks - b0;
	s->groups = s->blocks * nb;
	if (halves(rec + 2 * b0, s->blocks, s->dm, s->de) ||
	    ((f & F_MIN) && halves(rec + mb->dmin_off + 2 * b0, s->blocks, s->mm, s->me)))
		return 1;
	sub_scales(sub, f, s->groups, groups, s);
	/* One group a super-block: its scale times d, its min times dmin (below 2^19). */
	if (nb == 1) {
		for (i = 0; i < s->blocks; i += 8) {
			__m256i *sc = (__m256i *)(s->sc + i), *mn = (__m256i *)(s->mn + i);

			_mm256_store_si256(sc, _mm256_mullo_epi32(_mm256_load_si256(sc),
					   _mm256_load_si256((const __m256i *)(s->dm + i))));
			if (f & F_MIN)
				_mm256_store_si256(mn, _mm256_mullo_epi32(_mm256_load_si256(mn),
						   _mm256_load_si256((const __m256i *)(s->mm + i))));
		}
		for (i = s->blocks; i < s->blocks + 8; i++) {
			s->sc[i] = s->mn[i] = 0;
			s->de[i] = s->me[i] = 0;
		}
	}
	if (bits == 8)
		decode_u8(codes + at, zero, s->groups * g, s->q);
	else if (bits == 4)
		decode_u4(codes + at, zero, s->groups * g, s->q);
	else if (bits == 6)
		decode_u6(codes + at, (uint64_t)mb->k * bits / 8 - at, zero, s->groups * g, s->q);
	else
		decode_bits(codes + at, bits, (uint64_t)mb->k * bits / 8 - at, zero,
			    s->groups * g, s->q);
	return 0;
}

/* sum a[i] * b[i] over 8 int32 lanes, in int64. */
static inline int64_t dot8(__m256i a, __m256i b)
{
	__m256i even = _mm256_mul_epi32(a, b);
	__m256i odd = _mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(b, 32));

	return hsum4(_mm256_add_epi64(even, odd));
}

/* Group @j's sum of x times q (@g of each) in 8 int32 lanes. */
static inline __m256i group(const int16_t *x, const int16_t *q, uint32_t g, uint32_t j)
{
	const __m256i *xv = (const __m256i *)(x + j * g), *qv = (const __m256i *)(q + j * g);
	__m256i v = _mm256_madd_epi16(_mm256_loadu_si256(xv), _mm256_load_si256(qv));

	if (g == 32)
		v = _mm256_add_epi32(v, _mm256_madd_epi16(_mm256_loadu_si256(xv + 1),
							  _mm256_load_si256(qv + 1)));
	return v;
}

/* Each of @groups groups' sum of x times q, of @g columns each, into @sums. */
static inline void group_sums(const int16_t *x, const int16_t *q, uint32_t g, uint32_t groups,
			      int32_t *sums)
{
	__m256i v[8];
	uint32_t j, i;

	for (j = 0; j + 8 <= groups; j += 8) {
		for (i = 0; i < 8; i++)
			v[i] = group(x, q, g, j + i);
		_mm256_store_si256((__m256i *)(sums + j),
				   reduce8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]));
	}
	if (j == groups)
		return;
	for (i = 0; i < 8; i++)
		v[i] = j + i < groups ? group(x, q, g, j + i) : _mm256_setzero_si256();
	_mm256_store_si256((__m256i *)(sums + j),
			   reduce8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]));
}

/*
 * Exact sums of terms t * 2^e (0 <= e <= 29) in int64 bins: bin k holds
 * those with e >> 3 == k, shifted by e & 7. A one-group super-block's terms
 * are below 2^46 * 2^7 (d's) and 2^39 * 2^7 (dmin's): a segment's 128 at
 * most stay below 2^61.
 */
static inline void bin_add(__m256i *bins, __m256i t, __m256i e)
{
	__m256i v = _mm256_sllv_epi64(t, _mm256_and_si256(e, _mm256_set1_epi64x(7)));
	__m256i k = _mm256_srli_epi64(e, 3);
	int i;

	for (i = 0; i < 4; i++)
		bins[i] = _mm256_add_epi64(bins[i], _mm256_and_si256(v, _mm256_cmpeq_epi64(
			k, _mm256_set1_epi64x(i))));
}

/* bin_add() of the even and the odd int32 lanes' products a * b, at exponents @e (int32). */
static inline void bin_add_products(__m256i *bins, __m256i a, __m256i b, __m256i e)
{
	bin_add(bins, _mm256_mul_epi32(a, b),
		_mm256_and_si256(e, _mm256_set1_epi64x(0xffffffff)));
	bin_add(bins, _mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(b, 32)),
		_mm256_srli_epi64(e, 32));
}

/* add_row() with one group a super-block: eight super-blocks at a time. */
static void add_row_groups(const struct npu_fw_matmul_block *mb, const struct seg *s,
			   const int32_t *gs, const int32_t *xs, __int128_t *acc)
{
	const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	__m256i bins[4] = { _mm256_setzero_si256(), _mm256_setzero_si256(),
			    _mm256_setzero_si256(), _mm256_setzero_si256() };
	__int128_t v = *acc;
	uint32_t i;
	int k;

	for (i = 0; i < s->blocks; i += 8) {
		bin_add_products(bins, _mm256_load_si256((const __m256i *)(gs + i)),
				 _mm256_load_si256((const __m256i *)(s->sc + i)),
				 _mm256_load_si256((const __m256i *)(s->de + i)));
		if (mb->flags & F_MIN) {
			/* xs ends with the row: past the last super-block, not read. */
			__m256i in = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(s->blocks - i)),
							iota);
			__m256i x = _mm256_maskload_epi32(xs + i, in);

			bin_add_products(bins, _mm256_sub_epi32(_mm256_setzero_si256(), x),
					 _mm256_load_si256((const __m256i *)(s->mn + i)),
					 _mm256_load_si256((const __m256i *)(s->me + i)));
		}
	}
	for (k = 0; k < 4; k++)
		v += shl128(hsum4(bins[k]), 8 * (uint32_t)k);
	*acc = v;
}

/* Row @x's (group sums @xs) terms of @s's super-blocks, added to *@acc. */
static void add_row(const struct npu_fw_matmul_block *mb, const struct seg *s,
		    const int16_t *x, const int32_t *xs, __int128_t *acc)
{
	uint32_t nb = mb->block_groups, min = mb->flags & F_MIN, i, j;
	int32_t sums[SEG_GROUPS + 8] ALIGNED;
	__int128_t v;

	if (mb->group_size == 32)
		group_sums(x, s->q, 32, s->groups, sums);
	else
		group_sums(x, s->q, 16, s->groups, sums);
	if (nb == 1) {
		add_row_groups(mb, s, sums, xs, acc);
		return;
	}
	v = *acc;
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
		v += shl128(s->dm[i] * p, (uint32_t)s->de[i]);
		if (min)
			v -= shl128(s->mm[i] * q, (uint32_t)s->me[i]);
	}
	*acc = v;
}

int npu_mm_block_avx2(const struct npu_fw_matmul_block *mb, const int16_t *x16, uint32_t n0,
		      uint32_t n1)
{
	uint32_t groups = mb->k / mb->group_size, blocks = groups / mb->block_groups;
	uint32_t cols = mb->group_size * mb->block_groups, n, b, r;
	struct seg s;

	for (n = n0; n < n1; n++) {
		for (r = 0; r < mb->rows; r++)
			mb->acc[(uint64_t)r * mb->n + n] = 0;
		for (b = 0; b < blocks; b += s.blocks) {
			if (load_seg(mb, n, b, &s))
				return 1;
			for (r = 0; r < mb->rows; r++)
				add_row(mb, &s, x16 + (uint64_t)r * mb->k + (uint64_t)b * cols,
					mb->xs + (uint64_t)r * groups + (uint64_t)b * mb->block_groups,
					&mb->acc[(uint64_t)r * mb->n + n]);
		}
	}
	return 0;
}
