// SPDX-License-Identifier: MIT
/*
 * Hostile GGUF vocabularies (issue 24), vocabulary-only files built byte
 * by byte (tests/vocab_build.h) and read by npu_tokenizer_load_gguf():
 * each key of the wrong type or length, token types out of range, merges
 * that name no token or are malformed, tokens given twice, special ids out
 * of range, an unknown pre-tokenizer, tokens too long or holding NUL, and
 * counts a tiny file cannot hold. A refusal is NPU_E_FORMAT with one line
 * naming the key, the tokenizer zeroed; what llama.cpp accepts loads and
 * tokenizes (each case says which). Then long inputs: 128 KiB of text, one
 * word of 128 KiB and a text full of special tokens' texts through a
 * byte-level BPE vocabulary, each within a gross CPU-time bound.
 * NPU_LLAMA_MODELS: llama.cpp's models directory (ggml-vocab-qwen2.gguf),
 * for the long inputs through a real vocabulary too.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <npu/model.h>
#include "testlib.h"
#include "../vocab_build.h"

static char dir[512];
static struct vb v;

static int make_dir(void **state)
{
	(void)state;
	return t_mkdtemp("test_vocab_hostile", dir, sizeof(dir));
}

static int remove_dir(void **state)
{
	(void)state;
	return t_rmdir(dir);
}

/* @n bytes at @delta past the end of @key's name in the file. */
static void patch(struct gguf_build *b, const char *key, size_t delta, const void *p, size_t n)
{
	size_t kl = strlen(key), i;

	for (i = 0; i + kl <= b->n && memcmp(b->p + i, key, kl); i++)
		;
	assert_true(i + kl + delta + n <= b->n);
	memcpy(b->p + i + kl + delta, p, n);
}

/* Where v is written to: a patch applies to it first when given. */
static const char *write_vb(void (*fix)(struct gguf_build *b))
{
	static char path[700];
	struct gguf_build b;

	vb_write(&v, &b);
	if (fix)
		fix(&b);
	snprintf(path, sizeof(path), "%s/vocab.gguf", dir);
	t_write_file(path, b.p, b.n);
	free(b.p);
	return path;
}

/* v, patched by @fix, is refused: NPU_E_FORMAT, one line holding @needle, @t zeroed. */
static void refused(void (*fix)(struct gguf_build *b), const char *needle)
{
	struct npu_tokenizer t, zero;
	char err[256] = "";
	const char *c;

	memset(&t, 0xa5, sizeof(t));
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(npu_tokenizer_load_gguf(write_vb(fix), &t, err, sizeof(err)),
			 NPU_E_FORMAT);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not say '%s'", err, needle);
	for (c = err; *c; c++)
		assert_true(*c >= 0x20 && *c < 0x7f);
	assert_memory_equal(&t, &zero, sizeof(t));
}

/* v loads into @t. */
static void loads(struct npu_tokenizer *t)
{
	char err[256] = "";

	if (npu_tokenizer_load_gguf(write_vb(NULL), t, err, sizeof(err)))
		fail_msg("refused: %s", err);
}

/* @text's tokens (special text parsed, nothing added). */
static int32_t tokens_of(const struct npu_tokenizer *t, const char *text, int32_t *out,
			 int32_t max)
{
	int32_t n;

	assert_int_equal(npu_tokenizer_tokenize(t, text, strlen(text), NPU_TOKENIZE_PARSE_SPECIAL,
						out, max, &n), NPU_OK);
	assert_true(n <= max);
	return n;
}

static int32_t id_of(const char *s)
{
	int32_t i;

	for (i = v.n - 1; i >= 0; i--)
		if (!strcmp(v.text[i], s))
			return i;
	fail_msg("no token '%s' in the test's vocabulary", s);
	return -1;
}

/* ---- keys of the wrong type or length ----------------------------------- */

static void tokens_elem_i32(struct gguf_build *b)
{
	patch(b, "tokenizer.ggml.tokens", 4, "\5\0\0\0", 4);
}

