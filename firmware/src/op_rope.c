// SPDX-License-Identifier: MIT
/*
 * ROPE: rotate adjacent pairs (2i, 2i+1) of every head by the angle
 * position * freq[i], with freq in turns (Q0.32) so that the angle wraps
 * modulo one turn for free, and sin/cos in Q14 from the image's table.
 */
#include "exec.h"

__u32 fw_prepare_rope(struct fw_exec *x, struct fw_op *o)
{
	const struct drm_npu_pos_params *p = &o->op.pos;
	const struct drm_npu_tensor *a = &o->in[0].d, *f = &o->in[1].d;

	(void)x;
	if (p->n_kv_heads || p->alpha.mult || p->alpha.shift)
		return DRM_NPU_STATUS_BAD_RESERVED;
	if (!p->n_heads || !p->head_dim || p->head_dim % 2 ||
	    (__u64)p->n_heads * p->head_dim != a->cols ||
	    f->rows != 1 || f->cols != p->head_dim / 2 ||
	    o->out.d.rows != a->rows || o->out.d.cols != a->cols)
		return DRM_NPU_STATUS_BAD_SHAPE;
	/* The row, freq, one sin and cos per frequency, the results. */
	o->scratch_need = (__u64)a->cols * (sizeof(__s32) + sizeof(__s64)) +
			  (__u64)f->cols * 3 * sizeof(__s32) + 8;
	return DRM_NPU_STATUS_OK;
}

__u32 fw_run_rope(struct fw_exec *x, struct fw_op *o)
{
	const struct fw_tensor *in = &o->in[0];
	__u32 n = in->d.cols, half = o->op.pos.head_dim / 2, m, i, st;
	__s32 *xr = fw_scratch(x), *freq = xr + n, *sn = freq + half, *cs = sn + half;
	__s64 *v = (__s64 *)(cs + half + ((n + half) & 1));
	__u32 pos = fw_read_pos(o);

	fw_load_row(&o->in[1], 0, freq);
	for (m = 0; m < in->d.rows; m++) {
		struct drm_npu_scale s;

		if (fw_poll(x, in->d.cols))
			return DRM_NPU_STATUS_CANCELLED;
		st = fw_row_scale(in, m, &s);
		if (st)
			return st;
		fw_load_row(in, m, xr);
		/* Every head rotates by the same angles: one sin and cos per frequency. */
		for (i = 0; i < half; i++)
			fw_sincos_q14(x->core->tables, (pos + m) * (__u32)freq[i], &sn[i], &cs[i]);
		for (i = 0; i < n; i += 2) {
			__u32 f = (i / 2) % half;

			v[i] = (__s64)xr[i] * cs[f] - (__s64)xr[i + 1] * sn[f];
			v[i + 1] = (__s64)xr[i] * sn[f] + (__s64)xr[i + 1] * cs[f];
		}
		s.shift += 14;
		fw_emit_row(x, &o->out, m, v, s);
	}
	return DRM_NPU_STATUS_OK;
}
