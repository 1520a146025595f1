// SPDX-License-Identifier: MIT
/*
 * GGUF v3 files (the format llama.cpp reads): a header, typed key/value
 * metadata, tensor descriptors, then aligned tensor data. Every count,
 * length, type, shape and offset is checked against the file before it is
 * used, and before anything is allocated for it; gguf_arch.c then reads
 * the model's shapes, gguf_tensors.c converts the tensors and
 * gguf_vocab.c reads the tokenizer.
 *
 * The file is read, never mapped: its metadata into a buffer that grows
 * as parsing reaches it, each tensor's data into the model (or one
 * scratch buffer). A file that shrinks while it loads gives an error, not
 * SIGBUS, and nothing of the file is kept once the load returns.
 *
 * What a file can make the loader allocate is bounded by what it holds:
 * tensors may not overlap, so each float comes from at least 84/256 bytes
 * of its own (Q2_K); descriptors, keys and tokens each take bytes of the
 * file too. Duplicate keys and tensor names are refused (sorted, n log n).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model_internal.h"

#define MAX_TENSORS 65536
#define MAX_KV 65536
#define MAX_STRING (1 << 20)
#define MAX_ARRAY (1 << 24)
#define MAX_DIMS 4
#define ABSENT GGUF_ABSENT
/* The fewest bytes a key/value (empty key, one-byte value) and a descriptor (1-D) take. */
#define MIN_KV_BYTES 13
#define MIN_TENSOR_BYTES 32

static int fail(struct gguf_reader *r, const char *what)
{
	npu_model_file_error(r->err, r->err_len, r->path, "byte %llu: %s",
			     (unsigned long long)r->off, what);
	return NPU_E_FORMAT;
}

/* The file's bytes up to @end (at most its size) in r->p: read as parsing gets there. */
static int need(struct gguf_reader *r, uint64_t end)
{
	uint64_t want = r->have * 2 > end ? r->have * 2 : end;
	uint8_t *p;
	int ret;

	if (end <= r->have)
		return NPU_OK;
	want = want < 65536 ? 65536 : want;
	want = want > r->size ? r->size : want;
	p = realloc(r->p, want);
	if (!p) {
		npu_model_file_error(r->err, r->err_len, r->path,
				     "no memory for %llu bytes of metadata",
				     (unsigned long long)want);
		return NPU_E_NOMEM;
	}
	r->p = p;
	ret = npu_model_read(r->fd, p + r->have, want - r->have, r->have, r->path, r->err,
			     r->err_len);
	if (!ret)
		r->have = want;
	return ret;
}

static int take(struct gguf_reader *r, void *dst, uint64_t n, const char *what)
{
	int ret;

	if (n > r->size - r->off) {
		char msg[160];

		snprintf(msg, sizeof(msg), "truncated in %s (%llu bytes needed, %llu left)", what,
			 (unsigned long long)n, (unsigned long long)(r->size - r->off));
		return fail(r, msg);
	}
	ret = need(r, r->off + n);
	if (ret)
		return ret;
	if (dst)
		memcpy(dst, r->p + r->off, n);
	r->off += n;
	return NPU_OK;
}

static int take_str(struct gguf_reader *r, struct gguf_str *s, const char *what)
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
	s->at = r->off;
	return take(r, NULL, s->n, what);
}

static const char *str_at(const struct gguf_reader *r, const struct gguf_str *s)
{
	return (const char *)r->p + s->at;
}

static int str_is(const struct gguf_reader *r, const struct gguf_str *s, const char *lit)
{
	return s->n == strlen(lit) && !memcmp(str_at(r, s), lit, s->n);
}

/* @count items of at least @each bytes must fit in what is left of the file. */
static int fits(struct gguf_reader *r, uint64_t count, uint64_t each, const char *what)
{
	char msg[160];

	if (count <= (r->size - r->off) / each)
		return NPU_OK;
	snprintf(msg, sizeof(msg), "%llu %s need at least %llu bytes; %llu are left",
		 (unsigned long long)count, what, (unsigned long long)(count * each),
		 (unsigned long long)(r->size - r->off));
	return fail(r, msg);
}

static const uint64_t scalar_size[GGUF_NTYPES] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

