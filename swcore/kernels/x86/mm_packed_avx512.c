// SPDX-License-Identifier: MIT
/*
 * Int4 x int8 sums from weights packed in tiles (npu_mm_packed_fits): the
 * decode matmuls of an int4 model, which stream every weight once per
 * token. Per 64 bytes of nibbles the row kernel on the firmware's layout
 * loads the activations' even and odd elements, their corrections and
 * the factors beside the weights, and scales every step's sums. Here a
 * block's activations are loaded once for the tile's rows, its factors
 * follow its nibbles, and a lane keeps to one group for the whole block,
 * so its sum is scaled once a block.
 */
#include <immintrin.h>
#include <string.h>

#include "x86.h"
#include "mask_avx512.h"
#include "widen_avx512.h"

/*
 * The 64 bytes at @p in a register. A step uses its weights twice, and
 * the compiler would fold the load into each use: as many loads from L1,
 * where the loads beside the weights' own are what holds a thread's
 * stream under the memory's bandwidth (docs/performance.md).
 */
static inline __m512i load_once(const void *p)
{
	__m512i v = _mm512_loadu_si512(p);

	__asm__("" : "+v"(v));
	return v;
}

/*
 * Step @s of a block of @steps (1, 2 or 4) 64-byte steps, from the
 * block's dwords in @a (16 * @steps, each 8 columns' worth): lane i
 * takes dword steps * i + s, so over the block lane i holds the dwords
 * steps * i.. in turn.
 */
static inline __m512i lanes_of(const __m512i a[4], uint32_t steps, uint32_t s)
{
	const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
					       15);
	__m512i idx;

	if (steps == 1)
		return a[0];
	idx = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)steps));
	idx = _mm512_and_si512(_mm512_add_epi32(idx, _mm512_set1_epi32((int)s)),
			       _mm512_set1_epi32(31));
	if (steps == 2)
		return _mm512_permutex2var_epi32(a[0], idx, a[1]);
	/* Lanes 0..7 from the first 32 dwords, 8..15 from the last 32. */
	return _mm512_inserti64x4(_mm512_permutex2var_epi32(a[0], idx, a[1]),
				  _mm512_castsi512_si256(_mm512_permutex2var_epi32(a[2], idx,
										   a[3])),
				  1);
}

/* A block's dwords from @src, zero past the first @valid (the columns past k). */
static inline void load_block(__m512i a[4], const void *src, uint32_t steps, uint32_t valid)
{
	uint32_t q;

	for (q = 0; q < steps; q++)
		a[q] = _mm512_maskz_loadu_epi32(first16(valid > 16 * q ? valid - 16 * q : 0),
						(const int32_t *)src + 16 * q);
}

void npu_mm_pack(const struct npu_fw_matmul *mm, uint8_t *dst, uint32_t t0, uint32_t t1)
{
	/* Nibble n as n ^ 8 = w + 8, the unsigned operand vpdpbusd takes. */
	const __m512i flip = _mm512_set1_epi8((char)0x88);
	uint32_t gpr = mm->groups_per_row, g = mm->k / gpr, t, k0, kb, real, r, s;
	uint64_t tile = npu_mm_tile_bytes(mm);

	for (t = t0; t < t1; t++) {
		uint8_t *b = dst + (uint64_t)t * tile;

		for (k0 = 0; k0 < mm->k; k0 += kb) {
			uint32_t steps, per;
			uint8_t *f;

			kb = npu_mm_block_cols(mm->k - k0, &real);
			steps = kb / 128;
			per = real / g;
			f = b + NPU_MM_TILE * kb / 2;
			for (r = 0; r < NPU_MM_TILE; r++) {
				uint64_t n = (uint64_t)t * NPU_MM_TILE + r;
				__m512i a[4];

				if (n >= mm->n) {
					/* Rows past n: zero factors, so they sum to nothing. */
					memset(b + r * kb / 2, 0, kb / 2);
					memset(f + r * per * 2, 0, per * 2);
					continue;
				}
				load_block(a, mm->w + n * mm->w_stride + k0 / 2, steps, real / 8);
				for (s = 0; s < steps; s++) {
					__m512i v = _mm512_xor_si512(lanes_of(a, steps, s), flip);

					_mm512_storeu_si512(b + r * kb / 2 + s * 64, v);
				}
				memcpy(f + r * per * 2, mm->factors + n * gpr + k0 / g, per * 2);
			}
			/* The factors' padding. */
			memset(f + NPU_MM_TILE * per * 2, 0,
			       npu_mm_block_bytes(kb, real, g) - NPU_MM_TILE * (kb / 2 + per * 2));
			b += npu_mm_block_bytes(kb, real, g);
		}
	}
}

