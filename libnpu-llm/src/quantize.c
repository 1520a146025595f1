// SPDX-License-Identifier: MIT
/*
 * Weight quantization for the NPU's SCALE_GROUP format: a tensor scale
 * s_w and, per group of columns, a Q0.16 factor f, so that a group's scale
 * is s_w * f / 65536 (docs/numerics.md). The integers are computed with
 * that exact scale, so rounding the factor costs nothing extra. The
 * GGUF loader's SCALE_BLOCK matrices (gguf_quants.c) are read back here
 * too.
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

/* One thread's rows of the step search: gs[] and the largest step it saw. */
struct search {
	const float *w;
	int32_t r0, r1, cols, group_size;
	int qmax;
	double *gs, smax;
};

/* Each group's step: int8 maps its max to 127; int4 searches the clip. */
static void *search_rows(void *arg)
{
	struct search *a = arg;
	int32_t gpr = a->cols / a->group_size, r, g, c;

	for (r = a->r0; r < a->r1; r++)
		for (g = 0; g < gpr; g++) {
			const float *v = a->w + (size_t)r * a->cols + (size_t)g * a->group_size;
			double amax = 0, best, s;
			int k;

			for (c = 0; c < a->group_size; c++)
				amax = fabs(v[c]) > amax ? fabs(v[c]) : amax;
			s = amax > 0 ? amax / a->qmax : 1e-30;
			if (a->qmax == 7 && amax > 0) {
				best = group_error(v, a->group_size, s, a->qmax);
				for (k = 19; k >= 10; k--) {
					double t = amax * k / 20.0 / a->qmax;
					double e = group_error(v, a->group_size, t, a->qmax);

					if (e < best) {
						best = e;
						s = t;
					}
				}
			}
			a->gs[(size_t)r * gpr + g] = s;
			a->smax = fmax(a->smax, s);
		}
	return NULL;
}

int npu_quantize(const float *w, int32_t rows, int32_t cols, int bits, int32_t group_size,
		 struct npu_qmatrix *q)
{
	int32_t gpr, r, g, c;
	int qmax = bits == 8 ? 127 : 7;
	double *gs, smax = 0;
	/* The int4 search tries 11 steps per group: rows split over the cores. */
	struct search part[LLM_MAX_PARTS];
	int n = llm_parts(LLM_MAX_PARTS), i;

	if (!w || !q || rows < 1 || cols < 1 || (bits != 8 && bits != 4) || group_size < 1 ||
	    cols % group_size || (bits == 4 && cols % 2))
		return NPU_E_INVAL;
	memset(q, 0, sizeof(*q));
	gpr = cols / group_size;
	q->rows = rows;
	q->cols = cols;
	q->group_size = group_size;
	q->bits = bits;
	q->q = calloc((size_t)rows, npu_row_bytes(bits == 8 ? NPU_I8 : NPU_I4, (uint32_t)cols));
	q->factors = calloc((size_t)rows * gpr, sizeof(*q->factors));
	gs = calloc((size_t)rows * gpr, sizeof(*gs));
	if (!q->q || !q->factors || !gs) {
		free(gs);
		npu_qmatrix_free(q);
		return NPU_E_NOMEM;
	}
	if (n > rows)
		n = rows;
	for (i = 0; i < n; i++) {
		part[i] = (struct search){ w, (int32_t)((int64_t)rows * i / n),
					   (int32_t)((int64_t)rows * (i + 1) / n), cols, group_size,
					   qmax, gs, 0 };
	}
	llm_run_parts(search_rows, part, sizeof(part[0]), n);
	for (i = 0; i < n; i++)
		smax = fmax(smax, part[i].smax);
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

/* SCALE_BLOCK: code and record as the NPU reads them (npu_cmd.h's MATMUL). */
static float block_value(const struct npu_qmatrix *q, int32_t r, int32_t c)
{
	const struct npu_block_format *f = &q->block;
	uint64_t rb = ((uint64_t)q->cols * q->bits + 7) / 8, bit = (uint64_t)c * q->bits;
	uint64_t g = (uint64_t)q->cols / f->group_size, nsb = g / f->block_groups;
	uint64_t j = (uint64_t)c / f->group_size, sb = j / f->block_groups;
	uint64_t sub = 2 * nsb * (f->flags & NPU_BLOCK_MIN ? 2 : 1);
	const uint8_t *row = q->q + r * rb;
	const uint8_t *rec = q->records + r * npu_block_record_bytes(f, (uint32_t)q->cols);
	uint32_t v = row[bit / 8];
	double sc = 1, mn = 1, w;

	if (bit / 8 + 1 < rb)
		v |= (uint32_t)row[bit / 8 + 1] << 8;
	v = (v >> (bit & 7)) & ((1u << q->bits) - 1);
	if (f->flags & NPU_BLOCK_SUB_S8) {
		sc = (int8_t)rec[sub + j];
		mn = f->flags & NPU_BLOCK_MIN ? rec[sub + g + j] : 1;
	} else if (f->flags & NPU_BLOCK_SUB_U4) {
		sc = rec[sub + j] & 15;
		mn = rec[sub + j] >> 4;
	}
	w = npu_half_to_double((uint16_t)(rec[2 * sb] | rec[2 * sb + 1] << 8)) * sc *
	    ((double)v - f->zero);
	if (f->flags & NPU_BLOCK_MIN)
		w -= npu_half_to_double((uint16_t)(rec[2 * (nsb + sb)] |
						   rec[2 * (nsb + sb) + 1] << 8)) * mn;
	return (float)(npu_scale_to_double(q->scale) * w);
}

float npu_qmatrix_value(const struct npu_qmatrix *q, int32_t r, int32_t c)
{
	size_t at = (size_t)r * q->cols + c;
	double step;
	int v;

	if (q->block.block_groups)
		return block_value(q, r, c);
	step = npu_scale_to_double(q->scale) *
	       q->factors[(size_t)r * (q->cols / q->group_size) + c / q->group_size] / 65536.0;

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
	free(q->records);
	memset(q, 0, sizeof(*q));
}
