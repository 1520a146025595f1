// SPDX-License-Identifier: MIT
/*
 * Command streams on the host: tensors resolved to device addresses and op
 * descriptors appended. The host checks what only it can (handles, buffer
 * ranges, devices); the firmware checks everything again when it runs.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "cmd.h"

struct npu_tensor npu_tensor_2d(npu_bo bo, uint64_t offset, uint32_t rows, uint32_t cols,
				enum npu_dtype dtype)
{
	struct npu_tensor t;

	memset(&t, 0, sizeof(t));
	t.bo = bo;
	t.offset = offset;
	t.rows = rows;
	t.cols = cols;
	t.dtype = dtype;
	return t;
}

int npu_cmd_create(npu_device *dev, npu_cmd **cmd)
{
	npu_cmd *c;

	if (!dev || !cmd)
		return NPU_E_INVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NPU_E_NOMEM;
	c->dev = dev;
	c->prio = NPU_PRIO_NORMAL;
	*cmd = c;
	return NPU_OK;
}

int npu_cmd_destroy(npu_cmd *cmd)
{
	if (!cmd)
		return NPU_E_INVAL;
	free(cmd->ops);
	free(cmd);
	return NPU_OK;
}

int npu_cmd_reset(npu_cmd *cmd)
{
	if (!cmd)
		return NPU_E_INVAL;
	cmd->n_ops = 0;
	cmd->err = NPU_OK;
	return NPU_OK;
}

int npu_cmd_set_priority(npu_cmd *cmd, enum npu_priority prio)
{
	if (!cmd || (unsigned int)prio > NPU_PRIO_HIGH)
		return NPU_E_INVAL;
	cmd->prio = prio;
	return NPU_OK;
}

int npu_cmd_set_profile(npu_cmd *cmd, npu_bo bo, uint64_t offset)
{
	if (!cmd || offset % 8)
		return NPU_E_INVAL;
	cmd->profile = 1;
	cmd->profile_bo = bo;
	cmd->profile_offset = offset;
	return NPU_OK;
}

int npu_cmd_opcode(const npu_cmd *cmd, uint32_t index, unsigned int *opcode)
{
	if (!cmd || !opcode || index >= cmd->n_ops)
		return NPU_E_INVAL;
	*opcode = cmd->ops[index].opcode;
	return NPU_OK;
}

int npu_cmd_count(const npu_cmd *cmd, uint32_t *count)
{
	if (!cmd || !count)
		return NPU_E_INVAL;
	*count = cmd->n_ops;
	return cmd->err;
}

/* Device address of [offset, offset + len) in bo, or an error. */
static int resolve(npu_device *dev, npu_bo bo, uint64_t offset, uint64_t len, __u64 *addr)
{
	struct bo_slot s = { 0 };
	int err = npu_bo_lookup(dev, bo, &s);

	if (err)
		return err;
	if (offset > s.size || len > s.size - offset)
		return NPU_E_RANGE;
	*addr = s.dev_addr + offset;
	return NPU_OK;
}

/* @group_bytes: bytes of group factors (GROUP) or records (BLOCK); ROW is rows * 8. */
static int tensor_to_abi(npu_cmd *cmd, const struct npu_tensor *t, uint64_t group_bytes,
			 struct drm_npu_tensor *d)
{
	uint64_t rb, stride, span;
	int err;

	memset(d, 0, sizeof(*d));
	if (!t)
		return NPU_E_INVAL;
	if (t->rows == 0 || t->cols == 0 || t->dtype < NPU_I4 || t->dtype > NPU_U8 ||
	    (unsigned int)t->scale_mode > NPU_SCALE_BLOCK)
		return NPU_E_INVAL;
	rb = npu_row_bytes(t->dtype, t->cols);
	stride = t->stride ? t->stride : rb;
	if (stride > UINT32_MAX)
		return NPU_E_RANGE;
	span = (uint64_t)(t->rows - 1) * stride + rb;
	err = resolve(cmd->dev, t->bo, t->offset, span, &d->addr);
	if (err)
		return err;
	if (t->scale_mode == NPU_SCALE_ROW || t->scale_mode == NPU_SCALE_GROUP ||
	    t->scale_mode == NPU_SCALE_BLOCK) {
		uint64_t sb = t->scale_mode == NPU_SCALE_ROW ? 8ull * t->rows : group_bytes;

		err = resolve(cmd->dev, t->scale_bo, t->scale_offset, sb, &d->scale_addr);
		if (err)
			return err;
	}
	d->rows = t->rows;
	d->cols = t->cols;
	d->stride = (uint32_t)stride;
	d->dtype = (uint8_t)t->dtype;
	d->scale_mode = (uint8_t)t->scale_mode;
	if (t->scale_mode == NPU_SCALE_TENSOR || t->scale_mode == NPU_SCALE_GROUP ||
	    t->scale_mode == NPU_SCALE_BLOCK) {
		d->scale.mult = t->scale.mult;
		d->scale.shift = t->scale.shift;
	}
	return NPU_OK;
}

