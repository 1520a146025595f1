// SPDX-License-Identifier: MIT
/*
 * npu.ko in a real kernel: every ioctl with valid and invalid input,
 * isolation between contexts, fence chains, concurrency, fault injection
 * and recovery, PRIME; what it reports of its use is test_accounting's.
 * The guest loads npu.ko with npus=2 cores=1,2: accel0 has one core,
 * accel1 two.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guestlib.h"

static void caps(void **state)
{
	struct drm_npu_caps c;
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		int fd = g_open(i);

		memset(&c, 0xff, sizeof(c));
		assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_GET_CAPS, &c), 0);
		assert_int_equal(c.abi_major, DRM_NPU_ABI_MAJOR);
		assert_int_equal(c.fw_abi_major, DRM_NPU_ABI_MAJOR);
		assert_int_equal(c.op_mask, (1ull << DRM_NPU_OP_COUNT) - 1);
		assert_int_equal(c.n_cores, i + 1);
		assert_int_equal(c.n_priorities, 3);
		assert_true(c.fw_build_id[0] != '\0');
		assert_non_null(memchr(c.fw_build_id, '\0', sizeof(c.fw_build_id)));
		close(fd);
	}
}

static void bo_create_errors(void **state)
{
	int fd = g_open(0);
	struct drm_npu_bo_create c;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_BO_CREATE, &c), -1);
	assert_int_equal(errno, EINVAL);		/* size 0 */
	c.size = 4096;
	c.flags = 1;
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_BO_CREATE, &c), -1);
	assert_int_equal(errno, EINVAL);
	c.flags = 0;
	c.handle = 5;
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_BO_CREATE, &c), -1);
	assert_int_equal(errno, EINVAL);
	c.handle = 0;
	c.dev_addr = 1;
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_BO_CREATE, &c), -1);
	assert_int_equal(errno, EINVAL);
	c.dev_addr = 0;
	c.size = 1ull << 62;
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_BO_CREATE, &c), -1);
	assert_int_equal(errno, EINVAL);
	close(fd);
}

static void bo_info_and_addresses(void **state)
{
	int fd = g_open(0);
	struct drm_npu_bo_info i;
	struct g_bo a = g_bo_new(fd, 100), b = g_bo_new(fd, 8192), c;
	uint64_t old;

	(void)state;
	assert_int_equal(a.size, 4096);
	assert_int_equal(a.addr % 4096, 0);
	/* Every buffer is followed by an unmapped guard page. */
	assert_true(b.addr >= a.addr + a.size + 4096);
	memset(&i, 0, sizeof(i));
	i.handle = 999;
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_BO_INFO, &i), -1);
	assert_int_equal(errno, ENOENT);
	i.handle = a.handle;
	i.flags = 1;
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_BO_INFO, &i), -1);
	assert_int_equal(errno, EINVAL);
	i.flags = 0;
	i.size = 1;
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_BO_INFO, &i), -1);
	assert_int_equal(errno, EINVAL);
	/* CPU writes through one mapping are seen through a second one. */
	memset(a.p, 0x5a, 100);
	i.size = 0;
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_BO_INFO, &i), 0);
	{
		unsigned char *p2 = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, i.mmap_offset);

		assert_true(p2 != MAP_FAILED);
		assert_int_equal(p2[99], 0x5a);
		munmap(p2, 4096);
	}
	/* A closed buffer's address is not handed out again at once. */
	old = b.addr;
	g_bo_del(fd, &b);
	c = g_bo_new(fd, 8192);
	assert_true(c.addr > old);
	g_bo_del(fd, &a);
	g_bo_del(fd, &c);
	close(fd);
}

/*
 * A long-lived file never runs out of addresses: in a 16 MiB space (debugfs
 * va_size, for new files), 1,000 buffers of 1 MiB created and closed in
 * turn all get one. Addresses grow until the end of the space, then wrap,
 * and a closed buffer's range waits in quarantine (the last 64 freed)
 * until no other room is left, so a job using a stale address faults
 * instead of reaching the newer buffer. (The allocator used to hand out
 * addresses upwards only, never again: in such a space the 16th buffer
 * would have failed with ENOSPC.)
 */
