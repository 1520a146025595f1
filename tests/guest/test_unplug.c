// SPDX-License-Identifier: MIT
/*
 * Unplug with users: accel1 is unbound from its driver while a file is
 * open, a buffer mapped and jobs in flight. Queued jobs finish, further
 * ioctls fail with ENODEV, the mapping stays readable, closing is clean.
 * Runs last in the guest: accel1 is gone afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guestlib.h"

static void unbind(const char *dev)
{
	int fd = open("/sys/bus/platform/drivers/npu-emu/unbind", O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, dev, strlen(dev)), (ssize_t)strlen(dev));
	close(fd);
}

static void unplug_with_users(void **state)
{
	int fd = g_open(1);
	struct g_bo cmd = g_bo_new(fd, 4096), buf = g_bo_new(fd, 65536);
	struct drm_npu_op op = g_copy_op(buf.addr, buf.addr + 32768, 1, 4096);
	uint32_t n = g_stream(&cmd, &op, 1);
	struct drm_npu_caps caps;
	struct drm_npu_wait w;
	uint64_t id = 0;
	int i;

	(void)state;
	memset(buf.p, 0x3c, 16384);
	for (i = 0; i < 20; i++)
		assert_int_equal(g_submit(fd, cmd.handle, n, i % 3, NULL, 0, 0, &id), 0);
	unbind("npu-emu.1");
	/* The jobs queued before the unplug ran to the end. */
	assert_memory_equal(buf.p, (char *)buf.p + 32768, 16384);
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_GET_CAPS, &caps), -1);
	assert_int_equal(errno, ENODEV);
	assert_int_equal(g_wait(fd, id, 0, &w), -ENODEV);
	assert_int_equal(((unsigned char *)buf.p)[100], 0x3c);
	assert_int_equal(access("/dev/accel/accel1", F_OK), -1);
	munmap(buf.p, buf.size);
	munmap(cmd.p, cmd.size);
	assert_int_equal(close(fd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unplug_with_users),
	};

	return cmocka_run_group_tests_name("unplug", tests, NULL, NULL);
}
