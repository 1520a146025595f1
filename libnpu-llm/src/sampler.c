// SPDX-License-Identifier: MIT
/*
 * The sampler chain: repetition penalty, greedy or top-k, temperature,
 * min-p, top-p, a draw. No step sorts the vocabulary: top-k selects in
 * linear expected time, top-p takes tokens off a heap, most likely first,
 * only until their mass is reached, and a draw without top-p walks the
 * candidates as they lie (the vocabulary's order without top-k). Tokens of
 * equal probability rank by id, so a draw is a function of the logits and
 * the seed alone.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"

struct cand {
	float p;	/* a logit, then exp((logit - max) / T) */
	int32_t i;
};

struct npu_llm_sampler {
	struct npu_llm_sampler_params p;
	int32_t vocab;
	uint64_t rng;
	struct cand *c;
	float *penalized;	/* the logits after the penalty */
	int32_t *recent;	/* the last repeat_last_n tokens, a ring */
	int n_recent, at;
	unsigned char *seen;	/* scratch: a token penalized once */
};

void npu_llm_sampler_defaults(struct npu_llm_sampler_params *p)
{
	memset(p, 0, sizeof(*p));
	p->top_p = 1.0f;
	p->repeat_penalty = 1.0f;
	p->repeat_last_n = 64;
	p->seed = 1;
}

int npu_llm_sampler_create(const struct npu_llm_sampler_params *p, int32_t vocab_size,
			   npu_llm_sampler **out)
{
	struct npu_llm_sampler *s;
	struct npu_llm_sampler_params d;

	if (!p) {
		npu_llm_sampler_defaults(&d);
		p = &d;
	}
	/* Written to be false for NaN too. */
	if (vocab_size < 1 || !(p->temperature >= 0) || p->top_k < 0 || !(p->top_p > 0) ||
	    !(p->top_p <= 1) || !(p->min_p >= 0) || !(p->min_p <= 1) ||
	    !(p->repeat_penalty > 0) || p->repeat_last_n < 0 || !isfinite(p->temperature) ||
	    !isfinite(p->repeat_penalty))
		return NPU_E_INVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NPU_E_NOMEM;
	s->p = *p;
	s->vocab = vocab_size;
	s->rng = p->seed ? p->seed : 1;
	s->c = malloc((size_t)vocab_size * sizeof(*s->c));
	s->penalized = malloc((size_t)vocab_size * sizeof(*s->penalized));
	s->seen = calloc((size_t)vocab_size, 1);
	/* + 1: a window of 0 still allocates. */
	s->recent = calloc((size_t)p->repeat_last_n + 1, sizeof(*s->recent));
	if (!s->c || !s->penalized || !s->seen || !s->recent) {
		npu_llm_sampler_free(s);
		return NPU_E_NOMEM;
	}
	*out = s;
	return NPU_OK;
}

void npu_llm_sampler_free(npu_llm_sampler *s)
{
	if (!s)
		return;
	free(s->c);
	free(s->penalized);
	free(s->seen);
	free(s->recent);
	free(s);
}

void npu_llm_sampler_accept(npu_llm_sampler *s, int32_t token)
{
	if (!s->p.repeat_last_n || token < 0 || token >= s->vocab)
		return;
	s->recent[s->at] = token;
	s->at = (s->at + 1) % s->p.repeat_last_n;
	if (s->n_recent < s->p.repeat_last_n)
		s->n_recent++;
}

