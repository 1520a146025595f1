// SPDX-License-Identifier: MIT
/*
 * A context's forward pass on an NPU, through libnpu ops only, over the
 * model's weights (weights.c). Activations use dynamic per-row scales: the
 * residual stream, the projections and the FFN's down-projection input
 * int16, the heads' output into the output projection int8, and the norms'
 * outputs (the inputs of Q, K, V, the gate and up, the classifier) int16
 * or int8 as the context asks (norm_wide: with 8-bit weights int16 halves
 * the KL against the float model; it slows the int8 kernels of w8 and
 * w4gN, not a file's blocks'). One
 * token's step is recorded once as a graph; its token id and position are
 * read from device memory, so it is replayed as is. A prompt is prefilled
 * in batches of up to PREFILL rows, of which only the last goes through
 * the classifier. A pass whose ops overflow one command stream runs as
 * several jobs of whole layers, one after another. Greedy decoding runs
 * bursts of steps as one job: each step's ARGMAX picks the token the next
 * step embeds, and an ADD moves the position on.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <drm/npu_accel.h>

#include "llm_internal.h"

#define PREFILL 64
#define BURST_LOG 4		/* bursts of up to 2^4 steps */
_Static_assert(1 << BURST_LOG == NPU_LLM_BURST_MAX, "a burst size per power of two");

/* An activation: rows x cols of one type, with per-row scales. */
struct act {
	struct dbuf data, scales;
	uint32_t cols;
	enum npu_dtype dt;
};

/* A layer's KV caches, and its output with opts.trace. */
struct layer_state {
	struct act kc, vc;
	struct act trace;
};

/* A recorded burst of greedy steps: the graph and its opcodes. */
struct burst {
	npu_graph *g;
	unsigned int *ops;
	uint32_t n_ops;
};

/*
 * One job's share of a forward pass: layers [l0, l1), after the embedding
 * when l0 is 0, before the classifier when l1 is the last. @step is its
 * share of one token's step, recorded; @ops its opcodes.
 */
struct part {
	int l0, l1;
	npu_graph *step;
	unsigned int *ops;
	uint32_t n_ops;
};

struct npu_engine {
	npu_device *dev;
	const struct llm_weights *w;
	struct npu_model_config c;
	int ctx;		/* positions the KV caches hold */
	struct layer_state *layers;
	struct dbuf ids;	/* a pass's token ids; a burst's picks */
	struct dbuf pos;	/* the position, and the 1 a burst adds to it each step */
	struct act x, xn, q, k, v, att, tmp, h1, h3, logits;
	struct dbuf qn, kn;	/* cfg.qk_norm: Q and K after their heads' norms */
	struct part *parts;
	int n_parts;
	struct burst bursts[BURST_LOG + 1];	/* 2^i steps, up to burst_max */
	int burst_max;		/* the most steps one job holds; 0: a step is many jobs */
	npu_cmd *cmd;		/* a prefill batch's part, encoded anew */
	unsigned int *job_ops;	/* its opcodes */
	uint64_t bytes;
	int trace;
	uint32_t last_rows;
	/* The last job that failed: its result and the opcode of the failing op. */
	struct npu_job_result fail;
	unsigned int fail_op;
	/* opts.profile: one slot per op of the running job, and the totals. */
	struct dbuf prof;
	uint64_t prof_ns[NPU_LLM_OPCODES], prof_count[NPU_LLM_OPCODES];
};

static uint64_t dt_bytes(enum npu_dtype dt)
{
	return dt == NPU_I8 ? 1 : dt == NPU_I16 ? 2 : 4;
}

static int act_new(struct npu_engine *e, uint32_t rows, uint32_t cols, enum npu_dtype dt,
		   struct act *a)
{
	int err = llm_dbuf_new(e->dev, (uint64_t)rows * cols * dt_bytes(dt), &a->data, &e->bytes);

	if (!err)
		err = llm_dbuf_new(e->dev, rows * 8ull, &a->scales, &e->bytes);
	a->cols = cols;
	a->dt = dt;
	return err;
}

static struct npu_tensor T_act(const struct act *a, uint32_t rows)
{
	struct npu_tensor t = npu_tensor_2d(a->data.bo, 0, rows, a->cols, a->dt);

	t.scale_mode = NPU_SCALE_ROW;
	t.scale_bo = a->scales.bo;
	return t;
}

/* Row @row of @a alone, with its scale. */
static struct npu_tensor T_row(const struct act *a, uint32_t row)
{
	struct npu_tensor t = T_act(a, 1);

