// SPDX-License-Identifier: MIT
/*
 * npu-info - list the backends libnpu has, and for each one that opens:
 * the device, its firmware and the ops it implements.
 *
 * usage: npu-info [BACKEND]
 */
#include <stdio.h>
#include <string.h>

#include <npu/npu.h>

static int show(const char *backend)
{
	struct npu_info info;
	npu_device *dev;
	unsigned int op;
	int err;

	err = npu_open(backend, &dev);
	if (err) {
		printf("%s: not available: %s\n", backend, npu_strerror(err));
		return 1;
	}
	err = npu_query(dev, &info);
	if (err) {
		printf("%s: query failed: %s\n", backend, npu_strerror(err));
		npu_close(dev);
		return 1;
	}
	printf("%s: %s\n", info.backend, info.name);
	printf("  ABI %u.%u, firmware ABI %u.%u, firmware build %s\n", info.abi_major,
	       info.abi_minor, info.fw_abi_major, info.fw_abi_minor, info.fw_build_id);
	printf("  cores %u, priorities %u, address space %llu GiB, core scratch %llu KiB\n",
	       info.n_cores, info.n_priorities, (unsigned long long)(info.va_size >> 30),
	       (unsigned long long)(info.scratch_size >> 10));
	printf("  ops:");
	for (op = 0; op < 64; op++)
		if (info.op_mask & (1ull << op))
			printf(" %s", npu_op_name(op) ? npu_op_name(op) : "?");
	printf("\n");
	npu_close(dev);
	return 0;
}

int main(int argc, char **argv)
{
	const char *const *b;
	int failed = 0, shown = 0;

	if (argc > 2 || (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))) {
		fprintf(stderr, "usage: npu-info [BACKEND]\n");
		return 2;
	}
	if (argc == 2)
		return show(argv[1]);
	printf("backends:");
	for (b = npu_backends(); *b; b++)
		printf(" %s", *b);
	printf("\n");
	for (b = npu_backends(); *b; b++) {
		failed += show(*b);
		shown++;
	}
	return failed == shown ? 1 : 0;
}
