// SPDX-License-Identifier: MIT
/*
 * The AVX-512 VNNI GEMMs: prefill, 16 or more rows of activations packed
 * 16 rows by 4 columns (npu_mm_avx512_prepare), each weight word broadcast
 * against them. Int8 weights in one group per row take them as they lie;
 * the others are unpacked a chunk at a time. The sums' corrections are
 * those of mm_avx512.c.
 */
#include <immintrin.h>
#include <string.h>

#include "x86.h"
#include "mask_avx512.h"
#include "widen_avx512.h"

/* ---- GEMM: int8 weights, one group per row, 16 or more rows ------------ */

/* sum(w[0..k)), for the x ^ 0x80 correction. */
static int64_t row_sum_s8(const uint8_t *w, uint32_t k)
{
	const __m512i ones = _mm512_set1_epi8(1);
	__m512i sw = _mm512_setzero_si512();
	uint32_t c;

	for (c = 0; c < k; c += 64) {
		__mmask64 m = first64(k - c);

		sw = _mm512_dpbusd_epi32(sw, ones, _mm512_maskz_loadu_epi8(m, w + c));
	}
	return hsum(sw);
}

/* One weight word (4 columns of a row) in every lane. */
static inline __m512i bcast4(const uint8_t *p)
{
	int32_t d;

	memcpy(&d, p, 4);
	return _mm512_set1_epi32(d);
}

#define DP(c, a, b) ((c) = _mm512_dpbusd_epi32((c), (a), (b)))

/* Rows r0.. of column n from 16 lanes of sums: (sum - 128 * sum(w)) * f. */
static void put16(const struct npu_fw_matmul *mm, __m512i acc, uint32_t r0, uint32_t n,
		  int64_t corr)
{
	uint32_t i, valid = mm->rows - r0 < 16 ? mm->rows - r0 : 16;
	int64_t f = mm->factors[n];
	int32_t lanes[16];

	_mm512_storeu_si512(lanes, acc);
	for (i = 0; i < valid; i++)
		mm->v[(uint64_t)(r0 + i) * mm->n + n] = ((int64_t)lanes[i] - corr) * f;
}

/*
 * 64 rows by 6 columns over columns [k0, k0 + kc) of k, 24 accumulators in
 * registers, carried between chunks in @part: each step loads 4 packed
 * activation vectors and broadcasts one word of each of 6 weight rows,
 * for 24 vpdpbusd. The weights are read straight from their rows.
 */
