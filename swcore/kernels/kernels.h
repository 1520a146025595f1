/* SPDX-License-Identifier: MIT */
/*
 * The software core's SIMD answers to the firmware's hooks: the same exact
 * integers as the firmware's loops, at an instruction-set level of this
 * architecture (struct npu_level: x86/, arm64/), split across a pool of
 * threads (kernels.c).
 */
#ifndef LIBNPU_KERNELS_H
#define LIBNPU_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "../../firmware/include/npu_fw.h"
#include "isa.h"

#define NPU_UNUSED __attribute__((unused))

/*
 * Activations prepared once per call, shared by the threads: for int8
 * weights, rows of x ^ 0x80 (as unsigned bytes), or the GEMM's packed
 * rows; for int4 weights and int8 x, x with even and odd elements apart
 * (row r of xe and xo starts at r * x_stride; xo = xe + k / 2 + 64) and
 * -8 * sum(x) of every 8, and where npu_mm_packed_fits room for x in the
 * packed weights' lane order with each lane's -8 * sum(x) (xt, filled by
 * npu_mm_packed_prepare when the weights are read packed); for int4
 * weights and int16 x, x in four phases (phase i holds x[4j + i] at j,
 * x4_phase elements after phase i - 1).
 * For the GEMMs, rows packed 16 at a time, each step 4 bytes of each row
 * (int8 weights and x: x ^ 0x80; else x as it is, 4 int8 or 2 int16).
 */
struct npu_mm_prep {
	const uint8_t *xu;	/* [rows][k] */
	const uint8_t *xe, *xo;	/* row r at r * x_stride */
	uint64_t x_stride;
	const int32_t *nsx8;	/* [rows][k / 8] */
	const uint8_t *xp;	/* GEMMs: [rows / 16][k * x_bits / 32][16][4] */
	const int32_t *nsxg;	/* unpacked GEMM, int8 x: [rows / 16][npu_mm_sum_groups][16] */
	const int16_t *x4;	/* npu_mm_s16s4_fits: row r at r * 4 * x4_phase */
	uint64_t x4_phase;
	uint8_t *xt;		/* npu_mm_packed_fits: row r at r * npu_mm_packed_x_bytes(k) */
	const uint8_t *packed;	/* npu_mm_packed_fits: the weights packed, or NULL */
};

/*
 * Prefill with int8 weights in one group per row: a GEMM on activations
 * packed 16 rows by 4 columns (the layout vpdpbusd multiplies by one
 * broadcast weight word), rows padded to 16 with zeros. k <= 65536 keeps
 * every int32 sum exact: 255 * 128 * 65536 < 2^31.
 */
static inline int npu_mm_gemm_fits(const struct npu_fw_matmul *mm)
{
	return mm->x_bits == 8 && mm->w_bits == 8 && mm->groups_per_row == 1 && mm->rows >= 16 &&
	       mm->k % 4 == 0 && mm->k <= 65536;
}

/*
 * Prefill with weights unpacked 256 columns of k at a time: a GEMM on 16
 * or more rows, for int4 weights (int8 or int16 activations) in groups of
 * 4 to 256 columns that tile 256 or in one group per row, and for int8
 * weights in one group per row against int16 activations (int8 ones have
 * npu_mm_gemm_fits). A row's one group is summed 256 columns at a time,
 * each sum scaled by the row's factor: every int32 sum stays under 2^31,
 * and its product with a factor is taken in 64 bits.
 */
static inline int npu_mm_gemm_unpacked_fits(const struct npu_fw_matmul *mm)
{
	uint32_t g = mm->k / mm->groups_per_row;

	if (mm->rows < 16 || mm->k % 4)
		return 0;
	if (mm->w_bits == 4)
		return mm->groups_per_row == 1 || (g % 4 == 0 && 256 % g == 0);
	return mm->x_bits == 16 && mm->groups_per_row == 1;
}

