/* SPDX-License-Identifier: MIT */
/*
 * MATMUL's sums with SCALE_BLOCK weights of one 32-column group per
 * super-block and no sub-scales (GGUF's Q8_0, Q4_0, Q4_1), 8- or 4-bit
 * codes: the shapes nearly every GGUF file people download has. Included
 * by one source per level, which defines MMB(name) (the level's suffix)
 * and MMB_VNNI: 0 for AVX2 (vpmaddubsw, vpmaddwd), 1 where vpdpbusd and
 * vpdpwssd take 256-bit registers (AVX-512 VL, or AVX-VNNI), with
 * MMB_DPBUSD and MMB_DPWSSD naming them.
 *
 * Each output's binary16s are read once, as their mantissas shifted by
 * their exponent's distance from the output's least; a row's group sums
 * are scaled by them into int64 (npu_mmb_prep.lim bounds the spread so
 * that nothing overflows) and shifted once into the int128 the firmware
 * computes. An output whose exponents spread further goes to the general
 * kernel (mm_block_avx2.c): the same integers either way.
 *
 * Fewer than 8 rows (decode): each group's 32 products summed across the
 * register and reduced eight groups at a time; int8 activations multiply
 * the codes as bytes. 8 rows or more (prefill): a GEMM, each output's codes
 * decoded once (int8 with VNNI where they and x fit, else int16) and
 * multiplied by 8 rows at a time, the rows in the register's lanes (no
 * reduction), four outputs per pass over the rows.
 */
#include <immintrin.h>
#include <string.h>

#include "int64_avx2.h"
#include "x86.h"

/*
 * An output's binary16s as integers: each one's mantissa shifted by its
 * exponent's distance from the output's least (the base), which
 * npu_mmb_prep.lim keeps within 20 (below 2^31); and the base.
 */
struct g1_col {
	int32_t *dm, *mm;	/* d's; dmin's, with DRM_NPU_BLOCK_F_MIN */
	int32_t base;
};

/*
 * The least and greatest magnitudes, as binary16 bits, among @n binary16s
 * at @p that are not zero, folded into *@lo and *@hi (16-bit lanes).
 * Exponents order them as the bits do.
 */
static inline void MMB(half_range)(const uint8_t *p, uint32_t n, __m256i *lo, __m256i *hi)
{
	const __m256i mag = _mm256_set1_epi16(0x7fff), zero = _mm256_setzero_si256();
	uint32_t i;

	for (i = 0; i < n; i += 16) {
		__m256i a;

		if (n - i >= 16) {
			a = _mm256_loadu_si256((const __m256i *)(p + 2 * i));
		} else {
			uint16_t t[16] = { 0 };

			memcpy(t, p + 2 * i, 2 * (n - i));
			a = _mm256_loadu_si256((const __m256i *)t);
		}
		a = _mm256_and_si256(a, mag);
		*hi = _mm256_max_epu16(*hi, a);
		/* A zero is no one's least: all ones instead. */
		*lo = _mm256_min_epu16(*lo, _mm256_or_si256(a, _mm256_cmpeq_epi16(a, zero)));
	}
}

/*
 * @n binary16s at @p as mantissa << (exponent - @base), signed, at @d:
 * 8 at a time, the last few through a zeroed copy, so that the lanes past
 * @n are zeros.
 */
