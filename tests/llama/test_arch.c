// SPDX-License-Identifier: MIT
/*
 * Each architecture against llama.cpp: the files tests/llama/make-arch
 * writes (stories260K in each architecture's GGUF layout), teacher-forced
 * on the same tokens by llama.cpp (ggml-oracle logits: every position's
 * logits, F32 on its CPU backend) and by libnpu-llm. The float reference
 * (no device) must agree: top-1 at >= 99% of the positions and a mean
 * KL(llama.cpp || ours) <= 1e-4. The cpu backend device's figures against
 * the same logits are reported, not held to a bound (its int8 weights).
 *
 * --greedy A B (up to four pairs): files A and B (stories260K as llama, and
 * as qwen2 with zero biases or as phi3 with fused tensors) must also
 * generate the same greedy tokens from the first token, on the float path
 * and on the cpu device.
 *
 * usage: test_arch [--greedy A B]... DIR NAME...
 * reads DIR/tokens.txt (ids), DIR/NAME.gguf and DIR/NAME.bin (float32,
 * positions x n_vocab); one line per file and check, then "N passed,
 * N failed, N skipped".
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <npu/llm.h>

#define MAX_TOKENS 1024
#define GREEDY_STEPS 64
#define MIN_TOP1 0.99
#define MAX_KL 1e-4

static int passed, failed, skipped;

struct score {
	double top1, kl;	/* fraction of positions; mean over positions */
};

