// SPDX-License-Identifier: MIT
/*
 * The arm64 levels' kernels, for the pool and the tests: MATMUL's sums
 * per level; the output stage, ATTENTION's sums, ADD, the norms and the
 * row maximum in NEON at all of them. SCALE_BLOCK, SILU, the softmax and
 * ATTENTION's rescaling run the firmware's own loops (compiled for
 * arm64) so far.
 */
#include "arm64.h"

#define NEON_OPS \
	.requant = npu_requant_neon, \
	.add = npu_add_neon, \
	.norm = npu_norm_neon, \
	.amax = npu_amax_neon, \
	.attention = npu_attention_neon, \
	.attention_begin = npu_attention_begin, \
	.attention_rows = npu_attention_rows_neon

static const struct npu_level neon = { .isa = NPU_ISA_NEON, .mm = npu_mm_neon, NEON_OPS };
static const struct npu_level dotprod = {
	.isa = NPU_ISA_DOTPROD, .mm = npu_mm_dotprod, NEON_OPS,
};
static const struct npu_level i8mm = { .isa = NPU_ISA_I8MM, .mm = npu_mm_i8mm, NEON_OPS };

const struct npu_level *npu_level_of(enum npu_isa isa)
{
	static const struct npu_level *const levels[NPU_ISA_COUNT] = {
		[NPU_ISA_NEON] = &neon, [NPU_ISA_DOTPROD] = &dotprod, [NPU_ISA_I8MM] = &i8mm,
	};

	return isa < NPU_ISA_COUNT ? levels[isa] : NULL;
}