/* Skip one value of @type (arrays of arrays up to @depth deep). */
static int skip_value(struct gguf_reader *r, uint32_t type, int depth)
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
	/* A string is 8 bytes of length at least, an array 12 of type and length. */
	ret = et == GGUF_STRING ? fits(r, count, 8, "strings of an array") :
	      et == GGUF_ARRAY ? fits(r, count, 12, "arrays of an array") :
	      fits(r, count, scalar_size[et], "values of an array");
	if (ret)
		return ret;
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
static int read_int(struct gguf_reader *r, uint32_t type, const char *key, int64_t *v)
{
	uint64_t raw = 0;
	int ret;

	if (type >= GGUF_NTYPES || type == GGUF_F32 || type == GGUF_F64 || type == GGUF_BOOL ||
	    type == GGUF_STRING || type == GGUF_ARRAY) {
		npu_model_file_error(r->err, r->err_len, r->path, "%s is not an integer", key);
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
			npu_model_file_error(r->err, r->err_len, r->path, "%s = %llu is too large",
					     key, (unsigned long long)raw);
			return NPU_E_FORMAT;
		}
		*v = (int64_t)raw;
		break;
	default: *v = (int64_t)raw; break;	/* U8, U16, U32 */
	}
	return NPU_OK;
}

static int read_float(struct gguf_reader *r, uint32_t type, const char *key, double *v)
{
	float f;

	if (type == GGUF_F32) {
		int ret = take(r, &f, 4, key);

		*v = f;
		return ret;
	}
	if (type == GGUF_F64)
		return take(r, v, 8, key);
	npu_model_file_error(r->err, r->err_len, r->path, "%s is not a float", key);
	return NPU_E_FORMAT;
}

static int read_string(struct gguf_reader *r, uint32_t type, const char *key, struct gguf_str *s)
{
	if (type != GGUF_STRING) {
		npu_model_file_error(r->err, r->err_len, r->path, "%s is not a string", key);
		return NPU_E_FORMAT;
	}
	return take_str(r, s, key);
}

static int read_array(struct gguf_reader *r, uint32_t type, const char *key, uint32_t want,
		      struct gguf_array *a)
{
	uint64_t start;
	int ret;

	if (type != GGUF_ARRAY) {
		npu_model_file_error(r->err, r->err_len, r->path, "%s is not an array", key);
		return NPU_E_FORMAT;
	}
	start = r->off;
	ret = take(r, &a->type, 4, key);
	ret = ret ? ret : take(r, &a->count, 8, key);
	if (ret)
		return ret;
	if (a->type != want) {
		npu_model_file_error(r->err, r->err_len, r->path, "%s holds type %u, not %u", key,
				     a->type, want);
		return NPU_E_FORMAT;
	}
	a->at = r->off;
	r->off = start;
	return skip_value(r, GGUF_ARRAY, 1);
}

/*
 * Arrays whose element type is checked as they are read: the type of the
 * elements decides how the rest of the file parses, so a wrong one is
 * named here rather than as a misparse further on.
 */
static const struct {
	const char *key;
	uint32_t type;
} array_keys[] = {
	{ "tokenizer.ggml.tokens", GGUF_STRING }, { "tokenizer.ggml.scores", GGUF_F32 },
	{ "tokenizer.ggml.merges", GGUF_STRING }, { "tokenizer.ggml.token_type", GGUF_I32 },
};

/* One key/value: recorded in @kv (its value read later, by the accessors below). */
static int read_kv(struct gguf_reader *r, struct gguf_meta *g, struct gguf_kv *kv)
{
	struct gguf_array a;
	int64_t align;
	size_t i;
	int ret;

	ret = take_str(r, &kv->key, "a metadata key");
	ret = ret ? ret : take(r, &kv->type, 4, "a metadata type");
	if (ret)
		return ret;
	kv->at = r->off;
	if (kv->type >= GGUF_NTYPES) {
		char q[NPU_QUOTE_LEN];

		npu_model_file_error(r->err, r->err_len, r->path,
				     "byte %llu: metadata key %s has value type %u, not a GGUF type",
				     (unsigned long long)kv->at - 4,
				     npu_model_quote(q, str_at(r, &kv->key), kv->key.n), kv->type);
		return NPU_E_FORMAT;
	}
	if (str_is(r, &kv->key, "general.alignment")) {
		ret = read_int(r, kv->type, "general.alignment", &align);
		if (!ret && (align < 1 || align > 65536 || (align & (align - 1)))) {
			npu_model_file_error(r->err, r->err_len, r->path,
					     "general.alignment %lld is not a power of two up to 65536",
					     (long long)align);
			return NPU_E_FORMAT;
		}
		g->alignment = (uint64_t)align;
		return ret;
	}
	for (i = 0; i < sizeof(array_keys) / sizeof(array_keys[0]); i++)
		if (str_is(r, &kv->key, array_keys[i].key))
			return read_array(r, kv->type, array_keys[i].key, array_keys[i].type, &a);
	return skip_value(r, kv->type, 0);
}

