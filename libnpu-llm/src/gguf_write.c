// SPDX-License-Identifier: MIT
/*
 * Writing a model as GGUF v3 (what npu_model_load_gguf and llama.cpp
 * read): its architecture's metadata and tensors (llama, qwen2, qwen3 or
 * gemma), the tokenizer, and the tensors in F32, F16, Q8_0 or Q4_0. The
 * block quantizers follow ggml's reference rounding, so the files look
 * like the ones people bring: Q8_0 d = amax / 127 with q
 * rounded half away from zero; Q4_0 d = (the value of largest magnitude)
 * / -8 with q = min(15, trunc(x / d + 8.5)).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

#define QBLOCK 32
#define ALIGN 32

enum { KV_U32 = 4, KV_I32 = 5, KV_F32 = 6, KV_STRING = 8, KV_ARRAY = 9 };

struct out {
	FILE *f;
	int err;
	uint64_t n_kv;		/* key/values written */
	const char *arch;
	char key[96];
};

/* "ARCH.@suffix" */
static const char *akey(struct out *o, const char *suffix)
{
	snprintf(o->key, sizeof(o->key), "%s.%s", o->arch, suffix);
	return o->key;
}

static void put(struct out *o, const void *p, size_t n)
{
	if (!o->err && fwrite(p, 1, n, o->f) != n)
		o->err = errno ? errno : EIO;
}

static void put_u32(struct out *o, uint32_t v) { put(o, &v, 4); }
static void put_u64(struct out *o, uint64_t v) { put(o, &v, 8); }

static void put_str(struct out *o, const char *s)
{
	put_u64(o, strlen(s));
	put(o, s, strlen(s));
}

static void kv_u32(struct out *o, const char *key, uint32_t v)
{
	o->n_kv++;
	put_str(o, key);
	put_u32(o, KV_U32);
	put_u32(o, v);
}

static void kv_f32(struct out *o, const char *key, float v)
{
	o->n_kv++;
	put_str(o, key);
	put_u32(o, KV_F32);
	put(o, &v, 4);
}

static void kv_str(struct out *o, const char *key, const char *v)
{
	o->n_kv++;
	put_str(o, key);
	put_u32(o, KV_STRING);
	put_str(o, v);
}

static void kv_array(struct out *o, const char *key, uint32_t type, uint64_t n)
{
	o->n_kv++;
	put_str(o, key);
	put_u32(o, KV_ARRAY);
	put_u32(o, type);
	put_u64(o, n);
}

/* IEEE half, rounded to nearest even (subnormals, overflow to inf). */
uint16_t llm_float_to_half(float f)
{
	uint32_t x, m, hm, rem, halfway;
	uint16_t sign;
	int e, shift;

	memcpy(&x, &f, 4);
	sign = (uint16_t)((x >> 16) & 0x8000);
	m = x & 0x7fffff;
	if (((x >> 23) & 0xff) == 0xff)
		return sign | 0x7c00 | (m ? 0x200 : 0);
	e = (int)((x >> 23) & 0xff) - 127 + 15;
	if (e >= 31)
		return sign | 0x7c00;
	if (e <= 0) {
		if (e < -10)
			return sign;
		m |= 0x800000;
		shift = 14 - e;
	} else {
		shift = 13;
	}
	hm = m >> shift;
	rem = m & ((1u << shift) - 1);
	halfway = 1u << (shift - 1);
	/* A carry out of the mantissa correctly bumps the exponent. */
	hm += e > 0 ? (uint32_t)e << 10 : 0;
	if (rem > halfway || (rem == halfway && (hm & 1)))
		hm++;
	return sign | (uint16_t)hm;
}

static void put_q8_0(struct out *o, const float *x)
{
	float amax = 0, d, id;
	int8_t q[QBLOCK];
	uint16_t h;
	int j;

	for (j = 0; j < QBLOCK; j++)
		amax = fmaxf(amax, fabsf(x[j]));
	d = amax / 127;
	id = d ? 1 / d : 0;
	for (j = 0; j < QBLOCK; j++)
		q[j] = (int8_t)roundf(x[j] * id);
	h = llm_float_to_half(d);
	put(o, &h, 2);
	put(o, q, QBLOCK);
}