static inline void MMB(half_ints)(const uint8_t *p, uint32_t n, int32_t base, int32_t *d)
{
	const __m256i one = _mm256_set1_epi32(1), b1 = _mm256_set1_epi32(base + 1);
	uint32_t i;

	for (i = 0; i < n; i += 8) {
		__m128i raw;
		__m256i h, ex, normal, m, sh, neg;

		if (n - i >= 8) {
			raw = _mm_loadu_si128((const __m128i *)(p + 2 * i));
		} else {
			uint16_t t[8] = { 0 };

			memcpy(t, p + 2 * i, 2 * (n - i));
			raw = _mm_loadu_si128((const __m128i *)t);
		}
		h = _mm256_cvtepu16_epi32(raw);
		ex = _mm256_and_si256(_mm256_srli_epi32(h, 10), _mm256_set1_epi32(31));
		normal = _mm256_cmpgt_epi32(ex, _mm256_setzero_si256());
		m = _mm256_or_si256(_mm256_and_si256(h, _mm256_set1_epi32(1023)),
				    _mm256_and_si256(normal, _mm256_set1_epi32(1024)));
		/* The exponent (ex - 1, or 0 below normal) less the base; a zero's is 0. */
		sh = _mm256_max_epi32(_mm256_sub_epi32(_mm256_max_epi32(ex, one), b1),
				      _mm256_setzero_si256());
		neg = _mm256_srai_epi32(_mm256_slli_epi32(h, 16), 31);
		m = _mm256_sllv_epi32(m, sh);
		_mm256_storeu_si256((__m256i *)(d + i), _mm256_sub_epi32(_mm256_xor_si256(m, neg), neg));
	}
}

/*
 * Output @n's binary16s (d, and dmin with F_MIN) into @c, @groups rounded
 * up to 8 of each (zero past the last). 1 for an infinity or NaN (the
 * firmware reports it), 2 when the exponents of nonzero values spread
 * past @lim.
 */
static int MMB(g1_col)(const struct npu_fw_matmul_block *mb, uint32_t n, uint32_t groups,
		       int lim, struct g1_col *c)
{
	const uint8_t *rec = mb->records + (uint64_t)n * mb->record_bytes;
	int min = !!(mb->flags & DRM_NPU_BLOCK_F_MIN);
	__m256i lo = _mm256_set1_epi16(-1), hi = _mm256_setzero_si256();
	__m128i l, h;
	int32_t el, eh;

	MMB(half_range)(rec, groups, &lo, &hi);
	if (min)
		MMB(half_range)(rec + mb->dmin_off, groups, &lo, &hi);
	l = _mm_min_epu16(_mm256_castsi256_si128(lo), _mm256_extracti128_si256(lo, 1));
	h = _mm_max_epu16(_mm256_castsi256_si128(hi), _mm256_extracti128_si256(hi, 1));
	/* The greatest as the least of its complements. */
	h = _mm_minpos_epu16(_mm_xor_si128(h, _mm_set1_epi16(-1)));
	eh = (int32_t)(~_mm_cvtsi128_si32(h) & 0xffff);
	if (eh >= 0x7c00)
		return 1;
	el = (int32_t)(_mm_cvtsi128_si32(_mm_minpos_epu16(l)) & 0xffff);
	/* Exponents as half() takes them: the field less 1, 0 below normal. */
	el = el == 0xffff ? 0 : (el >> 10) > 1 ? (el >> 10) - 1 : 0;
	eh = (eh >> 10) > 1 ? (eh >> 10) - 1 : 0;
	if (eh - el > lim)
		return 2;
	MMB(half_ints)(rec, groups, el, c->dm);
	if (min)
		MMB(half_ints)(rec + mb->dmin_off, groups, el, c->mm);
	c->base = el;
	return 0;
}

/* @acc + @s * @d for 4 int64 lanes of the even int32 lanes of @s and @d. */
static inline __m256i MMB(scale_even)(__m256i acc, __m256i s, __m256i d)
{
	return _mm256_add_epi64(acc, _mm256_mul_epi32(s, d));
}

/* The same for the odd lanes. */
static inline __m256i MMB(scale_odd)(__m256i acc, __m256i s, __m256i d)
{
	return _mm256_add_epi64(acc, _mm256_mul_epi32(_mm256_srli_epi64(s, 32),
						      _mm256_srli_epi64(d, 32)));
}

static inline int32_t MMB(hsum32)(__m256i v)
{
	__m128i t = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));

	t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
	return _mm_cvtsi128_si32(_mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1)));
}

/* A group's 32 codes as bytes; 4-bit ones in the prepared order: even columns, then odd. */
static inline __m256i MMB(codes8)(const uint8_t *w, uint32_t bits, uint32_t j)
{
	__m256i v;

	if (bits == 8)
		return _mm256_loadu_si256((const __m256i *)(w + 32 * j));
	v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(w + 16 * j)));
	v = _mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4));
	return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

