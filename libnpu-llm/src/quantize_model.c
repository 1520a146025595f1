// SPDX-License-Identifier: MIT
/*
 * npu_model_quantize_gguf(): a float model into a Q4_0 GGUF file whose
 * matrices were quantized knowing their inputs. The float model runs over
 * the calibration text; each matrix's input site accumulates H = sum x x^T
 * (the sites: a layer's attention input for Q, K and V, its heads' output
 * for the output projection, its FFN input for the gate and up, the gated
 * product for the down projection); then each matrix is quantized under
 * its site's H (gptq.c) on a copy of the model, and the copy is written
 * with the blocks' scales chosen, so the file holds exactly those values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gptq.h"
#include "model_internal.h"

/* Statistics beyond this many bytes are refused rather than swapped. */
#define CALIB_MAX_BYTES (2ull << 30)

struct calib {
	int n[REF_SITES];	/* each site's width (0: not gathered) */
	double *h[REF_SITES];	/* [layers][n][n] */
};

static void tap(void *user, int layer, enum ref_site site, const float *x, int n)
{
	struct calib *c = user;
	double *h;
	int i, j;

	if (layer < 0 || !c->h[site] || n != c->n[site])
		return;
	h = c->h[site] + (size_t)layer * n * n;
	for (i = 0; i < n; i++)
		for (j = 0; j <= i; j++)
			h[(size_t)i * n + j] += (double)x[i] * x[j];
}

/* The upper triangles from the lower ones tap() fills. */
static void symmetrize(struct calib *c, int layers)
{
	int s, l, i, j, n;

	for (s = 0; s < REF_SITES; s++)
		for (l = 0, n = c->n[s]; c->h[s] && l < layers; l++)
			for (i = 0; i < n; i++)
				for (j = i + 1; j < n; j++)
					c->h[s][((size_t)l * n + i) * n + j] =
						c->h[s][((size_t)l * n + j) * n + i];
}

static int calibrate(const struct npu_model *m, const struct npu_quantize_params *p,
		     struct calib *c, char *err, size_t err_len)
{
	const struct npu_model_config *cfg = &m->cfg;
	struct ref_engine *r = NULL;
	uint64_t bytes = 0;
	float *logits;
	int s, i, ret;

	c->n[REF_ATTN_IN] = c->n[REF_FFN_IN] = cfg->dim;
	c->n[REF_ATTN_OUT] = cfg->head_dim * cfg->n_heads;
	c->n[REF_FFN_MID] = cfg->hidden_dim;
	for (s = 0; s < REF_SITES; s++) {
		if (c->n[s] % 32)	/* its matrices are written F16: nothing to gather */
			c->n[s] = 0;
		bytes += (uint64_t)cfg->n_layers * c->n[s] * c->n[s] * sizeof(double);
	}
	if (bytes > CALIB_MAX_BYTES) {
		snprintf(err, err_len, "calibration: the statistics would take %.1f GiB (at most "
			 "%.0f)", (double)bytes / (1 << 30), (double)CALIB_MAX_BYTES / (1 << 30));
		return NPU_E_NOMEM;
	}
	for (s = 0; s < REF_SITES; s++) {
		if (c->n[s] && !(c->h[s] = calloc((size_t)cfg->n_layers * c->n[s] * c->n[s],
						  sizeof(double))))
			return NPU_E_NOMEM;
	}
	logits = malloc((size_t)cfg->vocab_size * sizeof(*logits));
	ret = logits ? ref_create(m, p->chunk, &r) : NPU_E_NOMEM;
	if (!ret)
		ref_set_tap(r, tap, c);
	for (i = 0; !ret && i < p->n_tokens; i++)
		ret = ref_forward(r, p->tokens[i], i % p->chunk, logits);
	if (ret)
		snprintf(err, err_len, "calibration: token %d: %s", i - 1, npu_strerror(ret));
	ref_destroy(r);
	free(logits);
	symmetrize(c, cfg->n_layers);
	return ret;
}

/* A copy of @m's floats, its arrays pointing into the copy. */
static int copy_model(const struct npu_model *m, struct npu_model *out)
{
	float **f[] = {
		&out->token_embedding, &out->rms_att, &out->wq, &out->wk, &out->wv, &out->wo,
		&out->rms_ffn, &out->w1, &out->w2, &out->w3, &out->bq, &out->bk, &out->bv,
		&out->q_norm, &out->k_norm, &out->rms_final, &out->wcls, &out->rope_factors,
	};
	size_t i;

	*out = *m;
	out->native = NULL;
	out->data = malloc(m->n_floats * sizeof(float));
	if (!out->data)
		return NPU_E_NOMEM;
	memcpy(out->data, m->data, m->n_floats * sizeof(float));
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (!*f[i])
			continue;
		if (*f[i] < m->data || *f[i] >= m->data + m->n_floats) {
			free(out->data);
			return NPU_E_INVAL;
		}
		*f[i] = out->data + (*f[i] - m->data);
	}
	return NPU_OK;
}

struct job {
	struct npu_model *q;
	const struct npu_quantize_params *p;
	struct calib *c;
	struct gguf_plan_tensor *t;
	int n;
	float *scales;		/* all the planned blocks' */
	size_t used;
	struct npu_quantize_report rep;
};

