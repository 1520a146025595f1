// SPDX-License-Identifier: MIT
/*
 * Q4_0 with error compensation (the GPTQ method: Frantar et al., 2022).
 * A matrix's rows are quantized a column at a time; each column's rounding
 * error is spread over the columns not yet quantized, in proportion to how
 * the layer's inputs correlate (H, their second moment over calibration
 * text), so the error of the product W·x, not of W, is what stays small.
 * Each block of 32 gets its f16 scale when the loop reaches it, chosen
 * from the block's compensated values to minimize its error weighted by
 * its inputs' energy (diag H), as an importance matrix weighs it.
 * GPTQ's one pass leaves gains behind; two exact moves on the same error
 * take them: single integers stepped by one while the product's error
 * falls (coordinate descent on tr(dW H dW^T), whose gradient is kept up
 * to date a column at a time), and each row's block scales refit by least
 * squares to the integers chosen.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gptq.h"
#include "model_internal.h"

#define QBLOCK 32

/* In-place lower Cholesky factor of the @n x @n symmetric @a; 1 when not positive definite. */
static int cholesky(double *a, int n)
{
	int i, j, k;

	for (j = 0; j < n; j++) {
		double s = a[(size_t)j * n + j];

		for (k = 0; k < j; k++)
			s -= a[(size_t)j * n + k] * a[(size_t)j * n + k];
		if (!(s > 0))
			return 1;
		a[(size_t)j * n + j] = sqrt(s);
		for (i = j + 1; i < n; i++) {
			double t = a[(size_t)i * n + j];

			for (k = 0; k < j; k++)
				t -= a[(size_t)i * n + k] * a[(size_t)j * n + k];
			a[(size_t)i * n + j] = t / a[(size_t)j * n + j];
		}
		for (k = j + 1; k < n; k++)
			a[(size_t)j * n + k] = 0;
	}
	return 0;
}

/* @l (lower Cholesky factor of A) into A's inverse, in @inv; 1 out of memory. */
static int spd_inverse(const double *l, double *inv, int n)
{
	double *li = calloc((size_t)n * n, sizeof(*li));
	int i, j, k;

	if (!li)
		return 1;
	/* L^-1, lower triangular, column by column. */
	for (j = 0; j < n; j++) {
		li[(size_t)j * n + j] = 1 / l[(size_t)j * n + j];
		for (i = j + 1; i < n; i++) {
			double s = 0;

			for (k = j; k < i; k++)
				s += l[(size_t)i * n + k] * li[(size_t)k * n + j];
			li[(size_t)i * n + j] = -s / l[(size_t)i * n + i];
		}
	}
	/* A^-1 = L^-T L^-1. */
	for (i = 0; i < n; i++)
		for (j = 0; j <= i; j++) {
			double s = 0;

			for (k = i; k < n; k++)
				s += li[(size_t)k * n + i] * li[(size_t)k * n + j];
			inv[(size_t)i * n + j] = s;
			inv[(size_t)j * n + i] = s;
		}
	free(li);
	return 0;
}

static float half_round(float f)
{
	return (float)npu_half_to_double(llm_float_to_half(f));
}

static int q4(float w, float d)
{
	int q = d ? (int)lrintf(w / d) : 0;

	return q < -8 ? -8 : q > 7 ? 7 : q;
}

/* A block's scale: ggml's (its largest magnitude maps to -8) or a smaller one, by error. */
static float block_scale(const float *w, const double *imp, int rtn)
{
	float max = 0, best_d = 0, d;
	double best = INFINITY, e;
	int j, s;

	for (j = 0; j < QBLOCK; j++)
		if (fabsf(w[j]) > fabsf(max))
			max = w[j];
	if (rtn || !max)
		return half_round(max / -8);
	for (s = 0; s <= 16; s++) {
		d = half_round(max / -8 * (1.1f - 0.025f * (float)s));
		for (j = 0, e = 0; j < QBLOCK; j++) {
			double r = w[j] - d * (float)q4(w[j], d);

			e += imp[j] * r * r;
		}
		if (e < best) {
			best = e;
			best_d = d;
		}
	}
	return best_d;
}

double gptq_loss(const float *w, const float *wq, int rows, int cols, const double *h)
{
	double *r = malloc((size_t)cols * sizeof(*r)), loss = 0;
	int i, j, k;

	if (!r)
		return NAN;
	for (i = 0; i < rows; i++) {
		for (j = 0; j < cols; j++)
			r[j] = (double)w[(size_t)i * cols + j] - wq[(size_t)i * cols + j];
		for (j = 0; j < cols; j++) {
			double s = 0;

			for (k = 0; k < cols; k++)
				s += h[(size_t)j * cols + k] * r[k];
			loss += r[j] * s;
		}
	}
	free(r);
	return loss;
}