/* Columns of k the unpacked GEMM scales at a time: a group, or 256 of a row's one group. */
static inline uint32_t npu_mm_sum_group(const struct npu_fw_matmul *mm)
{
	uint32_t g = mm->k / mm->groups_per_row;

	return g > 256 ? 256 : g;
}

/* Sums a row of the unpacked GEMM scales (the last may be short). */
static inline uint32_t npu_mm_sum_groups(const struct npu_fw_matmul *mm)
{
	return (mm->k + npu_mm_sum_group(mm) - 1) / npu_mm_sum_group(mm);
}

/*
 * Int16 activations against int4 weights in groups of 16 or more that
 * tile 128 columns or are whole multiples of them: a whole row at once.
 */
static inline int npu_mm_s16s4_fits(const struct npu_fw_matmul *mm)
{
	uint32_t g = mm->k / mm->groups_per_row;

	return mm->x_bits == 16 && mm->w_bits == 4 && g >= 16 && (128 % g == 0 || g % 128 == 0);
}

/*
 * Int4 weights against int8 activations in groups of 32..512 columns
 * (powers of two), where no GEMM takes them (decode): the weights as the
 * firmware lays them out take five loads per 64 bytes streamed, which
 * holds one thread well under the memory's bandwidth. A sealed buffer's
 * weights (npu_bo_seal) are packed once instead, in tiles of NPU_MM_TILE
 * rows, each tile in blocks: NPU_MM_BLOCK columns of k, then 256 and 128
 * for what is left (the last padded past k). A block of 128 * s columns
 * holds each row's nibbles in s 64-byte steps, lane i of each step 8 of
 * the 8 * s columns from 8 * s * i (so a lane stays in one group), then
 * the rows' factors, padded to 64 bytes. One stream; a block's
 * activations, prepared in the same order (npu_mm_prep.xt), stay in
 * registers for all the tile's rows, and each lane's sum is scaled once
 * per block. With p->packed set, npu_mm_avx512 reads them there.
 */
#define NPU_MM_TILE 8
#define NPU_MM_BLOCK 512

static inline int npu_mm_packed_fits(const struct npu_fw_matmul *mm)
{
	uint32_t g = mm->k / mm->groups_per_row;

	return mm->x_bits == 8 && mm->w_bits == 4 && g >= 32 && g <= NPU_MM_BLOCK &&
	       !(g & (g - 1)) && !npu_mm_gemm_unpacked_fits(mm);
}

/*
 * Columns of the block that starts @left columns before the end of k, and
 * in *@real how many of them are in k (the last block is padded past it).
 */
static inline uint32_t npu_mm_block_cols(uint32_t left, uint32_t *real)
{
	uint32_t kb = left >= NPU_MM_BLOCK ? NPU_MM_BLOCK : left >= 256 ? 256 : 128;

	*real = kb < left ? kb : left;
	return kb;
}

/* Bytes of a packed block of @kb columns, @real of them in k, in groups of @g. */
static inline uint64_t npu_mm_block_bytes(uint32_t kb, uint32_t real, uint32_t g)
{
	uint64_t factors = (uint64_t)NPU_MM_TILE * 2 * (real / g);

	return (uint64_t)NPU_MM_TILE * kb / 2 + (factors + 63) / 64 * 64;
}

/* Bytes of a packed tile. */
static inline uint64_t npu_mm_tile_bytes(const struct npu_fw_matmul *mm)
{
	uint32_t g = mm->k / mm->groups_per_row, k0, kb, real;
	uint64_t bytes = 0;

	for (k0 = 0; k0 < mm->k; k0 += kb) {
		kb = npu_mm_block_cols(mm->k - k0, &real);
		bytes += npu_mm_block_bytes(kb, real, g);
	}
	return bytes;
}

