// SPDX-License-Identifier: MIT
/*
 * The command-stream processor: header checks, per-op validation against
 * the op's operand rules, address translation, alias rules, dispatch.
 */
#include "exec.h"

#define ELEM (DT(I8) | DT(I16) | DT(I32))
#define SCALED (SM(TENSOR) | SM(ROW))

const struct fw_op_spec fw_op_specs[DRM_NPU_OP_COUNT] = {
	[DRM_NPU_OP_NOP] = { .flags = 0 },
	[DRM_NPU_OP_MATMUL] = {
		.in = { { DT(I8) | DT(I16), SCALED, 0 },
			{ DT(I8) | DT(I4) | FW_CODE_TYPES, SM(GROUP) | SM(BLOCK), 0 },
			{ DT(I32), SM(TENSOR), DRM_NPU_OP_F_BIAS } },
		.out = { ELEM, SCALED, 0 },
		.flags = DRM_NPU_OP_F_BIAS,
		.params_bytes = sizeof(struct drm_npu_matmul_params),
		.prepare = fw_prepare_matmul, .run = fw_run_matmul,
	},
	[DRM_NPU_OP_RMSNORM] = {
		.in = { { ELEM, SCALED, 0 }, { DT(I8) | DT(I16), SM(TENSOR), 0 } },
		.out = { ELEM, SCALED, 0 },
		.params_bytes = sizeof(struct drm_npu_norm_params), .row_local = 1,
		.prepare = fw_prepare_norm, .run = fw_run_norm,
	},
	[DRM_NPU_OP_LAYERNORM] = {
		.in = { { ELEM, SCALED, 0 }, { DT(I8) | DT(I16), SM(TENSOR), 0 },
			{ DT(I8) | DT(I16), SM(TENSOR), 0 } },
		.out = { ELEM, SCALED, 0 },
		.params_bytes = sizeof(struct drm_npu_norm_params), .row_local = 1,
		.prepare = fw_prepare_norm, .run = fw_run_norm,
	},
	[DRM_NPU_OP_SOFTMAX] = {
		.in = { { ELEM, SCALED, 0 } },
		.out = { ELEM, SCALED, 0 },
		.flags = DRM_NPU_OP_F_CAUSAL | DRM_NPU_OP_F_POS_ADDR,
		.params_bytes = sizeof(struct drm_npu_pos_params), .row_local = 1,
		.prepare = fw_prepare_softmax, .run = fw_run_softmax,
	},
	[DRM_NPU_OP_SILU] = {
		.in = { { ELEM, SCALED, 0 } }, .out = { ELEM, SCALED, 0 }, .row_local = 1,
		.prepare = fw_prepare_unary, .run = fw_run_unary,
	},
	[DRM_NPU_OP_GELU] = {
		.in = { { ELEM, SCALED, 0 } }, .out = { ELEM, SCALED, 0 }, .row_local = 1,
		.prepare = fw_prepare_unary, .run = fw_run_unary,
	},
	[DRM_NPU_OP_ADD] = {
		.in = { { ELEM, SCALED, 0 }, { ELEM, SCALED, 0 } },
		.out = { ELEM, SCALED, 0 }, .row_local = 1,
		.prepare = fw_prepare_binary, .run = fw_run_binary,
	},
	[DRM_NPU_OP_MUL] = {
		.in = { { ELEM, SCALED, 0 }, { ELEM, SCALED, 0 } },
		.out = { ELEM, SCALED, 0 }, .row_local = 1,
		.prepare = fw_prepare_binary, .run = fw_run_binary,
	},
	[DRM_NPU_OP_ROPE] = {
		.in = { { ELEM, SCALED, 0 }, { DT(I32), SM(NONE), 0 } },
		.out = { ELEM, SCALED, 0 },
		.flags = DRM_NPU_OP_F_POS_ADDR,
		.params_bytes = sizeof(struct drm_npu_pos_params), .row_local = 1,
		.prepare = fw_prepare_rope, .run = fw_run_rope,
	},
	[DRM_NPU_OP_ATTENTION] = {
		.in = { { DT(I8) | DT(I16), SCALED, 0 }, { DT(I8) | DT(I16), SCALED, 0 },
			{ DT(I8) | DT(I16), SCALED, 0 } },
		.out = { ELEM, SCALED, 0 },
		.flags = DRM_NPU_OP_F_POS_ADDR,
		.params_bytes = sizeof(struct drm_npu_pos_params),
		.prepare = fw_prepare_attention, .run = fw_run_attention,
	},
	[DRM_NPU_OP_KV_APPEND] = {
		.in = { { ELEM, SCALED, 0 } },
		.out = { DT(I8) | DT(I16), SCALED, 0 },
		.flags = DRM_NPU_OP_F_POS_ADDR,
		.params_bytes = sizeof(struct drm_npu_pos_params),
		.prepare = fw_prepare_kv_append, .run = fw_run_kv_append,
	},
	[DRM_NPU_OP_EMBEDDING] = {
		.in = { { DT(I8) | DT(I16) | FW_CODE_TYPES, SCALED | SM(BLOCK), 0 },
			{ DT(I32), SM(NONE), 0 } },
		.out = { ELEM, SCALED, 0 },
		.params_bytes = sizeof(struct drm_npu_embedding_params),
		.prepare = fw_prepare_embedding, .run = fw_run_embedding,
	},
	[DRM_NPU_OP_QUANTIZE] = {
		.in = { { ELEM, SCALED, 0 } }, .out = { ELEM, SCALED, 0 }, .row_local = 1,
		.prepare = fw_prepare_unary, .run = fw_run_unary,
	},
	[DRM_NPU_OP_ARGMAX] = {
		.in = { { ELEM, SM(NONE) | SCALED, 0 } },
		.out = { DT(I32), SM(NONE), 0 },
		.prepare = fw_prepare_argmax, .run = fw_run_argmax,
	},
};

