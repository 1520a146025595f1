// SPDX-License-Identifier: MIT
/*
 * The command processor's validation rules, one test per rule. Every case
 * starts from an op that runs (good_*(), proved by good_ops_run) and
 * corrupts one field. The op sits at index 1 between two ops that write
 * sentinel buffers, so each case also proves op_index and, for a malformed
 * op, that nothing ran; for a data-dependent failure, that the stream
 * stopped at that op.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static int setup(void **state)
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
static int teardown(void **state)
{
	struct fx *f = *state;

	npu_close(f->dev);
	free(f);
	return 0;
}

/* ---- ops ------------------------------------------------------------- */

static struct drm_npu_op blank(uint16_t opcode)
{
	struct drm_npu_op op;

	memset(&op, 0, sizeof(op));
	op.opcode = opcode;
	return op;
}

/* QUANTIZE src -> dst: SENT_VALUE lands in dst when the op runs. */
static struct drm_npu_op op_writer(const struct fx *f, const struct t_buf *dst)
{
	struct drm_npu_op op = blank(DRM_NPU_OP_QUANTIZE);

	op.in[0] = TN(f->src.addr, 1, SENT_BYTES, I8, TENSOR, 0);
	op.out = TN(dst->addr, 1, SENT_BYTES, I8, TENSOR, 0);
	return op;
}

static struct drm_npu_op good_matmul(const struct fx *f)
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

static struct drm_npu_op good_matmul_i4(const struct fx *f)
{
	struct drm_npu_op op = good_matmul(f);

	op.in[1] = TN(f->w.addr, 4, 64, I4, GROUP, f->f.addr + F_FACT);
	return op;
}

static struct drm_npu_op good_norm(const struct fx *f, uint16_t opcode)
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

static struct drm_npu_op good_softmax(const struct fx *f)
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
static struct drm_npu_op good_unary(const struct fx *f, uint16_t opcode)
{
	struct drm_npu_op op = blank(opcode);

	op.in[0] = TN(f->x.addr, 2, 16, I8, TENSOR, 0);
	op.out = TN(f->o.addr, 2, 16, I8, TENSOR, 0);
	return op;
}

/* SILU reading per-row scales from memory (F_ROWS). */
static struct drm_npu_op good_silu_row(const struct fx *f)
{
	struct drm_npu_op op = good_unary(f, DRM_NPU_OP_SILU);

	op.in[0] = TN(f->x.addr, 2, 16, I8, ROW, f->f.addr + F_ROWS);
	return op;
}

/* QUANTIZE to a dynamic per-row output scale, stored at o + 2048. */
static struct drm_npu_op good_quantize_row(const struct fx *f)
{
	struct drm_npu_op op = good_unary(f, DRM_NPU_OP_QUANTIZE);

	op.out = TN(f->o.addr, 2, 16, I8, ROW, f->o.addr + 2048);
	return op;
}

static struct drm_npu_op good_binary(const struct fx *f, uint16_t opcode)
{
	struct drm_npu_op op = blank(opcode);

	op.in[0] = TN(f->x.addr, 2, 16, I8, TENSOR, 0);
	op.in[1] = TN(f->x2.addr, 2, 16, I8, TENSOR, 0);
	op.out = TN(f->o.addr, 2, 16, I16, TENSOR, 0);
	return op;
}

static struct drm_npu_op good_rope(const struct fx *f)
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
static struct drm_npu_op good_attention(const struct fx *f)
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

static struct drm_npu_op good_kv_append(const struct fx *f)
{
	struct drm_npu_op op = blank(DRM_NPU_OP_KV_APPEND);

	op.in[0] = TN(f->x.addr, 1, 8, I8, TENSOR, 0);
	op.out = TN(f->w.addr + W_K, 8, 8, I8, TENSOR, 0);
	op.pos.pos = 3;
	return op;
}

/* Rows 3 and 7 (the ids at P_IDS) of a 16 x 8 table. */
static struct drm_npu_op good_embedding(const struct fx *f)
{
	struct drm_npu_op op = blank(DRM_NPU_OP_EMBEDDING);

	op.in[0] = TN(f->w.addr + W_TAB, 16, 8, I8, TENSOR, 0);
	op.in[1] = TN(f->p.addr + P_IDS, 2, 1, I32, NONE, 0);
	op.out = TN(f->o.addr, 2, 8, I8, TENSOR, 0);
	return op;
}

static struct drm_npu_op good_argmax(const struct fx *f)
{
	struct drm_npu_op op = blank(DRM_NPU_OP_ARGMAX);

	op.in[0] = TN(f->x.addr, 2, 16, I8, TENSOR, 0);
	op.out = TN(f->o.addr, 2, 1, I32, NONE, 0);
	return op;
}

/* ---- running and checking --------------------------------------------- */

static int all_bytes(const void *p, uint8_t v, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != v)
			return 0;
	return 1;
}

static void clear_sentinels(struct fx *f)
{
	memset(f->sent1.p, 0, SENT_BYTES);
	memset(f->sent2.p, 0, SENT_BYTES);
}

/* What the sentinel writers before and after the op show. */
enum ran { RAN_NONE, RAN_ALL, RAN_FIRST };

static void check_result(const struct fx *f, const struct npu_job_result *r, uint32_t status,
			 uint32_t index, uint64_t fault, enum ran ran, int line)
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
static void run3(struct fx *f, const struct drm_npu_op *op, struct npu_job_result *r)
{
	struct drm_npu_op ops[3];

	ops[0] = op_writer(f, &f->sent1);
	ops[1] = *op;
	ops[2] = op_writer(f, &f->sent2);
	clear_sentinels(f);
	t_run_ops(f->dev, ops, 3, r);
}

