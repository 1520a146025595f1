// SPDX-License-Identifier: MIT
/*
 * npu-bench - this machine's limits and the cpu backend against them.
 *
 * Measured in one run: sustained memory read bandwidth (1 thread and all),
 * the int8 dot-product peak of the instruction set in use, MATMUL
 * throughput at transformer shapes (weights streamed from far more memory
 * than the caches hold for M = 1), each as a fraction of its roofline, and
 * decode tokens/s of synthetic 110M and 1B (TinyLlama-1.1B-shaped) models,
 * W8 and W4, next to their bandwidth bounds (1B skipped with --quick). The
 * bandwidth is read again around each of those figures, and each is set
 * against what the memory gave then.
 * A benchmark, not a test: it prints figures.
 *
 * usage: npu-bench [--json] [--quick] [--ops]
 * --quick: smaller streams, no 1B model; --ops: no decode at all.
 */
#define _GNU_SOURCE	/* sched_getaffinity */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <npu/llm.h>
#include <npu/npu.h>

#include "../progress.h"
#include "simd.h"

/* Monotonic seconds. */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * Fill @len bytes so that no two pages are alike: the host of a virtual
 * machine may merge identical pages (all of a memset buffer), and then
 * reading them measures a cache, not memory.
 */
static void fill_distinct(void *p, size_t len)
{
	uint64_t x = 0x9e3779b97f4a7c15ull, *q = p;
	size_t i;

	for (i = 0; i < len / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		q[i] = x;
	}
	memset((char *)p + len / 8 * 8, 0x5a, len % 8);
}

/* ---- memory bandwidth ---------------------------------------------- */

/*
 * The shortest of @reps runs of @fn on @threads threads, thread t given
 * @args + t * @size, in seconds: a busy neighbour only slows a run down.
 */
static double shortest_run(int reps, int threads, void *(*fn)(void *), void *args, size_t size)
{
	double best = 0;
	int rep, t;

	for (rep = 0; rep < reps; rep++) {
		pthread_t th[64];
		double t0 = now_s(), dt;

		for (t = 0; t < threads; t++)
			pthread_create(&th[t], NULL, fn, (char *)args + (size_t)t * size);
		for (t = 0; t < threads; t++)
			pthread_join(th[t], NULL);
		dt = now_s() - t0;
		if (!best || dt < best)
			best = dt;
	}
	return best;
}

/* GB/s reading @len bytes split over @threads threads, best of 3. */
static double bandwidth(const uint8_t *buf, size_t len, int threads)
{
	struct bw_arg a[64];
	int t;

	for (t = 0; t < threads; t++) {
		a[t].p = buf + len / threads * t;
		a[t].len = len / threads;
	}
	return len / shortest_run(3, threads, bench_read_all, a, sizeof(a[0])) / 1e9;
}

/*
 * The bandwidth as the host gives it now, read again around each figure
 * that is set against it: on a shared host it moves by half within a
 * run, and a kernel is judged against what the memory gave while it ran.
 */
struct probe {
	const uint8_t *buf;
	size_t len;
	int threads;
	double best;	/* the best read in the whole run */
};

static double probe_now(struct probe *pr)
{
	double gbs = bandwidth(pr->buf, pr->len, pr->threads);

	pr->best = fmax(pr->best, gbs);
	return gbs;
}

/* ---- int8 peak ---------------------------------------------------------- */

struct peak_arg {
	long iters;
	const struct bench_peak *pk;
	uint64_t sink;
};

static void *peak_thread(void *arg)
{
	struct peak_arg *p = arg;

	p->sink = p->pk->loop(p->iters);
	return NULL;
}

/*
 * int8 multiply-add operations (2 per MAC) per second, in G: the best of
 * 5 short runs, since a peak is what the cores reach when nothing else
 * (on a shared host, another guest) holds one of them.
 */
static double int8_peak(const struct bench_peak *pk, int threads)
{
	long iters = 20000000;
	struct peak_arg a[64];
	int t;

	for (t = 0; t < threads; t++) {
		a[t].iters = iters;
		a[t].pk = pk;
	}
	return 2.0 * pk->macs * iters * threads /
	       shortest_run(5, threads, peak_thread, a, sizeof(a[0])) / 1e9;
}