static struct drm_npu_op *append(npu_cmd *cmd)
{
	struct drm_npu_op *op;

	if (cmd->n_ops == DRM_NPU_CMD_MAX_OPS)
		return NULL;
	if (cmd->n_ops == cmd->cap_ops) {
		uint32_t cap = cmd->cap_ops ? cmd->cap_ops * 2 : 16;
		struct drm_npu_op *n = realloc(cmd->ops, cap * sizeof(*n));

		if (!n)
			return NULL;
		cmd->ops = n;
		cmd->cap_ops = cap;
	}
	op = &cmd->ops[cmd->n_ops];
	memset(op, 0, sizeof(*op));
	return op;
}

/*
 * Keep the stream's first error: a caller may encode a whole pass and look
 * at the status once, at npu_submit(), which refuses the stream with it.
 */
static int fail(npu_cmd *cmd, int err)
{
	if (!cmd->err)
		cmd->err = err;
	return err;
}

/*
 * Encode op with inputs in[0..n_in) and out; commit only if all resolve.
 * @w_scale_bytes: the bytes of the scales of the op's one input in GROUP or
 * BLOCK mode (MATMUL's weights, a block EMBEDDING's table).
 */
static int encode(npu_cmd *cmd, struct drm_npu_op *op, const struct npu_tensor *const *in,
		  int n_in, const struct npu_tensor *out, uint64_t w_scale_bytes)
{
	int i, err;

	for (i = 0; i < n_in; i++) {
		err = tensor_to_abi(cmd, in[i], w_scale_bytes, &op->in[i]);
		if (err)
			return fail(cmd, err);
	}
	if (out) {
		err = tensor_to_abi(cmd, out, 0, &op->out);
		if (err)
			return fail(cmd, err);
	}
	cmd->n_ops++;
	return NPU_OK;
}

static int set_pos(npu_cmd *cmd, struct drm_npu_op *op, const struct npu_pos *pos)
{
	int err;

	if (!pos)
		return NPU_OK;
	if (!pos->bo) {
		op->pos.pos = pos->value;
		return NPU_OK;
	}
	err = resolve(cmd->dev, pos->bo, pos->offset, 4, &op->pos.pos_addr);
	if (err)
		return fail(cmd, err);
	op->flags |= DRM_NPU_OP_F_POS_ADDR;
	return NPU_OK;
}

/* Start an op; NULL when cmd is NULL, holds an error or cannot grow. */
static struct drm_npu_op *begin(npu_cmd *cmd, unsigned int opcode, int *err)
{
	struct drm_npu_op *op;

	if (!cmd) {
		*err = NPU_E_INVAL;
		return NULL;
	}
	if (cmd->err) {
		*err = cmd->err;
		return NULL;
	}
	op = append(cmd);
	if (!op) {
		*err = fail(cmd, cmd->n_ops == DRM_NPU_CMD_MAX_OPS ? NPU_E_NOSPC : NPU_E_NOMEM);
		return NULL;
	}
	op->opcode = (uint16_t)opcode;
	return op;
}

int npu_op_nop(npu_cmd *cmd)
{
	struct drm_npu_op *op;
	int err;

	op = begin(cmd, DRM_NPU_OP_NOP, &err);
	if (!op)
		return err;
	return encode(cmd, op, NULL, 0, NULL, 0);
}

int npu_op_matmul(npu_cmd *cmd, const struct npu_tensor *x, const struct npu_tensor *w,
		  uint32_t group_size, const struct npu_tensor *bias, const struct npu_tensor *out)
{
	struct drm_npu_op *op;
	int err;
	const struct npu_tensor *in[3] = { x, w, bias };
	uint64_t groups;

	op = begin(cmd, DRM_NPU_OP_MATMUL, &err);
	if (!op)
		return err;
	if (!w || group_size == 0)
		return fail(cmd, NPU_E_INVAL);
	groups = (uint64_t)w->rows * ((w->cols + group_size - 1) / group_size);
	op->matmul.group_size = group_size;
	if (bias)
		op->flags |= DRM_NPU_OP_F_BIAS;
	return encode(cmd, op, in, bias ? 3 : 2, out, groups * 2);
}

