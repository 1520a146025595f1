// SPDX-License-Identifier: MIT
/*
 * Weight quantization for the NPU's SCALE_GROUP format: a tensor scale
 * s_w and, per group of columns, a Q0.16 factor f, so that a group's scale
 * is s_w * f / 65536 (docs/numerics.md). The integers are computed with
 * that exact scale, so rounding the factor costs nothing extra.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

/*
 * round() (ties away from zero) without the libm call, for |x| < 2^62:
 * x - (long long)x is exact, so this is round() bit for bit.
 */
static inline double round_away(double x)
{
	long long i = (long long)x;
	double f = x - (double)i;

	return (double)(i + (f >= 0.5) - (f <= -0.5));
}

/* Squared error of quantizing v[0..n) with step @s into [-qmax - 1, qmax]. */
static double group_error(const float *v, int32_t n, double s, int qmax)
{
	double e = 0;
	int32_t i;

	for (i = 0; i < n; i++) {
		double q = round_away(v[i] / s), lo = -qmax - (qmax == 7);

		q = q < lo ? lo : q > qmax ? qmax : q;

		e += (q * s - v[i]) * (q * s - v[i]);
	}
	return e;
}

int npu_quantize(const float *w, int32_t rows, int32_t cols, int bits, int32_t group_size,
		 struct npu_qmatrix *q)
{
	int32_t gpr, r, g, c;
	int qmax = bits == 8 ? 127 : 7;
	double *gs, smax = 0;

	if (!w || !q || rows < 1 || cols < 1 || (bits != 8 && bits != 4) || group_size < 1 ||
	    cols % group_size || (bits == 4 && cols % 2))
		return NPU_E_INVAL;
	memset(q, 0, sizeof(*q));
	gpr = cols / group_size;
	q->rows = rows;
	q->cols = cols;
	q->group_size = group_size;
	q->bits = bits;
	q->q = calloc((size_t)rows, bits == 8 ? (size_t)cols : (size_t)cols / 2);
	q->factors = calloc((size_t)rows * gpr, sizeof(*q->factors));
	gs = calloc((size_t)rows * gpr, sizeof(*gs));
	if (!q->q || !q->factors || !gs) {
		free(gs);
		npu_qmatrix_free(q);
		return NPU_E_NOMEM;
	}
	/* Each group's step: int8 maps its max to 127; int4 searches the clip. */
	for (r = 0; r < rows; r++)
		for (g = 0; g < gpr; g++) {
			const float *v = w + (size_t)r * cols + (size_t)g * group_size;
			double amax = 0, best, s;
			int k;

			for (c = 0; c < group_size; c++)
				amax = fabs(v[c]) > amax ? fabs(v[c]) : amax;
			s = amax > 0 ? amax / qmax : 1e-30;
			if (bits == 4 && amax > 0) {
				best = group_error(v, group_size, s, qmax);
				for (k = 19; k >= 10; k--) {
					double t = amax * k / 20.0 / qmax;
					double e = group_error(v, group_size, t, qmax);

					if (e < best) {
						best = e;
						s = t;
					}
				}
			}
			gs[(size_t)r * gpr + g] = s;
			smax = fmax(smax, s);
		}
	if (npu_scale_from_double(smax, &q->scale)) {
		free(gs);
		npu_qmatrix_free(q);
		return NPU_E_RANGE;
	}
	smax = npu_scale_to_double(q->scale);
	for (r = 0; r < rows; r++)
		for (g = 0; g < gpr; g++) {
			size_t gi = (size_t)r * gpr + g;
			long f = lround(gs[gi] / smax * 65536.0);
			double step;

			f = f < 1 ? 1 : f > 65535 ? 65535 : f;
			q->factors[gi] = (uint16_t)f;
			step = smax * f / 65536.0;
			for (c = g * group_size; c < (g + 1) * group_size; c++) {
				double x = round_away(w[(size_t)r * cols + c] / step);
				int v = x < -qmax - (bits == 4) ? -qmax - (bits == 4) :
					x > qmax ? qmax : (int)x;
				size_t at = (size_t)r * cols + c;

				if (bits == 8)
					q->q[at] = (uint8_t)(int8_t)v;
				else
					q->q[at / 2] |= (uint8_t)((v & 15) << (4 * (c & 1)));
			}
		}
	free(gs);
	return NPU_OK;
}

float npu_qmatrix_value(const struct npu_qmatrix *q, int32_t r, int32_t c)
{
	size_t at = (size_t)r * q->cols + c;
	double step = npu_scale_to_double(q->scale) *
		      q->factors[(size_t)r * (q->cols / q->group_size) + c / q->group_size] / 65536.0;
	int v;

	if (q->bits == 8)
		v = (int8_t)q->q[at];
	else
		v = (int8_t)(q->q[at / 2] << (4 * !(c & 1))) >> 4;
	return (float)(v * step);
}

void npu_qmatrix_free(struct npu_qmatrix *q)
{
	if (!q)
		return;
	free(q->q);
	free(q->factors);
	memset(q, 0, sizeof(*q));
}
