// SPDX-License-Identifier: MIT
/*
 * The firmware on its own (npu_fw_exec over a flat memory, no backend):
 * a stop request reaches a long op inside its loops, not only between
 * ops, so a reset stops a core within a slice of work whatever the op's
 * size; and ATTENTION reads each cache row's scales once, so memory the
 * client rewrites while the op runs cannot slip a scale past validation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "../../swcore/swcore.h"
#include "../../firmware/include/npu_fw.h"
#include "../../firmware/include/npu_fw_image.h"

#define BASE 0x10000ull		/* device address of mem[0] */
#define MEM_SIZE (96u << 20)

#define TN(a, r, c, dt, sm, sa) \
	t_abi_tensor((a), (r), (c), DRM_NPU_DTYPE_##dt, DRM_NPU_SCALE_##sm, one, (sa))

static const struct npu_scale one = { 1 << 30, 30 };

struct rig {
	uint8_t *mem;
	void *scratch;
	void *image;
	struct npu_fw_tables tables;
	struct npu_fw_core core;
	unsigned int polls;	/* should_stop calls so far */
	unsigned int stop_at;	/* the call that answers "stop" (0: never) */
	uint64_t v_scales;	/* ATTENTION's V row scales, for the hook */
	unsigned int v_rows;
};

static void *translate(void *ctx, __u64 addr, __u64 len, int write, __u64 *fault)
{
	struct rig *r = ctx;

	(void)write;
	if (addr < BASE || addr - BASE > MEM_SIZE || len > MEM_SIZE - (addr - BASE)) {
		*fault = addr;
		return NULL;
	}
	return r->mem + (addr - BASE);
}

static int should_stop(void *ctx)
{
	struct rig *r = ctx;

	return ++r->polls == r->stop_at;
}

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));
	size_t size;

	assert_non_null(r);
	r->mem = calloc(1, MEM_SIZE);
	r->scratch = aligned_alloc(8, NPU_FW_SCRATCH_SIZE);
	assert_non_null(r->mem);
	assert_non_null(r->scratch);
	assert_int_equal(npu_firmware_load(&r->image, &size), 0);
	assert_int_equal(npu_fw_image_verify(r->image, size, &r->tables), NPU_FW_IMAGE_OK);
	r->core = (struct npu_fw_core){
		.tables = &r->tables,
		.mem = { translate, r },
		.scratch = r->scratch,
		.scratch_size = NPU_FW_SCRATCH_SIZE,
		.should_stop = should_stop,
		.stop_ctx = r,
	};
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	free(r->mem);
	free(r->scratch);
	free(r->image);
	free(r);
	return 0;
}

/* One op as a stream at the start of memory; runs it, returns the status. */
static uint32_t run_op(struct rig *r, const struct drm_npu_op *op, uint32_t *op_index)
{
	struct drm_npu_cmd_header h = {
		.magic = DRM_NPU_CMD_MAGIC,
		.version_major = DRM_NPU_ABI_MAJOR,
		.op_count = 1,
		.op_size = sizeof(*op),
	};
	struct npu_fw_result res;

	memcpy(r->mem, &h, sizeof(h));
	memcpy(r->mem + sizeof(h), op, sizeof(*op));
	r->polls = 0;
	npu_fw_exec(&r->core, BASE, sizeof(h) + sizeof(*op), &res);
	*op_index = res.op_index;
	return res.status;
}

static int all_bytes(const uint8_t *p, uint64_t n, uint8_t v)
{
	while (n--)
		if (*p++ != v)
			return 0;
	return 1;
}

/*
 * A stop asked once the op has begun: the firmware answers it inside the
 * op, with the output past the first rows untouched. (It used to poll
 * only between ops: the op ran to its end, OK, and the core with it.)
 */
static void expect_stopped_inside(struct rig *r, const struct drm_npu_op *op, uint64_t out,
				  uint64_t out_bytes)
{
	uint32_t index = 99;
	uint64_t tail = out_bytes / 2;

	memset(r->mem + (out - BASE), 0x5a, out_bytes);
	/* Call 1 is the check before the op; call 2 is the first inside it. */
	r->stop_at = 2;
	assert_int_equal(run_op(r, op, &index), DRM_NPU_STATUS_CANCELLED);
	assert_int_equal(index, 0);
	assert_int_equal(r->polls, 2);
	assert_true(all_bytes(r->mem + (out - BASE) + tail, out_bytes - tail, 0x5a));
	/* Without a stop the same op runs to its end. */
	r->stop_at = 0;
	assert_int_equal(run_op(r, op, &index), DRM_NPU_STATUS_OK);
	assert_true(r->polls > 2);
	assert_false(all_bytes(r->mem + (out - BASE) + tail, out_bytes - tail, 0x5a));
}

/* 64 x 4096 by 2048 x 4096: 5.4e8 multiply-adds, 1.7 s under QEMU's TCG. */
static void matmul_stops_inside(void **state)
{
	struct rig *r = *state;
	const uint32_t m = 64, k = 4096, n = 2048;
	uint64_t x = BASE + (1u << 20), w = x + (uint64_t)m * k, f = w + (uint64_t)n * k;
	uint64_t out = f + (uint64_t)n * 2;
	struct drm_npu_op op = { .opcode = DRM_NPU_OP_MATMUL };
	uint16_t *fa = (uint16_t *)(r->mem + (f - BASE));
	uint32_t i;

	for (i = 0; i < m * k + n * k; i++)
		r->mem[x - BASE + i] = (uint8_t)(i * 7 % 11);
	for (i = 0; i < n; i++)
		fa[i] = 32768;
	op.in[0] = TN(x, m, k, I8, TENSOR, 0);
	op.in[1] = TN(w, n, k, I8, GROUP, f);
	op.matmul.group_size = k;
	op.out = TN(out, m, n, I16, TENSOR, 0);
	expect_stopped_inside(r, &op, out, (uint64_t)m * n * 2);
}

