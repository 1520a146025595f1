// SPDX-License-Identifier: MIT
/*
 * The x86 levels' kernels, for the pool and the tests. AVX-VNNI has its
 * own SCALE_BLOCK kernel only; elsewhere it runs AVX2's.
 */
#include "x86.h"

/* What AVX-VNNI shares with AVX2: all but the SCALE_BLOCK kernel for one group. */
#define AVX2_KERNELS \
	.mm = npu_mm_avx2, \
	.mm_block = npu_mm_block_avx2, \
	.requant = npu_requant_avx2, \
	.add = npu_add_avx2, \
	.norm = npu_norm_avx2, \
	.amax = npu_amax_avx2, \
	.silu = npu_silu_avx2, \
	.attention = npu_attention_avx2, \
	.attention_begin = npu_attention_begin, \
	.attention_rows = npu_attention_rows_avx2, \
	.rescale = npu_rescale_avx2, \
	.rescale_begin = npu_rescale_begin_avx2, \
	.rescale_rows = npu_rescale_rows_avx2, \
	.softmax = npu_softmax_avx2, \
	.softmax_rows = npu_softmax_rows_avx2

static const struct npu_level avx2 = {
	.isa = NPU_ISA_AVX2,
	.mm_block_g1 = npu_mm_block_g1_avx2,
	AVX2_KERNELS,
};

static const struct npu_level avxvnni = {
	.isa = NPU_ISA_AVXVNNI,
	.mm_block_g1 = npu_mm_block_g1_avxvnni,
	.mmb_vnni = 1,
	AVX2_KERNELS,
};

static const struct npu_level avx512 = {
	.isa = NPU_ISA_AVX512,
	.mm = npu_mm_avx512,
	.mm_prepare = npu_mm_avx512_prepare,
	.mm_pack = npu_mm_pack,
	.mm_packed_prepare = npu_mm_packed_prepare,
	.mm_block = npu_mm_block_avx2,
	.mm_block_g1 = npu_mm_block_g1_avx512,
	.mmb_vnni = 1,
	.requant = npu_requant_avx512,
	.add = npu_add_avx512,
	.norm = npu_norm_avx512,
	.amax = npu_amax_avx512,
	.silu = npu_silu_avx512,
	.attention = npu_attention_avx512,
	.attention_begin = npu_attention_begin_avx512,
	.attention_rows = npu_attention_rows_avx512,
	.rescale = npu_rescale_avx512,
	.rescale_begin = npu_rescale_begin_avx512,
	.rescale_rows = npu_rescale_rows_avx512,
	.softmax = npu_softmax_avx512,
	.softmax_rows = npu_softmax_rows_avx512,
};

const struct npu_level *npu_level_of(enum npu_isa isa)
{
	static const struct npu_level *const levels[NPU_ISA_COUNT] = {
		[NPU_ISA_AVX2] = &avx2, [NPU_ISA_AVXVNNI] = &avxvnni, [NPU_ISA_AVX512] = &avx512,
	};

	return isa < NPU_ISA_COUNT ? levels[isa] : NULL;
}
