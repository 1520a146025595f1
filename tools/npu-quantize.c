// SPDX-License-Identifier: MIT
/*
 * npu-quantize: a float model (F32/F16 GGUF or llama2.c checkpoint) into a
 * Q4_0 GGUF file quantized knowing its matrices' inputs: the float model
 * and the copy being quantized run over calibration text (a file, or text
 * the model generates itself), and each matrix in turn is quantized with
 * error compensation to give, from the inputs the quantized layers before
 * it produce, the float model's product (npu_model_quantize_gguf). The
 * file is a standard one: llama.cpp reads it, and the NPU runs its blocks
 * natively.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <npu/llm.h>

#include "read-all.h"

struct opts {
	const char *model, *tokenizer, *out, *calibration;
	int gptq, tokens, chunk;
	uint64_t seed;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: npu-quantize --model FILE --out FILE [options]\n"
		"Quantize a float model to a Q4_0 GGUF file, each matrix in the model's order\n"
		"under its inputs' statistics over calibration text, correcting the errors of\n"
		"the layers quantized before it (llama.cpp reads the file; the NPU runs it).\n"
		"  -m, --model FILE        an F32/F16 GGUF file or a llama2.c checkpoint\n"
		"  -k, --tokenizer FILE    a llama2.c tokenizer (default: the model's own)\n"
		"  -o, --out FILE          the GGUF file to write\n"
		"      --method M          gptq (error compensation with integer descent\n"
		"                          and scale refits, default) or rtn (round to\n"
		"                          nearest, ggml's rule)\n"
		"      --calibration FILE  calibration text (default: text the model\n"
		"                          generates itself, sampled at temperature 1)\n"
		"      --calib-tokens N    calibration tokens (default 4096)\n"
		"      --chunk N           positions per calibration chunk (default 256, at\n"
		"                          most the model's context)\n"
		"      --seed S            the generated text's seed (default 1)\n"
		"  -h, --help              this text\n");
}

static int bad(const char *what, const char *v, const char *why)
{
	fprintf(stderr, "npu-quantize: %s%s%s%s: %s (see --help)\n", what, v ? " '" : "",
		v ? v : "", v ? "'" : "", why);
	return 2;
}

static int number(const char *v, long lo, long hi, long *out)
{
	char *end;

	*out = strtol(v, &end, 10);
	return !*v || *end || *out < lo || *out > hi;
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "model", 1, 0, 'm' }, { "tokenizer", 1, 0, 'k' }, { "out", 1, 0, 'o' },
		{ "method", 1, 0, 'M' }, { "calibration", 1, 0, 'c' },
		{ "calib-tokens", 1, 0, 'n' }, { "chunk", 1, 0, 'C' }, { "seed", 1, 0, 's' },
		{ "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	long n;
	int c;

	*o = (struct opts){ .gptq = 1, .tokens = 4096, .chunk = 256, .seed = 1 };
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:k:o:h", lo, NULL)) != -1) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case 'k': o->tokenizer = optarg; break;
		case 'o': o->out = optarg; break;
		case 'c': o->calibration = optarg; break;
		case 'M':
			if (strcmp(optarg, "gptq") && strcmp(optarg, "rtn"))
				return bad("--method", optarg, "want gptq or rtn");
			o->gptq = !strcmp(optarg, "gptq");
			break;
		case 'n':
			if (number(optarg, 1, 1 << 24, &n))
				return bad("--calib-tokens", optarg, "want 1..16777216");
			o->tokens = (int)n;
			break;
		case 'C':
			if (number(optarg, 1, 1 << 20, &n))
				return bad("--chunk", optarg, "want 1..1048576");
			o->chunk = (int)n;
			break;
		case 's':
			if (number(optarg, 0, 0x7fffffff, &n))
				return bad("--seed", optarg, "want 0..2147483647");
			o->seed = (uint64_t)n;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			return bad("option wants a value", argv[optind - 1], "");
		default:
			return bad("unrecognized option", argv[optind - 1], "");
		}
	}
	if (optind < argc)
		return bad("unexpected argument", argv[optind], "");
	if (!o->model || !o->out)
		return bad("--model FILE and --out FILE", NULL, "both are required");
	return 0;
}

struct gather {
	int32_t *tokens;
	int n, max;
};

static int on_token(void *user, int32_t token, const char *text)
{
	struct gather *g = user;

	(void)text;
	if (g->n < g->max)
		g->tokens[g->n++] = token;
	return g->n >= g->max;
}

/* Stories the float model tells from BOS, one seed each, until @g is full. */
static int generate(npu_llm_model *m, const struct opts *o, int chunk, struct gather *g)
{
	struct npu_llm_ctx_params cp = { .positions = chunk };
	struct npu_llm_sampler_params sp;
	npu_llm_sampler *s = NULL;
	npu_llm_ctx *c = NULL;
	int32_t bos[4], nb = 0, k;
	char err[512];
	int ret, story;

	ret = npu_llm_tokenize(m, "", 1, bos, 4, &nb);
	if (ret || !nb) {
		fprintf(stderr, "npu-quantize: the model's tokenizer gives no BOS to start from\n");
		return 1;
	}
	if (npu_llm_ctx_create(m, &cp, &c, err, sizeof(err))) {
		fprintf(stderr, "npu-quantize: %s\n", err);
		return 1;
	}
	npu_llm_sampler_defaults(&sp);
	sp.temperature = 1.0f;
	for (story = 0; !ret && g->n < g->max; story++) {
		for (k = 0; k < nb && g->n < g->max; k++)
			g->tokens[g->n++] = bos[k];
		if (g->n == g->max)
			break;
		sp.seed = o->seed + (uint64_t)story;
		ret = npu_llm_sampler_create(&sp, npu_llm_model_host(m)->cfg.vocab_size, &s);
		ret = ret ? ret : npu_llm_ctx_rewind(c, 0);
		ret = ret ? ret : npu_llm_generate(c, s, bos, nb, chunk - nb, on_token, g, NULL);
		npu_llm_sampler_free(s);
		s = NULL;
	}
	npu_llm_ctx_free(c);
	if (ret)
		fprintf(stderr, "npu-quantize: generating calibration text: %s\n",
			npu_strerror(ret));
	return ret != 0;
}

