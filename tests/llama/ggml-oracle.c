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
 *   ggml-oracle tokenize MODEL.gguf TEXT OUT.txt  llama_tokenize with BOS, at
 *                                                most 128 ids, one per line
 *   ggml-oracle logits MODEL.gguf TOKENS.txt OUT.bin
 *                                                the model on the CPU in F32,
 *                                                teacher-forced on TOKENS
 *                                                (ids, white-space separated):
 *                                                every position's logits,
 *                                                float32, positions x n_vocab
 *   ggml-oracle chat TEMPLATE...                 llama_chat_apply_template on a
 *                                                fixed set of conversations, for
 *                                                each TEMPLATE: a name, or a
 *                                                file NAME.jinja whose text is
 *                                                the template (the chat dump)
 *
 * The dump (all little-endian): the 8 bytes "GGMLDQ1\n", a u32 tensor
 * count, then per tensor in file order: a u32 name length and the name's
 * bytes (no NUL), a u32 type-name length and ggml's type name ("Q4_K"), a
 * u32 dimension count and four u64 extents ne[0..3] (ne[0] contiguous,
 * unused ones 1), and ne[0] * ne[1] * ne[2] * ne[3] float32 values.
 *
 * The chat dump (text lines; a string is its byte count on its line, then
 * its bytes and a newline): per TEMPLATE, "template T", "detect" and the
 * built-in names whose renderings equal the template's for every
 * conversation (llama.cpp does not say what it detected: this is it, when
 * the template is one it knows), then per conversation "conv ADD_ASS N",
 * N times "msg ROLE" and the content's string, and "render" with the
 * rendering's string, or "render -1" when llama.cpp refuses the template.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ggml-backend.h>
#include <ggml.h>
#include <gguf.h>
#include <llama.h>

#include "slurp.h"

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

#define MAX_TOKENS 4096

/* A model on the CPU backend (loaded from the libraries' own directory). */
static struct llama_model *load_cpu(const char *path, bool vocab_only)
{
	struct llama_model_params mp = llama_model_default_params();
	static bool loaded;
	struct llama_model *m;

	if (!loaded) {
		ggml_backend_load_all_from_path(ORACLE_LIB_DIR);
		loaded = true;
	}
	if (!ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU)) {
		fprintf(stderr, "ggml-oracle: no CPU backend in %s\n", ORACLE_LIB_DIR);
		return NULL;
	}
	mp.n_gpu_layers = 0;
	mp.vocab_only = vocab_only;
	m = llama_model_load_from_file(path, mp);
	if (!m)
		fprintf(stderr, "ggml-oracle: llama_model_load_from_file %s failed\n", path);
	return m;
}

static int tokenize(const char *path, const char *text, const char *out_path)
{
	struct llama_model *m = load_cpu(path, true);
	llama_token ids[MAX_TOKENS];
	int32_t n, i;
	FILE *out;

	if (!m)
		return 1;
	n = llama_tokenize(llama_model_get_vocab(m), text, (int32_t)strlen(text), ids, MAX_TOKENS,
			   true, false);
	llama_model_free(m);
	if (n < 0) {
		fprintf(stderr, "ggml-oracle: the text takes more than %d tokens\n", MAX_TOKENS);
		return 1;
	}
	out = fopen(out_path, "w");
	if (!out) {
		perror(out_path);
		return 1;
	}
	for (i = 0; i < n && i < 128; i++)
		fprintf(out, "%d\n", ids[i]);
	if (fclose(out)) {
		perror(out_path);
		return 1;
	}
	return 0;
}

static int read_tokens(const char *path, llama_token *ids, int max)
{
	FILE *f = fopen(path, "r");
	int n = 0;

	if (!f) {
		perror(path);
		return -1;
	}
	while (n < max && fscanf(f, "%d", &ids[n]) == 1)
		n++;
	if (!feof(f) && n < max) {
		fprintf(stderr, "ggml-oracle: %s: not a list of token ids\n", path);
		n = -1;
	}
	fclose(f);
	return n;
}

/*
 * Deterministic F32 throughout: F32 weights (as the files are), an F32 KV
 * cache, no flash attention, one thread, the whole sequence in one batch.
 */
