/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * npu.ko: a DRM accel driver for an NPU with per-context address spaces
 * and drm_sched queues; the hardware is reached through npu_hw.h.
 */
#ifndef __NPU_DRV_H__
#define __NPU_DRV_H__

#include <drm/drm_device.h>
#include <drm/drm_file.h>
#include <drm/drm_gem_shmem_helper.h>
#include <drm/drm_mm.h>
#include <drm/gpu_scheduler.h>
#include <linux/hashtable.h>
#include <linux/iosys-map.h>
#include <linux/workqueue.h>
#include <linux/maple_tree.h>
#include <linux/rwsem.h>
#include <linux/sizes.h>
#include <linux/xarray.h>

#include "../uapi/drm/npu_accel.h"
#include "../firmware/include/npu_device.h"
#include "../firmware/include/npu_fw.h"
#include "npu_hw.h"

#define NPU_MAX_CORES		8
#define NPU_MAX_DEVICES		16
/*
 * Jobs the scheduler hands a core at a time. One: a queued high-priority
 * job must not wait behind low-priority ones already in the ring.
 */
#define NPU_SCHED_CREDITS	1
#define NPU_VA_MIN_SIZE		SZ_16M	/* debugfs va_size's floor */
/* A freed range is not reused before this many more are freed (or space runs out). */
#define NPU_VA_QUARANTINE	64
/* Its pages are pinned while mapped: one buffer is at most 2 GiB. */
#define NPU_MAX_BO_SIZE		(2ull << 30)
/*
 * And all the buffers of every NPU together pin at most RAM >> this shift
 * (half of it): past that, BO_CREATE fails with -ENOMEM instead of
 * driving the system into the OOM killer.
 */
#define NPU_PINNED_RAM_SHIFT	1
#define NPU_MAX_BOS_PER_JOB	4096
#define NPU_MAX_IN_SYNCOBJS	64
#define NPU_BAN_AFTER_HANGS	3

struct npu_device;
struct npu_job;
struct npu_hw_fence;

/* Fault injection, armed through debugfs, met by the next job a core runs. */
enum npu_inject {
	NPU_INJECT_NONE,
	NPU_INJECT_HANG,	/* the core stops responding */
	NPU_INJECT_FAIL,	/* the job ends with BAD_OPCODE at op 0 */
	NPU_INJECT_FAULT,	/* the job ends with an MMU fault */
};

/*
 * Device-wide counters (debugfs "counters"). Every submitted job ends as
 * exactly one of completed (the core reported it), timed out, or cancelled
 * (dropped before a core finished it): once idle, submitted = completed +
 * timeouts + cancelled.
 */
struct npu_counters {
	atomic64_t submitted;
	atomic64_t completed;
	atomic64_t failed;
	atomic64_t faults;
	atomic64_t timeouts;
	atomic64_t cancelled;
	atomic64_t resets;
	atomic64_t busy_ns;
	atomic64_t bo_bytes;	/* buffer objects alive on the device */
	atomic64_t stop_max_ns;	/* longest wait of a reset for its core to stop */
};

/**
 * struct npu_core - one NPU core: its scheduler and its fence timeline.
 * @ndev: the device.
 * @index: core number.
 * @name: "npuN-coreM", for the scheduler and the hardware implementation.
 * @reset_lock: one timeout recovery of this core at a time.
 * @sched: the drm_sched instance feeding this core.
 * @fence_context: dma_fence context of the jobs this core runs.
 * @fence_seqno: last seqno handed out on @fence_context.
 *
 * What the hardware keeps of a core (its ring, doorbell and state) is the
 * implementation's, behind npu_device.hw_priv.
 */
struct npu_core {
	struct npu_device *ndev;
	unsigned int index;
	char name[24];
	struct mutex reset_lock;	/* one recovery at a time */
	struct drm_gpu_scheduler sched;
	u64 fence_context;
	atomic64_t fence_seqno;
};

/**
 * struct npu_device - one NPU (accelN).
 * @drm: the DRM device.
 * @id: platform id.
 * @n_cores: cores in use.
 * @cores: the cores.
 * @sched_list: their schedulers, for the contexts' entities.
 * @hw: the hardware implementation.
 * @hw_priv: its state, set up by its boot op.
 * @fw: the firmware image, kept for the tables the ops read.
 * @fw_tables: what the verifier exposed of @fw (valid while @fw is held).
 * @caps: what GET_CAPS reports, filled at probe: it outlives @fw.
 * @counters: device counters.
 * @inject_lock: protects @inject and @inject_client.
 * @inject: pending fault injection (enum npu_inject).
 * @inject_client: the drm client id whose next job meets it; 0: any job.
 * @job_timeout_ms: drm_sched timeout.
 * @fail_nth: debugfs "fail_alloc": when set to N, the N-th of the driver's
 *	own allocations from then on fails (once), to test the error paths.
 * @va_size: bytes of address space of the files opened from now on
 *	(debugfs "va_size", to test its reuse; NPU_VA_SIZE by default).
 * @va_max: the most address space the hardware's cores reach (set by its
 *	boot op when less than NPU_VA_SIZE); @va_size is clamped to it.
 * @jobs_in_flight: jobs pushed to a queue and not yet freed.
 * @jobs_drained: woken when @jobs_in_flight drops to zero.
 * @deps_lock: protects @deps (taken in fence callbacks).
 * @deps: proxies of in-fences still waited for (npu_dep.c).
 */