static void va_reuse(void **state)
{
	const uint64_t space = 16 << 20, start = 1ull << 32;
	int fd;
	struct drm_npu_caps caps;
	struct g_bo cmd, src, b;
	struct drm_npu_wait w;
	struct drm_npu_op op;
	uint64_t prev = 0, lowest = UINT64_MAX;
	int i, reused = 0;

	(void)state;
	g_debugfs_write(0, "va_size", "16777216");
	fd = g_open(0);
	g_debugfs_write(0, "va_size", "1099511627776");
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_GET_CAPS, &caps), 0);
	assert_int_equal(caps.va_size, space);
	cmd = g_bo_new(fd, 4096);
	src = g_bo_new(fd, 4096);
	for (i = 0; i < 1000; i++) {
		b = g_bo_new(fd, 1 << 20);
		assert_true(b.addr >= start && b.addr + b.size <= start + space);
		/* Never the range just freed, nor one freed a few buffers ago. */
		assert_true(b.addr != prev);
		reused += b.addr < prev;
		lowest = b.addr < lowest ? b.addr : lowest;
		prev = b.addr;
		g_bo_del(fd, &b);
		/* The stale address faults. */
		op = g_copy_op(src.addr, prev, 1, 16);
		assert_int_equal(g_run(fd, &cmd, &op, 1, &w), DRM_NPU_STATUS_FAULT);
		assert_int_equal(w.fault_addr, prev);
	}
	printf("BENCH 1000 buffers of 1 MiB in a 16 MiB space: the allocator wrapped %d times\n",
	       reused);
	assert_true(reused > 50);
	g_bo_del(fd, &src);
	g_bo_del(fd, &cmd);
	close(fd);
}

static void submit_errors(void **state)
{
	int fd = g_open(0);
	struct g_bo cmd = g_bo_new(fd, 4096);
	struct drm_npu_op nop = { .opcode = DRM_NPU_OP_NOP };
	uint32_t size = g_stream(&cmd, &nop, 1), bad_sync = 12345, handles[1];
	struct drm_npu_submit s;
	uint32_t syncobj;

	(void)state;
#define EXPECT_SUBMIT(field, value, err)					\
	do {									\
		memset(&s, 0, sizeof(s));					\
		s.cmd_handle = cmd.handle;					\
		s.cmd_size = size;						\
		s.priority = DRM_NPU_PRIO_NORMAL;				\
		s.field = value;						\
		assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_SUBMIT, &s), -1);	\
		assert_int_equal(errno, err);					\
	} while (0)
	EXPECT_SUBMIT(flags, 1, EINVAL);
	EXPECT_SUBMIT(job_id, 1, EINVAL);
	EXPECT_SUBMIT(priority, 3, EINVAL);
	EXPECT_SUBMIT(cmd_handle, 777, ENOENT);
	EXPECT_SUBMIT(cmd_offset, 4, EINVAL);		/* misaligned */
	EXPECT_SUBMIT(cmd_offset, 4096, EINVAL);	/* past the buffer */
	EXPECT_SUBMIT(cmd_size, 8, EINVAL);		/* shorter than a header */
	EXPECT_SUBMIT(cmd_size, 8192, EINVAL);		/* past the buffer */
	EXPECT_SUBMIT(bo_count, 5000, EINVAL);
	EXPECT_SUBMIT(in_syncobj_count, 65, EINVAL);
	EXPECT_SUBMIT(out_syncobj, 4242, ENOENT);
	memset(&s, 0, sizeof(s));
	s.cmd_handle = cmd.handle;
	s.cmd_size = size;
	s.bo_count = 1;
	s.bo_handles = 16;	/* a bad user pointer */
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_SUBMIT, &s), -1);
	assert_int_equal(errno, EFAULT);
	handles[0] = 999;
	s.bo_handles = (uintptr_t)handles;
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_SUBMIT, &s), -1);
	assert_int_equal(errno, ENOENT);
	s.bo_count = 0;
	s.in_syncobj_count = 1;
	s.in_syncobjs = (uintptr_t)&bad_sync;
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_SUBMIT, &s), -1);
	assert_int_equal(errno, ENOENT);
	s.in_syncobjs = 16;
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_SUBMIT, &s), -1);
	assert_int_equal(errno, EFAULT);
	/* A syncobj without a fence yet is not a valid dependency. */
	assert_int_equal(drmSyncobjCreate(fd, 0, &syncobj), 0);
	s.in_syncobjs = (uintptr_t)&syncobj;
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_SUBMIT, &s), -1);
	assert_int_equal(errno, EINVAL);
	drmSyncobjDestroy(fd, syncobj);
