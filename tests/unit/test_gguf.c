// SPDX-License-Identifier: MIT
/*
 * GGUF models: ../shared/models/stories260K.gguf against stories260K.bin
 * (same tensors, same tokens out of libnpu-llm), files written in F32,
 * F16, Q8_0 and Q4_0 read back with the block integers kept exactly
 * (SCALE_BLOCK), and every kind of malformed file rejected with its cause.
 * test_gguf_quants.c has every quantized type's layout.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <npu/llm.h>
#include "testlib.h"

static struct t_stories files;

/* The models must be there: a missing model fails, it is never skipped. */
static int find_models(void **state)
{
	(void)state;
	return t_stories_find(&files, "test_gguf");
}

static int cleanup(void **state)
{
	(void)state;
	return t_rmdir(files.dir);
}

static void load_bin(struct npu_model *m, struct npu_tokenizer *t)
{
	char err[256] = "";

	if (npu_model_load(files.bin, m, err, sizeof(err)) ||
	    npu_tokenizer_load(files.tok, m->cfg.vocab_size, t, err, sizeof(err)))
		fail_msg("%s", err);
}

static void load_gguf(const char *path, struct npu_model *m, struct npu_tokenizer *t)
{
	char err[256] = "";

	if (npu_model_load_gguf(path, m, t, err, sizeof(err)))
		fail_msg("%s: %s", path, err);
}

/* @m saved as @type into the test folder; returns the path. */
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

/* The matrices of a model in npu_model.native order. */
static const float *matrix(const struct npu_model *m, int at, int32_t *rows, int32_t *cols)
{
	const struct npu_model_config *c = &m->cfg;
	size_t d = (size_t)c->dim, h = (size_t)c->hidden_dim;
	size_t kv = d * (size_t)c->n_kv_heads / (size_t)c->n_heads;
	int l = at / NPU_MODEL_LAYER_MATS, k = at % NPU_MODEL_LAYER_MATS;
	const size_t r[] = { d, kv, kv, d, h, d, h }, col[] = { d, d, d, d, d, h, d };
	const float *base[] = { m->wq, m->wk, m->wv, m->wo, m->w1, m->w2, m->w3 };

	if (at == c->n_layers * NPU_MODEL_LAYER_MATS) {
		*rows = c->vocab_size;
		*cols = c->dim;
		return m->wcls;
	}
	*rows = (int32_t)r[k];
	*cols = (int32_t)col[k];
	return base[k] + (size_t)l * r[k] * col[k];
}

/* The published GGUF holds the .bin's tensors and tokenizer. */
static void shared_gguf_equals_bin(void **state)
{
	struct npu_model a, b;
	struct npu_tokenizer ta, tb;
	int32_t i;

	(void)state;
	load_bin(&a, &ta);
	load_gguf(files.gguf, &b, &tb);
	assert_int_equal(b.cfg.dim, a.cfg.dim);
	assert_int_equal(b.cfg.hidden_dim, a.cfg.hidden_dim);
	assert_int_equal(b.cfg.n_layers, a.cfg.n_layers);
	assert_int_equal(b.cfg.n_heads, a.cfg.n_heads);
	assert_int_equal(b.cfg.n_kv_heads, a.cfg.n_kv_heads);
	assert_int_equal(b.cfg.vocab_size, a.cfg.vocab_size);
	assert_int_equal(b.cfg.seq_len, 2048);	/* the file's llama.context_length */
	assert_false(b.cfg.shared_classifier);	/* output.weight is stored, a copy */
	assert_null(b.native);			/* all F32 */
	/* Everything but the classifier lies in the same order in both. */
	assert_memory_equal(b.data, a.data, ((size_t)(a.rms_final - a.data) + 64) * 4);
	assert_memory_equal(b.wcls, a.token_embedding, (size_t)a.cfg.vocab_size * a.cfg.dim * 4);
	for (i = 0; i < ta.vocab_size; i++) {
		assert_true(ta.scores[i] == tb.scores[i]);
		if (i != 1 && i != 2)	/* llama2.c's "\n<s>\n" is GGUF's "<s>" */
			assert_string_equal(ta.pieces[i], tb.pieces[i]);
	}
	npu_tokenizer_free(&ta);
	npu_tokenizer_free(&tb);
	npu_model_free(&a);
	npu_model_free(&b);
}

