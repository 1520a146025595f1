// SPDX-License-Identifier: MIT
/*
 * npu-run - run a Llama-style model on the NPU and say what quantization
 * cost: generate text through libnpu-llm (any device, or the float
 * reference), then compare the device with the float model position by
 * position. Its steps: load, generate, compare, report, over one results
 * struct.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../progress.h"
#include "npu-run.h"

struct run {
	struct args a;
	struct results r;
	npu_device *dev;
	npu_llm_model *m;
	npu_llm_model *ref_m;	/* --reference's model, on no device, or NULL */
	npu_llm_ctx *ctx, *ref;	/* the run's context; with --compare, the float one */
	const struct npu_tokenizer *tok;
	struct npu_info info;	/* the report's names point into it */
	const char *fallback;	/* why "auto" did not open the NPU it found, or "" */
	int32_t *ttok, tn;	/* --text, encoded */
	size_t text_cap;
	int out_of_memory;	/* the text could not be kept */
};

/*
 * The most text bytes one token of @tok's encodings stands for, or 0 when
 * there is no such bound. Encoding starts from symbols that each stand for
 * no more bytes than their piece is long (a code point's own piece, the
 * dummy space, which stands for none, a byte token for one byte), and a
 * merge's piece is the two pieces joined: so a token stands for at most
 * its piece's length, the longest piece. Unless a byte token's piece is
 * empty: then byte tokens can merge into a token of any length of text.
 */
static size_t bytes_per_token(const struct npu_tokenizer *tok)
{
	size_t longest = 0, len;
	int32_t i;

	for (i = 0; i < tok->vocab_size; i++) {
		len = strlen(tok->pieces[i]);
		if (!len && i >= 3 && i < 259)
			return 0;
		longest = len > longest ? len : longest;
	}
	return longest;
}

/*
 * Encode @text (@what: "the prompt" or "--text") into *@out, refusing it
 * when it leaves fewer than @room of the @ctx positions: before encoding
 * when its bytes alone prove that (see bytes_per_token; BOS stands for
 * none), else by its count.
 */
static int encode_fitting(const struct npu_tokenizer *tok, const char *what, const char *text,
			  int ctx, int room, int32_t **out, int32_t *n)
{
	size_t bytes = strlen(text), per = bytes_per_token(tok);
	long long at_least = per ? 1 + (long long)((bytes + per - 1) / per) : 1;
	const char *none = room ? ": none left to generate" : "";
	int ret;

	*n = 0;
	if (at_least + room > ctx) {
		fprintf(stderr, "npu-run: %s is at least %lld tokens (%zu bytes), the context holds "
			"%d%s\n", what, at_least, bytes, ctx, at_least > ctx ? "" : none);
		return 1;
	}
	/* Room for the whole encoding (BOS, the dummy space, a token a byte): its true count. */
	*out = calloc(bytes + 3 > (size_t)ctx + 1 ? bytes + 3 : (size_t)ctx + 1, sizeof(**out));
	if (!*out) {
		fprintf(stderr, "npu-run: %s: %s\n", what, npu_strerror(NPU_E_NOMEM));
		return 1;
	}
	ret = npu_tokenizer_encode(tok, text, 1, *out, (int32_t)(bytes + 3), n);
	if (ret) {
		fprintf(stderr, "npu-run: encoding %s: %s\n", what, npu_strerror(ret));
		return 1;
	}
	if (*n + room > ctx) {
		fprintf(stderr, "npu-run: %s is %d tokens, the context holds %d%s\n", what, *n, ctx,
			*n > ctx ? "" : none);
		return 1;
	}
	return 0;
}

