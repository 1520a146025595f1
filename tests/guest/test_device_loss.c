// SPDX-License-Identifier: MIT
/*
 * A PCI NPU lost mid-job: with a long stream running on accelN
 * (NPU_LOSS_ACCEL, default 0) and a job queued behind it, the host is
 * asked (a line on the console, which tests/qemu/run.sh watches) to kill
 * that NPU's npu-devd device process, or with NPU_LOSS_HOW=STOP to stop it
 * (SIGSTOP: its heartbeat ends, its window stays). Both waiters get an
 * error, no later than the driver's loss detection allows; a job submitted
 * afterwards fails at once; debugfs says "lost". Only for PCI NPUs
 * (tests/qemu/pci-checks.sh runs it; the suite's loop leaves it out).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guestlib.h"

/* Longer than any detection: a waiter still blocked by then is a hang. */
#define WAIT_BOUND_NS 5000000000ll
#define LONG_OPS 64
#define MB (1u << 20)

/* 256 x 2048 by 2048 x 2048: 10^9 multiply-adds, tens of ms on the host's cores. */
static struct drm_npu_op big_matmul(uint64_t base)
{
	struct drm_npu_op op;

	memset(&op, 0, sizeof(op));
	op.opcode = DRM_NPU_OP_MATMUL;
	op.in[0] = (struct drm_npu_tensor){ .addr = base, .rows = 256, .cols = 2048,
		.stride = 2048, .dtype = DRM_NPU_DTYPE_I8, .scale_mode = DRM_NPU_SCALE_TENSOR,
		.scale = { 1 << 30, 30 } };
	op.in[1] = (struct drm_npu_tensor){ .addr = base + MB, .scale_addr = base + MB / 2,
		.rows = 2048, .cols = 2048, .stride = 2048, .dtype = DRM_NPU_DTYPE_I8,
		.scale_mode = DRM_NPU_SCALE_GROUP, .scale = { 1 << 30, 30 } };
	op.out = (struct drm_npu_tensor){ .addr = base + 5 * MB, .rows = 256, .cols = 2048,
		.stride = 8192, .dtype = DRM_NPU_DTYPE_I32, .scale_mode = DRM_NPU_SCALE_TENSOR,
		.scale = { 1 << 30, 30 } };
	op.matmul.group_size = 2048;
	return op;
}

static void console(const char *line)
{
	int fd = open("/dev/console", O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	close(fd);
}

/* Whether accel@index's debugfs "cores" shows @state for core 0. */
static int core_state_is(int index, const char *state)
{
	char path[320], line[128], want[64];
	int found = 0;
	FILE *f;

	g_debugfs_path(index, "cores", path, sizeof(path));
	f = fopen(path, "r");
	assert_non_null(f);
	snprintf(want, sizeof(want), "core0: %s ", state);
	while (fgets(line, sizeof(line), f))
		found |= !strncmp(line, want, strlen(want));
	fclose(f);
	return found;
}

static void lost_mid_job(void **state)
{
	const char *how = getenv("NPU_LOSS_HOW") ? getenv("NPU_LOSS_HOW") : "KILL";
	int index = getenv("NPU_LOSS_ACCEL") ? atoi(getenv("NPU_LOSS_ACCEL")) : 0;
	int fd = g_open(index);
	char request[64];
	struct g_bo cmd = g_bo_new(fd, 4096 * 16), buf = g_bo_new(fd, 8 * MB);
	struct g_bo qcmd = g_bo_new(fd, 4096);
	struct drm_npu_op ops[LONG_OPS], copy;
	uint64_t running, queued, after;
	struct drm_npu_wait w;
	int64_t t0, t_run, t_queued;
	uint32_t n, qn;
	int i;

	(void)state;
	/* Seconds of work on the host's cores. */
	for (i = 0; i < LONG_OPS; i++)
		ops[i] = big_matmul(buf.addr);
	n = g_stream(&cmd, ops, LONG_OPS);
	copy = g_copy_op(buf.addr, buf.addr + 7 * MB, 1, 1024);
	qn = g_stream(&qcmd, &copy, 1);
	assert_int_equal(g_submit(fd, cmd.handle, n, DRM_NPU_PRIO_NORMAL, NULL, 0, 0, &running), 0);
	assert_int_equal(g_submit(fd, qcmd.handle, qn, DRM_NPU_PRIO_NORMAL, NULL, 0, 0, &queued), 0);
	for (i = 0; i < 500 && !core_state_is(index, "running"); i++)
		usleep(10000);
	assert_true(core_state_is(index, "running"));

	snprintf(request, sizeof(request), "NPU-%s-DEVICE %d\n", how, index);
	t0 = g_now_ns();
	console(request);
	assert_int_equal(g_wait(fd, running, WAIT_BOUND_NS, &w), 0);
	t_run = g_now_ns() - t0;
	assert_int_not_equal(w.status, DRM_NPU_STATUS_OK);
	assert_int_equal(g_wait(fd, queued, WAIT_BOUND_NS, &w), 0);
	t_queued = g_now_ns() - t0;
	assert_int_not_equal(w.status, DRM_NPU_STATUS_OK);
	printf("BENCH device lost (%s): the running job's waiter ended %.0f ms, the queued one's %.0f ms after it was asked for (status %u)\n",
	       how, t_run / 1e6, t_queued / 1e6, w.status);
	assert_true(core_state_is(index, "lost"));

	/* A lost device takes no more work: a new job ends at once, failed. */
	assert_int_equal(g_submit(fd, qcmd.handle, qn, DRM_NPU_PRIO_HIGH, NULL, 0, 0, &after), 0);
	assert_int_equal(g_wait(fd, after, WAIT_BOUND_NS, &w), 0);
	assert_int_equal(w.status, DRM_NPU_STATUS_CANCELLED);
	g_bo_del(fd, &qcmd);
	g_bo_del(fd, &buf);
	g_bo_del(fd, &cmd);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lost_mid_job),
	};

	return cmocka_run_group_tests_name("device_loss", tests, NULL, NULL);
}
