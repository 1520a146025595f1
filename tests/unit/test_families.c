// SPDX-License-Identifier: MIT
/*
 * The model families: stories260K's trained weights dressed as each
 * architecture the runner takes (qwen2 with zero and with random biases,
 * qwen3 with head norms and a head wider than dim / heads, llama with
 * another RoPE base and eps, linear, YaRN and Llama 3 scaling), written
 * as GGUF, read back exactly, and run on the float reference and the
 * device; and what the runner cannot do, refused naming the key.
 * (tests/llama/ checks each architecture against llama.cpp itself.)
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <npu/llm.h>
#include "testlib.h"

static struct t_stories files;

static int find_models(void **state)
{
	(void)state;
	return t_stories_find(&files, "test_families");
}

static int cleanup(void **state)
{
	(void)state;
	return t_rmdir(files.dir);
}

static uint64_t rng = 7;

/* Uniform in [-1, 1). */
static float uniform(void)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((rng >> 40) / (double)(1 << 23)) - 1.0f;
}

/* A variant of the architecture of @v's config over @src's weights. */
enum variant {
	V_QWEN2_ZERO, V_QWEN2, V_QWEN3, V_QWEN3_WIDE, V_BASE500K, V_LINEAR, V_YARN, V_LLAMA3,
	V_GEMMA, V_PHI3, V_COUNT
};

static const char *const names[V_COUNT] = {
	"qwen2, zero biases", "qwen2", "qwen3", "qwen3, head 16", "llama, base 5e5, eps 1e-6",
	"llama, linear x2", "llama, yarn x4", "llama, llama3 factors", "gemma",
	"phi3, window 200",
};

static void fill(float *p, size_t n, float mid, float spread)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = mid + spread * uniform();
}

static void make_variant(const struct npu_model *src, enum variant v, struct npu_model *m)
{
	struct npu_model_config c = src->cfg;
	size_t d, hs, qd, kv, l, i;
	char err[256] = "";

	c.arch = v <= V_QWEN2 ? NPU_ARCH_QWEN2 : v <= V_QWEN3_WIDE ? NPU_ARCH_QWEN3 :
		 v == V_GEMMA ? NPU_ARCH_GEMMA : v == V_PHI3 ? NPU_ARCH_PHI3 : NPU_ARCH_LLAMA;
	/* Phi-3: fused Q/K/V and gate/up in the file; a sliding window over the context. */
	c.sliding_window = v == V_PHI3 ? 200 : 0;
	/* Gemma: GELU gates, the embedding scaled by sqrt(dim) and the classifier. */
	c.ffn_gelu = v == V_GEMMA;
	c.embed_scale = v == V_GEMMA ? sqrtf((float)c.dim) : 0;
	c.shared_classifier = v == V_GEMMA ? 1 : c.shared_classifier;
	c.qkv_bias = c.arch == NPU_ARCH_QWEN2;
	c.qk_norm = c.arch == NPU_ARCH_QWEN3;
	c.head_dim = v == V_QWEN3_WIDE ? 16 : c.head_dim;
	if (v == V_QWEN2 || v == V_QWEN3 || v == V_BASE500K) {
		c.rope.base = 500000;
		c.norm_eps = 1e-6f;
	}
	if (v == V_LINEAR || v == V_YARN) {
		c.rope.scaling = v == V_LINEAR ? NPU_ROPE_LINEAR : NPU_ROPE_YARN;
		c.rope.freq_scale = v == V_LINEAR ? 0.5f : 0.25f;
		c.rope.ext_factor = v == V_YARN;
		c.rope.orig_ctx = 64;
	}
	c.rope_factors = v == V_LLAMA3;
	c.rope.scaling = v == V_LLAMA3 ? NPU_ROPE_LLAMA3 : c.rope.scaling;
	if (npu_model_alloc(&c, m, err, sizeof(err)))
		fail_msg("%s: %s", names[v], err);
	d = (size_t)c.dim;
	hs = (size_t)c.head_dim;
	qd = hs * (size_t)c.n_heads;
	kv = hs * (size_t)c.n_kv_heads;
	l = (size_t)c.n_layers;
	memcpy(m->token_embedding, src->token_embedding, (size_t)c.vocab_size * d * 4);
	memcpy(m->rms_att, src->rms_att, l * d * 4);
	memcpy(m->rms_ffn, src->rms_ffn, l * d * 4);
	memcpy(m->w1, src->w1, l * d * (size_t)c.hidden_dim * 4);
	memcpy(m->w2, src->w2, l * d * (size_t)c.hidden_dim * 4);
	memcpy(m->w3, src->w3, l * d * (size_t)c.hidden_dim * 4);
	memcpy(m->rms_final, src->rms_final, d * 4);
	if (!c.shared_classifier)
		memcpy(m->wcls, src->wcls, (size_t)c.vocab_size * d * 4);
	if (hs == (size_t)src->cfg.head_dim) {
		memcpy(m->wq, src->wq, l * qd * d * 4);
		memcpy(m->wk, src->wk, l * kv * d * 4);
		memcpy(m->wv, src->wv, l * kv * d * 4);
		memcpy(m->wo, src->wo, l * d * qd * 4);
	} else {
		/* The trained model's spread, on matrices of the new width. */
		fill(m->wq, l * qd * d, 0, 0.3f);
		fill(m->wk, l * kv * d, 0, 0.3f);
		fill(m->wv, l * kv * d, 0, 0.2f);
		fill(m->wo, l * d * qd, 0, 0.2f);
	}
	if (c.qkv_bias) {
		float s = v == V_QWEN2_ZERO ? 0 : 0.5f;

		fill(m->bq, l * qd, 0, s);
		fill(m->bk, l * kv, 0, s);
		fill(m->bv, l * kv, 0, s);
	}
	if (c.qk_norm) {
		fill(m->q_norm, l * hs, 1, 0.3f);
		fill(m->k_norm, l * hs, 1, 0.3f);
	}
	for (i = 0; c.rope_factors && i < hs / 2; i++)
		m->rope_factors[i] = i < hs / 8 ? 1 : i < hs / 4 ? 2.5f : 8;
}

