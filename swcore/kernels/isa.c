// SPDX-License-Identifier: MIT
/*
 * What to call each of the kernels' instruction-set levels, and the level
 * the software core runs at. Which of them this CPU has is each
 * architecture's question: x86/cpu.c, arm64/cpu.c.
 */
#include <string.h>

#include "isa.h"

static const struct {
	const char *name, *title;
} levels[NPU_ISA_COUNT] = {
	[NPU_ISA_SCALAR] = { "scalar", "scalar C" },
#if defined(__x86_64__)
	[NPU_ISA_AVX2] = { "avx2", "AVX2 BMI2" },
	[NPU_ISA_AVXVNNI] = { "avxvnni", "AVX-VNNI" },
	[NPU_ISA_AVX512] = { "avx512", "AVX-512 VNNI" },
#elif defined(__aarch64__)
	[NPU_ISA_NEON] = { "neon", "NEON" },
	[NPU_ISA_DOTPROD] = { "dotprod", "NEON SDOT" },
	[NPU_ISA_I8MM] = { "i8mm", "NEON SMMLA" },
#endif
};

enum npu_isa npu_isa_host_best(void)
{
	enum npu_isa isa = NPU_ISA_COUNT - 1;

	while (!npu_isa_host_has(isa))
		isa--;
	return isa;
}

const char *npu_isa_name(enum npu_isa isa)
{
	return isa < NPU_ISA_COUNT ? levels[isa].name : "?";
}

const char *npu_isa_title(enum npu_isa isa)
{
	return isa < NPU_ISA_COUNT ? levels[isa].title : "?";
}

int npu_isa_select(const char *request)
{
	enum npu_isa isa;

	if (!request || !*request)
		return npu_isa_host_best();
	for (isa = NPU_ISA_SCALAR; isa < NPU_ISA_COUNT; isa++)
		if (!strcmp(request, levels[isa].name)) {
			while (!npu_isa_host_has(isa))
				isa--;
			return isa;
		}
	return -1;
}
