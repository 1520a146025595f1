// SPDX-License-Identifier: MIT
/*
 * Row-wise element ops: SILU, GELU, QUANTIZE (any scaled type to any, with
 * static or dynamic per-row output scale), ADD and MUL with requantization,
 * and KV_APPEND (QUANTIZE into the cache rows at a position).
 */
#include "exec.h"

/* 2 * sqrt(2 / pi) and 0.044715 in Q30, for GELU's tanh form. */
#define GELU_K_Q30 1713444047ll
#define GELU_C_Q30 48012366ll
#define GELU_CLAMP (16ll << 16)

static struct drm_npu_scale act_scale(void)
{
	struct drm_npu_scale s = { 1 << 30, 30 + FW_ACT_FRAC };

	return s;
}

static __u32 prepare_rows(struct fw_op *o, __u32 inputs)
{
	const struct drm_npu_tensor *a = &o->in[0].d;

	o->scratch_need = (__u64)a->cols * (inputs * sizeof(__s32) + sizeof(__s64)) + 8;
	return DRM_NPU_STATUS_OK;
}

__u32 fw_prepare_unary(struct fw_exec *x, struct fw_op *o)
{
	(void)x;
	if (o->out.d.rows != o->in[0].d.rows || o->out.d.cols != o->in[0].d.cols)
		return DRM_NPU_STATUS_BAD_SHAPE;
	return prepare_rows(o, 1);
}

static __s64 gelu(const struct npu_fw_tables *t, __s64 xq)
{
	__s64 c = fw_clamp((__s64)fw_rshift_round(xq, FW_ACT_FRAC - 16), -GELU_CLAMP, GELU_CLAMP);
	__s64 c2 = (__s64)fw_rshift_round((__int128_t)c * c, 16);
	__s64 c3 = (__s64)fw_rshift_round((__int128_t)c2 * c, 16);
	__s64 inner = c + (__s64)fw_rshift_round((__int128_t)c3 * GELU_C_Q30, 30);
	__s64 arg = (__s64)fw_rshift_round((__int128_t)inner * GELU_K_Q30, 30);

	return (__s64)fw_rshift_round((__int128_t)xq * fw_sigmoid_q30(t, arg), 30);
}

__u32 fw_run_unary(struct fw_exec *x, struct fw_op *o)
{
	const struct fw_tensor *in = &o->in[0];
	__u32 n = in->d.cols, m, i, st;
	__s32 *xr = fw_scratch(x);
	__s64 *v = (__s64 *)(xr + n + (n & 1));
	const struct npu_fw_tables *t = x->core->tables;

	for (m = 0; m < in->d.rows; m++) {
		struct drm_npu_scale s, to_act;

		if (fw_poll(x, n))
			return DRM_NPU_STATUS_CANCELLED;
		st = fw_row_scale(in, m, &s);
		if (st)
			return st;
		fw_load_row(in, m, xr);
		if (o->op.opcode == DRM_NPU_OP_QUANTIZE) {
			for (i = 0; i < n; i++)
				v[i] = xr[i];
			fw_emit_row(x, &o->out, m, v, s);
			continue;
		}
		/* x in Q24, clamped to |x| <= 2^23. */
		to_act = fw_scale_norm((__u64)s.mult, s.shift);
		to_act.shift -= FW_ACT_FRAC;
		if (o->op.opcode == DRM_NPU_OP_SILU) {
			struct npu_fw_silu a = { xr, n, to_act, t, v };

			if (!x->hooks->silu || x->hooks->silu(x->core->hook_ctx, &a))
				for (i = 0; i < n; i++)
					v[i] = fw_silu_q24(t, xr[i], to_act);
		} else {
			for (i = 0; i < n; i++)
				v[i] = gelu(t, fw_clamp(fw_requant(xr[i], to_act), -FW_ACT_LIMIT,
							FW_ACT_LIMIT));
		}
		fw_emit_row(x, &o->out, m, v, act_scale());
	}
	return DRM_NPU_STATUS_OK;
}

