// SPDX-License-Identifier: MIT
/*
 * npu_model_quantize_gguf (npu-quantize's library call) on stories260K:
 * calibration text the float model samples itself; a Q4_0 file by error
 * compensation (GPTQ, in the model's order, with integer descent and
 * scale refits) and one by round to nearest. Each holds llama-quantize's
 * choice of types; GPTQ's product error on the calibration inputs is well
 * under round to nearest's; and on a held-out story, run natively on the
 * device against the F32 model, GPTQ's file costs well under half of round
 * to nearest's KL (which is llama-quantize's Q4_0: the same rule).
 * Thresholds: docs/accuracy.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <npu/llm.h>
#include "testlib.h"

static struct t_stories files;
static char gptq_path[600], rtn_path[600];
static struct npu_quantize_report gptq_rep, rtn_rep;

static const char story[] = "Once upon a time, there was a little boy named Tim. Tim had a "
			    "big red ball. He liked to play with it every day. One day, he went "
			    "to the park with his mom. He saw a dog and the dog wanted to play "
			    "too.";

struct gather {
	int32_t tokens[2048];
	int n;
};

static int on_token(void *user, int32_t token, const char *text)
{
	struct gather *g = user;

	(void)text;
	g->tokens[g->n++] = token;
	return g->n == 2048;
}

/* Calibration text sampled from the float model (seeds 1, 2, ...), then both files. */
static int setup(void **state)
{
	struct npu_llm_ctx_params cp = { .positions = 256 };
	struct npu_llm_sampler_params sp;
	struct npu_quantize_params qp = { .type = NPU_GGUF_Q4_0, .chunk = 256 };
	static struct gather g;
	npu_llm_model *m = NULL;
	npu_llm_sampler *s = NULL;
	npu_llm_ctx *c = NULL;
	int32_t bos = 0, nb = 0;
	char err[512];
	int story_i;

	(void)state;
	if (t_stories_find(&files, "test_quantize"))
		return -1;
	snprintf(gptq_path, sizeof(gptq_path), "%s/gptq.gguf", files.dir);
	snprintf(rtn_path, sizeof(rtn_path), "%s/rtn.gguf", files.dir);
	if (npu_llm_model_load(NULL, files.bin, &(struct npu_llm_model_params){
		.tokenizer = files.tok }, &m, err, sizeof(err)) ||
	    npu_llm_tokenize(m, "", 1, &bos, 1, &nb) || nb != 1 ||
	    npu_llm_ctx_create(m, &cp, &c, err, sizeof(err)))
		return -1;
	npu_llm_sampler_defaults(&sp);
	sp.temperature = 1.0f;
	for (story_i = 0; g.n < 2048; story_i++) {
		g.tokens[g.n++] = bos;
		sp.seed = 1 + (uint64_t)story_i;
		if (g.n == 2048 || npu_llm_sampler_create(&sp, 512, &s) ||
		    npu_llm_ctx_rewind(c, 0) ||
		    npu_llm_generate(c, s, &bos, 1, 255, on_token, &g, NULL))
			break;
		npu_llm_sampler_free(s);
		s = NULL;
	}
	npu_llm_sampler_free(s);
	npu_llm_ctx_free(c);
	qp.tokens = g.tokens;
	qp.n_tokens = g.n;
	qp.gptq = 1;
	if (g.n != 2048 || npu_model_quantize_gguf(gptq_path, npu_llm_model_host(m),
						   npu_llm_model_tokenizer(m), &qp, &gptq_rep,
						   err, sizeof(err))) {
		fprintf(stderr, "gptq: %s\n", err);
		npu_llm_model_free(m);
		return -1;
	}
	qp.gptq = 0;
	if (npu_model_quantize_gguf(rtn_path, npu_llm_model_host(m), npu_llm_model_tokenizer(m),
				    &qp, &rtn_rep, err, sizeof(err))) {
		fprintf(stderr, "rtn: %s\n", err);
		npu_llm_model_free(m);
		return -1;
	}
	npu_llm_model_free(m);
	return 0;
}

static int cleanup(void **state)
{
	(void)state;
	return t_rmdir(files.dir);
}

/* llama-quantize's types for Q4_0 on this model: the matrices Q4_0, the tied classifier Q8_0. */
static void types_as_llama_quantize(void **state)
{
	const char *paths[] = { gptq_path, rtn_path };
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct npu_model m;
		char err[256];

		if (npu_model_load_gguf(paths[i], &m, NULL, err, sizeof(err)))
			fail_msg("%s: %s", paths[i], err);
		assert_int_equal(m.types[NPU_GGUF_Q4_0], 30);
		assert_int_equal(m.types[NPU_GGUF_Q8_0], 1);
		assert_int_equal(m.types[NPU_GGUF_F16], 5);	/* ffn_down: 172 columns */
		npu_model_free(&m);
	}
}

