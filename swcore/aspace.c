// SPDX-License-Identifier: MIT
/*
 * The software core's address space: buffers with unmapped guard gaps
 * between them, at addresses reused as late as the space allows; the MMU
 * its jobs go through, which faults on what no buffer maps and on writes to
 * sealed buffers; and the packed copies of sealed weights the kernels keep.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "swcore_internal.h"

#define VA_ALIGN 4096ull
#define VA_END (NPU_VA_START + NPU_VA_SIZE)
#define HUGE_PAGE (2ull << 20)

/*
 * A copy of a sealed buffer's weights in the kernels' layout, and the
 * matrix it is of (which also fixes its size).
 */
struct packed {
	struct packed *next;
	uint64_t w_addr, factors_addr, w_stride;
	uint64_t factors_id;	/* the factors' buffer: its address may be reused */
	uint32_t w_bits, k, n, groups_per_row;
	uint64_t span;		/* bytes allocated: whole pages */
	void *data;
};

/* Caller holds map_lock. Index of the vma containing addr, or -1. */
static long vma_find(const struct npu_swcore *c, uint64_t addr)
{
	size_t lo = 0, hi = c->n_vmas;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct vma *v = &c->vmas[mid];

		if (addr < v->start)
			hi = mid;
		else if (addr - v->start >= v->size)
			lo = mid + 1;
		else
			return (long)mid;
	}
	return -1;
}

void *swcore_aspace_translate(void *ctx, __u64 addr, __u64 len, int write, __u64 *fault_addr)
{
	struct npu_swcore *c = ctx;
	void *p = NULL;
	long i;

	pthread_mutex_lock(&c->map_lock);
	i = vma_find(c, addr);
	if (i < 0) {
		*fault_addr = addr;
	} else if (len > c->vmas[i].size - (addr - c->vmas[i].start)) {
		*fault_addr = c->vmas[i].start + c->vmas[i].size;
	} else if (write && c->vmas[i].sealed) {
		*fault_addr = addr;
	} else {
		p = (char *)c->vmas[i].host + (addr - c->vmas[i].start);
		if (write && len && c->track_writes)
			swcore_wtrack_note(c, addr, len);
	}
	pthread_mutex_unlock(&c->map_lock);
	return p;
}

/*
 * Zeroed host memory for a buffer. Weights stream from buffers of many
 * MiB: those are mapped 2 MiB-aligned and get 2 MiB pages where the kernel
 * grants them (fewer TLB misses; hardware prefetch need not stop every
 * 4 KiB), which gained 5-15% on the M = 1 int4 matmuls of a 1B model here
 * (medians of 4-5 runs). Fresh anonymous pages are zero and committed on
 * first touch; smaller buffers are zeroed (committed) here.
 */
