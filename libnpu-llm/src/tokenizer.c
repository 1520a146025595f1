// SPDX-License-Identifier: MIT
/*
 * llama2.c tokenizer files: int32 max_token_length, then for each of
 * vocab_size pieces: float score, int32 length, the bytes. Encoding is
 * SentencePiece-style BPE: start from code points (unknown ones fall back
 * to the byte tokens 3..258), then merge the best-scoring pair, the first
 * of equally good ones, until none merges.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vocab.h"

#define MAX_VOCAB 1048576

struct piece_id {
	const char *piece;
	int32_t id;
};

/* By piece, then by id: equal pieces stay in vocabulary order. */
static int by_piece(const void *a, const void *b)
{
	const struct piece_id *x = a, *y = b;
	int c = strcmp(x->piece, y->piece);

	return c ? c : (x->id > y->id) - (x->id < y->id);
}

/* The pairs carry their pieces: no shared state, threads may build at once. */
int npu_tokenizer_index(struct npu_tokenizer *t)
{
	struct piece_id *p = malloc((size_t)t->vocab_size * sizeof(*p));
	int32_t i;

	t->sorted = malloc((size_t)t->vocab_size * sizeof(*t->sorted));
	if (!p || !t->sorted) {
		free(p);
		return NPU_E_NOMEM;
	}
	for (i = 0; i < t->vocab_size; i++)
		p[i] = (struct piece_id){ t->pieces[i], i };
	qsort(p, (size_t)t->vocab_size, sizeof(*p), by_piece);
	for (i = 0; i < t->vocab_size; i++)
		t->sorted[i] = p[i].id;
	free(p);
	return NPU_OK;
}

/*
 * Opened without blocking and refused unless regular: a FIFO would block
 * the open or the reads forever. A file too short for @vocab_size tokens
 * of 8 bytes at least is refused before anything is allocated for them.
 */
static int open_tokenizer(const char *path, int32_t vocab_size, FILE **f, char *err, size_t len)
{
	uint64_t size;
	int fd = npu_model_open(path, &size, err, len);

	if (fd < 0)
		return fd;
	if (size < 4 + 8 * (uint64_t)vocab_size) {
		npu_model_file_error(err, len, path,
				     "%llu bytes cannot hold %d tokens of 8 bytes or more",
				     (unsigned long long)size, vocab_size);
		close(fd);
		return NPU_E_FORMAT;
	}
	*f = fdopen(fd, "rb");
	if (!*f) {
		npu_model_file_error(err, len, path, "%s", strerror(errno));
		close(fd);
		return NPU_E_IO;
	}
	return NPU_OK;
}

int npu_tokenizer_load(const char *path, int32_t vocab_size, struct npu_tokenizer *t, char *err,
		       size_t len)
{
	FILE *f;
	int32_t i;
	int ret;

	/* Zeroed first, so that npu_tokenizer_free is safe after any failure. */
	if (t)
		memset(t, 0, sizeof(*t));
	if (!path || !t)
		return NPU_E_INVAL;
	/* Encoding falls back to the byte tokens 3..258: they must exist. */
	if (vocab_size < 259 || vocab_size > MAX_VOCAB) {
		npu_model_error(err, len, "vocab_size %d: a tokenizer needs 259..%d tokens",
				vocab_size, MAX_VOCAB);
		return NPU_E_FORMAT;
	}
	ret = open_tokenizer(path, vocab_size, &f, err, len);
	if (ret)
		return ret;
	t->vocab_size = vocab_size;
	if (fread(&t->max_token_length, 4, 1, f) != 1 || t->max_token_length < 1 ||
	    t->max_token_length > 1024) {
		npu_model_file_error(err, len, path, "max_token_length missing or outside 1..1024");
		fclose(f);
		npu_tokenizer_free(t);
		return NPU_E_FORMAT;
	}
	t->pieces = calloc((size_t)vocab_size, sizeof(*t->pieces));
	t->scores = calloc((size_t)vocab_size, sizeof(*t->scores));
	if (!t->pieces || !t->scores) {
		fclose(f);
		npu_tokenizer_free(t);
		return NPU_E_NOMEM;
	}
	for (i = 0; i < vocab_size && !ret; i++) {
		int32_t n;

		if (fread(&t->scores[i], 4, 1, f) != 1 || fread(&n, 4, 1, f) != 1) {
			npu_model_file_error(err, len, path, "truncated at token %d of %d", i,
					     vocab_size);
			ret = NPU_E_FORMAT;
		} else if (!isfinite(t->scores[i])) {
			npu_model_file_error(err, len, path, "token %d has a non-finite score", i);
			ret = NPU_E_FORMAT;
		} else if (n < 0 || n > t->max_token_length) {
			npu_model_file_error(err, len, path, "token %d has length %d outside 0..%d",
					     i, n, t->max_token_length);
			ret = NPU_E_FORMAT;
		} else if (!(t->pieces[i] = calloc((size_t)n + 1, 1))) {
			ret = NPU_E_NOMEM;
		} else if (fread(t->pieces[i], 1, (size_t)n, f) != (size_t)n) {
			npu_model_file_error(err, len, path, "truncated in the bytes of token %d",
					     i);
			ret = NPU_E_FORMAT;
		} else if (memchr(t->pieces[i], 0, (size_t)n)) {
			/* Pieces are C strings: a NUL would cut the piece short. */
			npu_model_file_error(err, len, path, "token %d holds a NUL byte", i);
			ret = NPU_E_FORMAT;
		}
	}
	if (!ret && fgetc(f) != EOF) {
		npu_model_file_error(err, len, path,
				     "bytes left after %d tokens: not this model's tokenizer",
				     vocab_size);
		ret = NPU_E_FORMAT;
	}
	fclose(f);
	if (!ret)
		ret = npu_tokenizer_index(t);
	if (ret)
		npu_tokenizer_free(t);
	return ret;
}