/* @given: the block's scale chosen beforehand (an f16 value), or NULL: ggml's rule. */
static void put_q4_0(struct out *o, const float *x, const float *given)
{
	float amax = 0, max = 0, d, id;
	uint8_t q[QBLOCK / 2];
	uint16_t h;
	int j;

	for (j = 0; j < QBLOCK; j++)
		if (fabsf(x[j]) > amax) {
			amax = fabsf(x[j]);
			max = x[j];
		}
	d = given ? *given : max / -8;
	id = d ? 1 / d : 0;
	for (j = 0; j < QBLOCK / 2; j++) {
		int lo = (int)(x[j] * id + 8.5f), hi = (int)(x[j + QBLOCK / 2] * id + 8.5f);

		q[j] = (uint8_t)((lo > 15 ? 15 : lo) | (hi > 15 ? 15 : hi) << 4);
	}
	h = llm_float_to_half(d);
	put(o, &h, 2);
	put(o, q, QBLOCK / 2);
}

/*
 * A tensor of the file: its rows (a vector's elements) from up to three
 * of the model's arrays one after another (a fused tensor: Phi-3's
 * attn_qkv and ffn_up), each maybe in NEOX order.
 */
struct wtensor {
	char name[48];
	uint64_t ne0, ne1;	/* ne1 = 1: a vector */
	uint32_t type;
	uint64_t offset, bytes;
	struct {
		const float *data;
		uint64_t rows;
		uint64_t neox;	/* NEOX order, heads of this many rows (vectors: elements) */
	} seg[3];
	int n_seg;
};

/*
 * Where element @i of the file's tensor is in memory: the model holds Q
 * and K heads in adjacent pairs, a NEOX file pair j as rows j, j + hs/2.
 */
static const float *src_elem(const struct wtensor *t, uint64_t i)
{
	uint64_t row = t->ne1 == 1 ? i : i / t->ne0, hs, j;
	int s = 0;

	while (s < t->n_seg - 1 && row >= t->seg[s].rows)
		row -= t->seg[s++].rows;
	hs = t->seg[s].neox;
	if (hs) {
		j = row % hs;
		row = row - j + (j < hs / 2 ? 2 * j : 2 * (j - hs / 2) + 1);
	}
	return t->seg[s].data + (t->ne1 == 1 ? row : row * t->ne0 + i % t->ne0);
}

static uint64_t tensor_bytes(const struct wtensor *t)
{
	uint64_t n = t->ne0 * t->ne1;

	switch (t->type) {
	case NPU_GGUF_F16: return n * 2;
	case NPU_GGUF_Q8_0: return n / QBLOCK * 34;
	case NPU_GGUF_Q4_0: return n / QBLOCK * 18;
	default: return n * 4;
	}
}

/* @x's block's scale in @plan, or NULL. */
static const float *planned_scale(const struct gguf_plan *plan, const float *x)
{
	int i;

	for (i = 0; plan && i < plan->n; i++)
		if (plan->t[i].scales && x >= plan->t[i].data &&
		    x < plan->t[i].data + plan->t[i].count)
			return plan->t[i].scales + (x - plan->t[i].data) / QBLOCK;
	return NULL;
}

/* @data's type in @plan, or @type. */
static uint32_t planned_type(const struct gguf_plan *plan, const float *data, uint32_t type)
{
	int i;

	for (i = 0; plan && i < plan->n; i++)
		if (plan->t[i].data == data && plan->t[i].type)
			return plan->t[i].type;
	return type;
}

static void put_tensor_data(struct out *o, const struct wtensor *t, const struct gguf_plan *plan)
{
	uint64_t n = t->ne0 * t->ne1, i;

	for (i = 0; i < n; i += t->type == NPU_GGUF_Q8_0 || t->type == NPU_GGUF_Q4_0 ? QBLOCK : 1) {
		uint16_t h;

		const float *x = src_elem(t, i);

		switch (t->type) {
		case NPU_GGUF_F16:
			h = llm_float_to_half(*x);
			put(o, &h, 2);
			break;
		case NPU_GGUF_Q8_0:
			put_q8_0(o, x);
			break;
		case NPU_GGUF_Q4_0:
			put_q4_0(o, x, planned_scale(plan, x));
			break;
		default:
			put(o, x, 4);
			break;
		}
	}
}

