// SPDX-License-Identifier: MIT
/* npu-run's command line: every value checked, every mistake named in one line. */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "npu-run.h"

/* --steps: at most a context's worth, and the model loaders take 2^20. */
#define MAX_STEPS (1 << 20)
/* A value in an error is cut after this many bytes. */
#define VALUE_CHARS 64

static void usage(FILE *f)
{
	fprintf(f,
		"usage: npu-run [options]\n"
		"  -m, --model FILE      llama2.c checkpoint or GGUF v3 file (default: stories260K.bin\n"
		"                        from $NPU_MODELS, ../shared/models or " NPU_MODEL_DIR ",\n"
		"                        else the synthetic model, said so)\n"
		"      --tokenizer FILE  llama2.c tokenizer (default: a GGUF file's own, else\n"
		"                        tokenizer.bin or tok<vocab>.bin beside the model, else\n"
		"                        byte tokens, said so)\n"
		"      --synthetic SHAPE tiny | k256 | 15m | 110m | 1b | deep: random weights,\n"
		"                        noise for text\n"
		"  -p, --prompt TEXT     the prompt (default \"Once upon a time\")\n"
		"  -n, --steps N         tokens to generate, 1..1048576 (default 64; at most\n"
		"                        what the context leaves after the prompt)\n"
		"  -t, --temperature T   0 = greedy (default 0)\n"
		"      --top-k K         keep the K most likely, 0 = all (default 0)\n"
		"      --topp P          nucleus sampling mass, (0, 1] (default 0.9; also --top-p)\n"
		"      --min-p P         drop tokens below P times the most likely's, [0, 1]\n"
		"      --repeat-penalty R  penalize the last 64 tokens' logits, 1 = off (default 1)\n"
		"  -s, --seed S          sampling seed, and the synthetic model's (default 42)\n"
		"  -d, --device D        auto | accel | accelN | usb | cpu | float (default auto;\n"
		"                        NPU_DEVICE chooses for auto)\n"
		"      --threads N       the cpu backend's threads, 1..64 (default: one per CPU)\n"
		"      --burst N         greedy decoding: up to N tokens a device job, 1..16;\n"
		"                        0 = as many as about 8 ms holds (default 0)\n"
		"      --weights W       w8 | w4g32 | w4g64 | w4g128 | native (default: native for\n"
		"                        a GGUF file with quantized matrices (Q4_0..Q6_K), which\n"
		"                        keeps them as they are; w8 otherwise)\n"
		"      --ctx-size N      positions of the KV cache, up to the model's context\n"
		"                        (default: the model's context or what the device\n"
		"                        allows, the fewer; without --chat, the run's own)\n"
		"      --chat            a conversation: a line of stdin a turn, until EOF\n"
		"      --system TEXT     with --chat: the system prompt\n"
		"      --chat-template NAME  with --chat: the template (default: the model's):\n"
		"                        chatml, llama2, llama2-sys, llama2-sys-bos,\n"
		"                        llama2-sys-strip, llama3, phi3, phi4, gemma, zephyr,\n"
		"                        falcon3 or glmedge\n"
		"  -c, --compare         compare the device with the float model\n"
		"      --text TEXT       with --compare: also teacher-force this text\n"
		"      --chunks N        with --text: teacher-force it N tokens at a time,\n"
		"                        each chunk from position 0, its first token made\n"
		"                        BOS (as the vocabulary adds one), and compare\n"
		"                        only each chunk's second half, as llama-perplexity\n"
		"                        --kl-divergence -c N does (the text may outrun the\n"
		"                        context)\n"
		"      --reference FILE  with --compare: the float model to measure against is\n"
		"                        FILE's (the original of a quantized --model; same\n"
		"                        vocabulary and shape), not --model's own floats\n"
		"      --json            print one JSON object instead of text\n"
		"  -v, --verbose         with --compare: cosine similarity of each layer's output\n"
		"      --profile         device time and count of each op (by the NPU core's clock)\n"
		"      --norm-act A      the norms' outputs on the device: auto (int16 over a\n"
		"                        file's blocks, int8 over w8 and w4gN, whose\n"
		"                        kernels int16 slows), int8 or int16 (with 8-bit\n"
		"                        weights about half the KL against the float model)\n"
		"  -h, --help\n");
}

/*
 * @s for a line of output, escaped by the rules libnpu's loaders use for
 * a path: '\' and @quote (when not 0) after a '\', control and non-ASCII
 * bytes as \xNN; cut after @cut bytes of @s.
 */
