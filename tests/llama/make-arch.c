// SPDX-License-Identifier: MIT
/*
 * make-arch: stories260K's trained weights and vocabulary written again in
 * each architecture's GGUF layout, the tensor names and keys llama.cpp's
 * converter writes and its loader reads, all F32, so that llama.cpp
 * (ggml-oracle logits) and libnpu-llm run the same file. Written with
 * ggml's own GGUF writer (libggml-base, fetched by tests/llama/fetch.sh).
 *
 *   make-arch SRC.gguf OUT_DIR    every variant, OUT_DIR/NAME.gguf
 *   make-arch --list              the variants' names, one a line
 *
 * The llama files hold the source's weights as they are (its Q and K rows
 * are in the interleaved order llama's RoPE rotates); qwen2 and qwen3 rotate
 * halves (NEOX), so their Q and K rows are permuted to keep the model. What
 * a variant adds that the source has not (biases, Q/K norm gains, wider
 * heads, a separate output) is drawn from a fixed seed: those files are
 * valid and deterministic, not good models.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ggml.h>
#include <gguf.h>

enum scaling { NONE, LINEAR, YARN, LLAMA3 };
enum bias { NO_BIAS, RANDOM_BIAS, ZERO_BIAS };
enum output { SAME, TIED, UNTIED };

static const struct variant {
	const char *name;
	const char *arch;
	float base, eps;
	enum scaling scaling;
	enum output output;	/* SAME: output.weight a copy of token_embd */
	int n_kv;		/* 0: the source's */
	enum bias bias;		/* qwen2's Q/K/V biases */
	bool qk_norm;		/* qwen3's per-head Q/K RMSNorm gains */
	int head_dim;		/* 0: dim / heads */
} variants[] = {
	{ "llama-plain", "llama", 10000, 1e-5f, NONE, SAME, 0, NO_BIAS, false, 0 },
	{ "llama-untied", "llama", 10000, 1e-5f, NONE, UNTIED, 0, NO_BIAS, false, 0 },
	{ "llama-tied", "llama", 10000, 1e-5f, NONE, TIED, 0, NO_BIAS, false, 0 },
	{ "llama-base500k", "llama", 500000, 1e-6f, NONE, SAME, 0, NO_BIAS, false, 0 },
	{ "llama-linear", "llama", 10000, 1e-5f, LINEAR, SAME, 0, NO_BIAS, false, 0 },
	{ "llama-yarn", "llama", 10000, 1e-5f, YARN, SAME, 0, NO_BIAS, false, 0 },
	{ "llama3-scaling", "llama", 10000, 1e-5f, LLAMA3, SAME, 0, NO_BIAS, false, 0 },
	{ "llama-gqa82", "llama", 10000, 1e-5f, NONE, SAME, 2, NO_BIAS, false, 0 },
	{ "qwen2", "qwen2", 1000000, 1e-6f, NONE, SAME, 0, RANDOM_BIAS, false, 0 },
	{ "qwen2-zero", "qwen2", 10000, 1e-5f, NONE, SAME, 0, ZERO_BIAS, false, 0 },
	{ "qwen3", "qwen3", 1000000, 1e-6f, NONE, TIED, 0, NO_BIAS, true, 0 },
	{ "qwen3-hd16", "qwen3", 1000000, 1e-6f, NONE, TIED, 0, NO_BIAS, true, 16 },
	/* Gemma 1: GELU gates, the embedding times sqrt(dim), always tied, NEOX. */
	{ "gemma", "gemma", 10000, 1e-6f, NONE, TIED, 0, NO_BIAS, false, 0 },
	{ "gemma-hd16", "gemma", 10000, 1e-6f, NONE, TIED, 0, NO_BIAS, false, 16 },
	/* Phi-3: fused attn_qkv and ffn_up (gate rows first), a sliding window, NEOX. */
	{ "phi3", "phi3", 10000, 1e-5f, NONE, SAME, 0, NO_BIAS, false, 0 },
};

