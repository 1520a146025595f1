// SPDX-License-Identifier: MIT
/*
 * MATMUL: out = x . W^T (+ bias). Weights are I8 or I4 in groups of columns,
 * each group with a Q0.16 factor on top of the tensor scale. Sums are exact
 * integers: a group's dot product, times its factor, summed over groups.
 * SCALE_BLOCK weights (codes) have their own loops: op_matmul_block.c.
 */
#include "exec.h"

__u32 fw_prepare_matmul(struct fw_exec *x, struct fw_op *o)
{
	struct drm_npu_tensor *a = &o->in[0].d, *w = &o->in[1].d, *out = &o->out.d;
	const struct drm_npu_matmul_params *p = &o->op.matmul;
	__u32 k = a->cols, g = p->group_size;

	if (w->cols != k || out->rows != a->rows || out->cols != w->rows)
		return DRM_NPU_STATUS_BAD_SHAPE;
	if ((o->op.flags & DRM_NPU_OP_F_BIAS) &&
	    (o->in[2].d.rows != 1 || o->in[2].d.cols != w->rows))
		return DRM_NPU_STATUS_BAD_SHAPE;
	if (w->scale_mode == DRM_NPU_SCALE_BLOCK)
		return fw_prepare_matmul_block(x, o);
	if (p->pad || p->pad2)
		return DRM_NPU_STATUS_BAD_RESERVED;
	/* The block format's parameters, like a scale a mode has not. */
	if (p->block_groups || p->zero || p->block_flags)
		return DRM_NPU_STATUS_BAD_QPARAM;
	if (!(g == k || ((g == 32 || g == 64 || g == 128) && k % g == 0)))
		return DRM_NPU_STATUS_BAD_QPARAM;
	o->in[1].groups_per_row = k / g;
	o->scratch_need = (__u64)k * sizeof(__s32) + (__u64)w->rows * sizeof(__s64) + 8;
	return DRM_NPU_STATUS_OK;
}

static __s64 dot_i8(const __s32 *xr, const __s8 *wr, __u32 n)
{
	__s64 acc = 0;
	__u32 i;

	for (i = 0; i < n; i++)
		acc += (__s64)xr[i] * wr[i];
	return acc;
}

static __s64 dot_i4(const __s32 *xr, const __u8 *wr, __u32 n)
{
	__s64 acc = 0;
	__u32 i;

	for (i = 0; i < n; i += 2) {
		acc += (__s64)xr[i] * ((__s8)(wr[i / 2] << 4) >> 4);
		acc += (__s64)xr[i + 1] * ((__s8)wr[i / 2] >> 4);
	}
	return acc;
}

/* The firmware's own loops: one row of v. Nonzero: the core is told to stop. */
static int sums_row(struct fw_exec *x, const struct fw_tensor *w, const __s32 *xr, __s64 *v)
{
	__u32 n_out = w->d.rows, gpr = w->groups_per_row, g = w->d.cols / gpr, n, j;
	int i4 = w->d.dtype == DRM_NPU_DTYPE_I4;

	for (n = 0; n < n_out; n++) {
		const __u8 *wr = w->data + (__u64)n * w->d.stride;
		const __u16 *f = (const __u16 *)w->scales + (__u64)n * gpr;
		__s64 acc = 0;

		/* One output is at most 65,536 multiply-adds: a row may be 2^31. */
		if (fw_poll(x, w->d.cols))
			return 1;
		for (j = 0; j < gpr; j++) {
			__s64 d = i4 ? dot_i4(xr + j * g, wr + j * g / 2, g)
				     : dot_i8(xr + j * g, (const __s8 *)wr + j * g, g);

			acc += d * f[j];
		}
		v[n] = acc;
	}
	return 0;
}

