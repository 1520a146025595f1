// SPDX-License-Identifier: MIT
/*
 * No client can stall the NPU. Two files each submit an op at the ABI's
 * largest row (65,536 columns) that would run for minutes under TCG: a
 * MATMUL on accel1 (two cores) and an ATTENTION on accel0 (one core).
 * Each must end as TIMEOUT one job timeout later, its core stopped within
 * 100 ms of the reset asking; other files' jobs complete with correct
 * results while it runs (accel1's other core) and after it is killed
 * (accel0's only core); and the kernel logs no soft lockup, hung task or
 * WARN. The soft-lockup watchdog is set to its shortest (2 s) meanwhile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guestlib.h"
#include "../unit/testlib.h"

#define K_MAX 65536u		/* the ABI's largest row */
#define STOP_BOUND_NS 100000000ll

static const struct drm_npu_scale one = { 1 << 30, 30 };

static struct drm_npu_tensor tensor(uint64_t addr, uint32_t rows, uint32_t cols, uint8_t dtype)
{
	uint32_t eb = dtype == DRM_NPU_DTYPE_I16 ? 2 : dtype == DRM_NPU_DTYPE_I32 ? 4 : 1;

	return (struct drm_npu_tensor){ .addr = addr, .rows = rows, .cols = cols,
		.stride = cols * eb, .dtype = dtype, .scale_mode = DRM_NPU_SCALE_TENSOR,
		.scale = one };
}

/* 2048 x 65536 by 2048 x 65536: 2.7e11 multiply-adds (about 15 minutes under TCG). */
static struct drm_npu_op big_matmul(const struct g_bo *buf, const struct g_bo *factors)
{
	const uint32_t m = 2048, n = 2048;
	struct drm_npu_op op;

	memset(&op, 0, sizeof(op));
	op.opcode = DRM_NPU_OP_MATMUL;
	op.in[0] = tensor(buf->addr, m, K_MAX, DRM_NPU_DTYPE_I8);
	op.in[1] = tensor(buf->addr + (uint64_t)m * K_MAX, n, K_MAX, DRM_NPU_DTYPE_I8);
	op.in[1].scale_mode = DRM_NPU_SCALE_GROUP;
	op.in[1].scale_addr = factors->addr;
	op.matmul.group_size = K_MAX;
	op.out = tensor(buf->addr + (uint64_t)(m + n) * K_MAX, m, n, DRM_NPU_DTYPE_I16);
	return op;
}

#define BIG_MATMUL_BYTES ((uint64_t)4096 * K_MAX + 2048ull * 2048 * 2)

/* 64 query rows of one 65,536-wide head over a cache of 2048 rows: 1.7e10 multiply-adds. */
static struct drm_npu_op big_attention(const struct g_bo *buf)
{
	const uint32_t q_rows = 64, cap = 2048;
	uint64_t q = buf->addr, k = q + (uint64_t)q_rows * K_MAX, v = k + (uint64_t)cap * K_MAX;
	struct drm_npu_op op;

	memset(&op, 0, sizeof(op));
	op.opcode = DRM_NPU_OP_ATTENTION;
	op.in[0] = tensor(q, q_rows, K_MAX, DRM_NPU_DTYPE_I8);
	op.in[1] = tensor(k, cap, K_MAX, DRM_NPU_DTYPE_I8);
	op.in[2] = tensor(v, cap, K_MAX, DRM_NPU_DTYPE_I8);
	op.out = tensor(v + (uint64_t)cap * K_MAX, q_rows, K_MAX, DRM_NPU_DTYPE_I16);
	op.pos.pos = cap - q_rows;
	op.pos.n_heads = 1;
	op.pos.n_kv_heads = 1;
	op.pos.head_dim = K_MAX;
	op.pos.alpha = (struct drm_npu_scale){ 1 << 30, 38 };	/* 1/sqrt(65536) */
	return op;
}

#define BIG_ATTENTION_BYTES ((uint64_t)(64 + 2 * 2048) * K_MAX + 64ull * K_MAX * 2)

/* A victim: copy 512 int32 of a fresh pattern, check the copy. */
struct victim {
	int fd;
	struct g_bo cmd, buf;
	uint32_t size;
	int round;
};

static struct victim victim_new(int index)
{
	struct victim v = { .fd = g_open(index) };
	struct drm_npu_op op;

	v.cmd = g_bo_new(v.fd, 4096);
	v.buf = g_bo_new(v.fd, 8192);
	op = g_copy_op(v.buf.addr, v.buf.addr + 4096, 1, 512);
	v.size = g_stream(&v.cmd, &op, 1);
	return v;
}

static uint64_t victim_submit(struct victim *v)
{
	uint64_t id;

	v->round++;
	memset(v->buf.p, v->round, 2048);
	memset((char *)v->buf.p + 4096, 0, 2048);
	assert_int_equal(g_submit(v->fd, v->cmd.handle, v->size, DRM_NPU_PRIO_NORMAL, NULL, 0, 0,
				  &id), 0);
	return id;
}

