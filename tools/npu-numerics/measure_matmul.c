// SPDX-License-Identifier: MIT
/* npu-numerics: MATMUL. */
#include <stdio.h>
#include <stdlib.h>

#include "numerics.h"

/*
 * MATMUL: x I8 with per-row dynamic scales, weights I8 or I4 in groups, an
 * optional I32 bias. Two rows: against the dequantized inputs, and against
 * the float weights and activations before quantization.
 */
void measure_matmul(const char *op, enum npu_dtype wdt, uint32_t group, int with_bias,
		    enum npu_dtype odt, enum npu_scale_mode omode, double oscale,
		    const char *inputs, uint64_t seed)
{
	const uint32_t rows = 32, k = 512, n_out = 256;
	double *xf = dalloc((size_t)rows * k), *wf = dalloc((size_t)n_out * k);
	double *wr = dalloc((size_t)n_out * k), *bf = dalloc(n_out), *br = dalloc(n_out);
	double *ref = dalloc((size_t)rows * n_out), *xr;
	struct qt x, w, b, out;
	struct err e_deq = { 0 }, e_flt = { 0 };
	char name[96];
	uint32_t n, i;

	rng_seed(seed);
	fill_normal_rows(xf, rows, k, 0.25, 4.0);
	for (n = 0; n < n_out; n++) {
		double amp = 0.02 * rng_uniform(0.25, 2.0);

		for (i = 0; i < k; i++)
			wf[(size_t)n * k + i] = amp * rng_normal();
		bf[n] = 0.5 * rng_normal();
	}
	x = qt_new(rows, k, NPU_I8, NPU_SCALE_ROW, 0);
	qt_fill(&x, xf);
	xr = qt_reals(&x);
	w = weights_new(n_out, k, wdt, group, wf, wr);
	b = qt_new(1, n_out, NPU_I32, NPU_SCALE_TENSOR, 0x1p-20);
	qt_fill(&b, bf);
	for (n = 0; n < n_out; n++)
		br[n] = qt_real(&b, 0, n);
	out = qt_new(rows, n_out, odt, omode, oscale);

	{
		npu_cmd *cmd = cmd_new();
		int st = npu_op_matmul(cmd, &x.t, &w.t, group, with_bias ? &b.t : NULL, &out.t);

		if (!check_run(op, inputs, run(cmd, st))) {
			matmul_ref(xr, wr, with_bias ? br : NULL, rows, n_out, k, ref);
			err_add_qt(&e_deq, &out, ref);
			print_row(op, inputs, &e_deq, 1);
			matmul_ref(xf, wf, with_bias ? bf : NULL, rows, n_out, k, ref);
			err_add_qt(&e_flt, &out, ref);
			snprintf(name, sizeof(name), "%s vs float", op);
			print_row(name, "same, reference on the unquantized float x and W", &e_flt, 1);
		}
	}
	qt_free(&x);
	qt_free(&w);
	qt_free(&b);
	qt_free(&out);
	free(xf);
	free(wf);
	free(wr);
	free(bf);
	free(br);
	free(ref);
	free(xr);
}