/* @m, taken over, on @dev with @weights ("native": the file's quantized matrices). */
static npu_llm_model *on_device(npu_device *dev, struct npu_model *m, const char *weights)
{
	struct npu_llm_model_params p = { .weights = weights };
	npu_llm_model *lm = NULL;
	char err[256] = "";

	if (npu_llm_model_create(dev, m, NULL, &p, &lm, err, sizeof(err)))
		fail_msg("model: %s", err);
	return lm;
}

/* Greedy tokens of a model from a prefill of the prompt (@t's tokens). */
static void greedy(npu_llm_model *m, const struct npu_tokenizer *t, int32_t *tokens, int n)
{
	int32_t vocab = npu_llm_model_host(m)->cfg.vocab_size, np = 0;
	npu_llm_ctx *c;
	char err[256] = "";
	int i;

	if (npu_llm_ctx_create(m, NULL, &c, err, sizeof(err)))
		fail_msg("context: %s", err);
	assert_int_equal(npu_tokenizer_encode(t, "Once upon a time", 1, tokens, n, &np), NPU_OK);
	assert_int_equal(npu_llm_eval(c, tokens, np), NPU_OK);
	for (i = np; i < n; i++) {
		tokens[i] = npu_llm_argmax(npu_llm_logits(c), vocab);
		assert_int_equal(npu_llm_eval(c, &tokens[i], 1), NPU_OK);
	}
	npu_llm_ctx_free(c);
}

/* The check: stories260K.gguf and stories260K.bin give the same tokens. */
static void shared_gguf_same_tokens(void **state)
{
	npu_device *dev = t_open();
	struct npu_model a, b;
	struct npu_tokenizer ta, tb;
	npu_llm_model *ma, *mb;
	int32_t x[100], y[100];

	(void)state;
	load_bin(&a, &ta);
	load_gguf(files.gguf, &b, &tb);
	ma = on_device(dev, &a, "w8");
	mb = on_device(dev, &b, "w8");
	greedy(ma, &ta, x, 100);
	greedy(mb, &tb, y, 100);
	assert_memory_equal(x, y, sizeof(x));
	npu_llm_model_free(ma);
	npu_llm_model_free(mb);
	npu_tokenizer_free(&ta);
	npu_tokenizer_free(&tb);
	npu_close(dev);
}

/* F32 round-trips bit for bit, F16 to the nearest half, tokenizer intact. */
static void float_round_trip(void **state)
{
	struct npu_model a, b;
	struct npu_tokenizer ta, tb;
	size_t i;
	int32_t k;

	(void)state;
	load_bin(&a, &ta);
	load_gguf(save(&a, &ta, NPU_GGUF_F32, "f32.gguf"), &b, &tb);
	assert_int_equal(b.cfg.seq_len, a.cfg.seq_len);
	assert_true(b.cfg.shared_classifier);
	assert_null(b.native);
	assert_int_equal(b.n_floats, (size_t)(a.rms_final - a.data) + (size_t)a.cfg.dim);
	assert_memory_equal(b.data, a.data, b.n_floats * 4);
	for (k = 0; k < ta.vocab_size; k++) {
		assert_string_equal(ta.pieces[k], tb.pieces[k]);
		assert_true(ta.scores[k] == tb.scores[k]);
	}
	npu_tokenizer_free(&tb);
	npu_model_free(&b);

	load_gguf(save(&a, &ta, NPU_GGUF_F16, "f16.gguf"), &b, NULL);
	for (i = 0; i < b.n_floats; i++) {
		/* Matrices are F16 (half an ulp of 11 bits), norms F32. */
		double x = a.data[i], y = b.data[i];

		if (fabs(x - y) > fabs(x) * 0x1p-11 + 0x1p-25)
			fail_msg("float %zu: %.9g became %.9g", i, x, y);
	}
	npu_tokenizer_free(&ta);
	npu_model_free(&a);
	npu_model_free(&b);
}