__u32 fw_prepare_binary(struct fw_exec *x, struct fw_op *o)
{
	const struct drm_npu_tensor *a = &o->in[0].d, *b = &o->in[1].d;

	(void)x;
	if (b->cols != a->cols || (b->rows != a->rows && b->rows != 1) ||
	    o->out.d.rows != a->rows || o->out.d.cols != a->cols)
		return DRM_NPU_STATUS_BAD_SHAPE;
	return prepare_rows(o, 2);
}

__u32 fw_run_binary(struct fw_exec *x, struct fw_op *o)
{
	const struct fw_tensor *a = &o->in[0], *b = &o->in[1];
	__u32 n = a->d.cols, m, i, st;
	__s32 *ar = fw_scratch(x), *br = ar + n;
	__s64 *v = (__s64 *)(br + n);
	int add = o->op.opcode == DRM_NPU_OP_ADD;

	for (m = 0; m < a->d.rows; m++) {
		__u32 mb = b->d.rows == 1 ? 0 : m;
		struct drm_npu_scale sa, sb, s;

		if (fw_poll(x, n))
			return DRM_NPU_STATUS_CANCELLED;
		st = fw_row_scale(a, m, &sa);
		if (!st)
			st = fw_row_scale(b, mb, &sb);
		if (st)
			return st;
		fw_load_row(a, m, ar);
		fw_load_row(b, mb, br);
		if (add) {
			struct npu_fw_add h = { .a = ar, .b = br, .n = n, .v = v };

			/* Common scale: the larger input scale with 24 more bits. */
			sa = fw_scale_norm(sa.mult, sa.shift);
			sb = fw_scale_norm(sb.mult, sb.shift);
			s = fw_scale_cmp(sa, sb) >= 0 ? sa : sb;
			s.shift += 24;
			h.ma = fw_scale_div(sa, s);
			h.mb = fw_scale_div(sb, s);
			if (!x->hooks->add || x->hooks->add(x->core->hook_ctx, &h))
				for (i = 0; i < n; i++)
					v[i] = fw_requant(ar[i], h.ma) + fw_requant(br[i], h.mb);
		} else {
			s = fw_scale_mul(sa, sb);
			for (i = 0; i < n; i++)
				v[i] = (__s64)ar[i] * br[i];
		}
		fw_emit_row(x, &o->out, m, v, s);
	}
	return DRM_NPU_STATUS_OK;
}

__u32 fw_prepare_kv_append(struct fw_exec *x, struct fw_op *o)
{
	const struct drm_npu_pos_params *p = &o->op.pos;

	(void)x;
	if (p->n_heads || p->n_kv_heads || p->head_dim || p->alpha.mult || p->alpha.shift)
		return DRM_NPU_STATUS_BAD_RESERVED;
	if (o->out.d.cols != o->in[0].d.cols)
		return DRM_NPU_STATUS_BAD_SHAPE;
	if (!(o->op.flags & DRM_NPU_OP_F_POS_ADDR) &&
	    (__u64)p->pos + o->in[0].d.rows > o->out.d.rows)
		return DRM_NPU_STATUS_RANGE;
	return prepare_rows(o, 1);
}

__u32 fw_run_kv_append(struct fw_exec *x, struct fw_op *o)
{
	const struct fw_tensor *in = &o->in[0];
	__u32 n = in->d.cols, m, i, st;
	__s32 *xr = fw_scratch(x);
	__s64 *v = (__s64 *)(xr + n + (n & 1));
	__u64 pos = fw_read_pos(o);

	if (pos + in->d.rows > o->out.d.rows)
		return DRM_NPU_STATUS_RANGE;
	for (m = 0; m < in->d.rows; m++) {
		struct drm_npu_scale s;

		if (fw_poll(x, n))
			return DRM_NPU_STATUS_CANCELLED;
		st = fw_row_scale(in, m, &s);
		if (st)
			return st;
		fw_load_row(in, m, xr);
		for (i = 0; i < n; i++)
			v[i] = xr[i];
		fw_emit_row(x, &o->out, (__u32)pos + m, v, s);
	}
	return DRM_NPU_STATUS_OK;
}
