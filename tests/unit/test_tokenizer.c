// SPDX-License-Identifier: MIT
/*
 * The tokenizer (issue 20): tokenizers built by several threads at once,
 * encoding in n log n with exactly the tokens of the quadratic merge loop
 * kept here as the reference, and the files a load must refuse (a NUL
 * inside a token, a FIFO or another file that is not regular, a file too
 * short for its vocabulary), leaving the tokenizer zeroed whatever the
 * failure. Models from ../shared/models or $NPU_MODELS.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <npu/model.h>
#include "testlib.h"

static char tok_path[512], gguf_path[512];

/* The models must be there: a missing model fails, it is never skipped. */
static int find_models(void **state)
{
	(void)state;
	return t_model_path("tok512.bin", tok_path, sizeof(tok_path)) |
	       t_model_path("stories260K.gguf", gguf_path, sizeof(gguf_path));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the reference: the merge loop as it was before issue 20 ---------- */

static int32_t ref_lookup(const struct npu_tokenizer *t, const char *s)
{
	int32_t lo = 0, hi = t->vocab_size - 1;

	while (lo <= hi) {
		int32_t mid = (lo + hi) / 2;
		int c = strcmp(s, t->pieces[t->sorted[mid]]);

		if (!c)
			return t->sorted[mid];
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -1;
}

/* Rescans every pair for each merge: quadratic, for short texts only. */
static int32_t ref_encode(const struct npu_tokenizer *t, const char *text, int bos,
			  int32_t *tokens, int32_t max)
{
	size_t tl = strlen(text), i = 0, bl = (size_t)t->max_token_length * 2 + 8;
	char *buf = malloc(bl);
	int32_t *w = malloc((tl + 2) * sizeof(*w)), k = 0, n;

	assert_non_null(buf);
	assert_non_null(w);
	if (bos)
		w[k++] = 1;
	if (tl) {
		int32_t sp = ref_lookup(t, " ");

		if (sp >= 0)
			w[k++] = sp;
	}
	while (i < tl) {
		size_t cl = 1, j;
		int32_t id;

		while (i + cl < tl && cl < 4 && ((unsigned char)text[i + cl] & 0xc0) == 0x80)
			cl++;
		memcpy(buf, text + i, cl);
		buf[cl] = '\0';
		id = ref_lookup(t, buf);
		if (id >= 0) {
			w[k++] = id;
		} else {
			for (j = 0; j < cl; j++)
				w[k++] = (unsigned char)text[i + j] + 3;
		}
		i += cl;
	}
	for (;;) {
		float best = -1e30f;
		int32_t best_id = -1, best_at = -1, j;

		for (j = 0; j + 1 < k; j++) {
			int32_t id;

			if (w[j] == 1 || w[j + 1] == 1)
				continue;
			if (strlen(t->pieces[w[j]]) + strlen(t->pieces[w[j + 1]]) >
			    (size_t)t->max_token_length * 2)
				continue;
			snprintf(buf, bl, "%s%s", t->pieces[w[j]], t->pieces[w[j + 1]]);
			id = ref_lookup(t, buf);
			if (id >= 0 && t->scores[id] > best) {
				best = t->scores[id];
				best_id = id;
				best_at = j;
			}
		}
		if (best_at < 0)
			break;
		w[best_at] = best_id;
		memmove(&w[best_at + 1], &w[best_at + 2], (size_t)(k - best_at - 2) * sizeof(*w));
		k--;
	}
	n = k < max ? k : max;
	memcpy(tokens, w, (size_t)n * sizeof(*tokens));
	free(buf);
	free(w);
	return n;
}

/* ---- texts and tokenizer files ------------------------------------------ */

static const char *const words[] = {
	"Once", "upon", "a", "time,", "there", "was", "little", "girl", "named", "Lily.",
	"She", "liked", "to", "play", "with", "her", "ball", "in", "the", "park.", "One",
	"day,", "saw", "big", "dog", "and", "said", "\"Hi!\"", "They", "were", "happy",
	"friends.", "Tom's", "mom", "\xc3\xa9l\xc3\xa8ve", "\xe2\x82\xac" "3", "\n", "\n\n",
};

/* @n bytes of story-like words (truncated in the last word). */
static char *story(size_t n, uint64_t seed)
{
	char *s = malloc(n + 32);
	size_t o = 0;

	assert_non_null(s);
	t_seed(seed);
	while (o < n)
		o += (size_t)snprintf(s + o, n + 32 - o, "%s ",
				      words[t_rand() % (sizeof(words) / sizeof(words[0]))]);
	s[n] = '\0';
	return s;
}

/*
 * Up to @n random bytes of @kind: 0 any non-NUL byte (stray continuation
 * bytes, cut code points), 1 valid UTF-8 of 1..4 bytes, 2 pieces of @t
 * glued together (many merges), 3 letters of @alpha.
 */
static void random_text(char *s, size_t n, int kind, const struct npu_tokenizer *t,
			const char *alpha)
{
	static const char *const cps[] = { "a", " ", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
					   "\x01", "\n", "Z" };
	size_t o = 0;

	while (o < n) {
		const char *p;
		size_t l;

		if (kind == 0) {
			s[o++] = (char)t_rand_range(1, 255);
			continue;
		}
		if (kind == 3) {
			s[o++] = alpha[t_rand() % strlen(alpha)];
			continue;
		}
		p = kind == 1 ? cps[t_rand() % (sizeof(cps) / sizeof(cps[0]))] :
				t->pieces[t_rand_range(259, t->vocab_size - 1)];
		l = strlen(p);
		if (o + l > n)
			break;
		memcpy(s + o, p, l);
		o += l;
	}
	s[o] = '\0';
}

struct tok_file {
	int32_t n, max_len;
	const char **pieces;
	float *scores;
};

/* A llama2.c tokenizer file; piece lengths from @lens (NULL: strlen). */
static void write_tok(const char *path, const struct tok_file *tf, const int32_t *lens)
{
	FILE *f = fopen(path, "wb");
	int32_t i;

	assert_non_null(f);
	assert_int_equal(fwrite(&tf->max_len, 4, 1, f), 1);
	for (i = 0; i < tf->n; i++) {
		int32_t l = lens ? lens[i] : (int32_t)strlen(tf->pieces[i]);

		assert_int_equal(fwrite(&tf->scores[i], 4, 1, f), 1);
		assert_int_equal(fwrite(&l, 4, 1, f), 1);
		assert_int_equal(fwrite(tf->pieces[i], 1, (size_t)l, f), (size_t)l);
	}
	fclose(f);
}

/* A file's pieces: the 259 special and byte tokens, then @extra. */
static struct tok_file tok_file_new(int32_t extra)
{
	struct tok_file tf = { 259 + extra, 8, calloc(259 + (size_t)extra, sizeof(char *)),
			       calloc(259 + (size_t)extra, sizeof(float)) };
	int32_t i;

	assert_non_null(tf.pieces);
	assert_non_null(tf.scores);
	for (i = 0; i < 259; i++) {
		char *p = malloc(8);

		assert_non_null(p);
		if (i < 3)
			snprintf(p, 8, "%s", i == 0 ? "<unk>" : i == 1 ? "\n<s>\n" : "\n</s>\n");
		else
			snprintf(p, 8, "<0x%02X>", i - 3);
		tf.pieces[i] = p;
	}
	return tf;
}

static void tok_file_free(struct tok_file *tf)
{
	int32_t i;

	for (i = 0; i < tf->n; i++)
		free((char *)tf->pieces[i]);
	free(tf->pieces);
	free(tf->scores);
}

static char *dup_str(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

/*
 * Every string of 1..3 letters over "abc " with scores 0 or 1 (ties
 * everywhere: the first position must win), one piece twice, one merge
 * scored below the merge loop's floor of -1e30, and BOS spelt "d" with
 * merges of it that must not happen.
 */
static void write_ties_tok(const char *path)
{
	struct tok_file tf = tok_file_new(4 + 16 + 64 + 5);
	const char *alpha = "abc ";
	int32_t i = 259, a, b, c;

	for (a = 0; a < 4; a++)
		tf.pieces[i++] = dup_str((char[]){ alpha[a], 0 });
	for (a = 0; a < 4; a++)
		for (b = 0; b < 4; b++) {
			tf.scores[i] = (float)t_rand_range(0, 1);
			tf.pieces[i++] = dup_str((char[]){ alpha[a], alpha[b], 0 });
		}
	for (a = 0; a < 4; a++)
		for (b = 0; b < 4; b++)
			for (c = 0; c < 4; c++) {
				char p[4] = { alpha[a], alpha[b], alpha[c], 0 };

				tf.scores[i] = (float)t_rand_range(0, 1);
				tf.pieces[i++] = dup_str(p);
			}
	tf.pieces[i] = dup_str("ab");
	tf.scores[i++] = 5;
	tf.pieces[i] = dup_str("cab ");
	tf.scores[i++] = -2e30f;
	strcpy((char *)tf.pieces[1], "d");
	for (a = 0; a < 3; a++) {
		tf.pieces[i] = dup_str((const char *[]){ "ad", "da", "d " }[a]);
		tf.scores[i++] = 3;
	}
	write_tok(path, &tf, NULL);
	tok_file_free(&tf);
}

static void temp_path(char *path, size_t len, const char *name)
{
	snprintf(path, len, "/tmp/npu-tok-%ld-%s", (long)getpid(), name);
}

/* ---- a child process with a deadline ------------------------------------ */

struct child_out {
	int ret, ok;
	int32_t n;
	double seconds, small_seconds;
	char err[256];
};

/*
 * Run @fn in a child that is killed after @limit seconds, so that a hang
 * fails the test instead of stalling the suite. Returns whether it ended.
 */
static int run_child(void (*fn)(struct child_out *, void *), void *arg, double limit,
		     struct child_out *out)
{
	struct child_out *shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
					MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	double end = now() + limit;
	int status, ended = 0;
	pid_t pid;

	assert_true(shared != MAP_FAILED);
	memset(shared, 0, sizeof(*shared));
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		fn(shared, arg);
		_exit(0);
	}
	while (!ended && now() < end) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		assert_true(r >= 0);
		if (r == pid)
			ended = 1;
		else
			usleep(2000);
	}
	if (!ended) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	*out = *shared;
	munmap(shared, sizeof(*shared));
	if (ended && (!WIFEXITED(status) || WEXITSTATUS(status)))
		fail_msg("the child died (status 0x%x)", status);
	return ended;
}

/* ---- 1: building tokenizers on several threads at once ------------------ */

#define BUILD_THREADS 8
#define BUILD_ROUNDS 12

enum { BUILD_BYTES, BUILD_FILE, BUILD_BIG_FILE, BUILD_GGUF, BUILD_KINDS };

struct builder {
	int kind;
	int32_t vocab;
	const char *path;
	const int32_t *expect;	/* the single-threaded encoding of build_text */
	int32_t n_expect;
	char failure[256];
	pthread_t thread;
};

static const char build_text[] = "Once upon a time, Lily saw a big dog \xc3\xa9 \xe2\x82\xac.";

static int build(struct builder *b, struct npu_tokenizer *t, char *err, size_t len)
{
	struct npu_model m;
	int ret;

	switch (b->kind) {
	case BUILD_BYTES:
		return npu_tokenizer_bytes(b->vocab, t);
	case BUILD_GGUF:
		ret = npu_model_load_gguf(b->path, &m, t, err, len);
		if (!ret)
			npu_model_free(&m);
		return ret;
	default:
		return npu_tokenizer_load(b->path, b->vocab, t, err, len);
	}
}

/* Sorted by piece, a permutation, and every piece found again. */
static const char *check_index(const struct npu_tokenizer *t)
{
	char *seen = calloc((size_t)t->vocab_size, 1);
	const char *why = NULL;
	int32_t i;

	if (!seen)
		return "out of memory";
	for (i = 0; i < t->vocab_size && !why; i++)
		if (t->sorted[i] < 0 || t->sorted[i] >= t->vocab_size || seen[t->sorted[i]]++)
			why = "sorted is not a permutation";
		else if (i && strcmp(t->pieces[t->sorted[i - 1]], t->pieces[t->sorted[i]]) > 0)
			why = "sorted is out of order";
	for (i = 0; i < t->vocab_size && !why; i++) {
		int32_t id = ref_lookup(t, t->pieces[i]);

		if (id < 0 || strcmp(t->pieces[id], t->pieces[i]))
			why = "a piece is not found again";
	}
	free(seen);
	return why;
}

static void *builder_run(void *arg)
{
	struct builder *b = arg;
	int32_t tokens[256], n = 0, r;

	for (r = 0; r < BUILD_ROUNDS && !b->failure[0]; r++) {
		struct npu_tokenizer t;
		char err[256] = "";
		const char *why;
		int ret = build(b, &t, err, sizeof(err));

		if (ret) {
			snprintf(b->failure, sizeof(b->failure), "build %d: %d %s", b->kind, ret,
				 err);
			break;
		}
		why = t.vocab_size != b->vocab ? "wrong vocab_size" : check_index(&t);
		if (!why && (npu_tokenizer_encode(&t, build_text, 1, tokens, 256, &n) ||
			     n != b->n_expect || memcmp(tokens, b->expect, (size_t)n * 4)))
			why = "encoding differs from the single-threaded one";
		if (why)
			snprintf(b->failure, sizeof(b->failure), "kind %d vocab %d round %d: %s",
				 b->kind, b->vocab, r, why);
		npu_tokenizer_free(&t);
	}
	return NULL;
}

/* tok512's pieces, then @extra more: a file for another vocabulary size. */
static void write_bigger_tok(const char *path, int32_t extra)
{
	size_t len;
	uint8_t *orig = t_read_file(tok_path, &len);
	FILE *f = fopen(path, "wb");
	int32_t i;

	assert_non_null(f);
	assert_int_equal(fwrite(orig, 1, len, f), len);
	for (i = 0; i < extra; i++) {
		char p[8];
		float s = -1000.0f - (float)i;
		int32_t l;

		l = snprintf(p, sizeof(p), "~%d", i);
		assert_int_equal(fwrite(&s, 4, 1, f), 1);
		assert_int_equal(fwrite(&l, 4, 1, f), 1);
		assert_int_equal(fwrite(p, 1, (size_t)l, f), (size_t)l);
	}
	fclose(f);
	free(orig);
}

static void concurrent_creation(void **state)
{
	static int32_t expect[BUILD_THREADS][256];
	struct builder b[BUILD_THREADS];
	char big[2][256];
	int i;

	(void)state;
	temp_path(big[0], sizeof(big[0]), "big1.bin");
	temp_path(big[1], sizeof(big[1]), "big2.bin");
	write_bigger_tok(big[0], 3000);
	write_bigger_tok(big[1], 40);
	for (i = 0; i < BUILD_THREADS; i++) {
		struct npu_tokenizer t;
		char err[256] = "";

		memset(&b[i], 0, sizeof(b[i]));
		b[i].kind = i % BUILD_KINDS;
		b[i].vocab = b[i].kind == BUILD_BYTES ? 259 + 2000 * (i / BUILD_KINDS) :
			     b[i].kind == BUILD_BIG_FILE ? (i / BUILD_KINDS ? 552 : 3512) : 512;
		b[i].path = b[i].kind == BUILD_GGUF ? gguf_path :
			    b[i].kind == BUILD_BIG_FILE ? big[i / BUILD_KINDS ? 1 : 0] : tok_path;
		b[i].expect = expect[i];
		/* Built alone first: the tokens each build must give. */
		if (build(&b[i], &t, err, sizeof(err)))
			fail_msg("%s", err);
		assert_int_equal(npu_tokenizer_encode(&t, build_text, 1, expect[i], 256,
						      &b[i].n_expect), NPU_OK);
		assert_null(check_index(&t));
		npu_tokenizer_free(&t);
	}
	for (i = 0; i < BUILD_THREADS; i++)
		assert_int_equal(pthread_create(&b[i].thread, NULL, builder_run, &b[i]), 0);
	for (i = 0; i < BUILD_THREADS; i++)
		pthread_join(b[i].thread, NULL);
	for (i = 0; i < BUILD_THREADS; i++)
		if (b[i].failure[0])
			fail_msg("thread %d: %s", i, b[i].failure);
	unlink(big[0]);
	unlink(big[1]);
}

/* ---- 2: the same tokens as the reference, long prompts in n log n ------- */

/* The first 40 bytes of @s, escaped, for a message. */
static const char *escaped(const char *s, char out[161])
{
	size_t o = 0, i;

	out[0] = '\0';
	for (i = 0; s[i] && i < 40; i++)
		o += (size_t)snprintf(out + o, 161 - o,
				      s[i] >= ' ' && s[i] < 127 ? "%c" : "\\x%02x",
				      (unsigned char)s[i]);
	return out;
}

/* The reference's tokens, also when cut at a random capacity. */
static void expect_same(const struct npu_tokenizer *t, const char *text, int bos)
{
	int32_t *want = malloc((strlen(text) + 2) * sizeof(int32_t));
	int32_t *got = malloc((strlen(text) + 2) * sizeof(int32_t));
	int32_t n_want, max = (int32_t)strlen(text) + 2, n = -1, i, cut;
	char e[161];

	assert_non_null(want);
	assert_non_null(got);
	n_want = ref_encode(t, text, bos, want, max);
	for (cut = 0; cut < 2; cut++) {
		assert_int_equal(npu_tokenizer_encode(t, text, bos, got, max, &n), NPU_OK);
		for (i = 0; i < n && i < n_want && got[i] == want[i]; i++)
			;
		if (n != n_want || i < n)
			fail_msg("'%s' (%zu bytes, max %d): %d tokens, the reference %d; first "
				 "difference at %d", escaped(text, e), strlen(text), max, n, n_want,
				 i);
		max = t_rand_range(1, n_want + 1);
		n_want = n_want < max ? n_want : max;
	}
	free(want);
	free(got);
}

static void equal_on(const struct npu_tokenizer *t, const char *alpha, int rounds)
{
	char text[300];
	int r;

	for (r = 0; r < rounds; r++) {
		size_t len = (size_t)t_rand_range(0, (int32_t)sizeof(text) - 1);

		random_text(text, len, alpha ? 3 : r % 3, t, alpha);
		expect_same(t, text, r & 1);
	}
}

static void encode_equals_reference(void **state)
{
	struct npu_tokenizer t, g;
	struct npu_model m;
	char err[256] = "", ties[256];
	char *s;
	int i;

	(void)state;
	t_seed(20);
	if (npu_tokenizer_load(tok_path, 512, &t, err, sizeof(err)))
		fail_msg("%s", err);
	if (npu_model_load_gguf(gguf_path, &m, &g, err, sizeof(err)))
		fail_msg("%s", err);
	npu_model_free(&m);
	expect_same(&t, "", 1);
	expect_same(&t, "", 0);
	expect_same(&t, "Once upon a time", 1);
	for (i = 0; i < 4; i++) {
		s = story(200 + 200 * (size_t)i, (uint64_t)i + 1);
		expect_same(&t, s, 1);
		expect_same(&g, s, 1);
		free(s);
	}
	equal_on(&t, NULL, 100);
	equal_on(&g, NULL, 30);
	npu_tokenizer_free(&t);
	npu_tokenizer_free(&g);

	temp_path(ties, sizeof(ties), "ties.bin");
	for (i = 0; i < 4; i++) {
		write_ties_tok(ties);
		if (npu_tokenizer_load(ties, 259 + 89, &t, err, sizeof(err)))
			fail_msg("%s", err);
		equal_on(&t, "abc ", 50);
		equal_on(&t, "abc d\xc3\xa9", 25);
		npu_tokenizer_free(&t);
	}
	unlink(ties);
}

struct long_prompt {
	const struct npu_tokenizer *t;
	const char *text;
	size_t small;		/* the shorter prompt: the text's first bytes */
	int32_t *tokens, max;
};

/* The least CPU time of three encodings of @text's first @len bytes. */
static double encode_seconds(const struct long_prompt *p, size_t len, struct child_out *out)
{
	char *text = strndup(p->text, len);
	double best = 1e9;
	int r;

	for (r = 0; text && r < 3 && !out->ret; r++) {
		struct timespec a, b;
		double s;

		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
		out->ret = npu_tokenizer_encode(p->t, text, 1, p->tokens, p->max, &out->n);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
		s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
		best = s < best ? s : best;
	}
	free(text);
	return best;
}

static void encode_in_child(struct child_out *out, void *arg)
{
	struct long_prompt *p = arg;

	out->small_seconds = encode_seconds(p, p->small, out);
	out->seconds = encode_seconds(p, strlen(p->text), out);
	out->ok = 1;
}

static void long_prompt_fast(void **state)
{
	const size_t len = 128 * 1024;
	char *text = story(len, 128), *out = malloc(len + 1);
	struct npu_tokenizer t;
	struct long_prompt p;
	struct child_out res;
	int32_t *tokens = malloc((len + 2) * sizeof(int32_t)), n, i, prev = 1;
	char err[256] = "", bb[2];
	size_t o = 0;

	(void)state;
	assert_non_null(tokens);
	assert_non_null(out);
	if (npu_tokenizer_load(tok_path, 512, &t, err, sizeof(err)))
		fail_msg("%s", err);
	p = (struct long_prompt){ &t, text, len / 16, tokens, (int32_t)len + 2 };
	/* In a child, so the quadratic loop fails after 20 s instead of minutes. */
	if (!run_child(encode_in_child, &p, 20.0, &res))
		fail_msg("encoding %zu bytes did not end in 20 s", len);
	assert_true(res.ok);
	assert_int_equal(res.ret, NPU_OK);
	print_message("%zu bytes encoded in %.4f s of CPU, %zu in %.4f s\n", len, res.seconds,
		      len / 16, res.small_seconds);
	/*
	 * 16 times the text should take some 20 times as long (n log n), not
	 * 256 (n^2). A ratio, and a time bound far above the figure: the
	 * emulated CPUs of make check and the sanitizers run it up to 15 times
	 * slower than natively, where it takes a few hundredths of a second.
	 */
	if (res.seconds >= 64 * res.small_seconds || res.seconds >= 5.0)
		fail_msg("%zu bytes took %.4f s, %.0f times as long as %zu bytes", len,
			 res.seconds, res.seconds / res.small_seconds, len / 16);
	/* Again here (fast now), for the tokens: they decode to the text. */
	assert_int_equal(npu_tokenizer_encode(&t, text, 1, tokens, (int32_t)len + 2, &n), NPU_OK);
	assert_int_equal(n, res.n);
	assert_true(n > 1 && n < (int32_t)len / 2);
	for (i = 1; i < n; i++) {
		const char *piece = npu_tokenizer_piece(&t, prev, tokens[i], bb);
		size_t l = strlen(piece);

		assert_true(o + l <= len);
		memcpy(out + o, piece, l);
		o += l;
		prev = tokens[i];
	}
	out[o] = '\0';
	assert_int_equal(o, len);
	assert_string_equal(out, text);
	/* A cut at any capacity is the whole encoding's first tokens. */
	for (i = 1; i < 5; i++) {
		int32_t *cut = malloc((size_t)(n / i) * sizeof(int32_t)), m;

		assert_non_null(cut);
		assert_int_equal(npu_tokenizer_encode(&t, text, 1, cut, n / i, &m), NPU_OK);
		assert_int_equal(m, n / i);
		assert_memory_equal(cut, tokens, (size_t)m * sizeof(int32_t));
		free(cut);
	}
	npu_tokenizer_free(&t);
	free(tokens);
	free(out);
	free(text);
}

/* ---- 3, 4: files a load refuses ----------------------------------------- */

static void expect_load_error(const char *path, int32_t vocab, int code, const char *needle,
			      const char *needle2)
{
	struct npu_tokenizer t;
	char err[256] = "";

	assert_int_equal(npu_tokenizer_load(path, vocab, &t, err, sizeof(err)), code);
	if (!strstr(err, needle) || (needle2 && !strstr(err, needle2)))
		fail_msg("error '%s' does not name '%s'", err, needle);
	assert_null(strchr(err, '\n'));
}

static void nul_in_token(void **state)
{
	struct tok_file tf = tok_file_new(3);
	int32_t lens[259 + 3];
	char path[256], *nul = malloc(4);
	int32_t i;

	(void)state;
	assert_non_null(nul);
	temp_path(path, sizeof(path), "nul.bin");
	memcpy(nul, "a\0b", 4);
	tf.pieces[259] = dup_str("ab");
	tf.pieces[260] = nul;
	tf.pieces[261] = dup_str("abc");
	for (i = 0; i < tf.n; i++)
		lens[i] = (int32_t)strlen(tf.pieces[i]);
	lens[260] = 3;
	write_tok(path, &tf, lens);
	expect_load_error(path, tf.n, NPU_E_FORMAT, "token 260", "NUL");
	/* A NUL at the end of a piece too. */
	lens[260] = 2;
	write_tok(path, &tf, lens);
	expect_load_error(path, tf.n, NPU_E_FORMAT, "token 260", "NUL");
	/* The same file without the NUL loads. */
	lens[260] = 1;
	write_tok(path, &tf, lens);
	{
		struct npu_tokenizer t;
		char err[256] = "";

		if (npu_tokenizer_load(path, tf.n, &t, err, sizeof(err)))
			fail_msg("%s", err);
		npu_tokenizer_free(&t);
	}
	unlink(path);
	tok_file_free(&tf);
}

static void load_in_child(struct child_out *out, void *arg)
{
	struct npu_tokenizer t;

	out->ret = npu_tokenizer_load(arg, 512, &t, out->err, sizeof(out->err));
	if (!out->ret)
		npu_tokenizer_free(&t);
	out->ok = 1;
}

/* Refused at once, with an error naming why, from a child with a deadline. */
static void expect_not_regular(const char *path)
{
	struct child_out res;

	if (!run_child(load_in_child, (void *)path, 5.0, &res))
		fail_msg("loading %s hung", path);
	assert_true(res.ok);
	assert_int_equal(res.ret, NPU_E_FORMAT);
	if (!strstr(res.err, "not a regular file"))
		fail_msg("error '%s' does not say 'not a regular file'", res.err);
}

static void fifo_refused(void **state)
{
	char dir[512], fifo[600];

	(void)state;
	assert_int_equal(t_mkdtemp("test_tokenizer", dir, sizeof(dir)), 0);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	expect_not_regular(fifo);
	expect_not_regular(dir);
	expect_not_regular("/dev/null");
	assert_int_equal(t_rmdir(dir), 0);
}

/*
 * Sizes refused before allocating for them: a file too short for the
 * vocabulary (12 MB of tables for a 12-byte file), a byte tokenizer larger
 * than any file's.
 */
static void sizes_refused_before_allocating(void **state)
{
	struct npu_tokenizer t;
	char path[256];
	int32_t hdr[3] = { 8, 0, 1 };

	(void)state;
	temp_path(path, sizeof(path), "short.bin");
	t_write_file(path, hdr, sizeof(hdr));
	expect_load_error(path, 1048576, NPU_E_FORMAT, "12 bytes", "1048576 tokens");
	unlink(path);
	assert_int_equal(npu_tokenizer_bytes(1048577, &t), NPU_E_INVAL);
}

/*
 * Every failure leaves the tokenizer zeroed, the early ones too (a bad
 * vocab_size, a NULL path, a bad max_token_length, a GGUF model that
 * fails before its tokenizer is read): npu_tokenizer_free on it is safe.
 * It starts as garbage.
 */
static void zeroed_on_failure(void **state)
{
	char path[256], tok0[256], err[256];
	size_t len;
	uint8_t *gguf = t_read_file(gguf_path, &len), *zero = calloc(1, 4 + 8 * 259);
	int k;

	(void)state;
	assert_non_null(zero);
	assert_true(len > 4096);
	temp_path(path, sizeof(path), "cut.gguf");
	t_write_file(path, gguf, 4096);	/* cut inside its metadata */
	free(gguf);
	temp_path(tok0, sizeof(tok0), "len0.bin");
	t_write_file(tok0, zero, 4 + 8 * 259);	/* max_token_length 0 */
	free(zero);
	for (k = 0; k < 8; k++) {
		struct npu_tokenizer t;
		struct npu_model m;
		int ret;

		memset(&t, 0xa5, sizeof(t));
		err[0] = '\0';
		switch (k) {
		case 0: ret = npu_tokenizer_load(tok_path, 10, &t, err, sizeof(err)); break;
		case 1: ret = npu_tokenizer_load(tok_path, 1048577, &t, err, sizeof(err)); break;
		case 2: ret = npu_tokenizer_load(NULL, 512, &t, err, sizeof(err)); break;
		case 3: ret = npu_tokenizer_load(tok0, 259, &t, err, sizeof(err)); break;
		case 4: ret = npu_tokenizer_bytes(5, &t); break;
		case 5: ret = npu_model_load_gguf("/nonexistent", &m, &t, err, sizeof(err)); break;
		case 6: ret = npu_model_load_gguf(path, &m, &t, err, sizeof(err)); break;
		default: ret = npu_model_load_gguf(NULL, &m, &t, err, sizeof(err)); break;
		}
		if (ret == NPU_OK)
			fail_msg("case %d loaded", k);
		if (t.pieces || t.scores || t.sorted || t.vocab_size || t.max_token_length)
			fail_msg("case %d (%s): the tokenizer is not zeroed (pieces %p)", k, err,
				 (void *)t.pieces);
		npu_tokenizer_free(&t);
	}
	unlink(path);
	unlink(tok0);
}

/* A GGUF vocabulary's special tokens, end of generation, and pieces joining back to the text. */
static void gguf_special_tokens(void **state)
{
	static const char text[] = "Once upon a time, \xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80!";
	int32_t tokens[256], n, i, with = 0;
	struct npu_tokenizer t;
	char err[256] = "", bb[2], joined[512] = "";

	(void)state;
	if (npu_tokenizer_load_gguf(gguf_path, &t, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(npu_tokenizer_special(&t, NPU_TOKEN_BOS), 1);
	assert_int_equal(npu_tokenizer_special(&t, NPU_TOKEN_EOS), 2);
	assert_int_equal(npu_tokenizer_special(&t, NPU_TOKEN_UNK), 0);
	assert_int_equal(npu_tokenizer_special(&t, NPU_TOKEN_PAD), -1);
	assert_int_equal(npu_tokenizer_special(&t, NPU_TOKEN_ROLES), -1);
	assert_true(npu_tokenizer_is_eog(&t, 2));
	assert_false(npu_tokenizer_is_eog(&t, 1));
	assert_false(npu_tokenizer_is_eog(&t, -1));
	assert_false(npu_tokenizer_is_eog(&t, t.vocab_size));
	assert_null(npu_tokenizer_chat_template(&t));
	/* Control tokens print nothing (llama_token_to_piece, special = false). */
	assert_string_equal(npu_tokenizer_piece(&t, -1, 2, bb), "");
	/* "</s>" is EOS only when special text is parsed. */
	assert_int_equal(npu_tokenizer_tokenize(&t, "a</s>b", 6, NPU_TOKENIZE_PARSE_SPECIAL, tokens,
						256, &n), NPU_OK);
	for (i = 0; i < n; i++)
		with += tokens[i] == 2;
	assert_int_equal(with, 1);
	assert_int_equal(npu_tokenizer_tokenize(&t, "a</s>b", 6, 0, tokens, 256, &n), NPU_OK);
	for (i = 0; i < n; i++)
		assert_int_not_equal(tokens[i], 2);
	/* BOS as the vocabulary asks; the pieces after it spell the text (byte fallback too). */
	assert_int_equal(npu_tokenizer_tokenize(&t, text, strlen(text), NPU_TOKENIZE_ADD_SPECIAL,
						tokens, 256, &n), NPU_OK);
	assert_true(n > 1 && n < 256);
	assert_int_equal(tokens[0], 1);
	for (i = 1; i < n; i++)
		strcat(joined, npu_tokenizer_piece(&t, tokens[i - 1], tokens[i], bb));
	assert_string_equal(joined, text);
	/* Counting only: no room is fine; a cut keeps the whole count. */
	assert_int_equal(npu_tokenizer_tokenize(&t, text, strlen(text), 0, NULL, 0, &i), NPU_OK);
	assert_int_equal(i, n - 1);
	npu_tokenizer_free(&t);
	assert_null(t.vocab);
}

/* Refused GGUF tokenizers name the key: a kind not read. */
static void gguf_kind_refused(void **state)
{
	char err[256] = "", path[600];
	struct npu_tokenizer t;
	size_t len, i;
	uint8_t *f;

	(void)state;
	f = t_read_file(gguf_path, &len);
	for (i = 0; i + 20 < len && memcmp(f + i, "tokenizer.ggml.model", 20); i++)
		;
	assert_true(i + 20 < len);
	/* The value follows the key: type (4 bytes), length (8), then "llama". */
	memcpy(f + i + 20 + 12, "bert!", 5);
	temp_path(path, sizeof(path), "kind.gguf");
	t_write_file(path, f, len);
	assert_int_equal(npu_tokenizer_load_gguf(path, &t, err, sizeof(err)), NPU_E_FORMAT);
	assert_non_null(strstr(err, "tokenizer.ggml.model is not llama (SentencePiece) or gpt2"));
	assert_non_null(strstr(err, "\"bert!\""));
	assert_null(t.vocab);
	unlink(path);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(concurrent_creation),
		cmocka_unit_test(encode_equals_reference),
		cmocka_unit_test(long_prompt_fast),
		cmocka_unit_test(nul_in_token),
		cmocka_unit_test(fifo_refused),
		cmocka_unit_test(sizes_refused_before_allocating),
		cmocka_unit_test(zeroed_on_failure),
		cmocka_unit_test(gguf_special_tokens),
		cmocka_unit_test(gguf_kind_refused),
	};

	return cmocka_run_group_tests_name("tokenizer", tests, find_models, NULL);
}
