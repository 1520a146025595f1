// SPDX-License-Identifier: MIT
/*
 * GGUF tensors into the model: gguf.c has read and checked the metadata
 * and where each tensor lies; here each tensor's bytes are read from the
 * file (pread, into memory the loader owns) and converted, tensor by
 * tensor (llama-quantize's mixes give each tensor its own type).
 *
 * F32 and F16 tensors become floats, as a llama2.c checkpoint's are.
 * Quantized matrices (Q4_0 ... Q6_K) become their exact floats and the
 * NPU's SCALE_BLOCK format, which holds the file's integers and binary16
 * scales as they are (gguf_quants.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

/* Every name here is one of the loader's own. */
static int tensor_error(struct gguf_loader *L, const char *name, const char *fmt, uint64_t a,
			uint64_t b)
{
	return npu_gguf_tensor_error(L, name, strlen(name), fmt, a, b);
}

/* "has type IQ2_XXS: supported are ..." (ggml's names; an id ggml lacks as a number). */
static int type_error(struct gguf_loader *L, const char *name, uint32_t type)
{
	const char *tn = npu_gguf_type_name(type);
	char msg[192];

	snprintf(msg, sizeof(msg), " has type %s%s: supported are F32, F16, Q4_0, Q4_1, Q5_0, "
		 "Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K", tn ? tn : "%llu",
		 tn ? "" : " (not a ggml type)");
	return tensor_error(L, name, msg, type, 0);
}

/* @n bytes at @at of the file into the loader's scratch buffer. */
static int read_scratch(struct gguf_loader *L, uint64_t n, uint64_t at)
{
	if (n > L->scratch_len) {
		uint8_t *p = realloc(L->scratch, n);

		if (!p)
			return NPU_E_NOMEM;
		L->scratch = p;
		L->scratch_len = n;
	}
	return npu_model_read(L->r.fd, L->scratch, n, at, L->r.path, L->r.err, L->r.err_len);
}

/*
 * Tensor @name must have ggml shape [@ne0, @ne1] (ne0 the contiguous one):
 * a matrix of @ne1 rows by @ne0 columns, or a vector when @ne1 is 0.
 * Its floats go to @out; a quantized matrix also to @q when @q is set.
 * With @out NULL, only the checks.
 */
static int load_tensor(struct gguf_loader *L, const char *name, uint64_t ne0, uint64_t ne1,
		       float *out, struct npu_qmatrix *q)
{
	struct gguf_tensor *t = npu_gguf_find(L, name);
	uint64_t n = ne0 * (ne1 ? ne1 : 1), at, i;
	char msg[160];
	int quantized, ret;

	if (!t)
		return tensor_error(L, name, " is missing", 0, 0);
	t->used = 1;
	if (t->ne[0] != ne0 || t->ne[1] != (ne1 ? ne1 : 1) || t->ne[2] != 1 || t->ne[3] != 1)
		return tensor_error(L, name, ": shape does not fit the metadata: want [%llu, %llu]", ne0,
				    ne1 ? ne1 : 1);
	quantized = npu_gguf_type_quantized(t->type);
	if (!npu_gguf_type_block(t->type))
		return type_error(L, name, t->type);
	if (quantized && !ne1) {
		snprintf(msg, sizeof(msg),
			 " is a vector of type %s: quantized types are for matrices",
			 npu_gguf_type_name(t->type));
		return tensor_error(L, name, msg, 0, 0);
	}
	if (quantized && ne0 % npu_gguf_type_block(t->type)) {
		snprintf(msg, sizeof(msg), " has type %s: row length %%llu is not a multiple of its "
			 "block's %%llu", npu_gguf_type_name(t->type));
		return tensor_error(L, name, msg, ne0, npu_gguf_type_block(t->type));
	}
	if (!out) {	/* load_weights' checking pass */
		if (t->type < NPU_GGUF_NTYPES)
			L->m->types[t->type]++;
		return NPU_OK;
	}
	/* F32 straight into the model; the others through the scratch buffer. */
	at = L->data_start + t->offset;
	if (t->type == NPU_GGUF_F32) {
		ret = npu_model_read(L->r.fd, out, n * 4, at, L->r.path, L->r.err, L->r.err_len);
	} else {
		ret = read_scratch(L, t->bytes, at);
		for (i = 0; !ret && t->type == NPU_GGUF_F16 && i < n; i++) {
			uint16_t h;

			memcpy(&h, L->scratch + 2 * i, 2);
			out[i] = (float)npu_half_to_double(h);
		}
		if (!ret && quantized) {
			uint64_t bad[2] = { 0, 0 };

			/* Kept native: its floats wait for npu_model_native_floats(). */
			ret = npu_gguf_dequant(L->scratch, t->type, (int32_t)ne1, (int32_t)ne0,
					       q && L->native_only ? NULL : out, q, bad);
			if (ret == NPU_E_FORMAT)
				return tensor_error(L, name, ": block %llu has scale 0x%llx (f16): "
						    "not finite", bad[0], bad[1]);
			if (ret == NPU_E_RANGE)
				return tensor_error(L, name, ": element %llu is not a finite weight "
						    "(|w| > 1e4)", bad[0], 0);
		}
	}
	for (i = 0; !ret && !quantized && i < n; i++)
		if (!isfinite(out[i]) || fabsf(out[i]) > 1e4f)
			return tensor_error(L, name, ": element %llu is not a finite weight (|w| > 1e4)",
					    i, 0);
	return ret;
}

