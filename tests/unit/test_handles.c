// SPDX-License-Identifier: MIT
/*
 * What names an object of a device: a fence belongs to the device that
 * made it, a buffer handle never comes back to life after its free, and
 * the cpu backend's device addresses are reclaimed, but not at once.
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "testlib.h"

#define GIB (1ull << 30)

/* The cpu backend, whatever NPU_DEVICE names: these test its own address space. */
static npu_device *open_cpu(void)
{
	struct t_env env = t_env_set("NPU_DEVICE", NULL);
	npu_device *dev = t_open_at("cpu", NULL);

	t_env_restore(&env);
	return dev;
}

static npu_cmd *nop_cmd(npu_device *dev)
{
	npu_cmd *cmd;

	assert_int_equal(npu_cmd_create(dev, &cmd), NPU_OK);
	assert_int_equal(npu_op_nop(cmd), NPU_OK);
	return cmd;
}

/*
 * Two devices number their jobs alike: a fence waited on with the other
 * device is refused, never taken for that device's job of the same number.
 */
static void fence_of_other_device(void **state)
{
	npu_device *a = t_open(), *b = t_open_other();
	npu_cmd *ca = nop_cmd(a), *cb = nop_cmd(b);
	struct npu_job_result r = { .status = 77 };
	npu_fence fa, fb;

	(void)state;
	assert_int_equal(npu_submit(ca, &fa), NPU_OK);
	assert_int_equal(npu_submit(cb, &fb), NPU_OK);
	assert_int_equal(npu_fence_wait(b, fa, -1, &r), NPU_E_XDEV);
	assert_int_equal(npu_fence_wait(a, fb, -1, &r), NPU_E_XDEV);
	assert_int_equal(npu_fence_wait(b, fa, 0, &r), NPU_E_XDEV);
	assert_int_equal(r.status, 77);		/* untouched */
	/* Each device's own fence still works, as often as asked. */
	assert_int_equal(npu_fence_wait(a, fa, -1, &r), NPU_OK);
	assert_int_equal(r.status, NPU_JOB_OK);
	assert_int_equal(npu_fence_wait(b, fb, -1, NULL), NPU_OK);
	assert_int_equal(npu_fence_wait(a, fa, 0, NULL), NPU_OK);
	/* A fence of no device at all is not one. */
	assert_int_equal(npu_fence_wait(a, fa & 0xffff, 0, NULL), NPU_E_INVAL);
	npu_cmd_destroy(ca);
	npu_cmd_destroy(cb);
	npu_close(a);
	npu_close(b);
}

/*
 * A slot freed and reused 2^20 + 1 times (more than a 20-bit generation
 * counts): the first handle stays dead all along.
 */
static void handle_generation_wrap(void **state)
{
	npu_device *dev = open_cpu();
	npu_bo first, bo;
	uint32_t i;

	(void)state;
	assert_int_equal(npu_bo_alloc(dev, 1, &first), NPU_OK);
	assert_int_equal(npu_bo_free(dev, first), NPU_OK);
	for (i = 0; i <= 1u << 20; i++) {
		assert_int_equal(npu_bo_alloc(dev, 1, &bo), NPU_OK);
		if (bo == first)
			fail_msg("reuse %u of the slot gave the freed handle %#llx again", i + 1,
				 (unsigned long long)first);
		assert_int_equal(npu_bo_info(dev, first, NULL, NULL), NPU_E_HANDLE);
		assert_int_equal(npu_bo_free(dev, bo), NPU_OK);
	}
	assert_int_equal(npu_bo_alloc(dev, 1, &bo), NPU_OK);
	assert_int_equal(npu_bo_free(dev, first), NPU_E_HANDLE);
	assert_int_equal(npu_bo_info(dev, bo, NULL, NULL), NPU_OK);
	npu_close(dev);
}