static float half(uint16_t h)
{
	int e = (h >> 10) & 31, m = h & 1023;
	float v = e ? ldexpf((float)(m | 1024), e - 25) : ldexpf((float)m, -24);

	return (h & 0x8000) ? -v : v;
}

/* Where a tensor's descriptor and data are, found the way a reader would. */
struct located {
	size_t info;	/* the descriptor's n_dims field */
	size_t data;	/* the first data byte */
	uint32_t type;
};

static struct located locate(const uint8_t *f, size_t len, const char *name, const char *last)
{
	struct located at = { 0 };
	const uint8_t *p = memmem(f, len, name, strlen(name));
	const uint8_t *q = memmem(f, len, last, strlen(last));
	uint32_t nd;
	uint64_t off, end;

	assert_non_null(p);
	assert_non_null(q);
	at.info = (size_t)(p - f) + strlen(name);
	memcpy(&nd, f + at.info, 4);
	memcpy(&at.type, f + at.info + 4 + 8 * nd, 4);
	memcpy(&off, f + at.info + 8 + 8 * nd, 8);
	end = (uint64_t)(q - f) + strlen(last);
	memcpy(&nd, f + end, 4);
	end += 4 + 8 * nd + 4 + 8;
	at.data = (size_t)((end + 31) & ~31ull) + (size_t)off;
	return at;
}

/*
 * A quantized file's blocks against what the loader made of them
 * (SCALE_BLOCK): each row's codes are the file's integers (Q8_0's + 128,
 * Q4_0's nibbles in column order), its record the blocks' binary16 d as
 * they are, and every float the exact d x (q - zero).
 */
static void check_blocks(const char *path, const struct npu_model *m, uint32_t type)
{
	int bits = type == NPU_GGUF_Q8_0 ? 8 : 4, zero = type == NPU_GGUF_Q8_0 ? 128 : 8, at;
	size_t len, negative = 0;
	uint8_t *f = t_read_file(path, &len);

	assert_non_null(m->native);
	for (at = 0; at < m->cfg.n_layers * NPU_MODEL_LAYER_MATS; at++) {
		static const char *const names[] = { "attn_q", "attn_k", "attn_v", "attn_output",
						     "ffn_gate", "ffn_down", "ffn_up" };
		const struct npu_qmatrix *q = &m->native[at];
		char name[64];
		struct located loc;
		int32_t rows, cols, b, j;
		const float *w = matrix(m, at, &rows, &cols);

		snprintf(name, sizeof(name), "blk.%d.%s.weight", at / NPU_MODEL_LAYER_MATS,
			 names[at % NPU_MODEL_LAYER_MATS]);
		loc = locate(f, len, name, "blk.4.ffn_up.weight");
		if (cols % 32) {	/* written F16: no native form */
			assert_int_equal(loc.type, NPU_GGUF_F16);
			assert_null(q->q);
			continue;
		}
		assert_int_equal(loc.type, type);
		assert_non_null(q->q);
		assert_non_null(q->records);
		assert_null(q->factors);
		assert_string_equal(q->source, type == NPU_GGUF_Q8_0 ? "Q8_0" : "Q4_0");
		assert_int_equal(q->group_size, 32);
		assert_int_equal(q->block.group_size, 32);
		assert_int_equal(q->block.block_groups, 1);
		assert_int_equal(q->block.zero, zero);
		assert_int_equal(q->block.flags, 0);
		assert_int_equal(q->bits, bits);
		assert_true(npu_scale_to_double(q->scale) == 1.0);
		for (b = 0; b < rows * cols / 32; b++) {
			const uint8_t *blk = f + loc.data + (size_t)b * (type == NPU_GGUF_Q8_0 ? 34 : 18);
			/* A row's record: its blocks' d, two bytes each. */
			const uint8_t *rec = q->records + (size_t)b * 2;
			uint16_t h;
			double d;

			memcpy(&h, blk, 2);
			assert_memory_equal(rec, blk, 2);
			d = half(h);
			negative += d < 0;
			for (j = 0; j < 32; j++) {
				int v = type == NPU_GGUF_Q8_0 ? (int8_t)blk[2 + j] :
					(j < 16 ? blk[2 + j] & 15 : blk[2 + j - 16] >> 4) - 8;
				size_t e = (size_t)b * 32 + (size_t)j;
				int got = bits == 8 ? q->q[e] : (q->q[e / 2] >> (4 * (e & 1))) & 15;

				if (got - zero != v)
					fail_msg("%s block %d value %d: file %d, NPU %d", name, b, j, v,
						 got - zero);
				if (w[e] != (float)(v * d) ||
				    npu_qmatrix_value(q, (int32_t)(e / cols),
						      (int32_t)(e % cols)) != w[e])
					fail_msg("%s element %zu: %.9g, want %.9g", name, e, w[e],
						 v * d);
			}
		}
	}
	printf("%s: every block kept exactly (%zu with d < 0)\n",
	       type == NPU_GGUF_Q8_0 ? "Q8_0" : "Q4_0", negative);
	free(f);
}