static void expect_at(struct fx *f, const struct drm_npu_op *op, uint32_t status,
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
static void expect_stop_at(struct fx *f, const struct drm_npu_op *op, uint32_t status, int line)
{
	struct npu_job_result r;

	run3(f, op, &r);
	check_result(f, &r, status, 1, 0, RAN_FIRST, line);
}

/* ---- the good ops ------------------------------------------------------ */

static void good_ops_run(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = blank(DRM_NPU_OP_NOP);
	expect_ok(f, &op);
	op = good_matmul(f);
	expect_ok(f, &op);
	op.flags = 0;
	memset(&op.in[2], 0, sizeof(op.in[2]));
	expect_ok(f, &op);
	op = good_matmul_i4(f);
	expect_ok(f, &op);
	op = good_norm(f, DRM_NPU_OP_RMSNORM);
	expect_ok(f, &op);
	op = good_norm(f, DRM_NPU_OP_LAYERNORM);
	expect_ok(f, &op);
	op = good_softmax(f);
	expect_ok(f, &op);
	op = good_unary(f, DRM_NPU_OP_SILU);
	expect_ok(f, &op);
	op = good_unary(f, DRM_NPU_OP_GELU);
	expect_ok(f, &op);
	op = good_unary(f, DRM_NPU_OP_QUANTIZE);
	expect_ok(f, &op);
	op = good_silu_row(f);
	expect_ok(f, &op);
	op = good_quantize_row(f);
	expect_ok(f, &op);
	op = good_binary(f, DRM_NPU_OP_ADD);
	expect_ok(f, &op);
	op = good_binary(f, DRM_NPU_OP_MUL);
	expect_ok(f, &op);
	op = good_rope(f);
	expect_ok(f, &op);
	op = good_attention(f);
	expect_ok(f, &op);
	op = good_kv_append(f);
	expect_ok(f, &op);
	op = good_embedding(f);
	expect_ok(f, &op);
	op = good_argmax(f);
	expect_ok(f, &op);
}

/* ---- stream header ------------------------------------------------------ */

/*
 * A stream of n ops of op_size bytes (zero tails): op 0 and op n - 1 write
 * the sentinels, the ops between are NOPs (an all-zero op).
 */
static uint8_t *make_stream(const struct fx *f, uint32_t n, uint32_t op_size, uint32_t *size)
{
	size_t bytes = sizeof(struct drm_npu_cmd_header) + (size_t)n * op_size;
	size_t len = op_size < sizeof(struct drm_npu_op) ? op_size : sizeof(struct drm_npu_op);
	uint8_t *s = calloc(1, bytes + 64);
	struct drm_npu_cmd_header h;
	struct drm_npu_op w1 = op_writer(f, &f->sent1), w2 = op_writer(f, &f->sent2);

	assert_non_null(s);
	memset(&h, 0, sizeof(h));
	h.magic = DRM_NPU_CMD_MAGIC;
	h.version_major = DRM_NPU_ABI_MAJOR;
	h.version_minor = DRM_NPU_ABI_MINOR;
	h.op_count = n;
	h.op_size = op_size;
	memcpy(s, &h, sizeof(h));
	if (n > 0)
		memcpy(s + sizeof(h), &w1, len);
	if (n > 1)
		memcpy(s + sizeof(h) + (size_t)(n - 1) * op_size, &w2, len);
	*size = (uint32_t)bytes;
	return s;
}

static struct drm_npu_cmd_header *hdr(uint8_t *s)
{
	return (struct drm_npu_cmd_header *)s;
}

#define expect_stream(f, s, size, st, idx, ran) \
	expect_stream_at((f), (s), (size), (st), (idx), (ran), __LINE__)
static void expect_stream_at(struct fx *f, const uint8_t *s, uint32_t size, uint32_t status,
			     uint32_t index, enum ran ran, int line)
{
	struct npu_job_result r;

	clear_sentinels(f);
	t_run_bytes(f->dev, s, size, &r);
	check_result(f, &r, status, index, 0, ran, line);
}

static void hdr_too_short(void **state)
{
	struct fx *f = *state;
	npu_fence fence;
	uint32_t size;
	uint8_t *s = make_stream(f, 2, sizeof(struct drm_npu_op), &size);

	expect_stream(f, s, size, ST(OK), 0, RAN_ALL);
	free(s);
	/* The host refuses what cannot be a stream before submitting it. */
	assert_int_equal(npu_submit_stream(f->dev, f->sent1.bo, 0, 0, NPU_PRIO_NORMAL, &fence),
			 NPU_E_INVAL);
	assert_int_equal(npu_submit_stream(f->dev, f->sent1.bo, 0,
					   sizeof(struct drm_npu_cmd_header) - 1, NPU_PRIO_NORMAL,
					   &fence), NPU_E_INVAL);
}

/* The firmware itself does not trust its host: it checks the size again. */
static void *direct_translate(void *ctx, __u64 addr, __u64 len, int write, __u64 *fault)
{
	(void)write;
	if (addr < 4096 || addr + len > 4096 + 256) {
		*fault = addr;
		return NULL;
	}
	return (uint8_t *)ctx + (addr - 4096);
}

static void fw_rejects_short_stream(void **state)
{
	static uint8_t mem[256] __attribute__((aligned(8)));
	static uint8_t scratch[64] __attribute__((aligned(8)));
	struct npu_fw_tables tables = { .op_mask = 1 };
	struct npu_fw_core core = {
		.tables = &tables,
		.mem = { direct_translate, mem },
		.scratch = scratch,
		.scratch_size = sizeof(scratch),
	};
	struct npu_fw_result r;
	uint32_t size;
	uint8_t *s;

	(void)state;
	s = make_stream(*state, 0, sizeof(struct drm_npu_op), &size);
	memcpy(mem, s, sizeof(struct drm_npu_cmd_header));
	free(s);
	npu_fw_exec(&core, 4096, 0, &r);
	assert_int_equal(r.status, ST(BAD_HEADER));
	npu_fw_exec(&core, 4096, 8, &r);
	assert_int_equal(r.status, ST(BAD_HEADER));
	npu_fw_exec(&core, 4096, sizeof(struct drm_npu_cmd_header) - 1, &r);
	assert_int_equal(r.status, ST(BAD_HEADER));
	npu_fw_exec(&core, 4100, sizeof(struct drm_npu_cmd_header), &r);
	assert_int_equal(r.status, ST(BAD_HEADER));	/* misaligned */
	npu_fw_exec(&core, 8192, sizeof(struct drm_npu_cmd_header), &r);
	assert_int_equal(r.status, ST(FAULT));
	assert_int_equal(r.fault_addr, 8192);
}

static void hdr_bad_magic(void **state)
{
	struct fx *f = *state;
	uint32_t size;
	uint8_t *s = make_stream(f, 2, sizeof(struct drm_npu_op), &size);

	hdr(s)->magic = DRM_NPU_CMD_MAGIC ^ 0x20000000u;
	expect_stream(f, s, size, ST(BAD_HEADER), 0, RAN_NONE);
	hdr(s)->magic = 0;
	expect_stream(f, s, size, ST(BAD_HEADER), 0, RAN_NONE);
	free(s);
}

static void hdr_bad_version_major(void **state)
{
	struct fx *f = *state;
	uint32_t size;
	uint8_t *s = make_stream(f, 2, sizeof(struct drm_npu_op), &size);

	hdr(s)->version_major = DRM_NPU_ABI_MAJOR + 1;
	expect_stream(f, s, size, ST(BAD_VERSION), 0, RAN_NONE);
	hdr(s)->version_major = DRM_NPU_ABI_MAJOR - 1;
	expect_stream(f, s, size, ST(BAD_VERSION), 0, RAN_NONE);
	free(s);
}

/* A newer minor is fine: newer ops would be rejected by their opcode. */
static void hdr_newer_minor_accepted(void **state)
{
	struct fx *f = *state;
	uint32_t size;
	uint8_t *s = make_stream(f, 2, sizeof(struct drm_npu_op), &size);

	hdr(s)->version_minor = 0xffff;
	expect_stream(f, s, size, ST(OK), 0, RAN_ALL);
	free(s);
}

/* A profile address must be 8-aligned. */
static void hdr_profile_misaligned(void **state)
{
	struct fx *f = *state;
	uint32_t size;
	uint8_t *s = make_stream(f, 2, sizeof(struct drm_npu_op), &size);

	hdr(s)->profile_addr = f->o.addr + 4;
	expect_stream(f, s, size, ST(BAD_HEADER), 0, RAN_NONE);
	hdr(s)->profile_addr = 1;
	expect_stream(f, s, size, ST(BAD_HEADER), 0, RAN_NONE);
	free(s);
}

/* Run a stream whose profile fails: FAULT at @index, @fault, nothing after. */
static void expect_profile_fault(struct fx *f, uint64_t profile, uint32_t n, uint32_t index,
				 uint64_t fault, enum ran ran, int line)
{
	struct npu_job_result r;
	uint32_t size;
	uint8_t *s = make_stream(f, n, sizeof(struct drm_npu_op), &size);

	hdr(s)->profile_addr = profile;
	clear_sentinels(f);
	t_run_bytes(f->dev, s, size, &r);
	check_result(f, &r, ST(FAULT), index, fault, ran, line);
	free(s);
}

/* The whole profile must be writable before anything runs. */
static void hdr_profile_unmapped(void **state)
{
	struct fx *f = *state;

	expect_profile_fault(f, 1ull << 63, 2, 0, 1ull << 63, RAN_NONE, __LINE__);
	expect_profile_fault(f, f->o.addr + f->o.size - 8, 2, 0, f->o.addr + f->o.size,
			     RAN_NONE, __LINE__);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Each op's time lands in its slot; nothing else in the buffer is touched. */
static void profile_filled(void **state)
{
	struct fx *f = *state;
	struct npu_job_result r;
	uint64_t *slots = (uint64_t *)f->o.p + 8, before, after;
	uint32_t size, i;
	uint8_t *s = make_stream(f, 4, sizeof(struct drm_npu_op), &size);

	memset(f->o.p, 0xee, 128);
	hdr(s)->profile_addr = f->o.addr + 64;
	clear_sentinels(f);
	before = now_ns();
	t_run_bytes(f->dev, s, size, &r);
	after = now_ns();
	check_result(f, &r, ST(OK), 0, 0, RAN_ALL, __LINE__);
	for (i = 0; i < 4; i++)
		if (slots[i] == 0xeeeeeeeeeeeeeeeeull || slots[i] > after - before)
			fail_msg("slot %u: %llu ns, the job took %llu ns", i,
				 (unsigned long long)slots[i], (unsigned long long)(after - before));
	assert_true(all_bytes(f->o.p, 0xee, 64));
	assert_true(all_bytes(slots + 4, 0xee, 32));
	free(s);
}

static void hdr_op_count_zero(void **state)
{
	struct fx *f = *state;
	uint32_t size;
	uint8_t *s = make_stream(f, 0, sizeof(struct drm_npu_op), &size);

	expect_stream(f, s, size, ST(BAD_HEADER), 0, RAN_NONE);
	free(s);
}

/* DRM_NPU_CMD_MAX_OPS ops run; one more is refused, sizes consistent. */
static void hdr_op_count_too_large(void **state)
{
	struct fx *f = *state;
	uint32_t size;
	uint8_t *s = make_stream(f, DRM_NPU_CMD_MAX_OPS, sizeof(struct drm_npu_op), &size);

	expect_stream(f, s, size, ST(OK), 0, RAN_ALL);
	free(s);
	s = make_stream(f, DRM_NPU_CMD_MAX_OPS + 1, sizeof(struct drm_npu_op), &size);
	expect_stream(f, s, size, ST(BAD_HEADER), 0, RAN_NONE);
	free(s);
}

static void hdr_op_size_too_small(void **state)
{
	struct fx *f = *state;
	uint32_t size;
	uint8_t *s = make_stream(f, 3, sizeof(struct drm_npu_op) - 8, &size);

	expect_stream(f, s, size, ST(BAD_HEADER), 0, RAN_NONE);
	free(s);
	s = make_stream(f, 3, 0, &size);
	expect_stream(f, s, size, ST(BAD_HEADER), 0, RAN_NONE);
	free(s);
}

static void hdr_op_size_not_multiple_of_8(void **state)
{
	struct fx *f = *state;
	uint32_t size;
	uint8_t *s = make_stream(f, 3, sizeof(struct drm_npu_op) + 4, &size);

	expect_stream(f, s, size, ST(BAD_HEADER), 0, RAN_NONE);
	free(s);
	s = make_stream(f, 3, sizeof(struct drm_npu_op) + 8, &size);
	expect_stream(f, s, size, ST(OK), 0, RAN_ALL);
	free(s);
}

static void hdr_op_size_too_large(void **state)
{
	struct fx *f = *state;
	uint32_t size;
	uint8_t *s = make_stream(f, 3, 4096, &size);

	expect_stream(f, s, size, ST(OK), 0, RAN_ALL);
	free(s);
	s = make_stream(f, 3, 4096 + 8, &size);
	expect_stream(f, s, size, ST(BAD_HEADER), 0, RAN_NONE);
	free(s);
}

static void hdr_size_mismatch(void **state)
{
	struct fx *f = *state;
	uint32_t size;
	uint8_t *s = make_stream(f, 3, sizeof(struct drm_npu_op), &size);

	expect_stream(f, s, size + 8, ST(BAD_HEADER), 0, RAN_NONE);
	expect_stream(f, s, size - 8, ST(BAD_HEADER), 0, RAN_NONE);
	expect_stream(f, s, size - sizeof(struct drm_npu_op), ST(BAD_HEADER), 0, RAN_NONE);
	hdr(s)->op_count = 2;
	expect_stream(f, s, size, ST(BAD_HEADER), 0, RAN_NONE);
	free(s);
}

/* Bytes past struct drm_npu_op in a longer descriptor must be zero. */
static void op_tail_nonzero(void **state)
{
	struct fx *f = *state;
	uint32_t size, op_size = sizeof(struct drm_npu_op) + 16;
	uint8_t *s = make_stream(f, 3, op_size, &size);
	uint8_t *tail1 = s + sizeof(struct drm_npu_cmd_header) + op_size + sizeof(struct drm_npu_op);

	tail1[15] = 1;
	expect_stream(f, s, size, ST(BAD_RESERVED), 1, RAN_NONE);
	tail1[15] = 0;
	tail1[op_size] = 0x80;	/* op 2's tail */
	expect_stream(f, s, size, ST(BAD_RESERVED), 2, RAN_NONE);
	free(s);
}

/* The stream must start 8-aligned in device memory. */
static void stream_misaligned(void **state)
{
	struct fx *f = *state;
	uint32_t size;
	uint8_t *s = make_stream(f, 2, sizeof(struct drm_npu_op), &size);
	struct t_buf b = t_alloc(f->dev, size + 16);
	struct npu_job_result r;
	npu_fence fence;
	uint32_t off;

	for (off = 8; off >= 4; off -= 4) {
		memset(b.p, 0, size + 16);
		memcpy((char *)b.p + off, s, size);
		clear_sentinels(f);
		if (off == 4) {
			/* Refused on the host (the firmware's own check: above). */
			assert_int_equal(npu_submit_stream(f->dev, b.bo, off, size,
							   NPU_PRIO_NORMAL, &fence), NPU_E_INVAL);
			continue;
		}
		assert_int_equal(npu_submit_stream(f->dev, b.bo, off, size, NPU_PRIO_NORMAL,
						   &fence), NPU_OK);
		assert_int_equal(npu_fence_wait(f->dev, fence, -1, &r), NPU_OK);
		check_result(f, &r, ST(OK), 0, 0, RAN_ALL, __LINE__);
	}
	t_free(f->dev, &b);
	free(s);
}

/* ---- op fields ---------------------------------------------------------- */

static void op_unknown_opcode(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op = good_unary(f, DRM_NPU_OP_SILU);

	op.opcode = DRM_NPU_OP_COUNT;
	expect_bad(f, &op, ST(BAD_OPCODE));
	op.opcode = 0xffff;
	expect_bad(f, &op, ST(BAD_OPCODE));
}

static void op_pad_nonzero(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op = good_matmul(f);

	op.pad = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op.pad = 0x80000000u;
	expect_bad(f, &op, ST(BAD_RESERVED));
}

static void op_reserved_nonzero(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;
	int i;

	for (i = 0; i < 5; i++) {
		op = good_unary(f, DRM_NPU_OP_GELU);
		op.reserved[i] = 1ull << (i * 13);
		expect_bad(f, &op, ST(BAD_RESERVED));
	}
}

static void op_undefined_flag(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_SILU);
	op.flags = DRM_NPU_OP_F_BIAS;
	expect_bad(f, &op, ST(BAD_FLAGS));
	op = good_matmul(f);
	op.flags |= DRM_NPU_OP_F_CAUSAL;
	expect_bad(f, &op, ST(BAD_FLAGS));
	op = good_matmul(f);
	op.flags |= 0x8000;
	expect_bad(f, &op, ST(BAD_FLAGS));
	op = good_rope(f);
	op.flags = DRM_NPU_OP_F_CAUSAL;
	expect_bad(f, &op, ST(BAD_FLAGS));
	op = blank(DRM_NPU_OP_NOP);
	op.flags = DRM_NPU_OP_F_POS_ADDR;
	expect_bad(f, &op, ST(BAD_FLAGS));
}

/* Parameter bytes the op does not read must be zero. */
static void op_unused_params_nonzero(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_SILU);
	op.params_raw[0] = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_unary(f, DRM_NPU_OP_QUANTIZE);
	op.params_raw[5] = 1ull << 63;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_matmul(f);
	op.params_raw[1] = 1;		/* past group_size and pad */
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_norm(f, DRM_NPU_OP_RMSNORM);
	op.params_raw[2] = 1;		/* past eps */
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_embedding(f);
	op.params_raw[3] = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = blank(DRM_NPU_OP_NOP);
	op.params_raw[0] = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
}

