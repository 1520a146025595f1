// SPDX-License-Identifier: MIT
/*
 * The software NPU core. It boots the firmware image, keeps a device
 * address space (buffers with unmapped guard gaps between them, at
 * addresses reused as late as the space allows), and runs the firmware's
 * command processor on a worker thread, so that submit and wait behave as
 * they do on a device: asynchronous, prioritized, faulting on bad
 * addresses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "swcore.h"
#include "../../firmware/include/npu_fw.h"
#include "kernels/kernels.h"

#define VA_BASE 0x100000000ull		/* no buffer near address 0 */
#define VA_ALIGN 4096ull
#define VA_GUARD 4096ull		/* unmapped bytes after every buffer */
#define VA_END (VA_BASE + NPU_SWCORE_VA_SIZE)
#define VA_QUARANTINE 1024u		/* freed ranges held back from reuse */
#define HUGE_PAGE (2ull << 20)
#define RING NPU_SWCORE_RING

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

struct vma {
	uint64_t start, size;
	uint64_t id;		/* unique for the core's life, unlike start */
	void *host;
	int sealed;		/* read-only to the host and to jobs */
	struct packed *packed;	/* copies of weights it holds (sealed only) */
};

/* A range of device addresses: a buffer's pages and the guard after them. */
struct va_range {
	uint64_t start, len;
};

struct job {
	struct job *next;
	uint64_t seq, addr, cookie;
	uint32_t size;
};

struct job_slot {
	uint64_t seq;
	int done;
	struct npu_job_result res;
	struct npu_swcore_range *writes;
	uint32_t n_writes;
};

struct npu_swcore {
	void *image;
	struct npu_fw_tables tables;
	void *scratch;
	struct npu_kernels *kernels;
	npu_swcore_retire_fn retire;
	void *retire_ctx;

	/*
	 * The address space. run_lock is held for reading while a job runs
	 * and for writing to unmap, so pointers a job holds stay valid;
	 * map_lock guards the table itself, briefly.
	 */
	pthread_rwlock_t run_lock;
	pthread_mutex_t map_lock;
	struct vma *vmas;
	size_t n_vmas, cap_vmas;
	uint64_t next_vma_id;
	/*
	 * Free addresses (map_lock). Fresh ones come first: [va_next, VA_END).
	 * A freed range waits in the quarantine (a ring, oldest first) until
	 * VA_QUARANTINE later frees, then joins the holes (sorted, merged),
	 * which serve once the fresh space is spent; when nothing else fits,
	 * the quarantine gives up its oldest ranges. So a stale address
	 * faults for as long as the space allows, and a space with nothing
	 * live always has room.
	 */
	uint64_t va_next;
	struct va_range *holes;
	size_t n_holes, cap_holes;
	struct va_range quarantine[VA_QUARANTINE];
	uint32_t q_first, q_count;

	/* The running job's writes (worker thread only), when tracked. */
	int track_writes;
	int writes_failed;
	struct npu_swcore_range *writes;
	uint32_t n_writes, cap_writes;

	pthread_mutex_t q_lock;
	pthread_cond_t q_cond;		/* work queued, or stop */
	pthread_cond_t done_cond;	/* a job finished */
	struct job *head[3], *tail[3];
	uint64_t next_seq;
	uint32_t in_flight;
	struct job_slot ring[RING];
	int stop;
	int cancel;		/* destroy without running what is queued */
	struct vma *graveyard;	/* unmapped while a job ran: freed after it */
	size_t n_graveyard;
	uint64_t packed_bytes;	/* every vma's packed copies */
	pthread_t worker;
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

static void note_write(struct npu_swcore *c, uint64_t addr, uint64_t len)
{
	if (c->n_writes == c->cap_writes) {
		uint32_t cap = c->cap_writes ? c->cap_writes * 2 : 64;
		struct npu_swcore_range *n = realloc(c->writes, cap * sizeof(*n));

		if (!n) {
			c->writes_failed = 1;
			return;
		}
		c->writes = n;
		c->cap_writes = cap;
	}
	c->writes[c->n_writes].addr = addr;
	c->writes[c->n_writes].len = len;
	c->n_writes++;
}

/* The core's MMU: a range must lie inside one buffer. */
static void *translate(void *ctx, __u64 addr, __u64 len, int write, __u64 *fault_addr)
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
			note_write(c, addr, len);
	}
	pthread_mutex_unlock(&c->map_lock);
	return p;
}

