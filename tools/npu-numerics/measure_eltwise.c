// SPDX-License-Identifier: MIT
/* npu-numerics: SOFTMAX, SILU, GELU, ADD, MUL and QUANTIZE. */
#include <math.h>
#include <stdlib.h>

#include "numerics.h"

/* SOFTMAX of x * alpha per row; with @causal, column j of row r is masked when j > pos + r. */
void measure_softmax(const char *op, const char *inputs, int causal,
		     enum npu_dtype odt, double oscale, uint64_t seed)
{
	const uint32_t rows = 64, n = 256, pos = 100;
	double *xf = dalloc((size_t)rows * n), *ref = dalloc((size_t)rows * n), *x, alpha;
	struct npu_scale salpha = scale_of(0.125);
	struct npu_pos cpos = { pos, 0, 0 };
	struct qt qx, out;
	struct err e = { 0 };
	uint32_t r;

	rng_seed(seed);
	fill_normal_rows(xf, rows, n, 8.0, 32.0);
	qx = qt_new(rows, n, NPU_I16, NPU_SCALE_TENSOR, 0x1p-8);
	qt_fill(&qx, xf);
	out = qt_new(rows, n, odt, NPU_SCALE_TENSOR, oscale);
	x = qt_reals(&qx);
	alpha = real_of(salpha);

	{
		npu_cmd *cmd = cmd_new();
		int st = npu_op_softmax(cmd, &qx.t, salpha, causal ? &cpos : NULL, &out.t);

		if (!check_run(op, inputs, run(cmd, st))) {
			for (r = 0; r < rows; r++) {
				uint32_t vis = causal && pos + r + 1 < n ? pos + r + 1 : n;

				softmax_ref(x + (size_t)r * n, n, vis, alpha, ref + (size_t)r * n);
			}
			err_add_qt(&e, &out, ref);
			print_row(op, inputs, &e, 1);
		}
	}
	qt_free(&qx);
	qt_free(&out);
	free(xf);
	free(ref);
	free(x);
}

/*
 * SILU and GELU (tanh form), element-wise, on rows of standard deviation
 * in [amp_lo, amp_hi]. @erf_ref: compare GELU with the exact erf form
 * instead (the cost of the tanh approximation).
 */
void measure_activation(const char *op, const char *inputs, int gelu, int erf_ref,
			enum npu_dtype dt, enum npu_scale_mode xmode, double xscale,
			double amp_lo, double amp_hi, uint64_t seed)
{
	const uint32_t rows = 64, n = 1024;
	double *xf = dalloc((size_t)rows * n), *ref = dalloc((size_t)rows * n), *x;
	struct qt qx, out;
	struct err e = { 0 };
	size_t i;

	rng_seed(seed);
	fill_normal_rows(xf, rows, n, amp_lo, amp_hi);
	qx = qt_new(rows, n, dt, xmode, xscale);
	qt_fill(&qx, xf);
	out = qt_new(rows, n, dt, NPU_SCALE_ROW, 0);
	x = qt_reals(&qx);

	{
		npu_cmd *cmd = cmd_new();
		int st = gelu ? npu_op_gelu(cmd, &qx.t, &out.t) : npu_op_silu(cmd, &qx.t, &out.t);

		if (!check_run(op, inputs, run(cmd, st))) {
			for (i = 0; i < (size_t)rows * n; i++)
				ref[i] = !gelu ? silu_ref(x[i]) :
					 erf_ref ? gelu_erf_ref(x[i]) : gelu_tanh_ref(x[i]);
			err_add_qt(&e, &out, ref);
			print_row(op, inputs, &e, 1);
		}
	}
	qt_free(&qx);
	qt_free(&out);
	free(xf);
	free(ref);
	free(x);
}

/* ADD (residual: a I16 tensor-scaled, b I16 row-dyn) and MUL (I8 row-dyn operands). */
void measure_binary(const char *op, const char *inputs, int add, uint64_t seed)
{
	const uint32_t rows = 64, n = 1024;
	enum npu_dtype dt = add ? NPU_I16 : NPU_I8;
	double *af = dalloc((size_t)rows * n), *bf = dalloc((size_t)rows * n);
	double *ref = dalloc((size_t)rows * n), *a, *b;
	struct qt qa, qb, out;
	struct err e = { 0 };
	size_t i;

	rng_seed(seed);
	fill_normal_rows(af, rows, n, 0.5, 2.0);
	fill_normal_rows(bf, rows, n, 0.05, 2.0);
	qa = add ? qt_new(rows, n, dt, NPU_SCALE_TENSOR, 0x1p-11) : qt_new(rows, n, dt, NPU_SCALE_ROW, 0);
	qt_fill(&qa, af);
	qb = qt_new(rows, n, dt, NPU_SCALE_ROW, 0);
	qt_fill(&qb, bf);
	out = add ? qt_new(rows, n, dt, NPU_SCALE_TENSOR, 0x1p-11) : qt_new(rows, n, dt, NPU_SCALE_ROW, 0);
	a = qt_reals(&qa);
	b = qt_reals(&qb);

	{
		npu_cmd *cmd = cmd_new();
		int st = add ? npu_op_add(cmd, &qa.t, &qb.t, &out.t) : npu_op_mul(cmd, &qa.t, &qb.t, &out.t);

		if (!check_run(op, inputs, run(cmd, st))) {
			for (i = 0; i < (size_t)rows * n; i++)
				ref[i] = add ? a[i] + b[i] : a[i] * b[i];
			err_add_qt(&e, &out, ref);
			print_row(op, inputs, &e, 1);
		}
	}
	qt_free(&qa);
	qt_free(&qb);
	qt_free(&out);
	free(af);
	free(bf);
	free(ref);
	free(a);
	free(b);
}

/* QUANTIZE: I16 tensor-scaled rows of very different magnitudes to I8 per-row dynamic. */
void measure_quantize(void)
{
	const uint32_t rows = 32, n = 1024;
	const char *op = "QUANTIZE";
	const char *inputs = "x I16 tensor 2^-10, 32x1024, rows N(0,sd), sd in [0.05,6] "
			     "-> I8 row-dyn";
	double *xf = dalloc((size_t)rows * n), *x;
	struct qt qx, out;
	struct err e = { 0 };

	rng_seed(11);
	fill_normal_rows(xf, rows, n, 0.05, 6.0);
	qx = qt_new(rows, n, NPU_I16, NPU_SCALE_TENSOR, 0x1p-10);
	qt_fill(&qx, xf);
	out = qt_new(rows, n, NPU_I8, NPU_SCALE_ROW, 0);
	x = qt_reals(&qx);

	{
		npu_cmd *cmd = cmd_new();
		int st = npu_op_quantize(cmd, &qx.t, &out.t);

		if (!check_run(op, inputs, run(cmd, st))) {
			err_add_qt(&e, &out, x);
			print_row(op, inputs, &e, 1);
		}
	}
	qt_free(&qx);
	qt_free(&out);
	free(xf);
	free(x);
}
