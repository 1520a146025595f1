/* SPDX-License-Identifier: MIT */
/*
 * GGUF files written byte by byte (docs/gguf.md), for the tests that
 * build hostile files and for the fuzz seeds. Out of memory aborts.
 */
#ifndef NPU_TESTS_GGUF_BUILD_H
#define NPU_TESTS_GGUF_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct gguf_build {
	uint8_t *p;
	size_t n, cap;
};

static inline void gguf_put(struct gguf_build *b, const void *src, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->n, src, n);
	b->n += n;
}

static inline void gguf_u32(struct gguf_build *b, uint32_t v)
{
	gguf_put(b, &v, 4);
}

static inline void gguf_u64(struct gguf_build *b, uint64_t v)
{
	gguf_put(b, &v, 8);
}

/* A GGUF string: its length, then its bytes (no NUL). */
static inline void gguf_str(struct gguf_build *b, const char *s, size_t n)
{
	gguf_u64(b, n);
	gguf_put(b, s, n);
}

/* A metadata entry of type U32 (4), its key @key_len bytes long. */
static inline void gguf_kv_u32(struct gguf_build *b, const char *key, size_t key_len,
			       uint32_t v)
{
	gguf_str(b, key, key_len);
	gguf_u32(b, 4);
	gguf_u32(b, v);
}

/* A metadata entry of type STRING (8). */
static inline void gguf_kv_str(struct gguf_build *b, const char *key, const char *v,
			       size_t v_len)
{
	gguf_str(b, key, strlen(key));
	gguf_u32(b, 8);
	gguf_str(b, v, v_len);
}

#endif