/*
 * Group @j's products with int8 activations @x8, in 8 int32 lanes: with
 * VNNI the codes as unsigned bytes (the caller subtracts zero * sum(x));
 * without, 4-bit codes likewise, 8-bit ones as code - 128 through
 * vpmaddubsw's unsigned side as magnitudes, their signs moved onto x (|x|
 * <= 127: no pair's sum saturates), the caller adding (128 - zero) * sum(x).
 */
static inline __m256i MMB(dot8)(const uint8_t *w, uint32_t bits, const int8_t *x8, uint32_t j)
{
	__m256i c = MMB(codes8)(w, bits, j);
	__m256i x = _mm256_loadu_si256((const __m256i *)(x8 + 32 * j));

#if MMB_VNNI
	return MMB_DPBUSD(_mm256_setzero_si256(), c, x);
#else
	if (bits == 8) {
		__m256i q = _mm256_xor_si256(c, _mm256_set1_epi8((char)0x80));

		c = _mm256_abs_epi8(q);
		x = _mm256_sign_epi8(x, q);
	}
	return _mm256_madd_epi16(_mm256_maddubs_epi16(c, x), _mm256_set1_epi16(1));
#endif
}

/*
 * 4-bit groups @j and @j + 1 against int8 activations prepared in pairs
 * (npu_mmb_prep.x8): one load of their 32 bytes, whose low nibbles are
 * both groups' even columns and high nibbles their odd ones. Lanes 0-3
 * hold group @j's products, 4-7 group @j + 1's.
 */
static inline __m256i MMB(dot8_pair)(const uint8_t *w, const int8_t *x8, uint32_t j)
{
	__m256i c = _mm256_loadu_si256((const __m256i *)(w + 16 * j));
	__m256i lo = _mm256_and_si256(c, _mm256_set1_epi8(0x0f));
	__m256i hi = _mm256_and_si256(_mm256_srli_epi16(c, 4), _mm256_set1_epi8(0x0f));
	__m256i xe = _mm256_loadu_si256((const __m256i *)(x8 + 32 * j));
	__m256i xo = _mm256_loadu_si256((const __m256i *)(x8 + 32 * j + 32));

#if MMB_VNNI
	return MMB_DPBUSD(MMB_DPBUSD(_mm256_setzero_si256(), lo, xe), hi, xo);
#else
	return _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(lo, xe),
						  _mm256_maddubs_epi16(hi, xo)),
				 _mm256_set1_epi16(1));
#endif
}

/* Eight groups' sums, in order, from four dot8_pair()s. */
static inline __m256i MMB(reduce_pairs)(__m256i a, __m256i b, __m256i c, __m256i d)
{
	__m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));

	/* t holds groups 0, 2, 4, 6 | 1, 3, 5, 7. */
	return _mm256_permutevar8x32_epi32(t, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* Group @j's codes minus @zero as int16, its first and second 16. */
static inline void MMB(codes16)(const uint8_t *w, uint32_t bits, __m256i zero, uint32_t j,
				__m256i *a, __m256i *b)
{
	__m256i c = MMB(codes8)(w, bits, j);

	*a = _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm256_castsi256_si128(c)), zero);
	*b = _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm256_extracti128_si256(c, 1)), zero);
}

/* @acc + the pairwise products of int16 @a and @b, in int32 lanes. */
static inline __m256i MMB(madd)(__m256i acc, __m256i a, __m256i b)
{
#if MMB_VNNI
	return MMB_DPWSSD(acc, a, b);
#else
	return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
#endif
}

/* Group @j's products with int16 activations @x16, in 8 int32 lanes. */
static inline __m256i MMB(dot16)(const uint8_t *w, uint32_t bits, __m256i zero,
				 const int16_t *x16, uint32_t j)
{
	const __m256i *x = (const __m256i *)(x16 + 32 * j);
	__m256i a, b;

	MMB(codes16)(w, bits, zero, j, &a, &b);
	return MMB(madd)(MMB(madd)(_mm256_setzero_si256(), a, _mm256_loadu_si256(x)), b,
			 _mm256_loadu_si256(x + 1));
}