	t.offset = (uint64_t)row * a->cols * dt_bytes(a->dt);
	t.scale_offset = row * 8ull;
	return t;
}

static struct npu_tensor T_mat(const struct dmat *d)
{
	struct npu_tensor t = npu_tensor_2d(d->b.bo, 0, (uint32_t)d->rows, (uint32_t)d->cols,
					    d->dt);

	t.scale_mode = d->block.block_groups ? NPU_SCALE_BLOCK : NPU_SCALE_GROUP;
	t.scale = d->scale;
	t.scale_bo = d->b.bo;
	t.scale_offset = d->factors_off;
	return t;
}

static struct npu_tensor T_gain(const struct dbuf *b, struct npu_scale s, uint32_t n)
{
	struct npu_tensor t = npu_tensor_2d(b->bo, 0, 1, n, NPU_I16);

	t.scale_mode = NPU_SCALE_TENSOR;
	t.scale = s;
	return t;
}

/* out = x . w^T, plus @bias (int32, one scale) when it is set. */
static int matmul_bias(npu_cmd *cmd, const struct act *x, const struct dmat *w,
		       const struct dbuf *bias, struct npu_scale bias_scale, const struct act *out,
		       uint32_t rows)
{
	struct npu_tensor tx = T_act(x, rows), tw = T_mat(w), to = T_act(out, rows);
	struct npu_tensor tb = npu_tensor_2d(bias->bo, 0, 1, (uint32_t)w->rows, NPU_I32);
	const struct npu_tensor *b = bias->bo ? &tb : NULL;

	tb.scale_mode = NPU_SCALE_TENSOR;
	tb.scale = bias_scale;
	if (w->block.block_groups)
		return npu_op_matmul_block(cmd, &tx, &tw, &w->block, b, &to);
	return npu_op_matmul(cmd, &tx, &tw, (uint32_t)w->group, b, &to);
}

static int matmul(npu_cmd *cmd, const struct act *x, const struct dmat *w, const struct act *out,
		  uint32_t rows)
{
	static const struct dbuf none;

	return matmul_bias(cmd, x, w, &none, (struct npu_scale){ 0 }, out, rows);
}

/* The tensors every layer reads or writes, for @rows tokens. */
struct pass {
	struct npu_tensor x, xn, q, k, v, att, tmp, h1, h3, freq;
	struct npu_pos pos;
	struct npu_scale eps, alpha;
	uint32_t rows, hs;
};

static void pass_init(const struct npu_engine *e, uint32_t rows, struct pass *p)
{
	const struct npu_model_config *c = &e->c;

	p->rows = rows;
	p->hs = (uint32_t)c->head_dim;
	p->pos = (struct npu_pos){ .bo = e->pos.bo };
	p->freq = npu_tensor_2d(e->w->freq.bo, 0, 1, p->hs / 2, NPU_I32);
	p->x = T_act(&e->x, rows);
	p->xn = T_act(&e->xn, rows);
	p->q = T_act(&e->q, rows);
	p->k = T_act(&e->k, rows);
	p->v = T_act(&e->v, rows);
	p->att = T_act(&e->att, rows);
	p->tmp = T_act(&e->tmp, rows);
	p->h1 = T_act(&e->h1, rows);
	p->h3 = T_act(&e->h3, rows);
	npu_scale_from_double(c->norm_eps, &p->eps);
	/* YaRN scales the rotated Q and K: their products by its square. */
	npu_scale_from_double(e->w->rope_mscale * e->w->rope_mscale / sqrt((double)p->hs),
			      &p->alpha);
}

/*
 * Qwen3's RMSNorm of each head of @x (int16, a scale per token) into
 * @out (int16, one scale): the rows viewed as one row per head. The op
 * reads one scale per row it normalizes, and the heads of a token share
 * their token's, so the view takes any one scale: the norm does not
 * depend on it, but for eps, which the heads' integers (thousands of
 * units) make negligible.
 */