/* v for @rows rows from @m0: the host's faster kernel, or our loops. */
static int sums(struct fw_exec *x, const struct fw_tensor *a, const struct fw_tensor *w,
		__u32 m0, __u32 rows, __s32 *xr, __s64 *v)
{
	const struct npu_fw_core *core = x->core;
	__u32 r;

	if (x->hooks->matmul) {
		struct npu_fw_matmul mm = {
			.x = a->data + (__u64)m0 * a->d.stride,
			.x_stride = a->d.stride,
			.x_bits = a->d.dtype == DRM_NPU_DTYPE_I16 ? 16 : 8,
			.rows = rows,
			.k = a->d.cols,
			.n = w->d.rows,
			.w = w->data,
			.w_stride = w->d.stride,
			.w_bits = w->d.dtype == DRM_NPU_DTYPE_I4 ? 4 : 8,
			.groups_per_row = w->groups_per_row,
			.factors = (const __u16 *)w->scales,
			.v = v,
			.w_addr = w->d.addr,
			.factors_addr = w->d.scale_addr,
		};

		if (!x->hooks->matmul(core->hook_ctx, &mm))
			return fw_poll(x, (__u64)rows * a->d.cols * w->d.rows);
	}
	for (r = 0; r < rows; r++) {
		fw_load_row(a, m0 + r, xr);
		if (sums_row(x, w, xr, v + (__u64)r * w->d.rows))
			return 1;
	}
	return 0;
}

/*
 * Row @row of the output from its sums @v, whose real values are
 * v * s_x * s_w * 2^-@frac: bias, then emission.
 */
__u32 fw_matmul_emit(struct fw_exec *x, struct fw_op *o, __u32 row, __s64 *v, __s32 frac)
{
	const struct fw_tensor *a = &o->in[0], *w = &o->in[1], *b = &o->in[2];
	struct drm_npu_scale sx, s;
	__u32 n, st;

	st = fw_row_scale(a, row, &sx);
	if (st)
		return st;
	s = fw_scale_mul(sx, w->d.scale);
	s.shift += frac;
	if (o->op.flags & DRM_NPU_OP_F_BIAS) {
		struct drm_npu_scale mb = fw_scale_div(b->d.scale, s);
		const __s32 *br = (const __s32 *)b->data;

		for (n = 0; n < w->d.rows; n++)
			v[n] = fw_add_sat(v[n], fw_requant(br[n], mb));
	}
	fw_emit_row(x, &o->out, row, v, s);
	return DRM_NPU_STATUS_OK;
}

__u32 fw_run_matmul(struct fw_exec *x, struct fw_op *o)
{
	const struct fw_tensor *a = &o->in[0], *w = &o->in[1];
	__u32 k = a->d.cols, n_out = w->d.rows, m0, r, block;
	__s32 *xr = fw_scratch(x);
	__s64 *v = (__s64 *)(xr + k + (k & 1));
	__u64 room = x->core->scratch_size - ((__u64)k + (k & 1)) * sizeof(__s32);
	__u32 st;

	if (w->d.scale_mode == DRM_NPU_SCALE_BLOCK)
		return fw_run_matmul_block(x, o);
	/* As many rows at a time as scratch holds: weights are read once per block. */
	block = room / ((__u64)n_out * sizeof(__s64)) < a->d.rows ?
		(__u32)(room / ((__u64)n_out * sizeof(__s64))) : a->d.rows;
	for (m0 = 0; m0 < a->d.rows; m0 += block) {
		__u32 rows = a->d.rows - m0 < block ? a->d.rows - m0 : block;

		if (sums(x, a, w, m0, rows, xr, v))
			return DRM_NPU_STATUS_CANCELLED;
		/* Q0.16 factors: the real value of v is v * sx * s_w * 2^-16. */
		for (r = 0; r < rows; r++) {
			st = fw_matmul_emit(x, o, m0 + r, v + (__u64)r * n_out, 16);
			if (st)
				return st;
		}
	}
	return DRM_NPU_STATUS_OK;
}
