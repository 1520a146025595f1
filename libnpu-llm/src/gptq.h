/* SPDX-License-Identifier: MIT */
/* Q4_0 quantization of a matrix under its inputs' statistics (gptq.c). */
#ifndef LLM_GPTQ_H
#define LLM_GPTQ_H

#include "llm_internal.h"

/*
 * A site's statistics made ready once for every matrix that reads it: H
 * (@cols x @cols, the inputs' second moment) damped by @damp times its mean
 * diagonal, the upper Cholesky factor of its inverse, and each column's
 * input energy (the damped diagonal). Returns NPU_OK, NPU_E_NOMEM or
 * NPU_E_RANGE (H not positive definite even damped).
 */
struct gptq_factor {
	int cols;
	double *u;		/* U^T, lower: u[k * cols + j] = U[j][k] */
	double *imp;
};

NPU_HIDDEN int gptq_factor(struct gptq_factor *f, const double *h, int cols, double damp);
NPU_HIDDEN void gptq_factor_free(struct gptq_factor *f);
/*
 * The @rows x f->cols matrix @w (row-major, cols a multiple of 32) into
 * Q4_0 in place: each value becomes scale x q, q in -8..7, with each
 * block's f16 scale in @scales (rows x cols / 32, the blocks in @w's
 * order). @rtn: round to nearest with ggml's scales (the baseline); else
 * error compensation with each block's scale searched.
 */
NPU_HIDDEN void gptq_q4_0(float *w, int rows, const struct gptq_factor *f, int rtn,
			  float *scales);
/*
 * Each row's block scales of the quantized @wq (@cols a multiple of 32,
 * its integers kept) refit by least squares to the product's error
 * against @w under @h, @wq and @scales updated; a row whose system is
 * singular, or whose scales would leave binary16, is left as it is.
 * NPU_OK or NPU_E_NOMEM.
 */
NPU_HIDDEN int gptq_refit(const float *w, float *wq, int rows, int cols, const double *h,
			  float *scales);
/* tr((w - wq) h (w - wq)^T): the product's squared error over the inputs @h describes. */
NPU_HIDDEN double gptq_loss(const float *w, const float *wq, int rows, int cols, const double *h);
/*
 * Each of @wq's integers (@cols a multiple of 32) moved by one step,
 * coordinate by coordinate, while that lowers the product's error against
 * @w under @h (the scales @scales kept). NPU_OK or NPU_E_NOMEM.
 */
NPU_HIDDEN int gptq_descend(const float *w, float *wq, int rows, int cols, const double *h,
			    const float *scales);
/*
 * The float matrix @out (@rows x f->cols) whose product with the quantized
 * model's inputs best reproduces @w's with the float model's: @w C H^-1,
 * H the quantized inputs' second moment damped as @f holds it, C
 * (f->cols square, row-major) the sum of float inputs times quantized
 * ones. The damping makes this a ridge regression: even with no upstream
 * error @out is @w shrunk a little, most along the inputs calibration
 * rarely excites. On stories260K that measured better than the unshrunk
 * @w + @w (C - H)(H + damping)^-1 (llama-perplexity's KL 0.0341 against
 * 0.0361, three calibration seeds). NPU_OK or NPU_E_NOMEM.
 */
NPU_HIDDEN int gptq_target(const struct gptq_factor *f, const double *c, const float *w,
			   int rows, float *out);

#endif