/* Bytes of @mm's weights packed (the last tile padded with zero rows). */
static inline uint64_t npu_mm_packed_bytes(const struct npu_fw_matmul *mm)
{
	return ((uint64_t)mm->n + NPU_MM_TILE - 1) / NPU_MM_TILE * npu_mm_tile_bytes(mm);
}

/*
 * Bytes of a row of activations prepared for packed weights: for each
 * block of @kb columns, the even elements, the odd ones, and each lane's
 * -8 * sum(x) (64 bytes).
 */
static inline uint64_t npu_mm_packed_x_bytes(uint32_t k)
{
	uint32_t k0, kb, real;
	uint64_t bytes = 0;

	for (k0 = 0; k0 < k; k0 += kb) {
		kb = npu_mm_block_cols(k - k0, &real);
		bytes += kb + 64;
	}
	return bytes;
}

/*
 * SCALE_BLOCK weights of one 32-column group per super-block, no
 * sub-scales, 8- or 4-bit codes (Q8_0, Q4_0, Q4_1): mm_block_g1.h.
 */
static inline int npu_mmb_g1_fits(const struct npu_fw_matmul_block *mb)
{
	return mb->block_groups == 1 && mb->group_size == 32 && (mb->w_bits == 8 || mb->w_bits == 4) &&
	       !(mb->flags & (DRM_NPU_BLOCK_F_SUB_S8 | DRM_NPU_BLOCK_F_SUB_U4)) &&
	       (!(mb->flags & DRM_NPU_BLOCK_F_MIN) || mb->xs);
}

/* Outputs the GEMM of npu_mm_block_g1_* multiplies at a time. */
#define NPU_MMB_GEMM_COLS 4

/*
 * Activations prepared once per call for npu_mm_block_g1_*, shared by the
 * threads. The prepared order is k's, except that with 4-bit codes each
 * group's 32 columns are its even ones, then its odd ones (the order the
 * codes' low and high nibbles give).
 */
struct npu_mmb_prep {
	const int16_t *x16_fw;	/* [rows][k] as the firmware orders them (the general kernel) */
	const int16_t *x16;	/* [rows][k] in the prepared order; not filled beside x8 */
	/*
	 * Decode's, when every |x| <= 127 and rows < 8, else NULL: [rows][k]
	 * x in the prepared order, but 4-bit codes' whole 8 groups in pairs
	 * (the pair's even columns, then its odd ones).
	 */
	const int8_t *x8;
	const int32_t *xsum;	/* rows < 8: [rows][groups + 8] each group's sum of x, zeros after */
	int gemm;		/* rows >= 8: the GEMM, on xp or xp8 */
	const int16_t *xp;	/* [rows / 8][k / 2][8][2], rows padded with zeros; or NULL */
	/*
	 * Where the level has VNNI, every x fits int8 and every code minus
	 * zero does: [rows / 8][k / 4][8][4] x + 128; else NULL.
	 */
	const uint8_t *xp8;
	const int32_t *xsp;	/* rows >= 8 with F_MIN: [rows / 8][groups][8] the firmware's xs */
	int lim;		/* the widest spread of exponents an output may have */
	int32_t *scratch;	/* each thread's, scratch_words apart */
	uint64_t scratch_words;
};

/* Bytes npu_mmb_prepare needs for @mb on @threads threads. */
NPU_HIDDEN size_t npu_mmb_prep_bytes(const struct npu_fw_matmul_block *mb, int threads);
/*
 * @p in @buf (32-byte aligned, npu_mmb_prep_bytes of it), for a level with
 * VNNI when @vnni; -1 when no output can fit.
 */
NPU_HIDDEN int npu_mmb_prepare(const struct npu_fw_matmul_block *mb, int vnni, void *buf,
			       struct npu_mmb_prep *p);
/* Elements of one phase of a prepared int16 row: k / 4, staggered by 64 bytes. */
#define NPU_MM_X4_PHASE(k) ((uint64_t)(k) / 4 + 32)

