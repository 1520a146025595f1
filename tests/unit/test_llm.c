// SPDX-License-Identifier: MIT
/*
 * libnpu-llm's public API, through <npu/llm.h> alone: the sampler chain
 * against a reference that sorts the whole vocabulary (same draws for the
 * same seed), its parameters' bounds and its cost on a 128k vocabulary;
 * then, with stories260K from ../shared/models (or $NPU_MODELS):
 * generation against a hand loop of eval and argmax, a context's limits,
 * contexts sharing a model (on several threads too), where a model's
 * tokenizer comes from, and teacher forcing against the float model.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <npu/llm.h>
#include "testlib.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static npu_llm_sampler *sampler(float temperature, int top_k, float top_p, float min_p,
				uint64_t seed, int32_t vocab)
{
	struct npu_llm_sampler_params p;
	npu_llm_sampler *s = NULL;

	npu_llm_sampler_defaults(&p);
	p.temperature = temperature;
	p.top_k = top_k;
	p.top_p = top_p;
	p.min_p = min_p;
	p.seed = seed;
	assert_int_equal(npu_llm_sampler_create(&p, vocab, &s), NPU_OK);
	assert_non_null(s);
	return s;
}

/* Logits in [-@spread/2, @spread/2); with @levels > 0 only that many values, so ties abound. */
static void random_logits(float *l, int32_t n, double spread, int levels)
{
	int32_t i;

	for (i = 0; i < n; i++) {
		double u = t_rand_unit();

		if (levels > 0)
			u = floor(u * levels) / levels;
		l[i] = (float)((u - 0.5) * spread);
	}
}

/* ---- the reference: the chain by sorting ------------------------------ */

struct cand {
	float p;
	int32_t i;
};

/* More likely first; as likely: the smaller id first. */
static int by_rank(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->p != y->p)
		return x->p > y->p ? -1 : 1;
	return (x->i > y->i) - (x->i < y->i);
}