/* ADD over 4096 rows of 4096: the row loops of the element-wise ops poll too. */
static void rows_stop_inside(void **state)
{
	struct rig *r = *state;
	const uint32_t m = 4096, n = 4096;
	uint64_t a = BASE + (1u << 20), out = a + (uint64_t)m * n;
	struct drm_npu_op op = { .opcode = DRM_NPU_OP_ADD };

	op.in[0] = TN(a, m, n, I8, TENSOR, 0);
	op.in[1] = TN(a, m, n, I8, TENSOR, 0);
	op.out = TN(out, m, n, I8, TENSOR, 0);
	expect_stopped_inside(r, &op, out, (uint64_t)m * n);
}

/*
 * ATTENTION of 8 query rows over a cache of 4096 rows of 8 heads of 64:
 * its validation, score and value loops poll too.
 */
static struct drm_npu_op attention(struct rig *r, uint32_t q_rows, uint32_t cap, uint64_t *out)
{
	const uint32_t nh = 8, hd = 64, qc = nh * hd;
	uint64_t q = BASE + (1u << 20), k = q + (uint64_t)q_rows * qc, v = k + (uint64_t)cap * qc;
	uint64_t ks = v + (uint64_t)cap * qc, vs = ks + (uint64_t)cap * 8;
	struct drm_npu_scale *sk = (struct drm_npu_scale *)(r->mem + (ks - BASE));
	struct drm_npu_scale *sv = (struct drm_npu_scale *)(r->mem + (vs - BASE));
	struct drm_npu_op op = { .opcode = DRM_NPU_OP_ATTENTION };
	uint32_t i;

	*out = vs + (uint64_t)cap * 8;
	for (i = 0; i < (q_rows + 2 * cap) * qc; i++)
		r->mem[q - BASE + i] = (uint8_t)(i * 13 % 17 - 8);
	for (i = 0; i < cap; i++) {
		sk[i] = (struct drm_npu_scale){ 1 << 30, 30 + (int)(i % 3) };
		sv[i] = (struct drm_npu_scale){ (1 << 29) + (int)i * 4099, 30 + (int)(i % 5) };
	}
	r->v_scales = vs;
	r->v_rows = cap;
	op.in[0] = TN(q, q_rows, qc, I8, TENSOR, 0);
	op.in[1] = TN(k, cap, qc, I8, ROW, ks);
	op.in[2] = TN(v, cap, qc, I8, ROW, vs);
	op.out = TN(*out, q_rows, qc, I16, TENSOR, 0);
	op.pos.pos = cap - q_rows;
	op.pos.n_heads = nh;
	op.pos.n_kv_heads = nh;
	op.pos.head_dim = hd;
	op.pos.alpha.mult = 1 << 30;
	op.pos.alpha.shift = 33;	/* 1/8 = 1/sqrt(64) */
	return op;
}

static void attention_stops_inside(void **state)
{
	struct rig *r = *state;
	uint64_t out;
	struct drm_npu_op op = attention(r, 8, 4096, &out);

	expect_stopped_inside(r, &op, out, 8ull * 512 * 2);
}

/*
 * The attention hook runs after the cache's scales are validated: here it
 * rewrites every V row scale (as a client's other thread could) to one
 * out of range, and declines, leaving the sums to the firmware's loops.
 * The output must be what the validated scales give. (One query row: the
 * next row's validation would read, and refuse, the rewritten scales.)
 */
static int rewrite_v_scales(void *ctx, const struct npu_fw_attention *a)
{
	struct rig *r = ctx;
	struct drm_npu_scale *sv = (struct drm_npu_scale *)(r->mem + (r->v_scales - BASE));
	uint32_t i;

	if (a->step == NPU_FW_ATTN_SCORES)
		for (i = 0; i < r->v_rows; i++)
			sv[i] = (struct drm_npu_scale){ 1, 200 };
	return 1;
}

static const struct npu_fw_hooks rewrite_hooks = { .attention = rewrite_v_scales };

static void attention_reads_scales_once(void **state)
{
	struct rig *r = *state;
	uint32_t index, q_rows = 1, cap = 64;
	uint64_t out, bytes = (uint64_t)q_rows * 512 * 2;
	struct drm_npu_op op = attention(r, q_rows, cap, &out);
	uint8_t *want = malloc(bytes);

	assert_non_null(want);
	r->stop_at = 0;
	assert_int_equal(run_op(r, &op, &index), DRM_NPU_STATUS_OK);
	memcpy(want, r->mem + (out - BASE), bytes);

	op = attention(r, q_rows, cap, &out);
	memset(r->mem + (out - BASE), 0, bytes);
	r->core.hooks = &rewrite_hooks;
	r->core.hook_ctx = r;
	assert_int_equal(run_op(r, &op, &index), DRM_NPU_STATUS_OK);
	r->core.hooks = NULL;
	assert_memory_equal(r->mem + (out - BASE), want, bytes);
	free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(matmul_stops_inside),
		cmocka_unit_test(rows_stop_inside),
		cmocka_unit_test(attention_stops_inside),
		cmocka_unit_test(attention_reads_scales_once),
	};

	return cmocka_run_group_tests_name("fw_stop", tests, setup, teardown);
}
