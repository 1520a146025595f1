// SPDX-License-Identifier: MIT
/*
 * SOFTMAX over rows and ATTENTION (grouped-query, over a KV cache). Both
 * turn scores into base-2 exponents in Q16, t = score * alpha * log2(e),
 * and share one fixed-point softmax.
 */
#include "exec.h"

/* log2(e) * 2^16 as a scale: 1549082005 * 2^-14. */
static const struct drm_npu_scale log2e_q16 = { 1549082005, 14 };

#define T_LIMIT 0x800000000000ll	/* 2^47 */

/*
 * Turn @rows rows of exponents t[0..n) (Q16), @stride apart, into
 * probabilities in Q30, in place. Nonzero: the core is told to stop.
 */
static int softmax_q30(struct fw_exec *x, __s64 *t, __u32 rows, __u64 stride, __u32 n)
{
	const struct npu_fw_core *c = x->core;
	const struct npu_fw_tables *tab = c->tables;
	struct npu_fw_softmax sm = { t, stride, rows, n, tab };
	__u32 r, j;

	if (x->hooks->softmax && !x->hooks->softmax(c->hook_ctx, &sm))
		return fw_poll(x, (__u64)rows * n);

	for (r = 0; r < rows; r++, t += stride) {
		__s64 tmax = t[0];
		__u64 sum = 0;

		if (fw_poll(x, n))
			return 1;
		for (j = 1; j < n; j++)
			if (t[j] > tmax)
				tmax = t[j];
		for (j = 0; j < n; j++) {
			t[j] = fw_exp2_neg_q16(tab, (__u64)(tmax - t[j]));
			sum += (__u64)t[j];
		}
		/* sum >= 2^30: the largest term is 2^0 in Q30. */
		for (j = 0; j < n; j++)
			t[j] = (__s64)((((__u64)t[j] << 30) + sum / 2) / sum);
	}
	return 0;
}

static __u32 check_pos_params(const struct fw_op *o, int attention)
{
	const struct drm_npu_pos_params *p = &o->op.pos;

	if (!attention && (p->n_heads || p->n_kv_heads || p->head_dim))
		return DRM_NPU_STATUS_BAD_RESERVED;
	if (!fw_scale_valid(p->alpha))
		return DRM_NPU_STATUS_BAD_QPARAM;
	return DRM_NPU_STATUS_OK;
}

__u32 fw_prepare_softmax(struct fw_exec *x, struct fw_op *o)
{
	const struct drm_npu_tensor *a = &o->in[0].d;
	__u32 st = check_pos_params(o, 0);

	(void)x;
	if (st)
		return st;
	if (!(o->op.flags & DRM_NPU_OP_F_CAUSAL) &&
	    ((o->op.flags & DRM_NPU_OP_F_POS_ADDR) || o->op.pos.pos))
		return DRM_NPU_STATUS_BAD_FLAGS;
	if (o->out.d.rows != a->rows || o->out.d.cols != a->cols)
		return DRM_NPU_STATUS_BAD_SHAPE;
	o->scratch_need = (__u64)a->cols * (sizeof(__s32) + sizeof(__s64)) + 8;
	return DRM_NPU_STATUS_OK;
}

__u32 fw_run_softmax(struct fw_exec *x, struct fw_op *o)
{
	const struct fw_tensor *in = &o->in[0];
	__u32 n = in->d.cols, m, j, st;
	__s32 *xr = fw_scratch(x);
	__s64 *t = (__s64 *)(xr + n + (n & 1));
	__u64 pos = fw_read_pos(o);
	struct drm_npu_scale q30 = { 1 << 30, 60 };

	for (m = 0; m < in->d.rows; m++) {
		__u32 vis = n;
		struct drm_npu_scale s, mt;

		if (fw_poll(x, n))
			return DRM_NPU_STATUS_CANCELLED;
		if (o->op.flags & DRM_NPU_OP_F_CAUSAL && pos + m + 1 < n)
			vis = (__u32)(pos + m + 1);
		st = fw_row_scale(in, m, &s);
		if (st)
			return st;
		mt = fw_scale_mul(fw_scale_mul(s, o->op.pos.alpha), log2e_q16);
		fw_load_row(in, m, xr);
		for (j = 0; j < vis; j++)
			t[j] = fw_clamp(fw_requant(xr[j], mt), -T_LIMIT, T_LIMIT);
		if (softmax_q30(x, t, 1, 0, vis))
			return DRM_NPU_STATUS_CANCELLED;
		for (j = vis; j < n; j++)
			t[j] = 0;
		fw_emit_row(x, &o->out, m, t, q30);
	}
	return DRM_NPU_STATUS_OK;
}