static void tile64x6(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p, uint32_t r0,
		     uint32_t n, uint32_t k0, uint32_t kc, __m512i *part)
{
	const uint64_t blk = (uint64_t)16 * mm->k;
	const uint8_t *a = p->xp + (uint64_t)(r0 / 16) * blk;
	const uint8_t *w0 = mm->w + (uint64_t)n * mm->w_stride, *w1 = w0 + mm->w_stride;
	const uint8_t *w2 = w1 + mm->w_stride, *w3 = w2 + mm->w_stride;
	const uint8_t *w4 = w3 + mm->w_stride, *w5 = w4 + mm->w_stride;
	__m512i c00 = part[0], c01 = part[1], c02 = part[2], c03 = part[3], c04 = part[4];
	__m512i c05 = part[5], c10 = part[6], c11 = part[7], c12 = part[8], c13 = part[9];
	__m512i c14 = part[10], c15 = part[11], c20 = part[12], c21 = part[13], c22 = part[14];
	__m512i c23 = part[15], c24 = part[16], c25 = part[17], c30 = part[18], c31 = part[19];
	__m512i c32 = part[20], c33 = part[21], c34 = part[22], c35 = part[23];
	uint32_t kk;

	for (kk = k0; kk < k0 + kc; kk += 4) {
		const uint8_t *ak = a + (uint64_t)kk * 16;
		__m512i a0 = _mm512_loadu_si512(ak), a1 = _mm512_loadu_si512(ak + blk);
		__m512i a2 = _mm512_loadu_si512(ak + 2 * blk), a3 = _mm512_loadu_si512(ak + 3 * blk);
		__m512i b;

		b = bcast4(w0 + kk);
		DP(c00, a0, b); DP(c10, a1, b); DP(c20, a2, b); DP(c30, a3, b);
		b = bcast4(w1 + kk);
		DP(c01, a0, b); DP(c11, a1, b); DP(c21, a2, b); DP(c31, a3, b);
		b = bcast4(w2 + kk);
		DP(c02, a0, b); DP(c12, a1, b); DP(c22, a2, b); DP(c32, a3, b);
		b = bcast4(w3 + kk);
		DP(c03, a0, b); DP(c13, a1, b); DP(c23, a2, b); DP(c33, a3, b);
		b = bcast4(w4 + kk);
		DP(c04, a0, b); DP(c14, a1, b); DP(c24, a2, b); DP(c34, a3, b);
		b = bcast4(w5 + kk);
		DP(c05, a0, b); DP(c15, a1, b); DP(c25, a2, b); DP(c35, a3, b);
	}
	part[0] = c00, part[1] = c01, part[2] = c02, part[3] = c03, part[4] = c04;
	part[5] = c05, part[6] = c10, part[7] = c11, part[8] = c12, part[9] = c13;
	part[10] = c14, part[11] = c15, part[12] = c20, part[13] = c21, part[14] = c22;
	part[15] = c23, part[16] = c24, part[17] = c25, part[18] = c30, part[19] = c31;
	part[20] = c32, part[21] = c33, part[22] = c34, part[23] = c35;
}

/* The same for 16 rows (the rows a 64-row tile leaves) and 1..6 columns. */
static void tile16(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p, uint32_t r0,
		   uint32_t n, uint32_t cols, const int64_t *corr)
{
	const uint8_t *a = p->xp + (uint64_t)(r0 / 16) * 16 * mm->k;
	const uint8_t *w = mm->w + (uint64_t)n * mm->w_stride;
	const uint64_t ws = mm->w_stride;
	__m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
	uint32_t kk;

	for (kk = 0; kk < mm->k; kk += 4) {
		__m512i a0 = _mm512_loadu_si512(a + (uint64_t)kk * 16);

		DP(c0, a0, bcast4(w + kk));
		if (cols > 1)
			DP(c1, a0, bcast4(w + ws + kk));
		if (cols > 2)
			DP(c2, a0, bcast4(w + 2 * ws + kk));
		if (cols > 3)
			DP(c3, a0, bcast4(w + 3 * ws + kk));
		if (cols > 4)
			DP(c4, a0, bcast4(w + 4 * ws + kk));
		if (cols > 5)
			DP(c5, a0, bcast4(w + 5 * ws + kk));
	}
	put16(mm, c0, r0, n, corr[0]);
	if (cols > 1)
		put16(mm, c1, r0, n + 1, corr[1]);
	if (cols > 2)
		put16(mm, c2, r0, n + 2, corr[2]);
	if (cols > 3)
		put16(mm, c3, r0, n + 3, corr[3]);
	if (cols > 4)
		put16(mm, c4, r0, n + 4, corr[4]);
	if (cols > 5)
		put16(mm, c5, r0, n + 5, corr[5]);
}

/*
 * The GEMM's blocking: GEMM_TILES tiles of 6 columns share each chunk of
 * GEMM_KC columns of k of 64 rows of activations (8 KiB, in L1) and keep
 * their sums between chunks on the stack (12 KiB); the next chunk's
 * weights stream in behind.
 */
#define GEMM_KC 128
#define GEMM_TILES 8

/*
 * The sums of @tiles 64-row tiles from row @r0 and column @n, with their
 * corrections @corr: each row's columns gathered first, then written
 * whole. v's rows are far apart (often a multiple of 4 KiB, one cache
 * set), and writing them a column at a time missed the cache at nearly
 * every value.
 */
