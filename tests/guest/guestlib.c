// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "guestlib.h"

int g_open(int index)
{
	char path[64];
	drmVersionPtr v;
	int fd;

	snprintf(path, sizeof(path), "/dev/accel/accel%d", index);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fail_msg("%s: %s", path, strerror(errno));
	v = drmGetVersion(fd);
	assert_non_null(v);
	assert_string_equal(v->name, "npu");
	drmFreeVersion(v);
	return fd;
}

struct g_bo g_bo_new(int fd, uint64_t size)
{
	struct drm_npu_bo_create c = { .size = size };
	struct drm_npu_bo_info i = { 0 };
	struct g_bo bo;

	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_BO_CREATE, &c), 0);
	i.handle = c.handle;
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_BO_INFO, &i), 0);
	assert_int_equal(i.dev_addr, c.dev_addr);
	bo.handle = c.handle;
	bo.addr = c.dev_addr;
	bo.size = i.size;
	bo.p = mmap(NULL, i.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, i.mmap_offset);
	assert_true(bo.p != MAP_FAILED);
	return bo;
}

void g_bo_del(int fd, struct g_bo *bo)
{
	munmap(bo->p, bo->size);
	assert_int_equal(drmCloseBufferHandle(fd, bo->handle), 0);
	memset(bo, 0, sizeof(*bo));
}

uint32_t g_stream(struct g_bo *bo, const struct drm_npu_op *ops, uint32_t n)
{
	struct drm_npu_cmd_header h = {
		.magic = DRM_NPU_CMD_MAGIC,
		.version_major = DRM_NPU_ABI_MAJOR,
		.version_minor = DRM_NPU_ABI_MINOR,
		.op_count = n,
		.op_size = sizeof(struct drm_npu_op),
	};
	uint32_t size = sizeof(h) + n * sizeof(*ops);

	assert_true(size <= bo->size);
	memcpy(bo->p, &h, sizeof(h));
	memcpy((char *)bo->p + sizeof(h), ops, n * sizeof(*ops));
	return size;
}

int g_submit(int fd, uint32_t cmd, uint32_t size, uint32_t prio, const uint32_t *in, uint32_t n_in,
	     uint32_t out, uint64_t *id)
{
	struct drm_npu_submit s = {
		.cmd_handle = cmd,
		.cmd_size = size,
		.priority = prio,
		.in_syncobjs = (uintptr_t)in,
		.in_syncobj_count = n_in,
		.out_syncobj = out,
	};

	if (drmIoctl(fd, DRM_IOCTL_NPU_SUBMIT, &s))
		return -errno;
	if (id)
		*id = s.job_id;
	return 0;
}

int64_t g_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int g_wait(int fd, uint64_t id, int64_t timeout_ns, struct drm_npu_wait *w)
{
	memset(w, 0, sizeof(*w));
	w->job_id = id;
	w->timeout_ns = timeout_ns < 0 ? INT64_MAX : g_now_ns() + timeout_ns;
	if (drmIoctl(fd, DRM_IOCTL_NPU_WAIT, w))
		return -errno;
	return 0;
}

uint32_t g_run(int fd, struct g_bo *cmd, const struct drm_npu_op *ops, uint32_t n,
	       struct drm_npu_wait *w)
{
	struct drm_npu_wait local;
	uint32_t size = g_stream(cmd, ops, n);
	uint64_t id = 0;

	if (!w)
		w = &local;
	assert_int_equal(g_submit(fd, cmd->handle, size, DRM_NPU_PRIO_NORMAL, NULL, 0, 0, &id), 0);
	assert_int_equal(g_wait(fd, id, -1, w), 0);
	return w->status;
}

struct drm_npu_op g_copy_op(uint64_t src, uint64_t dst, uint32_t rows, uint32_t cols)
{
	struct drm_npu_op op;
	struct drm_npu_tensor t = {
		.rows = rows,
		.cols = cols,
		.stride = cols * 4,
		.dtype = DRM_NPU_DTYPE_I32,
		.scale_mode = DRM_NPU_SCALE_TENSOR,
		.scale = { 1 << 30, 30 },
	};

	memset(&op, 0, sizeof(op));
	op.opcode = DRM_NPU_OP_QUANTIZE;
	op.in[0] = t;
	op.in[0].addr = src;
	op.out = t;
	op.out.addr = dst;
	return op;
}

long long g_counter(int minor, const char *name)
{
	return g_debugfs_value(minor, "counters", name);
}

void g_debugfs_path(int minor, const char *file, char *path, size_t size)
{
	char link[64], target[256];
	ssize_t n;

	snprintf(link, sizeof(link), "/sys/class/accel/accel%d/device", minor);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		fail_msg("%s: %s", link, strerror(errno));
	target[n] = '\0';
	snprintf(path, size, "/sys/kernel/debug/accel/%s/%s",
		 strrchr(target, '/') ? strrchr(target, '/') + 1 : target, file);
}