static void q8_0_kept_exactly(void **state)
{
	struct npu_model a, b;
	struct npu_tokenizer ta;
	const char *path;

	(void)state;
	load_bin(&a, &ta);
	path = save(&a, &ta, NPU_GGUF_Q8_0, "q8_0.gguf");
	load_gguf(path, &b, NULL);
	check_blocks(path, &b, NPU_GGUF_Q8_0);
	npu_tokenizer_free(&ta);
	npu_model_free(&a);
	npu_model_free(&b);
}

/*
 * ggml's Q4_0 writes a block's largest value as -8 x d with d < 0: code 0
 * under zero 8 and a negative binary16 d, kept as they are. With every
 * block's largest value negative (d > 0) likewise.
 */
static void q4_0_kept_exactly(void **state)
{
	struct npu_model a, b;
	struct npu_tokenizer ta;
	const char *path;
	int at;

	(void)state;
	load_bin(&a, &ta);
	path = save(&a, &ta, NPU_GGUF_Q4_0, "q4_0.gguf");
	load_gguf(path, &b, NULL);
	check_blocks(path, &b, NPU_GGUF_Q4_0);
	npu_model_free(&b);

	for (at = 0; at < a.cfg.n_layers * NPU_MODEL_LAYER_MATS; at++) {
		int32_t rows, cols, i, j;
		float *w = (float *)matrix(&a, at, &rows, &cols);

		for (i = 0; cols % 32 == 0 && i < rows * cols; i += 32) {
			float big = 0;

			for (j = 0; j < 32; j++)
				if (fabsf(w[i + j]) > fabsf(big))
					big = w[i + j];
			for (j = 0; big > 0 && j < 32; j++)
				w[i + j] = -w[i + j];
		}
	}
	path = save(&a, &ta, NPU_GGUF_Q4_0, "q4_0-pos.gguf");
	load_gguf(path, &b, NULL);
	check_blocks(path, &b, NPU_GGUF_Q4_0);
	npu_tokenizer_free(&ta);
	npu_model_free(&a);
	npu_model_free(&b);
}

