// SPDX-License-Identifier: MIT
/* npu-numerics: the ops at a model's ends, EMBEDDING and ARGMAX. */
#include <stdlib.h>

#include "numerics.h"

/* EMBEDDING: rows of an I8 row-scaled table into an I16 tensor-scaled stream. */
void measure_embedding(void)
{
	const uint32_t vocab = 512, n = 128, rows = 32;
	const char *op = "EMBEDDING";
	const char *inputs = "table I8 row-dyn 512x128, rows N(0,sd), sd in [0.05,1]; "
			     "32 ids -> I16 tensor 2^-12";
	double *tf = dalloc((size_t)vocab * n), *ref = dalloc((size_t)rows * n), *tab;
	struct qt qtab, ids, out;
	struct err e = { 0 };
	uint32_t r, i;

	rng_seed(10);
	fill_normal_rows(tf, vocab, n, 0.05, 1.0);
	qtab = qt_new(vocab, n, NPU_I8, NPU_SCALE_ROW, 0);
	qt_fill(&qtab, tf);
	ids = qt_new(rows, 1, NPU_I32, NPU_SCALE_NONE, 0);
	for (r = 0; r < rows; r++)
		qt_set_int(&ids, r, 0, (int32_t)(rng_next() % vocab));
	out = qt_new(rows, n, NPU_I16, NPU_SCALE_TENSOR, 0x1p-12);
	tab = qt_reals(&qtab);

	{
		npu_cmd *cmd = cmd_new();
		int st = npu_op_embedding(cmd, &qtab.t, &ids.t, &out.t);

		if (!check_run(op, inputs, run(cmd, st))) {
			for (r = 0; r < rows; r++)
				for (i = 0; i < n; i++)
					ref[(size_t)r * n + i] = tab[(size_t)qt_int(&ids, r, 0) * n + i];
			err_add_qt(&e, &out, ref);
			print_row(op, inputs, &e, 1);
		}
	}
	qt_free(&qtab);
	qt_free(&ids);
	qt_free(&out);
	free(tf);
	free(ref);
	free(tab);
}

/* ARGMAX: the index of the first maximum; error = |device index - reference index|. */
void measure_argmax(void)
{
	const uint32_t rows = 64, n = 1000;
	const char *op = "ARGMAX";
	const char *inputs = "logits I16 row-dyn 64x1000, N(0,sd), sd in [1,8]; error in index";
	double *xf = dalloc((size_t)rows * n), *x;
	struct qt qx, out;
	struct err e = { 0 };
	uint32_t r, i;

	rng_seed(12);
	fill_normal_rows(xf, rows, n, 1.0, 8.0);
	qx = qt_new(rows, n, NPU_I16, NPU_SCALE_ROW, 0);
	qt_fill(&qx, xf);
	out = qt_new(rows, 1, NPU_I32, NPU_SCALE_NONE, 0);
	x = qt_reals(&qx);

	{
		npu_cmd *cmd = cmd_new();
		int st = npu_op_argmax(cmd, &qx.t, &out.t);

		if (!check_run(op, inputs, run(cmd, st))) {
			for (r = 0; r < rows; r++) {
				uint32_t best = 0;

				for (i = 1; i < n; i++)
					if (x[(size_t)r * n + i] > x[(size_t)r * n + best])
						best = i;
				err_add(&e, qt_int(&out, r, 0), best, 0);
			}
			print_row(op, inputs, &e, 0);
		}
	}
	qt_free(&qx);
	qt_free(&out);
	free(xf);
	free(x);
}
