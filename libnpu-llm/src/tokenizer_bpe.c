// SPDX-License-Identifier: MIT
/*
 * Byte-level BPE, as llama.cpp's BPE session: each pre-tokenized word (its
 * bytes already as GPT-2's code points) as one symbol per character, then
 * repeatedly the neighbouring pair of the lowest merge rank (the leftmost
 * of equal ones) joined, until no pair is a merge. A final symbol that is
 * no token becomes the tokens of its single bytes, where there are any.
 * n log n per word: a heap of candidate pairs, stale ones skipped.
 */
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

struct sym {
	size_t off, n;
	int32_t prev, next;
};

/* Scratch for one fragment's words, grown to the longest word. */
struct bpe {
	const struct npu_vocab *v;
	struct tok_out *o;
	struct sym *s;
	char *pair;
	size_t cap;
	struct bigram_heap h;
};

static int32_t merge_rank(const struct npu_vocab *v, struct bpe *b, const char *w,
			  const struct sym *l, const struct sym *r)
{
	int32_t k;

	memcpy(b->pair, w + l->off, l->n);
	b->pair[l->n] = ' ';
	memcpy(b->pair + l->n + 1, w + r->off, r->n);
	k = npu_str_map_get(&v->merges, v->merge, v->merge_len, b->pair, l->n + 1 + r->n);
	return k >= 0 && v->merge_split[k] == l->n ? k : -1;
}

static int try_pair(struct bpe *b, const char *w, int32_t l, int32_t r)
{
	struct bigram g;
	int32_t rank;

	if (l < 0 || r < 0)
		return NPU_OK;
	rank = merge_rank(b->v, b, w, &b->s[l], &b->s[r]);
	if (rank < 0)
		return NPU_OK;
	g = (struct bigram){ rank, l, r, b->s[l].n + b->s[r].n };
	return npu_heap_push(&b->h, &g);
}

static int grow(struct bpe *b, size_t n)
{
	struct sym *s;
	char *p;

	if (n <= b->cap)
		return NPU_OK;
	s = realloc(b->s, n * sizeof(*s));
	if (s)
		b->s = s;
	p = realloc(b->pair, n + 1);
	if (p)
		b->pair = p;
	if (!s || !p)
		return NPU_E_NOMEM;
	b->cap = n;
	return NPU_OK;
}

static int word(void *ctx, const char *w, size_t len)
{
	static const uint8_t utf8_len[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };
	struct bpe *b = ctx;
	const struct npu_vocab *v = b->v;
	size_t off = 0;
	int32_t k = 0, i, id;
	int ret;

	if (!len)
		return NPU_OK;
	if (len > INT32_MAX)
		return NPU_E_INVAL;
	if (v->ignore_merges && (id = npu_vocab_id(v, w, len)) >= 0) {
		tok_push(b->o, id);
		return NPU_OK;
	}
	ret = grow(b, len);
	if (ret)
		return ret;
	while (off < len) {
		size_t n = utf8_len[(unsigned char)w[off] >> 4];

		n = n < len - off ? n : len - off;
		b->s[k] = (struct sym){ off, n, k - 1, off + n == len ? -1 : k + 1 };
		off += n;
		k++;
	}
	b->h.n = 0;
	for (i = 1; i < k && !ret; i++)
		ret = try_pair(b, w, i - 1, i);
	while (b->h.n && !ret) {
		struct bigram g = npu_heap_pop(&b->h);
		struct sym *l = &b->s[g.left], *r = &b->s[g.right];

		if (!l->n || !r->n || l->n + r->n != g.size)
			continue;
		l->n += r->n;
		r->n = 0;
		l->next = r->next;
		if (r->next >= 0)
			b->s[r->next].prev = g.left;
		ret = try_pair(b, w, l->prev, g.left);
		ret = ret ? ret : try_pair(b, w, g.left, l->next);
	}
	for (i = 0; i >= 0 && !ret; i = b->s[i].next) {
		size_t j;

		id = npu_vocab_id(v, w + b->s[i].off, b->s[i].n);
		if (id >= 0) {
			tok_push(b->o, id);
			continue;
		}
		for (j = 0; j < b->s[i].n; j++) {
			id = npu_vocab_id(v, w + b->s[i].off + j, 1);
			if (id >= 0)
				tok_push(b->o, id);
		}
	}
	return ret;
}

int npu_bpe_encode(const struct npu_vocab *v, const char *text, size_t len, struct tok_out *o)
{
	struct bpe b = { .v = v, .o = o };
	int ret = npu_pretok_split(v->pre, text, len, word, &b);

	free(b.s);
	free(b.pair);
	free(b.h.b);
	return ret;
}
