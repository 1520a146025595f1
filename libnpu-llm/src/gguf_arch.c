// SPDX-License-Identifier: MIT
/*
 * The architectures a GGUF file may hold, and the shapes each reads from
 * its {arch}.* metadata, as llama.cpp reads them. What the runner takes
 * goes into the model's config; what it cannot run is refused, naming the
 * key and the limit: no key that changes the model's arithmetic is
 * passed over.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "model_internal.h"

static const struct {
	const char *name;
	int arch;
} archs[] = {
	{ "llama", NPU_ARCH_LLAMA }, { "qwen2", NPU_ARCH_QWEN2 }, { "qwen3", NPU_ARCH_QWEN3 },
	{ "gemma", NPU_ARCH_GEMMA }, { "phi3", NPU_ARCH_PHI3 },
};

/*
 * Keys some families of these architectures carry that change the
 * arithmetic in ways the runner does not do (Granite's scales, mixtures
 * of experts, a fixed attention scale): their presence is refused.
 */
static const struct {
	const char *key, *why;
	int zero_ok;	/* an integer 0 is the dense model: no refusal */
} unsupported[] = {
	{ "expert_count", "mixtures of experts are not supported", 1 },
	{ "attention.scale", "only an attention scale of 1/sqrt(head size) is supported", 0 },
	{ "logit_scale", "scaled logits are not supported", 0 },
	{ "embedding_scale", "a scaled embedding is not supported", 0 },
	{ "residual_scale", "a scaled residual stream is not supported", 0 },
	{ "rope.scaling.yarn_log_multiplier", "YaRN's log multiplier is not supported", 0 },
};

struct meta {
	struct gguf_loader *L;
	const char *arch;
	char key[96];
};

static const char *key(struct meta *x, const char *suffix)
{
	snprintf(x->key, sizeof(x->key), "%s.%s", x->arch, suffix);
	return x->key;
}