/* In pass 1, where @off of @p is; in pass 0 (the checks) nothing. */
#define AT(p, off) (pass && (p) ? (p) + (off) : NULL)

/* One part of a fused tensor: its rows, where their floats and blocks go. */
struct part {
	uint64_t rows;
	float *dst;
	struct npu_qmatrix *q;
};

/* Rows [@r0, @r0 + @n) of a quantized matrix, a matrix of their own. */
static int qmatrix_rows(const struct npu_qmatrix *src, int32_t r0, int32_t n,
			struct npu_qmatrix *dst)
{
	enum npu_dtype dt = src->bits == 8 ? NPU_U8 : (enum npu_dtype)(NPU_U2 + src->bits - 2);
	size_t row = npu_row_bytes(dt, (uint32_t)src->cols);
	size_t rec = npu_block_record_bytes(&src->block, (uint32_t)src->cols);

	*dst = *src;
	dst->rows = n;
	dst->q = malloc(row * (size_t)n);
	dst->records = malloc(rec * (size_t)n);
	if (!dst->q || !dst->records) {
		npu_qmatrix_free(dst);
		return NPU_E_NOMEM;
	}
	memcpy(dst->q, src->q + row * (size_t)r0, row * (size_t)n);
	memcpy(dst->records, src->records + rec * (size_t)r0, rec * (size_t)n);
	return NPU_OK;
}

/*
 * A fused tensor (attn_qkv, Phi-3's ffn_up) split into its parts, rows
 * (or, for a vector, elements) in order, each as its own tensor would
 * load. With @pass 0, only the checks.
 */
static int load_fused(struct gguf_loader *L, const char *name, uint64_t ne0, int vector,
		      struct part *p, int n, int pass)
{
	struct gguf_tensor *t = npu_gguf_find(L, name);
	struct npu_qmatrix fq = { 0 };
	uint64_t rows = 0, at = 0, width = vector ? 1 : ne0;
	float *tmp;
	int i, ret, floats;

	for (i = 0; i < n; i++)
		rows += p[i].rows;
	if (!pass || !t)
		return load_tensor(L, name, vector ? rows : ne0, vector ? 0 : rows, NULL, NULL);
	/* The file's own blocks kept: their floats come later, from them (no buffer). */
	floats = !(L->native_only && !vector && npu_gguf_type_quantized(t->type));
	tmp = malloc((floats ? rows * width : 1) * sizeof(float));
	if (!tmp)
		return NPU_E_NOMEM;
	ret = load_tensor(L, name, vector ? rows : ne0, vector ? 0 : rows, tmp,
			  vector ? NULL : &fq);
	for (i = 0; i < n && !ret; i++) {
		if (floats)
			memcpy(p[i].dst, tmp + at * width, p[i].rows * width * sizeof(float));
		if (fq.q)
			ret = qmatrix_rows(&fq, (int32_t)at, (int32_t)p[i].rows, p[i].q);
		at += p[i].rows;
	}
	npu_qmatrix_free(&fq);
	free(tmp);
	return ret;
}

/*
 * Layer @l's tensors: separate Q, K, V (or fused attn_qkv, with its bias
 * fused or not), separate gate and up (or Phi-3's fused ffn_up, the gate
 * first), the norms, qwen2's biases, qwen3's head norms.
 */
