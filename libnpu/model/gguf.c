// SPDX-License-Identifier: MIT
/*
 * GGUF v3 models of the Llama architecture (the format llama.cpp reads):
 * a header, typed key/value metadata, tensor descriptors, then aligned
 * tensor data. The file is mapped and every length, count, type, shape
 * and offset is checked against the file before it is used.
 *
 * F32 and F16 tensors become floats, as a llama2.c checkpoint's are.
 * Q8_0 and Q4_0 matrices (blocks of 32 weights sharing one f16 scale d)
 * also become the NPU's SCALE_GROUP format directly: the integers are the
 * file's own, and each block's d becomes a Q0.16 factor of a power-of-two
 * tensor scale (docs/gguf.md says when that is exact).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model_internal.h"

enum gguf_type {
	GGUF_U8, GGUF_I8, GGUF_U16, GGUF_I16, GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL,
	GGUF_STRING, GGUF_ARRAY, GGUF_U64, GGUF_I64, GGUF_F64, GGUF_NTYPES
};

#define QBLOCK 32
#define MAX_TENSORS 65536
#define MAX_KV 65536
#define MAX_STRING (1 << 20)
#define MAX_ARRAY (1 << 24)
#define MAX_DIMS 4
/* An integer key the file does not have. */
#define ABSENT INT64_MIN

struct gguf_str {
	const char *s;
	uint64_t n;
};

struct gguf_tensor {
	struct gguf_str name;
	uint32_t n_dims, type;
	uint64_t ne[MAX_DIMS];
	uint64_t offset, bytes;
	int used;
};

struct gguf_array {
	uint32_t type;
	uint64_t count;
	const uint8_t *data;	/* the first element */
};

/* The metadata the loader reads; everything else is checked and skipped. */
struct gguf_meta {
	struct gguf_str arch, tok_model;
	uint64_t alignment;
	int64_t ctx, dim, layers, hidden, heads, kv_heads, rope_dim, bos, eos;	/* ABSENT if so */
	double eps, rope_base;
	int has_eps, has_rope_base;
	struct gguf_array tokens, scores;
};

struct reader {
	const uint8_t *p;
	uint64_t size, off;
	const char *path;
	char *err;
	size_t err_len;
};

static int fail(struct reader *r, const char *what)
{
	npu_model_error(r->err, r->err_len, "%s: byte %llu: %s", r->path,
			(unsigned long long)r->off, what);
	return NPU_E_FORMAT;
}

static int take(struct reader *r, void *dst, uint64_t n, const char *what)
{
	if (n > r->size - r->off) {
		char msg[160];

		snprintf(msg, sizeof(msg), "truncated in %s (%llu bytes needed, %llu left)", what,
			 (unsigned long long)n, (unsigned long long)(r->size - r->off));
		return fail(r, msg);
	}
	if (dst)
		memcpy(dst, r->p + r->off, n);
	r->off += n;
	return NPU_OK;
}

static int take_str(struct reader *r, struct gguf_str *s, const char *what)
{
	int ret = take(r, &s->n, 8, what);

	if (ret)
		return ret;
	if (s->n > MAX_STRING) {
		char msg[160];

		snprintf(msg, sizeof(msg), "%s is %llu bytes long (limit %d)", what,
			 (unsigned long long)s->n, MAX_STRING);
		return fail(r, msg);
	}
	s->s = (const char *)r->p + r->off;
	return take(r, NULL, s->n, what);
}

static int str_is(const struct gguf_str *s, const char *lit)
{
	return s->n == strlen(lit) && !memcmp(s->s, lit, s->n);
}

static const uint64_t scalar_size[GGUF_NTYPES] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

/* Skip one value of @type (arrays of arrays up to @depth deep). */
static int skip_value(struct reader *r, uint32_t type, int depth)
{
	struct gguf_str s;
	uint64_t count, i;
	uint32_t et;
	int ret;

	if (type >= GGUF_NTYPES)
		return fail(r, "unknown value type");
	if (type == GGUF_STRING)
		return take_str(r, &s, "a string value");
	if (type != GGUF_ARRAY)
		return take(r, NULL, scalar_size[type], "a value");
	if (depth > 2)
		return fail(r, "arrays nested more than 2 deep");
	ret = take(r, &et, 4, "an array's type");
	ret = ret ? ret : take(r, &count, 8, "an array's length");
	if (ret)
		return ret;
	if (et >= GGUF_NTYPES)
		return fail(r, "unknown array element type");
	if (count > MAX_ARRAY)
		return fail(r, "array longer than 2^24 elements");
	if (et != GGUF_STRING && et != GGUF_ARRAY)
		return take(r, NULL, count * scalar_size[et], "an array");
	for (i = 0; i < count; i++) {
		ret = skip_value(r, et, depth + 1);
		if (ret)
			return ret;
	}
	return NPU_OK;
}