/* @f into @p for the U-type @w: its record bytes, 0 when the firmware would refuse it. */
static uint64_t block_layout(const struct npu_tensor *w, const struct npu_block_format *f,
			     struct drm_npu_matmul_params *p)
{
	uint64_t rec;

	if (!w || !f || w->scale_mode != NPU_SCALE_BLOCK || w->dtype < NPU_U2 || w->dtype > NPU_U8)
		return 0;
	/* Eight b-bit codes take b bytes: the zero is below 2^b. */
	rec = npu_block_record_bytes(f, w->cols);
	if (!rec || f->zero >> npu_row_bytes(w->dtype, 8))
		return 0;
	p->group_size = f->group_size;
	p->block_groups = (uint16_t)f->block_groups;
	p->zero = (uint8_t)f->zero;
	p->block_flags = (uint8_t)f->flags;
	return rec;
}

int npu_op_matmul_block(npu_cmd *cmd, const struct npu_tensor *x, const struct npu_tensor *w,
			const struct npu_block_format *f, const struct npu_tensor *bias,
			const struct npu_tensor *out)
{
	struct drm_npu_op *op;
	int err;
	const struct npu_tensor *in[3] = { x, w, bias };
	uint64_t rec;

	op = begin(cmd, DRM_NPU_OP_MATMUL, &err);
	if (!op)
		return err;
	rec = block_layout(w, f, &op->matmul);
	if (!rec)
		return fail(cmd, NPU_E_INVAL);
	if (bias)
		op->flags |= DRM_NPU_OP_F_BIAS;
	return encode(cmd, op, in, bias ? 3 : 2, out, w->rows * rec);
}

int npu_op_rmsnorm(npu_cmd *cmd, const struct npu_tensor *x, const struct npu_tensor *gamma,
		   struct npu_scale eps, const struct npu_tensor *out)
{
	struct drm_npu_op *op;
	int err;
	const struct npu_tensor *in[2] = { x, gamma };

	op = begin(cmd, DRM_NPU_OP_RMSNORM, &err);
	if (!op)
		return err;
	op->norm.eps.mult = eps.mult;
	op->norm.eps.shift = eps.shift;
	return encode(cmd, op, in, 2, out, 0);
}

int npu_op_layernorm(npu_cmd *cmd, const struct npu_tensor *x, const struct npu_tensor *gamma,
		     const struct npu_tensor *beta, struct npu_scale eps,
		     const struct npu_tensor *out)
{
	struct drm_npu_op *op;
	int err;
	const struct npu_tensor *in[3] = { x, gamma, beta };

	op = begin(cmd, DRM_NPU_OP_LAYERNORM, &err);
	if (!op)
		return err;
	op->norm.eps.mult = eps.mult;
	op->norm.eps.shift = eps.shift;
	return encode(cmd, op, in, 3, out, 0);
}

int npu_op_softmax(npu_cmd *cmd, const struct npu_tensor *x, struct npu_scale alpha,
		   const struct npu_pos *causal, const struct npu_tensor *out)
{
	struct drm_npu_op *op;
	int err;
	const struct npu_tensor *in[1] = { x };

	op = begin(cmd, DRM_NPU_OP_SOFTMAX, &err);
	if (!op)
		return err;
	op->pos.alpha.mult = alpha.mult;
	op->pos.alpha.shift = alpha.shift;
	if (causal) {
		op->flags |= DRM_NPU_OP_F_CAUSAL;
		err = set_pos(cmd, op, causal);
		if (err)
			return err;
	}
	return encode(cmd, op, in, 1, out, 0);
}

static int unary(npu_cmd *cmd, unsigned int opcode, const struct npu_tensor *x,
		 const struct npu_tensor *out)
{
	struct drm_npu_op *op;
	int err;
	const struct npu_tensor *in[1] = { x };

	op = begin(cmd, opcode, &err);
	if (!op)
		return err;
	return encode(cmd, op, in, 1, out, 0);
}

int npu_op_silu(npu_cmd *cmd, const struct npu_tensor *x, const struct npu_tensor *out)
{
	return unary(cmd, DRM_NPU_OP_SILU, x, out);
}