static int range_cmp(const void *a, const void *b)
{
	const struct npu_swcore_range *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The running job's writes, sorted and merged, as the slot's own list. */
static void take_writes(struct npu_swcore *c, struct job_slot *slot)
{
	uint32_t i, n = 0;

	free(slot->writes);
	slot->writes = NULL;
	slot->n_writes = 0;
	if (!c->n_writes)
		return;
	qsort(c->writes, c->n_writes, sizeof(*c->writes), range_cmp);
	for (i = 1; i < c->n_writes; i++) {
		struct npu_swcore_range *last = &c->writes[n];
		uint64_t end = c->writes[i].addr + c->writes[i].len;

		if (c->writes[i].addr <= last->addr + last->len) {
			if (end > last->addr + last->len)
				last->len = end - last->addr;
		} else {
			c->writes[++n] = c->writes[i];
		}
	}
	n++;
	slot->writes = malloc(n * sizeof(*slot->writes));
	if (slot->writes) {
		memcpy(slot->writes, c->writes, n * sizeof(*slot->writes));
		slot->n_writes = n;
	} else {
		c->writes_failed = 1;
	}
	c->n_writes = 0;
}

static struct job *pop(struct npu_swcore *c)
{
	int p;

	for (p = NPU_PRIO_HIGH; p >= 0; p--) {
		struct job *j = c->head[p];

		if (j) {
			c->head[p] = j->next;
			if (!c->head[p])
				c->tail[p] = NULL;
			return j;
		}
	}
	return NULL;
}

/* Polled by the firmware between ops and inside long ones: a cancelled core stops its job. */
static int cancelled(void *ctx)
{
	struct npu_swcore *c = ctx;

	return __atomic_load_n(&c->cancel, __ATOMIC_RELAXED);
}

/* The core's clock for stream profiles. */
static __u64 clock_ns(void *unused)
{
	(void)unused;
	return (__u64)npu_now_ns();
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

/* Caller holds q_lock, and no job runs: free what free_async deferred. */
static void bury(struct npu_swcore *c)
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
static void *packed_store(void *ctx, const struct npu_fw_matmul *mm, uint64_t bytes, int *fresh)
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

static void *worker(void *arg)
{
	struct npu_swcore *c = arg;
	struct npu_fw_core core = {
		.tables = &c->tables,
		.mem = { translate, c },
		.scratch = c->scratch,
		.scratch_size = NPU_FW_SCRATCH_SIZE,
		.clock_ns = clock_ns,
		.should_stop = cancelled,
		.stop_ctx = c,
	};

	npu_kernels_hooks(c->kernels, &core);
	for (;;) {
		struct npu_fw_result r;
		struct job_slot *slot;
		struct job *j;

		pthread_mutex_lock(&c->q_lock);
		while (!(j = pop(c)) && !c->stop)
			pthread_cond_wait(&c->q_cond, &c->q_lock);
		pthread_mutex_unlock(&c->q_lock);
		if (!j)
			return NULL;

		pthread_rwlock_rdlock(&c->run_lock);
		c->writes_failed = 0;
		if (cancelled(c)) {
			memset(&r, 0, sizeof(r));
			r.status = NPU_JOB_CANCELLED;
		} else {
			npu_fw_exec(&core, j->addr, j->size, &r);
		}
		pthread_rwlock_unlock(&c->run_lock);
		if (c->retire)
			c->retire(c->retire_ctx, j->cookie);

		pthread_mutex_lock(&c->q_lock);
		bury(c);
		slot = &c->ring[j->seq % RING];
		take_writes(c, slot);
		slot->res.status = r.status;
		slot->res.op_index = r.op_index;
		slot->res.fault_addr = r.fault_addr;
		/* Without the list of what it wrote, a tracked job's result is lost. */
		if (c->writes_failed && r.status == NPU_JOB_OK)
			slot->res.status = NPU_JOB_CANCELLED;
		slot->done = 1;
		c->in_flight--;
		pthread_cond_broadcast(&c->done_cond);
		pthread_mutex_unlock(&c->q_lock);
		free(j);
	}
}

static void release(struct npu_swcore *c)
{
	uint32_t i;

	for (i = 0; i < RING; i++)
		free(c->ring[i].writes);
	free(c->writes);
	npu_kernels_destroy(c->kernels);
	free(c->scratch);
	free(c->image);
	free(c);
}

int npu_swcore_create(int track_writes, npu_swcore_retire_fn retire, void *ctx,
		      struct npu_swcore **out)
{
	struct npu_swcore *c = calloc(1, sizeof(*c));
	pthread_condattr_t attr;
	size_t size;
	int err, isa;

	if (!c)
		return NPU_E_NOMEM;
	err = npu_firmware_load(&c->image, &size);
	if (!err && npu_fw_image_verify(c->image, size, &c->tables) != NPU_FW_IMAGE_OK)
		err = NPU_E_FIRMWARE;
	/* $NPU_CPU_ISA lowers the kernels' level; a name it does not know is refused. */
	isa = npu_isa_select(getenv("NPU_CPU_ISA"));
	if (!err && isa < 0)
		err = NPU_E_INVAL;
	if (!err) {
		c->scratch = aligned_alloc(64, NPU_FW_SCRATCH_SIZE);
		c->kernels = npu_kernels_create(isa);
		if (!c->scratch || !c->kernels)
			err = NPU_E_NOMEM;
		else
			npu_kernels_set_store(c->kernels, packed_store, c);
	}
	if (err) {
		release(c);
		return err;
	}
	c->track_writes = track_writes;
	c->retire = retire;
	c->retire_ctx = ctx;
	c->va_next = VA_BASE;
	c->next_seq = 1;
	pthread_rwlock_init(&c->run_lock, NULL);
	pthread_mutex_init(&c->map_lock, NULL);
	pthread_mutex_init(&c->q_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->q_cond, NULL);
	pthread_cond_init(&c->done_cond, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&c->worker, NULL, worker, c)) {
		release(c);
		return NPU_E_NOMEM;
	}
	*out = c;
	return NPU_OK;
}

void npu_swcore_destroy(struct npu_swcore *c, int cancel)
{
	/* Queued jobs still run (or end CANCELLED): stop is seen only when the queue is empty. */
	pthread_mutex_lock(&c->q_lock);
	__atomic_store_n(&c->cancel, cancel, __ATOMIC_RELAXED);
	c->stop = 1;
	pthread_cond_broadcast(&c->q_cond);
	pthread_mutex_unlock(&c->q_lock);
	pthread_join(c->worker, NULL);
	/* No job runs any more: release every buffer still mapped, and the dead. */
	while (c->n_vmas)
		host_free(c, &c->vmas[--c->n_vmas]);
	bury(c);
	free(c->graveyard);
	free(c->holes);
	pthread_rwlock_destroy(&c->run_lock);
	pthread_mutex_destroy(&c->map_lock);
	pthread_mutex_destroy(&c->q_lock);
	pthread_cond_destroy(&c->q_cond);
	pthread_cond_destroy(&c->done_cond);
	free(c->vmas);
	release(c);
}

void npu_swcore_query(const struct npu_swcore *c, struct npu_info *info)
{
	snprintf(info->name, sizeof(info->name), "software NPU core, matmul %s x%d threads",
		 npu_isa_name(npu_kernels_isa(c->kernels)), npu_kernels_threads(c->kernels));
	info->abi_major = DRM_NPU_ABI_MAJOR;
	info->abi_minor = DRM_NPU_ABI_MINOR;
	info->fw_abi_major = c->tables.abi_major;
	info->fw_abi_minor = c->tables.abi_minor;
	strncpy(info->fw_build_id, c->tables.build_id, sizeof(info->fw_build_id) - 1);
	info->op_mask = c->tables.op_mask;
	info->n_cores = 1;
	info->n_priorities = 3;
	info->va_size = NPU_SWCORE_VA_SIZE;
	info->scratch_size = NPU_FW_SCRATCH_SIZE;
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

/* Caller holds map_lock. Free addresses for @len bytes, in the order of the policy above. */
static int va_take(struct npu_swcore *c, uint64_t len, uint64_t *addr)
{
	/* What can never fit leaves the quarantine alone. */
	if (len > VA_END - VA_BASE)
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
	if (size > NPU_SWCORE_VA_SIZE)
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
		err = va_take(c, span + VA_GUARD, &start);
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
		va_release(c, v.start, v.size + VA_GUARD);
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

	return translate(c, addr, len, 0, &fault);
}

int npu_swcore_submit(struct npu_swcore *c, uint64_t addr, uint32_t size, int prio,
		      uint64_t cookie, uint64_t *seq)
{
	struct job *j = calloc(1, sizeof(*j));
	struct job_slot *slot;

	if (!j)
		return NPU_E_NOMEM;
	if (prio < 0 || prio > NPU_PRIO_HIGH) {
		free(j);
		return NPU_E_INVAL;
	}
	j->addr = addr;
	j->size = size;
	j->cookie = cookie;
	pthread_mutex_lock(&c->q_lock);
	slot = &c->ring[c->next_seq % RING];
	if (c->in_flight == RING || (slot->seq && !slot->done)) {
		pthread_mutex_unlock(&c->q_lock);
		free(j);
		return NPU_E_NOSPC;
	}
	j->seq = c->next_seq++;
	slot->seq = j->seq;
	slot->done = 0;
	c->in_flight++;
	if (c->tail[prio])
		c->tail[prio]->next = j;
	else
		c->head[prio] = j;
	c->tail[prio] = j;
	*seq = j->seq;
	pthread_cond_signal(&c->q_cond);
	pthread_mutex_unlock(&c->q_lock);
	return NPU_OK;
}

static void copy_writes(const struct job_slot *slot, struct npu_swcore_range *w, uint32_t max,
			uint32_t *n)
{
	uint32_t i, k = slot->n_writes;

	if (!n)
		return;
	if (k > max && max) {
		const struct npu_swcore_range *last = &slot->writes[k - 1];

		memcpy(w, slot->writes, (max - 1) * sizeof(*w));
		w[max - 1].addr = slot->writes[max - 1].addr;
		w[max - 1].len = last->addr + last->len - w[max - 1].addr;
		*n = max;
		return;
	}
	for (i = 0; i < k && i < max; i++)
		w[i] = slot->writes[i];
	*n = i;
}

int npu_swcore_wait(struct npu_swcore *c, uint64_t seq, int64_t timeout_ns,
		    struct npu_job_result *res, struct npu_swcore_range *writes,
		    uint32_t max_writes, uint32_t *n_writes)
{
	struct job_slot *slot = &c->ring[seq % RING];
	struct timespec deadline;
	int err = NPU_OK;

	if (timeout_ns > 0) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += timeout_ns / 1000000000;
		deadline.tv_nsec += timeout_ns % 1000000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
	}
	pthread_mutex_lock(&c->q_lock);
	if (seq == 0 || seq >= c->next_seq) {
		err = NPU_E_INVAL;
	} else if (slot->seq != seq) {
		err = NPU_E_EXPIRED;
	} else {
		while (!slot->done && slot->seq == seq) {
			if (timeout_ns == 0) {
				err = NPU_E_TIMEOUT;
				break;
			}
			if (timeout_ns < 0) {
				pthread_cond_wait(&c->done_cond, &c->q_lock);
			} else if (pthread_cond_timedwait(&c->done_cond, &c->q_lock, &deadline) ==
				   ETIMEDOUT) {
				err = slot->done ? NPU_OK : NPU_E_TIMEOUT;
				break;
			}
		}
		if (!err) {
			*res = slot->res;
			copy_writes(slot, writes, max_writes, n_writes);
		}
	}
	pthread_mutex_unlock(&c->q_lock);
	return err;
}