int gptq_factor(struct gptq_factor *f, const double *h, int cols, double damp)
{
	size_t n = (size_t)cols * cols;
	double *a = malloc(n * sizeof(*a)), mean = 0;
	int j, ret = NPU_OK;

	f->cols = cols;
	f->u = malloc(n * sizeof(*f->u));
	f->imp = malloc((size_t)cols * sizeof(*f->imp));
	if (!a || !f->u || !f->imp) {
		ret = NPU_E_NOMEM;
		goto out;
	}
	memcpy(a, h, n * sizeof(*a));
	for (j = 0; j < cols; j++)
		mean += a[(size_t)j * cols + j] / cols;
	/* A column no input reached is free to round anyhow; damping keeps H invertible. */
	for (j = 0; j < cols; j++) {
		if (!(a[(size_t)j * cols + j] > 0))
			a[(size_t)j * cols + j] = mean > 0 ? mean : 1;
		a[(size_t)j * cols + j] += damp * (mean > 0 ? mean : 1);
		f->imp[j] = a[(size_t)j * cols + j];
	}
	if (cholesky(a, cols))
		ret = NPU_E_RANGE;
	else if (spd_inverse(a, f->u, cols))
		ret = NPU_E_NOMEM;
	/* The upper factor of H^-1 (U^T U): the transposed lower Cholesky factor. */
	else if (cholesky(f->u, cols))
		ret = NPU_E_RANGE;
out:
	free(a);
	if (ret)
		gptq_factor_free(f);
	return ret;
}

void gptq_factor_free(struct gptq_factor *f)
{
	free(f->u);
	free(f->imp);
	f->u = NULL;
	f->imp = NULL;
}

void gptq_q4_0(float *w, int rows, const struct gptq_factor *f, int rtn, float *scales)
{
	const double *u = f->u;
	int cols = f->cols, i, j, k;

	for (i = 0; i < rows; i++) {
		float *row = w + (size_t)i * cols;

		for (j = 0; j < cols; j++) {
			float d, qv;
			double err;

			if (j % QBLOCK == 0)
				scales[((size_t)i * cols + j) / QBLOCK] = block_scale(row + j,
										      f->imp + j, rtn);
			d = scales[((size_t)i * cols + j) / QBLOCK];
			qv = d * (float)q4(row[j], d);
			err = ((double)row[j] - qv) / u[(size_t)j * cols + j];
			row[j] = qv;
			for (k = j + 1; !rtn && k < cols; k++)
				row[k] -= (float)(err * u[(size_t)k * cols + j]);
		}
	}
}

/* Solves the SPD @n x @n @a x = @b in place (b becomes x); 1 when singular. */
static int spd_solve(double *a, double *b, int n)
{
	int i, k;

	if (cholesky(a, n))
		return 1;
	for (i = 0; i < n; i++) {
		for (k = 0; k < i; k++)
			b[i] -= a[(size_t)i * n + k] * b[k];
		b[i] /= a[(size_t)i * n + i];
	}
	for (i = n - 1; i >= 0; i--) {
		for (k = i + 1; k < n; k++)
			b[i] -= a[(size_t)k * n + i] * b[k];
		b[i] /= a[(size_t)i * n + i];
	}
	return 0;
}

