// SPDX-License-Identifier: MIT
/*
 * An ioctl fuzzer for npu.ko: several processes open the devices and
 * issue random and mutated ioctls (valid-looking structs with one field
 * corrupted, random and stale handles, sizes, offsets, flags, device
 * addresses, and mutated command streams), for $NPU_FUZZ_CALLS calls per
 * process (default 4000). Then the device must still run a known job
 * correctly; the guest's init checks the kernel log for WARN and BUG.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guestlib.h"

#define PROCS 3

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

/* A value that is often on a boundary: 0, -1, powers of two, page sizes. */
static uint64_t nasty(void)
{
	static const uint64_t v[] = { 0, 1, 7, 8, 4095, 4096, 4097, 65536, 0x7fffffff, 0x80000000,
				      0xffffffff, 0x100000000ull, 0x7fffffffffffffffull,
				      0x8000000000000000ull, ~0ull };

	return rnd() % 3 ? v[rnd() % (sizeof(v) / sizeof(v[0]))] : rnd();
}

/* Corrupt one field-sized slot of a struct. */
static void corrupt(void *s, size_t len)
{
	size_t at = rnd() % len;

	if (rnd() % 2 && at + 8 <= len) {
		uint64_t v = nasty();

		memcpy((char *)s + (at & ~7ul), &v, 8);
	} else {
		((uint8_t *)s)[at] = (uint8_t)rnd();
	}
}

struct state {
	int fd;
	uint32_t handles[16];
	uint64_t addrs[16];
	int n;
	uint64_t calls;
};

static void new_bo(struct state *st)
{
	struct drm_npu_bo_create c = { .size = 4096 * (1 + rnd() % 16) };

	st->calls++;
	if (st->n < 16 && !drmIoctl(st->fd, DRM_IOCTL_NPU_BO_CREATE, &c)) {
		st->handles[st->n] = c.handle;
		st->addrs[st->n] = c.dev_addr;
		st->n++;
	}
}

/* A plausible op over the file's buffers, then a few bytes mutated. */
static void random_stream(struct state *st, uint8_t *p, uint32_t *size)
{
	struct drm_npu_cmd_header *h = (void *)p;
	struct drm_npu_op *ops = (void *)(h + 1);
	uint32_t n = 1 + rnd() % 4, i, k;

	memset(p, 0, 4096);
	h->magic = DRM_NPU_CMD_MAGIC;
	h->version_major = DRM_NPU_ABI_MAJOR;
	h->op_count = n;
	h->op_size = sizeof(struct drm_npu_op);
	for (i = 0; i < n; i++) {
		uint64_t a = st->n ? st->addrs[rnd() % st->n] : 0, b = st->n ? st->addrs[rnd() % st->n] : 0;

		ops[i] = g_copy_op(a + (rnd() % 2 ? 0 : rnd() % 8192), b + (rnd() % 4096), 1 + rnd() % 4,
				   1 + rnd() % 256);
		ops[i].opcode = (uint16_t)(rnd() % (DRM_NPU_OP_COUNT + 2));
		if (rnd() % 2)
			ops[i].in[1] = ops[i].in[0];
	}
	for (k = rnd() % 4; k; k--)
		p[rnd() % (sizeof(*h) + n * sizeof(*ops))] = (uint8_t)rnd();
	*size = (uint32_t)(sizeof(*h) + n * sizeof(*ops));
	if (rnd() % 8 == 0)
		*size = (uint32_t)nasty();
}

