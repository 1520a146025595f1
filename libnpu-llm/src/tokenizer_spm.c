// SPDX-License-Identifier: MIT
/*
 * SentencePiece BPE over a GGUF vocabulary, as llama.cpp's SPM session:
 * the text (spaces already U+2581) as one symbol per UTF-8 character, then
 * repeatedly the neighbouring pair whose joined text is a token of the
 * highest score (the leftmost of equal ones) merged, until none is. A
 * symbol that is no token becomes its bytes' <0xNN> tokens. n log n: a
 * heap of candidate pairs, stale ones skipped when their sizes changed.
 */
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

struct sym {
	size_t off, n;
	int32_t prev, next;
};

static int try_pair(const struct npu_vocab *v, const char *text, struct sym *s, int32_t l,
		    int32_t r, struct bigram_heap *h)
{
	struct bigram b;
	int32_t id;

	if (l < 0 || r < 0)
		return NPU_OK;
	id = npu_vocab_id(v, text + s[l].off, s[l].n + s[r].n);
	if (id < 0)
		return NPU_OK;
	b = (struct bigram){ -(double)v->scores_of[id], l, r, s[l].n + s[r].n };
	return npu_heap_push(h, &b);
}

/* A byte's token: <0xNN>, else the byte itself; else unknown (llama.cpp would abort). */
static int32_t byte_token(const struct npu_vocab *v, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";
	char buf[6] = { '<', '0', 'x', hex[c >> 4], hex[c & 15], '>' };
	int32_t id = npu_vocab_id(v, buf, 6);

	if (id < 0)
		id = npu_vocab_id(v, (const char *)&c, 1);
	return id >= 0 ? id : v->role[NPU_TOKEN_UNK];
}

int npu_spm_encode(const struct npu_vocab *v, const char *text, size_t len, struct tok_out *o)
{
	static const uint8_t utf8_len[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };
	struct bigram_heap h = { 0 };
	struct sym *s;
	size_t off = 0;
	int32_t k = 0, i;
	int ret = NPU_OK;

	if (!len)
		return NPU_OK;
	if (len > INT32_MAX)
		return NPU_E_INVAL;
	s = malloc(len * sizeof(*s));
	if (!s)
		return NPU_E_NOMEM;
	while (off < len) {
		size_t n = utf8_len[(unsigned char)text[off] >> 4];

		n = n < len - off ? n : len - off;
		s[k] = (struct sym){ off, n, k - 1, off + n == len ? -1 : k + 1 };
		off += n;
		k++;
	}
	for (i = 1; i < k && !ret; i++)
		ret = try_pair(v, text, s, i - 1, i, &h);
	while (h.n && !ret) {
		struct bigram b = npu_heap_pop(&h);
		struct sym *l = &s[b.left], *r = &s[b.right];

		if (!l->n || !r->n || l->n + r->n != b.size)
			continue;
		l->n += r->n;
		r->n = 0;
		l->next = r->next;
		if (r->next >= 0)
			s[r->next].prev = b.left;
		ret = try_pair(v, text, s, l->prev, b.left, &h);
		ret = ret ? ret : try_pair(v, text, s, b.left, l->next, &h);
	}
	for (i = 0; i >= 0 && !ret; i = s[i].next) {
		int32_t id = npu_vocab_id(v, text + s[i].off, s[i].n);
		size_t j;

		if (id >= 0) {
			tok_push(o, id);
			continue;
		}
		for (j = 0; j < s[i].n; j++) {
			id = byte_token(v, (unsigned char)text[s[i].off + j]);
			if (id >= 0)
				tok_push(o, id);
		}
	}
	free(h.b);
	free(s);
	return ret;
}
