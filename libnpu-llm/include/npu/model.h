/* SPDX-License-Identifier: MIT */
/*
 * libnpu-llm's model files: llama2.c checkpoints and tokenizers and GGUF
 * files, loaded and checked field by field, synthetic models of realistic
 * shapes, and the weight quantization the NPU runs (int8 per output
 * channel, int4 in groups). <npu/llm.h> runs them.
 */
#ifndef NPU_MODEL_H
#define NPU_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <npu/npu.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * enum npu_model_arch - the decoder families the runner takes (GGUF's
 *	general.architecture).
 * @NPU_ARCH_LLAMA: "llama": Llama 1-3, TinyLlama, SmolLM, Mistral-style
 *	files, llama2.c checkpoints.
 * @NPU_ARCH_QWEN2: "qwen2": biases on Q, K and V; NEOX RoPE.
 * @NPU_ARCH_QWEN3: "qwen3": RMSNorm of each Q and K head before RoPE; NEOX RoPE.
 * @NPU_ARCH_GEMMA: "gemma" (Gemma 1): GELU in the FFN's gate, the embedding
 *	scaled by sqrt(dim), the classifier tied; NEOX RoPE.
 * @NPU_ARCH_PHI3: "phi3" (Phi-3 without LongRoPE): fused Q/K/V and
 *	gate/up tensors, a sliding window; NEOX RoPE.
 */
enum npu_model_arch {
	NPU_ARCH_LLAMA,
	NPU_ARCH_QWEN2,
	NPU_ARCH_QWEN3,
	NPU_ARCH_GEMMA,
	NPU_ARCH_PHI3,
};

/**
 * enum npu_rope_scaling - how a file stretches RoPE past its training context.
 * @NPU_ROPE_NONE: not at all.
 * @NPU_ROPE_LINEAR: positions divided by the factor.
 * @NPU_ROPE_YARN: YaRN: interpolation ramped by frequency, and a magnitude scale.
 * @NPU_ROPE_LLAMA3: Llama 3.1's per-frequency factors (the rope_freqs tensor).
 */
enum npu_rope_scaling {
	NPU_ROPE_NONE,
	NPU_ROPE_LINEAR,
	NPU_ROPE_YARN,
	NPU_ROPE_LLAMA3,
};

/**
 * struct npu_rope_params - rotary position embedding, as llama.cpp's
 *	ggml_rope_ext() takes it. Zeros are llama2.c's RoPE (base 10000,
 *	no scaling).
 * @base: the frequency base; 0: 10000.
 * @freq_scale: 1 / the scaling factor (linear and YaRN); 0: 1.
 * @ext_factor: YaRN's extrapolation mix: 1 with YaRN, else 0.
 * @attn_factor: a magnitude scale on the rotated Q and K; 0: 1.
 * @beta_fast: YaRN's correction range, fast end (32).
 * @beta_slow: its slow end (1).
 * @orig_ctx: YaRN: the context the model was trained at.
 * @scaling: enum npu_rope_scaling, as the file named it.
 */
struct npu_rope_params {
	float base, freq_scale, ext_factor, attn_factor, beta_fast, beta_slow;
	int32_t orig_ctx;
	int scaling;
};

/**
 * struct npu_model_config - shapes of a Llama-style decoder (llama2.c's
 *	header, and what GGUF files add to it). Fields after @shared_classifier
 *	left 0 take llama2.c's values (npu_model_check_config() fills them).
 * @dim: the residual stream's width.
 * @hidden_dim: the feed-forward network's width.
 * @n_layers: layers.
 * @n_heads: query heads.
 * @n_kv_heads: key and value heads (grouped-query attention when fewer).
 * @vocab_size: tokens.
 * @seq_len: the context: positions a sequence may take.
 * @shared_classifier: the classifier is the embedding table.
 * @head_dim: elements per attention head; 0: dim / n_heads.
 * @norm_eps: the RMSNorms' epsilon; 0: 1e-5.
 * @rope: RoPE's parameters.
 * @arch: enum npu_model_arch.
 * @qkv_bias: Q, K and V projections add biases (npu_model.bq, bk, bv).
 * @qk_norm: each Q and K head is RMS-normalized before RoPE (npu_model.q_norm, k_norm).
 * @rope_factors: npu_model.rope_factors divides each pair's frequency.
 * @ffn_gelu: the FFN's gate is GELU (tanh form), not SiLU.
 * @embed_scale: the embedding's rows are scaled by it; 0: 1.
 * @sliding_window: each position attends to this many, itself included;
 *	0: all. The NPU attends to all: a context holds at most this many.
 */