static int refuse(struct meta *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int refuse(struct meta *x, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	npu_model_file_error(x->L->r.err, x->L->r.err_len, x->L->r.path, "%s", msg);
	return NPU_E_FORMAT;
}

/* {arch}.@suffix, an integer in 1..@max; @def when absent (GGUF_ABSENT: required). */
static int get_int(struct meta *x, const char *suffix, int64_t def, int64_t max, int32_t *out)
{
	int64_t v;
	int ret = npu_gguf_int(x->L, key(x, suffix), &v);

	if (ret < 0)
		return ret;
	if (ret && def == GGUF_ABSENT)
		return refuse(x, "%s is missing", x->key);
	v = ret ? def : v;
	if (v < 1 || v > max)
		return refuse(x, "%s = %lld is outside 1..%lld", x->key, (long long)v,
			      (long long)max);
	*out = (int32_t)v;
	return NPU_OK;
}

/* {arch}.@suffix, a float in (@lo, @hi); @def when absent. */
static int get_float(struct meta *x, const char *suffix, double def, double lo, double hi,
		     float *out)
{
	double v;
	int ret = npu_gguf_float(x->L, key(x, suffix), &v);

	if (ret < 0)
		return ret;
	v = ret ? def : v;
	if (!(v > lo && v < hi))
		return refuse(x, "%s = %g is outside (%g, %g)", x->key, v, lo, hi);
	*out = (float)v;
	return NPU_OK;
}

/* The architecture: one of archs[], else refused naming them. */
static int read_arch(struct meta *x, struct npu_model_config *c)
{
	char q[NPU_QUOTE_LEN];
	struct gguf_str s;
	size_t i;
	int ret = npu_gguf_string(x->L, "general.architecture", &s);

	if (ret < 0)
		return ret;
	if (ret)
		return refuse(x, "general.architecture is missing");
	for (i = 0; i < sizeof(archs) / sizeof(archs[0]); i++)
		if (s.n == strlen(archs[i].name) &&
		    !memcmp(npu_gguf_str(x->L, &s), archs[i].name, s.n)) {
			x->arch = archs[i].name;
			c->arch = archs[i].arch;
			return NPU_OK;
		}
	return refuse(x, "general.architecture is %s: supported are llama, qwen2, qwen3, gemma "
		      "and phi3",
		      npu_model_quote(q, npu_gguf_str(x->L, &s), s.n));
}

/* RoPE: the base, and the scaling llama.cpp applies (none, linear, YaRN). */
static int read_rope(struct meta *x, struct npu_model_config *c)
{
	struct npu_rope_params *r = &c->rope;
	char q[NPU_QUOTE_LEN];
	struct gguf_str s;
	float factor = 1;
	int ret;

	ret = get_float(x, "rope.freq_base", 10000, 1, 1e12, &r->base);
	ret = ret ? ret : npu_gguf_string(x->L, key(x, "rope.scaling.type"), &s);
	if (ret < 0)
		return ret;
	/* As llama.cpp: no type is linear, by a factor of 1 unless one is given. */
	r->scaling = NPU_ROPE_LINEAR;
	if (!ret) {
		const char *t = npu_gguf_str(x->L, &s);

		if (s.n == 4 && !memcmp(t, "none", 4))
			r->scaling = NPU_ROPE_NONE;
		else if (s.n == 4 && !memcmp(t, "yarn", 4))
			r->scaling = NPU_ROPE_YARN;
		else if (s.n != 6 || memcmp(t, "linear", 6))
			return refuse(x, "%s is %s: supported are none, linear and yarn", x->key,
				      npu_model_quote(q, t, s.n));
	}
	ret = npu_gguf_kv(x->L, key(x, "rope.scaling.factor")) ?
	      get_float(x, "rope.scaling.factor", 1, -1e-30, 1e6, &factor) :
	      get_float(x, "rope.scale_linear", 1, -1e-30, 1e6, &factor);
	factor = factor == 0 ? 1 : factor;	/* as llama.cpp: 0 is no factor */
	ret = ret ? ret : get_float(x, "rope.scaling.attn_factor", 1, 0, 16, &r->attn_factor);
	ret = ret ? ret : get_int(x, "rope.scaling.original_context_length", c->seq_len,
				  1 << 24, &r->orig_ctx);
	if (ret)
		return ret;
	if (factor < 1 && r->scaling != NPU_ROPE_NONE)
		return refuse(x, "%s.rope.scaling.factor %g: a factor below 1 (compressing "
			      "positions) is not supported", x->arch, factor);
	r->freq_scale = r->scaling == NPU_ROPE_NONE ? 1.0f : 1.0f / factor;
	r->ext_factor = r->scaling == NPU_ROPE_YARN ? 1.0f : 0.0f;
	if (r->scaling == NPU_ROPE_LINEAR && factor == 1)
		r->scaling = NPU_ROPE_NONE;
	c->rope_factors = c->arch == NPU_ARCH_LLAMA && npu_gguf_find(x->L, "rope_freqs.weight");
	/* Phi-3's 128k files: factors chosen by the context's length, at run time. */
	if (npu_gguf_find(x->L, "rope_factors_long.weight") ||
	    npu_gguf_find(x->L, "rope_factors_short.weight"))
		return refuse(x, "tensor rope_factors_long/short.weight: LongRoPE (Phi-3 128k, "
			      "Phi-3.5) is not supported");
	if (c->rope_factors)
		r->scaling = NPU_ROPE_LLAMA3;
	return NPU_OK;
}

int npu_gguf_read_config(struct gguf_loader *L)
{
	struct npu_model_config *c = &L->m->cfg;
	struct meta x = { .L = L };
	struct gguf_array tokens;
	int32_t head_dim = 0, v_dim = 0, rope_dim = 0;
	size_t i;
	int ret;

	ret = read_arch(&x, c);
	for (i = 0; !ret && i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		const struct gguf_kv *kv = npu_gguf_kv(L, key(&x, unsupported[i].key));
		int64_t n = 1;

		if (kv && unsupported[i].zero_ok && npu_gguf_int(L, x.key, &n) < 0)
			return NPU_E_FORMAT;
		if (kv && n)
			ret = refuse(&x, "%s is present: %s", x.key, unsupported[i].why);
	}
	/* The config's limits (model_internal.h), named by the file's keys. */
	ret = ret ? ret : get_int(&x, "context_length", GGUF_ABSENT, MAX_SEQ, &c->seq_len);
	ret = ret ? ret : get_int(&x, "embedding_length", GGUF_ABSENT, MAX_DIM, &c->dim);
	ret = ret ? ret : get_int(&x, "block_count", GGUF_ABSENT, MAX_LAYERS, &c->n_layers);
	ret = ret ? ret : get_int(&x, "feed_forward_length", GGUF_ABSENT, MAX_DIM * 4,
				  &c->hidden_dim);
	ret = ret ? ret : get_int(&x, "attention.head_count", GGUF_ABSENT, MAX_DIM, &c->n_heads);
	ret = ret ? ret : get_int(&x, "attention.head_count_kv", c->n_heads, MAX_DIM,
				  &c->n_kv_heads);
	/* llama.cpp's head size: key_length, else embedding_length / head_count. */
	if (!ret && npu_gguf_kv(L, key(&x, "attention.key_length")))
		ret = get_int(&x, "attention.key_length", 0, 65536, &head_dim);
	if (!ret && npu_gguf_kv(L, key(&x, "attention.value_length")))
		ret = get_int(&x, "attention.value_length", 0, 65536, &v_dim);
	if (!ret && npu_gguf_kv(L, key(&x, "rope.dimension_count")))
		ret = get_int(&x, "rope.dimension_count", 0, 65536, &rope_dim);
	ret = ret ? ret : get_float(&x, "attention.layer_norm_rms_epsilon", 1e-5, 0, 1,
				    &c->norm_eps);
	ret = ret ? ret : read_rope(&x, c);
	/* llama.cpp reads a sliding window for phi3 alone of these (0: none). */
	if (!ret && c->arch == NPU_ARCH_PHI3 &&
	    npu_gguf_kv(L, key(&x, "attention.sliding_window"))) {
		int64_t w;

		ret = npu_gguf_int(L, x.key, &w);
		if (!ret && (w < 0 || w > INT32_MAX))
			ret = refuse(&x, "%s = %lld is outside 0..%d", x.key, (long long)w,
				     INT32_MAX);
		c->sliding_window = ret ? 0 : (int32_t)w;
	}
	ret = ret ? ret : npu_gguf_array(L, "tokenizer.ggml.tokens", GGUF_STRING, &tokens);
	if (ret < 0)
		return ret;
	if (ret == 1) {
		struct gguf_tensor *t = npu_gguf_find(L, "token_embd.weight");

		tokens.count = t ? t->ne[1] : 0;
	}
	if (tokens.count > INT32_MAX)
		return refuse(&x, "tokenizer.ggml.tokens is too long");
	c->vocab_size = (int32_t)tokens.count;
	c->head_dim = head_dim;
	c->qkv_bias = c->arch == NPU_ARCH_QWEN2 || npu_gguf_find(L, "blk.0.attn_q.bias") ||
		      npu_gguf_find(L, "blk.0.attn_qkv.bias");
	c->qk_norm = c->arch == NPU_ARCH_QWEN3;
	/* Gemma: GELU gates, and the embedding scaled by sqrt(dim) (llama.cpp's ggml_scale). */
	c->ffn_gelu = c->arch == NPU_ARCH_GEMMA;
	c->embed_scale = c->arch == NPU_ARCH_GEMMA ? sqrtf((float)c->dim) : 0;
	if (npu_model_check_config(c, L->r.err, L->r.err_len)) {
		char why[200];

		snprintf(why, sizeof(why), "%s", L->r.err ? L->r.err : "");
		return refuse(&x, "the %s.* metadata: %s", x.arch, why);
	}
	if (v_dim && v_dim != c->head_dim)
		return refuse(&x, "%s.attention.value_length %d: only values as wide as the keys "
			      "(%d) are supported", x.arch, v_dim, c->head_dim);
	if (rope_dim && rope_dim != c->head_dim)
		return refuse(&x, "%s.rope.dimension_count %d: only RoPE over the whole head (%d) "
			      "is supported", x.arch, rope_dim, c->head_dim);
	return NPU_OK;
}