/* Quantized files run: native weights against their own float values. */
static void quantized_files_run(void **state)
{
	static const enum npu_gguf_type types[] = { NPU_GGUF_Q8_0, NPU_GGUF_Q4_0 };
	npu_device *dev = t_open();
	struct npu_llm_ctx_params rp = { .reference = 1 };
	struct npu_model a, b;
	struct npu_tokenizer ta;
	size_t k;

	(void)state;
	load_bin(&a, &ta);
	for (k = 0; k < 2; k++) {
		struct npu_llm_model_info info;
		int32_t x[48], y[48];
		npu_llm_model *m;
		npu_llm_ctx *ref;
		char err[256] = "";
		int i, agree = 0;

		load_gguf(save(&a, &ta, types[k], "run.gguf"), &b, NULL);
		m = on_device(dev, &b, "native");
		npu_llm_model_info(m, &info);
		assert_string_equal(info.weights, "native");
		/*
		 * The conversions said: ffn_down (F16) under native; not the
		 * embedding table, the classifier's block form on the device.
		 */
		printf("%s\n", info.weight_note);
		assert_null(strstr(info.weight_note, "token_embd"));
		assert_non_null(strstr(info.weight_note, "5 F32/F16 matrices are int8 per output "
					"channel on the device: RMS error up to "));
		greedy(m, &ta, x, 48);
		/* The float reference teacher-forced on the device's tokens. */
		if (npu_llm_ctx_create(m, &rp, &ref, err, sizeof(err)))
			fail_msg("reference: %s", err);
		for (i = 0; i < 47; i++) {
			assert_int_equal(npu_llm_eval(ref, &x[i], 1), NPU_OK);
			y[i + 1] = npu_llm_argmax(npu_llm_logits(ref), 512);
			agree += i >= 4 && y[i + 1] == x[i + 1];
		}
		printf("%s native: top-1 agreement with its float values %d of 43\n",
		       k ? "Q4_0" : "Q8_0", agree);
		assert_true(agree >= 40);
		npu_llm_ctx_free(ref);
		npu_llm_model_free(m);
	}
	npu_tokenizer_free(&ta);
	npu_model_free(&a);
	npu_close(dev);
}

/*
 * Block scales: a zero scale makes its block zero (its codes kept); a
 * non-finite one, even in the embedding table, is refused.
 */
static void quantized_block_scales(void **state)
{
	struct npu_model a, b;
	struct npu_tokenizer ta;
	char path[700], err[256] = "";
	struct located loc;
	size_t len;
	uint8_t *f;
	int j;

	(void)state;
	load_bin(&a, &ta);
	f = t_read_file(save(&a, &ta, NPU_GGUF_Q8_0, "scales.gguf"), &len);
	snprintf(path, sizeof(path), "%s/scales-edit.gguf", files.dir);
	loc = locate(f, len, "blk.0.attn_q.weight", "blk.4.ffn_up.weight");
	memset(f + loc.data, 0, 2);
	t_write_file(path, f, len);
	load_gguf(path, &b, NULL);
	assert_int_equal(b.native[0].records[0] | b.native[0].records[1], 0);
	for (j = 0; j < 32; j++) {
		assert_int_equal(b.native[0].q[j], f[loc.data + 2 + j] ^ 0x80);
		assert_true(b.wq[j] == 0);
		assert_true(npu_qmatrix_value(&b.native[0], 0, j) == 0);
	}
	assert_true(b.wq[32] != 0 || b.wq[33] != 0 || b.wq[34] != 0);
	npu_model_free(&b);
	loc = locate(f, len, "token_embd.weight", "blk.4.ffn_up.weight");
	memcpy(f + loc.data, "\x00\x7e", 2);	/* an f16 NaN */
	t_write_file(path, f, len);
	assert_int_equal(npu_model_load_gguf(path, &b, NULL, err, sizeof(err)), NPU_E_FORMAT);
	assert_non_null(strstr(err,
			       "token_embd.weight\": block 0 has scale 0x7e00 (f16): not finite"));
	free(f);
	npu_tokenizer_free(&ta);
	npu_model_free(&a);
}

/* One way to break a file, and what the error must say. */
struct mutation {
	const char *what;	/* bytes to find (a key or tensor name) */
	long delta;		/* where to write, from the end of what was found */
	uint64_t value;
	int width;		/* bytes of value written; 0: truncate the file there */
	const char *error;
};

