/* SPDX-License-Identifier: MIT */
/*
 * npu_cmd.h - the command-stream format the NPU firmware executes.
 *
 * A command stream is a struct drm_npu_cmd_header followed by op
 * descriptors (struct drm_npu_op); the firmware validates the whole stream,
 * runs it op by op, and ends it with an enum drm_npu_status. The DRM ioctls
 * that carry streams to the device are in npu_accel.h, which includes this
 * header; the firmware includes only this one.
 *
 * Conventions: every struct has a fixed size padded to 64 bits, device
 * addresses travel as __u64, and every pad, reserved and flags bit not
 * defined here must be zero (the firmware rejects anything else). Structs
 * only ever grow at the end; the size of an op descriptor is carried in the
 * stream header.
 */
#ifndef _UAPI_DRM_NPU_CMD_H_
#define _UAPI_DRM_NPU_CMD_H_

#include <linux/types.h>

#if defined(__cplusplus)
extern "C" {
#endif

/* ABI version; the firmware image and the command stream carry it too. */
#define DRM_NPU_ABI_MAJOR 1
#define DRM_NPU_ABI_MINOR 2

#define DRM_NPU_CMD_MAGIC 0x4355504eu /* the bytes "NPUC" read as __u32 LE */
#define DRM_NPU_CMD_MAX_OPS 4096u

/**
 * enum drm_npu_opcode - operations of the command stream.
 * @DRM_NPU_OP_NOP: does nothing; every image implements it.
 * @DRM_NPU_OP_MATMUL: out = in[0] x in[1]^T (+ in[2] with F_BIAS).
 * @DRM_NPU_OP_RMSNORM: out = in[0] / rms(row) * in[1].
 * @DRM_NPU_OP_LAYERNORM: out = (in[0] - mean) / stddev(row) * in[1] + in[2].
 * @DRM_NPU_OP_SOFTMAX: out = softmax(alpha * in[0]) by rows (F_CAUSAL masks).
 * @DRM_NPU_OP_SILU: out = in[0] * sigmoid(in[0]).
 * @DRM_NPU_OP_GELU: out = gelu(in[0]), tanh form.
 * @DRM_NPU_OP_ADD: out = in[0] + in[1] (in[1] one row or as many as in[0]).
 * @DRM_NPU_OP_MUL: out = in[0] * in[1], element-wise, broadcast as ADD.
 * @DRM_NPU_OP_ROPE: rotary position embedding of in[0] by frequencies in[1].
 * @DRM_NPU_OP_ATTENTION: causal grouped-query attention of queries in[0]
 *	over the K cache in[1] and V cache in[2].
 * @DRM_NPU_OP_KV_APPEND: in[0]'s rows into cache rows pos.. of out.
 * @DRM_NPU_OP_EMBEDDING: rows of table in[0] picked by the ids in in[1];
 *	the table may be in a weight block format (ABI 1.2).
 * @DRM_NPU_OP_QUANTIZE: in[0] requantized into out's type and scale.
 * @DRM_NPU_OP_ARGMAX: out[m] = index of row m's largest element.
 * @DRM_NPU_OP_COUNT: number of opcodes; not an op.
 *
 * Every op is a struct drm_npu_op; its operands, parameters and arithmetic
 * are specified in docs/numerics.md and at each parameter struct. Bit
 * (1 << opcode) is set in drm_npu_caps.op_mask for each op the firmware
 * implements.
 */
enum drm_npu_opcode {
	DRM_NPU_OP_NOP = 0,
	DRM_NPU_OP_MATMUL = 1,
	DRM_NPU_OP_RMSNORM = 2,
	DRM_NPU_OP_LAYERNORM = 3,
	DRM_NPU_OP_SOFTMAX = 4,
	DRM_NPU_OP_SILU = 5,
	DRM_NPU_OP_GELU = 6,
	DRM_NPU_OP_ADD = 7,
	DRM_NPU_OP_MUL = 8,
	DRM_NPU_OP_ROPE = 9,
	DRM_NPU_OP_ATTENTION = 10,
	DRM_NPU_OP_KV_APPEND = 11,
	DRM_NPU_OP_EMBEDDING = 12,
	DRM_NPU_OP_QUANTIZE = 13,
	DRM_NPU_OP_ARGMAX = 14,
	DRM_NPU_OP_COUNT
};

/**
 * enum drm_npu_dtype - element types of tensors.
 * @DRM_NPU_DTYPE_I4: signed 4-bit, two per byte, element 2i in the low nibble.
 * @DRM_NPU_DTYPE_I8: signed 8-bit.
 * @DRM_NPU_DTYPE_I16: signed 16-bit, little-endian.
 * @DRM_NPU_DTYPE_I32: signed 32-bit, little-endian.
 * @DRM_NPU_DTYPE_U2: (ABI 1.2) unsigned 2-bit codes of SCALE_BLOCK weights.
 * @DRM_NPU_DTYPE_U3: (ABI 1.2) unsigned 3-bit codes, as U2.
 * @DRM_NPU_DTYPE_U4: (ABI 1.2) unsigned 4-bit codes, as U2.
 * @DRM_NPU_DTYPE_U5: (ABI 1.2) unsigned 5-bit codes, as U2.
 * @DRM_NPU_DTYPE_U6: (ABI 1.2) unsigned 6-bit codes, as U2.
 * @DRM_NPU_DTYPE_U8: (ABI 1.2) unsigned 8-bit codes, as U2.
 *
 * The U types are only MATMUL weights and EMBEDDING tables with
 * DRM_NPU_SCALE_BLOCK. A row of b-bit codes is a little-endian bit string:
 * code i is bits i * b .. i * b + b - 1, bit j of byte k being bit 8 * k + j;
 * a row takes ceil(cols * b / 8) bytes.
 */
enum drm_npu_dtype {
	DRM_NPU_DTYPE_I4 = 1,
	DRM_NPU_DTYPE_I8 = 2,
	DRM_NPU_DTYPE_I16 = 3,
	DRM_NPU_DTYPE_I32 = 4,
	DRM_NPU_DTYPE_U2 = 5,
	DRM_NPU_DTYPE_U3 = 6,
	DRM_NPU_DTYPE_U4 = 7,
	DRM_NPU_DTYPE_U5 = 8,
	DRM_NPU_DTYPE_U6 = 9,
	DRM_NPU_DTYPE_U8 = 10,
};

/**
 * enum drm_npu_scale_mode - how a tensor's integers map to real values.
 * @DRM_NPU_SCALE_NONE: plain integers (token ids, indices, frequencies).
 * @DRM_NPU_SCALE_TENSOR: one scale for the tensor, in scale_mult/scale_shift.
 * @DRM_NPU_SCALE_ROW: one struct drm_npu_scale per row at scale_addr. As an
 *	op output it means "dynamic": the firmware picks each row's scale so the
 *	row's largest magnitude maps to the type's largest value, and writes it.
 * @DRM_NPU_SCALE_GROUP: weights only. Tensor scale scale_mult/scale_shift
 *	times one __u16 factor (Q0.16) per group of columns; the factors are a
 *	row-major [rows][cols / group_size] array at scale_addr.
 * @DRM_NPU_SCALE_BLOCK: (ABI 1.2) MATMUL weights and EMBEDDING tables of a
 *	U type only. Tensor scale scale_mult/scale_shift times, per
 *	super-block of columns, an IEEE binary16 scale and optionally a
 *	binary16 min, with a small integer scale (and min) per group under
 *	them: the layout of struct drm_npu_matmul_params (MATMUL's, or
 *	EMBEDDING's table), one record per row at scale_addr.
 */
enum drm_npu_scale_mode {
	DRM_NPU_SCALE_NONE = 0,
	DRM_NPU_SCALE_TENSOR = 1,
	DRM_NPU_SCALE_ROW = 2,
	DRM_NPU_SCALE_GROUP = 3,
	DRM_NPU_SCALE_BLOCK = 4,
};

/**
 * struct drm_npu_scale - a positive real number in fixed point.
 * @mult: mantissa, 1 <= mult <= 2^31 - 1.
 * @shift: the value is mult * 2^-shift; -32 <= shift <= 126.
 *
 * Scales the firmware computes are normalized, 2^30 <= mult < 2^31, except
 * values below 2^-96, which keep shift 126 and a smaller mult.
 */
struct drm_npu_scale {
	__s32 mult;
	__s32 shift;
};

/**
 * struct drm_npu_tensor - a 2-D strided tensor in device memory.
 * @addr: device address of element [0][0]; aligned to the element size
 *	(1 for I4 and I8).
 * @scale_addr: device address of the per-row scales (SCALE_ROW, an array
 *	of struct drm_npu_scale), group factors (SCALE_GROUP, __u16) or block
 *	records (SCALE_BLOCK); 0 otherwise. Aligned to 4 (ROW) or 2 (GROUP,
 *	BLOCK).
 * @rows: number of rows, >= 1.
 * @cols: elements per row, >= 1; even for I4.
 * @stride: bytes from one row to the next; >= the bytes of one row and a
 *	multiple of the element size (1 for the U types).
 * @dtype: enum drm_npu_dtype.
 * @scale_mode: enum drm_npu_scale_mode.
 * @pad: must be zero.
 * @scale: the tensor scale (SCALE_TENSOR, SCALE_GROUP and SCALE_BLOCK); zero
 *	otherwise.
 */
struct drm_npu_tensor {
	__u64 addr;
	__u64 scale_addr;
	__u32 rows;
	__u32 cols;
	__u32 stride;
	__u8 dtype;
	__u8 scale_mode;
	__u16 pad;
	struct drm_npu_scale scale;
};

/* drm_npu_op.flags */
#define DRM_NPU_OP_F_BIAS	0x1	/* MATMUL: in[2] is an I32 bias */
#define DRM_NPU_OP_F_CAUSAL	0x2	/* SOFTMAX: mask column > pos + row */
#define DRM_NPU_OP_F_POS_ADDR	0x4	/* read the position (__u32) at pos_addr */

/* drm_npu_matmul_params.block_flags (ABI 1.2) */
#define DRM_NPU_BLOCK_F_MIN	0x1	/* a binary16 min per super-block */
#define DRM_NPU_BLOCK_F_SUB_S8	0x2	/* an __s8 scale per group; with F_MIN an __u8 min */
#define DRM_NPU_BLOCK_F_SUB_U4	0x4	/* a byte per group: scale low nibble, min high */

/**
 * struct drm_npu_matmul_params - DRM_NPU_OP_MATMUL.
 * @group_size: columns per weight scale group. SCALE_GROUP: 32, 64, 128,
 *	or equal to the weight's cols (one scale per output channel).
 *	SCALE_BLOCK: 16 or 32.
 * @pad: must be zero.
 * @block_groups: SCALE_BLOCK: groups per super-block, 1..16, with
 *	group_size * block_groups dividing the weight's cols; 0 otherwise.
 * @zero: SCALE_BLOCK: the code that stands for zero, below 2^bits; 0
 *	otherwise.
 * @block_flags: SCALE_BLOCK: DRM_NPU_BLOCK_F_*; at most one SUB flag,
 *	SUB_U4 only with F_MIN, neither only with block_groups 1; 0 otherwise.
 * @pad2: must be zero.
 *
 * out[m][n] = sum_k in[0][m][k] * in[1][n][k] (+ in[2][0][n]), with in[0]
 * I8 or I16 (SCALE_ROW or SCALE_TENSOR), in[1] I8 or I4 with SCALE_GROUP
 * or (ABI 1.2) a U type with SCALE_BLOCK. A SCALE_BLOCK weight in column k
 * of row n, with j = k / group_size its group and b = j / block_groups its
 * super-block, is
 *
 *	scale * (d[b] * sc[j] * (q[n][k] - zero) - dmin[b] * mn[j])
 *
 * where the record of row n (at scale_addr + n * record bytes) holds, in
 * order: d[] (binary16, one per super-block); with F_MIN dmin[] likewise;
 * with SUB_S8 sc[] (__s8, one per group) then, with F_MIN, mn[] (__u8);
 * with SUB_U4 one byte per group, sc[j] its low and mn[j] its high nibble.
 * Without a SUB flag sc[j] = mn[j] = 1; without F_MIN the dmin term is 0.
 * A record's bytes are rounded up to a multiple of 2. A binary16 infinity
 * or NaN stops the stream at that op with DRM_NPU_STATUS_BAD_QPARAM.
 */
struct drm_npu_matmul_params {
	__u32 group_size;
	__u32 pad;
	__u16 block_groups;
	__u8 zero;
	__u8 block_flags;
	__u32 pad2;
};

/**
 * struct drm_npu_embedding_params - DRM_NPU_OP_EMBEDDING (ABI 1.2).
 * @table: with a U-type table in SCALE_BLOCK, its layout: group_size,
 *	block_groups, zero and block_flags as for MATMUL weights (struct
 *	drm_npu_matmul_params), pad and pad2 zero. All zero for an I8 or I16
 *	table.
 *
 * out[m] = in[0][in[1][m]]: a SCALE_BLOCK row's exact values (the weight
 * formula of struct drm_npu_matmul_params) requantized into out's type.
 */
struct drm_npu_embedding_params {
	struct drm_npu_matmul_params table;
};

/**
 * struct drm_npu_norm_params - DRM_NPU_OP_RMSNORM and DRM_NPU_OP_LAYERNORM.
 * @eps: epsilon added to the mean square (variance), in real units.
 *
 * in[0]: input rows; in[1]: gain (1 x cols); in[2]: LAYERNORM bias
 * (1 x cols).
 */
struct drm_npu_norm_params {
	struct drm_npu_scale eps;
};

/**
 * struct drm_npu_pos_params - position-dependent ops (SOFTMAX with
 * F_CAUSAL, ROPE, ATTENTION, KV_APPEND).
 * @pos_addr: with DRM_NPU_OP_F_POS_ADDR, the device address of a __u32
 *	holding the position of row 0 (so a recorded graph can be replayed at
 *	a new position); must be 0 without the flag.
 * @pos: the position of row 0 when DRM_NPU_OP_F_POS_ADDR is clear.
 * @n_heads: ATTENTION: query heads; ROPE: heads per row.
 * @n_kv_heads: ATTENTION: key/value heads (divides n_heads); else 0.
 * @head_dim: ATTENTION and ROPE: elements per head (even for ROPE); else 0.
 * @alpha: SOFTMAX and ATTENTION: multiplier applied to the scores
 *	(e.g. 1/sqrt(head_dim)); zero for other ops.
 */
struct drm_npu_pos_params {
	__u64 pos_addr;
	__u32 pos;
	__u32 n_heads;
	__u32 n_kv_heads;
	__u32 head_dim;
	struct drm_npu_scale alpha;
};

/**
 * struct drm_npu_op - one operation of a command stream (256 bytes).
 * @opcode: enum drm_npu_opcode.
 * @flags: DRM_NPU_OP_F_*; bits an op does not use must be zero.
 * @pad: must be zero.
 * @in: input tensors; unused ones must be all zero.
 * @out: output tensor.
 * @matmul: parameters of MATMUL.
 * @embedding: parameters of EMBEDDING (ABI 1.2).
 * @norm: parameters of RMSNORM and LAYERNORM.
 * @pos: parameters of SOFTMAX, ROPE, ATTENTION and KV_APPEND.
 * @params_raw: the parameter area; bytes an op does not use must be zero.
 * @reserved: must be zero.
 */
struct drm_npu_op {
	__u16 opcode;
	__u16 flags;
	__u32 pad;
	struct drm_npu_tensor in[3];
	struct drm_npu_tensor out;
	union {
		struct drm_npu_matmul_params matmul;
		struct drm_npu_embedding_params embedding;
		struct drm_npu_norm_params norm;
		struct drm_npu_pos_params pos;
		__u64 params_raw[6];
	};
	__u64 reserved[5];
};

/**
 * struct drm_npu_cmd_header - start of every command stream.
 * @magic: DRM_NPU_CMD_MAGIC.
 * @version_major: DRM_NPU_ABI_MAJOR; streams of another major are rejected.
 * @version_minor: minor version the stream was written for; ops newer than
 *	the firmware's minor are rejected by their opcode.
 * @op_count: number of ops that follow, 1..DRM_NPU_CMD_MAX_OPS.
 * @op_size: bytes of each op descriptor, >= sizeof(struct drm_npu_op) and
 *	a multiple of 8; bytes past the known struct must be zero.
 * @profile_addr: 0, or (since ABI 1.1) the 8-aligned device address of
 *	op_count __u64 the core fills, as each op ends, with the nanoseconds
 *	it ran by the core's clock. The range must be writable by the
 *	submitting context: checked before the first op runs (FAULT at op 0)
 *	and again at each write (FAULT at that op).
 *
 * The stream is the header followed by op_count descriptors; its total size
 * must equal sizeof(header) + op_count * op_size.
 */
struct drm_npu_cmd_header {
	__u32 magic;
	__u16 version_major;
	__u16 version_minor;
	__u32 op_count;
	__u32 op_size;
	__u64 profile_addr;
};

/**
 * enum drm_npu_status - outcome of a job (and of a command stream).
 * @DRM_NPU_STATUS_OK: every op ran.
 * @DRM_NPU_STATUS_BAD_HEADER: stream header malformed (magic, sizes).
 * @DRM_NPU_STATUS_BAD_VERSION: stream ABI major unsupported.
 * @DRM_NPU_STATUS_BAD_OPCODE: unknown or unsupported opcode.
 * @DRM_NPU_STATUS_BAD_FLAGS: a flags bit the op does not define.
 * @DRM_NPU_STATUS_BAD_RESERVED: a pad or reserved field is not zero.
 * @DRM_NPU_STATUS_BAD_DTYPE: element type not allowed for this operand.
 * @DRM_NPU_STATUS_BAD_SHAPE: rows/cols inconsistent between operands.
 * @DRM_NPU_STATUS_BAD_STRIDE: stride shorter than a row or not a multiple
 *	of the element size.
 * @DRM_NPU_STATUS_BAD_ALIGN: an address not aligned as required.
 * @DRM_NPU_STATUS_BAD_QPARAM: scale mode or scale value not allowed.
 * @DRM_NPU_STATUS_OVERFLOW: a size computation overflows 64 bits.
 * @DRM_NPU_STATUS_ALIAS: output overlaps an input it may not overlap.
 * @DRM_NPU_STATUS_TOO_LARGE: the op needs more core scratch memory than the
 *	core has.
 * @DRM_NPU_STATUS_FAULT: a device address outside the context's mappings;
 *	the address is reported.
 * @DRM_NPU_STATUS_INDEX: a token id outside the embedding table (at run time).
 * @DRM_NPU_STATUS_RANGE: a position outside the KV cache (at run time).
 * @DRM_NPU_STATUS_TIMEOUT: the job exceeded its time and was stopped.
 * @DRM_NPU_STATUS_CANCELLED: the job was dropped before it ran.
 * @DRM_NPU_STATUS_COUNT: number of status codes; not a status.
 */
enum drm_npu_status {
	DRM_NPU_STATUS_OK = 0,
	DRM_NPU_STATUS_BAD_HEADER = 1,
	DRM_NPU_STATUS_BAD_VERSION = 2,
	DRM_NPU_STATUS_BAD_OPCODE = 3,
	DRM_NPU_STATUS_BAD_FLAGS = 4,
	DRM_NPU_STATUS_BAD_RESERVED = 5,
	DRM_NPU_STATUS_BAD_DTYPE = 6,
	DRM_NPU_STATUS_BAD_SHAPE = 7,
	DRM_NPU_STATUS_BAD_STRIDE = 8,
	DRM_NPU_STATUS_BAD_ALIGN = 9,
	DRM_NPU_STATUS_BAD_QPARAM = 10,
	DRM_NPU_STATUS_OVERFLOW = 11,
	DRM_NPU_STATUS_ALIAS = 12,
	DRM_NPU_STATUS_TOO_LARGE = 13,
	DRM_NPU_STATUS_FAULT = 14,
	DRM_NPU_STATUS_INDEX = 15,
	DRM_NPU_STATUS_RANGE = 16,
	DRM_NPU_STATUS_TIMEOUT = 17,
	DRM_NPU_STATUS_CANCELLED = 18,
	DRM_NPU_STATUS_COUNT
};

#if defined(__cplusplus)
}
#endif

#endif /* _UAPI_DRM_NPU_CMD_H_ */