/* One matrix of @rows x f->cols at @w under @f (of @h): the report's errors, the plan's entry. */
static int matrix(struct job *j, float *w, int rows, const struct gptq_factor *f,
		  const double *h)
{
	int cols = f->cols;
	size_t n = (size_t)rows * cols;
	float *orig = malloc(2 * n * sizeof(float)), *rtn = orig + n;
	float *scales = j->scales + j->used;
	double base;

	if (!orig)
		return NPU_E_NOMEM;
	memcpy(orig, w, n * sizeof(float));
	memset(rtn, 0, n * sizeof(float));
	base = gptq_loss(orig, rtn, rows, cols, h);
	/* Round to nearest: the baseline, and the file's with --method rtn. */
	memcpy(rtn, w, n * sizeof(float));
	gptq_q4_0(rtn, rows, f, 1, scales);
	if (j->p->gptq)
		gptq_q4_0(w, rows, f, 0, scales);
	else
		memcpy(w, rtn, n * sizeof(float));
	if (base > 0) {
		j->rep.loss_rtn += gptq_loss(orig, rtn, rows, cols, h) / base;
		j->rep.loss += gptq_loss(orig, w, rows, cols, h) / base;
		j->rep.matrices++;
	}
	free(orig);
	j->t[j->n++] = (struct gguf_plan_tensor){ w, n, NPU_GGUF_Q4_0, scales };
	j->used += n / 32;
	return NPU_OK;
}

/* Up to three matrices reading one site: each's floats and rows. */
struct site_mats {
	float *w[3];
	int rows[3];
};

/* Layer @l's @site: its statistics factored once, then each matrix reading it. */
static int site(struct job *j, int l, enum ref_site s, struct site_mats m)
{
	int cols = j->c->n[s], i, ret;
	struct gptq_factor f;
	const double *h;

	if (!j->c->h[s])
		return NPU_OK;	/* its matrices are the writer's F16 */
	h = j->c->h[s] + (size_t)l * cols * cols;
	ret = gptq_factor(&f, h, cols, j->p->damp ? j->p->damp : 0.01);
	for (i = 0; !ret && i < 3 && m.w[i]; i++)
		ret = matrix(j, m.w[i], m.rows[i], &f, h);
	gptq_factor_free(&f);
	return ret;
}

static int quantize(struct job *j)
{
	const struct npu_model_config *c = &j->q->cfg;
	size_t d = (size_t)c->dim, hd = (size_t)c->hidden_dim;
	size_t qd = (size_t)c->head_dim * c->n_heads, kv = (size_t)c->head_dim * c->n_kv_heads;
	struct npu_model *q = j->q;
	int l, ret = NPU_OK;

	for (l = 0; !ret && l < c->n_layers; l++) {
		ret = site(j, l, REF_ATTN_IN, (struct site_mats){
			{ q->wq + l * qd * d, q->wk + l * kv * d, q->wv + l * kv * d },
			{ (int)qd, (int)kv, (int)kv } });
		ret = ret ? ret : site(j, l, REF_ATTN_OUT, (struct site_mats){
			{ q->wo + l * d * qd }, { (int)d } });
		ret = ret ? ret : site(j, l, REF_FFN_IN, (struct site_mats){
			{ q->w1 + l * hd * d, q->w3 + l * hd * d }, { (int)hd, (int)hd } });
		ret = ret ? ret : site(j, l, REF_FFN_MID, (struct site_mats){
			{ q->w2 + l * d * hd }, { (int)d } });
	}
	/* The classifier is Q8_0 as llama-quantize makes it (and so the embedding tied to it). */
	j->t[j->n++] = (struct gguf_plan_tensor){ q->wcls, (uint64_t)c->vocab_size * d,
						  NPU_GGUF_Q8_0, NULL };
	return ret;
}

int npu_model_quantize_gguf(const char *path, const struct npu_model *m,
			    const struct npu_tokenizer *t, const struct npu_quantize_params *p,
			    struct npu_quantize_report *rep, char *err, size_t err_len)
{
	struct calib c = { 0 };
	struct npu_model q = { 0 };
	struct job j = { 0 };
	struct gguf_plan plan = { .name = "npu-quantize" };
	int ret, s, i;

	err[0] = 0;
	if (!m || !p || !m->data || p->type != NPU_GGUF_Q4_0 || p->n_tokens < 1 ||
	    p->chunk < 1 || p->chunk > m->cfg.seq_len || p->damp < 0) {
		snprintf(err, err_len, "quantize: want a float model, type Q4_0, calibration "
			 "tokens and a chunk within the context");
		return NPU_E_INVAL;
	}
	for (i = 0; i < p->n_tokens; i++) {
		if (p->tokens[i] < 0 || p->tokens[i] >= m->cfg.vocab_size) {
			snprintf(err, err_len, "quantize: calibration token %d is %d, outside the "
				 "vocabulary", i, p->tokens[i]);
			return NPU_E_INVAL;
		}
	}
	ret = calibrate(m, p, &c, err, err_len);
	ret = ret ? ret : copy_model(m, &q);
	j = (struct job){ &q, p, &c, NULL, 0, NULL, 0, { 0 } };
	if (!ret) {
		j.t = calloc((size_t)m->cfg.n_layers * 7 + 1, sizeof(*j.t));
		j.scales = malloc(m->n_floats / 32 * sizeof(float));
		ret = j.t && j.scales ? quantize(&j) : NPU_E_NOMEM;
	}
	if (ret && !err[0])
		snprintf(err, err_len, "quantize: %s", npu_strerror(ret));
	plan.n = j.n;
	plan.t = j.t;
	ret = ret ? ret : llm_gguf_save(path, &q, t, p->type, &plan, err, err_len);
	if (!ret && rep)
		*rep = j.rep;
	for (s = 0; s < REF_SITES; s++)
		free(c.h[s]);
	free(q.data);
	free(j.t);
	free(j.scales);
	return ret;
}
