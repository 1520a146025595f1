// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the input as a llama2.c checkpoint (npu_model_load),
 * as a GGUF model with its tokenizer (npu_model_load_gguf), and as a
 * tokenizer of 512 pieces (npu_tokenizer_load), and again as a
 * tokenizer of as many pieces as the file holds when that is another
 * count (npu-run loads tokenizers with its model's vocab_size). The loaders take
 * paths: the input goes to a memfd (a temporary file where there is none)
 * opened through /proc/self/fd. What loads is checked and used: the
 * model's tensors lie inside its one allocation; the tokenizer encodes a
 * fixed text and every token turns back into a piece, then encodes the
 * input itself as a prompt (up to 64 KiB) whose tokens must spell it.
 * Every error is one line of printable ASCII, and a failed load leaves
 * the tokenizer zeroed (it starts as garbage).
 * NPU_FUZZ_VERBOSE=1 prints what each loader said.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <npu/model.h>

#include "fuzz_file.h"

#define MAX_INPUT (1u << 20)
#define MAX_PROMPT 65536
#define VOCAB 512

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_file file;
static int verbose;
/* The input being run: also a prompt for what loads. */
static const uint8_t *input;
static size_t input_size;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("NPU_FUZZ_VERBOSE") && atoi(getenv("NPU_FUZZ_VERBOSE"));
	fuzz_file_open(&file, "fuzz_model");
	return 0;
}

static void check_tensor(const struct npu_model *m, const float *p, size_t n)
{
	if (p < m->data || p > m->data + m->n_floats || n > (size_t)(m->data + m->n_floats - p))
		fuzz_fail(&file, "a model tensor lies outside the model's data");
}

static void use_model(const struct npu_model *m)
{
	const struct npu_model_config *c = &m->cfg;
	size_t d = (size_t)c->dim, h = (size_t)c->hidden_dim, l = (size_t)c->n_layers;
	size_t kv = d * (size_t)c->n_kv_heads / (size_t)c->n_heads, v = (size_t)c->vocab_size;
	volatile float sink;

	check_tensor(m, m->token_embedding, v * d);
	check_tensor(m, m->rms_att, l * d);
	check_tensor(m, m->wq, l * d * d);
	check_tensor(m, m->wk, l * kv * d);
	check_tensor(m, m->wv, l * kv * d);
	check_tensor(m, m->wo, l * d * d);
	check_tensor(m, m->rms_ffn, l * d);
	check_tensor(m, m->w1, l * h * d);
	check_tensor(m, m->w2, l * d * h);
	check_tensor(m, m->w3, l * h * d);
	check_tensor(m, m->rms_final, d);
	check_tensor(m, m->wcls, v * d);
	/* The last element of each end of the data, read through ASan. */
	sink = m->wcls[v * d - 1] + m->rms_final[d - 1] + m->w3[l * h * d - 1];
	(void)sink;
}

/* Whether a piece is exactly @s, by the tokenizer's own sorted index. */
static int has_piece(const struct npu_tokenizer *t, const char *s)
{
	int32_t lo = 0, hi = t->vocab_size - 1;

	while (lo <= hi) {
		int32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s, t->pieces[t->sorted[mid]]);

		if (!c)
			return 1;
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return 0;
}

/*
 * The input as a prompt (NULs dropped, at most MAX_PROMPT bytes). Its
 * tokens after BOS, their pieces joined, must spell what the text starts
 * as: the dummy-prefix space when there is a " " piece, then each code
 * point, or the pieces of its byte tokens when no piece is that code
 * point. A merge joins two pieces into the piece they spell, so merging
 * keeps that text whatever the vocabulary.
 */