static void put_tiles(const struct npu_fw_matmul *mm, __m512i (*part)[24], uint32_t tiles,
		      uint32_t r0, uint32_t n, const int64_t *corr)
{
	int64_t rows[16][GEMM_TILES * 6];
	int32_t lanes[16];
	uint32_t blk, t, c, i;

	for (blk = 0; blk < 4 && r0 + 16 * blk < mm->rows; blk++) {
		uint32_t r = r0 + 16 * blk, valid = mm->rows - r < 16 ? mm->rows - r : 16;

		for (t = 0; t < tiles; t++)
			for (c = 0; c < 6; c++) {
				int64_t f = mm->factors[n + 6 * t + c], k = corr[6 * t + c];

				_mm512_storeu_si512(lanes, part[t][6 * blk + c]);
				for (i = 0; i < 16; i++)
					rows[i][6 * t + c] = ((int64_t)lanes[i] - k) * f;
			}
		for (i = 0; i < valid; i++)
			memcpy(mm->v + (uint64_t)(r + i) * mm->n + n, rows[i], tiles * 6 * 8);
	}
}

void npu_mm_gemm_avx512(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p, uint32_t n0,
			uint32_t n1)
{
	uint32_t blocks = (mm->rows + 15) / 16, n, b, j, t, k0;
	__m512i part[GEMM_TILES][24];
	int64_t corr[GEMM_TILES * 6];

	for (n = n0; n < n1; n += GEMM_TILES * 6) {
		uint32_t cols = n1 - n < GEMM_TILES * 6 ? n1 - n : GEMM_TILES * 6;
		uint32_t tiles = cols / 6;

		for (j = 0; j < cols; j++)
			corr[j] = 128 * row_sum_s8(mm->w + (uint64_t)(n + j) * mm->w_stride, mm->k);
		for (b = 0; tiles && b + 4 <= blocks; b += 4) {
			memset(part, 0, sizeof(part));
			for (k0 = 0; k0 < mm->k; k0 += GEMM_KC)
				for (t = 0; t < tiles; t++)
					tile64x6(mm, p, b * 16, n + 6 * t, k0,
						 mm->k - k0 < GEMM_KC ? mm->k - k0 : GEMM_KC, part[t]);
			put_tiles(mm, part, tiles, b * 16, n, corr);
		}
		/* Rows the 64-row tiles left, and columns past the last 6. */
		for (t = 0; t < (cols + 5) / 6; t++) {
			uint32_t c = cols - 6 * t < 6 ? cols - 6 * t : 6;

			for (j = t < tiles ? b : 0; j < blocks; j++)
				tile16(mm, p, j * 16, n + 6 * t, c, corr + 6 * t);
		}
	}
}

/* ---- GEMM: weights unpacked in chunks, 16 or more rows ---------------- */

/*
 * The unpacked GEMM's blocking: UNPACK_COLS weight rows are unpacked
 * UNPACK_KC columns of k at a time (whole groups) into a chunk that up to
 * UNPACK_BLOCKS blocks of 16 activation rows then share, their sums kept
 * between chunks on the stack.
 */
#define UNPACK_COLS 6
#define UNPACK_KC 256
#define UNPACK_BLOCKS 8

/*
 * A chunk of UNPACK_COLS weight rows, unpacked so that each 4 bytes are
 * one step's broadcast operand: with int8 x, int4 nibbles n ^ 8 = w + 8 as
 * bytes (4 columns of k a step); with int16 x, w as int16 (2 columns). A
 * tile's columns past the matrix's last keep what they held: their sums
 * are computed and never stored.
 */
struct unpacked_chunk {
	uint8_t w[UNPACK_COLS][UNPACK_KC * 2] __attribute__((aligned(64)));
	int32_t f[UNPACK_COLS][UNPACK_KC / 4];	/* each sum group's factor */
};

/* Up to 32 weight bytes from @w, @left of them there. */
static inline __m256i load32(const uint8_t *w, uint32_t left)
{
	return _mm256_maskz_loadu_epi8(first32(left), w);
}

