// SPDX-License-Identifier: MIT
/*
 * The software core's answers to the firmware's hooks (MATMUL, the output
 * stage, ATTENTION's sums and rescaling, the element-wise loops) at the
 * instruction-set level the caller chose (npu_isa_select); for MATMUL,
 * prepare the activations once and hand the output columns out in chunks
 * to a persistent pool of threads (the calling thread is one of them);
 * ATTENTION's sums over a long cache likewise by rows, its rescaling and
 * softmax by heads, and a long row's SILU by elements; and pack sealed
 * int4 weights for decode, once per matrix, into room the software core
 * keeps with their buffer.
 * Nothing else is allocated per call once the preparation and
 * partial-sum buffers have grown to the largest shape seen.
 */
#define _GNU_SOURCE	/* sched_getaffinity */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "kernels.h"

#define MAX_THREADS 64
/* Below this many output columns, one thread: waking others costs more. */
#define MIN_COLUMNS_PER_THREAD 16

struct worker {
	struct npu_kernels *k;
	int index;
	pthread_t thread;
};

struct npu_kernels {
	enum npu_isa isa;
	const struct npu_level *lvl;	/* NULL at the scalar level */
	struct npu_fw_hooks hooks;	/* lvl's answers */
	int n_threads;	/* the caller's thread and the workers started */
	struct worker workers[MAX_THREADS];
	pthread_mutex_t lock;
	pthread_cond_t go, done;
	unsigned long generation;
	/* Workers that joined the call (JOIN_CLOSED once closed to them), and that finished it. */
	int joined, finished;
	int stop, active;
	/* The call being worked on: share(k, thread index) takes its parts. */
	void (*share)(struct npu_kernels *k, int index);
	union {
		const struct npu_fw_matmul *mm;
		const struct npu_fw_matmul_block *mb;
		const struct npu_fw_attention *att;
		const struct npu_fw_silu *silu;
		const struct npu_fw_rescale *rescale;
		const struct npu_fw_softmax *softmax;
	};
	int refused;		/* a SILU or SCALE_BLOCK part left the call to the firmware */
	uint32_t next, chunk;	/* the next column (row) to hand out; per chunk */
	struct npu_mm_prep prep;
	/* A GEMM's last rows, when the per-row kernels take them (mm then its other rows). */
	struct npu_fw_matmul head, tail;
	struct npu_mm_prep prep_tail;
	int has_tail;
	uint8_t *buf;
	size_t buf_size;
	/* Where sealed weights are kept packed, and the call packing them. */
	npu_packed_store_fn store;
	void *store_ctx;
	const struct npu_fw_matmul *pack_mm;
	uint8_t *pack_dst;
	void *blk;		/* SCALE_BLOCK: the activations as int16, or npu_mmb_prep's */
	size_t blk_size;
	const int16_t *x16;	/* in blk: the activations as int16, for the general kernel */
	struct npu_mmb_prep mmb;
	__s64 *partial;		/* VALUES: each worker's sums, [n_threads - 1][n_heads * head_dim] */
	size_t partial_size;
};

/* The next chunk [*b, *e) of [0, @total) for this thread; 0 when none is left. */
static int take(struct npu_kernels *k, uint32_t total, uint32_t *b, uint32_t *e)
{
	*b = __atomic_fetch_add(&k->next, k->chunk, __ATOMIC_RELAXED);
	if (*b >= total)
		return 0;
	*e = total - *b < k->chunk ? total : *b + k->chunk;
	return 1;
}

/*
 * Columns go out in chunks, about eight per thread, to whichever thread
 * is free: a thread slowed by its core (a busy neighbour on a shared
 * host) or by its share of memory takes fewer, rather than the rest
 * waiting for it.
 */
static void matmul_share(struct npu_kernels *k, int index NPU_UNUSED)
{
	const struct npu_fw_matmul *mm = k->mm;
	uint32_t n0, n1;

	while (take(k, mm->n, &n0, &n1)) {
		k->lvl->mm(mm, &k->prep, n0, n1);
		/* The same columns' weights again, still in this core's cache. */
		if (k->has_tail)
			k->lvl->mm(&k->tail, &k->prep_tail, n0, n1);
	}
}

