// SPDX-License-Identifier: MIT
/*
 * npu-numerics - measure what every integer op of the NPU costs in accuracy.
 *
 * Each op runs on randomized inputs through libnpu's "cpu" backend (the
 * firmware's own kernels, in-process). Its output, dequantized with the
 * output scales, is compared with a double-precision computation of the
 * same op on the same dequantized inputs: the error shown is what the
 * integer op adds (its intermediate roundings, its tables, the rounding of
 * its output), not the quantization of its inputs. Rows marked "vs float"
 * compare instead with the op on the original, unquantized float inputs:
 * that is the cost of quantizing them.
 *
 * An LSB is the output's scale (the row's scale for a dynamic ROW output).
 *
 * usage: npu-numerics [--markdown]
 * Deterministic (fixed seeds). Exit status 1 if any op fails to run.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <npu/npu.h>

static npu_device *dev;
static int n_measured, n_failed;

/* ---- random numbers: xorshift64*, reseeded by every measurement ---- */

static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
	rng_state = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
}

static uint64_t rng_next(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, 1). */
static double rng_unit(void)
{
	return (double)(rng_next() >> 11) * 0x1p-53;
}

static double rng_uniform(double lo, double hi)
{
	return lo + (hi - lo) * rng_unit();
}

/* Standard normal (Box-Muller). */
static double rng_normal(void)
{
	double u = 1.0 - rng_unit(), v = rng_unit();

	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* rows x cols normal values, each row scaled by its own amplitude in [lo, hi]. */
static void fill_normal_rows(double *x, uint32_t rows, uint32_t cols, double lo, double hi)
{
	uint32_t r, c;

	for (r = 0; r < rows; r++) {
		double amp = rng_uniform(lo, hi);

		for (c = 0; c < cols; c++)
			x[(size_t)r * cols + c] = amp * rng_normal();
	}
}

/* ---- host memory, device buffers, scales ---- */

static void die(const char *what, int err)
{
	fprintf(stderr, "npu-numerics: %s: %s\n", what, npu_strerror(err));
	exit(1);
}

static double *dalloc(size_t n)
{
	double *p = calloc(n ? n : 1, sizeof(*p));

	if (!p)
		die("host memory", NPU_E_NOMEM);
	return p;
}

struct buf {
	npu_bo bo;
	void *p;
};

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

static struct npu_scale scale_of(double v)
{
	struct npu_scale s;
	int err = npu_scale_from_double(v, &s);

	if (err)
		die("scale not representable", err);
	return s;
}

static double real_of(struct npu_scale s)
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

struct qt {
	struct npu_tensor t;
	struct buf data;
	struct buf scales;	/* ROW: struct npu_scale per row; GROUP: uint16 factors */
};

/* A packed tensor; @scale is the real tensor scale (TENSOR and GROUP). */
static struct qt qt_new(uint32_t rows, uint32_t cols, enum npu_dtype dt,
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

static void qt_free(struct qt *q)
{
	buf_free(&q->data);
	buf_free(&q->scales);
}

static int32_t qt_int(const struct qt *q, uint32_t r, uint32_t c)
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

static void qt_set_int(struct qt *q, uint32_t r, uint32_t c, int32_t v)
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
static double qt_scale(const struct qt *q, uint32_t r)
{
	if (q->t.scale_mode == NPU_SCALE_ROW)
		return real_of(((const struct npu_scale *)q->scales.p)[r]);
	if (q->t.scale_mode == NPU_SCALE_NONE)
		return 1.0;
	return real_of(q->t.scale);
}

static double qt_real(const struct qt *q, uint32_t r, uint32_t c)
{
	return qt_int(q, r, c) * qt_scale(q, r);
}

/* All elements dequantized, row-major (caller frees). */
static double *qt_reals(const struct qt *q)
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
static void qt_fill(struct qt *q, const double *x)
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
static struct qt weights_new(uint32_t n, uint32_t k, enum npu_dtype dt, uint32_t group,
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

/* ---- error statistics and the table ---- */

struct err {
	long n;
	double max_abs, sum_abs;
	double max_lsb, sum_lsb;
	double max_ref;
};

static void err_add(struct err *e, double got, double want, double lsb)
{
	double d = fabs(got - want);

	e->n++;
	e->max_abs = fmax(e->max_abs, d);
	e->sum_abs += d;
	e->max_ref = fmax(e->max_ref, fabs(want));
	if (lsb > 0) {
		e->max_lsb = fmax(e->max_lsb, d / lsb);
		e->sum_lsb += d / lsb;
	}
}

/* Compare rows [r0, r0 + nrows) of out with ref (nrows x cols, row-major). */
static void err_add_rows(struct err *e, const struct qt *out, uint32_t r0, uint32_t nrows,
			 const double *ref)
{
	uint32_t r, c, n = out->t.cols;

	for (r = 0; r < nrows; r++)
		for (c = 0; c < n; c++)
			err_add(e, qt_real(out, r0 + r, c), ref[(size_t)r * n + c],
				qt_scale(out, r0 + r));
}

static void err_add_qt(struct err *e, const struct qt *out, const double *ref)
{
	err_add_rows(e, out, 0, out->t.rows, ref);
}

static void print_header(void)
{
	printf("| op | inputs -> output | samples | max abs err | mean abs err "
	       "| max err (LSB) | mean err (LSB) | max abs ref |\n");
	printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
}

static void print_row(const char *op, const char *inputs, const struct err *e, int lsb)
{
	double n = e->n ? (double)e->n : 1.0;

	printf("| %s | %s | %ld | %.3g | %.3g | ", op, inputs, e->n, e->max_abs, e->sum_abs / n);
	if (lsb)
		printf("%.3f | %.3f | ", e->max_lsb, e->sum_lsb / n);
	else
		printf("- | - | ");
	if (lsb)
		printf("%.3g |\n", e->max_ref);
	else
		printf("- |\n");
}

/* Account for one run; on failure print the row as failed. Returns status. */
static int check_run(const char *op, const char *inputs, int status)
{
	n_measured++;
	if (status) {
		n_failed++;
		printf("| %s | %s | FAILED: %s | | | | | |\n", op, inputs, npu_strerror(status));
	}
	return status;
}

static npu_cmd *cmd_new(void)
{
	npu_cmd *cmd;
	int err = npu_cmd_create(dev, &cmd);

	if (err)
		die("npu_cmd_create", err);
	return cmd;
}

/*
 * Run the op just encoded (@enc: the encoder's status), wait, destroy cmd.
 * Returns 0, a negative enum npu_status, or the positive job status.
 */
static int run(npu_cmd *cmd, int enc)
{
	struct npu_job_result res;
	npu_fence fence;
	int err = enc;

	if (!err)
		err = npu_submit(cmd, &fence);
	if (!err) {
		err = npu_fence_wait(dev, fence, -1, &res);
		if (err == NPU_E_JOB)
			err = (int)res.status;
	}
	npu_cmd_destroy(cmd);
	return err;
}

/* ---- double-precision references ---- */

/* y[m][n] = sum_k x[m][k] * w[n][k] (+ b[n]). */
static void matmul_ref(const double *x, const double *w, const double *b, uint32_t rows,
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
static void softmax_ref(const double *x, uint32_t n, uint32_t vis, double alpha, double *p)
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
static void attention_ref(const double *q, const double *k, const double *v, uint32_t rows,
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

static double silu_ref(double x)
{
	return x / (1.0 + exp(-x));
}

static double gelu_tanh_ref(double x)
{
	return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

static double gelu_erf_ref(double x)
{
	return 0.5 * x * (1.0 + erf(x / M_SQRT2));
}

/* ---- the measurements: one function per op ---- */

/*
 * MATMUL: x I8 with per-row dynamic scales, weights I8 or I4 in groups, an
 * optional I32 bias. Two rows: against the dequantized inputs, and against
 * the float weights and activations before quantization.
 */
static void measure_matmul(const char *op, enum npu_dtype wdt, uint32_t group, int with_bias,
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

/*
 * RMSNORM: y = x / sqrt(mean(x^2) + eps) * gamma. @amp_lo/@amp_hi: the
 * range of the rows' standard deviations, in real units.
 */
static void measure_rmsnorm(const char *inputs, enum npu_dtype xdt,
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
static void measure_layernorm(void)
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

/* SOFTMAX of x * alpha per row; with @causal, column j of row r is masked when j > pos + r. */
static void measure_softmax(const char *op, const char *inputs, int causal,
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
static void measure_activation(const char *op, const char *inputs, int gelu, int erf_ref,
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
static void measure_binary(const char *op, const char *inputs, int add, uint64_t seed)
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

/* ROPE: pairs (2i, 2i+1) of each head rotated by (pos + r) * freq[i] turns. */
static void measure_rope(void)
{
	const uint32_t rows = 64, nh = 4, hd = 64, n = nh * hd, half = hd / 2, pos = 1000;
	const char *op = "ROPE";
	const char *inputs = "x I16 row-dyn 64x256 (4 heads x 64), positions 1000..1063, "
			     "freq base 1e4 in Q0.32 turns -> I16 row-dyn";
	double *xf = dalloc((size_t)rows * n), *ref = dalloc((size_t)rows * n), *x;
	struct npu_pos npos = { pos, 0, 0 };
	struct qt qx, qf, out;
	struct err e = { 0 };
	uint32_t r, i;

	rng_seed(9);
	fill_normal_rows(xf, rows, n, 0.5, 2.0);
	qx = qt_new(rows, n, NPU_I16, NPU_SCALE_ROW, 0);
	qt_fill(&qx, xf);
	qf = qt_new(1, half, NPU_I32, NPU_SCALE_NONE, 0);
	for (i = 0; i < half; i++)
		qt_set_int(&qf, 0, i, (int32_t)llround(pow(10000.0, -2.0 * i / hd) / (2 * M_PI) * 0x1p32));
	out = qt_new(rows, n, NPU_I16, NPU_SCALE_ROW, 0);
	x = qt_reals(&qx);

	{
		npu_cmd *cmd = cmd_new();
		int st = npu_op_rope(cmd, &qx.t, &qf.t, nh, hd, &npos, &out.t);

		if (!check_run(op, inputs, run(cmd, st))) {
			for (r = 0; r < rows; r++)
				for (i = 0; i < n; i += 2) {
					uint32_t f = (uint32_t)qt_int(&qf, 0, (i / 2) % half);
					double turns = fmod((double)(pos + r) * f, 0x1p32) * 0x1p-32;
					double c = cos(2 * M_PI * turns), s = sin(2 * M_PI * turns);
					const double *xr = x + (size_t)r * n;

					ref[(size_t)r * n + i] = xr[i] * c - xr[i + 1] * s;
					ref[(size_t)r * n + i + 1] = xr[i] * s + xr[i + 1] * c;
				}
			err_add_qt(&e, &out, ref);
			print_row(op, inputs, &e, 1);
		}
	}
	qt_free(&qx);
	qt_free(&qf);
	qt_free(&out);
	free(xf);
	free(ref);
	free(x);
}

/*
 * ATTENTION: causal GQA of 8 query rows at positions 96..103 over a KV cache
 * of type @cdt with per-row dynamic scales; also against float q, k, v.
 */
static void measure_attention(const char *op, const char *inputs, enum npu_dtype cdt,
			      uint64_t seed)
{
	const uint32_t rows = 8, nh = 8, nkv = 2, hd = 64, cap = 128, pos = 96;
	const uint32_t qn = nh * hd, kn = nkv * hd;
	double *qf = dalloc((size_t)rows * qn), *kf = dalloc((size_t)cap * kn);
	double *vf = dalloc((size_t)cap * kn), *ref = dalloc((size_t)rows * qn);
	double *q, *k, *v, alpha;
	struct npu_scale salpha = scale_of(1.0 / sqrt(hd));
	struct npu_pos npos = { pos, 0, 0 };
	struct qt qq, qk, qv, out;
	struct err e_deq = { 0 }, e_flt = { 0 };
	char name[96];

	rng_seed(seed);
	fill_normal_rows(qf, rows, qn, 1.0, 2.0);
	fill_normal_rows(kf, cap, kn, 0.5, 1.5);
	fill_normal_rows(vf, cap, kn, 0.25, 2.0);
	qq = qt_new(rows, qn, NPU_I8, NPU_SCALE_ROW, 0);
	qt_fill(&qq, qf);
	qk = qt_new(cap, kn, cdt, NPU_SCALE_ROW, 0);
	qt_fill(&qk, kf);
	qv = qt_new(cap, kn, cdt, NPU_SCALE_ROW, 0);
	qt_fill(&qv, vf);
	out = qt_new(rows, qn, NPU_I16, NPU_SCALE_ROW, 0);
	q = qt_reals(&qq);
	k = qt_reals(&qk);
	v = qt_reals(&qv);
	alpha = real_of(salpha);

	{
		npu_cmd *cmd = cmd_new();
		int st = npu_op_attention(cmd, &qq.t, &qk.t, &qv.t, nh, nkv, hd, salpha, &npos, &out.t);

		if (!check_run(op, inputs, run(cmd, st))) {
			attention_ref(q, k, v, rows, pos, nh, nkv, hd, alpha, ref);
			err_add_qt(&e_deq, &out, ref);
			print_row(op, inputs, &e_deq, 1);
			attention_ref(qf, kf, vf, rows, pos, nh, nkv, hd, 1.0 / sqrt(hd), ref);
			err_add_qt(&e_flt, &out, ref);
			snprintf(name, sizeof(name), "%s vs float", op);
			print_row(name, "same, reference on the unquantized float q, K, V", &e_flt, 1);
		}
	}
	qt_free(&qq);
	qt_free(&qk);
	qt_free(&qv);
	qt_free(&out);
	free(qf);
	free(kf);
	free(vf);
	free(ref);
	free(q);
	free(k);
	free(v);
}

/* KV_APPEND: I16 row-dyn rows requantized into cache rows pos.. of type @cdt. */
static void measure_kv_append(const char *inputs, enum npu_dtype cdt, uint64_t seed)
{
	const uint32_t rows = 4, n = 128, cap = 64, pos = 17;
	const char *op = "KV_APPEND";
	double *xf = dalloc((size_t)rows * n), *x;
	struct npu_pos npos = { pos, 0, 0 };
	struct qt qx, cache;
	struct err e = { 0 };

	rng_seed(seed);
	fill_normal_rows(xf, rows, n, 0.25, 4.0);
	qx = qt_new(rows, n, NPU_I16, NPU_SCALE_ROW, 0);
	qt_fill(&qx, xf);
	cache = qt_new(cap, n, cdt, NPU_SCALE_ROW, 0);
	x = qt_reals(&qx);

	{
		npu_cmd *cmd = cmd_new();
		int st = npu_op_kv_append(cmd, &qx.t, &cache.t, &npos);

		if (!check_run(op, inputs, run(cmd, st))) {
			err_add_rows(&e, &cache, pos, rows, x);
			print_row(op, inputs, &e, 1);
		}
	}
	qt_free(&qx);
	qt_free(&cache);
	free(xf);
	free(x);
}

/* EMBEDDING: rows of an I8 row-scaled table into an I16 tensor-scaled stream. */
static void measure_embedding(void)
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

/* QUANTIZE: I16 tensor-scaled rows of very different magnitudes to I8 per-row dynamic. */
static void measure_quantize(void)
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

/* ARGMAX: the index of the first maximum; error = |device index - reference index|. */
static void measure_argmax(void)
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

int main(int argc, char **argv)
{
	struct npu_info info;
	int err;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--markdown"))) {
		fprintf(stderr, "usage: npu-numerics [--markdown]\n");
		return 2;
	}
	err = npu_open("cpu", &dev);
	if (err)
		die("npu_open(\"cpu\")", err);
	err = npu_query(dev, &info);
	if (err)
		die("npu_query", err);

	printf("Integer ops of the NPU against double precision (backend %s, firmware %s).\n",
	       info.backend, info.fw_build_id);
	printf("Reference: the same op in double on the same dequantized inputs; \"vs float\":\n");
	printf("on the unquantized float inputs. LSB: the output's scale (its row's, if dynamic).\n\n");
	print_header();

	measure_matmul("MATMUL W8/channel", NPU_I8, 512, 0, NPU_I16, NPU_SCALE_ROW, 0,
		       "x I8 row-dyn 32x512, rows N(0,sd), sd in [0.25,4]; W I8 256x512 "
		       "group=512 -> I16 row-dyn", 1);
	measure_matmul("MATMUL W8/channel + bias", NPU_I8, 512, 1, NPU_I32, NPU_SCALE_TENSOR,
		       0x1p-20, "same x, W; bias I32 tensor 2^-20 -> I32 tensor 2^-20", 1);
	measure_matmul("MATMUL W4 g32", NPU_I4, 32, 0, NPU_I16, NPU_SCALE_ROW, 0,
		       "x I8 row-dyn 32x512; W I4 256x512 group=32 -> I16 row-dyn", 1);
	measure_matmul("MATMUL W4 g64", NPU_I4, 64, 0, NPU_I16, NPU_SCALE_ROW, 0,
		       "x I8 row-dyn 32x512; W I4 256x512 group=64 -> I16 row-dyn", 1);
	measure_matmul("MATMUL W4 g128", NPU_I4, 128, 0, NPU_I16, NPU_SCALE_ROW, 0,
		       "x I8 row-dyn 32x512; W I4 256x512 group=128 -> I16 row-dyn", 1);
	measure_rmsnorm("x I16 tensor 2^-10, 64x512, rows N(0,sd), sd in [0.25,4]; "
			"gamma I8 [0.5,1.5]; eps 1e-5 -> I8 row-dyn",
			NPU_I16, NPU_SCALE_TENSOR, 0x1p-10, 0.25, 4.0, NPU_I8, 2);
	measure_rmsnorm("x I8 tensor 2^-5, 64x512, small rows: sd in [0.03,0.12] "
			"(1-4 LSB); gamma I8; eps 1e-5 -> I16 row-dyn",
			NPU_I8, NPU_SCALE_TENSOR, 0x1p-5, 0.03, 0.12, NPU_I16, 2);
	measure_layernorm();
	measure_softmax("SOFTMAX", "x I16 tensor 2^-8, 64x256, N(0,sd), sd in [8,32]; "
			"alpha 1/8 -> I16 tensor 1/32767", 0, NPU_I16, 1.0 / 32767, 4);
	measure_softmax("SOFTMAX causal", "same, causal mask at pos 100 (101..164 visible) "
			"-> I16 tensor 1/32767", 1, NPU_I16, 1.0 / 32767, 4);
	measure_softmax("SOFTMAX", "same, no mask -> I8 tensor 1/127", 0, NPU_I8, 1.0 / 127, 4);
	measure_activation("SILU", "x I16 tensor 2^-11, 64x1024, N(0,sd), sd in [0.5,3] "
			   "-> I16 row-dyn", 0, 0, NPU_I16, NPU_SCALE_TENSOR, 0x1p-11, 0.5, 3.0, 5);
	measure_activation("SILU", "x I8 row-dyn, same values -> I8 row-dyn",
			   0, 0, NPU_I8, NPU_SCALE_ROW, 0, 0.5, 3.0, 5);
	measure_activation("SILU", "x I16 row-dyn, small rows: sd in [0.002,0.02] "
			   "-> I16 row-dyn", 0, 0, NPU_I16, NPU_SCALE_ROW, 0, 0.002, 0.02, 5);
	measure_activation("GELU", "x I16 tensor 2^-11, same values -> I16 row-dyn "
			   "(reference: tanh form)", 1, 0, NPU_I16, NPU_SCALE_TENSOR, 0x1p-11, 0.5, 3.0, 5);
	measure_activation("GELU", "x I8 row-dyn, same values -> I8 row-dyn (tanh form)",
			   1, 0, NPU_I8, NPU_SCALE_ROW, 0, 0.5, 3.0, 5);
	measure_activation("GELU vs erf", "x I16 tensor 2^-11 -> I16 row-dyn; reference: "
			   "exact erf GELU", 1, 1, NPU_I16, NPU_SCALE_TENSOR, 0x1p-11, 0.5, 3.0, 5);
	measure_binary("ADD", "a I16 tensor 2^-11 + b I16 row-dyn, 64x1024, N(0,sd) "
		       "-> I16 tensor 2^-11", 1, 6);
	measure_binary("MUL", "a I8 row-dyn * b I8 row-dyn, 64x1024, N(0,sd) -> I8 row-dyn",
		       0, 7);
	measure_rope();
	measure_attention("ATTENTION, I8 KV cache", "q I8 row-dyn 8x512 (8 heads x 64), "
			  "K/V I8 row-dyn 128x128 (2 KV heads), pos 96..103, alpha 1/8 "
			  "-> I16 row-dyn", NPU_I8, 8);
	measure_attention("ATTENTION, I16 KV cache", "same, K/V I16 row-dyn", NPU_I16, 8);
	measure_kv_append("src I16 row-dyn 4x128 -> I8 row-dyn cache rows 17..20",
			  NPU_I8, 13);
	measure_kv_append("src I16 row-dyn 4x128 -> I16 row-dyn cache rows 17..20",
			  NPU_I16, 13);
	measure_embedding();
	measure_quantize();
	measure_argmax();

	printf("\n%d measurements, %d failed to run.\n", n_measured, n_failed);
	npu_close(dev);
	return n_failed ? 1 : 0;
}