/* An integer-typed value of any width, as int64. */
static int read_int(struct reader *r, uint32_t type, const char *key, int64_t *v)
{
	uint64_t raw = 0;
	int ret;

	if (type >= GGUF_NTYPES || type == GGUF_F32 || type == GGUF_F64 || type == GGUF_BOOL ||
	    type == GGUF_STRING || type == GGUF_ARRAY) {
		npu_model_error(r->err, r->err_len, "%s: %s is not an integer", r->path, key);
		return NPU_E_FORMAT;
	}
	ret = take(r, &raw, scalar_size[type], key);
	if (ret)
		return ret;
	switch (type) {
	case GGUF_I8: *v = (int8_t)raw; break;
	case GGUF_I16: *v = (int16_t)raw; break;
	case GGUF_I32: *v = (int32_t)raw; break;
	case GGUF_I64: *v = (int64_t)raw; break;
	case GGUF_U64:
		if (raw > INT64_MAX) {
			npu_model_error(r->err, r->err_len, "%s: %s = %llu is too large", r->path, key,
					(unsigned long long)raw);
			return NPU_E_FORMAT;
		}
		*v = (int64_t)raw;
		break;
	default: *v = (int64_t)raw; break;	/* U8, U16, U32 */
	}
	return NPU_OK;
}

static int read_float(struct reader *r, uint32_t type, const char *key, double *v)
{
	float f;

	if (type == GGUF_F32) {
		int ret = take(r, &f, 4, key);

		*v = f;
		return ret;
	}
	if (type == GGUF_F64)
		return take(r, v, 8, key);
	npu_model_error(r->err, r->err_len, "%s: %s is not a float", r->path, key);
	return NPU_E_FORMAT;
}

static int read_string(struct reader *r, uint32_t type, const char *key, struct gguf_str *s)
{
	if (type != GGUF_STRING) {
		npu_model_error(r->err, r->err_len, "%s: %s is not a string", r->path, key);
		return NPU_E_FORMAT;
	}
	return take_str(r, s, key);
}

static int read_array(struct reader *r, uint32_t type, const char *key, uint32_t want,
		      struct gguf_array *a)
{
	uint64_t start;
	int ret;

	if (type != GGUF_ARRAY) {
		npu_model_error(r->err, r->err_len, "%s: %s is not an array", r->path, key);
		return NPU_E_FORMAT;
	}
	start = r->off;
	ret = take(r, &a->type, 4, key);
	ret = ret ? ret : take(r, &a->count, 8, key);
	if (ret)
		return ret;
	if (a->type != want) {
		npu_model_error(r->err, r->err_len, "%s: %s holds type %u, not %u", r->path, key,
				a->type, want);
		return NPU_E_FORMAT;
	}
	a->data = r->p + r->off;
	r->off = start;
	return skip_value(r, GGUF_ARRAY, 1);
}

static const struct {
	const char *key;
	size_t at;	/* offset of the int64 in struct gguf_meta */
} int_keys[] = {
	{ "llama.context_length", offsetof(struct gguf_meta, ctx) },
	{ "llama.embedding_length", offsetof(struct gguf_meta, dim) },
	{ "llama.block_count", offsetof(struct gguf_meta, layers) },
	{ "llama.feed_forward_length", offsetof(struct gguf_meta, hidden) },
	{ "llama.attention.head_count", offsetof(struct gguf_meta, heads) },
	{ "llama.attention.head_count_kv", offsetof(struct gguf_meta, kv_heads) },
	{ "llama.rope.dimension_count", offsetof(struct gguf_meta, rope_dim) },
	{ "tokenizer.ggml.bos_token_id", offsetof(struct gguf_meta, bos) },
	{ "tokenizer.ggml.eos_token_id", offsetof(struct gguf_meta, eos) },
};

