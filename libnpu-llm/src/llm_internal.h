/* SPDX-License-Identifier: MIT */
/*
 * libnpu-llm's engines: the model's weights on a device (weights.c), a
 * context's forward pass on libnpu ops (forward.c), the float reference
 * (reference.c), and the objects of the public API (llm.c).
 */
#ifndef LIBNPU_LLM_INTERNAL_H
#define LIBNPU_LLM_INTERNAL_H

#include <stdint.h>
#include <time.h>

#include <npu/llm.h>

#include "model_internal.h"

/* A device buffer, mapped. */
struct dbuf {
	npu_bo bo;
	void *p;
	uint64_t size;
};

/*
 * A quantized matrix in one buffer: integers, then the group factors
 * (SCALE_GROUP), or codes, then the rows' records (SCALE_BLOCK: a nonzero
 * block.block_groups).
 */
struct dmat {
	struct dbuf b;
	int32_t rows, cols, group;
	enum npu_dtype dt;	/* I8 or I4 (SCALE_GROUP), a U type (SCALE_BLOCK) */
	struct npu_scale scale;
	uint64_t factors_off;
	struct npu_block_format block;
};

struct layer_weights {
	struct dmat wq, wk, wv, wo, w1, w2, w3;
	struct dbuf g_att, g_ffn;
	struct npu_scale s_att, s_ffn;
	/*
	 * cfg.qkv_bias: the biases (int32); cfg.qk_norm: the heads' norm
	 * gains, and their outputs' scales (int16 over the range a norm
	 * gives: |x_i| / rms(x) <= sqrt(head_dim), times the largest gain).
	 */
	struct dbuf bq, bk, bv, g_qn, g_kn;
	struct npu_scale s_bq, s_bk, s_bv, s_qn, s_kn, o_qn, o_kn;
};

/*
 * The model on a device: matrices quantized once (int8 per output channel
 * or int4 in groups, or the file's own), the int8 embedding table, the
 * int16 norm gains and the RoPE frequencies. Read-only once made: any
 * number of contexts run on it.
 */
struct llm_weights {
	npu_device *dev;
	const struct npu_model *m;
	struct npu_model_config c;
	struct layer_weights *layers;
	struct dbuf emb, emb_scales, g_final, freq;
	struct npu_scale s_final;
	double rope_mscale;	/* YaRN's scale on the rotated Q and K */
	struct dbuf emb_mul;	/* cfg.embed_scale != 1: a row of it, int16 */
	struct npu_scale s_emb_mul;
	struct dmat wcls;
	/* A GGUF file's embedding table as it holds it (SCALE_BLOCK), else NULL: int8 rows. */
	const struct dmat *emb_block;
	struct dmat emb_own;	/* that table when it is not the classifier's */
	uint64_t bytes;
	int n_converted;	/* float matrices quantized where the file's own were asked for */
	double converted_rms;	/* their worst RMS error, relative */
	char note[512];		/* the conversions and their errors, a line each, or "" */
};

NPU_HIDDEN int llm_dbuf_new(npu_device *dev, uint64_t size, struct dbuf *b, uint64_t *bytes);
NPU_HIDDEN void llm_dbuf_del(npu_device *dev, struct dbuf *b);

/*
 * @bits 8 or 4 (int4 groups of @group), or -1: the file's own matrices,
 * W8 for the rest. @progress (when not NULL) hears of each layer done.
 */
NPU_HIDDEN int llm_weights_create(npu_device *dev, const struct npu_model *m, int bits,
				  int group, npu_llm_progress_fn progress, void *progress_user,
				  struct llm_weights **out, char *err, size_t err_len);
NPU_HIDDEN void llm_weights_destroy(struct llm_weights *w);
/* Bytes of the matrices one decode step reads in full (integers and factors). */
NPU_HIDDEN uint64_t llm_weights_matrix_bytes(const struct llm_weights *w);

/* A context's forward pass on the device: KV caches, activations, recorded steps. */
struct npu_engine;

struct engine_opts {
	int trace;		/* keep each layer's output (the residual stream) */
	int profile;		/* time every op on the device (engine_profile) */
	int norm_act;		/* enum npu_llm_norm_act */
};

/*
 * With KV caches of the @positions a run uses (0: seq_len). More than the
 * device's attention can take is refused here, the limit named in @err.
 */
NPU_HIDDEN int engine_create(struct llm_weights *w, const struct engine_opts *o, int positions,
			     struct npu_engine **out, char *err, size_t err_len);
/* The positions the caches hold. */
NPU_HIDDEN int engine_positions(const struct npu_engine *e);
/* The priority the passes are submitted at. */
NPU_HIDDEN int engine_set_priority(struct npu_engine *e, enum npu_priority prio);
/*
 * Run @n tokens at positions @pos.. (a prefill when n > 1, the recorded
 * decode graph when n == 1); the logits of the last one into @logits.
 * Positions past those the caches hold: NPU_E_RANGE. A failed job is
 * described in @why.
 */