__u32 fw_prepare_attention(struct fw_exec *x, struct fw_op *o)
{
	const struct drm_npu_pos_params *p = &o->op.pos;
	const struct drm_npu_tensor *q = &o->in[0].d, *k = &o->in[1].d, *v = &o->in[2].d;
	__u64 qc = (__u64)p->n_heads * p->head_dim, kc = (__u64)p->n_kv_heads * p->head_dim;
	__u32 st = check_pos_params(o, 1);

	(void)x;
	if (st)
		return st;
	if (!p->n_heads || !p->n_kv_heads || !p->head_dim || p->n_heads % p->n_kv_heads)
		return DRM_NPU_STATUS_BAD_SHAPE;
	if (q->cols != qc || k->cols != kc || v->cols != kc || k->rows != v->rows ||
	    o->out.d.rows != q->rows || o->out.d.cols != q->cols)
		return DRM_NPU_STATUS_BAD_SHAPE;
	if (!(o->op.flags & DRM_NPU_OP_F_POS_ADDR) && (__u64)p->pos + q->rows > k->rows)
		return DRM_NPU_STATUS_RANGE;
	/*
	 * The scales are read once from memory the client may still be
	 * writing, so the values checked are the values used.
	 */
	o->scratch_need = npu_fw_attention_scratch(qc, kc, p->n_heads, k->rows);
	return DRM_NPU_STATUS_OK;
}

/* Scores without scales: the firmware's loops for NPU_FW_ATTN_SCORES. */
static int attention_scores(struct fw_exec *x, const struct fw_tensor *kc,
			    const struct npu_fw_attention *a, __s32 *kr)
{
	__u32 j, h, d;

	for (j = 0; j < a->len; j++) {
		if (fw_poll(x, (__u64)a->n_heads * a->head_dim))
			return 1;
		fw_load_row(kc, j, kr);
		for (h = 0; h < a->n_heads; h++) {
			const __s32 *kh = kr + (h / a->group) * a->head_dim;
			const __s32 *qh = a->q + h * a->head_dim;
			__s64 dot = 0;

			for (d = 0; d < a->head_dim; d++)
				dot += (__s64)qh[d] * kh[d];
			a->t[h * a->t_stride + j] = dot;
		}
	}
	return 0;
}

/* Weighted values: the firmware's loops for NPU_FW_ATTN_VALUES. */
static int attention_values(struct fw_exec *x, const struct fw_tensor *vc,
			    const struct npu_fw_attention *a, __s32 *vr)
{
	__u32 j, h, d;

	for (d = 0; d < a->n_heads * a->head_dim; d++)
		a->acc[d] = 0;
	for (j = 0; j < a->len; j++) {
		if (fw_poll(x, (__u64)a->n_heads * a->head_dim))
			return 1;
		fw_load_row(vc, j, vr);
		for (h = 0; h < a->n_heads; h++) {
			const __s32 *vh = vr + (h / a->group) * a->head_dim;
			__s64 w = a->t[h * a->t_stride + j];

			for (d = 0; d < a->head_dim; d++)
				a->acc[h * a->head_dim + d] += w * vh[d];
		}
	}
	return 0;
}

/* One step of the attention: the host's hook, else the firmware's loops. */
static int attention_step(struct fw_exec *x, const struct fw_tensor *cache,
			  struct npu_fw_attention *a, enum npu_fw_attention_step step, __s32 *row)
{
	a->step = step;
	if (x->hooks->attention && !x->hooks->attention(x->core->hook_ctx, a))
		return fw_poll(x, (__u64)a->len * a->n_heads * a->head_dim);
	return step == NPU_FW_ATTN_SCORES ? attention_scores(x, cache, a, row)
					  : attention_values(x, cache, a, row);
}