#define N_VARIANTS (sizeof(variants) / sizeof(variants[0]))
#define CTX_LEN 256
/* linear: factor 2 over half the context; yarn: 4 over 64; llama3: 8 over 64. */
#define LINEAR_FACTOR 2.0f
#define YARN_FACTOR 4.0f
#define YARN_ORIG_CTX 64
#define LLAMA3_FACTOR 8.0f
#define LLAMA3_LOW 1.0f
#define LLAMA3_HIGH 4.0f
#define LLAMA3_ORIG_CTX 64
/* Phi-3's window: wider than the 128 positions checked, narrower than the context. */
#define PHI3_WINDOW 200

struct src {
	struct gguf_context *g;
	struct ggml_context *ctx;
	int dim, ff, layers, heads, kv_heads, vocab;
};

static uint64_t rng_state;

/* Uniform in [-a, a), from a fixed sequence (xorshift64*). */
static float rnd(float a)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return a * ((float)((rng_state * 0x2545F4914F6CDD1DULL) >> 40) / 8388608.0f - 1.0f);
}

static int src_u32(const struct src *s, const char *key, int *out)
{
	int64_t id = gguf_find_key(s->g, key);

	if (id < 0 || gguf_get_kv_type(s->g, id) != GGUF_TYPE_UINT32) {
		fprintf(stderr, "make-arch: the source has no u32 %s\n", key);
		return -1;
	}
	*out = (int)gguf_get_val_u32(s->g, id);
	return 0;
}

static const float *src_tensor(const struct src *s, const char *name, int64_t n)
{
	struct ggml_tensor *t = ggml_get_tensor(s->ctx, name);

	if (!t || t->type != GGML_TYPE_F32 || ggml_nelements(t) != n) {
		fprintf(stderr, "make-arch: the source has no F32 %s of %lld values\n", name,
			(long long)n);
		return NULL;
	}
	return t->data;
}

static float *new_tensor(struct ggml_context *ctx, struct gguf_context *g, const char *name,
			 int64_t cols, int64_t rows)
{
	struct ggml_tensor *t = rows ? ggml_new_tensor_2d(ctx, GGML_TYPE_F32, cols, rows) :
				       ggml_new_tensor_1d(ctx, GGML_TYPE_F32, cols);

	ggml_set_name(t, name);
	gguf_add_tensor(g, t);
	return t->data;
}

/* A copy of the source's tensor @name, or NULL (said why). */
static float *copy(struct ggml_context *ctx, struct gguf_context *g, const struct src *s,
		   const char *name, int64_t cols, int64_t rows)
{
	const float *from = src_tensor(s, name, cols * (rows ? rows : 1));
	float *to;

	if (!from)
		return NULL;
	to = new_tensor(ctx, g, name, cols, rows);
	memcpy(to, from, cols * (rows ? rows : 1) * sizeof(float));
	return to;
}

/*
 * Rows of @n_heads heads of @hs rows each (@cols wide), from the source's
 * @n_src heads: averaged in groups when fewer (GQA 8:2 from 4 KV heads),
 * permuted within each head for NEOX RoPE when @neox.
 */
static void heads(float *to, const float *from, int n_heads, int n_src, int hs, int cols,
		  bool neox)
{
	int group = n_src / n_heads, h, r, k, c;

	for (h = 0; h < n_heads; h++)
		for (r = 0; r < hs; r++) {
			int old = neox ? (r < hs / 2 ? 2 * r : 2 * (r - hs / 2) + 1) : r;
			float *row = to + ((size_t)h * hs + r) * cols;

			for (c = 0; c < cols; c++) {
				float sum = 0;

				for (k = 0; k < group; k++)
					sum += from[(((size_t)h * group + k) * hs + old) * cols + c];
				row[c] = sum / group;
			}
		}
}