static void head_norm(npu_cmd *cmd, const struct npu_tensor *x, uint32_t heads, uint32_t hs,
		      const struct dbuf *g, struct npu_scale gs, struct npu_scale eps,
		      const struct dbuf *out, struct npu_scale out_scale, struct npu_tensor *to)
{
	struct npu_tensor tx = npu_tensor_2d(x->bo, 0, x->rows * heads, hs, NPU_I16);
	struct npu_tensor tg = T_gain(g, gs, hs);

	npu_scale_from_double(1.0, &tx.scale);
	tx.scale_mode = NPU_SCALE_TENSOR;
	*to = npu_tensor_2d(out->bo, 0, x->rows * heads, hs, NPU_I16);
	to->scale_mode = NPU_SCALE_TENSOR;
	to->scale = out_scale;
	npu_op_rmsnorm(cmd, &tx, &tg, eps, to);
	to->rows = x->rows;
	to->cols = heads * hs;
}

/*
 * The stream keeps its first encoder error (npu_cmd_count() and the submit
 * return it): a pass is encoded whole and checked once.
 */
static void encode_layer(struct npu_engine *e, npu_cmd *cmd, struct pass *p, int l)
{
	const struct npu_model_config *c = &e->c;
	const struct layer_weights *L = &e->w->layers[l];
	struct layer_state *S = &e->layers[l];
	struct npu_tensor ga = T_gain(&L->g_att, L->s_att, (uint32_t)c->dim);
	struct npu_tensor gf = T_gain(&L->g_ffn, L->s_ffn, (uint32_t)c->dim);
	struct npu_tensor kc = T_act(&S->kc, (uint32_t)e->ctx);
	struct npu_tensor vc = T_act(&S->vc, (uint32_t)e->ctx);
	uint32_t rows = p->rows, hs = p->hs;

	struct npu_tensor q = p->q, k = p->k;

	npu_op_rmsnorm(cmd, &p->x, &ga, p->eps, &p->xn);
	matmul_bias(cmd, &e->xn, &L->wq, &L->bq, L->s_bq, &e->q, rows);
	matmul_bias(cmd, &e->xn, &L->wk, &L->bk, L->s_bk, &e->k, rows);
	matmul_bias(cmd, &e->xn, &L->wv, &L->bv, L->s_bv, &e->v, rows);
	if (c->qk_norm) {
		head_norm(cmd, &p->q, (uint32_t)c->n_heads, hs, &L->g_qn, L->s_qn, p->eps, &e->qn,
			  L->o_qn, &q);
		head_norm(cmd, &p->k, (uint32_t)c->n_kv_heads, hs, &L->g_kn, L->s_kn, p->eps,
			  &e->kn, L->o_kn, &k);
	}
	npu_op_rope(cmd, &q, &p->freq, (uint32_t)c->n_heads, hs, &p->pos, &q);
	npu_op_rope(cmd, &k, &p->freq, (uint32_t)c->n_kv_heads, hs, &p->pos, &k);
	npu_op_kv_append(cmd, &k, &kc, &p->pos);
	npu_op_kv_append(cmd, &p->v, &vc, &p->pos);
	npu_op_attention(cmd, &q, &kc, &vc, (uint32_t)c->n_heads, (uint32_t)c->n_kv_heads, hs,
			 p->alpha, &p->pos, &p->att);
	matmul(cmd, &e->att, &L->wo, &e->tmp, rows);
	npu_op_add(cmd, &p->x, &p->tmp, &p->x);
	npu_op_rmsnorm(cmd, &p->x, &gf, p->eps, &p->xn);
	matmul(cmd, &e->xn, &L->w1, &e->h1, rows);
	matmul(cmd, &e->xn, &L->w3, &e->h3, rows);
	if (c->ffn_gelu)
		npu_op_gelu(cmd, &p->h1, &p->h1);
	else
		npu_op_silu(cmd, &p->h1, &p->h1);
	npu_op_mul(cmd, &p->h1, &p->h3, &p->h1);
	matmul(cmd, &e->h1, &L->w2, &e->tmp, rows);
	npu_op_add(cmd, &p->x, &p->tmp, &p->x);
	if (e->trace) {
		struct npu_tensor tr = T_act(&S->trace, rows);

		npu_op_quantize(cmd, &p->x, &tr);
	}
}

/*
 * Layers [l0, l1) of a forward pass of @rows tokens (ids from row @id_row
 * of e->ids, and the position, in device memory): the embedding first
 * when @head, the classifier last when @tail.
 */
