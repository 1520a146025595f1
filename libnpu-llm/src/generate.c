// SPDX-License-Identifier: MIT
/* Generating text on a context, and teacher-forcing one against the float model. */
#include <stdlib.h>

#include "llm_internal.h"

int npu_llm_generate(npu_llm_ctx *c, npu_llm_sampler *s, const int32_t *prompt, int n_prompt,
		     int max_tokens, npu_llm_token_fn fn, void *user, struct npu_llm_stats *stats)
{
	const npu_llm_model *m = npu_llm_ctx_model(c);
	struct npu_llm_stats st = { 0 };
	int32_t prev, next;
	int room, ret, i;
	double t0;
	char bb[2];

	if (n_prompt < 1 || max_tokens < 0)
		return NPU_E_INVAL;
	prev = prompt[n_prompt - 1];
	/* Prompt and text drawn fit the cache (the last token drawn is not evaluated). */
	room = npu_llm_ctx_positions(c) - npu_llm_ctx_pos(c) - n_prompt;
	max_tokens = max_tokens < room ? max_tokens : room;
	for (i = 0; i < n_prompt; i++)
		npu_llm_sampler_accept(s, prompt[i]);
	t0 = llm_now();
	ret = npu_llm_eval(c, prompt, n_prompt);
	st.prompt_tokens = n_prompt;
	st.prefill_s = llm_now() - t0;
	while (!ret && st.generated_tokens < max_tokens) {
		next = npu_llm_sampler_sample(s, npu_llm_logits(c));
		if (!st.generated_tokens)
			st.first_token_s = llm_now() - t0;
		if (next == 1)
			break;	/* BOS ends a story */
		npu_llm_sampler_accept(s, next);
		st.generated_tokens++;
		if (fn && fn(user, next, npu_llm_token_text(m, prev, next, bb)))
			break;
		prev = next;
		if (st.generated_tokens < max_tokens)
			ret = npu_llm_eval(c, &next, 1);
	}
	st.total_s = llm_now() - t0;
	st.prefill_tok_s = st.prefill_s > 0 ? n_prompt / st.prefill_s : 0;
	st.decode_tok_s = st.generated_tokens > 1 ?
			  (st.generated_tokens - 1) / (st.total_s - st.first_token_s) : 0;
	if (stats)
		*stats = st;
	return ret;
}

int npu_llm_teacher_force(npu_llm_ctx *dev, npu_llm_ctx *ref, const int32_t *seq, int n,
			  struct npu_llm_compare *s, double *layer_cos)
{
	const struct npu_model_config *c = &npu_llm_model_host(npu_llm_ctx_model(dev))->cfg;
	float *hd = layer_cos ? malloc((size_t)c->dim * 2 * sizeof(float)) : NULL;
	int pos, ret, l;

	if (layer_cos && !hd)
		return NPU_E_NOMEM;
	ret = npu_llm_ctx_rewind(dev, 0);
	ret = ret ? ret : npu_llm_ctx_rewind(ref, 0);
	for (pos = 0; pos + 1 < n && !ret; pos++) {
		ret = npu_llm_eval(dev, &seq[pos], 1);
		ret = ret ? ret : npu_llm_eval(ref, &seq[pos], 1);
		ret = ret ? ret : npu_llm_compare_add(s, npu_llm_logits(ref), npu_llm_logits(dev),
						      c->vocab_size, seq[pos + 1]);
		for (l = 0; !ret && layer_cos && l < c->n_layers; l++) {
			ret = npu_llm_trace(dev, l, hd);
			ret = ret ? ret : npu_llm_trace(ref, l, hd + c->dim);
			if (!ret)
				layer_cos[l] += npu_llm_cosine(hd, hd + c->dim, c->dim);
		}
	}
	free(hd);
	return ret;
}
