// SPDX-License-Identifier: MIT
/*
 * ggml-oracle: llama.cpp's own code (the prebuilt libllama and libggml-base
 * of node-llama-cpp, fetched by tests/llama/fetch.sh) as the test oracle for
 * GGUF files, not part of the project's libraries.
 *
 *   ggml-oracle quantize IN.gguf OUT.gguf TYPE   llama_model_quantize, as
 *                                                llama-quantize IN OUT TYPE
 *   ggml-oracle dequant IN.gguf OUT.bin          every tensor through ggml's
 *                                                type traits' to_float
 *   ggml-oracle types IN.gguf                    "name type bytes" per tensor
 *
 * The dump (all little-endian): the 8 bytes "GGMLDQ1\n", a u32 tensor
 * count, then per tensor in file order: a u32 name length and the name's
 * bytes (no NUL), a u32 type-name length and ggml's type name ("Q4_K"), a
 * u32 dimension count and four u64 extents ne[0..3] (ne[0] contiguous,
 * unused ones 1), and ne[0] * ne[1] * ne[2] * ne[3] float32 values.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ggml.h>
#include <gguf.h>
#include <llama.h>

static const struct {
	const char *name;
	enum llama_ftype ftype;
} types[] = {
	{ "Q4_0", LLAMA_FTYPE_MOSTLY_Q4_0 }, { "Q4_1", LLAMA_FTYPE_MOSTLY_Q4_1 },
	{ "Q5_0", LLAMA_FTYPE_MOSTLY_Q5_0 }, { "Q5_1", LLAMA_FTYPE_MOSTLY_Q5_1 },
	{ "Q8_0", LLAMA_FTYPE_MOSTLY_Q8_0 }, { "Q2_K", LLAMA_FTYPE_MOSTLY_Q2_K },
	{ "Q3_K_M", LLAMA_FTYPE_MOSTLY_Q3_K_M }, { "Q4_K_M", LLAMA_FTYPE_MOSTLY_Q4_K_M },
	{ "Q5_K_M", LLAMA_FTYPE_MOSTLY_Q5_K_M }, { "Q6_K", LLAMA_FTYPE_MOSTLY_Q6_K },
};

/* llama.cpp's log lines only when asked (NPU_ORACLE_VERBOSE), errors always. */
static void log_cb(enum ggml_log_level level, const char *text, void *user)
{
	(void)user;
	if (level == GGML_LOG_LEVEL_ERROR || getenv("NPU_ORACLE_VERBOSE"))
		fputs(text, stderr);
}

static int quantize(const char *in, const char *out, const char *type)
{
	struct llama_model_quantize_params p = llama_model_quantize_default_params();
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(type, types[i].name))
			break;
	if (i == sizeof(types) / sizeof(types[0])) {
		fprintf(stderr, "ggml-oracle: unknown type %s\n", type);
		return 2;
	}
	p.ftype = types[i].ftype;
	p.nthread = 2;
	if (llama_model_quantize(in, out, &p)) {
		fprintf(stderr, "ggml-oracle: llama_model_quantize %s -> %s (%s) failed\n", in, out,
			type);
		return 1;
	}
	return 0;
}

static int put(FILE *f, const void *p, size_t n)
{
	return fwrite(p, 1, n, f) == n ? 0 : -1;
}

static int put_u32(FILE *f, uint32_t v)
{
	return put(f, &v, 4);
}

static int put_str(FILE *f, const char *s)
{
	return put_u32(f, (uint32_t)strlen(s)) || put(f, s, strlen(s));
}