static void unpack_chunk(const struct npu_fw_matmul *mm, uint32_t n, uint32_t cols, uint32_t k0,
			 uint32_t kc, struct unpacked_chunk *ch)
{
	const uint32_t gpr = mm->groups_per_row, g = mm->k / gpr, sg = npu_mm_sum_group(mm);
	const uint32_t bytes = kc * mm->w_bits / 8;
	uint32_t c, i, j;

	for (c = 0; c < cols; c++) {
		const uint8_t *w = mm->w + (uint64_t)(n + c) * mm->w_stride + k0 * mm->w_bits / 8;
		const uint16_t *f = mm->factors + (uint64_t)(n + c) * gpr;

		for (j = 0; j < (kc + sg - 1) / sg; j++)
			ch->f[c][j] = f[k0 / g + j];
		for (i = 0; i < bytes; i += 32) {
			__m256i b = load32(w + i, bytes - i);

			if (mm->w_bits == 8) {
				_mm512_store_si512(ch->w[c] + 2 * i, _mm512_cvtepi8_epi16(b));
			} else if (mm->x_bits == 8) {
				/* Bytes n_lo ^ 8, n_hi ^ 8 from each 16-bit lane's byte. */
				__m512i v = _mm512_cvtepu8_epi16(b);

				v = _mm512_and_si512(_mm512_or_si512(v, _mm512_slli_epi16(v, 4)),
						     _mm512_set1_epi16(0x0f0f));
				_mm512_store_si512(ch->w[c] + 2 * i,
						   _mm512_xor_si512(v, _mm512_set1_epi16(0x0808)));
			} else {
				/*
				 * Each 32-bit lane's byte to its two nibbles at the top of
				 * its 16-bit halves, then sign-extended in place.
				 */
				int h;

				for (h = 0; h < 2; h++) {
					__m512i v = _mm512_cvtepu8_epi32(h ? _mm256_extracti128_si256(b, 1) :
									 _mm256_castsi256_si128(b));

					v = _mm512_or_si512(_mm512_slli_epi32(v, 12),
							    _mm512_slli_epi32(v, 24));
					_mm512_store_si512(ch->w[c] + 4 * i + 64 * h,
							   _mm512_srai_epi16(v, 12));
				}
			}
		}
	}
}

/*
 * One block of 16 activation rows against @kc columns of a chunk, in sum
 * groups of @g: six columns' int32 sums in registers (int8 x against int4
 * weights starting at -8 * sum(x) over the group, which takes out the + 8
 * of the weights), each group's times its factor into 64-bit sums of the
 * even (@part[c]) and odd (@part[6 + c]) rows. @a is the block's packed
 * activations at the chunk, 64 bytes a step.
 */