struct npu_model_config {
	int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
	int shared_classifier;
	int32_t head_dim;
	float norm_eps;
	struct npu_rope_params rope;
	int arch, qkv_bias, qk_norm, rope_factors, ffn_gelu;
	float embed_scale;
	int32_t sliding_window;
};

/* Matrices per layer in npu_model.native: wq wk wv wo w1 w2 w3. */
#define NPU_MODEL_LAYER_MATS 7

/**
 * enum npu_gguf_type - GGUF tensor types the loader reads (ggml's ids); the
 *	writer writes F32, F16, Q4_0 and Q8_0.
 * @NPU_GGUF_F32: float32.
 * @NPU_GGUF_F16: float16.
 * @NPU_GGUF_Q4_0: blocks of 32: an f16 scale, 4-bit values.
 * @NPU_GGUF_Q4_1: blocks of 32: an f16 scale and min, 4-bit values.
 * @NPU_GGUF_Q5_0: blocks of 32: an f16 scale, 5-bit values.
 * @NPU_GGUF_Q5_1: blocks of 32: an f16 scale and min, 5-bit values.
 * @NPU_GGUF_Q8_0: blocks of 32: an f16 scale, int8 values.
 * @NPU_GGUF_Q2_K: super-blocks of 256: f16 scale and min, 4-bit group scales
 *	and mins, 2-bit values.
 * @NPU_GGUF_Q3_K: super-blocks of 256: an f16 scale, 6-bit group scales, 3-bit values.
 * @NPU_GGUF_Q4_K: super-blocks of 256: f16 scale and min, 6-bit group scales
 *	and mins, 4-bit values.
 * @NPU_GGUF_Q5_K: as Q4_K with 5-bit values.
 * @NPU_GGUF_Q6_K: super-blocks of 256: an f16 scale, int8 group scales, 6-bit values.
 * @NPU_GGUF_NTYPES: ids below this have a name (npu_gguf_type_name()).
 */
enum npu_gguf_type {
	NPU_GGUF_F32 = 0,
	NPU_GGUF_F16 = 1,
	NPU_GGUF_Q4_0 = 2,
	NPU_GGUF_Q4_1 = 3,
	NPU_GGUF_Q5_0 = 6,
	NPU_GGUF_Q5_1 = 7,
	NPU_GGUF_Q8_0 = 8,
	NPU_GGUF_Q2_K = 10,
	NPU_GGUF_Q3_K = 11,
	NPU_GGUF_Q4_K = 12,
	NPU_GGUF_Q5_K = 13,
	NPU_GGUF_Q6_K = 14,
	NPU_GGUF_NTYPES = 43,
};

/**
 * npu_gguf_type_name() - ggml's name of a tensor type ("Q4_K", "BF16", ...).
 * @type: ggml's id.
 *
 * Return: the name; NULL for an id ggml does not have.
 */
NPU_API const char *npu_gguf_type_name(uint32_t type);

struct npu_qmatrix;
struct npu_tokenizer;

/**
 * struct npu_model - a float32 model; every float pointer points into @data.
 * @cfg: its shapes.
 * @token_embedding: [vocab][dim].
 * @rms_att: [layers][dim], the attention's norm gains.
 * @wq: [layers][out][in], as @wk, @wv, @wo: the attention's matrices
 *	(@wq: n_heads * head_dim outputs, @wk and @wv n_kv_heads * head_dim;
 *	heads' pairs rotate as adjacent elements, llama.cpp's "normal" RoPE:
 *	a NEOX file's Q and K rows are reordered so on loading).
 * @wk: the keys'.
 * @wv: the values'.
 * @wo: the output's.
 * @rms_ffn: [layers][dim], the feed-forward network's norm gains.
 * @w1: [layers][out][in], as @w2 and @w3: the feed-forward network's.
 * @w2: the down projection.
 * @w3: the up projection.
 * @bq: with cfg.qkv_bias, [layers][n_heads * head_dim], as @bk and @bv
 *	([layers][n_kv_heads * head_dim]): the projections' biases; else NULL.
 * @bk: the keys'.
 * @bv: the values'.
 * @q_norm: with cfg.qk_norm, [layers][head_dim], as @k_norm: the gains of
 *	each head's RMSNorm; else NULL.
 * @k_norm: the keys'.
 * @rms_final: [dim], the final norm's gains.
 * @wcls: [vocab][dim], the classifier (@token_embedding when shared).
 * @rope_factors: with cfg.rope_factors, [head_dim / 2]: each pair's
 *	frequency is divided by its factor; else NULL.
 * @data: the one allocation.
 * @n_floats: its length.
 * @native: NULL, or the file's own quantized matrices (GGUF Q4_0 ... Q6_K)
 *	in the NPU's SCALE_BLOCK format: NPU_MODEL_LAYER_MATS per layer, then
 *	the classifier (the embedding table's when shared), then the embedding
 *	table when it is not the classifier. An entry with a NULL q was stored
 *	as floats. The floats above then hold these
 *	matrices' exact values (ggml's dequantization).
 * @types: GGUF files: how many tensors of each ggml type (by id); zero
 *	for other files.
 * @embedding_type: GGUF files (a nonzero @types): the embedding table's
 *	ggml type.
 */