static void victim_check(struct victim *v, uint64_t id, int64_t timeout_ns)
{
	struct drm_npu_wait w;

	assert_int_equal(g_wait(v->fd, id, timeout_ns, &w), 0);
	assert_int_equal(w.status, DRM_NPU_STATUS_OK);
	assert_memory_equal(v->buf.p, (char *)v->buf.p + 4096, 2048);
}

static void victim_del(struct victim *v)
{
	g_bo_del(v->fd, &v->cmd);
	g_bo_del(v->fd, &v->buf);
	close(v->fd);
}

/* Lines of the kernel log that name a soft lockup, a hung task or a WARN. */
static int kernel_complaints(void)
{
	FILE *p = popen("dmesg | grep -cE 'soft lockup|blocked for more than|WARNING:|BUG:'", "r");
	int n = -1;

	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

static void guilty_timeout_victims_complete(void **state)
{
	int g1 = g_open(1), g0 = g_open(0);
	struct g_bo c1 = g_bo_new(g1, 4096), f1 = g_bo_new(g1, 2048 * 2);
	struct g_bo b1 = g_bo_new(g1, BIG_MATMUL_BYTES);
	struct g_bo c0 = g_bo_new(g0, 4096), b0 = g_bo_new(g0, BIG_ATTENTION_BYTES);
	struct drm_npu_op mm = big_matmul(&b1, &f1), att = big_attention(&b0);
	long long timeouts1 = g_counter(1, "timeouts"), timeouts0 = g_counter(0, "timeouts");
	struct victim v1 = victim_new(1), v0 = victim_new(0);
	int complaints = kernel_complaints(), i, during = 0;
	uint64_t id1, id0, vid0;
	struct drm_npu_wait w;
	int64_t t0;

	(void)state;
	for (i = 0; i < 2048; i++)
		((uint16_t *)f1.p)[i] = 32768;
	t_write_file("/proc/sys/kernel/watchdog_thresh", "1", 1);
	t0 = g_now_ns();
	assert_int_equal(g_submit(g1, c1.handle, g_stream(&c1, &mm, 1), DRM_NPU_PRIO_NORMAL, NULL,
				  0, 0, &id1), 0);
	assert_int_equal(g_submit(g0, c0.handle, g_stream(&c0, &att, 1), DRM_NPU_PRIO_NORMAL,
				  NULL, 0, 0, &id0), 0);
	vid0 = victim_submit(&v0);
	/* accel1's other core serves its victim while the MATMUL holds the first. */
	while (g_wait(g1, id1, 0, &w) == -ETIME && during < 20) {
		victim_check(&v1, victim_submit(&v1), 10000000000ll);
		during++;
	}
	printf("BENCH %d victim jobs completed on accel1 while its guilty job ran\n", during);
	assert_true(during > 0);

	assert_int_equal(g_wait(g1, id1, -1, &w), 0);
	assert_int_equal(w.status, DRM_NPU_STATUS_TIMEOUT);
	assert_int_equal(g_wait(g0, id0, -1, &w), 0);
	assert_int_equal(w.status, DRM_NPU_STATUS_TIMEOUT);
	printf("BENCH both guilty jobs ended %.2f s after submission\n", (g_now_ns() - t0) / 1e9);
	/* accel0's victim waited behind its one core's guilty job, then ran. */
	victim_check(&v0, vid0, 10000000000ll);
	for (i = 0; i < 4; i++) {
		victim_check(&v0, victim_submit(&v0), 10000000000ll);
		victim_check(&v1, victim_submit(&v1), 10000000000ll);
	}
	t_write_file("/proc/sys/kernel/watchdog_thresh", "10", 2);

	assert_int_equal(g_counter(1, "timeouts"), timeouts1 + 1);
	assert_int_equal(g_counter(0, "timeouts"), timeouts0 + 1);
	printf("BENCH longest stop after a reset: accel0 %.1f ms, accel1 %.1f ms\n",
	       g_counter(0, "stop_max_ns") / 1e6, g_counter(1, "stop_max_ns") / 1e6);
	assert_true(g_counter(0, "stop_max_ns") < STOP_BOUND_NS);
	assert_true(g_counter(1, "stop_max_ns") < STOP_BOUND_NS);
	assert_int_equal(kernel_complaints(), complaints);

	victim_del(&v0);
	victim_del(&v1);
	g_bo_del(g1, &b1);
	g_bo_del(g1, &f1);
	g_bo_del(g1, &c1);
	g_bo_del(g0, &b0);
	g_bo_del(g0, &c0);
	close(g1);
	close(g0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(guilty_timeout_victims_complete),
	};

	return cmocka_run_group_tests_name("stall", tests, NULL, NULL);
}