static int logits(const char *path, const char *tok_path, const char *out_path)
{
	struct llama_context_params cp = llama_context_default_params();
	static llama_token ids[MAX_TOKENS];
	struct llama_context *ctx = NULL;
	struct llama_batch b = { 0 };
	struct llama_model *m;
	int n, i, n_vocab, ret = 1;
	FILE *out = NULL;

	n = read_tokens(tok_path, ids, MAX_TOKENS);
	if (n <= 0) {
		if (!n)
			fprintf(stderr, "ggml-oracle: %s: no tokens\n", tok_path);
		return 1;
	}
	m = load_cpu(path, false);
	if (!m)
		return 1;
	n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(m));
	cp.n_ctx = (uint32_t)n;
	cp.n_batch = (uint32_t)n;
	cp.n_ubatch = (uint32_t)n;
	cp.n_seq_max = 1;
	cp.n_threads = 1;
	cp.n_threads_batch = 1;
	cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
	cp.type_k = GGML_TYPE_F32;
	cp.type_v = GGML_TYPE_F32;
	cp.no_perf = true;
	ctx = llama_init_from_model(m, cp);
	if (!ctx) {
		fprintf(stderr, "ggml-oracle: llama_init_from_model %s failed\n", path);
		goto out;
	}
	b = llama_batch_init(n, 0, 1);
	for (i = 0; i < n; i++) {
		if (ids[i] < 0 || ids[i] >= n_vocab) {
			fprintf(stderr, "ggml-oracle: token %d is outside the vocabulary (%d)\n",
				ids[i], n_vocab);
			goto out;
		}
		b.token[i] = ids[i];
		b.pos[i] = i;
		b.n_seq_id[i] = 1;
		b.seq_id[i][0] = 0;
		b.logits[i] = 1;
	}
	b.n_tokens = n;
	if (llama_decode(ctx, b)) {
		fprintf(stderr, "ggml-oracle: llama_decode %s failed\n", path);
		goto out;
	}
	out = fopen(out_path, "wb");
	if (!out) {
		perror(out_path);
		goto out;
	}
	for (i = 0; i < n; i++) {
		const float *l = llama_get_logits_ith(ctx, i);

		if (!l || put(out, l, (size_t)n_vocab * sizeof(float))) {
			fprintf(stderr, "ggml-oracle: %s: position %d: %s\n", out_path, i,
				l ? "write failed" : "no logits");
			goto out;
		}
	}
	ret = 0;
out:
	if (out && fclose(out) && !ret) {
		perror(out_path);
		ret = 1;
	}
	if (ret && out)
		remove(out_path);
	if (b.token)
		llama_batch_free(b);
	llama_free(ctx);
	llama_model_free(m);
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

/* The conversations: system + user, user alone, turns, special characters and white space. */
#define MAX_MSGS 6
static const struct {
	bool add_ass;
	int n;
	struct llama_chat_message m[MAX_MSGS];
} convs[] = {
	{ true, 2, { { "system", "You are a helpful assistant." }, { "user", "Hello" } } },
	{ false, 2, { { "system", "You are a helpful assistant." }, { "user", "Hello" } } },
	{ true, 1, { { "user", "What is 2+2?" } } },
	{ false, 1, { { "user", "What is 2+2?" } } },
	{ true, 3, { { "user", "Hi" }, { "assistant", "Hello! How can I help?" },
		     { "user", "Tell me a joke" } } },
	{ false, 2, { { "user", "Hi" }, { "assistant", "Hello!" } } },
	{ true, 6, { { "system", "  Be brief.\n" }, { "user", "\tLine one\nline two\n\n" },
		     { "assistant", "  <|im_end|> [INST] </s> {{ x }} \n" },
		     { "user", "Quotes \" ' \\ and <b>tags</b>, h\xc3\xa9llo \xe6\x97\xa5\xe6\x9c\xac" },
		     { "assistant", "\n\nOK\n\n" }, { "user", " " } } },
	{ false, 6, { { "system", "  Be brief.\n" }, { "user", "\tLine one\nline two\n\n" },
		      { "assistant", "  <|im_end|> [INST] </s> {{ x }} \n" },
		      { "user", "Quotes \" ' \\ and <b>tags</b>, h\xc3\xa9llo \xe6\x97\xa5\xe6\x9c\xac" },
		      { "assistant", "\n\nOK\n\n" }, { "user", " " } } },
	{ true, 3, { { "system", "" }, { "user", "" }, { "assistant", "" } } },
};
#define N_CONVS (sizeof(convs) / sizeof(convs[0]))