static int load_layer(struct gguf_loader *L, int l, int pass)
{
	struct npu_model *m = L->m;
	const struct npu_model_config *c = &m->cfg;
	uint64_t d = (uint64_t)c->dim, h = (uint64_t)c->hidden_dim;
	uint64_t hs = (uint64_t)c->head_dim, qd = hs * (uint64_t)c->n_heads;
	uint64_t kv = hs * (uint64_t)c->n_kv_heads;
	struct npu_qmatrix *nq = AT(m->native, (size_t)l * NPU_MODEL_LAYER_MATS);
	int qkv = !!npu_gguf_find(L, "blk.0.attn_qkv.weight");
	int qkv_b = qkv && npu_gguf_find(L, "blk.0.attn_qkv.bias");
	int up = c->arch == NPU_ARCH_PHI3;
	const struct {
		const char *name, *kind;
		uint64_t ne0, ne1;
		float *dst;
		struct npu_qmatrix *q;
		int used;
	} w[] = {
		{ "attn_norm", "weight", d, 0, AT(m->rms_att, l * d), NULL, 1 },
		{ "ffn_norm", "weight", d, 0, AT(m->rms_ffn, l * d), NULL, 1 },
		{ "attn_q", "weight", d, qd, AT(m->wq, l * qd * d), AT(nq, 0), !qkv },
		{ "attn_k", "weight", d, kv, AT(m->wk, l * kv * d), AT(nq, 1), !qkv },
		{ "attn_v", "weight", d, kv, AT(m->wv, l * kv * d), AT(nq, 2), !qkv },
		{ "attn_output", "weight", qd, d, AT(m->wo, l * d * qd), AT(nq, 3), 1 },
		{ "ffn_gate", "weight", d, h, AT(m->w1, l * h * d), AT(nq, 4), !up },
		{ "ffn_down", "weight", h, d, AT(m->w2, l * d * h), AT(nq, 5), 1 },
		{ "ffn_up", "weight", d, h, AT(m->w3, l * h * d), AT(nq, 6), !up },
		{ "attn_q", "bias", qd, 0, AT(m->bq, l * qd), NULL, c->qkv_bias && !qkv_b },
		{ "attn_k", "bias", kv, 0, AT(m->bk, l * kv), NULL, c->qkv_bias && !qkv_b },
		{ "attn_v", "bias", kv, 0, AT(m->bv, l * kv), NULL, c->qkv_bias && !qkv_b },
		{ "attn_q_norm", "weight", hs, 0, AT(m->q_norm, l * hs), NULL, c->qk_norm },
		{ "attn_k_norm", "weight", hs, 0, AT(m->k_norm, l * hs), NULL, c->qk_norm },
	};
	struct part pq[3] = {
		{ qd, AT(m->wq, l * qd * d), AT(nq, 0) }, { kv, AT(m->wk, l * kv * d), AT(nq, 1) },
		{ kv, AT(m->wv, l * kv * d), AT(nq, 2) },
	};
	struct part pb[3] = {
		{ qd, AT(m->bq, l * qd), NULL }, { kv, AT(m->bk, l * kv), NULL },
		{ kv, AT(m->bv, l * kv), NULL },
	};
	struct part pu[2] = {
		{ h, AT(m->w1, l * h * d), AT(nq, 4) }, { h, AT(m->w3, l * h * d), AT(nq, 6) },
	};
	char name[64];
	size_t k;
	int ret = NPU_OK;

	for (k = 0; k < sizeof(w) / sizeof(w[0]) && !ret; k++) {
		if (!w[k].used)
			continue;
		snprintf(name, sizeof(name), "blk.%d.%s.%s", l, w[k].name, w[k].kind);
		ret = load_tensor(L, name, w[k].ne0, w[k].ne1, w[k].dst, w[k].q);
	}
	snprintf(name, sizeof(name), "blk.%d.attn_qkv.weight", l);
	if (!ret && qkv)
		ret = load_fused(L, name, d, 0, pq, 3, pass);
	snprintf(name, sizeof(name), "blk.%d.attn_qkv.bias", l);
	if (!ret && qkv_b)
		ret = load_fused(L, name, 0, 1, pb, 3, pass);
	snprintf(name, sizeof(name), "blk.%d.ffn_up.weight", l);
	if (!ret && up)
		ret = load_fused(L, name, d, 0, pu, 2, pass);
	return ret;
}