static void tokens_count(struct gguf_build *b, uint64_t n)
{
	patch(b, "tokenizer.ggml.tokens", 8, &n, 8);
}

static void tokens_2_40(struct gguf_build *b)
{
	tokens_count(b, 1ull << 40);
}

static void tokens_million(struct gguf_build *b)
{
	tokens_count(b, 1000000);
}

static void scores_elem_i32(struct gguf_build *b)
{
	patch(b, "tokenizer.ggml.scores", 4, "\5\0\0\0", 4);
}

static void types_elem_u32(struct gguf_build *b)
{
	patch(b, "tokenizer.ggml.token_type", 4, "\4\0\0\0", 4);
}

static void merges_elem_i32(struct gguf_build *b)
{
	patch(b, "tokenizer.ggml.merges", 4, "\5\0\0\0", 4);
}

static void tokens_type(void **state)
{
	(void)state;
	vb_spm(&v);
	refused(tokens_elem_i32, "tokenizer.ggml.tokens holds type 5, not 8");
	/*
	 * Counts past what the file holds: gguf.c refuses them as it indexes
	 * the keys, before anything is allocated; its line gives the byte the
	 * array is at, not the key.
	 */
	refused(tokens_2_40, "array longer than 2^24 elements");
	refused(tokens_million, "1000000 strings of an array need at least 8000000 bytes");
	vb_gpt2(&v, "gpt-2");
	refused(tokens_million, "1000000 strings of an array need at least 8000000 bytes");
}

/* Over 1,048,576 tokens (8 MiB of empty strings): the count is refused by name. */
static void tokens_too_many(void **state)
{
	static char path[700];
	struct npu_tokenizer t;
	struct gguf_build b = { 0 };
	char err[256] = "";
	uint64_t i;

	(void)state;
	gguf_put(&b, "GGUF", 4);
	gguf_u32(&b, 3);
	gguf_u64(&b, 0);
	gguf_u64(&b, 2);
	gguf_kv_str(&b, "tokenizer.ggml.model", "gpt2", 4);
	vb_array(&b, "tokenizer.ggml.tokens", 8, 1048577);
	for (i = 0; i < 1048577; i++)
		gguf_u64(&b, 0);
	snprintf(path, sizeof(path), "%s/many.gguf", dir);
	t_write_file(path, b.p, b.n);
	free(b.p);
	assert_int_equal(npu_tokenizer_load_gguf(path, &t, err, sizeof(err)), NPU_E_FORMAT);
	assert_non_null(strstr(err, "tokenizer.ggml.tokens: 1048577 tokens"));
	assert_null(t.vocab);
}

static void scores_and_types(void **state)
{
	struct npu_tokenizer t;
	char bb[2];
	int32_t ids[64], n, i;

	(void)state;
	vb_spm(&v);
	v.n_scores = (uint64_t)v.n - 1;
	refused(NULL, "tokenizer.ggml.scores has 279 scores for 280 tokens");
	vb_spm(&v);
	v.n_types = 3;
	refused(NULL, "tokenizer.ggml.token_type has 3 types for 280 tokens");
	vb_spm(&v);
	refused(scores_elem_i32, "tokenizer.ggml.scores holds type 5, not 6");
	refused(types_elem_u32, "tokenizer.ggml.token_type holds type 4, not 5");
	v.score[270] = 1.0f / 0.0f;
	refused(NULL, "tokenizer.ggml.scores: token 270 has a non-finite score");
	/* Longer arrays than the tokens: llama.cpp reads the first ones; so do we. */
	vb_spm(&v);
	v.n_scores = v.n_types = VB_MAX;
	loads(&t);
	npu_tokenizer_free(&t);
	/*
	 * Types outside 1..6 (0, 7, -1): llama.cpp's "undefined" attribute, a
	 * token that is no special, prints nothing and is never matched as a
	 * whole (its text comes out as other tokens).
	 */
	vb_gpt2(&v, "gpt-2");
	v.type[id_of("he")] = 0;
	v.type[id_of("in")] = 7;
	v.type[id_of("<tool>")] = -1;
	loads(&t);
	assert_string_equal(npu_tokenizer_piece(&t, -1, id_of("he"), bb), "");
	assert_string_equal(npu_tokenizer_piece(&t, -1, id_of("<tool>"), bb), "");
	n = tokens_of(&t, "<tool>", ids, 64);
	assert_true(n > 1);
	for (i = 0; i < n; i++)
		assert_int_not_equal(ids[i], id_of("<tool>"));
	npu_tokenizer_free(&t);
}

