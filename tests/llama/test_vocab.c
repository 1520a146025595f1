// SPDX-License-Identifier: MIT
/*
 * llama.cpp's tokenizer test vectors against npu_tokenizer_tokenize(): for
 * each models/ggml-vocab-NAME.gguf with NAME.gguf.inp (texts separated by
 * "\n__ggml_vocab_test__\n") and NAME.gguf.out (each text's ids on a line),
 * every text tokenized as test-tokenizer-0 does (no special tokens added,
 * none parsed) must give the same ids. A vocabulary of a tokenizer model
 * other than llama and gpt2 (bert, gemma4) must be refused, the model named.
 * usage: test_vocab DIR
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <npu/model.h>

#include "slurp.h"

#define SEP "\n__ggml_vocab_test__\n"

static void show(const char *what, const int32_t *ids, int32_t n)
{
	int32_t i;

	printf("  %s:", what);
	for (i = 0; i < n; i++)
		printf(" %d", ids[i]);
	printf("\n");
}

/* 1: passed; 0: failed (the first mismatch shown). */
static int check(const struct npu_tokenizer *t, const char *name, char *inp, size_t inp_len,
		 char *out)
{
	static int32_t want[65536], got[65536];
	size_t pos = 0;
	char *line = out;
	int cases = 0;

	while (pos < inp_len) {
		char *next = strstr(inp + pos, SEP), *end, *p;
		size_t tl = next ? (size_t)(next - (inp + pos)) : inp_len - pos;
		int32_t nw = 0, ng = 0;
		int ret;

		if (!line) {
			printf("FAIL %s: more texts in .inp than lines in .out\n", name);
			return 0;
		}
		end = strchr(line, '\n');
		if (end)
			*end = 0;
		for (p = line; nw < 65536;) {
			char *e;
			long v = strtol(p, &e, 10);

			if (e == p)
				break;
			want[nw++] = (int32_t)v;
			p = e;
		}
		line = end ? end + 1 : NULL;
		ret = npu_tokenizer_tokenize(t, inp + pos, tl, 0, got, 65536, &ng);
		if (ret || ng != nw || memcmp(want, got, (size_t)nw * sizeof(*want))) {
			printf("FAIL %s: text %d \"%.*s\"%s\n", name, cases,
			       (int)(tl < 200 ? tl : 200), inp + pos, ret ? " (tokenize failed)" : "");
			show("want", want, nw);
			show("got ", got, ng < 65536 ? ng : 65536);
			return 0;
		}
		cases++;
		pos += tl + (next ? strlen(SEP) : 0);
	}
	printf("PASS %s: %d texts\n", name, cases);
	return 1;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_inp(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 9 && !strcmp(d->d_name + n - 9, ".gguf.inp");
}

int main(int argc, char **argv)
{
	struct dirent **list;
	int n, i, passed = 0, failed = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: test_vocab DIR\n");
		return 2;
	}
	n = scandir(argv[1], &list, is_inp, by_name);
	if (n < 0) {
		perror(argv[1]);
		return 2;
	}
	for (i = 0; i < n; i++) {
		char path[4096], err[512] = "";
		struct npu_tokenizer t;
		size_t il = 0, ol = 0;
		char *inp, *out;
		const char *m;

		snprintf(path, sizeof(path), "%s/%.*s", argv[1], (int)strlen(list[i]->d_name) - 4,
			 list[i]->d_name);
		if (npu_tokenizer_load_gguf(path, &t, err, sizeof(err))) {
			/* The pinned release's other models are bert and gemma4: any else is news. */
			m = strstr(err, "tokenizer.ggml.model is not llama");
			m = m ? strstr(m, "): ") : NULL;
			if (m && (!strcmp(m + 3, "\"bert\"") || !strcmp(m + 3, "\"gemma4\""))) {
				printf("PASS %s: refused, not a tokenizer model this library "
				       "runs: %s\n", list[i]->d_name, m + 3);
				passed++;
			} else {
				printf("FAIL %s: %s\n", list[i]->d_name, err);
				failed++;
			}
			free(list[i]);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", argv[1], list[i]->d_name);
		inp = slurp(path, &il);
		memcpy(path + strlen(path) - 3, "out", 3);
		out = slurp(path, &ol);
		if (!inp || !out) {
			printf("FAIL %s: cannot read %s\n", list[i]->d_name, path);
			failed++;
		} else if (check(&t, list[i]->d_name, inp, il, out)) {
			passed++;
		} else {
			failed++;
		}
		free(inp);
		free(out);
		npu_tokenizer_free(&t);
		free(list[i]);
	}
	free(list);
	printf("%d passed, %d failed, 0 skipped\n", passed, failed);
	return failed || !passed;
}