static int operand_used(const struct fw_operand_spec *s, __u16 flags)
{
	return s->dtypes && (!s->needs_flag || (flags & s->needs_flag));
}

struct range {
	__u64 lo, hi;
};

static int overlaps(struct range a, struct range b)
{
	return a.lo < b.hi && b.lo < a.hi;
}

static struct range data_range(const struct fw_tensor *t)
{
	struct range r = { t->d.addr, t->d.addr + t->span };

	return r;
}

static struct range scale_range(const struct fw_tensor *t)
{
	struct range r = { t->d.scale_addr, t->d.scale_addr + t->scale_bytes };

	return r;
}

static int same_geometry(const struct drm_npu_tensor *a, const struct drm_npu_tensor *b)
{
	return a->addr == b->addr && a->stride == b->stride && a->rows == b->rows &&
	       a->cols == b->cols && a->dtype == b->dtype &&
	       a->scale_addr == b->scale_addr;
}

/*
 * The output may not overlap any input, nor its own scales, except that a
 * row-local op may write exactly over an input (in place).
 */
static __u32 check_alias(const struct fw_op *o, const struct fw_op_spec *spec)
{
	const struct fw_tensor *out = &o->out;
	int i;

	if (out->scale_bytes && overlaps(data_range(out), scale_range(out)))
		return DRM_NPU_STATUS_ALIAS;
	for (i = 0; i < 3; i++) {
		const struct fw_tensor *in = &o->in[i];

		if (!in->data)
			continue;
		if (spec->row_local && same_geometry(&in->d, &out->d))
			continue;
		if (overlaps(data_range(out), data_range(in)) ||
		    (in->scale_bytes && overlaps(data_range(out), scale_range(in))) ||
		    (out->scale_bytes && overlaps(scale_range(out), data_range(in))) ||
		    (out->scale_bytes && in->scale_bytes &&
		     overlaps(scale_range(out), scale_range(in))))
			return DRM_NPU_STATUS_ALIAS;
	}
	return DRM_NPU_STATUS_OK;
}