/* Conversation @i under @tmpl, malloc'ed, or NULL: refused (*@refused) or out of memory. */
static char *render(const char *tmpl, size_t i, bool *refused)
{
	int32_t len = 4096, n;
	char *buf = NULL, *p;

	*refused = false;
	for (;;) {
		p = realloc(buf, (size_t)len + 1);
		if (!p) {
			free(buf);
			return NULL;
		}
		buf = p;
		n = llama_chat_apply_template(tmpl, convs[i].m, (size_t)convs[i].n,
					      convs[i].add_ass, buf, len);
		if (n < 0) {
			*refused = true;
			free(buf);
			return NULL;
		}
		if (n <= len)
			break;
		len = n;
	}
	buf[n] = 0;
	return buf;
}

static void put_text(const char *s)
{
	printf("%zu\n%s\n", strlen(s), s);
}

static int chat(int n_tmpl, char **tmpls)
{
	const char *names[256];
	char *want[N_CONVS];
	int32_t n_names = llama_chat_builtin_templates(names, 256);
	int t, k, ret = 0;
	size_t i, len;

	if (n_names < 0 || n_names > 256) {
		fprintf(stderr, "ggml-oracle: llama_chat_builtin_templates: %d names\n", n_names);
		return 1;
	}
	for (t = 0; t < n_tmpl && !ret; t++) {
		const char *arg = tmpls[t];
		bool jinja = (len = strlen(arg)) > 6 && !strcmp(arg + len - 6, ".jinja");
		char *text = jinja ? slurp(arg, NULL) : strdup(arg);
		bool refused;

		if (!text) {
			fprintf(stderr, "ggml-oracle: cannot read %s\n", arg);
			return 1;
		}
		for (i = 0; i < N_CONVS; i++) {
			want[i] = render(text, i, &refused);
			if (!want[i] && !refused)
				ret = 1;
		}
		printf("template %s\ndetect", arg);
		for (k = 0; k < n_names && want[0]; k++) {
			bool same = true;

			for (i = 0; i < N_CONVS && same; i++) {
				char *got = render(names[k], i, &refused);

				same = got && !strcmp(got, want[i]);
				free(got);
			}
			if (same)
				printf(" %s", names[k]);
		}
		printf("\n");
		for (i = 0; i < N_CONVS; i++) {
			printf("conv %d %d\n", convs[i].add_ass, convs[i].n);
			for (k = 0; k < convs[i].n; k++) {
				printf("msg %s\n", convs[i].m[k].role);
				put_text(convs[i].m[k].content);
			}
			printf("render ");
			if (want[i])
				put_text(want[i]);
			else
				printf("-1\n");
			free(want[i]);
		}
		free(text);
	}
	if (ret)
		fprintf(stderr, "ggml-oracle: out of memory\n");
	return ret || fflush(stdout) ? 1 : 0;
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
	if (argc == 5 && !strcmp(argv[1], "tokenize"))
		return tokenize(argv[2], argv[3], argv[4]);
	if (argc == 5 && !strcmp(argv[1], "logits"))
		return logits(argv[2], argv[3], argv[4]);
	if (argc >= 3 && !strcmp(argv[1], "chat"))
		return chat(argc - 2, argv + 2);
	fprintf(stderr, "usage: ggml-oracle quantize IN.gguf OUT.gguf TYPE\n"
		"       ggml-oracle dequant IN.gguf OUT.bin\n"
		"       ggml-oracle types IN.gguf\n"
		"       ggml-oracle tokenize MODEL.gguf TEXT OUT.txt\n"
		"       ggml-oracle logits MODEL.gguf TOKENS.txt OUT.bin\n"
		"       ggml-oracle chat TEMPLATE...   (a name or a NAME.jinja file)\n"
		"  TYPE: Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K_M Q4_K_M Q5_K_M Q6_K\n");
	return 2;
}
