// SPDX-License-Identifier: MIT
/*
 * libnpu's API: misuse gets a precise error and changes nothing; fences,
 * priorities, graphs (record once, replay with new inputs), threads,
 * sealed buffers. Opening devices: test_device; encoding: test_encode.
 */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

static void strerror_texts(void **state)
{
	int i, j;

	(void)state;
	for (i = NPU_E_GONE; i <= NPU_JOB_CANCELLED; i++) {
		assert_non_null(npu_strerror(i));
		assert_string_not_equal(npu_strerror(i), "unknown status");
		for (j = i + 1; j <= NPU_JOB_CANCELLED; j++)
			if (i != 0 && j != 0)
				assert_string_not_equal(npu_strerror(i), npu_strerror(j));
	}
	assert_string_equal(npu_strerror(NPU_E_GONE - 1), "unknown status");
	assert_string_equal(npu_strerror(NPU_JOB_CANCELLED + 1), "unknown status");
	assert_string_equal(npu_op_name(DRM_NPU_OP_MATMUL), "MATMUL");
	assert_null(npu_op_name(DRM_NPU_OP_COUNT));
}

static void buffer_handles(void **state)
{
	npu_device *a = t_open(), *b = t_open_other();
	uint64_t addr1, addr2, addr3, size;
	npu_bo bo, bo2, other;
	void *p;

	(void)state;
	assert_int_equal(npu_bo_alloc(a, 0, &bo), NPU_E_INVAL);
	assert_int_equal(npu_bo_alloc(a, 100, NULL), NPU_E_INVAL);
	assert_int_equal(npu_bo_alloc(NULL, 100, &bo), NPU_E_INVAL);
	assert_int_equal(npu_bo_alloc(a, 1ull << 50, &bo), NPU_E_NOSPC);
	assert_int_equal(npu_bo_alloc(a, 100, &bo), NPU_OK);
	assert_int_equal(npu_bo_info(a, bo, &addr1, &size), NPU_OK);
	assert_int_equal(size, 100);
	assert_int_equal(addr1 % 4096, 0);

	/* Made-up handles, another device's handle, a freed handle. */
	assert_int_equal(npu_bo_info(a, 0, &addr2, NULL), NPU_E_HANDLE);
	assert_int_equal(npu_bo_info(a, bo + 1, &addr2, NULL), NPU_E_HANDLE);
	assert_int_equal(npu_bo_info(a, bo ^ (1ull << 30), &addr2, NULL), NPU_E_HANDLE);
	assert_int_equal(npu_bo_alloc(b, 100, &other), NPU_OK);
	assert_int_equal(npu_bo_info(a, other, &addr2, NULL), NPU_E_XDEV);
	assert_int_equal(npu_bo_map(a, other, &p), NPU_E_XDEV);
	assert_int_equal(npu_bo_free(a, other), NPU_E_XDEV);

	/* Mapping is counted; a mapped buffer is not freed. */
	assert_int_equal(npu_bo_unmap(a, bo), NPU_E_INVAL);
	assert_int_equal(npu_bo_map(a, bo, NULL), NPU_E_INVAL);
	assert_int_equal(npu_bo_map(a, bo, &p), NPU_OK);
	assert_int_equal(npu_bo_free(a, bo), NPU_E_BUSY);
	assert_int_equal(npu_bo_unmap(a, bo), NPU_OK);
	assert_int_equal(npu_bo_free(a, bo), NPU_OK);
	assert_int_equal(npu_bo_free(a, bo), NPU_E_HANDLE);
	assert_int_equal(npu_bo_map(a, bo, &p), NPU_E_HANDLE);

	/* The slot is reused, the handle and the device address are not. */
	assert_int_equal(npu_bo_alloc(a, 100, &bo2), NPU_OK);
	assert_int_not_equal(bo2, bo);
	assert_int_equal(npu_bo_info(a, bo, &addr3, NULL), NPU_E_HANDLE);
	assert_int_equal(npu_bo_info(a, bo2, &addr2, NULL), NPU_OK);
	assert_true(addr2 >= addr1 + 4096 + 4096);
	npu_close(a);
	npu_close(b);
}
/* A job long enough that waits around it are not races (long_job_sized). */
struct long_job {
	struct t_buf x, w, f, o;
	npu_cmd *cmd;
};

