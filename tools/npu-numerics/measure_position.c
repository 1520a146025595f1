// SPDX-License-Identifier: MIT
/* npu-numerics: the ops on positions and the KV cache: ROPE, ATTENTION, KV_APPEND. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "numerics.h"

/* ROPE: pairs (2i, 2i+1) of each head rotated by (pos + r) * freq[i] turns. */
void measure_rope(void)
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
void measure_attention(const char *op, const char *inputs, enum npu_dtype cdt,
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
void measure_kv_append(const char *inputs, enum npu_dtype cdt, uint64_t seed)
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
