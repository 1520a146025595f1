// SPDX-License-Identifier: MIT
/*
 * Which of the arm64 levels this CPU has, by the kernel's hardware
 * capabilities (getauxval: the kernel sets them only for what it also
 * lets user space run), and its name, by its main ID register.
 */
#include <stdio.h>
#include <sys/auxv.h>
#include <asm/hwcap.h>

#include "../isa.h"

int npu_isa_host_has(enum npu_isa isa)
{
	unsigned long hwcap = getauxval(AT_HWCAP), hwcap2 = getauxval(AT_HWCAP2);

	switch (isa) {
	case NPU_ISA_SCALAR:
		return 1;
	case NPU_ISA_NEON:
		return !!(hwcap & HWCAP_ASIMD);
	case NPU_ISA_DOTPROD:
		return npu_isa_host_has(NPU_ISA_NEON) && (hwcap & HWCAP_ASIMDDP);
	case NPU_ISA_I8MM:
		return npu_isa_host_has(NPU_ISA_DOTPROD) && (hwcap2 & HWCAP2_I8MM);
	default:
		return 0;
	}
}

/* Arm's own cores a board is likely to have, by MIDR part number. */
static const char *arm_core(unsigned int part)
{
	static const struct {
		unsigned int part;
		const char *name;
	} cores[] = {
		{ 0xd03, "Cortex-A53" }, { 0xd04, "Cortex-A35" }, { 0xd05, "Cortex-A55" },
		{ 0xd07, "Cortex-A57" }, { 0xd08, "Cortex-A72" }, { 0xd09, "Cortex-A73" },
		{ 0xd0a, "Cortex-A75" }, { 0xd0b, "Cortex-A76" }, { 0xd0c, "Neoverse N1" },
		{ 0xd0d, "Cortex-A77" }, { 0xd40, "Neoverse V1" }, { 0xd41, "Cortex-A78" },
		{ 0xd46, "Cortex-A510" }, { 0xd47, "Cortex-A710" }, { 0xd48, "Cortex-X2" },
		{ 0xd49, "Neoverse N2" }, { 0xd4f, "Neoverse V2" }, { 0xd80, "Cortex-A520" },
		{ 0xd81, "Cortex-A720" },
	};
	size_t i;

	for (i = 0; i < sizeof(cores) / sizeof(cores[0]); i++)
		if (cores[i].part == part)
			return cores[i].name;
	return NULL;
}

void npu_isa_host_cpu(char *buf, size_t size)
{
	unsigned long long midr = 0;
	unsigned int implementer, part;
	const char *name;
	FILE *f = fopen("/sys/devices/system/cpu/cpu0/regs/identification/midr_el1", "r");

	if (!f || fscanf(f, "%llx", &midr) != 1) {
		/* Without sysfs, the register itself: the kernel emulates reading it. */
		if (getauxval(AT_HWCAP) & HWCAP_CPUID)
			__asm__("mrs %0, midr_el1" : "=r"(midr));
	}
	if (f)
		fclose(f);
	implementer = (unsigned int)(midr >> 24) & 0xff;
	part = (unsigned int)(midr >> 4) & 0xfff;
	name = implementer == 0x41 ? arm_core(part) : NULL;
	if (name)
		snprintf(buf, size, "Arm %s (arm64, MIDR %#llx)", name, midr);
	else
		snprintf(buf, size, "arm64 CPU (implementer %#x part %#x, MIDR %#llx)", implementer,
			 part, midr);
}