void put_escaped(FILE *f, const char *s, size_t cut, char quote)
{
	size_t i;

	for (i = 0; s[i] && i < cut; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\\' || (quote && ch == (unsigned char)quote))
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
	if (s[i])
		fputs("...", f);
}

/* "npu-run: WHAT 'VALUE': WHY (see --help)": status 2, bad arguments. */
int bad(const char *what, const char *value, const char *why)
{
	fprintf(stderr, "npu-run: %s", what);
	if (value) {
		fputs(" '", stderr);
		put_escaped(stderr, value, VALUE_CHARS, '\'');
		fputc('\'', stderr);
	}
	fprintf(stderr, "%s%s (see --help)\n", why ? ": " : "", why ? why : "");
	return 2;
}

/* Decimal digits only: no sign, no blank, no base prefix. */
static int digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
	errno = 0;
	*out = digits(s) ? strtol(s, NULL, 10) : -1;
	return !digits(s) || errno || *out < lo || *out > hi;
}

static int parse_u64(const char *s, uint64_t *out)
{
	errno = 0;
	*out = digits(s) ? strtoull(s, NULL, 10) : 0;
	return !digits(s) || errno;
}

/*
 * A decimal number, all of @s, in [lo, hi] (lo itself only when @lo_in):
 * a digit or '.' first (no sign, blank, nan or inf), no hex. The range
 * holds the double strtod reads, before it is rounded to float: so
 * 1.00000001 is above 1. A positive value too small for a double (ERANGE
 * with a finite result) or for a float is still positive: at least the
 * smallest float.
 */
static int parse_float(const char *s, double lo, int lo_in, double hi, float *out)
{
	char *end;
	double d;

	if ((!isdigit((unsigned char)*s) && *s != '.') || strpbrk(s, "xX"))
		return 1;
	errno = 0;
	d = strtod(s, &end);
	if (*end || (errno && !isfinite(d)))
		return 1;
	if (errno && d == 0)
		d = DBL_TRUE_MIN;
	if (d < lo || (!lo_in && d == lo) || d > hi)
		return 1;
	*out = d > 0 && (float)d == 0 ? FLT_TRUE_MIN : (float)d;
	return 0;
}

/* A long option that takes no value, given one (--NAME=VALUE): its name, else NULL. */
static const char *given_value(const struct option *o, const char *word, int val)
{
	const char *eq = strchr(word, '=');
	size_t n;

	/* optopt is the option's val; @word, the last one read, must be that option. */
	if (strncmp(word, "--", 2) || !eq)
		return NULL;
	n = (size_t)(eq - word - 2);
	for (; o->name; o++)
		if (o->val == val && !o->has_arg && !strncmp(o->name, word + 2, n))
			return o->name;
	return NULL;
}

static const struct option opts[] = {
	{ "model", 1, 0, 'm' }, { "tokenizer", 1, 0, 'k' }, { "prompt", 1, 0, 'p' },
	{ "steps", 1, 0, 'n' }, { "temperature", 1, 0, 't' }, { "topp", 1, 0, 'P' },
	{ "top-p", 1, 0, 'P' }, { "top-k", 1, 0, 'K' }, { "min-p", 1, 0, 'M' },
	{ "repeat-penalty", 1, 0, 'R' }, { "seed", 1, 0, 's' }, { "device", 1, 0, 'd' },
	{ "threads", 1, 0, 'T' }, { "weights", 1, 0, 'w' }, { "compare", 0, 0, 'c' },
	{ "json", 0, 0, 'j' }, { "synthetic", 1, 0, 'S' }, { "text", 1, 0, 'x' },
	{ "verbose", 0, 0, 'v' }, { "profile", 0, 0, 'r' }, { "help", 0, 0, 'h' },
	{ "chat", 0, 0, 'C' }, { "system", 1, 0, 'y' }, { "chat-template", 1, 0, 'L' },
	{ "ctx-size", 1, 0, 'X' }, { "reference", 1, 0, 'F' }, { "chunks", 1, 0, 'N' },
	{ "norm-act", 1, 0, 'A' }, { "burst", 1, 0, 'B' },
	{ 0, 0, 0, 0 },
};
/* ":": getopt says nothing, each mistake gets one line of ours. */
static const char short_opts[] = ":m:p:n:t:s:d:cvh";