static __u32 prepare_op(struct fw_exec *x, struct fw_op *o)
{
	const struct drm_npu_op *op = &o->op;
	const struct fw_op_spec *spec;
	__u32 st;
	int i;

	if (op->opcode >= DRM_NPU_OP_COUNT ||
	    !(x->core->tables->op_mask & (1ull << op->opcode)))
		return DRM_NPU_STATUS_BAD_OPCODE;
	spec = &fw_op_specs[op->opcode];
	if (op->pad || !fw_is_zero(op->reserved, sizeof(op->reserved)))
		return DRM_NPU_STATUS_BAD_RESERVED;
	if (op->flags & ~spec->flags)
		return DRM_NPU_STATUS_BAD_FLAGS;
	if (!fw_is_zero((const __u8 *)op->params_raw + spec->params_bytes,
			sizeof(op->params_raw) - spec->params_bytes))
		return DRM_NPU_STATUS_BAD_RESERVED;

	for (i = 0; i < 4; i++) {
		const struct fw_operand_spec *s = i < 3 ? &spec->in[i] : &spec->out;
		const struct drm_npu_tensor *d = i < 3 ? &op->in[i] : &op->out;
		struct fw_tensor *t = i < 3 ? &o->in[i] : &o->out;

		t->d = *d;
		t->data = FW_NULL;
		t->scales = FW_NULL;
		t->span = 0;
		t->scale_bytes = 0;
		t->record_bytes = 0;
		t->groups_per_row = 0;
		if (!operand_used(s, op->flags)) {
			if (!fw_is_zero(d, sizeof(*d)))
				return DRM_NPU_STATUS_BAD_RESERVED;
			continue;
		}
		st = fw_tensor_check(d, s);
		if (st)
			return st;
	}

	if (spec->flags & DRM_NPU_OP_F_POS_ADDR) {
		if (!(op->flags & DRM_NPU_OP_F_POS_ADDR) && op->pos.pos_addr)
			return DRM_NPU_STATUS_BAD_RESERVED;
		if ((op->flags & DRM_NPU_OP_F_POS_ADDR) && (op->pos.pos || op->pos.pos_addr % 4))
			return op->pos.pos ? DRM_NPU_STATUS_BAD_RESERVED : DRM_NPU_STATUS_BAD_ALIGN;
	}

	o->scratch_need = 0;
	o->pos_ptr = FW_NULL;
	if (spec->prepare) {
		st = spec->prepare(x, o);
		if (st)
			return st;
	}
	if (o->scratch_need > x->core->scratch_size)
		return DRM_NPU_STATUS_TOO_LARGE;

	for (i = 0; i < 4; i++) {
		const struct fw_operand_spec *s = i < 3 ? &spec->in[i] : &spec->out;
		struct fw_tensor *t = i < 3 ? &o->in[i] : &o->out;

		if (!operand_used(s, op->flags))
			continue;
		st = fw_tensor_map(x, t, i == 3);
		if (st)
			return st;
	}
	if (op->flags & DRM_NPU_OP_F_POS_ADDR) {
		const struct npu_fw_mem *m = &x->core->mem;

		o->pos_ptr = m->translate(m->ctx, op->pos.pos_addr, 4, 0, &x->fault_addr);
		if (!o->pos_ptr)
			return DRM_NPU_STATUS_FAULT;
	}
	return check_alias(o, spec);
}

/* Copy bytes out of shared memory; the loop is not turned into memcpy. */
static void copy_in(void *dst, const __u8 *src, __u64 len)
{
	__u8 *d = dst;
	__u64 i;

	for (i = 0; i < len; i++)
		d[i] = src[i];
}

