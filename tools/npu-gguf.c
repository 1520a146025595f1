// SPDX-License-Identifier: MIT
/*
 * npu-gguf: write a llama2.c checkpoint (or a synthetic model) with its
 * tokenizer as a GGUF v3 file, matrices in F32, F16, Q8_0 or Q4_0, for
 * npu-run and llama.cpp alike.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <npu/model.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: npu-gguf (--model FILE [--tokenizer FILE] | --synthetic SHAPE) [--type T] -o OUT\n"
		"  --model FILE      llama2.c checkpoint\n"
		"  --tokenizer FILE  llama2.c tokenizer (default: byte tokens)\n"
		"  --synthetic SHAPE tiny | k256 | 15m | 110m | 1b (seed 1)\n"
		"  --type T          f32 | f16 | q8_0 | q4_0 (default f32)\n"
		"  -o OUT            the GGUF file to write\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "model", 1, 0, 'm' }, { "tokenizer", 1, 0, 'k' }, { "synthetic", 1, 0, 's' },
		{ "type", 1, 0, 't' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	const char *model = NULL, *tokenizer = NULL, *synthetic = NULL, *type = "f32", *out = NULL;
	static const struct { const char *name; enum npu_gguf_type type; } types[] = {
		{ "f32", NPU_GGUF_F32 }, { "f16", NPU_GGUF_F16 }, { "q8_0", NPU_GGUF_Q8_0 },
		{ "q4_0", NPU_GGUF_Q4_0 },
	};
	struct npu_model m;
	struct npu_tokenizer t;
	char err[256] = "";
	size_t i;
	int c, ret;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 'k': tokenizer = optarg; break;
		case 's': synthetic = optarg; break;
		case 't': type = optarg; break;
		case 'o': out = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(type, types[i].name))
			break;
	if (optind < argc || !out || !model == !synthetic || i == sizeof(types) / sizeof(types[0])) {
		usage(stderr);
		return 2;
	}
	ret = model ? npu_model_load(model, &m, err, sizeof(err)) :
		      npu_model_synthetic(synthetic, 1, &m, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "npu-gguf: model: %s\n", err[0] ? err : npu_strerror(ret));
		return 1;
	}
	ret = tokenizer ? npu_tokenizer_load(tokenizer, m.cfg.vocab_size, &t, err, sizeof(err)) :
			  npu_tokenizer_bytes(m.cfg.vocab_size, &t);
	if (ret) {
		fprintf(stderr, "npu-gguf: tokenizer: %s\n", err[0] ? err : npu_strerror(ret));
		npu_model_free(&m);
		return 1;
	}
	ret = npu_model_save_gguf(out, &m, &t, types[i].type, err, sizeof(err));
	if (ret)
		fprintf(stderr, "npu-gguf: %s\n", err[0] ? err : npu_strerror(ret));
	npu_tokenizer_free(&t);
	npu_model_free(&m);
	return ret ? 1 : 0;
}
