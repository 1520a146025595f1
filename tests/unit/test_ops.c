// SPDX-License-Identifier: MIT
/*
 * Every op through libnpu's cpu backend: hand-checked golden vectors
 * (power-of-two scales make the expected integers exact), randomized
 * property tests against naive references, extreme values and saturation.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

struct env {
	npu_device *dev;
	npu_cmd *cmd;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	if (!e)
		return -1;
	e->dev = t_open();
	assert_int_equal(npu_cmd_create(e->dev, &e->cmd), NPU_OK);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	npu_cmd_destroy(e->cmd);
	npu_close(e->dev);
	free(e);
	return 0;
}

/* Run the ops encoded in e->cmd, expect success, and reset the stream. */
static void run_ok(struct env *e)
{
	struct npu_job_result r;

	assert_int_equal(t_run(e->dev, e->cmd, &r), NPU_JOB_OK);
	assert_int_equal(npu_cmd_reset(e->cmd), NPU_OK);
}

/* round half away from zero, as the firmware rounds. */
static int64_t rnd(double v)
{
	return (int64_t)(v < 0 ? -floor(-v + 0.5) : floor(v + 0.5));
}

static int64_t sat(int64_t v, int64_t q)
{
	return v > q ? q : (v < -q ? -q : v);
}

static struct npu_tensor tensor(struct t_buf *b, uint32_t rows, uint32_t cols, enum npu_dtype dt,
				enum npu_scale_mode mode, double scale)
{
	struct npu_tensor t = npu_tensor_2d(b->bo, 0, rows, cols, dt);

	t.scale_mode = mode;
	if (mode == NPU_SCALE_TENSOR || mode == NPU_SCALE_GROUP)
		t.scale = t_scale(scale);
	return t;
}

/* Per-row scales: rows entries of struct npu_scale in their own buffer. */
static void row_scales(struct npu_tensor *t, struct t_buf *sb, const double *scales)
{
	struct npu_scale *s = sb->p;
	uint32_t i;

	for (i = 0; i < t->rows; i++)
		s[i] = t_scale(scales[i]);
	t->scale_mode = NPU_SCALE_ROW;
	t->scale_bo = sb->bo;
}

static double row_scale(const struct t_buf *sb, uint32_t row)
{
	return npu_scale_to_double(((const struct npu_scale *)sb->p)[row]);
}

/* ---- MATMUL ------------------------------------------------------------ */

/* x = [1 2 3 4], W rows [1 1 1 1], [-1 2 -3 4]; s_x = 1, s_w = 2 * 0.5. */
static void matmul_golden_i8(void **state)
{
	struct env *e = *state;
	struct t_buf x = t_alloc(e->dev, 4), w = t_alloc(e->dev, 8), f = t_alloc(e->dev, 4),
		     o = t_alloc(e->dev, 8);
	struct npu_tensor tx = tensor(&x, 1, 4, NPU_I8, NPU_SCALE_TENSOR, 1.0);
	struct npu_tensor tw = tensor(&w, 2, 4, NPU_I8, NPU_SCALE_GROUP, 2.0);
	struct npu_tensor to = tensor(&o, 1, 2, NPU_I32, NPU_SCALE_TENSOR, 0.5);
	int32_t *out = o.p;

	memcpy(x.p, (int8_t[]){ 1, 2, 3, 4 }, 4);
	memcpy(w.p, (int8_t[]){ 1, 1, 1, 1, -1, 2, -3, 4 }, 8);
	((uint16_t *)f.p)[0] = 32768;
	((uint16_t *)f.p)[1] = 16384;
	tw.scale_bo = f.bo;
	assert_int_equal(npu_op_matmul(e->cmd, &tx, &tw, 4, NULL, &to), NPU_OK);
	run_ok(e);
	/* Row 0: 10 * (2 * 0.5) / 0.5 = 20. Row 1: 10 * (2 * 0.25) / 0.5 = 10. */
	assert_int_equal(out[0], 20);
	assert_int_equal(out[1], 10);
	t_free(e->dev, &x);
	t_free(e->dev, &w);
	t_free(e->dev, &f);
	t_free(e->dev, &o);
}

/* int4: nibbles low first; one group of 32 with factor 0.5. */
static void matmul_golden_i4_bias(void **state)
{
	struct env *e = *state;
	struct t_buf x = t_alloc(e->dev, 32), w = t_alloc(e->dev, 16), f = t_alloc(e->dev, 2),
		     b = t_alloc(e->dev, 4), o = t_alloc(e->dev, 4);
	struct npu_tensor tx = tensor(&x, 1, 32, NPU_I8, NPU_SCALE_TENSOR, 1.0);
	struct npu_tensor tw = tensor(&w, 1, 32, NPU_I4, NPU_SCALE_GROUP, 1.0);
	struct npu_tensor tb = tensor(&b, 1, 1, NPU_I32, NPU_SCALE_TENSOR, 0.25);
	struct npu_tensor to = tensor(&o, 1, 1, NPU_I32, NPU_SCALE_TENSOR, 1.0);
	int8_t *xp = x.p;
	uint8_t *wp = w.p;
	int i;

	for (i = 0; i < 32; i++)
		xp[i] = (int8_t)(i - 16);
	/* Weights alternate 7 and -8: pairs (7, -8) pack as 0x87. */
	for (i = 0; i < 16; i++)
		wp[i] = 0x87;
	((uint16_t *)f.p)[0] = 32768;
	*(int32_t *)b.p = 6;	/* 6 * 0.25 = 1.5 */
	tw.scale_bo = f.bo;
	assert_int_equal(npu_op_matmul(e->cmd, &tx, &tw, 32, &tb, &to), NPU_OK);
	run_ok(e);
	/*
	 * sum 7*(2j-16) - 8*(2j-15) over j = 0..15 = sum (-2j + 8) = -240 + 128
	 * = -112; times 0.5 = -56; plus 1.5 -> -54.5, rounded away from zero.
	 */
	assert_int_equal(*(int32_t *)o.p, -55);
	t_free(e->dev, &x);
	t_free(e->dev, &w);
	t_free(e->dev, &f);
	t_free(e->dev, &b);
	t_free(e->dev, &o);
}