long long g_debugfs_value(int minor, const char *file, const char *name)
{
	char path[320], key[64];
	long long v, found = -1;
	FILE *f;

	g_debugfs_path(minor, file, path, sizeof(path));
	f = fopen(path, "r");
	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	while (fscanf(f, "%63[^:]: %lld\n", key, &v) == 2)
		if (!strcmp(key, name))
			found = v;
	fclose(f);
	if (found < 0)
		fail_msg("counter %s missing in %s", name, path);
	return found;
}

void g_jobs_freed(int ms)
{
	int waited;

	for (waited = 0; waited < ms && g_debugfs_value(0, "objects", "jobs"); waited += 10)
		usleep(10000);
	assert_int_equal(g_debugfs_value(0, "objects", "jobs"), 0);
}

uint64_t g_client_id(int fd)
{
	char path[64], line[128];
	unsigned long long id = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "drm-client-id: %llu", &id) == 1)
			break;
	fclose(f);
	assert_true(id != 0);
	return id;
}

void g_debugfs_write(int minor, const char *file, const char *value)
{
	char path[320];
	FILE *f;

	g_debugfs_path(minor, file, path, sizeof(path));
	f = fopen(path, "w");
	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	assert_true(fputs(value, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

void g_inject(int minor, const char *what)
{
	g_debugfs_write(minor, "fault_inject", what);
}

/* vgem's fence ioctls (include/uapi/drm/vgem_drm.h; not in libdrm's headers). */
struct vgem_fence_attach {
	uint32_t handle;
	uint32_t flags;
	uint32_t out_fence;
	uint32_t pad;
};

struct vgem_fence_signal {
	uint32_t fence;
	uint32_t flags;
};

#define VGEM_FENCE_WRITE 0x1
#define DRM_IOCTL_VGEM_FENCE_ATTACH DRM_IOWR(DRM_COMMAND_BASE + 0x1, struct vgem_fence_attach)
#define DRM_IOCTL_VGEM_FENCE_SIGNAL DRM_IOW(DRM_COMMAND_BASE + 0x2, struct vgem_fence_signal)

int g_vgem_open(void)
{
	char path[32];
	int fd = -1, i;

	for (i = 0; fd < 0 && i < 8; i++) {
		drmVersionPtr v;

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		v = fd >= 0 ? drmGetVersion(fd) : NULL;
		if (!v || strcmp(v->name, "vgem")) {
			if (fd >= 0)
				close(fd);
			fd = -1;
		}
		drmFreeVersion(v);
	}
	assert_true(fd >= 0);
	return fd;
}

int g_vgem_fence(int vgem, uint32_t *fence)
{
	struct drm_mode_create_dumb dumb = { .width = 1024, .height = 1, .bpp = 32 };
	struct vgem_fence_attach attach = { .flags = VGEM_FENCE_WRITE };
	struct dma_buf_export_sync_file sync = { .flags = DMA_BUF_SYNC_READ };
	int dmabuf;

	assert_int_equal(drmIoctl(vgem, DRM_IOCTL_MODE_CREATE_DUMB, &dumb), 0);
	attach.handle = dumb.handle;
	assert_int_equal(drmIoctl(vgem, DRM_IOCTL_VGEM_FENCE_ATTACH, &attach), 0);
	assert_int_equal(drmPrimeHandleToFD(vgem, dumb.handle, O_CLOEXEC, &dmabuf), 0);
	assert_int_equal(ioctl(dmabuf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &sync), 0);
	close(dmabuf);
	if (fence)
		*fence = attach.out_fence;
	return sync.fd;
}

void g_vgem_signal(int vgem, uint32_t fence)
{
	struct vgem_fence_signal sig = { .fence = fence };

	assert_int_equal(drmIoctl(vgem, DRM_IOCTL_VGEM_FENCE_SIGNAL, &sig), 0);
}

uint32_t g_long_stream(struct g_bo *cmd, struct g_bo *buf)
{
	struct drm_npu_op op;
	uint64_t base = buf->addr;

	memset(&op, 0, sizeof(op));
	op.opcode = DRM_NPU_OP_MATMUL;
	op.in[0] = (struct drm_npu_tensor){ .addr = base, .rows = 8, .cols = 2048, .stride = 2048,
		.dtype = DRM_NPU_DTYPE_I8, .scale_mode = DRM_NPU_SCALE_TENSOR, .scale = { 1 << 30, 30 } };
	op.in[1] = (struct drm_npu_tensor){ .addr = base + 65536, .scale_addr = base + 16384,
		.rows = 2048, .cols = 2048, .stride = 2048, .dtype = DRM_NPU_DTYPE_I8,
		.scale_mode = DRM_NPU_SCALE_GROUP, .scale = { 1 << 30, 30 } };
	op.out = (struct drm_npu_tensor){ .addr = base + 65536 + 2048 * 2048, .rows = 8,
		.cols = 2048, .stride = 8192, .dtype = DRM_NPU_DTYPE_I32,
		.scale_mode = DRM_NPU_SCALE_TENSOR, .scale = { 1 << 30, 30 } };
	op.matmul.group_size = 2048;
	return g_stream(cmd, &op, 1);
}