/* ---- merges ---------------------------------------------------------------- */

static void merges(void **state)
{
	struct npu_tokenizer t;
	int32_t ids[64], n;

	(void)state;
	vb_gpt2(&v, "gpt-2");
	v.omit = VB_NO_MERGES;
	refused(NULL, "tokenizer.ggml.merges is missing (gpt2 needs it)");
	vb_gpt2(&v, "gpt-2");
	refused(merges_elem_i32, "tokenizer.ggml.merges holds type 5, not 8");
	/*
	 * Merges of tokens that do not exist, without a space, with an empty
	 * side, empty: llama.cpp loads them. The first two make "xy" and "zw",
	 * no tokens, which fall back to their bytes; the others never apply.
	 */
	vb_gpt2(&v, "gpt-2");
	memmove(v.merge[6], v.merge[0], sizeof(v.merge[0]) * v.n_merges);
	strcpy(v.merge[0], "x y");
	strcpy(v.merge[1], "z w");
	strcpy(v.merge[2], "qu");
	strcpy(v.merge[3], "q ");
	strcpy(v.merge[4], " u");
	strcpy(v.merge[5], "");
	v.n_merges += 6;
	loads(&t);
	n = tokens_of(&t, "xyzwqu", ids, 64);
	assert_int_equal(n, 6);
	assert_int_equal(ids[0], 'x');
	assert_int_equal(ids[5], 'u');
	/* The real merges still apply, at their lower ranks. */
	assert_int_equal(tokens_of(&t, "the", ids, 64), 2);
	assert_int_equal(ids[0], 't');
	assert_int_equal(ids[1], id_of("he"));
	npu_tokenizer_free(&t);
	/* A merge given twice: the first holds the rank (llama.cpp's emplace). */
	vb_gpt2(&v, "gpt-2");
	strcpy(v.merge[v.n_merges++], "\xc4\xa0 t");
	loads(&t);
	assert_int_equal(tokens_of(&t, " the", ids, 64), 1);
	assert_int_equal(ids[0], id_of("\xc4\xa0the"));
	npu_tokenizer_free(&t);
}

/* A text given to two tokens: the last id is the text's (llama.cpp's map). */
static void duplicate_tokens(void **state)
{
	struct npu_tokenizer t;
	int32_t ids[64], dup;

	(void)state;
	vb_gpt2(&v, "gpt-2");
	dup = vb_add(&v, "he", 0, 1);
	loads(&t);
	assert_int_equal(tokens_of(&t, "he", ids, 64), 1);
	assert_int_equal(ids[0], dup);
	npu_tokenizer_free(&t);
	/*
	 * A special text given twice: llama.cpp's order of equal lengths is
	 * its sort's (unspecified); ours is by id, the first one matches.
	 */
	vb_spm(&v);
	vb_add(&v, "<|im_end|>", 0, 3);
	loads(&t);
	assert_int_equal(tokens_of(&t, "<|im_end|>", ids, 64), 1);
	assert_int_equal(ids[0], id_of("<|im_start|>") + 1);
	npu_tokenizer_free(&t);
}

/* ---- special ids, flags, the pre-tokenizer, the template ----------------- */

static void bos_i32(struct gguf_build *b, void *arg)
{
	int32_t x = *(int32_t *)arg;

	vb_key(b, "tokenizer.ggml.bos_token_id", 5);
	gguf_put(b, &x, 4);
}