/* Naive reference: exact integer sums, then the requantized value in double. */
static void matmul_random(struct env *e, uint32_t m, uint32_t k, uint32_t n, uint32_t g, int i4,
			  enum npu_dtype odt, int dynamic)
{
	uint32_t gpr = k / g, i, j, c;
	struct t_buf x = t_alloc(e->dev, (uint64_t)m * k), xs = t_alloc(e->dev, 8ull * m);
	struct t_buf w = t_alloc(e->dev, n * npu_row_bytes(i4 ? NPU_I4 : NPU_I8, k));
	struct t_buf f = t_alloc(e->dev, 2ull * n * gpr), o = t_alloc(e->dev, 4ull * m * n);
	struct t_buf os = t_alloc(e->dev, 8ull * m);
	struct npu_tensor tx = tensor(&x, m, k, NPU_I8, NPU_SCALE_ROW, 0);
	struct npu_tensor tw = tensor(&w, n, k, i4 ? NPU_I4 : NPU_I8, NPU_SCALE_GROUP, 0.013);
	struct npu_tensor to = tensor(&o, m, n, odt, dynamic ? NPU_SCALE_ROW : NPU_SCALE_TENSOR, 0.05);
	double *sx = calloc(m, sizeof(double));
	int8_t *xp = x.p, *wv = calloc((size_t)n * k, 1);
	uint16_t *fp = f.p;
	int64_t q = odt == NPU_I8 ? 127 : odt == NPU_I16 ? 32767 : 2147483647;

	assert_non_null(sx);
	assert_non_null(wv);
	for (i = 0; i < m; i++)
		sx[i] = 0.001 + t_rand_unit() * 0.05;
	row_scales(&tx, &xs, sx);
	for (i = 0; i < m * k; i++)
		xp[i] = (int8_t)t_rand_range(-128, 127);
	for (i = 0; i < n * k; i++) {
		wv[i] = (int8_t)(i4 ? t_rand_range(-8, 7) : t_rand_range(-128, 127));
		if (i4)
			((uint8_t *)w.p)[i / 2] |= (uint8_t)((wv[i] & 15) << (4 * (i & 1)));
		else
			((int8_t *)w.p)[i] = wv[i];
	}
	for (i = 0; i < n * gpr; i++)
		fp[i] = (uint16_t)t_rand_range(1, 65535);
	tw.scale_bo = f.bo;
	if (dynamic)
		to.scale_bo = os.bo;
	assert_int_equal(npu_op_matmul(e->cmd, &tx, &tw, g, NULL, &to), NPU_OK);
	run_ok(e);

	for (i = 0; i < m; i++) {
		double ref[512], amax = 0, so;

		assert_true(n <= 512);
		for (j = 0; j < n; j++) {
			int64_t acc = 0;

			for (c = 0; c < k; c++) {
				acc += (int64_t)xp[i * k + c] * wv[j * k + c] * fp[j * gpr + c / g];
			}
			ref[j] = (double)acc * sx[i] * 0.013 / 65536.0;
			amax = fmax(amax, fabs(ref[j]));
		}
		so = dynamic ? row_scale(&os, i) : 0.05;
		if (dynamic && amax > 0)
			assert_true(fabs(so - amax / (double)q) <= 1e-6 * so);
		for (j = 0; j < n; j++) {
			int64_t want = sat(rnd(ref[j] / so), q), got;

			got = odt == NPU_I8	? ((int8_t *)o.p)[i * n + j]
			      : odt == NPU_I16 ? ((int16_t *)o.p)[i * n + j]
					       : ((int32_t *)o.p)[i * n + j];
			/* Scale products are rounded to 31 bits: allow one LSB. */
			if (llabs(got - want) > 1)
				fail_msg("row %u col %u: got %lld want %lld", i, j, (long long)got,
					 (long long)want);
		}
	}
	free(sx);
	free(wv);
	t_free(e->dev, &x);
	t_free(e->dev, &xs);
	t_free(e->dev, &w);
	t_free(e->dev, &f);
	t_free(e->dev, &o);
	t_free(e->dev, &os);
}

static void matmul_random_shapes(void **state)
{
	struct env *e = *state;

	t_seed(1);
	matmul_random(e, 1, 64, 17, 64, 0, NPU_I32, 0);		/* decode, per channel */
	matmul_random(e, 5, 96, 33, 32, 0, NPU_I16, 0);		/* prefill, groups */
	matmul_random(e, 3, 128, 7, 128, 1, NPU_I8, 1);		/* int4, dynamic out */
	matmul_random(e, 2, 192, 9, 64, 1, NPU_I16, 1);
	matmul_random(e, 1, 172, 64, 172, 0, NPU_I8, 1);	/* odd K, per channel */
	matmul_random(e, 4, 256, 31, 32, 1, NPU_I32, 0);
}

