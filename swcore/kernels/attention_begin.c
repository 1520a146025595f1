// SPDX-License-Identifier: MIT
/*
 * What ATTENTION's 16-bit and 32-bit kernels (x86's AVX2, arm64's NEON)
 * need of a call before its sums, in plain C for both: SCORES 16-bit
 * query values, VALUES weights that fit int32 (and a->acc zeroed).
 * Anything else goes back to the firmware's loops.
 */
#include <string.h>

#include "kernels.h"

int npu_attention_begin(const struct npu_fw_attention *a)
{
	uint64_t n = (uint64_t)a->n_heads * a->head_dim, i;
	uint32_t h, j;

	if (a->step == NPU_FW_ATTN_SCORES) {
		for (i = 0; i < n; i++)
			if (a->q[i] != (int16_t)a->q[i])
				return 1;
		return 0;
	}
	for (h = 0; h < a->n_heads; h++)
		for (j = 0; j < a->len; j++)
			if (a->t[h * a->t_stride + j] != (int32_t)a->t[h * a->t_stride + j])
				return 1;
	memset(a->acc, 0, n * sizeof(*a->acc));
	return 0;
}