static int read_kv(struct reader *r, struct gguf_meta *g)
{
	struct gguf_str key;
	char name[128];
	uint32_t type;
	int64_t align;
	size_t i;
	int ret;

	ret = take_str(r, &key, "a metadata key");
	ret = ret ? ret : take(r, &type, 4, "a metadata type");
	if (ret)
		return ret;
	snprintf(name, sizeof(name), "%.*s", (int)(key.n < 100 ? key.n : 100), key.s);
	for (i = 0; i < sizeof(int_keys) / sizeof(int_keys[0]); i++)
		if (str_is(&key, int_keys[i].key))
			return read_int(r, type, name, (int64_t *)((char *)g + int_keys[i].at));
	if (str_is(&key, "general.architecture"))
		return read_string(r, type, name, &g->arch);
	if (str_is(&key, "tokenizer.ggml.model"))
		return read_string(r, type, name, &g->tok_model);
	if (str_is(&key, "llama.attention.layer_norm_rms_epsilon"))
		return g->has_eps = 1, read_float(r, type, name, &g->eps);
	if (str_is(&key, "llama.rope.freq_base"))
		return g->has_rope_base = 1, read_float(r, type, name, &g->rope_base);
	if (str_is(&key, "tokenizer.ggml.tokens"))
		return read_array(r, type, name, GGUF_STRING, &g->tokens);
	if (str_is(&key, "tokenizer.ggml.scores"))
		return read_array(r, type, name, GGUF_F32, &g->scores);
	if (str_is(&key, "general.alignment")) {
		ret = read_int(r, type, name, &align);
		if (!ret && (align < 1 || align > 65536 || (align & (align - 1)))) {
			npu_model_error(r->err, r->err_len,
					"%s: general.alignment %lld is not a power of two up to 65536",
					r->path, (long long)align);
			return NPU_E_FORMAT;
		}
		g->alignment = (uint64_t)align;
		return ret;
	}
	return skip_value(r, type, 0);
}

static int read_tensor_info(struct reader *r, struct gguf_tensor *t, uint64_t index)
{
	char what[64];
	uint64_t n = 1, i;
	int ret;

	snprintf(what, sizeof(what), "tensor %llu's descriptor", (unsigned long long)index);
	ret = take_str(r, &t->name, what);
	ret = ret ? ret : take(r, &t->n_dims, 4, what);
	if (ret)
		return ret;
	if (t->n_dims < 1 || t->n_dims > MAX_DIMS)
		return fail(r, "a tensor with 0 or more than 4 dimensions");
	ret = take(r, t->ne, 8ull * t->n_dims, what);
	ret = ret ? ret : take(r, &t->type, 4, what);
	ret = ret ? ret : take(r, &t->offset, 8, what);
	if (ret)
		return ret;
	for (i = 0; i < t->n_dims; i++) {
		if (t->ne[i] < 1 || t->ne[i] > (1ull << 32))
			return fail(r, "a tensor dimension outside 1..2^32");
		if (t->ne[i] > (1ull << 40) / n)
			return fail(r, "a tensor of more than 2^40 elements");
		n *= t->ne[i];
	}
	for (; i < MAX_DIMS; i++)
		t->ne[i] = 1;
	switch (t->type) {
	case NPU_GGUF_F32: t->bytes = n * 4; break;
	case NPU_GGUF_F16: t->bytes = n * 2; break;
	case NPU_GGUF_Q8_0: t->bytes = n / QBLOCK * (2 + QBLOCK); break;
	case NPU_GGUF_Q4_0: t->bytes = n / QBLOCK * (2 + QBLOCK / 2); break;
	default: t->bytes = 0; break;	/* named in the error once the name is known */
	}
	return NPU_OK;
}

/* IEEE half to float, including subnormals; inf and NaN stay so. */
static float half_to_float(uint16_t h)
{
	int e = (h >> 10) & 31, m = h & 1023;
	float v;

	if (e == 0)
		v = ldexpf((float)m, -24);
	else if (e == 31)
		v = m ? NAN : INFINITY;
	else
		v = ldexpf((float)(m | 1024), e - 25);
	return (h & 0x8000) ? -v : v;
}

struct loader {
	struct reader r;
	struct gguf_meta g;
	struct gguf_tensor *t;
	uint64_t n_tensors, data_start;
	struct npu_model *m;
};

static struct gguf_tensor *find(struct loader *L, const char *name)
{
	uint64_t i;

	for (i = 0; i < L->n_tensors; i++)
		if (str_is(&L->t[i].name, name))
			return &L->t[i];
	return NULL;
}

