// SPDX-License-Identifier: MIT
/*
 * GGUF tensors into the model: gguf.c has read and checked the metadata
 * and where each tensor lies; here each tensor's bytes are read from the
 * file (pread, into memory the loader owns) and converted.
 *
 * F32 and F16 tensors become floats, as a llama2.c checkpoint's are.
 * Q8_0 and Q4_0 matrices (blocks of 32 weights sharing one f16 scale d)
 * also become the NPU's SCALE_GROUP format directly: the integers are the
 * file's own, and each block's d becomes a Q0.16 factor of a power-of-two
 * tensor scale (docs/gguf.md says when that is exact).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

#define QBLOCK GGUF_QBLOCK

/* IEEE half to float, including subnormals; inf and NaN stay so. */
static float half_to_float(uint16_t h)
{
	int e = (h >> 10) & 31, m = h & 1023;
	float v;

	if (e == 0)
		v = ldexpf((float)m, -24);
	else if (e == 31)
		v = m ? NAN : INFINITY;
	else
		v = ldexpf((float)(m | 1024), e - 25);
	return (h & 0x8000) ? -v : v;
}

/* Every name here is one of the loader's own. */
static int tensor_error(struct gguf_loader *L, const char *name, const char *fmt, uint64_t a,
			uint64_t b)
{
	return npu_gguf_tensor_error(L, name, strlen(name), fmt, a, b);
}

/* Value j of a Q8_0 or Q4_0 block (without its scale). */
static int block_value(const uint8_t *blk, uint32_t type, int j)
{
	if (type == NPU_GGUF_Q8_0)
		return (int8_t)blk[j];
	return (j < 16 ? blk[j] & 15 : blk[j - 16] >> 4) - 8;
}

/*
 * Block scales to SCALE_GROUP: the NPU's group factors are unsigned, so a
 * block with d < 0 negates its integers and uses |d|. The tensor scale S
 * is the power of two just above the largest |d|, and each block's factor
 * is |d| / S * 65536 rounded: an f16 d has 11 significant bits, so every
 * |d| >= S / 64 gives an exact integer factor; smaller ones round to the
 * nearest 1/65536 of S (a block below half of that is zero). llama.cpp's
 * Q4_0 stores a block's largest value as -8 x d with d < 0, and +8 does
 * not fit int4: a Q4_0 matrix with such a block becomes int8 groups of 32
 * (exact, twice the bytes).
 */