/* Group @j's products with row @x8 (int8, with @use8) or @x16. */
#define MMB_DOT(j) (use8 ? MMB(dot8)(w, bits, x8, j) : MMB(dot16)(w, bits, zero16, x16, j))

/* @s (8 groups' sums from @j) scaled into @even and @odd. */
#define MMB_SCALE(j) do {							\
	if (use8)								\
		s = _mm256_add_epi32(s, _mm256_mullo_epi32(corr, _mm256_loadu_si256(	\
			(const __m256i *)(xsum + (j)))));			\
	d = _mm256_loadu_si256((const __m256i *)(c->dm + (j)));		\
	even = MMB(scale_even)(even, s, d);					\
	odd = MMB(scale_odd)(odd, s, d);					\
} while (0)

/*
 * Row @r's sum with output @n (codes @w, binary16s @c), before the base's
 * shift; @bits and @use8 (int8 activations) constants where it is inlined.
 */
static inline __attribute__((always_inline)) int64_t
MMB(g1_row)(const struct npu_fw_matmul_block *mb, const struct npu_mmb_prep *p, const uint8_t *w,
	    const struct g1_col *c, uint32_t r, const uint32_t bits, const int use8)
{
	uint32_t groups = mb->k / 32, j, i;
	const int8_t *x8 = use8 ? p->x8 + (uint64_t)r * mb->k : NULL;
	const int16_t *x16 = p->x16 + (uint64_t)r * mb->k;
	const int32_t *xsum = p->xsum + (uint64_t)r * (groups + 8);
	const int32_t *xs = mb->flags & DRM_NPU_BLOCK_F_MIN ? mb->xs + (uint64_t)r * groups : NULL;
	__m256i zero16 = _mm256_set1_epi16((int16_t)mb->zero), even = _mm256_setzero_si256();
	__m256i odd = even, v[8], s, d;
	/* What the int8 products leave out: corr * sum(x) of each group. */
#if MMB_VNNI
	__m256i corr = _mm256_set1_epi32(-(int32_t)mb->zero);
#else
	__m256i corr = _mm256_set1_epi32(bits == 8 ? 128 - (int32_t)mb->zero :
					 -(int32_t)mb->zero);
#endif

	for (j = 0; j + 8 <= groups; j += 8) {
		if (use8 && bits == 4)
			s = MMB(reduce_pairs)(MMB(dot8_pair)(w, x8, j), MMB(dot8_pair)(w, x8, j + 2),
					      MMB(dot8_pair)(w, x8, j + 4),
					      MMB(dot8_pair)(w, x8, j + 6));
		else
			s = reduce8(MMB_DOT(j), MMB_DOT(j + 1), MMB_DOT(j + 2), MMB_DOT(j + 3),
					 MMB_DOT(j + 4), MMB_DOT(j + 5), MMB_DOT(j + 6),
					 MMB_DOT(j + 7));
		MMB_SCALE(j);
	}
	if (j < groups) {
		for (i = 0; i < 8; i++)
			v[i] = j + i < groups ? MMB_DOT(j + i) : _mm256_setzero_si256();
		s = reduce8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
		MMB_SCALE(j);
	}
	/* The mins' term: dmin * sum(x) of each group, subtracted. */
	for (j = 0; xs && j < groups; j++)
		even = _mm256_sub_epi64(even, _mm256_set_epi64x(0, 0, 0, (int64_t)c->mm[j] * xs[j]));
	return hsum4(_mm256_add_epi64(even, odd));
}

#undef MMB_DOT
#undef MMB_SCALE

/* g1_row() for each code width and activation type, each compiled on its own. */
static int64_t MMB(g1_row_any)(const struct npu_fw_matmul_block *mb,
			       const struct npu_mmb_prep *p, const uint8_t *w,
			       const struct g1_col *c, uint32_t r)
{
	if (mb->w_bits == 8)
		return p->x8 ? MMB(g1_row)(mb, p, w, c, r, 8, 1) : MMB(g1_row)(mb, p, w, c, r, 8, 0);
	return p->x8 ? MMB(g1_row)(mb, p, w, c, r, 4, 1) : MMB(g1_row)(mb, p, w, c, r, 4, 0);
}

