// SPDX-License-Identifier: MIT
/* npu-numerics: the row norms, RMSNORM and LAYERNORM. */
#include <math.h>
#include <stdlib.h>

#include "numerics.h"

/*
 * RMSNORM: y = x / sqrt(mean(x^2) + eps) * gamma. @amp_lo/@amp_hi: the
 * range of the rows' standard deviations, in real units.
 */
void measure_rmsnorm(const char *inputs, enum npu_dtype xdt,
		     enum npu_scale_mode xmode, double xscale, double amp_lo,
		     double amp_hi, enum npu_dtype odt, uint64_t seed)
{
	const uint32_t rows = 64, k = 512;
	const char *op = "RMSNORM";
	double *xf = dalloc((size_t)rows * k), *gf = dalloc(k), *ref = dalloc((size_t)rows * k);
	double *x, *g, eps;
	struct qt qx, qg, out;
	struct npu_scale seps = scale_of(1e-5);
	struct err e = { 0 };
	uint32_t r, i;

	rng_seed(seed);
	fill_normal_rows(xf, rows, k, amp_lo, amp_hi);
	for (i = 0; i < k; i++)
		gf[i] = rng_uniform(0.5, 1.5);
	qx = qt_new(rows, k, xdt, xmode, xscale);
	qt_fill(&qx, xf);
	qg = qt_new(1, k, NPU_I8, NPU_SCALE_TENSOR, 1.5 / 127);
	qt_fill(&qg, gf);
	out = qt_new(rows, k, odt, NPU_SCALE_ROW, 0);
	x = qt_reals(&qx);
	g = qt_reals(&qg);
	eps = real_of(seps);

	{
		npu_cmd *cmd = cmd_new();
		int st = npu_op_rmsnorm(cmd, &qx.t, &qg.t, seps, &out.t);

		if (!check_run(op, inputs, run(cmd, st))) {
			for (r = 0; r < rows; r++) {
				const double *xr = x + (size_t)r * k;
				double ms = 0, inv;

				for (i = 0; i < k; i++)
					ms += xr[i] * xr[i];
				inv = 1.0 / sqrt(ms / k + eps);
				for (i = 0; i < k; i++)
					ref[(size_t)r * k + i] = xr[i] * inv * g[i];
			}
			err_add_qt(&e, &out, ref);
			print_row(op, inputs, &e, 1);
		}
	}
	qt_free(&qx);
	qt_free(&qg);
	qt_free(&out);
	free(xf);
	free(gf);
	free(ref);
	free(x);
	free(g);
}

/* LAYERNORM: y = (x - mean) / sqrt(var + eps) * gamma + beta. */
void measure_layernorm(void)
{
	const uint32_t rows = 64, k = 512;
	const char *op = "LAYERNORM";
	const char *inputs = "x I16 tensor 2^-10, 64x512, rows N(mu,sd), mu in [-2,2], "
			     "sd in [0.1,4]; gamma, beta I16 tensor; eps 1e-5 -> I16 row-dyn";
	double *xf = dalloc((size_t)rows * k), *gf = dalloc(k), *bf = dalloc(k);
	double *ref = dalloc((size_t)rows * k), *x, *g, *b, eps;
	struct qt qx, qg, qb, out;
	struct npu_scale seps = scale_of(1e-5);
	struct err e = { 0 };
	uint32_t r, i;

	rng_seed(3);
	fill_normal_rows(xf, rows, k, 0.1, 4.0);
	for (r = 0; r < rows; r++) {
		double mu = rng_uniform(-2, 2);

		for (i = 0; i < k; i++)
			xf[(size_t)r * k + i] += mu;
	}
	for (i = 0; i < k; i++) {
		gf[i] = rng_uniform(0.5, 1.5);
		bf[i] = rng_uniform(-0.5, 0.5);
	}
	qx = qt_new(rows, k, NPU_I16, NPU_SCALE_TENSOR, 0x1p-10);
	qt_fill(&qx, xf);
	qg = qt_new(1, k, NPU_I16, NPU_SCALE_TENSOR, 1.5 / 32767);
	qt_fill(&qg, gf);
	qb = qt_new(1, k, NPU_I16, NPU_SCALE_TENSOR, 0.5 / 32767);
	qt_fill(&qb, bf);
	out = qt_new(rows, k, NPU_I16, NPU_SCALE_ROW, 0);
	x = qt_reals(&qx);
	g = qt_reals(&qg);
	b = qt_reals(&qb);
	eps = real_of(seps);

	{
		npu_cmd *cmd = cmd_new();
		int st = npu_op_layernorm(cmd, &qx.t, &qg.t, &qb.t, seps, &out.t);

		if (!check_run(op, inputs, run(cmd, st))) {
			for (r = 0; r < rows; r++) {
				const double *xr = x + (size_t)r * k;
				double mean = 0, var = 0, inv;

				for (i = 0; i < k; i++)
					mean += xr[i];
				mean /= k;
				for (i = 0; i < k; i++)
					var += (xr[i] - mean) * (xr[i] - mean);
				inv = 1.0 / sqrt(var / k + eps);
				for (i = 0; i < k; i++)
					ref[(size_t)r * k + i] = (xr[i] - mean) * inv * g[i] + b[i];
			}
			err_add_qt(&e, &out, ref);
			print_row(op, inputs, &e, 1);
		}
	}
	qt_free(&qx);
	qt_free(&qg);
	qt_free(&qb);
	qt_free(&out);
	free(xf);
	free(gf);
	free(bf);
	free(ref);
	free(x);
	free(g);
	free(b);
}