int npu_tokenizer_bytes(int32_t vocab_size, struct npu_tokenizer *t)
{
	int32_t i;

	if (t)
		memset(t, 0, sizeof(*t));
	if (!t || vocab_size < 259 || vocab_size > MAX_VOCAB)
		return NPU_E_INVAL;
	t->vocab_size = vocab_size;
	t->max_token_length = 6;
	t->pieces = calloc((size_t)vocab_size, sizeof(*t->pieces));
	t->scores = calloc((size_t)vocab_size, sizeof(*t->scores));
	if (!t->pieces || !t->scores)
		goto nomem;
	for (i = 0; i < vocab_size; i++) {
		t->pieces[i] = malloc(16);
		if (!t->pieces[i])
			goto nomem;
		if (i >= 3 && i < 259)
			snprintf(t->pieces[i], 16, "<0x%02X>", i - 3);
		else
			snprintf(t->pieces[i], 16, i == 1 ? "\n<s>\n" : i == 2 ? "\n</s>\n" :
				 i == 0 ? "<unk>" : "<extra%d>", i);
	}
	if (!npu_tokenizer_index(t))
		return NPU_OK;
nomem:
	npu_tokenizer_free(t);
	return NPU_E_NOMEM;
}

void npu_tokenizer_free(struct npu_tokenizer *t)
{
	int32_t i;

	if (!t)
		return;
	for (i = 0; t->pieces && i < t->vocab_size; i++)
		free(t->pieces[i]);
	free(t->pieces);
	free(t->scores);
	free(t->sorted);
	npu_vocab_free(t->vocab);
	memset(t, 0, sizeof(*t));
}

static int32_t lookup(const struct npu_tokenizer *t, const char *s)
{
	int32_t lo = 0, hi = t->vocab_size - 1;

	while (lo <= hi) {
		int32_t mid = (lo + hi) / 2;
		int c = strcmp(s, t->pieces[t->sorted[mid]]);

		if (!c)
			return t->sorted[mid];
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -1;
}

/*
 * The text as a list of symbols and the possible merges of neighbours in a
 * heap, best score first, then first position: the order of the merges.
 * A symbol's version changes when it or the next changes or it goes, so a
 * merge pushed before that is stale and skipped: n log n, where rescanning
 * every pair after each merge was quadratic.
 */
struct sym {
	int32_t id, prev, next;
	uint32_t ver;
};

struct merge {
	float score;
	int32_t at, id;		/* symbol @at with the next become @id */
	uint32_t ver;		/* @at's version when pushed */
};

struct merger {
	const struct npu_tokenizer *t;
	struct sym *s;
	struct merge *heap;
	size_t n;
	char *buf;
};

static int before(const struct merge *a, const struct merge *b)
{
	return a->score > b->score || (a->score == b->score && a->at < b->at);
}

/* Push the merge of symbol @at with the next, if the vocabulary has one. */
static void push(struct merger *m, int32_t at)
{
	const struct npu_tokenizer *t = m->t;
	struct merge c;
	size_t la, lb, i;
	int32_t a, b, id;

	if (at < 0 || m->s[at].next < 0)
		return;
	a = m->s[at].id;
	b = m->s[m->s[at].next].id;
	if (a == 1 || b == 1)	/* BOS */
		return;
	la = strlen(t->pieces[a]);
	lb = strlen(t->pieces[b]);
	if (la + lb > (size_t)t->max_token_length * 2)
		return;
	memcpy(m->buf, t->pieces[a], la);
	memcpy(m->buf + la, t->pieces[b], lb + 1);
	id = lookup(t, m->buf);
	/* A merge must score above -1e30, as in the rescanning loop this replaced. */
	if (id < 0 || !(t->scores[id] > -1e30f))
		return;
	c = (struct merge){ t->scores[id], at, id, m->s[at].ver };
	for (i = m->n++; i && before(&c, &m->heap[(i - 1) / 2]); i = (i - 1) / 2)
		m->heap[i] = m->heap[(i - 1) / 2];
	m->heap[i] = c;
}

static struct merge pop(struct merger *m)
{
	struct merge top = m->heap[0], last = m->heap[--m->n];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < m->n) {
		if (c + 1 < m->n && before(&m->heap[c + 1], &m->heap[c]))
			c++;
		if (!before(&m->heap[c], &last))
			break;
		m->heap[i] = m->heap[c];
		i = c;
	}
	m->heap[i] = last;
	return top;
}