static void long_job_init(npu_device *dev, struct long_job *j, uint32_t m)
{
	struct npu_tensor tx, tw, to;

	j->x = t_alloc(dev, (uint64_t)m * 4096);
	j->w = t_alloc(dev, 4096ull * 4096);
	j->f = t_alloc(dev, 2 * 4096);
	j->o = t_alloc(dev, (uint64_t)m * 4096 * 4);
	tx = npu_tensor_2d(j->x.bo, 0, m, 4096, NPU_I8);
	tx.scale_mode = NPU_SCALE_TENSOR;
	tx.scale = t_scale(1);
	tw = npu_tensor_2d(j->w.bo, 0, 4096, 4096, NPU_I8);
	tw.scale_mode = NPU_SCALE_GROUP;
	tw.scale = t_scale(1);
	tw.scale_bo = j->f.bo;
	to = npu_tensor_2d(j->o.bo, 0, m, 4096, NPU_I32);
	to.scale_mode = NPU_SCALE_TENSOR;
	to.scale = t_scale(1);
	assert_int_equal(npu_cmd_create(dev, &j->cmd), NPU_OK);
	assert_int_equal(npu_op_matmul(j->cmd, &tx, &tw, 4096, NULL, &to), NPU_OK);
}

static void long_job_fini(npu_device *dev, struct long_job *j)
{
	npu_cmd_destroy(j->cmd);
	t_free(dev, &j->x);
	t_free(dev, &j->w);
	t_free(dev, &j->f);
	t_free(dev, &j->o);
}