static int tensor_error(struct loader *L, const char *name, const char *fmt, uint64_t a,
			uint64_t b)
{
	char msg[160];

	snprintf(msg, sizeof(msg), fmt, (unsigned long long)a, (unsigned long long)b);
	npu_model_error(L->r.err, L->r.err_len, "%s: tensor %s: %s", L->r.path, name, msg);
	return NPU_E_FORMAT;
}

/* Value j of a Q8_0 or Q4_0 block (without its scale). */
static int block_value(const uint8_t *blk, uint32_t type, int j)
{
	if (type == NPU_GGUF_Q8_0)
		return (int8_t)blk[j];
	return (j < 16 ? blk[j] & 15 : blk[j - 16] >> 4) - 8;
}

/*
 * Block scales to SCALE_GROUP: the NPU's group factors are unsigned, so a
 * block with d < 0 negates its integers and uses |d|. The tensor scale S
 * is the power of two just above the largest |d|, and each block's factor
 * is |d| / S * 65536 rounded: an f16 d has 11 significant bits, so every
 * |d| >= S / 64 gives an exact integer factor; smaller ones round to the
 * nearest 1/65536 of S (a block below half of that is zero). llama.cpp's
 * Q4_0 stores a block's largest value as -8 x d with d < 0, and +8 does
 * not fit int4: a Q4_0 matrix with such a block becomes int8 groups of 32
 * (exact, twice the bytes).
 */
static int native_from_blocks(struct loader *L, const char *name, const uint8_t *src,
			      uint32_t type, int32_t rows, int32_t cols, struct npu_qmatrix *q,
			      float *out)
{
	size_t blocks = (size_t)rows * cols / QBLOCK, bsize = type == NPU_GGUF_Q8_0 ? 34 : 18, b;
	double dmax = 0, s;
	int bits = 4, j;

	memset(q, 0, sizeof(*q));
	if (type == NPU_GGUF_Q8_0)
		bits = 8;
	for (b = 0; b < blocks; b++) {
		uint16_t h;
		float d;

		memcpy(&h, src + b * bsize, 2);
		d = half_to_float(h);
		if (!isfinite(d) || fabsf(d) > 1e4f)
			return tensor_error(L, name, "block %llu has scale 0x%llx (f16): not a weight scale",
					    b, h);
		dmax = fmax(dmax, fabs(d));
		for (j = 0; j < QBLOCK && d < 0; j++)
			if (block_value(src + b * bsize + 2, type, j) == (type == NPU_GGUF_Q8_0 ? -128 : -8)) {
				if (type == NPU_GGUF_Q8_0)
					return tensor_error(L, name,
							    "block %llu: -128 with a negative scale has no int8 form",
							    b, 0);
				bits = 8;
			}
	}
	q->rows = rows;
	q->cols = cols;
	q->group_size = QBLOCK;
	q->bits = bits;
	q->q = calloc(blocks, bits == 8 ? QBLOCK : QBLOCK / 2);
	q->factors = calloc(blocks, sizeof(*q->factors));
	if (!q->q || !q->factors)
		return NPU_E_NOMEM;
	s = ldexp(1.0, dmax > 0 ? ilogb(dmax) + 1 : 0);
	if (npu_scale_from_double(s, &q->scale))
		return tensor_error(L, name, "tensor scale 2^%llu is outside the NPU's range",
				    (uint64_t)ilogb(s), 0);
	for (b = 0; b < blocks; b++) {
		const uint8_t *blk = src + b * bsize + 2;
		uint16_t h;
		double d, step;
		long f;

		memcpy(&h, src + b * bsize, 2);
		d = half_to_float(h);
		/*
		 * A block whose scale rounds to no factor at all is zero: its
		 * integers become 0 (under factor 1), as its values nearly are.
		 */
		f = lround(fabs(d) / s * 65536.0);
		q->factors[b] = (uint16_t)(f < 1 ? 1 : f);
		step = s * q->factors[b] / 65536.0;
		for (j = 0; j < QBLOCK; j++) {
			int v = f < 1 ? 0 : block_value(blk, type, j) * (d < 0 ? -1 : 1);
			size_t at = b * QBLOCK + (size_t)j;

			if (bits == 8)
				q->q[at] = (uint8_t)(int8_t)v;
			else
				q->q[at / 2] |= (uint8_t)((v & 15) << (4 * (at & 1)));
			out[at] = (float)(v * step);
		}
	}
	return NPU_OK;
}

/*
 * Tensor @name must have ggml shape [@ne0, @ne1] (ne0 the contiguous one):
 * a matrix of @ne1 rows by @ne0 columns, or a vector when @ne1 is 0.
 * Its floats go to @out; a quantized matrix also to @q when @q is set.
 * With @out NULL, only the checks.
 */