/* ---- MATMUL through libnpu ------------------------------------------------ */

struct op_result {
	const char *weights, *acts;
	uint32_t m, n, k;
	int threads;
	double gops, gbs;
	double bw;	/* the best bandwidth read just before, between and after its runs */
	double roofline_fraction;	/* once the peak is known */
};

/*
 * @copies distinct weight matrices, one MATMUL op each, in one job, on
 * int8 activations (@x16: int16, as a decode's FFN down-projection takes),
 * the bandwidth read by @pr around its runs.
 */
static int bench_matmul(npu_device *dev, struct probe *pr, uint32_t m, uint32_t n, uint32_t k,
			int bits, int x16, int copies, struct op_result *res)
{
	uint64_t wbytes = (uint64_t)n * npu_row_bytes(bits == 8 ? NPU_I8 : NPU_I4, k);
	uint64_t fbytes = (uint64_t)n * (k / 32) * 2;
	uint32_t group = bits == 8 ? k : 32;
	npu_bo *wb = calloc((size_t)copies, sizeof(*wb));
	npu_bo x = 0, xs = 0, o = 0, os = 0;	/* 0: no buffer */
	npu_cmd *cmd;
	npu_fence f;
	void *p;
	double t0, dt = 0, bw = 0;
	int i, rep, err;

	err = npu_bo_alloc(dev, (uint64_t)m * k * (x16 ? 2 : 1), &x);
	err = err ? err : npu_bo_alloc(dev, m * 8ull, &xs);
	err = err ? err : npu_bo_alloc(dev, (uint64_t)m * n * 2, &o);
	err = err ? err : npu_bo_alloc(dev, m * 8ull, &os);
	err = err ? err : npu_bo_map(dev, x, &p);
	/* Activations of both signs: an all-zero output takes no output stage. */
	for (i = 0; !err && i < (int)(m * k * (x16 ? 2 : 1)); i++)
		((uint8_t *)p)[i] = (uint8_t)(i * 37 + 11);
	err = err ? err : npu_bo_map(dev, xs, &p);
	for (i = 0; !err && i < (int)m; i++)
		err = npu_scale_from_double(0.01, &((struct npu_scale *)p)[i]);
	for (i = 0; !err && i < copies; i++) {
		err = npu_bo_alloc(dev, wbytes + fbytes, &wb[i]);
		if (!err)
			err = npu_bo_map(dev, wb[i], &p);
		/* Every page touched (the weights must really be in memory), none alike. */
		if (!err)
			fill_distinct(p, wbytes + fbytes);
		/* Weights, as a model's: the cpu backend may pack them. */
		if (!err)
			err = npu_bo_seal(dev, wb[i]);
	}
	err = err ? err : npu_cmd_create(dev, &cmd);
	for (i = 0; !err && i < copies; i++) {
		struct npu_tensor tx = npu_tensor_2d(x, 0, m, k, x16 ? NPU_I16 : NPU_I8);
		struct npu_tensor tw = npu_tensor_2d(wb[i], 0, n, k, bits == 8 ? NPU_I8 : NPU_I4);
		struct npu_tensor to = npu_tensor_2d(o, 0, m, n, NPU_I16);

		tx.scale_mode = to.scale_mode = NPU_SCALE_ROW;
		tx.scale_bo = xs;
		to.scale_bo = os;
		tw.scale_mode = NPU_SCALE_GROUP;
		npu_scale_from_double(0.001, &tw.scale);
		tw.scale_bo = wb[i];
		tw.scale_offset = wbytes;
		err = npu_op_matmul(cmd, &tx, &tw, group, NULL, &to);
	}
	/* Best of 5 runs of the whole job, the bandwidth read between them. */
	for (rep = 0; !err && rep < 5; rep++) {
		bw = fmax(bw, probe_now(pr));
		t0 = now_s();
		err = npu_submit(cmd, &f);
		err = err ? err : npu_fence_wait(dev, f, -1, NULL);
		if (!err)
			dt = dt ? fmin(dt, now_s() - t0) : now_s() - t0;
	}
	if (!err) {
		double ops = 2.0 * m * n * k * copies, bytes = (double)(wbytes + fbytes) * copies;

		res->bw = fmax(bw, probe_now(pr));
		res->weights = bits == 8 ? "w8" : "w4g32";
		res->acts = x16 ? "i16" : "i8";
		res->m = m;
		res->n = n;
		res->k = k;
		res->gops = ops / dt / 1e9;
		res->gbs = bytes / dt / 1e9;
	}
	npu_cmd_destroy(cmd);
	npu_bo_unmap(dev, x);
	npu_bo_unmap(dev, xs);
	npu_bo_free(dev, x);
	npu_bo_free(dev, xs);
	npu_bo_free(dev, o);
	npu_bo_free(dev, os);
	for (i = 0; i < copies; i++)
		if (wb[i]) {
			npu_bo_unmap(dev, wb[i]);
			npu_bo_free(dev, wb[i]);
		}
	free(wb);
	return err;
}

