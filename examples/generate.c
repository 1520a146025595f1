// SPDX-License-Identifier: MIT
/* Generate text with libnpu-llm: cc generate.c $(pkg-config --cflags --libs npu-llm) */
#include <stdio.h>
#include <npu/llm.h>

static int show(void *user, int32_t token, const char *text)
{
	(void)user, (void)token;
	return fputs(text, stdout) < 0;
}

int main(int argc, char **argv)
{
	npu_device *dev; npu_llm_model *model; npu_llm_ctx *ctx; npu_llm_sampler *smp;
	int32_t prompt[64], n;
	char err[512] = "";

	if (argc != 3 || npu_open(NULL, &dev) ||
	    npu_llm_model_load(dev, argv[1], NULL, &model, err, sizeof(err)) ||
	    npu_llm_ctx_create(model, NULL, &ctx, err, sizeof(err)) ||
	    npu_llm_sampler_create(NULL, npu_llm_model_host(model)->cfg.vocab_size, &smp) ||
	    npu_llm_tokenize(model, argv[2], 1, prompt, 64, &n) ||
	    npu_llm_generate(ctx, smp, prompt, n, 32, show, NULL, NULL)) {
		fprintf(stderr, "usage: generate MODEL PROMPT; %s\n", err);
		return 1;
	}
	puts("");
	npu_llm_sampler_free(smp), npu_llm_ctx_free(ctx), npu_llm_model_free(model), npu_close(dev);
	return 0;
}