static void op_matmul_pad_nonzero(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op = good_matmul(f);

	op.matmul.pad = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
}

/* A tensor slot the op does not use must be all zero. */
static void op_unused_tensor_nonzero(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[1].rows = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[2].scale.shift = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	/* The bias slot without F_BIAS. */
	op = good_matmul(f);
	op.flags = 0;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_norm(f, DRM_NPU_OP_RMSNORM);
	op.in[2].pad = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = blank(DRM_NPU_OP_NOP);
	op.out.addr = f->o.addr;
	expect_bad(f, &op, ST(BAD_RESERVED));
}

static void tensor_pad_nonzero(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;
	int i;

	for (i = 0; i < 4; i++) {
		op = good_matmul(f);
		if (i < 3)
			op.in[i].pad = 1;
		else
			op.out.pad = 0x8000;
		expect_bad(f, &op, ST(BAD_RESERVED));
	}
}

static void tensor_bad_dtype(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_matmul(f);
	op.in[0].dtype = DRM_NPU_DTYPE_I4;	/* activations are never I4 */
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_matmul(f);
	op.in[0].dtype = DRM_NPU_DTYPE_I32;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_matmul(f);
	op.in[1].dtype = DRM_NPU_DTYPE_I16;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_matmul(f);
	op.in[2].dtype = DRM_NPU_DTYPE_I8;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_matmul(f);
	op.out.dtype = DRM_NPU_DTYPE_I4;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_attention(f);
	op.in[0].dtype = DRM_NPU_DTYPE_I32;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_attention(f);
	op.in[2].dtype = DRM_NPU_DTYPE_I32;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_kv_append(f);
	op.out.dtype = DRM_NPU_DTYPE_I32;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_embedding(f);
	op.in[1].dtype = DRM_NPU_DTYPE_I16;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_rope(f);
	op.in[1].dtype = DRM_NPU_DTYPE_I16;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_argmax(f);
	op.out.dtype = DRM_NPU_DTYPE_I8;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op = good_norm(f, DRM_NPU_OP_RMSNORM);
	op.in[1].dtype = DRM_NPU_DTYPE_I32;
	expect_bad(f, &op, ST(BAD_DTYPE));
	/* Values no dtype has. */
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].dtype = 0;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op.in[0].dtype = DRM_NPU_DTYPE_I32 + 1;
	expect_bad(f, &op, ST(BAD_DTYPE));
	op.in[0].dtype = 200;
	expect_bad(f, &op, ST(BAD_DTYPE));
}

