// SPDX-License-Identifier: MIT
/*
 * The arm64 levels' kernels, for the pool and the tests. So far MATMUL's
 * sums: the output stage, ATTENTION, SCALE_BLOCK and the element-wise
 * hooks run the firmware's own loops (compiled for NEON by the compiler)
 * at every arm64 level.
 */
#include "arm64.h"

static const struct npu_level neon = { .isa = NPU_ISA_NEON, .mm = npu_mm_neon };
static const struct npu_level dotprod = { .isa = NPU_ISA_DOTPROD, .mm = npu_mm_dotprod };
static const struct npu_level i8mm = { .isa = NPU_ISA_I8MM, .mm = npu_mm_i8mm };

const struct npu_level *npu_level_of(enum npu_isa isa)
{
	static const struct npu_level *const levels[NPU_ISA_COUNT] = {
		[NPU_ISA_NEON] = &neon, [NPU_ISA_DOTPROD] = &dotprod, [NPU_ISA_I8MM] = &i8mm,
	};

	return isa < NPU_ISA_COUNT ? levels[isa] : NULL;
}
