// SPDX-License-Identifier: MIT
/*
 * Validation of whole streams (test_validate_*: test_validate.h): the good ops
 * run; the stream header, its size and alignment; a malformed op runs
 * nothing, a failure at run time stops the stream at its op.
 */
#include <time.h>

#include "test_validate.h"

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
		T(malformed_op_runs_nothing),
		T(data_failure_stops_at_op),
	};

	return cmocka_run_group_tests_name("validate_stream", tests, NULL, NULL);
}
