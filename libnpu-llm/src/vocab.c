// SPDX-License-Identifier: MIT
/*
 * A GGUF tokenizer's lookups and its tokenize() as llama.cpp's: the text is
 * first cut at the special tokens' texts (longest first; control and
 * unknown ones only when parsing special tokens; user-defined ones always),
 * then each plain fragment goes through SentencePiece or byte-level BPE.
 */
#define _GNU_SOURCE	/* memmem */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

uint32_t npu_str_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

int npu_str_map_init(struct str_map *m, uint32_t n)
{
	uint32_t cap = 16;

	while (cap < 2 * (uint64_t)n)
		cap *= 2;
	m->slot = calloc(cap, sizeof(*m->slot));
	m->mask = cap - 1;
	return m->slot ? NPU_OK : NPU_E_NOMEM;
}

void npu_str_map_free(struct str_map *m)
{
	free(m->slot);
	m->slot = NULL;
}

static uint32_t *find_slot(const struct str_map *m, char *const *keys, const uint32_t *lens,
			   const char *s, size_t n)
{
	uint32_t i = npu_str_hash(s, n) & m->mask;

	for (;; i = (i + 1) & m->mask) {
		uint32_t id = m->slot[i];

		if (!id || (lens[id - 1] == n && !memcmp(keys[id - 1], s, n)))
			return &m->slot[i];
	}
}

void npu_str_map_put(struct str_map *m, char *const *keys, const uint32_t *lens, uint32_t id,
		     int replace)
{
	uint32_t *slot = find_slot(m, keys, lens, keys[id], lens[id]);

	if (replace || !*slot)
		*slot = id + 1;
}

int32_t npu_str_map_get(const struct str_map *m, char *const *keys, const uint32_t *lens,
			const char *s, size_t n)
{
	if (!m->slot)
		return -1;
	return (int32_t)*find_slot(m, keys, lens, s, n) - 1;
}

int32_t npu_vocab_id(const struct npu_vocab *v, const char *s, size_t n)
{
	return npu_str_map_get(&v->ids, v->text, v->len, s, n);
}

void npu_vocab_free(struct npu_vocab *v)
{
	int32_t i;
	uint32_t k;

	if (!v)
		return;
	for (i = 0; v->text && i < v->n; i++)
		free(v->text[i]);
	for (k = 0; v->merge && k < v->n_merges; k++)
		free(v->merge[k]);
	free(v->text);
	free(v->len);
	free(v->attr);
	free(v->merge);
	free(v->merge_len);
	free(v->merge_split);
	npu_str_map_free(&v->ids);
	npu_str_map_free(&v->merges);
	free(v->specials);
	npu_pretok_free(v->pre);
	free(v->pre_name);
	free(v->chat_template);
	free(v);
}

static int worse(const struct bigram *a, const struct bigram *b)
{
	return a->key > b->key || (a->key == b->key && a->left > b->left);
}

int npu_heap_push(struct bigram_heap *h, const struct bigram *b)
{
	size_t i;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct bigram *nb = realloc(h->b, cap * sizeof(*nb));

		if (!nb)
			return NPU_E_NOMEM;
		h->b = nb;
		h->cap = cap;
	}
	for (i = h->n++; i && worse(&h->b[(i - 1) / 2], b); i = (i - 1) / 2)
		h->b[i] = h->b[(i - 1) / 2];
	h->b[i] = *b;
	return NPU_OK;
}

struct bigram npu_heap_pop(struct bigram_heap *h)
{
	struct bigram top = h->b[0], last = h->b[--h->n];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < h->n) {
		if (c + 1 < h->n && worse(&h->b[c], &h->b[c + 1]))
			c++;
		if (!worse(&last, &h->b[c]))
			break;
		h->b[i] = h->b[c];
		i = c;
	}
	h->b[i] = last;
	return top;
}

/* A piece of the input: plain text (@id -1) or a special token. */
struct frag {
	int32_t id;
	size_t off, len;
};

struct frags {
	struct frag *f;
	size_t n, cap;
};

static int frag_add(struct frags *fs, int32_t id, size_t off, size_t len)
{
	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 16;
		struct frag *nf = realloc(fs->f, cap * sizeof(*nf));

		if (!nf)
			return NPU_E_NOMEM;
		fs->f = nf;
		fs->cap = cap;
	}
	fs->f[fs->n++] = (struct frag){ id, off, len };
	return NPU_OK;
}

/* Cut every plain fragment of @in at the occurrences of special token @id into @out. */
static int cut(const struct npu_vocab *v, const char *text, int32_t id, const struct frags *in,
	       struct frags *out)
{
	const char *s = v->text[id];
	size_t sl = v->len[id], i;
	int ret = NPU_OK;

	out->n = 0;
	for (i = 0; i < in->n && !ret; i++) {
		size_t off = in->f[i].off, len = in->f[i].len;
		const char *m;

		if (in->f[i].id >= 0) {
			ret = frag_add(out, in->f[i].id, 0, 0);
			continue;
		}
		while (len && (m = memmem(text + off, len, s, sl))) {
			size_t left = (size_t)(m - (text + off)), roff = left + sl;

			if (v->attr[id] & TOK_LSTRIP)
				while (left && isspace((unsigned char)text[off + left - 1]))
					left--;
			if (left)
				ret = ret ? ret : frag_add(out, -1, off, left);
			ret = ret ? ret : frag_add(out, id, 0, 0);
			if (v->attr[id] & TOK_RSTRIP)
				while (roff < len && isspace((unsigned char)text[off + roff]))
					roff++;
			off += roff;
			len -= roff;
		}
		if (len && !ret)
			ret = frag_add(out, -1, off, len);
	}
	return ret;
}

