// SPDX-License-Identifier: MIT
/*
 * Synthetic models: llama2.c shapes with weights drawn from a seeded
 * generator with the spreads of stories260K's weights, so the runner, the
 * comparison and the benchmarks work on any machine. Their text is noise,
 * and being unstructured they are far more sensitive to quantization than
 * a trained model (docs/accuracy.md).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

static uint64_t next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* Roughly normal: the sum of four uniforms, unit variance. */
static float gauss(uint64_t *s)
{
	double u = 0;
	int i;

	for (i = 0; i < 4; i++)
		u += (double)(next(s) >> 11) / 9007199254740992.0;
	return (float)((u - 2.0) * sqrt(3.0));
}

static void fill(float *p, size_t n, float scale, uint64_t *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = gauss(s) * scale;
}

int npu_model_synthetic(const char *shape, uint64_t seed, struct npu_model *m, char *err,
			size_t len)
{
	/* dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len, shared */
	static const struct { const char *name; int32_t c[8]; } shapes[] = {
		{ "tiny", { 64, 172, 5, 8, 4, 512, 512, 1 } },
		/* The smallest whose rows are whole K-quant super-blocks (256). */
		{ "k256", { 256, 768, 2, 4, 4, 512, 256, 1 } },
		{ "15m", { 288, 768, 6, 6, 6, 32000, 256, 1 } },
		{ "110m", { 768, 2048, 12, 12, 12, 32000, 1024, 1 } },
		/* TinyLlama-1.1B's shape: grouped-query attention, 22 layers. */
		{ "1b", { 2048, 5632, 22, 32, 4, 32000, 2048, 0 } },
		/* tiny's widths, so many layers that one decode step is two jobs. */
		{ "deep", { 64, 172, 240, 8, 4, 512, 512, 1 } },
	};
	size_t i, n, l, d, h, kv;
	uint64_t s = seed ? seed : 1;
	int ret;

	if (!shape || !m)
		return NPU_E_INVAL;
	memset(m, 0, sizeof(*m));
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (!strcmp(shape, shapes[i].name))
			break;
	if (i == sizeof(shapes) / sizeof(shapes[0])) {
		char q[NPU_QUOTE_LEN];

		npu_model_error(err, len, "unknown synthetic shape %s (tiny, k256, 15m, 110m, 1b, deep)",
				npu_model_quote(q, shape, strlen(shape)));
		return NPU_E_INVAL;
	}
	m->cfg = (struct npu_model_config){
		.dim = shapes[i].c[0], .hidden_dim = shapes[i].c[1], .n_layers = shapes[i].c[2],
		.n_heads = shapes[i].c[3], .n_kv_heads = shapes[i].c[4],
		.vocab_size = shapes[i].c[5], .seq_len = shapes[i].c[6],
		.shared_classifier = shapes[i].c[7],
	};
	ret = npu_model_check_config(&m->cfg, err, len);
	if (ret)
		return ret;
	n = npu_model_layout(m, 0);
	m->data = malloc(n * sizeof(float));
	if (!m->data)
		return NPU_E_NOMEM;
	m->n_floats = n;
	npu_model_layout(m, 0);
	d = (size_t)m->cfg.dim;
	h = (size_t)m->cfg.hidden_dim;
	l = (size_t)m->cfg.n_layers;
	kv = d * (size_t)m->cfg.n_kv_heads / (size_t)m->cfg.n_heads;
	/*
	 * Spreads as in stories260K, scaled by fan-in: logits then have a
	 * spread of a few units whatever the width, as in a trained model.
	 */
	fill(m->token_embedding, (size_t)m->cfg.vocab_size * d, 2.4f / sqrtf((float)d), &s);
	fill(m->wq, l * d * d, 1.8f / sqrtf((float)d), &s);
	fill(m->wk, l * kv * d, 1.6f / sqrtf((float)d), &s);
	fill(m->wv, l * kv * d, 0.55f / sqrtf((float)d), &s);
	fill(m->wo, l * d * d, 0.65f / sqrtf((float)d), &s);
	fill(m->w1, l * h * d, 1.0f / sqrtf((float)d), &s);
	fill(m->w2, l * d * h, 1.0f / sqrtf((float)h), &s);
	fill(m->w3, l * h * d, 1.0f / sqrtf((float)d), &s);
	for (i = 0; i < l * d; i++) {
		m->rms_att[i] = 1.2f + 0.3f * gauss(&s);
		m->rms_ffn[i] = 0.8f + 0.2f * gauss(&s);
	}
	for (i = 0; i < d; i++)
		m->rms_final[i] = 1.8f + 0.5f * gauss(&s);
	if (!m->cfg.shared_classifier)
		fill(m->wcls, (size_t)m->cfg.vocab_size * d, 2.4f / sqrtf((float)d), &s);
	return NPU_OK;
}
