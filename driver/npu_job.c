// SPDX-License-Identifier: GPL-2.0-only
/*
 * Jobs: SUBMIT and WAIT, the drm_sched backend (one scheduler per core,
 * one entity per context and priority), completion handling, and recovery
 * from a hung job: reset the core, fail the guilty job, resubmit the rest.
 */
#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_print.h>
#include <drm/drm_syncobj.h>
#include <linux/dma-fence.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "npu_drv.h"

static const enum drm_sched_priority npu_prio[NPU_PRIORITIES] = {
	[DRM_NPU_PRIO_LOW] = DRM_SCHED_PRIORITY_LOW,
	[DRM_NPU_PRIO_NORMAL] = DRM_SCHED_PRIORITY_NORMAL,
	[DRM_NPU_PRIO_HIGH] = DRM_SCHED_PRIORITY_HIGH,
};

/* ---- hardware fences ------------------------------------------------- */

struct npu_hw_fence {
	struct dma_fence base;
	spinlock_t lock;	/* the fence's */
	struct npu_core *core;
};

static const char *npu_fence_driver_name(struct dma_fence *fence)
{
	return "npu";
}

static const char *npu_fence_timeline_name(struct dma_fence *fence)
{
	struct npu_hw_fence *f = container_of(fence, struct npu_hw_fence, base);

	return f->core->sched.name;
}

static const struct dma_fence_ops npu_fence_ops = {
	.get_driver_name = npu_fence_driver_name,
	.get_timeline_name = npu_fence_timeline_name,
};

/*
 * run_job is in the fence-signalling path and must not wait for memory
 * reclaim: a job's first hardware fence is allocated at SUBMIT, a rerun
 * after a reset allocates without waiting (and fails the job if it can't).
 */
static struct dma_fence *npu_hw_fence_create(struct npu_job *job, struct npu_core *core)
{
	struct npu_hw_fence *f = job->spare_fence;

	job->spare_fence = NULL;
	if (!f)
		f = kzalloc(sizeof(*f), GFP_NOWAIT);
	if (!f)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&f->lock);
	f->core = core;
	dma_fence_init(&f->base, &npu_fence_ops, &f->lock, core->fence_context,
		       atomic64_inc_return(&core->fence_seqno));
	return &f->base;
}

/* ---- contexts and jobs ------------------------------------------------ */

static void npu_ctx_release(struct kref *ref)
{
	struct npu_ctx *ctx = container_of(ref, struct npu_ctx, refcount);
	unsigned int i;

	for (i = 0; i < NPU_JOB_RECORDS; i++)
		dma_fence_put(ctx->records[i].fence);
	npu_mmu_fini(ctx);
	kvfree(ctx);
	atomic_dec(&npu_live_ctxs);
}

void npu_ctx_put(struct npu_ctx *ctx)
{
	kref_put(&ctx->refcount, npu_ctx_release);
}

static void npu_job_release(struct kref *ref)
{
	struct npu_job *job = container_of(ref, struct npu_job, refcount);
	struct npu_device *ndev = job->ctx->ndev;
	bool queued = job->queued;
	u32 i;

	if (queued && !job->completed && !job->timed_out)
		atomic64_inc(&ndev->counters.cancelled);

	for (i = 0; i < job->bo_count; i++)
		if (job->bos[i])
			drm_gem_object_put(job->bos[i]);
	kvfree(job->bos);
	kfree(job->spare_fence);
	dma_fence_put(job->hw_fence);
	npu_ctx_put(job->ctx);
	kfree(job);
	atomic_dec(&npu_live_jobs);
	/* Last: unplug waits for this, so everything above is done by then. */
	if (queued && atomic_dec_and_test(&ndev->jobs_in_flight))
		wake_up_all(&ndev->jobs_drained);
}

void npu_job_put(struct npu_job *job)
{
	kref_put(&job->refcount, npu_job_release);
}

void npu_job_get(struct npu_job *job)
{
	kref_get(&job->refcount);
}

static struct npu_job_record *record_of(struct npu_ctx *ctx, u64 id)
{
	return &ctx->records[id % NPU_JOB_RECORDS];
}

