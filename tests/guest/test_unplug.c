// SPDX-License-Identifier: MIT
/*
 * Unplug with users: accel1 is unbound from its driver while a file is
 * open, a buffer mapped and jobs in flight: a op that would run for a
 * minute, a job waiting for another driver's fence that has not
 * signalled (vgem's, which gives up after 10 s) and one chained behind
 * it. The unbind returns within a bounded time: queued jobs are
 * cancelled, the running one stopped. Further ioctls fail with ENODEV,
 * the mapping stays readable, closing is clean. Runs last in the guest:
 * accel1 is gone afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guestlib.h"

/* The bound on an unbind with users: a reset's stop, then cancellations. */
#define UNBIND_BOUND_NS 3000000000ll

/* Unbind an accel node's device from its driver, emulated or PCI alike. */
static void unbind(const char *node)
{
	char path[128], target[256];
	const char *dev;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/accel/%s/device", node);
	n = readlink(path, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	dev = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
	snprintf(path, sizeof(path), "/sys/class/accel/%s/device/driver/unbind", node);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, dev, strlen(dev)), (ssize_t)strlen(dev));
	close(fd);
}

/* 512 x 65536 by 512 x 65536: 1.7e10 multiply-adds, about a minute under TCG. */
static uint32_t long_op(struct g_bo *cmd, struct g_bo *big)
{
	const struct drm_npu_tensor t = { .rows = 512, .cols = 65536, .stride = 65536,
		.dtype = DRM_NPU_DTYPE_I8, .scale_mode = DRM_NPU_SCALE_TENSOR,
		.scale = { 1 << 30, 30 } };
	struct drm_npu_op op;
	int i;

	memset(&op, 0, sizeof(op));
	op.opcode = DRM_NPU_OP_MATMUL;
	op.in[0] = t;
	op.in[0].addr = big->addr;
	op.in[1] = t;
	op.in[1].addr = big->addr + (32 << 20);
	op.in[1].scale_mode = DRM_NPU_SCALE_GROUP;
	op.in[1].scale_addr = big->addr + (64 << 20);
	op.matmul.group_size = 65536;
	op.out = t;
	op.out.addr = big->addr + (64 << 20) + 4096;
	op.out.cols = 512;
	op.out.stride = 512;
	for (i = 0; i < 512; i++)
		((uint16_t *)((char *)big->p + (64 << 20)))[i] = 32768;
	return g_stream(cmd, &op, 1);
}

static void unplug_with_users(void **state)
{
	int fd = g_open(1), vgem, sync_fd;
	struct g_bo cmd = g_bo_new(fd, 4096), buf = g_bo_new(fd, 65536);
	struct g_bo lcmd = g_bo_new(fd, 4096), big = g_bo_new(fd, (64 << 20) + 4096 + 512 * 512);
	struct drm_npu_op op = g_copy_op(buf.addr, buf.addr + 32768, 1, 4096);
	uint32_t n = g_stream(&cmd, &op, 1), fenced, chained;
	struct drm_npu_caps caps;
	struct drm_npu_wait w;
	uint64_t id = 0;
	int64_t t0;
	int i;

	(void)state;
	memset(buf.p, 0x3c, 16384);
	assert_int_equal(g_submit(fd, lcmd.handle, long_op(&lcmd, &big), 1, NULL, 0, 0, &id), 0);
	for (i = 0; i < 20; i++)
		assert_int_equal(g_submit(fd, cmd.handle, n, i % 3, NULL, 0, 0, &id), 0);
	vgem = g_vgem_open();
	sync_fd = g_vgem_fence(vgem, NULL);
	assert_int_equal(drmSyncobjCreate(fd, 0, &fenced), 0);
	assert_int_equal(drmSyncobjCreate(fd, 0, &chained), 0);
	assert_int_equal(drmSyncobjImportSyncFile(fd, fenced, sync_fd), 0);
	close(sync_fd);
	assert_int_equal(g_submit(fd, cmd.handle, n, 1, &fenced, 1, chained, &id), 0);
	assert_int_equal(g_submit(fd, cmd.handle, n, 1, &chained, 1, 0, &id), 0);
	t0 = g_now_ns();
	unbind("accel1");
	printf("BENCH unbind with a running op and a job behind another driver's fence: %.0f ms\n",
	       (g_now_ns() - t0) / 1e6);
	assert_true(g_now_ns() - t0 < UNBIND_BOUND_NS);
	close(vgem);
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_GET_CAPS, &caps), -1);
	assert_int_equal(errno, ENODEV);
	assert_int_equal(g_wait(fd, id, 0, &w), -ENODEV);
	assert_int_equal(((unsigned char *)buf.p)[100], 0x3c);
	assert_int_equal(access("/dev/accel/accel1", F_OK), -1);
	munmap(buf.p, buf.size);
	munmap(cmd.p, cmd.size);
	munmap(lcmd.p, lcmd.size);
	munmap(big.p, big.size);
	assert_int_equal(close(fd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unplug_with_users),
	};

	return cmocka_run_group_tests_name("unplug", tests, NULL, NULL);
}
