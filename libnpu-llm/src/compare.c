// SPDX-License-Identifier: MIT
/* A device's next-token distributions against the float model's. */
#include <math.h>
#include <stdlib.h>

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

/* log softmax of v into out (double precision). */
static void log_softmax(const float *v, int n, double *out)
{
	double mx = v[npu_llm_argmax(v, n)], sum = 0, lse;
	int i;

	for (i = 0; i < n; i++)
		sum += exp(v[i] - mx);
	lse = log(sum);
	for (i = 0; i < n; i++)
		out[i] = v[i] - mx - lse;
}

int npu_llm_compare_add(struct npu_llm_compare *s, const float *ref, const float *dev, int vocab,
			int32_t next)
{
	double *lr = malloc((size_t)vocab * sizeof(double)), *ld = malloc((size_t)vocab * sizeof(double));
	double kl = 0;
	int i;

	if (!lr || !ld) {
		free(lr);
		free(ld);
		return NPU_E_NOMEM;
	}
	log_softmax(ref, vocab, lr);
	log_softmax(dev, vocab, ld);
	/* KL(float || device): what the device's distribution loses. */
	for (i = 0; i < vocab; i++)
		kl += exp(lr[i]) * (lr[i] - ld[i]);
	s->kl_sum += kl;
	s->top1_agree += npu_llm_argmax(ref, vocab) == npu_llm_argmax(dev, vocab);
	if (next >= 0) {
		s->nll_ref -= lr[next];
		s->nll_dev -= ld[next];
	}
	s->positions++;
	free(lr);
	free(ld);
	return NPU_OK;
}

