/* SPDX-License-Identifier: MIT */
/*
 * libnpu models: llama2.c checkpoints and tokenizers, loaded and checked
 * field by field, synthetic models of realistic shapes, and the weight
 * quantization the NPU runs (int8 per output channel, int4 in groups).
 */
#ifndef NPU_MODEL_H
#define NPU_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <npu/npu.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Shapes of a Llama-style decoder (llama2.c's header). */
struct npu_model_config {
	int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
	int shared_classifier;	/**< the classifier is the embedding table */
};

/** Matrices per layer in npu_model.native: wq wk wv wo w1 w2 w3. */
#define NPU_MODEL_LAYER_MATS 7

struct npu_qmatrix;
struct npu_tokenizer;

/** A float32 model; every float pointer points into one allocation. */
struct npu_model {
	struct npu_model_config cfg;
	float *token_embedding;	/**< [vocab][dim] */
	float *rms_att;		/**< [layers][dim] */
	float *wq, *wk, *wv, *wo;	/**< [layers][out][in] */
	float *rms_ffn;		/**< [layers][dim] */
	float *w1, *w2, *w3;	/**< [layers][out][in] */
	float *rms_final;	/**< [dim] */
	float *wcls;		/**< [vocab][dim] */
	float *data;
	size_t n_floats;
	/**
	 * NULL, or the file's own quantized matrices (GGUF Q8_0/Q4_0) in the
	 * NPU's format: NPU_MODEL_LAYER_MATS per layer, then the classifier.
	 * An entry with a NULL q was stored as floats. The floats above then
	 * hold these matrices' exact values.
	 */
	struct npu_qmatrix *native;
};

/**
 * npu_model_load - read a llama2.c checkpoint (legacy version 0 format).
 * On a malformed file: NPU_E_FORMAT and @err says which field and why.
 * Errors about the file start with its path, escaped (\xNN for other than
 * printable ASCII) and cut at 256 characters: @err stays one line.
 * On failure *@m is zeroed, so npu_model_free(@m) is always safe.
 */
NPU_API int npu_model_load(const char *path, struct npu_model *m, char *err, size_t err_len);
/**
 * npu_model_load_gguf - read a GGUF v3 Llama model and, when @t is not
 * NULL, the tokenizer in its metadata. F32 and F16 tensors load as floats;
 * Q8_0 and Q4_0 matrices also fill m->native without requantizing.
 * A malformed or unsupported file: NPU_E_FORMAT and @err names the cause
 * (its path escaped as npu_model_load's). On failure *@m and *@t (when
 * not NULL) are zeroed, so npu_model_free and npu_tokenizer_free are
 * always safe.
 */
NPU_API int npu_model_load_gguf(const char *path, struct npu_model *m, struct npu_tokenizer *t,
				char *err, size_t err_len);
/** GGUF tensor types the loader and writer handle (ggml's type ids). */
enum npu_gguf_type {
	NPU_GGUF_F32 = 0,
	NPU_GGUF_F16 = 1,
	NPU_GGUF_Q4_0 = 2,	/**< blocks of 32: f16 scale, 4-bit values */
	NPU_GGUF_Q8_0 = 8,	/**< blocks of 32: f16 scale, int8 values */
};

/**
 * npu_model_save_gguf - write @m and @t as a GGUF v3 llama model, its
 * matrices as @type (norms stay F32; a quantized type's matrix whose rows
 * are not a multiple of 32 long is written F16), quantized by ggml's
 * reference rules. For converting llama2.c checkpoints and for tests.
 */
NPU_API int npu_model_save_gguf(const char *path, const struct npu_model *m,
				const struct npu_tokenizer *t, enum npu_gguf_type type, char *err,
				size_t err_len);
/**
 * npu_model_synthetic - "tiny", "15m", "110m" or "1b" (TinyLlama-1.1B's
 * shape) with weights from @seed.
 */
NPU_API int npu_model_synthetic(const char *shape, uint64_t seed, struct npu_model *m,
				char *err, size_t err_len);
NPU_API void npu_model_free(struct npu_model *m);

/** A llama2.c tokenizer (SentencePiece BPE pieces with merge scores). */
struct npu_tokenizer {
	int32_t vocab_size, max_token_length;
	char **pieces;
	float *scores;
	int32_t *sorted;	/**< piece indices sorted by piece, for lookup */
};

/**
 * npu_tokenizer_load - read a llama2.c tokenizer file of @vocab_size
 * pieces (259..1048576). Not a regular file, or a malformed one (too short
 * for its pieces, a NUL inside a piece, ...): NPU_E_FORMAT and @err says
 * why (its path escaped as npu_model_load's). *@t is zeroed on failure
 * (when not NULL), so npu_tokenizer_free(@t) is always safe. Tokenizers
 * may be built on several threads at once.
 */
NPU_API int npu_tokenizer_load(const char *path, int32_t vocab_size, struct npu_tokenizer *t,
			       char *err, size_t err_len);
/**
 * A tokenizer of byte tokens only, for synthetic models (vocab
 * 259..1048576); zeroed on failure, as npu_tokenizer_load's.
 */
NPU_API int npu_tokenizer_bytes(int32_t vocab_size, struct npu_tokenizer *t);
NPU_API void npu_tokenizer_free(struct npu_tokenizer *t);
/**
 * Encode @text (BOS first when @bos) into at most @max tokens: a longer
 * encoding is cut to its first @max, so @max tokens out may mean a cut.
 * The whole text is encoded whatever @max, in O(n log n) time and a few
 * dozen bytes of memory per text byte; over INT32_MAX - 2 bytes: NPU_E_INVAL.
 */
NPU_API int npu_tokenizer_encode(const struct npu_tokenizer *t, const char *text, int bos,
				 int32_t *tokens, int32_t max, int32_t *n);
/** The text of @token following @prev (a leading space is dropped after BOS). */
NPU_API const char *npu_tokenizer_piece(const struct npu_tokenizer *t, int32_t prev,
					int32_t token, char byte_buf[2]);

/** Weights of one matrix as the NPU takes them (SCALE_GROUP). */
struct npu_qmatrix {
	int32_t rows, cols, group_size;
	int bits;		/**< 8 or 4 */
	uint8_t *q;		/**< I8 [rows][cols] or I4 [rows][cols / 2] */
	uint16_t *factors;	/**< [rows][cols / group_size], Q0.16 */
	struct npu_scale scale;	/**< tensor scale */
};

/**
 * npu_quantize - quantize a float [rows][cols] matrix. @bits 8: @group_size
 * is cols (per output channel); @bits 4: 32, 64 or 128, with each group's
 * clipping chosen to minimize its squared error.
 */
NPU_API int npu_quantize(const float *w, int32_t rows, int32_t cols, int bits,
			 int32_t group_size, struct npu_qmatrix *q);
NPU_API void npu_qmatrix_free(struct npu_qmatrix *q);
/** Dequantized value of element [r][c] (for tests and reports). */
NPU_API float npu_qmatrix_value(const struct npu_qmatrix *q, int32_t r, int32_t c);

#ifdef __cplusplus
}
#endif

#endif