static long max_rss_kib(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

/*
 * 4096 buffers of 1 GiB, one at a time, in a 1 TiB address space: freed
 * ranges are reclaimed, and the untouched buffers cost no memory.
 */
static void va_reclaimed(void **state)
{
	npu_device *dev = open_cpu();
	long rss = max_rss_kib();
	uint64_t addr, lowest = UINT64_MAX, highest = 0;
	npu_bo bo;
	int i;

	(void)state;
	for (i = 0; i < 4096; i++) {
		int err = npu_bo_alloc(dev, GIB, &bo);

		if (err)
			fail_msg("1 GiB buffer %d with none live: %s", i + 1, npu_strerror(err));
		assert_int_equal(npu_bo_info(dev, bo, &addr, NULL), NPU_OK);
		lowest = addr < lowest ? addr : lowest;
		highest = addr > highest ? addr : highest;
		assert_int_equal(npu_bo_free(dev, bo), NPU_OK);
	}
	assert_int_equal(npu_bo_alloc(dev, GIB, &bo), NPU_OK);
	assert_int_equal(npu_bo_free(dev, bo), NPU_OK);
	/* Every range of the space came round: not 4096 distinct ones. */
	assert_true(highest - lowest < 1024 * GIB);
	rss = max_rss_kib() - rss;
	print_message("4097 buffers of 1 GiB: peak RSS grew by %ld KiB\n", rss);
	assert_true(rss < 256 * 1024);
	npu_close(dev);
}

/*
 * Buffers of random sizes (up to 1 GiB, 24 live at most) allocated and
 * freed 20,000 times, through the space's exhaustion and reuse (about five
 * times over): all fit, and no two live ones come within a page of each
 * other. (Up to 1 GiB: one host mapping per buffer, which a guest of
 * 2 GiB still grants.)
 */
static void va_random_reuse(void **state)
{
	npu_device *dev = open_cpu();
	struct { npu_bo bo; uint64_t addr, end; } live[24];
	uint64_t highest = 0;
	uint32_t n = 0, i, j, reused = 0;

	(void)state;
	t_seed(20);
	for (i = 0; i < 20000; i++) {
		uint64_t size = 1 + t_rand() % GIB;
		int err;

		if (n == 24 || (n && t_rand() % 2)) {
			j = (uint32_t)(t_rand() % n);
			assert_int_equal(npu_bo_free(dev, live[j].bo), NPU_OK);
			live[j] = live[--n];
			continue;
		}
		err = npu_bo_alloc(dev, size, &live[n].bo);
		if (err)
			fail_msg("%llu bytes with %u buffers live, op %u: %s",
				 (unsigned long long)size, n, i, npu_strerror(err));
		assert_int_equal(npu_bo_info(dev, live[n].bo, &live[n].addr, NULL), NPU_OK);
		/* Fresh addresses only grow: one below the highest yet is reused. */
		reused += live[n].addr < highest;
		highest = live[n].addr > highest ? live[n].addr : highest;
		/* Whole pages, then a page unmapped. */
		live[n].end = live[n].addr + (size + 4095) / 4096 * 4096 + 4096;
		for (j = 0; j < n; j++)
			if (live[n].addr < live[j].end && live[j].addr < live[n].end)
				fail_msg("op %u: [%#llx, %#llx) overlaps [%#llx, %#llx)", i,
					 (unsigned long long)live[n].addr,
					 (unsigned long long)live[n].end,
					 (unsigned long long)live[j].addr,
					 (unsigned long long)live[j].end);
		n++;
	}
	print_message("%u of %u operations allocated at a reused address\n", reused, i);
	assert_true(reused > 1000);
	npu_close(dev);
}

/* out = x + x, in int32: an op that reads @x's buffer. */
static void encode_add(npu_cmd *cmd, npu_bo x, npu_bo out)
{
	struct npu_tensor tx = npu_tensor_2d(x, 0, 1, 1, NPU_I32);
	struct npu_tensor to = npu_tensor_2d(out, 0, 1, 1, NPU_I32);

	tx.scale_mode = to.scale_mode = NPU_SCALE_TENSOR;
	tx.scale = to.scale = t_scale(1);
	assert_int_equal(npu_op_add(cmd, &tx, &tx, &to), NPU_OK);
}

/* Fill the address space with live buffers, halving the size down to a page. */
static uint32_t fill_space(npu_device *dev, npu_bo *bos, uint32_t max)
{
	uint64_t size = GIB;
	uint32_t n = 0;

	while (size >= 4096) {
		int err = npu_bo_alloc(dev, size, &bos[n]);

		if (err == NPU_E_NOSPC) {
			size /= 2;
			continue;
		}
		assert_int_equal(err, NPU_OK);
		assert_true(++n < max);
	}
	return n;
}

/*
 * A full address space still serves once a buffer is freed; and an address
 * just freed is not handed out again while other room is left (here for
 * 200 frees), so a stream still naming it faults rather than reach a new
 * buffer.
 */
static void va_quarantine(void **state)
{
	npu_device *dev = open_cpu();
	static npu_bo bos[2048];
	struct t_buf out = t_alloc(dev, 4096);
	uint64_t big, x_addr, z_addr, size;
	struct npu_job_result r;
	npu_bo x, z;
	npu_cmd *cmd;
	uint32_t n, i;
	int err;

	(void)state;
	n = fill_space(dev, bos, 2048);
	assert_int_equal(npu_bo_alloc(dev, 4096, &x), NPU_E_NOSPC);
	assert_int_equal(npu_bo_info(dev, bos[0], &big, &size), NPU_OK);
	assert_int_equal(size, GIB);
	assert_int_equal(npu_bo_free(dev, bos[0]), NPU_OK);

	/* Only the freed range has room: it is reused rather than NOSPC. */
	err = npu_bo_alloc(dev, 4096, &x);
	if (err)
		fail_msg("a page in a full space after freeing 1 GiB: %s", npu_strerror(err));
	assert_int_equal(npu_bo_info(dev, x, &x_addr, NULL), NPU_OK);
	assert_true(x_addr >= big && x_addr < big + GIB);

	assert_int_equal(npu_cmd_create(dev, &cmd), NPU_OK);
	encode_add(cmd, x, out.bo);
	assert_int_equal(t_run(dev, cmd, NULL), NPU_JOB_OK);
	assert_int_equal(npu_bo_free(dev, x), NPU_OK);
	/* The rest of the freed range takes the next buffers, not x's address. */
	for (i = 0; i < 200; i++) {
		assert_int_equal(npu_bo_alloc(dev, 4096, &z), NPU_OK);
		assert_int_equal(npu_bo_info(dev, z, &z_addr, NULL), NPU_OK);
		assert_true(z_addr >= big && z_addr < big + GIB);
		assert_int_not_equal(z_addr, x_addr);
		if (i < 199)
			assert_int_equal(npu_bo_free(dev, z), NPU_OK);
	}
	/* The stream still names x: it faults there. */
	assert_int_equal(t_run(dev, cmd, &r), NPU_JOB_FAULT);
	assert_int_equal(r.fault_addr, x_addr);

	npu_cmd_destroy(cmd);
	assert_int_equal(npu_bo_free(dev, z), NPU_OK);
	for (i = 1; i < n; i++)
		assert_int_equal(npu_bo_free(dev, bos[i]), NPU_OK);
	t_free(dev, &out);
	npu_close(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fence_of_other_device),
		cmocka_unit_test(handle_generation_wrap),
		cmocka_unit_test(va_reclaimed),
		cmocka_unit_test(va_quarantine),
		cmocka_unit_test(va_random_reuse),
	};

	return cmocka_run_group_tests_name("handles", tests, NULL, NULL);
}