static int name_cmp(const void *a, const void *b);

const struct gguf_kv *npu_gguf_kv(const struct gguf_loader *L, const char *key)
{
	struct gguf_name k = { key, strlen(key), 0 };
	const struct gguf_name *hit = bsearch(&k, L->kv_names, L->n_kv, sizeof(k), name_cmp);

	return hit ? &L->kv[hit->index] : NULL;
}

/* Where @key's value is, for reading it: 1 when the file lacks the key. */
static int kv_at(struct gguf_loader *L, const char *key, uint32_t *type)
{
	const struct gguf_kv *kv = npu_gguf_kv(L, key);

	if (!kv)
		return 1;
	L->r.off = kv->at;
	*type = kv->type;
	return NPU_OK;
}

int npu_gguf_int(struct gguf_loader *L, const char *key, int64_t *v)
{
	uint32_t type;
	int ret = kv_at(L, key, &type);

	return ret ? ret : read_int(&L->r, type, key, v);
}

int npu_gguf_float(struct gguf_loader *L, const char *key, double *v)
{
	uint32_t type;
	int ret = kv_at(L, key, &type);

	return ret ? ret : read_float(&L->r, type, key, v);
}

int npu_gguf_bool(struct gguf_loader *L, const char *key, int *v)
{
	uint32_t type;
	uint8_t b;
	int ret = kv_at(L, key, &type);

	if (ret)
		return ret;
	if (type != GGUF_BOOL) {
		npu_model_file_error(L->r.err, L->r.err_len, L->r.path, "%s is not a bool", key);
		return NPU_E_FORMAT;
	}
	ret = take(&L->r, &b, 1, key);
	*v = b != 0;
	return ret;
}

int npu_gguf_string(struct gguf_loader *L, const char *key, struct gguf_str *s)
{
	uint32_t type;
	int ret = kv_at(L, key, &type);

	return ret ? ret : read_string(&L->r, type, key, s);
}

int npu_gguf_array(struct gguf_loader *L, const char *key, uint32_t elem_type,
		   struct gguf_array *a)
{
	uint32_t type;
	int ret = kv_at(L, key, &type);

	return ret ? ret : read_array(&L->r, type, key, elem_type, a);
}

int npu_gguf_next_str(struct gguf_loader *L, struct gguf_str *s, const char *what)
{
	return take_str(&L->r, s, what);
}

const char *npu_gguf_str(const struct gguf_loader *L, const struct gguf_str *s)
{
	return str_at(&L->r, s);
}

static int read_tensor_info(struct gguf_reader *r, struct gguf_tensor *t, uint64_t index)
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
	/*
	 * Quantized rows are whole blocks (as in ggml): other rows have no
	 * size. Either way, the error comes once the tensor is looked for.
	 */
	t->bytes = npu_gguf_type_bytes(t->type, t->ne[0], n);
	return NPU_OK;
}

static int name_cmp(const void *a, const void *b)
{
	const struct gguf_name *x = a, *y = b;
	int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);

	return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Sort @v by name; the first name given twice, or NULL. */
static const struct gguf_name *sort_names(struct gguf_name *v, uint64_t n)
{
	uint64_t i;

	qsort(v, n, sizeof(*v), name_cmp);
	for (i = 1; i < n; i++)
		if (!name_cmp(&v[i - 1], &v[i]))
			return &v[i];
	return NULL;
}

struct gguf_tensor *npu_gguf_find(struct gguf_loader *L, const char *name)
{
	struct gguf_name key = { name, strlen(name), 0 };
	const struct gguf_name *hit = bsearch(&key, L->names, L->n_tensors, sizeof(key), name_cmp);

	return hit ? &L->t[hit->index] : NULL;
}

int npu_gguf_tensor_error(struct gguf_loader *L, const char *name, size_t name_len,
			  const char *fmt, uint64_t a, uint64_t b)
{
	char msg[160], q[NPU_QUOTE_LEN];

	snprintf(msg, sizeof(msg), fmt, (unsigned long long)a, (unsigned long long)b);
	npu_model_file_error(L->r.err, L->r.err_len, L->r.path, "tensor %s%s",
			     npu_model_quote(q, name, name_len), msg);
	return NPU_E_FORMAT;
}