struct npu_device {
	struct drm_device drm;
	int id;
	unsigned int n_cores;
	struct npu_core cores[NPU_MAX_CORES];
	struct drm_gpu_scheduler *sched_list[NPU_MAX_CORES];
	const struct npu_hw_ops *hw;
	void *hw_priv;
	const struct firmware *fw;
	struct npu_fw_tables fw_tables;
	struct drm_npu_caps caps;
	struct npu_counters counters;
	spinlock_t inject_lock;	/* inject, inject_client */
	enum npu_inject inject;
	u64 inject_client;
	unsigned int job_timeout_ms;
	atomic_t fail_nth;
	u64 va_size;
	u64 va_max;
	atomic_t jobs_in_flight;
	wait_queue_head_t jobs_drained;
	spinlock_t deps_lock;	/* deps */
	struct list_head deps;
};

#define to_npu_device(d) container_of(d, struct npu_device, drm)

/*
 * A BO mapped into one context's address space; once unmapped, its range
 * in quarantine (@obj NULL, on npu_ctx.quarantine by @link).
 */
struct npu_mapping {
	struct drm_mm_node node;
	struct drm_gem_object *obj;
	struct iosys_map vmap;
	struct hlist_node hash;	/* in npu_ctx.by_obj */
	struct list_head link;	/* in npu_ctx.quarantine */
};

/* The result of a job as WAIT reports it. */
struct npu_job_record {
	u64 id;
	struct dma_fence *fence;	/* the finished fence, until collected */
	u32 status;
	u32 op_index;
	u64 fault_addr;
};

/**
 * struct npu_ctx - an open file: an address space and queues.
 * @ndev: the device.
 * @client_id: the file's drm client id (fdinfo drm-client-id).
 * @refcount: held by the file and by every job in flight.
 * @vm_lock: held for reading while a core runs one of this context's jobs,
 *	for writing to remove a mapping (so pointers a job holds stay valid).
 * @mm_lock: protects @mm, @va_next, @by_obj and the quarantine.
 * @mm: the device virtual address allocator.
 * @va_end: end of the address space (its size is the device's va_size
 *	when the file was opened).
 * @va_next: where the next mapping is looked for first: addresses grow
 *	until the end of the space, then wrap, so a stale device address
 *	faults for as long as possible instead of reaching a new buffer.
 * @quarantine: ranges of unmapped buffers, oldest first, kept out of @mm's
 *	free space (at most NPU_VA_QUARANTINE of them).
 * @quarantined: entries in @quarantine.
 * @mappings: address -> struct npu_mapping (the page table the core walks).
 * @by_obj: GEM object -> struct npu_mapping.
 * @entities: one scheduler entity per priority.
 * @closing: the file is being closed: its buffers stay mapped until the
 *	context is freed, so queued jobs still run against them.
 * @submit_lock: makes arming and pushing a job one step per context.
 * @job_lock: protects @next_job_id and @records.
 * @next_job_id: id of the next submitted job (starts at 1).
 * @records: results of the last NPU_JOB_RECORDS jobs.
 * @hangs: jobs of this context that timed out.
 * @banned: set after NPU_BAN_AFTER_HANGS hangs: no more submissions.
 * @busy_ns: core time used by this context's jobs (fdinfo).
 * @hw_ctx: the hardware implementation's state of the context (its slot
 *	and tables), when it keeps one (npu_hw_ops.ctx_init).
 */
struct npu_ctx {
	struct npu_device *ndev;
	u64 client_id;
	struct kref refcount;
	struct rw_semaphore vm_lock;
	struct mutex mm_lock;	/* mm, va_next, by_obj, quarantine */
	struct drm_mm mm;
	u64 va_end;
	u64 va_next;
	struct list_head quarantine;
	unsigned int quarantined;
	struct maple_tree mappings;
	DECLARE_HASHTABLE(by_obj, 6);
	struct drm_sched_entity entities[NPU_PRIORITIES];
	bool closing;
	struct mutex submit_lock;	/* job arm + push */
	spinlock_t job_lock;	/* next_job_id, records */
	u64 next_job_id;
	struct npu_job_record records[NPU_JOB_RECORDS];
	atomic_t hangs;
	bool banned;
	atomic64_t busy_ns;
	void *hw_ctx;
};

