// SPDX-License-Identifier: MIT
/*
 * In-guest figures, each next to the cost of a null ioctl (GET_CAPS)
 * measured in the same run: the round trip of an empty job (SUBMIT of a
 * NOP stream to its out-syncobj signalled) and jobs per second.
 * Prints "BENCH" lines; fails only if the device does not work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guestlib.h"

#define N_NULL 20000
#define N_RTT 500
#define N_THROUGHPUT 2000
#define WINDOW 256

/* A PCI NPU's doorbell round trip (its debugfs doorbell_rtt), beside the empty job's. */
static void doorbell_rtt(int index)
{
	char path[320];
	long long median, p99;
	FILE *f;

	g_debugfs_path(index, "doorbell_rtt", path, sizeof(path));
	f = fopen(path, "r");
	if (!f)
		return;
	if (fscanf(f, "runs: %*d\nmedian_us: %lld\np99_us: %lld", &median, &p99) == 2)
		printf("BENCH doorbell round trip (doorbell -> device -> MSI-X, the mailbox's no-op): median %lld us, p99 %lld us\n",
		       median, p99);
	fclose(f);
}

static void bench(void **state)
{
	/* accel1 (two cores), or the node NPU_BENCH_ACCEL names (make run's comparison). */
	const char *node = getenv("NPU_BENCH_ACCEL");
	int index = node ? atoi(node) : 1;
	int fd = g_open(index);
	struct g_bo cmd = g_bo_new(fd, 4096);
	struct drm_npu_op nop = { .opcode = DRM_NPU_OP_NOP };
	uint32_t n = g_stream(&cmd, &nop, 1), sync;
	struct drm_npu_caps caps;
	struct drm_npu_wait w;
	int64_t t0, null_ns, rtt_ns, thr_ns;
	uint64_t id = 0;
	int i;

	(void)state;
	t0 = g_now_ns();
	for (i = 0; i < N_NULL; i++)
		assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_GET_CAPS, &caps), 0);
	null_ns = (g_now_ns() - t0) / N_NULL;

	assert_int_equal(drmSyncobjCreate(fd, 0, &sync), 0);
	t0 = g_now_ns();
	for (i = 0; i < N_RTT; i++) {
		assert_int_equal(g_submit(fd, cmd.handle, n, 1, NULL, 0, sync, &id), 0);
		assert_int_equal(drmSyncobjWait(fd, &sync, 1, INT64_MAX, 0, NULL), 0);
	}
	rtt_ns = (g_now_ns() - t0) / N_RTT;

	/* Keep a window of jobs in flight, under the file's 1024 job records. */
	t0 = g_now_ns();
	for (i = 0; i < N_THROUGHPUT; i++) {
		assert_int_equal(g_submit(fd, cmd.handle, n, 1, NULL, 0, 0, &id), 0);
		if (id > WINDOW)
			assert_int_equal(g_wait(fd, id - WINDOW, -1, &w), 0);
	}
	assert_int_equal(g_wait(fd, id, -1, &w), 0);
	thr_ns = g_now_ns() - t0;

	printf("BENCH null ioctl (GET_CAPS): %lld ns\n", (long long)null_ns);
	doorbell_rtt(index);
	printf("BENCH empty job round trip (submit -> out-syncobj signalled): %lld ns = %.1f null ioctls\n",
	       (long long)rtt_ns, (double)rtt_ns / null_ns);
	printf("BENCH empty jobs/s (%d, up to %d in flight, accel%d): %.0f jobs/s; per job %.1f null ioctls\n",
	       N_THROUGHPUT, WINDOW, index, N_THROUGHPUT * 1e9 / thr_ns, (double)thr_ns / N_THROUGHPUT / null_ns);
	drmSyncobjDestroy(fd, sync);
	g_bo_del(fd, &cmd);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bench),
	};

	return cmocka_run_group_tests_name("bench", tests, NULL, NULL);
}