/* xorshift64*, a double in [0, 1): libnpu-llm's draws. */
static double uniform(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (double)((*s * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0;
}

/*
 * The chain without top-k, the vocabulary sorted whole: temperature and
 * softmax, min-p, then top-p keeps the smallest prefix of the sorted
 * tokens whose mass reaches top_p, and one draw picks among those kept.
 * The same arithmetic in the same order as the sampler's, so a seed gives
 * the same token.
 */
static int32_t ref_sample(const float *l, int32_t n, float temperature, float top_p, float min_p,
			  uint64_t *rng, struct cand *c)
{
	double mx = l[0], sum = 0, cum = 0, u;
	int32_t i, keep = 0, k;

	for (i = 1; i < n; i++)
		mx = l[i] > mx ? l[i] : mx;
	for (i = 0; i < n; i++) {
		float p = (float)exp((l[i] - mx) / temperature);

		if (min_p > 0 && p < min_p)
			continue;
		c[keep++] = (struct cand){ p, i };
		sum += p;
	}
	if (top_p < 1) {
		qsort(c, (size_t)keep, sizeof(*c), by_rank);
		for (k = 0; k < keep;)
			if ((cum += c[k++].p / sum) >= top_p)
				break;
		keep = k;
		u = uniform(rng) * (cum > 0 ? cum : 1);
	} else {
		u = uniform(rng);
	}
	for (i = 0, cum = 0; i < keep; i++)
		if (u < (cum += c[i].p / sum))
			return c[i].i;
	return c[keep - 1].i;
}

/* The ids of the @k most likely of @l (ties: the smaller id), by sorting. */
static void ref_top(const float *l, int32_t n, int32_t k, unsigned char *in_top, struct cand *c)
{
	int32_t i;

	for (i = 0; i < n; i++) {
		c[i] = (struct cand){ l[i], i };
		in_top[i] = 0;
	}
	qsort(c, (size_t)n, sizeof(*c), by_rank);
	for (i = 0; i < k && i < n; i++)
		in_top[c[i].i] = 1;
}

/* ---- the sampler ------------------------------------------------------- */

/* Temperature 0 (the defaults, NULL params too) and top-k 1 are argmax, ties to the first. */
static void greedy_is_argmax(void **state)
{
	float l[1000];
	int v, d;

	(void)state;
	t_seed(1);
	for (v = 0; v < 200; v++) {
		int32_t n = 1 + (int32_t)t_rand_range(0, 999);
		npu_llm_sampler *g = NULL, *k1 = sampler(1.0f, 1, 1.0f, 0, t_rand(), n);

		assert_int_equal(npu_llm_sampler_create(NULL, n, &g), NPU_OK);
		random_logits(l, n, 20, v % 2 ? 7 : 0);
		for (d = 0; d < 5; d++) {
			assert_int_equal(npu_llm_sampler_sample(g, l), npu_llm_argmax(l, n));
			assert_int_equal(npu_llm_sampler_sample(k1, l), npu_llm_argmax(l, n));
		}
		npu_llm_sampler_free(g);
		npu_llm_sampler_free(k1);
	}
}

/* A seed gives the same draws every time, another seed others; 0 acts as 1. */
static void seeds(void **state)
{
	float l[64];
	int32_t a[200], b[200];
	uint64_t seed;
	int i, other = 0;

	(void)state;
	t_seed(2);
	random_logits(l, 64, 4, 0);
	for (seed = 0; seed < 3; seed++) {
		npu_llm_sampler *x = sampler(1.0f, 0, 1.0f, 0, 42 + seed, 64);
		npu_llm_sampler *y = sampler(1.0f, 0, 1.0f, 0, 42 + seed, 64);

		for (i = 0; i < 200; i++) {
			b[i] = npu_llm_sampler_sample(x, l);
			assert_int_equal(npu_llm_sampler_sample(y, l), b[i]);
		}
		if (seed)
			other += memcmp(a, b, sizeof(a)) != 0;
		memcpy(a, b, sizeof(a));
		npu_llm_sampler_free(x);
		npu_llm_sampler_free(y);
	}
	assert_int_equal(other, 2);
	for (seed = 0; seed < 2; seed++) {
		npu_llm_sampler *x = sampler(1.0f, 0, 1.0f, 0, seed, 64);

		for (i = 0; i < 200; i++)
			b[i] = npu_llm_sampler_sample(x, l);
		if (seed)
			assert_memory_equal(a, b, sizeof(a));
		memcpy(a, b, sizeof(a));
		npu_llm_sampler_free(x);
	}
}

/*
 * top-k keeps the k most likely: over many vectors (ties among them) no
 * draw falls outside them, and on a vector of k close favourites each of
 * them is drawn.
 */
static void top_k_keeps_k(void **state)
{
	float l[500];
	unsigned char in_top[500];
	struct cand c[500];
	int seen[500] = { 0 };
	npu_llm_sampler *s;
	int v, d, i;

	(void)state;
	t_seed(3);
	for (v = 0; v < 300; v++) {
		int32_t n = (int32_t)t_rand_range(2, 500), k = (int32_t)t_rand_range(1, 20);

		s = sampler(0.5f + (float)t_rand_unit() * 2, k, 1.0f, 0, t_rand(), n);

		random_logits(l, n, 6, v % 3 ? 0 : 5);
		ref_top(l, n, k, in_top, c);
		for (d = 0; d < 50; d++) {
			int32_t t = npu_llm_sampler_sample(s, l);

			assert_true(t >= 0 && t < n);
			if (!in_top[t])
				fail_msg("vector %d: token %d drawn, not among the %d most likely", v, t,
					 k);
		}
		npu_llm_sampler_free(s);
	}
	/* Five favourites at 3.0 .. 2.6 among 495 tokens at 2.5 .. 0. */
	random_logits(l, 500, 5, 0);
	for (i = 0; i < 500; i++)
		l[i] = l[i] / 2 + 1.25f;
	for (i = 0; i < 5; i++)
		l[97 * i + 13] = 3.0f - 0.1f * i;
	s = sampler(1.0f, 5, 1.0f, 0, 7, 500);
	for (d = 0; d < 5000; d++)
		seen[npu_llm_sampler_sample(s, l)]++;
	npu_llm_sampler_free(s);
	for (i = 0; i < 500; i++)
		if ((i - 13) % 97 == 0 && i < 5 * 97)
			assert_true(seen[i] > 0);
		else
			assert_int_equal(seen[i], 0);
}

/*
 * top-p and min-p against the sorting reference: the same token for the
 * same seed, over many vectors (ties among them), temperatures and p.
 */
static void top_p_min_p_reference(void **state)
{
	static float l[2000];
	static struct cand c[2000];
	int v, d, kept_some = 0;

	(void)state;
	t_seed(4);
	for (v = 0; v < 600; v++) {
		int32_t n = (int32_t)t_rand_range(1, 2000);
		float temperature = 0.2f + (float)t_rand_unit() * 2;
		float top_p = v % 4 == 3 ? 1.0f : 0.01f + (float)t_rand_unit() * 0.99f;
		float min_p = v % 3 == 1 ? (float)t_rand_unit() * 0.5f : 0;
		uint64_t seed = t_rand(), rng = seed ? seed : 1;
		npu_llm_sampler *s = sampler(temperature, 0, top_p, min_p, seed, n);

		random_logits(l, n, 1 + t_rand_unit() * 20, v % 5 ? 0 : 9);
		for (d = 0; d < 20; d++) {
			int32_t want = ref_sample(l, n, temperature, top_p, min_p, &rng, c);
			int32_t got = npu_llm_sampler_sample(s, l);

			if (got != want)
				fail_msg("vector %d (vocab %d, T %g, top_p %g, min_p %g) draw %d: "
					 "token %d, the reference's %d", v, n, temperature, top_p,
					 min_p, d, got, want);
			kept_some += got != npu_llm_argmax(l, n);
		}
		npu_llm_sampler_free(s);
	}
	/* The draws were not all the most likely token. */
	assert_true(kept_some > 1000);
}

/* top-p keeps the smallest prefix reaching p: 0.5 + 0.3 reaches 0.8, the third never drawn. */
static void top_p_prefix(void **state)
{
	/* Probabilities 0.5, 0.3, 0.2 at temperature 1. */
	float l[3] = { logf(0.3f), logf(0.5f), logf(0.2f) };
	int seen[3] = { 0 }, d;
	npu_llm_sampler *s = sampler(1.0f, 0, 0.79f, 0, 9, 3);

	(void)state;
	for (d = 0; d < 4000; d++)
		seen[npu_llm_sampler_sample(s, l)]++;
	npu_llm_sampler_free(s);
	assert_int_equal(seen[2], 0);
	/* 0.3 / 0.8 of the draws, give or take. */
	assert_true(seen[0] > 1200 && seen[0] < 1800);
	s = sampler(1.0f, 0, 0.5f, 0, 9, 3);
	for (d = 0; d < 100; d++)
		assert_int_equal(npu_llm_sampler_sample(s, l), 1);
	npu_llm_sampler_free(s);
}

/* min-p drops what is below min_p times the most likely's probability. */
static void min_p_drops(void **state)
{
	/* Relative to the first: 1, 0.25, 0.15, 0.09, 0.01. */
	float l[5] = { 0, logf(0.25f), logf(0.15f), logf(0.09f), logf(0.01f) };
	int seen[5] = { 0 }, d;
	npu_llm_sampler *s = sampler(1.0f, 0, 1.0f, 0.1f, 5, 5);

	(void)state;
	for (d = 0; d < 5000; d++)
		seen[npu_llm_sampler_sample(s, l)]++;
	npu_llm_sampler_free(s);
	assert_true(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);
	assert_int_equal(seen[3], 0);
	assert_int_equal(seen[4], 0);
}

/*
 * The repetition penalty: greedy avoids the token just accepted when it
 * led narrowly, positive or negative logits; off at 1, and forgotten
 * after repeat_last_n other tokens.
 */
static void repetition_penalty(void **state)
{
	struct npu_llm_sampler_params p;
	float pos[16], neg[16];
	npu_llm_sampler *s;
	int i;

	(void)state;
	for (i = 0; i < 16; i++) {
		pos[i] = 0.1f * (float)i - 1;
		neg[i] = -2 - 0.01f * (float)i;
	}
	pos[7] = 2.0f;
	pos[3] = 1.9f;
	neg[7] = -1.0f;
	neg[3] = -1.05f;
	npu_llm_sampler_defaults(&p);
	p.repeat_penalty = 1.1f;
	p.repeat_last_n = 2;
	assert_int_equal(npu_llm_sampler_create(&p, 16, &s), NPU_OK);
	assert_int_equal(npu_llm_sampler_sample(s, pos), 7);
	npu_llm_sampler_accept(s, 7);
	assert_int_equal(npu_llm_sampler_sample(s, pos), 3);
	assert_int_equal(npu_llm_sampler_sample(s, neg), 3);
	/* Twice in the window: penalized once. */
	npu_llm_sampler_accept(s, 7);
	pos[3] = 1.8f;
	assert_int_equal(npu_llm_sampler_sample(s, pos), 7);
	pos[3] = 1.9f;
	npu_llm_sampler_accept(s, 10);
	assert_int_equal(npu_llm_sampler_sample(s, pos), 3);
	npu_llm_sampler_accept(s, 11);
	assert_int_equal(npu_llm_sampler_sample(s, pos), 7);
	/* Tokens outside the vocabulary are not remembered. */
	npu_llm_sampler_accept(s, 16);
	npu_llm_sampler_accept(s, -1);
	assert_int_equal(npu_llm_sampler_sample(s, pos), 7);
	npu_llm_sampler_free(s);

	p.repeat_penalty = 1.0f;
	assert_int_equal(npu_llm_sampler_create(&p, 16, &s), NPU_OK);
	npu_llm_sampler_accept(s, 7);
	assert_int_equal(npu_llm_sampler_sample(s, pos), 7);
	npu_llm_sampler_free(s);
}

static void expect_inval(const struct npu_llm_sampler_params *p, int32_t vocab, const char *what)
{
	npu_llm_sampler *s = NULL;

	if (npu_llm_sampler_create(p, vocab, &s) != NPU_E_INVAL)
		fail_msg("%s: not refused", what);
	assert_null(s);
}

static void invalid_params(void **state)
{
	struct npu_llm_sampler_params d, p;

	(void)state;
	npu_llm_sampler_defaults(&d);
	assert_true(d.temperature == 0 && d.top_k == 0 && d.top_p == 1 && d.repeat_penalty == 1);
#define BAD(field, value)						\
	do {								\
		p = d;							\
		p.field = (value);					\
		expect_inval(&p, 512, #field " " #value);		\
	} while (0)
	BAD(temperature, NAN);
	BAD(temperature, -0.5f);
	BAD(temperature, INFINITY);
	BAD(top_p, 0.0f);
	BAD(top_p, 1.01f);
	BAD(top_p, NAN);
	BAD(top_k, -1);
	BAD(min_p, -0.1f);
	BAD(min_p, 1.5f);
	BAD(min_p, NAN);
	BAD(repeat_penalty, 0.0f);
	BAD(repeat_penalty, -1.0f);
	BAD(repeat_penalty, NAN);
	BAD(repeat_penalty, INFINITY);
	BAD(repeat_last_n, -1);
#undef BAD
	expect_inval(&d, 0, "vocab 0");
	expect_inval(NULL, -3, "vocab -3");
}

/* A vocabulary of one: every chain draws token 0. */
static void vocab_of_one(void **state)
{
	float l[1] = { -3.5f };
	npu_llm_sampler *s[4] = { sampler(0, 0, 1.0f, 0, 1, 1), sampler(1.0f, 0, 0.5f, 0, 2, 1),
				  sampler(0.7f, 5, 1.0f, 0, 3, 1), sampler(2.0f, 0, 1.0f, 0.5f, 4, 1) };
	int i, d;

	(void)state;
	for (i = 0; i < 4; i++) {
		for (d = 0; d < 10; d++) {
			assert_int_equal(npu_llm_sampler_sample(s[i], l), 0);
			npu_llm_sampler_accept(s[i], 0);
		}
		npu_llm_sampler_free(s[i]);
	}
}

/*
 * 300 draws with top-p 0.9 from a 128k vocabulary (a few hundred likely
 * tokens, as a trained model's): far under what sorting the vocabulary
 * for each draw takes, measured here with the reference (qsort) on every
 * 50th draw, in turns with the sampler so that a busy host slows both
 * alike. Both draw the same tokens.
 */
static void top_p_large_vocab_speed(void **state)
{
	const int32_t n = 131072;
	float *l = malloc((size_t)n * sizeof(*l));
	struct cand *c = malloc((size_t)n * sizeof(*c));
	npu_llm_sampler *s = sampler(1.0f, 0, 0.9f, 0, 11, n);
	uint64_t rng = 11;
	double t0, lib = 0, ref = 0;
	int32_t a[50];
	int i, d, round;

	(void)state;
	assert_non_null(l);
	assert_non_null(c);
	t_seed(5);
	random_logits(l, n, 4, 0);
	for (i = 0; i < 300; i++)
		l[t_rand_range(0, n - 1)] += 10;
	for (round = 0; round < 6; round++) {
		t0 = now();
		for (d = 0; d < 50; d++)
			a[d] = npu_llm_sampler_sample(s, l);
		lib += now() - t0;
		t0 = now();
		assert_int_equal(ref_sample(l, n, 1.0f, 0.9f, 0, &rng, c), a[0]);
		ref += (now() - t0) * 50;
		for (d = 1; d < 50; d++)
			uniform(&rng);
	}
	print_message("300 draws, vocab %d, top-p 0.9: %.0f ms; sorting each time: %.0f ms\n",
		      n, lib * 1e3, ref * 1e3);
	assert_true(lib < ref / 3);
	npu_llm_sampler_free(s);
	free(l);
	free(c);
}

/* ---- with stories260K ----------------------------------------------- */

static char bin_path[512], tok_path[512], gguf_path[512], dir[512];

/* The models must be there: a missing model fails, it is never skipped. */
static int find_models(void **state)
{
	(void)state;
	if (t_model_path("stories260K.bin", bin_path, sizeof(bin_path)) |
	    t_model_path("tok512.bin", tok_path, sizeof(tok_path)) |
	    t_model_path("stories260K.gguf", gguf_path, sizeof(gguf_path)))
		return -1;
	return t_mkdtemp("test_llm", dir, sizeof(dir));
}

static int cleanup(void **state)
{
	(void)state;
	return t_rmdir(dir);
}

static npu_llm_model *load(npu_device *dev, const char *path,
			   const struct npu_llm_model_params *p)
{
	npu_llm_model *m = NULL;
	char err[256] = "";

	if (npu_llm_model_load(dev, path, p, &m, err, sizeof(err)))
		fail_msg("%s: %s", path, err);
	assert_non_null(m);
	return m;
}

static npu_llm_ctx *ctx(npu_llm_model *m, int positions, int reference)
{
	struct npu_llm_ctx_params p = { .positions = positions, .reference = reference };
	npu_llm_ctx *c = NULL;
	char err[256] = "";

	if (npu_llm_ctx_create(m, &p, &c, err, sizeof(err)))
		fail_msg("context: %s", err);
	return c;
}

static int32_t prompt(const npu_llm_model *m, int32_t *tokens)
{
	int32_t n = 0;

	assert_int_equal(npu_llm_tokenize(m, "Once upon a time", 1, tokens, 64, &n), NPU_OK);
	assert_true(n > 1);
	return n;
}

/* What npu_llm_generate's callback saw. */
struct seen {
	const npu_llm_model *m;
	int32_t tokens[512], prev;
	int n, stop_at, bad_text;
};

static int on_token(void *user, int32_t token, const char *text)
{
	struct seen *s = user;
	char bb[2];

	s->bad_text += strcmp(text, npu_llm_token_text(s->m, s->prev, token, bb)) != 0;
	s->prev = token;
	s->tokens[s->n++] = token;
	return s->stop_at && s->n == s->stop_at;
}

static void sane_stats(const struct npu_llm_stats *st, int n_prompt, int generated)
{
	assert_int_equal(st->prompt_tokens, n_prompt);
	assert_int_equal(st->generated_tokens, generated);
	assert_true(st->prefill_s >= 0 && st->total_s >= st->prefill_s);
	if (generated)
		assert_true(st->first_token_s >= st->prefill_s && st->total_s >= st->first_token_s);
	assert_true(st->prefill_tok_s >= 0 && st->decode_tok_s >= 0);
	if (generated > 1)
		assert_true(st->decode_tok_s > 0);
}

/* Greedy generation on the cpu device is the hand loop of eval and argmax. */
static void generate_equals_eval_loop(void **state)
{
	npu_device *cpu = t_open_at("cpu", NULL);
	npu_llm_model *m = load(cpu, bin_path, NULL);
	npu_llm_ctx *a = ctx(m, 0, 0), *b = ctx(m, 0, 0);
	npu_llm_sampler *s = NULL;
	struct npu_llm_stats st;
	struct seen got = { .m = m };
	int32_t tokens[128], want[128], n;
	int i, k = 0;

	(void)state;
	n = prompt(m, tokens);
	got.prev = tokens[n - 1];
	assert_int_equal(npu_llm_sampler_create(NULL, 512, &s), NPU_OK);
	assert_int_equal(npu_llm_generate(a, s, tokens, n, 60, on_token, &got, &st), NPU_OK);
	/* The hand loop: a prefill, then a token at a time; BOS would end it. */
	assert_int_equal(npu_llm_eval(b, tokens, n), NPU_OK);
	for (k = 0; k < 60; k++) {
		want[k] = npu_llm_argmax(npu_llm_logits(b), 512);
		if (want[k] == 1)
			break;
		assert_int_equal(npu_llm_eval(b, &want[k], 1), NPU_OK);
	}
	assert_int_equal(k, 60);
	assert_int_equal(st.stop, NPU_LLM_STOP_LENGTH);
	assert_int_equal(got.n, k);
	assert_memory_equal(got.tokens, want, (size_t)k * sizeof(*want));
	assert_int_equal(got.bad_text, 0);
	sane_stats(&st, n, k);
	/* Every token drawn is evaluated. */
	assert_int_equal(npu_llm_ctx_pos(a), n + k);
	assert_int_equal(npu_llm_ctx_pos(b), n + k);
	for (i = 0; i < 512; i++)
		assert_true(npu_llm_logits(a)[i] == npu_llm_logits(b)[i]);
	npu_llm_sampler_free(s);
	npu_llm_ctx_free(a);
	npu_llm_ctx_free(b);
	npu_llm_model_free(m);
	npu_close(cpu);
}

/* The callback stops after its token; max_tokens and the cache bound the count. */
static void generate_bounds(void **state)
{
	npu_device *cpu = t_open_at("cpu", NULL);
	npu_llm_model *m = load(cpu, bin_path, NULL);
	npu_llm_ctx *c = ctx(m, 0, 0), *small;
	npu_llm_sampler *s = NULL;
	struct npu_llm_stats st;
	struct seen got = { .m = m, .stop_at = 5 };
	int32_t tokens[64], n;

	(void)state;
	n = prompt(m, tokens);
	assert_int_equal(npu_llm_sampler_create(NULL, 512, &s), NPU_OK);
	got.prev = tokens[n - 1];
	assert_int_equal(npu_llm_generate(c, s, tokens, n, 40, on_token, &got, &st), NPU_OK);
	assert_int_equal(got.n, 5);
	sane_stats(&st, n, 5);
	assert_int_equal(st.stop, NPU_LLM_STOP_CALLBACK);
	assert_int_equal(npu_llm_ctx_pos(c), n + 5);

	assert_int_equal(npu_llm_ctx_rewind(c, 0), NPU_OK);
	assert_int_equal(npu_llm_generate(c, s, tokens, n, 7, NULL, NULL, &st), NPU_OK);
	sane_stats(&st, n, 7);
	assert_int_equal(st.stop, NPU_LLM_STOP_LENGTH);
	assert_int_equal(npu_llm_ctx_pos(c), n + 7);
	/* Greedy without a sampler: the same text. */
	assert_int_equal(npu_llm_ctx_rewind(c, 0), NPU_OK);
	got.n = 0;
	got.prev = tokens[n - 1];
	assert_int_equal(npu_llm_generate(c, NULL, tokens, n, 5, on_token, &got, &st), NPU_OK);
	assert_int_equal(got.n, 5);

	/* Nothing drawn: the prompt is evaluated. */
	assert_int_equal(npu_llm_ctx_rewind(c, 0), NPU_OK);
	assert_int_equal(npu_llm_generate(c, s, tokens, n, 0, NULL, NULL, &st), NPU_OK);
	sane_stats(&st, n, 0);
	assert_int_equal(npu_llm_ctx_pos(c), n);
	assert_int_equal(npu_llm_generate(c, s, tokens, 0, 5, NULL, NULL, &st), NPU_E_INVAL);

	/* A cache of 20: the prompt and what is drawn fill it, all evaluated. */
	small = ctx(m, 20, 0);
	assert_int_equal(npu_llm_ctx_positions(small), 20);
	got.n = 0;
	got.stop_at = 0;
	got.prev = tokens[n - 1];
	assert_int_equal(npu_llm_generate(small, s, tokens, n, 100, on_token, &got, &st), NPU_OK);
	assert_int_equal(got.n, 20 - n);
	sane_stats(&st, n, 20 - n);
	assert_int_equal(npu_llm_ctx_pos(small), 20);
	assert_int_equal(npu_llm_eval(small, &got.tokens[got.n - 1], 1), NPU_E_RANGE);
	npu_llm_sampler_free(s);
	npu_llm_ctx_free(small);
	npu_llm_ctx_free(c);
	npu_llm_model_free(m);
	npu_close(cpu);
}

/* A context's limits: its positions, the vocabulary, rewinding; a failed call changes nothing. */
static void ctx_errors(void **state)
{
	npu_device *dev = t_open();
	npu_llm_model *m = load(dev, bin_path, NULL);
	npu_llm_ctx *c = ctx(m, 8, 0);
	int32_t tokens[9] = { 1, 403, 407, 261, 378, 432, 383, 286, 261 }, bad;
	float before[512];
	char err[128];

	(void)state;
	assert_int_equal(npu_llm_ctx_positions(c), 8);
	assert_int_equal(npu_llm_eval(c, tokens, 9), NPU_E_RANGE);
	if (!strstr(npu_llm_ctx_error(c), "the cache holds 8"))
		fail_msg("error '%s' does not name the positions", npu_llm_ctx_error(c));
	assert_int_equal(npu_llm_ctx_pos(c), 0);
	assert_int_equal(npu_llm_eval(c, tokens, 5), NPU_OK);
	assert_string_equal(npu_llm_ctx_error(c), "");
	memcpy(before, npu_llm_logits(c), sizeof(before));
	assert_int_equal(npu_llm_eval(c, tokens, 4), NPU_E_RANGE);
	assert_non_null(strstr(npu_llm_ctx_error(c), "at position 5"));
	bad = 512;
	assert_int_equal(npu_llm_eval(c, &bad, 1), NPU_E_RANGE);
	snprintf(err, sizeof(err), "token %d", bad);
	assert_non_null(strstr(npu_llm_ctx_error(c), err));
	bad = -1;
	assert_int_equal(npu_llm_eval(c, &bad, 1), NPU_E_RANGE);
	assert_non_null(strstr(npu_llm_ctx_error(c), "token -1"));
	assert_int_equal(npu_llm_eval(c, tokens, 0), NPU_E_INVAL);
	assert_int_equal(npu_llm_ctx_pos(c), 5);
	assert_memory_equal(npu_llm_logits(c), before, sizeof(before));
	assert_int_equal(npu_llm_ctx_rewind(c, 6), NPU_E_RANGE);
	assert_int_equal(npu_llm_ctx_rewind(c, -1), NPU_E_RANGE);
	assert_int_equal(npu_llm_ctx_pos(c), 5);
	assert_int_equal(npu_llm_ctx_rewind(c, 5), NPU_OK);
	/* Rewound: no logits until the next eval; run again: the same logits. */
	assert_null(npu_llm_logits(c));
	assert_int_equal(npu_llm_ctx_rewind(c, 2), NPU_OK);
	assert_int_equal(npu_llm_eval(c, &tokens[2], 3), NPU_OK);
	assert_memory_equal(npu_llm_logits(c), before, sizeof(before));
	npu_llm_ctx_free(c);
	npu_llm_model_free(m);
	npu_close(dev);
}

/* Two contexts of one model, interleaved, give the same logits; reference contexts too. */
static void contexts_share_model(void **state)
{
	npu_device *dev = t_open();
	npu_llm_model *m = load(dev, bin_path, NULL);
	npu_llm_ctx *c[4] = { ctx(m, 0, 0), ctx(m, 0, 0), ctx(m, 0, 1), ctx(m, 0, 1) };
	int32_t tokens[64], n;
	int i, k;

	(void)state;
	assert_true(npu_llm_ctx_device_bytes(c[0]) > 0);
	assert_int_equal(npu_llm_ctx_device_bytes(c[2]), 0);
	n = prompt(m, tokens);
	for (i = 0; i < 40; i++) {
		if (i >= n)
			tokens[i] = npu_llm_argmax(npu_llm_logits(c[0]), 512);
		for (k = 0; k < 4; k++)
			assert_int_equal(npu_llm_eval(c[k], &tokens[i], 1), NPU_OK);
		assert_memory_equal(npu_llm_logits(c[0]), npu_llm_logits(c[1]), 512 * sizeof(float));
		assert_memory_equal(npu_llm_logits(c[2]), npu_llm_logits(c[3]), 512 * sizeof(float));
	}
	for (k = 0; k < 4; k++) {
		assert_ptr_equal(npu_llm_ctx_model(c[k]), m);
		npu_llm_ctx_free(c[k]);
	}
	npu_llm_model_free(m);
	npu_close(dev);
}

/* A context on its own thread: greedy tokens and the last logits. */
struct worker {
	npu_llm_model *m;
	pthread_t thread;
	int32_t tokens[48];
	int n_prompt;
	float logits[512];
	int ret;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	npu_llm_ctx *c = NULL;
	char err[128];
	int i;

	w->ret = npu_llm_ctx_create(w->m, NULL, &c, err, sizeof(err));
	for (i = 0; !w->ret && i < 48; i++) {
		w->ret = npu_llm_eval(c, &w->tokens[i], 1);
		if (i + 1 < 48 && i + 1 >= w->n_prompt)
			w->tokens[i + 1] = npu_llm_argmax(npu_llm_logits(c), 512);
	}
	if (!w->ret)
		memcpy(w->logits, npu_llm_logits(c), sizeof(w->logits));
	npu_llm_ctx_free(c);
	return NULL;
}

/* Contexts on four threads at once, one model: each as one alone. */
static void contexts_on_threads(void **state)
{
	npu_device *dev = t_open();
	npu_llm_model *m = load(dev, bin_path, NULL);
	struct worker w[5];
	int32_t p[64], n;
	int i;

	(void)state;
	n = prompt(m, p);
	memset(w, 0, sizeof(w));
	for (i = 0; i < 5; i++) {
		w[i].m = m;
		w[i].n_prompt = n;
		memcpy(w[i].tokens, p, (size_t)n * sizeof(*p));
	}
	worker_run(&w[4]);
	assert_int_equal(w[4].ret, NPU_OK);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&w[i].thread, NULL, worker_run, &w[i]), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(w[i].thread, NULL), 0);
		assert_int_equal(w[i].ret, NPU_OK);
		assert_memory_equal(w[i].tokens, w[4].tokens, sizeof(w[4].tokens));
		assert_memory_equal(w[i].logits, w[4].logits, sizeof(w[4].logits));
	}
	npu_llm_model_free(m);
	npu_close(dev);
}

