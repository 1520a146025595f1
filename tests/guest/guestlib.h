/* SPDX-License-Identifier: MIT */
/* Raw-ioctl helpers for the in-guest tests of npu.ko. */
#ifndef GUESTLIB_H
#define GUESTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <xf86drm.h>

#include "../../uapi/drm/npu_accel.h"

/* Open /dev/accel/accel@index, asserting it is an npu device. */
int g_open(int index);

struct g_bo {
	uint32_t handle;
	uint64_t addr;
	uint64_t size;
	void *p;
};

struct g_bo g_bo_new(int fd, uint64_t size);
void g_bo_del(int fd, struct g_bo *bo);

/* Write a stream of @n ops (header first) at the start of @bo; returns its size. */
uint32_t g_stream(struct g_bo *bo, const struct drm_npu_op *ops, uint32_t n);
/* A job of ~10^8 multiply-adds in @cmd over @buf (G_LONG_BUF bytes): long enough to wait on. */
uint32_t g_long_stream(struct g_bo *cmd, struct g_bo *buf);
#define G_LONG_BUF (65536 + 2048 * 2048 + 8 * 8192)

/* SUBMIT; returns 0 or -errno, the job id in *id. */
int g_submit(int fd, uint32_t cmd, uint32_t size, uint32_t prio, const uint32_t *in, uint32_t n_in,
	     uint32_t out, uint64_t *id);
/* WAIT with a relative timeout (negative: forever); returns 0 or -errno. */
int g_wait(int fd, uint64_t id, int64_t timeout_ns, struct drm_npu_wait *w);
/* Submit @n ops in @cmd, wait, return the job status. */
uint32_t g_run(int fd, struct g_bo *cmd, const struct drm_npu_op *ops, uint32_t n,
	       struct drm_npu_wait *w);

/* A QUANTIZE op copying @rows x @cols int32 from src to dst (scale 1 -> 1). */
struct drm_npu_op g_copy_op(uint64_t src, uint64_t dst, uint32_t rows, uint32_t cols);

int64_t g_now_ns(void);

/* Read a debugfs counter of NPU @minor (/sys/kernel/debug/accel/npu-emu.N). */
long long g_counter(int minor, const char *name);
/* "name: value" from any debugfs file of NPU @minor. */
/* The path of accel<minor>'s debugfs @file (named after its device: emulated or PCI). */
void g_debugfs_path(int minor, const char *file, char *path, size_t size);
long long g_debugfs_value(int minor, const char *file, const char *name);
/*
 * Wait up to @ms until no job of any test is left: the scheduler frees
 * finished jobs (and the contexts and mappings they hold) from a work
 * item, a little after their fences signal. Fails the test past @ms.
 */
void g_jobs_freed(int ms);
/* Write @value to debugfs @file of NPU @minor. */
void g_debugfs_write(int minor, const char *file, const char *value);
/* The drm client id of a file (fdinfo drm-client-id). */
uint64_t g_client_id(int fd);
/* Arm fault injection: "hang", "fail", "fault" or "none", [client id]. */
void g_inject(int minor, const char *what);

/* Another DRM driver's fences: vgem's (its card node, opened). */
int g_vgem_open(void);
/*
 * A sync_file (fd) of a new vgem write fence that nobody signals but
 * g_vgem_signal (or vgem's own 10 s timeout); its id in *@fence if wanted.
 */
int g_vgem_fence(int vgem, uint32_t *fence);
void g_vgem_signal(int vgem, uint32_t fence);

#endif
