// SPDX-License-Identifier: MIT
/* npu-server's options. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npu-server.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: npu-server --model FILE --port N [options]\n"
		"An OpenAI-compatible HTTP server for a model on the NPU: GET /health,\n"
		"GET /v1/models, POST /v1/completions, POST /v1/chat/completions (with\n"
		"\"stream\": true as server-sent events), GET /metrics (Prometheus).\n"
		"  -m, --model FILE          a GGUF or llama2.c checkpoint (required)\n"
		"  -k, --tokenizer FILE      a llama2.c tokenizer (default: the model's own)\n"
		"  -d, --device D            auto | accel | accelN | usb | cpu | float\n"
		"                            (default auto)\n"
		"      --host ADDR           the IPv4 address to listen on (default 127.0.0.1)\n"
		"  -P, --port N              the port; 0: a free one, printed (required)\n"
		"  -c, --ctx-size N          positions each session holds (default: the\n"
		"                            model's context or what the device allows)\n"
		"  -j, --parallel N          sessions generating at once (default 1)\n"
		"  -q, --queue N             requests that may wait for a session beyond\n"
		"                            the free ones; more get 503 (default 8)\n"
		"      --chat-template NAME  the chat format: %s\n"
		"                            (default: the model file's)\n"
		"  -h, --help                this text\n", npu_llm_chat_names());
}

static int bad(const char *what, const char *value, const char *why)
{
	fprintf(stderr, "npu-server: %s%s%s%s%s%s (see --help)\n", what, value ? " '" : "",
		value ? value : "", value ? "'" : "", why ? ": " : "", why ? why : "");
	return 2;
}

/* A whole decimal number in [lo, hi] into *@out. */
static int number(const char *v, long lo, long hi, int *out)
{
	char *end;
	long n;

	if (!*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 9)
		return 1;
	n = strtol(v, &end, 10);
	if (n < lo || n > hi)
		return 1;
	*out = (int)n;
	return 0;
}

static int known_device(const char *d)
{
	if (!strncmp(d, "accel", 5) && d[5])
		return strspn(d + 5, "0123456789") == strlen(d + 5) && strlen(d + 5) < 4;
	return !strcmp(d, "auto") || !strcmp(d, "accel") || !strcmp(d, "usb") ||
	       !strcmp(d, "cpu") || !strcmp(d, "float");
}

int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "model", 1, 0, 'm' }, { "tokenizer", 1, 0, 'k' }, { "device", 1, 0, 'd' },
		{ "host", 1, 0, 'H' }, { "port", 1, 0, 'P' }, { "ctx-size", 1, 0, 'c' },
		{ "parallel", 1, 0, 'j' }, { "queue", 1, 0, 'q' },
		{ "chat-template", 1, 0, 'T' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	char *none = NULL;
	int c, bad_template;

	memset(a, 0, sizeof(*a));
	a->device = "auto";
	a->host = "127.0.0.1";
	a->port = -1;
	a->parallel = 1;
	a->queue = 8;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:k:d:P:c:j:q:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': a->model = optarg; break;
		case 'k': a->tokenizer = optarg; break;
		case 'd': a->device = optarg; break;
		case 'H': a->host = optarg; break;
		case 'T': a->chat_template = optarg; break;
		case 'P':
			if (number(optarg, 0, 65535, &a->port))
				return bad("--port", optarg, "want 0..65535");
			break;
		case 'c':
			if (number(optarg, 1, INT_MAX, &a->ctx_size))
				return bad("--ctx-size", optarg, "want a positive number");
			break;
		case 'j':
			if (number(optarg, 1, 64, &a->parallel))
				return bad("--parallel", optarg, "want 1..64");
			break;
		case 'q':
			if (number(optarg, 0, 4096, &a->queue))
				return bad("--queue", optarg, "want 0..4096");
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			return bad("option wants a value", argv[optind - 1], NULL);
		default:
			return bad("unrecognized option", argv[optind - 1], NULL);
		}
	}
	if (optind < argc)
		return bad("unexpected argument", argv[optind], NULL);
	if (!a->model)
		return bad("--model FILE is required", NULL, NULL);
	if (a->port < 0)
		return bad("--port N is required", NULL, NULL);
	if (!known_device(a->device))
		return bad("--device", a->device, "want auto, accel, accelN, usb, cpu or float");
	if (a->chat_template) {
		bad_template = npu_llm_chat_apply(a->chat_template, NULL, 0, 0, &none);
		free(none);
		if (bad_template) {
			char why[256];

			snprintf(why, sizeof(why), "want one of %s", npu_llm_chat_names());
			return bad("--chat-template", a->chat_template, why);
		}
	}
	return 0;
}