/* Bytes of a row of xe and xo: k plus the padding that staggers them. */
#define NPU_MM_PREP_STRIDE(k) ((uint64_t)(k) + 256)

/* Bytes of xe, xo and nsx8 (int4 weights, int8 x); xt follows, a multiple of 64 bytes on. */
static inline size_t npu_mm_s8s4_prep_bytes(const struct npu_fw_matmul *mm)
{
	return ((size_t)(mm->rows + 15) / 16 * 16 * (NPU_MM_PREP_STRIDE(mm->k) + mm->k) + 383) /
	       64 * 64;
}

/* Bytes npu_mm_avx512_prepare needs. */
static inline size_t npu_mm_prep_bytes(const struct npu_fw_matmul *mm)
{
	size_t padded = (size_t)(mm->rows + 15) / 16 * 16;

	if (npu_mm_gemm_unpacked_fits(mm))
		return padded * mm->k * (mm->x_bits / 8) + padded * npu_mm_sum_groups(mm) * 4 + 64;
	if (mm->x_bits == 16)
		return (size_t)mm->rows * 4 * NPU_MM_X4_PHASE(mm->k) * 2 + 64;
	return npu_mm_s8s4_prep_bytes(mm) +
	       (npu_mm_packed_fits(mm) ? mm->rows * npu_mm_packed_x_bytes(mm->k) : 0);
}

/* Whether the AVX-512 kernels take @mm's activations prepared (the others are read as they are). */
static inline int npu_mm_prepared(const struct npu_fw_matmul *mm)
{
	return mm->x_bits == 8 || npu_mm_gemm_unpacked_fits(mm) || npu_mm_s16s4_fits(mm);
}

/*
 * One instruction-set level's kernels, for the pool (kernels.c) and the
 * tests; each computes its struct exactly as the firmware's loop would.
 * A NULL member leaves its calls to the firmware's own loops.
 */
struct npu_level {
	enum npu_isa isa;
	/* MATMUL: v[r][n] for n in [n0, n1), all rows. */
	void (*mm)(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p, uint32_t n0,
		   uint32_t n1);
	/*
	 * Where set, mm takes its activations prepared (npu_mm_prepared,
	 * in npu_mm_prep_bytes of @buf), a GEMM's last rows split off, and
	 * sealed int4 weights packed in tiles (npu_mm_packed_fits).
	 */
	void (*mm_prepare)(const struct npu_fw_matmul *mm, uint8_t *buf, struct npu_mm_prep *p);
	void (*mm_pack)(const struct npu_fw_matmul *mm, uint8_t *dst, uint32_t t0, uint32_t t1);
	void (*mm_packed_prepare)(const struct npu_fw_matmul *mm, struct npu_mm_prep *p);
	/*
	 * SCALE_BLOCK sums for n in [n0, n1): the general kernel on the
	 * activations as int16, and where npu_mmb_g1_fits one on
	 * npu_mmb_prepare's (for VNNI where mmb_vnni), as thread @thread.
	 * 0, or nonzero at a binary16 infinity or NaN.
	 */
	int (*mm_block)(const struct npu_fw_matmul_block *mb, const int16_t *x16, uint32_t n0,
			uint32_t n1);
	int (*mm_block_g1)(const struct npu_fw_matmul_block *mb, const struct npu_mmb_prep *p,
			   int thread, uint32_t n0, uint32_t n1);
	int mmb_vnni;
	/* The hooks' own, in their signatures (the context unused). */
	int (*requant)(void *unused, const struct npu_fw_requant *rq);
	int (*add)(void *unused, const struct npu_fw_add *a);
	int (*norm)(void *unused, const struct npu_fw_norm *nm);
	int (*amax)(void *unused, const __s64 *v, __u32 n, __u64 *out);
	int (*silu)(void *unused, const struct npu_fw_silu *s);
	/*
	 * ATTENTION whole, and in two parts for the pool: the checks and
	 * zeroing before a step (nonzero: the firmware's loops), then the
	 * sums over cache rows j0..j1 (VALUES: added into @acc).
	 */
	int (*attention)(void *unused, const struct npu_fw_attention *a);
	int (*attention_begin)(const struct npu_fw_attention *a);
	void (*attention_rows)(const struct npu_fw_attention *a, uint32_t j0, uint32_t j1,
			       __s64 *acc);
	/* The rescaling whole, and its checks then heads h0..h1; the softmax, and rows r0..r1. */
	int (*rescale)(void *unused, const struct npu_fw_rescale *r);
	int (*rescale_begin)(const struct npu_fw_rescale *r);
	void (*rescale_rows)(const struct npu_fw_rescale *r, uint32_t h0, uint32_t h1);
	int (*softmax)(void *unused, const struct npu_fw_softmax *sm);
	void (*softmax_rows)(const struct npu_fw_softmax *sm, uint32_t r0, uint32_t r1);
};

