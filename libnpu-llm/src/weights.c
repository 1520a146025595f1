// SPDX-License-Identifier: MIT
/*
 * The model's weights on a device, made once per model: the matrices
 * quantized (int8 per output channel or int4 in groups; the embedding
 * table and the classifier stay int8) or the file's own (SCALE_BLOCK, the
 * embedding table too), the norm gains as int16 with one scale, biases as
 * int32 with one scale, the RoPE frequencies as turns in Q0.32. Sealed
 * once written: the cpu backend may keep them packed in its kernels'
 * layout.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"

int llm_dbuf_new(npu_device *dev, uint64_t size, struct dbuf *b, uint64_t *bytes)
{
	int err = npu_bo_alloc(dev, size, &b->bo);

	if (err)
		return err;
	b->size = size;
	*bytes += size;
	return npu_bo_map(dev, b->bo, &b->p);
}

void llm_dbuf_del(npu_device *dev, struct dbuf *b)
{
	if (!b->bo)
		return;
	npu_bo_unmap(dev, b->bo);
	npu_bo_free(dev, b->bo);
	memset(b, 0, sizeof(*b));
}

/* One thread's part of a copy. */
struct copy_part {
	void *dst;
	const void *src;
	size_t n;
};

static void *copy_run(void *arg)
{
	struct copy_part *p = arg;

	memcpy(p->dst, p->src, p->n);
	return NULL;
}

#define MAX_COPY_THREADS 8

/* memcpy(), a large one on the cores' threads: a new buffer's page faults are most of it. */
static void copy_wide(void *dst, const void *src, size_t n)
{
	struct copy_part part[MAX_COPY_THREADS];
	int k = n < (4u << 20) ? 1 : llm_parts(MAX_COPY_THREADS), i;

	for (i = 0; i < k; i++) {
		size_t a = n / k * i, b = i == k - 1 ? n : n / k * (i + 1);

		part[i] = (struct copy_part){ (char *)dst + a, (const char *)src + a, b - a };
	}
	llm_run_parts(copy_run, part, sizeof(part[0]), k);
}

/*
 * A float matrix quantized where the file's own were asked for (a GGUF
 * file's F32 and F16 matrices): counted, with the worst RMS error.
 */
static void converted(struct llm_weights *w, const float *f, const struct npu_qmatrix *q)
{
	double e2 = 0, x2 = 0;
	int32_t r, c;

	for (r = 0; r < q->rows; r++)
		for (c = 0; c < q->cols; c++) {
			double x = f[(size_t)r * q->cols + c], e = npu_qmatrix_value(q, r, c) - x;

			e2 += e * e;
			x2 += x * x;
		}
	w->n_converted++;
	w->converted_rms = fmax(w->converted_rms, x2 > 0 ? sqrt(e2 / x2) : 0);
}

/*
 * Matrix @at of the model (npu_model.native's index) as the NPU takes it:
 * the file's own integers with bits < 0 when it has them, else quantized.
 */
static int dmat_new(struct llm_weights *w, const float *f, size_t at, int32_t rows, int32_t cols,
		    int bits, int group, struct dmat *d)
{
	const struct npu_qmatrix *native = w->m->native ? &w->m->native[at] : NULL;
	struct npu_qmatrix q = { 0 };
	uint64_t qbytes, fbytes;
	enum npu_dtype dt;
	int err = NPU_OK;

	if (bits < 0 && native && native->q) {
		q = *native;
		bits = q.bits;
	} else {
		int asked = bits;

		bits = bits < 0 ? 8 : bits;
		/* int4 groups must tile the row: a narrower row is one group, else int8. */
		if (bits == 4 && cols % group)
			group = cols < group ? cols : (bits = 8, cols);
		err = npu_quantize(f, rows, cols, bits, bits == 8 ? cols : group, &q);
		native = NULL;
		if (!err && asked < 0)
			converted(w, f, &q);
	}
	if (err)
		return err;
	/* SCALE_BLOCK: the file's codes (U2..U6, U8), then each row's record. */
	if (q.block.block_groups)
		dt = bits == 8 ? NPU_U8 : (enum npu_dtype)(NPU_U2 + bits - 2);
	else
		dt = bits == 8 ? NPU_I8 : NPU_I4;
	qbytes = (uint64_t)rows * npu_row_bytes(dt, (uint32_t)cols);
	fbytes = (uint64_t)rows * (q.block.block_groups ?
				   npu_block_record_bytes(&q.block, (uint32_t)cols) :
				   (uint64_t)(cols / q.group_size) * 2);
	d->factors_off = (qbytes + 7) & ~7ull;
	err = llm_dbuf_new(w->dev, d->factors_off + fbytes, &d->b, &w->bytes);
	if (!err) {
		copy_wide(d->b.p, q.q, qbytes);
		memcpy((char *)d->b.p + d->factors_off, q.block.block_groups ? q.records :
			(uint8_t *)q.factors, fbytes);
		/*
		 * Final: the cpu backend may keep them in its kernels' layout.
		 * A seal that fails costs that speed, not the model.
		 */
		npu_bo_seal(w->dev, d->b.bo);
		d->rows = rows;
		d->cols = cols;
		d->group = q.group_size;
		d->dt = dt;
		d->scale = q.scale;
		d->block = q.block;
	}
	if (!native)
		npu_qmatrix_free(&q);
	return err;
}