/* Seconds from submitting @cmd to its fence answering. */
static double run_seconds(npu_device *dev, npu_cmd *cmd, int *err)
{
	struct timespec t0, t1;
	npu_fence f;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(npu_submit(cmd, &f), NPU_OK);
	*err = npu_fence_wait(dev, f, -1, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
}

/*
 * A blocker that outlasts the tests' own round trips around it (a
 * submit and a poll each, up to eight of them) with room to spare:
 * a slow link or an emulated guest makes those long (usb under the
 * debug lane's kernel: 0.2 s each), a fast kernel makes the job short
 * (the aarch64 guest's gadget ran m = 16 before three submits were
 * through). So m doubles from 16 until one run takes 0.2 s and sixteen
 * no-op round trips. On accel it must also end well inside npu.ko's 2 s
 * job timeout (the debug lane's KASAN build once ran m = 16 past it):
 * halved until one run takes under 1 s, half the timeout (the aarch64
 * guest's accel once found a blocker of under 0.5 s done, five times,
 * before its three submits were through).
 */
static void long_job_sized(npu_device *dev, struct long_job *j)
{
	struct npu_info info;
	double rt = 0, t, want;
	npu_cmd *nop;
	uint32_t m = 16;
	int i, err, accel, shrunk = 0;

	assert_int_equal(npu_query(dev, &info), NPU_OK);
	accel = !strcmp(info.backend, "accel");
	assert_int_equal(npu_cmd_create(dev, &nop), NPU_OK);
	assert_int_equal(npu_op_nop(nop), NPU_OK);
	for (i = 0; i < 3; i++) {
		t = run_seconds(dev, nop, &err);
		assert_int_equal(err, NPU_OK);
		rt = t > rt ? t : rt;
	}
	npu_cmd_destroy(nop);
	want = 16 * rt > 0.2 ? 16 * rt : 0.2;
	for (;;) {
		long_job_init(dev, j, m);
		t = run_seconds(dev, j->cmd, &err);
		if (accel && m > 1 && (err != NPU_OK || t >= 1.0)) {
			m /= 2;
			shrunk = 1;
		} else if (err == NPU_OK && t < want && m < 1024 && !shrunk &&
			   (!accel || 2 * t < 1.0)) {
			m *= 2;
		} else {
			assert_int_equal(err, NPU_OK);
			print_message("blocker on %s: m = %u, %.1f ms a run (no-op round trip %.2f ms)\n",
				      info.backend, m, t * 1e3, rt * 1e3);
			return;
		}
		long_job_fini(dev, j);
	}
}

static void fences(void **state)
{
	npu_device *dev = t_open();
	struct npu_job_result r;
	struct long_job lj;
	npu_fence f, first, last = 0;
	npu_cmd *nop;
	int i, err, polled;

	(void)state;
	long_job_sized(dev, &lj);
	assert_int_equal(npu_fence_wait(dev, 0, 0, &r), NPU_E_INVAL);
	assert_int_equal(npu_fence_wait(dev, 12345, 0, &r), NPU_E_INVAL);
	assert_int_equal(npu_fence_wait(NULL, 1, 0, &r), NPU_E_INVAL);
	/*
	 * A poll right after submitting the blocker (up to half a second of
	 * work) finds it running, unless this thread was descheduled for that
	 * long: then the poll may see it done, and the attempt is repeated.
	 */
	for (i = 0, polled = 0; i < 10 && !polled; i++) {
		assert_int_equal(npu_submit(lj.cmd, &f), NPU_OK);
		err = npu_fence_wait(dev, f, 1000, &r);
		assert_true(err == NPU_E_TIMEOUT || err == NPU_OK);
		polled = err == NPU_E_TIMEOUT;
		assert_int_equal(npu_fence_wait(dev, f, -1, &r), NPU_OK);
		assert_int_equal(r.status, NPU_JOB_OK);
	}
	assert_true(polled);
	/* A finished job answers again, and a NULL result is fine. */
	assert_int_equal(npu_fence_wait(dev, f, 0, NULL), NPU_OK);

	/* Results are retained for the last 1024 jobs. */
	assert_int_equal(npu_cmd_create(dev, &nop), NPU_OK);
	assert_int_equal(npu_op_nop(nop), NPU_OK);
	assert_int_equal(npu_submit(nop, &first), NPU_OK);
	assert_int_equal(npu_fence_wait(dev, first, -1, NULL), NPU_OK);
	for (i = 0; i < 1100; i++) {
		assert_int_equal(npu_submit(nop, &last), NPU_OK);
		if (i % 512 == 511)
			assert_int_equal(npu_fence_wait(dev, last, -1, NULL), NPU_OK);
	}
	assert_int_equal(npu_fence_wait(dev, last, -1, NULL), NPU_OK);
	assert_int_equal(npu_fence_wait(dev, first, 0, NULL), NPU_E_EXPIRED);
	npu_cmd_destroy(nop);
	long_job_fini(dev, &lj);
	npu_close(dev);
}

/* log = log * 4 + id, in exact int32 arithmetic, as one job. */
static void encode_log(npu_cmd *cmd, struct t_buf *log, struct t_buf *k, int id)
{
	struct npu_tensor tl = npu_tensor_2d(log->bo, 0, 1, 1, NPU_I32);
	struct npu_tensor tk = npu_tensor_2d(k->bo, 4 * (uint64_t)id, 1, 1, NPU_I32);
	struct npu_tensor t4 = npu_tensor_2d(k->bo, 0, 1, 1, NPU_I32);

	tl.scale_mode = tk.scale_mode = t4.scale_mode = NPU_SCALE_TENSOR;
	tl.scale = tk.scale = t4.scale = t_scale(1);
	assert_int_equal(npu_op_mul(cmd, &tl, &t4, &tl), NPU_OK);
	assert_int_equal(npu_op_add(cmd, &tl, &tk, &tl), NPU_OK);
}

/*
 * Low, normal and high queued in that order behind a blocker run high
 * first: as streams with those priorities, or (@graphs) as graphs recorded
 * at the default one and given theirs by npu_graph_set_priority().
 */
static void priority_order(npu_device *dev, const struct long_job *lj, int graphs)
{
	struct t_buf log = t_alloc(dev, 4), k = t_alloc(dev, 16);
	npu_graph *g[3] = { NULL };
	npu_cmd *c[3];
	npu_fence blocker, f[3];
	int i, attempt, queued;

	((int32_t *)k.p)[0] = 4;
	for (i = 0; i < 3; i++) {
		((int32_t *)k.p)[i + 1] = i + 1;
		assert_int_equal(npu_cmd_create(dev, &c[i]), NPU_OK);
		if (!graphs)
			assert_int_equal(npu_cmd_set_priority(c[i], (enum npu_priority)i), NPU_OK);
		encode_log(c[i], &log, &k, i + 1);
		if (graphs) {
			assert_int_equal(npu_graph_create(c[i], &g[i]), NPU_OK);
			assert_int_equal(npu_graph_set_priority(g[i], (enum npu_priority)i), NPU_OK);
		}
	}
	if (graphs) {
		assert_int_equal(npu_graph_set_priority(g[0], (enum npu_priority)3), NPU_E_INVAL);
		assert_int_equal(npu_graph_set_priority(NULL, NPU_PRIO_LOW), NPU_E_INVAL);
	}
	/*
	 * The order is only asserted when the blocker was verifiably still
	 * running after all three were queued (else: try again).
	 */
	for (attempt = 0, queued = 0; attempt < 10 && !queued; attempt++) {
		*(int32_t *)log.p = 0;
		assert_int_equal(npu_submit(lj->cmd, &blocker), NPU_OK);
		for (i = 0; i < 3; i++)
			assert_int_equal(graphs ? npu_graph_launch(g[i], &f[i]) :
					 npu_submit(c[i], &f[i]), NPU_OK);
		queued = npu_fence_wait(dev, blocker, 0, NULL) == NPU_E_TIMEOUT;
		for (i = 0; i < 3; i++)
			assert_int_equal(npu_fence_wait(dev, f[i], -1, NULL), NPU_OK);
		/* They ran high (3), normal (2), low (1): ((3 * 4) + 2) * 4 + 1. */
		if (queued)
			assert_int_equal(*(int32_t *)log.p, 57);
	}
	assert_true(queued);
	for (i = 0; i < 3; i++) {
		if (g[i])
			assert_int_equal(npu_graph_destroy(g[i]), NPU_OK);
		npu_cmd_destroy(c[i]);
	}
	t_free(dev, &log);
	t_free(dev, &k);
}

static void priorities(void **state)
{
	npu_device *dev = t_open();
	struct long_job lj;

	(void)state;
	long_job_sized(dev, &lj);
	priority_order(dev, &lj, 0);
	priority_order(dev, &lj, 1);
	long_job_fini(dev, &lj);
	npu_close(dev);
}

/* A buffer freed while a job that uses it is queued: that job faults. */
static void free_under_queued_job(void **state)
{
	npu_device *dev = t_open();
	struct t_buf log, k = t_alloc(dev, 16);
	struct npu_job_result r;
	struct long_job lj;
	uint64_t addr;
	npu_fence blocker, f;
	npu_cmd *c;
	int attempt, faulted, err;

	(void)state;
	long_job_sized(dev, &lj);
	/*
	 * Free while the blocker runs: the queued job then faults at the freed
	 * address. If the blocker had already finished, the job may have run
	 * before the free (status OK) and the attempt is repeated.
	 */
	for (attempt = 0, faulted = 0; attempt < 10 && !faulted; attempt++) {
		log = t_alloc(dev, 4);
		addr = log.addr;
		assert_int_equal(npu_cmd_create(dev, &c), NPU_OK);
		encode_log(c, &log, &k, 1);
		assert_int_equal(npu_submit(lj.cmd, &blocker), NPU_OK);
		assert_int_equal(npu_submit(c, &f), NPU_OK);
		t_free(dev, &log);
		err = npu_fence_wait(dev, f, -1, &r);
		faulted = err == NPU_E_JOB;
		if (faulted) {
			assert_int_equal(r.status, NPU_JOB_FAULT);
			assert_int_equal(r.op_index, 0);
			assert_int_equal(r.fault_addr, addr);
		} else {
			assert_int_equal(err, NPU_OK);
		}
		assert_int_equal(npu_fence_wait(dev, blocker, -1, &r), NPU_OK);
		npu_cmd_destroy(c);
	}
	/* Closed first: a device left open would fail the next tests' opens. */
	long_job_fini(dev, &lj);
	t_free(dev, &k);
	npu_close(dev);
	assert_true(faulted);
}

/*
 * A tiny decoder step as a graph: embed the token, normalize, project,
 * pick the argmax. Replays with new token ids and positions must equal a
 * freshly encoded stream run on the same inputs.
 */
struct step {
	struct t_buf ids, emb, es, x, g, xn, xs, w, wf, logits, tok, pos, cache, freq;
};

static void step_encode(npu_device *dev, struct step *s, npu_cmd *cmd)
{
	struct npu_tensor ids = npu_tensor_2d(s->ids.bo, 0, 1, 1, NPU_I32);
	struct npu_tensor emb = npu_tensor_2d(s->emb.bo, 0, 16, 32, NPU_I8);
	struct npu_tensor x = npu_tensor_2d(s->x.bo, 0, 1, 32, NPU_I16);
	struct npu_tensor g = npu_tensor_2d(s->g.bo, 0, 1, 32, NPU_I16);
	struct npu_tensor xn = npu_tensor_2d(s->xn.bo, 0, 1, 32, NPU_I8);
	struct npu_tensor w = npu_tensor_2d(s->w.bo, 0, 16, 32, NPU_I8);
	struct npu_tensor lg = npu_tensor_2d(s->logits.bo, 0, 1, 16, NPU_I32);
	struct npu_tensor tok = npu_tensor_2d(s->tok.bo, 0, 1, 1, NPU_I32);
	struct npu_tensor cache = npu_tensor_2d(s->cache.bo, 0, 8, 32, NPU_I16);
	struct npu_tensor freq = npu_tensor_2d(s->freq.bo, 0, 1, 4, NPU_I32);
	struct npu_pos pos = { .bo = s->pos.bo };

	(void)dev;
	emb.scale_mode = NPU_SCALE_ROW;
	emb.scale_bo = s->es.bo;
	x.scale_mode = g.scale_mode = cache.scale_mode = lg.scale_mode = NPU_SCALE_TENSOR;
	x.scale = t_scale(1.0 / 1024);
	g.scale = t_scale(1.0 / 4096);
	cache.scale = t_scale(1.0 / 1024);
	lg.scale = t_scale(1.0 / 65536);
	xn.scale_mode = NPU_SCALE_ROW;
	xn.scale_bo = s->xs.bo;
	w.scale_mode = NPU_SCALE_GROUP;
	w.scale = t_scale(0.01);
	w.scale_bo = s->wf.bo;
	assert_int_equal(npu_op_embedding(cmd, &emb, &ids, &x), NPU_OK);
	assert_int_equal(npu_op_rope(cmd, &x, &freq, 4, 8, &pos, &x), NPU_OK);
	assert_int_equal(npu_op_kv_append(cmd, &x, &cache, &pos), NPU_OK);
	assert_int_equal(npu_op_rmsnorm(cmd, &x, &g, t_scale(1e-5), &xn), NPU_OK);
	assert_int_equal(npu_op_matmul(cmd, &xn, &w, 32, NULL, &lg), NPU_OK);
	assert_int_equal(npu_op_argmax(cmd, &lg, &tok), NPU_OK);
}

static void step_alloc(npu_device *dev, struct step *s)
{
	int i;

	s->ids = t_alloc(dev, 4);
	s->emb = t_alloc(dev, 16 * 32);
	s->es = t_alloc(dev, 16 * 8);
	s->x = t_alloc(dev, 64);
	s->g = t_alloc(dev, 64);
	s->xn = t_alloc(dev, 32);
	s->xs = t_alloc(dev, 8);
	s->w = t_alloc(dev, 16 * 32);
	s->wf = t_alloc(dev, 32);
	s->logits = t_alloc(dev, 64);
	s->tok = t_alloc(dev, 4);
	s->pos = t_alloc(dev, 4);
	s->cache = t_alloc(dev, 8 * 64);
	s->freq = t_alloc(dev, 16);
	t_seed(21);
	for (i = 0; i < 16 * 32; i++) {
		((int8_t *)s->emb.p)[i] = (int8_t)t_rand_range(-127, 127);
		((int8_t *)s->w.p)[i] = (int8_t)t_rand_range(-127, 127);
	}
	for (i = 0; i < 16; i++) {
		((struct npu_scale *)s->es.p)[i] = t_scale(0.001 + t_rand_unit() * 0.01);
		((uint16_t *)s->wf.p)[i] = (uint16_t)t_rand_range(1000, 65535);
	}
	for (i = 0; i < 32; i++)
		((int16_t *)s->g.p)[i] = (int16_t)t_rand_range(2000, 8000);
	for (i = 0; i < 4; i++)
		((uint32_t *)s->freq.p)[i] = (uint32_t)t_rand();
}

static void step_free(npu_device *dev, struct step *s)
{
	struct t_buf *all[] = { &s->ids, &s->emb, &s->es, &s->x, &s->g, &s->xn, &s->xs,
				&s->w, &s->wf, &s->logits, &s->tok, &s->pos, &s->cache, &s->freq };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		t_free(dev, all[i]);
}

static void graph_replay(void **state)
{
	npu_device *dev = t_open();
	struct step s;
	npu_cmd *rec, *fresh;
	npu_graph *g;
	npu_fence f;
	int32_t logits[8][16], tok[8], cache[8 * 32];
	int t;

	(void)state;
	step_alloc(dev, &s);
	assert_int_equal(npu_cmd_create(dev, &rec), NPU_OK);
	step_encode(dev, &s, rec);
	assert_int_equal(npu_graph_create(rec, &g), NPU_OK);
	assert_int_equal(npu_graph_create(NULL, &g), NPU_E_INVAL);
	npu_cmd_destroy(rec);	/* the graph does not need the recording any more */

	for (t = 0; t < 8; t++) {
		*(int32_t *)s.ids.p = (t * 5 + 3) % 16;
		*(uint32_t *)s.pos.p = (uint32_t)t;
		assert_int_equal(npu_graph_launch(g, &f), NPU_OK);
		assert_int_equal(npu_fence_wait(dev, f, -1, NULL), NPU_OK);
		memcpy(logits[t], s.logits.p, sizeof(logits[t]));
		tok[t] = *(int32_t *)s.tok.p;
	}
	memcpy(cache, s.cache.p, sizeof(cache));

	/* The same steps encoded afresh each time give the same bits. */
	memset(s.cache.p, 0, 8 * 64);
	for (t = 0; t < 8; t++) {
		*(int32_t *)s.ids.p = (t * 5 + 3) % 16;
		*(uint32_t *)s.pos.p = (uint32_t)t;
		assert_int_equal(npu_cmd_create(dev, &fresh), NPU_OK);
		step_encode(dev, &s, fresh);
		assert_int_equal(t_run(dev, fresh, NULL), NPU_JOB_OK);
		npu_cmd_destroy(fresh);
		assert_memory_equal(logits[t], s.logits.p, sizeof(logits[t]));
		assert_int_equal(tok[t], *(int32_t *)s.tok.p);
	}
	assert_memory_equal(cache, s.cache.p, sizeof(cache));
	/* A position past the cache fails that launch with RANGE, at KV_APPEND. */
	*(uint32_t *)s.pos.p = 8;
	{
		struct npu_job_result r;

		assert_int_equal(npu_graph_launch(g, &f), NPU_OK);
		assert_int_equal(npu_fence_wait(dev, f, -1, &r), NPU_E_JOB);
		assert_int_equal(r.status, NPU_JOB_RANGE);
		assert_int_equal(r.op_index, 2);
	}
	assert_int_equal(npu_graph_destroy(g), NPU_OK);
	assert_int_equal(npu_graph_destroy(NULL), NPU_E_INVAL);
	step_free(dev, &s);
	npu_close(dev);
}

struct thread_arg {
	npu_device *dev;
	int id, failures;
};

/* Each thread: its own buffers and stream, 50 jobs, each result checked. */
static void *submitter(void *p)
{
	struct thread_arg *a = p;
	npu_bo x, o;
	void *xp, *op;
	struct npu_tensor tx, to;
	npu_cmd *cmd;
	npu_fence f;
	int i;

	if (npu_bo_alloc(a->dev, 64, &x) || npu_bo_alloc(a->dev, 64, &o) ||
	    npu_bo_map(a->dev, x, &xp) || npu_bo_map(a->dev, o, &op) ||
	    npu_cmd_create(a->dev, &cmd)) {
		a->failures++;
		return NULL;
	}
	tx = npu_tensor_2d(x, 0, 1, 16, NPU_I32);
	to = npu_tensor_2d(o, 0, 1, 16, NPU_I32);
	tx.scale_mode = to.scale_mode = NPU_SCALE_TENSOR;
	npu_scale_from_double(1, &tx.scale);
	npu_scale_from_double(0.5, &to.scale);
	npu_cmd_set_priority(cmd, (enum npu_priority)(a->id % 3));
	if (npu_op_quantize(cmd, &tx, &to))
		a->failures++;
	for (i = 0; i < 50; i++) {
		((int32_t *)xp)[i % 16] = a->id * 1000 + i;
		if (npu_submit(cmd, &f) || npu_fence_wait(a->dev, f, -1, NULL) ||
		    ((int32_t *)op)[i % 16] != 2 * (a->id * 1000 + i))
			a->failures++;
	}
	npu_cmd_destroy(cmd);
	npu_bo_unmap(a->dev, x);
	npu_bo_unmap(a->dev, o);
	npu_bo_free(a->dev, x);
	npu_bo_free(a->dev, o);
	return NULL;
}

static void threads(void **state)
{
	npu_device *dev = t_open();
	struct thread_arg args[4];
	pthread_t th[4];
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		args[i].dev = dev;
		args[i].id = i;
		args[i].failures = 0;
		assert_int_equal(pthread_create(&th[i], NULL, submitter, &args[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
	npu_close(dev);
}

/* Closing with jobs queued runs them first; nothing leaks (ASan checks). */
static void close_with_jobs_in_flight(void **state)
{
	npu_device *dev = t_open();
	npu_cmd *cmd;
	npu_fence f;
	int i;

	(void)state;
	assert_int_equal(npu_cmd_create(dev, &cmd), NPU_OK);
	assert_int_equal(npu_op_nop(cmd), NPU_OK);
	for (i = 0; i < 100; i++)
		assert_int_equal(npu_submit(cmd, &f), NPU_OK);
	npu_cmd_destroy(cmd);
	(void)t_alloc(dev, 4096);	/* left allocated and mapped on purpose */
	assert_int_equal(npu_close(dev), NPU_OK);
}

/* Profiles: per-op times from a stream and from every launch of a graph. */
static void profiles(void **state)
{
	npu_device *dev = t_open();
	struct t_buf data = t_alloc(dev, 4096), prof = t_alloc(dev, 64);
	struct npu_tensor x = npu_tensor_2d(data.bo, 0, 1, 16, NPU_I32);
	struct npu_tensor out = npu_tensor_2d(data.bo, 1024, 1, 1, NPU_I32);
	struct npu_job_result r;
	uint64_t *slot = prof.p;
	unsigned int opcode;
	npu_graph *g;
	npu_fence f;
	npu_cmd *cmd;
	int i;

	(void)state;
	assert_int_equal(npu_cmd_create(dev, &cmd), NPU_OK);
	assert_int_equal(npu_cmd_set_profile(cmd, prof.bo, 4), NPU_E_INVAL);
	assert_int_equal(npu_cmd_set_profile(NULL, prof.bo, 0), NPU_E_INVAL);
	assert_int_equal(npu_op_nop(cmd), NPU_OK);
	assert_int_equal(npu_op_argmax(cmd, &x, &out), NPU_OK);
	assert_int_equal(npu_cmd_opcode(cmd, 1, &opcode), NPU_OK);
	assert_int_equal(opcode, DRM_NPU_OP_ARGMAX);
	assert_string_equal(npu_op_name(opcode), "ARGMAX");
	assert_int_equal(npu_cmd_opcode(cmd, 2, &opcode), NPU_E_INVAL);
	/* Two ops need 16 bytes: at offset 56 of 64 there are 8. */
	assert_int_equal(npu_cmd_set_profile(cmd, prof.bo, 56), NPU_OK);
	assert_int_equal(npu_submit(cmd, &f), NPU_E_RANGE);
	assert_int_equal(npu_cmd_set_profile(cmd, prof.bo, 0), NPU_OK);
	memset(prof.p, 0xee, 64);
	assert_int_equal(t_run(dev, cmd, &r), NPU_JOB_OK);
	assert_true(slot[0] != 0xeeeeeeeeeeeeeeeeull && slot[1] != 0xeeeeeeeeeeeeeeeeull);
	assert_int_equal(slot[2], 0xeeeeeeeeeeeeeeeeull);
	/* A graph writes the profile again at every launch. */
	assert_int_equal(npu_graph_create(cmd, &g), NPU_OK);
	for (i = 0; i < 2; i++) {
		memset(prof.p, 0xee, 16);
		assert_int_equal(npu_graph_launch(g, &f), NPU_OK);
		assert_int_equal(npu_fence_wait(dev, f, -1, &r), NPU_OK);
		assert_true(slot[0] < 1000000000ull && slot[1] < 1000000000ull);
	}
	assert_int_equal(npu_graph_destroy(g), NPU_OK);
	assert_int_equal(npu_cmd_destroy(cmd), NPU_OK);
	t_free(dev, &prof);
	t_free(dev, &data);
	npu_close(dev);
}

static void scales(void **state)
{
	struct npu_scale s;

	(void)state;
	assert_int_equal(npu_scale_from_double(1.0, &s), NPU_OK);
	assert_int_equal(s.mult, 1 << 30);
	assert_int_equal(s.shift, 30);
	assert_int_equal(npu_scale_from_double(0.75, &s), NPU_OK);
	assert_true(npu_scale_to_double(s) == 0.75);
	assert_int_equal(npu_scale_from_double(0, &s), NPU_E_INVAL);
	assert_int_equal(npu_scale_from_double(-1, &s), NPU_E_INVAL);
	assert_int_equal(npu_scale_from_double(1.0 / 0.0, &s), NPU_E_INVAL);
	assert_int_equal(npu_scale_from_double(1e-300, &s), NPU_E_RANGE);
	assert_int_equal(npu_scale_from_double(1e300, &s), NPU_E_RANGE);
	assert_int_equal(npu_scale_from_double(1.0, NULL), NPU_E_INVAL);
	/* Relative error of the 31-bit mantissa: at most 2^-31. */
	assert_int_equal(npu_scale_from_double(0.1, &s), NPU_OK);
	assert_true(fabs(npu_scale_to_double(s) / 0.1 - 1) < 1.0 / (1u << 31));
}

/*
 * One row of int8 activations times 300 x 1024 int4 weights in groups of
 * 32 (their factors at @f_off in @f), into @o.
 */
static npu_cmd *sealed_matmul(npu_device *dev, const struct t_buf *x, const struct t_buf *xs,
			      const struct t_buf *w, const struct t_buf *f, uint64_t f_off,
			      const struct t_buf *o, const struct t_buf *os)
{
	struct npu_tensor tx = npu_tensor_2d(x->bo, 0, 1, 1024, NPU_I8);
	struct npu_tensor tw = npu_tensor_2d(w->bo, 0, 300, 1024, NPU_I4);
	struct npu_tensor to = npu_tensor_2d(o->bo, 0, 1, 300, NPU_I16);
	npu_cmd *cmd;

	assert_int_equal(npu_cmd_create(dev, &cmd), NPU_OK);
	tx.scale_mode = to.scale_mode = NPU_SCALE_ROW;
	tx.scale_bo = xs->bo;
	to.scale_bo = os->bo;
	tw.scale_mode = NPU_SCALE_GROUP;
	tw.scale = t_scale(0.001);
	tw.scale_bo = f->bo;
	tw.scale_offset = f_off;
	assert_int_equal(npu_op_matmul(cmd, &tx, &tw, 32, NULL, &to), NPU_OK);
	return cmd;
}

/*
 * Sealed weights give the bits they gave before (the cpu backend packs
 * int4 ones at their first decode matmul and reads the copy after); the
 * cpu backend refuses writes to them, from jobs and through the mapping,
 * and drops the copy with the buffer.
 */
static void sealed_buffers(void **state)
{
	npu_device *dev = t_open();
	struct t_buf x = t_alloc(dev, 1024), xs = t_alloc(dev, 8), o = t_alloc(dev, 600);
	struct t_buf os = t_alloc(dev, 8), w = t_alloc(dev, 300 * 512 + 300 * 32 * 2);
	struct t_buf f = t_alloc(dev, 300 * 32 * 2);
	struct npu_job_result res;
	struct npu_memory mem;
	struct npu_info info;
	uint8_t want[600], want_scale[8], first;
	npu_cmd *cmd, *bad, *loose;
	uint64_t packed = 0;
	int i, status, cpu, packs;
	pid_t child;

	(void)state;
	assert_int_equal(npu_query(dev, &info), NPU_OK);
	cpu = !strcmp(info.backend, "cpu");
	packs = cpu && strstr(info.name, "avx512") != NULL;
	t_seed(4242);
	for (i = 0; i < 1024; i++)
		((uint8_t *)x.p)[i] = (uint8_t)t_rand();
	*(struct npu_scale *)xs.p = t_scale(0.02);
	for (i = 0; i < (int)w.size; i++)
		((uint8_t *)w.p)[i] = (uint8_t)t_rand();
	cmd = sealed_matmul(dev, &x, &xs, &w, &w, 300 * 512, &o, &os);
	assert_int_equal(t_run(dev, cmd, NULL), NPU_JOB_OK);
	memcpy(want, o.p, sizeof(want));
	memcpy(want_scale, os.p, sizeof(want_scale));

	assert_int_equal(npu_bo_seal(NULL, w.bo), NPU_E_INVAL);
	assert_int_equal(npu_bo_seal(dev, 0), NPU_E_HANDLE);
	assert_int_equal(npu_bo_seal(dev, w.bo), NPU_OK);
	assert_int_equal(npu_bo_seal(dev, w.bo), NPU_OK);
	for (i = 0; i < 3; i++) {
		memset(o.p, 0, sizeof(want));
		assert_int_equal(t_run(dev, cmd, NULL), NPU_JOB_OK);
		assert_memory_equal(o.p, want, sizeof(want));
		assert_memory_equal(os.p, want_scale, sizeof(want_scale));
		/* One copy, made at the first run and read after. */
		assert_int_equal(npu_memory_usage(dev, &mem), NPU_OK);
		if (i == 0)
			packed = mem.packed;
		assert_int_equal(mem.packed, packed);
	}
	assert_int_equal(npu_memory_usage(NULL, &mem), NPU_E_INVAL);
	assert_int_equal(npu_memory_usage(dev, NULL), NPU_E_INVAL);
	assert_int_equal(npu_memory_usage(dev, &mem), NPU_OK);
	assert_true(mem.buffers >= x.size + xs.size + o.size + os.size + w.size);
	if (packs)
		assert_true(mem.packed >= w.size && mem.packed < 2 * w.size);
	else
		assert_int_equal(mem.packed, 0);

	/* Sealed weights whose factors are not sealed are not packed. */
	memcpy(f.p, (uint8_t *)w.p + 300 * 512, 300 * 32 * 2);
	loose = sealed_matmul(dev, &x, &xs, &w, &f, 0, &o, &os);
	memset(o.p, 0, sizeof(want));
	assert_int_equal(t_run(dev, loose, NULL), NPU_JOB_OK);
	assert_memory_equal(o.p, want, sizeof(want));
	assert_memory_equal(os.p, want_scale, sizeof(want_scale));
	assert_int_equal(npu_memory_usage(dev, &mem), NPU_OK);
	assert_int_equal(mem.packed, packed);
	npu_cmd_destroy(loose);

	if (cpu) {
		/* A job writing the sealed buffer faults there; the next job runs. */
		bad = sealed_matmul(dev, &x, &xs, &w, &w, 300 * 512, &w, &os);
		assert_int_equal(t_run(dev, bad, &res), NPU_JOB_FAULT);
		assert_int_equal(res.fault_addr, w.addr);
		npu_cmd_destroy(bad);
		memset(o.p, 0, sizeof(want));
		assert_int_equal(t_run(dev, cmd, NULL), NPU_JOB_OK);
		assert_memory_equal(o.p, want, sizeof(want));
		assert_memory_equal(os.p, want_scale, sizeof(want_scale));

		/* A write through the mapping is a segmentation fault. */
		first = *(volatile uint8_t *)w.p;
		child = fork();
		assert_true(child >= 0);
		if (child == 0) {
			signal(SIGSEGV, SIG_DFL);
			(*(volatile uint8_t *)w.p)++;
			_exit(0);
		}
		assert_int_equal(waitpid(child, &status, 0), child);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
		assert_int_equal(*(volatile uint8_t *)w.p, first);
	}
	npu_cmd_destroy(cmd);
	t_free(dev, &w);
	assert_int_equal(npu_memory_usage(dev, &mem), NPU_OK);
	assert_int_equal(mem.packed, 0);
	t_free(dev, &x);
	t_free(dev, &xs);
	t_free(dev, &o);
	t_free(dev, &os);
	t_free(dev, &f);
	npu_close(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(strerror_texts),
		cmocka_unit_test(buffer_handles),
		cmocka_unit_test(fences),
		cmocka_unit_test(priorities),
		cmocka_unit_test(free_under_queued_job),
		cmocka_unit_test(graph_replay),
		cmocka_unit_test(threads),
		cmocka_unit_test(close_with_jobs_in_flight),
		cmocka_unit_test(profiles),
		cmocka_unit_test(scales),
		cmocka_unit_test(sealed_buffers),
	};

	return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