/* Open the device (unless float) and load the model onto it. */
static int load(struct run *run)
{
	struct args *a = &run->a;
	struct npu_llm_model_params mp = {
		.tokenizer = a->tokenizer, .weights = a->weights, .synthetic = a->synthetic,
		.seed = a->sampling.seed, .progress = tool_progress,
	};
	char err[1024] = "", threads[8];	/* a loader's error: the path alone may take 260 */
	int ret;

	if (a->threads) {
		snprintf(threads, sizeof(threads), "%d", a->threads);
		setenv("NPU_THREADS", threads, 1);
	}
	run->r.backend = "float";
	run->r.device_name = "float32 in plain C";
	if (strcmp(a->device, "float")) {
		ret = npu_open(a->device, &run->dev);
		if (ret) {
			fprintf(stderr, "npu-run: device '%s': %s%s%s%s\n", a->device,
				npu_strerror(ret), npu_open_reason()[0] ? " (" : "",
				npu_open_reason(), npu_open_reason()[0] ? ")" : "");
			return 1;
		}
		/* "auto" found an NPU it could not use: why it runs elsewhere. */
		run->fallback = npu_open_reason();
		npu_query(run->dev, &run->info);
		run->r.backend = run->info.backend;
		run->r.device_name = run->info.name;
	}
	ret = npu_llm_model_load(run->dev, a->model, &mp, &run->m, err, sizeof(err));
	if (ret == NPU_E_INVAL && !strncmp(err, "weights ", 8)) {
		char what[64];

		snprintf(what, sizeof(what), "--%s", err);
		return bad(what, NULL, NULL);
	}
	if (ret) {
		fprintf(stderr, "npu-run: %s\n", err);
		return 1;
	}
	npu_llm_model_info(run->m, &run->r.model);
	run->tok = npu_llm_model_tokenizer(run->m);
	return 0;
}

/* What a newcomer would not guess: said once the run is set up (an error stays one line). */
static void notes(const struct run *run)
{
	const struct args *a = &run->a;
	const char *note;

	if (a->model_found)
		fprintf(stderr, "npu-run: no --model: using %s (from %s)\n", a->model, a->model_found);
	else if (!a->model && !a->synthetic)
		fprintf(stderr, "npu-run: no --model, and no stories260K.bin in $NPU_MODELS, "
			"../shared/models or %s: running the synthetic model, whose random weights "
			"print noise\n", NPU_MODEL_DIR);
	for (note = run->r.model.weight_note; *note; note += strcspn(note, "\n")) {
		note += *note == '\n';
		fprintf(stderr, "npu-run: %.*s\n", (int)strcspn(note, "\n"), note);
	}
	if (run->fallback && run->fallback[0])
		fprintf(stderr, "npu-run: %s\n", run->fallback);
	if (a->model && run->r.model.tokenizer_source == NPU_LLM_TOKENIZER_BYTES &&
	    run->r.model.tokenizer_note[0])
		fprintf(stderr, "npu-run: no --tokenizer, and the one beside the model was passed "
			"over (%s): its text prints as byte tokens (<extraN>)\n",
			run->r.model.tokenizer_note);
	else if (a->model && run->r.model.tokenizer_source == NPU_LLM_TOKENIZER_BYTES)
		fprintf(stderr, "npu-run: no --tokenizer, and no tok%d.bin or tokenizer.bin beside "
			"the model: its text prints as byte tokens (<extraN>)\n",
			run->r.model.cfg.vocab_size);
}

/*
 * The context the run may have: --ctx-size, else the model's context or
 * what the device allows, the fewer.
 */
static int size_context(struct run *run)
{
	struct results *r = &run->r;
	int ret = npu_llm_ctx_size(run->m, &r->size);

	if (ret) {
		fprintf(stderr, "npu-run: sizing the context: %s\n", npu_strerror(ret));
		return 1;
	}
	if (run->a.ctx_size > r->size.file) {
		char why[64];

		snprintf(why, sizeof(why), "the model's context is %d positions", r->size.file);
		char v[16];

		snprintf(v, sizeof(v), "%d", run->a.ctx_size);
		return bad("--ctx-size", v, why);
	}
	r->positions = run->a.ctx_size ? run->a.ctx_size : r->size.positions;
	return 0;
}

/* --burst on the run's context (a device's: --device float refuses it). */
static int set_burst(struct run *run, char err[512])
{
	int ret = run->a.burst ? npu_llm_ctx_set_burst(run->ctx, run->a.burst) : NPU_OK;

	if (ret)
		snprintf(err, 512, "--burst %d: %s", run->a.burst, npu_strerror(ret));
	return ret;
}