static void merge_all(struct merger *m, int32_t k)
{
	int32_t j;

	for (j = 0; j + 1 < k; j++)
		push(m, j);
	while (m->n) {
		struct merge c = pop(m);
		struct sym *l = &m->s[c.at], *r;

		if (l->ver != c.ver)
			continue;
		r = &m->s[l->next];
		l->id = c.id;
		l->ver++;
		r->ver++;
		if (l->prev >= 0)
			m->s[l->prev].ver++;
		l->next = r->next;
		if (r->next >= 0)
			m->s[r->next].prev = c.at;
		push(m, l->prev);
		push(m, c.at);
	}
}

/*
 * A byte-level BPE vocabulary encodes as llama_tokenize() without special
 * tokens, BOS first if asked; SentencePiece ones as llama2.c does (which
 * differs from llama.cpp only on invalid UTF-8: npu_tokenizer_tokenize()
 * is llama.cpp's).
 */
int npu_tokenizer_encode(const struct npu_tokenizer *t, const char *text, int bos,
			 int32_t *tokens, int32_t max, int32_t *n)
{
	int32_t all;

	if (t && t->vocab && t->vocab->kind == VOCAB_BPE && text && tokens && n && max > 0) {
		struct tok_out o = { tokens, max, 0 };
		int32_t b = t->vocab->role[NPU_TOKEN_BOS];
		int ret;

		if (bos && b >= 0)
			tok_push(&o, b);
		ret = npu_vocab_tokenize(t->vocab, text, strlen(text), 0, &o);
		*n = o.n < max ? o.n : max;
		return ret;
	}
	return npu_tokenizer_encode_all(t, text, bos, tokens, max, n, &all);
}

int npu_tokenizer_encode_all(const struct npu_tokenizer *t, const char *text, int bos,
			     int32_t *tokens, int32_t max, int32_t *n, int32_t *all)
{
	struct merger m = { .t = t };
	size_t tl, i = 0, b;
	int32_t k = 0, j;

	if (!t || !text || !tokens || !n || max < 1)
		return NPU_E_INVAL;
	tl = strlen(text);
	/*
	 * A symbol per byte at most, with BOS and the space, indexed by
	 * int32_t; and the heap's size below must not wrap (32-bit size_t).
	 */
	if (tl > INT32_MAX - 2 || tl > SIZE_MAX / (2 * sizeof(struct merge)) - 2)
		return NPU_E_INVAL;
	/*
	 * Every code point (or byte) first, then the merges: @max bounds the
	 * merged tokens, so the symbols hold the whole text. Each merge pops
	 * one entry and pushes two at most: the heap holds under 2 per symbol.
	 */
	m.buf = malloc((size_t)t->max_token_length * 2 + 8);
	m.s = malloc((tl + 2) * sizeof(*m.s));
	m.heap = malloc((tl + 2) * 2 * sizeof(*m.heap));
	if (!m.buf || !m.s || !m.heap) {
		free(m.buf);
		free(m.s);
		free(m.heap);
		return NPU_E_NOMEM;
	}
	if (bos)
		m.s[k++].id = 1;
	/* SentencePiece's dummy prefix: the text starts with a space. */
	if (tl) {
		int32_t sp = lookup(t, " ");

		if (sp >= 0)
			m.s[k++].id = sp;
	}
	while (i < tl) {
		size_t cl = 1;
		int32_t id;

		/* One UTF-8 code point (continuation bytes are 10xxxxxx). */
		while (i + cl < tl && cl < 4 && ((unsigned char)text[i + cl] & 0xc0) == 0x80)
			cl++;
		memcpy(m.buf, text + i, cl);
		m.buf[cl] = '\0';
		id = lookup(t, m.buf);
		if (id >= 0) {
			m.s[k++].id = id;
		} else {
			for (b = 0; b < cl; b++)
				m.s[k++].id = (unsigned char)text[i + b] + 3;
		}
		i += cl;
	}
	for (j = 0; j < k; j++) {
		m.s[j].prev = j - 1;
		m.s[j].next = j + 1 < k ? j + 1 : -1;
		m.s[j].ver = 0;
	}
	merge_all(&m, k);
	/* The first symbol never goes; the list is cut at @max, and counted whole. */
	*n = 0;
	*all = 0;
	for (j = k ? 0 : -1; j >= 0; j = m.s[j].next, ++*all)
		if (*n < max)
			tokens[(*n)++] = m.s[j].id;
	free(m.buf);
	free(m.s);
	free(m.heap);
	return NPU_OK;
}

