/* SPDX-License-Identifier: MIT */
/*
 * The fixture of the test_validate_* suites, the command processor's
 * validation rules, one test per rule. Every case starts from an op that
 * runs (good_*(), proved by test_validate_stream's good_ops_run) and
 * corrupts one field. The op sits at index 1 between two ops that write
 * sentinel buffers, so each case also proves op_index and, for a malformed
 * op, that nothing ran; for a data-dependent failure, that the stream
 * stopped at that op.
 */
#ifndef NPU_TEST_VALIDATE_H
#define NPU_TEST_VALIDATE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "../../firmware/include/npu_fw.h"

#define ST(x) DRM_NPU_STATUS_##x
#define TN(a, r, c, dt, sm, sa) \
	t_abi_tensor((a), (r), (c), DRM_NPU_DTYPE_##dt, DRM_NPU_SCALE_##sm, one, (sa))

/* Where the good ops find their operands inside the fixture's buffers. */
enum { W_GAMMA = 512, W_BETA = 768, W_K = 1024, W_V = 2048, W_TAB = 3072 };
enum { F_FACT = 0, F_ROWS = 256 };
enum { P_BIAS = 0, P_IDS = 32, P_FREQ = 64, P_POS = 128 };

#define SENT_BYTES 16
#define SENT_VALUE 5

static const struct npu_scale one = { 1 << 30, 30 };
static const struct drm_npu_scale one_abi = { 1 << 30, 30 };

struct fx {
	npu_device *dev;
	struct t_buf src, sent1, sent2;	/* the sentinel writers' buffers */
	struct t_buf x, x2, w, f, p, o;	/* operands of the op under test */
};

static inline int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct drm_npu_scale *rs;
	int8_t *x, *x2, *w;
	uint16_t *fa;
	int32_t *p;
	int i;

	assert_non_null(f);
	f->dev = t_open();
	f->src = t_alloc(f->dev, 64);
	f->sent1 = t_alloc(f->dev, 64);
	f->sent2 = t_alloc(f->dev, 64);
	f->x = t_alloc(f->dev, 4096);
	f->x2 = t_alloc(f->dev, 4096);
	f->w = t_alloc(f->dev, 4096);
	f->f = t_alloc(f->dev, 1024);
	f->p = t_alloc(f->dev, 256);
	f->o = t_alloc(f->dev, 4096);

	memset(f->src.p, SENT_VALUE, SENT_BYTES);
	x = f->x.p;
	x2 = f->x2.p;
	w = f->w.p;
	for (i = 0; i < 4096; i++) {
		x[i] = (int8_t)(i % 7 - 3);
		x2[i] = (int8_t)(i % 5 - 2);
		w[i] = (int8_t)(i % 9 - 4);
	}
	fa = (uint16_t *)((char *)f->f.p + F_FACT);
	for (i = 0; i < 128; i++)
		fa[i] = 32768;
	rs = (struct drm_npu_scale *)((char *)f->f.p + F_ROWS);
	for (i = 0; i < 32; i++)
		rs[i] = one_abi;
	p = f->p.p;
	memcpy(p + P_BIAS / 4, (int32_t[]){ 1, 2, 3, 4 }, 16);
	memcpy(p + P_IDS / 4, (int32_t[]){ 3, 7 }, 8);
	memcpy(p + P_FREQ / 4, (int32_t[]){ 1 << 28, 1 << 26, 1 << 24, 1 << 22 }, 16);
	p[P_POS / 4] = 3;
	*state = f;
	return 0;
}

/* npu_close releases every buffer, mapped or not, also after a failed test. */
static inline int teardown(void **state)
{
	struct fx *f = *state;

	npu_close(f->dev);
	free(f);
	return 0;
}

/* ---- ops ------------------------------------------------------------- */

static inline struct drm_npu_op blank(uint16_t opcode)
{
	struct drm_npu_op op;

	memset(&op, 0, sizeof(op));
	op.opcode = opcode;
	return op;
}

/* QUANTIZE src -> dst: SENT_VALUE lands in dst when the op runs. */
static inline struct drm_npu_op op_writer(const struct fx *f, const struct t_buf *dst)
{
	struct drm_npu_op op = blank(DRM_NPU_OP_QUANTIZE);

	op.in[0] = TN(f->src.addr, 1, SENT_BYTES, I8, TENSOR, 0);
	op.out = TN(dst->addr, 1, SENT_BYTES, I8, TENSOR, 0);
	return op;
}

static inline struct drm_npu_op good_matmul(const struct fx *f)
{
	struct drm_npu_op op = blank(DRM_NPU_OP_MATMUL);

	op.flags = DRM_NPU_OP_F_BIAS;
	op.in[0] = TN(f->x.addr, 2, 64, I8, TENSOR, 0);
	op.in[1] = TN(f->w.addr, 4, 64, I8, GROUP, f->f.addr + F_FACT);
	op.in[2] = TN(f->p.addr + P_BIAS, 1, 4, I32, TENSOR, 0);
	op.out = TN(f->o.addr, 2, 4, I32, TENSOR, 0);
	op.matmul.group_size = 32;
	return op;
}

