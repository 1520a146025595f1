// SPDX-License-Identifier: MIT
/* Comparing next-token distributions, and sampling from one. */
#include <math.h>
#include <stdlib.h>

#include "runner.h"

int argmax(const float *v, int n)
{
	int i, best = 0;

	for (i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return best;
}

double cosine(const float *a, const float *b, int n)
{
	double ab = 0, aa = 0, bb = 0;
	int i;

	for (i = 0; i < n; i++) {
		ab += (double)a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += (double)b[i] * b[i];
	}
	return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

/* log softmax of v into out (double precision). */
static void log_softmax(const float *v, int n, double *out)
{
	double mx = v[argmax(v, n)], sum = 0;
	int i;

	for (i = 0; i < n; i++)
		sum += exp(v[i] - mx);
	for (i = 0; i < n; i++)
		out[i] = v[i] - mx - log(sum);
}

void compare_add(struct compare_stats *s, const float *ref, const float *dev, int vocab,
		 int32_t next)
{
	double *lr = malloc((size_t)vocab * sizeof(double)), *ld = malloc((size_t)vocab * sizeof(double));
	double kl = 0;
	int i;

	if (!lr || !ld) {
		free(lr);
		free(ld);
		return;
	}
	log_softmax(ref, vocab, lr);
	log_softmax(dev, vocab, ld);
	/* KL(float || device): what the device's distribution loses. */
	for (i = 0; i < vocab; i++)
		kl += exp(lr[i]) * (lr[i] - ld[i]);
	s->kl_sum += kl;
	s->top1_agree += argmax(ref, vocab) == argmax(dev, vocab);
	if (next >= 0) {
		s->nll_ref -= lr[next];
		s->nll_dev -= ld[next];
	}
	s->positions++;
	free(lr);
	free(ld);
}

static double uniform(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (double)((*s * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0;
}

struct cand {
	float p;
	int i;
};

static int by_p(const void *a, const void *b)
{
	float x = ((const struct cand *)a)->p, y = ((const struct cand *)b)->p;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Greedy at temperature 0; else softmax(logits / T) cut to the top-p mass. */
int32_t sample(const float *logits, int vocab, float temperature, float topp, uint64_t *rng)
{
	struct cand *c;
	double mx, sum = 0, cum = 0, u;
	int i, n = 0;
	int32_t pick;

	if (temperature <= 0)
		return argmax(logits, vocab);
	c = malloc((size_t)vocab * sizeof(*c));
	if (!c)
		return argmax(logits, vocab);
	mx = logits[argmax(logits, vocab)];
	for (i = 0; i < vocab; i++) {
		c[i].p = (float)exp((logits[i] - mx) / temperature);
		c[i].i = i;
		sum += c[i].p;
	}
	qsort(c, (size_t)vocab, sizeof(*c), by_p);
	for (n = 0; n < vocab; n++) {
		cum += c[n].p / sum;
		if (cum >= topp) {
			n++;
			break;
		}
	}
	if (n > vocab)
		n = vocab;
	u = uniform(rng) * (cum > 0 ? cum : 1);
	pick = c[n - 1].i;
	for (i = 0, cum = 0; i < n; i++) {
		cum += c[i].p / sum;
		if (u < cum) {
			pick = c[i].i;
			break;
		}
	}
	free(c);
	return pick;
}
