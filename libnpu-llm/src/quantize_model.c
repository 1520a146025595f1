// SPDX-License-Identifier: MIT
/*
 * npu_model_quantize_gguf(): a float model into a Q4_0 GGUF file whose
 * matrices were quantized knowing their inputs, in the order the model
 * runs them. For each matrix site in turn (a layer's attention input for
 * Q, K and V, its heads' output for the output projection, its FFN input
 * for the gate and up, the gated product for the down projection when its
 * rows are a multiple of 32 long), the float model and the copy quantized
 * so far run the calibration text side by side (calibrate.c); the site's
 * matrices are then quantized (gptq.c) to give, from the inputs the
 * quantized layers before them produce, the float model's products, and
 * written into the copy. The copy is written with the blocks' scales
 * chosen, so the file holds exactly those values.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate.h"
#include "gptq.h"
#include "model_internal.h"

/* Statistics beyond this many bytes are refused rather than swapped. */
#define CALIB_MAX_BYTES (2ull << 30)

/* Rounds of integer descent and scale refit after GPTQ, at most. */
#define REFINE_ROUNDS 4

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
	const struct npu_model *m;	/* the float model */
	struct npu_model *q;		/* its copy, quantized site by site */
	const struct npu_quantize_params *p;
	struct gguf_plan_tensor *t;
	int n;
	float *scales;		/* all the planned blocks' */
	size_t used;
	struct npu_quantize_report rep;
	char *err;		/* the caller's, for a site's failure */
	size_t err_len;
};

/*
 * sum |W x_f - Q x_q|^2 over the calibration, from @cp's statistics:
 * tr(W hf W^T) - 2 tr(W c Q^T) + tr(Q hq Q^T).
 */
static double paired_loss(const float *w, const float *q, int rows, const struct calib_pair *cp)
{
	int n = cp->n, i, j, k;
	double loss = 0;

	for (i = 0; i < rows; i++) {
		const float *a = w + (size_t)i * n, *b = q + (size_t)i * n;

		for (j = 0; j < n; j++) {
			double hw = 0, cq = 0, hqb = 0;

			for (k = 0; k < n; k++) {
				hw += cp->hf[(size_t)j * n + k] * a[k];
				cq += cp->c[(size_t)j * n + k] * b[k];
				hqb += cp->hq[(size_t)j * n + k] * b[k];
			}
			loss += a[j] * hw - 2 * a[j] * cq + b[j] * hqb;
		}
	}
	return loss;
}

/*
 * @w quantized toward @target under @h: GPTQ with searched scales, then
 * rounds of moving single integers while that lowers the error and
 * refitting the blocks' scales to the integers, until a round gains
 * little; the best kept, its blocks' scales in @scales.
 */
static int refine(const float *target, float *w, int rows, const struct gptq_factor *f,
		  const double *h, float *scales)
{
	int cols = f->cols, round, done, ret = NPU_OK;
	size_t n = (size_t)rows * cols, nb = n / 32;
	float *t = malloc((n + nb) * sizeof(float)), *ts;
	double best, e;

	if (!t)
		return NPU_E_NOMEM;
	ts = t + n;
	memcpy(w, target, n * sizeof(float));
	gptq_q4_0(w, rows, f, 0, scales);
	best = gptq_loss(target, w, rows, cols, h);
	if (isnan(best)) {
		free(t);
		return NPU_E_NOMEM;	/* gptq_loss's only failure */
	}
	memcpy(t, w, n * sizeof(float));
	memcpy(ts, scales, nb * sizeof(float));
	for (round = 0; !ret && round < REFINE_ROUNDS; round++) {
		ret = gptq_descend(target, t, rows, cols, h, ts);
		ret = ret ? ret : gptq_refit(target, t, rows, cols, h, ts);
		ret = ret ? ret : gptq_descend(target, t, rows, cols, h, ts);
		e = gptq_loss(target, t, rows, cols, h);
		ret = ret ? ret : isnan(e) ? NPU_E_NOMEM : NPU_OK;
		if (ret || !(e < best))
			break;
		memcpy(w, t, n * sizeof(float));
		memcpy(scales, ts, nb * sizeof(float));
		done = e > best * (1 - 1e-3);	/* it gained under 0.1% */
		best = e;
		if (done)
			break;
	}
	free(t);
	return ret;
}

/* One matrix of @rows x cp->n at @w under @f (of cp->hq): the report's errors, the plan's entry. */
static int matrix(struct job *j, float *w, int rows, const struct gptq_factor *f,
		  const struct calib_pair *cp)
{
	size_t n = (size_t)rows * cp->n;
	float *orig = malloc(3 * n * sizeof(float)), *rtn, *target, *scales = j->scales + j->used;
	double base;
	int ret = NPU_OK;

	if (!orig)
		return NPU_E_NOMEM;
	rtn = orig + n;
	target = rtn + n;
	memcpy(orig, w, n * sizeof(float));
	memset(rtn, 0, n * sizeof(float));
	base = paired_loss(orig, rtn, rows, cp);
	/* Round to nearest: the baseline, and the file's with --method rtn. */
	memcpy(rtn, w, n * sizeof(float));
	gptq_q4_0(rtn, rows, f, 1, scales);
	if (j->p->gptq) {
		/* The float product from the quantized inputs: W C H^-1, quantized. */
		ret = gptq_target(f, cp->c, orig, rows, target);
		ret = ret ? ret : refine(target, w, rows, f, cp->hq, scales);
	} else {
		memcpy(w, rtn, n * sizeof(float));
	}
	if (!ret && base > 0) {
		j->rep.loss_rtn += paired_loss(orig, rtn, rows, cp) / base;
		j->rep.loss += paired_loss(orig, w, rows, cp) / base;
		j->rep.matrices++;
	}
	free(orig);
	j->t[j->n++] = (struct gguf_plan_tensor){ w, n, NPU_GGUF_Q4_0, scales };
	j->used += n / 32;
	return ret;
}