static void fill_random(float *to, size_t n, float center, float a)
{
	size_t i;

	for (i = 0; i < n; i++)
		to[i] = center + rnd(a);
}

/* HF's llama3 rope scaling as the converter writes it: a divisor per frequency. */
static void llama3_freqs(float *to, int hs, float base)
{
	float low_wavelen = LLAMA3_ORIG_CTX / LLAMA3_LOW, high_wavelen = LLAMA3_ORIG_CTX / LLAMA3_HIGH;
	int i;

	for (i = 0; i < hs / 2; i++) {
		float freq = 1.0f / powf(base, (float)(2 * i) / hs);
		float wavelen = 2 * (float)M_PI / freq;

		if (wavelen < high_wavelen) {
			to[i] = 1;
		} else if (wavelen > low_wavelen) {
			to[i] = LLAMA3_FACTOR;
		} else {
			float smooth = (LLAMA3_ORIG_CTX / wavelen - LLAMA3_LOW) /
				       (LLAMA3_HIGH - LLAMA3_LOW);

			to[i] = 1 / ((1 - smooth) / LLAMA3_FACTOR + smooth);
		}
	}
}

static void keys(struct gguf_context *g, const struct src *s, const struct variant *v, int hd,
		 int n_kv)
{
	char k[128];
	int64_t i;

#define KEY(suffix) (snprintf(k, sizeof(k), "%s." suffix, v->arch), k)
	/* The vocabulary and general.*, without the source's llama.* keys. */
	gguf_set_kv(g, s->g);
	for (i = gguf_get_n_kv(g) - 1; i >= 0; i--)
		if (!strncmp(gguf_get_key(g, i), "llama.", 6))
			gguf_remove_key(g, gguf_get_key(g, i));
	gguf_set_val_str(g, "general.architecture", v->arch);
	/* Not the variant's: llama.cpp keys token attributes on names like "phi3". */
	gguf_set_val_str(g, "general.name", "make-arch");
	gguf_set_val_u32(g, "general.file_type", 0);
	gguf_set_val_u32(g, KEY("context_length"), CTX_LEN);
	gguf_set_val_u32(g, KEY("embedding_length"), s->dim);
	gguf_set_val_u32(g, KEY("block_count"), s->layers);
	gguf_set_val_u32(g, KEY("feed_forward_length"), s->ff);
	gguf_set_val_u32(g, KEY("attention.head_count"), s->heads);
	gguf_set_val_u32(g, KEY("attention.head_count_kv"), n_kv);
	gguf_set_val_f32(g, KEY("attention.layer_norm_rms_epsilon"), v->eps);
	gguf_set_val_f32(g, KEY("rope.freq_base"), v->base);
	gguf_set_val_u32(g, KEY("rope.dimension_count"), hd);
	if (!strcmp(v->arch, "phi3"))
		gguf_set_val_u32(g, KEY("attention.sliding_window"), PHI3_WINDOW);
	if (v->qk_norm || hd != s->dim / s->heads) {
		gguf_set_val_u32(g, KEY("attention.key_length"), hd);
		gguf_set_val_u32(g, KEY("attention.value_length"), hd);
	}
	switch (v->scaling) {
	case LINEAR:
		gguf_set_val_str(g, KEY("rope.scaling.type"), "linear");
		gguf_set_val_f32(g, KEY("rope.scaling.factor"), LINEAR_FACTOR);
		gguf_set_val_u32(g, KEY("rope.scaling.original_context_length"),
				 (uint32_t)(CTX_LEN / LINEAR_FACTOR));
		break;
	case YARN:
		/* The attention factor and betas at llama.cpp's defaults, said. */
		gguf_set_val_str(g, KEY("rope.scaling.type"), "yarn");
		gguf_set_val_f32(g, KEY("rope.scaling.factor"), YARN_FACTOR);
		gguf_set_val_u32(g, KEY("rope.scaling.original_context_length"), YARN_ORIG_CTX);
		gguf_set_val_f32(g, KEY("rope.scaling.attn_factor"), 1.0f);
		gguf_set_val_f32(g, KEY("rope.scaling.yarn_beta_fast"), 32.0f);
		gguf_set_val_f32(g, KEY("rope.scaling.yarn_beta_slow"), 1.0f);
		break;
	case NONE:
	case LLAMA3:	/* llama3's is the rope_freqs tensor alone */
		break;
	}
#undef KEY
}