static void copy_file(const char *from, const char *to)
{
	size_t len;
	void *p = t_read_file(from, &len);

	t_write_file(to, p, len);
	free(p);
}

/*
 * Where the tokenizer comes from: beside the model, bytes when none is
 * there, the GGUF's own, or given; the weights asked for, refused when
 * unknown or native on a float file; no device: the float reference.
 */
static void model_load_sources(void **state)
{
	npu_device *dev = t_open();
	struct npu_llm_model_params p = { 0 };
	struct npu_llm_model_info info;
	npu_llm_model *m, *f;
	npu_llm_ctx *a, *b;
	char path[700], tok_beside[700], err[256];
	int32_t tokens[64], n;

	(void)state;
	m = load(dev, bin_path, NULL);
	npu_llm_model_info(m, &info);
	assert_int_equal(info.tokenizer_source, NPU_LLM_TOKENIZER_BESIDE);
	assert_non_null(strstr(info.tokenizer, "tok512.bin"));
	assert_string_equal(info.weights, "w8");
	assert_string_equal(info.name, bin_path);
	assert_int_equal(info.cfg.vocab_size, 512);
	assert_true(info.device_bytes > info.weight_bytes && info.weight_bytes > 0);
	/* Tokens, not bytes: "Once upon a time" is a few merged pieces. */
	assert_true(prompt(m, tokens) < 8);
	npu_llm_model_free(m);

	snprintf(path, sizeof(path), "%s/model.bin", dir);
	copy_file(bin_path, path);
	m = load(dev, path, NULL);
	npu_llm_model_info(m, &info);
	assert_int_equal(info.tokenizer_source, NPU_LLM_TOKENIZER_BYTES);
	assert_string_equal(info.tokenizer, "bytes");
	assert_string_equal(info.tokenizer_note, "");
	assert_int_equal(prompt(m, tokens), 1 + 16);
	npu_llm_model_free(m);

	/*
	 * Beside a checkpoint, tok<vocab>.bin comes first (llama2.c keeps its
	 * 32000-piece tokenizer.bin beside tok512.bin); one that fails to
	 * load is passed over, and why is said.
	 */
	snprintf(tok_beside, sizeof(tok_beside), "%s/tokenizer.bin", dir);
	t_write_file(tok_beside, "bad", 3);
	m = load(dev, path, NULL);
	npu_llm_model_info(m, &info);
	assert_int_equal(info.tokenizer_source, NPU_LLM_TOKENIZER_BYTES);
	if (!strstr(info.tokenizer_note, "tokenizer.bin"))
		fail_msg("note '%s' does not name the tokenizer passed over", info.tokenizer_note);
	npu_llm_model_free(m);
	snprintf(tok_beside, sizeof(tok_beside), "%s/tok512.bin", dir);
	copy_file(tok_path, tok_beside);
	m = load(dev, path, NULL);
	npu_llm_model_info(m, &info);
	assert_int_equal(info.tokenizer_source, NPU_LLM_TOKENIZER_BESIDE);
	assert_string_equal(info.tokenizer, tok_beside);
	assert_true(prompt(m, tokens) < 8);
	/* Tokens past the room asked for: the first ones, and NPU_E_RANGE. */
	assert_int_equal(npu_llm_tokenize(m, "Once upon a time", 1, tokens, 2, &n), NPU_E_RANGE);
	assert_int_equal(n, 2);
	assert_int_equal(tokens[0], 1);
	npu_llm_model_free(m);
	unlink(tok_beside);
	snprintf(tok_beside, sizeof(tok_beside), "%s/tokenizer.bin", dir);
	unlink(tok_beside);

	m = load(dev, gguf_path, NULL);
	npu_llm_model_info(m, &info);
	assert_int_equal(info.tokenizer_source, NPU_LLM_TOKENIZER_GGUF);
	assert_string_equal(info.tokenizer, "gguf");
	assert_string_equal(info.weights, "w8");	/* an all-F32 file */
	npu_llm_model_free(m);

	p.tokenizer = tok_path;
	p.weights = "w4g32";
	m = load(dev, path, &p);
	npu_llm_model_info(m, &info);
	assert_int_equal(info.tokenizer_source, NPU_LLM_TOKENIZER_GIVEN);
	assert_string_equal(info.tokenizer, tok_path);
	assert_string_equal(info.weights, "w4g32");
	npu_llm_model_free(m);

	p.tokenizer = NULL;
	p.weights = "w5";
	m = NULL;
	assert_int_equal(npu_llm_model_load(dev, bin_path, &p, &m, err, sizeof(err)), NPU_E_INVAL);
	assert_null(m);
	if (!strstr(err, "'w5'"))
		fail_msg("error '%s' does not name the weights", err);
	p.weights = "native";
	assert_int_equal(npu_llm_model_load(dev, bin_path, &p, &m, err, sizeof(err)), NPU_E_INVAL);
	assert_null(m);
	assert_non_null(strstr(err, "native"));

	/* No device: the float reference, as a device model's reference context. */
	p.weights = NULL;
	f = load(NULL, bin_path, &p);
	npu_llm_model_info(f, &info);
	assert_string_equal(info.weights, "f32");
	assert_int_equal(info.device_bytes, 0);
	m = load(dev, bin_path, NULL);
	a = ctx(f, 0, 0);
	b = ctx(m, 0, 1);
	n = prompt(f, tokens);
	assert_int_equal(npu_llm_eval(a, tokens, n), NPU_OK);
	assert_int_equal(npu_llm_eval(b, tokens, n), NPU_OK);
	assert_memory_equal(npu_llm_logits(a), npu_llm_logits(b), 512 * sizeof(float));
	npu_llm_ctx_free(a);
	npu_llm_ctx_free(b);
	npu_llm_model_free(f);
	npu_llm_model_free(m);
	npu_close(dev);
}

