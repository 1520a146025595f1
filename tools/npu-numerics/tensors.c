// SPDX-License-Identifier: MIT
/* npu-numerics: host memory, device buffers, scales, quantized tensors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numerics.h"

/* ---- host memory, device buffers, scales ---- */

void die(const char *what, int err)
{
	fprintf(stderr, "npu-numerics: %s: %s\n", what, npu_strerror(err));
	exit(1);
}

double *dalloc(size_t n)
{
	double *p = calloc(n ? n : 1, sizeof(*p));

	if (!p)
		die("host memory", NPU_E_NOMEM);
	return p;
}

static struct buf buf_new(uint64_t size)
{
	struct buf b;
	int err;

	memset(&b, 0, sizeof(b));
	err = npu_bo_alloc(dev, size, &b.bo);
	if (!err)
		err = npu_bo_map(dev, b.bo, &b.p);
	if (err)
		die("device buffer", err);
	return b;
}

static void buf_free(struct buf *b)
{
	if (!b->bo)
		return;
	npu_bo_unmap(dev, b->bo);
	npu_bo_free(dev, b->bo);
	memset(b, 0, sizeof(*b));
}

struct npu_scale scale_of(double v)
{
	struct npu_scale s;
	int err = npu_scale_from_double(v, &s);

	if (err)
		die("scale not representable", err);
	return s;
}

double real_of(struct npu_scale s)
{
	return npu_scale_to_double(s);
}

/* ---- quantized tensors in device memory ---- */

static int32_t type_max(enum npu_dtype dt)
{
	switch (dt) {
	case NPU_I4:
		return 7;
	case NPU_I8:
		return 127;
	case NPU_I16:
		return 32767;
	default:
		return INT32_MAX;
	}
}

/* A packed tensor; @scale is the real tensor scale (TENSOR and GROUP). */
struct qt qt_new(uint32_t rows, uint32_t cols, enum npu_dtype dt,
		 enum npu_scale_mode mode, double scale)
{
	struct qt q;

	memset(&q, 0, sizeof(q));
	q.data = buf_new((uint64_t)rows * npu_row_bytes(dt, cols));
	q.t = npu_tensor_2d(q.data.bo, 0, rows, cols, dt);
	q.t.scale_mode = mode;
	if (mode == NPU_SCALE_TENSOR || mode == NPU_SCALE_GROUP)
		q.t.scale = scale_of(scale);
	if (mode == NPU_SCALE_ROW) {
		q.scales = buf_new((uint64_t)rows * sizeof(struct npu_scale));
		q.t.scale_bo = q.scales.bo;
	}
	return q;
}

void qt_free(struct qt *q)
{
	buf_free(&q->data);
	buf_free(&q->scales);
}

int32_t qt_int(const struct qt *q, uint32_t r, uint32_t c)
{
	const uint8_t *p = (const uint8_t *)q->data.p + r * npu_row_bytes(q->t.dtype, q->t.cols);
	int16_t v16;
	int32_t v32;
	int v4;

	switch (q->t.dtype) {
	case NPU_I4:
		v4 = (p[c / 2] >> (4 * (c & 1))) & 0xf;
		return v4 >= 8 ? v4 - 16 : v4;
	case NPU_I8:
		return (int8_t)p[c];
	case NPU_I16:
		memcpy(&v16, p + 2 * (size_t)c, 2);
		return v16;
	default:
		memcpy(&v32, p + 4 * (size_t)c, 4);
		return v32;
	}
}

void qt_set_int(struct qt *q, uint32_t r, uint32_t c, int32_t v)
{
	uint8_t *p = (uint8_t *)q->data.p + r * npu_row_bytes(q->t.dtype, q->t.cols);
	int16_t v16 = (int16_t)v;
	int sh = 4 * (int)(c & 1);

	switch (q->t.dtype) {
	case NPU_I4:
		p[c / 2] = (uint8_t)((p[c / 2] & ~(0xf << sh)) | ((v & 0xf) << sh));
		break;
	case NPU_I8:
		p[c] = (uint8_t)(int8_t)v;
		break;
	case NPU_I16:
		memcpy(p + 2 * (size_t)c, &v16, 2);
		break;
	default:
		memcpy(p + 4 * (size_t)c, &v, 4);
		break;
	}
}