/* A gain vector as int16 with one scale. */
static int gain_new(struct llm_weights *w, const float *g, int n, struct dbuf *b,
		    struct npu_scale *s)
{
	float amax = 0;
	int i, err;

	for (i = 0; i < n; i++)
		amax = fmaxf(amax, fabsf(g[i]));
	err = npu_scale_from_double(amax > 0 ? amax / 32767.0 : 1.0, s);
	if (!err)
		err = llm_dbuf_new(w->dev, (uint64_t)n * 2, b, &w->bytes);
	if (err)
		return err;
	for (i = 0; i < n; i++)
		((int16_t *)b->p)[i] = (int16_t)lrint(g[i] / npu_scale_to_double(*s));
	return NPU_OK;
}

/*
 * The embedding table: a GGUF file's quantized one as the file holds it
 * (the classifier's buffer when the two are one), with the file's own
 * matrices (@bits < 0). Otherwise int8 rows, each with its own scale: a
 * conversion of a GGUF file's table, so its error is measured and noted
 * (the largest error as a fraction of its row's largest value; the RMS
 * error over the table's RMS).
 */
static int embedding_new(struct llm_weights *w, int bits)
{
	const struct npu_model *m = w->m;
	size_t mats = (size_t)w->c.n_layers * NPU_MODEL_LAYER_MATS;
	uint32_t d = (uint32_t)w->c.dim;
	double emax = 0, e2 = 0, x2 = 0;
	uint32_t t;
	int32_t i;
	int err;

	if (bits < 0 && m->native && m->native[mats].q && m->cfg.shared_classifier) {
		w->emb_block = &w->wcls;
		return NPU_OK;
	}
	if (bits < 0 && m->native && m->native[mats + 1].q) {
		w->emb_block = &w->emb_own;
		return dmat_new(w, m->token_embedding, mats + 1, w->c.vocab_size, w->c.dim, -1, 0,
				&w->emb_own);
	}
	err = llm_dbuf_new(w->dev, (uint64_t)w->c.vocab_size * d, &w->emb, &w->bytes);
	err = err ? err : llm_dbuf_new(w->dev, (uint64_t)w->c.vocab_size * 8, &w->emb_scales,
				       &w->bytes);
	for (i = 0; !err && i < w->c.vocab_size; i++) {
		const float *row = m->token_embedding + (size_t)i * d;
		float amax = 0;
		double s, ds;
		uint32_t j;

		for (j = 0; j < d; j++)
			amax = fmaxf(amax, fabsf(row[j]));
		s = amax > 0 ? amax / 127.0 : 1.0;
		err = npu_scale_from_double(s, &((struct npu_scale *)w->emb_scales.p)[i]);
		ds = npu_scale_to_double(((struct npu_scale *)w->emb_scales.p)[i]);
		for (j = 0; j < d; j++) {
			int8_t v = (int8_t)lrint(row[j] / s);
			double e = fabs(v * ds - row[j]);

			((int8_t *)w->emb.p)[(size_t)i * d + j] = v;
			emax = amax > 0 ? fmax(emax, e / amax) : emax;
			e2 += e * e;
			x2 += (double)row[j] * row[j];
		}
	}
	for (t = 0; t < NPU_GGUF_NTYPES && !m->types[t]; t++)
		;	/* a GGUF file's model counts its tensors' types */
	if (!err && t < NPU_GGUF_NTYPES)
		snprintf(w->note, sizeof(w->note),
			 "token_embd.weight (%s) is int8 per row on the device (the EMBEDDING op): "
			 "largest error %.3g%% of its row's largest value, RMS error %.3g%% of the "
			 "table's RMS", npu_gguf_type_name((uint32_t)m->embedding_type), 100 * emax,
			 x2 > 0 ? 100 * sqrt(e2 / x2) : 0.0);
	return err;
}

