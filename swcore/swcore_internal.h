/* SPDX-License-Identifier: MIT */
/*
 * The software core's internals, shared by its files: the core object and
 * what each file offers the others. core.c boots and describes the core,
 * aspace.c keeps its address space (buffers, sealing, packed weights),
 * queue.c runs jobs on the worker thread, wtrack.c notes what they write.
 */
#ifndef SWCORE_INTERNAL_H
#define SWCORE_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "swcore.h"
#include "../firmware/include/npu_device.h"
#include "../firmware/include/npu_fw.h"
#include "kernels/kernels.h"

#define VA_QUARANTINE 1024u		/* freed ranges held back from reuse */

struct packed;

struct vma {
	uint64_t start, size;
	uint64_t id;		/* unique for the core's life, unlike start */
	void *host;
	int sealed;		/* read-only to the host and to jobs */
	struct packed *packed;	/* copies of weights it holds (sealed only) */
};

/* A range of device addresses: a buffer's pages and the guard after them. */
struct va_range {
	uint64_t start, len;
};

struct job {
	struct job *next;
	uint64_t seq, addr, cookie;
	uint32_t size;
};

struct job_slot {
	uint64_t seq;
	int done;
	struct npu_job_result res;
	struct npu_swcore_range *writes;
	uint32_t n_writes;
};

struct npu_swcore {
	void *image;
	struct npu_fw_tables tables;
	void *scratch;
	struct npu_kernels *kernels;
	npu_swcore_retire_fn retire;
	void *retire_ctx;

	/*
	 * The address space. run_lock is held for reading while a job runs
	 * and for writing to unmap, so pointers a job holds stay valid;
	 * map_lock guards the table itself, briefly.
	 */
	pthread_rwlock_t run_lock;
	pthread_mutex_t map_lock;
	struct vma *vmas;
	size_t n_vmas, cap_vmas;
	uint64_t next_vma_id;
	/*
	 * Free addresses (map_lock). Fresh ones come first: [va_next, the end of the space).
	 * A freed range waits in the quarantine (a ring, oldest first) until
	 * VA_QUARANTINE later frees, then joins the holes (sorted, merged),
	 * which serve once the fresh space is spent; when nothing else fits,
	 * the quarantine gives up its oldest ranges. So a stale address
	 * faults for as long as the space allows, and a space with nothing
	 * live always has room.
	 */
	uint64_t va_next;
	struct va_range *holes;
	size_t n_holes, cap_holes;
	struct va_range quarantine[VA_QUARANTINE];
	uint32_t q_first, q_count;

	/* The running job's writes (worker thread only), when tracked. */
	int track_writes;
	int writes_failed;
	struct npu_swcore_range *writes;
	uint32_t n_writes, cap_writes;

	pthread_mutex_t q_lock;
	pthread_cond_t q_cond;		/* work queued, or stop */
	pthread_cond_t done_cond;	/* a job finished */
	struct job *head[NPU_PRIORITIES], *tail[NPU_PRIORITIES];
	uint64_t next_seq;
	uint32_t in_flight;
	struct job_slot ring[NPU_JOB_RECORDS];
	int stop;
	int cancel;		/* destroy without running what is queued */
	struct vma *graveyard;	/* unmapped while a job ran: freed after it */
	size_t n_graveyard;
	uint64_t packed_bytes;	/* every vma's packed copies */
	pthread_t worker;
};

/* aspace.c */
/* The core's MMU (npu_fw_mem.translate): a range must lie inside one buffer. */
NPU_HIDDEN void *swcore_aspace_translate(void *ctx, __u64 addr, __u64 len, int write,
					 __u64 *fault_addr);
/* The kernels' store of packed weights (npu_packed_store_fn). */
NPU_HIDDEN void *swcore_aspace_packed_store(void *ctx, const struct npu_fw_matmul *mm,
					    uint64_t bytes, int *fresh);
/* Caller holds q_lock, and no job runs: free what npu_swcore_free_async deferred. */
NPU_HIDDEN void swcore_aspace_bury(struct npu_swcore *c);
/* No job runs any more: release every buffer and the address space's tables. */
NPU_HIDDEN void swcore_aspace_release(struct npu_swcore *c);

/* queue.c: the worker thread's body (pthread_create's). */
NPU_HIDDEN void *swcore_queue_worker(void *arg);

/* wtrack.c */
/* Note that the running job maps [addr, addr + len) for writing. */
NPU_HIDDEN void swcore_wtrack_note(struct npu_swcore *c, uint64_t addr, uint64_t len);
/* The running job's writes, sorted and merged, as @slot's own list. */
NPU_HIDDEN void swcore_wtrack_take(struct npu_swcore *c, struct job_slot *slot);
/* Up to @max of @slot's ranges to @w, their count to *@n (when @n). */
NPU_HIDDEN void swcore_wtrack_copy(const struct job_slot *slot, struct npu_swcore_range *w,
				   uint32_t max, uint32_t *n);

#endif
