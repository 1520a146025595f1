// SPDX-License-Identifier: MIT
/*
 * npu-info - list the backends libnpu has, and for each one that opens:
 * the device, its firmware and the ops it implements. With --watch: a
 * live view of every npu accel device from its sysfs counters
 * (docs/ABI/sysfs-driver-npu): utilisation, jobs/s, failures, memory.
 *
 * usage: npu-info [BACKEND]
 *        npu-info --watch [--interval SECONDS] [--count N]
 *        npu-info --help
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <npu/npu.h>

static int show(const char *backend)
{
	struct npu_info info;
	npu_device *dev;
	unsigned int op;
	int err;

	err = npu_open(backend, &dev);
	if (err) {
		const char *why = npu_open_reason();

		printf("%s: not available: %s%s%s%s\n", backend, npu_strerror(err),
		       *why ? " (" : "", why, *why ? ")" : "");
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

/* ---- --watch ------------------------------------------------------------ */

#define SYSFS_ACCEL "/sys/class/accel"
#define MAX_WATCH 16

enum { C_BUSY_US, C_COMPLETED, C_FAILED, C_FAULTS, C_TIMEOUTS, C_RESETS, C_MEMORY, C_CORES,
       N_COUNTERS };

static const char *const counter_files[N_COUNTERS] = {
	"npu_busy_time_us", "jobs_completed", "jobs_failed", "mmu_faults", "job_timeouts",
	"core_resets", "memory_bytes", "cores",
};

struct watched {
	char name[32];
	long long c[N_COUNTERS];
};

static int read_counter(const char *node, const char *file, long long *v)
{
	char path[PATH_MAX];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), SYSFS_ACCEL "/%s/device/%s", node, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fscanf(f, "%lld", v) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

/* Whether accel node @node is bound to npu.ko (not another accel driver): an emulated or PCI NPU. */
static int is_npu(const char *node)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;
	const char *base;

	snprintf(path, sizeof(path), SYSFS_ACCEL "/%s/device/driver", node);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return 0;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	return !strcmp(base, "npu-emu") || !strcmp(base, "npu-pci");
}

/* The accel nodes of npu.ko, in name order. */
static int find_devices(struct watched *w)
{
	struct dirent **names;
	int n, i, found = 0;

	n = scandir(SYSFS_ACCEL, &names, NULL, alphasort);
	for (i = 0; i < n; i++) {
		if (!strncmp(names[i]->d_name, "accel", 5) && found < MAX_WATCH &&
		    is_npu(names[i]->d_name))
			snprintf(w[found++].name, sizeof(w->name), "%.31s", names[i]->d_name);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	return found;
}

static int sample(struct watched *w)
{
	int k;

	for (k = 0; k < N_COUNTERS; k++)
		if (read_counter(w->name, counter_files[k], &w->c[k]))
			return -1;
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int watch(double interval, long count)
{
	struct watched prev[MAX_WATCH], cur[MAX_WATCH];
	int n = find_devices(prev), i;
	double t0 = now(), t1;
	long s;

	if (!n) {
		fprintf(stderr, "npu-info: no npu devices under " SYSFS_ACCEL
			" (is npu.ko loaded?)\n");
		return 1;
	}
	for (i = 0; i < n; i++)
		if (sample(&prev[i])) {
			fprintf(stderr, "npu-info: %s: counters unreadable\n", prev[i].name);
			return 1;
		}
	printf("%-8s %6s %8s %10s %7s %7s %9s %7s %11s\n", "device", "util%", "jobs/s",
	       "completed", "failed", "faults", "timeouts", "resets", "memory_MiB");
	for (s = 0; !count || s < count; s++) {
		struct timespec ts = { (time_t)interval,
				       (long)((interval - (time_t)interval) * 1e9) };

		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
		t1 = now();
		for (i = 0; i < n; i++) {
			double dt = t1 - t0, util;

			cur[i] = prev[i];
			if (sample(&cur[i])) {
				printf("%-8s gone\n", cur[i].name);
				return 1;
			}
			util = (cur[i].c[C_BUSY_US] - prev[i].c[C_BUSY_US]) /
			       (dt * 1e6 * (cur[i].c[C_CORES] > 0 ? cur[i].c[C_CORES] : 1)) * 100;
			printf("%-8s %6.1f %8.0f %10lld %7lld %7lld %9lld %7lld %11.1f\n",
			       cur[i].name, util > 100 ? 100 : util,
			       (cur[i].c[C_COMPLETED] - prev[i].c[C_COMPLETED]) / dt,
			       cur[i].c[C_COMPLETED], cur[i].c[C_FAILED], cur[i].c[C_FAULTS],
			       cur[i].c[C_TIMEOUTS], cur[i].c[C_RESETS],
			       cur[i].c[C_MEMORY] / 1048576.0);
			prev[i] = cur[i];
		}
		fflush(stdout);
		t0 = t1;
	}
	return 0;
}

/* On stdout with status 0 when asked for, else on stderr with status 2. */
static int usage(int asked)
{
	fprintf(asked ? stdout : stderr,
		"usage: npu-info [BACKEND]\n"
		"       npu-info --watch [--interval SECONDS] [--count N]\n"
		"       npu-info --help\n");
	return asked ? 0 : 2;
}

int main(int argc, char **argv)
{
	const char *const *b;
	int failed = 0, shown = 0;

	if (argc >= 2 && !strcmp(argv[1], "--watch")) {
		double interval = 1;
		long count = 0;
		char *end;
		int i;

		for (i = 2; i + 1 < argc; i += 2) {
			if (!strcmp(argv[i], "--interval"))
				interval = strtod(argv[i + 1], &end);
			else if (!strcmp(argv[i], "--count"))
				count = strtol(argv[i + 1], &end, 10);
			else
				return usage(0);
			if (*end || end == argv[i + 1])
				return usage(0);
		}
		if (i != argc || !(interval >= 0.01 && interval <= 3600) || count < 0)
			return usage(0);
		return watch(interval, count);
	}
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return usage(1);
	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return usage(0);
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