static void load_gguf(const char *path, struct npu_model *m, struct npu_tokenizer *t)
{
	char err[256] = "";

	if (npu_model_load_gguf(path, m, t, err, sizeof(err)))
		fail_msg("%s: %s", path, err);
}

static const char *save(const struct npu_model *m, const struct npu_tokenizer *t,
			enum npu_gguf_type type, const char *name)
{
	static char path[700];
	char err[256] = "";

	snprintf(path, sizeof(path), "%s/%s", files.dir, name);
	if (npu_model_save_gguf(path, m, t, type, err, sizeof(err)))
		fail_msg("save %s: %s", path, err);
	return path;
}

/* Every variant written and read back: the same config, every float the same. */
static void round_trip(void **state)
{
	struct npu_model src, m, b;
	struct npu_tokenizer t, tb;
	int v;

	(void)state;
	load_gguf(files.gguf, &src, &t);
	for (v = 0; v < V_COUNT; v++) {
		make_variant(&src, v, &m);
		load_gguf(save(&m, &t, NPU_GGUF_F32, "v.gguf"), &b, &tb);
		assert_int_equal(b.cfg.arch, m.cfg.arch);
		assert_int_equal(b.cfg.head_dim, m.cfg.head_dim);
		assert_int_equal(b.cfg.qkv_bias, m.cfg.qkv_bias);
		assert_int_equal(b.cfg.qk_norm, m.cfg.qk_norm);
		assert_int_equal(b.cfg.rope.scaling, m.cfg.rope.scaling);
		assert_true(b.cfg.rope.base == m.cfg.rope.base);
		assert_true(b.cfg.rope.freq_scale == m.cfg.rope.freq_scale);
		assert_true(b.cfg.norm_eps == m.cfg.norm_eps);
		assert_true(b.cfg.embed_scale == m.cfg.embed_scale);
		assert_int_equal(b.cfg.ffn_gelu, m.cfg.ffn_gelu);
		assert_int_equal(b.cfg.sliding_window, m.cfg.sliding_window);
		assert_int_equal(b.n_floats, m.n_floats);
		/* NEOX files hold Q and K reordered: back in pairs, float for float. */
		if (memcmp(b.data, m.data, m.n_floats * 4))
			fail_msg("%s: the floats read back differ", names[v]);
		npu_model_free(&b);
		npu_tokenizer_free(&tb);
		npu_model_free(&m);
	}
	npu_model_free(&src);
	npu_tokenizer_free(&t);
}

