// SPDX-License-Identifier: MIT
/*
 * RMSNORM and LAYERNORM. The input's scale cancels out of x / rms(x), so
 * rows are normalized in integer units; only epsilon needs the scale.
 */
#include "exec.h"

__u32 fw_prepare_norm(struct fw_exec *x, struct fw_op *o)
{
	const struct drm_npu_tensor *a = &o->in[0].d;
	int ln = o->op.opcode == DRM_NPU_OP_LAYERNORM;

	(void)x;
	if (o->in[1].d.rows != 1 || o->in[1].d.cols != a->cols ||
	    (ln && (o->in[2].d.rows != 1 || o->in[2].d.cols != a->cols)) ||
	    o->out.d.rows != a->rows || o->out.d.cols != a->cols)
		return DRM_NPU_STATUS_BAD_SHAPE;
	if (!fw_scale_valid(o->op.norm.eps))
		return DRM_NPU_STATUS_BAD_QPARAM;
	o->scratch_need = (__u64)a->cols * (sizeof(__s32) * 3 + sizeof(__s64)) + 8;
	return DRM_NPU_STATUS_OK;
}

/* a / b rounded to nearest, ties away from zero; b > 0. */
static __s64 div_round(__s64 a, __s64 b)
{
	return a >= 0 ? (a + b / 2) / b : -((-a + b / 2) / b);
}

__u32 fw_run_norm(struct fw_exec *x, struct fw_op *o)
{
	const struct fw_tensor *in = &o->in[0];
	__u32 k = in->d.cols, i, m;
	int ln = o->op.opcode == DRM_NPU_OP_LAYERNORM;
	/* 8 fraction bits keep small-integer rows (and the mean) exact enough. */
	int frac = 8;
	__s32 *xr = fw_scratch(x), *gamma = xr + k, *beta = gamma + k;
	__s64 *v = (__s64 *)(beta + k + (k & 1));
	struct drm_npu_scale sg = o->in[1].d.scale, s_out = sg, mb = { 0, 0 };
	const struct npu_fw_core *c = x->core;

	fw_load_row(&o->in[1], 0, gamma);
	/* v = z * gamma with z in Q16: its scale is s_gamma * 2^-16. */
	s_out.shift += 16;
	if (ln) {
		fw_load_row(&o->in[2], 0, beta);
		mb = fw_scale_div(o->in[2].d.scale, s_out);
	}
	for (m = 0; m < in->d.rows; m++) {
		__s64 mean = 0;
		__uint128_t ss = 0;
		__u64 ms, eps, ss64;
		struct drm_npu_scale s, s2;
		struct npu_fw_norm h;
		__u32 r, j = 0, st;
		__s32 e;

		if (fw_poll(x, in->d.cols))
			return DRM_NPU_STATUS_CANCELLED;
		st = fw_row_scale(in, m, &s);
		if (st)
			return st;
		fw_load_row(in, m, xr);
		if (ln) {
			__s64 sum = 0;

			for (i = 0; i < k; i++)
				sum += xr[i];
			mean = div_round(sum * 256, k);
		}
		/* Centered values c = x * 2^frac - mean, held in v. */
		h = (struct npu_fw_norm){ .step = NPU_FW_NORM_CENTER, .x = xr, .gamma = gamma,
					  .n = k, .frac = frac, .mean = mean, .v = v, .ss = &ss64 };
		if (x->hooks->norm && !x->hooks->norm(c->hook_ctx, &h)) {
			ss = ss64;
		} else {
			for (i = 0; i < k; i++) {
				v[i] = (__s64)xr[i] * (1 << frac) - mean;
				ss += (__uint128_t)((__int128_t)v[i] * v[i]);
			}
		}
		while ((ss >> j) >= ((__uint128_t)1 << 62))
			j += 2;
		ms = ((__u64)(ss >> j) + k / 2) / k;
		/* eps in units of (s * 2^-frac)^2 * 2^j, the units of ms. */
		s2 = fw_scale_mul(s, s);
		s2.shift += 2 * frac - (__s32)j;
		eps = (__u64)fw_requant(1, fw_scale_div(o->op.norm.eps, s2));
		ms = ms + eps < ms ? ~0ull : ms + eps;
		fw_rsqrt(x->core->tables, ms, &r, &e);
		/* z = c / sqrt(ms * 2^j) = c * r * 2^-(e + j/2), kept in Q16. */
		h.step = NPU_FW_NORM_SCALE;
		h.r = r;
		h.shift = e + (__s32)j / 2 - 16;
		if (!x->hooks->norm || x->hooks->norm(c->hook_ctx, &h)) {
			for (i = 0; i < k; i++)
				v[i] = (__s64)fw_rshift_round((__int128_t)v[i] * r, h.shift) *
				       gamma[i];
		}
		for (i = 0; ln && i < k; i++)
			v[i] = fw_add_sat(v[i], fw_requant(beta[i], mb));
		fw_emit_row(x, &o->out, m, v, s_out);
	}
	return DRM_NPU_STATUS_OK;
}