static void tensor_bad_scale_mode(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].scale_mode = DRM_NPU_SCALE_GROUP + 1;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op.in[0].scale_mode = 255;
	expect_bad(f, &op, ST(BAD_QPARAM));
	/* GROUP is for weights only. */
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].scale_mode = DRM_NPU_SCALE_GROUP;
	expect_bad(f, &op, ST(BAD_QPARAM));
	/* A scaled op needs a scale. */
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].scale_mode = DRM_NPU_SCALE_NONE;
	op.in[0].scale.mult = 0;
	op.in[0].scale.shift = 0;
	expect_bad(f, &op, ST(BAD_QPARAM));
	/* Weights are GROUP-scaled. */
	op = good_matmul(f);
	op.in[1].scale_mode = DRM_NPU_SCALE_TENSOR;
	op.in[1].scale_addr = 0;
	expect_bad(f, &op, ST(BAD_QPARAM));
	/* Ids and frequencies are plain integers. */
	op = good_embedding(f);
	op.in[1].scale_mode = DRM_NPU_SCALE_TENSOR;
	op.in[1].scale = one_abi;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_rope(f);
	op.in[1].scale_mode = DRM_NPU_SCALE_ROW;
	op.in[1].scale_addr = f->f.addr + F_ROWS;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_argmax(f);
	op.out.scale_mode = DRM_NPU_SCALE_TENSOR;
	op.out.scale = one_abi;
	expect_bad(f, &op, ST(BAD_QPARAM));
}

static void tensor_scale_invalid(void **state)
{
	struct fx *f = *state;
	static const struct drm_npu_scale bad[] = {
		{ 0, 30 }, { -1, 30 }, { (int32_t)0x80000000u, 30 },
		{ 1 << 30, -33 }, { 1 << 30, 127 }, { 1 << 30, (int32_t)0x80000000u },
	};
	struct drm_npu_op op;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		op = good_unary(f, DRM_NPU_OP_QUANTIZE);
		op.in[0].scale = bad[i];
		expect_bad(f, &op, ST(BAD_QPARAM));
		op = good_unary(f, DRM_NPU_OP_QUANTIZE);
		op.out.scale = bad[i];
		expect_bad(f, &op, ST(BAD_QPARAM));
		op = good_matmul(f);
		op.in[1].scale = bad[i];	/* GROUP's tensor scale */
		expect_bad(f, &op, ST(BAD_QPARAM));
	}
}

/* The ends of the scale range are valid scales. */
static void tensor_scale_bounds_accepted(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_QUANTIZE);
	op.in[0].scale.mult = 1;
	op.in[0].scale.shift = -32;
	expect_ok(f, &op);
	op.in[0].scale.mult = 0x7fffffff;
	op.in[0].scale.shift = 126;
	expect_ok(f, &op);
	op = good_unary(f, DRM_NPU_OP_QUANTIZE);
	op.out.scale.mult = 1;
	op.out.scale.shift = 126;
	expect_ok(f, &op);
	op.out.scale.mult = 0x7fffffff;
	op.out.scale.shift = -32;
	expect_ok(f, &op);
}

/* TENSOR and NONE carry no scale address; NONE carries no scale. */
static void tensor_scale_fields_not_zero(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].scale_addr = f->f.addr + F_ROWS;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_embedding(f);
	op.in[1].scale_addr = f->f.addr + F_ROWS;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_embedding(f);
	op.in[1].scale.mult = 1;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_argmax(f);
	op.out.scale.shift = 1;
	expect_bad(f, &op, ST(BAD_QPARAM));
}

static void tensor_row_scale_fields(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_silu_row(f);
	op.in[0].scale.mult = 1 << 30;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_silu_row(f);
	op.in[0].scale.shift = 1;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_silu_row(f);
	op.in[0].scale_addr = 0;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_quantize_row(f);
	op.out.scale = one_abi;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_quantize_row(f);
	op.out.scale_addr = 0;
	expect_bad(f, &op, ST(BAD_QPARAM));
	/* GROUP needs its factors. */
	op = good_matmul(f);
	op.in[1].scale_addr = 0;
	expect_bad(f, &op, ST(BAD_QPARAM));
}

static void tensor_rows_zero(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	/* Zero rows in and out: the shapes agree, the tensors are empty. */
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].rows = 0;
	op.out.rows = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));

	op = good_matmul(f);
	op.in[0].rows = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_matmul(f);
	op.in[2].rows = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_matmul(f);
	op.out.rows = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

static void tensor_cols_zero(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_QUANTIZE);
	op.in[0].cols = 0;
	op.out.cols = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));

	op = good_matmul(f);
	op.in[1].cols = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.out.cols = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

static void tensor_cols_too_many(void **state)
{
	struct fx *f = *state;
	struct t_buf a = t_alloc(f->dev, 65537), b = t_alloc(f->dev, 65537);
	struct drm_npu_op op = good_unary(f, DRM_NPU_OP_SILU);

	op.in[0] = TN(a.addr, 1, 65536, I8, TENSOR, 0);
	op.out = TN(b.addr, 1, 65536, I8, TENSOR, 0);
	expect_ok(f, &op);
	op.in[0].cols = 65537;
	op.in[0].stride = 65537;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op.in[0] = TN(a.addr, 1, 65536, I8, TENSOR, 0);
	op.out.cols = 0xffffffffu;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

/* K = 63 everywhere (one group of 63): only the I4 weight's oddness is wrong. */
static void tensor_i4_odd_cols(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op = good_matmul_i4(f);

	op.in[0].cols = 63;
	op.in[1].cols = 63;
	op.matmul.group_size = 63;
	expect_bad(f, &op, ST(BAD_SHAPE));
	/* The same as I8 runs. */
	op.in[1].dtype = DRM_NPU_DTYPE_I8;
	op.in[1].stride = 64;
	expect_ok(f, &op);
}

static void tensor_stride_short(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_matmul(f);
	op.in[0].stride = 63;
	expect_bad(f, &op, ST(BAD_STRIDE));
	op = good_matmul(f);
	op.in[0].stride = 0;
	expect_bad(f, &op, ST(BAD_STRIDE));
	op = good_matmul_i4(f);
	op.in[1].stride = 31;		/* 64 nibbles need 32 bytes */
	expect_bad(f, &op, ST(BAD_STRIDE));
	op = good_rope(f);
	op.in[0].stride = 30;		/* 16 x I16 */
	expect_bad(f, &op, ST(BAD_STRIDE));
	/* A longer stride is fine. */
	op = good_rope(f);
	op.in[0].stride = 64;
	expect_ok(f, &op);
}

static void tensor_stride_not_element_multiple(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_rope(f);
	op.in[0].stride = 33;
	expect_bad(f, &op, ST(BAD_STRIDE));
	op = good_matmul(f);
	op.out.stride = 18;		/* I32, 16 bytes a row */
	expect_bad(f, &op, ST(BAD_STRIDE));
	op = good_embedding(f);
	op.in[1].stride = 6;
	expect_bad(f, &op, ST(BAD_STRIDE));
}

static void tensor_addr_misaligned(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_rope(f);
	op.in[0].addr += 1;		/* I16 */
	expect_bad(f, &op, ST(BAD_ALIGN));
	op = good_rope(f);
	op.in[1].addr += 2;		/* I32 */
	expect_bad(f, &op, ST(BAD_ALIGN));
	op = good_matmul(f);
	op.out.addr += 1;
	expect_bad(f, &op, ST(BAD_ALIGN));
	/* I8 and I4 have no alignment. */
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].addr += 1;
	expect_ok(f, &op);
	op = good_matmul_i4(f);
	op.in[1].addr += 1;
	expect_ok(f, &op);
}