/* Up to three matrices reading one site: each's floats and rows. */
struct site_mats {
	float *w[3];
	int rows[3];
};

/* Layer @l's @site of width @cols: its statistics gathered and factored once, then each matrix. */
static int site(struct job *j, int l, enum ref_site s, int cols, struct site_mats m)
{
	static const char *const names[] = {
		[REF_ATTN_IN] = "attention input", [REF_ATTN_OUT] = "heads' output",
		[REF_FFN_IN] = "FFN input", [REF_FFN_MID] = "gated product",
	};
	const struct npu_quantize_params *p = j->p;
	struct gptq_factor f = { 0 };
	const char *step = "calibration";
	struct calib_pair cp;
	int i, ret;

	if (cols % 32)
		return NPU_OK;	/* its matrices are the writer's F16 */
	ret = calib_pair_init(&cp, l, s, cols);
	ret = ret ? ret : calib_pair_gather(j->m, j->q, p->tokens, p->n_tokens, p->chunk, &cp);
	if (!ret) {
		step = "statistics (not positive definite even damped)";
		ret = gptq_factor(&f, cp.hq, cols, p->damp ? p->damp : 0.01);
	}
	if (!ret)
		step = "quantizing";
	for (i = 0; !ret && i < 3 && m.w[i]; i++)
		ret = matrix(j, m.w[i], m.rows[i], &f, &cp);
	if (ret)
		snprintf(j->err, j->err_len, "quantize: layer %d's %s: %s: %s", l, names[s], step,
			 npu_strerror(ret));
	gptq_factor_free(&f);
	calib_pair_free(&cp);
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
		ret = site(j, l, REF_ATTN_IN, (int)d, (struct site_mats){
			{ q->wq + l * qd * d, q->wk + l * kv * d, q->wv + l * kv * d },
			{ (int)qd, (int)kv, (int)kv } });
		ret = ret ? ret : site(j, l, REF_ATTN_OUT, (int)qd, (struct site_mats){
			{ q->wo + l * d * qd }, { (int)d } });
		ret = ret ? ret : site(j, l, REF_FFN_IN, (int)d, (struct site_mats){
			{ q->w1 + l * hd * d, q->w3 + l * hd * d }, { (int)hd, (int)hd } });
		ret = ret ? ret : site(j, l, REF_FFN_MID, (int)hd, (struct site_mats){
			{ q->w2 + l * d * hd }, { (int)d } });
	}
	/* The classifier is Q8_0 as llama-quantize makes it (and so the embedding tied to it). */
	j->t[j->n++] = (struct gguf_plan_tensor){ q->wcls, (uint64_t)c->vocab_size * d,
						  NPU_GGUF_Q8_0, NULL };
	return ret;
}

/*
 * 1 when the widest site quantized fits: its three sums and the factor's
 * three working matrices, six of n x n doubles; else 0, said in @err.
 */
static int stats_fit(const struct npu_model_config *c, char *err, size_t err_len)
{
	int widths[] = { c->dim, c->head_dim * c->n_heads, c->hidden_dim }, i;
	uint64_t bytes = 0, b;

	for (i = 0; i < 3; i++) {
		b = 6ull * widths[i] * widths[i] * sizeof(double);
		if (widths[i] % 32 == 0 && b > bytes)
			bytes = b;
	}
	if (bytes <= CALIB_MAX_BYTES)
		return 1;
	snprintf(err, err_len, "calibration: a site's statistics would take %.1f GiB "
		 "(at most %.0f)", (double)bytes / (1 << 30), (double)CALIB_MAX_BYTES / (1 << 30));
	return 0;
}

int npu_model_quantize_gguf(const char *path, const struct npu_model *m,
			    const struct npu_tokenizer *t, const struct npu_quantize_params *p,
			    struct npu_quantize_report *rep, char *err, size_t err_len)
{
	struct npu_model q = { 0 };
	struct job j = { 0 };
	struct gguf_plan plan = { .name = "npu-quantize" };
	int ret, i;

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
	if (!stats_fit(&m->cfg, err, err_len))
		return NPU_E_NOMEM;
	ret = copy_model(m, &q);
	j = (struct job){ m, &q, p, NULL, 0, NULL, 0, { 0 }, err, err_len };
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
	free(q.data);
	free(j.t);
	free(j.scales);
	return ret;
}