/*
 * Pass 0 checks every tensor (presence, shape, type, and that no tensor
 * is left over) before anything is allocated, so a file whose metadata
 * claims more than it holds fails with its cause, not out of memory;
 * pass 1 allocates the model and loads it.
 */
int npu_gguf_load_weights(struct gguf_loader *L)
{
	struct npu_model *m = L->m;
	const struct npu_model_config *c = &m->cfg;
	uint64_t d = (uint64_t)c->dim, v = (uint64_t)c->vocab_size;
	uint64_t hs = (uint64_t)c->head_dim, i;
	size_t mats = (size_t)c->n_layers * NPU_MODEL_LAYER_MATS;
	/* Gemma's classifier is always the embedding (llama.cpp reads no output.weight). */
	struct gguf_tensor *out = c->arch == NPU_ARCH_GEMMA ? NULL :
				  npu_gguf_find(L, "output.weight");
	int l, ret = NPU_OK, pass;

	m->cfg.shared_classifier = !out;
	for (pass = 0; pass < 2 && !ret; pass++) {
		if (pass) {
			size_t n = npu_model_layout(m, 0);

			m->data = malloc(n * sizeof(float));
			m->native = calloc(mats + 2, sizeof(*m->native));
			if (!m->data || !m->native) {
				npu_model_file_error(L->r.err, L->r.err_len, L->r.path,
						     "no memory for %zu floats", n);
				return NPU_E_NOMEM;
			}
			m->n_floats = n;
			npu_model_layout(m, 0);
		}
		/* A shared classifier is the embedding table: a matmul's weights too. */
		ret = load_tensor(L, "token_embd.weight", d, v, AT(m->token_embedding, 0),
				  AT(m->native, out ? mats + 1 : mats));
		ret = ret ? ret : load_tensor(L, "output_norm.weight", d, 0, AT(m->rms_final, 0), NULL);
		if (out)
			ret = ret ? ret : load_tensor(L, "output.weight", d, v, AT(m->wcls, 0),
						      AT(m->native, mats));
		if (c->rope_factors)
			ret = ret ? ret : load_tensor(L, "rope_freqs.weight", hs / 2, 0,
						      AT(m->rope_factors, 0), NULL);
		for (l = 0; l < c->n_layers && !ret; l++)
			ret = load_layer(L, l, pass);
		/* Every tensor must be one this model uses: others would be ignored silently. */
		for (i = 0; !pass && i < L->n_tensors && !ret; i++)
			if (!L->t[i].used)
				ret = npu_gguf_tensor_error(L, (const char *)L->r.p +
							    L->t[i].name.at, L->t[i].name.n,
							    " is not part of a model of this "
							    "architecture and shape", 0, 0);
	}
#undef AT
	if (!ret)
		m->embedding_type = (int32_t)npu_gguf_find(L, "token_embd.weight")->type;
	for (i = 0; !ret && i < c->rope_factors * hs / 2; i++)
		if (!(m->rope_factors[i] > 1e-6f))
			ret = npu_gguf_tensor_error(L, "rope_freqs.weight", 17,
						    ": factor %llu is not positive", i, 0);
	if (!ret && c->arch != NPU_ARCH_LLAMA)
		ret = npu_gguf_neox_pairs(L);
	for (i = 0; !ret && i < mats + 2; i++)
		if (m->native[i].q)
			break;
	if (!ret && i == mats + 2) {
		free(m->native);	/* all floats: nothing native to keep */
		m->native = NULL;
	}
	return ret;
}

void npu_model_native_floats(struct npu_model *m)
{
	const struct npu_model_config *c = &m->cfg;
	size_t d = (size_t)c->dim, h = (size_t)c->hidden_dim, hs = (size_t)c->head_dim;
	size_t qd = hs * (size_t)c->n_heads, kv = hs * (size_t)c->n_kv_heads;
	size_t mats = (size_t)c->n_layers * NPU_MODEL_LAYER_MATS, i;

	for (i = 0; m->native && i < mats + 2; i++) {
		size_t l = i / NPU_MODEL_LAYER_MATS;
		float *at[NPU_MODEL_LAYER_MATS] = {
			m->wq + l * qd * d, m->wk + l * kv * d, m->wv + l * kv * d,
			m->wo + l * d * qd, m->w1 + l * h * d, m->w2 + l * d * h, m->w3 + l * h * d,
		};

		if (!m->native[i].q)
			continue;
		npu_gguf_native_floats(&m->native[i], i < mats ? at[i % NPU_MODEL_LAYER_MATS] :
				       i == mats ? m->wcls : m->token_embedding);
	}
}