static void tensor_scale_addr_misaligned(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_silu_row(f);
	op.in[0].scale_addr += 2;
	expect_bad(f, &op, ST(BAD_ALIGN));
	op = good_quantize_row(f);
	op.out.scale_addr += 1;
	expect_bad(f, &op, ST(BAD_ALIGN));
	op = good_matmul(f);
	op.in[1].scale_addr += 1;
	expect_bad(f, &op, ST(BAD_ALIGN));
	/* ROW scales need 4 (not 8), GROUP factors 2. */
	memcpy((char *)f->f.p + 516, (struct drm_npu_scale[]){ one_abi, one_abi }, 16);
	op = good_silu_row(f);
	op.in[0].scale_addr = f->f.addr + 516;
	expect_ok(f, &op);
	op = good_matmul(f);
	op.in[1].scale_addr += 2;
	expect_ok(f, &op);
}

static void pos_addr_misaligned(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_kv_append(f);
	op.flags = DRM_NPU_OP_F_POS_ADDR;
	op.pos.pos = 0;
	op.pos.pos_addr = f->p.addr + P_POS;
	expect_ok(f, &op);
	op.pos.pos_addr += 2;
	expect_bad(f, &op, ST(BAD_ALIGN));
	op = good_rope(f);
	op.flags = DRM_NPU_OP_F_POS_ADDR;
	op.pos.pos = 0;
	op.pos.pos_addr = f->p.addr + P_POS + 1;
	expect_bad(f, &op, ST(BAD_ALIGN));
}

/* pos_addr only with F_POS_ADDR; the immediate pos only without it. */
static void pos_fields_exclusive(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_attention(f);
	op.pos.pos_addr = f->p.addr + P_POS;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_attention(f);
	op.flags = DRM_NPU_OP_F_POS_ADDR;
	op.pos.pos_addr = f->p.addr + P_POS;
	expect_bad(f, &op, ST(BAD_RESERVED));	/* pos 3 is still set */
	op.pos.pos = 0;
	expect_ok(f, &op);
}

/* ---- shapes, per op ------------------------------------------------------ */

static void shape_matmul(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_matmul(f);
	op.in[1].cols = 32;		/* K 32 against x's 64 */
	op.in[1].stride = 32;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_matmul(f);
	op.out.rows = 3;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_matmul(f);
	op.out.cols = 3;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_matmul(f);
	op.in[2].rows = 2;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_matmul(f);
	op.in[2].cols = 3;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

static void matmul_group_size(void **state)
{
	struct fx *f = *state;
	static const uint32_t bad[] = { 0, 1, 16, 48, 96, 128, 256, 0xffffffffu };
	struct drm_npu_op op;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		op = good_matmul(f);
		op.matmul.group_size = bad[i];
		expect_bad(f, &op, ST(BAD_QPARAM));
	}
	op = good_matmul(f);
	op.matmul.group_size = 64;	/* one group per row */
	expect_ok(f, &op);
	/* K = 48: 48 is its own group, 32 does not divide it. */
	op = good_matmul(f);
	op.in[0].cols = 48;
	op.in[1].cols = 48;
	op.in[1].stride = 48;
	op.matmul.group_size = 48;
	expect_ok(f, &op);
	op.matmul.group_size = 32;
	expect_bad(f, &op, ST(BAD_QPARAM));
}