/* The tokenizer's pieces as SentencePiece writes them: spaces as U+2581. */
static void put_piece(struct out *o, const char *p)
{
	uint64_t n = 0;
	const char *c;

	for (c = p; *c; c++)
		n += *c == ' ' ? 3 : 1;
	put_u64(o, n);
	for (c = p; *c; c++)
		put(o, *c == ' ' ? "\xe2\x96\x81" : c, *c == ' ' ? 3 : 1);
}

static int token_type(const struct npu_tokenizer *t, int32_t i)
{
	unsigned int b;
	char tail;

	if (i == 0)
		return 2;	/* unknown */
	if (i <= 2)
		return 3;	/* control: BOS, EOS */
	if (sscanf(t->pieces[i], "<0x%2X>%c", &b, &tail) == 1 && strlen(t->pieces[i]) == 6)
		return 6;	/* byte */
	return 1;
}

/* The {arch}.* keys of @c: what gguf_arch.c reads back. */
static void put_config(struct out *o, const struct npu_model_config *c)
{
	static const char *const scaling[] = { "none", "linear", "yarn", "linear" };
	const struct npu_rope_params *r = &c->rope;

	kv_u32(o, akey(o, "context_length"), (uint32_t)c->seq_len);
	kv_u32(o, akey(o, "embedding_length"), (uint32_t)c->dim);
	kv_u32(o, akey(o, "block_count"), (uint32_t)c->n_layers);
	kv_u32(o, akey(o, "feed_forward_length"), (uint32_t)c->hidden_dim);
	kv_u32(o, akey(o, "attention.head_count"), (uint32_t)c->n_heads);
	kv_u32(o, akey(o, "attention.head_count_kv"), (uint32_t)c->n_kv_heads);
	if (c->head_dim * c->n_heads != c->dim) {
		kv_u32(o, akey(o, "attention.key_length"), (uint32_t)c->head_dim);
		kv_u32(o, akey(o, "attention.value_length"), (uint32_t)c->head_dim);
	}
	kv_u32(o, akey(o, "rope.dimension_count"), (uint32_t)c->head_dim);
	if (c->sliding_window)
		kv_u32(o, akey(o, "attention.sliding_window"), (uint32_t)c->sliding_window);
	kv_f32(o, akey(o, "rope.freq_base"), r->base);
	kv_f32(o, akey(o, "attention.layer_norm_rms_epsilon"), c->norm_eps);
	/* Llama 3's factors are the rope_freqs tensor; a linear factor may come with them. */
	if ((r->scaling != NPU_ROPE_NONE && r->scaling != NPU_ROPE_LLAMA3) || r->freq_scale != 1) {
		kv_str(o, akey(o, "rope.scaling.type"), scaling[r->scaling]);
		kv_f32(o, akey(o, "rope.scaling.factor"), 1 / r->freq_scale);
		kv_u32(o, akey(o, "rope.scaling.original_context_length"), (uint32_t)r->orig_ctx);
	}
	if (r->attn_factor != 1)
		kv_f32(o, akey(o, "rope.scaling.attn_factor"), r->attn_factor);
}

int npu_model_save_gguf(const char *path, const struct npu_model *m, const struct npu_tokenizer *t,
			enum npu_gguf_type type, char *err, size_t err_len)
{
	return llm_gguf_save(path, m, t, type, NULL, err, err_len);
}

int llm_gguf_save(const char *path, const struct npu_model *m, const struct npu_tokenizer *t,
		  enum npu_gguf_type type, const struct gguf_plan *plan, char *err, size_t err_len)
{
	static const char *const archs[] = { "llama", "qwen2", "qwen3", "gemma", "phi3" };
	const struct npu_model_config *c = m ? &m->cfg : NULL;
	static const char *const mats[] = { "attn_q", "attn_k", "attn_v", "attn_output",
					    "ffn_gate", "ffn_down", "ffn_up" };
	struct wtensor *ts;
	struct out o = { 0 };
	uint64_t d, h, hs, qd, kv, neox, off = 0, n_ts, i;
	int phi3;
	uint32_t ftype;
	int32_t l, k;