static inline struct drm_npu_op good_matmul_i4(const struct fx *f)
{
	struct drm_npu_op op = good_matmul(f);

	op.in[1] = TN(f->w.addr, 4, 64, I4, GROUP, f->f.addr + F_FACT);
	return op;
}

static inline struct drm_npu_op good_norm(const struct fx *f, uint16_t opcode)
{
	struct drm_npu_op op = blank(opcode);

	op.in[0] = TN(f->x.addr, 2, 64, I8, TENSOR, 0);
	op.in[1] = TN(f->w.addr + W_GAMMA, 1, 64, I8, TENSOR, 0);
	if (opcode == DRM_NPU_OP_LAYERNORM)
		op.in[2] = TN(f->w.addr + W_BETA, 1, 64, I8, TENSOR, 0);
	op.out = TN(f->o.addr, 2, 64, I8, TENSOR, 0);
	op.norm.eps.mult = 1 << 30;
	op.norm.eps.shift = 50;
	return op;
}

static inline struct drm_npu_op good_softmax(const struct fx *f)
{
	struct drm_npu_op op = blank(DRM_NPU_OP_SOFTMAX);

	op.flags = DRM_NPU_OP_F_CAUSAL;
	op.in[0] = TN(f->x.addr, 2, 16, I8, TENSOR, 0);
	op.out = TN(f->o.addr, 2, 16, I16, TENSOR, 0);
	op.pos.pos = 3;
	op.pos.alpha = one_abi;
	return op;
}

/* SILU, GELU, QUANTIZE: 2 x 16 I8 -> 2 x 16 I8. */
static inline struct drm_npu_op good_unary(const struct fx *f, uint16_t opcode)
{
	struct drm_npu_op op = blank(opcode);

	op.in[0] = TN(f->x.addr, 2, 16, I8, TENSOR, 0);
	op.out = TN(f->o.addr, 2, 16, I8, TENSOR, 0);
	return op;
}

/* SILU reading per-row scales from memory (F_ROWS). */
static inline struct drm_npu_op good_silu_row(const struct fx *f)
{
	struct drm_npu_op op = good_unary(f, DRM_NPU_OP_SILU);

	op.in[0] = TN(f->x.addr, 2, 16, I8, ROW, f->f.addr + F_ROWS);
	return op;
}

/* QUANTIZE to a dynamic per-row output scale, stored at o + 2048. */
static inline struct drm_npu_op good_quantize_row(const struct fx *f)
{
	struct drm_npu_op op = good_unary(f, DRM_NPU_OP_QUANTIZE);

	op.out = TN(f->o.addr, 2, 16, I8, ROW, f->o.addr + 2048);
	return op;
}

static inline struct drm_npu_op good_binary(const struct fx *f, uint16_t opcode)
{
	struct drm_npu_op op = blank(opcode);

	op.in[0] = TN(f->x.addr, 2, 16, I8, TENSOR, 0);
	op.in[1] = TN(f->x2.addr, 2, 16, I8, TENSOR, 0);
	op.out = TN(f->o.addr, 2, 16, I16, TENSOR, 0);
	return op;
}

static inline struct drm_npu_op good_rope(const struct fx *f)
{
	struct drm_npu_op op = blank(DRM_NPU_OP_ROPE);

	op.in[0] = TN(f->x.addr, 2, 16, I16, TENSOR, 0);
	op.in[1] = TN(f->p.addr + P_FREQ, 1, 4, I32, NONE, 0);
	op.out = TN(f->o.addr, 2, 16, I16, TENSOR, 0);
	op.pos.pos = 5;
	op.pos.n_heads = 2;
	op.pos.head_dim = 8;
	return op;
}

/* 2 query heads over 1 KV head of 8, a cache of 8 rows, query at position 3. */
static inline struct drm_npu_op good_attention(const struct fx *f)
{
	struct drm_npu_op op = blank(DRM_NPU_OP_ATTENTION);

	op.in[0] = TN(f->x.addr, 1, 16, I8, TENSOR, 0);
	op.in[1] = TN(f->w.addr + W_K, 8, 8, I8, TENSOR, 0);
	op.in[2] = TN(f->w.addr + W_V, 8, 8, I8, TENSOR, 0);
	op.out = TN(f->o.addr, 1, 16, I16, TENSOR, 0);
	op.pos.pos = 3;
	op.pos.n_heads = 2;
	op.pos.n_kv_heads = 1;
	op.pos.head_dim = 8;
	op.pos.alpha.mult = 1518500250;	/* 1/sqrt(8) */
	op.pos.alpha.shift = 32;
	return op;
}

