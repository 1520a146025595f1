// SPDX-License-Identifier: MIT
/*
 * npu-run - run a Llama-style model on the NPU and say what quantization
 * cost: generate text through libnpu (any device, or the float reference),
 * then compare the device with the float model position by position.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "runner.h"

/* --steps: at most a context's worth, and the model loaders take 2^20. */
#define MAX_STEPS (1 << 20)
/* A value in an error is cut after this many bytes; a path (stdout) after more, as libnpu's. */
#define VALUE_CHARS 64
#define PATH_CHARS 256

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
		"  --steps N           tokens to generate, 1..1048576 (default 64; at most\n"
		"                      what the context leaves after the prompt)\n"
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

/*
 * @s for a line of output, escaped by the rules libnpu's loaders use for
 * a path: '\' and @quote (when not 0) after a '\', control and non-ASCII
 * bytes as \xNN; cut after @cut bytes of @s.
 */
static void put_escaped(FILE *f, const char *s, size_t cut, char quote)
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
static int bad(const char *what, const char *value, const char *why)
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
	const char *name;
	long v;
	int c;

	memset(a, 0, sizeof(*a));
	a->prompt = "Once upon a time";
	a->device = "auto";
	a->steps = 64;
	a->topp = 0.9f;
	a->seed = 42;
	/* ":": getopt says nothing, each mistake gets one line of ours. */
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
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
			if (parse_int(optarg, 1, MAX_STEPS, &v))
				return bad("--steps", optarg, "want an integer in 1..1048576");
			a->steps = (int)v;
			break;
		case 't':
			if (parse_float(optarg, 0, 1, 100, &a->temperature))
				return bad("--temperature", optarg, "want a number in 0..100");
			break;
		case 'P':
			if (parse_float(optarg, 0, 0, 1, &a->topp))
				return bad("--topp", optarg, "want a number in (0, 1]");
			break;
		case 's':
			if (parse_u64(optarg, &a->seed))
				return bad("--seed", optarg, "want an integer in 0..18446744073709551615");
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			return bad(argv[optind - 1], NULL, "wants a value");
		default:
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
	}
	if (optind < argc)
		return bad("unexpected argument", argv[optind], NULL);
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
		return bad("--weights", a->weights, "want w8, w4g32, w4g64, w4g128 or native");
	}
	if (strcmp(a->device, "auto") && strcmp(a->device, "accel") && strcmp(a->device, "usb") &&
	    strcmp(a->device, "cpu") && strcmp(a->device, "float"))
		return bad("--device", a->device, "want auto, accel, usb, cpu or float");
	if (a->model && a->synthetic)
		return bad("--model and --synthetic exclude each other", NULL, NULL);
	if (a->profile && !strcmp(a->device, "float"))
		return bad("--profile times device ops: not with --device float", NULL, NULL);
	if (a->compare && !strcmp(a->device, "float"))
		return bad("--compare compares a device with float: pick a device", NULL, NULL);
	return 0;
}

/* The model's next-token logits: the float reference or the device. */
struct runner {
	struct npu_engine *dev;
	struct ref_engine *ref;
};

/*
 * GGUF files start with their magic; llama2.c checkpoints with a dim.
 * Only a regular file is opened (a FIFO would block, opening a device can
 * act), and it is looked at again once open, in case it was replaced. A
 * file that cannot be read, or is not regular, is left to the loader,
 * which refuses it the same way, with its path escaped.
 */
