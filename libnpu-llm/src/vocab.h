/* SPDX-License-Identifier: MIT */
/*
 * A GGUF file's tokenizer as llama.cpp's llama_vocab keeps it: the raw token
 * texts by id and by text, their attributes, the BPE merges, the special
 * ids, the pre-tokenizer. gguf_vocab.c fills it; vocab.c (lookups, special
 * tokens, pieces), tokenizer_spm.c, tokenizer_bpe.c and pretokenizer.c use it.
 */
#ifndef NPU_VOCAB_H
#define NPU_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "model_internal.h"

/* llama.cpp's token attributes (from tokenizer.ggml.token_type, then fixed up). */
enum {
	TOK_NORMAL = 1 << 0,
	TOK_UNKNOWN = 1 << 1,
	TOK_CONTROL = 1 << 2,
	TOK_USER = 1 << 3,
	TOK_UNUSED = 1 << 4,
	TOK_BYTE = 1 << 5,
	TOK_LSTRIP = 1 << 6,
	TOK_RSTRIP = 1 << 7,
	TOK_EOG = 1 << 8,	/* ours: ends generation */
};

enum vocab_kind { VOCAB_SPM, VOCAB_BPE };

/* Strings to ids (or ranks): open addressing over FNV-1a, id + 1 per slot (0: empty). */
struct str_map {
	uint32_t *slot;
	uint32_t mask;
};

struct pretok;

struct npu_vocab {
	enum vocab_kind kind;
	int32_t n;
	char **text;		/* raw token texts, NUL-terminated */
	uint32_t *len;
	uint16_t *attr;
	struct str_map ids;	/* text -> the last id of that text, as llama.cpp's map */
	const float *scores_of;	/* the tokenizer's scores */
	/* BPE merges: "left right" strings, their rank is their index. */
	char **merge;
	uint32_t *merge_len, *merge_split;	/* bytes, and bytes of the left side */
	uint32_t n_merges;
	struct str_map merges;
	int32_t role[NPU_TOKEN_ROLES];
	int32_t eom;
	int add_bos, add_eos, add_space_prefix, ignore_merges;
	int32_t *specials;	/* control, user-defined and unknown ids, longest text first */
	int32_t n_specials;
	struct pretok *pre;
	char *pre_name;
	char *chat_template;
};

NPU_HIDDEN uint32_t npu_str_hash(const char *s, size_t n);
/* A map of room for @n entries; NPU_E_NOMEM. */
NPU_HIDDEN int npu_str_map_init(struct str_map *m, uint32_t n);
NPU_HIDDEN void npu_str_map_free(struct str_map *m);
/* Insert id @id of @keys; an equal key already there stays unless @replace. */
NPU_HIDDEN void npu_str_map_put(struct str_map *m, char *const *keys, const uint32_t *lens,
				uint32_t id, int replace);
/* The id of (@s, @n) in @keys, or -1. */
NPU_HIDDEN int32_t npu_str_map_get(const struct str_map *m, char *const *keys,
				   const uint32_t *lens, const char *s, size_t n);

/* The id of a token text, or -1. */
NPU_HIDDEN int32_t npu_vocab_id(const struct npu_vocab *v, const char *s, size_t n);
NPU_HIDDEN void npu_vocab_free(struct npu_vocab *v);

/*
 * Token output: tokens beyond @max are counted, not written; memory is the
 * caller's @tokens plus what each encoder allocates per call.
 */
struct tok_out {
	int32_t *tokens;
	int32_t max, n;
};

static inline void tok_push(struct tok_out *o, int32_t id)
{
	if (o->n < o->max)
		o->tokens[o->n] = id;
	o->n++;
}

/*
 * The pairs an encoder may merge, best first: the lowest key (BPE: the
 * merge's rank; SentencePiece: minus the score), then the leftmost.
 */
struct bigram {
	double key;
	int32_t left, right;
	size_t size;		/* the pair's bytes when pushed: stale when they differ */
};

struct bigram_heap {
	struct bigram *b;
	size_t n, cap;
};

NPU_HIDDEN int npu_heap_push(struct bigram_heap *h, const struct bigram *b);
NPU_HIDDEN struct bigram npu_heap_pop(struct bigram_heap *h);

/* SentencePiece over @text (spaces already U+2581): tokenizer_spm.c. */
NPU_HIDDEN int npu_spm_encode(const struct npu_vocab *v, const char *text, size_t len,
			      struct tok_out *o);
/* Byte-level BPE over one fragment of text: tokenizer_bpe.c. */
NPU_HIDDEN int npu_bpe_encode(const struct npu_vocab *v, const char *text, size_t len,
			      struct tok_out *o);

/* llama_tokenize() over a GGUF vocabulary: vocab.c. */
NPU_HIDDEN int npu_vocab_tokenize(const struct npu_vocab *v, const char *text, size_t len,
				  unsigned int flags, struct tok_out *o);
/* llama_token_to_piece(): its bytes; the first @cap of them in @buf. */
NPU_HIDDEN size_t npu_vocab_piece(const struct npu_vocab *v, int32_t id, int special, char *buf,
				  size_t cap);

/* ---- pretokenizer.c ---- */
/* The regexes llama.cpp uses for tokenizer.ggml.pre @name; -1 for a name it does not know. */
NPU_HIDDEN int npu_pretok_new(const char *name, struct pretok **p, int *ignore_merges);
NPU_HIDDEN void npu_pretok_free(struct pretok *p);
/*
 * Split @text into words as llama.cpp's unicode_regex_split() does; @word
 * is called with each word, byte-encoded (bytes to GPT-2's code points).
 */
NPU_HIDDEN int npu_pretok_split(const struct pretok *p, const char *text, size_t len,
				int (*word)(void *ctx, const char *w, size_t n), void *ctx);
/* GPT-2's code point for byte @b, as UTF-8 into @out (2 bytes at most); its length. */
NPU_HIDDEN int npu_byte_to_utf8(uint8_t b, char out[2]);
/* The byte whose code point is @cp, or -1. */
NPU_HIDDEN int npu_cp_to_byte(uint32_t cp);

#endif
