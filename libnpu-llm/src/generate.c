// SPDX-License-Identifier: MIT
/* Generating text on a context, and teacher-forcing one against the float model. */
#include <stdio.h>
#include <stdlib.h>

#include "llm_internal.h"

/* A burst's pace sets the next one's size: about this long on the device. */
#define BURST_S 0.008

/*
 * The next burst of greedy steps: npu_llm_ctx_set_burst()'s size, else a
 * power of two up to twice the last (@n), as many as @pace (seconds a
 * step took in it) fits in BURST_S; never more than @left.
 */
static int burst_next(npu_llm_ctx *c, int n, double pace, int left)
{
	int fixed, max = llm_ctx_burst(c, &fixed), k;

	if (!fixed) {
		for (k = 1; k * 2 <= 2 * n && k * 2 <= max && k * 2 * pace <= BURST_S; k *= 2)
			;
		max = k;
	}
	return max < left ? max : left;
}

/*
 * A burst ran past a stop: back to where one job per token would be, at
 * @pos with @last (the last token drawn, or the one before the burst)
 * evaluated again for its logits.
 */
static int burst_trim(npu_llm_ctx *c, int pos, int32_t last)
{
	int ret = npu_llm_ctx_rewind(c, pos);

	return ret ? ret : npu_llm_eval(c, &last, 1);
}

int npu_llm_generate(npu_llm_ctx *c, npu_llm_sampler *s, const int32_t *prompt, int n_prompt,
		     int max_tokens, npu_llm_token_fn fn, void *user, struct npu_llm_stats *stats)
{
	const npu_llm_model *m = npu_llm_ctx_model(c);
	const struct npu_tokenizer *tok = npu_llm_model_tokenizer(m);
	int32_t bos = npu_tokenizer_special(tok, NPU_TOKEN_BOS);
	struct npu_llm_stats st = { .stop = NPU_LLM_STOP_LENGTH };
	int32_t picks[NPU_LLM_BURST_MAX], prev, next;
	int room, ret, i, fixed, n = 1, kept, pos0;
	int burst = llm_sampler_greedy(s) && llm_ctx_burst(c, &fixed) > 0;
	double t0, t1, pace = 0;
	char bb[2];

	if (n_prompt < 1 || max_tokens < 0) {
		llm_ctx_error(c, "generating %d tokens after %d: want a prompt and 0 or more",
			      max_tokens, n_prompt);
		return NPU_E_INVAL;
	}
	prev = prompt[n_prompt - 1];
	/* Each token drawn is evaluated: the prompt and they fit the cache. */
	room = npu_llm_ctx_positions(c) - npu_llm_ctx_pos(c) - n_prompt;
	max_tokens = max_tokens < room ? max_tokens : room;
	for (i = 0; s && i < n_prompt; i++)
		npu_llm_sampler_accept(s, prompt[i]);
	t0 = llm_now();
	ret = npu_llm_eval(c, prompt, n_prompt);
	st.prompt_tokens = n_prompt;
	st.prefill_s = llm_now() - t0;
	while (!ret && st.generated_tokens < max_tokens && st.stop == NPU_LLM_STOP_LENGTH) {
		/* Greedy on a device: a burst of steps picked and run there. */
		pos0 = npu_llm_ctx_pos(c);
		if (burst) {
			n = burst_next(c, st.generated_tokens ? n : 0, pace,
				       max_tokens - st.generated_tokens);
			t1 = llm_now();
			ret = llm_ctx_greedy(c, n, picks);
			pace = (llm_now() - t1) / n;
		} else {
			picks[0] = s ? npu_llm_sampler_sample(s, npu_llm_logits(c)) :
				       npu_llm_argmax(npu_llm_logits(c), llm_model_cfg(m)->vocab_size);
		}
		for (kept = 0; !ret && kept < n && st.stop == NPU_LLM_STOP_LENGTH; kept++) {
			next = picks[kept];
			if (next == bos || npu_tokenizer_is_eog(tok, next)) {
				/* BOS ends a llama2.c story; EOS, end of turn and the like any text. */
				st.stop = next == bos ? NPU_LLM_STOP_BOS : NPU_LLM_STOP_EOG;
				break;
			}
			if (!st.generated_tokens)
				st.first_token_s = llm_now() - t0;
			if (s)
				npu_llm_sampler_accept(s, next);
			st.generated_tokens++;
			if (fn && fn(user, next, npu_llm_token_text(m, prev, next, bb)))
				st.stop = NPU_LLM_STOP_CALLBACK;
			prev = next;
		}
		/* A drawn token is evaluated, a stop's end of text is not. */
		if (!ret && !burst && kept)
			ret = npu_llm_eval(c, &prev, 1);
		else if (!ret && burst && kept < n)
			ret = burst_trim(c, pos0 + kept - 1, prev);
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
	const struct npu_model_config *c = llm_model_cfg(npu_llm_ctx_model(dev));
	const struct npu_model_config *rc = llm_model_cfg(npu_llm_ctx_model(ref));
	float *hd;
	int pos, ret, l;

	/* Another model (a quantized file's float original) must read the same tokens. */
	if (rc->vocab_size != c->vocab_size || rc->dim != c->dim || rc->n_layers != c->n_layers) {
		llm_ctx_error(dev, "teacher forcing: the reference model has vocabulary %d, dim %d, "
			      "%d layers; the device's %d, %d, %d", rc->vocab_size, rc->dim,
			      rc->n_layers, c->vocab_size, c->dim, c->n_layers);
		return NPU_E_INVAL;
	}
	if (layer_cos && !llm_ctx_traces(dev)) {
		llm_ctx_error(dev, "teacher forcing: layer outputs need a context made with trace");
		return NPU_E_INVAL;
	}
	hd = layer_cos ? malloc((size_t)c->dim * 2 * sizeof(float)) : NULL;
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
