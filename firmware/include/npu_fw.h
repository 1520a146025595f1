/* SPDX-License-Identifier: MIT */
/*
 * The firmware's interface to whoever hosts it: the emulated NPU core in
 * npu.ko, libnpu's cpu backend, or the USB device. The firmware reaches
 * memory only through npu_fw_mem.translate(), so a host decides exactly
 * which device addresses a job may touch.
 */
#ifndef NPU_FW_H
#define NPU_FW_H

#include "npu_fw_image.h"
#include "../../uapi/drm/npu_cmd.h"

/**
 * struct npu_fw_mem - the core's view of device memory (its MMU).
 * @translate: returns a host pointer to the device range [addr, addr + len)
 *	if the whole range is mapped (writable when @write), else NULL with
 *	*@fault_addr set to the first address that is not.
 * @ctx: passed back to @translate.
 */
struct npu_fw_mem {
	void *(*translate)(void *ctx, __u64 addr, __u64 len, int write,
			   __u64 *fault_addr);
	void *ctx;
};

/**
 * struct npu_fw_matmul - the integer heart of MATMUL, for a host that
 * computes it faster.
 * @x: row 0 of the activations.
 * @x_stride: bytes from one row of @x to the next.
 * @x_bits: 8 or 16 (signed).
 * @rows: rows of @x (and of @v).
 * @k: columns of @x and @w.
 * @n: rows of @w (columns of @v).
 * @w: row 0 of the weights.
 * @w_stride: bytes from one row of @w to the next.
 * @w_bits: 8, or 4 (element 2i in the low nibble).
 * @groups_per_row: groups of k / @groups_per_row columns in a row of @w.
 * @factors: [n][groups_per_row] Q0.16 group factors.
 * @v: [rows][n] results.
 * @w_addr: the device address of @w, for a host that keeps copies of
 *	sealed weights in layouts of its own.
 * @factors_addr: the device address of @factors, likewise.
 *
 * The sums are exact integers, so any order of evaluation gives the same
 * bits:
 *	v[r][n] = sum_j f[n][j] * sum_{c in group j} x[r][c] * w[n][c]
 */
struct npu_fw_matmul {
	const void *x;
	__u64 x_stride;
	__u32 x_bits;
	__u32 rows;
	__u32 k;
	__u32 n;
	const __u8 *w;
	__u64 w_stride;
	__u32 w_bits;
	__u32 groups_per_row;
	const __u16 *factors;
	__s64 *v;
	__u64 w_addr, factors_addr;
};

/**
 * struct npu_fw_matmul_block - MATMUL's exact sums with SCALE_BLOCK weights
 *	(ABI 1.2), for a host that computes them faster.
 * @xr: [rows][k] the activations as int32, -2^15 <= x < 2^15.
 * @xs: [rows][k / group_size] each group's sum of @xr; with
 *	DRM_NPU_BLOCK_F_MIN only.
 * @rows: rows of @xr (and of @acc).
 * @k: columns of @xr and of the weights.
 * @n: rows of the weights (columns of @acc).
 * @w: row 0 of the weights' codes, @w_bits each, least significant first.
 * @w_stride: bytes from one row of @w to the next.
 * @w_bits: 2, 3, 4, 5, 6 or 8.
 * @zero: subtracted from each code.
 * @group_size: 16 or 32 columns per group.
 * @block_groups: groups per super-block.
 * @flags: DRM_NPU_BLOCK_F_*.
 * @records: row 0's record: a binary16 d per super-block, then (F_MIN) a
 *	dmin per super-block at @dmin_off, then the groups' scales (and mins)
 *	at @sub_off.
 * @record_bytes: bytes from one row's record to the next.
 * @dmin_off: bytes from a record's start to its dmin.
 * @sub_off: bytes from a record's start to its groups' scales.
 * @acc: [rows][n] the sums.
 *
 * With sc and mn each group's scale and min, q its codes minus @zero, and
 * d and dmin each super-block's binary16s in units of 2^-24 (integers):
 *	acc[r][n] = sum_b d_b * sum_{j in b} sc_j * sum_{c in j} x[r][c] * q[n][c]
 *		  - dmin_b * sum_{j in b} mn_j * xs[r][j]
 * exactly (docs/numerics.md, "MATMUL"). A hook that meets an infinity or
 * NaN among the binary16s returns nonzero, and the firmware reports it.
 */