static int is_gguf(const char *path)
{
	char magic[4] = "";
	struct stat st;
	ssize_t n = 0;
	int fd;

	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return 0;
	if (!fstat(fd, &st) && S_ISREG(st.st_mode))
		n = read(fd, magic, 4);
	close(fd);
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

int main(int argc, char **argv)
{
	struct args a;
	struct npu_model m = { 0 };
	struct npu_tokenizer tok = { 0 };
	struct npu_info info = { 0 };
	struct runner run = { 0 };
	npu_device *dev = NULL;
	char err[1024] = "";	/* a loader's error: the path alone may take 260 */
	int32_t *tokens = NULL, *ttok = NULL, n_prompt = 0, n = 0, tn = 0, next, prev;
	float *logits = NULL;
	double t0, t_load, t_first = 0, t_prefill = 0, t_end;
	struct compare_stats own = { 0 }, text = { 0 };
	struct layer_cos lc = { 0 };
	int first_divergence = -1, gguf = 0, ret, i, end, positions, status = 1;
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
		goto out;
	}
	if (a.tokenizer)
		ret = npu_tokenizer_load(a.tokenizer, m.cfg.vocab_size, &tok, err, sizeof(err));
	else if (!gguf)
		ret = npu_tokenizer_bytes(m.cfg.vocab_size, &tok);
	if (ret) {
		fprintf(stderr, "npu-run: tokenizer: %s\n", err[0] ? err : npu_strerror(ret));
		goto out;
	}
	if (!a.bits) {
		a.bits = m.native ? -1 : 8;
		a.weights = m.native ? "native" : "w8";
	} else if (a.bits < 0 && !m.native) {
		fprintf(stderr, "npu-run: --weights native: the model has no quantized matrices\n");
		status = 2;
		goto out;
	}
	if (a.steps > m.cfg.seq_len)
		a.steps = m.cfg.seq_len;
	if (encode_fitting(&tok, "the prompt", a.prompt, m.cfg.seq_len, 1, &tokens, &n_prompt))
		goto out;
	if (a.compare && a.text && encode_fitting(&tok, "--text", a.text, m.cfg.seq_len, 0, &ttok,
						  &tn))
		goto out;
	/* The positions this run uses, all its caches hold: not the whole context. */
	end = n_prompt + a.steps < m.cfg.seq_len ? n_prompt + a.steps : m.cfg.seq_len;
	positions = tn > end ? tn : end;
	logits = calloc((size_t)m.cfg.vocab_size, sizeof(*logits));
	if (!logits) {
		fprintf(stderr, "npu-run: %s\n", npu_strerror(NPU_E_NOMEM));
		goto out;
	}

	if (strcmp(a.device, "float")) {
		struct engine_opts eo = { a.bits, a.group, a.verbose && a.compare, a.profile };

		ret = npu_open(a.device, &dev);
		if (ret) {
			fprintf(stderr, "npu-run: device '%s': %s\n", a.device, npu_strerror(ret));
			goto out;
		}
		npu_query(dev, &info);
		ret = engine_create_n(dev, &m, &eo, positions, &run.dev, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "npu-run: %s\n", err);
			goto out;
		}
	}
	if (!run.dev || a.compare) {
		ret = ref_create_n(&m, positions, &run.ref);
		if (ret) {
			fprintf(stderr, "npu-run: float reference: %s\n", npu_strerror(ret));
			goto out;
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
	while (!ret && n < end) {
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
		if (n < end)
			ret = step(&run, &next, 1, n - 1, logits);
	}
	t_end = now_s() - t0;
	if (ret) {
		fprintf(stderr, "\nnpu-run: forward pass failed: %s\n", npu_strerror(ret));
		goto out;
	}

	if (a.compare) {
		float *lr = malloc((size_t)m.cfg.vocab_size * sizeof(float));
		int32_t *ftok = calloc((size_t)positions + 1, sizeof(*ftok)), fn = n_prompt;
		struct ref_engine *ref2;

		/* Teacher-forced on the device's own tokens. */
		if (a.verbose) {
			lc.layers = m.cfg.n_layers;
			lc.dim = m.cfg.dim;
			lc.sum = calloc((size_t)lc.layers, sizeof(double));
		}
		ret = compare_seq(run.dev, run.ref, tokens, n, m.cfg.vocab_size, &own,
				  lc.sum ? &lc : NULL);
		if (!ret && (!lr || !ftok || (a.verbose && !lc.sum)))
			ret = NPU_E_NOMEM;
		/* The float model's own greedy text: where does it part from the device's? */
		if (!ret)
			ret = ref_create_n(&m, positions, &ref2);
		if (!ret) {
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
		if (!ret && a.text)
			ret = compare_seq(run.dev, run.ref, ttok, tn, m.cfg.vocab_size, &text, NULL);
		free(lr);
		free(ftok);
		if (ret) {
			fprintf(stderr, "npu-run: compare: %s\n", npu_strerror(ret));
			goto out;
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
			printf("device %s (%s), weights %s, model ", devname,
			       run.dev ? info.name : "float32 in plain C", run.dev ? a.weights : "f32");
			put_escaped(stdout, a.model ? a.model : a.synthetic ? a.synthetic :
				    "synthetic tiny", PATH_CHARS, 0);
			printf(" (dim %d, %d layers, vocab %d)\n", m.cfg.dim, m.cfg.n_layers,
			       m.cfg.vocab_size);
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
	status = 0;
out:
	engine_destroy(run.dev);
	ref_destroy(run.ref);
	if (dev)
		npu_close(dev);
	npu_tokenizer_free(&tok);
	npu_model_free(&m);
	free(tokens);
	free(ttok);
	free(logits);
	free(lc.sum);
	return status;
}