static void shape_norm(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_norm(f, DRM_NPU_OP_RMSNORM);
	op.in[1].rows = 2;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_norm(f, DRM_NPU_OP_RMSNORM);
	op.in[1].cols = 32;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_norm(f, DRM_NPU_OP_LAYERNORM);
	op.in[2].cols = 32;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_norm(f, DRM_NPU_OP_LAYERNORM);
	op.in[2].rows = 2;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_norm(f, DRM_NPU_OP_LAYERNORM);
	op.out.rows = 1;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_norm(f, DRM_NPU_OP_RMSNORM);
	op.out.cols = 63;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

static void norm_eps_invalid(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_norm(f, DRM_NPU_OP_RMSNORM);
	op.norm.eps.mult = 0;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_norm(f, DRM_NPU_OP_LAYERNORM);
	op.norm.eps.shift = 127;
	expect_bad(f, &op, ST(BAD_QPARAM));
}

static void shape_softmax(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_softmax(f);
	op.out.rows = 1;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_softmax(f);
	op.out.cols = 8;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

static void softmax_params(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_softmax(f);
	op.pos.alpha.mult = 0;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_softmax(f);
	op.pos.n_heads = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_softmax(f);
	op.pos.n_kv_heads = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_softmax(f);
	op.pos.head_dim = 2;
	expect_bad(f, &op, ST(BAD_RESERVED));
}

/* A position means nothing without F_CAUSAL. */
static void softmax_pos_without_causal(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_softmax(f);
	op.flags = 0;
	expect_bad(f, &op, ST(BAD_FLAGS));	/* pos 3 */
	op.pos.pos = 0;
	expect_ok(f, &op);
	op.flags = DRM_NPU_OP_F_POS_ADDR;
	op.pos.pos_addr = f->p.addr + P_POS;
	expect_bad(f, &op, ST(BAD_FLAGS));
	op.flags |= DRM_NPU_OP_F_CAUSAL;
	expect_ok(f, &op);
}

static void shape_unary(void **state)
{
	static const uint16_t ops[] = { DRM_NPU_OP_SILU, DRM_NPU_OP_GELU, DRM_NPU_OP_QUANTIZE };
	struct fx *f = *state;
	struct drm_npu_op op;
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		op = good_unary(f, ops[i]);
		op.out.rows = 1;
		expect_bad(f, &op, ST(BAD_SHAPE));
		op = good_unary(f, ops[i]);
		op.out.cols = 15;
		expect_bad(f, &op, ST(BAD_SHAPE));
	}
}

static void shape_binary(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;
	int i;

	for (i = 0; i < 2; i++) {
		uint16_t opc = i ? DRM_NPU_OP_MUL : DRM_NPU_OP_ADD;

		op = good_binary(f, opc);
		op.in[1].rows = 1;	/* broadcast over a's rows */
		expect_ok(f, &op);
		op.in[1].rows = 3;
		expect_bad(f, &op, ST(BAD_SHAPE));
		op = good_binary(f, opc);
		op.in[1].cols = 8;
		expect_bad(f, &op, ST(BAD_SHAPE));
		op = good_binary(f, opc);
		op.out.rows = 1;
		expect_bad(f, &op, ST(BAD_SHAPE));
		op = good_binary(f, opc);
		op.out.cols = 8;
		expect_bad(f, &op, ST(BAD_SHAPE));
	}
	/* rows 1 broadcasts b, never a. */
	op = good_binary(f, DRM_NPU_OP_ADD);
	op.in[0].rows = 1;
	op.out.rows = 1;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

static void shape_rope(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	/* Odd head_dim alone: 2 heads of 7, 14 columns, 3 frequencies. */
	op = good_rope(f);
	op.pos.head_dim = 7;
	op.in[0].cols = 14;
	op.out.cols = 14;
	op.in[1].cols = 3;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_rope(f);
	op.pos.head_dim = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_rope(f);
	op.pos.n_heads = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_rope(f);
	op.pos.n_heads = 4;		/* 4 x 8 != 16 columns */
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_rope(f);
	op.in[1].cols = 2;		/* head_dim / 2 == 4 */
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_rope(f);
	op.in[1].rows = 2;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_rope(f);
	op.out.rows = 1;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_rope(f);
	op.out.cols = 8;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

static void rope_params(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_rope(f);
	op.pos.n_kv_heads = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_rope(f);
	op.pos.alpha = one_abi;
	expect_bad(f, &op, ST(BAD_RESERVED));
}

static void shape_attention(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_attention(f);
	op.pos.n_heads = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_attention(f);
	op.pos.n_kv_heads = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_attention(f);
	op.pos.head_dim = 0;
	expect_bad(f, &op, ST(BAD_SHAPE));
	/* 3 query heads over 2 KV heads, every width consistent. */
	op = good_attention(f);
	op.pos.n_heads = 3;
	op.pos.n_kv_heads = 2;
	op.in[0] = TN(f->x.addr, 1, 24, I8, TENSOR, 0);
	op.in[1] = TN(f->w.addr + W_K, 8, 16, I8, TENSOR, 0);
	op.in[2] = TN(f->w.addr + W_V, 8, 16, I8, TENSOR, 0);
	op.out = TN(f->o.addr, 1, 24, I16, TENSOR, 0);
	expect_bad(f, &op, ST(BAD_SHAPE));
	op.pos.n_heads = 4;		/* 32 columns: 4 % 2 == 0 */
	op.in[0] = TN(f->x.addr, 1, 32, I8, TENSOR, 0);
	op.out = TN(f->o.addr, 1, 32, I16, TENSOR, 0);
	expect_ok(f, &op);
	/* Widths against heads x head_dim. */
	op = good_attention(f);
	op.pos.n_heads = 4;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_attention(f);
	op.pos.n_kv_heads = 2;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_attention(f);
	op.pos.head_dim = 4;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_attention(f);
	op.in[1].cols = 4;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_attention(f);
	op.in[2].cols = 4;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_attention(f);
	op.in[2].rows = 7;		/* k and v caches of different lengths */
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_attention(f);
	op.out.rows = 2;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_attention(f);
	op.out.cols = 8;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

/*
 * Only ROPE pairs elements: ATTENTION takes any head_dim, here 2 heads of
 * 7 with every width consistent.
 */
static void attention_odd_head_dim(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op = good_attention(f);

	op.pos.head_dim = 7;
	op.in[0].cols = 14;
	op.out.cols = 14;
	op.in[1].cols = 7;
	op.in[1].stride = 7;
	op.in[2].cols = 7;
	op.in[2].stride = 7;
	expect_ok(f, &op);
}

static void attention_alpha_invalid(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_attention(f);
	op.pos.alpha.mult = 0;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_attention(f);
	op.pos.alpha.shift = -33;
	expect_bad(f, &op, ST(BAD_QPARAM));
}

static void shape_kv_append(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op = good_kv_append(f);

	op.in[0].cols = 4;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

static void kv_append_params(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_kv_append(f);
	op.pos.n_heads = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_kv_append(f);
	op.pos.n_kv_heads = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_kv_append(f);
	op.pos.head_dim = 8;
	expect_bad(f, &op, ST(BAD_RESERVED));
	op = good_kv_append(f);
	op.pos.alpha.shift = 1;
	expect_bad(f, &op, ST(BAD_RESERVED));
}

static void shape_embedding(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_embedding(f);
	op.in[1].cols = 2;
	op.in[1].stride = 8;
	op.in[1].rows = 1;
	op.out.rows = 1;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_embedding(f);
	op.out.rows = 3;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_embedding(f);
	op.out.cols = 4;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

static void shape_argmax(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_argmax(f);
	op.out.cols = 2;
	op.out.stride = 8;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_argmax(f);
	op.out.rows = 1;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

/* ---- positions ------------------------------------------------------------ */

/* An immediate position past the cache is a validation error: nothing runs. */
static void range_immediate(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_attention(f);
	op.pos.pos = 7;			/* the last row of 8 */
	expect_ok(f, &op);
	op.pos.pos = 8;
	expect_bad(f, &op, ST(RANGE));
	op.pos.pos = 0xffffffffu;
	expect_bad(f, &op, ST(RANGE));
	op = good_kv_append(f);
	op.pos.pos = 7;
	expect_ok(f, &op);
	op.pos.pos = 8;
	expect_bad(f, &op, ST(RANGE));
	op.pos.pos = 0xffffffffu;
	expect_bad(f, &op, ST(RANGE));
	/* Two rows from position 7 need 9. */
	op = good_kv_append(f);
	op.in[0].rows = 2;
	op.pos.pos = 6;
	expect_ok(f, &op);
	op.pos.pos = 7;
	expect_bad(f, &op, ST(RANGE));
}

/* A position read from memory is checked as the op runs. */
static void range_from_memory(void **state)
{
	struct fx *f = *state;
	uint32_t *pos = (uint32_t *)((char *)f->p.p + P_POS);
	struct drm_npu_op ops[2];
	int i;

	ops[0] = good_attention(f);
	ops[1] = good_kv_append(f);
	for (i = 0; i < 2; i++) {
		ops[i].flags = DRM_NPU_OP_F_POS_ADDR;
		ops[i].pos.pos = 0;
		ops[i].pos.pos_addr = f->p.addr + P_POS;
		*pos = 7;
		expect_ok(f, &ops[i]);
		*pos = 8;
		expect_stop(f, &ops[i], ST(RANGE));
		*pos = 0xffffffffu;
		expect_stop(f, &ops[i], ST(RANGE));
	}
	/* Two rows from position 7 need 9. */
	ops[1].in[0].rows = 2;
	*pos = 6;
	expect_ok(f, &ops[1]);
	*pos = 7;
	expect_stop(f, &ops[1], ST(RANGE));
	ops[0].in[0].rows = 2;
	ops[0].out.rows = 2;
	*pos = 6;
	expect_ok(f, &ops[0]);
	*pos = 7;
	expect_stop(f, &ops[0], ST(RANGE));
}

/* ---- data read at run time ---------------------------------------------- */

static void index_out_of_range(void **state)
{
	struct fx *f = *state;
	static const int32_t bad[] = { 16, -1, 0x7fffffff, (int32_t)0x80000000u };
	int32_t *ids = (int32_t *)((char *)f->p.p + P_IDS);
	struct drm_npu_op op = good_embedding(f);
	size_t i;

	ids[1] = 15;
	expect_ok(f, &op);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ids[0] = 0;
		ids[1] = bad[i];
		expect_stop(f, &op, ST(INDEX));
		ids[0] = bad[i];
		ids[1] = 0;
		expect_stop(f, &op, ST(INDEX));
	}
}

static void row_scale_invalid_in_memory(void **state)
{
	struct fx *f = *state;
	static const struct drm_npu_scale bad[] = {
		{ 0, 30 }, { -5, 30 }, { 1 << 30, -33 }, { 1 << 30, 127 },
	};
	struct drm_npu_scale *rs = (struct drm_npu_scale *)((char *)f->f.p + F_ROWS);
	struct drm_npu_op op = good_silu_row(f);
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rs[1] = bad[i];
		expect_stop(f, &op, ST(BAD_QPARAM));
	}
	rs[1] = one_abi;
	expect_ok(f, &op);
}

/* ---- aliasing ------------------------------------------------------------- */

static void alias_matmul_out_over_x(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_matmul(f);
	op.out.addr = f->x.addr + 64;	/* inside x's second row */
	expect_bad(f, &op, ST(ALIAS));
	op.out.addr = f->x.addr + 128;	/* just past x */
	expect_ok(f, &op);
	op.out.addr = f->x.addr + 128 - 4;
	expect_bad(f, &op, ST(ALIAS));
	/* Over the weights' group factors or the bias. */
	op = good_matmul(f);
	op.out.addr = f->f.addr + F_FACT + 8;
	expect_bad(f, &op, ST(ALIAS));
	op = good_matmul(f);
	op.out.addr = f->p.addr + P_BIAS;
	expect_bad(f, &op, ST(ALIAS));
}

static void alias_out_over_own_scales(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_quantize_row(f);
	op.out.scale_addr = f->o.addr + 16;	/* inside out's 32 bytes */
	expect_bad(f, &op, ST(ALIAS));
	op.out.scale_addr = f->o.addr + 32;
	expect_ok(f, &op);
	op.out.scale_addr = f->o.addr;
	op.out.addr = f->o.addr + 12;		/* data over the last scale's end */
	expect_bad(f, &op, ST(ALIAS));
}

/* Scales are memory too: out may not overlap an input's, nor its own an input. */
static void alias_scales(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_silu_row(f);
	op.out.addr = f->f.addr + F_ROWS + 8;	/* over in's scale of row 1 */
	expect_bad(f, &op, ST(ALIAS));
	op = good_quantize_row(f);
	op.out.scale_addr = f->x.addr + 24;	/* out's scales over in's data */
	expect_bad(f, &op, ST(ALIAS));
	op = good_silu_row(f);
	op.out = TN(f->o.addr, 2, 16, I8, ROW, f->f.addr + F_ROWS + 8);
	expect_bad(f, &op, ST(ALIAS));		/* both scale arrays overlap */
	op.out.scale_addr = f->f.addr + F_ROWS + 16;
	expect_ok(f, &op);
}

static void alias_row_local_partial(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_SILU);
	op.out.addr = f->x.addr + 16;	/* one row behind */
	expect_bad(f, &op, ST(ALIAS));
	op.out.addr = f->x.addr + 31;
	expect_bad(f, &op, ST(ALIAS));
	/* Same start, another stride: not the same tensor. */
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.out.addr = f->x.addr;
	op.out.stride = 32;
	expect_bad(f, &op, ST(ALIAS));
	/* Same address, stride and shape, another dtype: not the same tensor. */
	op = good_binary(f, DRM_NPU_OP_ADD);
	op.out = TN(f->x2.addr, 2, 8, I16, TENSOR, 0);
	op.in[0].cols = 8;
	op.in[0].stride = 16;
	op.in[1] = TN(f->x2.addr, 2, 8, I8, TENSOR, 0);
	op.in[1].stride = 16;
	expect_bad(f, &op, ST(ALIAS));
}

/* A row-local op may write exactly over one of its inputs. */
static void alias_exact_in_place_ok(void **state)
{
	struct fx *f = *state;
	int8_t *x = f->x.p, *x2 = f->x2.p;
	int16_t *x16 = f->x.p;
	struct drm_npu_op op;
	int i;

	for (i = 0; i < 32; i++) {
		x[i] = (int8_t)(i - 10);
		x2[i] = 3;
	}
	op = good_binary(f, DRM_NPU_OP_ADD);
	op.out = TN(f->x.addr, 2, 16, I8, TENSOR, 0);
	expect_ok(f, &op);
	for (i = 0; i < 32; i++)
		assert_int_equal(x[i], i - 10 + 3);
	op.out = TN(f->x2.addr, 2, 16, I8, TENSOR, 0);
	expect_ok(f, &op);
	for (i = 0; i < 32; i++)
		assert_int_equal(x2[i], i - 10 + 3 + 3);

	/* QUANTIZE I16 in place from scale 1 to scale 2: values halve. */
	for (i = 0; i < 32; i++)
		x16[i] = (int16_t)(4 * i - 60);
	op = good_unary(f, DRM_NPU_OP_QUANTIZE);
	op.in[0] = TN(f->x.addr, 2, 16, I16, TENSOR, 0);
	op.out = op.in[0];
	op.out.scale.shift = 29;
	expect_ok(f, &op);
	for (i = 0; i < 32; i++)
		assert_int_equal(x16[i], 2 * i - 30);
}

/* Only row-local ops may work in place. */
static void alias_exact_not_row_local(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_kv_append(f);
	op.in[0] = TN(f->w.addr + W_K, 8, 8, I8, TENSOR, 0);
	op.pos.pos = 0;
	expect_bad(f, &op, ST(ALIAS));
	op = good_embedding(f);
	op.out = TN(f->w.addr + W_TAB, 2, 8, I8, TENSOR, 0);
	expect_bad(f, &op, ST(ALIAS));
	op = good_attention(f);
	op.out = TN(f->w.addr + W_K, 1, 16, I16, TENSOR, 0);
	expect_bad(f, &op, ST(ALIAS));
}

/* ---- scratch ---------------------------------------------------------------- */

/* Scores of every head over the whole cache live in the core's scratch. */
static void too_large_attention(void **state)
{
	struct fx *f = *state;
	struct npu_info info;
	struct drm_npu_op op = blank(DRM_NPU_OP_ATTENTION);
	uint32_t n_heads = 64, cap_big, cap_small;
	struct t_buf kv;

	assert_int_equal(npu_query(f->dev, &info), NPU_OK);
	/* Eight bytes per score: the scores alone overflow the scratch. */
	cap_big = (uint32_t)(info.scratch_size / (8ull * n_heads)) + 1;
	cap_small = cap_big / 2;
	kv = t_alloc(f->dev, 4ull * cap_big);
	op.in[0] = TN(f->x.addr, 1, 2 * n_heads, I8, TENSOR, 0);
	op.in[1] = TN(kv.addr, cap_small, 2, I8, TENSOR, 0);
	op.in[2] = TN(kv.addr + 2ull * cap_big, cap_small, 2, I8, TENSOR, 0);
	op.out = TN(f->o.addr, 1, 2 * n_heads, I16, TENSOR, 0);
	op.pos.n_heads = n_heads;
	op.pos.n_kv_heads = 1;
	op.pos.head_dim = 2;
	op.pos.alpha = one_abi;
	expect_ok(f, &op);
	op.in[1].rows = cap_big;
	op.in[2].rows = cap_big;
	expect_bad(f, &op, ST(TOO_LARGE));
}

/* ---- faults ---------------------------------------------------------------- */

/*
 * Fault tests use a page-sized buffer: both MMUs (cpu backend, npu.ko) map
 * whole pages, and a guard page follows every buffer.
 */
#define FB_SIZE 4096

/* An address in no buffer faults at that address. */
static void fault_unmapped(void **state)
{
	struct fx *f = *state;
	struct t_buf b = t_alloc(f->dev, FB_SIZE);
	uint64_t end = b.addr + b.size;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].addr = 0x1000;
	expect_fault(f, &op, 0x1000);
	op.in[0].addr = end + 7;		/* in the guard gap after b */
	expect_fault(f, &op, end + 7);
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.out.addr = end + 100;
	expect_fault(f, &op, end + 100);
	op = good_matmul(f);
	op.in[1].addr = 1ull << 62;
	expect_fault(f, &op, 1ull << 62);
	op = good_matmul(f);
	op.in[2].addr = end;
	expect_fault(f, &op, end);
}

/* A range that starts in a buffer and runs past it faults at its end. */
static void fault_past_end(void **state)
{
	struct fx *f = *state;
	struct t_buf b = t_alloc(f->dev, FB_SIZE);
	uint64_t end = b.addr + b.size;
	struct drm_npu_op op;

	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].addr = end - 32;		/* 2 x 16 fit exactly */
	expect_ok(f, &op);
	op.in[0].addr = end - 31;
	expect_fault(f, &op, end);
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.out.addr = end - 10;
	expect_fault(f, &op, end);
	/* The stride carries the last row out. */
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].addr = b.addr;
	op.in[0].stride = (uint32_t)b.size - 6;
	expect_fault(f, &op, end);
}

static void fault_scales(void **state)
{
	struct fx *f = *state;
	struct t_buf b = t_alloc(f->dev, FB_SIZE);
	uint64_t end = b.addr + b.size;
	struct drm_npu_op op;

	op = good_silu_row(f);
	op.in[0].scale_addr = 0x2000;
	expect_fault(f, &op, 0x2000);
	op.in[0].scale_addr = end - 8;		/* 2 rows need 16 bytes */
	expect_fault(f, &op, end);
	op = good_quantize_row(f);
	op.out.scale_addr = end - 12;
	expect_fault(f, &op, end);
	op = good_matmul(f);
	op.in[1].scale_addr = end - 14;	/* 4 rows x 2 groups x 2 bytes */
	expect_fault(f, &op, end);
	op.in[1].scale_addr = end - 16;
	expect_ok(f, &op);
}

static void fault_pos_addr(void **state)
{
	struct fx *f = *state;
	struct t_buf b = t_alloc(f->dev, FB_SIZE);
	uint64_t end = b.addr + b.size;
	struct drm_npu_op op = good_rope(f);

	op.flags = DRM_NPU_OP_F_POS_ADDR;
	op.pos.pos = 0;
	op.pos.pos_addr = end - 4;
	expect_ok(f, &op);
	op.pos.pos_addr = end;
	expect_fault(f, &op, end);
	op.pos.pos_addr = 0;
	expect_fault(f, &op, 0);
}

/*
 * A freed buffer's address faults: it is reused only after many more frees
 * (64 on the accel driver, 1,024 on the software core) or when nothing
 * else fits, so the next buffer does not take its place.
 */
static void fault_freed_buffer(void **state)
{
	struct fx *f = *state;
	struct t_buf b = t_alloc(f->dev, FB_SIZE);
	uint64_t addr = b.addr;
	struct drm_npu_op op;

	memset(b.p, 1, FB_SIZE);
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].addr = addr;
	expect_ok(f, &op);
	t_free(f->dev, &b);
	b = t_alloc(f->dev, FB_SIZE);	/* a new buffer does not take its place */
	expect_fault(f, &op, addr);
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.out.addr = addr + 16;
	expect_fault(f, &op, addr + 16);
}