/* Teacher-forced logits of @n tokens of @toks into @out ([n][vocab]). */
static void logits_of(npu_llm_model *lm, const int32_t *toks, int n, float *out)
{
	int32_t vocab = npu_llm_model_host(lm)->cfg.vocab_size;
	npu_llm_ctx *c;
	char err[256] = "";
	int i;

	if (npu_llm_ctx_create(lm, NULL, &c, err, sizeof(err)))
		fail_msg("context: %s", err);
	for (i = 0; i < n; i++) {
		assert_int_equal(npu_llm_eval(c, &toks[i], 1), NPU_OK);
		memcpy(out + (size_t)i * vocab, npu_llm_logits(c), (size_t)vocab * 4);
	}
	npu_llm_ctx_free(c);
}

/* Mean KL(p || q) of softmaxes of rows of logits. */
static double mean_kl(const float *p, const float *q, int n, int vocab)
{
	double sum = 0;
	int i, j;

	for (i = 0; i < n; i++) {
		const float *a = p + (size_t)i * vocab, *b = q + (size_t)i * vocab;
		double ma = -1e30, mb = -1e30, za = 0, zb = 0, kl = 0;

		for (j = 0; j < vocab; j++) {
			ma = fmax(ma, a[j]);
			mb = fmax(mb, b[j]);
		}
		for (j = 0; j < vocab; j++) {
			za += exp(a[j] - ma);
			zb += exp(b[j] - mb);
		}
		for (j = 0; j < vocab; j++) {
			double la = a[j] - ma - log(za), lb = b[j] - mb - log(zb);

			kl += exp(la) * (la - lb);
		}
		sum += kl;
	}
	return sum / n;
}

#define POSITIONS 96

/* The last position's logits after one prefill of all @n tokens. */
static void prefill_last(npu_llm_model *lm, const int32_t *toks, int n, float *out)
{
	int32_t vocab = npu_llm_model_host(lm)->cfg.vocab_size;
	npu_llm_ctx *c;
	char err[256] = "";

	if (npu_llm_ctx_create(lm, NULL, &c, err, sizeof(err)))
		fail_msg("context: %s", err);
	assert_int_equal(npu_llm_eval(c, toks, n), NPU_OK);
	memcpy(out, npu_llm_logits(c), (size_t)vocab * 4);
	npu_llm_ctx_free(c);
}

static npu_llm_model *model_of(npu_device *dev, const char *path, const char *weights)
{
	struct npu_llm_model_params p = { .weights = weights };
	npu_llm_model *lm = NULL;
	char err[256] = "";

	if (npu_llm_model_load(dev, path, &p, &lm, err, sizeof(err)))
		fail_msg("%s: %s", path, err);
	return lm;
}

/*
 * The file at @path on the float reference (its logits into @ref) and on
 * @dev with @weights (into @got), the mean KL between them; the device's
 * model in *@dl, for more checks, when @dl is set (else freed).
 */
static double device_kl(npu_device *dev, const char *path, const char *weights,
			const int32_t *toks, int n, float *ref, float *got, npu_llm_model **dl)
{
	npu_llm_model *f = model_of(NULL, path, NULL), *d = model_of(dev, path, weights);
	int32_t vocab = npu_llm_model_host(f)->cfg.vocab_size;

	logits_of(f, toks, n, ref);
	logits_of(d, toks, n, got);
	npu_llm_model_free(f);
	if (dl)
		*dl = d;
	else
		npu_llm_model_free(d);
	return mean_kl(ref, got, n, vocab);
}

