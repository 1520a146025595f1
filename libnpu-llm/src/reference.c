// SPDX-License-Identifier: MIT
/*
 * The float reference: the model in float32, written plainly, as
 * llama.cpp runs the architectures (llama2.c's run.c for llama: RMSNorm,
 * RoPE on adjacent pairs, SwiGLU, grouped-query attention; qwen2's Q, K
 * and V biases; qwen3's per-head RMSNorm of Q and K; gemma's GELU gates
 * and scaled embedding).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"

struct ref_engine {
	const struct npu_model *m;
	int ctx;	/* positions the caches hold */
	float *x, *xb, *xb2, *hb, *hb2, *q, *att, *kc, *vc;
	float *trace;	/* [layers][dim] */
	double *theta;	/* RoPE: each pair's angle per position */
	double mscale;	/* and the scale on the rotated Q and K */
	ref_tap_fn tap;	/* sees each matrix's input (calibration), or NULL */
	void *tap_user;
	int layers;	/* the layers a pass runs: all, unless a tap needs fewer */
};

void ref_set_tap(struct ref_engine *r, ref_tap_fn fn, void *user, int layers)
{
	r->tap = fn;
	r->tap_user = user;
	r->layers = layers > 0 && layers < r->m->cfg.n_layers ? layers : r->m->cfg.n_layers;
}

#define TAP(l, site, x, n) do { if (r->tap) r->tap(r->tap_user, l, site, x, n); } while (0)

int ref_create(const struct npu_model *m, int positions, struct ref_engine **out)
{
	const struct npu_model_config *c = &m->cfg;
	struct ref_engine *r = calloc(1, sizeof(*r));
	size_t kv = (size_t)c->head_dim * c->n_kv_heads, qd = (size_t)c->head_dim * c->n_heads;
	size_t wide = qd > (size_t)c->dim ? qd : (size_t)c->dim;

	if (!r)
		return NPU_E_NOMEM;
	r->m = m;
	r->ctx = positions > 0 && positions < c->seq_len ? positions : c->seq_len;
	r->x = calloc((size_t)c->dim, sizeof(float));
	r->xb = calloc(wide, sizeof(float));
	r->xb2 = calloc((size_t)c->dim, sizeof(float));
	r->hb = calloc((size_t)c->hidden_dim, sizeof(float));
	r->hb2 = calloc((size_t)c->hidden_dim, sizeof(float));
	r->q = calloc(qd, sizeof(float));
	r->att = calloc((size_t)r->ctx, sizeof(float));
	r->kc = calloc((size_t)c->n_layers * r->ctx * kv, sizeof(float));
	r->vc = calloc((size_t)c->n_layers * r->ctx * kv, sizeof(float));
	r->trace = calloc((size_t)c->n_layers * c->dim, sizeof(float));
	r->theta = calloc((size_t)c->head_dim / 2, sizeof(double));
	if (!r->x || !r->xb || !r->xb2 || !r->hb || !r->hb2 || !r->q || !r->att || !r->kc ||
	    !r->vc || !r->trace || !r->theta) {
		ref_destroy(r);
		return NPU_E_NOMEM;
	}
	r->mscale = llm_rope_theta(m, r->theta);
	r->layers = c->n_layers;
	*out = r;
	return NPU_OK;
}

int ref_positions(const struct ref_engine *r)
{
	return r->ctx;
}

void ref_destroy(struct ref_engine *r)
{
	if (!r)
		return;
	free(r->x);
	free(r->xb);
	free(r->xb2);
	free(r->hb);
	free(r->hb2);
	free(r->q);
	free(r->att);
	free(r->kc);
	free(r->vc);
	free(r->trace);
	free(r->theta);
	free(r);
}

static void rmsnorm(float *o, const float *x, const float *g, int n, double eps)
{
	double ss = 0;
	int i;

	for (i = 0; i < n; i++)
		ss += (double)x[i] * x[i];
	ss = 1.0 / sqrt(ss / n + eps);
	for (i = 0; i < n; i++)
		o[i] = (float)(g[i] * (x[i] * ss));
}

/* o = w x (+ b). */
static void matvec(float *o, const float *x, const float *w, const float *b, int n, int d)
{
	int i, j;

	for (i = 0; i < d; i++) {
		double s = b ? b[i] : 0;

		for (j = 0; j < n; j++)
			s += (double)w[(size_t)i * n + j] * x[j];
		o[i] = (float)s;
	}
}

/* Each head of @v (@n elements) normalized with the gains @g, when the model has them. */
static void head_norm(float *v, int n, const float *g, int hs, double eps)
{
	int h;

	for (h = 0; g && h < n / hs; h++)
		rmsnorm(v + h * hs, v + h * hs, g, hs, eps);
}

static void rope(const struct ref_engine *r, float *v, int n, int hs, int pos)
{
	int i;

	for (i = 0; i < n; i += 2) {
		double a = pos * r->theta[(i % hs) / 2];
		float c = (float)(cos(a) * r->mscale), s = (float)(sin(a) * r->mscale);
		float v0 = v[i], v1 = v[i + 1];

		v[i] = v0 * c - v1 * s;
		v[i + 1] = v0 * s + v1 * c;
	}
}

