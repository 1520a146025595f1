// SPDX-License-Identifier: MIT
/*
 * libnpu-llm's chat templates, through <npu/llm.h> alone: each family
 * renders a conversation to the text llama.cpp's llama_chat_apply_template
 * gives for it (the expected strings follow its llama-chat.cpp), templates
 * are recognized by llama.cpp's markers, unknown ones are refused with the
 * override named; and a conversation on the synthetic model evaluates
 * only each turn's new tokens, and starts over without its oldest turns
 * when the context is full.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <npu/llm.h>
#include "testlib.h"

static const struct npu_llm_chat_msg conv[] = {
	{ "system", "Be brief." },
	{ "user", "Hi" },
	{ "assistant", "Hello!" },
	{ "user", "Name a color" },
	{ "assistant", "  Blue \n" },
	{ "user", "Another" },
};
#define N_CONV (sizeof(conv) / sizeof(conv[0]))

static void expect_render(const char *name, const struct npu_llm_chat_msg *m, size_t n, int ass,
			  const char *want)
{
	char *got = NULL;

	assert_int_equal(npu_llm_chat_apply(name, m, n, ass, &got), NPU_OK);
	assert_non_null(got);
	if (strcmp(got, want))
		fail_msg("%s: rendered\n[%s]\nwant\n[%s]", name, got, want);
	free(got);
}

static void chatml(void **state)
{
	(void)state;
	expect_render("chatml", conv, N_CONV, 1,
		      "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
		      "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nName a color"
		      "<|im_end|>\n<|im_start|>assistant\n  Blue \n<|im_end|>\n<|im_start|>user\n"
		      "Another<|im_end|>\n<|im_start|>assistant\n");
	expect_render("chatml", conv + 1, 1, 0, "<|im_start|>user\nHi<|im_end|>\n");
	expect_render("phi4", conv, 2, 1,
		      "<|im_start|>system<|im_sep|>Be brief.<|im_end|><|im_start|>user<|im_sep|>Hi"
		      "<|im_end|><|im_start|>assistant<|im_sep|>");
}

static void llama2(void **state)
{
	(void)state;
	/* Without system support the system text opens the first turn plainly. */
	expect_render("llama2", conv, N_CONV, 1,
		      "[INST] Be brief.\nHi [/INST]Hello!</s>[INST] Name a color [/INST]  Blue \n"
		      "</s>[INST] Another [/INST]");
	expect_render("llama2-sys", conv, N_CONV, 0,
		      "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]Hello!</s>[INST] Name a "
		      "color [/INST]  Blue \n</s>[INST] Another [/INST]");
	expect_render("llama2-sys-bos", conv, N_CONV, 1,
		      "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]Hello!</s><s>[INST] Name a "
		      "color [/INST]  Blue \n</s><s>[INST] Another [/INST]");
	expect_render("llama2-sys-strip", conv, N_CONV, 1,
		      "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]Hello!</s>[INST] Name a "
		      "color [/INST]Blue</s>[INST] Another [/INST]");
}

