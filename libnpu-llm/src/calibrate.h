/* SPDX-License-Identifier: MIT */
/* A matrix site's paired statistics, float against quantized inputs (calibrate.c). */
#ifndef LLM_CALIBRATE_H
#define LLM_CALIBRATE_H

#include "llm_internal.h"

/*
 * Over the calibration text, with x_f the float model's input to layer
 * @layer's @site and x_q the quantized copy's: hf = sum x_f x_f^T, hq =
 * sum x_q x_q^T, c = sum x_f x_q^T, each @n x @n, row-major.
 */
struct calib_pair {
	int layer;
	enum ref_site site;
	int n;
	double *hf, *hq, *c;
};

NPU_HIDDEN int calib_pair_init(struct calib_pair *cp, int layer, enum ref_site site, int n);
NPU_HIDDEN void calib_pair_free(struct calib_pair *cp);
/*
 * Runs @f and @q over @tokens (@chunk positions at a time, each chunk from
 * position 0) and sums @cp's statistics. NPU_OK, NPU_E_NOMEM or the
 * reference's error.
 */
NPU_HIDDEN int calib_pair_gather(const struct npu_model *f, const struct npu_model *q,
				 const int32_t *tokens, int n_tokens, int chunk,
				 struct calib_pair *cp);

#endif
