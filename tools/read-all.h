/* SPDX-License-Identifier: MIT */
/* A whole stream into memory, for the tools that read text (npu-tokenize, npu-quantize). */
#ifndef NPU_TOOLS_READ_ALL_H
#define NPU_TOOLS_READ_ALL_H

#include <stdio.h>
#include <stdlib.h>

/* @f's bytes to its end, NUL-terminated, their count in *@n; NULL on a read error or no memory. */
static inline char *read_all(FILE *f, size_t *n)
{
	size_t cap = 4096;
	char *p = malloc(cap + 1), *t;

	*n = 0;
	while (p) {
		*n += fread(p + *n, 1, cap - *n, f);
		if (*n < cap)
			break;
		cap *= 2;
		t = realloc(p, cap + 1);
		if (!t)
			free(p);
		p = t;
	}
	if (p && ferror(f)) {
		free(p);
		p = NULL;
	}
	if (p)
		p[*n] = '\0';
	return p;
}

#endif