#undef EXPECT_SUBMIT
	g_bo_del(fd, &cmd);
	close(fd);
}

static void wait_errors(void **state)
{
	int fd = g_open(0);
	struct g_bo cmd = g_bo_new(fd, 4096);
	struct drm_npu_op nop = { .opcode = DRM_NPU_OP_NOP };
	struct drm_npu_wait w;
	uint64_t id;

	(void)state;
	assert_int_equal(g_wait(fd, 0, 0, &w), -EINVAL);
	assert_int_equal(g_wait(fd, 1, 0, &w), -EINVAL);	/* nothing submitted yet */
	assert_int_equal(g_submit(fd, cmd.handle, g_stream(&cmd, &nop, 1), 0, NULL, 0, 0, &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(g_wait(fd, id, -1, &w), 0);
	assert_int_equal(w.status, DRM_NPU_STATUS_OK);
	memset(&w, 0, sizeof(w));
	w.job_id = id;
	w.flags = 1;
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_WAIT, &w), -1);
	assert_int_equal(errno, EINVAL);
	w.flags = 0;
	w.pad = 1;
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_WAIT, &w), -1);
	assert_int_equal(errno, EINVAL);
	w.pad = 0;
	w.status = 3;
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_WAIT, &w), -1);
	assert_int_equal(errno, EINVAL);
	g_bo_del(fd, &cmd);
	close(fd);
}

/* Malformed streams are job failures with a status, never ioctl errors. */
static void job_statuses(void **state)
{
	int fd = g_open(0);
	struct g_bo cmd = g_bo_new(fd, 4096), data = g_bo_new(fd, 4096);
	struct drm_npu_op ops[2];
	struct drm_npu_wait w;
	uint64_t id;

	(void)state;
	memset(ops, 0, sizeof(ops));
	assert_int_equal(g_run(fd, &cmd, ops, 1, &w), DRM_NPU_STATUS_OK);
	ops[1].opcode = 99;
	assert_int_equal(g_run(fd, &cmd, ops, 2, &w), DRM_NPU_STATUS_BAD_OPCODE);
	assert_int_equal(w.op_index, 1);
	/* The copy reads past the end of data: the first byte after its page. */
	ops[1] = g_copy_op(data.addr + 4000, data.addr, 1, 64);
	assert_int_equal(g_run(fd, &cmd, ops, 2, &w), DRM_NPU_STATUS_FAULT);
	assert_int_equal(w.op_index, 1);
	assert_int_equal(w.fault_addr, data.addr + 4096);
	ops[1] = g_copy_op(0x1000, data.addr, 1, 4);
	assert_int_equal(g_run(fd, &cmd, ops, 2, &w), DRM_NPU_STATUS_FAULT);
	assert_int_equal(w.fault_addr, 0x1000);
	/* A bad header: the stream's magic. */
	g_stream(&cmd, ops, 1);
	((uint32_t *)cmd.p)[0] = 0;
	assert_int_equal(g_submit(fd, cmd.handle, 24 + 256, 0, NULL, 0, 0, &id), 0);
	assert_int_equal(g_wait(fd, id, -1, &w), 0);
	assert_int_equal(w.status, DRM_NPU_STATUS_BAD_HEADER);
	g_bo_del(fd, &cmd);
	g_bo_del(fd, &data);
	close(fd);
}

