// SPDX-License-Identifier: MIT
/*
 * The accel backend: an NPU behind the npu.ko DRM accel driver, reached
 * through libdrm. Buffers are GEM objects mapped into this file's device
 * address space and into the process; jobs are SUBMIT/WAIT ioctls.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xf86drm.h>

#include "internal.h"

#define MAX_ACCEL_NODES 64

/* A stream copy npu_submit made: freed once its job is over. */
struct owned {
	struct owned *next;
	uint64_t seq;
	npu_bo bo;
};

struct accel {
	int fd;
	char path[32];
	struct drm_npu_caps caps;
	pthread_mutex_t lock;	/* the owned list */
	struct owned *owned;
};

static int errno_to_status(int err)
{
	switch (err) {
	case ENOMEM:
		return NPU_E_NOMEM;
	case ENOENT:
		return NPU_E_HANDLE;
	case ETIME:
	case ETIMEDOUT:
		return NPU_E_TIMEOUT;
	case ENODEV:
		return NPU_E_NODEV;
	case EBUSY:
	case ENOSPC:
		return NPU_E_NOSPC;
	case EINVAL:
		return NPU_E_INVAL;
	default:
		return NPU_E_IO;
	}
}

/* GEM objects, and so their mappings, are whole pages. */
static size_t mapped_size(const struct bo_slot *bo)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (bo->size + page - 1) / page * page;
}

/*
 * /dev/accel/accel<node> when its driver is "npu", else -1. A node asked
 * for by name that fails says why; so does, in a scan, one that is there
 * but cannot be opened (a missing node, or another driver's, is no npu).
 */
static int open_node(npu_device *dev, int node, char *path, size_t len)
{
	drmVersionPtr v;
	int fd;

	snprintf(path, len, "/dev/accel/accel%d", node);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT || dev->node >= 0)
			npu_open_why(dev, "%s: %s", path, strerror(errno));
		return -1;
	}
	v = drmGetVersion(fd);
	if (v && v->name && !strcmp(v->name, "npu")) {
		drmFreeVersion(v);
		return fd;
	}
	if (dev->node >= 0)
		npu_open_why(dev, "%s: not an npu device (driver %s)", path,
			     v && v->name ? v->name : "unknown");
	if (v)
		drmFreeVersion(v);
	close(fd);
	return -1;
}

/* The node asked for (dev->node), or the first whose driver is "npu". */
static int find_device(npu_device *dev, char *path, size_t len)
{
	int i, fd;

	if (dev->node >= 0)
		return open_node(dev, dev->node, path, len);
	for (i = 0; i < MAX_ACCEL_NODES; i++) {
		fd = open_node(dev, i, path, len);
		if (fd >= 0)
			return fd;
	}
	return -1;
}

static int accel_open(npu_device *dev)
{
	struct accel *a = calloc(1, sizeof(*a));

	if (!a)
		return NPU_E_NOMEM;
	a->fd = find_device(dev, a->path, sizeof(a->path));
	if (a->fd < 0) {
		free(a);
		return NPU_E_NODEV;
	}
	if (drmIoctl(a->fd, DRM_IOCTL_NPU_GET_CAPS, &a->caps)) {
		npu_open_why(dev, "%s: GET_CAPS: %s", a->path, strerror(errno));
		close(a->fd);
		free(a);
		return NPU_E_IO;
	}
	if (a->caps.abi_major != DRM_NPU_ABI_MAJOR) {
		npu_open_why(dev, "%s: driver ABI %u, libnpu's %u", a->path, a->caps.abi_major,
			     DRM_NPU_ABI_MAJOR);
		close(a->fd);
		free(a);
		return NPU_E_UNSUPPORTED;
	}
	pthread_mutex_init(&a->lock, NULL);
	dev->priv = a;
	return NPU_OK;
}

static void accel_close(npu_device *dev)
{
	struct accel *a = dev->priv;
	uint32_t i;

	/* Closing the file waits for nothing: finish this file's jobs first. */
	for (i = 0; i < dev->n_bos; i++) {
		struct bo_slot *s = &dev->bos[i];

		if (s->live)
			munmap(s->host, mapped_size(s));
	}
	while (a->owned) {
		struct owned *o = a->owned;

		a->owned = o->next;
		free(o);
	}
	pthread_mutex_destroy(&a->lock);
	close(a->fd);	/* releases every GEM handle and the address space */
}

static void accel_query(npu_device *dev, struct npu_info *info)
{
	struct accel *a = dev->priv;

	snprintf(info->name, sizeof(info->name), "%s (npu.ko)", a->path);
	info->abi_major = a->caps.abi_major;
	info->abi_minor = a->caps.abi_minor;
	info->fw_abi_major = a->caps.fw_abi_major;
	info->fw_abi_minor = a->caps.fw_abi_minor;
	memcpy(info->fw_build_id, a->caps.fw_build_id, sizeof(info->fw_build_id));
	info->fw_build_id[sizeof(info->fw_build_id) - 1] = '\0';
	info->op_mask = a->caps.op_mask;
	info->n_cores = a->caps.n_cores;
	info->n_priorities = a->caps.n_priorities;
	info->va_size = a->caps.va_size;
	info->scratch_size = a->caps.scratch_size;
}