static void encode(struct npu_engine *e, npu_cmd *cmd, uint32_t rows, uint32_t id_row, int l0,
		   int l1, int head, int tail)
{
	const struct npu_model_config *c = &e->c;
	struct npu_tensor ids = npu_tensor_2d(e->ids.bo, id_row * 4ull, rows, 1, NPU_I32);
	struct npu_tensor emb = npu_tensor_2d(e->w->emb.bo, 0, (uint32_t)c->vocab_size,
					      (uint32_t)c->dim, NPU_I8);
	struct pass p;
	int l;

	pass_init(e, rows, &p);
	emb.scale_mode = NPU_SCALE_ROW;
	emb.scale_bo = e->w->emb_scales.bo;
	if (head && e->w->emb_block) {
		struct npu_tensor tab = T_mat(e->w->emb_block);

		npu_op_embedding_block(cmd, &tab, &e->w->emb_block->block, &ids, &p.x);
	} else if (head) {
		npu_op_embedding(cmd, &emb, &ids, &p.x);
	}
	/* Gemma's embedding times sqrt(dim): a row of that constant, broadcast. */
	if (head && e->w->emb_mul.bo) {
		struct npu_tensor k = T_gain(&e->w->emb_mul, e->w->s_emb_mul, (uint32_t)c->dim);

		npu_op_mul(cmd, &p.x, &k, &p.x);
	}
	for (l = l0; l < l1; l++)
		encode_layer(e, cmd, &p, l);
	/* Logits of the last row only: the next token follows from it alone. */
	if (tail) {
		struct npu_tensor gfin = T_gain(&e->w->g_final, e->w->s_final, (uint32_t)c->dim);
		struct npu_tensor last = T_row(&e->x, rows - 1), xn0 = T_act(&e->xn, 1);

		npu_op_rmsnorm(cmd, &last, &gfin, p.eps, &xn0);
		/* The host samples from the logits; a greedy burst picks from them. */
		matmul(cmd, &e->xn, &e->w->wcls, &e->logits, 1);
	}
}

static void encode_part(struct npu_engine *e, npu_cmd *cmd, uint32_t rows, const struct part *pt)
{
	encode(e, cmd, rows, 0, pt->l0, pt->l1, pt->l0 == 0, pt->l1 == e->c.n_layers);
}

/* The cmd's opcodes into @ops (*@n of them); with profiling, its profile into e->prof. */
static int ops_keep(struct npu_engine *e, npu_cmd *cmd, unsigned int *ops, uint32_t *n)
{
	uint32_t i;
	int err = npu_cmd_count(cmd, n);

	for (i = 0; !err && i < *n; i++)
		err = npu_cmd_opcode(cmd, i, &ops[i]);
	if (!err && e->prof.bo)
		err = npu_cmd_set_profile(cmd, e->prof.bo, 0);
	return err;
}

static void prof_collect(struct npu_engine *e, const unsigned int *ops, uint32_t n)
{
	const uint64_t *slot = e->prof.p;
	uint32_t i;

	for (i = 0; e->prof.bo && i < n; i++) {
		e->prof_ns[ops[i] % NPU_LLM_OPCODES] += slot[i];
		e->prof_count[ops[i] % NPU_LLM_OPCODES]++;
	}
}

void engine_profile(const struct npu_engine *e, uint64_t ns[NPU_LLM_OPCODES],
		    uint64_t count[NPU_LLM_OPCODES])
{
	memcpy(ns, e->prof_ns, sizeof(e->prof_ns));
	memcpy(count, e->prof_count, sizeof(e->prof_count));
}

/* Wait for the job whose opcodes are @ops; a failure is kept in e->fail. */
static int job_wait(struct npu_engine *e, npu_fence f, const unsigned int *ops, uint32_t n)
{
	struct npu_job_result r;
	int err = npu_fence_wait(e->dev, f, -1, &r);

	if (err == NPU_E_JOB) {
		e->fail = r;
		e->fail_op = r.op_index < n ? ops[r.op_index] : ~0u;
	}
	if (!err)
		prof_collect(e, ops, n);
	return err;
}

/* What failed: the failing job's op and status, else @err's text. */
static void fail_text(const struct npu_engine *e, int err, char *buf, size_t len)
{
	const char *op = npu_op_name(e->fail_op);

	if (err == NPU_E_JOB)
		snprintf(buf, len, "job failed at op %u (%s): %s", e->fail.op_index, op ? op : "?",
			 npu_strerror((int)e->fail.status));
	else
		snprintf(buf, len, "%s", npu_strerror(err));
}

/*
 * Part @i of a pass of @rows tokens, their ids and position in place: the
 * recorded step for one row, else encoded now. The parts of a pass run
 * one after another: a job starts only once the one before it is done.
 */