static int load_tensor(struct loader *L, const char *name, uint64_t ne0, uint64_t ne1,
		       float *out, struct npu_qmatrix *q)
{
	struct gguf_tensor *t = find(L, name);
	const uint8_t *src;
	uint64_t n = ne0 * (ne1 ? ne1 : 1), i;

	if (!t) {
		npu_model_error(L->r.err, L->r.err_len, "%s: tensor %s is missing", L->r.path, name);
		return NPU_E_FORMAT;
	}
	t->used = 1;
	if (t->ne[0] != ne0 || t->ne[1] != (ne1 ? ne1 : 1) || t->ne[2] != 1 || t->ne[3] != 1)
		return tensor_error(L, name, "shape does not fit the metadata: want [%llu, %llu]", ne0,
				    ne1 ? ne1 : 1);
	if (!t->bytes) {
		npu_model_error(L->r.err, L->r.err_len,
				"%s: tensor %s has ggml type %u: supported are F32 (0), F16 (1), Q4_0 (2), Q8_0 (8)",
				L->r.path, name, t->type);
		return NPU_E_FORMAT;
	}
	if ((t->type == NPU_GGUF_Q8_0 || t->type == NPU_GGUF_Q4_0) && (!ne1 || ne0 % QBLOCK))
		return tensor_error(L, name, "quantized blocks need a matrix with rows a multiple of %llu long, not %llu",
				    QBLOCK, ne0);
	if (!out)
		return NPU_OK;	/* load_weights' checking pass */
	src = L->r.p + L->data_start + t->offset;
	switch (t->type) {
	case NPU_GGUF_F32:
		memcpy(out, src, n * 4);
		break;
	case NPU_GGUF_F16:
		for (i = 0; i < n; i++) {
			uint16_t h;

			memcpy(&h, src + 2 * i, 2);
			out[i] = half_to_float(h);
		}
		break;
	default: {
		struct npu_qmatrix tmp = { 0 }, *dst = q ? q : &tmp;
		int ret = native_from_blocks(L, name, src, t->type, (int32_t)ne1, (int32_t)ne0, dst,
					     out);

		if (ret || !q)
			npu_qmatrix_free(dst);
		if (ret)
			return ret;
	}
	}
	for (i = 0; i < n; i++)
		if (!isfinite(out[i]) || fabsf(out[i]) > 1e4f)
			return tensor_error(L, name, "element %llu is not a finite weight (|w| > 1e4)",
					    i, 0);
	return NPU_OK;
}

static int check_config(struct loader *L)
{
	struct gguf_meta *g = &L->g;
	struct npu_model_config *c = &L->m->cfg;
	const char *path = L->r.path;
	char *err = L->r.err;
	size_t len = L->r.err_len;
	const struct { const char *key; int64_t v; } need[] = {
		{ "llama.context_length", g->ctx }, { "llama.embedding_length", g->dim },
		{ "llama.block_count", g->layers }, { "llama.feed_forward_length", g->hidden },
		{ "llama.attention.head_count", g->heads },
	};
	size_t i;

	if (!str_is(&g->arch, "llama")) {
		npu_model_error(err, len, "%s: general.architecture is '%.*s', not llama", path,
				(int)(g->arch.n < 40 ? g->arch.n : 40), g->arch.s ? g->arch.s : "");
		return NPU_E_FORMAT;
	}
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (need[i].v < 1 || need[i].v > INT32_MAX) {
			npu_model_error(err, len, "%s: %s is %s", path, need[i].key,
					need[i].v == ABSENT ? "missing" : "out of range");
			return NPU_E_FORMAT;
		}
	c->dim = (int32_t)g->dim;
	c->hidden_dim = (int32_t)g->hidden;
	c->n_layers = (int32_t)g->layers;
	c->n_heads = (int32_t)g->heads;
	c->n_kv_heads = g->kv_heads == ABSENT ? c->n_heads :
			g->kv_heads < 1 || g->kv_heads > INT32_MAX ? 0 : (int32_t)g->kv_heads;
	c->seq_len = (int32_t)g->ctx;
	if (g->tokens.count > INT32_MAX) {
		npu_model_error(err, len, "%s: tokenizer.ggml.tokens is too long", path);
		return NPU_E_FORMAT;
	}
	c->vocab_size = g->tokens.data ? (int32_t)g->tokens.count : 0;
	if (!g->tokens.data) {
		struct gguf_tensor *t = find(L, "token_embd.weight");

		c->vocab_size = t && t->ne[1] <= INT32_MAX ? (int32_t)t->ne[1] : 0;
	}
	if (npu_model_check_config(c, err, len)) {
		char why[200];

		snprintf(why, sizeof(why), "%s", err ? err : "");
		npu_model_error(err, len, "%s: the llama.* metadata: %s", path, why);
		return NPU_E_FORMAT;
	}
	/* The NPU runner's RoPE and RMSNorm constants are llama2.c's. */
	if (g->rope_dim != ABSENT && g->rope_dim != c->dim / c->n_heads) {
		npu_model_error(err, len,
				"%s: llama.rope.dimension_count %lld: only RoPE over the whole head (%d) is supported",
				path, (long long)g->rope_dim, c->dim / c->n_heads);
		return NPU_E_FORMAT;
	}
	if (g->has_rope_base && g->rope_base != 10000.0) {
		npu_model_error(err, len, "%s: llama.rope.freq_base %g: only 10000 is supported", path,
				g->rope_base);
		return NPU_E_FORMAT;
	}
	if (g->has_eps && !(fabs(g->eps - 1e-5) <= 1e-9)) {
		npu_model_error(err, len,
				"%s: llama.attention.layer_norm_rms_epsilon %g: only 1e-5 is supported",
				path, g->eps);
		return NPU_E_FORMAT;
	}
	return NPU_OK;
}

