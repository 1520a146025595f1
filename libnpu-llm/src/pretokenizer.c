// SPDX-License-Identifier: MIT
/*
 * Byte-level BPE's pre-tokenizer: the text split into words by the regexes
 * llama.cpp applies for each tokenizer.ggml.pre, one after another (each
 * regex splits every piece the previous ones left: matches and the text
 * between them both become pieces), then each word's bytes mapped to
 * GPT-2's printable code points. The regexes run in PCRE2 (UTF and Unicode
 * properties), which reads the Hugging Face patterns as they are.
 */
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "vocab.h"

/* The Hugging Face patterns llama.cpp uses (written once each here). */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_CONTRACT "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define RE_LLAMA3 RE_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}" \
	"| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2 RE_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}" \
	"| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN35 RE_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}" \
	"| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_CJK "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"
#define RE_UPPER "((?=[\\p{L}])([^a-z]))"
#define RE_LOWER "((?=[\\p{L}])([^A-Z]))"
#define RE_TEKKEN "[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "*" RE_LOWER "+|[^\\r\\n\\p{L}\\p{N}]?" \
	RE_UPPER "+" RE_LOWER "*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+" \
	"|\\s+(?!\\S)|\\s+"
#define RE_GPT4O "[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "*" RE_LOWER "+" RE_CONTRACT "?" \
	"|[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "+" RE_LOWER "*" RE_CONTRACT "?|\\p{N}{1,3}" \
	"| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_PORO " ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+"

#define MAX_RE 6

struct pre_kind {
	const char *names;	/* '|'-separated tokenizer.ggml.pre values */
	const char *re[MAX_RE];
	int ignore_merges;
};

static const struct pre_kind kinds[] = {
	{ "llama3|llama-v3|llama-bpe|falcon3|falcon-h1|pixtral|midm-2.0|lfm2|jina-v5-nano",
	  { RE_LLAMA3 }, 1 },
	{ "dbrx|smaug-bpe|glm4|chatglm-bpe", { RE_LLAMA3 }, 0 },
	{ "deepseek-llm", { "[\r\n]",
	  "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293"
	  "\u0295-\u02af\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c"
	  "\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5"
	  "\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77"
	  "\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59"
	  "\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc"
	  "\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107"
	  "\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139"
	  "\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee"
	  "\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e"
	  "\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f"
	  "\U000104b0-\U000104d3\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0-\U00010cf2"
	  "\U000118a0-\U000118df\U0001e900-\U0001e943]+",
	  "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+", "\\s+$", RE_CJK,
	  "\\p{N}+" }, 0 },
	{ "deepseek-coder", { "[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK, "\\p{N}" }, 0 },
	{ "deepseek-v3|hunyuan-dense|joyai-llm|hy_v4", { "\\p{N}{1,3}",
	  "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
	  "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?"
	  "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+" }, 0 },
	{ "falcon", { "[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]" }, 0 },
	{ "starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b|mellum2",
	  { "\\p{N}", RE_GPT2 }, 0 },
	{ "gpt-2|phi-2|jina-es|jina-de|gigachat|jina-v2-es|jina-v2-de|a.x-4.0|mellum|modern-bert"
	  "|exaone4|mpt|olmo|jais|trillion|granite-docling", { RE_GPT2 }, 0 },
	{ "qwen2|deepseek-r1-qwen|kormo|f2llmv2|megrez|stablelm2|hunyuan|solar-open",
	  { RE_QWEN2 }, 0 },
	{ "qwen35", { RE_QWEN35 }, 0 },
	{ "poro-chat|bloom|gpt3-finnish", { RE_PORO }, 0 },
	{ "viking", { RE_PORO, "\\p{N}" }, 0 },
	{ "tekken", { RE_TEKKEN }, 1 },
	{ "gpt-4o|llama4|kanana2|talkie|minimax-m2", { RE_GPT4O }, 0 },
	{ "default", { "[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]" }, 0 },
};

struct pretok {
	pcre2_code *re[MAX_RE];
	int n;
};

static int name_in(const char *names, const char *name)
{
	size_t n = strlen(name);
	const char *p = names;

	for (;;) {
		const char *e = strchr(p, '|');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if (l == n && !memcmp(p, name, n))
			return 1;
		if (!e)
			return 0;
		p = e + 1;
	}
}

int npu_pretok_new(const char *name, struct pretok **out, int *ignore_merges)
{
	const struct pre_kind *k = NULL;
	struct pretok *p;
	size_t i;

	*out = NULL;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && !k; i++)
		if (name_in(kinds[i].names, name))
			k = &kinds[i];
	if (!k)
		return -1;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NPU_E_NOMEM;
	for (i = 0; i < MAX_RE && k->re[i]; i++) {
		int code;
		PCRE2_SIZE at;

		p->re[i] = pcre2_compile((PCRE2_SPTR)k->re[i], PCRE2_ZERO_TERMINATED,
					 PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY |
					 PCRE2_NO_UTF_CHECK, &code, &at, NULL);
		if (!p->re[i]) {
			npu_pretok_free(p);
			return NPU_E_NOMEM;	/* our patterns compile: only memory fails */
		}
		pcre2_jit_compile(p->re[i], PCRE2_JIT_COMPLETE);
		p->n++;
	}
	*ignore_merges = k->ignore_merges;
	*out = p;
	return NPU_OK;
}

void npu_pretok_free(struct pretok *p)
{
	int i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++)
		pcre2_code_free(p->re[i]);
	free(p);
}