static void encode_input(const struct npu_tokenizer *t)
{
	char *text = malloc(MAX_PROMPT + 1), *got;
	size_t n = 0, i, len = 0, at = 0, cl;
	int32_t *tokens, count = 0, k;

	if (!text)
		fuzz_fail(&file, "no memory for the prompt");
	for (i = 0; i < input_size && n < MAX_PROMPT; i++)
		if (input[i])
			text[n++] = (char)input[i];
	text[n] = '\0';
	tokens = malloc((n + 2) * sizeof(*tokens));
	if (!tokens)
		fuzz_fail(&file, "no memory for the prompt's tokens");
	if (npu_tokenizer_encode(t, text, 1, tokens, (int32_t)n + 2, &count))
		fuzz_fail(&file, "npu_tokenizer_encode failed on the input as a prompt");
	if (count < 1 || (size_t)count > n + 2 || tokens[0] != 1)
		fuzz_fail(&file, "the prompt's token count is out of range or has no BOS");
	for (k = 1; k < count; k++) {
		if (tokens[k] < 0 || tokens[k] >= t->vocab_size)
			fuzz_fail(&file, "the prompt has a token outside the vocabulary");
		len += strlen(t->pieces[tokens[k]]);
	}
	got = malloc(len + 1);
	if (!got)
		fuzz_fail(&file, "no memory for the prompt's pieces");
	for (k = 1; k < count; k++) {
		size_t l = strlen(t->pieces[tokens[k]]);

		memcpy(got + at, t->pieces[tokens[k]], l);
		at += l;
	}
	at = 0;
#define EXPECT(s) do { \
		size_t l_ = strlen(s); \
		if (l_ > len - at || memcmp(got + at, (s), l_)) \
			fuzz_fail(&file, "the prompt's tokens do not spell the prompt"); \
		at += l_; \
	} while (0)
	if (n && has_piece(t, " "))
		EXPECT(" ");
	for (i = 0; i < n; i += cl) {
		char cp[5];

		for (cl = 1; i + cl < n && cl < 4 && ((unsigned char)text[i + cl] & 0xc0) == 0x80; cl++)
			;
		memcpy(cp, text + i, cl);
		cp[cl] = '\0';
		if (has_piece(t, cp)) {
			EXPECT(cp);
		} else {
			size_t b;

			for (b = 0; b < cl; b++)
				EXPECT(t->pieces[(unsigned char)cp[b] + 3]);
		}
	}
#undef EXPECT
	if (at != len)
		fuzz_fail(&file, "the prompt's tokens spell more than the prompt");
	free(got);
	free(tokens);
	free(text);
}

static void use_tokenizer(const struct npu_tokenizer *t, int32_t vocab)
{
	static const char text[] = "Once upon a time, the \xc3\xa9l\xc3\xa8ve saw \xe2\x82\xac 3\x01.";
	int32_t tokens[2 * sizeof(text)], n = 0, i, prev = 1;
	char byte[2];

	if (t->vocab_size != vocab || !t->pieces || !t->scores || !t->sorted)
		fuzz_fail(&file, "a loaded tokenizer is incomplete");
	if (npu_tokenizer_encode(t, text, 1, tokens, (int32_t)(sizeof(tokens) / sizeof(tokens[0])),
				 &n))
		fuzz_fail(&file, "npu_tokenizer_encode failed on a loaded tokenizer");
	if (n < 1 || n > (int32_t)(sizeof(tokens) / sizeof(tokens[0])) || tokens[0] != 1)
		fuzz_fail(&file, "npu_tokenizer_encode: token count out of range or no BOS");
	for (i = 0; i < n; i++) {
		const char *p;

		if (tokens[i] < 0 || tokens[i] >= t->vocab_size)
			fuzz_fail(&file, "npu_tokenizer_encode: a token outside the vocabulary");
		p = npu_tokenizer_piece(t, prev, tokens[i], byte);
		if (!p)
			fuzz_fail(&file, "npu_tokenizer_piece returned NULL");
		(void)strlen(p);
		prev = tokens[i];
	}
	/* Out-of-range tokens are refused, never looked up. */
	if (*npu_tokenizer_piece(t, 1, -1, byte) || *npu_tokenizer_piece(t, 1, vocab, byte))
		fuzz_fail(&file, "npu_tokenizer_piece of an invalid token is not empty");
	encode_input(t);
}

/* Pieces in a tokenizer file: entries of score, length, bytes up to its end. */
static int32_t count_pieces(const uint8_t *data, size_t size)
{
	size_t off = 4;
	int32_t n = 0;

	if (size < 4)
		return -1;
	while (off < size) {
		int32_t len;

		if (size - off < 8 || n == 1048576)
			return -1;
		memcpy(&len, data + off + 4, 4);
		if (len < 0 || (size_t)len > size - off - 8)
			return -1;
		off += 8 + (size_t)len;
		n++;
	}
	return n;
}

