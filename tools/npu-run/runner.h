/* SPDX-License-Identifier: MIT */
/* npu-run's parts: the NPU forward pass, the float reference, metrics. */
#ifndef NPU_RUN_RUNNER_H
#define NPU_RUN_RUNNER_H

#include <stdint.h>
#include <time.h>

#include <npu/model.h>
#include <npu/npu.h>

/* The model on an NPU: quantized weights and KV caches in device memory. */
struct npu_engine;

struct engine_opts {
	int bits;		/* 8 or 4; -1: the model's native matrices, W8 for the rest */
	int group;		/* int4 group size */
	int trace;		/* keep each layer's output (the residual stream) */
	int profile;		/* time every op on the device (engine_profile) */
};

/* On failure @err says why. */
int engine_create(npu_device *dev, const struct npu_model *m, const struct engine_opts *o,
		  struct npu_engine **out, char *err, size_t err_len);
/*
 * With KV caches of the @positions a run uses (0: seq_len). More than the
 * device's attention can take is refused here, the limit named in @err.
 */
int engine_create_n(npu_device *dev, const struct npu_model *m, const struct engine_opts *o,
		    int positions, struct npu_engine **out, char *err, size_t err_len);
/*
 * Run @n tokens at positions @pos.. (a prefill when n > 1, the recorded
 * decode graph when n == 1); the logits of the last one into @logits.
 * Positions past those the caches hold: NPU_E_RANGE.
 */
int engine_forward(struct npu_engine *e, const int32_t *tokens, int n, int pos, float *logits);
uint64_t engine_device_bytes(const struct npu_engine *e);
/* Bytes the backend keeps beside the sealed weights (the cpu backend's packed int4). */
uint64_t engine_packed_bytes(const struct npu_engine *e);
/* Bytes of the matrices one decode step reads in full (integers and factors). */
uint64_t engine_weight_bytes(const struct npu_engine *e);
/* With opts.trace: layer @l's output for the last token run, dequantized. */
void engine_trace(const struct npu_engine *e, int l, float *out);
/* With opts.profile: device nanoseconds and runs of each opcode so far. */
void engine_profile(const struct npu_engine *e, uint64_t ns[64], uint64_t count[64]);
void engine_destroy(struct npu_engine *e);

/* The same model in float32, plain C. */
struct ref_engine;

int ref_create(const struct npu_model *m, struct ref_engine **out);
/* With caches of @positions rows (0: seq_len); past them ref_forward gives NPU_E_RANGE. */
int ref_create_n(const struct npu_model *m, int positions, struct ref_engine **out);
int ref_forward(struct ref_engine *r, int32_t token, int pos, float *logits);
/* Layer @l's output for the last token run. */
const float *ref_trace(const struct ref_engine *r, int l);
void ref_destroy(struct ref_engine *r);

/* Next-token distributions compared position by position. */
struct compare_stats {
	int positions, top1_agree;
	double kl_sum, nll_ref, nll_dev;
};

void compare_add(struct compare_stats *s, const float *ref, const float *dev, int vocab,
		  int32_t next);
int argmax(const float *v, int n);
double cosine(const float *a, const float *b, int n);
int32_t sample(const float *logits, int vocab, float temperature, float topp, uint64_t *rng);
/* Monotonic seconds, for rates. */
static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#endif