static int tensor_error(struct gguf_loader *L, const struct gguf_tensor *t, const char *fmt,
			uint64_t a, uint64_t b)
{
	return npu_gguf_tensor_error(L, str_at(&L->r, &t->name), t->name.n, fmt, a, b);
}

static int offset_cmp(const void *a, const void *b)
{
	const struct gguf_tensor *x = *(const struct gguf_tensor *const *)a;
	const struct gguf_tensor *y = *(const struct gguf_tensor *const *)b;

	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return (x > y) - (x < y);
}

/*
 * Each tensor's data aligned, inside the file, and its own: sorted by
 * offset, each ends before the next begins. So the tensors' bytes add up
 * to no more than the file's, and a small file cannot claim a large model.
 */
static int place_tensors(struct gguf_loader *L)
{
	struct gguf_reader *r = &L->r;
	uint64_t room = r->size - L->data_start, i;
	const struct gguf_tensor *last;
	struct gguf_tensor **by_off;
	int ret = NPU_OK;

	for (i = 0; i < L->n_tensors; i++) {
		struct gguf_tensor *t = &L->t[i];

		if (t->offset % L->g.alignment)
			return tensor_error(L, t, ": data offset %llu is not a multiple of %llu",
					    t->offset, L->g.alignment);
		if (t->offset > room || t->bytes > room - t->offset)
			return tensor_error(L, t, ": data (%llu bytes at %llu) runs past the file end",
					    t->bytes, L->data_start + t->offset);
	}
	by_off = calloc(L->n_tensors ? L->n_tensors : 1, sizeof(*by_off));
	if (!by_off)
		return NPU_E_NOMEM;
	for (i = 0; i < L->n_tensors; i++)
		by_off[i] = &L->t[i];
	qsort(by_off, L->n_tensors, sizeof(*by_off), offset_cmp);
	last = by_off[0];
	/* @last: of the tensors before, the one that ends last. */
	for (i = 1; i < L->n_tensors && !ret; i++) {
		const struct gguf_tensor *b = by_off[i];
		char qa[NPU_QUOTE_LEN], qb[NPU_QUOTE_LEN];

		if (b->offset - last->offset >= last->bytes) {
			if (b->offset + b->bytes > last->offset + last->bytes)
				last = b;
			continue;
		}
		npu_model_file_error(r->err, r->err_len, r->path,
				     "tensor %s: data (%llu bytes at offset %llu) overlaps tensor %s (%llu bytes at offset %llu)",
				     npu_model_quote(qb, str_at(r, &b->name), b->name.n),
				     (unsigned long long)b->bytes, (unsigned long long)b->offset,
				     npu_model_quote(qa, str_at(r, &last->name), last->name.n),
				     (unsigned long long)last->bytes,
				     (unsigned long long)last->offset);
		ret = NPU_E_FORMAT;
	}
	free(by_off);
	return ret;
}