/* @v (8 int32 lanes) * @d as int64: even lanes added to @e, odd to @o. */
static inline void MMB(gemm_scale)(__m256i *e, __m256i *o, __m256i v, int32_t d)
{
	__m256i dv = _mm256_set1_epi32(d);

	*e = _mm256_add_epi64(*e, _mm256_mul_epi32(v, dv));
	*o = _mm256_add_epi64(*o, _mm256_mul_epi32(_mm256_srli_epi64(v, 32), dv));
}

/* Rows 0-7 of int64 lanes @e (rows 0, 2, 4, 6) and @o (1, 3, 5, 7) into @out. */
static inline void MMB(gemm_rows)(__m256i e, __m256i o, int64_t *out)
{
	__m256i lo = _mm256_unpacklo_epi64(e, o), hi = _mm256_unpackhi_epi64(e, o);

	/* unpack works within 128-bit halves: lo is rows 0 1 4 5, hi rows 2 3 6 7. */
	_mm256_storeu_si256((__m256i *)out, _mm256_permute2x128_si256(lo, hi, 0x20));
	_mm256_storeu_si256((__m256i *)(out + 4), _mm256_permute2x128_si256(lo, hi, 0x31));
}

/*
 * The GEMM's group @j of 8 rows: @sum[o] (int32 lanes, a row each) of
 * every output scaled into @e[o] and @od[o], and the mins' term taken off
 * (@xsp: the rows' sums of x, with F_MIN).
 */
static inline __attribute__((always_inline)) void MMB(gemm_group)(__m256i *e, __m256i *od, const __m256i *sum,
				   const struct g1_col *const *cc, uint32_t j, const int32_t *xsp,
				   int min, uint32_t cols)
{
	uint32_t o;

	for (o = 0; o < NPU_MMB_GEMM_COLS; o++)
		MMB(gemm_scale)(&e[o], &od[o], sum[o], cc[o]->dm[j]);
	for (o = 0; min && o < cols; o++)
		MMB(gemm_scale)(&e[o], &od[o], _mm256_loadu_si256((const __m256i *)(xsp + 8 * j)),
				-cc[o]->mm[j]);
}

/* The GEMM's rows from 8 * @rb of each output, into acc. */
static inline void MMB(gemm_store)(const struct npu_fw_matmul_block *mb, const __m256i *e,
				   const __m256i *od, const struct g1_col *const *cc,
				   const uint32_t *outs, uint32_t cols, uint32_t rb)
{
	int64_t out[8];
	uint32_t o, r;

	for (o = 0; o < cols; o++) {
		MMB(gemm_rows)(e[o], od[o], out);
		for (r = 0; r < 8 && rb * 8 + r < mb->rows; r++)
			mb->acc[(uint64_t)(rb * 8 + r) * mb->n + outs[o]] =
				shl128(out[r], (uint32_t)cc[o]->base);
	}
}

/* Output @n's codes minus zero as int16, in the prepared order, into @q16. */
static void MMB(g1_decode)(const struct npu_fw_matmul_block *mb, uint32_t n, int16_t *q16)
{
	const uint8_t *w = mb->w + (uint64_t)n * mb->w_stride;
	__m256i zero = _mm256_set1_epi16((int16_t)mb->zero), a, b;
	uint32_t j;

	for (j = 0; j < mb->k / 32; j++) {
		MMB(codes16)(w, mb->w_bits, zero, j, &a, &b);
		_mm256_storeu_si256((__m256i *)(q16 + 32 * j), a);
		_mm256_storeu_si256((__m256i *)(q16 + 32 * j + 16), b);
	}
}

#if MMB_VNNI
/*
 * Output @n's codes minus zero as int8 (npu_mmb_prep.xp8 says they fit),
 * in the prepared order, at @q8, and each group's sum of them after
 * (k / 4 words on).
 */