/* struct npu_fw_rescale: the host's hook, else the firmware's loops. */
static int rescale(struct fw_exec *x, const struct npu_fw_rescale *r)
{
	__u32 h, j;

	if (x->hooks->rescale && !x->hooks->rescale(x->core->hook_ctx, r))
		return fw_poll(x, (__u64)r->n_heads * r->len);
	for (h = 0; h < r->n_heads; h++) {
		if (fw_poll(x, r->len))
			return 1;
		for (j = 0; j < r->len; j++) {
			__s64 *t = r->t + h * r->t_stride + j;

			*t = fw_clamp(fw_requant(*t, r->s[j]), r->lo, r->hi);
		}
	}
	return 0;
}

__u32 fw_run_attention(struct fw_exec *x, struct fw_op *o)
{
	const struct drm_npu_pos_params *p = &o->op.pos;
	const struct fw_tensor *q = &o->in[0], *kc = &o->in[1], *vc = &o->in[2];
	__u32 hd = p->head_dim, nh = p->n_heads, group = nh / p->n_kv_heads;
	__u32 qn = q->d.cols, kn = kc->d.cols, cap = kc->d.rows;
	__s32 *qr = fw_scratch(x), *kr = qr + qn;
	__s64 *t = (__s64 *)(kr + kn + ((qn + kn) & 1));
	__s64 *acc = t + (__u64)nh * cap;
	struct drm_npu_scale *rs = (struct drm_npu_scale *)(acc + qn), *vs = rs + cap;
	__u64 pos = fw_read_pos(o);
	__u32 m, j, st;
	struct npu_fw_attention a = {
		.q = qr, .k = kc->data, .v = vc->data, .k_stride = kc->d.stride,
		.v_stride = vc->d.stride, .k_bits = kc->d.dtype == DRM_NPU_DTYPE_I8 ? 8 : 16,
		.v_bits = vc->d.dtype == DRM_NPU_DTYPE_I8 ? 8 : 16, .n_heads = nh,
		.group = group, .head_dim = hd, .t = t, .t_stride = cap, .acc = acc,
	};
	struct npu_fw_rescale r = { .t = t, .t_stride = cap, .n_heads = nh, .s = rs };

	if (pos + q->d.rows > cap)
		return DRM_NPU_STATUS_RANGE;
	for (m = 0; m < q->d.rows; m++) {
		struct drm_npu_scale sq, mq, sk, sv, sv_max = { 1, FW_SHIFT_MAX }, out_s;

		a.len = (__u32)pos + m + 1;
		st = fw_row_scale(q, m, &sq);
		if (st)
			return st;
		fw_load_row(q, m, qr);
		mq = fw_scale_mul(fw_scale_mul(sq, p->alpha), log2e_q16);
		/*
		 * Every cache row's scales first, each read once: a bad one
		 * stops the op before any sum. rs[j] scales row j's scores,
		 * vs[j] is its value scale.
		 */
		for (j = 0; j < a.len; j++) {
			if (fw_poll(x, 1))
				return DRM_NPU_STATUS_CANCELLED;
			st = fw_row_scale(kc, j, &sk);
			if (!st)
				st = fw_row_scale(vc, j, &vs[j]);
			if (st)
				return st;
			rs[j] = fw_scale_mul(mq, sk);
			sv = fw_scale_norm(vs[j].mult, vs[j].shift);
			if (fw_scale_cmp(sv, sv_max) > 0)
				sv_max = sv;
		}
		/* Scores: t[h][j] = q_h . k_j * sq * sk_j * alpha * log2(e), Q16. */
		if (attention_step(x, kc, &a, NPU_FW_ATTN_SCORES, kr))
			return DRM_NPU_STATUS_CANCELLED;
		r.len = a.len;
		r.lo = -T_LIMIT;
		r.hi = T_LIMIT;
		if (rescale(x, &r) || softmax_q30(x, t, nh, cap, a.len))
			return DRM_NPU_STATUS_CANCELLED;
		/* Weights p_j * sv_j / sv_max in place; out_h = sum_j w_j v_j at sv_max * 2^-30. */
		for (j = 0; j < a.len; j++)
			rs[j] = fw_scale_div(vs[j], sv_max);
		r.lo = FW_S64_MIN;
		r.hi = FW_S64_MAX;
		if (rescale(x, &r) || attention_step(x, vc, &a, NPU_FW_ATTN_VALUES, kr))
			return DRM_NPU_STATUS_CANCELLED;
		out_s = sv_max;
		out_s.shift += 30;
		fw_emit_row(x, &o->out, m, acc, out_s);
	}
	return DRM_NPU_STATUS_OK;
}
