/* SPDX-License-Identifier: MIT */
/*
 * A whole file into memory, NUL-terminated, for the llama.cpp checks'
 * programs (test vectors, chat templates, the oracle's dumps).
 */
#ifndef NPU_TESTS_LLAMA_SLURP_H
#define NPU_TESTS_LLAMA_SLURP_H

#include <stdio.h>
#include <stdlib.h>

/* The file at @path (its length in *@len when @len is set), or NULL. */
static inline char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET)) {
		p = malloc((size_t)n + 1);
		if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		}
		if (p) {
			p[n] = 0;
			if (len)
				*len = (size_t)n;
		}
	}
	fclose(f);
	return p;
}

#endif
