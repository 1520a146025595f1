// SPDX-License-Identifier: MIT
/*
 * Int4 x int8 sums from weights packed in tiles (npu_mm_packed_fits): the
 * decode matmuls of an int4 model, which stream every weight once per
 * token. Per 64 bytes of nibbles the row kernel on the firmware's layout
 * loads the activations' even and odd elements, their corrections and
 * the factors beside the weights; here a block's activations are loaded
 * once for the tile's rows and its factors follow its nibbles.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels.h"
#include "mask_avx512.h"
#include "s4_avx512.h"

void npu_mm_pack(const struct npu_fw_matmul *mm, uint8_t *dst, uint32_t t0, uint32_t t1)
{
	uint32_t gpr = mm->groups_per_row, g = mm->k / gpr, t, k0, r;
	uint64_t tile = npu_mm_tile_bytes(mm), pad;

	for (t = t0; t < t1; t++) {
		uint8_t *b = dst + (uint64_t)t * tile;

		for (k0 = 0; k0 < mm->k; k0 += NPU_MM_BLOCK) {
			uint32_t kb = mm->k - k0 < NPU_MM_BLOCK ? mm->k - k0 : NPU_MM_BLOCK;
			uint32_t per = kb / g;
			uint8_t *f = b + NPU_MM_TILE * kb / 2;

			for (r = 0; r < NPU_MM_TILE; r++) {
				uint64_t n = (uint64_t)t * NPU_MM_TILE + r;

				if (n < mm->n) {
					memcpy(b + r * kb / 2, mm->w + n * mm->w_stride + k0 / 2,
					       kb / 2);
					memcpy(f + r * per * 2, mm->factors + n * gpr + k0 / g,
					       per * 2);
				} else {
					/* Rows past n: zero factors, so they sum to nothing. */
					memset(b + r * kb / 2, 0, kb / 2);
					memset(f + r * per * 2, 0, per * 2);
				}
			}
			/* The factors' padding. */
			pad = npu_mm_block_bytes(kb, g) - NPU_MM_TILE * (kb / 2 + per * 2);
			memset(f + NPU_MM_TILE * per * 2, 0, pad);
			b += npu_mm_block_bytes(kb, g);
		}
	}
}

/*
 * A block of a tile, @steps (a constant, 1..4) 128-column steps, against
 * one row of prepared activations (@xe, @xo, @nsx8 at the block's first
 * column), into the rows' int64 sums @acc. Lane i of step s covers
 * columns 128s + 8i..+7 of the block: its group is (128s + 8i) >> @lg,
 * among the block's factors of each row.
 */
static inline __attribute__((always_inline)) void
tile_block(const uint8_t *b, uint32_t steps, uint32_t lg, const uint8_t *xe, const uint8_t *xo,
	   const int32_t *nsx8, __m512i acc[NPU_MM_TILE])
{
	const __m512i idx = s4_lane_group(lg);
	const uint32_t kb = 128 * steps, per = kb >> lg;
	const uint8_t *f = b + NPU_MM_TILE * kb / 2;
	uint32_t s, r;
	__mmask16 fm = first16(per);
	__m512i e[4], o[4], nx[4];

#pragma GCC unroll 4
	for (s = 0; s < steps; s++) {
		e[s] = _mm512_loadu_si512(xe + s * 64);
		o[s] = _mm512_loadu_si512(xo + s * 64);
		nx[s] = _mm512_loadu_si512(nsx8 + s * 16);
	}
#pragma GCC unroll 8
	for (r = 0; r < NPU_MM_TILE; r++) {
		__m512i fw = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(fm, f + r * per * 2));
		__m512i sum = _mm512_setzero_si512();

#pragma GCC unroll 4
		for (s = 0; s < steps; s++) {
			__m512i step = _mm512_set1_epi32((int)((128 * s) >> lg));
			__m512i fv = _mm512_permutexvar_epi32(_mm512_add_epi32(idx, step), fw);
			__m512i w = load_once(b + r * kb / 2 + s * 64);

			sum = _mm512_add_epi32(sum, u8s4_step(w, e[s], o[s], nx[s], fv));
		}
		acc[r] = widen_add(acc[r], sum);
	}
}

/*
 * A last block whose columns are not a multiple of 128: one step at a
 * time, the bytes past the block's columns masked off (zero weights and
 * activations add nothing).
 */
