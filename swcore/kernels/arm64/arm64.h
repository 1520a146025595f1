/* SPDX-License-Identifier: MIT */
/*
 * The arm64 levels' kernels (NEON, SDOT, SMMLA), which arm64/levels.c
 * gathers into their struct npu_level. Each level's sums are exact int32
 * within bounded runs of columns, folded into int64: the same integers
 * as the firmware's loops.
 */
#ifndef LIBNPU_KERNELS_ARM64_H
#define LIBNPU_KERNELS_ARM64_H

#include "../kernels.h"

/* v[r][n] for n in [n0, n1), all rows (struct npu_level.mm). */
NPU_HIDDEN void npu_mm_neon(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p,
			    uint32_t n0, uint32_t n1);
NPU_HIDDEN void npu_mm_dotprod(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p,
			       uint32_t n0, uint32_t n1);
NPU_HIDDEN void npu_mm_i8mm(const struct npu_fw_matmul *mm, const struct npu_mm_prep *p,
			    uint32_t n0, uint32_t n1);

/* The output stage and element-wise hooks at every arm64 level (struct npu_level's). */
NPU_HIDDEN int npu_requant_neon(void *unused, const struct npu_fw_requant *rq);
NPU_HIDDEN int npu_add_neon(void *unused, const struct npu_fw_add *a);
NPU_HIDDEN int npu_norm_neon(void *unused, const struct npu_fw_norm *nm);
NPU_HIDDEN int npu_amax_neon(void *unused, const __s64 *v, __u32 n, __u64 *out);

/* ATTENTION at every arm64 level (struct npu_level's attention members). */
NPU_HIDDEN int npu_attention_neon(void *unused, const struct npu_fw_attention *a);
NPU_HIDDEN void npu_attention_rows_neon(const struct npu_fw_attention *a, uint32_t j0,
					uint32_t j1, __s64 *acc);

/* One group's sum of x[c] * w[c], c < @len, at NEON (int8 or int16 x; int8 or int4 w). */
NPU_HIDDEN int64_t npu_dot_neon(const void *x, uint32_t x_bits, const uint8_t *w, uint32_t w_bits,
				uint32_t len);
/* The same with SDOT where x is int8; NEON's otherwise. */
NPU_HIDDEN int64_t npu_dot_dotprod(const void *x, uint32_t x_bits, const uint8_t *w,
				   uint32_t w_bits, uint32_t len);

/* A row of @mm's v by @dot for columns [n0, n1): the firmware's grouping and factors. */
static inline void npu_mm_rows(const struct npu_fw_matmul *mm, uint32_t r0, uint32_t r1,
			       uint32_t n0, uint32_t n1,
			       int64_t (*dot)(const void *x, uint32_t x_bits, const uint8_t *w,
					      uint32_t w_bits, uint32_t len))
{
	uint32_t gpr = mm->groups_per_row, g = mm->k / gpr, eb = mm->x_bits / 8, n, r, j;

	for (n = n0; n < n1; n++) {
		const uint8_t *wr = mm->w + (uint64_t)n * mm->w_stride;
		const uint16_t *f = mm->factors + (uint64_t)n * gpr;

		for (r = r0; r < r1; r++) {
			const uint8_t *xr = (const uint8_t *)mm->x + r * mm->x_stride;
			int64_t acc = 0;

			for (j = 0; j < gpr; j++) {
				uint64_t c = (uint64_t)j * g;

				acc += dot(xr + c * eb, mm->x_bits, wr + c * mm->w_bits / 8,
					   mm->w_bits, g) * f[j];
			}
			mm->v[(uint64_t)r * mm->n + n] = acc;
		}
	}
}

#endif
