// SPDX-License-Identifier: MIT
/*
 * npu-run - run a Llama-style model on the NPU and say what quantization
 * cost: generate text through libnpu (any device, or the float reference),
 * then compare the device with the float model position by position.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runner.h"

struct args {
	const char *model, *tokenizer, *prompt, *device, *weights, *synthetic, *text;
	int steps, compare, json, verbose, profile;
	float temperature, topp;
	uint64_t seed;
	int bits, group;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: npu-run [options]\n"
		"  --model FILE        llama2.c checkpoint or GGUF v3 file (default: a synthetic model)\n"
		"  --tokenizer FILE    llama2.c tokenizer (default: a GGUF file's own, else byte tokens)\n"
		"  --synthetic SHAPE   tiny | 15m | 110m | 1b (default tiny, without --model)\n"
		"  --prompt TEXT       the prompt (default \"Once upon a time\")\n"
		"  --steps N           tokens to generate, 1..seq_len (default 64)\n"
		"  --temperature T     0 = greedy (default 0)\n"
		"  --topp P            nucleus sampling mass, (0, 1] (default 0.9)\n"
		"  --seed S            sampling seed (default 42)\n"
		"  --device D          auto | accel | usb | cpu | float (default auto)\n"
		"  --weights W         w8 | w4g32 | w4g64 | w4g128 | native (default: native for\n"
		"                      a GGUF file with Q8_0/Q4_0 matrices, which keeps them as\n"
		"                      they are; w8 otherwise)\n"
		"  --compare           compare the device with the float model\n"
		"  --text TEXT         with --compare: also teacher-force this text\n"
		"  --json              print one JSON object instead of text\n"
		"  --verbose           with --compare: cosine similarity of each layer's output\n"
		"  --profile           device time and count of each op (by the NPU core's clock)\n"
		"  --help\n");
}

static int bad(const char *fmt, const char *v)
{
	fprintf(stderr, "npu-run: ");
	fprintf(stderr, fmt, v);
	fprintf(stderr, " (see --help)\n");
	return 2;
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno || *end || end == s || *out < lo || *out > hi;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "model", 1, 0, 'm' }, { "tokenizer", 1, 0, 'k' }, { "prompt", 1, 0, 'p' },
		{ "steps", 1, 0, 'n' }, { "temperature", 1, 0, 't' }, { "topp", 1, 0, 'P' },
		{ "seed", 1, 0, 's' }, { "device", 1, 0, 'd' }, { "weights", 1, 0, 'w' },
		{ "compare", 0, 0, 'c' }, { "json", 0, 0, 'j' }, { "synthetic", 1, 0, 'S' },
		{ "text", 1, 0, 'x' }, { "verbose", 0, 0, 'v' }, { "profile", 0, 0, 'r' },
		{ "help", 0, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	char *end;
	long v;
	int c;

	memset(a, 0, sizeof(*a));
	a->prompt = "Once upon a time";
	a->device = "auto";
	a->steps = 64;
	a->topp = 0.9f;
	a->seed = 42;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm': a->model = optarg; break;
		case 'k': a->tokenizer = optarg; break;
		case 'p': a->prompt = optarg; break;
		case 'S': a->synthetic = optarg; break;
		case 'x': a->text = optarg; break;
		case 'd': a->device = optarg; break;
		case 'w': a->weights = optarg; break;
		case 'c': a->compare = 1; break;
		case 'j': a->json = 1; break;
		case 'v': a->verbose = 1; break;
		case 'r': a->profile = 1; break;
		case 'n':
			if (parse_int(optarg, 1, 1 << 20, &v))
				return bad("--steps '%s': want an integer >= 1", optarg);
			a->steps = (int)v;
			break;
		case 't':
			a->temperature = strtof(optarg, &end);
			if (*end || !(a->temperature >= 0 && a->temperature <= 100))
				return bad("--temperature '%s': want 0..100", optarg);
			break;
		case 'P':
			a->topp = strtof(optarg, &end);
			if (*end || !(a->topp > 0 && a->topp <= 1))
				return bad("--topp '%s': want (0, 1]", optarg);
			break;
		case 's':
			errno = 0;
			a->seed = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg)
				return bad("--seed '%s': want an unsigned integer", optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	if (!a->weights) {
		a->bits = 0;	/* decided by the model file */
	} else if (!strcmp(a->weights, "native")) {
		a->bits = -1;
	} else if (!strcmp(a->weights, "w8")) {
		a->bits = 8;
	} else if (!strcmp(a->weights, "w4g32") || !strcmp(a->weights, "w4g64") ||
		   !strcmp(a->weights, "w4g128")) {
		a->bits = 4;
		a->group = atoi(a->weights + 3);
	} else {
		return bad("--weights '%s': want w8, w4g32, w4g64, w4g128 or native", a->weights);
	}
	if (strcmp(a->device, "auto") && strcmp(a->device, "accel") && strcmp(a->device, "usb") &&
	    strcmp(a->device, "cpu") && strcmp(a->device, "float"))
		return bad("--device '%s': want auto, accel, usb, cpu or float", a->device);
	if (a->model && a->synthetic)
		return bad("%s", "--model and --synthetic exclude each other");
	if (a->profile && !strcmp(a->device, "float"))
		return bad("%s", "--profile times device ops: not with --device float");
	if (a->compare && !strcmp(a->device, "float"))
		return bad("%s", "--compare compares a device with float: pick a device");
	return 0;
}