/* ---- decode ------------------------------------------------------------ */

struct decode_result {
	const char *model, *weights;
	double tok_s, bw, bound;	/* bw: the best read around the decode's rounds */
	double prefill_tok_s, prefill_gops;	/* a PREFILL_TOKENS prompt */
};

/* A prompt's length for the prefill figure: one of libnpu-llm's prefill batches. */
#define PREFILL_TOKENS 64

/*
 * Multiply-adds of the matrices a prompt of @tokens goes through: every
 * layer's for each token, the classifier's for the last only.
 */
static double prompt_macs(const struct npu_model_config *c, int tokens)
{
	double q = (double)c->head_dim * c->n_heads, kv = (double)c->head_dim * c->n_kv_heads;

	return tokens * (double)c->n_layers *
		       ((double)c->dim * (2.0 * q + 2 * kv) + 3.0 * c->dim * c->hidden_dim) +
	       (double)c->dim * c->vocab_size;
}

/*
 * Prefill and decode tokens/s of the synthetic @shape with @weights, and
 * the decode's bandwidth bound: the bytes of every matrix a token reads
 * in full (not the embedding table, of which a token reads one row) at
 * the bandwidth read around its rounds. A prefill is compute-bound: its
 * figure is the matrices' GOPS, to set against the int8 peak.
 */
static int bench_decode(npu_device *dev, const char *shape, const char *weights,
			struct probe *pr, struct decode_result *r)
{
	struct npu_llm_model_params mp = { .weights = weights, .synthetic = shape, .seed = 1,
					   .progress = tool_progress };
	struct npu_llm_model_info info;
	npu_llm_model *m;
	npu_llm_ctx *c = NULL;
	char err[256];
	int32_t tok = 1, prompt[PREFILL_TOKENS];
	double t0;
	int i, round, ret;

	ret = npu_llm_model_load(dev, NULL, &mp, &m, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "npu-bench: synthetic %s %s: %s\n", shape, weights, err);
		return ret;
	}
	npu_llm_model_info(m, &info);
	for (i = 0; i < PREFILL_TOKENS; i++)
		prompt[i] = 1 + i % (info.cfg.vocab_size - 1);
	ret = npu_llm_ctx_create(m, NULL, &c, err, sizeof(err));
	if (ret)
		fprintf(stderr, "npu-bench: synthetic %s %s: %s\n", shape, weights, err);
	ret = ret ? ret : npu_llm_eval(c, prompt, PREFILL_TOKENS);	/* warm */
	/* The best of two prefills, then of three rounds of 16 tokens: a busy neighbour only slows one. */
	r->prefill_tok_s = 0;
	for (round = 0; !ret && round < 2; round++) {
		ret = npu_llm_ctx_rewind(c, 0);
		t0 = now_s();
		ret = ret ? ret : npu_llm_eval(c, prompt, PREFILL_TOKENS);
		r->prefill_tok_s = fmax(r->prefill_tok_s, PREFILL_TOKENS / (now_s() - t0));
	}
	r->prefill_gops = r->prefill_tok_s / PREFILL_TOKENS * 2 *
			  prompt_macs(&info.cfg, PREFILL_TOKENS) / 1e9;
	r->tok_s = 0;
	r->bw = 0;
	/* Decode steps at positions 1 to 48. */
	ret = ret ? ret : npu_llm_ctx_rewind(c, 1);
	for (round = 0; !ret && round < 3; round++) {
		r->bw = fmax(r->bw, probe_now(pr));
		t0 = now_s();
		for (i = 0; !ret && i < 16; i++)
			ret = npu_llm_eval(c, &tok, 1);
		r->tok_s = fmax(r->tok_s, 16 / (now_s() - t0));
	}
	if (ret && c && npu_llm_ctx_error(c)[0])
		fprintf(stderr, "npu-bench: synthetic %s %s: %s\n", shape, weights,
			npu_llm_ctx_error(c));
	r->bw = fmax(r->bw, probe_now(pr));
	r->bound = r->bw * 1e9 / (double)info.weight_bytes;
	r->weights = weights;
	npu_llm_ctx_free(c);
	npu_llm_model_free(m);
	return ret;
}