/* The job's outcome, visible to WAIT before its finished fence signals. */
static void record_result(struct npu_job *job, u32 status, u32 op_index, u64 fault_addr)
{
	struct npu_ctx *ctx = job->ctx;
	struct npu_job_record *r;

	spin_lock(&ctx->job_lock);
	r = record_of(ctx, job->id);
	if (r->id == job->id) {
		r->status = status;
		r->op_index = op_index;
		r->fault_addr = fault_addr;
	}
	spin_unlock(&ctx->job_lock);
}

/*
 * The completion interrupt: take what the core reported, record it, and
 * signal the jobs' hardware fences.
 */
void npu_core_irq(struct npu_core *core)
{
	struct npu_device *ndev = core->ndev;
	struct npu_job *job, *tmp;
	LIST_HEAD(done);

	spin_lock(&core->done_lock);
	list_splice_init(&core->done, &done);
	spin_unlock(&core->done_lock);

	list_for_each_entry_safe(job, tmp, &done, link) {
		const struct npu_fw_result *r = &job->result;
		struct dma_fence *fence = dma_fence_get(job->hw_fence);

		list_del_init(&job->link);
		record_result(job, r->status, r->op_index, r->fault_addr);
		atomic64_inc(&ndev->counters.completed);
		if (r->status)
			atomic64_inc(&ndev->counters.failed);
		if (r->status == DRM_NPU_STATUS_FAULT)
			atomic64_inc(&ndev->counters.faults);
		WRITE_ONCE(job->completed, true);
		WRITE_ONCE(job->in_hw, false);
		if (r->status)
			dma_fence_set_error(fence, -EIO);
		/* The ring's reference; the scheduler's is dropped in free_job. */
		npu_job_put(job);
		dma_fence_signal(fence);
		dma_fence_put(fence);
	}
}

/* A hardware fence the core will never signal: its run was discarded. */
static void npu_hw_fence_discard(struct dma_fence *fence, int error)
{
	if (fence && !dma_fence_is_signaled(fence)) {
		dma_fence_set_error(fence, error);
		dma_fence_signal(fence);
	}
}

/* ---- scheduler backend -------------------------------------------------- */

static struct dma_fence *npu_job_run(struct drm_sched_job *sched_job)
{
	struct npu_job *job = to_npu_job(sched_job);
	struct npu_core *core = container_of(sched_job->sched, struct npu_core, sched);
	struct dma_fence *fence;
	int idx;

	if (unlikely(sched_job->s_fence->finished.error))
		return NULL;
	/*
	 * Resubmitted after a timeout: a job that completed, or that is still
	 * on a core that was not reset, keeps its fence and is not run again.
	 */
	if (READ_ONCE(job->completed) || READ_ONCE(job->in_hw))
		return dma_fence_get(job->hw_fence);
	/* A run cut off by a reset: its fence ends now, the job runs again. */
	npu_hw_fence_discard(job->hw_fence, -ECANCELED);
	/* Unplugged: the job is cancelled (unplug waits for this section). */
	if (!drm_dev_enter(&core->ndev->drm, &idx))
		return ERR_PTR(-ENODEV);

	fence = npu_hw_fence_create(job, core);
	if (IS_ERR(fence))
		goto out;
	dma_fence_put(job->hw_fence);
	job->hw_fence = dma_fence_get(fence);
	WRITE_ONCE(job->in_hw, true);
	npu_job_get(job);	/* the ring's reference */
	core->ndev->hw->submit(core, job);
out:
	drm_dev_exit(idx);
	return fence;
}

static enum drm_gpu_sched_stat npu_job_timedout(struct drm_sched_job *sched_job)
{
	struct npu_job *job = to_npu_job(sched_job);
	struct npu_core *core = container_of(sched_job->sched, struct npu_core, sched);
	struct npu_device *ndev = core->ndev;
	struct npu_ctx *ctx = job->ctx;