struct npu_model {
	struct npu_model_config cfg;
	float *token_embedding;
	float *rms_att;
	float *wq, *wk, *wv, *wo;
	float *rms_ffn;
	float *w1, *w2, *w3;
	float *bq, *bk, *bv;
	float *q_norm, *k_norm;
	float *rms_final;
	float *wcls;
	float *rope_factors;
	float *data;
	size_t n_floats;
	struct npu_qmatrix *native;
	uint32_t types[NPU_GGUF_NTYPES];
	int32_t embedding_type;
};

/**
 * npu_model_load() - read a llama2.c checkpoint (legacy version 0 format).
 * @path: the file; only a regular one is opened.
 * @m: the model.
 * @err: on failure, why.
 * @err_len: bytes of @err.
 *
 * Errors about the file start with its path, escaped (\xNN for other than
 * printable ASCII) and cut at 256 characters: @err stays one line.
 *
 * Return: NPU_OK; on a malformed file NPU_E_FORMAT and @err says which
 * field and why. On failure *@m is zeroed, so npu_model_free(@m) is always
 * safe.
 */
NPU_API int npu_model_load(const char *path, struct npu_model *m, char *err, size_t err_len);
/**
 * npu_model_load_gguf() - read a GGUF v3 Llama model, and its tokenizer.
 * @path: the file; only a regular one is opened.
 * @m: the model. F32 and F16 tensors load as floats; matrices of the
 *	quantized types of enum npu_gguf_type as their exact values, and
 *	also into m->native (SCALE_BLOCK) without requantizing.
 * @t: NULL, or the tokenizer in the file's metadata.
 * @err: on failure, why (its path escaped as npu_model_load's).
 * @err_len: bytes of @err.
 *
 * Return: NPU_OK; a malformed or unsupported file: NPU_E_FORMAT and @err
 * names the cause. On failure *@m and *@t (when not NULL) are zeroed, so
 * npu_model_free and npu_tokenizer_free are always safe.
 */
NPU_API int npu_model_load_gguf(const char *path, struct npu_model *m, struct npu_tokenizer *t,
				char *err, size_t err_len);
/**
 * npu_model_save_gguf() - write a GGUF v3 llama model, for converting
 *	llama2.c checkpoints and for tests.
 * @path: the file, created or replaced.
 * @m: the model.
 * @t: its tokenizer.
 * @type: the matrices' type (norms stay F32; a quantized type's matrix
 *	whose rows are not a multiple of 32 long is written F16), quantized by
 *	ggml's reference rules.
 * @err: on failure, why.
 * @err_len: bytes of @err.
 *
 * Return: NPU_OK or a negative NPU_E_* code.
 */
NPU_API int npu_model_save_gguf(const char *path, const struct npu_model *m,
				const struct npu_tokenizer *t, enum npu_gguf_type type, char *err,
				size_t err_len);
/**
 * struct npu_quantize_params - what npu_model_quantize_gguf() does.
 * @type: the matrices' type: NPU_GGUF_Q4_0. As llama-quantize chooses, a
 *	classifier (and the embedding it is tied to) is Q8_0 and a matrix
 *	whose rows are not a multiple of 32 long is F16.
 * @gptq: 1: each matrix in the model's order quantized to reproduce the
 *	float model's product from the inputs the quantized layers before it
 *	give (GPTQ's error compensation under the calibration's statistics,
 *	each block's scale searched, then single integers moved and the
 *	scales refit while the error falls); 0: ggml's round to nearest.
 * @tokens: the calibration text's tokens, @n_tokens in chunks of @chunk,
 *	each run from position 0 (through the float model and the copy being
 *	quantized, once per matrix site).
 * @n_tokens: their count.
 * @chunk: positions per chunk (at most the model's context).
 * @damp: the damping added to the statistics' diagonal, a fraction of its
 *	mean (0: 0.01).
 */