int npu_op_gelu(npu_cmd *cmd, const struct npu_tensor *x, const struct npu_tensor *out)
{
	return unary(cmd, DRM_NPU_OP_GELU, x, out);
}

int npu_op_quantize(npu_cmd *cmd, const struct npu_tensor *x, const struct npu_tensor *out)
{
	return unary(cmd, DRM_NPU_OP_QUANTIZE, x, out);
}

int npu_op_argmax(npu_cmd *cmd, const struct npu_tensor *x, const struct npu_tensor *out)
{
	return unary(cmd, DRM_NPU_OP_ARGMAX, x, out);
}

static int binary(npu_cmd *cmd, unsigned int opcode, const struct npu_tensor *a,
		  const struct npu_tensor *b, const struct npu_tensor *out)
{
	struct drm_npu_op *op;
	int err;
	const struct npu_tensor *in[2] = { a, b };

	op = begin(cmd, opcode, &err);
	if (!op)
		return err;
	return encode(cmd, op, in, 2, out, 0);
}

int npu_op_add(npu_cmd *cmd, const struct npu_tensor *a, const struct npu_tensor *b,
	       const struct npu_tensor *out)
{
	return binary(cmd, DRM_NPU_OP_ADD, a, b, out);
}

int npu_op_mul(npu_cmd *cmd, const struct npu_tensor *a, const struct npu_tensor *b,
	       const struct npu_tensor *out)
{
	return binary(cmd, DRM_NPU_OP_MUL, a, b, out);
}

int npu_op_embedding(npu_cmd *cmd, const struct npu_tensor *table, const struct npu_tensor *ids,
		     const struct npu_tensor *out)
{
	return binary(cmd, DRM_NPU_OP_EMBEDDING, table, ids, out);
}

int npu_op_embedding_block(npu_cmd *cmd, const struct npu_tensor *table,
			   const struct npu_block_format *f, const struct npu_tensor *ids,
			   const struct npu_tensor *out)
{
	struct drm_npu_op *op;
	int err;
	const struct npu_tensor *in[2] = { table, ids };
	uint64_t rec;

	op = begin(cmd, DRM_NPU_OP_EMBEDDING, &err);
	if (!op)
		return err;
	rec = block_layout(table, f, &op->embedding.table);
	if (!rec)
		return fail(cmd, NPU_E_INVAL);
	return encode(cmd, op, in, 2, out, table->rows * rec);
}

int npu_op_rope(npu_cmd *cmd, const struct npu_tensor *x, const struct npu_tensor *freqs,
		uint32_t n_heads, uint32_t head_dim, const struct npu_pos *pos,
		const struct npu_tensor *out)
{
	struct drm_npu_op *op;
	int err;
	const struct npu_tensor *in[2] = { x, freqs };

	op = begin(cmd, DRM_NPU_OP_ROPE, &err);
	if (!op)
		return err;
	op->pos.n_heads = n_heads;
	op->pos.head_dim = head_dim;
	err = set_pos(cmd, op, pos);
	if (err)
		return err;
	return encode(cmd, op, in, 2, out, 0);
}

int npu_op_attention(npu_cmd *cmd, const struct npu_tensor *q, const struct npu_tensor *k_cache,
		     const struct npu_tensor *v_cache, uint32_t n_heads, uint32_t n_kv_heads,
		     uint32_t head_dim, struct npu_scale alpha, const struct npu_pos *pos,
		     const struct npu_tensor *out)
{
	struct drm_npu_op *op;
	int err;
	const struct npu_tensor *in[3] = { q, k_cache, v_cache };

	op = begin(cmd, DRM_NPU_OP_ATTENTION, &err);
	if (!op)
		return err;
	op->pos.n_heads = n_heads;
	op->pos.n_kv_heads = n_kv_heads;
	op->pos.head_dim = head_dim;
	op->pos.alpha.mult = alpha.mult;
	op->pos.alpha.shift = alpha.shift;
	err = set_pos(cmd, op, pos);
	if (err)
		return err;
	return encode(cmd, op, in, 3, out, 0);
}

int npu_op_kv_append(npu_cmd *cmd, const struct npu_tensor *src, const struct npu_tensor *cache,
		     const struct npu_pos *pos)
{
	struct drm_npu_op *op;
	int err;
	const struct npu_tensor *in[1] = { src };

	op = begin(cmd, DRM_NPU_OP_KV_APPEND, &err);
	if (!op)
		return err;
	err = set_pos(cmd, op, pos);
	if (err)
		return err;
	return encode(cmd, op, in, 1, cache, 0);
}