static int partition(const struct npu_vocab *v, const char *text, size_t len, int special,
		     struct frags *fs)
{
	struct frags other = { 0 };
	int32_t k;
	int ret = NPU_OK;

	if (len)
		ret = frag_add(fs, -1, 0, len);
	for (k = 0; k < v->n_specials && !ret; k++) {
		int32_t id = v->specials[k];
		struct frags tmp;

		if (!special && (v->attr[id] & (TOK_CONTROL | TOK_UNKNOWN)))
			continue;
		ret = cut(v, text, id, fs, &other);
		tmp = *fs;
		*fs = other;
		other = tmp;
	}
	free(other.f);
	return ret;
}

/* SentencePiece's text: an optional leading space, every space as U+2581. */
static int spm_fragment(const struct npu_vocab *v, const char *s, size_t n, int prefix,
			struct tok_out *o)
{
	char *buf = malloc(3 * (n + 1));
	size_t i, k = 0;
	int ret;

	if (!buf)
		return NPU_E_NOMEM;
	for (i = 0; i < n + (size_t)prefix; i++) {
		char c = prefix ? (i ? s[i - 1] : ' ') : s[i];

		if (c == ' ') {
			memcpy(buf + k, "\xe2\x96\x81", 3);
			k += 3;
		} else {
			buf[k++] = c;
		}
	}
	ret = npu_spm_encode(v, buf, k, o);
	free(buf);
	return ret;
}

int npu_vocab_tokenize(const struct npu_vocab *v, const char *text, size_t len,
		       unsigned int flags, struct tok_out *o)
{
	struct frags fs = { 0 };
	int add = !!(flags & NPU_TOKENIZE_ADD_SPECIAL);
	int prev_special = 1, ret;
	size_t i;

	ret = partition(v, text, len, !!(flags & NPU_TOKENIZE_PARSE_SPECIAL), &fs);
	if (!ret && add && v->add_bos && v->role[NPU_TOKEN_BOS] >= 0)
		tok_push(o, v->role[NPU_TOKEN_BOS]);
	for (i = 0; i < fs.n && !ret; i++) {
		const struct frag *f = &fs.f[i];

		if (f->id >= 0) {
			tok_push(o, f->id);
			prev_special = 1;
		} else if (v->kind == VOCAB_SPM) {
			/* A space before the text, and again after each special token. */
			ret = spm_fragment(v, text + f->off, f->len,
					   v->add_space_prefix && prev_special, o);
			prev_special = 0;
		} else {
			ret = npu_bpe_encode(v, text + f->off, f->len, o);
		}
	}
	if (!ret && add && v->add_eos && v->role[NPU_TOKEN_EOS] >= 0)
		tok_push(o, v->role[NPU_TOKEN_EOS]);
	free(fs.f);
	return ret;
}

/* "<0xAB>": the byte, or -1. */
static int hex_byte(const char *s, size_t n)
{
	unsigned int b = 0;
	size_t i;

	if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>')
		return -1;
	for (i = 3; i < 5; i++) {
		int c = s[i];

		if (!isxdigit(c))
			return -1;
		b = b * 16 + (unsigned int)(isdigit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return (int)b;
}

static void put(char *buf, size_t cap, size_t *k, const char *s, size_t n)
{
	if (*k < cap)
		memcpy(buf + *k, s, n < cap - *k ? n : cap - *k);
	*k += n;
}

/*
 * llama_token_to_piece(): with @special, control and unknown tokens give
 * their text; without, nothing. User-defined tokens give their text as it
 * stands; normal ones decoded (U+2581 to space, or GPT-2's code points to
 * bytes, any other code point as llama.cpp's "[UNK_BYTE_0x..]"); byte
 * tokens their byte; unused and undefined ones nothing.
 * Return: the piece's bytes; the first @cap of them are in @buf.
 */
size_t npu_vocab_piece(const struct npu_vocab *v, int32_t id, int special, char *buf,
		       size_t cap)
{
	const char *s = v->text[id];
	size_t n = v->len[id], i = 0, k = 0;
	unsigned int a = v->attr[id];
	int b;

	if (a & (TOK_CONTROL | TOK_UNKNOWN | TOK_USER)) {
		if (!special && (a & (TOK_CONTROL | TOK_UNKNOWN)))
			return 0;
		put(buf, cap, &k, s, n);
		return k;
	}
	if (a & TOK_NORMAL) {
		while (i < n) {
			unsigned char c = (unsigned char)s[i];
			size_t cl = c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
			uint32_t cp = c;
			char hex[4];
			size_t j;

			cl = i + cl > n ? n - i : cl;
			if (v->kind == VOCAB_SPM) {
				if (cl == 3 && !memcmp(s + i, "\xe2\x96\x81", 3))
					put(buf, cap, &k, " ", 1);
				else
					put(buf, cap, &k, s + i, cl);
				i += cl;
				continue;
			}
			if (cl == 2)
				cp = (c & 0x1fu) << 6 | (s[i + 1] & 0x3fu);
			b = cl <= 2 ? npu_cp_to_byte(cp) : -1;
			if (b >= 0) {
				hex[0] = (char)b;
				put(buf, cap, &k, hex, 1);
			} else {
				put(buf, cap, &k, "[UNK_BYTE_0x", 12);
				for (j = 0; j < cl; j++) {
					snprintf(hex, sizeof(hex), "%02x", (unsigned char)s[i + j]);
					put(buf, cap, &k, hex, 2);
				}
				put(buf, cap, &k, s, n);
				put(buf, cap, &k, "]", 1);
			}
			i += cl;
		}
		return k;
	}
	if ((a & TOK_BYTE) && (b = hex_byte(s, n)) >= 0) {
		char c = (char)b;

		put(buf, cap, &k, &c, 1);
	}
	return k;
}