NPU_HIDDEN int engine_forward(struct npu_engine *e, const int32_t *tokens, int n, int pos,
			      float *logits, char *why, size_t why_len);
/* The most greedy steps engine_greedy() runs at once (1 and up). */
NPU_HIDDEN int engine_burst_max(const struct npu_engine *e);
/*
 * @n greedy steps from position @pos, after a pass that left the logits of
 * pos - 1: each picks the first maximum of the last logits (the device's
 * integers), runs it at the next position, and gives it in @tokens. In
 * one job up to a power of two, else a job per binary digit of @n (a step
 * that is many jobs: several). The last step's logits into @logits.
 */
NPU_HIDDEN int engine_greedy(struct npu_engine *e, int pos, int n, int32_t *tokens,
			     float *logits, char *why, size_t why_len);
/* Device bytes of the caches and activations (the weights' are apart). */
NPU_HIDDEN uint64_t engine_device_bytes(const struct npu_engine *e);
/* With opts.trace: layer @l's output for the last token run, dequantized. */
NPU_HIDDEN void engine_trace(const struct npu_engine *e, int l, float *out);
/* With opts.profile: device nanoseconds and runs of each opcode so far. */
NPU_HIDDEN void engine_profile(const struct npu_engine *e, uint64_t ns[NPU_LLM_OPCODES],
			       uint64_t count[NPU_LLM_OPCODES]);
NPU_HIDDEN void engine_destroy(struct npu_engine *e);

/* The same model in float32, plain C. */
/*
 * Each pair's angle per position, in radians, into @theta (head_dim / 2 of
 * them), as llama.cpp turns a head; returns the magnitude scale on the
 * rotated Q and K (1 but with YaRN or an attention factor) (rope.c).
 */
NPU_HIDDEN double llm_rope_theta(const struct npu_model *m, double *theta);

struct ref_engine;

/* Where the reference's matrices read their input (calibration's statistics). */
enum ref_site { REF_ATTN_IN, REF_ATTN_OUT, REF_FFN_IN, REF_FFN_MID, REF_CLS_IN, REF_SITES };
/* @x (@n floats) is the input of @site's matrices in layer @layer (-1: the classifier). */
typedef void (*ref_tap_fn)(void *user, int layer, enum ref_site site, const float *x, int n);

/* With caches of @positions rows (0: seq_len); past them ref_forward gives NPU_E_RANGE. */
NPU_HIDDEN int ref_create(const struct npu_model *m, int positions, struct ref_engine **out);
NPU_HIDDEN int ref_positions(const struct ref_engine *r);
NPU_HIDDEN int ref_forward(struct ref_engine *r, int32_t token, int pos, float *logits);
/* Layer @l's output for the last token run. */
NPU_HIDDEN const float *ref_trace(const struct ref_engine *r, int l);
NPU_HIDDEN void ref_destroy(struct ref_engine *r);
/*
 * Every ref_forward() from now on shows @fn each matrix's input (NULL:
 * none); with @layers from 1 to the model's layers - 1, it runs only those
 * first layers, and leaves its logits, the later layers' traces and their
 * KV caches unwritten (so change it only between runs from position 0).
 */
NPU_HIDDEN void ref_set_tap(struct ref_engine *r, ref_tap_fn fn, void *user, int layers);

/* The model's shapes (npu_llm_model_host() without its floats). */
NPU_HIDDEN const struct npu_model_config *llm_model_cfg(const npu_llm_model *m);

/* The context's npu_llm_ctx_error() text. */
NPU_HIDDEN void llm_ctx_error(npu_llm_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * The most greedy steps llm_ctx_greedy() takes at once: 0 without a
 * device; *@fixed when npu_llm_ctx_set_burst() set it.
 */
NPU_HIDDEN int llm_ctx_burst(const npu_llm_ctx *c, int *fixed);
/*
 * @n greedy steps on the device (engine_greedy()) from the context's
 * position, after an eval: the tokens picked into @tokens, each run.
 */
NPU_HIDDEN int llm_ctx_greedy(npu_llm_ctx *c, int n, int32_t *tokens);
/* The sampler draws the first maximum: no sampler, or temperature 0 without a penalty. */
NPU_HIDDEN int llm_sampler_greedy(const npu_llm_sampler *s);
/* The context keeps each layer's output (npu_llm_trace()). */
NPU_HIDDEN int llm_ctx_traces(const npu_llm_ctx *c);

/* Monotonic seconds, for rates. */
static inline double llm_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#endif
