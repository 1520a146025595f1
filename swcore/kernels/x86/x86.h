/* SPDX-License-Identifier: MIT */
/*
 * The x86 levels' kernels (AVX2, AVX-VNNI, AVX-512 VNNI), which
 * x86/levels.c gathers into their struct npu_level.
 */
#ifndef LIBNPU_KERNELS_X86_H
#define LIBNPU_KERNELS_X86_H

#include "../kernels.h"

/* Pack tiles t0..t1 of @mm's weights into @dst (npu_mm_packed_bytes of it). */
NPU_HIDDEN void npu_mm_pack(const struct npu_fw_matmul *mm, uint8_t *dst, uint32_t t0,
			    uint32_t t1);
/*
 * Fill p->xt (room npu_mm_avx512_prepare set aside) from p->xe, p->xo and
 * p->nsx8: only for weights that are read packed.
 */
NPU_HIDDEN void npu_mm_packed_prepare(const struct npu_fw_matmul *mm, struct npu_mm_prep *p);
/* v[r][n] for n in [n0, n1), all rows, from p->packed and p->xt. */
NPU_HIDDEN void npu_mm_packed_avx512(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p,
				     uint32_t n0, uint32_t n1);

/* v[r][n] for n in [n0, n1), all rows. */
NPU_HIDDEN void npu_mm_avx2(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p,
			    uint32_t n0, uint32_t n1);
NPU_HIDDEN void npu_mm_avx512(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p,
			      uint32_t n0, uint32_t n1);
/*
 * SCALE_BLOCK sums acc[r][n] for n in [n0, n1), all rows, from @x16 ([rows][k]
 * the activations as int16): 0, or nonzero at a binary16 infinity or NaN.
 */
NPU_HIDDEN int npu_mm_block_avx2(const struct npu_fw_matmul_block *mb, const int16_t *x16,
				 uint32_t n0, uint32_t n1);
/* npu_mm_block_avx2 where npu_mmb_g1_fits, as thread @thread of the pool; likewise per level. */
NPU_HIDDEN int npu_mm_block_g1_avx2(const struct npu_fw_matmul_block *mb,
				    const struct npu_mmb_prep *p, int thread, uint32_t n0, uint32_t n1);
NPU_HIDDEN int npu_mm_block_g1_avxvnni(const struct npu_fw_matmul_block *mb,
				       const struct npu_mmb_prep *p, int thread, uint32_t n0,
				       uint32_t n1);
NPU_HIDDEN int npu_mm_block_g1_avx512(const struct npu_fw_matmul_block *mb,
				      const struct npu_mmb_prep *p, int thread, uint32_t n0,
				      uint32_t n1);
/* npu_mm_avx512's GEMMs, where npu_mm_gemm_fits and npu_mm_gemm_unpacked_fits: the same. */
NPU_HIDDEN void npu_mm_gemm_avx512(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p,
				   uint32_t n0, uint32_t n1);
NPU_HIDDEN void npu_mm_gemm_unpacked_avx512(const struct npu_fw_matmul *mm,
					    const struct npu_mm_prep *p, uint32_t n0, uint32_t n1);

/*
 * AVX-512 answers to the npu_fw_core hooks, in the hooks' own signatures
 * (the context unused): 0 when done, nonzero to leave the call to the
 * firmware's loops.
 */
NPU_HIDDEN int npu_requant_avx512(void *unused, const struct npu_fw_requant *rq);
NPU_HIDDEN int npu_attention_avx512(void *unused, const struct npu_fw_attention *a);
/*
 * npu_attention_avx512 in two parts, for the pool: the checks and zeroing
 * before a step (nonzero: the firmware's loops), then the sums over cache
 * rows j0..j1 (VALUES: added into @acc).
 */
NPU_HIDDEN int npu_attention_begin_avx512(const struct npu_fw_attention *a);
NPU_HIDDEN void npu_attention_rows_avx512(const struct npu_fw_attention *a, uint32_t j0,
					  uint32_t j1, __s64 *acc);
NPU_HIDDEN int npu_rescale_avx512(void *unused, const struct npu_fw_rescale *r);
/* npu_rescale_avx512 in two parts, for the pool: the checks, then heads h0..h1. */
NPU_HIDDEN int npu_rescale_begin_avx512(const struct npu_fw_rescale *r);
NPU_HIDDEN void npu_rescale_rows_avx512(const struct npu_fw_rescale *r, uint32_t h0, uint32_t h1);
NPU_HIDDEN int npu_silu_avx512(void *unused, const struct npu_fw_silu *s);
NPU_HIDDEN int npu_add_avx512(void *unused, const struct npu_fw_add *a);
NPU_HIDDEN int npu_norm_avx512(void *unused, const struct npu_fw_norm *nm);
NPU_HIDDEN int npu_softmax_avx512(void *unused, const struct npu_fw_softmax *sm);
/* npu_softmax_avx512's rows r0..r1, for the pool. */
NPU_HIDDEN void npu_softmax_rows_avx512(const struct npu_fw_softmax *sm, uint32_t r0, uint32_t r1);
NPU_HIDDEN int npu_amax_avx512(void *unused, const __s64 *v, __u32 n, __u64 *out);

/* The same at the AVX2 level (AVX2 and BMI2), with the same refusals. */
NPU_HIDDEN int npu_requant_avx2(void *unused, const struct npu_fw_requant *rq);
NPU_HIDDEN int npu_attention_avx2(void *unused, const struct npu_fw_attention *a);
NPU_HIDDEN void npu_attention_rows_avx2(const struct npu_fw_attention *a, uint32_t j0,
					uint32_t j1, __s64 *acc);
NPU_HIDDEN int npu_rescale_avx2(void *unused, const struct npu_fw_rescale *r);
NPU_HIDDEN int npu_rescale_begin_avx2(const struct npu_fw_rescale *r);
NPU_HIDDEN void npu_rescale_rows_avx2(const struct npu_fw_rescale *r, uint32_t h0, uint32_t h1);
NPU_HIDDEN int npu_silu_avx2(void *unused, const struct npu_fw_silu *s);
NPU_HIDDEN int npu_add_avx2(void *unused, const struct npu_fw_add *a);
NPU_HIDDEN int npu_norm_avx2(void *unused, const struct npu_fw_norm *nm);
NPU_HIDDEN int npu_softmax_avx2(void *unused, const struct npu_fw_softmax *sm);
NPU_HIDDEN void npu_softmax_rows_avx2(const struct npu_fw_softmax *sm, uint32_t r0, uint32_t r1);
NPU_HIDDEN int npu_amax_avx2(void *unused, const __s64 *v, __u32 n, __u64 *out);

/* Fill @p from @buf (npu_mm_prep_bytes of it), where npu_mm_prepared. */
NPU_HIDDEN void npu_mm_avx512_prepare(const struct npu_fw_matmul *mm, uint8_t *buf,
				      struct npu_mm_prep *p);


#endif
