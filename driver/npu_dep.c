// SPDX-License-Identifier: GPL-2.0-only
/*
 * In-fences a job waits for, held through a proxy fence of this device.
 * drm_sched frees a job only once its dependencies have signalled, even
 * when the job is killed; a client may hand us a fence that never does
 * (another driver's, or one of its own jobs stuck behind such a fence).
 * The proxy signals when the fence does, or with -ENODEV when the device
 * is unplugged, so unplug can cancel every queued job in bounded time.
 */
#include <linux/dma-fence.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "npu_drv.h"

/*
 * Each proxy has a fence context of its own: drm_sched keeps one
 * dependency per context (the latest), and a job's proxies are unordered.
 */
struct npu_dep {
	struct dma_fence base;
	spinlock_t lock;	/* the fence's */
	struct npu_device *ndev;
	struct dma_fence *in;	/* what the job waits for */
	struct dma_fence_cb cb;
	struct list_head link;	/* in npu_device.deps while waiting */
};

static const char *npu_dep_driver_name(struct dma_fence *fence)
{
	return "npu";
}

static const char *npu_dep_timeline_name(struct dma_fence *fence)
{
	return "in-fence";
}

static void npu_dep_release(struct dma_fence *fence)
{
	atomic_dec(&npu_live_deps);
	dma_fence_free(fence);
}

static const struct dma_fence_ops npu_dep_ops = {
	.get_driver_name = npu_dep_driver_name,
	.get_timeline_name = npu_dep_timeline_name,
	.release = npu_dep_release,
};

/* Signal the proxy: whoever took it off the device's list does this, once. */
static void npu_dep_signal(struct npu_dep *dep, int error)
{
	if (error)
		dma_fence_set_error(&dep->base, error);
	dma_fence_signal(&dep->base);
	dma_fence_put(dep->in);
	dma_fence_put(&dep->base);	/* the list's reference */
}

static bool npu_dep_unlink(struct npu_dep *dep)
{
	struct npu_device *ndev = dep->ndev;
	unsigned long flags;
	bool mine;

	spin_lock_irqsave(&ndev->deps_lock, flags);
	mine = !list_empty(&dep->link);
	list_del_init(&dep->link);
	spin_unlock_irqrestore(&ndev->deps_lock, flags);
	return mine;
}

static void npu_dep_cb(struct dma_fence *in, struct dma_fence_cb *cb)
{
	struct npu_dep *dep = container_of(cb, struct npu_dep, cb);

	if (npu_dep_unlink(dep))
		npu_dep_signal(dep, in->error);
}

/**
 * npu_dep_wrap() - the fence a job of @ndev waits on in place of @in
 * @ndev: the device.
 * @in: the in-fence; its reference passes to the result.
 *
 * The caller is inside drm_dev_enter(): unplug cancels the proxies only
 * after every wrap has finished.
 *
 * Return: @in itself when it has signalled, else a proxy that signals with
 * it or at unplug; ERR_PTR(-ENOMEM).
 */
struct dma_fence *npu_dep_wrap(struct npu_device *ndev, struct dma_fence *in)
{
	struct npu_dep *dep;
	unsigned long flags;

	if (dma_fence_is_signaled(in))
		return in;
	dep = npu_fail_alloc(ndev) ? NULL : kzalloc(sizeof(*dep), GFP_KERNEL_ACCOUNT);
	if (!dep) {
		dma_fence_put(in);
		return ERR_PTR(-ENOMEM);
	}
	atomic_inc(&npu_live_deps);
	spin_lock_init(&dep->lock);
	dma_fence_init(&dep->base, &npu_dep_ops, &dep->lock, dma_fence_context_alloc(1), 1);
	dep->ndev = ndev;
	dep->in = in;
	INIT_LIST_HEAD(&dep->cb.node);
	dma_fence_get(&dep->base);	/* the list's */

	spin_lock_irqsave(&ndev->deps_lock, flags);
	list_add_tail(&dep->link, &ndev->deps);
	spin_unlock_irqrestore(&ndev->deps_lock, flags);

	if (dma_fence_add_callback(in, &dep->cb, npu_dep_cb))
		npu_dep_cb(in, &dep->cb);	/* signalled meanwhile */
	return &dep->base;
}

/**
 * npu_dep_drop() - end a proxy whose job was never pushed (a failed SUBMIT)
 * @fence: a dependency of the job; nothing is done unless it is a proxy.
 *
 * Signals it with -ECANCELED and lets go of the in-fence at once, rather
 * than when the in-fence signals (which a client could put off forever,
 * piling up proxies).
 */
void npu_dep_drop(struct dma_fence *fence)
{
	struct npu_dep *dep;

	if (fence->ops != &npu_dep_ops)
		return;
	dep = container_of(fence, struct npu_dep, base);
	if (npu_dep_unlink(dep)) {
		dma_fence_remove_callback(dep->in, &dep->cb);
		npu_dep_signal(dep, -ECANCELED);
	}
}

/**
 * npu_deps_cancel() - signal every proxy with -ENODEV (unplug)
 * @ndev: the device, unplugged: no SUBMIT is inside drm_dev_enter() any
 *	more, so no proxy is made from here on.
 */
void npu_deps_cancel(struct npu_device *ndev)
{
	struct npu_dep *dep;
	unsigned long flags;

	spin_lock_irqsave(&ndev->deps_lock, flags);
	while ((dep = list_first_entry_or_null(&ndev->deps, struct npu_dep, link))) {
		list_del_init(&dep->link);
		spin_unlock_irqrestore(&ndev->deps_lock, flags);
		/* Off the list: a callback running now leaves the proxy to us. */
		dma_fence_remove_callback(dep->in, &dep->cb);
		npu_dep_signal(dep, -ENODEV);
		spin_lock_irqsave(&ndev->deps_lock, flags);
	}
	spin_unlock_irqrestore(&ndev->deps_lock, flags);
}