static void MMB(g1_decode8)(const struct npu_fw_matmul_block *mb, uint32_t n, int8_t *q8)
{
	const uint8_t *w = mb->w + (uint64_t)n * mb->w_stride;
	__m256i zero = _mm256_set1_epi8((char)mb->zero), ones = _mm256_set1_epi8(1);
	int32_t *qsum = (int32_t *)q8 + mb->k / 4;
	uint32_t j;

	for (j = 0; j < mb->k / 32; j++) {
		__m256i q = _mm256_sub_epi8(MMB(codes8)(w, mb->w_bits, j), zero);

		_mm256_storeu_si256((__m256i *)(q8 + 32 * j), q);
		/* sum(q): its bytes against ones, then across the lanes. */
		qsum[j] = MMB(hsum32)(MMB_DPBUSD(_mm256_setzero_si256(), ones, q));
	}
}

#endif

/* @acc + x * q: int8 (x + 128 unsigned, q signed) with @use8, else int16 pairs. */
#if MMB_VNNI
#define MMB_STEP(acc, x, q) (use8 ? MMB_DPBUSD(acc, x, q) : MMB(madd)(acc, x, q))
#else
#define MMB_STEP(acc, x, q) MMB(madd)(acc, x, q)
#endif

/*
 * Outputs @outs[0..@cols) (binary16s @c[o], codes at @q16 + o * k int16s;
 * @cols 1 to NPU_MMB_GEMM_COLS) by the GEMM, 8 rows at a time: each step
 * multiplies 4 bytes of each of 8 rows (2 int16 columns, or 4 int8 ones
 * with @use8: npu_mmb_prep.xp8, the codes from g1_decode8) by a broadcast
 * of the same columns' codes of each output. Two chains an output hide
 * the multiply-add's latency; missing outputs repeat the first, not stored.
 */
static inline __attribute__((always_inline)) void
MMB(g1_gemm)(const struct npu_fw_matmul_block *mb, const struct npu_mmb_prep *p,
	     const struct g1_col *c, const uint32_t *outs, uint32_t cols, const int16_t *q16,
	     const int use8)
{
	/* Steps of 4 bytes a group: 32 columns of int8 or int16. */
	const uint32_t steps = use8 ? 8 : 16;
	uint32_t groups = mb->k / 32, rb, j, s, o;
	int min = !!(mb->flags & DRM_NPU_BLOCK_F_MIN);
	const struct g1_col *cc[NPU_MMB_GEMM_COLS];
	const uint8_t *q[NPU_MMB_GEMM_COLS];
	const int32_t *qs[NPU_MMB_GEMM_COLS];

	for (o = 0; o < NPU_MMB_GEMM_COLS; o++) {
		cc[o] = &c[o < cols ? o : 0];
		q[o] = (const uint8_t *)(q16 + (uint64_t)(o < cols ? o : 0) * mb->k);
		qs[o] = (const int32_t *)q[o] + mb->k / 4;
	}
	for (rb = 0; rb < (mb->rows + 7) / 8; rb++) {
		const __m256i *xp = (const __m256i *)((use8 ? (const uint8_t *)p->xp8 :
							       (const uint8_t *)p->xp) +
						      (uint64_t)rb * mb->k * 8 * (use8 ? 1 : 2));
		const int32_t *xsp = p->xsp + (uint64_t)rb * groups * 8;
		__m256i e[NPU_MMB_GEMM_COLS], od[NPU_MMB_GEMM_COLS], sum[NPU_MMB_GEMM_COLS];

		for (o = 0; o < NPU_MMB_GEMM_COLS; o++)
			e[o] = od[o] = _mm256_setzero_si256();
		for (j = 0; j < groups; j++) {
			__m256i a0 = _mm256_setzero_si256(), b0 = a0, a1 = a0, b1 = a0;
			__m256i a2 = a0, b2 = a0, a3 = a0, b3 = a0;
			const uint8_t *q0 = q[0] + 4 * steps * j, *q1 = q[1] + 4 * steps * j;
			const uint8_t *q2 = q[2] + 4 * steps * j, *q3 = q[3] + 4 * steps * j;

			for (s = 0; s < steps; s += 2) {
				__m256i x = _mm256_loadu_si256(xp + steps * j + s);
				__m256i y = _mm256_loadu_si256(xp + steps * j + s + 1);

#define MMB_WORD(qo, i) _mm256_broadcastd_epi32(_mm_loadu_si32((qo) + 4 * (s + (i))))
				a0 = MMB_STEP(a0, x, MMB_WORD(q0, 0));
				b0 = MMB_STEP(b0, y, MMB_WORD(q0, 1));
				a1 = MMB_STEP(a1, x, MMB_WORD(q1, 0));
				b1 = MMB_STEP(b1, y, MMB_WORD(q1, 1));
				a2 = MMB_STEP(a2, x, MMB_WORD(q2, 0));
				b2 = MMB_STEP(b2, y, MMB_WORD(q2, 1));
				a3 = MMB_STEP(a3, x, MMB_WORD(q3, 0));
				b3 = MMB_STEP(b3, y, MMB_WORD(q3, 1));
#undef MMB_WORD
			}
			sum[0] = _mm256_add_epi32(a0, b0);
			sum[1] = _mm256_add_epi32(a1, b1);
			sum[2] = _mm256_add_epi32(a2, b2);
			sum[3] = _mm256_add_epi32(a3, b3);
			/* x + 128 added 128 * sum(q) of each output's group. */
			for (o = 0; use8 && o < NPU_MMB_GEMM_COLS; o++)
				sum[o] = _mm256_sub_epi32(sum[o], _mm256_set1_epi32(128 * qs[o][j]));
			MMB(gemm_group)(e, od, sum, cc, j, xsp, min, cols);
		}
		MMB(gemm_store)(mb, e, od, cc, outs, cols, rb);
	}
}