const char *npu_tokenizer_piece(const struct npu_tokenizer *t, int32_t prev, int32_t token,
				char byte_buf[2])
{
	const struct npu_vocab *v;
	const char *p;
	unsigned int byte;

	if (!t || token < 0 || token >= t->vocab_size)
		return "";
	v = t->vocab;
	p = t->pieces[token];
	if (v) {
		/* llama_token_to_piece(special = false), from the pieces made at load. */
		unsigned int a = v->attr[token];

		if ((a & (TOK_CONTROL | TOK_UNKNOWN)) || !(a & (TOK_NORMAL | TOK_USER | TOK_BYTE)))
			return "";
		if (a & TOK_USER)
			return v->text[token];
		if (a & TOK_BYTE) {
			byte_buf[1] = 0;
			return npu_vocab_piece(v, token, 0, byte_buf, 1) ? byte_buf : "";
		}
		if (prev == v->role[NPU_TOKEN_BOS] && v->kind == VOCAB_SPM && p[0] == ' ')
			p++;
		return p;
	}
	if (prev == 1 && p[0] == ' ')
		p++;
	if (sscanf(p, "<0x%02X>", &byte) == 1 && strlen(p) == 6) {
		byte_buf[0] = (char)byte;
		byte_buf[1] = '\0';
		return byte_buf;
	}
	return p;
}

/* A llama2.c vocabulary: BOS 1, EOS 2, no special text; GGUF ones as llama.cpp reads them. */
int npu_tokenizer_tokenize(const struct npu_tokenizer *t, const char *text, size_t len,
			   unsigned int flags, int32_t *tokens, int32_t max, int32_t *n)
{
	int32_t got;
	int32_t one;
	char *s;
	int ret;

	if (!t || !text || !n || (max > 0 && !tokens) || max < 0)
		return NPU_E_INVAL;
	if (t->vocab) {
		struct tok_out o = { tokens, max, 0 };

		ret = npu_vocab_tokenize(t->vocab, text, len, flags, &o);
		*n = o.n;
		return ret;
	}
	if (memchr(text, 0, len))
		return NPU_E_INVAL;
	s = strndup(text, len);
	if (!s)
		return NPU_E_NOMEM;
	/* With no room (@max 0), only the count: the encoder writes one token at most here. */
	ret = npu_tokenizer_encode_all(t, s, flags & NPU_TOKENIZE_ADD_SPECIAL,
				       max ? tokens : &one, max ? max : 1, &got, n);
	free(s);
	return ret;
}

int32_t npu_tokenizer_special(const struct npu_tokenizer *t, enum npu_token_role role)
{
	if (!t || (unsigned int)role >= NPU_TOKEN_ROLES)
		return -1;
	if (t->vocab)
		return t->vocab->role[role];
	return role == NPU_TOKEN_BOS ? 1 : role == NPU_TOKEN_EOS ? 2 :
	       role == NPU_TOKEN_UNK ? 0 : -1;
}

int npu_tokenizer_is_eog(const struct npu_tokenizer *t, int32_t token)
{
	if (!t || token < 0 || token >= t->vocab_size)
		return 0;
	if (t->vocab)
		return !!(t->vocab->attr[token] & TOK_EOG);
	return token == 2;
}

const char *npu_tokenizer_chat_template(const struct npu_tokenizer *t)
{
	return t && t->vocab ? t->vocab->chat_template : NULL;
}
