// SPDX-License-Identifier: GPL-2.0-only
/*
 * The PCI NPU's MMU: each context owns a slot of the device and a
 * four-level table in DMA memory (docs/hw.md §9.7) whose last level holds
 * the bus addresses of its buffers' pages, taken from their GEM scatter
 * lists. Adding a mapping writes entries a running job cannot reach yet;
 * removing one locks the slot and waits until no core runs a job of it.
 */
#include <drm/drm_drv.h>
#include <drm/drm_gem_shmem_helper.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/slab.h>

#include "npu_pcidev.h"

#define NPU_PT_ENTRIES	512

static struct npu_pt *pt_alloc(struct npu_pci *np)
{
	struct npu_pt *pt = kzalloc(sizeof(*pt), GFP_KERNEL);

	if (!pt)
		return NULL;
	/* Zeroed: every entry invalid. */
	pt->cpu = dma_alloc_coherent(&np->pdev->dev, PAGE_SIZE, &pt->dma, GFP_KERNEL);
	if (!pt->cpu) {
		kfree(pt);
		return NULL;
	}
	return pt;
}

static void pt_free(struct npu_pci *np, struct npu_pt *pt, int level)
{
	unsigned int i;

	if (!pt)
		return;
	for (i = 0; level > 0 && i < NPU_PT_ENTRIES; i++)
		pt_free(np, pt->child[i], level - 1);
	dma_free_coherent(&np->pdev->dev, PAGE_SIZE, pt->cpu, pt->dma);
	kfree(pt);
}

/* The last-level entry of @va, its tables allocated on the way when @alloc. */
static __le64 *pte_of(struct npu_pci *np, struct npu_pt *t, u64 va, bool alloc)
{
	int level;

	for (level = NPU_PCI_PT_LEVELS - 1; level > 0; level--) {
		unsigned int i = (va >> (PAGE_SHIFT + 9 * level)) & (NPU_PT_ENTRIES - 1);

		if (!t->child[i]) {
			struct npu_pt *c = alloc ? pt_alloc(np) : NULL;

			if (!c)
				return NULL;
			t->child[i] = c;
			dma_wmb();	/* the zeroed table before the entry that links it */
			WRITE_ONCE(t->cpu[i], cpu_to_le64(c->dma | NPU_PCI_PTE_VALID));
		}
		t = t->child[i];
	}
	return &t->cpu[(va >> PAGE_SHIFT) & (NPU_PT_ENTRIES - 1)];
}

static void clear_range(struct npu_pci *np, struct npu_pt *root, u64 start, u64 end)
{
	u64 va;

	for (va = start; va < end; va += PAGE_SIZE) {
		__le64 *pte = pte_of(np, root, va, false);

		if (pte)
			WRITE_ONCE(*pte, 0);
	}
}

int npu_pci_ctx_init(struct npu_ctx *ctx)
{
	struct npu_pci *np = ctx->ndev->hw_priv;
	struct npu_pci_ctx *hc;
	int idx, ret = 0;
	u32 at;

	/* An open racing an unbind: the window may be unmapped already. */
	if (!drm_dev_enter(&ctx->ndev->drm, &idx))
		return -ENODEV;
	hc = kzalloc(sizeof(*hc), GFP_KERNEL);
	if (!hc) {
		ret = -ENOMEM;
		goto out;
	}
	hc->slot = ida_alloc_max(&np->slots, NPU_PCI_CTX_SLOTS - 1, GFP_KERNEL);
	if (hc->slot < 0) {
		ret = hc->slot == -ENOSPC ? -EBUSY : hc->slot;
		kfree(hc);
		goto out;
	}
	hc->root = pt_alloc(np);
	if (!hc->root) {
		ida_free(&np->slots, hc->slot);
		kfree(hc);
		ret = -ENOMEM;
		goto out;
	}
	at = NPU_PCI_CTX(hc->slot);
	iowrite32(lower_32_bits(hc->root->dma), np->win + at + NPU_PCI_CTX_TABLE_LO);
	iowrite32(upper_32_bits(hc->root->dma), np->win + at + NPU_PCI_CTX_TABLE_HI);
	wmb();	/* the table before the slot is valid */
	iowrite32(1, np->win + at + NPU_PCI_CTX_VALID);
	ctx->hw_ctx = hc;
out:
	drm_dev_exit(idx);
	return ret;
}