static int run_part(struct npu_engine *e, int i, uint32_t rows)
{
	const struct part *pt = &e->parts[i];
	npu_fence f;
	uint32_t n = 0;
	int err;

	if (rows == 1) {
		err = npu_graph_launch(pt->step, &f);
		return err ? err : job_wait(e, f, pt->ops, pt->n_ops);
	}
	err = npu_cmd_reset(e->cmd);
	if (!err)
		encode_part(e, e->cmd, rows, pt);
	err = err ? err : ops_keep(e, e->cmd, e->job_ops, &n);
	err = err ? err : npu_submit(e->cmd, &f);
	return err ? err : job_wait(e, f, e->job_ops, n);
}

/*
 * A burst of 2^@i greedy steps, recorded: each picks the first maximum of
 * the logits (integers of one scale) into its row of ids, runs the pass
 * on it, and adds 1 to the position.
 */
static int burst_record(struct npu_engine *e, int i)
{
	struct burst *b = &e->bursts[i];
	struct npu_tensor logits = T_act(&e->logits, 1);
	struct npu_tensor pos = npu_tensor_2d(e->pos.bo, 0, 1, 1, NPU_I32);
	struct npu_tensor one = npu_tensor_2d(e->pos.bo, 4, 1, 1, NPU_I32);
	uint32_t s;
	int err;

	pos.scale_mode = one.scale_mode = NPU_SCALE_TENSOR;
	npu_scale_from_double(1, &pos.scale);
	one.scale = pos.scale;
	b->ops = calloc(DRM_NPU_CMD_MAX_OPS, sizeof(*b->ops));
	err = b->ops ? npu_cmd_reset(e->cmd) : NPU_E_NOMEM;
	for (s = 0; !err && s < 1u << i; s++) {
		struct npu_tensor id = npu_tensor_2d(e->ids.bo, s * 4ull, 1, 1, NPU_I32);

		npu_op_argmax(e->cmd, &logits, &id);
		encode(e, e->cmd, 1, s, 0, e->c.n_layers, 1, 1);
		npu_op_add(e->cmd, &pos, &one, &pos);
	}
	err = err ? err : ops_keep(e, e->cmd, b->ops, &b->n_ops);
	err = err ? err : npu_graph_create(e->cmd, &b->g);
	if (err) {
		free(b->ops);
		b->ops = NULL;
	}
	return err;
}

/*
 * One decode step whose result is not read, before the first real one:
 * a backend's one-time work happens here and counts in the load, not in
 * the first token (the cpu backend packs the sealed int4 weights: 384
 * MiB for the 1B model at W4, about 0.7 s here, mostly the first touch
 * of new pages). The cache row it writes is the first one a prompt
 * writes; no profile totals are collected from it.
 */
static int warm_up(struct npu_engine *e)
{
	int err = 0, i;

	*(int32_t *)e->ids.p = 0;
	((uint32_t *)e->pos.p)[0] = 0;
	((uint32_t *)e->pos.p)[1] = 1;	/* what a greedy burst adds to it each step */
	for (i = 0; i < e->n_parts && !err; i++)
		err = run_part(e, i, 1);
	memset(e->prof_ns, 0, sizeof(e->prof_ns));
	memset(e->prof_count, 0, sizeof(e->prof_count));
	return err;
}

/*
 * The positions the caches hold: what the run asks (@positions, else the
 * whole context), if the device's attention can take that many.
 */
static int size_context(npu_device *dev, const struct npu_model_config *c, int positions,
			int *ctx, char *errbuf, size_t err_len)
{
	uint32_t qc = (uint32_t)(c->head_dim * c->n_heads);
	uint32_t kc = (uint32_t)(c->head_dim * c->n_kv_heads);
	struct npu_info info;
	uint64_t limit;
	int err = npu_query(dev, &info);

	err = err ? err : npu_attention_rows(dev, (uint32_t)c->n_heads, qc, kc, &limit);
	if (err) {
		snprintf(errbuf, err_len, "querying the device: %s", npu_strerror(err));
		return err;
	}
	*ctx = positions > 0 && positions < c->seq_len ? positions : c->seq_len;
	if ((uint64_t)*ctx <= limit)
		return NPU_OK;
	if (positions > 0)
		snprintf(errbuf, err_len, "the run needs %d positions, more than the device's "
			 "attention limit of %llu positions (%d heads, %llu bytes of scratch)", *ctx,
			 (unsigned long long)limit, c->n_heads,
			 (unsigned long long)info.scratch_size);
	else
		snprintf(errbuf, err_len, "context_length %d exceeds the device's attention limit "
			 "of %llu positions (%d heads, %llu bytes of scratch)", c->seq_len,
			 (unsigned long long)limit, c->n_heads,
			 (unsigned long long)info.scratch_size);
	return NPU_E_RANGE;
}

