// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-context device address spaces. Each context owns a range of device
 * virtual addresses (drm_mm), a table from address ranges to buffers (the
 * page table the emulated core's MMU walks, docs/hw.md) and a map from
 * buffers to their mappings. Every buffer is followed by an unmapped guard
 * page. Addresses are handed out upwards and wrap around at the end of
 * the space, and a freed range waits in a quarantine before it can be
 * reused: a stale address faults for as long as possible rather than
 * reach a newer buffer, and a long-lived context never runs out.
 */
#include <drm/drm_gem.h>
#include <linux/slab.h>

#include "npu_drv.h"

void npu_mmu_init(struct npu_ctx *ctx, u64 va_size)
{
	init_rwsem(&ctx->vm_lock);
	mutex_init(&ctx->mm_lock);
	drm_mm_init(&ctx->mm, NPU_VA_START, va_size);
	ctx->va_end = NPU_VA_START + va_size;
	ctx->va_next = NPU_VA_START;
	INIT_LIST_HEAD(&ctx->quarantine);
	/* RCU mode: a running core looks mappings up while new ones are added. */
	mt_init_flags(&ctx->mappings, MT_FLAGS_USE_RCU);
	hash_init(ctx->by_obj);
}

static struct npu_mapping *find_mapping(struct npu_ctx *ctx, struct drm_gem_object *obj)
{
	struct npu_mapping *m;

	hash_for_each_possible(ctx->by_obj, m, hash, (unsigned long)obj)
		if (m->obj == obj)
			return m;
	return NULL;
}

/* Take a mapping out of the tables; the caller holds mm_lock. */
static void unlink_mapping(struct npu_ctx *ctx, struct npu_mapping *m)
{
	mtree_erase(&ctx->mappings, m->node.start);
	hash_del(&m->hash);
}

/* Release its pages: no lock needed, nothing can find it. */
static void mapping_put_pages(struct npu_mapping *m)
{
	drm_gem_vunmap_unlocked(m->obj, &m->vmap);
	drm_gem_object_put(m->obj);
	m->obj = NULL;
	atomic_dec(&npu_live_mappings);
}

/* The oldest range in quarantine becomes free address space again. */
static void quarantine_release_oldest(struct npu_ctx *ctx)
{
	struct npu_mapping *m = list_first_entry(&ctx->quarantine, struct npu_mapping, link);

	list_del(&m->link);
	ctx->quarantined--;
	drm_mm_remove_node(&m->node);
	kfree(m);
}

/*
 * An unlinked mapping's range (buffer and guard) stays reserved until
 * NPU_VA_QUARANTINE more ranges are freed after it, or until the space
 * has no other room (insert_node).
 */
static void quarantine_add(struct npu_ctx *ctx, struct npu_mapping *m)
{
	list_add_tail(&m->link, &ctx->quarantine);
	if (++ctx->quarantined > NPU_VA_QUARANTINE)
		quarantine_release_oldest(ctx);
}

/* Called when the context is freed: no job runs, no handle remains. */
void npu_mmu_fini(struct npu_ctx *ctx)
{
	struct hlist_node *tmp;
	struct npu_mapping *m;
	int bkt;

	/* The device forgets the context before its pages go. */
	if (ctx->ndev->hw->ctx_fini)
		ctx->ndev->hw->ctx_fini(ctx);
	hash_for_each_safe(ctx->by_obj, bkt, tmp, m, hash) {
		unlink_mapping(ctx, m);
		mapping_put_pages(m);
		drm_mm_remove_node(&m->node);
		kfree(m);
	}
	while (!list_empty(&ctx->quarantine))
		quarantine_release_oldest(ctx);
	mtree_destroy(&ctx->mappings);
	drm_mm_takedown(&ctx->mm);
}

/*
 * Room for @size bytes: above the last range handed out, else from the
 * start of the space (a wrap), else by taking ranges out of quarantine,
 * oldest first. Fails only when live buffers fill the space.
 */
static int insert_node(struct npu_ctx *ctx, struct drm_mm_node *node, u64 size)
{
	int ret;

	/* What can never fit leaves the quarantine alone. */
	if (size > ctx->va_end - NPU_VA_START)
		return -ENOSPC;
	for (;;) {
		ret = drm_mm_insert_node_in_range(&ctx->mm, node, size, PAGE_SIZE, 0,
						  ctx->va_next, ctx->va_end, DRM_MM_INSERT_LOW);
		if (ret == -ENOSPC && ctx->va_next != NPU_VA_START)
			ret = drm_mm_insert_node_in_range(&ctx->mm, node, size, PAGE_SIZE, 0,
							  NPU_VA_START, ctx->va_end,
							  DRM_MM_INSERT_LOW);
		if (ret != -ENOSPC || list_empty(&ctx->quarantine))
			break;
		quarantine_release_oldest(ctx);
	}
	if (!ret)
		ctx->va_next = node->start + node->size;
	return ret;
}

int npu_mmu_lookup(struct npu_ctx *ctx, struct drm_gem_object *obj, u64 *addr)
{
	struct npu_mapping *m;
	int ret = -ENOENT;

	mutex_lock(&ctx->mm_lock);
	m = find_mapping(ctx, obj);
	if (m) {
		*addr = m->node.start;
		ret = 0;
	}
	mutex_unlock(&ctx->mm_lock);
	return ret;
}

int npu_mmu_map(struct npu_ctx *ctx, struct drm_gem_object *obj, u64 *addr)
{
	struct npu_mapping *m;
	int ret;

	m = npu_fail_alloc(ctx->ndev) ? NULL : kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	/* The core reads buffers through a kernel mapping of their pages. */
	ret = drm_gem_vmap_unlocked(obj, &m->vmap);
	if (ret)
		goto err_free;
	if (m->vmap.is_iomem) {
		ret = -EOPNOTSUPP;
		goto err_vunmap;
	}
	/* Adding a mapping does not disturb a running job: no vm_lock. */
	mutex_lock(&ctx->mm_lock);
	if (find_mapping(ctx, obj)) {
		ret = -EEXIST;
		goto err_unlock;
	}
	ret = insert_node(ctx, &m->node, obj->size + NPU_VA_GUARD);
	if (ret)
		goto err_unlock;
	drm_gem_object_get(obj);
	m->obj = obj;
	if (ctx->ndev->hw->map) {
		ret = ctx->ndev->hw->map(ctx, m);
		if (ret) {
			drm_gem_object_put(obj);
			goto err_node;
		}
	}
	/* Published last: a core may find it from here on. */
	ret = mtree_store_range(&ctx->mappings, m->node.start,
				m->node.start + obj->size - 1, m, GFP_KERNEL);
	if (ret) {
		if (ctx->ndev->hw->unmap)
			ctx->ndev->hw->unmap(ctx, m);
		drm_gem_object_put(obj);
		goto err_node;
	}
	hash_add(ctx->by_obj, &m->hash, (unsigned long)obj);
	*addr = m->node.start;
	mutex_unlock(&ctx->mm_lock);
	atomic_inc(&npu_live_mappings);
	return 0;

err_node:
	drm_mm_remove_node(&m->node);
err_unlock:
	mutex_unlock(&ctx->mm_lock);
err_vunmap:
	drm_gem_vunmap_unlocked(obj, &m->vmap);
err_free:
	kfree(m);
	return ret;
}

void npu_mmu_unmap(struct npu_ctx *ctx, struct drm_gem_object *obj)
{
	struct npu_mapping *m;

	/*
	 * Waits for a job of this context that is running on a core; only
	 * the unlinking happens under the lock a core waits for.
	 */
	down_write(&ctx->vm_lock);
	mutex_lock(&ctx->mm_lock);
	m = find_mapping(ctx, obj);
	if (m && ctx->ndev->hw->unmap)
		ctx->ndev->hw->unmap(ctx, m);
	if (m)
		unlink_mapping(ctx, m);
	mutex_unlock(&ctx->mm_lock);
	up_write(&ctx->vm_lock);
	if (!m)
		return;
	/* Unlinked, its range still reserved: nothing finds it, nothing reuses it. */
	mapping_put_pages(m);
	mutex_lock(&ctx->mm_lock);
	quarantine_add(ctx, m);
	mutex_unlock(&ctx->mm_lock);
}

/*
 * The emulated MMU: a range must lie inside one mapping. The caller (a
 * core running a job of @ctx_ptr) holds vm_lock for reading, so no mapping
 * it finds goes away before the job ends.
 */
void *npu_mmu_translate(void *ctx_ptr, u64 addr, u64 len, int write, u64 *fault_addr)
{
	struct npu_ctx *ctx = ctx_ptr;
	struct npu_mapping *m = mtree_load(&ctx->mappings, addr);
	u64 off;

	if (!m) {
		*fault_addr = addr;
		return NULL;
	}
	off = addr - m->node.start;
	if (len > m->obj->size - off) {
		*fault_addr = m->node.start + m->obj->size;
		return NULL;
	}
	return m->vmap.vaddr + off;
}