/*
 * Pass 0 checks every tensor (presence, shape, type, and that no tensor
 * is left over) before anything is allocated, so a file whose metadata
 * claims more than it holds fails with its cause, not out of memory;
 * pass 1 allocates the model and loads it.
 */
static int load_weights(struct loader *L)
{
	struct npu_model *m = L->m;
	const struct npu_model_config *c = &m->cfg;
	uint64_t d = (uint64_t)c->dim, h = (uint64_t)c->hidden_dim, v = (uint64_t)c->vocab_size;
	uint64_t kv = d * (uint64_t)c->n_kv_heads / (uint64_t)c->n_heads, i;
	size_t mats = (size_t)c->n_layers * NPU_MODEL_LAYER_MATS;
	struct gguf_tensor *out = find(L, "output.weight");
	int l, ret = NPU_OK, pass;

#define AT(p, off) (pass ? (p) + (off) : NULL)
	m->cfg.shared_classifier = !out;
	for (pass = 0; pass < 2 && !ret; pass++) {
		if (pass) {
			size_t n = npu_model_layout(m, 0);

			m->data = malloc(n * sizeof(float));
			m->native = calloc(mats + 1, sizeof(*m->native));
			if (!m->data || !m->native) {
				npu_model_error(L->r.err, L->r.err_len, "%s: no memory for %zu floats",
						L->r.path, n);
				return NPU_E_NOMEM;
			}
			m->n_floats = n;
			npu_model_layout(m, 0);
		}
		ret = load_tensor(L, "token_embd.weight", d, v, AT(m->token_embedding, 0), NULL);
		ret = ret ? ret : load_tensor(L, "output_norm.weight", d, 0, AT(m->rms_final, 0), NULL);
		if (out)
			ret = ret ? ret : load_tensor(L, "output.weight", d, v, AT(m->wcls, 0),
						      AT(m->native, mats));
		for (l = 0; l < c->n_layers && !ret; l++) {
			struct npu_qmatrix *nq = AT(m->native, (size_t)l * NPU_MODEL_LAYER_MATS);
			const struct {
				const char *name;
				uint64_t ne0, ne1;
				float *dst;
				struct npu_qmatrix *q;
			} w[] = {
				{ "attn_norm", d, 0, AT(m->rms_att, l * d), NULL },
				{ "ffn_norm", d, 0, AT(m->rms_ffn, l * d), NULL },
				{ "attn_q", d, d, AT(m->wq, l * d * d), AT(nq, 0) },
				{ "attn_k", d, kv, AT(m->wk, l * kv * d), AT(nq, 1) },
				{ "attn_v", d, kv, AT(m->wv, l * kv * d), AT(nq, 2) },
				{ "attn_output", d, d, AT(m->wo, l * d * d), AT(nq, 3) },
				{ "ffn_gate", d, h, AT(m->w1, l * h * d), AT(nq, 4) },
				{ "ffn_down", h, d, AT(m->w2, l * d * h), AT(nq, 5) },
				{ "ffn_up", d, h, AT(m->w3, l * h * d), AT(nq, 6) },
			};
			size_t k;

			for (k = 0; k < sizeof(w) / sizeof(w[0]) && !ret; k++) {
				char name[64];

				snprintf(name, sizeof(name), "blk.%d.%s.weight", l, w[k].name);
				ret = load_tensor(L, name, w[k].ne0, w[k].ne1, w[k].dst, w[k].q);
			}
		}
		/* Every tensor must be one this model uses: others would be ignored silently. */
		for (i = 0; !pass && i < L->n_tensors && !ret; i++)
			if (!L->t[i].used) {
				npu_model_error(L->r.err, L->r.err_len,
						"%s: tensor %.*s is not part of a llama model of this shape",
						L->r.path,
						(int)(L->t[i].name.n < 64 ? L->t[i].name.n : 64),
						L->t[i].name.s);
				ret = NPU_E_FORMAT;
			}
	}
#undef AT
	for (i = 0; !ret && i <= mats; i++)
		if (m->native[i].q)
			break;
	if (!ret && i == mats + 1) {
		free(m->native);	/* all floats: nothing native to keep */
		m->native = NULL;
	}
	return ret;
}

