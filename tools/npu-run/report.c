// SPDX-License-Identifier: MIT
/* npu-run's report of a run: text for a terminal, or one JSON object. */
#include <math.h>
#include <stdio.h>

#include "npu-run.h"

/* A path (stdout) is cut after this many bytes, as libnpu's loaders cut one. */
#define PATH_CHARS 256

/* The device time of each op over the run, largest first. */
static void print_profile(const struct results *r, int json)
{
	const uint64_t *ns = r->prof_ns, *count = r->prof_count;
	uint64_t total = 0;
	int order[NPU_LLM_OPCODES], n = 0, i, j;

	for (i = 0; i < NPU_LLM_OPCODES; i++) {
		total += ns[i];
		if (!count[i])
			continue;
		for (j = n++; j > 0 && ns[order[j - 1]] < ns[i]; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	if (json) {
		printf(", \"profile\": [");
		for (i = 0; i < n; i++)
			printf("%s{\"op\": \"%s\", \"count\": %llu, \"ns\": %llu}", i ? ", " : "",
			       npu_op_name((unsigned int)order[i]), (unsigned long long)count[order[i]],
			       (unsigned long long)ns[order[i]]);
		printf("]");
		return;
	}
	printf("device time by op (the NPU core's clock, every job of this run):\n");
	printf("  %-10s %8s %10s %9s %6s\n", "op", "count", "total ms", "mean us", "share");
	for (i = 0; i < n; i++) {
		int k = order[i];

		printf("  %-10s %8llu %10.2f %9.2f %5.1f%%\n", npu_op_name((unsigned int)k),
		       (unsigned long long)count[k], ns[k] / 1e6, ns[k] / 1e3 / count[k],
		       total ? 100.0 * ns[k] / total : 0);
	}
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* Mean figures of a comparison. */
static double mean(double sum, int n)
{
	return n ? sum / n : 0;
}

static void json_compare(const struct npu_llm_compare *c)
{
	printf("\"positions\": %d, \"top1_agreement\": %.4f, \"mean_kl\": %.6g"
	       ", \"ppl_float\": %.4f, \"ppl_device\": %.4f", c->positions,
	       mean(c->top1_agree, c->positions), mean(c->kl_sum, c->positions),
	       exp(mean(c->nll_ref, c->positions)), exp(mean(c->nll_dev, c->positions)));
}

void report_json(const struct args *a, const struct results *r)
{
	int i;

	printf("{\"device\": ");
	json_str(stdout, r->backend);
	printf(", \"weights\": \"%s\", \"model\": ", r->model.weights);
	json_str(stdout, a->model ? a->model : a->synthetic ? a->synthetic : "tiny");
	printf(", \"prompt_tokens\": %d, \"generated_tokens\": %d", r->gen.prompt_tokens,
	       r->gen.generated_tokens);
	printf(", \"prefill_tok_s\": %.2f, \"decode_tok_s\": %.2f", r->gen.prefill_tok_s,
	       r->gen.decode_tok_s);
	printf(", \"context_positions\": %d, \"context_file\": %d, \"context_device\": %d",
	       r->positions, r->size.file, r->size.device);
	printf(", \"time_to_first_token_s\": %.4f, \"load_s\": %.3f", r->gen.first_token_s,
	       r->model.load_s);
	printf(", \"device_memory_bytes\": %llu",
	       (unsigned long long)(r->model.device_bytes + r->ctx_bytes));
	printf(", \"packed_weights_bytes\": %llu", (unsigned long long)r->packed_bytes);
	printf(", \"weight_count\": %llu, \"weight_device_bytes\": %llu",
	       (unsigned long long)r->model.weight_count,
	       (unsigned long long)r->model.device_bytes);
	printf(", \"decode_weight_bytes\": %llu, \"weight_types\": ",
	       (unsigned long long)r->model.weight_bytes);
	json_str(stdout, r->model.weight_types);
	printf(", \"tokens\": [");
	for (i = 0; i < r->n_tokens; i++)
		printf("%s%d", i ? ", " : "", r->tokens[i]);
	printf("], \"text\": ");
	json_str(stdout, r->text ? r->text : "");
	if (a->compare) {
		if (r->layer_cos) {
			printf(", \"layer_cosine\": [");
			for (i = 0; i < r->model.cfg.n_layers; i++)
				printf("%s%.6f", i ? ", " : "", mean(r->layer_cos[i], r->own.positions));
			printf("]");
		}
		printf(", \"compare\": {\"reference\": ");
		json_str(stdout, a->reference ? a->reference : "own");
		printf(", ");
		json_compare(&r->own);
		if (r->greedy)
			printf(", \"first_divergence\": %d", r->first_divergence);
		else
			printf(", \"first_divergence\": null");
		if (a->text) {
			printf(", \"text\": {");
			json_compare(&r->given);
			if (a->chunks)
				printf(", \"chunks\": %d", a->chunks);
			printf("}");
		}
		printf("}");
	}
	if (a->profile)
		print_profile(r, 1);
	printf("}\n");
}

/* After "what N positions": the figures, to the line's end. */
static void text_compare(const struct npu_llm_compare *c)
{
	printf(": top-1 agreement %.1f%%, mean KL %.3g, perplexity float %.3f"
	       " / device %.3f\n", 100 * mean(c->top1_agree, c->positions),
	       mean(c->kl_sum, c->positions), exp(mean(c->nll_ref, c->positions)),
	       exp(mean(c->nll_dev, c->positions)));
}

void report_context(const struct results *r)
{
	const struct npu_llm_ctx_size *z = &r->size;

	printf("context: %d positions (file %d", r->positions, z->file);
	if (z->window)
		printf("; its sliding window %d", z->window);
	if (z->device)
		printf("; device allows %d%s", z->device,
		       z->device == z->attention ? ": its attention limit" : ": its address space");
	printf(")");
	if (r->cache_positions && r->cache_positions < r->positions)
		printf(", the caches hold the %d this run uses", r->cache_positions);
	printf("\n");
}

void report_text(const struct args *a, const struct results *r)
{
	const struct npu_model_config *c = &r->model.cfg;
	int i;

	printf("\n---\n");
	printf("device %s (%s), weights %s, model ", r->backend, r->device_name, r->model.weights);
	put_escaped(stdout, a->model ? a->model : a->synthetic ? a->synthetic : "synthetic tiny",
		    PATH_CHARS, 0);
	printf(" (vocab %d)\narchitecture %s\n", c->vocab_size, r->model.architecture);
	if (r->model.weight_types[0] || r->model.device_bytes)
		printf("weights: %s%s%.2f bits per weight on the device; decode reads %.2f MiB of"
		       " them per token\n", r->model.weight_types,
		       r->model.weight_types[0] ? "; " : "",
		       r->model.weight_count ? r->model.device_bytes * 8.0 / r->model.weight_count :
					       0, r->model.weight_bytes / 1048576.0);
	report_context(r);
	printf("prompt %d tokens: prefill %.1f tok/s; generated %d tokens: decode %.1f tok/s;"
	       " first token after %.1f ms; load %.2f s; device memory %.2f MiB"
	       " (and %.2f MiB of packed weights)\n",
	       r->gen.prompt_tokens, r->gen.prefill_tok_s, r->gen.generated_tokens,
	       r->gen.decode_tok_s, r->gen.first_token_s * 1e3, r->model.load_s,
	       (r->model.device_bytes + r->ctx_bytes) / 1048576.0, r->packed_bytes / 1048576.0);
	if (a->compare) {
		printf("vs float%s%s, teacher-forced on these %d positions",
		       a->reference ? " " : "", a->reference ? a->reference : "", r->own.positions);
		text_compare(&r->own);
		if (!r->greedy)
			printf("greedy float text: not compared (the device's text was sampled)\n");
		else if (r->first_divergence < 0)
			printf("greedy float text: identical to the device's over %d tokens\n",
			       r->gen.generated_tokens);
		else
			printf("greedy float text: first differs at generated token %d\n",
			       r->first_divergence);
		for (i = 0; r->layer_cos && i < c->n_layers; i++)
			printf("layer %d output: mean cosine similarity %.6f\n", i,
			       mean(r->layer_cos[i], r->own.positions));
		if (a->text) {
			if (a->chunks)
				printf("on the given text (%d positions: the second halves of its "
				       "%d-token chunks)", r->given.positions, a->chunks);
			else
				printf("on the given text (%d positions)", r->given.positions);
			text_compare(&r->given);
		}
	}
	if (a->profile)
		print_profile(r, 0);
}
