// SPDX-License-Identifier: MIT
/*
 * EMBEDDING (gather rows by token id) and ARGMAX (greedy token choice). An
 * embedding table is I8/I16 rows or, since ABI 1.2, a weight block format:
 * a GGUF model's table as its file holds it, shared with its classifier.
 */
#include "exec.h"

__u32 fw_prepare_embedding(struct fw_exec *x, struct fw_op *o)
{
	const struct drm_npu_tensor *tab = &o->in[0].d, *ids = &o->in[1].d;
	const struct drm_npu_matmul_params *p = &o->op.embedding.table;

	(void)x;
	if (ids->cols != 1 || o->out.d.rows != ids->rows || o->out.d.cols != tab->cols)
		return DRM_NPU_STATUS_BAD_SHAPE;
	o->scratch_need = (__u64)tab->cols * (sizeof(__s32) + sizeof(__s64)) + 8;
	if (tab->scale_mode == DRM_NPU_SCALE_BLOCK) {
		o->scratch_need = (__u64)tab->cols * sizeof(__s64) +
				  FW_BLOCK_MAX_COLS * sizeof(__s32);
		return fw_block_layout(p, &o->in[0]);
	}
	if (p->pad || p->pad2)
		return DRM_NPU_STATUS_BAD_RESERVED;
	/* A block layout for a table of another mode, as MATMUL's. */
	if (p->group_size || p->block_groups || p->zero || p->block_flags)
		return DRM_NPU_STATUS_BAD_QPARAM;
	return DRM_NPU_STATUS_OK;
}

/* Row @id of a SCALE_BLOCK table into out's row @m: its values are v * scale * 2^-24. */
static __u32 embed_block(struct fw_exec *x, const struct fw_op *o, __u32 m, __u32 id)
{
	const struct fw_tensor *tab = &o->in[0];
	__s64 *v = fw_scratch(x);
	__s32 *q = (__s32 *)(v + tab->d.cols);
	struct drm_npu_scale s = tab->d.scale;
	__u32 st = fw_block_row(&o->op.embedding.table, tab, id, q, v);

	if (st)
		return st;
	s.shift += 24;
	fw_emit_row(x, &o->out, m, v, s);
	return DRM_NPU_STATUS_OK;
}

__u32 fw_run_embedding(struct fw_exec *x, struct fw_op *o)
{
	const struct fw_tensor *tab = &o->in[0], *ids = &o->in[1];
	__u32 n = tab->d.cols, m, i, st;
	__s32 *row = fw_scratch(x);
	__s64 *v = (__s64 *)(row + n + (n & 1));

	for (m = 0; m < ids->d.rows; m++) {
		__s32 id = *(const __s32 *)(ids->data + (__u64)m * ids->d.stride);
		struct drm_npu_scale s;

		if (fw_poll(x, o->out.d.cols))
			return DRM_NPU_STATUS_CANCELLED;
		if (id < 0 || (__u32)id >= tab->d.rows)
			return DRM_NPU_STATUS_INDEX;
		if (tab->d.scale_mode == DRM_NPU_SCALE_BLOCK) {
			st = embed_block(x, o, m, (__u32)id);
			if (st)
				return st;
			continue;
		}
		st = fw_row_scale(tab, (__u32)id, &s);
		if (st)
			return st;
		fw_load_row(tab, (__u32)id, row);
		for (i = 0; i < n; i++)
			v[i] = row[i];
		fw_emit_row(x, &o->out, m, v, s);
	}
	return DRM_NPU_STATUS_OK;
}

__u32 fw_prepare_argmax(struct fw_exec *x, struct fw_op *o)
{
	(void)x;
	if (o->out.d.rows != o->in[0].d.rows || o->out.d.cols != 1)
		return DRM_NPU_STATUS_BAD_SHAPE;
	o->scratch_need = (__u64)o->in[0].d.cols * sizeof(__s32);
	return DRM_NPU_STATUS_OK;
}

/* Within a row every element has the same positive scale: compare integers. */
__u32 fw_run_argmax(struct fw_exec *x, struct fw_op *o)
{
	const struct fw_tensor *in = &o->in[0];
	__u32 n = in->d.cols, m, i, best;
	__s32 *row = fw_scratch(x);

	for (m = 0; m < in->d.rows; m++) {
		__s64 idx;

		if (fw_poll(x, in->d.cols))
			return DRM_NPU_STATUS_CANCELLED;
		fw_load_row(in, m, row);
		best = 0;
		for (i = 1; i < n; i++)
			if (row[i] > row[best])
				best = i;
		idx = best;
		fw_emit_row(x, &o->out, m, &idx, (struct drm_npu_scale){ 1, 0 });
	}
	return DRM_NPU_STATUS_OK;
}
