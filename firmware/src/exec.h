/* SPDX-License-Identifier: MIT */
/* Internal state of one command-stream execution, shared by the op kernels. */
#ifndef NPU_FW_EXEC_H
#define NPU_FW_EXEC_H

#include "fixed.h"

/* Bit masks of allowed element types and scale modes of an operand. */
#define DT(x) (1u << DRM_NPU_DTYPE_##x)
#define SM(x) (1u << DRM_NPU_SCALE_##x)
/* The code types of SCALE_BLOCK weights (ABI 1.2). */
#define FW_CODE_TYPES (DT(U2) | DT(U3) | DT(U4) | DT(U5) | DT(U6) | DT(U8))

/* Bits of one code of a U type; 0 for the other types. */
static inline __u32 fw_code_bits(__u8 dtype)
{
	switch (dtype) {
	case DRM_NPU_DTYPE_U2:
		return 2;
	case DRM_NPU_DTYPE_U3:
		return 3;
	case DRM_NPU_DTYPE_U4:
		return 4;
	case DRM_NPU_DTYPE_U5:
		return 5;
	case DRM_NPU_DTYPE_U6:
		return 6;
	case DRM_NPU_DTYPE_U8:
		return 8;
	default:
		return 0;
	}
}

/* A validated tensor operand and where its bytes are on the host. */
struct fw_tensor {
	struct drm_npu_tensor d;
	__u8 *data;
	__u8 *scales;
	__u64 row_bytes;
	__u64 span;		/* bytes from addr to the end of the last row */
	__u64 scale_bytes;	/* bytes from scale_addr (ROW, GROUP and BLOCK) */
	__u64 record_bytes;	/* BLOCK: one row's record, set by the op's prepare() */
	__u32 groups_per_row;	/* GROUP and BLOCK: set by the op's prepare() */
};

/* One op of the stream, copied to core memory and resolved. */
struct fw_op {
	struct drm_npu_op op;
	struct fw_tensor in[3];
	struct fw_tensor out;
	const __u8 *pos_ptr;	/* F_POS_ADDR: where the position lives */
	__u64 scratch_need;	/* bytes of scratch the op uses */
};

struct fw_exec {
	const struct npu_fw_core *core;
	const struct npu_fw_hooks *hooks;	/* the core's, or a table of NULLs */
	__u64 fault_addr;
	__u64 work;		/* done since the core last polled should_stop */
};

/*
 * Work between two polls of should_stop: about a millisecond of the
 * firmware's own loops under QEMU's TCG, a few microseconds natively.
 */
#define FW_POLL_WORK 0x40000u	/* 2^18 */

/*
 * Long loops report their work (multiply-adds or elements) as they go:
 * every FW_POLL_WORK of it the core asks whether to stop, so a reset
 * stops a stream within a slice of work, whatever the op's size.
 * Nonzero: stop, with DRM_NPU_STATUS_CANCELLED.
 */
static inline int fw_poll(struct fw_exec *x, __u64 work)
{
	const struct npu_fw_core *c = x->core;

	x->work += work;
	if (x->work < FW_POLL_WORK)
		return 0;
	x->work = 0;
	return c->should_stop && c->should_stop(c->stop_ctx);
}

/* Operand rules of one opcode; prepare() adds the op's own shape rules. */
struct fw_operand_spec {
	__u16 dtypes;
	__u8 scales;
	__u16 needs_flag;	/* operand present only with this op flag */
};

struct fw_op_spec {
	struct fw_operand_spec in[3];
	struct fw_operand_spec out;
	__u16 flags;		/* flags the op accepts */
	__u8 params_bytes;	/* bytes of the parameter area it reads */
	__u8 row_local;		/* output may be exactly an input (in place) */
	__u32 (*prepare)(struct fw_exec *x, struct fw_op *o);
	__u32 (*run)(struct fw_exec *x, struct fw_op *o);
};

extern const struct fw_op_spec fw_op_specs[DRM_NPU_OP_COUNT];

/* tensor.c */
__u32 fw_tensor_check(const struct drm_npu_tensor *d, const struct fw_operand_spec *spec);
__u32 fw_tensor_map(struct fw_exec *x, struct fw_tensor *t, int write);
__u32 fw_row_scale(const struct fw_tensor *t, __u32 row, struct drm_npu_scale *s);
void fw_load_row(const struct fw_tensor *t, __u32 row, __s32 *dst);
void fw_emit_row(const struct fw_exec *x, const struct fw_tensor *out, __u32 row, const __s64 *v,
		 struct drm_npu_scale s);
__u32 fw_read_pos(const struct fw_op *o);
int fw_is_zero(const void *p, __u64 len);

static inline void *fw_scratch(const struct fw_exec *x)
{
	return x->core->scratch;
}

/* Ops: one file per family. */
__u32 fw_prepare_matmul(struct fw_exec *x, struct fw_op *o);
__u32 fw_run_matmul(struct fw_exec *x, struct fw_op *o);
__u32 fw_matmul_emit(struct fw_exec *x, struct fw_op *o, __u32 row, __s64 *v, __s32 frac);
__u32 fw_prepare_matmul_block(struct fw_exec *x, struct fw_op *o);
/* Check a SCALE_BLOCK tensor's layout @p; set @w's groups and record bytes. */
__u32 fw_block_layout(const struct drm_npu_matmul_params *p, struct fw_tensor *w);
/* Row @row of SCALE_BLOCK @w as exact integers in units of 2^-24 (@q: 512 codes of room). */
__u32 fw_block_row(const struct drm_npu_matmul_params *p, const struct fw_tensor *w, __u32 row,
		   __s32 *q, __s64 *v);
#define FW_BLOCK_MAX_COLS 512	/* a super-block: 16 groups of 32 */
__u32 fw_run_matmul_block(struct fw_exec *x, struct fw_op *o);
__u32 fw_prepare_norm(struct fw_exec *x, struct fw_op *o);
__u32 fw_run_norm(struct fw_exec *x, struct fw_op *o);
__u32 fw_prepare_softmax(struct fw_exec *x, struct fw_op *o);
__u32 fw_run_softmax(struct fw_exec *x, struct fw_op *o);
__u32 fw_prepare_attention(struct fw_exec *x, struct fw_op *o);
__u32 fw_run_attention(struct fw_exec *x, struct fw_op *o);
__u32 fw_prepare_unary(struct fw_exec *x, struct fw_op *o);
__u32 fw_run_unary(struct fw_exec *x, struct fw_op *o);
__u32 fw_prepare_binary(struct fw_exec *x, struct fw_op *o);
__u32 fw_run_binary(struct fw_exec *x, struct fw_op *o);
__u32 fw_prepare_kv_append(struct fw_exec *x, struct fw_op *o);
__u32 fw_run_kv_append(struct fw_exec *x, struct fw_op *o);
__u32 fw_prepare_rope(struct fw_exec *x, struct fw_op *o);
__u32 fw_run_rope(struct fw_exec *x, struct fw_op *o);
__u32 fw_prepare_embedding(struct fw_exec *x, struct fw_op *o);
__u32 fw_run_embedding(struct fw_exec *x, struct fw_op *o);
__u32 fw_prepare_argmax(struct fw_exec *x, struct fw_op *o);
__u32 fw_run_argmax(struct fw_exec *x, struct fw_op *o);

#endif
