/* SPDX-License-Identifier: MIT */
/* npu-run's parts: its options (args.c), its run (main.c), its report (report.c). */
#ifndef NPU_RUN_H
#define NPU_RUN_H

#include <stdint.h>
#include <stdio.h>

#include <npu/llm.h>

/* Where an installed tree keeps models (the Makefile sets it from PREFIX). */
#ifndef NPU_MODEL_DIR
#define NPU_MODEL_DIR "/usr/local/share/npu/models"
#endif

struct args {
	const char *model, *tokenizer, *prompt, *device, *weights, *synthetic, *text;
	const char *reference;	/* --reference FILE, or NULL: --model's own floats */
	const char *model_found;	/* where the default model was found, else NULL */
	const char *system, *chat_template;	/* --chat's */
	int steps, compare, json, verbose, profile, threads, chat, ctx_size, prompt_given;
	int chunks;		/* --chunks N: --text compared N tokens at a time, or 0 */
	int norm_act;		/* --norm-act: enum npu_llm_norm_act */
	int burst;		/* --burst: greedy tokens a device job, 0 automatic */
	struct npu_llm_sampler_params sampling;
};

/* Everything a run found, for the report. */
struct results {
	struct npu_llm_model_info model;
	const char *backend, *device_name;	/* "float" and a description without a device */
	struct npu_llm_stats gen;
	int32_t *tokens;	/* the prompt's, then those generated */
	int n_tokens;
	char *text;		/* the prompt's and the generated text */
	size_t text_len;
	uint64_t ctx_bytes, packed_bytes;
	struct npu_llm_ctx_size size;	/* the context the model may have */
	int positions;		/* the context's */
	int cache_positions;	/* those its caches hold: without --ctx-size, what the run uses */
	/* --compare */
	struct npu_llm_compare own, given;
	double *layer_cos;	/* --verbose: per layer, summed over own.positions */
	int greedy;		/* the text was greedy: its divergence was looked for */
	int first_divergence;	/* generated token where greedy float text differs, or -1 */
	/* --profile */
	uint64_t prof_ns[NPU_LLM_OPCODES], prof_count[NPU_LLM_OPCODES];
};

/* 0, or the exit status of bad arguments (2, after one line on stderr). */
int parse_args(int argc, char **argv, struct args *a);
/* "npu-run: WHAT 'VALUE': WHY (see --help)": returns 2. */
int bad(const char *what, const char *value, const char *why);
/* @s escaped as libnpu's loaders escape a path, cut after @cut bytes. */
void put_escaped(FILE *f, const char *s, size_t cut, char quote);

void report_text(const struct args *a, const struct results *r);
/* "context: N positions (file F; device allows D)". */
void report_context(const struct results *r);
/* --chat: a conversation on stdin and stdout, then its summary; the exit status. */
int chat(const struct args *a, npu_llm_model *m, npu_llm_ctx *c, struct results *r);
void report_json(const struct args *a, const struct results *r);

#endif