	mutex_lock(&core->reset_lock);
	/*
	 * Stop the scheduler, then decide. A job that completed as the timer
	 * fired needs no reset: the resubmission below gives every pending
	 * job back its hardware fence and nothing runs twice.
	 */
	drm_sched_stop(&core->sched, sched_job);
	if (!READ_ONCE(job->completed)) {
		/* The reset also delivers completions reported before it. */
		ndev->hw->reset(core);
		atomic64_inc(&ndev->counters.resets);
	}
	if (!READ_ONCE(job->completed)) {
		npu_hw_fence_discard(job->hw_fence, -ETIMEDOUT);
		job->timed_out = true;
		record_result(job, DRM_NPU_STATUS_TIMEOUT, 0, 0);
		atomic64_inc(&ndev->counters.timeouts);
		atomic64_inc(&ndev->counters.failed);
		drm_sched_increase_karma(sched_job);
		if (atomic_inc_return(&ctx->hangs) >= NPU_BAN_AFTER_HANGS)
			WRITE_ONCE(ctx->banned, true);
		drm_warn(&ndev->drm, "core %u: job %llu timed out, core reset%s\n",
			 core->index, job->id, READ_ONCE(ctx->banned) ? ", context banned" : "");
	}

	/* Innocent jobs run (again, if the reset cut them off); the guilty one not. */
	drm_sched_resubmit_jobs(&core->sched);
	drm_sched_start(&core->sched);
	mutex_unlock(&core->reset_lock);
	return DRM_GPU_SCHED_STAT_NOMINAL;
}

/**
 * npu_core_cancel() - cancel the jobs of an unplugged device's core
 * @core: the core.
 *
 * Stops the running stream (within one poll of the firmware), drops the
 * ring and ends every job the scheduler holds: npu_job_run refuses to
 * run them again, so they finish with -ENODEV. Jobs that completed keep
 * their results.
 */
void npu_core_cancel(struct npu_core *core)
{
	mutex_lock(&core->reset_lock);
	drm_sched_stop(&core->sched, NULL);
	core->ndev->hw->reset(core);
	drm_sched_resubmit_jobs(&core->sched);
	drm_sched_start(&core->sched);
	mutex_unlock(&core->reset_lock);
}

static void npu_job_free(struct drm_sched_job *sched_job)
{
	struct npu_job *job = to_npu_job(sched_job);

	drm_sched_job_cleanup(sched_job);
	npu_job_put(job);
}

static const struct drm_sched_backend_ops npu_sched_ops = {
	.run_job = npu_job_run,
	.timedout_job = npu_job_timedout,
	.free_job = npu_job_free,
};

int npu_sched_init(struct npu_device *ndev)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ndev->n_cores; i++) {
		struct npu_core *core = &ndev->cores[i];
		struct drm_sched_init_args args = {
			.ops = &npu_sched_ops,
			.num_rqs = DRM_SCHED_PRIORITY_COUNT,
			.credit_limit = NPU_SCHED_CREDITS,
			.timeout = msecs_to_jiffies(ndev->job_timeout_ms),
			.name = core->name,
			.dev = ndev->drm.dev,
		};

		core->fence_context = dma_fence_context_alloc(1);
		ret = drm_sched_init(&core->sched, &args);
		if (ret) {
			while (i--)
				drm_sched_fini(&ndev->cores[i].sched);
			return ret;
		}
		ndev->sched_list[i] = &core->sched;
	}
	return 0;
}

void npu_sched_fini(struct npu_device *ndev)
{
	unsigned int i;

	for (i = 0; i < ndev->n_cores; i++)
		drm_sched_fini(&ndev->cores[i].sched);
}

int npu_ctx_queues_init(struct npu_ctx *ctx)
{
	struct npu_device *ndev = ctx->ndev;
	int i, ret;

	for (i = 0; i < ARRAY_SIZE(ctx->entities); i++) {
		ret = drm_sched_entity_init(&ctx->entities[i], npu_prio[i], ndev->sched_list,
					    ndev->n_cores, NULL);
		if (ret) {
			while (i--)
				drm_sched_entity_destroy(&ctx->entities[i]);
			return ret;
		}
	}
	return 0;
}

void npu_ctx_queues_fini(struct npu_ctx *ctx)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(ctx->entities); i++)
		drm_sched_entity_destroy(&ctx->entities[i]);
}

/* ---- ioctls -------------------------------------------------------------- */

/*
 * The in-syncobjs' fences, each through a proxy unplug can cancel
 * (npu_dep.c). Called inside drm_dev_enter(); on failure the caller drops
 * the proxies already added (npu_job_drop_deps).
 */