	if (!path || !m || !t || !m->data || t->vocab_size != c->vocab_size ||
	    (type != NPU_GGUF_F32 && type != NPU_GGUF_F16 && type != NPU_GGUF_Q8_0 &&
	     type != NPU_GGUF_Q4_0) || c->arch < NPU_ARCH_LLAMA || c->arch > NPU_ARCH_PHI3 ||
	    !c->head_dim || (c->arch == NPU_ARCH_GEMMA && !c->shared_classifier))
		return NPU_E_INVAL;
	d = (uint64_t)c->dim;
	h = (uint64_t)c->hidden_dim;
	hs = (uint64_t)c->head_dim;
	qd = hs * (uint64_t)c->n_heads;
	kv = hs * (uint64_t)c->n_kv_heads;
	neox = c->arch == NPU_ARCH_LLAMA ? 0 : hs;
	phi3 = c->arch == NPU_ARCH_PHI3;
	n_ts = 3 + !c->shared_classifier + 14 * (uint64_t)c->n_layers;
	ts = calloc(n_ts, sizeof(*ts));
	if (!ts)
		return NPU_E_NOMEM;
	n_ts = 0;
#define ADD(nm, ptr, a, b, nx) do { \
		struct wtensor *w_ = &ts[n_ts++]; \
		snprintf(w_->name, sizeof(w_->name), "%s", nm); \
		w_->ne0 = (a); w_->ne1 = (b); w_->n_seg = 1; \
		w_->seg[0].data = (ptr); w_->seg[0].rows = (b) == 1 ? (a) : (b); \
		w_->seg[0].neox = (nx); \
	} while (0)
	/* The last tensor added takes @nr more rows (a matrix's) from @ptr: a fused one. */
#define FUSE(ptr, nr, nx) do { \
		struct wtensor *w_ = &ts[n_ts - 1]; \
		w_->seg[w_->n_seg].data = (ptr); w_->seg[w_->n_seg].rows = (nr); \
		w_->seg[w_->n_seg++].neox = (nx); w_->ne1 += (nr); \
	} while (0)
	ADD("token_embd.weight", m->token_embedding, d, (uint64_t)c->vocab_size, 0);
	ADD("output_norm.weight", m->rms_final, d, 1, 0);
	if (!c->shared_classifier)
		ADD("output.weight", m->wcls, d, (uint64_t)c->vocab_size, 0);
	if (c->rope_factors)
		ADD("rope_freqs.weight", m->rope_factors, hs / 2, 1, 0);
	for (l = 0; l < c->n_layers; l++) {
		const struct { const float *p; uint64_t ne0, ne1, neox; } w[] = {
			{ m->wq + l * qd * d, d, qd, neox }, { m->wk + l * kv * d, d, kv, neox },
			{ m->wv + l * kv * d, d, kv, 0 }, { m->wo + l * d * qd, qd, d, 0 },
			{ m->w1 + l * h * d, d, h, 0 }, { m->w2 + l * d * h, h, d, 0 },
			{ m->w3 + l * h * d, d, h, 0 },
		};
		char name[48];

		snprintf(name, sizeof(name), "blk.%d.attn_norm.weight", l);
		ADD(name, m->rms_att + l * d, d, 1, 0);
		snprintf(name, sizeof(name), "blk.%d.ffn_norm.weight", l);
		ADD(name, m->rms_ffn + l * d, d, 1, 0);
		for (k = 0; k < 7; k++) {
			/* Phi-3's are fused: attn_qkv, and ffn_up (the gate first). */
			if (phi3 && (k == 1 || k == 2 || k == 6))
				continue;
			snprintf(name, sizeof(name), "blk.%d.%s.weight", l,
				 phi3 && k == 0 ? "attn_qkv" : phi3 && k == 4 ? "ffn_up" : mats[k]);
			ADD(name, w[k].p, w[k].ne0, w[k].ne1, w[k].neox);
			if (phi3 && k == 0) {
				FUSE(w[1].p, kv, neox);
				FUSE(w[2].p, kv, 0);
			}
			if (phi3 && k == 4)
				FUSE(w[6].p, h, 0);
		}
		if (c->qkv_bias) {
			snprintf(name, sizeof(name), "blk.%d.attn_q.bias", l);
			ADD(name, m->bq + l * qd, qd, 1, neox);
			snprintf(name, sizeof(name), "blk.%d.attn_k.bias", l);
			ADD(name, m->bk + l * kv, kv, 1, neox);
			snprintf(name, sizeof(name), "blk.%d.attn_v.bias", l);
			ADD(name, m->bv + l * kv, kv, 1, 0);
		}
		if (c->qk_norm) {
			snprintf(name, sizeof(name), "blk.%d.attn_q_norm.weight", l);
			ADD(name, m->q_norm + l * hs, hs, 1, neox);
			snprintf(name, sizeof(name), "blk.%d.attn_k_norm.weight", l);
			ADD(name, m->k_norm + l * hs, hs, 1, neox);
		}
	}