/*
 * ATTENTION's checks before a step (struct npu_level.attention_begin) for
 * the levels whose sums take 16-bit queries and 32-bit weights: nonzero
 * leaves the call to the firmware; VALUES zeroes a->acc.
 */
NPU_HIDDEN int npu_attention_begin(const struct npu_fw_attention *a);

/* @isa's kernels (this architecture's, x86/levels.c or arm64/levels.c); NULL at the scalar level. */
NPU_HIDDEN const struct npu_level *npu_level_of(enum npu_isa isa);

struct npu_kernels;

/* Kernels at @isa (npu_isa_select's); $NPU_THREADS sizes the pool. */
NPU_HIDDEN struct npu_kernels *npu_kernels_create(enum npu_isa isa);
NPU_HIDDEN void npu_kernels_destroy(struct npu_kernels *k);
NPU_HIDDEN enum npu_isa npu_kernels_isa(const struct npu_kernels *k);
NPU_HIDDEN int npu_kernels_threads(const struct npu_kernels *k);
/* The npu_fw_hooks.matmul hook: 0 when done, nonzero for the firmware's loops. */
NPU_HIDDEN int npu_kernels_matmul(void *ctx, const struct npu_fw_matmul *mm);
/* The npu_fw_hooks.matmul_block hook, likewise. */
NPU_HIDDEN int npu_kernels_matmul_block(void *ctx, const struct npu_fw_matmul_block *mb);
/* The npu_fw_hooks.attention hook, long caches split over the pool by rows. */
NPU_HIDDEN int npu_kernels_attention(void *ctx, const struct npu_fw_attention *a);
/* The npu_fw_hooks.rescale and .softmax hooks, many heads split over the pool. */
NPU_HIDDEN int npu_kernels_rescale(void *ctx, const struct npu_fw_rescale *r);
NPU_HIDDEN int npu_kernels_softmax(void *ctx, const struct npu_fw_softmax *sm);
/* The npu_fw_hooks.silu hook, long rows split over the pool. */
NPU_HIDDEN int npu_kernels_silu(void *ctx, const struct npu_fw_silu *s);
/*
 * Where packed weights are kept (the software core, swcore/aspace.c): room
 * for @bytes of @mm's weights packed, tied to the sealed buffers that hold
 * its weights and factors. *@fresh says the room is new and must be
 * filled; NULL when either buffer is not sealed, or no memory is left.
 */
typedef void *(*npu_packed_store_fn)(void *ctx, const struct npu_fw_matmul *mm, uint64_t bytes,
				     int *fresh);
NPU_HIDDEN void npu_kernels_set_store(struct npu_kernels *k, npu_packed_store_fn store,
				      void *ctx);
/* Install in @core the hooks this level answers (its npu_level's); none at scalar. */
NPU_HIDDEN void npu_kernels_hooks(struct npu_kernels *k, struct npu_fw_core *core);

#endif