static int argmax(const float *x, int n)
{
	int i, best = 0;

	for (i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return best;
}

/* KL(p || q) of the softmaxes of logits @a (p) and @b (q). */
static double kl(const float *a, const float *b, int n)
{
	double ma = a[argmax(a, n)], mb = b[argmax(b, n)], za = 0, zb = 0, sum = 0;
	int i;

	for (i = 0; i < n; i++) {
		za += exp(a[i] - ma);
		zb += exp(b[i] - mb);
	}
	for (i = 0; i < n; i++) {
		double la = a[i] - ma - log(za), lb = b[i] - mb - log(zb);

		sum += exp(la) * (la - lb);
	}
	return sum;
}

static int read_tokens(const char *path, int32_t *ids)
{
	FILE *f = fopen(path, "r");
	int n = 0;

	if (!f)
		return -1;
	while (n < MAX_TOKENS && fscanf(f, "%d", &ids[n]) == 1)
		n++;
	fclose(f);
	return n;
}

/* llama.cpp's logits, @n positions of @vocab; NULL (and @why) when absent. */
static float *read_logits(const char *path, int n, int vocab, char *why, size_t len)
{
	size_t count = (size_t)n * vocab;
	float *l = malloc(count * sizeof(float));
	FILE *f = fopen(path, "rb");
	int ok = l && f && fread(l, sizeof(float), count, f) == count && fgetc(f) == EOF;

	if (!ok)
		snprintf(why, len, "%s: %s", path, !f ? "cannot open" :
			 !l ? "out of memory" : "not positions x n_vocab float32 logits");
	if (f)
		fclose(f);
	if (ok)
		return l;
	free(l);
	return NULL;
}

static int model(npu_device *dev, const char *path, npu_llm_model **m, npu_llm_ctx **c,
		 char *err, size_t len)
{
	int ret = npu_llm_model_load(dev, path, NULL, m, err, len);

	if (ret)
		return ret;
	ret = npu_llm_ctx_create(*m, NULL, c, err, len);
	if (ret) {
		npu_llm_model_free(*m);
		*m = NULL;
	}
	return ret;
}

/* Teacher-forced top-1 agreement and mean KL against @ref; -1 and @err on failure. */
static int score(npu_device *dev, const char *path, const int32_t *ids, int n,
		 const float *ref, int vocab, struct score *s, char *err, size_t len)
{
	npu_llm_model *m;
	npu_llm_ctx *c;
	struct npu_llm_model_info info;
	int i, same = 0, ret = -1;
	double sum = 0;

	if (model(dev, path, &m, &c, err, len))
		return -1;
	npu_llm_model_info(m, &info);
	if (info.cfg.vocab_size != vocab) {
		snprintf(err, len, "vocabulary of %d, llama.cpp's %d", info.cfg.vocab_size, vocab);
		goto out;
	}
	for (i = 0; i < n; i++) {
		const float *l, *r = ref + (size_t)i * vocab;

		if (npu_llm_eval(c, &ids[i], 1) || !(l = npu_llm_logits(c))) {
			snprintf(err, len, "position %d: %s", i, npu_llm_ctx_error(c));
			goto out;
		}
		same += argmax(l, vocab) == argmax(r, vocab);
		sum += kl(r, l, vocab);
	}
	s->top1 = (double)same / n;
	s->kl = sum / n;
	ret = 0;
out:
	npu_llm_ctx_free(c);
	npu_llm_model_free(m);
	return ret;
}

static void check_file(npu_device *dev, const char *dir, const char *name, const int32_t *ids,
		       int n)
{
	char gguf[1024], bin[1024], err[2048], dev_text[2100];
	struct score f, d;
	float *ref;
	int vocab;
	FILE *probe;

	snprintf(gguf, sizeof(gguf), "%s/%s.gguf", dir, name);
	snprintf(bin, sizeof(bin), "%s/%s.bin", dir, name);
	/* The vocabulary from the logits' size: positions x n_vocab floats. */
	probe = fopen(bin, "rb");
	vocab = 0;
	if (probe && !fseek(probe, 0, SEEK_END))
		vocab = (int)(ftell(probe) / (long)sizeof(float) / n);
	if (probe)
		fclose(probe);
	ref = vocab > 0 ? read_logits(bin, n, vocab, err, sizeof(err)) : NULL;
	if (!ref) {
		if (vocab <= 0)
			snprintf(err, sizeof(err), "%s: no llama.cpp logits", bin);
		printf("FAIL %s: %s\n", name, err);
		failed++;
		return;
	}
	if (!dev)
		snprintf(dev_text, sizeof(dev_text), "no cpu device");
	else if (score(dev, gguf, ids, n, ref, vocab, &d, err, sizeof(err)))
		snprintf(dev_text, sizeof(dev_text), "cpu device: %s", err);
	else
		snprintf(dev_text, sizeof(dev_text), "cpu device top-1 %.1f%%, KL %.2e",
			 100 * d.top1, d.kl);
	if (score(NULL, gguf, ids, n, ref, vocab, &f, err, sizeof(err))) {
		printf("FAIL %s: float: %s (%s)\n", name, err, dev_text);
		failed++;
	} else {
		int ok = f.top1 >= MIN_TOP1 && f.kl <= MAX_KL;

		printf("%s %s: float top-1 %.1f%%, KL %.2e (want >= %.0f%%, <= %.0e); %s\n",
		       ok ? "PASS" : "FAIL", name, 100 * f.top1, f.kl, 100 * MIN_TOP1, MAX_KL,
		       dev_text);
		if (ok)
			passed++;
		else
			failed++;
	}
	free(ref);
}

/* @steps greedy tokens after @first into @out; -1 and @err on failure. */
static int greedy(npu_device *dev, const char *path, int32_t first, int32_t *out, char *err,
		  size_t len)
{
	npu_llm_model *m;
	npu_llm_ctx *c;
	struct npu_llm_model_info info;
	int32_t tok = first;
	int i, ret = 0;

	if (model(dev, path, &m, &c, err, len))
		return -1;
	npu_llm_model_info(m, &info);
	for (i = 0; i < GREEDY_STEPS && !ret; i++) {
		const float *l;

		if (npu_llm_eval(c, &tok, 1) || !(l = npu_llm_logits(c))) {
			snprintf(err, len, "step %d: %s", i, npu_llm_ctx_error(c));
			ret = -1;
		} else {
			tok = out[i] = argmax(l, info.cfg.vocab_size);
		}
	}
	npu_llm_ctx_free(c);
	npu_llm_model_free(m);
	return ret;
}

static void check_greedy(npu_device *dev, const char *dir, const char *a, const char *b,
			 int32_t first)
{
	int32_t ta[GREEDY_STEPS], tb[GREEDY_STEPS];
	char pa[1024], pb[1024], err[2048];
	const char *where = dev ? "cpu device" : "float";
	int i;

	snprintf(pa, sizeof(pa), "%s/%s.gguf", dir, a);
	snprintf(pb, sizeof(pb), "%s/%s.gguf", dir, b);
	if (greedy(dev, pa, first, ta, err, sizeof(err)) ||
	    greedy(dev, pb, first, tb, err, sizeof(err))) {
		printf("FAIL %s and %s generate the same (%s): %s\n", a, b, where, err);
		failed++;
		return;
	}
	for (i = 0; i < GREEDY_STEPS && ta[i] == tb[i]; i++)
		;
	if (i < GREEDY_STEPS) {
		printf("FAIL %s and %s generate the same (%s): token %d is %d, not %d\n", a, b,
		       where, i, tb[i], ta[i]);
		failed++;
	} else {
		printf("PASS %s and %s generate the same %d greedy tokens (%s)\n", a, b,
		       GREEDY_STEPS, where);
		passed++;
	}
}

int main(int argc, char **argv)
{
	static int32_t ids[MAX_TOKENS];
	const char *ga[4], *gb[4], *dir;
	npu_device *dev = NULL;
	char path[4096];
	int i = 1, n, ret, g, pairs = 0;

	while (pairs < 4 && argc > i + 2 && !strcmp(argv[i], "--greedy")) {
		ga[pairs] = argv[i + 1];
		gb[pairs++] = argv[i + 2];
		i += 3;
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: test_arch [--greedy A B]... DIR NAME...\n");
		return 2;
	}
	dir = argv[i++];
	snprintf(path, sizeof(path), "%s/tokens.txt", dir);
	n = read_tokens(path, ids);
	if (n < 2) {
		printf("FAIL %s: no tokens\n", path);
		printf("0 passed, 1 failed, 0 skipped\n");
		return 1;
	}
	ret = npu_open("cpu", &dev);
	if (ret) {
		printf("(the cpu backend does not open: %s; float path only)\n", npu_strerror(ret));
		dev = NULL;
	}
	for (; i < argc; i++)
		check_file(dev, dir, argv[i], ids, n);
	for (g = 0; g < pairs; g++) {
		check_greedy(NULL, dir, ga[g], gb[g], ids[0]);
		if (dev) {
			check_greedy(dev, dir, ga[g], gb[g], ids[0]);
		} else {
			printf("SKIP %s and %s generate the same (cpu device): no cpu device\n",
			       ga[g], gb[g]);
			skipped++;
		}
	}
	if (dev)
		npu_close(dev);
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
