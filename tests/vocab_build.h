/* SPDX-License-Identifier: MIT */
/*
 * Vocabulary-only GGUF files (no tensors) as npu_tokenizer_load_gguf()
 * reads them, written byte by byte: a small SentencePiece vocabulary
 * (<unk>, <s>, </s>, the 256 <0xNN> byte tokens, a few merged pieces) or a
 * small byte-level BPE one (the 256 bytes as GPT-2's code points, merges
 * and the tokens they make), each with control and user-defined tokens.
 * A test changes fields of struct vb (or leaves keys out and writes its
 * own) to make a hostile file. For test_vocab_hostile and the fuzz seeds.
 */
#ifndef NPU_TESTS_VOCAB_BUILD_H
#define NPU_TESTS_VOCAB_BUILD_H

#include <stdio.h>

#include "gguf_build.h"

#define VB_MAX 512

/* Keys vb_write() leaves out. */
enum {
	VB_NO_SCORES = 1 << 0,
	VB_NO_TYPES = 1 << 1,
	VB_NO_MERGES = 1 << 2,
	VB_NO_BOS = 1 << 3,
	VB_NO_TEMPLATE = 1 << 4,
	VB_NO_ADD_BOS = 1 << 5,
};

struct vb {
	const char *model, *pre;	/* pre NULL: no key */
	int32_t n;
	char text[VB_MAX][24];
	uint32_t len[VB_MAX];		/* of text[] */
	float score[VB_MAX];
	int32_t type[VB_MAX];
	uint64_t n_scores, n_types;	/* the arrays' claimed lengths (n) */
	uint32_t n_merges;
	char merge[64][24];
	int32_t bos, eos;
	unsigned int omit;
	/* When set: tokens odd_at.. (odd_n of them) are this text instead. */
	const char *odd;
	uint32_t odd_len;
	int32_t odd_at, odd_n;
	/* Keys a test writes itself after the others: their count and writer. */
	uint32_t n_extra;
	void (*extra)(struct gguf_build *b, void *arg);
	void *arg;
};

/* GPT-2's code point for byte @c, as UTF-8 into @out; its length. */
static inline int vb_byte_cp(unsigned int c, char *out)
{
	unsigned int i, cp = 0x100;

	if ((c >= 0x21 && c <= 0x7e) || (c >= 0xa1 && c <= 0xac) || c >= 0xae) {
		cp = c;
	} else {
		for (i = 0; i < c; i++)
			cp += !((i >= 0x21 && i <= 0x7e) || (i >= 0xa1 && i <= 0xac) || i >= 0xae);
	}
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	out[0] = (char)(0xc0 | cp >> 6);
	out[1] = (char)(0x80 | (cp & 0x3f));
	return 2;
}

static inline int32_t vb_add(struct vb *v, const char *s, float score, int32_t type)
{
	int32_t i = v->n++;

	snprintf(v->text[i], sizeof(v->text[i]), "%s", s);
	v->len[i] = (uint32_t)strlen(v->text[i]);
	v->score[i] = score;
	v->type[i] = type;
	v->n_scores = v->n_types = (uint64_t)v->n;
	return i;
}

static inline void vb_specials(struct vb *v)
{
	vb_add(v, "<|im_start|>", 0, 3);
	vb_add(v, "<|im_end|>", 0, 3);
	vb_add(v, "<tool>", 0, 4);
}

/* SentencePiece: <unk> 0, <s> 1, </s> 2, <0x00>.. 3..258, pieces, specials. */
static inline void vb_spm(struct vb *v)
{
	static const char *const pieces[] = {
		"\xe2\x96\x81", "\xe2\x96\x81t", "he", "\xe2\x96\x81the", "\xe2\x96\x81" "a",
		"in", "an", "\xe2\x96\x81" "an", "\xe2\x96\x81" "and", "er", "on", "e", "h",
		"t", "a", "n", "d", "\xc3\xa9", NULL,
	};
	int32_t i;

	memset(v, 0, sizeof(*v));
	v->model = "llama";
	vb_add(v, "<unk>", 0, 2);
	vb_add(v, "<s>", 0, 3);
	vb_add(v, "</s>", 0, 3);
	for (i = 0; i < 256; i++) {
		char s[8];

		snprintf(s, sizeof(s), "<0x%02X>", i);
		vb_add(v, s, 0, 6);
	}
	for (i = 0; pieces[i]; i++)
		vb_add(v, pieces[i], -(float)i, 1);
	vb_specials(v);
	v->bos = 1;
	v->eos = 2;
}