static void malformed_files(void **state)
{
	static const struct mutation muts[] = {
		{ "GGUF", -4, 0x46554747ull ^ 1, 4, "no GGUF magic" },
		{ "GGUF", 0, 2, 4, "GGUF version 2" },
		{ "GGUF", 4, 1ull << 40, 8, "more than 65536 tensors" },
		{ "general.architecture", -28, 1ull << 40, 8, "bytes long" },
		{ "general.architecture", 0, 99, 4, "\"general.architecture\" has value type 99" },
		{ "general.name", 0, 99, 4, "\"general.name\" has value type 99" },
		{ "general.architecture", 12, 'x', 1, "supported are llama, qwen2, qwen3, gemma and phi3" },
		{ "llama.embedding_length", -1, 'x', 1, "llama.embedding_length is missing" },
		{ "llama.embedding_length", 0, 6, 4, "is not an integer" },
		{ "llama.attention.head_count", 4, 7, 4, "llama.* metadata: dim 64 is not a multiple of n_heads 7" },
		{ "llama.rope.freq_base", 4, 0, 4, "llama.rope.freq_base = 0 is outside (1, 1e+12)" },
		{ "llama.rope.dimension_count", 4, 4, 4,
		  "llama.rope.dimension_count 4: only RoPE over the whole head (8)" },
		{ "layer_norm_rms_epsilon", 4, 0xbf800000, 4,
		  "layer_norm_rms_epsilon = -1 is outside (0, 1)" },
		{ "tokenizer.ggml.tokens", 4, 6, 4, "holds type 6, not 8" },
		{ "tokenizer.ggml.scores", 0, 8, 4, "is not an array" },
		{ "tokenizer.ggml.model", 12, 'g', 1, "tokenizer.ggml.model is not llama" },
		{ "blk.0.attn_q.weight", 0, 0, 4, "0 or more than 4 dimensions" },
		{ "blk.0.attn_q.weight", 4, 32, 8, "shape does not fit" },
		{ "blk.0.attn_q.weight", 20, 16, 4,
		  "\"blk.0.attn_q.weight\" has type IQ2_XXS: supported are F32, F16, Q4_0, Q4_1, "
		  "Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K" },
		{ "blk.0.attn_q.weight", 20, 30, 4, "has type BF16: supported are F32, F16," },
		{ "blk.0.attn_q.weight", 20, 99, 4, "has type 99 (not a ggml type): supported are" },
		{ "blk.0.attn_q.weight", 20, 14, 4,
		  "has type Q6_K: row length 64 is not a multiple of its block's 256" },
		{ "blk.0.attn_q.weight", 24, 1, 8, "not a multiple of 32" },
		{ "blk.0.attn_q.weight", 24, 1ull << 40, 8, "runs past the file end" },
		{ "blk.0.attn_k.weight", -8, 'q', 1, "appears twice" },
		{ "llama.block_count", 4, 4, 4, "blk.4.attn_norm.weight\" is not part of a model of this architecture" },
		{ "blk.4.ffn_up.weight", -8, '5', 1, "blk.4.ffn_up.weight\" is missing" },
		{ "general.alignment", 4, 48, 4, "not a power of two" },
		/* Far more layers than the file holds: found missing before any allocation. */
		{ "llama.block_count", 4, 1024, 4, "blk.5.attn_norm.weight\" is missing" },
		{ "tokenizer.ggml.model", -1, 'x', 1, "tokenizer.ggml.model is missing" },
		/* Issue 20: a key twice (the last won), tensors sharing bytes, counts past the file. */
		{ "tokenizer.ggml.eos_token_id", -12, 'b', 1,
		  "metadata key \"tokenizer.ggml.bos_token_id\" appears twice" },
		{ "blk.0.attn_norm.weight", 16, 0, 8,
		  "tensor \"blk.0.attn_norm.weight\": data (256 bytes at offset 0) overlaps tensor \"token_embd.weight\"" },
		{ "GGUF", 4, 65536, 8, "65536 tensor descriptors need at least 2097152 bytes" },
		{ "tokenizer.ggml.tokens", 8, 1 << 24, 8,
		  "16777216 strings of an array need at least 134217728 bytes" },
		{ NULL, -4, 0x7fc00000, 4, "is not a finite weight" },
		{ NULL, -100, 0, 0, "runs past the file end" },
		{ "tokenizer.ggml.tokens", 40, 0, 0, "512 strings of an array need at least 4096 bytes" },
	};
	struct npu_model a, b;
	struct npu_tokenizer ta, tb;
	char path[700], err[256];
	size_t len, k;
	uint8_t *orig, *f;

	(void)state;
	load_bin(&a, &ta);
	len = 0;
	orig = t_read_file(save(&a, &ta, NPU_GGUF_F32, "good.gguf"), &len);
	f = malloc(len);
	assert_non_null(f);
	snprintf(path, sizeof(path), "%s/bad.gguf", files.dir);
	for (k = 0; k < sizeof(muts) / sizeof(muts[0]); k++) {
		const struct mutation *mu = &muts[k];
		size_t at, n = len;
		int ret;

		memcpy(f, orig, len);
		if (mu->what) {
			const uint8_t *p = memmem(f, len, mu->what, strlen(mu->what));

			assert_non_null(p);
			at = (size_t)((long)(p - f) + (long)strlen(mu->what) + mu->delta);
		} else {
			at = (size_t)((long)len + mu->delta);
		}
		if (mu->width)
			memcpy(f + at, &mu->value, (size_t)mu->width);
		else
			n = at;
		t_write_file(path, f, n);
		err[0] = 0;
		ret = npu_model_load_gguf(path, &b, &tb, err, sizeof(err));
		if (ret != NPU_E_FORMAT || !strstr(err, mu->error))
			fail_msg("mutation %zu (%s): got %d '%s', want '%s'", k,
				 mu->what ? mu->what : "end", ret, err, mu->error);
	}
	free(f);
	free(orig);
	npu_tokenizer_free(&ta);
	npu_model_free(&a);
}