static void bos_str(struct gguf_build *b, void *arg)
{
	(void)arg;
	gguf_kv_str(b, "tokenizer.ggml.bos_token_id", "1", 1);
}

static void template_u32(struct gguf_build *b, void *arg)
{
	(void)arg;
	gguf_kv_u32(b, "tokenizer.chat_template", 23, 7);
}

static void add_bos_u8(struct gguf_build *b, void *arg)
{
	(void)arg;
	vb_key(b, "tokenizer.ggml.add_bos_token", 0);
	gguf_put(b, "\1", 1);
}

static void pre_u32(struct gguf_build *b, void *arg)
{
	(void)arg;
	gguf_kv_u32(b, "tokenizer.ggml.pre", 18, 2);
}

/*
 * A special id outside the vocabulary (0xffffffff, the files' "none", too)
 * or negative: llama.cpp warns and keeps the default (SentencePiece BOS 1,
 * gpt2 BOS 11); a default outside the vocabulary is none (-1).
 */
static void special_ids(void **state)
{
	static const int32_t bad[] = { 280, 1 << 30, -1, -5 };
	struct npu_tokenizer t;
	int32_t x;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vb_spm(&v);
		v.omit = VB_NO_BOS;
		v.n_extra = 1;
		v.extra = bos_i32;
		x = bad[i];
		v.arg = &x;
		loads(&t);
		assert_int_equal(npu_tokenizer_special(&t, NPU_TOKEN_BOS), 1);
		npu_tokenizer_free(&t);
		vb_gpt2(&v, "gpt-2");
		v.bos = bad[i];
		loads(&t);
		assert_int_equal(npu_tokenizer_special(&t, NPU_TOKEN_BOS), 11);
		assert_int_equal(npu_tokenizer_special(&t, NPU_TOKEN_EOS), id_of("<|endoftext|>"));
		npu_tokenizer_free(&t);
	}
	vb_spm(&v);
	v.eos = -1;
	loads(&t);
	assert_int_equal(npu_tokenizer_special(&t, NPU_TOKEN_EOS), 2);
	npu_tokenizer_free(&t);
	/* A gpt2 vocabulary of 11 tokens or fewer: its default BOS is none. */
	memset(&v, 0, sizeof(v));
	v.model = "gpt2";
	v.pre = "gpt-2";
	vb_add(&v, "a", 0, 1);
	vb_add(&v, "b", 0, 1);
	v.bos = v.eos = 100;
	loads(&t);
	assert_int_equal(npu_tokenizer_special(&t, NPU_TOKEN_BOS), -1);
	assert_int_equal(npu_tokenizer_special(&t, NPU_TOKEN_EOS), -1);
	npu_tokenizer_free(&t);
	/* An id that is no integer: refused, as llama.cpp refuses it. */
	vb_spm(&v);
	v.omit = VB_NO_BOS;
	v.n_extra = 1;
	v.extra = bos_str;
	refused(NULL, "tokenizer.ggml.bos_token_id is not an integer");
}

static void keys_of_wrong_type(void **state)
{
	struct npu_tokenizer t;

	(void)state;
	vb_gpt2(&v, "qwen2");
	v.omit = VB_NO_TEMPLATE;
	v.n_extra = 1;
	v.extra = template_u32;
	refused(NULL, "tokenizer.chat_template is not a string");
	vb_gpt2(&v, "qwen2");
	v.omit = VB_NO_ADD_BOS;
	v.n_extra = 1;
	v.extra = add_bos_u8;
	refused(NULL, "tokenizer.ggml.add_bos_token is not a bool");
	vb_gpt2(&v, NULL);
	v.n_extra = 1;
	v.extra = pre_u32;
	refused(NULL, "tokenizer.ggml.pre is not a string");
	/* An unknown pre-tokenizer: llama.cpp refuses it too. */
	vb_gpt2(&v, "no-such-pre");
	refused(NULL, "tokenizer.ggml.pre is \"no-such-pre\": not a pre-tokenizer");
	/* File bytes in a message are escaped: it stays one line of printable ASCII. */
	vb_gpt2(&v, "qwen2\n\xff");
	refused(NULL, "tokenizer.ggml.pre is \"qwen2\\x0a\\xff\": not a pre-tokenizer");
	vb_spm(&v);
	v.model = "gpt\x80";
	refused(NULL, "tokenizer.ggml.model is not llama (SentencePiece) or gpt2 (byte-level BPE): "
		"\"gpt\\x80\"");
	/* None: llama.cpp's "default" (it warns). */
	vb_gpt2(&v, NULL);
	loads(&t);
	assert_non_null(npu_tokenizer_chat_template(&t));
	npu_tokenizer_free(&t);
	/* Byte fallback needs its 256 byte tokens and the three before them. */
	vb_spm(&v);
	v.n = 258;
	v.n_scores = v.n_types = 258;
	refused(NULL, "tokenizer.ggml.tokens: 258 tokens: byte fallback needs 259");
}