/*
 * GPT-2's byte encoding: printable Latin-1 bytes ('!'..'~', 0xA1..0xAC,
 * 0xAE..0xFF) stand for themselves, the other 68 for U+0100 onwards in order.
 */
static int printable(unsigned int b)
{
	return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
}

static uint32_t byte_cp(uint8_t b)
{
	unsigned int i, n = 0;

	if (printable(b))
		return b;
	for (i = 0; i < b; i++)
		n += !printable(i);
	return 0x100 + n;
}

int npu_byte_to_utf8(uint8_t b, char out[2])
{
	uint32_t cp = byte_cp(b);

	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	out[0] = (char)(0xc0 | (cp >> 6));
	out[1] = (char)(0x80 | (cp & 0x3f));
	return 2;
}

int npu_cp_to_byte(uint32_t cp)
{
	unsigned int b, n = 0;

	if (cp < 0x100)
		return printable(cp) ? (int)cp : -1;
	for (b = 0; b < 256; b++)
		if (!printable(b) && 0x100 + n++ == cp)
			return (int)b;
	return -1;
}

/*
 * llama.cpp's UTF-8 decoding: lead bytes by their high bits, continuation
 * bytes checked, an invalid byte becomes U+FFFD and decoding resumes at the
 * next byte. Overlong forms and surrogates decode as they stand.
 */
static uint32_t next_cp(const unsigned char *s, size_t len, size_t *i)
{
	static const uint8_t need[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 3, 4 };
	size_t k, n = need[s[*i] >> 4];
	uint32_t cp;

	if (s[*i] >= 0xf8)
		n = 0;
	if (!n || *i + n > len) {
		++*i;
		return 0xfffd;
	}
	for (k = 1; k < n; k++)
		if ((s[*i + k] & 0xc0) != 0x80) {
			++*i;
			return 0xfffd;
		}
	cp = n == 1 ? s[*i] : n == 2 ? s[*i] & 0x1fu : n == 3 ? s[*i] & 0x0fu : s[*i] & 0x07u;
	for (k = 1; k < n; k++)
		cp = cp << 6 | (s[*i + k] & 0x3fu);
	*i += n;
	return cp;
}

static size_t put_cp(uint32_t cp, unsigned char *o)
{
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xc0 | cp >> 6);
		o[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xe0 | cp >> 12);
		o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (unsigned char)(0xf0 | (cp >> 18 & 7));
	o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * The text twice: @out as llama.cpp re-encodes its code points (what the
 * words are made of), @match the same with code points PCRE2 refuses
 * (surrogates, past U+10FFFF) as U+FFFD, same lengths but for those; and
 * for each byte of @match, where its code point starts in @out.
 */
struct texts {
	unsigned char *out, *match;
	size_t *at;		/* [match bytes + 1] */
	size_t n_out, n_match;
};

