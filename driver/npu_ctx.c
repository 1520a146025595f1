// SPDX-License-Identifier: GPL-2.0-only
/*
 * Contexts: one per open file, its address space and queues. Created at
 * open, marked closing at release, its queues gone at postclose, and
 * freed with the last reference (the file's or a job's).
 */
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <linux/dma-fence.h>
#include <linux/fs.h>
#include <linux/slab.h>

#include "npu_drv.h"

static const enum drm_sched_priority npu_prio[NPU_PRIORITIES] = {
	[DRM_NPU_PRIO_LOW] = DRM_SCHED_PRIORITY_LOW,
	[DRM_NPU_PRIO_NORMAL] = DRM_SCHED_PRIORITY_NORMAL,
	[DRM_NPU_PRIO_HIGH] = DRM_SCHED_PRIORITY_HIGH,
};

/* One scheduler entity per priority, spread over all the cores. */
static int npu_ctx_queues_init(struct npu_ctx *ctx)
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

static void npu_ctx_queues_fini(struct npu_ctx *ctx)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(ctx->entities); i++)
		drm_sched_entity_destroy(&ctx->entities[i]);
}

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

int npu_ctx_open(struct drm_device *dev, struct drm_file *file)
{
	struct npu_device *ndev = to_npu_device(dev);
	struct npu_ctx *ctx;
	int ret;

	ctx = kvzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	atomic_inc(&npu_live_ctxs);
	ctx->ndev = ndev;
	ctx->client_id = file->client_id;
	kref_init(&ctx->refcount);
	spin_lock_init(&ctx->job_lock);
	mutex_init(&ctx->submit_lock);
	ctx->next_job_id = 1;
	npu_mmu_init(ctx, clamp_t(u64, PAGE_ALIGN(READ_ONCE(ndev->va_size)), NPU_VA_MIN_SIZE,
				  ndev->va_max));
	if (ndev->hw->ctx_init) {
		ret = ndev->hw->ctx_init(ctx);
		if (ret)
			goto err_mmu;
	}
	ret = npu_ctx_queues_init(ctx);
	if (ret)
		goto err_mmu;
	file->driver_priv = ctx;
	return 0;

err_mmu:
	npu_mmu_fini(ctx);
	kvfree(ctx);
	atomic_dec(&npu_live_ctxs);
	return ret;
}

/*
 * The DRM core releases a file's buffer handles before postclose. Jobs
 * still queued must not find their address space emptied: from here on a
 * handle's release leaves its mapping, which goes with the context.
 */
int npu_ctx_file_release(struct inode *inode, struct file *filp)
{
	struct drm_file *file = filp->private_data;
	struct npu_ctx *ctx = file->driver_priv;

	WRITE_ONCE(ctx->closing, true);
	return drm_release(inode, filp);
}

void npu_ctx_postclose(struct drm_device *dev, struct drm_file *file)
{
	struct npu_ctx *ctx = file->driver_priv;

	npu_ctx_queues_fini(ctx);
	npu_ctx_put(ctx);
}