/* No job of the context runs any more: its slot and table go. */
void npu_pci_ctx_fini(struct npu_ctx *ctx)
{
	struct npu_pci *np = ctx->ndev->hw_priv;
	struct npu_pci_ctx *hc = ctx->hw_ctx;
	int idx;

	if (!hc)
		return;
	/* After an unbind the window is gone, and so is the device. */
	if (drm_dev_enter(&ctx->ndev->drm, &idx)) {
		iowrite32(0, np->win + NPU_PCI_CTX(hc->slot) + NPU_PCI_CTX_VALID);
		wmb();	/* the slot invalid before its table is freed */
		drm_dev_exit(idx);
	}
	pt_free(np, hc->root, NPU_PCI_PT_LEVELS - 1);
	ida_free(&np->slots, hc->slot);
	kfree(hc);
	ctx->hw_ctx = NULL;
}

int npu_pci_map(struct npu_ctx *ctx, struct npu_mapping *m)
{
	struct npu_pci *np = ctx->ndev->hw_priv;
	struct npu_pci_ctx *hc = ctx->hw_ctx;
	u64 start = m->node.start, end = start + m->obj->size, va = start;
	struct sg_dma_page_iter it;
	struct sg_table *sgt;

	/* Pins the pages and maps them for the device, until the object is freed. */
	sgt = drm_gem_shmem_get_pages_sgt(to_drm_gem_shmem_obj(m->obj));
	if (IS_ERR(sgt))
		return PTR_ERR(sgt);
	for_each_sgtable_dma_page(sgt, &it, 0) {
		dma_addr_t a = sg_page_iter_dma_address(&it);
		__le64 *pte;

		if (va >= end)
			break;
		/* The table maps whole pages: an exporter's offset page cannot be entered. */
		if (a & ~PAGE_MASK) {
			clear_range(np, hc->root, start, va);
			return -EINVAL;
		}
		pte = pte_of(np, hc->root, va, true);
		if (!pte) {
			clear_range(np, hc->root, start, va);
			return -ENOMEM;
		}
		WRITE_ONCE(*pte, cpu_to_le64((a & NPU_PCI_PTE_ADDR) | NPU_PCI_PTE_VALID |
					     NPU_PCI_PTE_WRITE));
		va += PAGE_SIZE;
	}
	if (va < end) {
		clear_range(np, hc->root, start, va);
		return -EINVAL;
	}
	return 0;
}

/*
 * Lock the slot, wait for the cores running a job of it, clear the
 * entries, unlock. A running job ends within its timeout (the recovery
 * resets its core, whose firmware stops at its next poll); a device that
 * keeps a job running past that, or refuses the lock, is lost. A lost
 * device runs nothing: the entries just go.
 */
void npu_pci_unmap(struct npu_ctx *ctx, struct npu_mapping *m)
{
	struct npu_pci *np = ctx->ndev->hw_priv;
	struct npu_pci_ctx *hc = ctx->hw_ctx;
	u32 active = NPU_PCI_CTX(hc->slot) + NPU_PCI_CTX_ACTIVE;
	unsigned long deadline;
	int idx, ret;

	if (!drm_dev_enter(&ctx->ndev->drm, &idx)) {
		clear_range(np, hc->root, m->node.start, m->node.start + m->obj->size);
		return;
	}
	deadline = jiffies + msecs_to_jiffies(2 * ctx->ndev->job_timeout_ms + 5000);
	ret = npu_pci_cmd(np, NPU_PCI_CMD_LOCK, hc->slot, 0, 0, NULL);
	if (ret == -EIO)
		npu_pci_lose(np, "a context lock was refused");
	while (!ret && ioread32(np->win + active) && !npu_pci_is_lost(np)) {
		if (time_after(jiffies, deadline)) {
			npu_pci_lose(np, "a context's job never ended");
			break;
		}
		usleep_range(100, 200);
	}
	clear_range(np, hc->root, m->node.start, m->node.start + m->obj->size);
	if (!ret) {
		wmb();	/* the entries cleared before the slot runs again */
		if (npu_pci_cmd(np, NPU_PCI_CMD_UNLOCK, hc->slot, 0, 0, NULL) == -EIO)
			npu_pci_lose(np, "a context unlock was refused");
	}
	drm_dev_exit(idx);
}