/*
 * Split a pass into jobs of whole layers, as even as a stream's op limit
 * allows, and record each one's share of a step. A layer's ops outnumber
 * the buffers it adds, so a job within the op limit is within the limit
 * of buffers per job too.
 */
static int plan_parts(struct npu_engine *e)
{
	int layers = e->c.n_layers, per_job, i, err;
	uint32_t fixed = 0, per = 0;

	encode(e, e->cmd, 1, 0, 0, 0, 1, 1);
	err = npu_cmd_count(e->cmd, &fixed);
	err = err ? err : npu_cmd_reset(e->cmd);
	if (!err)
		encode(e, e->cmd, 1, 0, 0, 1, 0, 0);
	err = err ? err : npu_cmd_count(e->cmd, &per);
	if (err)
		return err;
	per_job = (int)((DRM_NPU_CMD_MAX_OPS - fixed) / per);
	e->n_parts = (layers + per_job - 1) / per_job;
	per_job = (layers + e->n_parts - 1) / e->n_parts;
	e->n_parts = (layers + per_job - 1) / per_job;
	/* A burst's step is one pass and its ARGMAX and ADD. */
	for (e->burst_max = 1 << BURST_LOG;
	     e->burst_max && (uint64_t)e->burst_max * (fixed + per * layers + 2) > DRM_NPU_CMD_MAX_OPS;
	     e->burst_max /= 2)
		;
	if (e->n_parts > 1)
		e->burst_max = 0;
	e->parts = calloc((size_t)e->n_parts, sizeof(*e->parts));
	if (!e->parts)
		return NPU_E_NOMEM;
	for (i = 0; i < e->n_parts && !err; i++) {
		struct part *pt = &e->parts[i];

		pt->l0 = i * per_job;
		pt->l1 = pt->l0 + per_job < layers ? pt->l0 + per_job : layers;
		pt->ops = calloc(DRM_NPU_CMD_MAX_OPS, sizeof(*pt->ops));
		err = pt->ops ? npu_cmd_reset(e->cmd) : NPU_E_NOMEM;
		if (!err)
			encode_part(e, e->cmd, 1, pt);
		err = err ? err : ops_keep(e, e->cmd, pt->ops, &pt->n_ops);
		err = err ? err : npu_graph_create(e->cmd, &pt->step);
	}
	return err;
}

/*
 * The norms' outputs int16 (enum npu_llm_norm_act): by default over a
 * file's blocks, whose kernels widen the activations anyway.
 */
static int norm_wide(const struct llm_weights *w, const struct engine_opts *o)
{
	if (o->norm_act != NPU_LLM_NORM_AUTO)
		return o->norm_act == NPU_LLM_NORM_INT16;
	return w->layers[0].wq.block.block_groups != 0;
}

int engine_create(struct llm_weights *w, const struct engine_opts *o, int positions,
		  struct npu_engine **out, char *errbuf, size_t err_len)
{
	const struct npu_model_config *c = &w->c;
	struct npu_engine *e = calloc(1, sizeof(*e));
	uint32_t d = (uint32_t)c->dim, hdim = (uint32_t)c->hidden_dim;
	uint32_t qd = (uint32_t)(c->head_dim * c->n_heads);
	uint32_t kv = (uint32_t)(c->head_dim * c->n_kv_heads);
	int l, err = 0;