/* addr + span wrapping past 2^64 is an overflow, not a fault. */
static void overflow_wrap(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_matmul(f);
	op.in[0].addr = 0xffffffffffffffc0ull;	/* 128 bytes from 2^64 - 64 */
	expect_bad(f, &op, ST(OVERFLOW));
	op.in[0].addr = 0xffffffffffffff00ull;	/* no wrap: an unmapped address */
	expect_fault(f, &op, 0xffffffffffffff00ull);
	/* A stride of 2^32 - 1 carries row 1 over the top. */
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].addr = 0xffffffff00000000ull;
	op.in[0].stride = 0xffffffffu;
	expect_bad(f, &op, ST(OVERFLOW));
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.out.addr = 0xfffffffffffffff8ull;
	expect_bad(f, &op, ST(OVERFLOW));
	op = good_silu_row(f);
	op.in[0].scale_addr = 0xfffffffffffffffcull;	/* 16 bytes of scales */
	expect_bad(f, &op, ST(OVERFLOW));
	op = good_matmul(f);
	op.in[1].scale_addr = 0xfffffffffffffff8ull;	/* 16 bytes of factors */
	expect_bad(f, &op, ST(OVERFLOW));
}

/* ---- order of the checks --------------------------------------------------- */

/* Shapes and scratch are checked before any address is translated. */
static void order_shape_before_fault(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op op;

	op = good_matmul(f);
	op.in[0].addr = 0x1000;
	op.out.cols = 3;
	expect_bad(f, &op, ST(BAD_SHAPE));
	op = good_matmul(f);
	op.in[1].addr = 0x1000;
	op.matmul.group_size = 48;
	expect_bad(f, &op, ST(BAD_QPARAM));
	op = good_kv_append(f);
	op.out.addr = 0x1000;
	op.pos.pos = 8;
	expect_bad(f, &op, ST(RANGE));
	op = good_unary(f, DRM_NPU_OP_SILU);
	op.in[0].addr = 0xffffffffffffffc0ull;
	op.out.rows = 3;
	expect_bad(f, &op, ST(BAD_SHAPE));
}

