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
	enum npu_isa isa, best = npu_isa_host_best();
	char cpu[96];

	if (argc == 2 && !strcmp(argv[1], "--levels")) {
		for (isa = NPU_ISA_SCALAR; isa <= best; isa++)
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
	for (isa = NPU_ISA_SCALAR; isa <= best; isa++)
		printf(" %s", npu_isa_name(isa));
	printf("; not on this CPU, so skipped:");
	for (isa = best + 1; isa < NPU_ISA_COUNT; isa++)
		printf(" %s (%s)", npu_isa_name(isa), npu_isa_title(isa));
	printf("%s\n", best + 1 < NPU_ISA_COUNT ? "" : " none");
	return 0;
}