/* Phi-3's window of 200 bounds a context: 200 by default, 201 refused, named. */
static void window_limits(npu_llm_model *lm)
{
	struct npu_llm_ctx_params p = { .positions = 201 };
	struct npu_llm_ctx_size z;
	npu_llm_ctx *c = NULL;
	char err[256] = "";

	assert_int_equal(npu_llm_ctx_size(lm, &z), NPU_OK);
	assert_int_equal(z.window, 200);
	assert_int_equal(z.positions, 200);
	assert_int_equal(npu_llm_ctx_create(lm, &p, &c, err, sizeof(err)), NPU_E_RANGE);
	assert_non_null(strstr(err, "a sliding window of 200, which the NPU does not mask"));
	assert_int_equal(npu_llm_ctx_create(lm, NULL, &c, err, sizeof(err)), NPU_OK);
	assert_int_equal(npu_llm_ctx_positions(c), 200);
	npu_llm_ctx_free(c);
}

/*
 * Each variant on the device against its float reference: the NPU's
 * integer arithmetic costs what it costs the llama file (KL well under
 * 0.05); a prefill's rows are the steps' bit for bit; qwen2 with zero
 * biases and Phi-3 (fused tensors) are the llama model itself, exactly.
 */
static void device_against_float(void **state)
{
	npu_device *dev = t_open();
	struct npu_model src, m;
	struct npu_tokenizer t;
	int32_t toks[POSITIONS], n = 0, vocab;
	float *ref, *got, *base;
	int v;

	(void)state;
	load_gguf(files.gguf, &src, &t);
	vocab = src.cfg.vocab_size;
	assert_int_equal(npu_tokenizer_encode(&t, "Once upon a time, there was a little girl "
					      "named Lily. She loved to play outside in the "
					      "park with her friends. One day, she saw a big "
					      "red ball under a tree.", 1, toks, POSITIONS, &n),
			 NPU_OK);
	assert_true(n > 32);
	ref = malloc((size_t)n * vocab * 4);
	got = malloc((size_t)n * vocab * 4);
	base = malloc((size_t)n * vocab * 4);
	assert_non_null(ref);
	assert_non_null(got);
	assert_non_null(base);
	{
		npu_llm_model *lm = model_of(dev, files.gguf, "w8");

		logits_of(lm, toks, n, base);
		npu_llm_model_free(lm);
	}
	for (v = 0; v < V_COUNT; v++) {
		const char *path;
		npu_llm_model *dl;
		double kl;

		make_variant(&src, v, &m);
		path = save(&m, &t, NPU_GGUF_F32, "d.gguf");
		npu_model_free(&m);
		kl = device_kl(dev, path, "w8", toks, n, ref, got, &dl);
		printf("%-28s device against float: mean KL %.2e over %d positions\n", names[v],
		       kl, n);
		assert_true(kl < 0.05);
		/* Both are the llama model, in NEOX order; Phi-3's Q/K/V and gate/up fused. */
		if (v == V_QWEN2_ZERO || v == V_PHI3)
			assert_memory_equal(got, base, (size_t)n * vocab * 4);
		if (v == V_PHI3)
			window_limits(dl);
		prefill_last(dl, toks, n, ref);
		assert_memory_equal(ref, got + (size_t)(n - 1) * vocab, (size_t)vocab * 4);
		npu_llm_model_free(dl);
	}
	free(ref);
	free(got);
	free(base);
	npu_model_free(&src);
	npu_tokenizer_free(&t);
	npu_close(dev);
}

/*
 * qwen2 biases far above the products they are added to (K biases of
 * real Qwen2 files reach tens), through the file's own Q8_0 and Q4_0
 * blocks: the block MATMUL adds them unsaturated (numerics.md, MATMUL).
 */
