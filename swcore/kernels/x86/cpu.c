// SPDX-License-Identifier: MIT
/*
 * Which of the x86 levels this CPU has, by CPUID (through libgcc, which
 * also asks the OS whether it saves the AVX and AVX-512 registers), and
 * its name.
 */
#include <cpuid.h>
#include <stdio.h>
#include <string.h>

#include "../isa.h"

int npu_isa_host_has(enum npu_isa isa)
{
	__builtin_cpu_init();
	switch (isa) {
	case NPU_ISA_SCALAR:
		return 1;
	case NPU_ISA_AVX2:
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
	case NPU_ISA_AVXVNNI:
		return npu_isa_host_has(NPU_ISA_AVX2) && __builtin_cpu_supports("avxvnni");
	case NPU_ISA_AVX512:
		/* What the AVX-512 kernels are compiled for (the Makefile's ISA_FLAGS_*). */
		return npu_isa_host_has(NPU_ISA_AVX2) && __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
		       __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni");
	default:
		return 0;
	}
}

void npu_isa_host_cpu(char *buf, size_t size)
{
	unsigned int r[12] = { 0 }, a = 0, b, c, d, family, model, i;
	char brand[sizeof(r) + 1] = "";
	const char *s = brand;
	size_t n;

	if (__get_cpuid_max(0x80000000, NULL) >= 0x80000004) {
		for (i = 0; i < 3; i++)
			__get_cpuid(0x80000002 + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2],
				    &r[4 * i + 3]);
		memcpy(brand, r, sizeof(r));
	}
	/* Brand strings are padded with spaces, on either side. */
	while (*s == ' ')
		s++;
	n = strlen(s);
	while (n && s[n - 1] == ' ')
		n--;
	if (!n) {
		s = "unnamed x86-64 CPU";
		n = strlen(s);
	}
	__get_cpuid(1, &a, &b, &c, &d);
	family = (a >> 8) & 0xf;
	model = (a >> 4) & 0xf;
	if (family == 0xf)
		family += (a >> 20) & 0xff;
	if (family >= 6)
		model |= ((a >> 16) & 0xf) << 4;
	snprintf(buf, size, "%.*s (family %u model %u)", (int)n, s, family, model);
}
