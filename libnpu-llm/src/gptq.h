/* SPDX-License-Identifier: MIT */
/* Q4_0 quantization of a matrix under its inputs' statistics (gptq.c). */
#ifndef LLM_GPTQ_H
#define LLM_GPTQ_H

#include "llm_internal.h"

/*
 * The @rows x @cols matrix @w (row-major, @cols a multiple of 32) into Q4_0
 * in place: each value becomes scale x q, q in -8..7, with each block's f16
 * scale in @scales (rows x cols / 32, the blocks in @w's order). @h: the
 * inputs' second moment (@cols x @cols, symmetric), damped by @damp times
 * its mean diagonal. @rtn: round to nearest with ggml's scales (the
 * baseline); else error compensation and weighted scale search.
 * Returns NPU_OK, NPU_E_INVAL (@cols), NPU_E_NOMEM or NPU_E_RANGE (@h not
 * positive definite even damped).
 */
NPU_HIDDEN int gptq_q4_0(float *w, int rows, int cols, const double *h, double damp, int rtn,
			 float *scales);
/* tr((w - wq) h (w - wq)^T): the product's squared error over the inputs @h describes. */
NPU_HIDDEN double gptq_loss(const float *w, const float *wq, int rows, int cols, const double *h);

#endif
