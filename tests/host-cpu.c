// SPDX-License-Identifier: MIT
/*
 * host-cpu - what the test runners need to know of this CPU: which of the
 * cpu backend's instruction-set levels it has, by libnpu's own probe.
 *
 * usage: host-cpu            one line for a person: the CPU, the levels
 *                            tested and those it lacks
 *        host-cpu --levels   the levels it has, as $NPU_CPU_ISA names them
 */
#include <stdio.h>
#include <string.h>

#include "../swcore/kernels/isa.h"

int main(int argc, char **argv)
{
	enum npu_isa isa;
	int lacks = 0;
	char cpu[96];

	if (argc == 2 && !strcmp(argv[1], "--levels")) {
		for (isa = NPU_ISA_SCALAR; isa < NPU_ISA_COUNT; isa++)
			if (npu_isa_host_has(isa))
				printf("%s%s", isa ? " " : "", npu_isa_name(isa));
		printf("\n");
		return 0;
	}
	if (argc != 1) {
		fprintf(stderr, "usage: host-cpu [--levels]\n");
		return 2;
	}
	npu_isa_host_cpu(cpu, sizeof(cpu));
	printf("host CPU: %s; cpu backend levels tested:", cpu);
	for (isa = NPU_ISA_SCALAR; isa < NPU_ISA_COUNT; isa++)
		if (npu_isa_host_has(isa))
			printf(" %s", npu_isa_name(isa));
	printf("; not on this CPU, so skipped:");
	for (isa = NPU_ISA_SCALAR; isa < NPU_ISA_COUNT; isa++)
		if (!npu_isa_host_has(isa)) {
			printf(" %s (%s)", npu_isa_name(isa), npu_isa_title(isa));
			lacks = 1;
		}
	printf("%s\n", lacks ? "" : " none");
	return 0;
}
