// SPDX-License-Identifier: MIT
/*
 * A GGUF file's tokenizer (tokenizer.ggml.*), read through gguf.c's
 * metadata index as llama.cpp's llama_vocab::load() reads it: the kind
 * ("llama": SentencePiece; "gpt2": byte-level BPE with its merges and the
 * pre-tokenizer tokenizer.ggml.pre names), token types, special ids and
 * flags with llama.cpp's defaults, the end-of-generation set, the chat
 * template. Every count, id and string is checked before use. Works on
 * vocabulary-only files too.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

#define MAX_TOKEN 1024

static int vocab_error(struct gguf_loader *L, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int vocab_error(struct gguf_loader *L, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	npu_model_file_error(L->r.err, L->r.err_len, L->r.path, "%s", msg);
	return NPU_E_FORMAT;
}

static int text_is(const struct npu_vocab *v, int32_t id, const char *s)
{
	return v->len[id] == strlen(s) && !memcmp(v->text[id], s, v->len[id]);
}

/* The id the text maps to (the last of equal texts), or -1. */
static int32_t id_of(const struct npu_vocab *v, const char *s)
{
	return npu_vocab_id(v, s, strlen(s));
}

static int one_of(const struct npu_vocab *v, int32_t id, const char *const *list)
{
	for (; *list; list++)
		if (text_is(v, id, *list))
			return 1;
	return 0;
}

/*
 * A special id from its key: absent, or outside the vocabulary (files say
 * "none" with 0xffffffff), the default, as llama.cpp; a default outside the
 * vocabulary is none.
 */
static int special_id(struct gguf_loader *L, const struct npu_vocab *v, const char *name,
		      int32_t *id)
{
	char key[64];
	int64_t x;
	int ret;

	snprintf(key, sizeof(key), "tokenizer.ggml.%s_token_id", name);
	if (*id >= v->n)
		*id = -1;
	ret = npu_gguf_int(L, key, &x);
	if (ret < 0)
		return ret;
	if (ret)
		return NPU_OK;
	if (x >= 0 && x < v->n)
		*id = (int32_t)x;
	return NPU_OK;
}

static int flag(struct gguf_loader *L, const char *key, int *v)
{
	int ret = npu_gguf_bool(L, key, v);

	return ret > 0 ? NPU_OK : ret;
}

/* An owned, NUL-terminated copy of a metadata string; NULL when absent. */
static int dup_string(struct gguf_loader *L, const char *key, char **out)
{
	struct gguf_str s;
	int ret = npu_gguf_string(L, key, &s);

	*out = NULL;
	if (ret)
		return ret > 0 ? NPU_OK : ret;
	if (memchr(npu_gguf_str(L, &s), 0, s.n))
		return vocab_error(L, "%s holds a NUL byte", key);
	*out = strndup(npu_gguf_str(L, &s), s.n);
	return *out ? NPU_OK : NPU_E_NOMEM;
}