static int accel_bo_alloc(npu_device *dev, struct bo_slot *bo, uint64_t size)
{
	struct accel *a = dev->priv;
	struct drm_npu_bo_create c = { .size = size };
	struct drm_npu_bo_info info = { 0 };
	void *p;

	if (drmIoctl(a->fd, DRM_IOCTL_NPU_BO_CREATE, &c))
		return errno == EINVAL ? NPU_E_NOSPC : errno_to_status(errno);
	info.handle = c.handle;
	if (drmIoctl(a->fd, DRM_IOCTL_NPU_BO_INFO, &info)) {
		drmCloseBufferHandle(a->fd, c.handle);
		return errno_to_status(errno);
	}
	p = mmap(NULL, info.size, PROT_READ | PROT_WRITE, MAP_SHARED, a->fd, info.mmap_offset);
	if (p == MAP_FAILED) {
		drmCloseBufferHandle(a->fd, c.handle);
		return NPU_E_NOMEM;
	}
	bo->gem_handle = c.handle;
	bo->dev_addr = c.dev_addr;
	bo->size = size;
	bo->host = p;
	return NPU_OK;
}

static void accel_bo_free(npu_device *dev, struct bo_slot *bo)
{
	struct accel *a = dev->priv;

	munmap(bo->host, mapped_size(bo));
	/* The driver unmaps it from the device address space with the handle. */
	drmCloseBufferHandle(a->fd, bo->gem_handle);
	bo->host = NULL;
}

static int job_wait(struct accel *a, uint64_t seq, int64_t abs_ns, struct drm_npu_wait *w)
{
	memset(w, 0, sizeof(*w));
	w->job_id = seq;
	w->timeout_ns = abs_ns;
	if (drmIoctl(a->fd, DRM_IOCTL_NPU_WAIT, w))
		return errno == ENOENT ? NPU_E_EXPIRED : errno_to_status(errno);
	return NPU_OK;
}

/* Free the stream copies of jobs that are over. Caller holds a->lock. */
static void reap_owned(npu_device *dev, struct accel *a)
{
	struct owned **pp = &a->owned;

	while (*pp) {
		struct owned *o = *pp;
		struct drm_npu_wait w;
		int err = job_wait(a, o->seq, 0, &w);

		if (err == NPU_E_TIMEOUT) {
			pp = &o->next;
			continue;
		}
		*pp = o->next;
		npu_bo_free(dev, o->bo);
		free(o);
	}
}

static int accel_submit(npu_device *dev, const struct bo_slot *stream, uint64_t offset,
			uint32_t size, int prio, npu_bo owned, uint64_t *seq)
{
	struct accel *a = dev->priv;
	struct drm_npu_submit s = {
		.cmd_handle = stream->gem_handle,
		.cmd_offset = (uint32_t)offset,
		.cmd_size = size,
		.priority = (uint32_t)prio,
	};
	struct owned *o = NULL;

	if (offset > UINT32_MAX)
		return NPU_E_RANGE;
	if (owned) {
		o = calloc(1, sizeof(*o));
		if (!o)
			return NPU_E_NOMEM;
	}
	if (drmIoctl(a->fd, DRM_IOCTL_NPU_SUBMIT, &s)) {
		int err = errno == ECANCELED ? NPU_E_IO : errno_to_status(errno);

		free(o);
		return err;
	}
	*seq = s.job_id;
	pthread_mutex_lock(&a->lock);
	if (o) {
		o->seq = s.job_id;
		o->bo = owned;
		o->next = a->owned;
		a->owned = o;
	}
	reap_owned(dev, a);
	pthread_mutex_unlock(&a->lock);
	return NPU_OK;
}

static int accel_wait(npu_device *dev, uint64_t seq, int64_t timeout_ns,
		      struct npu_job_result *res)
{
	struct accel *a = dev->priv;
	struct drm_npu_wait w;
	int64_t abs = timeout_ns < 0 ? INT64_MAX : npu_now_ns() + timeout_ns;
	int err;

	if (timeout_ns == 0)
		abs = 0;
	err = job_wait(a, seq, abs, &w);
	if (err)
		return err;
	res->status = w.status;
	res->op_index = w.op_index;
	res->fault_addr = w.fault_addr;
	return NPU_OK;
}

const struct npu_backend_ops npu_backend_accel = {
	.name = "accel",
	.open = accel_open,
	.close = accel_close,
	.query = accel_query,
	.bo_alloc = accel_bo_alloc,
	.bo_free = accel_bo_free,
	.submit = accel_submit,
	.wait = accel_wait,
};