/* Two files are two address spaces: nothing of one is reachable from the other. */
static void isolation(void **state)
{
	int a = g_open(0), b = g_open(0);
	struct g_bo a1 = g_bo_new(a, 4096), a2 = g_bo_new(a, 4096), a3 = g_bo_new(a, 4096);
	struct g_bo bcmd = g_bo_new(b, 4096);
	struct drm_npu_op op = g_copy_op(a3.addr, a3.addr + 256, 1, 4);
	struct drm_npu_submit s = { .cmd_handle = a3.handle, .cmd_size = 280 };
	struct drm_npu_bo_info i = { .handle = a3.handle };
	struct drm_npu_wait w;

	(void)state;
	memset(a3.p, 0x77, 16);
	/* A's handles mean nothing in B (B has no handle 3: only its 1). */
	assert_int_equal(drmIoctl(b, DRM_IOCTL_NPU_BO_INFO, &i), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(drmIoctl(b, DRM_IOCTL_NPU_SUBMIT, &s), -1);
	assert_int_equal(errno, ENOENT);
	/* A's device address is unmapped in B: a fault, A's data untouched. */
	assert_int_equal(g_run(b, &bcmd, &op, 1, &w), DRM_NPU_STATUS_FAULT);
	assert_int_equal(w.fault_addr, a3.addr);
	assert_int_equal(((unsigned char *)a3.p)[256], 0);
	/* The same op in A runs. */
	op = g_copy_op(a3.addr, a3.addr + 256, 1, 4);
	assert_int_equal(g_run(a, &a1, &op, 1, &w), DRM_NPU_STATUS_OK);
	assert_int_equal(((unsigned char *)a3.p)[256], 0x77);
	g_bo_del(a, &a1);
	g_bo_del(a, &a2);
	g_bo_del(a, &a3);
	g_bo_del(b, &bcmd);
	close(a);
	close(b);
}

/* job1 -> syncobj s1 -> job2 -> s2 -> (exported) -> job3 in another file. */
static void fence_chains(void **state)
{
	int a = g_open(1), b = g_open(1);
	struct g_bo c1 = g_bo_new(a, 4096), c2 = g_bo_new(a, 4096), buf = g_bo_new(a, 3 * 4096);
	struct g_bo c3 = g_bo_new(b, 4096), bbuf = g_bo_new(b, 4096);
	uint32_t s1, s2, s2b, n1, n2, n3;
	struct drm_npu_op op;
	struct drm_npu_wait w;
	uint64_t id1, id2, id3;
	int sync_fd, i;
	int32_t *p = buf.p;

	(void)state;
	for (i = 0; i < 1024; i++)
		p[i] = i * 3 - 1000;
	assert_int_equal(drmSyncobjCreate(a, 0, &s1), 0);
	assert_int_equal(drmSyncobjCreate(a, 0, &s2), 0);
	op = g_copy_op(buf.addr, buf.addr + 4096, 1, 1024);
	n1 = g_stream(&c1, &op, 1);
	op = g_copy_op(buf.addr + 4096, buf.addr + 8192, 1, 1024);
	n2 = g_stream(&c2, &op, 1);
	assert_int_equal(g_submit(a, c1.handle, n1, 0, NULL, 0, s1, &id1), 0);
	assert_int_equal(g_submit(a, c2.handle, n2, 2, &s1, 1, s2, &id2), 0);
	assert_int_equal(drmSyncobjWait(a, &s2, 1, INT64_MAX, 0, NULL), 0);
	assert_memory_equal(p, p + 2048, 4096);
	assert_int_equal(g_wait(a, id1, 0, &w), 0);
	assert_int_equal(w.status, DRM_NPU_STATUS_OK);

	/* Across files: export s2, import it in b, make b's job wait for it. */
	assert_int_equal(drmSyncobjHandleToFD(a, s2, &sync_fd), 0);
	assert_int_equal(drmSyncobjFDToHandle(b, sync_fd, &s2b), 0);
	close(sync_fd);
	op = g_copy_op(bbuf.addr, bbuf.addr + 2048, 1, 16);
	n3 = g_stream(&c3, &op, 1);
	assert_int_equal(g_submit(b, c3.handle, n3, 1, &s2b, 1, 0, &id3), 0);
	assert_int_equal(g_wait(b, id3, -1, &w), 0);
	assert_int_equal(w.status, DRM_NPU_STATUS_OK);
	(void)id2;
	drmSyncobjDestroy(a, s1);
	drmSyncobjDestroy(a, s2);
	drmSyncobjDestroy(b, s2b);
	g_bo_del(a, &c1);
	g_bo_del(a, &c2);
	g_bo_del(a, &buf);
	g_bo_del(b, &c3);
	g_bo_del(b, &bbuf);
	close(a);
	close(b);
}

/* Two syncobjs of @fd holding new vgem fences (ids in @f): the in-fences of a job. */
static void vgem_in_fences(int fd, int vgem, uint32_t sync[2], uint32_t f[2])
{
	int i, sf;

	for (i = 0; i < 2; i++) {
		sf = g_vgem_fence(vgem, &f[i]);
		assert_int_equal(drmSyncobjCreate(fd, 0, &sync[i]), 0);
		assert_int_equal(drmSyncobjImportSyncFile(fd, sync[i], sf), 0);
		close(sf);
	}
}

/*
 * A job waits for every in-fence: two of another driver's, signalled
 * last-first. (All proxies shared one fence context, and drm_sched keeps
 * one dependency per context: the job ran once the later one signalled.)
 */
static void in_fences_all_waited(void **state)
{
	int fd = g_open(0), vgem = g_vgem_open();
	struct g_bo cmd = g_bo_new(fd, 4096), buf = g_bo_new(fd, 8192);
	struct drm_npu_op op = g_copy_op(buf.addr, buf.addr + 4096, 1, 512);
	uint32_t n = g_stream(&cmd, &op, 1), sync[2], f[2];
	struct drm_npu_wait w;
	uint64_t id;

	(void)state;
	vgem_in_fences(fd, vgem, sync, f);
	memset(buf.p, 7, 2048);
	assert_int_equal(g_submit(fd, cmd.handle, n, 1, sync, 2, 0, &id), 0);
	g_vgem_signal(vgem, f[1]);
	/* Time enough for the copy to run, were it not waiting for f[0]. */
	assert_int_equal(g_wait(fd, id, 300000000, &w), -ETIME);
	assert_int_equal(((unsigned char *)buf.p)[4096], 0);
	g_vgem_signal(vgem, f[0]);
	assert_int_equal(g_wait(fd, id, -1, &w), 0);
	assert_int_equal(w.status, DRM_NPU_STATUS_OK);
	assert_memory_equal(buf.p, (char *)buf.p + 4096, 2048);
	drmSyncobjDestroy(fd, sync[0]);
	drmSyncobjDestroy(fd, sync[1]);
	g_bo_del(fd, &cmd);
	g_bo_del(fd, &buf);
	close(fd);
	close(vgem);
}

/*
 * A SUBMIT that fails after taking its in-fences lets go of them at once:
 * 100 SUBMITs with two unsignalled fences and a bad handle leave no proxy
 * behind (debugfs objects "deps"). (Each left its proxies, holding the
 * fences, until they signalled: a client could pile them up.)
 */
static void failed_submit_drops_in_fences(void **state)
{
	int fd = g_open(0), vgem = g_vgem_open();
	struct g_bo cmd = g_bo_new(fd, 4096);
	struct drm_npu_op nop = { .opcode = DRM_NPU_OP_NOP };
	uint32_t n = g_stream(&cmd, &nop, 1), in[3], f[2];
	long long deps = g_debugfs_value(0, "objects", "deps");
	struct drm_npu_wait w;
	uint64_t id;
	int i;

	(void)state;
	vgem_in_fences(fd, vgem, in, f);
	in[2] = 0xdead;		/* no such syncobj: the SUBMIT fails after the first two */
	for (i = 0; i < 100; i++)
		assert_int_equal(g_submit(fd, cmd.handle, n, 1, in, 3, 0, &id), -ENOENT);
	/* At most as many as before: earlier tests' jobs may still be freeing theirs. */
	assert_true(g_debugfs_value(0, "objects", "deps") <= deps);
	/* With good handles only, the proxies live until the job has run. */
	assert_int_equal(g_submit(fd, cmd.handle, n, 1, in, 2, 0, &id), 0);
	assert_true(g_debugfs_value(0, "objects", "deps") >= 2);
	g_vgem_signal(vgem, f[0]);
	g_vgem_signal(vgem, f[1]);
	assert_int_equal(g_wait(fd, id, -1, &w), 0);
	assert_int_equal(w.status, DRM_NPU_STATUS_OK);
	drmSyncobjDestroy(fd, in[0]);
	drmSyncobjDestroy(fd, in[1]);
	g_bo_del(fd, &cmd);
	close(fd);
	close(vgem);
}

static void wait_timeout(void **state)
{
	int fd = g_open(0);
	struct g_bo cmd = g_bo_new(fd, 4096), buf = g_bo_new(fd, G_LONG_BUF);
	uint32_t n = g_long_stream(&cmd, &buf);
	struct drm_npu_wait w;
	uint64_t id;
	int i, timed_out = 0;

	(void)state;
	/* A poll right after submit finds the job running (else: try again). */
	for (i = 0; i < 5 && !timed_out; i++) {
		assert_int_equal(g_submit(fd, cmd.handle, n, 0, NULL, 0, 0, &id), 0);
		timed_out = g_wait(fd, id, 1000, &w) == -ETIME;
		assert_int_equal(g_wait(fd, id, -1, &w), 0);
		assert_int_equal(w.status, DRM_NPU_STATUS_OK);
	}
	assert_true(timed_out);
	g_bo_del(fd, &cmd);
	g_bo_del(fd, &buf);
	close(fd);
}

/* Several processes and threads, mixed priorities, on the two-core NPU. */
struct worker {
	int fd, id, failures;
};

static void *worker_thread(void *arg)
{
	struct worker *wk = arg;
	struct g_bo cmd = g_bo_new(wk->fd, 4096), buf = g_bo_new(wk->fd, 8192);
	int32_t *p = buf.p;
	struct drm_npu_op op = g_copy_op(buf.addr, buf.addr + 4096, 1, 256);
	uint32_t n = g_stream(&cmd, &op, 1);
	struct drm_npu_wait w;
	uint64_t id;
	int j, k;

	for (j = 0; j < 50; j++) {
		for (k = 0; k < 256; k++)
			p[k] = wk->id * 100000 + j * 256 + k;
		if (g_submit(wk->fd, cmd.handle, n, (uint32_t)(j + wk->id) % 3, NULL, 0, 0, &id) ||
		    g_wait(wk->fd, id, -1, &w) || w.status ||
		    memcmp(p, p + 1024, 1024))
			wk->failures++;
	}
	g_bo_del(wk->fd, &cmd);
	g_bo_del(wk->fd, &buf);
	return NULL;
}

static void concurrency(void **state)
{
	long long before, sub_before, maps0, ctxs0;
	int pr, status;
	pid_t pids[3];

	(void)state;
	/* Count from when earlier tests' jobs, and what they hold, are gone. */
	g_jobs_freed(5000);
	before = g_counter(1, "completed");
	sub_before = g_counter(1, "submitted");
	maps0 = g_debugfs_value(1, "objects", "mappings");
	ctxs0 = g_debugfs_value(1, "objects", "contexts");
	for (pr = 0; pr < 3; pr++) {
		pids[pr] = fork();
		assert_true(pids[pr] >= 0);
		if (pids[pr] == 0) {
			struct worker wk[2];
			pthread_t th[2];
			int t, fails = 0, fd = g_open(1);

			for (t = 0; t < 2; t++) {
				wk[t] = (struct worker){ .fd = fd, .id = pr * 2 + t };
				pthread_create(&th[t], NULL, worker_thread, &wk[t]);
			}
			for (t = 0; t < 2; t++) {
				pthread_join(th[t], NULL);
				fails += wk[t].failures;
			}
			close(fd);
			_exit(fails ? 1 : 0);
		}
	}
	for (pr = 0; pr < 3; pr++) {
		assert_int_equal(waitpid(pids[pr], &status, 0), pids[pr]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	/* Every fence signalled, and the counters add up. */
	assert_int_equal(g_counter(1, "submitted") - sub_before, 300);
	assert_int_equal(g_counter(1, "completed") - before, 300);
	/* Every file is closed: no job, mapping or context is left behind. */
	g_jobs_freed(5000);
	assert_int_equal(g_debugfs_value(1, "objects", "mappings"), maps0);
	assert_int_equal(g_debugfs_value(1, "objects", "contexts"), ctxs0);
}

/*
 * debugfs "cores" of NPU @minor, a line per core as the hardware reports
 * it: the resets of all @n cores; *idle: each one is idle, its ring empty.
 */
static long long cores_resets(int minor, int n, int *idle)
{
	unsigned int core, queued, size, resets;
	char path[320], state[16];
	long long sum = 0;
	int lines = 0;
	FILE *f;

	g_debugfs_path(minor, "cores", path, sizeof(path));
	f = fopen(path, "r");
	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	*idle = 1;
	while (fscanf(f, "core%u: %15s ring %u/%u resets %u\n", &core, state, &queued, &size,
		      &resets) == 5) {
		assert_int_equal(core, lines);
		assert_int_equal(size, 16);
		if (strcmp(state, "idle") || queued)
			*idle = 0;
		sum += resets;
		lines++;
	}
	fclose(f);
	assert_int_equal(lines, n);
	return sum;
}

/*
 * A hang in one file: that job times out, the core is reset, the other
 * file's jobs (queued behind it and on the other core) all complete.
 */
static void hang_recovery(void **state)
{
	int a = g_open(1), b = g_open(1);
	struct g_bo acmd = g_bo_new(a, 4096), bcmd[8], bbuf = g_bo_new(b, 8 * 8192);
	struct drm_npu_op nop = { .opcode = DRM_NPU_OP_NOP };
	long long resets = g_counter(1, "resets"), timeouts = g_counter(1, "timeouts");
	struct drm_npu_wait w;
	uint64_t hung, ids[8];
	char inject[48];
	int i, round, idle;
	long long core_resets = cores_resets(1, 2, &idle);

	(void)state;
	for (i = 0; i < 8; i++) {
		struct drm_npu_op op = g_copy_op(bbuf.addr + i * 8192, bbuf.addr + i * 8192 + 4096,
						 1, 512);

		bcmd[i] = g_bo_new(b, 4096);
		memset((char *)bbuf.p + i * 8192, i + 1, 2048);
		g_stream(&bcmd[i], &op, 1);
	}
	/* Only a's next job hangs, whichever core fetches first. */
	snprintf(inject, sizeof(inject), "hang %llu", (unsigned long long)g_client_id(a));
	for (round = 0; round < 3; round++) {
		g_inject(1, inject);
		assert_int_equal(g_submit(a, acmd.handle, g_stream(&acmd, &nop, 1), 1, NULL, 0, 0,
					  &hung), 0);
		for (i = 0; i < 8; i++)
			assert_int_equal(g_submit(b, bcmd[i].handle, 24 + 256, i % 3, NULL, 0, 0,
						  &ids[i]), 0);
		assert_int_equal(g_wait(a, hung, -1, &w), 0);
		assert_int_equal(w.status, DRM_NPU_STATUS_TIMEOUT);
		for (i = 0; i < 8; i++) {
			assert_int_equal(g_wait(b, ids[i], -1, &w), 0);
			assert_int_equal(w.status, DRM_NPU_STATUS_OK);
			assert_memory_equal((char *)bbuf.p + i * 8192,
					    (char *)bbuf.p + i * 8192 + 4096, 2048);
			memset((char *)bbuf.p + i * 8192 + 4096, 0, 2048);
		}
	}
	assert_true(g_counter(1, "resets") >= resets + 3);
	assert_int_equal(g_counter(1, "timeouts"), timeouts + 3);
	/* Three hangs: file a is banned, file b is not. */
	assert_int_equal(g_submit(a, acmd.handle, 24 + 256, 1, NULL, 0, 0, &hung), -ECANCELED);
	assert_int_equal(g_submit(b, bcmd[0].handle, 24 + 256, 1, NULL, 0, 0, &ids[0]), 0);
	assert_int_equal(g_wait(b, ids[0], -1, &w), 0);
	assert_int_equal(w.status, DRM_NPU_STATUS_OK);
	/* The cores' own view: reset once per hang at least, all idle again. */
	assert_true(cores_resets(1, 2, &idle) >= core_resets + 3);
	assert_true(idle);
	g_bo_del(a, &acmd);
	for (i = 0; i < 8; i++)
		g_bo_del(b, &bcmd[i]);
	g_bo_del(b, &bbuf);
	close(a);
	close(b);
}

static void injected_fail_and_fault(void **state)
{
	int fd = g_open(0);
	struct g_bo cmd = g_bo_new(fd, 4096);
	struct drm_npu_op nop = { .opcode = DRM_NPU_OP_NOP };
	long long faults = g_counter(0, "faults");
	struct drm_npu_wait w;

	(void)state;
	g_inject(0, "fail");
	assert_int_equal(g_run(fd, &cmd, &nop, 1, &w), DRM_NPU_STATUS_BAD_OPCODE);
	g_inject(0, "fault");
	assert_int_equal(g_run(fd, &cmd, &nop, 1, &w), DRM_NPU_STATUS_FAULT);
	assert_int_equal(w.fault_addr, cmd.addr);
	assert_int_equal(g_counter(0, "faults"), faults + 1);
	/* Injection is one-shot. */
	assert_int_equal(g_run(fd, &cmd, &nop, 1, &w), DRM_NPU_STATUS_OK);
	g_bo_del(fd, &cmd);
	close(fd);
}

/* A buffer shared through PRIME with another process's context. */
static void prime_sharing(void **state)
{
	int fd = g_open(0), dmabuf, status;
	struct g_bo shared = g_bo_new(fd, 8192);
	int32_t *p = shared.p;
	pid_t pid;
	int i;

	(void)state;
	for (i = 0; i < 512; i++)
		p[i] = i * 7;
	assert_int_equal(drmPrimeHandleToFD(fd, shared.handle, DRM_CLOEXEC | DRM_RDWR, &dmabuf), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int cfd = g_open(0), ok;
		struct g_bo cmd = g_bo_new(cfd, 4096);
		struct drm_npu_bo_info info = { 0 };
		struct drm_npu_op op;
		struct drm_npu_wait w;
		int32_t *q;

		ok = drmPrimeFDToHandle(cfd, dmabuf, &info.handle) == 0 &&
		     drmIoctl(cfd, DRM_IOCTL_NPU_BO_INFO, &info) == 0 && info.size == 8192;
		if (ok) {
			q = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, cfd,
				 info.mmap_offset);
			ok = q != MAP_FAILED && q[511] == 511 * 7;
			/* The child's device copies the first half into the second. */
			op = g_copy_op(info.dev_addr, info.dev_addr + 4096, 1, 512);
			ok = ok && g_run(cfd, &cmd, &op, 1, &w) == DRM_NPU_STATUS_OK;
		}
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_memory_equal(p, p + 1024, 2048);
	close(dmabuf);
	g_bo_del(fd, &shared);
	close(fd);
}

static void fail_alloc(int minor, int nth)
{
	char v[16];

	snprintf(v, sizeof(v), "%d", nth);
	g_debugfs_write(minor, "fail_alloc", v);
}

/*
 * Each of the driver's allocations on the SUBMIT and BO_CREATE paths made
 * to fail in turn: a clean ENOMEM, nothing leaked, and the next call works.
 */
static void allocation_failures(void **state)
{
	int fd = g_open(0);
	struct g_bo cmd = g_bo_new(fd, 4096), data = g_bo_new(fd, 4096);
	struct drm_npu_op nop = { .opcode = DRM_NPU_OP_NOP };
	uint32_t n = g_stream(&cmd, &nop, 1), list[1] = { data.handle };
	long long maps0;
	struct drm_npu_bo_create c = { .size = 4096 };
	struct drm_npu_submit s;
	struct drm_npu_wait w;
	int nth;

	(void)state;
	/* Count from when earlier tests' jobs, and the mappings they hold, are gone. */
	g_jobs_freed(5000);
	maps0 = g_debugfs_value(0, "objects", "mappings");
	/* SUBMIT allocates the job, its first fence and its buffer list. */
	for (nth = 1; nth <= 3; nth++) {
		memset(&s, 0, sizeof(s));
		s.cmd_handle = cmd.handle;
		s.cmd_size = n;
		s.bo_handles = (uintptr_t)list;
		s.bo_count = 1;
		fail_alloc(0, nth);
		assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_SUBMIT, &s), -1);
		assert_int_equal(errno, ENOMEM);
		assert_int_equal(g_debugfs_value(0, "objects", "jobs"), 0);
	}
	/* BO_CREATE's mapping: no handle, no mapping left behind. */
	fail_alloc(0, 1);
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_BO_CREATE, &c), -1);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(g_debugfs_value(0, "objects", "mappings"), maps0);
	fail_alloc(0, 0);
	/* All well again. */
	assert_int_equal(g_run(fd, &cmd, &nop, 1, &w), DRM_NPU_STATUS_OK);
	c.handle = 0;
	assert_int_equal(drmIoctl(fd, DRM_IOCTL_NPU_BO_CREATE, &c), 0);
	drmCloseBufferHandle(fd, c.handle);
	g_bo_del(fd, &cmd);
	g_bo_del(fd, &data);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(caps),
		cmocka_unit_test(bo_create_errors),
		cmocka_unit_test(bo_info_and_addresses),
		cmocka_unit_test(va_reuse),
		cmocka_unit_test(submit_errors),
		cmocka_unit_test(wait_errors),
		cmocka_unit_test(job_statuses),
		cmocka_unit_test(isolation),
		cmocka_unit_test(fence_chains),
		cmocka_unit_test(in_fences_all_waited),
		cmocka_unit_test(failed_submit_drops_in_fences),
		cmocka_unit_test(wait_timeout),
		cmocka_unit_test(concurrency),
		cmocka_unit_test(hang_recovery),
		cmocka_unit_test(injected_fail_and_fault),
		cmocka_unit_test(prime_sharing),
		cmocka_unit_test(allocation_failures),
	};

	return cmocka_run_group_tests_name("driver", tests, NULL, NULL);
}