static void llama3(void **state)
{
	(void)state;
	/* Every message trimmed. */
	expect_render("llama3", conv, N_CONV, 1,
		      "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
		      "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
		      "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
		      "<|start_header_id|>user<|end_header_id|>\n\nName a color<|eot_id|>"
		      "<|start_header_id|>assistant<|end_header_id|>\n\nBlue<|eot_id|>"
		      "<|start_header_id|>user<|end_header_id|>\n\nAnother<|eot_id|>"
		      "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

static void phi3_zephyr_falcon_glm(void **state)
{
	(void)state;
	expect_render("phi3", conv, 4, 1,
		      "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello!"
		      "<|end|>\n<|user|>\nName a color<|end|>\n<|assistant|>\n");
	expect_render("zephyr", conv, 2, 1,
		      "<|system|>\nBe brief.<|endoftext|>\n<|user|>\nHi<|endoftext|>\n"
		      "<|assistant|>\n");
	expect_render("falcon3", conv, 3, 1,
		      "<|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\nHello!\n<|assistant|>\n");
	expect_render("glmedge", conv, 3, 1,
		      "<|system|>\nBe brief.<|user|>\nHi<|assistant|>\nHello!<|assistant|>");
}

static void gemma(void **state)
{
	(void)state;
	/* The system text opens the first user turn; "assistant" is "model"; trimmed. */
	expect_render("gemma", conv, N_CONV, 1,
		      "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n"
		      "Hello!<end_of_turn>\n<start_of_turn>user\nName a color<end_of_turn>\n"
		      "<start_of_turn>model\nBlue<end_of_turn>\n<start_of_turn>user\nAnother"
		      "<end_of_turn>\n<start_of_turn>model\n");
	expect_render("gemma", conv + 1, 1, 0, "<start_of_turn>user\nHi<end_of_turn>\n");
}

static void bad_input(void **state)
{
	struct npu_llm_chat_msg nul = { "user", NULL };
	char *out = (char *)1;

	(void)state;
	assert_int_equal(npu_llm_chat_apply("jinja", conv, 1, 1, &out), NPU_E_INVAL);
	assert_null(out);
	assert_int_equal(npu_llm_chat_apply("chatml", &nul, 1, 1, &out), NPU_E_INVAL);
	expect_render("chatml", NULL, 0, 1, "<|im_start|>assistant\n");
}

/* Snippets of the real templates, with the markers llama.cpp looks for. */
static const struct {
	const char *tmpl, *want;
} detected[] = {
	/* Qwen2.5, SmolLM2 */
	{ "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + "
	  "message.content + '<|im_end|>' + '\\n' }}{%- endfor %}", "chatml" },
	/* Llama 3.x */
	{ "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ "
	  "message['content'] | trim + '<|eot_id|>' }}", "llama3" },
	/* Llama 2 chat */
	{ "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' "
	  "+ system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% endif %}{% if "
	  "message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}",
	  "llama2-sys-strip" },
	{ "{{ bos_token }}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + "
	  "' [/INST]' }}{% endif %}", "llama2" },
	/* Phi-3 */
	{ "{% if message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] + '<|end|>\\n' + "
	  "'<|assistant|>\\n'}}{% endif %}", "phi3" },
	/* Gemma 2 */
	{ "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}",
	  "gemma" },
	/* TinyLlama: llama.cpp takes it for GLM-Edge (no literal </s>) */
	{ "{{ '<|user|>\\n' + message['content'] + eos_token }}{% if loop.last and "
	  "add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}", "glmedge" },
	{ "{{ '<|user|>\\n' + message['content'] + '<|endoftext|>' }}", "zephyr" },
	/* A name is taken as the family. */
	{ "gemma", "gemma" },
};

static void detect(void **state)
{
	char err[256] = "";
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(detected) / sizeof(detected[0]); i++) {
		const char *got = npu_llm_chat_detect(detected[i].tmpl, err, sizeof(err));

		if (!got || strcmp(got, detected[i].want))
			fail_msg("template %zu: %s, want %s (%s)", i, got ? got : "NULL",
				 detected[i].want, err);
	}
	/* Unknown, and known to llama.cpp as a family not rendered here: refused, the override named. */
	assert_null(npu_llm_chat_detect("{{ messages }}", err, sizeof(err)));
	assert_non_null(strstr(err, "--chat-template NAME"));
	assert_null(strchr(err, '\n'));
	assert_null(npu_llm_chat_detect("{% '[INST]' %}[SYSTEM_PROMPT]", err, sizeof(err)));
	assert_non_null(strstr(err, "mistral-v7"));
	/* ChatGLM4's marker comes before the <|user|> families in llama.cpp's order. */
	assert_null(npu_llm_chat_detect("[gMASK]<sop><|user|><|assistant|>", err, sizeof(err)));
}

/* Snippets of templates llama.cpp renders as families not rendered here: refused by name. */
static const struct {
	const char *tmpl, *name;
} refused[] = {
	/* Mistral Nemo: v3-tekken, not "mistral-v1/v3" */
	{ "{%- if tools %}{{- '[AVAILABLE_TOOLS]' }}{%- endif %}{{- \"[INST]\" + "
	  "message['content'] + \"[/INST]\" }}", "mistral-v3-tekken" },
	{ "{{ bos_token + ' [INST] ' + system_message }}", "mistral-v1" },
	/* DeepSeek R1 distills: after llama3 in llama.cpp's order */
	{ "{{'<\xef\xbd\x9cUser\xef\xbd\x9c>' + message['content']}}{{'<\xef\xbd\x9c"
	  "Assistant\xef\xbd\x9c>' + content + '<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81"
	  "sentence\xef\xbd\x9c>'}}", "deepseek3" },
	{ "<|start_of_role|>user<|end_of_role|>", "granite" },
	{ "<|start_of_role|>{{ g4_default_system_message }}<tools>", "granite-4.0" },
	{ "<|start_of_role|><tool_call>", "granite-4.1" },
	{ "[|system|][|assistant|][|endofturn|][|tool|]", "exaone4" },
	{ "[|system|][|assistant|][|endofturn|]", "exaone3" },
	{ "{{- 'User: ' + message['content']|trim + '\\n\\n' -}}", "rwkv-world" },
	{ "<|im_assistant|>assistant<|im_middle|>", "kimi-k2" },
	{ "<|start|>assistant<|channel|>final", "gpt-oss" },
};

static void detect_refused(void **state)
{
	char err[256], want[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(want, sizeof(want), "llama.cpp's '%s'", refused[i].name);
		if (npu_llm_chat_detect(refused[i].tmpl, err, sizeof(err)) || !strstr(err, want))
			fail_msg("template %zu: want it refused as %s: %s", i, want, err);
	}
}

/* A template name for the model: the override first; without a template a clear refusal. */
static void template_name(void **state)
{
	npu_llm_model *m = NULL;
	const char *name;
	char err[256];

	(void)state;
	assert_int_equal(npu_llm_model_load(NULL, NULL, NULL, &m, err, sizeof(err)), NPU_OK);
	assert_int_equal(npu_llm_chat_template_name(m, "phi3", &name, err, sizeof(err)), NPU_OK);
	assert_string_equal(name, "phi3");
	assert_int_equal(npu_llm_chat_template_name(m, "jinja", &name, err, sizeof(err)),
			 NPU_E_INVAL);
	assert_non_null(strstr(err, "'jinja'"));
	assert_int_equal(npu_llm_chat_template_name(m, NULL, &name, err, sizeof(err)), NPU_E_INVAL);
	assert_null(name);
	assert_non_null(strstr(err, "no chat template"));
	npu_llm_model_free(m);
}

/*
 * Turns on the synthetic model (float, greedy): the second evaluates only
 * the first reply's closing and the new message, at the position the first
 * left; a small context starts over from 0 without the oldest turn.
 */
static void conversation(void **state)
{
	struct npu_llm_ctx_params cp = { .positions = 256 };
	struct npu_llm_chat_fit fit;
	struct npu_llm_stats st;
	npu_llm_model *m = NULL;
	npu_llm_ctx *c = NULL;
	npu_llm_chat *ch = NULL;
	char err[256];
	int pos, i;

	(void)state;
	assert_int_equal(npu_llm_model_load(NULL, NULL, NULL, &m, err, sizeof(err)), NPU_OK);
	assert_int_equal(npu_llm_ctx_create(m, &cp, &c, err, sizeof(err)), NPU_OK);
	assert_int_equal(npu_llm_chat_create(c, "chatml", "sys", &ch), NPU_OK);
	assert_int_equal(npu_llm_chat_reply(ch, NULL, 4, NULL, NULL, &st), NPU_E_INVAL);
	assert_int_equal(npu_llm_chat_add(ch, "a", 4, &fit), NPU_OK);
	assert_int_equal(fit.start, 0);
	assert_false(fit.full);
	assert_int_equal(npu_llm_chat_reply(ch, NULL, 4, NULL, NULL, &st), NPU_OK);
	assert_int_equal(st.prompt_tokens, fit.tokens);
	pos = npu_llm_ctx_pos(c);
	assert_int_equal(pos, fit.tokens + st.generated_tokens);
	assert_int_equal(npu_llm_chat_add(ch, "b", 4, &fit), NPU_OK);
	assert_int_equal(fit.start, pos);
	/* "<|im_end|>\n<|im_start|>user\nb<|im_end|>\n<|im_start|>assistant\n": bytes here */
	assert_true(fit.tokens > 0 && fit.tokens < pos);
	assert_int_equal(npu_llm_chat_reply(ch, NULL, 4, NULL, NULL, &st), NPU_OK);
	assert_int_equal(st.prompt_tokens, fit.tokens);
	/* Turns until the context is full: then from 0, without the oldest turn. */
	for (i = 0; i < 10 && !fit.full; i++) {
		assert_int_equal(npu_llm_chat_add(ch, "more", 8, &fit), NPU_OK);
		assert_int_equal(npu_llm_chat_reply(ch, NULL, 8, NULL, NULL, &st), NPU_OK);
	}
	assert_true(fit.full);
	assert_int_equal(fit.start, 0);
	assert_true(fit.dropped >= 2);
	assert_true(npu_llm_ctx_pos(c) <= 256);
	/* A message larger than the context: refused, the conversation goes on. */
	{
		char big[600];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = 0;
		assert_int_equal(npu_llm_chat_add(ch, big, 8, &fit), NPU_E_RANGE);
		assert_non_null(strstr(npu_llm_ctx_error(c), "the context holds 256"));
	}
	assert_int_equal(npu_llm_chat_add(ch, "ok", 8, &fit), NPU_OK);
	assert_int_equal(npu_llm_chat_reply(ch, NULL, 8, NULL, NULL, &st), NPU_OK);
	npu_llm_chat_free(ch);
	npu_llm_ctx_free(c);
	npu_llm_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chatml),
		cmocka_unit_test(llama2),
		cmocka_unit_test(llama3),
		cmocka_unit_test(phi3_zephyr_falcon_glm),
		cmocka_unit_test(gemma),
		cmocka_unit_test(bad_input),
		cmocka_unit_test(detect),
		cmocka_unit_test(detect_refused),
		cmocka_unit_test(template_name),
		cmocka_unit_test(conversation),
	};

	return cmocka_run_group_tests_name("chat", tests, NULL, NULL);
}