/* ---- token texts ------------------------------------------------------------ */

static void token_texts(void **state)
{
	static char big[1025], spaces[1000];
	struct npu_tokenizer t;
	char bb[2];

	(void)state;
	memset(big, 'a', sizeof(big));
	memset(spaces, ' ', sizeof(spaces));
	vb_spm(&v);
	v.odd = big;
	v.odd_len = sizeof(big);
	v.odd_at = 270;
	v.odd_n = 1;
	refused(NULL, "tokenizer.ggml.tokens: token 270 is 1025 bytes long (limit 1024)");
	v.odd_len = sizeof(big) - 1;
	loads(&t);
	npu_tokenizer_free(&t);
	v.odd = "a\0b";
	v.odd_len = 3;
	refused(NULL, "tokenizer.ggml.tokens: token 270 holds a NUL byte");
	/* Empty: llama.cpp's "[EMPTY_<id>]". */
	v.odd = "";
	v.odd_len = 0;
	loads(&t);
	assert_string_equal(t.pieces[270], "[EMPTY_270]");
	npu_tokenizer_free(&t);
	/*
	 * Code points that are no byte in a BPE token: spelled as llama.cpp's
	 * llama_token_to_piece spells them, the token's whole text each time.
	 */
	vb_gpt2(&v, "gpt-2");
	v.odd = "a b";
	v.odd_len = 3;
	v.odd_at = 260;
	v.odd_n = 1;
	loads(&t);
	assert_string_equal(npu_tokenizer_piece(&t, -1, 260, bb), "a[UNK_BYTE_0x20a b]b");
	npu_tokenizer_free(&t);
	/*
	 * ... so a token of 1,000 such code points would take a MiB: 64 of
	 * them in a 64 KiB file are refused, not 64 MiB allocated.
	 */
	v.odd = spaces;
	v.odd_len = sizeof(spaces);
	v.odd_at = 200;
	v.odd_n = 64;
	refused(NULL, "tokenizer.ggml.tokens: token 201's piece");
}

/* ---- long inputs -------------------------------------------------------------- */

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * @text through @t with @flags: printed CPU time, failing only past 5 s
 * (natively a few hundredths; the sanitizers and emulated CPUs up to 15
 * times slower). Without special tokens, the pieces spell the text back.
 */
static void long_input(const struct npu_tokenizer *t, const char *what, const char *text,
		       size_t len, unsigned int flags)
{
	int32_t *ids = malloc((len + 2) * sizeof(*ids)), n, i;
	char *back = malloc(len + 1), bb[2];
	size_t o = 0;
	double s;

	assert_non_null(ids);
	assert_non_null(back);
	s = cpu_now();
	assert_int_equal(npu_tokenizer_tokenize(t, text, len, flags, ids, (int32_t)len + 2, &n),
			 NPU_OK);
	s = cpu_now() - s;
	print_message("%s: %zu bytes, %d tokens in %.4f s of CPU\n", what, len, n, s);
	if (s > 5.0)
		fail_msg("%s: %zu bytes took %.2f s", what, len, s);
	assert_true(n > 0 && n <= (int32_t)len + 2);
	for (i = 0; i < n; i++) {
		const char *p;

		assert_true(ids[i] >= 0 && ids[i] < t->vocab_size);
		p = npu_tokenizer_piece(t, i ? ids[i - 1] : -1, ids[i], bb);
		if (!(flags & NPU_TOKENIZE_PARSE_SPECIAL) && o + strlen(p) <= len)
			memcpy(back + o, p, strlen(p));
		o += strlen(p);
	}
	if (!(flags & NPU_TOKENIZE_PARSE_SPECIAL)) {
		assert_int_equal(o, len);
		assert_memory_equal(back, text, len);
	}
	free(back);
	free(ids);
}