/**
 * struct npu_job - a submitted command stream.
 * @base: the drm_sched job.
 * @refcount: the submit path and the scheduler hold it, and a core's ring
 *	while the job is there.
 * @ctx: the submitting context (a reference).
 * @id: the job id returned to userspace.
 * @bos: the BOs the job uses (references), the command buffer first.
 * @bo_count: entries in @bos.
 * @stream_addr: device address of the stream.
 * @stream_size: bytes of the stream.
 * @hw_fence: signalled by the completion interrupt.
 * @result: what the core reported.
 * @completed: the core reported the job done (set by the interrupt).
 * @timed_out: the job was the guilty one of a timeout.
 * @in_hw: the job is in a core's ring or running there (not cut off by a
 *	reset): a resubmission must not run it twice.
 * @spare_fence: the hardware fence of the job's first run, allocated at
 *	SUBMIT (run_job may not wait for memory).
 * @queued: counted in npu_device.jobs_in_flight.
 * @link: the hardware implementation's, while it holds the job's completion.
 */
struct npu_job {
	struct drm_sched_job base;
	struct kref refcount;
	struct npu_ctx *ctx;
	u64 id;
	struct drm_gem_object **bos;
	u32 bo_count;
	u64 stream_addr;
	u32 stream_size;
	struct dma_fence *hw_fence;
	struct npu_fw_result result;
	bool completed;
	bool timed_out;
	bool in_hw;
	bool queued;
	struct npu_hw_fence *spare_fence;
	struct list_head link;
};

#define to_npu_job(j) container_of(j, struct npu_job, base)

/* npu_gem.c */
struct drm_gem_object *npu_gem_create_object(struct drm_device *dev, size_t size);
struct drm_gem_object *npu_gem_prime_import_sg_table(struct drm_device *dev,
						     struct dma_buf_attachment *attach,
						     struct sg_table *sgt);
int npu_ioctl_bo_create(struct drm_device *dev, void *data, struct drm_file *file);
int npu_ioctl_bo_info(struct drm_device *dev, void *data, struct drm_file *file);

/* npu_mmu.c */
void npu_mmu_init(struct npu_ctx *ctx, u64 va_size);
void npu_mmu_fini(struct npu_ctx *ctx);
int npu_mmu_map(struct npu_ctx *ctx, struct drm_gem_object *obj, u64 *addr);
void npu_mmu_unmap(struct npu_ctx *ctx, struct drm_gem_object *obj);
int npu_mmu_lookup(struct npu_ctx *ctx, struct drm_gem_object *obj, u64 *addr);
void *npu_mmu_translate(void *ctx, u64 addr, u64 len, int write, u64 *fault_addr);

/* npu_drv.c: what every NPU goes through, whatever its bus. */
struct npu_device *npu_device_alloc(struct device *parent);
int npu_device_probe(struct npu_device *ndev, const struct npu_hw_ops *hw, int id,
		     unsigned int n_cores);
void npu_device_remove(struct npu_device *ndev);
enum npu_inject npu_take_injection(struct npu_device *ndev, struct npu_job *job);
void npu_note_stop(struct npu_device *ndev, u64 ns);

/* npu_pci_probe.c */
int npu_pci_register(void);
void npu_pci_unregister(void);
int npu_pci_count(void);

/* npu_ctx.c */
int npu_ctx_open(struct drm_device *dev, struct drm_file *file);
int npu_ctx_file_release(struct inode *inode, struct file *filp);
void npu_ctx_postclose(struct drm_device *dev, struct drm_file *file);
void npu_ctx_put(struct npu_ctx *ctx);

/* npu_job.c */
int npu_sched_init(struct npu_device *ndev);
void npu_sched_fini(struct npu_device *ndev);
void npu_job_get(struct npu_job *job);
void npu_job_put(struct npu_job *job);
void npu_job_done(struct npu_job *job);
void npu_core_cancel(struct npu_core *core);
int npu_ioctl_submit(struct drm_device *dev, void *data, struct drm_file *file);
int npu_ioctl_wait(struct drm_device *dev, void *data, struct drm_file *file);

/* npu_dep.c */
struct dma_fence *npu_dep_wrap(struct npu_device *ndev, struct dma_fence *in);
void npu_dep_drop(struct dma_fence *fence);
void npu_deps_cancel(struct npu_device *ndev);

/* npu_fw.c */
int npu_fw_load(struct npu_device *ndev);
void npu_fw_release(struct npu_device *ndev);

/* npu_debugfs.c */
void npu_debugfs_init(struct npu_device *ndev);

/* npu_sysfs.c */
extern const struct attribute_group *npu_dev_groups[];

/* An allocation forced to fail by debugfs "fail_alloc" (see @fail_nth). */
static inline bool npu_fail_alloc(struct npu_device *ndev)
{
	int n = atomic_read(&ndev->fail_nth);

	while (n > 0) {
		if (atomic_try_cmpxchg(&ndev->fail_nth, &n, n - 1))
			return n == 1;
	}
	return false;
}

/* Objects alive, checked to be zero at module unload (npu_drv.c). */
extern atomic_t npu_live_ctxs, npu_live_jobs, npu_live_mappings, npu_live_deps;

#endif