/* The FFN's gate: SiLU, or GELU's tanh form (Gemma). */
static float gate(const struct npu_model_config *c, float x)
{
	if (c->ffn_gelu)
		return (float)(0.5 * x * (1 + tanh(M_2_SQRTPI * M_SQRT1_2 *
						   (x + 0.044715 * x * x * x))));
	return x / (1.0f + expf(-x));
}

#define AT(p, off) ((p) ? (p) + (off) : NULL)

int ref_forward(struct ref_engine *r, int32_t token, int pos, float *logits)
{
	const struct npu_model *m = r->m;
	const struct npu_model_config *c = &m->cfg;
	int d = c->dim, hd = c->hidden_dim, hs = c->head_dim, qd = hs * c->n_heads;
	int kv = hs * c->n_kv_heads, grp = c->n_heads / c->n_kv_heads;
	double eps = c->norm_eps;
	int l, h, t, i;

	if (token < 0 || token >= c->vocab_size || pos < 0 || pos >= r->ctx)
		return NPU_E_RANGE;
	for (i = 0; i < d; i++)
		r->x[i] = m->token_embedding[(size_t)token * d + i] * c->embed_scale;
	for (l = 0; l < r->layers; l++) {
		float *kc = r->kc + ((size_t)l * r->ctx) * kv;
		float *vc = r->vc + ((size_t)l * r->ctx) * kv;
		float *kp = kc + (size_t)pos * kv;

		rmsnorm(r->xb, r->x, m->rms_att + (size_t)l * d, d, eps);
		TAP(l, REF_ATTN_IN, r->xb, d);
		matvec(r->q, r->xb, m->wq + (size_t)l * qd * d, AT(m->bq, (size_t)l * qd), d, qd);
		matvec(kp, r->xb, m->wk + (size_t)l * kv * d, AT(m->bk, (size_t)l * kv), d, kv);
		matvec(vc + (size_t)pos * kv, r->xb, m->wv + (size_t)l * kv * d,
		       AT(m->bv, (size_t)l * kv), d, kv);
		head_norm(r->q, qd, AT(m->q_norm, (size_t)l * hs), hs, eps);
		head_norm(kp, kv, AT(m->k_norm, (size_t)l * hs), hs, eps);
		rope(r, r->q, qd, hs, pos);
		rope(r, kp, kv, hs, pos);
		for (h = 0; h < c->n_heads; h++) {
			const float *qh = r->q + h * hs;
			float *o = r->xb + h * hs;
			double mx = -1e30, sum = 0;

			for (t = 0; t <= pos; t++) {
				const float *k = kc + (size_t)t * kv + (h / grp) * hs;
				double s = 0;

				for (i = 0; i < hs; i++)
					s += (double)qh[i] * k[i];
				r->att[t] = (float)(s / sqrt((double)hs));
				mx = fmax(mx, r->att[t]);
			}
			for (t = 0; t <= pos; t++) {
				r->att[t] = (float)exp(r->att[t] - mx);
				sum += r->att[t];
			}
			memset(o, 0, (size_t)hs * sizeof(float));
			for (t = 0; t <= pos; t++) {
				const float *v = vc + (size_t)t * kv + (h / grp) * hs;
				float a = (float)(r->att[t] / sum);

				for (i = 0; i < hs; i++)
					o[i] += a * v[i];
			}
		}
		TAP(l, REF_ATTN_OUT, r->xb, qd);
		matvec(r->xb2, r->xb, m->wo + (size_t)l * d * qd, NULL, qd, d);
		for (i = 0; i < d; i++)
			r->x[i] += r->xb2[i];
		rmsnorm(r->xb, r->x, m->rms_ffn + (size_t)l * d, d, eps);
		TAP(l, REF_FFN_IN, r->xb, d);
		matvec(r->hb, r->xb, m->w1 + (size_t)l * hd * d, NULL, d, hd);
		matvec(r->hb2, r->xb, m->w3 + (size_t)l * hd * d, NULL, d, hd);
		for (i = 0; i < hd; i++)
			r->hb[i] = gate(c, r->hb[i]) * r->hb2[i];
		TAP(l, REF_FFN_MID, r->hb, hd);
		matvec(r->xb, r->hb, m->w2 + (size_t)l * d * hd, NULL, hd, d);
		for (i = 0; i < d; i++)
			r->x[i] += r->xb[i];
		memcpy(r->trace + (size_t)l * d, r->x, (size_t)d * sizeof(float));
	}
	if (r->layers < c->n_layers)
		return NPU_OK;	/* the tap has seen all it wants: @logits untouched */
	rmsnorm(r->xb, r->x, m->rms_final, d, eps);
	TAP(-1, REF_CLS_IN, r->xb, d);
	matvec(logits, r->xb, m->wcls, NULL, d, c->vocab_size);
	return NPU_OK;
}

const float *ref_trace(const struct ref_engine *r, int l)
{
	return r->trace + (size_t)l * r->m->cfg.dim;
}