struct npu_fw_matmul_block {
	const __s32 *xr, *xs;
	__u32 rows, k, n;
	const __u8 *w;
	__u64 w_stride;
	__u32 w_bits, zero, group_size, block_groups, flags;
	const __u8 *records;
	__u64 record_bytes;
	__u32 dmin_off, sub_off;
	__int128_t *acc;
};

/**
 * struct npu_fw_requant - a row of results requantized into an output.
 * @v: the results.
 * @n: elements of @v and of @out.
 * @mult: the multiplier, >= 1.
 * @shift: the shift, -32 <= @shift <= 126.
 * @out_bits: 8, 16 or 32: the signed integers stored at @out.
 * @qmax: the largest magnitude stored.
 * @out: the output row.
 *
 *	out[i] = clamp(round(v[i] * mult * 2^-shift), -qmax, qmax)
 * rounding to nearest with ties away from zero (docs/numerics.md).
 */
struct npu_fw_requant {
	const __s64 *v;
	__u32 n;
	__s32 mult;
	__s32 shift;
	__u32 out_bits;
	__s64 qmax;
	void *out;
};

/**
 * enum npu_fw_attention_step - the two integer sums of ATTENTION for one
 * query row (struct npu_fw_attention).
 * @NPU_FW_ATTN_SCORES: t[h][j] = sum_d q[h][d] * K_j[h / group][d].
 * @NPU_FW_ATTN_VALUES: acc[h][d] = sum_j t[h][j] * V_j[h / group][d].
 */
enum npu_fw_attention_step {
	NPU_FW_ATTN_SCORES,
	NPU_FW_ATTN_VALUES,
};

/**
 * struct npu_fw_attention - ATTENTION's sums, for a faster host.
 * @step: which sum.
 * @q: the query row, [n_heads][head_dim] (values of an I8 or I16 tensor).
 * @k: row 0 of the K cache.
 * @v: row 0 of the V cache.
 * @k_stride: bytes from one row of @k to the next.
 * @v_stride: bytes from one row of @v to the next.
 * @k_bits: 8 or 16, the signed elements of @k.
 * @v_bits: 8 or 16, the signed elements of @v.
 * @len: cache rows the query sees.
 * @n_heads: query heads.
 * @group: query heads per KV head.
 * @head_dim: elements per head.
 * @t: [n_heads][t_stride]: scores out (SCORES), weights in (VALUES).
 * @t_stride: elements from one head's row of @t to the next.
 * @acc: [n_heads][head_dim] results (VALUES).
 */
struct npu_fw_attention {
	enum npu_fw_attention_step step;
	const __s32 *q;
	const __u8 *k, *v;
	__u64 k_stride, v_stride;
	__u32 k_bits, v_bits;
	__u32 len, n_heads, group, head_dim;
	__s64 *t;
	__u64 t_stride;
	__s64 *acc;
};

/**
 * struct npu_fw_rescale - ATTENTION's scores or weights, each scaled by
 * its cache row's scale, in place.
 * @t: [n_heads][t_stride] values, rescaled in place.
 * @t_stride: elements from one head's row of @t to the next.
 * @n_heads: rows of @t.
 * @len: values per row, and entries of @s.
 * @s: the scale of each cache row.
 * @lo: the smallest result kept.
 * @hi: the largest result kept.
 *
 * As fw_requant() and fw_clamp() do, for h < @n_heads and j < @len:
 *	t[h * t_stride + j] = clamp(round(t[h * t_stride + j] * s[j]), lo, hi)
 * A hook that returns nonzero has not changed @t.
 */
struct npu_fw_rescale {
	__s64 *t;
	__u64 t_stride;
	__u32 n_heads, len;
	const struct drm_npu_scale *s;
	__s64 lo, hi;
};

/**
 * struct npu_fw_silu - SILU of one row before its output stage.
 * @x: the input row.
 * @n: elements of @x and @v.
 * @to_act: the scale that brings @x to Q24.
 * @tables: the sigmoid's tables.
 * @v: the results, in Q24.
 *
 * As fw_silu_q24() computes each element (docs/numerics.md): x in Q24 is
 * xq = clamp(round(x[i] * to_act), -2^47, 2^47), and
 * v[i] = round(xq * sigmoid(xq) * 2^-30) with the sigmoid in Q30 from
 * @tables.
 */