/* --calibration FILE's text, tokenized (its first --calib-tokens). */
static int read_text(npu_llm_model *m, const char *path, struct gather *g)
{
	FILE *f = fopen(path, "rb");
	size_t n = 0;
	char *text = f ? read_all(f, &n) : NULL;
	int ret;

	if (f)
		fclose(f);
	if (!text || !n) {
		fprintf(stderr, "npu-quantize: --calibration '%s': %s\n", path,
			!f ? "cannot be opened" : !text ? "cannot be read" : "empty");
		free(text);
		return 1;
	}
	ret = npu_llm_tokenize(m, text, 1, g->tokens, g->max, &g->n);
	free(text);
	if (ret && ret != NPU_E_RANGE) {	/* longer than asked: its first tokens */
		fprintf(stderr, "npu-quantize: --calibration '%s': %s\n", path, npu_strerror(ret));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct npu_llm_model_params mp = { 0 };
	struct npu_quantize_report rep = { 0 };
	struct npu_quantize_params qp = { .type = NPU_GGUF_Q4_0 };
	npu_llm_model *m = NULL;
	struct gather g = { 0 };
	struct opts o;
	char err[1024];
	int status, chunk;

	status = parse(argc, argv, &o);
	if (status)
		return status;
	mp.tokenizer = o.tokenizer;
	if (npu_llm_model_load(NULL, o.model, &mp, &m, err, sizeof(err))) {
		fprintf(stderr, "npu-quantize: %s\n", err);
		return 1;
	}
	chunk = o.chunk < npu_llm_model_host(m)->cfg.seq_len ? o.chunk :
		npu_llm_model_host(m)->cfg.seq_len;
	g.max = o.tokens;
	g.tokens = malloc((size_t)g.max * sizeof(*g.tokens));
	status = !g.tokens;
	if (!status)
		status = o.calibration ? read_text(m, o.calibration, &g) : generate(m, &o, chunk, &g);
	qp.gptq = o.gptq;
	qp.tokens = g.tokens;
	qp.n_tokens = g.n;
	qp.chunk = chunk;
	if (!status && npu_model_quantize_gguf(o.out, npu_llm_model_host(m),
					       npu_llm_model_tokenizer(m), &qp, &rep, err,
					       sizeof(err))) {
		fprintf(stderr, "npu-quantize: %s\n", err);
		status = 1;
	}
	if (!status)
		printf("npu-quantize: %s: Q4_0 by %s from %d calibration tokens (%s); %d matrices: "
		       "error of each product from the quantized inputs against the float model's, "
		       "relative to it, summed: round to nearest %.4f, %s %.4f "
		       "(x%.2f)\n", o.out, o.gptq ? "GPTQ" : "round to nearest", g.n,
		       o.calibration ? o.calibration : "generated by the model", rep.matrices,
		       rep.loss_rtn, o.gptq ? "GPTQ" : "written", rep.loss,
		       rep.loss_rtn > 0 ? rep.loss / rep.loss_rtn : 1.0);
	free(g.tokens);
	npu_llm_model_free(m);
	return status;
}