/* An in-memory model is taken over either way; a bad weights string is refused. */
static void model_create_takes_over(void **state)
{
	struct npu_llm_model_params p = { .weights = "w3" };
	struct npu_model host;
	struct npu_tokenizer tok;
	npu_llm_model *m = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(npu_model_synthetic("tiny", 3, &host, err, sizeof(err)), NPU_OK);
	assert_int_equal(npu_tokenizer_bytes(host.cfg.vocab_size, &tok), NPU_OK);
	assert_int_equal(npu_llm_model_create(NULL, &host, &tok, &p, &m, err, sizeof(err)),
			 NPU_E_INVAL);
	assert_null(m);
	assert_non_null(strstr(err, "'w3'"));
	assert_null(host.data);
	assert_null(tok.pieces);
}

/* Teacher forcing a device context against the float model on a story. */
static void teacher_forcing(void **state)
{
	static const char *const text = "Once upon a time, there was a little girl named Lily. "
					"She loved to play outside in the park.";
	npu_device *dev = t_open();
	npu_llm_model *m = load(dev, bin_path, NULL);
	struct npu_llm_ctx_params traced = { .trace = 1 };
	npu_llm_ctx *d = NULL, *r = ctx(m, 0, 1), *tiny = ctx(m, 8, 0);
	char err[256] = "";
	struct npu_llm_compare s = { 0 };
	double cos[5] = { 0 };
	int32_t seq[64], n;
	int l;

	(void)state;
	if (npu_llm_ctx_create(m, &traced, &d, err, sizeof(err)))
		fail_msg("%s", err);
	/* Nothing evaluated yet: no layer outputs; a context without trace has none. */
	assert_int_equal(npu_llm_trace(d, 0, (float[64]){ 0 }), NPU_E_INVAL);
	assert_int_equal(npu_llm_teacher_force(tiny, r, seq, 2, &s, cos), NPU_E_INVAL);
	assert_non_null(strstr(npu_llm_ctx_error(tiny), "trace"));
	assert_int_equal(s.positions, 0);
	assert_int_equal(npu_llm_tokenize(m, text, 1, seq, 64, &n), NPU_OK);
	assert_true(n > 20);
	assert_int_equal(npu_llm_teacher_force(d, r, seq, n, &s, cos), NPU_OK);
	assert_int_equal(s.positions, n - 1);
	print_message("teacher forcing, %d positions: top-1 %d, mean KL %.3g, NLL %.3f / %.3f\n",
		      s.positions, s.top1_agree, s.kl_sum / s.positions, s.nll_ref / s.positions,
		      s.nll_dev / s.positions);
	assert_true((double)s.top1_agree / s.positions > 0.5);
	assert_true(s.kl_sum >= 0 && s.nll_ref > 0 && s.nll_dev > 0);
	for (l = 0; l < 5; l++)
		assert_true(cos[l] / s.positions > 0.99);
	assert_int_equal(npu_llm_ctx_pos(d), n - 1);
	/* Past a cache of 8. */
	assert_int_equal(npu_llm_teacher_force(tiny, r, seq, n, &s, NULL), NPU_E_RANGE);
	npu_llm_ctx_free(tiny);
	npu_llm_ctx_free(d);
	npu_llm_ctx_free(r);
	npu_llm_model_free(m);
	npu_close(dev);
}

int main(void)
{
	const struct CMUnitTest sampler_tests[] = {
		cmocka_unit_test(greedy_is_argmax),
		cmocka_unit_test(seeds),
		cmocka_unit_test(top_k_keeps_k),
		cmocka_unit_test(top_p_min_p_reference),
		cmocka_unit_test(top_p_prefix),
		cmocka_unit_test(min_p_drops),
		cmocka_unit_test(repetition_penalty),
		cmocka_unit_test(invalid_params),
		cmocka_unit_test(vocab_of_one),
		cmocka_unit_test(top_p_large_vocab_speed),
	};
	const struct CMUnitTest model_tests[] = {
		cmocka_unit_test(generate_equals_eval_loop),
		cmocka_unit_test(generate_bounds),
		cmocka_unit_test(ctx_errors),
		cmocka_unit_test(contexts_share_model),
		cmocka_unit_test(contexts_on_threads),
		cmocka_unit_test(model_load_sources),
		cmocka_unit_test(model_create_takes_over),
		cmocka_unit_test(teacher_forcing),
	};
	int failed = cmocka_run_group_tests_name("sampler", sampler_tests, NULL, NULL);

	return failed | cmocka_run_group_tests_name("llm", model_tests, find_models, cleanup);
}
