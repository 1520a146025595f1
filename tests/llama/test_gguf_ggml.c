// SPDX-License-Identifier: MIT
/*
 * The GGUF loader against llama.cpp: every file made by llama.cpp's own
 * quantizer (tests/llama/make-files.sh) loaded by npu_model_load_gguf, and
 * every weight the model holds (the float copies of every matrix, the
 * embedding, the norms) compared value for value with ggml's own
 * dequantization of the same file (ggml-oracle's dump), as are the values
 * of every matrix the model keeps in the NPU's format (npu_qmatrix_value).
 * It links libnpu-llm only: ggml speaks through the dump.
 *
 * Value for value: the floats' bits are equal, zeros' signs included.
 *
 * usage: test_gguf_ggml FILE.gguf DUMP.bin [FILE.gguf DUMP.bin ...]
 * One line per file (PASS or FAIL with the first mismatch, or the loader's
 * error), then "N passed, N failed".
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <npu/model.h>

#define MAX_TYPES 8

struct cmp {
	uint64_t values, native, bad;
	char first[512];	/* the first mismatch */
	char type[MAX_TYPES][32];
	int tensors[MAX_TYPES];
};

static int get(FILE *f, void *p, size_t n)
{
	return fread(p, 1, n, f) == n ? 0 : -1;
}

/* A u32-length-prefixed string into @s (cut to @len - 1). */
static int get_str(FILE *f, char *s, size_t len)
{
	uint32_t n;

	if (get(f, &n, 4) || n >= len)
		return -1;
	s[n] = 0;
	return get(f, s, n);
}

/* The model's array and native matrix for tensor @name of @rows x @cols. */
static float *target(const struct npu_model *m, const char *name, uint64_t rows, uint64_t cols,
		     const struct npu_qmatrix **q)
{
	const struct npu_model_config *c = &m->cfg;
	size_t d = (size_t)c->dim, h = (size_t)c->hidden_dim;
	size_t kv = d * (size_t)c->n_kv_heads / (size_t)c->n_heads, v = (size_t)c->vocab_size;
	size_t mats = (size_t)c->n_layers * NPU_MODEL_LAYER_MATS;
	static const char *const mat[] = { "attn_q", "attn_k", "attn_v", "attn_output",
					   "ffn_gate", "ffn_down", "ffn_up" };
	const size_t r[] = { d, kv, kv, d, h, d, h }, col[] = { d, d, d, d, d, h, d };
	float *const base[] = { m->wq, m->wk, m->wv, m->wo, m->w1, m->w2, m->w3 };
	char what[64];
	int l, n = 0;
	size_t k;

	*q = NULL;
	if (!strcmp(name, "token_embd.weight") && rows == v && cols == d)
		return m->token_embedding;
	if (!strcmp(name, "output_norm.weight") && rows == 1 && cols == d)
		return m->rms_final;
	if (!strcmp(name, "output.weight") && rows == v && cols == d) {
		*q = m->native ? &m->native[mats] : NULL;
		return m->wcls;
	}
	if (sscanf(name, "blk.%d.%63[a-z_].weight%n", &l, what, &n) != 2 || name[n] || l < 0 ||
	    l >= c->n_layers)
		return NULL;
	if (!strcmp(what, "attn_norm") && rows == 1 && cols == d)
		return m->rms_att + l * d;
	if (!strcmp(what, "ffn_norm") && rows == 1 && cols == d)
		return m->rms_ffn + l * d;
	for (k = 0; k < sizeof(mat) / sizeof(mat[0]); k++)
		if (!strcmp(what, mat[k]) && rows == r[k] && cols == col[k]) {
			*q = m->native ? &m->native[l * NPU_MODEL_LAYER_MATS + k] : NULL;
			return base[k] + l * r[k] * col[k];
		}
	return NULL;
}

/* One value pair: equal, or counted with the first mismatch kept. */
static void check(struct cmp *c, const char *name, const char *what, uint64_t r, uint64_t col,
		  float want, float got)
{
	if (!memcmp(&want, &got, sizeof(want)))
		return;
	if (!c->bad++)
		snprintf(c->first, sizeof(c->first), "%s[%" PRIu64 "][%" PRIu64 "]: ggml %a, %s %a",
			 name, r, col, (double)want, what, (double)got);
}