	if (!e) {
		snprintf(errbuf, err_len, "%s", npu_strerror(NPU_E_NOMEM));
		return NPU_E_NOMEM;
	}
	e->dev = w->dev;
	e->w = w;
	e->c = *c;
	e->trace = o->trace;
	err = size_context(e->dev, c, positions, &e->ctx, errbuf, err_len);
	if (err) {
		free(e);
		return err;
	}
	e->layers = calloc((size_t)c->n_layers, sizeof(*e->layers));
	e->job_ops = calloc(DRM_NPU_CMD_MAX_OPS, sizeof(*e->job_ops));
	if (!e->layers || !e->job_ops)
		err = NPU_E_NOMEM;
	for (l = 0; l < c->n_layers && !err; l++) {
		struct layer_state *S = &e->layers[l];

		err = act_new(e, (uint32_t)e->ctx, kv, NPU_I16, &S->kc);
		err = err ? err : act_new(e, (uint32_t)e->ctx, kv, NPU_I16, &S->vc);
		if (o->trace)
			err = err ? err : act_new(e, PREFILL, d, NPU_I16, &S->trace);
	}
	err = err ? err : llm_dbuf_new(e->dev, PREFILL * 4, &e->ids, &e->bytes);
	err = err ? err : llm_dbuf_new(e->dev, 8, &e->pos, &e->bytes);
	err = err ? err : act_new(e, PREFILL, d, NPU_I16, &e->x);
	err = err ? err : act_new(e, PREFILL, d, norm_wide(w, o) ? NPU_I16 : NPU_I8, &e->xn);
	err = err ? err : act_new(e, PREFILL, qd, NPU_I16, &e->q);
	err = err ? err : act_new(e, PREFILL, kv, NPU_I16, &e->k);
	err = err ? err : act_new(e, PREFILL, kv, NPU_I16, &e->v);
	err = err ? err : act_new(e, PREFILL, qd, NPU_I8, &e->att);
	if (c->qk_norm) {
		err = err ? err : llm_dbuf_new(e->dev, PREFILL * 2ull * qd, &e->qn, &e->bytes);
		err = err ? err : llm_dbuf_new(e->dev, PREFILL * 2ull * kv, &e->kn, &e->bytes);
	}
	err = err ? err : act_new(e, PREFILL, d, NPU_I16, &e->tmp);
	err = err ? err : act_new(e, PREFILL, hdim, NPU_I16, &e->h1);
	err = err ? err : act_new(e, PREFILL, hdim, NPU_I16, &e->h3);
	err = err ? err : act_new(e, 1, (uint32_t)c->vocab_size, NPU_I32, &e->logits);
	/* A slot per op of a job, whichever part it runs. */
	if (o->profile)
		err = err ? err : llm_dbuf_new(e->dev, 8ull * DRM_NPU_CMD_MAX_OPS, &e->prof,
					       &e->bytes);
	/* Record each part of one token's step once. */
	err = err ? err : npu_cmd_create(e->dev, &e->cmd);
	err = err ? err : plan_parts(e);
	err = err ? err : warm_up(e);
	for (l = 0; !err && e->burst_max && 1 << l <= e->burst_max; l++)
		err = burst_record(e, l);
	if (err) {
		char why[160];

		fail_text(e, err, why, sizeof(why));
		snprintf(errbuf, err_len, "setting the model up on the device: %s", why);
		engine_destroy(e);
		return err;
	}
	*out = e;
	return NPU_OK;
}

int engine_positions(const struct npu_engine *e)
{
	return e->ctx;
}

int engine_set_priority(struct npu_engine *e, enum npu_priority prio)
{
	int err = npu_cmd_set_priority(e->cmd, prio), i;

	for (i = 0; !err && i < e->n_parts; i++)
		err = npu_graph_set_priority(e->parts[i].step, prio);
	for (i = 0; !err && i <= BURST_LOG; i++)
		if (e->bursts[i].g)
			err = npu_graph_set_priority(e->bursts[i].g, prio);
	return err;
}

/* The last row's logits, dequantized with its scale. */
static void read_logits(struct npu_engine *e, float *logits)
{
	const int32_t *v = (const int32_t *)e->logits.data.p;
	double s = npu_scale_to_double(((const struct npu_scale *)e->logits.scales.p)[0]);
	uint32_t i;

	for (i = 0; i < e->logits.cols; i++)
		logits[i] = (float)(v[i] * s);
}

int engine_forward(struct npu_engine *e, const int32_t *tokens, int n, int pos, float *logits,
		   char *why, size_t why_len)
{
	int err = 0, done = 0, i;

	if (n < 1 || pos < 0 || pos > e->ctx || n > e->ctx - pos)
		return NPU_E_RANGE;
	while (done < n) {
		int rows = n - done > PREFILL ? PREFILL : n - done;

		memcpy(e->ids.p, tokens + done, (size_t)rows * 4);
		*(uint32_t *)e->pos.p = (uint32_t)(pos + done);
		for (i = 0; i < e->n_parts && !err; i++)
			err = run_part(e, i, (uint32_t)rows);
		if (err) {
			fail_text(e, err, why, why_len);
			return err;
		}
		done += rows;
		e->last_rows = (uint32_t)rows;
		if (done == n)
			read_logits(e, logits);
	}
	return NPU_OK;
}

