// SPDX-License-Identifier: MIT
/*
 * npu-run --chat: a conversation on the terminal. A line of stdin is a
 * user's turn, the reply streams to stdout; the templates, the history in
 * the KV cache and a full context are libnpu-llm's (npu_llm_chat_*).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npu-run.h"

struct turns {
	int n, *prompt;		/* each turn's prompt tokens evaluated */
	int generated;
	double decode_s;	/* seconds of decoding after each turn's first token */
	int decoded;		/* tokens those seconds drew */
};

static int on_token(void *user, int32_t token, const char *text)
{
	(void)user;
	(void)token;
	fputs(text, stdout);
	fflush(stdout);
	return 0;
}

/* One turn: fitted, evaluated and answered; 0, or 1 after saying why. */
static int turn(const struct args *a, npu_llm_chat *ch, npu_llm_ctx *c, npu_llm_sampler *s,
		const char *line, struct turns *t)
{
	int positions = npu_llm_ctx_positions(c), *p, ret;
	struct npu_llm_chat_fit fit;
	struct npu_llm_stats st;

	ret = npu_llm_chat_add(ch, line, a->steps, &fit);
	if (ret == NPU_E_RANGE) {
		fprintf(stderr, "npu-run: %s: the message is dropped\n", npu_llm_ctx_error(c));
		return 0;
	}
	if (!ret && fit.full && fit.dropped)
		fprintf(stderr, "npu-run: the context is full (%d positions): going on from the "
			"start without the %d oldest messages%s, %d tokens evaluated again\n",
			positions, fit.dropped, a->system ? " (the system prompt kept)" : "",
			fit.tokens);
	else if (!ret && fit.full)
		fprintf(stderr, "npu-run: the context is full (%d positions): the conversation "
			"is evaluated again from the start, %d tokens\n", positions, fit.tokens);
	ret = ret ? ret : npu_llm_chat_reply(ch, s, a->steps, on_token, NULL, &st);
	if (ret) {
		fprintf(stderr, "\nnpu-run: chat: %s\n", npu_llm_ctx_error(c)[0] ?
			npu_llm_ctx_error(c) : npu_strerror(ret));
		return 1;
	}
	printf("\n");
	fflush(stdout);		/* before the figures on stderr */
	p = realloc(t->prompt, (size_t)(t->n + 1) * sizeof(*p));
	if (!p) {
		fprintf(stderr, "npu-run: chat: %s\n", npu_strerror(NPU_E_NOMEM));
		return 1;
	}
	t->prompt = p;
	t->prompt[t->n++] = st.prompt_tokens;
	t->generated += st.generated_tokens;
	if (st.generated_tokens > 1) {
		t->decode_s += st.total_s - st.first_token_s;
		t->decoded += st.generated_tokens - 1;
	}
	if (a->verbose)
		fprintf(stderr, "[turn %d: %d prompt tokens evaluated from position %d, %d "
			"generated (%s); context %d of %d]\n", t->n, st.prompt_tokens, fit.start,
			st.generated_tokens, st.stop == NPU_LLM_STOP_EOG ? "end of turn" :
			st.stop == NPU_LLM_STOP_BOS ? "BOS" : "length", npu_llm_ctx_pos(c),
			positions);
	return 0;
}

static void summary(const struct args *a, const struct results *r, const char *tmpl,
		    const struct turns *t)
{
	int i;

	printf("\n---\n");
	printf("device %s (%s), weights %s, model ", r->backend, r->device_name, r->model.weights);
	put_escaped(stdout, a->model ? a->model : a->synthetic ? a->synthetic : "synthetic tiny",
		    256, 0);
	printf(" (vocab %d)\narchitecture %s\n", r->model.cfg.vocab_size, r->model.architecture);
	report_context(r);
	printf("chat: template %s, %d turn%s; prompt tokens evaluated per turn:", tmpl, t->n,
	       t->n == 1 ? "" : "s");
	for (i = 0; i < t->n; i++)
		printf(" %d", t->prompt[i]);
	printf("%s; generated %d tokens: decode %.1f tok/s; device memory %.2f MiB\n",
	       t->n ? "" : " none", t->generated, t->decode_s > 0 ? t->decoded / t->decode_s : 0,
	       (r->model.device_bytes + r->ctx_bytes) / 1048576.0);
}

int chat(const struct args *a, npu_llm_model *m, npu_llm_ctx *c, struct results *r)
{
	struct turns t = { 0 };
	npu_llm_sampler *s = NULL;
	npu_llm_chat *ch = NULL;
	const char *tmpl;
	char err[512], *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int status = 0, ret;

	if (npu_llm_chat_template_name(m, a->chat_template, &tmpl, err, sizeof(err))) {
		fprintf(stderr, "npu-run: %s\n", err);
		return 1;
	}
	ret = npu_llm_sampler_create(&a->sampling, r->model.cfg.vocab_size, &s);
	ret = ret ? ret : npu_llm_chat_create(c, tmpl, a->system, &ch);
	if (ret) {
		fprintf(stderr, "npu-run: chat: %s\n", npu_strerror(ret));
		npu_llm_sampler_free(s);
		return 1;
	}
	for (;;) {
		printf("> ");
		fflush(stdout);
		len = getline(&line, &cap, stdin);
		if (len < 0)
			break;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (!len)
			continue;
		status = turn(a, ch, c, s, line, &t);
		if (status)
			break;
	}
	if (!status)
		summary(a, r, tmpl, &t);
	free(line);
	free(t.prompt);
	npu_llm_chat_free(ch);
	npu_llm_sampler_free(s);
	return status;
}