/* The tokenizer from the metadata; SentencePiece's U+2581 becomes a space. */
static int load_tokenizer(struct loader *L, struct npu_tokenizer *tk)
{
	struct gguf_meta *g = &L->g;
	struct reader r = L->r;
	int32_t i, n = L->m->cfg.vocab_size;
	int ret = NPU_OK;

	if (!g->tokens.data || !g->scores.data || g->scores.count != g->tokens.count) {
		npu_model_error(r.err, r.err_len,
				"%s: no tokenizer: tokenizer.ggml.tokens and .scores (equal length) are needed",
				r.path);
		return NPU_E_FORMAT;
	}
	if (!g->tok_model.s) {
		npu_model_error(r.err, r.err_len, "%s: tokenizer.ggml.model is missing", r.path);
		return NPU_E_FORMAT;
	}
	if (!str_is(&g->tok_model, "llama")) {
		npu_model_error(r.err, r.err_len,
				"%s: tokenizer.ggml.model is not llama (SentencePiece BPE)", r.path);
		return NPU_E_FORMAT;
	}
	if ((g->bos != ABSENT && g->bos != 1) || (g->eos != ABSENT && g->eos != 2)) {
		npu_model_error(r.err, r.err_len, "%s: tokenizer.ggml.%s_token_id is %lld: the runner uses %d",
				r.path, g->bos != ABSENT && g->bos != 1 ? "bos" : "eos",
				(long long)(g->bos != ABSENT && g->bos != 1 ? g->bos : g->eos),
				g->bos != ABSENT && g->bos != 1 ? 1 : 2);
		return NPU_E_FORMAT;
	}
	if (n < 259) {
		npu_model_error(r.err, r.err_len, "%s: %d tokens: byte fallback needs 259", r.path, n);
		return NPU_E_FORMAT;
	}
	memset(tk, 0, sizeof(*tk));
	tk->vocab_size = n;
	tk->pieces = calloc((size_t)n, sizeof(*tk->pieces));
	tk->scores = calloc((size_t)n, sizeof(*tk->scores));
	if (!tk->pieces || !tk->scores)
		ret = NPU_E_NOMEM;
	r.off = (uint64_t)(g->tokens.data - r.p);
	for (i = 0; i < n && !ret; i++) {
		struct gguf_str s;
		uint64_t k;
		size_t o = 0;

		ret = take_str(&r, &s, "a token");
		if (ret)
			break;
		if (s.n > 1024 || memchr(s.s, 0, s.n)) {
			npu_model_error(r.err, r.err_len,
					"%s: token %d is longer than 1024 bytes or holds a NUL", r.path, i);
			ret = NPU_E_FORMAT;
			break;
		}
		tk->pieces[i] = malloc(s.n + 1);
		if (!tk->pieces[i]) {
			ret = NPU_E_NOMEM;
			break;
		}
		for (k = 0; k < s.n; k++) {
			if (k + 2 < s.n && !memcmp(s.s + k, "\xe2\x96\x81", 3)) {
				tk->pieces[i][o++] = ' ';
				k += 2;
			} else {
				tk->pieces[i][o++] = s.s[k];
			}
		}
		tk->pieces[i][o] = 0;
		if ((int32_t)o > tk->max_token_length)
			tk->max_token_length = (int32_t)o;
		memcpy(&tk->scores[i], g->scores.data + 4 * (size_t)i, 4);
		if (!isfinite(tk->scores[i])) {
			npu_model_error(r.err, r.err_len, "%s: token %d has a non-finite score", r.path,
					i);
			ret = NPU_E_FORMAT;
		}
	}
	ret = ret ? ret : npu_tokenizer_index(tk);
	if (ret)
		npu_tokenizer_free(tk);
	return ret;
}