/* All extremes: |acc| = 128 * 128 * K; a tiny output scale saturates. */
static void matmul_saturates(void **state)
{
	struct env *e = *state;
	struct t_buf x = t_alloc(e->dev, 4096), w = t_alloc(e->dev, 8192), f = t_alloc(e->dev, 4),
		     o = t_alloc(e->dev, 4), o32 = t_alloc(e->dev, 8);
	struct npu_tensor tx = tensor(&x, 1, 4096, NPU_I8, NPU_SCALE_TENSOR, 1.0);
	struct npu_tensor tw = tensor(&w, 2, 4096, NPU_I8, NPU_SCALE_GROUP, 1.0);
	struct npu_tensor to = tensor(&o, 1, 2, NPU_I8, NPU_SCALE_TENSOR, 1.0);
	struct npu_tensor t32 = tensor(&o32, 1, 2, NPU_I32, NPU_SCALE_TENSOR, 65536.0);
	int8_t *wp = w.p;
	int i;

	memset(x.p, 0x80, 4096);	/* -128 */
	for (i = 0; i < 4096; i++) {
		wp[i] = -128;
		wp[4096 + i] = 127;
	}
	((uint16_t *)f.p)[0] = 65535;
	((uint16_t *)f.p)[1] = 65535;
	tw.scale_bo = f.bo;
	assert_int_equal(npu_op_matmul(e->cmd, &tx, &tw, 4096, NULL, &to), NPU_OK);
	assert_int_equal(npu_op_matmul(e->cmd, &tx, &tw, 4096, NULL, &t32), NPU_OK);
	run_ok(e);
	assert_int_equal(((int8_t *)o.p)[0], 127);
	assert_int_equal(((int8_t *)o.p)[1], -127);
	/* 2^26 * 65535 / 65536 / 65536 = 1023.98...: exact integers survive. */
	assert_int_equal(((int32_t *)o32.p)[0], 1024);
	assert_int_equal(((int32_t *)o32.p)[1], -rnd(128.0 * 127 * 4096 * 65535 / 65536 / 65536));
	t_free(e->dev, &x);
	t_free(e->dev, &w);
	t_free(e->dev, &f);
	t_free(e->dev, &o);
	t_free(e->dev, &o32);
}

/* ---- QUANTIZE, EMBEDDING, KV_APPEND, ARGMAX ------------------------------ */

static void quantize_dynamic(void **state)
{
	struct env *e = *state;
	struct t_buf x = t_alloc(e->dev, 2 * 3 * 8), o = t_alloc(e->dev, 3 * 8),
		     os = t_alloc(e->dev, 3 * 8);
	struct npu_tensor tx = tensor(&x, 3, 8, NPU_I16, NPU_SCALE_TENSOR, 0.5);
	struct npu_tensor to = tensor(&o, 3, 8, NPU_I8, NPU_SCALE_ROW, 0);
	int16_t in[24] = { 254, -127, 0, 1, 2, 3, 4, 5,		/* amax 254 -> scale 1 */
			   0, 0, 0, 0, 0, 0, 0, 0,		/* zero row */
			   -32768, 32767, 16384, -1, 0, 0, 0, 0 };
	int8_t *op = o.p;

	memcpy(x.p, in, sizeof(in));
	to.scale_bo = os.bo;
	assert_int_equal(npu_op_quantize(e->cmd, &tx, &to), NPU_OK);
	run_ok(e);
	/* Row 0: x / 2 -> real 127, -63.5 ... at scale 127 / 127 = 1. */
	assert_memory_equal(op, ((int8_t[]){ 127, -64, 0, 1, 1, 2, 2, 3 }), 8);
	assert_true(fabs(row_scale(&os, 0) - 1.0) < 1e-9);
	assert_memory_equal(op + 8, ((int8_t[8]){ 0 }), 8);
	/* Row 2: amax 32768 -> -127, 32767 * 127 / 32768 = 126.996 -> 127. */
	assert_int_equal(op[16], -127);
	assert_int_equal(op[17], 127);
	assert_int_equal(op[18], 64);	/* 63.5 rounds away from zero */
	assert_int_equal(op[19], 0);
	assert_true(fabs(row_scale(&os, 2) - 16384.0 / 127) < 1e-6);
	t_free(e->dev, &x);
	t_free(e->dev, &o);
	t_free(e->dev, &os);
}