static void long_inputs_of(const struct npu_tokenizer *t, const char *name)
{
	static const char *const words[] = { "the", "and", "in", "a", "time", "\xc3\xa9t\xc3\xa9",
					     "saw", "3.14", "it's", "\n", "  " };
	static const char *const special[] = { "<|im_start|>", "<|im_end|>", "<tool>", "x",
					       "<|endoftext|>", " " };
	const size_t len = 128 * 1024;
	char *text = malloc(len + 32), what[160];
	size_t o;
	uint64_t r = 1;

	assert_non_null(text);
	for (o = 0; o < len; ) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		o += (size_t)sprintf(text + o, "%s ", words[(r >> 33) % 11]);
	}
	snprintf(what, sizeof(what), "%s, words", name);
	long_input(t, what, text, len, 0);
	for (o = 0; o < len; o++) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		text[o] = "aehinrost"[(r >> 33) % 9];
	}
	snprintf(what, sizeof(what), "%s, one word", name);
	long_input(t, what, text, len, 0);
	memset(text, 'a', len);
	snprintf(what, sizeof(what), "%s, one word of one letter", name);
	long_input(t, what, text, len, 0);
	for (o = 0; o < len; ) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		o += (size_t)sprintf(text + o, "%s", special[(r >> 33) % 6]);
	}
	snprintf(what, sizeof(what), "%s, special texts", name);
	long_input(t, what, text, len, NPU_TOKENIZE_PARSE_SPECIAL | NPU_TOKENIZE_ADD_SPECIAL);
	long_input(t, what, text, len, 0);
	free(text);
}

static void long_inputs(void **state)
{
	const char *models = getenv("NPU_LLAMA_MODELS");
	struct npu_tokenizer t;
	char err[256] = "", path[600];

	(void)state;
	vb_gpt2(&v, "qwen2");
	loads(&t);
	long_inputs_of(&t, "small gpt2 vocabulary (qwen2)");
	npu_tokenizer_free(&t);
	vb_gpt2(&v, "gpt-2");
	loads(&t);
	long_inputs_of(&t, "small gpt2 vocabulary (gpt-2)");
	npu_tokenizer_free(&t);
	if (!models) {
		print_message("skipped ggml-vocab-qwen2.gguf: NPU_LLAMA_MODELS is not set\n");
		return;
	}
	snprintf(path, sizeof(path), "%s/ggml-vocab-qwen2.gguf", models);
	if (access(path, R_OK)) {
		print_message("skipped %s: absent\n", path);
		return;
	}
	if (npu_tokenizer_load_gguf(path, &t, err, sizeof(err)))
		fail_msg("%s", err);
	long_inputs_of(&t, "ggml-vocab-qwen2.gguf");
	npu_tokenizer_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tokens_type),
		cmocka_unit_test(tokens_too_many),
		cmocka_unit_test(scores_and_types),
		cmocka_unit_test(merges),
		cmocka_unit_test(duplicate_tokens),
		cmocka_unit_test(special_ids),
		cmocka_unit_test(keys_of_wrong_type),
		cmocka_unit_test(token_texts),
		cmocka_unit_test(long_inputs),
	};

	return cmocka_run_group_tests_name("vocab_hostile", tests, make_dir, remove_dir);
}