/* The merges: "left right" each, split at the first space after the first byte. */
static int read_merges(struct gguf_loader *L, struct npu_vocab *v)
{
	struct gguf_array a;
	uint32_t i;
	int ret = npu_gguf_array(L, "tokenizer.ggml.merges", GGUF_STRING, &a);

	if (ret)
		return ret > 0 ?
		       vocab_error(L, "tokenizer.ggml.merges is missing (gpt2 needs it)") : ret;
	if (a.count > INT32_MAX)
		return vocab_error(L, "tokenizer.ggml.merges: %llu merges is too many",
				   (unsigned long long)a.count);
	v->merge = calloc(a.count + 1, sizeof(*v->merge));
	v->merge_len = calloc(a.count + 1, sizeof(*v->merge_len));
	v->merge_split = calloc(a.count + 1, sizeof(*v->merge_split));
	ret = !v->merge || !v->merge_len || !v->merge_split ? NPU_E_NOMEM :
	      npu_str_map_init(&v->merges, (uint32_t)a.count);
	L->r.off = a.at;
	for (i = 0; i < a.count && !ret; i++) {
		struct gguf_str s;
		const char *p, *sp;

		ret = npu_gguf_next_str(L, &s, "a merge");
		if (ret)
			break;
		p = npu_gguf_str(L, &s);
		if (s.n > 2 * MAX_TOKEN + 1) {
			ret = vocab_error(L, "tokenizer.ggml.merges: merge %u is %llu bytes long "
					  "(limit %d)", i, (unsigned long long)s.n,
					  2 * MAX_TOKEN + 1);
			break;
		}
		if (memchr(p, 0, s.n)) {
			ret = vocab_error(L, "tokenizer.ggml.merges: merge %u holds a NUL byte", i);
			break;
		}
		v->merge[i] = malloc(s.n + 1);
		if (!v->merge[i]) {
			ret = NPU_E_NOMEM;
			break;
		}
		memcpy(v->merge[i], p, s.n);
		v->merge[i][s.n] = 0;
		v->merge_len[i] = (uint32_t)s.n;
		v->n_merges = i + 1;
		/* Without a space (llama.cpp: an empty pair) it never applies. */
		sp = s.n > 1 ? memchr(v->merge[i] + 1, ' ', s.n - 1) : NULL;
		if (!sp)
			continue;
		v->merge_split[i] = (uint32_t)(sp - v->merge[i]);
		/* The first of equal merges holds the rank, as llama.cpp's emplace(). */
		npu_str_map_put(&v->merges, v->merge, v->merge_len, i, 0);
	}
	return ret;
}

static const char *const eot_texts[] = {
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
	"<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
	"<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
	"<end_of_utterance>", NULL
};