static void embedding_kv_append_argmax(void **state)
{
	struct env *e = *state;
	struct t_buf tab = t_alloc(e->dev, 5 * 4), ts = t_alloc(e->dev, 5 * 8),
		     ids = t_alloc(e->dev, 3 * 4), out = t_alloc(e->dev, 3 * 4 * 2),
		     cache = t_alloc(e->dev, 8 * 4 * 2), am = t_alloc(e->dev, 3 * 4);
	struct npu_tensor tt = tensor(&tab, 5, 4, NPU_I8, NPU_SCALE_ROW, 0);
	struct npu_tensor ti = tensor(&ids, 3, 1, NPU_I32, NPU_SCALE_NONE, 0);
	struct npu_tensor to = tensor(&out, 3, 4, NPU_I16, NPU_SCALE_TENSOR, 0.25);
	struct npu_tensor tc = tensor(&cache, 8, 4, NPU_I16, NPU_SCALE_TENSOR, 0.125);
	struct npu_tensor ta = tensor(&am, 3, 1, NPU_I32, NPU_SCALE_NONE, 0);
	struct npu_pos pos = { .value = 5 };
	double scales[5] = { 1, 0.5, 2, 4, 0.25 };
	int8_t *tp = tab.p;
	int16_t *op = out.p, *cp = cache.p;
	int32_t *ip = ids.p, *ap = am.p;
	int i;

	for (i = 0; i < 20; i++)
		tp[i] = (int8_t)(i * 3 - 30);
	row_scales(&tt, &ts, scales);
	ip[0] = 2;
	ip[1] = 0;
	ip[2] = 4;
	assert_int_equal(npu_op_embedding(e->cmd, &tt, &ti, &to), NPU_OK);
	assert_int_equal(npu_op_kv_append(e->cmd, &to, &tc, &pos), NPU_OK);
	assert_int_equal(npu_op_argmax(e->cmd, &to, &ta), NPU_OK);
	run_ok(e);
	for (i = 0; i < 4; i++) {
		/* Row 2 of the table at scale 2, out scale 0.25: x 8. */
		assert_int_equal(op[i], tp[8 + i] * 8);
		assert_int_equal(op[4 + i], tp[i] * 4);
		assert_int_equal(op[8 + i], tp[16 + i]);
		/* The cache holds the same rows at scale 0.125 from row 5 on. */
		assert_int_equal(cp[5 * 4 + i], op[i] * 2);
		assert_int_equal(cp[7 * 4 + i], op[8 + i] * 2);
		assert_int_equal(cp[i], 0);
	}
	/* Rows are increasing (-6..3, -30..-21, 18..27): the last column wins. */
	assert_int_equal(ap[0], 3);
	assert_int_equal(ap[1], 3);
	assert_int_equal(ap[2], 3);
	t_free(e->dev, &tab);
	t_free(e->dev, &ts);
	t_free(e->dev, &ids);
	t_free(e->dev, &out);
	t_free(e->dev, &cache);
	t_free(e->dev, &am);
}

static void argmax_ties_and_random(void **state)
{
	struct env *e = *state;
	struct t_buf x = t_alloc(e->dev, 64 * 100 * 4), o = t_alloc(e->dev, 64 * 4);
	struct npu_tensor tx = tensor(&x, 64, 100, NPU_I32, NPU_SCALE_NONE, 0);
	struct npu_tensor to = tensor(&o, 64, 1, NPU_I32, NPU_SCALE_NONE, 0);
	int32_t *xp = x.p, *op = o.p;
	int r, c;

	t_seed(7);
	for (r = 0; r < 64 * 100; r++)
		xp[r] = r < 100 ? 5 : t_rand_range(INT32_MIN, INT32_MAX);
	assert_int_equal(npu_op_argmax(e->cmd, &tx, &to), NPU_OK);
	run_ok(e);
	assert_int_equal(op[0], 0);	/* all equal: the first wins */
	for (r = 1; r < 64; r++) {
		int best = 0;

		for (c = 1; c < 100; c++)
			if (xp[r * 100 + c] > xp[r * 100 + best])
				best = c;
		assert_int_equal(op[r], best);
	}
	t_free(e->dev, &x);
	t_free(e->dev, &o);
}

/* ---- ADD, MUL ------------------------------------------------------------ */

static void add_mul_golden(void **state)
{
	struct env *e = *state;
	struct t_buf a = t_alloc(e->dev, 8), b = t_alloc(e->dev, 4), o = t_alloc(e->dev, 8),
		     m = t_alloc(e->dev, 16);
	struct npu_tensor ta = tensor(&a, 1, 4, NPU_I16, NPU_SCALE_TENSOR, 0.5);
	struct npu_tensor tb = tensor(&b, 1, 4, NPU_I8, NPU_SCALE_TENSOR, 0.25);
	struct npu_tensor to = tensor(&o, 1, 4, NPU_I16, NPU_SCALE_TENSOR, 0.5);
	struct npu_tensor tm = tensor(&m, 1, 4, NPU_I32, NPU_SCALE_TENSOR, 0.125);
	int16_t *op = o.p;
	int32_t *mp = m.p;

	memcpy(a.p, (int16_t[]){ 10, -10, 32767, -32767 }, 8);
	memcpy(b.p, (int8_t[]){ 1, 3, 127, -128 }, 4);
	assert_int_equal(npu_op_add(e->cmd, &ta, &tb, &to), NPU_OK);
	assert_int_equal(npu_op_mul(e->cmd, &ta, &tb, &tm), NPU_OK);
	run_ok(e);
	/* 5 + 0.25 = 5.25 -> 10.5 -> 11; -5 + 0.75 -> -8.5 -> -9; saturation. */
	assert_int_equal(op[0], 11);
	assert_int_equal(op[1], -9);
	assert_int_equal(op[2], 32767);
	assert_int_equal(op[3], -32767);
	/* a*b*0.125 / 0.125. */
	assert_int_equal(mp[0], 10);
	assert_int_equal(mp[1], -30);
	assert_int_equal(mp[2], 32767 * 127);
	assert_int_equal(mp[3], 32767 * 128);
	t_free(e->dev, &a);
	t_free(e->dev, &b);
	t_free(e->dev, &o);
	t_free(e->dev, &m);
}