int gptq_refit(const float *w, float *wq, int rows, int cols, const double *h, float *scales)
{
	int nb = cols / QBLOCK, i, j, k, b, c, ret = NPU_OK;
	double *hw = malloc((size_t)cols * sizeof(*hw));
	double *a = malloc((size_t)nb * nb * sizeof(*a)), *x = malloc((size_t)nb * sizeof(*x));
	float *q = malloc((size_t)cols * sizeof(*q));

	if (!hw || !a || !x || !q) {
		ret = NPU_E_NOMEM;
		goto out;
	}
	for (i = 0; i < rows; i++) {
		const float *row = w + (size_t)i * cols;
		float *rq = wq + (size_t)i * cols, *d = scales + (size_t)i * nb;

		for (j = 0; j < cols; j++)
			q[j] = d[j / QBLOCK] ? rq[j] / d[j / QBLOCK] : 0;
		/* Minimize (w - Q d)^T H (w - Q d) over d: (Q^T H Q) d = Q^T H w. */
		for (j = 0; j < cols; j++) {
			for (k = 0, hw[j] = 0; k < cols; k++)
				hw[j] += h[(size_t)j * cols + k] * row[k];
		}
		for (b = 0; b < nb; b++) {
			for (j = b * QBLOCK, x[b] = 0; j < (b + 1) * QBLOCK; j++)
				x[b] += q[j] * hw[j];
			for (c = 0; c <= b; c++) {
				double s = 0;

				for (j = b * QBLOCK; j < (b + 1) * QBLOCK; j++)
					for (k = c * QBLOCK; k < (c + 1) * QBLOCK; k++)
						s += q[j] * h[(size_t)j * cols + k] * q[k];
				a[(size_t)b * nb + c] = a[(size_t)c * nb + b] = s;
			}
			/*
			 * A block whose integers (or inputs) are all zero keeps
			 * its scale out of the system: an identity row and column
			 * (the columns past b are filled, and zeroed, later).
			 */
			if (!(a[(size_t)b * nb + b] > 0)) {
				for (c = 0; c < nb; c++)
					a[(size_t)b * nb + c] = a[(size_t)c * nb + b] = 0;
				a[(size_t)b * nb + b] = 1;
				x[b] = d[b];
			}
		}
		if (spd_solve(a, x, nb))
			continue;	/* keep the row as it is */
		for (b = 0; b < nb && isfinite(half_round((float)x[b])); b++)
			;
		if (b < nb)
			continue;	/* a scale beyond binary16: keep the row */
		for (b = 0; b < nb; b++) {
			d[b] = half_round((float)x[b]);
			for (j = b * QBLOCK; j < (b + 1) * QBLOCK; j++)
				rq[j] = d[b] * q[j];
		}
	}
out:
	free(hw);
	free(a);
	free(x);
	free(q);
	return ret;
}

int gptq_descend(const float *w, float *wq, int rows, int cols, const double *h,
		 const float *scales)
{
	double *g = malloc((size_t)cols * sizeof(*g));
	int i, j, k, sweep, moved;

	if (!g)
		return NPU_E_NOMEM;
	for (i = 0; i < rows; i++) {
		const float *row = w + (size_t)i * cols;
		float *rq = wq + (size_t)i * cols;
		const float *d = scales + (size_t)i * (cols / QBLOCK);

		/* g = H r, r = w - wq: the loss r^T H r's half gradient. */
		for (j = 0; j < cols; j++) {
			g[j] = 0;
			for (k = 0; k < cols; k++)
				g[j] += h[(size_t)j * cols + k] * ((double)row[k] - rq[k]);
		}
		for (sweep = 0, moved = 1; moved && sweep < 50; sweep++) {
			for (j = 0, moved = 0; j < cols; j++) {
				double dj = d[j / QBLOCK], hjj = h[(size_t)j * cols + j];
				int q, step;

				if (!dj)
					continue;
				q = (int)lrint(rq[j] / dj);
				/* r_j -= step * dj changes the loss by dj^2 hjj - 2 step dj g_j. */
				step = g[j] * dj > 0 ? 1 : -1;
				if (q + step < -8 || q + step > 7 ||
				    dj * dj * hjj - 2 * step * dj * g[j] >= -1e-12 * hjj * dj * dj)
					continue;
				rq[j] = (float)(dj * (q + step));
				for (k = 0; k < cols; k++)
					g[k] -= step * dj * h[(size_t)k * cols + j];
				moved = 1;
			}
		}
	}
	free(g);
	return NPU_OK;
}

int gptq_target(const struct gptq_factor *f, const double *c, const float *w, int rows,
		float *out)
{
	const double *u = f->u;
	int cols = f->cols, i, j, k;
	double *y = malloc(2 * (size_t)cols * sizeof(*y)), *z;

	if (!y)
		return NPU_E_NOMEM;
	z = y + cols;
	for (i = 0; i < rows; i++) {
		const float *row = w + (size_t)i * cols;

		/* y = C^T w, z = U y, out = U^T z = H^-1 C^T w. */
		for (j = 0; j < cols; j++) {
			y[j] = 0;
			for (k = 0; k < cols; k++)
				y[j] += c[(size_t)k * cols + j] * row[k];
		}
		for (j = 0; j < cols; j++) {
			z[j] = 0;
			for (k = j; k < cols; k++)
				z[j] += u[(size_t)k * cols + j] * y[k];
		}
		for (j = 0; j < cols; j++) {
			double s = 0;

			for (k = 0; k <= j; k++)
				s += u[(size_t)j * cols + k] * z[k];
			out[(size_t)i * cols + j] = (float)s;
		}
	}
	free(y);
	return NPU_OK;
}