void npu_mm_packed_prepare(const struct npu_fw_matmul *mm, struct npu_mm_prep *p)
{
	uint64_t row = npu_mm_packed_x_bytes(mm->k);
	uint32_t r, k0, kb, real, s;

	for (r = 0; r < mm->rows; r++) {
		const uint8_t *xe = p->xe + r * p->x_stride, *xo = p->xo + r * p->x_stride;
		const int32_t *nsx8 = p->nsx8 + (uint64_t)r * (mm->k / 8);
		uint8_t *d = p->xt + r * row;

		for (k0 = 0; k0 < mm->k; k0 += kb, d += kb + 64) {
			uint32_t steps;
			__m512i a[4], sum = _mm512_setzero_si512();

			kb = npu_mm_block_cols(mm->k - k0, &real);
			steps = kb / 128;
			/* Nothing past k is read (a row may end there); its lanes are zero. */
			load_block(a, xe + k0 / 2, steps, real / 8);
			for (s = 0; s < steps; s++)
				_mm512_storeu_si512(d + s * 64, lanes_of(a, steps, s));
			load_block(a, xo + k0 / 2, steps, real / 8);
			for (s = 0; s < steps; s++)
				_mm512_storeu_si512(d + kb / 2 + s * 64, lanes_of(a, steps, s));
			load_block(a, nsx8 + k0 / 8, steps, real / 8);
			for (s = 0; s < steps; s++)
				sum = _mm512_add_epi32(sum, lanes_of(a, steps, s));
			_mm512_storeu_si512(d + kb, sum);
		}
	}
}

/*
 * A block of a tile, @steps (a constant: 1, 2 or 4) 64-byte steps and
 * @per factors a row, against one row's prepared activations @x, into the
 * rows' int64 sums @acc. Lane i covers the block's 8 * steps columns from
 * 8 * steps * i, all in group (8 * steps * i) >> @lg: it starts at its
 * correction (-8 * sum(x)), adds the low nibbles' products with the even
 * elements and a sixteenth of the high nibbles' (kept in place, as 16 *
 * (w + 8)) with the odd ones, and is scaled once. |sum| <= 32 * 8 * 128
 * (reached: every w -8, every x -128) and a factor <= 65535: the product
 * fits int32, with 2^15 to spare (asserted below the function).
 */
static inline __attribute__((always_inline)) void
tile_block(const uint8_t *b, uint32_t steps, uint32_t lg, uint32_t per, const uint8_t *x,
	   __m512i acc[NPU_MM_TILE])
{
	const __m512i lo4 = _mm512_set1_epi8(0x0f), hi4 = _mm512_set1_epi8((char)0xf0);
	const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
					       15);
	const __m512i first = _mm512_mullo_epi32(lane, _mm512_set1_epi32(8 * (int)steps));
	const __m512i group = _mm512_srlv_epi32(first, _mm512_set1_epi32((int)lg));
	const uint32_t kb = 128 * steps;
	const uint8_t *f = b + NPU_MM_TILE * kb / 2;
	__mmask16 fm = first16(per);
	__m512i e[4], o[4], nsx = _mm512_loadu_si512(x + kb);
	uint32_t s, r;

#pragma GCC unroll 4
	for (s = 0; s < steps; s++) {
		e[s] = _mm512_loadu_si512(x + s * 64);
		o[s] = _mm512_loadu_si512(x + kb / 2 + s * 64);
	}
#pragma GCC unroll 8
	for (r = 0; r < NPU_MM_TILE; r++) {
		__m512i fv = _mm512_permutexvar_epi32(group, _mm512_cvtepu16_epi32(
			_mm256_maskz_loadu_epi16(fm, f + r * per * 2)));
		__m512i lo = nsx, hi = _mm512_setzero_si512();

#pragma GCC unroll 4
		for (s = 0; s < steps; s++) {
			__m512i w = load_once(b + r * kb / 2 + s * 64);

			lo = _mm512_dpbusd_epi32(lo, _mm512_and_si512(w, lo4), e[s]);
			hi = _mm512_dpbusd_epi32(hi, _mm512_and_si512(w, hi4), o[s]);
		}
		acc[r] = widen_add(acc[r], _mm512_mullo_epi32(
			_mm512_add_epi32(lo, _mm512_srai_epi32(hi, 4)), fv));
	}
}