/* Broadcast b (one row) over a, with per-row scales on a. */
static void add_broadcast_random(void **state)
{
	struct env *e = *state;
	struct t_buf a = t_alloc(e->dev, 6 * 50 * 2), as = t_alloc(e->dev, 6 * 8),
		     b = t_alloc(e->dev, 50), o = t_alloc(e->dev, 6 * 50 * 2);
	struct npu_tensor ta = tensor(&a, 6, 50, NPU_I16, NPU_SCALE_ROW, 0);
	struct npu_tensor tb = tensor(&b, 1, 50, NPU_I8, NPU_SCALE_TENSOR, 0.03);
	struct npu_tensor to = tensor(&o, 6, 50, NPU_I16, NPU_SCALE_TENSOR, 0.01);
	double sa[6];
	int16_t *ap = a.p, *op = o.p;
	int8_t *bp = b.p;
	int i, j;

	t_seed(3);
	for (i = 0; i < 6; i++)
		sa[i] = 0.0001 + t_rand_unit() * 0.01;
	row_scales(&ta, &as, sa);
	for (i = 0; i < 300; i++)
		ap[i] = (int16_t)t_rand_range(-32767, 32767);
	for (i = 0; i < 50; i++)
		bp[i] = (int8_t)t_rand_range(-127, 127);
	assert_int_equal(npu_op_add(e->cmd, &ta, &tb, &to), NPU_OK);
	run_ok(e);
	for (i = 0; i < 6; i++)
		for (j = 0; j < 50; j++) {
			double want = (ap[i * 50 + j] * row_scale(&as, i) + bp[j] * 0.03) / 0.01;

			assert_true(llabs(op[i * 50 + j] - sat(rnd(want), 32767)) <= 1);
		}
	t_free(e->dev, &a);
	t_free(e->dev, &as);
	t_free(e->dev, &b);
	t_free(e->dev, &o);
}

/* ---- nonlinearities ------------------------------------------------------ */

static double silu(double x)
{
	return x / (1 + exp(-x));
}