/* One tensor's bytes from @in through its type's to_float into @out. */
static int dump_tensor(FILE *in, FILE *out, const struct gguf_context *g,
		       const struct ggml_context *ctx, int64_t id)
{
	const char *name = gguf_get_tensor_name(g, id);
	struct ggml_tensor *t = ggml_get_tensor((struct ggml_context *)ctx, name);
	const struct ggml_type_traits *tr = ggml_get_type_traits(t->type);
	size_t bytes = gguf_get_tensor_size(g, id);
	int64_t n = ggml_nelements(t);
	uint64_t ne[4];
	void *raw = malloc(bytes ? bytes : 1);
	float *f = malloc(n * sizeof(float) + 1);
	int k, ret = -1;

	/* F32 has no to_float: its values are its bytes. */
	if (!raw || !f || (t->type != GGML_TYPE_F32 && !tr->to_float)) {
		fprintf(stderr, "ggml-oracle: %s: %s\n", name,
			raw && f ? "type has no to_float" : "out of memory");
		goto out;
	}
	if (fseeko(in, (off_t)(gguf_get_data_offset(g) + gguf_get_tensor_offset(g, id)),
		   SEEK_SET) || fread(raw, 1, bytes, in) != bytes) {
		fprintf(stderr, "ggml-oracle: %s: short read\n", name);
		goto out;
	}
	if (t->type == GGML_TYPE_F32)
		memcpy(f, raw, n * sizeof(float));
	else
		tr->to_float(raw, f, n);
	for (k = 0; k < 4; k++)
		ne[k] = (uint64_t)t->ne[k];
	ret = put_str(out, name) || put_str(out, ggml_type_name(t->type)) ||
	      put_u32(out, (uint32_t)ggml_n_dims(t)) || put(out, ne, sizeof(ne)) ||
	      put(out, f, n * sizeof(float));
	if (ret)
		fprintf(stderr, "ggml-oracle: %s: write failed\n", name);
out:
	free(raw);
	free(f);
	return ret;
}

/* dequant (@out set) or types (@out NULL). */
static int walk(const char *path, const char *out_path)
{
	struct ggml_context *ctx = NULL;
	struct gguf_init_params ip = { .no_alloc = true, .ctx = &ctx };
	struct gguf_context *g = gguf_init_from_file(path, ip);
	FILE *in = NULL, *out = NULL;
	int64_t i, n;
	int ret = 1;

	if (!g) {
		fprintf(stderr, "ggml-oracle: gguf_init_from_file %s failed\n", path);
		return 1;
	}
	n = gguf_get_n_tensors(g);
	if (!out_path) {
		for (i = 0; i < n; i++)
			printf("%s %s %zu\n", gguf_get_tensor_name(g, i),
			       ggml_type_name(gguf_get_tensor_type(g, i)), gguf_get_tensor_size(g, i));
		ret = 0;
		goto done;
	}
	in = fopen(path, "rb");
	out = fopen(out_path, "wb");
	if (!in || !out) {
		perror(!in ? path : out_path);
		goto done;
	}
	if (put(out, "GGMLDQ1\n", 8) || put_u32(out, (uint32_t)n))
		goto done;
	for (i = 0; i < n; i++)
		if (dump_tensor(in, out, g, ctx, i))
			goto done;
	ret = 0;
done:
	if (in)
		fclose(in);
	if (out && fclose(out) && !ret) {
		perror(out_path);
		ret = 1;
	}
	if (ret && out)
		remove(out_path);
	ggml_free(ctx);
	gguf_free(g);
	return ret;
}

int main(int argc, char **argv)
{
	llama_log_set(log_cb, NULL);
	if (argc == 5 && !strcmp(argv[1], "quantize"))
		return quantize(argv[2], argv[3], argv[4]);
	if (argc == 4 && !strcmp(argv[1], "dequant"))
		return walk(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "types"))
		return walk(argv[2], NULL);
	fprintf(stderr, "usage: ggml-oracle quantize IN.gguf OUT.gguf TYPE\n"
		"       ggml-oracle dequant IN.gguf OUT.bin\n"
		"       ggml-oracle types IN.gguf\n"
		"  TYPE: Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K_M Q4_K_M Q5_K_M Q6_K\n");
	return 2;
}