static int decode(const char *text, size_t len, struct texts *t)
{
	size_t i = 0;

	t->out = malloc(len * 4 + 4);
	t->match = malloc(len * 4 + 4);
	t->at = malloc((len * 4 + 4) * sizeof(*t->at));
	if (!t->out || !t->match || !t->at)
		return NPU_E_NOMEM;
	t->n_out = t->n_match = 0;
	while (i < len) {
		uint32_t cp = next_cp((const unsigned char *)text, len, &i);
		uint32_t mcp = (cp >= 0xd800 && cp < 0xe000) || cp > 0x10ffff ? 0xfffd : cp;
		size_t k, m = put_cp(mcp, t->match + t->n_match);

		for (k = 0; k < m; k++)
			t->at[t->n_match + k] = t->n_out;
		t->n_match += m;
		t->n_out += put_cp(cp, t->out + t->n_out);
	}
	t->at[t->n_match] = t->n_out;
	return NPU_OK;
}

/* Split each piece of @cuts (lengths in bytes of t->match) by @re into @next. */
static int split_once(const pcre2_code *re, const struct texts *t, const size_t *cuts, size_t n,
		      size_t *next, size_t *n_next, pcre2_match_data *md)
{
	size_t i, start = 0, k = 0;

	for (i = 0; i < n; start += cuts[i++]) {
		const unsigned char *s = t->match + start;
		size_t len = cuts[i], pos = 0, done = 0;

		while (pos < len) {
			PCRE2_SIZE *ov;
			int rc = pcre2_match(re, s, len, pos, PCRE2_NO_UTF_CHECK, md, NULL);

			if (rc == PCRE2_ERROR_NOMATCH)
				break;
			if (rc < 0)
				return NPU_E_NOMEM;	/* match limits: resources */
			ov = pcre2_get_ovector_pointer(md);
			if (ov[1] == ov[0]) {	/* empty: no piece, one code point on */
				pos = ov[0] + 1;
				while (pos < len && (s[pos] & 0xc0) == 0x80)
					pos++;
				continue;
			}
			if (ov[0] > done)
				next[k++] = ov[0] - done;
			next[k++] = ov[1] - ov[0];
			done = pos = ov[1];
		}
		if (done < len)
			next[k++] = len - done;
	}
	*n_next = k;
	return NPU_OK;
}

int npu_pretok_split(const struct pretok *p, const char *text, size_t len,
		     int (*word)(void *ctx, const char *w, size_t n), void *ctx)
{
	struct texts t = { 0 };
	pcre2_match_data *md = NULL;
	size_t *cuts = NULL, *next = NULL, n = 0, i, start = 0;
	char *w = NULL;
	int ret, r;

	if (!len)
		return NPU_OK;
	ret = decode(text, len, &t);
	if (!ret) {
		cuts = malloc((t.n_match + 1) * sizeof(*cuts));
		next = malloc((t.n_match + 1) * sizeof(*next));
		md = pcre2_match_data_create(4, NULL);
		if (!cuts || !next || !md)
			ret = NPU_E_NOMEM;
	}
	if (!ret) {
		cuts[n++] = t.n_match;
		for (r = 0; r < p->n && !ret; r++) {
			size_t *tmp;

			ret = split_once(p->re[r], &t, cuts, n, next, &n, md);
			tmp = cuts;
			cuts = next;
			next = tmp;
		}
	}
	/* Each word's bytes become code points of 2 bytes at most. */
	w = ret ? NULL : malloc(t.n_out * 2 + 1);
	if (!ret && !w)
		ret = NPU_E_NOMEM;
	for (i = 0; i < n && !ret; start += cuts[i++]) {
		size_t a = t.at[start], b = t.at[start + cuts[i]], k, m = 0;

		for (k = a; k < b; k++)
			m += (size_t)npu_byte_to_utf8(t.out[k], w + m);
		ret = word(ctx, w, m);
	}
	free(w);
	pcre2_match_data_free(md);
	free(cuts);
	free(next);
	free(t.out);
	free(t.match);
	free(t.at);
	return ret;
}