/* --chat: its context has all the positions the run may have. */
static int run_chat(struct run *run)
{
	struct npu_llm_ctx_params cp = { .positions = run->r.positions, .profile = run->a.profile,
					 .norm_act = run->a.norm_act };
	char err[512];

	if (npu_llm_ctx_create(run->m, &cp, &run->ctx, err, sizeof(err)) || set_burst(run, err)) {
		fprintf(stderr, "npu-run: %s\n", err);
		return 1;
	}
	notes(run);
	run->r.ctx_bytes = npu_llm_ctx_device_bytes(run->ctx);
	return chat(&run->a, run->m, run->ctx, &run->r);
}

/*
 * --text for --chunks: encoded whole as llama_tokenize() with its special
 * tokens does (llama-perplexity's way), at least one chunk of it.
 */
static int encode_chunks(struct run *run, int seq)
{
	const char *text = run->a.text;
	size_t bytes = strlen(text);
	int32_t n = 0;
	int ret;

	if (run->a.chunks > seq) {
		fprintf(stderr, "npu-run: --chunks %d: the context holds %d\n", run->a.chunks, seq);
		return 1;
	}
	if (bytes > INT32_MAX - 3) {
		fprintf(stderr, "npu-run: --text: %zu bytes, too long\n", bytes);
		return 1;
	}
	run->ttok = calloc(bytes + 3, sizeof(*run->ttok));
	ret = run->ttok ? npu_tokenizer_tokenize(run->tok, text, bytes, NPU_TOKENIZE_ADD_SPECIAL,
						 run->ttok, (int32_t)(bytes + 3), &n) : NPU_E_NOMEM;
	if (ret) {
		fprintf(stderr, "npu-run: encoding --text: %s\n", npu_strerror(ret));
		return 1;
	}
	if (n > (int32_t)(bytes + 3)) {	/* no tokenizer makes more than a token a byte */
		fprintf(stderr, "npu-run: encoding --text: %d tokens from %zu bytes\n", n, bytes);
		return 1;
	}
	run->tn = n;
	if (n < run->a.chunks) {
		fprintf(stderr, "npu-run: --text is %d tokens, shorter than one chunk (%d)\n", n,
			run->a.chunks);
		return 1;
	}
	return 0;
}

/* Encode the prompt (and --text), and make the contexts the run needs. */
static int prepare(struct run *run, int32_t **tokens, int32_t *n_prompt)
{
	const struct args *a = &run->a;
	int seq = run->r.positions, steps = a->steps < seq ? a->steps : seq, end;
	struct npu_llm_ctx_params cp = {
		.trace = a->verbose && a->compare, .profile = a->profile, .norm_act = a->norm_act,
	};
	char err[512];
	int ret;

	if (encode_fitting(run->tok, "the prompt", a->prompt, seq, 1, tokens, n_prompt))
		return 1;
	if (a->compare && a->text && !a->chunks &&
	    encode_fitting(run->tok, "--text", a->text, seq, 0, &run->ttok, &run->tn))
		return 1;
	if (a->chunks && encode_chunks(run, seq))
		return 1;
	/* The positions this run uses, all its caches hold: not the whole context unless asked. */
	end = *n_prompt + steps < seq ? *n_prompt + steps : seq;
	cp.positions = a->ctx_size ? a->ctx_size : run->tn > end ? run->tn : end;
	if (a->chunks && !a->ctx_size)
		cp.positions = a->chunks > end ? a->chunks : end;
	ret = npu_llm_ctx_create(run->m, &cp, &run->ctx, err, sizeof(err));
	ret = ret ? ret : set_burst(run, err);
	if (!ret && a->reference) {
		struct npu_llm_model_params mp = { .tokenizer = a->tokenizer };

		ret = npu_llm_model_load(NULL, a->reference, &mp, &run->ref_m, err, sizeof(err));
	}
	if (!ret && a->compare) {
		cp = (struct npu_llm_ctx_params){ .positions = cp.positions, .reference = 1 };
		ret = npu_llm_ctx_create(run->ref_m ? run->ref_m : run->m, &cp, &run->ref, err,
					 sizeof(err));
	}
	if (ret) {
		fprintf(stderr, "npu-run: %s\n", err);
		return 1;
	}
	return 0;
}