static int parse(struct loader *L, struct npu_tokenizer *tk)
{
	struct reader *r = &L->r;
	uint64_t n_kv, i;
	uint32_t magic, version;
	int ret;

	ret = take(r, &magic, 4, "the magic");
	ret = ret ? ret : take(r, &version, 4, "the version");
	if (ret)
		return ret;
	if (memcmp(&magic, "GGUF", 4))
		return fail(r, "not a GGUF file (no GGUF magic)");
	if (version != 3) {
		npu_model_error(r->err, r->err_len, "%s: GGUF version %u; this loader reads version 3",
				r->path, version);
		return NPU_E_FORMAT;
	}
	ret = take(r, &L->n_tensors, 8, "the tensor count");
	ret = ret ? ret : take(r, &n_kv, 8, "the metadata count");
	if (ret)
		return ret;
	if (L->n_tensors > MAX_TENSORS || n_kv > MAX_KV)
		return fail(r, "more than 65536 tensors or metadata entries");
	for (i = 0; i < sizeof(int_keys) / sizeof(int_keys[0]); i++)
		*(int64_t *)((char *)&L->g + int_keys[i].at) = ABSENT;
	L->g.alignment = 32;
	for (i = 0; i < n_kv; i++) {
		ret = read_kv(r, &L->g);
		if (ret)
			return ret;
	}
	L->t = calloc(L->n_tensors ? L->n_tensors : 1, sizeof(*L->t));
	if (!L->t)
		return NPU_E_NOMEM;
	for (i = 0; i < L->n_tensors; i++) {
		uint64_t j;

		ret = read_tensor_info(r, &L->t[i], i);
		if (ret)
			return ret;
		for (j = 0; j < i; j++)
			if (L->t[j].name.n == L->t[i].name.n &&
			    !memcmp(L->t[j].name.s, L->t[i].name.s, L->t[i].name.n))
				return fail(r, "a tensor name appears twice");
	}
	L->data_start = (r->off + L->g.alignment - 1) & ~(L->g.alignment - 1);
	if (L->data_start > r->size)
		return fail(r, "the file ends before its tensor data");
	for (i = 0; i < L->n_tensors; i++) {
		struct gguf_tensor *t = &L->t[i];
		char name[72];

		snprintf(name, sizeof(name), "%.*s", (int)(t->name.n < 64 ? t->name.n : 64),
			 t->name.s);
		if (t->offset % L->g.alignment)
			return tensor_error(L, name, "data offset %llu is not a multiple of %llu",
					    t->offset, L->g.alignment);
		if (t->offset > r->size - L->data_start ||
		    t->bytes > r->size - L->data_start - t->offset)
			return tensor_error(L, name, "data (%llu bytes at %llu) runs past the file end",
					    t->bytes, L->data_start + t->offset);
	}
	ret = check_config(L);
	ret = ret ? ret : load_weights(L);
	if (!ret && tk)
		ret = load_tokenizer(L, tk);
	return ret;
}

int npu_model_load_gguf(const char *path, struct npu_model *m, struct npu_tokenizer *tk,
			char *err, size_t err_len)
{
	struct loader L = { .m = m };
	struct stat st;
	void *map;
	int fd, ret;

	if (!path || !m)
		return NPU_E_INVAL;
	memset(m, 0, sizeof(*m));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		npu_model_error(err, err_len, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NPU_E_IO;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 24) {
		npu_model_error(err, err_len, "%s: not a regular file of at least 24 bytes", path);
		close(fd);
		return NPU_E_FORMAT;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		npu_model_error(err, err_len, "%s: mmap: %s", path, strerror(errno));
		return NPU_E_IO;
	}
	L.r = (struct reader){ map, (uint64_t)st.st_size, 0, path, err, err_len };
	ret = parse(&L, tk);
	munmap(map, (size_t)st.st_size);
	free(L.t);
	if (ret)
		npu_model_free(m);
	return ret;
}