/* Every prefix of a small quantized file is rejected, never read past. */
static void truncated_everywhere(void **state)
{
	struct npu_model a, b;
	struct npu_tokenizer ta, tb;
	char path[700], err[256];
	size_t len, n, step;
	uint8_t *f;
	int fd;

	(void)state;
	load_bin(&a, &ta);
	f = t_read_file(save(&a, &ta, NPU_GGUF_Q4_0, "trunc.gguf"), &len);
	snprintf(path, sizeof(path), "%s/prefix.gguf", files.dir);
	t_write_file(path, f, len);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	/* Every length through the metadata, then a spread over the tensor data. */
	for (n = len - 1; n > 0; n -= step) {
		step = n > 16384 ? 97 : 1;
		assert_int_equal(ftruncate(fd, (off_t)n), 0);
		if (npu_model_load_gguf(path, &b, &tb, err, sizeof(err)) != NPU_E_FORMAT)
			fail_msg("a %zu-byte prefix of %zu loaded", n, len);
		if (n < step)
			break;
	}
	close(fd);
	free(f);
	npu_tokenizer_free(&ta);
	npu_model_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shared_gguf_equals_bin),
		cmocka_unit_test(shared_gguf_same_tokens),
		cmocka_unit_test(float_round_trip),
		cmocka_unit_test(q8_0_kept_exactly),
		cmocka_unit_test(q4_0_kept_exactly),
		cmocka_unit_test(quantized_files_run),
		cmocka_unit_test(quantized_block_scales),
		cmocka_unit_test(malformed_files),
		cmocka_unit_test(truncated_everywhere),
	};

	return cmocka_run_group_tests(tests, find_models, cleanup);
}