/* Byte-level BPE: the 256 bytes, the merges' tokens, <|endoftext|>, specials. */
static inline void vb_gpt2(struct vb *v, const char *pre)
{
	static const char *const merges[] = {
		"\xc4\xa0 t", "h e", "\xc4\xa0" "t he", "i n", "\xc4\xa0 a", "e r", "a n",
		"\xc4\xa0 an", "\xc4\xa0" "an d", "o n", "\xc4\xa0 s", "o r", "e n", "a a",
		"aa aa", "aaaa aaaa", NULL,
	};
	int32_t i;

	memset(v, 0, sizeof(*v));
	v->model = "gpt2";
	v->pre = pre;
	for (i = 0; i < 256; i++) {
		char s[3] = { 0 };

		vb_byte_cp((unsigned int)i, s);
		vb_add(v, s, 0, 1);
	}
	for (i = 0; merges[i]; i++) {
		char s[24];
		const char *sp = strchr(merges[i], ' ');

		snprintf(v->merge[v->n_merges++], sizeof(v->merge[0]), "%s", merges[i]);
		snprintf(s, sizeof(s), "%.*s%s", (int)(sp - merges[i]), merges[i], sp + 1);
		vb_add(v, s, 0, 1);
	}
	v->bos = v->eos = vb_add(v, "<|endoftext|>", 0, 3);
	vb_specials(v);
}

static inline void vb_key(struct gguf_build *b, const char *key, uint32_t type)
{
	gguf_str(b, key, strlen(key));
	gguf_u32(b, type);
}

/* An array key's header: ARRAY (9), the element type, the claimed count. */
static inline void vb_array(struct gguf_build *b, const char *key, uint32_t type, uint64_t n)
{
	vb_key(b, key, 9);
	gguf_u32(b, type);
	gguf_u64(b, n);
}

/* The file, from its first byte; the caller frees b->p. */
static inline void vb_write(const struct vb *v, struct gguf_build *b)
{
	unsigned int o = v->omit;
	uint64_t i, n_kv = 4 + v->n_extra + !(o & VB_NO_SCORES) + !(o & VB_NO_TYPES) +
			   (!strcmp(v->model, "gpt2") && !(o & VB_NO_MERGES)) + !!v->pre +
			   !(o & VB_NO_BOS) + !(o & VB_NO_TEMPLATE) + !(o & VB_NO_ADD_BOS);
	const char tmpl[] = "{% for m in messages %}{{ m.content }}{% endfor %}";
	int32_t k;

	memset(b, 0, sizeof(*b));
	gguf_put(b, "GGUF", 4);
	gguf_u32(b, 3);
	gguf_u64(b, 0);
	gguf_u64(b, n_kv);
	gguf_kv_str(b, "general.architecture", "llama", 5);
	gguf_kv_str(b, "tokenizer.ggml.model", v->model, strlen(v->model));
	if (v->pre)
		gguf_kv_str(b, "tokenizer.ggml.pre", v->pre, strlen(v->pre));
	vb_array(b, "tokenizer.ggml.tokens", 8, (uint64_t)v->n);
	for (k = 0; k < v->n; k++) {
		if (v->odd && k >= v->odd_at && k < v->odd_at + v->odd_n)
			gguf_str(b, v->odd, v->odd_len);
		else
			gguf_str(b, v->text[k], v->len[k]);
	}
	if (!(o & VB_NO_SCORES)) {
		vb_array(b, "tokenizer.ggml.scores", 6, v->n_scores);
		for (i = 0; i < v->n_scores; i++)
			gguf_put(b, &v->score[i < VB_MAX ? i : 0], 4);
	}
	if (!(o & VB_NO_TYPES)) {
		vb_array(b, "tokenizer.ggml.token_type", 5, v->n_types);
		for (i = 0; i < v->n_types; i++)
			gguf_put(b, &v->type[i < VB_MAX ? i : 0], 4);
	}
	if (!strcmp(v->model, "gpt2") && !(o & VB_NO_MERGES)) {
		vb_array(b, "tokenizer.ggml.merges", 8, v->n_merges);
		for (i = 0; i < v->n_merges; i++)
			gguf_str(b, v->merge[i], strlen(v->merge[i]));
	}
	if (!(o & VB_NO_BOS))
		gguf_kv_u32(b, "tokenizer.ggml.bos_token_id", 27, (uint32_t)v->bos);
	gguf_kv_u32(b, "tokenizer.ggml.eos_token_id", 27, (uint32_t)v->eos);
	if (!(o & VB_NO_ADD_BOS)) {
		vb_key(b, "tokenizer.ggml.add_bos_token", 7);
		gguf_put(b, "\1", 1);
	}
	if (!(o & VB_NO_TEMPLATE))
		gguf_kv_str(b, "tokenizer.chat_template", tmpl, sizeof(tmpl) - 1);
	if (v->extra)
		v->extra(b, v->arg);
}

#endif