static inline __attribute__((always_inline)) void
unpacked_block(const uint8_t *a, const int32_t *nsx, const struct unpacked_chunk *ch, uint32_t kc,
	       uint32_t g, int wide, __m512i *part)
{
	const uint32_t steps = wide ? g / 2 : g / 4;
	__m512i e0 = part[0], e1 = part[1], e2 = part[2], e3 = part[3], e4 = part[4];
	__m512i e5 = part[5], o0 = part[6], o1 = part[7], o2 = part[8], o3 = part[9];
	__m512i o4 = part[10], o5 = part[11];
	const uint8_t *w = ch->w[0];
	uint32_t j, s;

	for (j = 0; j < kc / g; j++) {
		__m512i c0 = wide ? _mm512_setzero_si512() : _mm512_loadu_si512(nsx + 16 * j);
		__m512i c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, f;

		for (s = 0; s < steps; s++, a += 64, w += 4) {
			__m512i x = _mm512_loadu_si512(a);

/* Column col's sums += its weight word times x: int16 pairs, or 4 bytes. */
#define STEP(c, col)                                                                          \
	((c) = wide ? _mm512_dpwssd_epi32((c), x, bcast4(w + UNPACK_KC * 2 * (col))) :        \
		      _mm512_dpbusd_epi32((c), bcast4(w + UNPACK_KC * 2 * (col)), x))
			STEP(c0, 0);
			STEP(c1, 1);
			STEP(c2, 2);
			STEP(c3, 3);
			STEP(c4, 4);
			STEP(c5, 5);
#undef STEP
		}
#define SCALE(c, e, o, col)                                                                   \
	do {                                                                                  \
		f = _mm512_set1_epi32(ch->f[col][j]);                                         \
		e = _mm512_add_epi64(e, _mm512_mul_epi32(c, f));                              \
		o = _mm512_add_epi64(o, _mm512_mul_epi32(_mm512_srli_epi64(c, 32), f));       \
	} while (0)
		SCALE(c0, e0, o0, 0);
		SCALE(c1, e1, o1, 1);
		SCALE(c2, e2, o2, 2);
		SCALE(c3, e3, o3, 3);
		SCALE(c4, e4, o4, 4);
		SCALE(c5, e5, o5, 5);
#undef SCALE
	}
	part[0] = e0, part[1] = e1, part[2] = e2, part[3] = e3, part[4] = e4, part[5] = e5;
	part[6] = o0, part[7] = o1, part[8] = o2, part[9] = o3, part[10] = o4, part[11] = o5;
}

void npu_mm_gemm_unpacked_avx512(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p,
				 uint32_t n0, uint32_t n1)
{
	const uint32_t sg = npu_mm_sum_group(mm), groups = npu_mm_sum_groups(mm);
	const uint32_t blocks = (mm->rows + 15) / 16;
	const uint64_t xb = mm->x_bits / 8, blk = 16 * mm->k * xb;
	struct unpacked_chunk ch = { 0 };
	__m512i part[UNPACK_BLOCKS][12];
	int64_t even[UNPACK_COLS][8], odd[UNPACK_COLS][8];
	uint32_t n, b0, b, k0, c, i;

	for (n = n0; n < n1; n += UNPACK_COLS) {
		uint32_t cols = n1 - n < UNPACK_COLS ? n1 - n : UNPACK_COLS;

		for (b0 = 0; b0 < blocks; b0 += UNPACK_BLOCKS) {
			uint32_t nb = blocks - b0 < UNPACK_BLOCKS ? blocks - b0 : UNPACK_BLOCKS;

			memset(part, 0, nb * sizeof(part[0]));
			for (k0 = 0; k0 < mm->k; k0 += UNPACK_KC) {
				uint32_t kc = mm->k - k0 < UNPACK_KC ? mm->k - k0 : UNPACK_KC;
				/* A chunk holds whole groups; a row's one group ends with k. */
				uint32_t g = kc < sg ? kc : sg;

				unpack_chunk(mm, n, cols, k0, kc, &ch);
				for (b = 0; b < nb; b++) {
					const uint8_t *a = p->xp + (b0 + b) * blk + k0 * 16 * xb;

					if (xb == 2)
						unpacked_block(a, NULL, &ch, kc, g, 1, part[b]);
					else
						unpacked_block(a, p->nsxg + ((uint64_t)(b0 + b) * groups +
									     k0 / sg) * 16,
							       &ch, kc, g, 0, part[b]);
				}
			}
			for (b = 0; b < nb; b++) {
				uint32_t r0 = (b0 + b) * 16, valid = mm->rows - r0 < 16 ?
								     mm->rows - r0 : 16;

				/* Row by row: v's rows are far apart (see put_tiles). */
				for (c = 0; c < cols; c++) {
					_mm512_storeu_si512(even[c], part[b][c]);
					_mm512_storeu_si512(odd[c], part[b][6 + c]);
				}
				for (i = 0; i < valid; i++)
					for (c = 0; c < cols; c++)
						mm->v[(uint64_t)(r0 + i) * mm->n + n + c] =
							i % 2 ? odd[c][i / 2] : even[c][i / 2];
			}
		}
	}
}