/* ---- whole streams ---------------------------------------------------------- */

/* One malformed op anywhere: no op of the stream runs. */
static void malformed_op_runs_nothing(void **state)
{
	struct fx *f = *state;
	struct drm_npu_op ops[4];
	struct npu_job_result r;
	int k;

	for (k = 0; k < 3; k++) {
		ops[0] = op_writer(f, &f->sent1);
		ops[1] = good_binary(f, DRM_NPU_OP_ADD);
		ops[2] = op_writer(f, &f->sent2);
		ops[3] = good_unary(f, DRM_NPU_OP_GELU);
		ops[3].out.addr = f->o.addr + 1024;
		if (k == 0)
			ops[3].in[0].dtype = DRM_NPU_DTYPE_I4;
		else if (k == 1)
			ops[3].in[0].addr = 0x1000;
		else
			ops[3].out.addr = f->x.addr + 8;
		clear_sentinels(f);
		memset(f->o.p, 0x55, 4096);
		t_run_ops(f->dev, ops, 4, &r);
		check_result(f, &r, k == 0 ? ST(BAD_DTYPE) : k == 1 ? ST(FAULT) : ST(ALIAS), 3,
			     0x1000, RAN_NONE, __LINE__);
		assert_true(all_bytes(f->o.p, 0x55, 4096));
	}
}

/* A data-dependent failure stops the stream at that op. */
static void data_failure_stops_at_op(void **state)
{
	struct fx *f = *state;
	int32_t *ids = (int32_t *)((char *)f->p.p + P_IDS);
	struct drm_npu_op ops[4];
	struct npu_job_result r;

	ops[0] = op_writer(f, &f->sent1);
	ops[1] = good_binary(f, DRM_NPU_OP_ADD);
	ops[1].out.addr = f->o.addr + 1024;
	ops[2] = good_embedding(f);
	ops[3] = op_writer(f, &f->sent2);
	ids[0] = 1;
	ids[1] = 99;
	clear_sentinels(f);
	memset(f->o.p, 0x55, 4096);
	t_run_ops(f->dev, ops, 4, &r);
	check_result(f, &r, ST(INDEX), 2, 0, RAN_FIRST, __LINE__);
	/* The ADD (I16 results of small sums) ran. */
	assert_false(all_bytes((char *)f->o.p + 1024, 0x55, 64));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(good_ops_run),
		T(hdr_too_short),
		T(fw_rejects_short_stream),
		T(hdr_bad_magic),
		T(hdr_bad_version_major),
		T(hdr_newer_minor_accepted),
		T(hdr_profile_misaligned),
		T(hdr_profile_unmapped),
		T(profile_filled),
		T(hdr_op_count_zero),
		T(hdr_op_count_too_large),
		T(hdr_op_size_too_small),
		T(hdr_op_size_not_multiple_of_8),
		T(hdr_op_size_too_large),
		T(hdr_size_mismatch),
		T(op_tail_nonzero),
		T(stream_misaligned),
		T(op_unknown_opcode),
		T(op_pad_nonzero),
		T(op_reserved_nonzero),
		T(op_undefined_flag),
		T(op_unused_params_nonzero),
		T(op_matmul_pad_nonzero),
		T(op_unused_tensor_nonzero),
		T(tensor_pad_nonzero),
		T(tensor_bad_dtype),
		T(tensor_bad_scale_mode),
		T(tensor_scale_invalid),
		T(tensor_scale_bounds_accepted),
		T(tensor_scale_fields_not_zero),
		T(tensor_row_scale_fields),
		T(tensor_rows_zero),
		T(tensor_cols_zero),
		T(tensor_cols_too_many),
		T(tensor_i4_odd_cols),
		T(tensor_stride_short),
		T(tensor_stride_not_element_multiple),
		T(tensor_addr_misaligned),
		T(tensor_scale_addr_misaligned),
		T(pos_addr_misaligned),
		T(pos_fields_exclusive),
		T(shape_matmul),
		T(matmul_group_size),
		T(shape_norm),
		T(norm_eps_invalid),
		T(shape_softmax),
		T(softmax_params),
		T(softmax_pos_without_causal),
		T(shape_unary),
		T(shape_binary),
		T(shape_rope),
		T(rope_params),
		T(shape_attention),
		T(attention_odd_head_dim),
		T(attention_alpha_invalid),
		T(shape_kv_append),
		T(kv_append_params),
		T(shape_embedding),
		T(shape_argmax),
		T(range_immediate),
		T(range_from_memory),
		T(index_out_of_range),
		T(row_scale_invalid_in_memory),
		T(alias_matmul_out_over_x),
		T(alias_out_over_own_scales),
		T(alias_scales),
		T(alias_row_local_partial),
		T(alias_exact_in_place_ok),
		T(alias_exact_not_row_local),
		T(too_large_attention),
		T(fault_unmapped),
		T(fault_past_end),
		T(fault_scales),
		T(fault_pos_addr),
		T(fault_freed_buffer),
		T(overflow_wrap),
		T(order_shape_before_fault),
		T(malformed_op_runs_nothing),
		T(data_failure_stops_at_op),
	};

	return cmocka_run_group_tests_name("validate", tests, NULL, NULL);
}