/* SCALE_BLOCK columns in chunks; a binary16 infinity or NaN leaves the call to the firmware. */
static void block_share(struct npu_kernels *k, int index)
{
	uint32_t n0, n1;
	int st;

	/* Once one column refuses, the firmware computes them all: stop. */
	while (!__atomic_load_n(&k->refused, __ATOMIC_RELAXED) && take(k, k->mb->n, &n0, &n1)) {
		st = k->mmb.scratch ? k->lvl->mm_block_g1(k->mb, &k->mmb, index, n0, n1) :
				      k->lvl->mm_block(k->mb, k->x16, n0, n1);
		if (st) {
			__atomic_store_n(&k->refused, 1, __ATOMIC_RELAXED);
			return;
		}
	}
}

/* Packing sealed weights, a chunk of tiles at a time. */
static void pack_share(struct npu_kernels *k, int index NPU_UNUSED)
{
	uint32_t t0, t1;

	while (take(k, (k->pack_mm->n + NPU_MM_TILE - 1) / NPU_MM_TILE, &t0, &t1))
		k->lvl->mm_pack(k->pack_mm, k->pack_dst, t0, t1);
}

/* ATTENTION's rows in chunks; VALUES into the caller's acc or a worker's partial sums. */
static void attention_share(struct npu_kernels *k, int index)
{
	const struct npu_fw_attention *a = k->att;
	__s64 *acc = index ? k->partial + (size_t)(index - 1) * a->n_heads * a->head_dim : a->acc;
	uint32_t j0, j1;

	while (take(k, a->len, &j0, &j1))
		k->lvl->attention_rows(a, j0, j1, acc);
}

/* SILU's elements in chunks; any part refused leaves the whole row to the firmware. */
static void silu_share(struct npu_kernels *k, int index NPU_UNUSED)
{
	const struct npu_fw_silu *s = k->silu;
	uint32_t i0, i1;

	while (take(k, s->n, &i0, &i1)) {
		struct npu_fw_silu part = *s;

		part.x += i0;
		part.v += i0;
		part.n = i1 - i0;
		if (k->lvl->silu(NULL, &part))
			__atomic_store_n(&k->refused, 1, __ATOMIC_RELAXED);
	}
}

/* ATTENTION's rescaling in chunks of heads. */
static void rescale_share(struct npu_kernels *k, int index NPU_UNUSED)
{
	uint32_t h0, h1;

	while (take(k, k->rescale->n_heads, &h0, &h1))
		k->lvl->rescale_rows(k->rescale, h0, h1);
}

/* The softmax in chunks of rows. */
static void softmax_share(struct npu_kernels *k, int index NPU_UNUSED)
{
	uint32_t r0, r1;

	while (take(k, k->softmax->rows, &r0, &r1))
		k->lvl->softmax_rows(k->softmax, r0, r1);
}

/*
 * A decode step is a few hundred small matmuls: sleeping and waking for
 * each costs more than the work. Waiters spin this long before sleeping.
 */
#define SPIN_ITERATIONS 200000

/* A spinning thread's hint to the core: its sibling thread, or power, may have it. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

static int changed(const unsigned long *v, unsigned long old)
{
	return __atomic_load_n(v, __ATOMIC_ACQUIRE) != old;
}

/* A worker that has not joined a call by the time its caller is done with it stays out of it. */
#define JOIN_CLOSED (-(1 << 30))

/*
 * Calls a worker sleeps through rather than spins, once its core was
 * taken from it twice within SHARED_GAP calls: on a core shared with a
 * busy thread, spinning spends the worker's share of the core, and the
 * scheduler then takes the core away in the middle of a chunk, which the
 * caller waits for. A sleeping worker wakes to each call ahead of the busy
 * thread, and mostly finishes it. One preemption now and then (a quiet
 * host's daemons) is not worth the wake-ups.
 */
#define SHARED_CALLS 1024
#define SHARED_GAP 64

/* This thread's involuntary context switches so far. */
static long preempted(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) ? 0 : ru.ru_nivcsw;
}