static inline struct drm_npu_op good_kv_append(const struct fx *f)
{
	struct drm_npu_op op = blank(DRM_NPU_OP_KV_APPEND);

	op.in[0] = TN(f->x.addr, 1, 8, I8, TENSOR, 0);
	op.out = TN(f->w.addr + W_K, 8, 8, I8, TENSOR, 0);
	op.pos.pos = 3;
	return op;
}

/* Rows 3 and 7 (the ids at P_IDS) of a 16 x 8 table. */
static inline struct drm_npu_op good_embedding(const struct fx *f)
{
	struct drm_npu_op op = blank(DRM_NPU_OP_EMBEDDING);

	op.in[0] = TN(f->w.addr + W_TAB, 16, 8, I8, TENSOR, 0);
	op.in[1] = TN(f->p.addr + P_IDS, 2, 1, I32, NONE, 0);
	op.out = TN(f->o.addr, 2, 8, I8, TENSOR, 0);
	return op;
}

static inline struct drm_npu_op good_argmax(const struct fx *f)
{
	struct drm_npu_op op = blank(DRM_NPU_OP_ARGMAX);

	op.in[0] = TN(f->x.addr, 2, 16, I8, TENSOR, 0);
	op.out = TN(f->o.addr, 2, 1, I32, NONE, 0);
	return op;
}

/* ---- running and checking --------------------------------------------- */

static inline int all_bytes(const void *p, uint8_t v, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != v)
			return 0;
	return 1;
}

static inline void clear_sentinels(struct fx *f)
{
	memset(f->sent1.p, 0, SENT_BYTES);
	memset(f->sent2.p, 0, SENT_BYTES);
}

/* What the sentinel writers before and after the op show. */
enum ran { RAN_NONE, RAN_ALL, RAN_FIRST };

static inline void check_result(const struct fx *f, const struct npu_job_result *r,
				uint32_t status, uint32_t index, uint64_t fault, enum ran ran,
				int line)
{
	int s1 = all_bytes(f->sent1.p, SENT_VALUE, SENT_BYTES);
	int s2 = all_bytes(f->sent2.p, SENT_VALUE, SENT_BYTES);
	int z1 = all_bytes(f->sent1.p, 0, SENT_BYTES);
	int z2 = all_bytes(f->sent2.p, 0, SENT_BYTES);
	int ok = r->status == status;

	if (status != ST(OK))
		ok = ok && r->op_index == index;
	if (status == ST(FAULT))
		ok = ok && r->fault_addr == fault;
	if (!ok) {
		print_error("line %d: status %u (%s) op_index %u fault_addr %#llx; "
			    "want %u (%s) op_index %u fault_addr %#llx\n", line, r->status,
			    npu_strerror((int)r->status), r->op_index,
			    (unsigned long long)r->fault_addr, status, npu_strerror((int)status),
			    index, (unsigned long long)fault);
		fail();
	}
	if ((ran == RAN_NONE && !(z1 && z2)) || (ran == RAN_ALL && !(s1 && s2)) ||
	    (ran == RAN_FIRST && !(s1 && z2))) {
		print_error("line %d: ops before/after the op under test ran: %d/%d, want %s\n",
			    line, s1, s2, ran == RAN_NONE ? "neither" : ran == RAN_ALL ? "both" :
			    "only the one before");
		fail();
	}
}

/* Run writer(sent1), op, writer(sent2). */
static inline void run3(struct fx *f, const struct drm_npu_op *op, struct npu_job_result *r)
{
	struct drm_npu_op ops[3];

	ops[0] = op_writer(f, &f->sent1);
	ops[1] = *op;
	ops[2] = op_writer(f, &f->sent2);
	clear_sentinels(f);
	t_run_ops(f->dev, ops, 3, r);
}

static inline void expect_at(struct fx *f, const struct drm_npu_op *op, uint32_t status,
			     uint64_t fault, int line)
{
	struct npu_job_result r;
	enum ran ran = RAN_NONE;

	run3(f, op, &r);
	if (status == ST(OK))
		ran = RAN_ALL;
	check_result(f, &r, status, 1, fault, ran, line);
}

/* The op runs, and so do the ops around it. */
#define expect_ok(f, op) expect_at((f), (op), ST(OK), 0, __LINE__)
/* The op is rejected while the stream is validated: nothing ran. */
#define expect_bad(f, op, st) expect_at((f), (op), (st), 0, __LINE__)
#define expect_fault(f, op, addr) expect_at((f), (op), ST(FAULT), (addr), __LINE__)

/* The op fails as it runs: the op before it ran, the one after did not. */
#define expect_stop(f, op, st) expect_stop_at((f), (op), (st), __LINE__)
static inline void expect_stop_at(struct fx *f, const struct drm_npu_op *op, uint32_t status,
				  int line)
{
	struct npu_job_result r;

	run3(f, op, &r);
	check_result(f, &r, status, 1, 0, RAN_FIRST, line);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

#endif