static int layer(struct ggml_context *ctx, struct gguf_context *g, const struct src *s,
		 const struct variant *v, int l, int hd, int n_kv)
{
	int hs = s->dim / s->heads, kv_src = s->kv_heads * hs;
	bool neox = strcmp(v->arch, "llama") != 0, fused = !strcmp(v->arch, "phi3");
	const char *qkv[] = { "attn_q", "attn_k", "attn_v" };
	float *all = NULL;
	char name[96];
	int j;

#define NAME(what) (snprintf(name, sizeof(name), "blk.%d." what, l), name)
	if (!copy(ctx, g, s, NAME("attn_norm.weight"), s->dim, 0))
		return -1;
	/* One tensor of Q's rows, then K's, then V's. */
	if (fused)
		all = new_tensor(ctx, g, NAME("attn_qkv.weight"), s->dim,
				 (int64_t)(s->heads + 2 * n_kv) * hd);
	for (j = 0; j < 3; j++) {
		int n_heads = j ? n_kv : s->heads;
		const float *from;
		float *to;

		snprintf(name, sizeof(name), "blk.%d.%s.weight", l, qkv[j]);
		from = src_tensor(s, name, (int64_t)(j ? kv_src : s->dim) * s->dim);
		if (!from)
			return -1;
		to = fused ? all + (size_t)(j ? s->heads + (j - 1) * n_kv : 0) * hd * s->dim :
			     new_tensor(ctx, g, name, s->dim, (int64_t)n_heads * hd);
		if (hd != hs)
			fill_random(to, (size_t)n_heads * hd * s->dim, 0, 0.3f);
		else
			heads(to, from, n_heads, j ? s->kv_heads : s->heads, hs, s->dim,
			      neox && j < 2);
		if (v->bias == NO_BIAS)
			continue;
		snprintf(name, sizeof(name), "blk.%d.%s.bias", l, qkv[j]);
		to = new_tensor(ctx, g, name, (int64_t)n_heads * hd, 0);
		fill_random(to, (size_t)n_heads * hd, 0, v->bias == RANDOM_BIAS ? 0.1f : 0);
	}
	if (v->qk_norm) {
		fill_random(new_tensor(ctx, g, NAME("attn_q_norm.weight"), hd, 0), hd, 1, 0.2f);
		fill_random(new_tensor(ctx, g, NAME("attn_k_norm.weight"), hd, 0), hd, 1, 0.2f);
	}
	if (hd != hs)
		fill_random(new_tensor(ctx, g, NAME("attn_output.weight"), (int64_t)s->heads * hd,
				       s->dim), (size_t)s->heads * hd * s->dim, 0, 0.2f);
	else if (!copy(ctx, g, s, NAME("attn_output.weight"), s->dim, s->dim))
		return -1;
	if (!copy(ctx, g, s, NAME("ffn_norm.weight"), s->dim, 0) ||
	    !copy(ctx, g, s, NAME("ffn_down.weight"), s->ff, s->dim))
		return -1;
	if (fused) {
		/* ggml_swiglu's halves: the gate's rows, then the up projection's. */
		const float *gate = src_tensor(s, NAME("ffn_gate.weight"), (int64_t)s->ff * s->dim);
		const float *up = src_tensor(s, NAME("ffn_up.weight"), (int64_t)s->ff * s->dim);
		size_t half = (size_t)s->ff * s->dim;

		if (!gate || !up)
			return -1;
		all = new_tensor(ctx, g, NAME("ffn_up.weight"), s->dim, 2 * (int64_t)s->ff);
		memcpy(all, gate, half * sizeof(float));
		memcpy(all + half, up, half * sizeof(float));
	} else if (!copy(ctx, g, s, NAME("ffn_gate.weight"), s->dim, s->ff) ||
		   !copy(ctx, g, s, NAME("ffn_up.weight"), s->dim, s->ff)) {
		return -1;
	}
#undef NAME
	return 0;
}