/* The header, metadata and tensor descriptors, checked and indexed. */
static int parse_meta(struct gguf_loader *L)
{
	struct gguf_reader *r = &L->r;
	const struct gguf_name *dup;
	char q[NPU_QUOTE_LEN];
	uint64_t i;
	uint32_t magic, version;
	int ret;

	ret = take(r, &magic, 4, "the magic");
	ret = ret ? ret : take(r, &version, 4, "the version");
	if (ret)
		return ret;
	if (memcmp(&magic, "GGUF", 4))
		return fail(r, "not a GGUF file (no GGUF magic)");
	if (version != 3) {
		npu_model_file_error(r->err, r->err_len, r->path,
				     "GGUF version %u; this loader reads version 3", version);
		return NPU_E_FORMAT;
	}
	ret = take(r, &L->n_tensors, 8, "the tensor count");
	ret = ret ? ret : take(r, &L->n_kv, 8, "the metadata count");
	if (ret)
		return ret;
	if (L->n_tensors > MAX_TENSORS || L->n_kv > MAX_KV)
		return fail(r, "more than 65536 tensors or metadata entries");
	ret = fits(r, L->n_kv, MIN_KV_BYTES, "metadata entries");
	if (ret)
		return ret;
	L->g.alignment = 32;
	L->kv = calloc(L->n_kv ? L->n_kv : 1, sizeof(*L->kv));
	L->kv_names = calloc(L->n_kv ? L->n_kv : 1, sizeof(*L->kv_names));
	if (!L->kv || !L->kv_names)
		return NPU_E_NOMEM;
	for (i = 0; i < L->n_kv && !ret; i++)
		ret = read_kv(r, &L->g, &L->kv[i]);
	ret = ret ? ret : fits(r, L->n_tensors, MIN_TENSOR_BYTES, "tensor descriptors");
	if (ret)
		return ret;
	L->t = calloc(L->n_tensors ? L->n_tensors : 1, sizeof(*L->t));
	L->names = calloc(L->n_tensors ? L->n_tensors : 1, sizeof(*L->names));
	if (!L->t || !L->names)
		return NPU_E_NOMEM;
	for (i = 0; i < L->n_tensors; i++) {
		ret = read_tensor_info(r, &L->t[i], i);
		if (ret)
			return ret;
	}
	/*
	 * All the metadata is read: r->p moves no more, names can point into
	 * it. No key may be given twice: a second value would silently win.
	 */
	for (i = 0; i < L->n_kv; i++)
		L->kv_names[i] = (struct gguf_name){ str_at(r, &L->kv[i].key), L->kv[i].key.n, i };
	dup = sort_names(L->kv_names, L->n_kv);
	if (dup) {
		npu_model_file_error(r->err, r->err_len, r->path, "metadata key %s appears twice",
				     npu_model_quote(q, dup->s, dup->n));
		return NPU_E_FORMAT;
	}
	for (i = 0; i < L->n_tensors; i++)
		L->names[i] = (struct gguf_name){ str_at(r, &L->t[i].name), L->t[i].name.n, i };
	dup = sort_names(L->names, L->n_tensors);
	if (dup)
		return tensor_error(L, &L->t[dup->index], " appears twice", 0, 0);
	L->data_start = (r->off + L->g.alignment - 1) & ~(L->g.alignment - 1);
	/* No tensors, no data: vocabulary files end with their metadata. */
	if (L->n_tensors && L->data_start > r->size)
		return fail(r, "the file ends before its tensor data");
	return place_tensors(L);
}

static int parse(struct gguf_loader *L, struct npu_tokenizer *tk)
{
	int ret = parse_meta(L);

	if (ret)
		return ret;
	if (!L->m)
		return npu_gguf_load_vocab(L, tk);
	ret = npu_gguf_read_config(L);
	ret = ret ? ret : npu_gguf_load_weights(L);
	if (!ret && tk)
		ret = npu_gguf_load_vocab(L, tk);
	return ret;
}

static int load_gguf(const char *path, struct npu_model *m, struct npu_tokenizer *tk,
		     int native_only, char *err, size_t err_len)
{
	struct gguf_loader L = { .m = m, .native_only = native_only };
	uint64_t size;
	int fd, ret;

	/* Zeroed first: after any failure, npu_model_free and npu_tokenizer_free are safe. */
	if (m)
		memset(m, 0, sizeof(*m));
	if (tk)
		memset(tk, 0, sizeof(*tk));
	if (!path || (!m && !tk))
		return NPU_E_INVAL;
	fd = npu_model_open(path, &size, err, err_len);
	if (fd < 0)
		return fd;
	if (size < 24) {
		npu_model_file_error(err, err_len, path, "%llu bytes: shorter than a GGUF header",
				     (unsigned long long)size);
		close(fd);
		return NPU_E_FORMAT;
	}
	L.r = (struct gguf_reader){ fd, NULL, 0, size, 0, path, err, err_len };
	ret = parse(&L, tk);
	close(fd);
	free(L.r.p);
	free(L.scratch);
	free(L.names);
	free(L.t);
	free(L.kv_names);
	free(L.kv);
	if (ret && m)
		npu_model_free(m);
	return ret;
}

int npu_model_load_gguf(const char *path, struct npu_model *m, struct npu_tokenizer *tk,
			char *err, size_t err_len)
{
	return load_gguf(path, m, tk, 0, err, err_len);
}

int npu_tokenizer_load_gguf(const char *path, struct npu_tokenizer *t, char *err,
			    size_t err_len)
{
	return load_gguf(path, NULL, t, 0, err, err_len);
}

int npu_model_load_gguf_native(const char *path, struct npu_model *m, struct npu_tokenizer *tk,
			       char *err, size_t err_len)
{
	return load_gguf(path, m, tk, 1, err, err_len);
}