static int npu_job_add_in_syncobjs(struct npu_job *job, struct drm_file *file,
				   const u32 *handles, u32 count)
{
	struct dma_fence *fence;
	u32 i;
	int ret;

	for (i = 0; i < count; i++) {
		ret = drm_syncobj_find_fence(file, handles[i], 0, 0, &fence);
		if (ret)
			return ret;
		fence = npu_dep_wrap(job->ctx->ndev, fence);
		if (IS_ERR(fence))
			return PTR_ERR(fence);
		/* Consumed even on failure: keep it to drop the proxy then. */
		dma_fence_get(fence);
		ret = drm_sched_job_add_dependency(&job->base, fence);
		if (ret)
			npu_dep_drop(fence);
		dma_fence_put(fence);
		if (ret)
			return ret;
	}
	return 0;
}

/* A SUBMIT that failed after its in-fences were added: end their proxies now. */
static void npu_job_drop_deps(struct npu_job *job)
{
	struct dma_fence *fence;
	unsigned long index;

	xa_for_each(&job->base.dependencies, index, fence)
		npu_dep_drop(fence);
}

/* Look up the BOs: the command buffer first, then the list. */
static int npu_job_lookup_bos(struct npu_job *job, struct drm_file *file,
			      const struct drm_npu_submit *args)
{
	struct drm_gem_object **list = NULL;
	int ret;

	job->bos = npu_fail_alloc(job->ctx->ndev) ? NULL :
		   kvcalloc(args->bo_count + 1, sizeof(*job->bos), GFP_KERNEL);
	if (!job->bos)
		return -ENOMEM;
	job->bos[0] = drm_gem_object_lookup(file, args->cmd_handle);
	if (!job->bos[0])
		return -ENOENT;
	job->bo_count = 1;
	if (!args->bo_count)
		return 0;
	ret = drm_gem_objects_lookup(file, u64_to_user_ptr(args->bo_handles),
				     args->bo_count, &list);
	/* Even on failure the list holds the references taken so far. */
	if (list) {
		memcpy(job->bos + 1, list, args->bo_count * sizeof(*list));
		job->bo_count += args->bo_count;
		kvfree(list);
	}
	return ret;
}