/* @v is one of our options (so the option before it lost its value). */
static int is_option(const char *v)
{
	const struct option *o;
	size_t n;

	if (v[0] != '-' || !v[1])
		return 0;
	if (v[1] != '-')
		return !v[2] && strchr(short_opts + 1, v[1]) && v[1] != ':';
	n = strcspn(v + 2, "=");
	for (o = opts; o->name; o++)
		if (n && !strncmp(o->name, v + 2, n))
			return 1;
	return 0;
}

static int regular_file(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode);
}

/* stories260K.bin where models are kept: into a->model, where into a->model_found. */
static void default_model(struct args *a)
{
	static char path[4096];
	const char *env = getenv("NPU_MODELS");
	const char *dirs[] = { env, "../shared/models", NPU_MODEL_DIR };
	const char *why[] = { "NPU_MODELS", "../shared/models", NPU_MODEL_DIR };
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (!dirs[i] || !dirs[i][0])
			continue;
		snprintf(path, sizeof(path), "%s/stories260K.bin", dirs[i]);
		if (regular_file(path)) {
			a->model = path;
			a->model_found = why[i];
			return;
		}
	}
}

/* auto, accel, accelN (digits only), usb, cpu, float. */
static int known_device(const char *d)
{
	if (!strncmp(d, "accel", 5) && d[5])
		return digits(d + 5) && strlen(d + 5) < 4;
	return !strcmp(d, "auto") || !strcmp(d, "accel") || !strcmp(d, "usb") ||
	       !strcmp(d, "cpu") || !strcmp(d, "float");
}

static int parse_weights(const char *w)
{
	return !strcmp(w, "native") || !strcmp(w, "w8") || !strcmp(w, "w4g32") ||
	       !strcmp(w, "w4g64") || !strcmp(w, "w4g128");
}

/* A chat template family's name (the library renders nothing for others). */
static int known_template(const char *name)
{
	char *none = NULL;
	int ok = !npu_llm_chat_apply(name, NULL, 0, 0, &none);

	free(none);
	return ok;
}

/* One option's value into @a; 0, or 2 after saying why. */
static int take(int c, const char *v, struct args *a)
{
	struct npu_llm_sampler_params *sp = &a->sampling;
	long n;

	switch (c) {
	case 'm': a->model = v; break;
	case 'k': a->tokenizer = v; break;
	case 'p':
		a->prompt = v;
		a->prompt_given = 1;
		break;
	case 'S': a->synthetic = v; break;
	case 'x': a->text = v; break;
	case 'F': a->reference = v; break;
	case 'd': a->device = v; break;
	case 'w': a->weights = v; break;
	case 'y': a->system = v; break;
	case 'L': a->chat_template = v; break;
	case 'A':
		if (!strcmp(v, "auto"))
			a->norm_act = NPU_LLM_NORM_AUTO;
		else if (!strcmp(v, "int8"))
			a->norm_act = NPU_LLM_NORM_INT8;
		else if (!strcmp(v, "int16"))
			a->norm_act = NPU_LLM_NORM_INT16;
		else
			return bad("--norm-act", v, "want auto, int8 or int16");
		break;
	case 'N':
		if (parse_int(v, 4, MAX_STEPS, &n))
			return bad("--chunks", v, "want an integer in 4..1048576");
		a->chunks = (int)n;
		break;
	case 'B':
		if (parse_int(v, 0, NPU_LLM_BURST_MAX, &n))
			return bad("--burst", v, "want an integer in 0..16");
		a->burst = (int)n;
		break;
	case 'X':
		if (parse_int(v, 1, MAX_STEPS, &n))
			return bad("--ctx-size", v, "want an integer in 1..1048576");
		a->ctx_size = (int)n;
		break;
	case 'n':
		if (parse_int(v, 1, MAX_STEPS, &n))
			return bad("--steps", v, "want an integer in 1..1048576");
		a->steps = (int)n;
		break;
	case 'T':
		if (parse_int(v, 1, 64, &n))
			return bad("--threads", v, "want an integer in 1..64");
		a->threads = (int)n;
		break;
	case 'K':
		if (parse_int(v, 0, 1 << 30, &n))
			return bad("--top-k", v, "want an integer in 0..1073741824");
		sp->top_k = (int)n;
		break;
	case 't':
		if (parse_float(v, 0, 1, 100, &sp->temperature))
			return bad("--temperature", v, "want a number in 0..100");
		break;
	case 'P':
		if (parse_float(v, 0, 0, 1, &sp->top_p))
			return bad("--topp", v, "want a number in (0, 1]");
		break;
	case 'M':
		if (parse_float(v, 0, 1, 1, &sp->min_p))
			return bad("--min-p", v, "want a number in 0..1");
		break;
	case 'R':
		if (parse_float(v, 0, 0, 100, &sp->repeat_penalty))
			return bad("--repeat-penalty", v, "want a number in (0, 100]");
		break;
	case 's':
		if (parse_u64(v, &sp->seed))
			return bad("--seed", v, "want an integer in 0..18446744073709551615");
		break;
	}
	return 0;
}

