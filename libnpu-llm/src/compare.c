// SPDX-License-Identifier: MIT
/* A device's next-token distributions against the float model's. */
#include <math.h>

#include "llm_internal.h"

int npu_llm_argmax(const float *v, int n)
{
	int i, best = 0;

	for (i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return best;
}

double npu_llm_cosine(const float *a, const float *b, int n)
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

/* Log softmax, a value at a time: log p[i] is v[i] - max - lse. */
struct log_softmax {
	double max, lse;
};

static struct log_softmax log_softmax(const float *v, int n)
{
	struct log_softmax ls = { v[npu_llm_argmax(v, n)], 0 };
	double sum = 0;
	int i;

	for (i = 0; i < n; i++)
		sum += exp(v[i] - ls.max);
	ls.lse = log(sum);
	return ls;
}

static double log_p(const struct log_softmax *ls, float v)
{
	return v - ls->max - ls->lse;
}

int npu_llm_compare_add(struct npu_llm_compare *s, const float *ref, const float *dev, int vocab,
			int32_t next)
{
	struct log_softmax r = log_softmax(ref, vocab), d = log_softmax(dev, vocab);
	double kl = 0;
	int i;

	/* KL(float || device): what the device's distribution loses. */
	for (i = 0; i < vocab; i++)
		kl += exp(log_p(&r, ref[i])) * (log_p(&r, ref[i]) - log_p(&d, dev[i]));
	s->kl_sum += kl;
	s->top1_agree += npu_llm_argmax(ref, vocab) == npu_llm_argmax(dev, vocab);
	if (next >= 0) {
		s->nll_ref -= log_p(&r, ref[next]);
		s->nll_dev -= log_p(&d, dev[next]);
	}
	s->positions++;
	return NPU_OK;
}

