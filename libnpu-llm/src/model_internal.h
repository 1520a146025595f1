/* SPDX-License-Identifier: MIT */
#ifndef LIBNPU_MODEL_INTERNAL_H
#define LIBNPU_MODEL_INTERNAL_H

#include <npu/model.h>

#define NPU_HIDDEN __attribute__((visibility("hidden")))

NPU_HIDDEN void npu_model_error(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * "PATH: " and the message, into @err: every loader error about a file
 * says which file this way. The path is the caller's, and may hold any
 * byte: printable ASCII as is, '\' as "\\", every other byte as \xNN, cut
 * after NPU_PATH_CHARS characters with "...", so the error stays one line.
 */
#define NPU_PATH_CHARS 256
NPU_HIDDEN void npu_model_file_error(char *err, size_t len, const char *path,
				      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/*
 * Bytes from a file, for an error message: in double quotes, printable
 * ASCII as is, '"' and '\' escaped with '\', every other byte as \xNN,
 * cut after NPU_QUOTE_CHARS characters with "...". Returns @out.
 */
#define NPU_QUOTE_CHARS 64
#define NPU_QUOTE_LEN (NPU_QUOTE_CHARS + 6)
NPU_HIDDEN const char *npu_model_quote(char out[NPU_QUOTE_LEN], const void *s, size_t n);
/*
 * Open @path for reading; only a regular file (never blocks on a FIFO or
 * device). Returns the descriptor and its size, or NPU_E_IO/NPU_E_FORMAT.
 */
NPU_HIDDEN int npu_model_open(const char *path, uint64_t *size, char *err, size_t len);
/* @n bytes at @off, every one: a file that ends early shrank while read (NPU_E_IO). */
NPU_HIDDEN int npu_model_read(int fd, void *buf, size_t n, uint64_t off, const char *path,
			      char *err, size_t len);
/* A config's limits: far above any model this runs, far below what overflows. */
#define MAX_DIM 65536
#define MAX_LAYERS 1024
#define MAX_SEQ 1048576
/* Check a config, and fill in the fields left 0 with llama2.c's values. */
NPU_HIDDEN int npu_model_check_config(struct npu_model_config *c, char *err, size_t len);
NPU_HIDDEN size_t npu_model_layout(struct npu_model *m, int with_rope_tables);
/* npu_tokenizer_encode(), and in *@all the tokens the whole text takes. */
NPU_HIDDEN int npu_tokenizer_encode_all(const struct npu_tokenizer *t, const char *text, int bos,
					int32_t *tokens, int32_t max, int32_t *n, int32_t *all);
/* Sort a filled tokenizer's pieces for lookup. */
NPU_HIDDEN int npu_tokenizer_index(struct npu_tokenizer *t);

/* ---- the GGUF loader (gguf.c reads and checks, gguf_tensors.c converts) ---- */

/* The types of metadata values. */
enum gguf_type {
	GGUF_U8, GGUF_I8, GGUF_U16, GGUF_I16, GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL,
	GGUF_STRING, GGUF_ARRAY, GGUF_U64, GGUF_I64, GGUF_F64, GGUF_NTYPES
};

/* An integer key the file does not have. */
#define GGUF_ABSENT INT64_MIN

/* Bytes of the file at offset @at (0: absent; the magic is there). */
struct gguf_str {
	uint64_t at, n;
};

struct gguf_tensor {
	struct gguf_str name;
	uint32_t n_dims, type;
	uint64_t ne[4];
	uint64_t offset, bytes;	/* bytes 0: a type the loader does not read */
	int used;
};

struct gguf_array {
	uint32_t type;
	uint64_t count;
	uint64_t at;		/* the first element; 0: absent */
};

/* What parsing keeps of the metadata besides its index. */
struct gguf_meta {
	uint64_t alignment;
};

/* A metadata entry: its key, its value's type and where the value begins. */
struct gguf_kv {
	struct gguf_str key;
	uint32_t type;
	uint64_t at;
};

/*
 * The file through a descriptor: p holds its first @have bytes (read as
 * parsing reaches them; the tensor data is read into the model only).
 */
struct gguf_reader {
	int fd;
	uint8_t *p;
	uint64_t have, size, off;
	const char *path;
	char *err;
	size_t err_len;
};

/* A tensor name, for sorting and lookup. */
struct gguf_name {
	const char *s;
	uint64_t n, index;
};

struct gguf_loader {
	struct gguf_reader r;
	struct gguf_meta g;
	struct gguf_tensor *t;
	struct gguf_name *names;	/* the tensors' names, sorted */
	struct gguf_kv *kv;		/* the metadata, in file order */
	struct gguf_name *kv_names;	/* its keys, sorted */
	uint64_t n_tensors, n_kv, data_start;
	uint8_t *scratch;		/* one tensor's file bytes, for conversion */
	uint64_t scratch_len;
	struct npu_model *m;		/* NULL: the vocabulary only */
	int native_only;		/* native matrices' floats not written */
};

/*
 * The metadata, by key. Each accessor returns NPU_OK with the value, 1 when
 * the file has no such key, or NPU_E_FORMAT (the error written) when the
 * value's type is not the one asked for. npu_gguf_int() takes any integer
 * type, npu_gguf_float() F32 or F64. An array's elements begin at a->at
 * (scalars: r.p + a->at; strings: one npu_gguf_next_str() each after
 * setting r.off to a->at).
 */
NPU_HIDDEN const struct gguf_kv *npu_gguf_kv(const struct gguf_loader *L, const char *key);
NPU_HIDDEN int npu_gguf_int(struct gguf_loader *L, const char *key, int64_t *v);
NPU_HIDDEN int npu_gguf_float(struct gguf_loader *L, const char *key, double *v);
NPU_HIDDEN int npu_gguf_bool(struct gguf_loader *L, const char *key, int *v);
NPU_HIDDEN int npu_gguf_string(struct gguf_loader *L, const char *key, struct gguf_str *s);
NPU_HIDDEN int npu_gguf_array(struct gguf_loader *L, const char *key, uint32_t elem_type,
			      struct gguf_array *a);
NPU_HIDDEN int npu_gguf_next_str(struct gguf_loader *L, struct gguf_str *s, const char *what);
/* A string's bytes (not NUL-terminated: s->n of them). */
NPU_HIDDEN const char *npu_gguf_str(const struct gguf_loader *L, const struct gguf_str *s);
/* The model's shapes from the metadata, checked, into L->m->cfg (gguf_arch.c). */
NPU_HIDDEN int npu_gguf_read_config(struct gguf_loader *L);
/* The tokenizer in the metadata (gguf_vocab.c). */
NPU_HIDDEN int npu_gguf_load_vocab(struct gguf_loader *L, struct npu_tokenizer *tk);

NPU_HIDDEN struct gguf_tensor *npu_gguf_find(struct gguf_loader *L, const char *name);
/* "path: tensor "name": " and the message (at most two integer arguments). */
NPU_HIDDEN int npu_gguf_tensor_error(struct gguf_loader *L, const char *name, size_t name_len,
				     const char *fmt, uint64_t a, uint64_t b);
NPU_HIDDEN int npu_gguf_load_weights(struct gguf_loader *L);
/* A NEOX-RoPE model's Q and K rows into adjacent pairs (gguf_tensors.c). */
NPU_HIDDEN int npu_gguf_neox_pairs(struct gguf_loader *L);

/* ---- ggml's types (gguf_quants.c) ---- */

/* Columns of a block of @type (1: F32, F16); 0 for a type the loader does not read. */
NPU_HIDDEN uint32_t npu_gguf_type_block(uint32_t type);
/* A tensor's bytes: @n elements, rows of @ne0; 0 for a type not read or a partial block. */
NPU_HIDDEN uint64_t npu_gguf_type_bytes(uint32_t type, uint64_t ne0, uint64_t n);
/* A type npu_gguf_dequant() converts. */
NPU_HIDDEN int npu_gguf_type_quantized(uint32_t type);
NPU_HIDDEN double npu_half_to_double(uint16_t h);
/*
 * A quantized matrix of @type at @src (whole blocks per row) into its
 * exact floats at @out (NULL: only checked) and, when @q is set,
 * SCALE_BLOCK codes and records; on the cores' threads. A block whose
 * binary16 scale or min is infinite or NaN: NPU_E_FORMAT with its index in
 * @bad[0] and that binary16 in @bad[1]; else an element whose |value| is
 * over 1e4: NPU_E_RANGE with its index in @bad[0]. The first of each.
 */
NPU_HIDDEN int npu_gguf_dequant(const uint8_t *src, uint32_t type, int32_t rows, int32_t cols,
				float *out, struct npu_qmatrix *q, uint64_t bad[2]);
/* ---- writing GGUF files (gguf_write.c) ---- */

/*
 * What the writer is told beyond the one type (npu-quantize's choices):
 * per model array (the pointer its tensor is written from) a type other
 * than the file's (0: the file's), and for a Q4_0 one each block's scale
 * chosen beforehand (f16 values, in the array's order of blocks of 32),
 * whose values are then rounded to the nearest multiple of it.
 */
struct gguf_plan_tensor {
	const float *data;
	uint64_t count;		/* floats of the array */
	uint32_t type;
	const float *scales;
};

struct gguf_plan {
	const char *name;	/* general.name, or NULL: "npu-gguf" */
	int n;
	const struct gguf_plan_tensor *t;
};

NPU_HIDDEN int llm_gguf_save(const char *path, const struct npu_model *m,
			     const struct npu_tokenizer *t, enum npu_gguf_type type,
			     const struct gguf_plan *plan, char *err, size_t err_len);
/* The binary16 nearest @f (ties to even), as ggml rounds its scales. */
NPU_HIDDEN uint16_t llm_float_to_half(float f);

/* A matrix npu_gguf_dequant() made into its floats, the same ones. */
NPU_HIDDEN void npu_gguf_native_floats(const struct npu_qmatrix *q, float *out);
/*
 * npu_model_load_gguf(), the floats of the matrices it keeps in m->native
 * left unwritten (their memory untouched) until npu_model_native_floats().
 */
NPU_HIDDEN int npu_model_load_gguf_native(const char *path, struct npu_model *m,
					  struct npu_tokenizer *tk, char *err, size_t len);
NPU_HIDDEN void npu_model_native_floats(struct npu_model *m);

/* The most parts a pass over a matrix splits into (parts.c). */
#define LLM_MAX_PARTS 16
/* This machine's CPUs, 1 to @most (at most LLM_MAX_PARTS). */
NPU_HIDDEN int llm_parts(int most);
/*
 * @fn on each of @n parts, @size bytes apart from @parts: part 0 on this
 * thread, the others on threads of their own (on this one where a thread
 * cannot start); back when every part is done.
 */
NPU_HIDDEN void llm_run_parts(void *(*fn)(void *), void *parts, size_t size, int n);

#endif