static const char *long_name(int val)
{
	const struct option *o;

	for (o = opts; o->name && o->val != val; o++)
		;
	return o->name ? o->name : "?";
}

/* A mistake getopt found: one line, status 2. */
static int mistake(int c, char **argv)
{
	const char *name;

	if (c == ':')
		return bad(argv[optind - 1], NULL, "wants a value");
	name = optopt ? given_value(opts, argv[optind - 1], optopt) : NULL;
	if (name) {
		char what[64];

		snprintf(what, sizeof(what), "option '--%s' takes no value", name);
		return bad(what, NULL, NULL);
	}
	if (optopt) {	/* a short option, perhaps one of several in one word */
		char o[3] = { '-', (char)optopt, 0 };

		return bad("unrecognized option", o, NULL);
	}
	return bad("unrecognized or ambiguous option", argv[optind - 1], NULL);
}

int parse_args(int argc, char **argv, struct args *a)
{
	int c, ret;

	memset(a, 0, sizeof(*a));
	a->prompt = "Once upon a time";
	a->device = "auto";
	a->steps = 64;
	npu_llm_sampler_defaults(&a->sampling);
	a->sampling.top_p = 0.9f;
	a->sampling.seed = 42;
	while ((c = getopt_long(argc, argv, short_opts, opts, NULL)) != -1) {
		switch (c) {
		case 'c': a->compare = 1; break;
		case 'j': a->json = 1; break;
		case 'v': a->verbose = 1; break;
		case 'r': a->profile = 1; break;
		case 'C': a->chat = 1; break;
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
		case '?':
			return mistake(c, argv);
		default:
			/* "--model --steps 5": --model's value is missing, not "--steps". */
			if (is_option(optarg)) {
				char what[64];

				snprintf(what, sizeof(what), "--%s wants a value, not the option",
					 long_name(c));
				return bad(what, optarg, NULL);
			}
			ret = take(c, optarg, a);
			if (ret)
				return ret;
		}
	}
	if (optind < argc)
		return bad("unexpected argument", argv[optind], NULL);
	if (a->weights && !parse_weights(a->weights))
		return bad("--weights", a->weights, "want w8, w4g32, w4g64, w4g128 or native");
	if (!known_device(a->device))
		return bad("--device", a->device, "want auto, accel, accelN, usb, cpu or float");
	if (a->model && a->synthetic)
		return bad("--model and --synthetic exclude each other", NULL, NULL);
	if (a->profile && !strcmp(a->device, "float"))
		return bad("--profile times device ops: not with --device float", NULL, NULL);
	if (a->burst && !strcmp(a->device, "float"))
		return bad("--burst sizes device jobs: not with --device float", NULL, NULL);
	if (a->compare && !strcmp(a->device, "float"))
		return bad("--compare compares a device with float: pick a device", NULL, NULL);
	if (a->chat && (a->compare || a->json || a->prompt_given))
		return bad(a->compare ? "--compare" : a->json ? "--json" : "--prompt", NULL,
			   "not with --chat (its prompts are stdin's lines)");
	if (!a->chat && (a->system || a->chat_template))
		return bad(a->system ? "--system" : "--chat-template", NULL, "only with --chat");
	if (a->chat_template && !known_template(a->chat_template)) {
		char why[256];

		snprintf(why, sizeof(why), "want one of %s", npu_llm_chat_names());
		return bad("--chat-template", a->chat_template, why);
	}
	if (!a->compare && a->text)
		return bad("--text", NULL, "only with --compare");
	if (a->chunks && !a->text)
		return bad("--chunks", NULL, "only with --text");
	if (!a->compare && a->reference)
		return bad("--reference", NULL, "only with --compare");
	if (!a->compare && !a->chat && a->verbose)
		return bad("--verbose", NULL, "only with --compare or --chat");
	if (!a->model && !a->synthetic)
		default_model(a);
	return 0;
}