/* One step of a pass that is many jobs: its ARGMAX alone, then the parts. */
static int greedy_step(struct npu_engine *e)
{
	struct npu_tensor logits = T_act(&e->logits, 1);
	struct npu_tensor id = npu_tensor_2d(e->ids.bo, 0, 1, 1, NPU_I32);
	npu_fence f;
	uint32_t n = 0;
	int err = npu_cmd_reset(e->cmd), i;

	if (!err)
		npu_op_argmax(e->cmd, &logits, &id);
	err = err ? err : ops_keep(e, e->cmd, e->job_ops, &n);
	err = err ? err : npu_submit(e->cmd, &f);
	err = err ? err : job_wait(e, f, e->job_ops, n);
	for (i = 0; i < e->n_parts && !err; i++)
		err = run_part(e, i, 1);
	return err;
}

int engine_burst_max(const struct npu_engine *e)
{
	return e->burst_max ? e->burst_max : 1;
}

int engine_greedy(struct npu_engine *e, int pos, int n, int32_t *tokens, float *logits,
		  char *why, size_t why_len)
{
	int done = 0, err = 0, i;
	npu_fence f;

	if (n < 1 || n > engine_burst_max(e) || pos < 1 || n > e->ctx - pos)
		return NPU_E_RANGE;
	/* n as bursts of its binary digits, the largest first. */
	for (i = BURST_LOG; i >= 0 && !err; i--) {
		struct burst *b = &e->bursts[i];

		if (!(n & 1 << i))
			continue;
		((uint32_t *)e->pos.p)[0] = (uint32_t)(pos + done);
		if (!e->burst_max) {
			err = greedy_step(e);
		} else {
			err = npu_graph_launch(b->g, &f);
			err = err ? err : job_wait(e, f, b->ops, b->n_ops);
		}
		if (!err)
			memcpy(tokens + done, e->ids.p, (size_t)4 << i);
		done += 1 << i;
	}
	if (err) {
		fail_text(e, err, why, why_len);
		return err;
	}
	e->last_rows = 1;
	read_logits(e, logits);
	return NPU_OK;
}

void engine_trace(const struct npu_engine *e, int l, float *out)
{
	const struct act *a = &e->layers[l].trace;
	uint32_t row = e->last_rows - 1, i;
	const int16_t *v = (const int16_t *)a->data.p + (size_t)row * a->cols;
	double s = npu_scale_to_double(((const struct npu_scale *)a->scales.p)[row]);

	for (i = 0; i < a->cols; i++)
		out[i] = (float)(v[i] * s);
}

uint64_t engine_device_bytes(const struct npu_engine *e)
{
	return e->bytes;
}

static void act_del(struct npu_engine *e, struct act *a)
{
	llm_dbuf_del(e->dev, &a->data);
	llm_dbuf_del(e->dev, &a->scales);
}

void engine_destroy(struct npu_engine *e)
{
	int l;

	if (!e)
		return;
	for (l = 0; e->parts && l < e->n_parts; l++) {
		if (e->parts[l].step)
			npu_graph_destroy(e->parts[l].step);
		free(e->parts[l].ops);
	}
	free(e->parts);
	for (l = 0; l <= BURST_LOG; l++) {
		if (e->bursts[l].g)
			npu_graph_destroy(e->bursts[l].g);
		free(e->bursts[l].ops);
	}
	if (e->cmd)
		npu_cmd_destroy(e->cmd);
	for (l = 0; e->layers && l < e->c.n_layers; l++) {
		act_del(e, &e->layers[l].kc);
		act_del(e, &e->layers[l].vc);
		act_del(e, &e->layers[l].trace);
	}
	free(e->layers);
	llm_dbuf_del(e->dev, &e->ids);
	llm_dbuf_del(e->dev, &e->pos);
	act_del(e, &e->x);
	act_del(e, &e->xn);
	act_del(e, &e->q);
	act_del(e, &e->k);
	act_del(e, &e->v);
	act_del(e, &e->att);
	act_del(e, &e->tmp);
	act_del(e, &e->h1);
	act_del(e, &e->h3);
	act_del(e, &e->logits);
	llm_dbuf_del(e->dev, &e->qn);
	llm_dbuf_del(e->dev, &e->kn);
	llm_dbuf_del(e->dev, &e->prof);
	free(e->job_ops);
	free(e);
}