static double gelu_tanh(double x)
{
	return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

/* Over the whole int16 input range at scale 2^-10 ([-32, 32)): within 1 LSB. */
static void silu_gelu_sweep(void **state)
{
	struct env *e = *state;
	struct t_buf x = t_alloc(e->dev, 65536 * 2), s = t_alloc(e->dev, 65536 * 2),
		     g = t_alloc(e->dev, 65536 * 2);
	struct npu_tensor tx = tensor(&x, 256, 256, NPU_I16, NPU_SCALE_TENSOR, 1.0 / 1024);
	struct npu_tensor ts = tensor(&s, 256, 256, NPU_I16, NPU_SCALE_TENSOR, 1.0 / 1024);
	struct npu_tensor tg = tensor(&g, 256, 256, NPU_I16, NPU_SCALE_TENSOR, 1.0 / 1024);
	int16_t *xp = x.p, *sp = s.p, *gp = g.p;
	int i;

	for (i = 0; i < 65536; i++)
		xp[i] = (int16_t)(i - 32768);
	assert_int_equal(npu_op_silu(e->cmd, &tx, &ts), NPU_OK);
	assert_int_equal(npu_op_gelu(e->cmd, &tx, &tg), NPU_OK);
	run_ok(e);
	for (i = 0; i < 65536; i++) {
		double xv = xp[i] / 1024.0;

		if (llabs(sp[i] - sat(rnd(silu(xv) * 1024), 32767)) > 1)
			fail_msg("silu(%g): got %d", xv, sp[i]);
		if (llabs(gp[i] - sat(rnd(gelu_tanh(xv) * 1024), 32767)) > 1)
			fail_msg("gelu(%g): got %d", xv, gp[i]);
	}
	assert_int_equal(sp[32768], 0);
	assert_int_equal(gp[32768], 0);
	t_free(e->dev, &x);
	t_free(e->dev, &s);
	t_free(e->dev, &g);
}

static void softmax_properties(void **state)
{
	struct env *e = *state;
	uint32_t rows = 6, cols = 37, r, c;
	struct t_buf x = t_alloc(e->dev, rows * cols * 4), o = t_alloc(e->dev, rows * cols * 2),
		     oc = t_alloc(e->dev, rows * cols * 2);
	struct npu_tensor tx = tensor(&x, rows, cols, NPU_I32, NPU_SCALE_TENSOR, 1.0 / 4096);
	struct npu_tensor to = tensor(&o, rows, cols, NPU_I16, NPU_SCALE_TENSOR, 1.0 / 32768);
	struct npu_tensor toc = tensor(&oc, rows, cols, NPU_I16, NPU_SCALE_TENSOR, 1.0 / 32768);
	struct npu_pos causal = { .value = 3 };
	int32_t *xp = x.p;
	int16_t *op = o.p, *cp = oc.p;

	t_seed(11);
	for (r = 0; r < rows * cols; r++)
		xp[r] = t_rand_range(-40000, 40000);
	xp[0] = INT32_MAX;	/* one dominant score: p = 1 exactly, the rest 0 */
	assert_int_equal(npu_op_softmax(e->cmd, &tx, t_scale(0.5), NULL, &to), NPU_OK);
	assert_int_equal(npu_op_softmax(e->cmd, &tx, t_scale(0.5), &causal, &toc), NPU_OK);
	run_ok(e);
	assert_int_equal(op[0], 32767);
	for (c = 1; c < cols; c++)
		assert_int_equal(op[c], 0);
	for (r = 1; r < rows; r++) {
		double mx = -1e300, sum = 0, sumc = 0, got = 0;

		for (c = 0; c < cols; c++)
			mx = fmax(mx, xp[r * cols + c] / 4096.0 * 0.5);
		for (c = 0; c < cols; c++)
			sum += exp(xp[r * cols + c] / 4096.0 * 0.5 - mx);
		for (c = 0; c < cols; c++) {
			double p = exp(xp[r * cols + c] / 4096.0 * 0.5 - mx) / sum;

			assert_true(llabs(op[r * cols + c] - rnd(p * 32768)) <= 1);
			got += op[r * cols + c];
		}
		assert_true(fabs(got - 32768) <= cols);
		/* Causal: row r sees columns 0 .. 3 + r; the rest are exactly 0. */
		mx = -1e300;
		for (c = 0; c <= 3 + r; c++)
			mx = fmax(mx, xp[r * cols + c] / 4096.0 * 0.5);
		for (c = 0; c <= 3 + r; c++)
			sumc += exp(xp[r * cols + c] / 4096.0 * 0.5 - mx);
		for (c = 0; c < cols; c++) {
			double p = c <= 3 + r ? exp(xp[r * cols + c] / 4096.0 * 0.5 - mx) / sumc : 0;

			assert_true(llabs(cp[r * cols + c] - rnd(p * 32768)) <= 1);
			if (c > 3 + r)
				assert_int_equal(cp[r * cols + c], 0);
		}
	}
	t_free(e->dev, &x);
	t_free(e->dev, &o);
	t_free(e->dev, &oc);
}

/* ---- norms --------------------------------------------------------------- */

static void norm_random(struct env *e, int layer, enum npu_dtype idt, uint32_t k)
{
	uint32_t rows = 4, i, j;
	size_t eb = idt == NPU_I8 ? 1 : idt == NPU_I16 ? 2 : 4;
	struct t_buf x = t_alloc(e->dev, rows * k * eb), g = t_alloc(e->dev, k * 2),
		     b = t_alloc(e->dev, k * 2), o = t_alloc(e->dev, rows * k),
		     os = t_alloc(e->dev, rows * 8);
	struct npu_tensor tx = tensor(&x, rows, k, idt, NPU_SCALE_TENSOR, 0.01);
	struct npu_tensor tg = tensor(&g, 1, k, NPU_I16, NPU_SCALE_TENSOR, 1.0 / 8192);
	struct npu_tensor tb = tensor(&b, 1, k, NPU_I16, NPU_SCALE_TENSOR, 1.0 / 16384);
	struct npu_tensor to = tensor(&o, rows, k, NPU_I8, NPU_SCALE_ROW, 0);
	int16_t *gp = g.p, *bp = b.p;
	int8_t *op = o.p;
	double xv[1024];
	int32_t lim = idt == NPU_I8 ? 127 : idt == NPU_I16 ? 32767 : 1 << 24;

	assert_true(k <= 1024);
	to.scale_bo = os.bo;
	for (j = 0; j < k; j++) {
		gp[j] = (int16_t)t_rand_range(-16384, 16384);
		bp[j] = (int16_t)t_rand_range(-16384, 16384);
	}
	for (i = 0; i < rows * k; i++) {
		int32_t v = t_rand_range(-lim, lim) / (int32_t)(1 + i / k * 7);

		if (idt == NPU_I8)
			((int8_t *)x.p)[i] = (int8_t)v;
		else if (idt == NPU_I16)
			((int16_t *)x.p)[i] = (int16_t)v;
		else
			((int32_t *)x.p)[i] = v;
	}
	if (layer)
		assert_int_equal(npu_op_layernorm(e->cmd, &tx, &tg, &tb, t_scale(1e-5), &to),
				 NPU_OK);
	else
		assert_int_equal(npu_op_rmsnorm(e->cmd, &tx, &tg, t_scale(1e-5), &to), NPU_OK);
	run_ok(e);
	for (i = 0; i < rows; i++) {
		double mean = 0, var = 0, so = row_scale(&os, i);

		for (j = 0; j < k; j++) {
			int64_t q = idt == NPU_I8 ? ((int8_t *)x.p)[i * k + j]
				    : idt == NPU_I16 ? ((int16_t *)x.p)[i * k + j]
						     : ((int32_t *)x.p)[i * k + j];

			xv[j] = q * 0.01;
			mean += xv[j] / k;
		}
		if (!layer)
			mean = 0;
		for (j = 0; j < k; j++)
			var += (xv[j] - mean) * (xv[j] - mean) / k;
		for (j = 0; j < k; j++) {
			double y = (xv[j] - mean) / sqrt(var + 1e-5) * gp[j] / 8192.0;

			if (layer)
				y += bp[j] / 16384.0;
			if (llabs(op[i * k + j] - sat(rnd(y / so), 127)) > 1)
				fail_msg("%s row %u col %u: got %d want %g", layer ? "layernorm" : "rmsnorm",
					 i, j, op[i * k + j], y / so);
		}
	}
	t_free(e->dev, &x);
	t_free(e->dev, &g);
	t_free(e->dev, &b);
	t_free(e->dev, &o);
	t_free(e->dev, &os);
}

static void norms_random(void **state)
{
	struct env *e = *state;

	t_seed(5);
	norm_random(e, 0, NPU_I16, 64);
	norm_random(e, 0, NPU_I8, 172);
	norm_random(e, 0, NPU_I32, 1000);
	norm_random(e, 1, NPU_I16, 64);
	norm_random(e, 1, NPU_I8, 33);
	norm_random(e, 1, NPU_I32, 768);
}

/* A constant row normalizes to exactly gamma (RMS) or beta (LayerNorm). */
static void norm_constant_row(void **state)
{
	struct env *e = *state;
	struct t_buf x = t_alloc(e->dev, 16 * 2), g = t_alloc(e->dev, 16 * 2),
		     b = t_alloc(e->dev, 16 * 2), o = t_alloc(e->dev, 16 * 2),
		     l = t_alloc(e->dev, 16 * 2);
	struct npu_tensor tx = tensor(&x, 1, 16, NPU_I16, NPU_SCALE_TENSOR, 1.0);
	struct npu_tensor tg = tensor(&g, 1, 16, NPU_I16, NPU_SCALE_TENSOR, 1.0 / 256);
	struct npu_tensor tb = tensor(&b, 1, 16, NPU_I16, NPU_SCALE_TENSOR, 1.0 / 256);
	struct npu_tensor to = tensor(&o, 1, 16, NPU_I16, NPU_SCALE_TENSOR, 1.0 / 256);
	struct npu_tensor tl = tensor(&l, 1, 16, NPU_I16, NPU_SCALE_TENSOR, 1.0 / 256);
	int16_t *xp = x.p, *gp = g.p, *bp = b.p, *op = o.p, *lp = l.p;
	int i;

	for (i = 0; i < 16; i++) {
		xp[i] = -300;
		gp[i] = (int16_t)(i * 100 - 700);
		bp[i] = (int16_t)(i * 3);
	}
	/* eps tiny against mean square 90000: -300 / 300 = -1 exactly. */
	assert_int_equal(npu_op_rmsnorm(e->cmd, &tx, &tg, t_scale(1e-9), &to), NPU_OK);
	assert_int_equal(npu_op_layernorm(e->cmd, &tx, &tg, &tb, t_scale(1e-5), &tl), NPU_OK);
	run_ok(e);
	for (i = 0; i < 16; i++) {
		assert_int_equal(op[i], -gp[i]);
		assert_int_equal(lp[i], bp[i]);
	}
	t_free(e->dev, &x);
	t_free(e->dev, &g);
	t_free(e->dev, &b);
	t_free(e->dev, &o);
	t_free(e->dev, &l);
}

/* ---- ROPE ---------------------------------------------------------------- */

static void rope_random(void **state)
{
	struct env *e = *state;
	uint32_t heads = 4, hd = 8, rows = 3, n = heads * hd, i, h, p;
	struct t_buf x = t_alloc(e->dev, rows * n * 2), f = t_alloc(e->dev, hd / 2 * 4),
		     o = t_alloc(e->dev, rows * n * 2), pb = t_alloc(e->dev, 4);
	struct npu_tensor tx = tensor(&x, rows, n, NPU_I16, NPU_SCALE_TENSOR, 1.0 / 1024);
	struct npu_tensor tf = tensor(&f, 1, hd / 2, NPU_I32, NPU_SCALE_NONE, 0);
	struct npu_tensor to = tensor(&o, rows, n, NPU_I16, NPU_SCALE_TENSOR, 1.0 / 1024);
	struct npu_pos pos = { .bo = pb.bo };
	int16_t *xp = x.p, *op = o.p;
	uint32_t *fp = f.p;
	double freq[4];

	t_seed(9);
	for (i = 0; i < hd / 2; i++) {
		/* theta_i = 10000^(-2i/hd) radians, as turns in Q0.32. */
		freq[i] = pow(10000.0, -2.0 * i / hd) / (2 * M_PI);
		fp[i] = (uint32_t)llround(freq[i] * 4294967296.0);
	}
	for (i = 0; i < rows * n; i++)
		xp[i] = (int16_t)t_rand_range(-30000, 30000);
	*(uint32_t *)pb.p = 0;
	assert_int_equal(npu_op_rope(e->cmd, &tx, &tf, heads, hd, &pos, &to), NPU_OK);
	run_ok(e);
	/* Position 0 is the identity. */
	assert_memory_equal(op, xp, n * 2);
	for (p = 0; p < 3; p++) {
		uint32_t base = p == 0 ? 1 : p == 1 ? 500 : 100000;

		*(uint32_t *)pb.p = base;	/* the same stream op, new position */
		assert_int_equal(npu_op_rope(e->cmd, &tx, &tf, heads, hd, &pos, &to), NPU_OK);
		run_ok(e);
		for (i = 0; i < rows; i++)
			for (h = 0; h < n; h += 2) {
				double a = 2 * M_PI * fmod((double)(base + i) *
							   (fp[(h % hd) / 2] / 4294967296.0), 1.0);
				double x0 = xp[i * n + h], x1 = xp[i * n + h + 1];
				double y0 = x0 * cos(a) - x1 * sin(a), y1 = x0 * sin(a) + x1 * cos(a);

				/* A rotation can leave the int16 range: outputs saturate. */
				y0 = fmax(-32767, fmin(32767, y0));
				y1 = fmax(-32767, fmin(32767, y1));

				/* Q14 sin/cos: |error| <= |x| * 2^-13 + 1. */
				if (fabs(op[i * n + h] - y0) > 6 || fabs(op[i * n + h + 1] - y1) > 6)
					fail_msg("pos %u pair %u: got (%d, %d) want (%g, %g)", base + i, h,
						 op[i * n + h], op[i * n + h + 1], y0, y1);
			}
	}
	t_free(e->dev, &x);
	t_free(e->dev, &f);
	t_free(e->dev, &o);
	t_free(e->dev, &pb);
}

/* ---- ATTENTION ----------------------------------------------------------- */

static void attention_random(void **state)
{
	struct env *e = *state;
	uint32_t nh = 8, nkv = 4, hd = 8, cap = 20, qn = nh * hd, kn = nkv * hd, m = 2, pos = 9;
	struct t_buf q = t_alloc(e->dev, m * qn), qs = t_alloc(e->dev, m * 8),
		     k = t_alloc(e->dev, cap * kn), ks = t_alloc(e->dev, cap * 8),
		     v = t_alloc(e->dev, cap * kn * 2), o = t_alloc(e->dev, m * qn),
		     os = t_alloc(e->dev, m * 8);
	struct npu_tensor tq = tensor(&q, m, qn, NPU_I8, NPU_SCALE_ROW, 0);
	struct npu_tensor tk = tensor(&k, cap, kn, NPU_I8, NPU_SCALE_ROW, 0);
	struct npu_tensor tv = tensor(&v, cap, kn, NPU_I16, NPU_SCALE_TENSOR, 1.0 / 4096);
	struct npu_tensor to = tensor(&o, m, qn, NPU_I8, NPU_SCALE_ROW, 0);
	struct npu_pos p = { .value = pos };
	double sq[2], sk[20], alpha = 1 / sqrt(8.0);
	int8_t *qp = q.p, *kp = k.p, *op = o.p;
	int16_t *vp = v.p;
	uint32_t i, h, j, d;

	t_seed(13);
	for (i = 0; i < m; i++)
		sq[i] = 0.01 + t_rand_unit() * 0.03;
	for (i = 0; i < cap; i++)
		sk[i] = 0.01 + t_rand_unit() * 0.03;
	row_scales(&tq, &qs, sq);
	row_scales(&tk, &ks, sk);
	to.scale_bo = os.bo;
	for (i = 0; i < m * qn; i++)
		qp[i] = (int8_t)t_rand_range(-127, 127);
	for (i = 0; i < cap * kn; i++) {
		kp[i] = (int8_t)t_rand_range(-127, 127);
		vp[i] = (int16_t)t_rand_range(-8000, 8000);
	}
	assert_int_equal(npu_op_attention(e->cmd, &tq, &tk, &tv, nh, nkv, hd, t_scale(alpha), &p,
					  &to), NPU_OK);
	run_ok(e);
	for (i = 0; i < m; i++) {
		double so = row_scale(&os, i);

		for (h = 0; h < nh; h++) {
			uint32_t kvh = h / (nh / nkv), len = pos + i + 1;
			double s[32], mx = -1e300, sum = 0;

			for (j = 0; j < len; j++) {
				double dot = 0;

				for (d = 0; d < hd; d++)
					dot += qp[i * qn + h * hd + d] * row_scale(&qs, i) *
					       kp[j * kn + kvh * hd + d] * row_scale(&ks, j);
				s[j] = dot * alpha;
				mx = fmax(mx, s[j]);
			}
			for (j = 0; j < len; j++)
				sum += exp(s[j] - mx);
			for (d = 0; d < hd; d++) {
				double out = 0;

				for (j = 0; j < len; j++)
					out += exp(s[j] - mx) / sum * vp[j * kn + kvh * hd + d] / 4096.0;
				if (llabs(op[i * qn + h * hd + d] - sat(rnd(out / so), 127)) > 1)
					fail_msg("row %u head %u dim %u: got %d want %g", i, h, d,
						 op[i * qn + h * hd + d], out / so);
			}
		}
	}
	t_free(e->dev, &q);
	t_free(e->dev, &qs);
	t_free(e->dev, &k);
	t_free(e->dev, &ks);
	t_free(e->dev, &v);
	t_free(e->dev, &o);
	t_free(e->dev, &os);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(matmul_golden_i8, setup, teardown),
		cmocka_unit_test_setup_teardown(matmul_golden_i4_bias, setup, teardown),
		cmocka_unit_test_setup_teardown(matmul_random_shapes, setup, teardown),
		cmocka_unit_test_setup_teardown(matmul_saturates, setup, teardown),
		cmocka_unit_test_setup_teardown(quantize_dynamic, setup, teardown),
		cmocka_unit_test_setup_teardown(embedding_kv_append_argmax, setup, teardown),
		cmocka_unit_test_setup_teardown(argmax_ties_and_random, setup, teardown),
		cmocka_unit_test_setup_teardown(add_mul_golden, setup, teardown),
		cmocka_unit_test_setup_teardown(add_broadcast_random, setup, teardown),
		cmocka_unit_test_setup_teardown(silu_gelu_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(softmax_properties, setup, teardown),
		cmocka_unit_test_setup_teardown(norms_random, setup, teardown),
		cmocka_unit_test_setup_teardown(norm_constant_row, setup, teardown),
		cmocka_unit_test_setup_teardown(rope_random, setup, teardown),
		cmocka_unit_test_setup_teardown(attention_random, setup, teardown),
	};

	return cmocka_run_group_tests_name("ops", tests, NULL, NULL);
}