/* Tensors per ggml type, for the summary line. */
static void add_type(struct cmp *c, const char *type)
{
	int i;

	for (i = 0; i < MAX_TYPES && c->type[i][0] && strcmp(c->type[i], type); i++)
		;
	if (i == MAX_TYPES)
		return;
	snprintf(c->type[i], sizeof(c->type[i]), "%s", type);
	c->tensors[i]++;
}

/* The dump's tensors against @m; a malformed dump or unknown tensor fails. */
static int compare(const struct npu_model *m, const char *dump, struct cmp *c, char *err,
		   size_t len)
{
	FILE *f = fopen(dump, "rb");
	char magic[8], name[256], type[32];
	uint32_t n, i, dims;
	uint64_t ne[4], rows, cols, r, k;
	float *v = NULL;
	int ret = -1;

	if (!f) {
		snprintf(err, len, "%s: cannot open", dump);
		return -1;
	}
	if (get(f, magic, 8) || memcmp(magic, "GGMLDQ1\n", 8) || get(f, &n, 4)) {
		snprintf(err, len, "%s: not a ggml-oracle dump", dump);
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct npu_qmatrix *q;
		float *w;

		if (get_str(f, name, sizeof(name)) || get_str(f, type, sizeof(type)) ||
		    get(f, &dims, 4) || get(f, ne, sizeof(ne)) || ne[2] != 1 || ne[3] != 1 ||
		    ne[0] > (1u << 20) || ne[1] > (1u << 24)) {
			snprintf(err, len, "%s: tensor %u: malformed", dump, i);
			goto out;
		}
		cols = ne[0];
		rows = ne[1];
		w = target(m, name, rows, cols, &q);
		if (!w) {
			snprintf(err, len, "%s: tensor %s [%" PRIu64 ", %" PRIu64
				 "] is not in the model", dump, name, cols, rows);
			goto out;
		}
		free(v);
		v = malloc(rows * cols * sizeof(float));
		if (!v || get(f, v, rows * cols * sizeof(float))) {
			snprintf(err, len, "%s: %s: %s", dump, name, v ? "short" : "out of memory");
			goto out;
		}
		add_type(c, type);
		for (r = 0; r < rows; r++)
			for (k = 0; k < cols; k++)
				check(c, name, "float copy", r, k, v[r * cols + k],
				      w[r * cols + k]);
		c->values += rows * cols;
		if (!q || !q->q)
			continue;
		if ((uint64_t)q->rows != rows || (uint64_t)q->cols != cols) {
			snprintf(err, len, "%s: native matrix is %dx%d", name, q->rows, q->cols);
			goto out;
		}
		for (r = 0; r < rows; r++)
			for (k = 0; k < cols; k++)
				check(c, name, "npu_qmatrix_value", r, k, v[r * cols + k],
				      npu_qmatrix_value(q, (int32_t)r, (int32_t)k));
		c->native++;
	}
	if (fgetc(f) != EOF) {
		snprintf(err, len, "%s: bytes after the last tensor", dump);
		goto out;
	}
	ret = 0;
out:
	free(v);
	fclose(f);
	return ret;
}

int main(int argc, char **argv)
{
	int i, passed = 0, failed = 0;

	if (argc < 3 || argc % 2 == 0) {
		fprintf(stderr,
			"usage: test_gguf_ggml FILE.gguf DUMP.bin [FILE.gguf DUMP.bin ...]\n");
		return 2;
	}
	for (i = 1; i < argc; i += 2) {
		struct npu_model m;
		struct cmp c = { 0 };
		char err[1024] = "";
		int ret = npu_model_load_gguf(argv[i], &m, NULL, err, sizeof(err));

		if (ret) {
			printf("FAIL %s: npu_model_load_gguf: %s\n", argv[i],
			       err[0] ? err : npu_strerror(ret));
			failed++;
			continue;
		}
		if (compare(&m, argv[i + 1], &c, err, sizeof(err))) {
			printf("FAIL %s: %s\n", argv[i], err);
			failed++;
		} else if (c.bad) {
			printf("FAIL %s: %" PRIu64
			       " values (float copies and native) differ; first %s\n", argv[i],
			       c.bad, c.first);
			failed++;
		} else {
			int k;

			printf("PASS %s:", argv[i]);
			for (k = 0; k < MAX_TYPES && c.type[k][0]; k++)
				printf(" %s x%d", c.type[k], c.tensors[k]);
			printf("; %" PRIu64 " values as ggml's, bit for bit, %" PRIu64
			       " native matrices too\n", c.values, c.native);
			passed++;
		}
		npu_model_free(&m);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