/*
 * W8 and W4 decode of one synthetic shape into r[0] and r[1]; returns how
 * many results it filled: 2, or 0 on failure.
 */
static int bench_decodes(npu_device *dev, const char *shape, const char *label,
			 struct probe *pr, struct decode_result *r)
{
	r[0].model = r[1].model = label;
	return !bench_decode(dev, shape, "w8", pr, &r[0]) &&
	       !bench_decode(dev, shape, "w4g32", pr, &r[1]) ? 2 : 0;
}

int main(int argc, char **argv)
{
	const struct bench_peak *pk;
	int json = 0, quick = 0, ops_only = 0, threads, i, n_ops = 0;
	int pool;
	cpu_set_t cores;
	char *threads_env;
	size_t len = 1ull << 30;
	struct op_result ops[16];
	struct npu_info info;
	npu_device *dev, *dev1;
	double peak, peak1;
	struct probe all, one, *pr;
	struct decode_result dec[4];
	int n_dec = 0;
	uint8_t *buf;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--quick"))
			quick = 1;
		else if (!strcmp(argv[i], "--ops"))
			ops_only = 1;
		else {
			fprintf(stderr, "usage: npu-bench [--json] [--quick] [--ops]\n");
			return 2;
		}
	}
	if (quick)
		len = 256ull << 20;
	/*
	 * The backend's pool follows NPU_THREADS; the machine figures use
	 * every core this process may run on, as the pool does by default.
	 */
	threads = sched_getaffinity(0, sizeof(cores), &cores) ? (int)sysconf(_SC_NPROCESSORS_ONLN) :
								 CPU_COUNT(&cores);
	threads_env = getenv("NPU_THREADS") ? strdup(getenv("NPU_THREADS")) : NULL;
	pool = threads_env ? atoi(threads_env) : threads;
	if (threads > 64)
		threads = 64;
	/*
	 * In 2 MiB pages where the kernel grants them, as the cpu backend
	 * keeps weights: 4 KiB pages read 10-15% slower here, and would
	 * understate the bandwidth the kernels are set against.
	 */
	buf = aligned_alloc(2u << 20, len);
	if (!buf)
		return 1;
	madvise(buf, len, MADV_HUGEPAGE);
	fill_distinct(buf, len);
	all = (struct probe){ buf, len, threads, 0 };
	one = (struct probe){ buf, len, 1, 0 };
	probe_now(&one);
	probe_now(&all);
	/* Ops on a pool of one thread are set against one thread's limits. */
	pr = pool == 1 ? &one : &all;
	if (npu_open("cpu", &dev) || npu_query(dev, &info)) {
		fprintf(stderr, "npu-bench: no cpu backend\n");
		return 1;
	}
	/* The peak of the instructions the backend's kernels run ($NPU_CPU_ISA lowers them). */
	pk = bench_peak_for(info.name);
	peak1 = int8_peak(pk, 1);
	peak = int8_peak(pk, threads);
	/* M = 1 streams 1 GiB of distinct weights (the caches hold far less). */
	if (!bench_matmul(dev, pr, 1, 4096, 4096, 8, 0, quick ? 8 : 64, &ops[n_ops]))
		n_ops++;
	if (!bench_matmul(dev, pr, 1, 4096, 4096, 4, 0, quick ? 8 : 64, &ops[n_ops]))
		n_ops++;
	if (!bench_matmul(dev, pr, 1, 2048, 8192, 8, 0, quick ? 8 : 64, &ops[n_ops]))
		n_ops++;
	if (!bench_matmul(dev, pr, 1, 2048, 8192, 4, 0, quick ? 8 : 64, &ops[n_ops]))
		n_ops++;
	/* A 1B model's FFN projections (TinyLlama: 2048 <-> 5632). */
	if (!bench_matmul(dev, pr, 1, 5632, 2048, 4, 0, quick ? 8 : 48, &ops[n_ops]))
		n_ops++;
	if (!bench_matmul(dev, pr, 1, 2048, 5632, 4, 0, quick ? 8 : 48, &ops[n_ops]))
		n_ops++;
	/* The down-projection's input is SiLU(gate) * up, int16. */
	if (!bench_matmul(dev, pr, 1, 2048, 5632, 4, 1, quick ? 8 : 48, &ops[n_ops]))
		n_ops++;
	/* Prefill: 64 rows, libnpu-llm's prefill batch; the down-projection again. */
	if (!bench_matmul(dev, pr, 64, 4096, 4096, 8, 0, 8, &ops[n_ops]))
		n_ops++;
	if (!bench_matmul(dev, pr, 64, 4096, 4096, 4, 0, 8, &ops[n_ops]))
		n_ops++;
	if (!bench_matmul(dev, pr, 64, 2048, 5632, 8, 1, 8, &ops[n_ops]))
		n_ops++;
	if (!bench_matmul(dev, pr, 64, 2048, 5632, 4, 1, 8, &ops[n_ops]))
		n_ops++;
	for (i = 0; i < n_ops; i++)
		ops[i].threads = pool;
	/*
	 * The compute-bound ops again on a device whose pool has one thread:
	 * what the other threads add.
	 */
	if (pool > 1 && !setenv("NPU_THREADS", "1", 1) && !npu_open("cpu", &dev1)) {
		if (!bench_matmul(dev1, &one, 64, 4096, 4096, 8, 0, 8, &ops[n_ops]))
			ops[n_ops++].threads = 1;
		if (!bench_matmul(dev1, &one, 64, 4096, 4096, 4, 0, 8, &ops[n_ops]))
			ops[n_ops++].threads = 1;
		npu_close(dev1);
	}
	/* Devices opened from here on get the pool the caller asked for. */
	if (threads_env) {
		setenv("NPU_THREADS", threads_env, 1);
		free(threads_env);
	} else {
		unsetenv("NPU_THREADS");
	}
	/*
	 * The peaks again after the ops: each is the best the machine showed
	 * during the run (a shared host can hold a core for a while), so no
	 * figure is flattered by a peak measured in a bad moment.
	 */
	peak = fmax(peak, int8_peak(pk, threads));
	peak1 = fmax(peak1, int8_peak(pk, 1));
	if (!ops_only)
		n_dec += bench_decodes(dev, "110m", "synthetic-110m", pr, &dec[n_dec]);
	if (!quick && !ops_only)
		n_dec += bench_decodes(dev, "1b", "synthetic-1b", pr, &dec[n_dec]);
	free(buf);
	/* Each op against the limits of as many threads as it ran on. */
	for (i = 0; i < n_ops; i++)
		ops[i].roofline_fraction =
			ops[i].threads == 1 ?
				ops[i].gops / fmin(peak1, ops[i].gops / ops[i].gbs * ops[i].bw) :
				ops[i].gops / fmin(peak, ops[i].gops / ops[i].gbs * ops[i].bw);

	if (json) {
		printf("{\"machine\": {\"bw_gbs\": %.2f, \"bw_gbs_1t\": %.2f, \"int8_peak_gops\": %.1f"
		       ", \"int8_peak_gops_1t\": %.1f, \"isa\": \"%s\", \"threads\": %d}, \"ops\": [",
		       all.best, one.best, peak, peak1, pk->name, threads);
		for (i = 0; i < n_ops; i++)
			printf("%s{\"op\": \"matmul\", \"weights\": \"%s\", \"activations\": \"%s\""
			       ", \"m\": %u, \"n\": %u, \"k\": %u"
			       ", \"threads\": %d, \"gops\": %.2f, \"gbs\": %.2f, \"bw_gbs\": %.2f"
			       ", \"roofline_fraction\": %.3f}", i ? ", " : "", ops[i].weights, ops[i].acts,
			       ops[i].m, ops[i].n, ops[i].k, ops[i].threads, ops[i].gops, ops[i].gbs,
			       ops[i].bw, ops[i].roofline_fraction);
		printf("], \"decode\": [");
		for (i = 0; i < n_dec; i++)
			printf("%s{\"model\": \"%s\", \"weights\": \"%s\", \"threads\": %d"
			       ", \"tok_s\": %.2f, \"bw_gbs\": %.2f, \"bound_tok_s\": %.2f}",
			       i ? ", " : "", dec[i].model, dec[i].weights, pool, dec[i].tok_s, dec[i].bw,
			       dec[i].bound);
		printf("], \"prefill\": [");
		for (i = 0; i < n_dec; i++)
			printf("%s{\"model\": \"%s\", \"weights\": \"%s\", \"threads\": %d"
			       ", \"tokens\": %d, \"tok_s\": %.2f, \"gops\": %.1f"
			       ", \"peak_fraction\": %.3f}", i ? ", " : "", dec[i].model,
			       dec[i].weights, pool, PREFILL_TOKENS, dec[i].prefill_tok_s,
			       dec[i].prefill_gops, dec[i].prefill_gops / peak);
		printf("]}\n");
	} else {
		printf("machine: %d threads; backend: %s\n", threads, info.name);
		printf("  memory read bandwidth: %.1f GB/s (1 thread: %.1f GB/s), the best of the run\n",
		       all.best, one.best);
		printf("  int8 peak (%s): %.0f GOPS (1 thread: %.0f GOPS)\n", pk->title, peak,
		       peak1);
		printf("  (each figure below is set against the bandwidth read around it)\n");
		printf("\n| op | weights | activations | M | N | K | threads | GOPS | weight GB/s | memory GB/s | fraction of roofline |\n");
		printf("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
		for (i = 0; i < n_ops; i++)
			printf("| matmul | %s | %s | %u | %u | %u | %d | %.1f | %.2f | %.1f | %.0f%% |\n",
			       ops[i].weights, ops[i].acts, ops[i].m, ops[i].n, ops[i].k, ops[i].threads,
			       ops[i].gops, ops[i].gbs, ops[i].bw, 100 * ops[i].roofline_fraction);
		/* Each one-thread op over the same op on the whole pool. */
		for (i = 0; i < n_ops; i++) {
			int j;

			for (j = 0; ops[i].threads == 1 && pool > 1 && j < n_ops; j++)
				if (ops[j].threads == pool && ops[j].m == ops[i].m &&
				    ops[j].n == ops[i].n && ops[j].k == ops[i].k &&
				    !strcmp(ops[j].weights, ops[i].weights) &&
				    !strcmp(ops[j].acts, ops[i].acts))
					printf("%d threads over 1, %s M = %u: %.2fx\n", pool,
					       ops[i].weights, ops[i].m, ops[j].gops / ops[i].gops);
		}
		if (n_dec)
			printf("\n| decode | weights | tok/s | memory GB/s | bandwidth bound tok/s | fraction |\n"
			       "|---|---|---:|---:|---:|---:|\n");
		for (i = 0; i < n_dec; i++)
			printf("| %s | %s | %.1f | %.1f | %.1f | %.0f%% |\n", dec[i].model, dec[i].weights,
			       dec[i].tok_s, dec[i].bw, dec[i].bound, 100 * dec[i].tok_s / dec[i].bound);
		if (n_dec)
			printf("\n| prefill (%d tokens) | weights | tok/s | matmul GOPS | fraction of int8 peak |\n"
			       "|---|---|---:|---:|---:|\n", PREFILL_TOKENS);
		for (i = 0; i < n_dec; i++)
			printf("| %s | %s | %.1f | %.1f | %.0f%% |\n", dec[i].model, dec[i].weights,
			       dec[i].prefill_tok_s, dec[i].prefill_gops,
			       100 * dec[i].prefill_gops / peak);
	}
	npu_close(dev);
	return 0;
}