static void *pool_thread(void *arg)
{
	struct worker *w = arg;
	struct npu_kernels *k = w->k;
	unsigned long seen = 0;
	long switches = preempted(), now;
	int spin, shared = 0, since = SHARED_GAP;

	for (;;) {
		/* Between calls, off the caller's path. */
		now = preempted();
		shared = shared ? shared - 1 : 0;
		if (now != switches && since < SHARED_GAP)
			shared = SHARED_CALLS;
		since = now != switches ? 0 : since + 1;
		switches = now;
		for (spin = 0; !shared && spin < SPIN_ITERATIONS && !changed(&k->generation, seen) &&
		     !__atomic_load_n(&k->stop, __ATOMIC_ACQUIRE); spin++)
			cpu_relax();
		pthread_mutex_lock(&k->lock);
		while (k->generation == seen && !k->stop)
			pthread_cond_wait(&k->go, &k->lock);
		if (k->stop)
			break;
		seen = k->generation;
		pthread_mutex_unlock(&k->lock);
		/*
		 * Joining may land in a later call than the one seen: then that
		 * call's state is the one set up, and this worker takes its part.
		 */
		if (__atomic_fetch_add(&k->joined, 1, __ATOMIC_ACQ_REL) < 0)
			continue;
		if (w->index < k->active)
			k->share(k, w->index);
		pthread_mutex_lock(&k->lock);
		__atomic_store_n(&k->finished, k->finished + 1, __ATOMIC_RELEASE);
		pthread_cond_signal(&k->done);
		pthread_mutex_unlock(&k->lock);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

/*
 * The cores this process may run on: a container's or taskset's share of
 * the machine, not every core online (threads beyond them only wait).
 */
static long usable_cores(void)
{
	cpu_set_t set;

	if (!sched_getaffinity(0, sizeof(set), &set))
		return CPU_COUNT(&set);
	return sysconf(_SC_NPROCESSORS_ONLN);
}

struct npu_kernels *npu_kernels_create(enum npu_isa isa)
{
	struct npu_kernels *k = calloc(1, sizeof(*k));
	const char *env = getenv("NPU_THREADS");
	long n = env ? strtol(env, NULL, 10) : usable_cores();
	int want = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n, i;

	if (!k)
		return NULL;
	k->isa = isa;
	k->lvl = npu_level_of(isa);
	k->joined = JOIN_CLOSED;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->go, NULL);
	pthread_cond_init(&k->done, NULL);
	k->n_threads = 1;
	for (i = 1; i < want; i++) {
		k->workers[i].k = k;
		k->workers[i].index = i;
		if (pthread_create(&k->workers[i].thread, NULL, pool_thread, &k->workers[i]))
			break;
		k->n_threads = i + 1;
	}
	return k;
}

void npu_kernels_destroy(struct npu_kernels *k)
{
	int i;

	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	__atomic_store_n(&k->stop, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&k->go);
	pthread_mutex_unlock(&k->lock);
	for (i = 1; i < k->n_threads; i++)
		pthread_join(k->workers[i].thread, NULL);
	pthread_mutex_destroy(&k->lock);
	pthread_cond_destroy(&k->go);
	pthread_cond_destroy(&k->done);
	free(k->buf);
	free(k->blk);
	free(k->partial);
	free(k);
}

void npu_kernels_set_store(struct npu_kernels *k, npu_packed_store_fn store, void *ctx)
{
	k->store = store;
	k->store_ctx = ctx;
}

enum npu_isa npu_kernels_isa(const struct npu_kernels *k)
{
	return k->isa;
}

int npu_kernels_threads(const struct npu_kernels *k)
{
	return k->n_threads;
}

/*
 * A GEMM's last 1..TAIL_ROWS_MAX rows cost it a whole block of 16 rows;
 * the per-row kernels take them for less, right after the GEMM's chunk
 * has brought each column's weights into the cache.
 */
#define TAIL_ROWS_MAX 4

/*
 * The activations as the AVX-512 kernels take them, in a buffer kept
 * between calls; k->mm is @mm, or the rows the GEMM keeps when a tail is
 * split off (k->tail, prepared after them).
 */
static int prepare(struct npu_kernels *k, const struct npu_fw_matmul *mm)
{
	uint32_t left = mm->rows % 16;
	size_t main_bytes, need;

	k->mm = mm;
	k->has_tail = 0;
	if (!k->lvl->mm_prepare)
		return 0;
	if ((npu_mm_gemm_fits(mm) || npu_mm_gemm_unpacked_fits(mm)) && left &&
	    left <= TAIL_ROWS_MAX) {
		k->head = *mm;
		k->head.rows -= left;
		k->tail = *mm;
		k->tail.rows = left;
		k->tail.x = (const uint8_t *)mm->x + (uint64_t)k->head.rows * mm->x_stride;
		k->tail.v = mm->v + (uint64_t)k->head.rows * mm->n;
		k->mm = &k->head;
		k->has_tail = 1;
	}
	main_bytes = npu_mm_prepared(k->mm) ? (npu_mm_prep_bytes(k->mm) + 63) / 64 * 64 : 0;
	need = main_bytes +
	       (k->has_tail && npu_mm_prepared(&k->tail) ? npu_mm_prep_bytes(&k->tail) : 0);
	if (need > k->buf_size) {
		uint8_t *b = realloc(k->buf, need);

		if (!b)
			return -1;
		k->buf = b;
		k->buf_size = need;
	}
	if (npu_mm_prepared(k->mm))
		k->lvl->mm_prepare(k->mm, k->buf, &k->prep);
	if (k->has_tail && npu_mm_prepared(&k->tail))
		k->lvl->mm_prepare(&k->tail, k->buf + main_bytes, &k->prep_tail);
	return 0;
}

/*
 * @share on up to @active threads, the caller's among them, each taking
 * chunks of @chunk from a count starting at 0. A worker that has not
 * started when the caller has taken the last chunk is not waited for: on
 * a shared host its core may be away for milliseconds. Returns when
 * every worker that joined is done.
 */
static void run_pool(struct npu_kernels *k, void (*share)(struct npu_kernels *k, int index),
		     int active, uint32_t chunk)
{
	int joined, spin;

	k->share = share;
	k->next = 0;
	k->chunk = chunk;
	k->active = active;
	if (active > 1) {
		pthread_mutex_lock(&k->lock);
		k->finished = 0;
		__atomic_store_n(&k->generation, k->generation + 1, __ATOMIC_RELEASE);
		__atomic_store_n(&k->joined, 0, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&k->go);
		pthread_mutex_unlock(&k->lock);
	}
	share(k, 0);
	if (active == 1)
		return;
	joined = __atomic_exchange_n(&k->joined, JOIN_CLOSED, __ATOMIC_ACQ_REL);
	for (spin = 0; spin < SPIN_ITERATIONS &&
	     __atomic_load_n(&k->finished, __ATOMIC_ACQUIRE) < joined; spin++)
		cpu_relax();
	pthread_mutex_lock(&k->lock);
	while (k->finished < joined)
		pthread_cond_wait(&k->done, &k->lock);
	pthread_mutex_unlock(&k->lock);
}

/* Tiles per chunk of packing (64 KiB of weights at k = 1024). */
#define PACK_CHUNK 16

/*
 * @mm's weights read packed (@p->packed), when they are sealed: packed on
 * the pool at their first use, read from the store after, and the
 * activations prepared in their order. NULL: the firmware's layout.
 */
static void use_packed(struct npu_kernels *k, const struct npu_fw_matmul *mm,
		       struct npu_mm_prep *p)
{
	int fresh = 0, active;
	uint8_t *dst;

	p->packed = NULL;
	if (!k->store || !k->lvl->mm_pack || !npu_mm_packed_fits(mm))
		return;
	dst = k->store(k->store_ctx, mm, npu_mm_packed_bytes(mm), &fresh);
	if (dst && fresh) {
		active = (int)((mm->n + NPU_MM_TILE * PACK_CHUNK - 1) / (NPU_MM_TILE * PACK_CHUNK));
		k->pack_mm = mm;
		k->pack_dst = dst;
		run_pool(k, pack_share, active > k->n_threads ? k->n_threads : active, PACK_CHUNK);
	}
	p->packed = dst;
	if (dst)
		k->lvl->mm_packed_prepare(mm, p);
}

/* The threads for a matmul of @n columns. */
static int columns_threads(const struct npu_kernels *k, uint32_t n)
{
	int active = (int)(n / MIN_COLUMNS_PER_THREAD);

	return active < 1 ? 1 : active > k->n_threads ? k->n_threads : active;
}

int npu_kernels_matmul(void *ctx, const struct npu_fw_matmul *mm)
{
	struct npu_kernels *k = ctx;
	uint32_t chunk;
	int active;

	if (!k->lvl || !k->lvl->mm || prepare(k, mm))
		return 1;
	if (k->lvl->mm_prepare) {
		use_packed(k, k->mm, &k->prep);
		if (k->has_tail)
			use_packed(k, &k->tail, &k->prep_tail);
	}
	active = columns_threads(k, mm->n);
	/* Whole 48-column GEMM chunks; 64 columns at least otherwise (a chunk has a cost). */
	chunk = (mm->n + 8 * (uint32_t)active - 1) / (8 * (uint32_t)active);
	chunk = npu_mm_gemm_fits(mm) || npu_mm_gemm_unpacked_fits(mm) ? (chunk + 47) / 48 * 48 :
		chunk < 64 ? 64 : (chunk + 15) / 16 * 16;
	run_pool(k, matmul_share, active, chunk);
	return 0;
}

/* @bytes of room in k->blk, 32-byte aligned; NULL when there is none. */
static void *block_room(struct npu_kernels *k, size_t bytes)
{
	if (bytes + 32 > k->blk_size) {
		void *b = realloc(k->blk, bytes + 32);

		if (!b)
			return NULL;
		k->blk = b;
		k->blk_size = bytes + 32;
	}
	return (void *)(((uintptr_t)k->blk + 31) & ~(uintptr_t)31);
}

int npu_kernels_matmul_block(void *ctx, const struct npu_fw_matmul_block *mb)
{
	struct npu_kernels *k = ctx;
	int active = columns_threads(k, mb->n);
	uint32_t chunk = (mb->n + 8 * (uint32_t)active - 1) / (8 * (uint32_t)active);
	size_t i, rk = (size_t)mb->rows * mb->k;
	int16_t *x16;
	void *room;

	if (!k->lvl || !k->lvl->mm_block)
		return 1;
	k->mmb.scratch = NULL;
	if (k->lvl->mm_block_g1 && npu_mmb_g1_fits(mb)) {
		room = block_room(k, npu_mmb_prep_bytes(mb, k->n_threads));
		if (!room)
			return 1;
		/* It leaves scratch NULL where no output can fit: the general kernel. */
		npu_mmb_prepare(mb, k->lvl->mmb_vnni, room, &k->mmb);
	}
	if (!k->mmb.scratch) {
		x16 = block_room(k, rk * sizeof(int16_t));
		if (!x16)
			return 1;
		/* -2^15 <= x < 2^15 (fw_load_row of I8 or I16): exact in int16. */
		for (i = 0; i < rk; i++)
			x16[i] = (int16_t)mb->xr[i];
		k->x16 = x16;
	}
	k->mb = mb;
	k->refused = 0;
	run_pool(k, block_share, active, chunk < 16 ? 16 : (chunk + 15) / 16 * 16);
	return k->refused;
}

/* Cache rows x heads below which ATTENTION stays on the calling thread: waking costs more. */
#define ATTENTION_POOL_MIN 512
/* Cache rows per chunk of ATTENTION's sums. */
#define ATTENTION_CHUNK 32

int npu_kernels_attention(void *ctx, const struct npu_fw_attention *a)
{
	struct npu_kernels *k = ctx;
	size_t per = (size_t)a->n_heads * a->head_dim, need;
	int active = (int)((a->len + ATTENTION_CHUNK - 1) / ATTENTION_CHUNK), i;

	active = active > k->n_threads ? k->n_threads : active;
	if ((uint64_t)a->len * a->n_heads < ATTENTION_POOL_MIN)
		active = 1;
	if (!k->lvl || !k->lvl->attention_rows || k->lvl->attention_begin(a))
		return 1;
	if (a->step == NPU_FW_ATTN_VALUES && active > 1) {
		need = (size_t)(active - 1) * per * sizeof(__s64);
		if (need > k->partial_size) {
			__s64 *b = realloc(k->partial, need);

			if (b) {
				k->partial = b;
				k->partial_size = need;
			}
		}
		/* Without room for the workers' sums, one thread does them all. */
		if (need > k->partial_size)
			active = 1;
		else
			memset(k->partial, 0, need);
	}
	k->att = a;
	run_pool(k, attention_share, active, ATTENTION_CHUNK);
	if (a->step == NPU_FW_ATTN_VALUES)
		for (i = 1; i < active; i++) {
			const __s64 *p = k->partial + (size_t)(i - 1) * per;
			size_t e;

			for (e = 0; e < per; e++)
				a->acc[e] += p[e];
		}
	return 0;
}

/* Elements below which SILU stays on the calling thread, and per chunk. */
#define SILU_POOL_MIN 2048
#define SILU_CHUNK 1024

int npu_kernels_silu(void *ctx, const struct npu_fw_silu *s)
{
	struct npu_kernels *k = ctx;
	int active = (int)((s->n + SILU_CHUNK - 1) / SILU_CHUNK);

	if (!k->lvl || !k->lvl->silu)
		return 1;
	if (s->n < SILU_POOL_MIN || k->n_threads == 1)
		return k->lvl->silu(NULL, s);
	k->silu = s;
	k->refused = 0;
	run_pool(k, silu_share, active > k->n_threads ? k->n_threads : active, SILU_CHUNK);
	return k->refused;
}

/* Elements (rows x length) below which the rescaling and the softmax stay on the calling thread. */
#define ROWS_POOL_MIN 4096

/* The threads for @rows rows of @len elements. */
static int rows_threads(const struct npu_kernels *k, uint32_t rows, uint32_t len)
{
	if ((uint64_t)rows * len < ROWS_POOL_MIN || rows < 2)
		return 1;
	return rows < (uint32_t)k->n_threads ? (int)rows : k->n_threads;
}

/* @share over @rows rows on @active threads, about four chunks each. */
static void run_rows(struct npu_kernels *k, void (*share)(struct npu_kernels *k, int index),
		     uint32_t rows, int active)
{
	uint32_t parts = 4 * (uint32_t)active;

	run_pool(k, share, active, (rows + parts - 1) / parts);
}

int npu_kernels_rescale(void *ctx, const struct npu_fw_rescale *r)
{
	struct npu_kernels *k = ctx;
	int active = rows_threads(k, r->n_heads, r->len);

	if (!k->lvl || !k->lvl->rescale)
		return 1;
	if (active == 1)
		return k->lvl->rescale(NULL, r);
	if (k->lvl->rescale_begin(r))
		return 1;
	k->rescale = r;
	run_rows(k, rescale_share, r->n_heads, active);
	return 0;
}

int npu_kernels_softmax(void *ctx, const struct npu_fw_softmax *sm)
{
	struct npu_kernels *k = ctx;
	int active = rows_threads(k, sm->rows, sm->n);

	if (!k->lvl || !k->lvl->softmax)
		return 1;
	if (active == 1)
		return k->lvl->softmax(NULL, sm);
	k->softmax = sm;
	run_rows(k, softmax_share, sm->rows, active);
	return 0;
}

/*
 * The hooks @k's level answers: the pool's where the level has the
 * kernel, its own for the rest; none at the scalar level (the
 * firmware's loops run).
 */
void npu_kernels_hooks(struct npu_kernels *k, struct npu_fw_core *core)
{
	const struct npu_level *l = k->lvl;

	if (l) {
		k->hooks = (struct npu_fw_hooks){
			.matmul = l->mm ? npu_kernels_matmul : NULL,
			.matmul_block = l->mm_block ? npu_kernels_matmul_block : NULL,
			.requant = l->requant,
			.attention = l->attention_rows ? npu_kernels_attention : NULL,
			.rescale = l->rescale ? npu_kernels_rescale : NULL,
			.silu = l->silu ? npu_kernels_silu : NULL,
			.add = l->add,
			.norm = l->norm,
			.softmax = l->softmax ? npu_kernels_softmax : NULL,
			.amax = l->amax,
		};
	}
	core->hooks = l ? &k->hooks : NULL;
	core->hook_ctx = k;
}