/* The scale of row r: the tensor scale, or the row's own (ROW). */
double qt_scale(const struct qt *q, uint32_t r)
{
	if (q->t.scale_mode == NPU_SCALE_ROW)
		return real_of(((const struct npu_scale *)q->scales.p)[r]);
	if (q->t.scale_mode == NPU_SCALE_NONE)
		return 1.0;
	return real_of(q->t.scale);
}

double qt_real(const struct qt *q, uint32_t r, uint32_t c)
{
	return qt_int(q, r, c) * qt_scale(q, r);
}

/* All elements dequantized, row-major (caller frees). */
double *qt_reals(const struct qt *q)
{
	double *x = dalloc((size_t)q->t.rows * q->t.cols);
	uint32_t r, c;

	for (r = 0; r < q->t.rows; r++)
		for (c = 0; c < q->t.cols; c++)
			x[(size_t)r * q->t.cols + c] = qt_real(q, r, c);
	return x;
}

static int32_t quant_round(double v, int32_t qmax)
{
	double q = round(v);

	return (int32_t)(q > qmax ? qmax : (q < -qmax ? -qmax : q));
}

/*
 * Store the reals x (rows x cols) into q, as a host would: a ROW tensor gets
 * per-row dynamic scales (row max magnitude -> the type's largest value), a
 * TENSOR one uses its scale; round to nearest, saturate symmetrically.
 */
void qt_fill(struct qt *q, const double *x)
{
	int32_t qmax = type_max(q->t.dtype);
	uint32_t r, c, n = q->t.cols;

	for (r = 0; r < q->t.rows; r++) {
		const double *xr = x + (size_t)r * n;
		double s;

		if (q->t.scale_mode == NPU_SCALE_ROW) {
			struct npu_scale ns;
			double amax = 0;

			for (c = 0; c < n; c++)
				amax = fmax(amax, fabs(xr[c]));
			ns = scale_of(amax > 0 ? amax / qmax : 1.0);
			((struct npu_scale *)q->scales.p)[r] = ns;
			s = real_of(ns);
		} else {
			s = qt_scale(q, r);
		}
		for (c = 0; c < n; c++)
			qt_set_int(q, r, c, quant_round(xr[c] / s, qmax));
	}
}

/*
 * Weights n x k, I8 or I4, as the GROUP scale mode expects: a tensor scale
 * sw and per group of @group columns a uint16 factor f (Q0.16), the group's
 * scale being sw * f / 65536. sw is the largest group scale * 65536/65535,
 * so the largest factor is 65535; factors round up so that no weight clips.
 * The dequantized weights go to wr.
 */
struct qt weights_new(uint32_t n, uint32_t k, enum npu_dtype dt, uint32_t group,
		      const double *wf, double *wr)
{
	uint32_t gpr = k / group, r, g, c;
	int32_t qmax = type_max(dt);
	double *gs = dalloc((size_t)n * gpr), max_gs = 0, sw;
	struct qt w;
	uint16_t *f;

	for (r = 0; r < n; r++)
		for (g = 0; g < gpr; g++) {
			double amax = 0;

			for (c = g * group; c < (g + 1) * group; c++)
				amax = fmax(amax, fabs(wf[(size_t)r * k + c]));
			gs[(size_t)r * gpr + g] = amax / qmax;
			max_gs = fmax(max_gs, amax / qmax);
		}
	w = qt_new(n, k, dt, NPU_SCALE_GROUP, (max_gs > 0 ? max_gs : 1.0) * 65536.0 / 65535.0);
	w.scales = buf_new((uint64_t)n * gpr * sizeof(uint16_t));
	w.t.scale_bo = w.scales.bo;
	sw = real_of(w.t.scale);
	f = w.scales.p;
	for (r = 0; r < n; r++)
		for (g = 0; g < gpr; g++) {
			double fr = ceil(gs[(size_t)r * gpr + g] * 65536.0 / sw);
			uint16_t fi = (uint16_t)(fr < 1 ? 1 : (fr > 65535 ? 65535 : fr));
			double eff = sw * fi / 65536.0;

			f[(size_t)r * gpr + g] = fi;
			for (c = g * group; c < (g + 1) * group; c++) {
				int32_t q = quant_round(wf[(size_t)r * k + c] / eff, qmax);

				qt_set_int(&w, r, c, q);
				wr[(size_t)r * k + c] = q * eff;
			}
		}
	free(gs);
	return w;
}
