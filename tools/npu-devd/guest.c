// SPDX-License-Identifier: MIT
/*
 * The guest's memory as the device sees it: its RAM file mapped whole
 * (QEMU's memory-backend-file, shared), every bus address checked against
 * its size; and the device MMU, which walks a context's four-level table
 * in guest memory and maps each page it finds into a window of this
 * process, so that the firmware gets one pointer for a range that is
 * contiguous on the device and scattered in the guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devd.h"
#include "../../firmware/include/npu_device.h"

#define PAGE		4096ull

int guest_map(struct guest_mem *g, const char *path)
{
	struct stat st;

	g->fd = open(path, O_RDWR | O_CLOEXEC);
	if (g->fd < 0)
		return -errno;
	if (fstat(g->fd, &st) || st.st_size < (off_t)PAGE) {
		close(g->fd);
		g->fd = -1;
		return -EINVAL;
	}
	g->size = (uint64_t)st.st_size & ~(PAGE - 1);
	g->base = mmap(NULL, g->size, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, 0);
	if (g->base == MAP_FAILED) {
		int err = -errno;

		close(g->fd);
		g->fd = -1;
		g->base = NULL;
		return err;
	}
	return 0;
}

void guest_unmap(struct guest_mem *g)
{
	if (g->base)
		munmap(g->base, g->size);
	if (g->fd >= 0)
		close(g->fd);
	g->base = NULL;
	g->fd = -1;
	g->size = 0;
}

void *guest_ptr(struct guest_mem *g, uint64_t gpa, uint64_t len)
{
	if (!g->base || gpa > g->size || len > g->size - gpa)
		return NULL;
	return g->base + gpa;
}

int shadow_init(struct shadow *sh, uint64_t size, uint64_t budget)
{
	sh->size = size;
	sh->maps = 0;
	sh->budget = budget;
	sh->window = mmap(NULL, sh->size, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (sh->window == MAP_FAILED) {
		sh->window = NULL;
		return -ENOMEM;
	}
	sh->pages = mmap(NULL, (sh->size / PAGE) * sizeof(uint64_t), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (sh->pages == MAP_FAILED) {
		munmap(sh->window, sh->size);
		sh->window = NULL;
		sh->pages = NULL;
		return -ENOMEM;
	}
	return 0;
}

void shadow_free(struct shadow *sh)
{
	if (sh->window)
		munmap(sh->window, sh->size);
	if (sh->pages)
		munmap(sh->pages, (sh->size / PAGE) * sizeof(uint64_t));
	sh->window = NULL;
	sh->pages = NULL;
}

/* The table page an entry points to, or NULL when invalid or outside the guest. */
static const uint64_t *next_table(struct guest_mem *g, uint64_t entry)
{
	if (!(entry & NPU_PCI_PTE_VALID))
		return NULL;
	return guest_ptr(g, entry & NPU_PCI_PTE_ADDR, PAGE);
}

/* The guest writes tables as the device reads them: one load per entry. */
static uint64_t load_entry(const uint64_t *table, uint64_t va, unsigned int shift)
{
	return __atomic_load_n(&table[(va >> shift) & 511], __ATOMIC_RELAXED);
}

/* The last-level table covering @va, or NULL. */
static const uint64_t *walk(struct guest_mem *g, uint64_t root, uint64_t va)
{
	const uint64_t *t;

	if (root & (PAGE - 1))
		return NULL;
	t = guest_ptr(g, root, PAGE);
	if (t)
		t = next_table(g, load_entry(t, va, 39));
	if (t)
		t = next_table(g, load_entry(t, va, 30));
	if (t)
		t = next_table(g, load_entry(t, va, 21));
	return t;
}

/* Map guest pages [gpage, gpage + n) at window page @p. */
static int map_run(struct shadow *sh, struct guest_mem *g, uint64_t p, uint64_t gpage,
		   uint64_t n)
{
	uint64_t i;

	if (!n)
		return 0;
	if (mmap(sh->window + p * PAGE, n * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 g->fd, (off_t)(gpage * PAGE)) == MAP_FAILED) {
		/* What was there may be gone: the record must not say otherwise. */
		for (i = 0; i < n; i++)
			sh->pages[p + i] = 0;
		return -errno;
	}
	sh->maps++;
	for (i = 0; i < n; i++)
		sh->pages[p + i] = gpage + i + 1;
	return 0;
}

void shadow_trim(struct shadow *sh)
{
	if (sh->maps < sh->budget)
		return;
	/* One mapping over the whole window replaces every page mapped into it. */
	if (mmap(sh->window, sh->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		 MAP_FIXED, -1, 0) == MAP_FAILED)
		return;
	madvise(sh->pages, (sh->size / PAGE) * sizeof(uint64_t), MADV_DONTNEED);
	sh->maps = 0;
}

void *shadow_translate(struct shadow *sh, struct guest_mem *g, uint64_t root, uint64_t addr,
		       uint64_t len, int write, uint64_t *fault_addr)
{
	uint64_t off = addr - NPU_VA_START, first, last, p;
	uint64_t run_p = 0, run_g = 0, run_n = 0, leaf_of = ~0ull;
	const uint64_t *leaf = NULL;

	if (addr < NPU_VA_START || off >= sh->size || len > sh->size - off) {
		*fault_addr = addr < NPU_VA_START || off >= sh->size ? addr : NPU_VA_START +
			      sh->size;
		return NULL;
	}
	first = off / PAGE;
	last = (off + (len ? len : 1) - 1) / PAGE;
	for (p = first; p <= last; p++) {
		uint64_t va = NPU_VA_START + p * PAGE, pte, gpage;

		if (va >> 21 != leaf_of) {
			leaf = walk(g, root, va);
			leaf_of = va >> 21;
		}
		pte = leaf ? load_entry(leaf, va, 12) : 0;
		gpage = (pte & NPU_PCI_PTE_ADDR) / PAGE;
		if (!(pte & NPU_PCI_PTE_VALID) || (write && !(pte & NPU_PCI_PTE_WRITE)) ||
		    gpage >= g->size / PAGE) {
			*fault_addr = p == first ? addr : va;
			return NULL;
		}
		if (sh->pages[p] == gpage + 1)
			continue;
		if (run_n && p == run_p + run_n && gpage == run_g + run_n) {
			run_n++;
			continue;
		}
		if (map_run(sh, g, run_p, run_g, run_n)) {
			sh->map_failed = 1;
			*fault_addr = NPU_VA_START + run_p * PAGE;
			return NULL;
		}
		run_p = p;
		run_g = gpage;
		run_n = 1;
	}
	if (map_run(sh, g, run_p, run_g, run_n)) {
		sh->map_failed = 1;
		*fault_addr = NPU_VA_START + run_p * PAGE;
		return NULL;
	}
	return sh->window + off;
}
