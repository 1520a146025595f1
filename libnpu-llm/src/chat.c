// SPDX-License-Identifier: MIT
/*
 * Chat: the template families llama.cpp renders without a Jinja engine,
 * recognized from a file's tokenizer.chat_template by the same marker
 * strings and rendered to the same text (llm_chat_detect_template and
 * llm_chat_apply_template in its llama-chat.cpp); and a conversation on a
 * context whose history stays in the KV cache.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"

enum family {
	F_CHATML, F_LLAMA2, F_LLAMA2_SYS, F_LLAMA2_SYS_BOS, F_LLAMA2_SYS_STRIP, F_PHI3, F_PHI4,
	F_FALCON3, F_GLMEDGE, F_ZEPHYR, F_GEMMA, F_LLAMA3, F_COUNT
};

/* The names llama.cpp gives them (its --chat-template values). */
static const char *const family_names[F_COUNT] = {
	"chatml", "llama2", "llama2-sys", "llama2-sys-bos", "llama2-sys-strip", "phi3", "phi4",
	"falcon3", "glmedge", "zephyr", "gemma", "llama3",
};

const char *npu_llm_chat_names(void)
{
	return "chatml, llama2, llama2-sys, llama2-sys-bos, llama2-sys-strip, phi3, phi4, "
	       "falcon3, glmedge, zephyr, gemma, llama3";
}

static int has(const char *s, const char *needle)
{
	return strstr(s, needle) != NULL;
}

/*
 * llama.cpp's tests after llama3's, in its order: families not rendered
 * here, named in the refusal. A row holds when all its markers are in the
 * text; a family's rows are its test's cases, the more particular first.
 */