static const char *const eog_texts[] = {
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
	"<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
	"<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
	"<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "[e~[", NULL
};

/* Fill-in-the-middle tokens: llama.cpp marks them control (pad, repo, sep also end generation). */
static const char *const fim_texts[6][9] = {
	{ "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
	  "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>", "\xe2\x96\x81<PRE>",
	  "<|code_prefix|>", "<|prefix|>", NULL },
	{ "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
	  "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>", "<SUF>", "\xe2\x96\x81<SUF>",
	  "<|code_suffix|>", "<|suffix|>", NULL },
	{ "<|fim_middle|>", "<fim-middle>", "<fim_middle>",
	  "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>", "\xe2\x96\x81<MID>",
	  "<|code_middle|>", "<|middle|>", NULL },
	{ "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL },
	{ "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL },
	{ "<|file_sep|>", NULL },
};

/* An id that is the map's id for its text (equal texts: the last one). */
static int canonical(const struct npu_vocab *v, int32_t id)
{
	return npu_vocab_id(v, v->text[id], v->len[id]) == id;
}

static void set_attr(struct npu_vocab *v, const char *s, unsigned int a, int on)
{
	int32_t id = id_of(v, s);

	if (id >= 0)
		v->attr[id] = (uint16_t)(on ? v->attr[id] | a : v->attr[id] & ~a);
}

/*
 * llama.cpp's fix-ups by token text: EOT, EOM and fill-in-the-middle tokens
 * found by their text become control; "unused" control tokens unused; the
 * end-of-generation set. (Ids in ascending order where llama.cpp walks a
 * hash map: the first EOT text found wins.)
 */
static void by_text(struct npu_vocab *v, int32_t fim[6])
{
	int32_t i, end_id = -1, s_id = -1;
	int has_return = 0, has_call = 0, has_flush = 0, has_tool = 0;
	int k;

	for (i = 0; i < v->n; i++) {
		if (!canonical(v, i))
			continue;
		if (v->role[NPU_TOKEN_EOT] < 0 && one_of(v, i, eot_texts)) {
			v->role[NPU_TOKEN_EOT] = i;
			v->attr[i] |= TOK_CONTROL;
		}
		if (v->eom < 0 && text_is(v, i, "<|eom_id|>")) {
			v->eom = i;
			v->attr[i] |= TOK_CONTROL;
		}
		for (k = 0; k < 6; k++)
			if (fim[k] < 0 && one_of(v, i, fim_texts[k])) {
				fim[k] = i;
				v->attr[i] |= TOK_CONTROL;
			}
	}
	for (i = 0; i < v->n; i++)
		if (canonical(v, i) && (v->attr[i] & TOK_CONTROL) && strstr(v->text[i], "unused"))
			v->attr[i] |= TOK_UNUSED;
	for (k = 3; k < 6; k++)
		if (fim[k] >= 0)
			v->attr[fim[k]] |= TOK_EOG;
	for (i = 0; i < v->n; i++) {
		if (!canonical(v, i))
			continue;
		if (one_of(v, i, eog_texts))
			v->attr[i] |= TOK_EOG | TOK_CONTROL;
		if (text_is(v, i, "<|channel|>") || text_is(v, i, "<|message|>") ||
		    text_is(v, i, "<|start|>") || text_is(v, i, "<|constrain|>"))
			v->attr[i] = (v->attr[i] & TOK_EOG) | TOK_USER;
	}
	if (v->role[NPU_TOKEN_EOS] >= 0)
		v->attr[v->role[NPU_TOKEN_EOS]] |= TOK_EOG;
	if (v->role[NPU_TOKEN_EOT] >= 0)
		v->attr[v->role[NPU_TOKEN_EOT]] |= TOK_EOG;
	if (v->eom >= 0)
		v->attr[v->eom] |= TOK_EOG;
	/* o200k_harmony and solar-open: their <|end|> does not end generation. */
	for (i = 0; i < v->n; i++) {
		if (!(v->attr[i] & TOK_EOG))
			continue;
		has_return |= text_is(v, i, "<|return|>");
		has_call |= text_is(v, i, "<|call|>") || text_is(v, i, "<|calls|>");
		has_flush |= text_is(v, i, "<|flush|>");
		has_tool |= text_is(v, i, "<|tool_response>");
		if (text_is(v, i, "<|end|>"))
			end_id = i;
		if (text_is(v, i, "</s>"))
			s_id = i;
	}
	if (end_id >= 0 && has_call && (has_return || has_flush))
		v->attr[end_id] = TOK_USER;
	if (s_id >= 0 && has_tool)
		v->attr[s_id] = TOK_NORMAL;
}

static int by_key(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Longest text first, then by id (llama.cpp's sort leaves equal lengths unordered). */
static int sort_specials(struct npu_vocab *v)
{
	uint64_t *k = malloc(((size_t)v->n_specials + 1) * sizeof(*k));
	int32_t i;

	if (!k)
		return NPU_E_NOMEM;
	for (i = 0; i < v->n_specials; i++)
		k[i] = (uint64_t)(UINT32_MAX - v->len[v->specials[i]]) << 32 |
		       (uint32_t)v->specials[i];
	qsort(k, (size_t)v->n_specials, sizeof(*k), by_key);
	for (i = 0; i < v->n_specials; i++)
		v->specials[i] = (int32_t)(uint32_t)k[i];
	free(k);
	return NPU_OK;
}

/* Per-model strip flags llama.cpp sets by name, and the special-token list. */
static int finish(struct gguf_loader *L, struct npu_vocab *v)
{
	char *name = NULL, *arch = NULL;
	const char *pre = v->pre_name ? v->pre_name : "";
	int32_t i;
	int ret;

	ret = dup_string(L, "general.name", &name);
	ret = ret ? ret : dup_string(L, "general.architecture", &arch);
	v->specials = ret ? NULL : malloc(((size_t)v->n + 1) * sizeof(*v->specials));
	if (!ret && !v->specials)
		ret = NPU_E_NOMEM;
	for (i = 0; !ret && i < v->n; i++)
		if (v->attr[i] & (TOK_CONTROL | TOK_USER | TOK_UNKNOWN))
			v->specials[v->n_specials++] = i;
	for (i = 0; name && name[i]; i++)
		name[i] = (char)tolower((unsigned char)name[i]);
	if (!ret && (strstr(pre, "jina-v2-de") || strstr(pre, "jina-v2-es") ||
		     strstr(pre, "jina-v2-code") ||
		     (arch && (strstr(arch, "nomic-bert-moe") || strstr(arch, "jina-bert-v3"))))) {
		set_attr(v, "<mask>", TOK_LSTRIP, 1);
	} else if (!ret && name && (strstr(name, "phi-3") || strstr(name, "phi3"))) {
		for (i = 0; i < v->n_specials; i++)
			v->attr[v->specials[i]] |= TOK_RSTRIP;
		set_attr(v, "</s>", TOK_RSTRIP, 1);
		set_attr(v, "<unk>", TOK_RSTRIP, 0);
		set_attr(v, "<s>", TOK_RSTRIP, 0);
		set_attr(v, "<|endoftext|>", TOK_RSTRIP, 0);
	} else if (!ret && name && strstr(name, "modern-bert")) {
		set_attr(v, "[MASK]", TOK_LSTRIP, 1);
	}
	if (!ret)
		ret = sort_specials(v);
	free(name);
	free(arch);
	return ret;
}

/* The kind, the pre-tokenizer and llama.cpp's defaults for them. */
static int read_kind(struct gguf_loader *L, struct npu_vocab *v)
{
	struct gguf_str model;
	char *pre = NULL, q[NPU_QUOTE_LEN];
	int ret = npu_gguf_string(L, "tokenizer.ggml.model", &model), i;

	if (ret < 0)
		return ret;
	if (ret)
		return vocab_error(L, "tokenizer.ggml.model is missing");
	for (i = 0; i < NPU_TOKEN_ROLES; i++)
		v->role[i] = -1;
	v->eom = -1;
	if (model.n == 5 && !memcmp(npu_gguf_str(L, &model), "llama", 5)) {
		v->kind = VOCAB_SPM;
		v->role[NPU_TOKEN_BOS] = 1;
		v->role[NPU_TOKEN_EOS] = 2;
		v->role[NPU_TOKEN_UNK] = 0;
		v->add_space_prefix = 1;
		v->add_bos = 1;
	} else if (model.n == 4 && !memcmp(npu_gguf_str(L, &model), "gpt2", 4)) {
		v->kind = VOCAB_BPE;
		v->role[NPU_TOKEN_BOS] = v->role[NPU_TOKEN_EOS] = 11;
	} else {
		return vocab_error(L, "tokenizer.ggml.model is not llama (SentencePiece) or gpt2 "
				   "(byte-level BPE): %s",
				   npu_model_quote(q, npu_gguf_str(L, &model), model.n));
	}
	ret = dup_string(L, "tokenizer.ggml.pre", &pre);
	if (ret)
		return ret;
	if (v->kind == VOCAB_BPE) {
		/* Absent: llama.cpp's "default" (it warns); unknown: refused, as llama.cpp does. */
		v->pre_name = pre ? pre : strdup("default");
		if (!v->pre_name)
			return NPU_E_NOMEM;
		ret = npu_pretok_new(v->pre_name, &v->pre, &v->ignore_merges);
		if (ret == -1)
			return vocab_error(L, "tokenizer.ggml.pre is %s: not a pre-tokenizer "
					   "llama.cpp knows for gpt2, or not one this library runs",
					   npu_model_quote(q, v->pre_name, strlen(v->pre_name)));
		if (ret)
			return ret;
		/*
		 * Llama 3's pre-tokenizers and tekken add BOS unless the file says
		 * otherwise: in llama.cpp, as in pretokenizer.c's table, exactly
		 * those that ignore merges.
		 */
		v->add_bos = v->ignore_merges;
		if (!strcmp(v->pre_name, "glm4") || !strcmp(v->pre_name, "chatglm-bpe"))
			v->role[NPU_TOKEN_BOS] = -1;
	} else {
		free(pre);
	}
	return flag(L, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix);
}

/* Token texts, scores and types. Empty texts become "[EMPTY_<id>]", as llama.cpp's. */
static int read_tokens(struct gguf_loader *L, struct npu_vocab *v, struct npu_tokenizer *tk,
		       const struct gguf_array *tokens)
{
	struct gguf_array scores, types;
	int32_t i, n = v->n;
	int ret;

	ret = npu_gguf_array(L, "tokenizer.ggml.scores", GGUF_F32, &scores);
	if (ret < 0)
		return ret;
	if (ret)
		scores.at = 0;
	else if (scores.count < (uint64_t)n)
		return vocab_error(L, "tokenizer.ggml.scores has %llu scores for %d tokens",
				   (unsigned long long)scores.count, n);
	ret = npu_gguf_array(L, "tokenizer.ggml.token_type", GGUF_I32, &types);
	if (ret < 0)
		return ret;
	if (ret)
		types.at = 0;
	else if (types.count < (uint64_t)n)
		return vocab_error(L, "tokenizer.ggml.token_type has %llu types for %d tokens",
				   (unsigned long long)types.count, n);
	v->text = calloc((size_t)n, sizeof(*v->text));
	v->len = calloc((size_t)n, sizeof(*v->len));
	v->attr = calloc((size_t)n, sizeof(*v->attr));
	tk->pieces = calloc((size_t)n, sizeof(*tk->pieces));
	tk->scores = calloc((size_t)n, sizeof(*tk->scores));
	if (!v->text || !v->len || !v->attr || !tk->pieces || !tk->scores)
		return NPU_E_NOMEM;
	ret = npu_str_map_init(&v->ids, (uint32_t)n);
	/* The tokens were read when their array was checked: this reads nothing. */
	L->r.off = tokens->at;
	for (i = 0; i < n && !ret; i++) {
		struct gguf_str s;
		const char *p;
		int32_t type = 1;

		ret = npu_gguf_next_str(L, &s, "a token");
		if (ret)
			break;
		p = npu_gguf_str(L, &s);
		if (s.n > MAX_TOKEN)
			return vocab_error(L, "tokenizer.ggml.tokens: token %d is %llu bytes long "
					   "(limit %d)", i, (unsigned long long)s.n, MAX_TOKEN);
		if (memchr(p, 0, s.n))
			return vocab_error(L, "tokenizer.ggml.tokens: token %d holds a NUL byte",
					   i);
		v->text[i] = s.n ? strndup(p, s.n) : malloc(24);
		if (!v->text[i])
			return NPU_E_NOMEM;
		if (!s.n)
			snprintf(v->text[i], 24, "[EMPTY_%d]", i);
		v->len[i] = (uint32_t)strlen(v->text[i]);
		npu_str_map_put(&v->ids, v->text, v->len, (uint32_t)i, 1);
		if (scores.at)
			memcpy(&tk->scores[i], L->r.p + scores.at + 4 * (size_t)i, 4);
		if (!isfinite(tk->scores[i]))
			return vocab_error(L, "tokenizer.ggml.scores: token %d has a "
					   "non-finite score", i);
		if (types.at)
			memcpy(&type, L->r.p + types.at + 4 * (size_t)i, 4);
		/* 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte. */
		v->attr[i] = type == 1 ? TOK_NORMAL : type == 2 ? TOK_UNKNOWN :
			     type == 3 ? TOK_CONTROL : type == 4 ? TOK_USER :
			     type == 5 ? TOK_UNUSED : type == 6 ? TOK_BYTE : 0;
	}
	return ret;
}

/*
 * The pieces npu_tokenizer_piece() and llama2.c-style users read. A BPE
 * token's code point that is no byte is spelled as llama.cpp does, with
 * the whole token's text each time: quadratic in the token, so the pieces
 * may take twice the texts' bytes and 1 MiB more, no more.
 */
static int make_pieces(struct gguf_loader *L, struct npu_vocab *v, struct npu_tokenizer *tk)
{
	size_t budget = 1 << 20, used = 0;
	int32_t i;

	for (i = 0; i < v->n; i++)
		budget += 2 * (size_t)v->len[i];
	for (i = 0; i < v->n; i++) {
		size_t n = v->kind == VOCAB_SPM || !(v->attr[i] & TOK_NORMAL) ? v->len[i] :
			   npu_vocab_piece(v, i, 1, NULL, 0);
		char *p;
		size_t k, o = 0;

		if (n > budget - used)
			return vocab_error(L, "tokenizer.ggml.tokens: token %d's piece takes the "
					   "pieces over %zu bytes (code points that are no byte)",
					   i, budget);
		used += n;
		p = malloc(n + 1);
		if (!p)
			return NPU_E_NOMEM;
		tk->pieces[i] = p;
		if (v->kind == VOCAB_BPE && (v->attr[i] & TOK_NORMAL)) {
			npu_vocab_piece(v, i, 1, p, n);
			o = n;
		} else {
			/* SentencePiece's U+2581 becomes a space. */
			for (k = 0; k < v->len[i]; k++) {
				const char *q = v->text[i] + k;

				if (k + 2 < v->len[i] && !memcmp(q, "\xe2\x96\x81", 3)) {
					p[o++] = ' ';
					k += 2;
				} else {
					p[o++] = v->text[i][k];
				}
			}
		}
		p[o] = 0;	/* a NUL byte inside ends the piece early */
		if ((int32_t)strlen(p) > tk->max_token_length)
			tk->max_token_length = (int32_t)strlen(p);
	}
	return NPU_OK;
}

static int load(struct gguf_loader *L, struct npu_tokenizer *tk, struct npu_vocab *v)
{
	static const char *const fim_keys[3] = { "fim_pad", "fim_rep", "fim_sep" };
	struct gguf_array tokens;
	int32_t fim[6] = { -1, -1, -1, -1, -1, -1 };
	int ret, k;

	ret = npu_gguf_array(L, "tokenizer.ggml.tokens", GGUF_STRING, &tokens);
	if (ret)
		return ret > 0 ? vocab_error(L, "no tokenizer: tokenizer.ggml.tokens is missing") :
				 ret;
	if (tokens.count > 1048576 || tokens.count < 1 ||
	    (L->m && tokens.count != (uint64_t)L->m->cfg.vocab_size))
		return vocab_error(L, "tokenizer.ggml.tokens: %llu tokens is not the model's "
				   "vocabulary (1..1048576)", (unsigned long long)tokens.count);
	v->n = (int32_t)tokens.count;
	ret = read_kind(L, v);
	if (!ret && v->kind == VOCAB_SPM && v->n < 259)
		return vocab_error(L, "tokenizer.ggml.tokens: %d tokens: byte fallback needs 259",
				   v->n);
	ret = ret ? ret : read_tokens(L, v, tk, &tokens);
	if (!ret && v->kind == VOCAB_BPE)
		ret = read_merges(L, v);
	ret = ret ? ret : special_id(L, v, "bos", &v->role[NPU_TOKEN_BOS]);
	ret = ret ? ret : special_id(L, v, "eos", &v->role[NPU_TOKEN_EOS]);
	ret = ret ? ret : special_id(L, v, "eot", &v->role[NPU_TOKEN_EOT]);
	ret = ret ? ret : special_id(L, v, "eom", &v->eom);
	ret = ret ? ret : special_id(L, v, "unknown", &v->role[NPU_TOKEN_UNK]);
	ret = ret ? ret : special_id(L, v, "padding", &v->role[NPU_TOKEN_PAD]);
	for (k = 0; k < 3 && !ret; k++)
		ret = special_id(L, v, fim_keys[k], &fim[3 + k]);
	ret = ret ? ret : flag(L, "tokenizer.ggml.add_bos_token", &v->add_bos);
	ret = ret ? ret : flag(L, "tokenizer.ggml.add_eos_token", &v->add_eos);
	ret = ret ? ret : dup_string(L, "tokenizer.chat_template", &v->chat_template);
	if (ret)
		return ret;
	by_text(v, fim);
	ret = finish(L, v);
	v->scores_of = tk->scores;
	tk->vocab_size = v->n;
	return ret ? ret : make_pieces(L, v, tk);
}

int npu_gguf_load_vocab(struct gguf_loader *L, struct npu_tokenizer *tk)
{
	struct npu_vocab *v = calloc(1, sizeof(*v));
	int ret;

	/* *tk is zero: the loader cleared it */
	if (!v)
		return NPU_E_NOMEM;
	tk->vocab = v;
	ret = load(L, tk, v);
	tk->vocab_size = v->n;
	ret = ret ? ret : npu_tokenizer_index(tk);
	if (ret)
		npu_tokenizer_free(tk);
	return ret;
}
