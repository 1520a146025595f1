// SPDX-License-Identifier: MIT
/*
 * npu-tokenize: a prompt's tokens under a GGUF file's tokenizer, printed
 * as llama.cpp's llama-tokenize prints them, with its defaults: BOS (and
 * EOS) as the vocabulary asks, special tokens' text parsed, escapes in the
 * prompt processed. Vocabulary-only files work.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <npu/model.h>

#include "read-all.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: npu-tokenize -m FILE (-p TEXT | -f FILE | --stdin) [--ids]\n"
		"         [--no-bos] [--no-parse-special] [--show-count] [--no-escape]\n"
		"         [--log-disable]\n");
}

/* llama.cpp's escapes: \n \r \t \' \" \\ and \xHH; any other stays as written. */
static size_t unescape(char *s, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char c = s[i + 1];
		unsigned int x;

		if (s[i] != '\\' || i + 1 >= n) {
			s[o++] = s[i];
			continue;
		}
		if (c == 'n' || c == 'r' || c == 't' || c == '\'' || c == '"' || c == '\\') {
			s[o++] = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
			i++;
		} else if (c == 'x' && i + 3 < n && sscanf(s + i + 2, "%2x", &x) == 1 &&
			   strchr("0123456789abcdefABCDEF", s[i + 3]) && s[i + 3]) {
			s[o++] = (char)x;
			i += 3;
		} else {
			s[o++] = s[i];
		}
	}
	return o;
}

int main(int argc, char **argv)
{
	const char *model = NULL, *prompt = NULL, *file = NULL;
	int ids = 0, bos = 1, special = 1, count = 0, escape = 1, use_stdin = 0, i, ret;
	struct npu_tokenizer t;
	char err[512], *text = NULL;
	int32_t *tokens, n = 0, k;
	size_t len = 0;
	unsigned int flags;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		int more = i + 1 < argc;

		if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && more)
			model = argv[++i];
		else if ((!strcmp(a, "-p") || !strcmp(a, "--prompt")) && more)
			prompt = argv[++i];
		else if ((!strcmp(a, "-f") || !strcmp(a, "--file")) && more)
			file = argv[++i];
		else if (!strcmp(a, "--stdin"))
			use_stdin = 1;
		else if (!strcmp(a, "--ids"))
			ids = 1;
		else if (!strcmp(a, "--no-bos"))
			bos = 0;
		else if (!strcmp(a, "--no-parse-special"))
			special = 0;
		else if (!strcmp(a, "--show-count"))
			count = 1;
		else if (!strcmp(a, "-e") || !strcmp(a, "--escape"))
			escape = 1;
		else if (!strcmp(a, "--no-escape"))
			escape = 0;
		else if (!strcmp(a, "--log-disable"))
			continue;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "npu-tokenize: unknown or incomplete argument '%s'\n", a);
			usage(stderr);
			return 1;
		}
	}
	if (!model || (!prompt && !file && !use_stdin)) {
		fprintf(stderr, "npu-tokenize: needs -m FILE and one of -p, -f or --stdin\n");
		usage(stderr);
		return 1;
	}
	ret = npu_tokenizer_load_gguf(model, &t, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "npu-tokenize: %s\n", err);
		return 1;
	}
	/* --stdin over -f over -p, as llama-tokenize; a file is read verbatim. */
	if (use_stdin || file) {
		FILE *f = use_stdin ? stdin : fopen(file, "rb");

		if (!f) {
			fprintf(stderr, "npu-tokenize: %s: %s\n", file, strerror(errno));
			return 1;
		}
		text = read_all(f, &len);
		if (f != stdin)
			fclose(f);
		if (!text) {
			fprintf(stderr, "npu-tokenize: cannot read the prompt\n");
			return 1;
		}
	} else {
		len = strlen(prompt);
		text = strdup(prompt);
		if (!text)
			return 1;
	}
	if (escape)
		len = unescape(text, len);
	flags = (bos ? NPU_TOKENIZE_ADD_SPECIAL : 0) | (special ? NPU_TOKENIZE_PARSE_SPECIAL : 0);
	/* llama-tokenize adds special tokens only when the vocabulary adds BOS. */
	if (bos) {
		int32_t probe;

		ret = npu_tokenizer_tokenize(&t, "", 0, NPU_TOKENIZE_ADD_SPECIAL, &probe, 1, &k);
		if (!ret && !(k > 0 && probe == npu_tokenizer_special(&t, NPU_TOKEN_BOS)))
			flags &= ~NPU_TOKENIZE_ADD_SPECIAL;
	}
	/* Counted first, then written. */
	ret = npu_tokenizer_tokenize(&t, text, len, flags, NULL, 0, &n);
	tokens = malloc(((size_t)n + 1) * sizeof(*tokens));
	if (!ret && !tokens)
		ret = -1;
	if (!ret)
		ret = npu_tokenizer_tokenize(&t, text, len, flags, tokens, n, &n);
	if (ret) {
		fprintf(stderr, "npu-tokenize: tokenizing failed (%d)\n", ret);
		return 1;
	}
	if (ids)
		printf("[");
	for (k = 0; k < n; k++) {
		char bb[2];
		const char *p = npu_tokenizer_piece(&t, -1, tokens[k], bb);

		if (ids) {
			printf(k ? ", %d" : "%d", tokens[k]);
			continue;
		}
		/* Special tokens show their text (llama-tokenize's pieces are special = true). */
		printf("%6d -> '%s'\n", tokens[k], *p ? p : t.pieces[tokens[k]]);
	}
	if (ids)
		printf("]\n");
	if (count)
		printf("Total number of tokens: %d\n", n);
	free(tokens);
	free(text);
	npu_tokenizer_free(&t);
	return 0;
}