struct npu_quantize_params {
	enum npu_gguf_type type;
	int gptq;
	const int32_t *tokens;
	int n_tokens;
	int chunk;
	double damp;
};

/**
 * struct npu_quantize_report - what quantizing cost, on the calibration
 *	text: each quantized matrix's product from the quantized model's
 *	inputs against the float model's product, |W x_f - Q x_q|^2 /
 *	|W x_f|^2 summed over the text, summed over the matrices quantized
 *	(so the layers before each matrix count too).
 * @matrices: matrices quantized with the calibration's statistics.
 * @loss_rtn: round to nearest's error, each matrix on the same inputs as
 *	the method's (with GPTQ, from the GPTQ-quantized layers before it:
 *	not the error of a file rounded throughout).
 * @loss: the method's.
 */
struct npu_quantize_report {
	int matrices;
	double loss_rtn;
	double loss;
};

/**
 * npu_model_quantize_gguf() - write @m as a GGUF file quantized with the
 *	statistics of its own inputs over calibration text (a standard file:
 *	llama.cpp reads it; the NPU runs its blocks natively).
 * @path: the file, created or replaced.
 * @m: the float model (its floats all loaded: npu_llm_model_host()).
 * @t: its tokenizer.
 * @p: how.
 * @rep: NULL, or filled with the errors.
 * @err: on failure, why.
 * @err_len: bytes of @err.
 *
 * Return: NPU_OK; NPU_E_INVAL for a type other than Q4_0 or bad tokens;
 * NPU_E_NOMEM, also for statistics too large to keep; or the writer's.
 */
NPU_API int npu_model_quantize_gguf(const char *path, const struct npu_model *m,
				    const struct npu_tokenizer *t,
				    const struct npu_quantize_params *p,
				    struct npu_quantize_report *rep, char *err, size_t err_len);

/**
 * npu_model_synthetic() - a model of a known shape with random weights.
 * @shape: "tiny", "k256" (rows of 256, as K-quants need), "15m", "110m" or
 *	"1b" (TinyLlama-1.1B's shape) or "deep" (tiny's widths, 240 layers:
 *	one decode step more ops than a command stream holds).
 * @seed: the weights'.
 * @m: the model.
 * @err: on failure, why.
 * @err_len: bytes of @err.
 *
 * Return: NPU_OK or a negative NPU_E_* code.
 */
NPU_API int npu_model_synthetic(const char *shape, uint64_t seed, struct npu_model *m,
				char *err, size_t err_len);
/**
 * npu_model_alloc() - a model of a config, its weights all zero, for
 *	filling in (and npu_llm_model_create()).
 * @cfg: its config; the fields left 0 take llama2.c's values.
 * @m: the model, its pointers set (NULL where the config has no such
 *	weights); zeroed on failure.
 * @err: on failure, why (the config's field and its limit).
 * @err_len: bytes of @err.
 *
 * Return: NPU_OK, NPU_E_FORMAT for a config out of range, or NPU_E_NOMEM.
 */
NPU_API int npu_model_alloc(const struct npu_model_config *cfg, struct npu_model *m, char *err,
			    size_t err_len);
/**
 * npu_model_free() - free a model's weights; a zeroed one is fine.
 * @m: the model.
 */
NPU_API void npu_model_free(struct npu_model *m);

struct npu_vocab;

/**
 * struct npu_tokenizer - a tokenizer: a llama2.c one (SentencePiece BPE
 *	pieces with merge scores) or a GGUF file's (SentencePiece or
 *	byte-level BPE, with special tokens).
 * @vocab_size: pieces.
 * @max_token_length: the longest piece's bytes.
 * @pieces: each token's text.
 * @scores: each piece's merge score.
 * @sorted: piece indices sorted by piece, for lookup.
 * @vocab: the rest of a GGUF file's tokenizer (its kind, token types,
 *	merges, special tokens, flags and chat template), private to the
 *	library; NULL for a llama2.c tokenizer.
 */