struct npu_fw_silu {
	const __s32 *x;
	__u32 n;
	struct drm_npu_scale to_act;
	const struct npu_fw_tables *tables;
	__s64 *v;
};

/**
 * struct npu_fw_add - ADD of one row before its output stage.
 * @a: the first input row.
 * @b: the second input row.
 * @n: elements of each row.
 * @ma: the scale that brings @a to the common scale.
 * @mb: the scale that brings @b to the common scale.
 * @v: the sums.
 *
 * Both inputs are brought to a common scale, each as fw_requant() rounds
 * it: v[i] = round(a[i] * ma) + round(b[i] * mb).
 */
struct npu_fw_add {
	const __s32 *a, *b;
	__u32 n;
	struct drm_npu_scale ma, mb;
	__s64 *v;
};

/**
 * struct npu_fw_softmax - rows of base-2 exponents turned into
 * probabilities in place.
 * @t: row 0 of the exponents t[0..n) in Q16, |t| <= 2^47; each becomes a
 *	probability in Q30.
 * @stride: elements from one row of @t to the next.
 * @rows: rows of @t.
 * @n: elements per row.
 * @tables: the exp2 table.
 *
 * As the firmware's softmax_q30(): with m the row's largest t,
 * e_j = 2^((t_j - m) / 2^16) in Q30 from @tables, and
 * t_j = round(e_j * 2^30 / sum(e)).
 */
struct npu_fw_softmax {
	__s64 *t;
	__u64 stride;
	__u32 rows, n;
	const struct npu_fw_tables *tables;
};

/**
 * enum npu_fw_norm_step - the per-element loops of RMSNORM and LAYERNORM
 * for one row (struct npu_fw_norm).
 * @NPU_FW_NORM_CENTER: v[i] = x[i] * 2^frac - mean, and *ss = the sum of
 *	v[i]^2. A host takes this only where the sum fits 64 bits.
 * @NPU_FW_NORM_SCALE: v[i] = round(v[i] * r * 2^-shift) * gamma[i].
 */
enum npu_fw_norm_step {
	NPU_FW_NORM_CENTER,
	NPU_FW_NORM_SCALE,
};

/**
 * struct npu_fw_norm - a norm's per-element loops, for a faster host.
 * @step: which loop.
 * @x: the row (CENTER).
 * @gamma: the gains (SCALE).
 * @n: elements of the row.
 * @frac: fraction bits of the centered values.
 * @mean: the row's mean in those units; 0 for RMSNORM.
 * @r: the reciprocal root (SCALE).
 * @shift: the rounding shift of v * r (SCALE).
 * @v: the centered values, out (CENTER), in and out (SCALE).
 * @ss: the sum of squares, out (CENTER).
 */
struct npu_fw_norm {
	enum npu_fw_norm_step step;
	const __s32 *x, *gamma;
	__u32 n;
	__s32 frac;
	__s64 mean;
	__u32 r;
	__s32 shift;
	__s64 *v;
	__u64 *ss;
};

/**
 * struct npu_fw_hooks - a host's faster versions of the firmware's inner
 * loops. Each hook is optional; it computes its struct exactly as the
 * firmware's own loop would (the results are compared bit for bit) and
 * returns 0, or returns nonzero to leave that call to the firmware's own
 * loop. Each gets npu_fw_core.hook_ctx as @ctx.
 * @matmul: struct npu_fw_matmul.
 * @matmul_block: struct npu_fw_matmul_block.
 * @requant: struct npu_fw_requant.
 * @attention: struct npu_fw_attention.
 * @rescale: struct npu_fw_rescale.
 * @silu: struct npu_fw_silu.
 * @add: struct npu_fw_add.
 * @norm: struct npu_fw_norm.
 * @softmax: struct npu_fw_softmax.
 * @amax: stores the largest |v[i]| of @n values (as unsigned, so
 *	|INT64_MIN| is 2^63) in *@out.
 */
