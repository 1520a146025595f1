// SPDX-License-Identifier: MIT
/*
 * One NPU core: a thread that sleeps on its doorbell, fetches ring entries
 * from guest memory, runs each stream with the firmware and the software
 * core's kernels inside the entry's context, writes the completion record
 * and raises the core's MSI-X vector. A reset (device.c) stops the running
 * stream at the firmware's next poll; the records of a reset generation
 * that has passed are never written.
 */
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devd.h"

struct entry {
	uint64_t tag, stream_addr;
	uint32_t stream_size, slot, inject;
};

static uint64_t le64_at(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t le32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void core_field(struct devd_core *c, uint32_t field, uint32_t v)
{
	win_write(c->d, NPU_PCI_CORE(c->index) + field, v);
}

static int should_stop(void *arg)
{
	struct devd_core *c = arg;

	return __atomic_load_n(&c->abort, __ATOMIC_RELAXED);
}

static __u64 clock_ns(void *unused)
{
	struct timespec ts;

	(void)unused;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000 + (__u64)ts.tv_nsec;
}

/*
 * The kernels take a block of rows per call (as many as scratch holds:
 * seconds of work for the ABI's largest rows), and the firmware polls for
 * a stop only between calls. So the device cuts each call into slices of
 * about devd.slice_work multiply-adds and looks for a stop between them: a
 * reset stops a core within a slice (docs/hw.md §15, invariant 7). A call
 * that sees the stop declines; the firmware's own loop then stops at its
 * first poll. The core each thread is:
 */
static __thread struct devd_core *this_core;

/* Rows [@r, @r + @n) of @call, through the kernels' hook: 0, or it declined. */
typedef int (*slice_fn)(struct devd_core *c, void *kernels, const void *call, uint32_t r,
			uint32_t n);

/*
 * @call's @rows rows of @per_row multiply-adds each, a slice at a time,
 * with a look for a stop between slices: 0, or nonzero when a stop came
 * or the hook declined (the firmware's own loop then decides).
 */
static int in_slices(void *kernels, const void *call, uint64_t per_row, uint32_t rows,
		     slice_fn run)
{
	struct devd_core *c = this_core;
	uint64_t work = c->d->slice_work;
	uint64_t step = per_row >= work ? 1 : work / (per_row ? per_row : 1);
	uint32_t r;

	for (r = 0; r < rows; r += step) {
		if (r && should_stop(c))
			return 1;
		if (run(c, kernels, call, r, rows - r < step ? rows - r : (uint32_t)step))
			return 1;
	}
	return 0;
}

static int matmul_slice(struct devd_core *c, void *kernels, const void *call, uint32_t r,
			uint32_t n)
{
	const struct npu_fw_matmul *mm = call;
	struct npu_fw_matmul part = *mm;

	part.x = (const uint8_t *)mm->x + (uint64_t)r * mm->x_stride;
	part.rows = n;
	part.v = mm->v + (uint64_t)r * mm->n;
	return c->kernel_hooks->matmul(kernels, &part);
}

static int sliced_matmul(void *kernels, const struct npu_fw_matmul *mm)
{
	return in_slices(kernels, mm, (uint64_t)mm->k * mm->n, mm->rows, matmul_slice);
}

static int matmul_block_slice(struct devd_core *c, void *kernels, const void *call, uint32_t r,
			      uint32_t n)
{
	const struct npu_fw_matmul_block *mb = call;
	struct npu_fw_matmul_block part = *mb;
	uint32_t groups = mb->group_size ? mb->k / mb->group_size : 0;

	part.xr = mb->xr + (uint64_t)r * mb->k;
	if (mb->xs)
		part.xs = mb->xs + (uint64_t)r * groups;
	part.rows = n;
	part.acc = mb->acc + (uint64_t)r * mb->n;
	return c->kernel_hooks->matmul_block(kernels, &part);
}

static int sliced_matmul_block(void *kernels, const struct npu_fw_matmul_block *mb)
{
	return in_slices(kernels, mb, (uint64_t)mb->k * mb->n, mb->rows, matmul_block_slice);
}

/*
 * ATTENTION's sums sliced by cache rows: each score is its row's own, and
 * the weighted values are integer sums, so adding the slices' sums gives
 * the unsliced call's bits. The hook zeroes the sums it makes, so every
 * slice after the first makes them in the core's part_acc, then adds them.
 */
static int attention_slice(struct devd_core *c, void *kernels, const void *call, uint32_t j,
			   uint32_t n)
{
	const struct npu_fw_attention *a = call;
	struct npu_fw_attention part = *a;
	uint64_t width = (uint64_t)a->n_heads * a->head_dim, i;

	part.len = n;
	part.k = a->k ? a->k + j * a->k_stride : NULL;
	part.v = a->v ? a->v + j * a->v_stride : NULL;
	part.t = a->t + j;
	if (!j || a->step != NPU_FW_ATTN_VALUES)
		return c->kernel_hooks->attention(kernels, &part);
	if (width > c->part_acc_len) {
		__s64 *more = realloc(c->part_acc, width * sizeof(*more));

		if (!more)
			return 1;
		c->part_acc = more;
		c->part_acc_len = width;
	}
	part.acc = c->part_acc;
	if (c->kernel_hooks->attention(kernels, &part))
		return 1;
	for (i = 0; i < width; i++)
		a->acc[i] += part.acc[i];
	return 0;
}

static int sliced_attention(void *kernels, const struct npu_fw_attention *a)
{
	return in_slices(kernels, a, (uint64_t)a->n_heads * a->head_dim, a->len, attention_slice);
}

/* The kernels' hooks, their matmuls and attention sliced. */
static void slice_hooks(struct devd_core *c)
{
	struct npu_fw_core probe = { 0 };

	npu_kernels_hooks(c->kernels, &probe);
	c->kernel_hooks = probe.hooks;
	if (!probe.hooks)
		return;
	c->hooks = *probe.hooks;
	if (probe.hooks->matmul)
		c->hooks.matmul = sliced_matmul;
	if (probe.hooks->matmul_block)
		c->hooks.matmul_block = sliced_matmul_block;
	if (probe.hooks->attention)
		c->hooks.attention = sliced_attention;
}

static void *translate(void *arg, __u64 addr, __u64 len, int write, __u64 *fault_addr)
{
	struct devd_core *c = arg;
	struct devd *d = c->d;
	uint32_t at = NPU_PCI_CTX(c->slot);
	uint64_t root = (uint64_t)win_read(d, at + NPU_PCI_CTX_TABLE_HI) << 32 |
			win_read(d, at + NPU_PCI_CTX_TABLE_LO);

	return shadow_translate(&c->sh, &d->ram, root, addr, len, write, (uint64_t *)fault_addr);
}

/* Take the next entry, under d->lock; 0 when there is none. */
static int fetch(struct devd_core *c, struct entry *e, uint32_t *gen)
{
	struct devd *d = c->d;
	uint32_t tail = win_read(d, NPU_PCI_CORE(c->index) + NPU_PCI_RING_TAIL);
	const uint8_t *p;

	if (!d->booted || tail == c->head)
		return 0;
	/* A driver that wrote more than the ring holds loses what it wrote. */
	if (tail - c->head > NPU_PCI_RING_SIZE) {
		devd_log(d, "core %u: ring tail %u is %u entries past head %u: dropped\n",
			 c->index, tail, tail - c->head, c->head);
		c->head = tail;
		core_field(c, NPU_PCI_RING_HEAD, c->head);
		return 0;
	}
	p = guest_ptr(&d->ram, c->ring_base + (c->head % NPU_PCI_RING_SIZE) * NPU_PCI_ENTRY_SIZE,
		      NPU_PCI_ENTRY_SIZE);
	c->head++;
	core_field(c, NPU_PCI_RING_HEAD, c->head);
	if (!p) {
		devd_log(d, "core %u: ring outside guest memory: entry dropped\n", c->index);
		return 0;
	}
	e->tag = le64_at(p);
	e->stream_addr = le64_at(p + 8);
	e->stream_size = le32_at(p + 16);
	e->slot = le32_at(p + 20);
	e->inject = le32_at(p + 24);
	*gen = c->reset_gen;
	c->busy = 1;
	core_field(c, NPU_PCI_CORE_STATE, NPU_PCI_CORE_RUNNING);
	return 1;
}

/* Run @e in its context once the slot is not locked; the result in @r. */
static void execute(struct devd_core *c, const struct entry *e, struct npu_fw_result *r)
{
	struct devd *d = c->d;
	struct npu_fw_core fw = {
		.tables = &d->tables,
		.mem = { translate, c },
		.scratch = c->scratch,
		.scratch_size = NPU_FW_SCRATCH_SIZE,
		.should_stop = should_stop,
		.stop_ctx = c,
		.clock_ns = clock_ns,
	};
	uint32_t s = e->slot;

	memset(r, 0, sizeof(*r));
	if (s >= NPU_PCI_CTX_SLOTS || win_read(d, NPU_PCI_CTX(s) + NPU_PCI_CTX_VALID) != 1) {
		r->status = DRM_NPU_STATUS_FAULT;
		r->fault_addr = e->stream_addr;
		return;
	}
	pthread_mutex_lock(&d->lock);
	while (d->slot_locked[s] && !c->abort)
		pthread_cond_wait(&d->cond, &d->lock);
	if (c->abort) {
		pthread_mutex_unlock(&d->lock);
		r->status = DRM_NPU_STATUS_CANCELLED;
		return;
	}
	win_write(d, NPU_PCI_CTX(s) + NPU_PCI_CTX_ACTIVE, ++d->slot_active[s]);
	pthread_mutex_unlock(&d->lock);

	/*
	 * Another context, or a table changed since: the window needs no
	 * flush, each translation checks every page against the table.
	 */
	c->slot = s;
	shadow_trim(&c->sh);
	if (c->kernel_hooks) {
		fw.hooks = &c->hooks;
		fw.hook_ctx = c->kernels;
	}
	npu_fw_exec(&fw, e->stream_addr, e->stream_size, r);
	if (c->sh.map_failed) {
		devd_log(d, "core %u: out of memory maps for the job's pages (its window took %llu): it faulted; raise vm.max_map_count\n",
			 c->index, (unsigned long long)c->sh.maps);
		c->sh.map_failed = 0;
	}

	pthread_mutex_lock(&d->lock);
	win_write(d, NPU_PCI_CTX(s) + NPU_PCI_CTX_ACTIVE, --d->slot_active[s]);
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/* Until a reset: the core stops answering (DBG_INJECT's hang). */
static void hang(struct devd_core *c)
{
	struct devd *d = c->d;

	pthread_mutex_lock(&d->lock);
	core_field(c, NPU_PCI_CORE_STATE, NPU_PCI_CORE_HUNG);
	while (!c->abort && !d->stopping)
		pthread_cond_wait(&d->cond, &d->lock);
	pthread_mutex_unlock(&d->lock);
}

static void put_record(uint8_t *p, uint64_t tag, const struct npu_fw_result *r, uint32_t gen,
		       uint32_t busy_us)
{
	memcpy(p, &tag, 8);
	memcpy(p + 8, &r->status, 4);
	memcpy(p + 12, &r->op_index, 4);
	memcpy(p + 16, &r->fault_addr, 8);
	memcpy(p + 24, &gen, 4);
	memcpy(p + 28, &busy_us, 4);
}

/*
 * Write @e's record unless a reset came in between; under d->lock. A
 * testing mode (NPU_PCI_CMD_MISBEHAVE) spoils it first. Returns 1 when the
 * vector is to be raised.
 */
static int complete(struct devd_core *c, const struct entry *e, struct npu_fw_result *r,
		    uint32_t gen, uint64_t busy_ns)
{
	struct devd *d = c->d;
	uint32_t cq_head = win_read(d, NPU_PCI_CORE(c->index) + NPU_PCI_CQ_HEAD);
	uint64_t tag = e->tag;
	uint8_t *p;

	/* A reset since the fetch, or the device's end: the job left no trace. */
	if (gen != c->reset_gen || d->stopping)
		return 0;
	if (c->cq_tail - cq_head >= NPU_PCI_RING_SIZE) {
		devd_log(d, "core %u: completion queue full (head %u, tail %u): record lost\n",
			 c->index, cq_head, c->cq_tail);
		return 0;
	}
	p = guest_ptr(&d->ram, c->cq_base + (c->cq_tail % NPU_PCI_RING_SIZE) * NPU_PCI_ENTRY_SIZE,
		      NPU_PCI_ENTRY_SIZE);
	if (!p) {
		devd_log(d, "core %u: completion queue outside guest memory\n", c->index);
		return 0;
	}
	if (c->misbehave_count > 0) {
		c->misbehave_count--;
		if (c->misbehave == NPU_PCI_BAD_TAG)
			tag ^= 0x5a5a000000000000ull;
		else if (c->misbehave == NPU_PCI_BAD_GEN)
			gen += 7;
		else if (c->misbehave == NPU_PCI_BAD_STATUS)
			r->status = 0xbad;
	}
	put_record(p, tag, r, gen, busy_ns / 1000 > UINT32_MAX ? UINT32_MAX :
		   (uint32_t)(busy_ns / 1000));
	c->cq_tail++;
	/* A release store: the record is in memory before the index that publishes it. */
	core_field(c, NPU_PCI_CQ_TAIL, c->cq_tail);
	return 1;
}

void core_reset_locked(struct devd_core *c)
{
	struct devd *d = c->d;

	c->reset_gen++;
	core_field(c, NPU_PCI_CORE_RESET_GEN, c->reset_gen);
	c->head = win_read(d, NPU_PCI_CORE(c->index) + NPU_PCI_RING_TAIL);
	core_field(c, NPU_PCI_RING_HEAD, c->head);
	__atomic_store_n(&c->abort, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&d->cond);
	while (c->busy)
		pthread_cond_wait(&d->cond, &d->lock);
	__atomic_store_n(&c->abort, 0, __ATOMIC_RELAXED);
	c->misbehave_count = 0;
}

/*
 * Sleep until the doorbell rings (1) or the device stops (0). First, for
 * devd.poll_ns, watch the ring's tail as a core that never powers down
 * would: a decode step's next job follows within a few hundred us, and
 * catching it here saves the host's wakeup (the doorbell that follows is
 * then a spurious wake, and harmless). The loop yields, so a host CPU
 * that QEMU needs is given up.
 */
static int wait_doorbell(struct devd_core *c)
{
	struct pollfd pfd[2] = {
		{ .fd = c->d->doorbell[c->index], .events = POLLIN },
		{ .fd = c->d->stop_fd, .events = POLLIN },
	};
	uint32_t tail = NPU_PCI_CORE(c->index) + NPU_PCI_RING_TAIL;
	uint32_t since = win_read(c->d, tail);
	uint64_t n, end = clock_ns(NULL) + c->d->poll_ns;

	while (clock_ns(NULL) < end) {
		if (win_read(c->d, tail) != since)
			return 1;
		sched_yield();
	}
	while (poll(pfd, 2, -1) < 0)
		;
	if (pfd[1].revents)
		return 0;
	if (read(pfd[0].fd, &n, sizeof(n)) < 0)
		return 1;
	return 1;
}

void *core_thread(void *arg)
{
	struct devd_core *c = arg;
	struct devd *d = c->d;

	this_core = c;
	slice_hooks(c);
	while (wait_doorbell(c)) {
		for (;;) {
			struct npu_fw_result r;
			struct entry e;
			uint64_t start;
			uint32_t gen;
			int raise;

			pthread_mutex_lock(&d->lock);
			if (d->stopping || !fetch(c, &e, &gen)) {
				pthread_mutex_unlock(&d->lock);
				break;
			}
			pthread_mutex_unlock(&d->lock);

			memset(&r, 0, sizeof(r));
			start = clock_ns(NULL);
			switch (e.inject) {
			case NPU_PCI_INJECT_HANG:
				hang(c);
				break;
			case NPU_PCI_INJECT_FAIL:
				r.status = DRM_NPU_STATUS_BAD_OPCODE;
				break;
			case NPU_PCI_INJECT_FAULT:
				r.status = DRM_NPU_STATUS_FAULT;
				r.fault_addr = e.stream_addr;
				break;
			default:
				execute(c, &e, &r);
				break;
			}

			pthread_mutex_lock(&d->lock);
			c->busy = 0;
			core_field(c, NPU_PCI_CORE_STATE, NPU_PCI_CORE_IDLE);
			raise = complete(c, &e, &r, gen, clock_ns(NULL) - start);
			pthread_cond_broadcast(&d->cond);
			pthread_mutex_unlock(&d->lock);
			if (raise)
				raise_irq(d, c->index);
		}
	}
	return NULL;
}
