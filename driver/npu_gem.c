// SPDX-License-Identifier: GPL-2.0-only
/*
 * Buffers: GEM shmem objects, mapped into the address space of every
 * context that holds a handle to them (its creator at creation, an
 * importer when it first asks for the buffer's address).
 */
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_gem_shmem_helper.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "npu_drv.h"

/*
 * Bytes pinned by the buffers every NPU created (an import pins its
 * exporter's pages, not ours): one budget for the module, so that no
 * number of devices lets a client pin more than RAM >> NPU_PINNED_RAM_SHIFT.
 */
static atomic64_t npu_pinned_bytes;

/*
 * A handle of this file to @obj went away: so does its mapping, unless the
 * file is closing (its queued jobs may still use it; it goes with them).
 */
static void npu_gem_close(struct drm_gem_object *obj, struct drm_file *file)
{
	struct npu_ctx *ctx = file->driver_priv;

	if (!READ_ONCE(ctx->closing))
		npu_mmu_unmap(ctx, obj);
}

/* fdinfo's drm-resident-*: pages are held while a context maps the BO. */
static enum drm_gem_object_status npu_gem_status(struct drm_gem_object *obj)
{
	return to_drm_gem_shmem_obj(obj)->pages ? DRM_GEM_OBJECT_RESIDENT : 0;
}

static size_t npu_gem_rss(struct drm_gem_object *obj)
{
	return to_drm_gem_shmem_obj(obj)->pages ? obj->size : 0;
}

/*
 * sysfs memory_bytes, for an imported object: counted once it exists (a
 * failed import never reaches .free), given back in npu_gem_free. Created
 * objects claim theirs before they exist (npu_ioctl_bo_create).
 */
static void npu_gem_account(struct drm_gem_object *obj)
{
	atomic64_add(obj->size, &to_npu_device(obj->dev)->counters.bo_bytes);
}

static void npu_gem_free(struct drm_gem_object *obj)
{
	if (!obj->import_attach)
		atomic64_sub(obj->size, &npu_pinned_bytes);
	atomic64_sub(obj->size, &to_npu_device(obj->dev)->counters.bo_bytes);
	drm_gem_shmem_object_free(obj);
}

static const struct drm_gem_object_funcs npu_gem_funcs = {
	.free = npu_gem_free,
	.close = npu_gem_close,
	.print_info = drm_gem_shmem_object_print_info,
	.pin = drm_gem_shmem_object_pin,
	.unpin = drm_gem_shmem_object_unpin,
	.get_sg_table = drm_gem_shmem_object_get_sg_table,
	.vmap = drm_gem_shmem_object_vmap,
	.vunmap = drm_gem_shmem_object_vunmap,
	.mmap = drm_gem_shmem_object_mmap,
	.status = npu_gem_status,
	.rss = npu_gem_rss,
	.vm_ops = &drm_gem_shmem_vm_ops,
};

struct drm_gem_object *npu_gem_create_object(struct drm_device *dev, size_t size)
{
	struct drm_gem_shmem_object *shmem = kzalloc(sizeof(*shmem), GFP_KERNEL);

	if (!shmem)
		return ERR_PTR(-ENOMEM);
	/* CPU and emulated cores share the pages: keep them cached. */
	shmem->map_wc = false;
	shmem->base.funcs = &npu_gem_funcs;
	return &shmem->base;
}

struct drm_gem_object *npu_gem_prime_import_sg_table(struct drm_device *dev,
						     struct dma_buf_attachment *attach,
						     struct sg_table *sgt)
{
	struct drm_gem_object *obj = drm_gem_shmem_prime_import_sg_table(dev, attach, sgt);

	if (!IS_ERR(obj))
		npu_gem_account(obj);
	return obj;
}

int npu_ioctl_bo_create(struct drm_device *dev, void *data, struct drm_file *file)
{
	struct drm_npu_bo_create *args = data;
	u64 budget = (u64)totalram_pages() << PAGE_SHIFT >> NPU_PINNED_RAM_SHIFT;
	struct drm_gem_shmem_object *shmem;
	u64 size, addr;
	s64 old;
	u32 handle;
	int ret;

	if (args->flags || args->handle || args->dev_addr)
		return -EINVAL;
	if (!args->size || args->size > NPU_MAX_BO_SIZE)
		return -EINVAL;
	size = PAGE_ALIGN(args->size);
	/*
	 * The pages are pinned as the buffer is mapped below: claim them
	 * first, with the check and the claim one step, so that concurrent
	 * creations neither pass the budget together nor fail each other.
	 * The object gives its size back when freed.
	 */
	old = atomic64_read(&npu_pinned_bytes);
	do {
		if ((u64)old + size > budget)
			return -ENOMEM;
	} while (!atomic64_try_cmpxchg(&npu_pinned_bytes, &old, old + size));
	atomic64_add(size, &to_npu_device(dev)->counters.bo_bytes);
	shmem = drm_gem_shmem_create(dev, size);
	if (IS_ERR(shmem)) {
		atomic64_sub(size, &npu_pinned_bytes);
		atomic64_sub(size, &to_npu_device(dev)->counters.bo_bytes);
		return PTR_ERR(shmem);
	}
	ret = npu_mmu_map(file->driver_priv, &shmem->base, &addr);
	if (ret)
		goto out;
	ret = drm_gem_handle_create(file, &shmem->base, &handle);
	if (ret) {
		npu_mmu_unmap(file->driver_priv, &shmem->base);
		goto out;
	}
	args->handle = handle;
	args->dev_addr = addr;
out:
	/* The handle (if any) holds the object now. */
	drm_gem_object_put(&shmem->base);
	return ret;
}

int npu_ioctl_bo_info(struct drm_device *dev, void *data, struct drm_file *file)
{
	struct drm_npu_bo_info *args = data;
	struct drm_gem_object *obj;
	u64 addr;
	int ret;

	if (args->flags || args->mmap_offset || args->dev_addr || args->size)
		return -EINVAL;
	obj = drm_gem_object_lookup(file, args->handle);
	if (!obj)
		return -ENOENT;
	/* A buffer imported through PRIME is mapped on first use. */
	ret = npu_mmu_lookup(file->driver_priv, obj, &addr);
	if (ret == -ENOENT)
		ret = npu_mmu_map(file->driver_priv, obj, &addr);
	/* A concurrent BO_INFO mapped it first. */
	if (ret == -EEXIST)
		ret = npu_mmu_lookup(file->driver_priv, obj, &addr);
	if (!ret)
		ret = drm_gem_create_mmap_offset(obj);
	if (!ret) {
		args->mmap_offset = drm_vma_node_offset_addr(&obj->vma_node);
		args->dev_addr = addr;
		args->size = obj->size;
	}
	drm_gem_object_put(obj);
	return ret;
}