#undef FUSE
#undef ADD
	/* Norms stay F32; a matrix whose rows do not split into blocks is F16. */
	for (i = 0; i < n_ts; i++) {
		ts[i].type = ts[i].ne1 == 1 ? NPU_GGUF_F32 :
			     planned_type(plan, ts[i].seg[0].data, (uint32_t)type);
		if ((ts[i].type == NPU_GGUF_Q8_0 || ts[i].type == NPU_GGUF_Q4_0) &&
		    ts[i].ne1 > 1 && ts[i].ne0 % QBLOCK)
			ts[i].type = NPU_GGUF_F16;
		ts[i].offset = off;
		ts[i].bytes = tensor_bytes(&ts[i]);
		off += (ts[i].bytes + ALIGN - 1) / ALIGN * ALIGN;
	}

	o.f = fopen(path, "wb");
	if (!o.f) {
		npu_model_file_error(err, err_len, path, "%s", strerror(errno));
		free(ts);
		return NPU_E_IO;
	}
	o.arch = archs[c->arch];
	put(&o, "GGUF", 4);
	put_u32(&o, 3);
	put_u64(&o, n_ts);
	put_u64(&o, 0);		/* the key/values, counted once written */
	kv_str(&o, "general.architecture", o.arch);
	kv_str(&o, "general.name", plan && plan->name ? plan->name : "npu-gguf");
	kv_u32(&o, "general.alignment", ALIGN);
	ftype = type == NPU_GGUF_Q8_0 ? 7 : type == NPU_GGUF_Q4_0 ? 2 : (uint32_t)type;
	kv_u32(&o, "general.file_type", ftype);
	put_config(&o, c);
	kv_str(&o, "tokenizer.ggml.model", "llama");
	kv_array(&o, "tokenizer.ggml.tokens", KV_STRING, (uint64_t)t->vocab_size);
	for (k = 0; k < t->vocab_size; k++)
		put_piece(&o, t->pieces[k]);
	kv_array(&o, "tokenizer.ggml.scores", KV_F32, (uint64_t)t->vocab_size);
	put(&o, t->scores, 4 * (size_t)t->vocab_size);
	kv_array(&o, "tokenizer.ggml.token_type", KV_I32, (uint64_t)t->vocab_size);
	for (k = 0; k < t->vocab_size; k++)
		put_u32(&o, (uint32_t)token_type(t, k));
	kv_u32(&o, "tokenizer.ggml.bos_token_id", 1);
	kv_u32(&o, "tokenizer.ggml.eos_token_id", 2);
	for (i = 0; i < n_ts; i++) {
		put_str(&o, ts[i].name);
		put_u32(&o, ts[i].ne1 == 1 ? 1 : 2);
		put_u64(&o, ts[i].ne0);
		if (ts[i].ne1 != 1)
			put_u64(&o, ts[i].ne1);
		put_u32(&o, ts[i].type);
		put_u64(&o, ts[i].offset);
	}
	for (i = 0; i < n_ts; i++) {
		static const uint8_t zeros[ALIGN];
		long at = ftell(o.f);

		if (at < 0)
			o.err = errno;
		put(&o, zeros, (size_t)(ALIGN - 1 - (at + ALIGN - 1) % ALIGN));
		put_tensor_data(&o, &ts[i], plan);
	}
	free(ts);
	if (!o.err && (fseek(o.f, 16, SEEK_SET) || fwrite(&o.n_kv, 8, 1, o.f) != 1))
		o.err = errno ? errno : EIO;
	if (fclose(o.f) && !o.err)
		o.err = errno;
	if (o.err) {
		npu_model_file_error(err, err_len, path, "%s", strerror(o.err));
		remove(path);
		return NPU_E_IO;
	}
	return NPU_OK;
}