static const struct {
	const char *all[4];
	const char *name;
} later[] = {
	{ { "[gMASK]sop" }, "chatglm3" },
	{ { "<\xe7\x94\xa8\xe6\x88\xb7>" }, "minicpm" },	/* <用户> */
	{ { "'Assistant: ' + message['content'] + eos_token" }, "deepseek2" },
	/* <｜Assistant｜>, <｜User｜>, <｜end▁of▁sentence｜> */
	{ { "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>", "<\xef\xbd\x9cUser\xef\xbd\x9c>",
	    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>" }, "deepseek3" },
	{ { "[|system|]", "[|assistant|]", "[|endofturn|]", "[|tool|]" }, "exaone4" },
	{ { "[|system|]", "[|assistant|]", "[|endofturn|]" }, "exaone3" },
	{ { "rwkv-world" }, "rwkv-world" },
	{ { "{{- 'User: ' + message['content']|trim + '\\n\\n' -}}" }, "rwkv-world" },
	{ { "<|start_of_role|>", "<tool_call>", "g4_default_system_message" }, "granite-4.0" },
	{ { "<|start_of_role|>", "<tools>", "g4_default_system_message" }, "granite-4.0" },
	{ { "<|start_of_role|>", "<tool_call>" }, "granite-4.1" },
	{ { "<|start_of_role|>", "<tools>" }, "granite-4.1" },
	{ { "<|start_of_role|>" }, "granite" },
	{ { "message['role'] + additional_special_tokens[0] + message['content'] + "
	    "additional_special_tokens[1]" }, "gigachat" },
	{ { "<|role_start|>" }, "megrez" },
	{ { " \xd0\x90\xd1\x81\xd1\x81\xd0\xb8\xd1\x81\xd1\x82\xd0\xb5\xd0\xbd\xd1\x82:" },
	  "yandex" },	/* " Ассистент:" */
	{ { "<role>ASSISTANT</role>", "'HUMAN'" }, "bailing" },
	{ { "<role>ASSISTANT</role>", "\"HUMAN\"", "<think>" }, "bailing-think" },
	{ { "<role>ASSISTANT</role>", "<role>HUMAN</role>", "<|role_end|>" }, "bailing2" },
	{ { "<|header_start|>", "<|header_end|>" }, "llama4" },
	{ { "<|endofuserprompt|>" }, "dots1" },
	{ { "<|extra_0|>", "<|extra_4|>" }, "hunyuan-moe" },
	{ { "<|start|>", "<|channel|>" }, "gpt-oss" },
	/* <｜hy_Assistant｜> with <｜hy_begin▁of▁sentence｜>, or <｜hy_place▁holder▁no▁3｜> */
	{ { "<\xef\xbd\x9chy_Assistant\xef\xbd\x9c>",
	    "<\xef\xbd\x9chy_begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>" },
	  "hunyuan-vl" },
	{ { "<\xef\xbd\x9chy_Assistant\xef\xbd\x9c>",
	    "<\xef\xbd\x9chy_place\xe2\x96\x81holder\xe2\x96\x81no\xe2\x96\x81"
	    "3\xef\xbd\x9c>" },
	  "hunyuan-dense" },
	{ { "<|im_assistant|>assistant<|im_middle|>" }, "kimi-k2" },
	{ { "<seed:bos>" }, "seed_oss" },
	{ { "'Assistant: '  + message['content'] + '<|separator|>" }, "grok-2" },
	/* [unused9]系统：[unused10] */
	{ { "[unused9]\xe7\xb3\xbb\xe7\xbb\x9f\xef\xbc\x9a[unused10]" }, "pangu-embedded" },
	{ { "<|begin|>", "<|end|>", "<|content|>" }, "solar-open" },
};

static const char *later_family(const char *t)
{
	size_t i, k;

	for (i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
		for (k = 0; k < 4 && later[i].all[k] && has(t, later[i].all[k]); k++)
			;
		if (k == 4 || !later[i].all[k])
			return later[i].name;
	}
	return NULL;
}

/*
 * llama.cpp's tests in its order: a family it tests for first that is not
 * rendered here (its name into *@other) must not be taken for a later one
 * that is.
 */
static int detect(const char *t, const char **other)
{
	*other = NULL;
	if (has(t, "<|im_start|>")) {
		if (has(t, "<|im_sep|>"))
			return F_PHI4;
		if (has(t, "<end_of_utterance>"))
			*other = "smolvlm";
		return *other ? -1 : F_CHATML;
	}
	if (!strncmp(t, "mistral", 7) || has(t, "[INST]")) {
		if (has(t, "[SYSTEM_PROMPT]"))
			*other = "mistral-v7";
		else if (has(t, "' [INST] ' + system_message") || has(t, "[AVAILABLE_TOOLS]"))
			*other = has(t, " [INST]") ? "mistral-v1" :
				 has(t, "\"[INST]\"") ? "mistral-v3-tekken" : "mistral-v3";
		if (*other)
			return -1;
		if (has(t, "content.strip()"))
			return F_LLAMA2_SYS_STRIP;
		if (has(t, "bos_token + '[INST]"))
			return F_LLAMA2_SYS_BOS;
		return has(t, "<<SYS>>") ? F_LLAMA2_SYS : F_LLAMA2;
	}
	if (has(t, "<|assistant|>") && has(t, "<|end|>"))
		return F_PHI3;
	if (has(t, "[gMASK]<sop>"))
		*other = "chatglm4";
	else if (has(t, "<|assistant|>") && has(t, "<|user|>"))
		return has(t, "<|tool_declare|>") ? (*other = "exaone-moe", -1) :
		       has(t, "</s>") ? F_FALCON3 : F_GLMEDGE;
	else if (has(t, "<|{{ item['role'] }}|>") && has(t, "<|begin_of_image|>"))
		return F_GLMEDGE;
	else if (has(t, "<|user|>") && has(t, "<|endoftext|>"))
		return F_ZEPHYR;
	else if (has(t, "bos_token + message['role']"))
		*other = "monarch";
	else if (has(t, "<start_of_turn>"))
		return F_GEMMA;
	else if (has(t, "'\\n\\nAssistant: ' + eos_token"))
		*other = "orion";
	else if (has(t, "GPT4 Correct "))
		*other = "openchat";
	else if (has(t, "USER: ") && has(t, "ASSISTANT: "))
		*other = "vicuna";
	else if (has(t, "### Instruction:") && has(t, "<|EOT|>"))
		*other = "deepseek";
	else if (has(t, "<|START_OF_TURN_TOKEN|>") && has(t, "<|USER_TOKEN|>"))
		*other = "command-r";
	else if (has(t, "<|start_header_id|>") && has(t, "<|end_header_id|>"))
		return F_LLAMA3;
	else
		*other = later_family(t);
	return -1;
}

static int family_of(const char *name)
{
	int f;

	for (f = 0; f < F_COUNT; f++)
		if (!strcmp(name, family_names[f]))
			return f;
	return -1;
}

const char *npu_llm_chat_detect(const char *tmpl, char *err, size_t err_len)
{
	const char *other;
	int f = family_of(tmpl);

	f = f >= 0 ? f : detect(tmpl, &other);
	if (f >= 0)
		return family_names[f];
	if (other)
		snprintf(err, err_len, "the model's chat template is llama.cpp's '%s', which is not "
			 "rendered here: choose one with --chat-template NAME (%s)", other,
			 npu_llm_chat_names());
	else
		snprintf(err, err_len, "the model's chat template is not one this library knows: "
			 "choose one with --chat-template NAME (%s)", npu_llm_chat_names());
	return NULL;
}

int npu_llm_chat_template_name(const npu_llm_model *m, const char *name, const char **out,
			       char *err, size_t err_len)
{
	const char *tmpl = npu_tokenizer_chat_template(npu_llm_model_tokenizer(m));

	*out = NULL;
	if (name) {
		if (family_of(name) < 0) {
			snprintf(err, err_len, "chat template '%.32s': want one of %s", name,
				 npu_llm_chat_names());
			return NPU_E_INVAL;
		}
		*out = family_names[family_of(name)];
		return NPU_OK;
	}
	if (!tmpl) {
		snprintf(err, err_len, "the model has no chat template (tokenizer.chat_template): "
			 "choose one with --chat-template NAME (%s)", npu_llm_chat_names());
		return NPU_E_INVAL;
	}
	*out = npu_llm_chat_detect(tmpl, err, err_len);
	return *out ? NPU_OK : NPU_E_INVAL;
}

/* A growing string; on running out of memory it stops growing and says so at the end. */
struct sbuf {
	char *s;
	size_t len, cap;
	int nomem;
};

static void put_n(struct sbuf *b, const char *s, size_t n)
{
	char *p;

	if (b->nomem)
		return;
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		p = realloc(b->s, b->cap);
		if (!p) {
			b->nomem = 1;
			return;
		}
		b->s = p;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
}

static void put(struct sbuf *b, const char *s)
{
	put_n(b, s, strlen(s));
}

/* @s without leading and trailing white space (C locale isspace). */
static void put_trimmed(struct sbuf *b, const char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	put_n(b, s, n);
}

/* Llama 2 and its variants: [INST] turns, the system prompt inside the first. */
static void render_llama2(struct sbuf *b, int f, const struct npu_llm_chat_msg *msgs, size_t n)
{
	int in_turn = 1;	/* the first [INST] is written before any message */
	size_t i;

	put(b, "[INST] ");
	for (i = 0; i < n; i++) {
		const char *role = msgs[i].role;

		if (!in_turn) {
			put(b, f == F_LLAMA2_SYS_BOS ? "<s>[INST] " : "[INST] ");
			in_turn = 1;
		}
		if (!strcmp(role, "system"))
			put(b, f == F_LLAMA2 ? "" : "<<SYS>>\n");
		if (f == F_LLAMA2_SYS_STRIP)
			put_trimmed(b, msgs[i].content);
		else
			put(b, msgs[i].content);
		if (!strcmp(role, "system")) {
			put(b, f == F_LLAMA2 ? "\n" : "\n<</SYS>>\n\n");
		} else if (!strcmp(role, "user")) {
			put(b, " [/INST]");
		} else {
			put(b, "</s>");
			in_turn = 0;
		}
	}
}

/* Gemma: no system role: its text opens the next user turn; "assistant" is "model". */
static void render_gemma(struct sbuf *b, const struct npu_llm_chat_msg *msgs, size_t n, int ass)
{
	struct sbuf sys = { 0 };
	size_t i;

	for (i = 0; i < n; i++) {
		int model = !strcmp(msgs[i].role, "assistant");

		if (!strcmp(msgs[i].role, "system")) {
			put_trimmed(&sys, msgs[i].content);
			continue;
		}
		put(b, "<start_of_turn>");
		put(b, model ? "model" : msgs[i].role);
		put(b, "\n");
		if (sys.len && !model) {
			put(b, sys.s);
			put(b, "\n\n");
			sys.len = 0;
		}
		put_trimmed(b, msgs[i].content);
		put(b, "<end_of_turn>\n");
	}
	b->nomem |= sys.nomem;
	free(sys.s);
	if (ass)
		put(b, "<start_of_turn>model\n");
}

/*
 * The families that write each message as OPEN role MID content CLOSE,
 * and OPEN "assistant" MID for the generation prompt.
 */
static const struct {
	const char *open, *mid, *close;
	int trim;
} simple[F_COUNT] = {
	[F_CHATML] = { "<|im_start|>", "\n", "<|im_end|>\n", 0 },
	[F_PHI3] = { "<|", "|>\n", "<|end|>\n", 0 },
	[F_PHI4] = { "<|im_start|>", "<|im_sep|>", "<|im_end|>", 0 },
	[F_FALCON3] = { "<|", "|>\n", "\n", 0 },
	[F_GLMEDGE] = { "<|", "|>\n", "", 0 },
	[F_ZEPHYR] = { "<|", "|>\n", "<|endoftext|>\n", 0 },
	[F_LLAMA3] = { "<|start_header_id|>", "<|end_header_id|>\n\n", "<|eot_id|>", 1 },
};

int npu_llm_chat_apply(const char *name, const struct npu_llm_chat_msg *msgs, size_t n,
		       int add_assistant, char **out)
{
	struct sbuf b = { 0 };
	int f = family_of(name);
	size_t i;

	*out = NULL;
	if (f < 0 || (n && !msgs))
		return NPU_E_INVAL;
	for (i = 0; i < n; i++)
		if (!msgs[i].role || !msgs[i].content)
			return NPU_E_INVAL;
	put(&b, "");
	if (f == F_LLAMA2 || f == F_LLAMA2_SYS || f == F_LLAMA2_SYS_BOS ||
	    f == F_LLAMA2_SYS_STRIP) {
		render_llama2(&b, f, msgs, n);
	} else if (f == F_GEMMA) {
		render_gemma(&b, msgs, n, add_assistant);
	} else {
		for (i = 0; i < n; i++) {
			put(&b, simple[f].open);
			put(&b, msgs[i].role);
			put(&b, simple[f].mid);
			if (simple[f].trim)
				put_trimmed(&b, msgs[i].content);
			else
				put(&b, msgs[i].content);
			put(&b, simple[f].close);
		}
		if (add_assistant) {
			put(&b, simple[f].open);
			put(&b, "assistant");
			put(&b, f == F_GLMEDGE ? "|>" : simple[f].mid);
		}
	}
	if (b.nomem) {
		free(b.s);
		return NPU_E_NOMEM;
	}
	*out = b.s;
	return NPU_OK;
}

/* ---- a conversation on a context ---------------------------------------- */

struct npu_llm_chat {
	npu_llm_ctx *c;
	const char *family;
	struct npu_llm_chat_msg *msgs;	/* their strings are owned */
	size_t n, cap, n_system;	/* n_system: 0, or 1 for a system prompt first */
	int32_t *pending;		/* the next turn's tokens, not yet evaluated */
	int n_pending;
	char *closing;		/* the template's text after the last reply, not yet evaluated */
	struct sbuf reply;
	npu_llm_token_fn fn;
	void *user;
};

static int push(npu_llm_chat *ch, const char *role, const char *content)
{
	struct npu_llm_chat_msg *m;
	char *s;

	if (ch->n == ch->cap) {
		m = realloc(ch->msgs, (ch->cap * 2 + 4) * sizeof(*m));
		if (!m)
			return NPU_E_NOMEM;
		ch->msgs = m;
		ch->cap = ch->cap * 2 + 4;
	}
	s = strdup(content);
	if (!s)
		return NPU_E_NOMEM;
	ch->msgs[ch->n].role = role;
	ch->msgs[ch->n++].content = s;
	return NPU_OK;
}

int npu_llm_chat_create(npu_llm_ctx *c, const char *tmpl, const char *system,
			npu_llm_chat **out)
{
	npu_llm_chat *ch;
	int f = tmpl ? family_of(tmpl) : -1;

	*out = NULL;
	if (f < 0)
		return NPU_E_INVAL;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NPU_E_NOMEM;
	ch->c = c;
	ch->family = family_names[f];
	if (system && push(ch, "system", system)) {
		npu_llm_chat_free(ch);
		return NPU_E_NOMEM;
	}
	ch->n_system = ch->n;
	*out = ch;
	return NPU_OK;
}

void npu_llm_chat_free(npu_llm_chat *ch)
{
	size_t i;

	if (!ch)
		return;
	for (i = 0; i < ch->n; i++)
		free((char *)ch->msgs[i].content);
	free(ch->msgs);
	free(ch->pending);
	free(ch->closing);
	free(ch->reply.s);
	free(ch);
}

/* @text's tokens into ch->pending: room for a token a byte and the specials, else its count. */
static int tokenize(npu_llm_chat *ch, const char *text, unsigned int flags)
{
	const struct npu_tokenizer *t = npu_llm_model_tokenizer(npu_llm_ctx_model(ch->c));
	size_t len = strlen(text);
	int32_t max = (int32_t)len + 8, n = 0, *p;
	int ret, i;

	for (i = 0; i < 2; i++) {
		p = realloc(ch->pending, (size_t)max * sizeof(*p));
		if (!p)
			return NPU_E_NOMEM;
		ch->pending = p;
		ret = npu_tokenizer_tokenize(t, text, len, flags, p, max, &n);
		if (ret || n <= max)
			break;
		max = n;
	}
	ch->n_pending = n;
	return ret;
}

/*
 * The text the cache lacks for the messages so far: the last reply's
 * closing and the new messages, when the history renders as a prefix of
 * the whole and ends with a reply (the cache holds the history up to its
 * last reply); else (or with an empty cache) all of it, from position 0.
 */
static int turn_text(npu_llm_chat *ch, char **text, int *from_start)
{
	char *prev = NULL, *full = NULL;
	size_t len;
	int ret;

	*text = NULL;
	ret = npu_llm_chat_apply(ch->family, ch->msgs, ch->n, 1, &full);
	*from_start = npu_llm_ctx_pos(ch->c) == 0 || ch->n == ch->n_system + 1 ||
		      strcmp(ch->msgs[ch->n - 2].role, "assistant");
	if (!ret && !*from_start)
		ret = npu_llm_chat_apply(ch->family, ch->msgs, ch->n - 1, 0, &prev);
	if (!ret && !*from_start) {
		len = strlen(prev);
		*from_start = strncmp(full, prev, len) != 0;
		if (!*from_start && asprintf(text, "%s%s", ch->closing ? ch->closing : "",
					     full + len) < 0)
			ret = NPU_E_NOMEM;
	}
	if (!ret && *from_start) {
		*text = full;
		full = NULL;
	}
	free(prev);
	free(full);
	return ret;
}

/* Drop the oldest turn after the system prompt: its messages up to the next user's. */
static int drop_oldest(npu_llm_chat *ch)
{
	size_t i = ch->n_system, j = i + 1, k;

	if (i >= ch->n - 1)
		return 0;	/* the new message alone */
	while (j < ch->n - 1 && strcmp(ch->msgs[j].role, "user"))
		j++;
	for (k = i; k < j; k++)
		free((char *)ch->msgs[k].content);
	memmove(&ch->msgs[i], &ch->msgs[j], (ch->n - j) * sizeof(*ch->msgs));
	ch->n -= j - i;
	return (int)(j - i);
}

int npu_llm_chat_add(npu_llm_chat *ch, const char *content, int reserve,
		     struct npu_llm_chat_fit *fit)
{
	int positions = npu_llm_ctx_positions(ch->c), from_start, ret, dropped;
	char *text = NULL;

	memset(fit, 0, sizeof(*fit));
	ch->n_pending = 0;
	reserve = reserve < 1 ? 1 : reserve > positions / 2 ? positions / 2 : reserve;
	ret = push(ch, "user", content);
	if (ret)
		return ret;
	for (;;) {
		ret = turn_text(ch, &text, &from_start);
		ret = ret ? ret : tokenize(ch, text, NPU_TOKENIZE_PARSE_SPECIAL |
					   (from_start ? NPU_TOKENIZE_ADD_SPECIAL : 0));
		free(text);
		text = NULL;
		if (ret)
			break;
		fit->start = from_start ? 0 : npu_llm_ctx_pos(ch->c);
		if (fit->start + ch->n_pending + reserve <= positions)
			break;
		/* Full: the history from the start, without its oldest turn while it has one. */
		fit->full = 1;
		if (npu_llm_ctx_pos(ch->c)) {
			npu_llm_ctx_rewind(ch->c, 0);	/* 0 is always in range */
			continue;
		}
		dropped = drop_oldest(ch);
		fit->dropped += dropped;
		if (dropped)
			continue;
		if (ch->n_pending + 1 <= positions)
			break;
		llm_ctx_error(ch->c, "the turn is %d tokens, the context holds %d", ch->n_pending,
			      positions);
		ret = NPU_E_RANGE;
		break;
	}
	if (ret) {
		free((char *)ch->msgs[--ch->n].content);
		ch->n_pending = 0;
		return ret;
	}
	/* From the start: the cache is written again from position 0. */
	if (!fit->start) {
		npu_llm_ctx_rewind(ch->c, 0);
		free(ch->closing);
		ch->closing = NULL;
	}
	fit->tokens = ch->n_pending;
	return NPU_OK;
}

/* Each token of the reply: kept for the history, then passed on. */
static int on_reply(void *user, int32_t token, const char *text)
{
	npu_llm_chat *ch = user;

	put(&ch->reply, text);
	return ch->fn ? ch->fn(ch->user, token, text) : 0;
}

/*
 * What the template writes after a reply: rendered with an empty reply,
 * past the generation prompt ("<|im_end|>\n" for chatml); "" when that is
 * not a prefix.
 */
static int closing_text(npu_llm_chat *ch)
{
	char *open = NULL, *closed = NULL;
	size_t len;
	int ret;

	free(ch->closing);
	ch->closing = NULL;
	ret = npu_llm_chat_apply(ch->family, ch->msgs, ch->n - 1, 1, &open);
	ch->msgs[ch->n - 1].content = "";
	ret = ret ? ret : npu_llm_chat_apply(ch->family, ch->msgs, ch->n, 0, &closed);
	ch->msgs[ch->n - 1].content = ch->reply.s;
	len = open ? strlen(open) : 0;
	if (!ret)
		ch->closing = strdup(!strncmp(open, closed, len) ? closed + len : "");
	free(open);
	free(closed);
	return ret ? ret : ch->closing ? NPU_OK : NPU_E_NOMEM;
}

int npu_llm_chat_reply(npu_llm_chat *ch, npu_llm_sampler *s, int max_tokens,
		       npu_llm_token_fn fn, void *user, struct npu_llm_stats *stats)
{
	int ret;

	if (!ch->n_pending || strcmp(ch->msgs[ch->n - 1].role, "user")) {
		llm_ctx_error(ch->c, "a reply wants a user's message first (npu_llm_chat_add)");
		return NPU_E_INVAL;
	}
	ch->fn = fn;
	ch->user = user;
	ch->reply.len = 0;
	put(&ch->reply, "");
	ret = npu_llm_generate(ch->c, s, ch->pending, ch->n_pending, max_tokens, on_reply, ch,
			       stats);
	ch->n_pending = 0;
	if (!ret && ch->reply.nomem)
		ret = NPU_E_NOMEM;
	ret = ret ? ret : push(ch, "assistant", "");
	if (ret)
		return ret;
	/* The history owns the reply's text from here; the next one starts a new buffer. */
	free((char *)ch->msgs[ch->n - 1].content);
	ch->msgs[ch->n - 1].content = ch->reply.s;
	ret = closing_text(ch);
	ch->reply = (struct sbuf){ 0 };
	return ret;
}
