/* SPDX-License-Identifier: MIT */
/*
 * Fast MATMUL sums for the cpu backend (struct npu_fw_matmul): the same
 * exact integers as the firmware's loops, computed with AVX2 or AVX-512
 * VNNI and split across a pool of threads.
 */
#ifndef LIBNPU_KERNELS_H
#define LIBNPU_KERNELS_H

#include <stdint.h>

#include "../../../firmware/include/npu_fw.h"

#define NPU_HIDDEN __attribute__((visibility("hidden")))

enum npu_isa { NPU_ISA_SCALAR, NPU_ISA_AVX2, NPU_ISA_AVX512 };

/*
 * Activations prepared once per call, shared by the threads: rows of
 * x ^ 0x80 (as unsigned bytes) for int8 x, and the same bytes with even
 * and odd elements apart for int4 weights (row r of xe and xo starts at
 * r * k; xo = xe + k / 2).
 */
struct npu_mm_prep {
	const uint8_t *xu;	/* [rows][k] */
	const uint8_t *xe, *xo;
};

/* v[r][n] for n in [n0, n1), all rows. */
NPU_HIDDEN void npu_mm_avx2(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p,
			    uint32_t n0, uint32_t n1);
NPU_HIDDEN void npu_mm_avx512(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p,
			      uint32_t n0, uint32_t n1);

struct npu_kernels;

/* $NPU_CPU_ISA (scalar, avx2, avx512) caps the level; $NPU_THREADS the pool. */
NPU_HIDDEN struct npu_kernels *npu_kernels_create(void);
NPU_HIDDEN void npu_kernels_destroy(struct npu_kernels *k);
NPU_HIDDEN enum npu_isa npu_kernels_isa(const struct npu_kernels *k);
NPU_HIDDEN int npu_kernels_threads(const struct npu_kernels *k);
/* The npu_fw_core.matmul hook: 0 when done, nonzero for the firmware's loops. */
NPU_HIDDEN int npu_kernels_matmul(void *ctx, const struct npu_fw_matmul *mm);

#endif