static void large_biases_native(void **state)
{
	static const enum npu_gguf_type types[] = { NPU_GGUF_Q8_0, NPU_GGUF_Q4_0 };
	npu_device *dev = t_open();
	struct npu_model src, m;
	struct npu_tokenizer t;
	int32_t toks[POSITIONS], n = 0, vocab;
	float *ref, *got;
	size_t i, k;

	(void)state;
	load_gguf(files.gguf, &src, &t);
	vocab = src.cfg.vocab_size;
	assert_int_equal(npu_tokenizer_encode(&t, "Once upon a time, there was a little girl "
					      "named Lily.", 1, toks, POSITIONS, &n), NPU_OK);
	ref = malloc((size_t)n * vocab * 4);
	got = malloc((size_t)n * vocab * 4);
	assert_non_null(ref);
	assert_non_null(got);
	for (k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
		size_t kv = (size_t)src.cfg.head_dim * src.cfg.n_kv_heads;
		const char *path;
		double kl;

		make_variant(&src, V_QWEN2, &m);
		for (i = 0; i < (size_t)m.cfg.n_layers * kv; i += 7)
			m.bk[i] = i % 2 ? 60.0f : -45.0f;
		path = save(&m, &t, types[k], "b.gguf");
		npu_model_free(&m);
		kl = device_kl(dev, path, "native", toks, n, ref, got, NULL);
		printf("qwen2, K biases of 60, %s: device against float: mean KL %.2e\n",
		       k ? "Q4_0" : "Q8_0", kl);
		assert_true(kl < 0.05);
	}
	free(ref);
	free(got);
	npu_model_free(&src);
	npu_tokenizer_free(&t);
	npu_close(dev);
}

/* Bytes @what of @f (its first occurrence) replaced by @with, same length. */
static void patch(uint8_t *f, size_t len, const char *what, const char *with)
{
	uint8_t *p = memmem(f, len, what, strlen(what));

	assert_non_null(p);
	assert_int_equal(strlen(what), strlen(with));
	memcpy(p, with, strlen(with));
}

/* What the runner cannot do is refused, the key and the limit named. */
static void refused(void **state)
{
	static const struct {
		int variant;
		const char *what, *with, *error;
	} cases[] = {
		{ V_YARN, "yarn", "yorn",
		  "llama.rope.scaling.type is \"yorn\": supported are none, linear and yarn" },
		{ V_QWEN2, "qwen2", "gemmo",
		  "general.architecture is \"gemmo\": supported are llama, qwen2, qwen3, gemma "
		  "and phi3" },
		{ V_QWEN2, "general.file_type", "qwen2.logit_scale",
		  "qwen2.logit_scale is present: scaled logits are not supported" },
		{ V_QWEN3, "tokenizer.ggml.scores", "qwen3.attention.scale",
		  "qwen3.attention.scale is present: only an attention scale of 1/sqrt(head "
		  "size) is supported" },
		{ V_QWEN3_WIDE, "qwen3.attention.key_length", "qwen3.attention.key_lengtx",
		  "qwen3.attention.value_length 16: only values as wide as the keys (8) are "
		  "supported" },
		{ V_QWEN2, "blk.0.attn_q.bias", "blk.0.attn_q.biaz",
		  "tensor \"blk.0.attn_q.bias\" is missing" },
		{ V_QWEN3, "blk.1.attn_k_norm", "blk.1.attn_k_morm",
		  "tensor \"blk.1.attn_k_norm.weight\" is missing" },
	};
	struct npu_model src, m, b;
	struct npu_tokenizer t, tb;
	size_t i, len;
	char err[512];

	(void)state;
	load_gguf(files.gguf, &src, &t);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path;
		uint8_t *f;
		int ret;

		make_variant(&src, cases[i].variant, &m);
		path = save(&m, &t, NPU_GGUF_F32, "r.gguf");
		npu_model_free(&m);
		f = t_read_file(path, &len);
		patch(f, len, cases[i].what, cases[i].with);
		t_write_file(path, f, len);
		free(f);
		err[0] = 0;
		ret = npu_model_load_gguf(path, &b, &tb, err, sizeof(err));
		if (ret != NPU_E_FORMAT || !strstr(err, cases[i].error))
			fail_msg("case %zu: got %d '%s', want '%s'", i, ret, err, cases[i].error);
		npu_model_free(&b);
		npu_tokenizer_free(&tb);
	}
	npu_model_free(&src);
	npu_tokenizer_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(device_against_float),
		cmocka_unit_test(large_biases_native),
		cmocka_unit_test(refused),
	};

	return cmocka_run_group_tests(tests, find_models, cleanup);
}