static int native_from_blocks(struct gguf_loader *L, const char *name, const uint8_t *src,
			      uint32_t type, int32_t rows, int32_t cols, struct npu_qmatrix *q,
			      float *out)
{
	size_t blocks = (size_t)rows * cols / QBLOCK, bsize = type == NPU_GGUF_Q8_0 ? 34 : 18, b;
	double dmax = 0, s;
	int bits = 4, j;

	memset(q, 0, sizeof(*q));
	if (type == NPU_GGUF_Q8_0)
		bits = 8;
	for (b = 0; b < blocks; b++) {
		uint16_t h;
		float d;

		memcpy(&h, src + b * bsize, 2);
		d = half_to_float(h);
		if (!isfinite(d) || fabsf(d) > 1e4f)
			return tensor_error(L, name, ": block %llu has scale 0x%llx (f16): not a weight scale",
					    b, h);
		dmax = fmax(dmax, fabs(d));
		for (j = 0; j < QBLOCK && d < 0; j++)
			if (block_value(src + b * bsize + 2, type, j) == (type == NPU_GGUF_Q8_0 ? -128 : -8)) {
				if (type == NPU_GGUF_Q8_0)
					return tensor_error(L, name,
							    ": block %llu: -128 with a negative scale has no int8 form",
							    b, 0);
				bits = 8;
			}
	}
	q->rows = rows;
	q->cols = cols;
	q->group_size = QBLOCK;
	q->bits = bits;
	q->q = calloc(blocks, bits == 8 ? QBLOCK : QBLOCK / 2);
	q->factors = calloc(blocks, sizeof(*q->factors));
	if (!q->q || !q->factors)
		return NPU_E_NOMEM;
	/*
	 * Cannot fail: |d| <= 1e4 < 2^14 (checked above) and the smallest
	 * nonzero f16 is 2^-24, so S is 2^-23..2^14 (1 when every d is 0):
	 * a shift of 16..53, where the NPU takes -32..126.
	 */
	s = ldexp(1.0, dmax > 0 ? ilogb(dmax) + 1 : 0);
	(void)npu_scale_from_double(s, &q->scale);
	for (b = 0; b < blocks; b++) {
		const uint8_t *blk = src + b * bsize + 2;
		uint16_t h;
		double d, step;
		long f;

		memcpy(&h, src + b * bsize, 2);
		d = half_to_float(h);
		/*
		 * A block whose scale rounds to no factor at all is zero: its
		 * integers become 0 (under factor 1), as its values nearly are.
		 */
		f = lround(fabs(d) / s * 65536.0);
		q->factors[b] = (uint16_t)(f < 1 ? 1 : f);
		step = s * q->factors[b] / 65536.0;
		for (j = 0; j < QBLOCK; j++) {
			int v = f < 1 ? 0 : block_value(blk, type, j) * (d < 0 ? -1 : 1);
			size_t at = b * QBLOCK + (size_t)j;

			if (bits == 8)
				q->q[at] = (uint8_t)(int8_t)v;
			else
				q->q[at / 2] |= (uint8_t)((v & 15) << (4 * (at & 1)));
			out[at] = (float)(v * step);
		}
	}
	return NPU_OK;
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
	int quantized, ret;

	if (!t)
		return tensor_error(L, name, " is missing", 0, 0);
	t->used = 1;
	if (t->ne[0] != ne0 || t->ne[1] != (ne1 ? ne1 : 1) || t->ne[2] != 1 || t->ne[3] != 1)
		return tensor_error(L, name, ": shape does not fit the metadata: want [%llu, %llu]", ne0,
				    ne1 ? ne1 : 1);
	quantized = t->type == NPU_GGUF_Q8_0 || t->type == NPU_GGUF_Q4_0;
	if (quantized && !ne1)
		return tensor_error(L, name, " is a vector: quantized types are for matrices",
				    0, 0);
	if (quantized && ne0 % QBLOCK)
		return tensor_error(L, name, ": row length %llu is not a multiple of %llu", ne0,
				    QBLOCK);
	if (!t->bytes)
		return tensor_error(L, name,
				    " has ggml type %llu: supported are F32 (0), F16 (1), Q4_0 (2), Q8_0 (8)",
				    t->type, 0);
	if (!out)
		return NPU_OK;	/* load_weights' checking pass */
	/* F32 straight into the model; the others through the scratch buffer. */
	at = L->data_start + t->offset;
	if (t->type == NPU_GGUF_F32) {
		ret = npu_model_read(L->r.fd, out, n * 4, at, L->r.path, L->r.err, L->r.err_len);
	} else {
		ret = read_scratch(L, t->bytes, at);
		for (i = 0; !ret && t->type == NPU_GGUF_F16 && i < n; i++) {
			uint16_t h;

			memcpy(&h, L->scratch + 2 * i, 2);
			out[i] = half_to_float(h);
		}
		if (!ret && t->type != NPU_GGUF_F16) {
			struct npu_qmatrix tmp = { 0 }, *dst = q ? q : &tmp;

			ret = native_from_blocks(L, name, L->scratch, t->type, (int32_t)ne1,
						 (int32_t)ne0, dst, out);
			if (ret || !q)
				npu_qmatrix_free(dst);
		}
	}
	for (i = 0; !ret && i < n; i++)
		if (!isfinite(out[i]) || fabsf(out[i]) > 1e4f)
			return tensor_error(L, name, ": element %llu is not a finite weight (|w| > 1e4)",
					    i, 0);
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
	uint64_t d = (uint64_t)c->dim, h = (uint64_t)c->hidden_dim, v = (uint64_t)c->vocab_size;
	uint64_t kv = d * (uint64_t)c->n_kv_heads / (uint64_t)c->n_heads, i;
	size_t mats = (size_t)c->n_layers * NPU_MODEL_LAYER_MATS;
	struct gguf_tensor *out = npu_gguf_find(L, "output.weight");
	int l, ret = NPU_OK, pass;

#define AT(p, off) (pass ? (p) + (off) : NULL)
	m->cfg.shared_classifier = !out;
	for (pass = 0; pass < 2 && !ret; pass++) {
		if (pass) {
			size_t n = npu_model_layout(m, 0);

			m->data = malloc(n * sizeof(float));
			m->native = calloc(mats + 1, sizeof(*m->native));
			if (!m->data || !m->native) {
				npu_model_file_error(L->r.err, L->r.err_len, L->r.path,
						     "no memory for %zu floats", n);
				return NPU_E_NOMEM;
			}
			m->n_floats = n;
			npu_model_layout(m, 0);
		}
		ret = load_tensor(L, "token_embd.weight", d, v, AT(m->token_embedding, 0), NULL);
		ret = ret ? ret : load_tensor(L, "output_norm.weight", d, 0, AT(m->rms_final, 0), NULL);
		if (out)
			ret = ret ? ret : load_tensor(L, "output.weight", d, v, AT(m->wcls, 0),
						      AT(m->native, mats));
		for (l = 0; l < c->n_layers && !ret; l++) {
			struct npu_qmatrix *nq = AT(m->native, (size_t)l * NPU_MODEL_LAYER_MATS);
			const struct {
				const char *name;
				uint64_t ne0, ne1;
				float *dst;
				struct npu_qmatrix *q;
			} w[] = {
				{ "attn_norm", d, 0, AT(m->rms_att, l * d), NULL },
				{ "ffn_norm", d, 0, AT(m->rms_ffn, l * d), NULL },
				{ "attn_q", d, d, AT(m->wq, l * d * d), AT(nq, 0) },
				{ "attn_k", d, kv, AT(m->wk, l * kv * d), AT(nq, 1) },
				{ "attn_v", d, kv, AT(m->wv, l * kv * d), AT(nq, 2) },
				{ "attn_output", d, d, AT(m->wo, l * d * d), AT(nq, 3) },
				{ "ffn_gate", d, h, AT(m->w1, l * h * d), AT(nq, 4) },
				{ "ffn_down", h, d, AT(m->w2, l * d * h), AT(nq, 5) },
				{ "ffn_up", d, h, AT(m->w3, l * h * d), AT(nq, 6) },
			};
			size_t k;

			for (k = 0; k < sizeof(w) / sizeof(w[0]) && !ret; k++) {
				char name[64];

				snprintf(name, sizeof(name), "blk.%d.%s.weight", l, w[k].name);
				ret = load_tensor(L, name, w[k].ne0, w[k].ne1, w[k].dst, w[k].q);
			}
		}
		/* Every tensor must be one this model uses: others would be ignored silently. */
		for (i = 0; !pass && i < L->n_tensors && !ret; i++)
			if (!L->t[i].used)
				ret = npu_gguf_tensor_error(L, (const char *)L->r.p + L->t[i].name.at,
							    L->t[i].name.n,
							    " is not part of a llama model of this shape",
							    0, 0);
	}
#undef AT
	for (i = 0; !ret && i <= mats; i++)
		if (m->native[i].q)
			break;
	if (!ret && i == mats + 1) {
		free(m->native);	/* all floats: nothing native to keep */
		m->native = NULL;
	}
	return ret;
}

