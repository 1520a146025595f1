/* SPDX-License-Identifier: MIT */
/*
 * A software NPU core: the firmware's command processor over an address
 * space of its own, fed by a prioritized queue on a worker thread. The cpu
 * backend runs one in-process; tools/npu-usb-gadget serves one over USB.
 * Its users see it through this header only; swcore_internal.h is its own.
 */
#ifndef SWCORE_H
#define SWCORE_H

#include <stddef.h>
#include <stdint.h>

#include "npu/npu.h"

#define NPU_HIDDEN __attribute__((visibility("hidden")))

struct npu_swcore;

/* A device address range a job may have written. */
struct npu_swcore_range {
	uint64_t addr, len;
};

/* Called on the worker thread once job @cookie's stream is no longer read. */
typedef void (*npu_swcore_retire_fn)(void *ctx, uint64_t cookie);

/*
 * Boot the firmware and start the worker. With @track_writes, each job
 * records the ranges its ops map for writing (npu_swcore_wait returns them).
 */
NPU_HIDDEN int npu_swcore_create(int track_writes, npu_swcore_retire_fn retire, void *ctx,
				 struct npu_swcore **out);
/*
 * Run the queued jobs (with @cancel: stop the running one at the firmware's next poll
 * and end the queued ones CANCELLED), stop the worker, release every buffer.
 */
NPU_HIDDEN void npu_swcore_destroy(struct npu_swcore *c, int cancel);
/* Describe the core: name (matmul ISA and threads), firmware ABI and ops. */
NPU_HIDDEN void npu_swcore_query(const struct npu_swcore *c, struct npu_info *info);

/*
 * A zeroed buffer of @size bytes. Its device addresses are fresh while the
 * space has fresh ones; then a range freed 1,024 frees ago or earlier, or,
 * when nothing else fits, one freed more recently, oldest first (aspace.c).
 */
NPU_HIDDEN int npu_swcore_alloc(struct npu_swcore *c, uint64_t size, uint64_t *addr,
				void **host);
/* Unmap the buffer at @addr once no job runs; NPU_E_HANDLE if none starts there. */
NPU_HIDDEN int npu_swcore_free(struct npu_swcore *c, uint64_t addr);
/*
 * The same without waiting: later jobs fault on it at once, and its memory
 * goes now, or when the job running now ends.
 */
NPU_HIDDEN int npu_swcore_free_async(struct npu_swcore *c, uint64_t addr);
/*
 * The buffer at @addr is final: its host view turns read-only, jobs that
 * write it fault, and the kernels may keep its weights packed beside it.
 */
NPU_HIDDEN int npu_swcore_seal(struct npu_swcore *c, uint64_t addr);
/* Bytes of packed weights kept beside sealed buffers. */
NPU_HIDDEN uint64_t npu_swcore_packed_bytes(struct npu_swcore *c);
/* Host view of [addr, addr + len) when it lies inside one buffer, else NULL. */
NPU_HIDDEN void *npu_swcore_host(struct npu_swcore *c, uint64_t addr, uint64_t len);

NPU_HIDDEN int npu_swcore_submit(struct npu_swcore *c, uint64_t addr, uint32_t size, int prio,
				 uint64_t cookie, uint64_t *seq);
/*
 * Wait for job @seq (timeout_ns < 0: forever, 0: poll). With write tracking,
 * up to @max_writes merged ranges go to @writes and their count to
 * *n_writes; a longer list ends in one range covering the rest.
 */
NPU_HIDDEN int npu_swcore_wait(struct npu_swcore *c, uint64_t seq, int64_t timeout_ns,
			       struct npu_job_result *res, struct npu_swcore_range *writes,
			       uint32_t max_writes, uint32_t *n_writes);

/* The firmware image a core boots: $NPU_FIRMWARE, else the one built in (firmware.c). */
NPU_HIDDEN int npu_firmware_load(void **image, size_t *size);

#endif
