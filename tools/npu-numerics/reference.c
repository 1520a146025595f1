// SPDX-License-Identifier: MIT
/* npu-numerics: the double-precision references the ops are measured against. */
#include <math.h>
#include <stdlib.h>

#include "numerics.h"

/* y[m][n] = sum_k x[m][k] * w[n][k] (+ b[n]). */
void matmul_ref(const double *x, const double *w, const double *b, uint32_t rows,
		uint32_t n_out, uint32_t k, double *y)
{
	uint32_t m, n, i;

	for (m = 0; m < rows; m++)
		for (n = 0; n < n_out; n++) {
			double acc = b ? b[n] : 0.0;

			for (i = 0; i < k; i++)
				acc += x[(size_t)m * k + i] * w[(size_t)n * k + i];
			y[(size_t)m * n_out + n] = acc;
		}
}

/* Softmax of x * alpha over the first vis entries; the rest are 0. */
void softmax_ref(const double *x, uint32_t n, uint32_t vis, double alpha, double *p)
{
	double mx = -INFINITY, sum = 0;
	uint32_t j;

	for (j = 0; j < vis; j++)
		mx = fmax(mx, x[j] * alpha);
	for (j = 0; j < n; j++) {
		p[j] = j < vis ? exp(x[j] * alpha - mx) : 0.0;
		sum += p[j];
	}
	for (j = 0; j < n; j++)
		p[j] /= sum;
}

/* Causal GQA: query row m (position pos + m) sees cache rows 0..pos + m. */
void attention_ref(const double *q, const double *k, const double *v, uint32_t rows,
		   uint32_t pos, uint32_t nh, uint32_t nkv, uint32_t hd, double alpha,
		   double *out)
{
	uint32_t qn = nh * hd, kn = nkv * hd, m, h, j, d;
	double *sc = dalloc(pos + rows), *p = dalloc(pos + rows);

	for (m = 0; m < rows; m++) {
		uint32_t len = pos + m + 1;

		for (h = 0; h < nh; h++) {
			uint32_t kh = (h / (nh / nkv)) * hd;

			for (j = 0; j < len; j++) {
				double dot = 0;

				for (d = 0; d < hd; d++)
					dot += q[(size_t)m * qn + h * hd + d] * k[(size_t)j * kn + kh + d];
				sc[j] = dot;
			}
			softmax_ref(sc, len, len, alpha, p);
			for (d = 0; d < hd; d++) {
				double acc = 0;

				for (j = 0; j < len; j++)
					acc += p[j] * v[(size_t)j * kn + kh + d];
				out[(size_t)m * qn + h * hd + d] = acc;
			}
		}
	}
	free(sc);
	free(p);
}

double silu_ref(double x)
{
	return x / (1.0 + exp(-x));
}

double gelu_tanh_ref(double x)
{
	return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

double gelu_erf_ref(double x)
{
	return 0.5 * x * (1.0 + erf(x / M_SQRT2));
}