/* After the embedding's line: the float matrices quantized under native, if any. */
static void note_converted(struct llm_weights *w)
{
	size_t n = strlen(w->note);

	if (w->n_converted)
		snprintf(w->note + n, sizeof(w->note) - n,
			 "%s%d F32/F16 matri%s int8 per output channel on the device: RMS "
			 "error up to %.3g%% of the matrix's RMS", n ? "\n" : "", w->n_converted,
			 w->n_converted > 1 ? "ces are" : "x is", 100 * w->converted_rms);
}

/* A row of @n copies of @v, as gain_new() makes gains. */
static int scale_new(struct llm_weights *w, float v, int n, struct dbuf *b, struct npu_scale *s)
{
	float *row = malloc((size_t)n * sizeof(*row));
	int i, err;

	if (!row)
		return NPU_E_NOMEM;
	for (i = 0; i < n; i++)
		row[i] = v;
	err = gain_new(w, row, n, b, s);
	free(row);
	return err;
}

/* The scale of an int16 RMSNorm output over @n elements with gains @g. */
static int norm_range(const float *g, int n, struct npu_scale *s)
{
	float amax = 0;
	int i;

	for (i = 0; i < n; i++)
		amax = fmaxf(amax, fabsf(g[i]));
	return npu_scale_from_double(amax > 0 ? amax * sqrt((double)n) / 32767.0 : 1.0, s);
}

/*
 * A bias vector as int32 with one scale, its largest value near 2^30: the
 * MATMUL op adds it to each output row (numerics.md, "Bias").
 */
static int bias_new(struct llm_weights *w, const float *b, int n, struct dbuf *d,
		    struct npu_scale *s)
{
	float amax = 0;
	int i, err;

	for (i = 0; i < n; i++)
		amax = fmaxf(amax, fabsf(b[i]));
	err = npu_scale_from_double(amax > 0 ? amax / 1073741824.0 : 1.0, s);
	if (!err)
		err = llm_dbuf_new(w->dev, (uint64_t)n * 4, d, &w->bytes);
	for (i = 0; !err && i < n; i++)
		((int32_t *)d->p)[i] = (int32_t)lrint(b[i] / npu_scale_to_double(*s));
	return err;
}

/*
 * Each pair's angle per position (rope.c: the base and scaling of the
 * file) in turns, Q0.32; the magnitude scale YaRN puts on Q and K is
 * the attention's to apply (squared).
 */
static int freq_new(struct llm_weights *w)
{
	uint32_t hs = (uint32_t)w->c.head_dim, i;
	double *theta = calloc(hs / 2, sizeof(*theta));
	int err = theta ? llm_dbuf_new(w->dev, hs / 2 * 4, &w->freq, &w->bytes) : NPU_E_NOMEM;

	if (!err)
		w->rope_mscale = llm_rope_theta(w->m, theta);
	for (i = 0; !err && i < hs / 2; i++) {
		double turns = theta[i] / (2 * M_PI);

		((uint32_t *)w->freq.p)[i] = (uint32_t)llround(turns * 4294967296.0);
	}
	free(theta);
	return err;
}

static int layer_new(struct llm_weights *w, int l, int bits, int group)
{
	const struct npu_model *m = w->m;
	const struct npu_model_config *c = &w->c;
	struct layer_weights *L = &w->layers[l];
	int32_t d = c->dim, hd = c->hidden_dim, hs = c->head_dim;
	int32_t qd = hs * c->n_heads, kv = hs * c->n_kv_heads;
	size_t ld = (size_t)d, lkv = (size_t)kv, lh = (size_t)hd, lq = (size_t)qd;
	size_t at = (size_t)l * NPU_MODEL_LAYER_MATS;
	int err;

	err = dmat_new(w, m->wq + l * lq * ld, at, qd, d, bits, group, &L->wq);
	err = err ? err : dmat_new(w, m->wk + l * lkv * ld, at + 1, kv, d, bits, group, &L->wk);
	err = err ? err : dmat_new(w, m->wv + l * lkv * ld, at + 2, kv, d, bits, group, &L->wv);
	err = err ? err : dmat_new(w, m->wo + l * ld * lq, at + 3, d, qd, bits, group, &L->wo);
	if (c->qkv_bias) {
		err = err ? err : bias_new(w, m->bq + l * lq, qd, &L->bq, &L->s_bq);
		err = err ? err : bias_new(w, m->bk + l * lkv, kv, &L->bk, &L->s_bk);
		err = err ? err : bias_new(w, m->bv + l * lkv, kv, &L->bv, &L->s_bv);
	}
	if (c->qk_norm) {
		err = err ? err : gain_new(w, m->q_norm + l * (size_t)hs, hs, &L->g_qn, &L->s_qn);
		err = err ? err : gain_new(w, m->k_norm + l * (size_t)hs, hs, &L->g_kn, &L->s_kn);
		err = err ? err : norm_range(m->q_norm + l * (size_t)hs, hs, &L->o_qn);
		err = err ? err : norm_range(m->k_norm + l * (size_t)hs, hs, &L->o_kn);
	}
	err = err ? err : dmat_new(w, m->w1 + l * lh * ld, at + 4, hd, d, bits, group, &L->w1);
	err = err ? err : dmat_new(w, m->w2 + l * ld * lh, at + 5, d, hd, bits, group, &L->w2);
	err = err ? err : dmat_new(w, m->w3 + l * lh * ld, at + 6, hd, d, bits, group, &L->w3);
	err = err ? err : gain_new(w, m->rms_att + l * ld, d, &L->g_att, &L->s_att);
	return err ? err : gain_new(w, m->rms_ffn + l * ld, d, &L->g_ffn, &L->s_ffn);
}