static void tile_masked_block(const uint8_t *b, uint32_t kb, uint32_t lg, const uint8_t *xe,
			      const uint8_t *xo, const int32_t *nsx8, int64_t out[NPU_MM_TILE])
{
	const __m512i idx = s4_lane_group(lg);
	const uint8_t *f = b + NPU_MM_TILE * kb / 2;
	uint32_t per = kb >> lg, s, r;

	for (r = 0; r < NPU_MM_TILE; r++) {
		__m512i fw = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(first16(per),
									    f + r * per * 2));
		__m512i acc = _mm512_setzero_si512();

		for (s = 0; s * 128 < kb; s++) {
			__mmask64 m = first64((kb - s * 128) / 2);
			__m512i step = _mm512_set1_epi32((int)((128 * s) >> lg));
			__m512i fv = _mm512_permutexvar_epi32(_mm512_add_epi32(idx, step), fw);

			acc = widen_add(acc, u8s4_step(
				_mm512_maskz_loadu_epi8(m, b + r * kb / 2 + s * 64),
				_mm512_maskz_loadu_epi8(m, xe + s * 64),
				_mm512_maskz_loadu_epi8(m, xo + s * 64),
				_mm512_maskz_loadu_epi32(first16((kb - s * 128) / 8),
							 nsx8 + s * 16),
				fv));
		}
		out[r] += _mm512_reduce_add_epi64(acc);
	}
}

/*
 * A last block shorter than NPU_MM_BLOCK: its own sums, added to @out
 * (apart from the whole blocks' loop, whose sums then stay in registers).
 */
static __attribute__((noinline)) void
tile_last_block(const uint8_t *b, uint32_t kb, uint32_t lg, const uint8_t *xe, const uint8_t *xo,
		const int32_t *nsx8, int64_t out[NPU_MM_TILE])
{
	__m512i acc[NPU_MM_TILE];
	uint32_t i;

	if (kb % 128) {
		tile_masked_block(b, kb, lg, xe, xo, nsx8, out);
		return;
	}
	for (i = 0; i < NPU_MM_TILE; i++)
		acc[i] = _mm512_setzero_si512();
	if (kb == 384)
		tile_block(b, 3, lg, xe, xo, nsx8, acc);
	else if (kb == 256)
		tile_block(b, 2, lg, xe, xo, nsx8, acc);
	else
		tile_block(b, 1, lg, xe, xo, nsx8, acc);
	for (i = 0; i < NPU_MM_TILE; i++)
		out[i] += _mm512_reduce_add_epi64(acc[i]);
}

/*
 * One tile's sums for activation row @r into @out. The whole blocks'
 * loop has only constants for the compiler to work with, so the tile's
 * sums stay in registers.
 */
static void tile_row(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p,
		     const uint8_t *b, uint32_t r, int64_t out[NPU_MM_TILE])
{
	uint32_t g = mm->k / mm->groups_per_row, lg = (uint32_t)__builtin_ctz(g), k0, i;
	const uint8_t *xe = p->xe + r * p->x_stride, *xo = p->xo + r * p->x_stride;
	const int32_t *nsx8 = p->nsx8 + (uint64_t)r * (mm->k / 8);
	uint64_t block = npu_mm_block_bytes(NPU_MM_BLOCK, g);
	__m512i acc[NPU_MM_TILE];

#pragma GCC unroll 8
	for (i = 0; i < NPU_MM_TILE; i++)
		acc[i] = _mm512_setzero_si512();
	for (k0 = 0; k0 + NPU_MM_BLOCK <= mm->k; k0 += NPU_MM_BLOCK, b += block)
		tile_block(b, 4, lg, xe + k0 / 2, xo + k0 / 2, nsx8 + k0 / 8, acc);
#pragma GCC unroll 8
	for (i = 0; i < NPU_MM_TILE; i++)
		out[i] = _mm512_reduce_add_epi64(acc[i]);
	if (k0 < mm->k)
		tile_last_block(b, mm->k - k0, lg, xe + k0 / 2, xo + k0 / 2, nsx8 + k0 / 8, out);
}

void npu_mm_packed_avx512(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p,
			  uint32_t n0, uint32_t n1)
{
	uint64_t tile = npu_mm_tile_bytes(mm);
	int64_t out[NPU_MM_TILE];
	uint32_t t, r, i;

	for (t = n0 / NPU_MM_TILE; t * NPU_MM_TILE < n1; t++)
		for (r = 0; r < mm->rows; r++) {
			tile_row(mm, p, p->packed + t * tile, r, out);
			/* A chunk's edges need not be a tile's. */
			for (i = 0; i < NPU_MM_TILE; i++) {
				uint32_t n = t * NPU_MM_TILE + i;

				if (n >= n0 && n < n1)
					mm->v[(uint64_t)r * mm->n + n] = out[i];
			}
		}
}