#undef MMB_STEP

/* The GEMM the activations were prepared for, compiled for each. */
static void MMB(gemm)(const struct npu_fw_matmul_block *mb, const struct npu_mmb_prep *p,
		      const struct g1_col *c, const uint32_t *outs, uint32_t cols,
		      const int16_t *q16)
{
	if (MMB_VNNI && p->xp8)
		MMB(g1_gemm)(mb, p, c, outs, cols, q16, 1);
	else
		MMB(g1_gemm)(mb, p, c, outs, cols, q16, 0);
}

int MMB(npu_mm_block_g1)(const struct npu_fw_matmul_block *mb, const struct npu_mmb_prep *p,
			 int thread, uint32_t n0, uint32_t n1)
{
	uint32_t groups = mb->k / 32, r, n, o, cols = 0, outs[NPU_MMB_GEMM_COLS];
	int32_t *scratch = p->scratch + (uint64_t)thread * p->scratch_words;
	int16_t *q16 = (int16_t *)(scratch + 2 * NPU_MMB_GEMM_COLS * (groups + 8));
	struct g1_col c[NPU_MMB_GEMM_COLS];
	int st;

	for (o = 0; o < NPU_MMB_GEMM_COLS; o++) {
		int32_t *base = scratch + (uint64_t)o * 2 * (groups + 8);

		c[o] = (struct g1_col){ base, base + groups + 8, 0 };
	}
	for (n = n0; n < n1; n++) {
		/* An output the window cannot take goes to the general kernel alone. */
		st = MMB(g1_col)(mb, n, groups, p->lim, &c[cols]);
		if (st == 1 || (st == 2 && npu_mm_block_avx2(mb, p->x16_fw, n, n + 1)))
			return 1;
		if (st)
			continue;
		if (!p->gemm) {
			const uint8_t *w = mb->w + (uint64_t)n * mb->w_stride;

			for (r = 0; r < mb->rows; r++)
				mb->acc[(uint64_t)r * mb->n + n] = shl128(
					MMB(g1_row_any)(mb, p, w, &c[0], r), (uint32_t)c[0].base);
			continue;
		}
#if MMB_VNNI
		if (p->xp8)
			MMB(g1_decode8)(mb, n, (int8_t *)(q16 + (uint64_t)cols * mb->k));
		else
#endif
			MMB(g1_decode)(mb, n, q16 + (uint64_t)cols * mb->k);
		outs[cols++] = n;
		if (cols == NPU_MMB_GEMM_COLS) {
			MMB(gemm)(mb, p, c, outs, cols, q16);
			cols = 0;
		}
	}
	if (cols)
		MMB(gemm)(mb, p, c, outs, cols, q16);
	return 0;
}
