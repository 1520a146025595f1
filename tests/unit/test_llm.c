// SPDX-License-Identifier: MIT
/*
 * libnpu-llm's public API, through <npu/llm.h> alone, with stories260K
 * from ../shared/models (or $NPU_MODELS): generation against a hand loop
 * of eval and argmax (also in bursts of steps a job), a context's limits,
 * contexts sharing a model (on several threads too, and on several opens
 * of the device), where a model's tokenizer comes from, and teacher
 * forcing against the float model. The sampler is test_sampler's.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <npu/llm.h>
#include "testlib.h"

static struct t_stories files;

/* The models must be there: a missing model fails, it is never skipped. */
static int find_models(void **state)
{
	(void)state;
	return t_stories_find(&files, "test_llm");
}

static int cleanup(void **state)
{
	(void)state;
	return t_rmdir(files.dir);
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
	npu_llm_model *m = load(cpu, files.bin, NULL);
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
	npu_llm_model *m = load(cpu, files.bin, NULL);
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

/*
 * Up to @max tokens greedy after @tokens (@n) into @want by the hand loop
 * of eval and argmax on @c, up to BOS: how many, @c left after the last.
 */
static int hand_loop(npu_llm_ctx *c, const int32_t *tokens, int n, int32_t *want, int max)
{
	int k;

	assert_int_equal(npu_llm_ctx_rewind(c, 0), NPU_OK);
	assert_int_equal(npu_llm_eval(c, tokens, n), NPU_OK);
	for (k = 0; k < max; k++) {
		want[k] = npu_llm_argmax(npu_llm_logits(c), 512);
		if (want[k] == 1)
			break;
		assert_int_equal(npu_llm_eval(c, &want[k], 1), NPU_OK);
	}
	return k;
}

/*
 * Greedy decoding in bursts of steps (a job each) draws the hand loop's
 * tokens and leaves its position and logits, at each burst size: through
 * stops inside a burst (the story's BOS, the callback's, max_tokens), and
 * on a model whose one step is two jobs.
 */
static void greedy_bursts(void **state)
{
	static const int sizes[] = { 1, 2, 5, 16, 0 };
	struct npu_llm_model_params deep_p = { .synthetic = "deep", .seed = 9 };
	npu_device *dev = t_open();
	npu_llm_model *models[2] = { load(dev, files.bin, NULL), load(dev, NULL, &deep_p) };
	npu_llm_ctx *hand, *c;
	struct npu_llm_stats st;
	int32_t tokens[64], want[300], n;
	int mi, i, k, stop;

	(void)state;
	for (mi = 0; mi < 2; mi++) {
		npu_llm_model *m = models[mi];
		int max = mi ? 12 : 300;
		struct seen got = { .m = m };

		n = prompt(m, tokens);
		hand = ctx(m, 0, 0);
		c = ctx(m, 0, 0);
		k = hand_loop(hand, tokens, n, want, max);
		/* The story ends inside a burst of 5 and of 16. */
		if (!mi)
			assert_true(k < max && k % 5 && k % 16);
		for (i = 0; i < (int)(sizeof(sizes) / sizeof(sizes[0])); i++) {
			assert_int_equal(npu_llm_ctx_set_burst(c, sizes[i]), NPU_OK);
			assert_int_equal(npu_llm_ctx_rewind(c, 0), NPU_OK);
			got.n = 0;
			got.prev = tokens[n - 1];
			assert_int_equal(npu_llm_generate(c, NULL, tokens, n, max, on_token, &got, &st),
					 NPU_OK);
			assert_int_equal(st.stop, k < max ? NPU_LLM_STOP_BOS : NPU_LLM_STOP_LENGTH);
			assert_int_equal(got.n, k);
			assert_memory_equal(got.tokens, want, (size_t)k * sizeof(*want));
			sane_stats(&st, n, k);
			assert_int_equal(npu_llm_ctx_pos(c), npu_llm_ctx_pos(hand));
			assert_memory_equal(npu_llm_logits(c), npu_llm_logits(hand),
					    512 * sizeof(float));
		}
		/* The callback stops inside a burst; then max_tokens does. */
		for (stop = 0; stop < 2; stop++) {
			int at = stop ? 0 : 7, upto = stop ? 11 : max;

			assert_int_equal(npu_llm_ctx_set_burst(c, 16), NPU_OK);
			assert_int_equal(npu_llm_ctx_rewind(c, 0), NPU_OK);
			got = (struct seen){ .m = m, .prev = tokens[n - 1], .stop_at = at };
			assert_int_equal(npu_llm_generate(c, NULL, tokens, n, upto, on_token, &got, &st),
					 NPU_OK);
			assert_int_equal(got.n, stop ? 11 : 7);
			assert_int_equal(hand_loop(hand, tokens, n, want, got.n), got.n);
			assert_memory_equal(got.tokens, want, (size_t)got.n * sizeof(*want));
			assert_int_equal(npu_llm_ctx_pos(c), n + got.n);
			assert_memory_equal(npu_llm_logits(c), npu_llm_logits(hand),
					    512 * sizeof(float));
		}
		assert_int_equal(npu_llm_ctx_set_burst(c, -1), NPU_E_RANGE);
		assert_int_equal(npu_llm_ctx_set_burst(c, NPU_LLM_BURST_MAX + 1), NPU_E_RANGE);
		npu_llm_ctx_free(hand);
		npu_llm_ctx_free(c);
	}
	c = ctx(models[0], 0, 1);
	assert_int_equal(npu_llm_ctx_set_burst(c, 4), NPU_E_UNSUPPORTED);
	npu_llm_ctx_free(c);
	npu_llm_model_free(models[0]);
	npu_llm_model_free(models[1]);
	npu_close(dev);
}

/* A context's limits: its positions, the vocabulary, rewinding; a failed call changes nothing. */
static void ctx_errors(void **state)
{
	npu_device *dev = t_open();
	npu_llm_model *m = load(dev, files.bin, NULL);
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
	npu_llm_model *m = load(dev, files.bin, NULL);
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

/*
 * One model on two opens of the device (on npu.ko two DRM files, two
 * address spaces): contexts on either give the same logits, at any
 * priority; the errors of attaching and of a device it is not on.
 */
static void model_attached(void **state)
{
	npu_device *dev = t_open(), *other = t_open(), *third = t_open();
	npu_llm_model *m = load(dev, files.bin, NULL), *fl = load(NULL, files.bin, NULL);
	struct npu_llm_ctx_params p = { .device = third };
	npu_llm_ctx *c0 = ctx(m, 0, 0), *ref = ctx(m, 0, 1), *c1 = NULL;
	struct npu_llm_model_info info;
	struct npu_memory mem;
	int32_t tokens[64], n;
	char err[256] = "";
	int i;

	(void)state;
	npu_llm_model_info(m, &info);
	assert_int_equal(npu_llm_ctx_create(m, &p, &c1, err, sizeof(err)), NPU_E_INVAL);
	assert_non_null(strstr(err, "not on that device"));
	p = (struct npu_llm_ctx_params){ .norm_act = NPU_LLM_NORM_INT16 + 1 };
	assert_int_equal(npu_llm_ctx_create(m, &p, &c1, err, sizeof(err)), NPU_E_INVAL);
	assert_non_null(strstr(err, "norm_act 3: want"));
	assert_null(c1);
	p.norm_act = -1;
	assert_int_equal(npu_llm_ctx_create(m, &p, &c1, err, sizeof(err)), NPU_E_INVAL);
	assert_non_null(strstr(err, "norm_act -1: want"));
	assert_null(c1);
	p = (struct npu_llm_ctx_params){ .device = third };
	assert_int_equal(npu_llm_model_attach(m, dev, err, sizeof(err)), NPU_E_INVAL);
	assert_int_equal(npu_llm_model_attach(fl, other, err, sizeof(err)), NPU_E_INVAL);
	assert_int_equal(npu_llm_model_attach(m, other, err, sizeof(err)), NPU_OK);
	assert_int_equal(npu_llm_model_attach(m, other, err, sizeof(err)), NPU_E_INVAL);
	assert_non_null(strstr(err, "already"));
	assert_int_equal(npu_memory_usage(other, &mem), NPU_OK);
	assert_true(mem.buffers >= info.device_bytes);
	p.device = other;
	if (npu_llm_ctx_create(m, &p, &c1, err, sizeof(err)))
		fail_msg("context on the attached device: %s", err);
	assert_int_equal(npu_llm_ctx_set_priority(c1, NPU_PRIO_LOW), NPU_OK);
	assert_int_equal(npu_llm_ctx_set_priority(c0, NPU_PRIO_HIGH), NPU_OK);
	assert_int_equal(npu_llm_ctx_set_priority(c0, (enum npu_priority)3), NPU_E_INVAL);
	assert_int_equal(npu_llm_ctx_set_priority(ref, NPU_PRIO_LOW), NPU_E_UNSUPPORTED);
	n = prompt(m, tokens);
	for (i = 0; i < 40; i++) {
		if (i >= n)
			tokens[i] = npu_llm_argmax(npu_llm_logits(c0), 512);
		assert_int_equal(npu_llm_eval(c0, &tokens[i], 1), NPU_OK);
		assert_int_equal(npu_llm_eval(c1, &tokens[i], 1), NPU_OK);
		assert_memory_equal(npu_llm_logits(c0), npu_llm_logits(c1), 512 * sizeof(float));
	}
	npu_llm_ctx_free(c0);
	npu_llm_ctx_free(c1);
	npu_llm_ctx_free(ref);
	npu_llm_model_free(m);
	npu_llm_model_free(fl);
	/* The model's weights left the attached device with it. */
	assert_int_equal(npu_memory_usage(other, &mem), NPU_OK);
	assert_int_equal(mem.buffers, 0);
	npu_close(third);
	npu_close(other);
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
	npu_llm_model *m = load(dev, files.bin, NULL);
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
	m = load(dev, files.bin, NULL);
	npu_llm_model_info(m, &info);
	assert_int_equal(info.tokenizer_source, NPU_LLM_TOKENIZER_BESIDE);
	assert_non_null(strstr(info.tokenizer, "tok512.bin"));
	assert_string_equal(info.weights, "w8");
	assert_string_equal(info.name, files.bin);
	assert_int_equal(info.cfg.vocab_size, 512);
	assert_true(info.device_bytes > info.weight_bytes && info.weight_bytes > 0);
	/* Tokens, not bytes: "Once upon a time" is a few merged pieces. */
	assert_true(prompt(m, tokens) < 8);
	npu_llm_model_free(m);

	snprintf(path, sizeof(path), "%s/model.bin", files.dir);
	copy_file(files.bin, path);
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
	snprintf(tok_beside, sizeof(tok_beside), "%s/tokenizer.bin", files.dir);
	t_write_file(tok_beside, "bad", 3);
	m = load(dev, path, NULL);
	npu_llm_model_info(m, &info);
	assert_int_equal(info.tokenizer_source, NPU_LLM_TOKENIZER_BYTES);
	if (!strstr(info.tokenizer_note, "tokenizer.bin"))
		fail_msg("note '%s' does not name the tokenizer passed over", info.tokenizer_note);
	npu_llm_model_free(m);
	snprintf(tok_beside, sizeof(tok_beside), "%s/tok512.bin", files.dir);
	copy_file(files.tok, tok_beside);
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
	snprintf(tok_beside, sizeof(tok_beside), "%s/tokenizer.bin", files.dir);
	unlink(tok_beside);

	m = load(dev, files.gguf, NULL);
	npu_llm_model_info(m, &info);
	assert_int_equal(info.tokenizer_source, NPU_LLM_TOKENIZER_GGUF);
	assert_string_equal(info.tokenizer, "gguf");
	assert_string_equal(info.weights, "w8");	/* an all-F32 file */
	npu_llm_model_free(m);

	p.tokenizer = files.tok;
	p.weights = "w4g32";
	m = load(dev, path, &p);
	npu_llm_model_info(m, &info);
	assert_int_equal(info.tokenizer_source, NPU_LLM_TOKENIZER_GIVEN);
	assert_string_equal(info.tokenizer, files.tok);
	assert_string_equal(info.weights, "w4g32");
	npu_llm_model_free(m);

	p.tokenizer = NULL;
	p.weights = "w5";
	m = NULL;
	assert_int_equal(npu_llm_model_load(dev, files.bin, &p, &m, err, sizeof(err)), NPU_E_INVAL);
	assert_null(m);
	if (!strstr(err, "'w5'"))
		fail_msg("error '%s' does not name the weights", err);
	p.weights = "native";
	assert_int_equal(npu_llm_model_load(dev, files.bin, &p, &m, err, sizeof(err)), NPU_E_INVAL);
	assert_null(m);
	assert_non_null(strstr(err, "native"));

	/* No device: the float reference, as a device model's reference context. */
	p.weights = NULL;
	f = load(NULL, files.bin, &p);
	npu_llm_model_info(f, &info);
	assert_string_equal(info.weights, "f32");
	assert_int_equal(info.device_bytes, 0);
	m = load(dev, files.bin, NULL);
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
	npu_llm_model *m = load(dev, files.bin, NULL);
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
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(generate_equals_eval_loop),
		cmocka_unit_test(generate_bounds),
		cmocka_unit_test(greedy_bursts),
		cmocka_unit_test(ctx_errors),
		cmocka_unit_test(contexts_share_model),
		cmocka_unit_test(model_attached),
		cmocka_unit_test(contexts_on_threads),
		cmocka_unit_test(model_load_sources),
		cmocka_unit_test(model_create_takes_over),
		cmocka_unit_test(teacher_forcing),
	};

	return cmocka_run_group_tests_name("llm", tests, find_models, cleanup);
}