static int write_variant(const struct src *s, const struct variant *v, const char *dir)
{
	struct ggml_init_params ip = { .mem_size = 16 << 20, .mem_buffer = NULL };
	struct ggml_context *ctx = ggml_init(ip);
	struct gguf_context *g = gguf_init_empty();
	int hd = v->head_dim ? v->head_dim : s->dim / s->heads;
	int n_kv = v->n_kv ? v->n_kv : s->kv_heads;
	char path[4096];
	float *out;
	int l, ret = -1;

	rng_state = 0x9E3779B97F4A7C15ULL;
	keys(g, s, v, hd, n_kv);
	if (!copy(ctx, g, s, "token_embd.weight", s->dim, s->vocab) ||
	    !copy(ctx, g, s, "output_norm.weight", s->dim, 0))
		goto out;
	if (v->output != TIED) {
		out = new_tensor(ctx, g, "output.weight", s->dim, s->vocab);
		memcpy(out, ggml_get_tensor(ctx, "token_embd.weight")->data,
		       (size_t)s->dim * s->vocab * sizeof(float));
		if (v->output == UNTIED)
			for (l = 0; l < s->dim * s->vocab; l++)
				out[l] *= 1 + rnd(0.5f);
	}
	if (v->scaling == LLAMA3)
		llama3_freqs(new_tensor(ctx, g, "rope_freqs.weight", hd / 2, 0), hd, v->base);
	for (l = 0; l < s->layers; l++)
		if (layer(ctx, g, s, v, l, hd, n_kv))
			goto out;
	snprintf(path, sizeof(path), "%s/%s.gguf", dir, v->name);
	if (!gguf_write_to_file(g, path, false)) {
		fprintf(stderr, "make-arch: writing %s failed\n", path);
		goto out;
	}
	ret = 0;
out:
	gguf_free(g);
	ggml_free(ctx);
	return ret;
}

int main(int argc, char **argv)
{
	struct src s = { 0 };
	struct gguf_init_params ip = { .no_alloc = false, .ctx = &s.ctx };
	size_t i;
	int ret = 0;

	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (i = 0; i < N_VARIANTS; i++)
			puts(variants[i].name);
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: make-arch SRC.gguf OUT_DIR\n       make-arch --list\n");
		return 2;
	}
	s.g = gguf_init_from_file(argv[1], ip);
	if (!s.g) {
		fprintf(stderr, "make-arch: gguf_init_from_file %s failed\n", argv[1]);
		return 1;
	}
	if (src_u32(&s, "llama.embedding_length", &s.dim) ||
	    src_u32(&s, "llama.feed_forward_length", &s.ff) ||
	    src_u32(&s, "llama.block_count", &s.layers) ||
	    src_u32(&s, "llama.attention.head_count", &s.heads) ||
	    src_u32(&s, "llama.attention.head_count_kv", &s.kv_heads)) {
		ret = 1;
		goto out;
	}
	s.vocab = (int)gguf_get_arr_n(s.g, gguf_find_key(s.g, "tokenizer.ggml.tokens"));
	for (i = 0; i < N_VARIANTS && !ret; i++)
		ret = write_variant(&s, &variants[i], argv[2]) ? 1 : 0;
out:
	ggml_free(s.ctx);
	gguf_free(s.g);
	return ret;
}
