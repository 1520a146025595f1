// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-context device address spaces. Each context owns a range of device
 * virtual addresses (drm_mm), a table from address ranges to buffers (the
 * page table the emulated core's MMU walks, docs/hw.md) and a map from
 * buffers to their mappings. Addresses are never reused within a context,
 * and every buffer is followed by an unmapped guard page.
 */
#include <drm/drm_gem.h>
#include <linux/slab.h>

#include "npu_drv.h"

void npu_mmu_init(struct npu_ctx *ctx)
{
	init_rwsem(&ctx->vm_lock);
	mutex_init(&ctx->mm_lock);
	drm_mm_init(&ctx->mm, NPU_VA_START, NPU_VA_SIZE);
	ctx->va_next = NPU_VA_START;
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
	drm_mm_remove_node(&m->node);
}

/* Release its pages and memory: no lock needed, nothing can find it. */
static void free_mapping(struct npu_mapping *m)
{
	drm_gem_vunmap_unlocked(m->obj, &m->vmap);
	drm_gem_object_put(m->obj);
	kfree(m);
	atomic_dec(&npu_live_mappings);
}

/* Called when the context is freed: no job runs, no handle remains. */
void npu_mmu_fini(struct npu_ctx *ctx)
{
	struct hlist_node *tmp;
	struct npu_mapping *m;
	int bkt;

	hash_for_each_safe(ctx->by_obj, bkt, tmp, m, hash) {
		unlink_mapping(ctx, m);
		free_mapping(m);
	}
	mtree_destroy(&ctx->mappings);
	drm_mm_takedown(&ctx->mm);
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
	ret = drm_mm_insert_node_in_range(&ctx->mm, &m->node, obj->size + NPU_VA_GUARD,
					  PAGE_SIZE, 0, ctx->va_next, NPU_VA_START + NPU_VA_SIZE,
					  DRM_MM_INSERT_LOW);
	if (ret)
		goto err_unlock;
	ctx->va_next = m->node.start + m->node.size;
	drm_gem_object_get(obj);
	m->obj = obj;
	/* Published last: a core may find it from here on. */
	ret = mtree_store_range(&ctx->mappings, m->node.start,
				m->node.start + obj->size - 1, m, GFP_KERNEL);
	if (ret) {
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
	if (m)
		unlink_mapping(ctx, m);
	mutex_unlock(&ctx->mm_lock);
	up_write(&ctx->vm_lock);
	if (m)
		free_mapping(m);
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
