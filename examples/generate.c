// SPDX-License-Identifier: MIT
/* Text from a model with libnpu-llm: cc generate.c $(pkg-config --cflags --libs npu-llm) */
#include <stdio.h>
#include <npu/llm.h>

static int show(void *out, int32_t token, const char *text)
{
	(void)token;
	return fputs(text, out) < 0;	/* nonzero: stop */
}

int main(int argc, char **argv)
{
	npu_device *dev = NULL;
	npu_llm_model *model = NULL;
	npu_llm_ctx *ctx = NULL;
	int32_t prompt[64], n;
	char err[512] = "";
	int ret = argc == 3 ? npu_open(NULL, &dev) : NPU_E_INVAL;

	ret = ret ? ret : npu_llm_model_load(dev, argv[1], NULL, &model, err, sizeof(err));
	ret = ret ? ret : npu_llm_ctx_create(model, NULL, &ctx, err, sizeof(err));
	ret = ret ? ret : npu_llm_tokenize(model, argv[2], 1, prompt, 64, &n);
	ret = ret ? ret : npu_llm_generate(ctx, NULL, prompt, n, 32, show, stdout, NULL); /* greedy */
	if (ret)
		fprintf(stderr, "generate MODEL PROMPT: %s\n", err[0] ? err : npu_strerror(ret));
	npu_llm_ctx_free(ctx);
	npu_llm_model_free(model);
	return npu_close(dev) || ret || puts("") < 0;
}