static void one_call(struct state *st, uint8_t *cmdmap, uint32_t cmd_handle)
{
	uint32_t h = st->n && rnd() % 4 ? st->handles[rnd() % st->n] : (uint32_t)nasty();

	st->calls++;
	switch (rnd() % 8) {
	case 0: {
		struct drm_npu_bo_info i = { .handle = h };

		if (rnd() % 2)
			corrupt(&i, sizeof(i));
		drmIoctl(st->fd, DRM_IOCTL_NPU_BO_INFO, &i);
		break;
	}
	case 1: {
		struct drm_npu_bo_create c = { .size = rnd() % (1 << 20) };

		if (rnd() % 3 == 0)
			corrupt(&c, sizeof(c));
		if (c.size > (1 << 20))
			c.size = rnd() % 3 ? c.size : 1 << 20;	/* no guest-sized buffers */
		if (!drmIoctl(st->fd, DRM_IOCTL_NPU_BO_CREATE, &c) && st->n < 16) {
			st->handles[st->n] = c.handle;
			st->addrs[st->n++] = c.dev_addr;
		} else if (!c.handle) {
			break;
		} else {
			drmCloseBufferHandle(st->fd, c.handle);
		}
		break;
	}
	case 2:
	case 3: {
		uint32_t size, in[4] = { h, (uint32_t)rnd(), 0, 0 }, list[4] = { h, (uint32_t)rnd() };
		struct drm_npu_submit s;

		random_stream(st, cmdmap, &size);
		memset(&s, 0, sizeof(s));
		s.cmd_handle = cmd_handle;
		s.cmd_size = size;
		s.priority = (uint32_t)(rnd() % 3);
		if (rnd() % 2) {
			s.bo_handles = (uintptr_t)list;
			s.bo_count = (uint32_t)(rnd() % 3);
		}
		if (rnd() % 4 == 0) {
			s.in_syncobjs = (uintptr_t)in;
			s.in_syncobj_count = (uint32_t)(rnd() % 3);
		}
		if (rnd() % 4 == 0)
			corrupt(&s, sizeof(s));
		if (!drmIoctl(st->fd, DRM_IOCTL_NPU_SUBMIT, &s)) {
			struct drm_npu_wait w = { .job_id = s.job_id, .timeout_ns = INT64_MAX };

			/* Most jobs are waited for; some are left running. */
			if (rnd() % 4)
				drmIoctl(st->fd, DRM_IOCTL_NPU_WAIT, &w);
		}
		break;
	}
	case 4: {
		struct drm_npu_wait w = { .job_id = nasty(), .timeout_ns = (int64_t)(rnd() % 1000) };

		if (rnd() % 2)
			corrupt(&w, sizeof(w));
		w.timeout_ns = w.timeout_ns > 0 ? g_now_ns() + w.timeout_ns % 1000000 : w.timeout_ns;
		drmIoctl(st->fd, DRM_IOCTL_NPU_WAIT, &w);
		break;
	}
	case 5: {
		int dmabuf;

		if (!drmPrimeHandleToFD(st->fd, h, DRM_CLOEXEC, &dmabuf)) {
			uint32_t back;

			drmPrimeFDToHandle(st->fd, dmabuf, &back);
			close(dmabuf);
		}
		break;
	}
	case 6:
		/* Close a handle (maybe one still used by a queued job). */
		if (st->n && rnd() % 2) {
			int i = (int)(rnd() % st->n);

			drmCloseBufferHandle(st->fd, st->handles[i]);
			st->handles[i] = st->handles[--st->n];
			st->addrs[i] = st->addrs[st->n];
		} else {
			drmCloseBufferHandle(st->fd, h);
		}
		break;
	default: {
		/* Any driver ioctl number with a random payload. */
		uint8_t buf[256];
		unsigned long nr = DRM_COMMAND_BASE + rnd() % 8;
		unsigned long req = rnd() % 2 ? DRM_IOWR(nr, struct drm_npu_caps) :
					      (unsigned long)_IOC(rnd() % 4, DRM_IOCTL_BASE, nr,
								  rnd() % sizeof(buf));

		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)rnd();
		ioctl(st->fd, req, buf);
		break;
	}
	}
}

static int fuzz_process(int seed, long calls)
{
	struct state st = { .fd = g_open(seed % 2) };
	struct g_bo cmd = g_bo_new(st.fd, 4096);
	long i;

	rng = 0x9e3779b97f4a7c15ull * (uint64_t)(seed + 1);
	for (i = 0; i < 4; i++)
		new_bo(&st);
	for (i = 0; i < calls; i++)
		one_call(&st, cmd.p, cmd.handle);
	munmap(cmd.p, cmd.size);
	close(st.fd);	/* with jobs possibly still queued */
	printf("process %d: %llu calls\n", seed, (unsigned long long)st.calls);
	return 0;
}

static void fuzz_then_work(void **state)
{
	const char *env = getenv("NPU_FUZZ_CALLS");
	long calls = env ? atol(env) : 4000;
	int64_t t0 = g_now_ns();
	pid_t pids[PROCS];
	int i, status;

	(void)state;
	for (i = 0; i < PROCS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (!pids[i])
			_exit(fuzz_process(i, calls));
	}
	for (i = 0; i < PROCS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	printf("BENCH ioctl fuzzer: %ld calls in %.1f s (%.0f calls/s), %d processes\n",
	       calls * PROCS, (g_now_ns() - t0) / 1e9, calls * PROCS / ((g_now_ns() - t0) / 1e9),
	       PROCS);
	/* Both devices still do known work right. */
	for (i = 0; i < 2; i++) {
		int fd = g_open(i);
		struct g_bo cmd = g_bo_new(fd, 4096), buf = g_bo_new(fd, 8192);
		struct drm_npu_op op = g_copy_op(buf.addr, buf.addr + 4096, 1, 512);
		int32_t *p = buf.p;
		int k;

		for (k = 0; k < 512; k++)
			p[k] = k * 31 - 7000;
		assert_int_equal(g_run(fd, &cmd, &op, 1, NULL), DRM_NPU_STATUS_OK);
		assert_memory_equal(p, p + 1024, 2048);
		g_bo_del(fd, &cmd);
		g_bo_del(fd, &buf);
		close(fd);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fuzz_then_work),
	};

	return cmocka_run_group_tests_name("fuzz_ioctl", tests, NULL, NULL);
}