/* The model's next-token logits: the float reference or the device. */
struct runner {
	struct npu_engine *dev;
	struct ref_engine *ref;
};

/* GGUF files start with their magic; llama2.c checkpoints with a dim. */
static int is_gguf(const char *path)
{
	FILE *f = fopen(path, "rb");
	char magic[4] = "";
	size_t n = 0;

	if (f) {
		n = fread(magic, 1, 4, f);
		fclose(f);
	}
	return n == 4 && !memcmp(magic, "GGUF", 4);
}

/* The device time of each op over the run, largest first. */
static void print_profile(const struct npu_engine *e, int json)
{
	uint64_t ns[64], count[64], total = 0;
	int order[64], n = 0, i, j;

	engine_profile(e, ns, count);
	for (i = 0; i < 64; i++) {
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

static int step(struct runner *r, const int32_t *tokens, int n, int pos, float *logits)
{
	int i, err = 0;

	if (r->dev)
		return engine_forward(r->dev, tokens, n, pos, logits);
	for (i = 0; i < n && !err; i++)
		err = ref_forward(r->ref, tokens[i], pos + i, logits);
	return err;
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

/* Per layer, the mean cosine similarity of device and float outputs. */
struct layer_cos {
	int layers, dim, positions;
	double *sum;
};

/* Teacher-force @seq on both: stats per position, into @s (and @lc). */
static int compare_seq(struct npu_engine *dev, struct ref_engine *ref, const int32_t *seq, int n,
		       int vocab, struct compare_stats *s, struct layer_cos *lc)
{
	float *ld = malloc((size_t)vocab * sizeof(float)), *lr = malloc((size_t)vocab * sizeof(float));
	float *h = lc ? malloc((size_t)lc->dim * sizeof(float)) : NULL;
	int pos, err = 0, l;

	if (!ld || !lr) {
		free(ld);
		free(lr);
		return NPU_E_NOMEM;
	}
	for (pos = 0; pos + 1 < n && !err; pos++) {
		err = engine_forward(dev, &seq[pos], 1, pos, ld);
		if (!err)
			err = ref_forward(ref, seq[pos], pos, lr);
		if (!err)
			compare_add(s, lr, ld, vocab, seq[pos + 1]);
		for (l = 0; !err && lc && h && l < lc->layers; l++) {
			engine_trace(dev, l, h);
			lc->sum[l] += cosine(h, ref_trace(ref, l), lc->dim);
		}
		if (lc)
			lc->positions++;
	}
	free(ld);
	free(lr);
	free(h);
	return err;
}

int main(int argc, char **argv)
{
	struct args a;
	struct npu_model m;
	struct npu_tokenizer tok;
	struct npu_info info = { 0 };
	struct runner run = { 0 };
	npu_device *dev = NULL;
	char err[256] = "";
	int32_t *tokens = NULL, n_prompt = 0, n = 0, next, prev;
	float *logits = NULL;
	double t0, t_load, t_first = 0, t_prefill = 0, t_end;
	struct compare_stats own = { 0 }, text = { 0 };
	struct layer_cos lc = { 0 };
	int first_divergence = -1, gguf, ret, i;
	char bb[2];
	uint64_t rng;

	ret = parse_args(argc, argv, &a);
	if (ret)
		return ret;
	t0 = now_s();
	gguf = a.model && is_gguf(a.model);
	if (gguf)
		ret = npu_model_load_gguf(a.model, &m, a.tokenizer ? NULL : &tok, err, sizeof(err));
	else if (a.model)
		ret = npu_model_load(a.model, &m, err, sizeof(err));
	else
		ret = npu_model_synthetic(a.synthetic ? a.synthetic : "tiny", a.seed, &m, err,
					  sizeof(err));
	if (ret) {
		fprintf(stderr, "npu-run: model: %s\n", err[0] ? err : npu_strerror(ret));
		return 1;
	}
	if (a.tokenizer)
		ret = npu_tokenizer_load(a.tokenizer, m.cfg.vocab_size, &tok, err, sizeof(err));
	else if (!gguf)
		ret = npu_tokenizer_bytes(m.cfg.vocab_size, &tok);
	if (!ret && !a.bits) {
		a.bits = m.native ? -1 : 8;
		a.weights = m.native ? "native" : "w8";
	} else if (!ret && a.bits < 0 && !m.native) {
		fprintf(stderr, "npu-run: --weights native: the model has no quantized matrices\n");
		npu_tokenizer_free(&tok);
		npu_model_free(&m);
		return 2;
	}
	if (ret) {
		fprintf(stderr, "npu-run: tokenizer: %s\n", err[0] ? err : npu_strerror(ret));
		npu_model_free(&m);
		return 1;
	}
	if (a.steps > m.cfg.seq_len)
		a.steps = m.cfg.seq_len;
	tokens = calloc((size_t)m.cfg.seq_len + 1, sizeof(*tokens));
	logits = calloc((size_t)m.cfg.vocab_size, sizeof(*logits));
	if (!tokens || !logits)
		return 1;
	ret = npu_tokenizer_encode(&tok, a.prompt, 1, tokens, m.cfg.seq_len, &n_prompt);
	if (ret || n_prompt >= m.cfg.seq_len) {
		fprintf(stderr, "npu-run: the prompt does not fit the model's %d positions\n",
			m.cfg.seq_len);
		return 1;
	}

	if (strcmp(a.device, "float")) {
		struct engine_opts eo = { a.bits, a.group, a.verbose && a.compare, a.profile };

		ret = npu_open(a.device, &dev);
		if (ret) {
			fprintf(stderr, "npu-run: device '%s': %s\n", a.device, npu_strerror(ret));
			return 1;
		}
		npu_query(dev, &info);
		ret = engine_create(dev, &m, &eo, &run.dev, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "npu-run: %s\n", err);
			return 1;
		}
	}
	if (!run.dev || a.compare) {
		ret = ref_create(&m, &run.ref);
		if (ret) {
			fprintf(stderr, "npu-run: float reference: %s\n", npu_strerror(ret));
			return 1;
		}
	}
	t_load = now_s() - t0;

	/* Prefill the prompt, then generate one token at a time. */
	rng = a.seed ? a.seed : 1;
	t0 = now_s();
	ret = step(&run, tokens, n_prompt, 0, logits);
	t_prefill = now_s() - t0;
	n = n_prompt;
	if (!a.json) {
		for (i = 1; i < n_prompt; i++)
			fputs(npu_tokenizer_piece(&tok, tokens[i - 1], tokens[i], bb), stdout);
		fflush(stdout);
	}
	while (!ret && n < n_prompt + a.steps && n < m.cfg.seq_len) {
		next = sample(logits, m.cfg.vocab_size, a.temperature, a.topp, &rng);
		if (n == n_prompt)
			t_first = now_s() - t0;
		if (next == 1)
			break;	/* BOS ends a story */
		prev = tokens[n - 1];
		tokens[n++] = next;
		if (!a.json) {
			fputs(npu_tokenizer_piece(&tok, prev, next, bb), stdout);
			fflush(stdout);
		}
		if (n < n_prompt + a.steps && n < m.cfg.seq_len)
			ret = step(&run, &next, 1, n - 1, logits);
	}
	t_end = now_s() - t0;
	if (ret) {
		fprintf(stderr, "\nnpu-run: forward pass failed: %s\n", npu_strerror(ret));
		return 1;
	}

	if (a.compare) {
		float *lr = malloc((size_t)m.cfg.vocab_size * sizeof(float));
		int32_t *ftok = calloc((size_t)m.cfg.seq_len + 1, sizeof(*ftok)), fn = n_prompt;
		struct ref_engine *ref2;

		/* Teacher-forced on the device's own tokens. */
		if (a.verbose) {
			lc.layers = m.cfg.n_layers;
			lc.dim = m.cfg.dim;
			lc.sum = calloc((size_t)lc.layers, sizeof(double));
		}
		ret = compare_seq(run.dev, run.ref, tokens, n, m.cfg.vocab_size, &own,
				  lc.sum ? &lc : NULL);
		/* The float model's own greedy text: where does it part from the device's? */
		if (!ret && lr && ftok && !ref_create(&m, &ref2)) {
			memcpy(ftok, tokens, (size_t)n_prompt * sizeof(*ftok));
			for (i = 0; i < n_prompt && !ret; i++)
				ret = ref_forward(ref2, ftok[i], i, lr);
			while (!ret && fn < n) {
				ftok[fn] = argmax(lr, m.cfg.vocab_size);
				if (ftok[fn] != tokens[fn]) {
					first_divergence = fn - n_prompt;
					break;
				}
				ret = ref_forward(ref2, ftok[fn], fn, lr);
				fn++;
			}
			ref_destroy(ref2);
		}
		if (!ret && a.text) {
			int32_t tn = 0;

			ret = npu_tokenizer_encode(&tok, a.text, 1, ftok, m.cfg.seq_len, &tn);
			if (!ret)
				ret = compare_seq(run.dev, run.ref, ftok, tn, m.cfg.vocab_size, &text,
						  NULL);
		}
		free(lr);
		free(ftok);
		if (ret) {
			fprintf(stderr, "npu-run: compare: %s\n", npu_strerror(ret));
			return 1;
		}
	}

	{
		int gen = n - n_prompt;
		double decode_tps = gen > 1 ? (gen - 1) / (t_end - t_first) : 0;
		double prefill_tps = t_prefill > 0 ? n_prompt / t_prefill : 0;
		const char *devname = run.dev ? info.backend : "float";
		uint64_t bytes = run.dev ? engine_device_bytes(run.dev) : 0;
		uint64_t packed = run.dev ? engine_packed_bytes(run.dev) : 0;

		if (a.json) {
			printf("{\"device\": ");
			json_str(stdout, devname);
			printf(", \"weights\": \"%s\", \"model\": ", run.dev ? a.weights : "f32");
			json_str(stdout, a.model ? a.model : a.synthetic ? a.synthetic : "tiny");
			printf(", \"prompt_tokens\": %d, \"generated_tokens\": %d", n_prompt, gen);
			printf(", \"prefill_tok_s\": %.2f, \"decode_tok_s\": %.2f", prefill_tps,
			       decode_tps);
			printf(", \"time_to_first_token_s\": %.4f, \"load_s\": %.3f", t_first, t_load);
			printf(", \"device_memory_bytes\": %llu", (unsigned long long)bytes);
			printf(", \"packed_weights_bytes\": %llu", (unsigned long long)packed);
			printf(", \"tokens\": [");
			for (i = 0; i < n; i++)
				printf("%s%d", i ? ", " : "", tokens[i]);
			printf("]");
			if (a.compare) {
				if (lc.sum) {
					printf(", \"layer_cosine\": [");
					for (i = 0; i < lc.layers; i++)
						printf("%s%.6f", i ? ", " : "", lc.sum[i] / lc.positions);
					printf("]");
				}
				printf(", \"compare\": {\"positions\": %d, \"top1_agreement\": %.4f"
				       ", \"mean_kl\": %.6g, \"ppl_float\": %.4f, \"ppl_device\": %.4f"
				       ", \"first_divergence\": %d",
				       own.positions, (double)own.top1_agree / own.positions,
				       own.kl_sum / own.positions, exp(own.nll_ref / own.positions),
				       exp(own.nll_dev / own.positions), first_divergence);
				if (a.text)
					printf(", \"text\": {\"positions\": %d, \"top1_agreement\": %.4f"
					       ", \"mean_kl\": %.6g, \"ppl_float\": %.4f"
					       ", \"ppl_device\": %.4f}",
					       text.positions, (double)text.top1_agree / text.positions,
					       text.kl_sum / text.positions,
					       exp(text.nll_ref / text.positions),
					       exp(text.nll_dev / text.positions));
				printf("}");
			}
			if (a.profile)
				print_profile(run.dev, 1);
			printf("}\n");
		} else {
			printf("\n---\n");
			printf("device %s (%s), weights %s, model %s (dim %d, %d layers, vocab %d)\n",
			       devname, run.dev ? info.name : "float32 in plain C",
			       run.dev ? a.weights : "f32",
			       a.model ? a.model : a.synthetic ? a.synthetic : "synthetic tiny",
			       m.cfg.dim, m.cfg.n_layers, m.cfg.vocab_size);
			printf("prompt %d tokens: prefill %.1f tok/s; generated %d tokens: decode %.1f tok/s;"
			       " first token after %.1f ms; load %.2f s; device memory %.2f MiB"
			       " (and %.2f MiB of packed weights)\n",
			       n_prompt, prefill_tps, gen, decode_tps, t_first * 1e3, t_load,
			       bytes / 1048576.0, packed / 1048576.0);
			if (a.compare) {
				printf("vs float, teacher-forced on these %d positions: top-1 agreement %.1f%%,"
				       " mean KL %.3g, perplexity float %.3f / device %.3f\n",
				       own.positions, 100.0 * own.top1_agree / own.positions,
				       own.kl_sum / own.positions, exp(own.nll_ref / own.positions),
				       exp(own.nll_dev / own.positions));
				if (first_divergence < 0)
					printf("greedy float text: identical to the device's over %d tokens\n",
					       gen);
				else
					printf("greedy float text: first differs at generated token %d\n",
					       first_divergence);
				for (i = 0; lc.sum && i < lc.layers; i++)
					printf("layer %d output: mean cosine similarity %.6f\n", i,
					       lc.sum[i] / lc.positions);
				if (a.text)
					printf("on the given text (%d positions): top-1 agreement %.1f%%,"
					       " mean KL %.3g, perplexity float %.3f / device %.3f\n",
					       text.positions, 100.0 * text.top1_agree / text.positions,
					       text.kl_sum / text.positions,
					       exp(text.nll_ref / text.positions),
					       exp(text.nll_dev / text.positions));
			}
			if (a.profile)
				print_profile(run.dev, 0);
		}
	}
	engine_destroy(run.dev);
	ref_destroy(run.ref);
	if (dev)
		npu_close(dev);
	npu_tokenizer_free(&tok);
	npu_model_free(&m);
	free(tokens);
	free(logits);
	free(lc.sum);
	return 0;
}