/* On the calibration's own inputs: GPTQ's product error against round to nearest's. */
static void gptq_error_below_rounding(void **state)
{
	(void)state;
	printf("product error from the quantized inputs, summed over %d matrices: round to "
	       "nearest %.4f, GPTQ %.4f (x%.2f)\n",
	       gptq_rep.matrices, gptq_rep.loss_rtn, gptq_rep.loss,
	       gptq_rep.loss / gptq_rep.loss_rtn);
	assert_int_equal(gptq_rep.matrices, 30);
	assert_true(gptq_rep.loss_rtn > 0);
	/* Measured x0.73 (x0.74 without the integer descent and scale refits). */
	assert_true(gptq_rep.loss < 0.8 * gptq_rep.loss_rtn);
	/* Round to nearest writes what it measured. */
	assert_true(rtn_rep.loss == rtn_rep.loss_rtn);
}

/* Teacher-forced KL of a file's device run against the F32 model on the story. */
static double story_kl(npu_device *dev, npu_llm_model *f32, const char *path)
{
	struct npu_llm_ctx_params rp = { .reference = 1, .positions = 128 };
	struct npu_llm_ctx_params dp = { .positions = 128 };
	struct npu_llm_compare cmp = { 0 };
	npu_llm_model *q = NULL;
	npu_llm_ctx *d = NULL, *r = NULL;
	int32_t tokens[128], n = 0;
	char err[512];

	if (npu_llm_model_load(dev, path, NULL, &q, err, sizeof(err)))
		fail_msg("%s: %s", path, err);
	assert_int_equal(npu_llm_tokenize(q, story, 1, tokens, 128, &n), NPU_OK);
	assert_int_equal(npu_llm_ctx_create(q, &dp, &d, err, sizeof(err)), NPU_OK);
	assert_int_equal(npu_llm_ctx_create(f32, &rp, &r, err, sizeof(err)), NPU_OK);
	assert_int_equal(npu_llm_teacher_force(d, r, tokens, n, &cmp, NULL), NPU_OK);
	npu_llm_ctx_free(d);
	npu_llm_ctx_free(r);
	npu_llm_model_free(q);
	return cmp.kl_sum / cmp.positions;
}

static void gptq_kl_under_half(void **state)
{
	npu_device *dev = t_open();
	npu_llm_model *f32 = NULL;
	double g, r;
	char err[512];

	(void)state;
	if (npu_llm_model_load(NULL, files.gguf, NULL, &f32, err, sizeof(err)))
		fail_msg("%s", err);
	g = story_kl(dev, f32, gptq_path);
	r = story_kl(dev, f32, rtn_path);
	printf("held-out story on the device against F32: mean KL GPTQ %.4f, round to nearest "
	       "%.4f (x%.2f)\n", g, r, g / r);
	/*
	 * Measured 0.0145 (x0.26; 0.0170 without the integer descent and
	 * scale refits). GPTQ on the float model's inputs, not the quantized
	 * layers' (the previous method), measured 0.027 (x0.49), which these
	 * bounds fail.
	 */
	assert_true(g < 0.022);
	assert_true(g < 0.4 * r);
	npu_llm_model_free(f32);
	npu_close(dev);
}

static void refusals(void **state)
{
	struct npu_quantize_params qp = { .type = NPU_GGUF_Q8_0, .chunk = 16, .gptq = 1 };
	int32_t tokens[4] = { 1, 2, 600, 4 };
	npu_llm_model *m = NULL;
	char err[256];

	(void)state;
	assert_int_equal(npu_llm_model_load(NULL, files.bin, &(struct npu_llm_model_params){
		.tokenizer = files.tok }, &m, err, sizeof(err)), NPU_OK);
	qp.tokens = tokens;
	qp.n_tokens = 4;
	assert_int_equal(npu_model_quantize_gguf(gptq_path, npu_llm_model_host(m),
						 npu_llm_model_tokenizer(m), &qp, NULL, err,
						 sizeof(err)), NPU_E_INVAL);
	qp.type = NPU_GGUF_Q4_0;
	assert_int_equal(npu_model_quantize_gguf(gptq_path, npu_llm_model_host(m),
						 npu_llm_model_tokenizer(m), &qp, NULL, err,
						 sizeof(err)), NPU_E_INVAL);
	assert_non_null(strstr(err, "token 2 is 600"));
	tokens[2] = 3;
	qp.chunk = 513;
	assert_int_equal(npu_model_quantize_gguf(gptq_path, npu_llm_model_host(m),
						 npu_llm_model_tokenizer(m), &qp, NULL, err,
						 sizeof(err)), NPU_E_INVAL);
	npu_llm_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(types_as_llama_quantize),
		cmocka_unit_test(gptq_error_below_rounding),
		cmocka_unit_test(gptq_kl_under_half),
		cmocka_unit_test(refusals),
	};

	return cmocka_run_group_tests(tests, setup, cleanup);
}