static void *host_alloc(uint64_t span)
{
	uint8_t *p, *aligned;
	uint64_t head;

	/* Whole pages even when small: a sealed buffer's are made read-only. */
	if (span < HUGE_PAGE) {
		p = aligned_alloc(VA_ALIGN, span);
		return p ? memset(p, 0, span) : NULL;
	}
	p = mmap(NULL, span + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		 0);
	if (p == MAP_FAILED)
		return NULL;
	aligned = (uint8_t *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
	head = (uint64_t)(aligned - p);
	/* Keep [aligned, aligned + span): give back what lies either side. */
	if (head)
		munmap(p, head);
	munmap(aligned + span, HUGE_PAGE - head);
	madvise(aligned, span, MADV_HUGEPAGE);
	return aligned;
}

/* Release memory host_alloc gave. */
static void host_release(void *p, uint64_t span)
{
	if (span < HUGE_PAGE)
		free(p);
	else if (p)
		munmap(p, span);
}

/* Release a buffer's memory and its packed copies. */
static void host_free(struct npu_swcore *c, const struct vma *v)
{
	struct packed *e = v->packed, *next;

	for (; e; e = next) {
		next = e->next;
		__atomic_fetch_sub(&c->packed_bytes, e->span, __ATOMIC_RELAXED);
		host_release(e->data, e->span);
		free(e);
	}
	/* free() writes into what it frees. */
	if (v->sealed && v->size < HUGE_PAGE)
		mprotect(v->host, v->size, PROT_READ | PROT_WRITE);
	host_release(v->host, v->size);
}

void swcore_aspace_bury(struct npu_swcore *c)
{
	while (c->n_graveyard)
		host_free(c, &c->graveyard[--c->n_graveyard]);
}

static int same_weights(const struct packed *e, const struct npu_fw_matmul *mm,
			uint64_t factors_id)
{
	return e->w_addr == mm->w_addr && e->factors_addr == mm->factors_addr &&
	       e->factors_id == factors_id &&
	       e->w_stride == mm->w_stride && e->w_bits == mm->w_bits && e->k == mm->k &&
	       e->n == mm->n && e->groups_per_row == mm->groups_per_row;
}

/*
 * Caller holds map_lock. The vma holding @mm's weights, when it and the
 * factors' are sealed; and the id of the factors' vma.
 */
static struct vma *sealed_weights(struct npu_swcore *c, const struct npu_fw_matmul *mm,
				  uint64_t *factors_id)
{
	long w = vma_find(c, mm->w_addr), f = vma_find(c, mm->factors_addr);

	if (w < 0 || f < 0 || !c->vmas[w].sealed || !c->vmas[f].sealed)
		return NULL;
	*factors_id = c->vmas[f].id;
	return &c->vmas[w];
}

/*
 * The kernels' store of packed weights (npu_packed_store_fn), on the
 * worker thread while a job runs: the only thread that adds copies, and
 * no buffer's memory goes while it runs.
 */
void *swcore_aspace_packed_store(void *ctx, const struct npu_fw_matmul *mm, uint64_t bytes,
				 int *fresh)
{
	struct npu_swcore *c = ctx;
	struct packed *e = NULL;
	uint64_t fid = 0, fid2 = 0;
	struct vma *v;

	pthread_mutex_lock(&c->map_lock);
	v = sealed_weights(c, mm, &fid);
	for (e = v ? v->packed : NULL; e && !same_weights(e, mm, fid); e = e->next)
		;
	pthread_mutex_unlock(&c->map_lock);
	*fresh = 0;
	if (e || !v)
		return e ? e->data : NULL;
	e = calloc(1, sizeof(*e));
	if (e) {
		e->span = (bytes + VA_ALIGN - 1) & ~(VA_ALIGN - 1);
		e->data = host_alloc(e->span);
	}
	if (!e || !e->data) {
		free(e);
		return NULL;
	}
	e->w_addr = mm->w_addr;
	e->factors_addr = mm->factors_addr;
	e->w_stride = mm->w_stride;
	e->w_bits = mm->w_bits;
	e->k = mm->k;
	e->n = mm->n;
	e->groups_per_row = mm->groups_per_row;
	e->factors_id = fid;
	pthread_mutex_lock(&c->map_lock);
	/* The vmas may have moved in their array meanwhile. */
	v = sealed_weights(c, mm, &fid2);
	if (v && fid2 != fid)
		v = NULL;
	if (v) {
		e->next = v->packed;
		v->packed = e;
		__atomic_fetch_add(&c->packed_bytes, e->span, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&c->map_lock);
	if (!v) {
		host_release(e->data, e->span);
		free(e);
		return NULL;
	}
	*fresh = 1;
	return e->data;
}

/* Caller holds map_lock. Make [start, start + len) a hole (merged); dropped if no memory. */
static void va_hole(struct npu_swcore *c, uint64_t start, uint64_t len)
{
	size_t lo = 0, hi = c->n_holes;
	struct va_range *h = c->holes;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (h[mid].start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && h[lo - 1].start + h[lo - 1].len == start) {
		h[lo - 1].len += len;
		if (lo < c->n_holes && start + len == h[lo].start) {
			h[lo - 1].len += h[lo].len;
			memmove(&h[lo], &h[lo + 1], (--c->n_holes - lo) * sizeof(*h));
		}
	} else if (lo < c->n_holes && start + len == h[lo].start) {
		h[lo].start = start;
		h[lo].len += len;
	} else {
		if (c->n_holes == c->cap_holes) {
			size_t cap = c->cap_holes ? c->cap_holes * 2 : 64;

			h = realloc(c->holes, cap * sizeof(*h));
			/* No room to note it: the range is lost to the space, never reused. */
			if (!h)
				return;
			c->holes = h;
			c->cap_holes = cap;
		}
		memmove(&h[lo + 1], &h[lo], (c->n_holes++ - lo) * sizeof(*h));
		h[lo] = (struct va_range){ start, len };
	}
}

/* Caller holds map_lock. Move the quarantine's oldest range to the holes. */
static void va_unquarantine(struct npu_swcore *c)
{
	struct va_range r = c->quarantine[c->q_first];

	c->q_first = (c->q_first + 1) % VA_QUARANTINE;
	c->q_count--;
	va_hole(c, r.start, r.len);
}

/* Caller holds map_lock. Free addresses for @len bytes, by the policy at npu_swcore.va_next. */
static int va_take(struct npu_swcore *c, uint64_t len, uint64_t *addr)
{
	/* What can never fit leaves the quarantine alone. */
	if (len > NPU_VA_SIZE)
		return NPU_E_NOSPC;
	for (;;) {
		struct va_range *last;
		size_t i;

		if (VA_END - c->va_next >= len) {
			*addr = c->va_next;
			c->va_next += len;
			return NPU_OK;
		}
		for (i = 0; i < c->n_holes; i++) {
			struct va_range *h = &c->holes[i];

			if (h->len < len)
				continue;
			*addr = h->start;
			h->start += len;
			h->len -= len;
			if (!h->len)
				memmove(h, h + 1, (--c->n_holes - i) * sizeof(*h));
			return NPU_OK;
		}
		/* The last hole and the fresh space after it, together. */
		last = c->n_holes ? &c->holes[c->n_holes - 1] : NULL;
		if (last && last->start + last->len == c->va_next && VA_END - last->start >= len) {
			*addr = last->start;
			c->va_next = *addr + len;
			c->n_holes--;
			return NPU_OK;
		}
		if (!c->q_count)
			return NPU_E_NOSPC;
		va_unquarantine(c);
	}
}

/* Caller holds map_lock. */
static void va_release(struct npu_swcore *c, uint64_t start, uint64_t len)
{
	if (c->q_count == VA_QUARANTINE)
		va_unquarantine(c);
	c->quarantine[(c->q_first + c->q_count++) % VA_QUARANTINE] = (struct va_range){ start, len };
}

int npu_swcore_alloc(struct npu_swcore *c, uint64_t size, uint64_t *addr, void **host)
{
	uint64_t span, start = 0;
	size_t i;
	void *p;
	int err = NPU_OK;

	if (size == 0)
		return NPU_E_INVAL;
	if (size > NPU_VA_SIZE)
		return NPU_E_NOSPC;
	/* The MMU maps whole pages, as the kernel driver's does. */
	span = (size + VA_ALIGN - 1) & ~(VA_ALIGN - 1);
	p = host_alloc(span);
	if (!p)
		return NPU_E_NOMEM;
	/* Adding a mapping does not disturb a running job: no run_lock. */
	pthread_mutex_lock(&c->map_lock);
	if (c->n_vmas == c->cap_vmas) {
		size_t cap = c->cap_vmas ? c->cap_vmas * 2 : 64;
		struct vma *n = realloc(c->vmas, cap * sizeof(*n));

		if (n) {
			c->vmas = n;
			c->cap_vmas = cap;
		} else {
			err = NPU_E_NOMEM;
		}
	}
	if (!err)
		err = va_take(c, span + NPU_VA_GUARD, &start);
	if (!err) {
		/* Keep the table sorted by address. */
		for (i = c->n_vmas; i > 0 && c->vmas[i - 1].start > start; i--)
			;
		memmove(&c->vmas[i + 1], &c->vmas[i], (c->n_vmas - i) * sizeof(*c->vmas));
		c->n_vmas++;
		c->vmas[i] = (struct vma){ .start = start, .size = span, .host = p,
					   .id = c->next_vma_id++ };
		*addr = start;
		*host = p;
	}
	pthread_mutex_unlock(&c->map_lock);
	if (err)
		host_release(p, span);
	return err;
}

/* Caller holds map_lock. Take the buffer at @addr out of the table (host NULL if none). */
static struct vma unmap(struct npu_swcore *c, uint64_t addr)
{
	struct vma v = { 0 };
	long i = vma_find(c, addr);

	if (i >= 0 && c->vmas[i].start == addr) {
		v = c->vmas[i];
		memmove(&c->vmas[i], &c->vmas[i + 1], (c->n_vmas - (size_t)i - 1) * sizeof(*c->vmas));
		c->n_vmas--;
		va_release(c, v.start, v.size + NPU_VA_GUARD);
	}
	return v;
}

int npu_swcore_free(struct npu_swcore *c, uint64_t addr)
{
	struct vma v;

	/* Waits for a running job, which may hold pointers into the buffer. */
	pthread_rwlock_wrlock(&c->run_lock);
	pthread_mutex_lock(&c->map_lock);
	v = unmap(c, addr);
	pthread_mutex_unlock(&c->map_lock);
	pthread_rwlock_unlock(&c->run_lock);
	host_free(c, &v);
	return v.host ? NPU_OK : NPU_E_HANDLE;
}

int npu_swcore_free_async(struct npu_swcore *c, uint64_t addr)
{
	struct vma v, *n;

	pthread_mutex_lock(&c->map_lock);
	v = unmap(c, addr);
	pthread_mutex_unlock(&c->map_lock);
	if (!v.host)
		return NPU_E_HANDLE;
	/* Later jobs fault on it now; only a running one may still hold it. */
	if (!pthread_rwlock_trywrlock(&c->run_lock)) {
		pthread_rwlock_unlock(&c->run_lock);
		host_free(c, &v);
		return NPU_OK;
	}
	pthread_mutex_lock(&c->q_lock);
	n = realloc(c->graveyard, (c->n_graveyard + 1) * sizeof(*n));
	if (n) {
		c->graveyard = n;
		c->graveyard[c->n_graveyard++] = v;
	}
	pthread_mutex_unlock(&c->q_lock);
	if (!n) {
		/* No room to defer it: wait for the job after all. */
		pthread_rwlock_wrlock(&c->run_lock);
		pthread_rwlock_unlock(&c->run_lock);
		host_free(c, &v);
	}
	return NPU_OK;
}

int npu_swcore_seal(struct npu_swcore *c, uint64_t addr)
{
	int err = NPU_E_HANDLE;
	long i;

	/* A running job may hold a pointer it writes through. */
	pthread_rwlock_wrlock(&c->run_lock);
	pthread_mutex_lock(&c->map_lock);
	i = vma_find(c, addr);
	if (i >= 0 && c->vmas[i].start == addr) {
		err = NPU_OK;
		if (!c->vmas[i].sealed && mprotect(c->vmas[i].host, c->vmas[i].size, PROT_READ))
			err = NPU_E_NOMEM;
		else
			c->vmas[i].sealed = 1;
	}
	pthread_mutex_unlock(&c->map_lock);
	pthread_rwlock_unlock(&c->run_lock);
	return err;
}

uint64_t npu_swcore_packed_bytes(struct npu_swcore *c)
{
	return __atomic_load_n(&c->packed_bytes, __ATOMIC_RELAXED);
}

void *npu_swcore_host(struct npu_swcore *c, uint64_t addr, uint64_t len)
{
	__u64 fault;

	return swcore_aspace_translate(c, addr, len, 0, &fault);
}

void swcore_aspace_release(struct npu_swcore *c)
{
	while (c->n_vmas)
		host_free(c, &c->vmas[--c->n_vmas]);
	swcore_aspace_bury(c);
	free(c->graveyard);
	free(c->holes);
	free(c->vmas);
}