/* The text so far grows by @s (for --json). */
static int add_text(struct run *run, const char *s)
{
	struct results *r = &run->r;
	size_t n = strlen(s);
	char *t;

	if (r->text_len + n + 1 > run->text_cap) {
		run->text_cap = (r->text_len + n + 1) * 2;
		t = realloc(r->text, run->text_cap);
		if (!t)
			return 1;
		r->text = t;
	}
	memcpy(r->text + r->text_len, s, n + 1);
	r->text_len += n;
	return 0;
}

/* Each token drawn: kept, and shown as it comes (not with --json). */
static int on_token(void *user, int32_t token, const char *text)
{
	struct run *run = user;

	run->r.tokens[run->r.n_tokens++] = token;
	if (!run->a.json) {
		fputs(text, stdout);
		fflush(stdout);
	}
	run->out_of_memory = add_text(run, text);
	return run->out_of_memory;
}

static int generate(struct run *run)
{
	struct results *r = &run->r;
	npu_llm_sampler *s;
	char bb[2];
	int i, ret;

	ret = npu_llm_sampler_create(&run->a.sampling, r->model.cfg.vocab_size, &s);
	if (ret) {
		fprintf(stderr, "npu-run: sampler: %s\n", npu_strerror(ret));
		return 1;
	}
	for (i = 1; i < r->n_tokens; i++)
		ret = ret ? ret : add_text(run, npu_llm_token_text(run->m, r->tokens[i - 1],
								  r->tokens[i], bb));
	if (!run->a.json && r->text) {
		fputs(r->text, stdout);
		fflush(stdout);
	}
	ret = ret ? NPU_E_NOMEM : npu_llm_generate(run->ctx, s, r->tokens, r->n_tokens,
						   run->a.steps, on_token, run, &r->gen);
	npu_llm_sampler_free(s);
	if (!ret && run->out_of_memory)
		ret = NPU_E_NOMEM;
	if (ret) {
		fprintf(stderr, "\nnpu-run: forward pass failed: %s\n",
			npu_llm_ctx_error(run->ctx)[0] ? npu_llm_ctx_error(run->ctx) :
			npu_strerror(ret));
		return 1;
	}
	return 0;
}

/*
 * --text compared as llama-perplexity does: whole chunks of --chunks
 * tokens, each run from position 0 with its first token made BOS when the
 * vocabulary adds one, the next-token distributions compared over the
 * chunk's second half (from position N/2 to the one before the last).
 */
static int compare_chunks(struct run *run)
{
	int n = run->a.chunks, first = n / 2, vocab = run->r.model.cfg.vocab_size, c, i, ret = 0;
	int32_t bos = npu_tokenizer_special(run->tok, NPU_TOKEN_BOS), *t;

	for (c = 0; !ret && c < run->tn / n; c++) {
		t = run->ttok + (size_t)c * n;
		/*
		 * llama-perplexity's BOS over the chunk's first token (left so:
		 * no chunk reads another's) when the vocabulary adds one, as
		 * the text's first token (without parsed specials) shows.
		 */
		if (c && bos >= 0 && run->ttok[0] == bos)
			t[0] = bos;
		ret = npu_llm_ctx_rewind(run->ctx, 0);
		ret = ret ? ret : npu_llm_ctx_rewind(run->ref, 0);
		ret = ret ? ret : npu_llm_eval(run->ctx, t, first + 1);
		ret = ret ? ret : npu_llm_eval(run->ref, t, first + 1);
		for (i = first; !ret && i < n - 1; i++) {
			ret = npu_llm_compare_add(&run->r.given, npu_llm_logits(run->ref),
						  npu_llm_logits(run->ctx), vocab, t[i + 1]);
			if (!ret && i + 1 < n - 1) {
				ret = npu_llm_eval(run->ctx, &t[i + 1], 1);
				ret = ret ? ret : npu_llm_eval(run->ref, &t[i + 1], 1);
			}
		}
	}
	return ret;
}

