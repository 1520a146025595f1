// SPDX-License-Identifier: MIT
/*
 * A GGUF file's tokenizer (tokenizer.ggml.*): its pieces and scores, read
 * through gguf.c's metadata index. Works on vocabulary-only files too.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

static int vocab_error(struct gguf_loader *L, const char *msg)
{
	npu_model_file_error(L->r.err, L->r.err_len, L->r.path, "%s", msg);
	return NPU_E_FORMAT;
}

/* SentencePiece's U+2581 becomes a space. */
int npu_gguf_load_vocab(struct gguf_loader *L, struct npu_tokenizer *tk)
{
	struct gguf_array tokens, scores;
	struct gguf_str model;
	int64_t bos, eos;
	int32_t i, n;
	int ret;

	ret = npu_gguf_array(L, "tokenizer.ggml.tokens", GGUF_STRING, &tokens);
	ret = ret < 0 ? ret : npu_gguf_array(L, "tokenizer.ggml.scores", GGUF_F32, &scores);
	if (ret < 0)
		return ret;
	if (ret || scores.count != tokens.count)
		return vocab_error(L, "no tokenizer: tokenizer.ggml.tokens and .scores (equal length) are needed");
	ret = npu_gguf_string(L, "tokenizer.ggml.model", &model);
	if (ret < 0)
		return ret;
	if (ret)
		return vocab_error(L, "tokenizer.ggml.model is missing");
	if (model.n != 5 || memcmp(npu_gguf_str(L, &model), "llama", 5))
		return vocab_error(L, "tokenizer.ggml.model is not llama (SentencePiece BPE)");
	ret = npu_gguf_int(L, "tokenizer.ggml.bos_token_id", &bos);
	if (ret < 0)
		return ret;
	bos = ret ? 1 : bos;
	ret = npu_gguf_int(L, "tokenizer.ggml.eos_token_id", &eos);
	if (ret < 0)
		return ret;
	eos = ret ? 2 : eos;
	if (bos != 1 || eos != 2) {
		npu_model_file_error(L->r.err, L->r.err_len, L->r.path,
				     "tokenizer.ggml.%s_token_id is %lld: the runner uses %d",
				     bos != 1 ? "bos" : "eos", (long long)(bos != 1 ? bos : eos),
				     bos != 1 ? 1 : 2);
		return NPU_E_FORMAT;
	}
	if (tokens.count > INT32_MAX || (L->m && tokens.count != (uint64_t)L->m->cfg.vocab_size))
		return vocab_error(L, "tokenizer.ggml.tokens is not the model's vocabulary");
	n = (int32_t)tokens.count;
	if (n < 259) {
		npu_model_file_error(L->r.err, L->r.err_len, L->r.path,
				     "%d tokens: byte fallback needs 259", n);
		return NPU_E_FORMAT;
	}
	tk->vocab_size = n;	/* *tk is zero: the loader cleared it */
	tk->pieces = calloc((size_t)n, sizeof(*tk->pieces));
	tk->scores = calloc((size_t)n, sizeof(*tk->scores));
	if (!tk->pieces || !tk->scores)
		ret = NPU_E_NOMEM;
	/* The tokens were read when their array was checked: this reads nothing. */
	L->r.off = tokens.at;
	for (i = 0; i < n && !ret; i++) {
		struct gguf_str s;
		const char *p;
		uint64_t k;
		size_t o = 0;

		ret = npu_gguf_next_str(L, &s, "a token");
		if (ret)
			break;
		p = npu_gguf_str(L, &s);
		if (s.n > 1024 || memchr(p, 0, s.n)) {
			npu_model_file_error(L->r.err, L->r.err_len, L->r.path,
					     "token %d is longer than 1024 bytes or holds a NUL", i);
			ret = NPU_E_FORMAT;
			break;
		}
		tk->pieces[i] = malloc(s.n + 1);
		if (!tk->pieces[i]) {
			ret = NPU_E_NOMEM;
			break;
		}
		for (k = 0; k < s.n; k++) {
			if (k + 2 < s.n && !memcmp(p + k, "\xe2\x96\x81", 3)) {
				tk->pieces[i][o++] = ' ';
				k += 2;
			} else {
				tk->pieces[i][o++] = p[k];
			}
		}
		tk->pieces[i][o] = 0;
		if ((int32_t)o > tk->max_token_length)
			tk->max_token_length = (int32_t)o;
		memcpy(&tk->scores[i], L->r.p + scores.at + 4 * (size_t)i, 4);
		if (!isfinite(tk->scores[i])) {
			npu_model_file_error(L->r.err, L->r.err_len, L->r.path,
					     "token %d has a non-finite score", i);
			ret = NPU_E_FORMAT;
		}
	}
	ret = ret ? ret : npu_tokenizer_index(tk);
	if (ret)
		npu_tokenizer_free(tk);
	return ret;
}