/* Op @i's run time since @t0 into the stream's profile, through the MMU again. */
static __u32 put_profile(struct fw_exec *x, __u64 profile_addr, __u32 i, __u64 t0)
{
	const struct npu_fw_core *c = x->core;
	__u64 *slot = c->mem.translate(c->mem.ctx, profile_addr + (__u64)i * 8, 8, 1,
				       &x->fault_addr);

	if (!slot)
		return DRM_NPU_STATUS_FAULT;
	*slot = c->clock_ns(c->clock_ctx) - t0;
	return DRM_NPU_STATUS_OK;
}

static __u32 run_stream(struct fw_exec *x, __u64 stream_addr, __u32 stream_size,
			__u32 *index)
{
	const struct npu_fw_mem *m = &x->core->mem;
	const struct npu_fw_core *c = x->core;
	struct drm_npu_cmd_header h;
	struct fw_op o;
	const __u8 *s;
	__u64 t0 = 0;
	__u32 i, st;
	int pass;

	if (stream_size < sizeof(h) || stream_addr % 8)
		return DRM_NPU_STATUS_BAD_HEADER;
	s = m->translate(m->ctx, stream_addr, sizeof(h), 0, &x->fault_addr);
	if (!s)
		return DRM_NPU_STATUS_FAULT;
	copy_in(&h, s, sizeof(h));
	if (h.magic != DRM_NPU_CMD_MAGIC)
		return DRM_NPU_STATUS_BAD_HEADER;
	if (h.version_major != DRM_NPU_ABI_MAJOR)
		return DRM_NPU_STATUS_BAD_VERSION;
	if (h.op_count == 0 || h.op_count > DRM_NPU_CMD_MAX_OPS ||
	    h.op_size < sizeof(struct drm_npu_op) || h.op_size > 4096 || h.op_size % 8 ||
	    (__u64)stream_size != sizeof(h) + (__u64)h.op_count * h.op_size)
		return DRM_NPU_STATUS_BAD_HEADER;
	if (h.profile_addr && (h.profile_addr % 8 || !c->clock_ns))
		return DRM_NPU_STATUS_BAD_HEADER;
	if (h.profile_addr && !m->translate(m->ctx, h.profile_addr, (__u64)h.op_count * 8, 1,
					    &x->fault_addr))
		return DRM_NPU_STATUS_FAULT;
	s = m->translate(m->ctx, stream_addr, stream_size, 0, &x->fault_addr);
	if (!s)
		return DRM_NPU_STATUS_FAULT;

	/* Pass 0 validates every op; pass 1 re-validates each op and runs it. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < h.op_count; i++) {
			const __u8 *d = s + sizeof(h) + (__u64)i * h.op_size;

			*index = i;
			copy_in(&o.op, d, sizeof(o.op));
			if (!fw_is_zero(d + sizeof(o.op), h.op_size - sizeof(o.op)))
				return DRM_NPU_STATUS_BAD_RESERVED;
			st = prepare_op(x, &o);
			if (!st && pass == 1 && c->should_stop && c->should_stop(c->stop_ctx))
				st = DRM_NPU_STATUS_CANCELLED;
			if (!st && pass == 1 && h.profile_addr)
				t0 = c->clock_ns(c->clock_ctx);
			if (!st && pass == 1 && fw_op_specs[o.op.opcode].run)
				st = fw_op_specs[o.op.opcode].run(x, &o);
			if (!st && pass == 1 && h.profile_addr)
				st = put_profile(x, h.profile_addr, i, t0);
			if (st)
				return st;
		}
	}
	return DRM_NPU_STATUS_OK;
}

/* A core without hooks: every inner loop is the firmware's own. */
static const struct npu_fw_hooks no_hooks;

void npu_fw_exec(const struct npu_fw_core *core, __u64 stream_addr,
		 __u32 stream_size, struct npu_fw_result *res)
{
	struct fw_exec x = { .core = core, .hooks = core->hooks ? core->hooks : &no_hooks };
	__u32 index = 0;

	res->status = run_stream(&x, stream_addr, stream_size, &index);
	res->op_index = res->status ? index : 0;
	res->fault_addr = res->status == DRM_NPU_STATUS_FAULT ? x.fault_addr : 0;
}
