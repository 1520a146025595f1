/* SPDX-License-Identifier: MIT */
/* libnpu internals: the device object, buffer handles, the backend interface. */
#ifndef LIBNPU_INTERNAL_H
#define LIBNPU_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "npu/npu.h"
#include "../../uapi/drm/npu_accel.h"

#define NPU_HIDDEN __attribute__((visibility("hidden")))

/* A buffer slot; handles name (device serial, slot index, generation). */
struct bo_slot {
	uint32_t gen;		/* bumped at every free: stale handles miss (buffer.c) */
	int live;
	int map_count;
	uint64_t size;
	uint64_t dev_addr;
	void *host;		/* backend's host view of the bytes */
	uint32_t gem_handle;	/* accel backend */
	int touched;		/* mapped since the backend last looked (usb) */
	void *priv;		/* the backend's own state of the buffer */
};

struct npu_device;

/* A device serial fills the top bits of its handles and fences (0 is no device's). */
#define NPU_SERIAL_BITS 20
#define NPU_SERIAL_SHIFT (64 - NPU_SERIAL_BITS)

/* What a backend implements; the library does handles and encoding. */
struct npu_backend_ops {
	const char *name;
	int (*open)(struct npu_device *dev);
	/* Finish queued jobs, then release the device and all its buffers. */
	void (*close)(struct npu_device *dev);
	void (*query)(struct npu_device *dev, struct npu_info *info);
	int (*bo_alloc)(struct npu_device *dev, struct bo_slot *bo, uint64_t size);
	void (*bo_free)(struct npu_device *dev, struct bo_slot *bo);
	/* Optional: the buffer's bytes are final (npu_bo_seal); and what is kept beside them. */
	int (*bo_seal)(struct npu_device *dev, struct bo_slot *bo);
	uint64_t (*packed_bytes)(struct npu_device *dev);
	/*
	 * Queue the @size bytes at @offset in @stream; @owned, when non-zero,
	 * is a buffer the backend frees once the job is done (npu_submit's
	 * copy of the stream).
	 */
	int (*submit)(struct npu_device *dev, const struct bo_slot *stream, uint64_t offset,
		      uint32_t size, int prio, npu_bo owned, uint64_t *seq);
	int (*wait)(struct npu_device *dev, uint64_t seq, int64_t timeout_ns,
		    struct npu_job_result *res);
};

struct npu_device {
	const struct npu_backend_ops *ops;
	uint32_t serial;	/* in handles and fences; unique among open devices */
	uint64_t last_seq;	/* newest job number handed out (atomic) */
	pthread_mutex_t lock;	/* the buffer table */
	struct bo_slot *bos;
	uint32_t n_bos, cap_bos;
	void *priv;		/* the backend's state */
	int node;		/* accel: open /dev/accel/accel<node>; -1: the first npu node */
	char why[128];		/* open: why a device the backend found is unusable */
};

/* The /dev/accel/accelN minors npu_open() accepts by name. */
#define NPU_ACCEL_MINORS 256

extern const struct npu_backend_ops npu_backend_cpu NPU_HIDDEN;
extern const struct npu_backend_ops npu_backend_accel NPU_HIDDEN;
extern const struct npu_backend_ops npu_backend_usb NPU_HIDDEN;

/* buffer.c: look a handle up; on success *slot is a copy of the slot. */
NPU_HIDDEN int npu_bo_lookup(struct npu_device *dev, npu_bo bo, struct bo_slot *slot);

/* device.c: say why the device found cannot be used (the first reason is kept). */
NPU_HIDDEN void npu_open_why(struct npu_device *dev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* device.c: CLOCK_MONOTONIC in nanoseconds. */
NPU_HIDDEN int64_t npu_now_ns(void);

#endif
