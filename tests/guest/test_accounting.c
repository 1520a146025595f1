// SPDX-License-Identifier: MIT
/*
 * What npu.ko reports of its use, and holds it to: fdinfo's DRM usage
 * stats, the sysfs counters npu-info --watch reads, and the pinned-memory
 * budget shared by all NPUs. The guest loads npu.ko with npus=2 cores=1,2.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guestlib.h"

static void fdinfo_keys(void **state)
{
	int fd = g_open(0);
	struct g_bo cmd = g_bo_new(fd, 4096);
	struct drm_npu_op nop = { .opcode = DRM_NPU_OP_NOP };
	char path[64], buf[4096];
	ssize_t n;
	int f;

	(void)state;
	assert_int_equal(g_run(fd, &cmd, &nop, 1, NULL), DRM_NPU_STATUS_OK);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY);
	assert_true(f >= 0);
	n = read(f, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	close(f);
	assert_non_null(strstr(buf, "drm-driver:\tnpu"));
	assert_non_null(strstr(buf, "drm-client-id:"));
	assert_non_null(strstr(buf, "drm-engine-npu:"));
	assert_non_null(strstr(buf, "drm-engine-capacity-npu:\t1"));
	assert_non_null(strstr(buf, "drm-total-memory:"));
	assert_non_null(strstr(buf, "drm-resident-memory:"));
	g_bo_del(fd, &cmd);
	close(fd);
}

/*
 * fdinfo as Documentation/gpu/drm-usage-stats.rst specifies it, read the
 * way a generic reader (gputop, nvtop) does: "key:<tab>value[ unit]"
 * lines. Returns the value of @key, -1 when absent; checks the syntax of
 * every drm- line on the way.
 */
static long long fdinfo_value(int fd, const char *key, char *unit, size_t unit_len)
{
	char path[64], line[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':'), *end;
		long long x;

		if (strncmp(line, "drm-", 4))
			continue;
		assert_non_null(colon);
		assert_int_equal(colon[1], '\t');	/* key:<tab>value */
		if (!strncmp(line, "drm-driver:", 11) || !strncmp(line, "drm-pdev:", 9))
			continue;
		x = strtoll(colon + 2, &end, 10);
		assert_true(end != colon + 2 && x >= 0);
		if ((size_t)(colon - line) == strlen(key) && !strncmp(line, key, strlen(key))) {
			v = x;
			if (unit)
				snprintf(unit, unit_len, "%s", *end == ' ' ? end + 1 : "");
			if (unit && strchr(unit, '\n'))
				*strchr(unit, '\n') = '\0';
		}
	}
	fclose(f);
	return v;
}

/* Engine time grows with each job while the file is in use; memory counts BOs. */
static void fdinfo_usage_grows(void **state)
{
	int fd = g_open(0);
	struct g_bo cmd = g_bo_new(fd, 4096), buf = g_bo_new(fd, G_LONG_BUF);
	uint32_t n = g_long_stream(&cmd, &buf);
	long long before, after, mem;
	char unit[16];
	int i;

	(void)state;
	assert_int_equal(fdinfo_value(fd, "drm-engine-capacity-npu", NULL, 0), 1);
	before = fdinfo_value(fd, "drm-engine-npu", unit, sizeof(unit));
	assert_string_equal(unit, "ns");
	mem = fdinfo_value(fd, "drm-total-memory", unit, sizeof(unit));
	/* drm_show_memory_stats scales to KiB or MiB. */
	assert_true(!strcmp(unit, "KiB") || !strcmp(unit, "MiB"));
	assert_true(mem * (unit[0] == 'M' ? 1024 : 1) >= (4096 + G_LONG_BUF) / 1024);
	for (i = 0; i < 3; i++) {
		uint64_t id;
		struct drm_npu_wait w;

		assert_int_equal(g_submit(fd, cmd.handle, n, DRM_NPU_PRIO_NORMAL, NULL, 0, 0, &id), 0);
		assert_int_equal(g_wait(fd, id, -1, &w), 0);
		assert_int_equal(w.status, DRM_NPU_STATUS_OK);
		after = fdinfo_value(fd, "drm-engine-npu", NULL, 0);
		/*
		 * Each job is ~3 x 10^7 multiply-adds: milliseconds under TCG,
		 * about one on a PCI NPU's host; the time is the core's own.
		 */
		if (!i)
			printf("BENCH fdinfo drm-engine-npu grew by %lld ns for one long job\n",
			       after - before);
		assert_true(after - before > 10000);
		before = after;
	}
	g_bo_del(fd, &buf);
	g_bo_del(fd, &cmd);
	close(fd);
}