struct npu_tokenizer {
	int32_t vocab_size, max_token_length;
	char **pieces;
	float *scores;
	int32_t *sorted;
	struct npu_vocab *vocab;
};

/**
 * npu_tokenizer_load() - read a llama2.c tokenizer file. Tokenizers may be
 *	built on several threads at once.
 * @path: the file.
 * @vocab_size: its pieces, 259..1048576.
 * @t: the tokenizer.
 * @err: on failure, why (its path escaped as npu_model_load's).
 * @err_len: bytes of @err.
 *
 * Return: NPU_OK; not a regular file, or a malformed one (too short for
 * its pieces, a NUL inside a piece, ...): NPU_E_FORMAT. *@t is zeroed on
 * failure (when not NULL), so npu_tokenizer_free(@t) is always safe.
 */
NPU_API int npu_tokenizer_load(const char *path, int32_t vocab_size, struct npu_tokenizer *t,
			       char *err, size_t err_len);
/**
 * npu_tokenizer_load_gguf() - read the tokenizer of a GGUF file, which may
 *	hold only a vocabulary (no tensors).
 * @path: the file.
 * @t: the tokenizer; zeroed on failure, as npu_tokenizer_load's.
 * @err: on failure, why (its path escaped as npu_model_load's).
 * @err_len: bytes of @err.
 *
 * Return: NPU_OK; a malformed file or a tokenizer of a kind not read:
 * NPU_E_FORMAT, and @err names the key and why.
 */
NPU_API int npu_tokenizer_load_gguf(const char *path, struct npu_tokenizer *t, char *err,
				    size_t err_len);
/**
 * npu_tokenizer_bytes() - a tokenizer of byte tokens only, for synthetic models.
 * @vocab_size: 259..1048576.
 * @t: the tokenizer; zeroed on failure, as npu_tokenizer_load's.
 *
 * Return: NPU_OK or a negative NPU_E_* code.
 */
NPU_API int npu_tokenizer_bytes(int32_t vocab_size, struct npu_tokenizer *t);
/**
 * npu_tokenizer_free() - free a tokenizer; a zeroed one is fine.
 * @t: the tokenizer.
 */
NPU_API void npu_tokenizer_free(struct npu_tokenizer *t);
/**
 * npu_tokenizer_encode() - encode text into tokens. The whole text is
 *	encoded whatever @max, in O(n log n) time and a few dozen bytes of
 *	memory per text byte.
 * @t: the tokenizer.
 * @text: NUL-terminated.
 * @bos: BOS first.
 * @tokens: at most @max tokens out: a longer encoding is cut to its first
 *	@max, so @max tokens out may mean a cut.
 * @max: room in @tokens.
 * @n: tokens written.
 *
 * Return: NPU_OK; over INT32_MAX - 2 bytes: NPU_E_INVAL.
 */
NPU_API int npu_tokenizer_encode(const struct npu_tokenizer *t, const char *text, int bos,
				 int32_t *tokens, int32_t max, int32_t *n);
/* npu_tokenizer_tokenize()'s flags, as llama_tokenize()'s two booleans. */
/* BOS (and EOS) as the vocabulary asks: tokenizer.ggml.add_bos_token, ... */
#define NPU_TOKENIZE_ADD_SPECIAL 1u
/* Special and control tokens' text in the input becomes those tokens. */
#define NPU_TOKENIZE_PARSE_SPECIAL 2u

/**
 * npu_tokenizer_tokenize() - encode text as llama.cpp's llama_tokenize()
 *	does, for the same vocabulary.
 * @t: the tokenizer.
 * @text: the text.
 * @len: its bytes.
 * @flags: NPU_TOKENIZE_*.
 * @tokens: at most @max tokens out (the first @max of a longer encoding).
 * @max: room in @tokens.
 * @n: the tokens the whole text takes (more than @max: it was cut).
 *
 * Return: NPU_OK, NPU_E_INVAL or NPU_E_NOMEM.
 */
NPU_API int npu_tokenizer_tokenize(const struct npu_tokenizer *t, const char *text, size_t len,
				   unsigned int flags, int32_t *tokens, int32_t max, int32_t *n);