/*
 * The device against the float model: teacher-forced on the device's own
 * tokens and on --text, and where the float model's greedy text parts
 * from the device's.
 */
static int compare(struct run *run)
{
	struct results *r = &run->r;
	int n_prompt = r->gen.prompt_tokens, fn = n_prompt, layers = r->model.cfg.n_layers;
	int32_t next;
	int ret;

	r->first_divergence = -1;
	if (run->a.verbose) {
		r->layer_cos = calloc((size_t)layers, sizeof(*r->layer_cos));
		if (!r->layer_cos) {
			fprintf(stderr, "npu-run: compare: %s\n", npu_strerror(NPU_E_NOMEM));
			return 1;
		}
	}
	ret = npu_llm_teacher_force(run->ctx, run->ref, r->tokens, r->n_tokens, &r->own,
				    r->layer_cos);
	/* Greedy texts only: a sampled one parts from the float model's by chance. */
	r->greedy = run->a.sampling.temperature == 0 && run->a.sampling.repeat_penalty == 1;
	if (!ret && r->greedy) {
		ret = npu_llm_ctx_rewind(run->ref, 0);
		ret = ret ? ret : npu_llm_eval(run->ref, r->tokens, n_prompt);
	}
	while (!ret && r->greedy && fn < r->n_tokens) {
		next = npu_llm_argmax(npu_llm_logits(run->ref), r->model.cfg.vocab_size);
		if (next != r->tokens[fn]) {
			r->first_divergence = fn - n_prompt;
			break;
		}
		ret = npu_llm_eval(run->ref, &next, 1);
		fn++;
	}
	if (!ret && run->a.text)
		ret = run->a.chunks ? compare_chunks(run) :
			npu_llm_teacher_force(run->ctx, run->ref, run->ttok, run->tn, &r->given,
					      NULL);
	if (ret) {
		const char *why = npu_llm_ctx_error(run->ctx)[0] ? npu_llm_ctx_error(run->ctx) :
				  npu_llm_ctx_error(run->ref);

		fprintf(stderr, "npu-run: compare: %s\n", why[0] ? why : npu_strerror(ret));
		return 1;
	}
	return 0;
}

/* The text of the prompt: generated, compared, reported. */
static int run_text(struct run *run)
{
	struct results *r = &run->r;
	struct npu_memory mem;
	int status = prepare(run, &r->tokens, &r->n_tokens);

	if (!status) {
		notes(run);
		status = generate(run);
	}
	if (!status && run->a.compare)
		status = compare(run);
	if (status)
		return status;
	r->ctx_bytes = npu_llm_ctx_device_bytes(run->ctx);
	r->cache_positions = npu_llm_ctx_positions(run->ctx);
	r->packed_bytes = run->dev && !npu_memory_usage(run->dev, &mem) ? mem.packed : 0;
	if (run->a.profile)
		npu_llm_profile(run->ctx, r->prof_ns, r->prof_count);
	if (run->a.json)
		report_json(&run->a, r);
	else
		report_text(&run->a, r);
	return 0;
}

int main(int argc, char **argv)
{
	struct run run = { 0 };
	struct results *r = &run.r;
	int status;

	status = parse_args(argc, argv, &run.a);
	if (status)
		return status;
	status = load(&run);
	status = status ? status : size_context(&run);
	if (!status)
		status = run.a.chat ? run_chat(&run) : run_text(&run);
	npu_llm_ctx_free(run.ctx);
	npu_llm_ctx_free(run.ref);
	npu_llm_model_free(run.ref_m);
	npu_llm_model_free(run.m);
	if (run.dev)
		npu_close(run.dev);
	free(r->tokens);
	free(r->text);
	free(r->layer_cos);
	free(run.ttok);
	return status;
}