/* The sysfs counters npu-info --watch reads (docs/ABI/sysfs-driver-npu). */
static long long sysfs_counter_of(int index, const char *name)
{
	char path[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/accel/accel%d/device/%s", index, name);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%lld", &v), 1);
	fclose(f);
	return v;
}

static long long sysfs_counter(const char *name)
{
	return sysfs_counter_of(0, name);
}

/*
 * Buffers pin their pages: one that would take the buffers of all NPUs
 * together past half of RAM fails with ENOMEM, before anything is
 * allocated, and the budget is whole again for the next one. (The budget
 * was per device: with 64 MiB held on accel1, accel0 still took its half.)
 */
static void bo_create_over_budget(void **state)
{
	int fd1 = g_open(1);
	struct g_bo held = g_bo_new(fd1, 64 << 20);
	long long mem = sysfs_counter("memory_bytes"), mem1 = sysfs_counter_of(1, "memory_bytes");
	unsigned long long half = (unsigned long long)sysconf(_SC_PHYS_PAGES) *
				  (unsigned long long)sysconf(_SC_PAGESIZE) / 2;
	struct drm_npu_bo_create c = {
		.size = half - (unsigned long long)mem - (unsigned long long)mem1 + (1 << 20),
	};
	int fd = g_open(0);

	(void)state;
	/* The guests this runs in have under 4 GiB, so the request is a valid size. */
	assert_true(c.size <= 2ull << 30);
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_BO_CREATE, &c), -1);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(sysfs_counter("memory_bytes"), mem);
	memset(&c, 0, sizeof(c));
	c.size = 1 << 20;
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_BO_CREATE, &c), 0);
	assert_int_equal(sysfs_counter("memory_bytes"), mem + (1 << 20));
	close(fd);
	g_bo_del(fd1, &held);
	close(fd1);
}

static void sysfs_counters(void **state)
{
	long long done = sysfs_counter("jobs_completed"), busy = sysfs_counter("npu_busy_time_us");
	long long mem = sysfs_counter("memory_bytes"), sub = sysfs_counter("jobs_submitted"), grew;
	int fd = g_open(0);
	struct g_bo cmd = g_bo_new(fd, 4096), buf = g_bo_new(fd, G_LONG_BUF);
	uint32_t n = g_long_stream(&cmd, &buf);
	uint64_t id;
	struct drm_npu_wait w;
	int i;

	(void)state;
	assert_int_equal(sysfs_counter("cores"), 1);
	assert_true(sysfs_counter("memory_bytes") >= mem + 4096 + G_LONG_BUF);
	assert_int_equal(g_submit(fd, cmd.handle, n, DRM_NPU_PRIO_NORMAL, NULL, 0, 0, &id), 0);
	assert_int_equal(g_wait(fd, id, -1, &w), 0);
	assert_int_equal(sysfs_counter("jobs_submitted"), sub + 1);
	assert_int_equal(sysfs_counter("jobs_completed"), done + 1);
	/*
	 * ~3 x 10^7 multiply-adds: milliseconds under TCG, under one on a PCI
	 * NPU's host and never under 10 us; the bound tells a counter that
	 * moved from one that did not, not a speed.
	 */
	grew = sysfs_counter("npu_busy_time_us") - busy;
	printf("BENCH sysfs npu_busy_time_us grew by %lld for one long job\n", grew);
	assert_true(grew > 10);
	g_bo_del(fd, &buf);
	g_bo_del(fd, &cmd);
	close(fd);
	/* Closing the file frees the buffers once the job is cleaned up. */
	for (i = 0; i < 200 && sysfs_counter("memory_bytes") != mem; i++)
		usleep(10000);
	assert_int_equal(sysfs_counter("memory_bytes"), mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fdinfo_keys),
		cmocka_unit_test(fdinfo_usage_grows),
		cmocka_unit_test(bo_create_over_budget),
		cmocka_unit_test(sysfs_counters),
	};

	return cmocka_run_group_tests_name("accounting", tests, NULL, NULL);
}