/*
 * Rows of @heads heads of @hs rows each, @bytes each, from NEOX's order
 * (pair i is rows i and i + hs/2) into adjacent pairs (rows 2i, 2i + 1).
 */
static void pair_rows(void *base, size_t bytes, int heads, int hs, uint8_t *tmp)
{
	size_t head = bytes * (size_t)hs;
	int h, i;

	for (h = 0; h < heads; h++) {
		uint8_t *p = (uint8_t *)base + head * (size_t)h;

		for (i = 0; i < hs / 2; i++) {
			memcpy(tmp + bytes * (size_t)(2 * i), p + bytes * (size_t)i, bytes);
			memcpy(tmp + bytes * (size_t)(2 * i + 1), p + bytes * (size_t)(i + hs / 2),
			       bytes);
		}
		memcpy(p, tmp, head);
	}
}

/* A quantized matrix's rows (codes and records) likewise. */
static void pair_qrows(struct npu_qmatrix *q, int heads, int hs, uint8_t *tmp)
{
	enum npu_dtype dt = q->bits == 8 ? NPU_U8 : (enum npu_dtype)(NPU_U2 + q->bits - 2);

	pair_rows(q->q, npu_row_bytes(dt, (uint32_t)q->cols), heads, hs, tmp);
	pair_rows(q->records, npu_block_record_bytes(&q->block, (uint32_t)q->cols), heads, hs,
		  tmp);
}

/*
 * qwen2 and qwen3 rotate NEOX pairs (i, i + head_dim/2); the runner
 * rotates adjacent ones. Reordering each head's Q and K rows (and their
 * biases and norm gains) the same way turns one into the other and leaves
 * every Q.K product, so attention, unchanged.
 */
int npu_gguf_neox_pairs(struct gguf_loader *L)
{
	struct npu_model *m = L->m;
	const struct npu_model_config *c = &m->cfg;
	size_t d = (size_t)c->dim, hs = (size_t)c->head_dim;
	size_t qd = hs * (size_t)c->n_heads, kv = hs * (size_t)c->n_kv_heads, most = hs * 4;
	uint8_t *tmp;
	int l;

	for (l = 0; m->native && l < c->n_layers; l++) {
		const struct npu_qmatrix *q = &m->native[(size_t)l * NPU_MODEL_LAYER_MATS];
		size_t a = q[0].q ? npu_block_record_bytes(&q[0].block, (uint32_t)d) : 0;
		size_t b = q[1].q ? npu_block_record_bytes(&q[1].block, (uint32_t)d) : 0;

		most = a > most ? a : most;
		most = b > most ? b : most;
	}
	/* The widest row: a float matrix's, or a quantized one's codes (at most a float's). */
	most = d * 4 > most ? d * 4 : most;
	tmp = malloc(most * hs);
	if (!tmp)
		return NPU_E_NOMEM;
	for (l = 0; l < c->n_layers; l++) {
		struct npu_qmatrix *q = m->native ? &m->native[(size_t)l * NPU_MODEL_LAYER_MATS] :
					NULL;

		/* Floats the loader left unwritten (kept native) come from the codes later. */
		if (!(q && q[0].q && L->native_only))
			pair_rows(m->wq + l * qd * d, d * 4, c->n_heads, c->head_dim, tmp);
		if (!(q && q[1].q && L->native_only))
			pair_rows(m->wk + l * kv * d, d * 4, c->n_kv_heads, c->head_dim, tmp);
		if (q && q[0].q)
			pair_qrows(&q[0], c->n_heads, c->head_dim, tmp);
		if (q && q[1].q)
			pair_qrows(&q[1], c->n_kv_heads, c->head_dim, tmp);
		if (c->qkv_bias) {
			pair_rows(m->bq + l * qd, 4, c->n_heads, c->head_dim, tmp);
			pair_rows(m->bk + l * kv, 4, c->n_kv_heads, c->head_dim, tmp);
		}
		if (c->qk_norm) {
			pair_rows(m->q_norm + l * hs, 4, 1, c->head_dim, tmp);
			pair_rows(m->k_norm + l * hs, 4, 1, c->head_dim, tmp);
		}
	}
	free(tmp);
	return NPU_OK;
}