/* xorshift64*, a double in [0, 1). */
static double uniform(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (double)((*s * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0;
}

/* @a ranks before @b: more likely, or as likely and a smaller id. */
static int before(const struct cand *a, const struct cand *b)
{
	return a->p > b->p || (a->p == b->p && a->i < b->i);
}

/* Move c[k] down the heap of @n whose top ranks first. */
static void sift(struct cand *c, int32_t n, int32_t k)
{
	struct cand t = c[k];
	int32_t j;

	for (; (j = 2 * k + 1) < n; k = j) {
		if (j + 1 < n && before(&c[j + 1], &c[j]))
			j++;
		if (!before(&c[j], &t))
			break;
		c[k] = c[j];
	}
	c[k] = t;
}

/* Partition c[lo..hi] so that its @k first rank before the rest (quickselect). */
static void select_top(struct cand *c, int32_t n, int32_t k)
{
	int32_t lo = 0, hi = n - 1;

	while (lo < hi) {
		struct cand pivot = c[lo + (hi - lo) / 2], t;
		int32_t i = lo, j = hi;

		while (i <= j) {
			while (before(&c[i], &pivot))
				i++;
			while (before(&pivot, &c[j]))
				j--;
			if (i <= j) {
				t = c[i];
				c[i++] = c[j];
				c[j--] = t;
			}
		}
		if (k - 1 <= j)
			hi = j;
		else if (k - 1 >= i)
			lo = i;
		else
			break;
	}
}

/* The logits with the repetition penalty on the recent tokens, each once. */
static const float *penalize(npu_llm_sampler *s, const float *logits)
{
	float r = s->p.repeat_penalty;
	int k;

	if (r == 1.0f || !s->n_recent)
		return logits;
	memcpy(s->penalized, logits, (size_t)s->vocab * sizeof(*logits));
	for (k = 0; k < s->n_recent; k++) {
		int32_t t = s->recent[k];

		if (s->seen[t])
			continue;
		s->seen[t] = 1;
		s->penalized[t] = s->penalized[t] > 0 ? s->penalized[t] / r : s->penalized[t] * r;
	}
	for (k = 0; k < s->n_recent; k++)
		s->seen[s->recent[k]] = 0;
	return s->penalized;
}

int llm_sampler_greedy(const npu_llm_sampler *s)
{
	return !s || (s->p.temperature <= 0 && s->p.repeat_penalty == 1.0f);
}

int32_t npu_llm_sampler_sample(npu_llm_sampler *s, const float *logits)
{
	const float *l = penalize(s, logits);
	struct cand *c = s->c;
	int32_t n = s->vocab, i, keep;
	double mx, sum = 0, cum = 0, u;

	if (s->p.temperature <= 0)
		return npu_llm_argmax(l, n);
	for (i = 0; i < n; i++)
		c[i] = (struct cand){ l[i], i };
	if (s->p.top_k > 0 && s->p.top_k < n) {
		select_top(c, n, s->p.top_k);
		n = s->p.top_k;
	}
	mx = c[0].p;
	for (i = 1; i < n; i++)
		mx = c[i].p > mx ? c[i].p : mx;
	for (i = 0; i < n; i++) {
		c[i].p = (float)exp((c[i].p - mx) / s->p.temperature);
		sum += c[i].p;
	}
	/* min-p: the most likely has p 1 here, so min_p itself is the bar. */
	if (s->p.min_p > 0) {
		for (i = 0, keep = 0, sum = 0; i < n; i++) {
			if (c[i].p < s->p.min_p)
				continue;
			c[keep++] = c[i];
			sum += c[i].p;
		}
		n = keep;
	}
	if (s->p.top_p < 1) {
		/* Off a heap, most likely first, until the mass reaches top_p. */
		for (i = n / 2 - 1; i >= 0; i--)
			sift(c, n, i);
		for (keep = 0; keep < n;) {
			struct cand top = c[0];

			c[0] = c[n - 1 - keep];
			sift(c, n - 1 - keep, 0);
			c[n - 1 - keep] = top;
			cum += top.p / sum;
			keep++;
			if (cum >= s->p.top_p)
				break;
		}
		/* The kept ones sit at the end, most likely last: walk them back. */
		u = uniform(&s->rng) * (cum > 0 ? cum : 1);
		for (i = 0, cum = 0; i < keep; i++) {
			cum += c[n - 1 - i].p / sum;
			if (u < cum)
				return c[n - 1 - i].i;
		}
		return c[n - keep].i;
	}
	u = uniform(&s->rng);
	for (i = 0; i < n; i++) {
		cum += c[i].p / sum;
		if (u < cum)
			return c[i].i;
	}
	return c[n - 1].i;
}