/**
 * enum npu_token_role - the special tokens a vocabulary names.
 * @NPU_TOKEN_BOS: beginning of sequence.
 * @NPU_TOKEN_EOS: end of sequence.
 * @NPU_TOKEN_EOT: end of turn (<|eot_id|>, <|im_end|>, <end_of_turn>, ...).
 * @NPU_TOKEN_PAD: padding.
 * @NPU_TOKEN_UNK: unknown.
 * @NPU_TOKEN_ROLES: the count.
 */
enum npu_token_role {
	NPU_TOKEN_BOS,
	NPU_TOKEN_EOS,
	NPU_TOKEN_EOT,
	NPU_TOKEN_PAD,
	NPU_TOKEN_UNK,
	NPU_TOKEN_ROLES,
};

/**
 * npu_tokenizer_special() - a special token's id.
 * @t: the tokenizer.
 * @role: which.
 *
 * Return: the id, or -1 when the vocabulary has none.
 */
NPU_API int32_t npu_tokenizer_special(const struct npu_tokenizer *t, enum npu_token_role role);
/**
 * npu_tokenizer_is_eog() - whether a token ends generation: EOS, EOT or
 *	any other end-of-generation token of the vocabulary.
 * @t: the tokenizer.
 * @token: the token.
 *
 * Return: 1 or 0.
 */
NPU_API int npu_tokenizer_is_eog(const struct npu_tokenizer *t, int32_t token);
/**
 * npu_tokenizer_chat_template() - the file's tokenizer.chat_template.
 * @t: the tokenizer.
 *
 * Return: the template (NUL-terminated, owned by @t), or NULL.
 */
NPU_API const char *npu_tokenizer_chat_template(const struct npu_tokenizer *t);

/**
 * npu_tokenizer_piece() - the text of a token.
 * @t: the tokenizer.
 * @prev: the token before (a leading space is dropped after BOS).
 * @token: the token.
 * @byte_buf: room for a byte token's text.
 *
 * Return: the text, in @t or @byte_buf.
 */
NPU_API const char *npu_tokenizer_piece(const struct npu_tokenizer *t, int32_t prev,
					int32_t token, char byte_buf[2]);

/**
 * struct npu_qmatrix - one matrix's weights as the NPU takes them.
 * @rows: output channels.
 * @cols: inputs.
 * @group_size: inputs per factor (SCALE_GROUP) or per group (SCALE_BLOCK).
 * @bits: SCALE_GROUP: 8 or 4; SCALE_BLOCK: the codes' bits, 2..6 or 8.
 * @q: SCALE_GROUP: I8 [rows][cols] or I4 [rows][cols / 2]; SCALE_BLOCK:
 *	[rows][npu_row_bytes()] codes.
 * @factors: SCALE_GROUP: [rows][cols / group_size], Q0.16; NULL otherwise.
 * @scale: the tensor's scale.
 * @block: SCALE_BLOCK (block.block_groups != 0): the layout; else zero.
 * @records: SCALE_BLOCK: [rows][npu_block_record_bytes()]; NULL otherwise.
 * @source: the GGUF type the matrix came from ("Q4_K"), or NULL.
 */
struct npu_qmatrix {
	int32_t rows, cols, group_size;
	int bits;
	uint8_t *q;
	uint16_t *factors;
	struct npu_scale scale;
	struct npu_block_format block;
	uint8_t *records;
	const char *source;
};

/**
 * npu_quantize() - quantize a float matrix.
 * @w: [rows][cols] floats.
 * @rows: output channels.
 * @cols: inputs.
 * @bits: 8 or 4.
 * @group_size: with @bits 8, cols (per output channel); with @bits 4, 32,
 *	64 or 128, with each group's clipping chosen to minimize its squared
 *	error.
 * @q: the matrix, for npu_qmatrix_free().
 *
 * Return: NPU_OK or a negative NPU_E_* code.
 */
NPU_API int npu_quantize(const float *w, int32_t rows, int32_t cols, int bits,
			 int32_t group_size, struct npu_qmatrix *q);
/**
 * npu_qmatrix_free() - free a quantized matrix; a zeroed one is fine.
 * @q: the matrix.
 */
NPU_API void npu_qmatrix_free(struct npu_qmatrix *q);
/**
 * npu_qmatrix_value() - the dequantized value of an element, for tests and reports.
 * @q: the matrix.
 * @r: its row.
 * @c: its column.
 *
 * Return: the value.
 */
NPU_API float npu_qmatrix_value(const struct npu_qmatrix *q, int32_t r, int32_t c);

#ifdef __cplusplus
}
#endif

#endif