int llm_weights_create(npu_device *dev, const struct npu_model *m, int bits, int group,
		       npu_llm_progress_fn progress, void *progress_user, struct llm_weights **out,
		       char *errbuf, size_t err_len)
{
	const struct npu_model_config *c = &m->cfg;
	struct llm_weights *w = calloc(1, sizeof(*w));
	int l, err = 0;

	if (w) {
		w->dev = dev;
		w->m = m;
		w->c = *c;
		w->layers = calloc((size_t)c->n_layers, sizeof(*w->layers));
	}
	if (!w || !w->layers)
		err = NPU_E_NOMEM;
	for (l = 0; l < c->n_layers && !err; l++) {
		err = layer_new(w, l, bits, group);
		if (!err && progress)
			progress(progress_user, l + 1, c->n_layers);
	}
	/* The classifier stays W8, or is the file's own. */
	err = err ? err : dmat_new(w, m->wcls, (size_t)c->n_layers * NPU_MODEL_LAYER_MATS,
				   c->vocab_size, c->dim, bits < 0 ? -1 : 8, 0, &w->wcls);
	err = err ? err : embedding_new(w, bits);
	if (!err)
		note_converted(w);
	err = err ? err : gain_new(w, m->rms_final, c->dim, &w->g_final, &w->s_final);
	err = err ? err : freq_new(w);
	if (!err && c->embed_scale != 1)
		err = scale_new(w, c->embed_scale, c->dim, &w->emb_mul, &w->s_emb_mul);
	if (err) {
		snprintf(errbuf, err_len, "putting the weights on the device: %s", npu_strerror(err));
		llm_weights_destroy(w);
		return err;
	}
	*out = w;
	return NPU_OK;
}

uint64_t llm_weights_matrix_bytes(const struct llm_weights *w)
{
	uint64_t n = w->wcls.b.size;
	int l;

	for (l = 0; l < w->c.n_layers; l++) {
		const struct layer_weights *L = &w->layers[l];

		n += L->wq.b.size + L->wk.b.size + L->wv.b.size + L->wo.b.size + L->w1.b.size +
		     L->w2.b.size + L->w3.b.size;
	}
	return n;
}

void llm_weights_destroy(struct llm_weights *w)
{
	int l;

	if (!w)
		return;
	for (l = 0; w->layers && l < w->c.n_layers; l++) {
		struct layer_weights *L = &w->layers[l];

		llm_dbuf_del(w->dev, &L->wq.b);
		llm_dbuf_del(w->dev, &L->wk.b);
		llm_dbuf_del(w->dev, &L->wv.b);
		llm_dbuf_del(w->dev, &L->wo.b);
		llm_dbuf_del(w->dev, &L->w1.b);
		llm_dbuf_del(w->dev, &L->w2.b);
		llm_dbuf_del(w->dev, &L->w3.b);
		llm_dbuf_del(w->dev, &L->g_att);
		llm_dbuf_del(w->dev, &L->g_ffn);
		llm_dbuf_del(w->dev, &L->bq);
		llm_dbuf_del(w->dev, &L->bk);
		llm_dbuf_del(w->dev, &L->bv);
		llm_dbuf_del(w->dev, &L->g_qn);
		llm_dbuf_del(w->dev, &L->g_kn);
	}
	free(w->layers);
	llm_dbuf_del(w->dev, &w->wcls.b);
	llm_dbuf_del(w->dev, &w->emb_own.b);
	llm_dbuf_del(w->dev, &w->emb);
	llm_dbuf_del(w->dev, &w->emb_scales);
	llm_dbuf_del(w->dev, &w->g_final);
	llm_dbuf_del(w->dev, &w->freq);
	llm_dbuf_del(w->dev, &w->emb_mul);
	free(w);
}