struct npu_fw_hooks {
	int (*matmul)(void *ctx, const struct npu_fw_matmul *mm);
	int (*matmul_block)(void *ctx, const struct npu_fw_matmul_block *mb);
	int (*requant)(void *ctx, const struct npu_fw_requant *rq);
	int (*attention)(void *ctx, const struct npu_fw_attention *a);
	int (*rescale)(void *ctx, const struct npu_fw_rescale *r);
	int (*silu)(void *ctx, const struct npu_fw_silu *s);
	int (*add)(void *ctx, const struct npu_fw_add *a);
	int (*norm)(void *ctx, const struct npu_fw_norm *nm);
	int (*softmax)(void *ctx, const struct npu_fw_softmax *sm);
	int (*amax)(void *ctx, const __s64 *v, __u32 n, __u64 *out);
};

/**
 * struct npu_fw_core - what a core needs to execute command streams.
 * @tables: from npu_fw_image_verify() of the booted image.
 * @mem: address translation of the submitting context.
 * @scratch: core-local working memory, 8-byte aligned.
 * @scratch_size: bytes of @scratch; bounds the row sizes an op may use.
 * @should_stop: optional; polled before each op runs and inside long ops
 *	(every FW_POLL_WORK of work of the firmware's own loops, and after
 *	each call of a hook, which may do a whole block of rows): nonzero
 *	stops the stream with DRM_NPU_STATUS_CANCELLED (a reset).
 * @stop_ctx: passed back to @should_stop.
 * @hooks: optional; the host's versions of the inner loops. NULL runs the
 *	firmware's own loops throughout.
 * @hook_ctx: passed back to each of the @hooks.
 * @clock_ns: optional; the core's clock in nanoseconds, for streams that
 *	ask for a profile (drm_npu_cmd_header.profile_addr). Without it such
 *	streams are rejected with DRM_NPU_STATUS_BAD_HEADER.
 * @clock_ctx: passed back to @clock_ns.
 */
struct npu_fw_core {
	const struct npu_fw_tables *tables;
	struct npu_fw_mem mem;
	void *scratch;
	__u64 scratch_size;
	int (*should_stop)(void *stop_ctx);
	void *stop_ctx;
	const struct npu_fw_hooks *hooks;
	void *hook_ctx;
	__u64 (*clock_ns)(void *clock_ctx);
	void *clock_ctx;
};

/**
 * struct npu_fw_result - outcome of a command stream.
 * @status: enum drm_npu_status.
 * @op_index: index of the op that failed (0 for header errors).
 * @fault_addr: the faulting device address for DRM_NPU_STATUS_FAULT.
 */
struct npu_fw_result {
	__u32 status;
	__u32 op_index;
	__u64 fault_addr;
};

/**
 * npu_fw_exec() - execute one command stream on a core.
 * @core: the core, with the submitting context's memory.
 * @stream_addr: device address of the stream (struct drm_npu_cmd_header).
 * @stream_size: bytes of the stream.
 * @res: the outcome.
 *
 * Validates the whole stream, then runs it op by op. Each op is copied to
 * core memory and validated again before it runs, so a stream rewritten
 * while in flight cannot bypass validation. Nothing runs if any op is
 * malformed; data-dependent failures (token ids, positions, scales read
 * from memory) stop the stream at the op that meets them.
 */
void npu_fw_exec(const struct npu_fw_core *core, __u64 stream_addr,
		 __u32 stream_size, struct npu_fw_result *res);

/**
 * npu_fw_attention_scratch() - scratch bytes ATTENTION takes: a q and a
 *	k/v row as int32, every head's score of every cache row and the
 *	output accumulators as int64, and two scales per cache row.
 * @q_cols: the query's columns (heads x head size).
 * @kv_cols: the cache's columns.
 * @heads: query heads.
 * @rows: cache rows.
 *
 * Return: the bytes; more than the core's scratch is TOO_LARGE.
 */
static inline __u64 npu_fw_attention_scratch(__u64 q_cols, __u64 kv_cols, __u64 heads,
					     __u64 rows)
{
	return (q_cols + kv_cols) * sizeof(__s32) + 8 + (heads * rows + q_cols) * sizeof(__s64) +
	       2 * rows * sizeof(struct drm_npu_scale);
}

/* Scratch bytes of every core: the largest row an op may use (TOO_LARGE). */
#define NPU_FW_SCRATCH_SIZE (4u << 20)

#endif