_Static_assert((int64_t)NPU_MM_BLOCK / 16 * 8 * 128 * 65535 <= INT32_MAX,
	       "a lane's scaled sum must fit int32");

/* The eight rows' sums, row i in lane i. */
static inline __m512i sum_rows(const __m512i acc[NPU_MM_TILE])
{
	__m512i t[4], u, v;
	int i;

	/* Pairs of rows: lane 2j + i % 2 of t[i / 2] holds row i's lanes 2j and 2j + 1. */
#pragma GCC unroll 4
	for (i = 0; i < 4; i++)
		t[i] = _mm512_add_epi64(_mm512_unpacklo_epi64(acc[2 * i], acc[2 * i + 1]),
					_mm512_unpackhi_epi64(acc[2 * i], acc[2 * i + 1]));
	/* Then the 128-bit lanes: rows 0..3 in u, 4..7 in v, two partial sums each. */
	u = _mm512_add_epi64(_mm512_shuffle_i64x2(t[0], t[1], 0x88),
			     _mm512_shuffle_i64x2(t[0], t[1], 0xdd));
	v = _mm512_add_epi64(_mm512_shuffle_i64x2(t[2], t[3], 0x88),
			     _mm512_shuffle_i64x2(t[2], t[3], 0xdd));
	return _mm512_add_epi64(_mm512_shuffle_i64x2(u, v, 0x88), _mm512_shuffle_i64x2(u, v, 0xdd));
}

/*
 * The blocks after the whole NPU_MM_BLOCK ones (256 and 128 columns, the
 * last padded past k): their own sums, added to @out (apart from the
 * whole blocks' loop, whose sums then stay in registers).
 */
static __attribute__((noinline)) void
tile_last_blocks(const uint8_t *b, uint32_t left, uint32_t lg, const uint8_t *x,
		 int64_t out[NPU_MM_TILE])
{
	uint32_t g = 1u << lg, kb, real, i;
	__m512i acc[NPU_MM_TILE];

	for (i = 0; i < NPU_MM_TILE; i++)
		acc[i] = _mm512_setzero_si512();
	for (; left; left -= real, x += kb + 64) {
		kb = npu_mm_block_cols(left, &real);
		if (kb == 256)
			tile_block(b, 2, lg, real / g, x, acc);
		else
			tile_block(b, 1, lg, real / g, x, acc);
		b += npu_mm_block_bytes(kb, real, g);
	}
	_mm512_storeu_si512(out, _mm512_add_epi64(_mm512_loadu_si512(out), sum_rows(acc)));
}

/*
 * One tile's sums for the activation row prepared at @x, into @out. The
 * whole blocks' loop has only constants for the compiler to work with,
 * so the tile's sums stay in registers.
 */
static void tile_row(const struct npu_fw_matmul *mm, const uint8_t *b, const uint8_t *x,
		     int64_t out[NPU_MM_TILE])
{
	uint32_t g = mm->k / mm->groups_per_row, lg = (uint32_t)__builtin_ctz(g), k0, i;
	uint64_t block = npu_mm_block_bytes(NPU_MM_BLOCK, NPU_MM_BLOCK, g);
	__m512i acc[NPU_MM_TILE];

#pragma GCC unroll 8
	for (i = 0; i < NPU_MM_TILE; i++)
		acc[i] = _mm512_setzero_si512();
	for (k0 = 0; k0 + NPU_MM_BLOCK <= mm->k;
	     k0 += NPU_MM_BLOCK, b += block, x += NPU_MM_BLOCK + 64)
		tile_block(b, 4, lg, NPU_MM_BLOCK / g, x, acc);
	_mm512_storeu_si512(out, sum_rows(acc));
	if (k0 < mm->k)
		tile_last_blocks(b, mm->k - k0, lg, x, out);
}

void npu_mm_packed_avx512(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p,
			  uint32_t n0, uint32_t n1)
{
	uint64_t tile = npu_mm_tile_bytes(mm), row = npu_mm_packed_x_bytes(mm->k);
	int64_t out[NPU_MM_TILE];
	uint32_t t, r, i;

	for (t = n0 / NPU_MM_TILE; t * NPU_MM_TILE < n1; t++)
		for (r = 0; r < mm->rows; r++) {
			tile_row(mm, p->packed + t * tile, p->xt + r * row, out);
			/* A chunk's edges need not be a tile's. */
			for (i = 0; i < NPU_MM_TILE; i++) {
				uint32_t n = t * NPU_MM_TILE + i;

				if (n >= n0 && n < n1)
					mm->v[(uint64_t)r * mm->n + n] = out[i];
			}
		}
}
