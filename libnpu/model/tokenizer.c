// SPDX-License-Identifier: MIT
/*
 * llama2.c tokenizer files: int32 max_token_length, then for each of
 * vocab_size pieces: float score, int32 length, the bytes. Encoding is
 * SentencePiece-style BPE: start from code points (unknown ones fall back
 * to the byte tokens 3..258), then merge the best-scoring pair until none
 * merges.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

static const struct npu_tokenizer *sort_ctx;

static int by_piece(const void *a, const void *b)
{
	return strcmp(sort_ctx->pieces[*(const int32_t *)a], sort_ctx->pieces[*(const int32_t *)b]);
}

int npu_tokenizer_index(struct npu_tokenizer *t)
{
	int32_t i;

	t->sorted = malloc((size_t)t->vocab_size * sizeof(*t->sorted));
	if (!t->sorted)
		return NPU_E_NOMEM;
	for (i = 0; i < t->vocab_size; i++)
		t->sorted[i] = i;
	sort_ctx = t;
	qsort(t->sorted, (size_t)t->vocab_size, sizeof(*t->sorted), by_piece);
	return NPU_OK;
}

int npu_tokenizer_load(const char *path, int32_t vocab_size, struct npu_tokenizer *t, char *err,
		       size_t len)
{
	FILE *f;
	int32_t i;
	int ret = NPU_OK;

	if (!path || !t)
		return NPU_E_INVAL;
	/* Encoding falls back to the byte tokens 3..258: they must exist. */
	if (vocab_size < 259 || vocab_size > 1048576) {
		npu_model_error(err, len, "vocab_size %d: a tokenizer needs 259..1048576 tokens",
				vocab_size);
		return NPU_E_FORMAT;
	}
	memset(t, 0, sizeof(*t));
	f = fopen(path, "rb");
	if (!f) {
		npu_model_error(err, len, "%s: %s", path, strerror(errno));
		return NPU_E_IO;
	}
	t->vocab_size = vocab_size;
	if (fread(&t->max_token_length, 4, 1, f) != 1 || t->max_token_length < 1 ||
	    t->max_token_length > 1024) {
		npu_model_error(err, len, "%s: max_token_length missing or outside 1..1024", path);
		fclose(f);
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
			npu_model_error(err, len, "%s: truncated at token %d of %d", path, i,
					vocab_size);
			ret = NPU_E_FORMAT;
		} else if (!isfinite(t->scores[i])) {
			npu_model_error(err, len, "%s: token %d has a non-finite score", path, i);
			ret = NPU_E_FORMAT;
		} else if (n < 0 || n > t->max_token_length) {
			npu_model_error(err, len, "%s: token %d has length %d outside 0..%d", path, i,
					n, t->max_token_length);
			ret = NPU_E_FORMAT;
		} else if (!(t->pieces[i] = calloc((size_t)n + 1, 1))) {
			ret = NPU_E_NOMEM;
		} else if (fread(t->pieces[i], 1, (size_t)n, f) != (size_t)n) {
			npu_model_error(err, len, "%s: truncated in the bytes of token %d", path, i);
			ret = NPU_E_FORMAT;
		}
	}
	if (!ret && fgetc(f) != EOF) {
		npu_model_error(err, len, "%s: bytes left after %d tokens: not this model's tokenizer",
				path, vocab_size);
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

	if (!t || vocab_size < 259)
		return NPU_E_INVAL;
	memset(t, 0, sizeof(*t));
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

int npu_tokenizer_encode(const struct npu_tokenizer *t, const char *text, int bos,
			 int32_t *tokens, int32_t max, int32_t *n)
{
	size_t tl, i = 0;
	char *buf;
	int32_t *w, k = 0;

	if (!t || !text || !tokens || !n || max < 1)
		return NPU_E_INVAL;
	tl = strlen(text);
	/*
	 * Every code point (or byte) first, then the merges: @max bounds the
	 * merged tokens, so the work array holds the whole text.
	 */
	buf = malloc((size_t)t->max_token_length * 2 + 8);
	w = malloc((tl + 2) * sizeof(*w));
	if (!buf || !w) {
		free(buf);
		free(w);
		return NPU_E_NOMEM;
	}
	if (bos)
		w[k++] = 1;
	/* SentencePiece's dummy prefix: the text starts with a space. */
	if (tl) {
		int32_t sp = lookup(t, " ");

		if (sp >= 0)
			w[k++] = sp;
	}
	while (i < tl) {
		size_t cl = 1, j;
		int32_t id;

		/* One UTF-8 code point (continuation bytes are 10xxxxxx). */
		while (i + cl < tl && cl < 4 && ((unsigned char)text[i + cl] & 0xc0) == 0x80)
			cl++;
		memcpy(buf, text + i, cl);
		buf[cl] = '\0';
		id = lookup(t, buf);
		if (id >= 0) {
			w[k++] = id;
		} else {
			for (j = 0; j < cl; j++)
				w[k++] = (unsigned char)text[i + j] + 3;
		}
		i += cl;
	}
	for (;;) {
		float best = -1e30f;
		int32_t best_id = -1, best_at = -1, j;

		for (j = 0; j + 1 < k; j++) {
			int32_t id;

			if (w[j] == 1 || w[j + 1] == 1)
				continue;
			if (strlen(t->pieces[w[j]]) + strlen(t->pieces[w[j + 1]]) >
			    (size_t)t->max_token_length * 2)
				continue;
			snprintf(buf, (size_t)t->max_token_length * 2 + 8, "%s%s", t->pieces[w[j]],
				 t->pieces[w[j + 1]]);
			id = lookup(t, buf);
			if (id >= 0 && t->scores[id] > best) {
				best = t->scores[id];
				best_id = id;
				best_at = j;
			}
		}
		if (best_at < 0)
			break;
		w[best_at] = best_id;
		memmove(&w[best_at + 1], &w[best_at + 2], (size_t)(k - best_at - 2) * sizeof(*w));
		k--;
	}
	*n = k < max ? k : max;
	memcpy(tokens, w, (size_t)*n * sizeof(*tokens));
	free(buf);
	free(w);
	return NPU_OK;
}

const char *npu_tokenizer_piece(const struct npu_tokenizer *t, int32_t prev, int32_t token,
				char byte_buf[2])
{
	const char *p;
	unsigned int byte;

	if (!t || token < 0 || token >= t->vocab_size)
		return "";
	p = t->pieces[token];
	if (prev == 1 && p[0] == ' ')
		p++;
	if (sscanf(p, "<0x%02X>", &byte) == 1 && strlen(p) == 6) {
		byte_buf[0] = (char)byte;
		byte_buf[1] = '\0';
		return byte_buf;
	}
	return p;
}