int npu_ioctl_submit(struct drm_device *dev, void *data, struct drm_file *file)
{
	struct npu_device *ndev = to_npu_device(dev);
	struct npu_ctx *ctx = file->driver_priv;
	struct drm_npu_submit *args = data;
	u32 in_handles[NPU_MAX_IN_SYNCOBJS];
	struct drm_syncobj *out_sync = NULL;
	struct npu_job_record *rec;
	struct npu_job *job;
	u64 cmd_addr;
	int ret, idx;

	if (args->flags || args->job_id)
		return -EINVAL;
	if (args->priority > DRM_NPU_PRIO_HIGH || args->cmd_offset % 8 ||
	    args->cmd_size < sizeof(struct drm_npu_cmd_header) ||
	    args->bo_count > NPU_MAX_BOS_PER_JOB ||
	    args->in_syncobj_count > NPU_MAX_IN_SYNCOBJS)
		return -EINVAL;
	if (READ_ONCE(ctx->banned))
		return -ECANCELED;

	job = npu_fail_alloc(ndev) ? NULL : kzalloc(sizeof(*job), GFP_KERNEL);
	if (!job)
		return -ENOMEM;
	atomic_inc(&npu_live_jobs);
	kref_init(&job->refcount);
	job->spare_fence = npu_fail_alloc(ndev) ? NULL :
			   kzalloc(sizeof(*job->spare_fence), GFP_KERNEL);
	if (!job->spare_fence) {
		kfree(job);
		atomic_dec(&npu_live_jobs);
		return -ENOMEM;
	}
	kref_get(&ctx->refcount);
	job->ctx = ctx;
	INIT_LIST_HEAD(&job->link);

	ret = npu_job_lookup_bos(job, file, args);
	if (ret)
		goto err_put;
	ret = npu_mmu_lookup(ctx, job->bos[0], &cmd_addr);
	if (ret)
		goto err_put;
	if ((u64)args->cmd_offset + args->cmd_size > job->bos[0]->size) {
		ret = -EINVAL;
		goto err_put;
	}
	job->stream_addr = cmd_addr + args->cmd_offset;
	job->stream_size = args->cmd_size;

	if (args->out_syncobj) {
		out_sync = drm_syncobj_find(file, args->out_syncobj);
		if (!out_sync) {
			ret = -ENOENT;
			goto err_put;
		}
	}
	ret = drm_sched_job_init(&job->base, &ctx->entities[args->priority], 1, ctx,
				 file->client_id);
	if (ret)
		goto err_put;
	/* Copied before drm_dev_enter(): a faulting copy must not hold up unplug. */
	if (copy_from_user(in_handles, u64_to_user_ptr(args->in_syncobjs),
			   args->in_syncobj_count * sizeof(u32))) {
		ret = -EFAULT;
		goto err_cleanup;
	}
	if (!drm_dev_enter(dev, &idx)) {
		ret = -ENODEV;
		goto err_cleanup;
	}
	ret = npu_job_add_in_syncobjs(job, file, in_handles, args->in_syncobj_count);
	if (ret) {
		drm_dev_exit(idx);
		goto err_cleanup;
	}
	/* Arm and push as one step: jobs enter the entity in id order. */
	mutex_lock(&ctx->submit_lock);
	spin_lock(&ctx->job_lock);
	rec = record_of(ctx, ctx->next_job_id);
	if (rec->fence && !dma_fence_is_signaled(rec->fence)) {
		/* NPU_JOB_RECORDS jobs of this file are already in flight. */
		spin_unlock(&ctx->job_lock);
		mutex_unlock(&ctx->submit_lock);
		drm_dev_exit(idx);
		ret = -EBUSY;
		goto err_cleanup;
	}
	job->id = ctx->next_job_id++;
	drm_sched_job_arm(&job->base);
	dma_fence_put(rec->fence);
	rec->fence = dma_fence_get(&job->base.s_fence->finished);
	rec->id = job->id;
	rec->status = DRM_NPU_STATUS_CANCELLED;
	rec->op_index = 0;
	rec->fault_addr = 0;
	spin_unlock(&ctx->job_lock);

	if (out_sync)
		drm_syncobj_replace_fence(out_sync, &job->base.s_fence->finished);
	atomic64_inc(&ndev->counters.submitted);
	atomic_inc(&ndev->jobs_in_flight);
	job->queued = true;
	args->job_id = job->id;
	drm_sched_entity_push_job(&job->base);
	mutex_unlock(&ctx->submit_lock);
	drm_dev_exit(idx);
	if (out_sync)
		drm_syncobj_put(out_sync);
	return 0;

err_cleanup:
	npu_job_drop_deps(job);
	drm_sched_job_cleanup(&job->base);
err_put:
	if (out_sync)
		drm_syncobj_put(out_sync);
	npu_job_put(job);
	return ret;
}

int npu_ioctl_wait(struct drm_device *dev, void *data, struct drm_file *file)
{
	struct npu_ctx *ctx = file->driver_priv;
	struct drm_npu_wait *args = data;
	struct npu_job_record *rec;
	struct dma_fence *fence;
	s64 now = ktime_get_ns();
	long ret;

	if (args->flags || args->pad || args->status || args->op_index || args->fault_addr)
		return -EINVAL;
	spin_lock(&ctx->job_lock);
	if (!args->job_id || args->job_id >= ctx->next_job_id) {
		spin_unlock(&ctx->job_lock);
		return -EINVAL;
	}
	rec = record_of(ctx, args->job_id);
	if (rec->id != args->job_id) {
		spin_unlock(&ctx->job_lock);
		return -ENOENT;		/* the record was reused: result expired */
	}
	fence = dma_fence_get(rec->fence);
	spin_unlock(&ctx->job_lock);

	if (args->timeout_ns <= now) {
		ret = dma_fence_is_signaled(fence) ? 1 : 0;
	} else {
		ret = dma_fence_wait_timeout(fence, true,
					     nsecs_to_jiffies(args->timeout_ns - now) + 1);
	}
	dma_fence_put(fence);
	if (ret < 0)
		return ret;
	if (ret == 0)
		return -ETIME;

	spin_lock(&ctx->job_lock);
	if (rec->id != args->job_id) {
		spin_unlock(&ctx->job_lock);
		return -ENOENT;
	}
	args->status = rec->status;
	args->op_index = rec->op_index;
	args->fault_addr = rec->fault_addr;
	spin_unlock(&ctx->job_lock);
	return 0;
}