static void load_tokenizer(int32_t vocab)
{
	struct npu_tokenizer t;
	char err[256];
	int ret;

	err[0] = '\0';
	memset(&t, 0xa5, sizeof(t));
	ret = npu_tokenizer_load(file.path, vocab, &t, err, sizeof(err));
	if (verbose)
		fprintf(stderr, "tokenizer (vocab %d): %d %s\n", vocab, ret, err);
	if (ret == NPU_OK) {
		use_tokenizer(&t, vocab);
		npu_tokenizer_free(&t);
	} else if (t.pieces || t.scores || t.sorted || t.vocab_size || t.max_token_length) {
		fuzz_fail(&file, "npu_tokenizer_load failed but did not zero the tokenizer");
	}
	fuzz_check_error(&file, err, sizeof(err));
}

/*
 * Native matrices (SCALE_BLOCK) match their model's shapes; their codes' and
 * records' last bytes are read, and their last value is the float copy's.
 */
static void use_native(const struct npu_model *m)
{
	const struct npu_model_config *c = &m->cfg;
	int32_t d = c->dim, h = c->hidden_dim, kv = d / c->n_heads * c->n_kv_heads;
	const int32_t rows[] = { d, kv, kv, d, h, d, h }, cols[] = { d, d, d, d, d, h, d };
	const float *last_of[] = { m->wq, m->wk, m->wv, m->wo, m->w1, m->w2, m->w3 };
	int mats = c->n_layers * NPU_MODEL_LAYER_MATS, i;
	volatile uint32_t sink = 0;

	for (i = 0; m->native && i < mats + 2; i++) {
		const struct npu_qmatrix *q = &m->native[i];
		int r = i < mats ? rows[i % NPU_MODEL_LAYER_MATS] : c->vocab_size;
		int k = i < mats ? cols[i % NPU_MODEL_LAYER_MATS] : d;
		const float *f = i < mats ? last_of[i % NPU_MODEL_LAYER_MATS] +
				 (size_t)(i / NPU_MODEL_LAYER_MATS) * r * k :
				 i == mats ? m->wcls : m->token_embedding;
		uint64_t rec;

		if (!q->q)
			continue;
		rec = npu_block_record_bytes(&q->block, (uint32_t)q->cols);
		if (q->rows != r || q->cols != k || !rec || q->bits < 2 || q->bits > 8 ||
		    (i == mats + 1 && c->shared_classifier))
			fuzz_fail(&file, "a native matrix does not match its model's shape");
		sink += q->q[(size_t)r * (((uint64_t)k * q->bits + 7) / 8) - 1] +
			q->records[(size_t)r * rec - 1];
		if (npu_qmatrix_value(q, r - 1, k - 1) != f[(size_t)r * k - 1])
			fuzz_fail(&file, "a native matrix's value is not its float copy's");
	}
	(void)sink;
}

/* The input as a GGUF model with its tokenizer. */
static void load_gguf(void)
{
	struct npu_model m;
	struct npu_tokenizer t;
	char err[256];
	int ret;

	err[0] = '\0';
	memset(&t, 0xa5, sizeof(t));
	ret = npu_model_load_gguf(file.path, &m, &t, err, sizeof(err));
	if (verbose)
		fprintf(stderr, "gguf: %d %s\n", ret, err);
	if (ret == NPU_OK) {
		use_model(&m);
		use_native(&m);
		use_tokenizer(&t, m.cfg.vocab_size);
		npu_tokenizer_free(&t);
		npu_model_free(&m);
	} else if (m.data || m.native) {
		fuzz_fail(&file, "npu_model_load_gguf failed but left memory allocated");
	} else if (t.pieces || t.scores || t.sorted || t.vocab_size || t.max_token_length) {
		fuzz_fail(&file, "npu_model_load_gguf failed but did not zero the tokenizer");
	}
	fuzz_check_error(&file, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct npu_model m;
	char err[256];
	int32_t vocab;
	int ret;

	if (size > MAX_INPUT)
		return 0;
	input = data;
	input_size = size;
	if (fuzz_file_put(&file, data, size)) {
		perror("fuzz_model: writing the input");
		abort();
	}

	err[0] = '\0';
	ret = npu_model_load(file.path, &m, err, sizeof(err));
	if (verbose)
		fprintf(stderr, "model: %d %s\n", ret, err);
	if (ret == NPU_OK) {
		use_model(&m);
		npu_model_free(&m);
	} else if (m.data) {
		fuzz_fail(&file, "npu_model_load failed but left data allocated");
	}
	fuzz_check_error(&file, err, sizeof(err));

	load_tokenizer(VOCAB);
	vocab = count_pieces(data, size);
	if (vocab >= 3 && vocab != VOCAB)
		load_tokenizer(vocab);
	load_gguf();
	return 0;
}
