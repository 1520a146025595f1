// SPDX-License-Identifier: MIT
/*
 * npu-devd, the PCI NPU's device, driven from here as QEMU and a guest
 * would drive it, without either: this test is the ivshmem client (it
 * takes the window and the eventfds), its "guest RAM" is a file it maps
 * too, and it writes rings, tables and streams there. A job runs through
 * a four-level table over scattered pages; then a hostile guest writes
 * what it likes (entries, tables, rings and mailbox arguments out of
 * range, garbage images, random tables) and the daemon must answer every
 * time and stay up. Its device process killed and restarted, a guest
 * reconnecting, SIGTERM: each ends as documented (docs/hw.md §3.7); bad
 * arguments are refused, each with its line.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"
#include "../../firmware/include/npu_device.h"
#include "../../firmware/include/npu_pci.h"
#include "../../uapi/drm/npu_cmd.h"

#define RAM_SIZE (64ull << 20)
#define FW_AT 0x100000ull
#define RING_AT(c) (0x200000ull + (c) * 0x1000)
#define CQ_AT(c) (RING_AT(c) + 0x800)
#define PT_AT 0x300000ull
#define DATA_AT 0x800000ull
#define BO_PAGES 16
#define VA NPU_VA_START
#define SLOT 3

static struct {
	pid_t pid;
	char sock[64], ram_path[64];
	int ram_fd, conn;
	uint8_t *ram, *win;
	int doorbell[NPU_PCI_VECTORS], irq[NPU_PCI_VECTORS];
	uint32_t seq, tail[2], cq_head[2];
	uint64_t pt_next;
} t;

static void w32(uint32_t off, uint32_t v)
{
	__atomic_store_n((uint32_t *)(t.win + off), v, __ATOMIC_RELEASE);
}

static uint32_t r32(uint32_t off)
{
	return __atomic_load_n((uint32_t *)(t.win + off), __ATOMIC_ACQUIRE);
}

static void ring(unsigned int vector)
{
	uint64_t one = 1;

	assert_int_equal(write(t.doorbell[vector], &one, 8), 8);
}

/* Whether @vector fired within @ms. */
static int irq_within(unsigned int vector, int ms)
{
	struct pollfd p = { .fd = t.irq[vector], .events = POLLIN };
	uint64_t n;

	if (poll(&p, 1, ms) != 1)
		return 0;
	return read(t.irq[vector], &n, 8) == 8;
}

/* A mailbox command; its status, and its value in *@value. */
static uint32_t cmd(uint32_t c, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t *value)
{
	w32(NPU_PCI_CMD, c);
	w32(NPU_PCI_CMD_ARG(0), a0);
	w32(NPU_PCI_CMD_ARG(1), a1);
	w32(NPU_PCI_CMD_ARG(2), a2);
	w32(NPU_PCI_CMD_SEQ, ++t.seq);
	ring(NPU_PCI_VEC_CTRL);
	assert_true(irq_within(NPU_PCI_VEC_CTRL, 5000));
	assert_int_equal(r32(NPU_PCI_ACK_SEQ), t.seq);
	if (value)
		*value = r32(NPU_PCI_ACK_VALUE);
	return r32(NPU_PCI_ACK_STATUS);
}

/* One message of the ivshmem server: its value, and its descriptor or -1. */
static int64_t recv_msg(int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	int64_t v = 0;
	struct iovec iov = { .iov_base = &v, .iov_len = sizeof(v) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm;

	assert_int_equal(recvmsg(t.conn, &msg, MSG_WAITALL), sizeof(v));
	*fd = -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return v;
}

/* Connect as QEMU does, and take what the handshake gives. */
static void connect_as_qemu(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd, v;

	strcpy(a.sun_path, t.sock);
	t.conn = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(t.conn, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(recv_msg(&fd), 0);	/* protocol version */
	assert_int_equal(recv_msg(&fd), 1);	/* our id */
	assert_int_equal(recv_msg(&fd), -1);	/* the window */
	assert_true(fd >= 0);
	t.win = mmap(NULL, NPU_PCI_WINDOW_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(t.win != MAP_FAILED);
	close(fd);
	for (v = 0; v < NPU_PCI_VECTORS; v++) {
		assert_int_equal(recv_msg(&t.doorbell[v]), 0);
		assert_true(t.doorbell[v] >= 0);
	}
	for (v = 0; v < NPU_PCI_VECTORS; v++) {
		assert_int_equal(recv_msg(&t.irq[v]), 1);
		assert_true(t.irq[v] >= 0);
	}
	t.seq = 0;
}

static void disconnect(void)
{
	int v;

	for (v = 0; v < NPU_PCI_VECTORS; v++) {
		close(t.doorbell[v]);
		close(t.irq[v]);
	}
	munmap(t.win, NPU_PCI_WINDOW_SIZE);
	close(t.conn);
}

/* Until the device process has put its magic in the window. */
static void wait_magic(uint32_t want)
{
	int i;

	for (i = 0; i < 500 && r32(NPU_PCI_ID) != want; i++)
		usleep(10000);
	assert_int_equal(r32(NPU_PCI_ID), want);
}

static uint64_t pt_page(void)
{
	uint64_t at = t.pt_next;

	t.pt_next += 4096;
	memset(t.ram + at, 0, 4096);
	return at;
}

/* Map device address @va to guest page @gpa in the table at @root. */
static void map_page(uint64_t root, uint64_t va, uint64_t gpa)
{
	uint64_t table = root;
	int level;

	for (level = 3; level > 0; level--) {
		uint64_t *e = (uint64_t *)(t.ram + table) + ((va >> (12 + 9 * level)) & 511);

		if (!(*e & NPU_PCI_PTE_VALID))
			*e = pt_page() | NPU_PCI_PTE_VALID;
		table = *e & NPU_PCI_PTE_ADDR;
	}
	((uint64_t *)(t.ram + table))[(va >> 12) & 511] = gpa | NPU_PCI_PTE_VALID |
							  NPU_PCI_PTE_WRITE;
}

static void boot(void)
{
	uint8_t *image;
	uint32_t abi = 0;
	size_t size;
	int c;

	image = (uint8_t *)t_read_file(getenv("NPU_FW_IMAGE"), &size);
	assert_non_null(image);
	memcpy(t.ram + FW_AT, image, size);
	free(image);
	for (c = 0; c < 2; c++) {
		w32(NPU_PCI_CORE(c) + NPU_PCI_RING_BASE_LO, (uint32_t)RING_AT(c));
		w32(NPU_PCI_CORE(c) + NPU_PCI_RING_BASE_HI, 0);
		w32(NPU_PCI_CORE(c) + NPU_PCI_CQ_BASE_LO, (uint32_t)CQ_AT(c));
		w32(NPU_PCI_CORE(c) + NPU_PCI_CQ_BASE_HI, 0);
		w32(NPU_PCI_CORE(c) + NPU_PCI_RING_TAIL, 0);
		w32(NPU_PCI_CORE(c) + NPU_PCI_CQ_HEAD, 0);
		t.tail[c] = t.cq_head[c] = 0;
	}
	assert_int_equal(cmd(NPU_PCI_CMD_BOOT, FW_AT, 0, (uint32_t)size, &abi), NPU_PCI_ACK_OK);
	assert_int_equal(abi >> 16, DRM_NPU_ABI_MAJOR);
	/* Slot SLOT: a table over BO_PAGES pages, scattered backwards in guest RAM. */
	t.pt_next = PT_AT;
	{
		uint64_t root = pt_page();
		int p;

		for (p = 0; p < BO_PAGES; p++)
			map_page(root, VA + p * 4096ull, DATA_AT + (BO_PAGES - 1 - p) * 8192ull);
		w32(NPU_PCI_CTX(SLOT) + NPU_PCI_CTX_TABLE_LO, (uint32_t)root);
		w32(NPU_PCI_CTX(SLOT) + NPU_PCI_CTX_TABLE_HI, 0);
		w32(NPU_PCI_CTX(SLOT) + NPU_PCI_CTX_VALID, 1);
	}
}

/* The guest address of device address @va in the slot's buffer. */
static uint8_t *bo(uint64_t va)
{
	uint64_t p = (va - VA) / 4096;

	return t.ram + DATA_AT + (BO_PAGES - 1 - p) * 8192ull + (va - VA) % 4096;
}

/*
 * Submit one entry on core @c and wait for its record: the record's status,
 * or -1 when none came within @ms.
 */
static int submit(int c, uint64_t tag, uint64_t stream, uint32_t size, uint32_t slot, int ms)
{
	uint8_t *e = t.ram + RING_AT(c) + (t.tail[c] % 16) * 32, *rec;
	uint32_t status;
	uint64_t got;

	memcpy(e, &tag, 8);
	memcpy(e + 8, &stream, 8);
	memcpy(e + 16, &size, 4);
	memcpy(e + 20, &slot, 4);
	memset(e + 24, 0, 8);
	w32(NPU_PCI_CORE(c) + NPU_PCI_RING_TAIL, ++t.tail[c]);
	ring((unsigned int)c);
	if (!irq_within((unsigned int)c, ms) ||
	    r32(NPU_PCI_CORE(c) + NPU_PCI_CQ_TAIL) == t.cq_head[c])
		return -1;
	rec = t.ram + CQ_AT(c) + (t.cq_head[c] % 16) * 32;
	memcpy(&got, rec, 8);
	memcpy(&status, rec + 8, 4);
	assert_int_equal(got, tag);
	w32(NPU_PCI_CORE(c) + NPU_PCI_CQ_HEAD, ++t.cq_head[c]);
	return (int)status;
}

/* A stream at the buffer's start copying 256 int32 from page 5 to page 11. */
static uint32_t copy_stream(void)
{
	struct drm_npu_cmd_header h = { .magic = DRM_NPU_CMD_MAGIC,
		.version_major = DRM_NPU_ABI_MAJOR, .version_minor = DRM_NPU_ABI_MINOR,
		.op_count = 1, .op_size = sizeof(struct drm_npu_op) };
	struct drm_npu_tensor tt = { .rows = 1, .cols = 256, .stride = 1024,
		.dtype = DRM_NPU_DTYPE_I32, .scale_mode = DRM_NPU_SCALE_TENSOR,
		.scale = { 1 << 30, 30 } };
	struct drm_npu_op op;
	uint8_t *p = bo(VA);

	memset(&op, 0, sizeof(op));
	op.opcode = DRM_NPU_OP_QUANTIZE;
	op.in[0] = tt;
	op.in[0].addr = VA + 5 * 4096;
	op.out = tt;
	op.out.addr = VA + 11 * 4096;
	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), &op, sizeof(op));
	return sizeof(h) + sizeof(op);
}

/* The device does a real job, right, through the table. */
static void a_job_works(int c)
{
	uint32_t size = copy_stream();
	int32_t *src = (int32_t *)bo(VA + 5 * 4096), *dst = (int32_t *)bo(VA + 11 * 4096);
	int i;

	for (i = 0; i < 256; i++) {
		src[i] = i * 7 - 900;
		dst[i] = 0;
	}
	assert_int_equal(submit(c, 1000 + t.tail[c], VA, size, SLOT, 5000), DRM_NPU_STATUS_OK);
	for (i = 0; i < 256; i++)
		assert_int_equal(dst[i], i * 7 - 900);
	assert_int_equal(cmd(NPU_PCI_CMD_NOP, 0, 0, 0, NULL), NPU_PCI_ACK_OK);
}

static void start(void **state)
{
	const char *devd = getenv("NPU_DEVD");
	int i, fd;

	(void)state;
	/* Built with the tests: its absence is a broken build, not a missing tool. */
	if (!devd || access(devd, X_OK))
		fail_msg("NPU_DEVD (%s) is not an executable npu-devd", devd ? devd : "unset");
	snprintf(t.ram_path, sizeof(t.ram_path), "/dev/shm/npu-test-ram-%d", (int)getpid());
	snprintf(t.sock, sizeof(t.sock), "/tmp/npu-test-devd-%d.sock", (int)getpid());
	fd = open(t.ram_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)RAM_SIZE), 0);
	t.ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(t.ram != MAP_FAILED);
	t.ram_fd = fd;
	t.pid = fork();
	if (!t.pid) {
		/*
		 * 64 GiB of addresses: two 1 TiB windows do not fit ThreadSanitizer's
		 * layout. Idle cores watch their rings 200 us before they sleep.
		 */
		execl(devd, devd, "--socket", t.sock, "--guest-ram", t.ram_path, "--cores", "2",
		      "--va-size", "64", "--poll", "200", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500 && access(t.sock, F_OK); i++)
		usleep(10000);
	connect_as_qemu();
	wait_magic(NPU_PCI_MAGIC);
	assert_int_equal(r32(NPU_PCI_CORE_COUNT), 2);
	assert_int_equal(r32(NPU_PCI_VER), NPU_PCI_VERSION);
	assert_int_equal(r32(NPU_PCI_VA_SIZE_GB), 64);
	boot();
}

static void job_through_scattered_pages(void **state)
{
	(void)state;
	a_job_works(0);
	a_job_works(1);
}

static void hostile_entries(void **state)
{
	uint32_t size = copy_stream();
	uint64_t root = (uint64_t)r32(NPU_PCI_CTX(SLOT) + NPU_PCI_CTX_TABLE_LO);

	(void)state;
	/* A slot out of range, and one never made valid: faults. */
	assert_int_equal(submit(0, 1, VA, size, 5000, 5000), DRM_NPU_STATUS_FAULT);
	assert_int_equal(submit(0, 2, VA, size, SLOT + 1, 5000), DRM_NPU_STATUS_FAULT);
	/* A stream outside the mapping, or past the address space. */
	assert_int_equal(submit(0, 3, VA + BO_PAGES * 4096ull, size, SLOT, 5000),
			 DRM_NPU_STATUS_FAULT);
	/* (The firmware may refuse a stream that wraps before translating it.) */
	assert_int_not_equal(submit(0, 4, ~0ull - 64, 128, SLOT, 5000), DRM_NPU_STATUS_OK);
	assert_int_equal(submit(0, 5, 4096, size, SLOT, 5000), DRM_NPU_STATUS_FAULT);
	/* Past the addresses the device reaches (--va-size 64). */
	assert_int_equal(submit(0, 8, VA + (64ull << 30), size, SLOT, 5000), DRM_NPU_STATUS_FAULT);
	/* A root table outside guest RAM, then unaligned. */
	w32(NPU_PCI_CTX(SLOT) + NPU_PCI_CTX_TABLE_HI, 0x7fff);
	assert_int_equal(submit(0, 6, VA, size, SLOT, 5000), DRM_NPU_STATUS_FAULT);
	w32(NPU_PCI_CTX(SLOT) + NPU_PCI_CTX_TABLE_HI, 0);
	w32(NPU_PCI_CTX(SLOT) + NPU_PCI_CTX_TABLE_LO, (uint32_t)root + 8);
	assert_int_equal(submit(0, 7, VA, size, SLOT, 5000), DRM_NPU_STATUS_FAULT);
	w32(NPU_PCI_CTX(SLOT) + NPU_PCI_CTX_TABLE_LO, (uint32_t)root);
	/* A ring tail far past its head: the ring is dropped, no record. */
	w32(NPU_PCI_CORE(1) + NPU_PCI_RING_TAIL, t.tail[1] + 1000);
	ring(1);
	assert_false(irq_within(1, 300));
	t.tail[1] += 1000;
	a_job_works(1);
	a_job_works(0);
}

static void hostile_tables(void **state)
{
	uint32_t size = copy_stream();
	uint64_t root = (uint64_t)r32(NPU_PCI_CTX(SLOT) + NPU_PCI_CTX_TABLE_LO);
	uint64_t *leaf_entry, save;
	int i, status, ok = 0, faults = 0;

	(void)state;
	/* The last level's entry for page 11 pointing past guest RAM. */
	leaf_entry = NULL;
	{
		uint64_t table = root, va = VA + 11 * 4096ull;
		int level;

		for (level = 3; level > 0; level--)
			table = ((uint64_t *)(t.ram + table))[(va >> (12 + 9 * level)) & 511] &
				NPU_PCI_PTE_ADDR;
		leaf_entry = (uint64_t *)(t.ram + table) + ((va >> 12) & 511);
	}
	save = *leaf_entry;
	*leaf_entry = (RAM_SIZE + 4096) | NPU_PCI_PTE_VALID | NPU_PCI_PTE_WRITE;
	assert_int_equal(submit(0, 10, VA, size, SLOT, 5000), DRM_NPU_STATUS_FAULT);
	/* Read-only: the output page refuses the write. */
	*leaf_entry = save & ~NPU_PCI_PTE_WRITE;
	assert_int_equal(submit(0, 11, VA, size, SLOT, 5000), DRM_NPU_STATUS_FAULT);
	/* The same address on another page: the job writes there, not to the old one. */
	{
		int32_t *moved = (int32_t *)(t.ram + DATA_AT + 64 * 8192);
		int32_t *src = (int32_t *)bo(VA + 5 * 4096), *old = (int32_t *)bo(VA + 11 * 4096);
		int k;

		for (k = 0; k < 256; k++) {
			src[k] = 3 * k + 1;
			old[k] = moved[k] = 0;
		}
		*leaf_entry = (DATA_AT + 64 * 8192) | NPU_PCI_PTE_VALID | NPU_PCI_PTE_WRITE;
		assert_int_equal(submit(1, 12, VA, size, SLOT, 5000), DRM_NPU_STATUS_OK);
		for (k = 0; k < 256; k++) {
			assert_int_equal(moved[k], 3 * k + 1);
			assert_int_equal(old[k], 0);
		}
	}
	*leaf_entry = save;
	/* Random entries everywhere in a second table (every level): never a crash. */
	srand(7);
	for (i = 0; i < 64; i++) {
		uint64_t r2 = pt_page(), *e = (uint64_t *)(t.ram + r2);
		int k;

		for (k = 0; k < 512; k++)
			e[k] = ((uint64_t)rand() << 33 ^ (uint64_t)rand() << 12) &
			       (i % 2 ? (RAM_SIZE - 1) : ~0ull);
		for (k = 0; k < 8; k++)
			e[k] = root ^ (uint64_t)k;
		w32(NPU_PCI_CTX(SLOT + 1) + NPU_PCI_CTX_TABLE_LO, (uint32_t)r2);
		w32(NPU_PCI_CTX(SLOT + 1) + NPU_PCI_CTX_VALID, 1);
		status = submit(i % 2, 100 + (uint64_t)i, VA + (uint64_t)(rand() % 64) * 4096,
				(uint32_t)rand() % 4096, SLOT + 1, 5000);
		assert_true(status >= 0);
		ok += status == DRM_NPU_STATUS_OK;
		faults += status == DRM_NPU_STATUS_FAULT;
	}
	printf("random tables: %d jobs ran, %d faulted, %d other statuses\n", ok, faults,
	       64 - ok - faults);
	a_job_works(0);
}

static void hostile_mailbox(void **state)
{
	uint32_t v;
	int i;

	(void)state;
	assert_int_equal(cmd(NPU_PCI_CMD_BOOT, FW_AT, 0, 4096, NULL), NPU_PCI_ACK_STATE);
	assert_int_equal(cmd(NPU_PCI_CMD_RESET, 2, 0, 0, NULL), NPU_PCI_ACK_BAD_CMD);
	assert_int_equal(cmd(NPU_PCI_CMD_LOCK, NPU_PCI_CTX_SLOTS, 0, 0, NULL), NPU_PCI_ACK_BAD_CMD);
	assert_int_equal(cmd(NPU_PCI_CMD_MISBEHAVE, 99, 0, 1, NULL), NPU_PCI_ACK_BAD_CMD);
	assert_int_equal(cmd(12345, 0, 0, 0, NULL), NPU_PCI_ACK_BAD_CMD);
	/* A reset answers with the new generation, and the core works after it. */
	assert_int_equal(cmd(NPU_PCI_CMD_RESET, 0, 0, 0, &v), NPU_PCI_ACK_OK);
	assert_int_equal(v, r32(NPU_PCI_CORE(0) + NPU_PCI_CORE_RESET_GEN));
	a_job_works(0);
	/* Images: outside RAM, empty, too large, garbage. */
	assert_int_equal(cmd(NPU_PCI_CMD_SHUTDOWN, 0, 0, 0, NULL), NPU_PCI_ACK_OK);
	assert_int_equal(cmd(NPU_PCI_CMD_BOOT, (uint32_t)RAM_SIZE - 16, 0, 4096, NULL),
			 NPU_PCI_ACK_BAD_ADDR);
	assert_int_equal(cmd(NPU_PCI_CMD_BOOT, 0, 1, 4096, NULL), NPU_PCI_ACK_BAD_ADDR);
	assert_int_equal(cmd(NPU_PCI_CMD_BOOT, FW_AT, 0, 0, NULL), NPU_PCI_ACK_BAD_IMAGE);
	assert_int_equal(cmd(NPU_PCI_CMD_BOOT, FW_AT, 0, 2u << 20, NULL), NPU_PCI_ACK_BAD_IMAGE);
	assert_int_equal(cmd(NPU_PCI_CMD_BOOT, DATA_AT, 0, 65536, NULL), NPU_PCI_ACK_BAD_IMAGE);
	assert_int_equal(cmd(NPU_PCI_CMD_RESET, 0, 0, 0, NULL), NPU_PCI_ACK_STATE);
	/* Random commands and arguments (no MISBEHAVE storms): an answer each. */
	srand(11);
	for (i = 0; i < 300; i++) {
		uint32_t c = (uint32_t)rand() % 10;

		if (c == NPU_PCI_CMD_MISBEHAVE || c == NPU_PCI_CMD_BOOT)
			continue;
		(void)cmd(c, (uint32_t)rand(), (uint32_t)rand(), (uint32_t)rand(), NULL);
	}
	cmd(NPU_PCI_CMD_SHUTDOWN, 0, 0, 0, NULL);
	boot();
	a_job_works(1);
}

static void device_killed_then_restarted(void **state)
{
	char path[64];
	pid_t child = 0;
	FILE *f;

	(void)state;
	/* The device process is the daemon's only child. */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)t.pid, (int)t.pid);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &child), 1);
	fclose(f);
	assert_int_equal(kill(child, SIGKILL), 0);
	wait_magic(0);
	/* Dead: the mailbox goes unanswered, nothing crashes. */
	w32(NPU_PCI_CMD_SEQ, ++t.seq);
	ring(NPU_PCI_VEC_CTRL);
	assert_false(irq_within(NPU_PCI_VEC_CTRL, 300));
	assert_int_equal(kill(t.pid, SIGHUP), 0);
	wait_magic(NPU_PCI_MAGIC);
	boot();
	a_job_works(0);
}

static void guest_reconnects_then_sigterm(void **state)
{
	int status;

	(void)state;
	disconnect();
	connect_as_qemu();
	wait_magic(NPU_PCI_MAGIC);
	boot();
	a_job_works(1);
	assert_int_equal(kill(t.pid, SIGTERM), 0);
	assert_int_equal(waitpid(t.pid, &status, 0), t.pid);
	t.pid = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	disconnect();
}

/* Each bad argument: exit status 2, and a first line naming it. */
static void bad_arguments(void **state)
{
	static const char *const cases[][3] = {
		{ "--cores", "9", "--cores 9: not a number from 1 to 8" },
		{ "--threads", "0", "--threads 0: not a number from 1 to 64" },
		{ "--va-size", "2048", "--va-size 2048: not a number of GiB from 1 to 1024" },
		{ "--slice", "255", "--slice 255: not a number from 256 to 2^30" },
		{ "--slice", "1x", "--slice 1x: not a number from 256 to 2^30" },
		{ "--poll", "10001", "--poll 10001: not a number of us from 0 to 10000" },
		{ "--poll", "", "--poll : not a number of us from 0 to 10000" },
		{ "--isa", "neon", "--isa neon: not a level" },
	};
	const char *devd = getenv("NPU_DEVD");
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char line[256] = "";
		int fd[2], status;
		ssize_t n;
		pid_t pid;

		assert_int_equal(pipe(fd), 0);
		pid = fork();
		if (!pid) {
			dup2(fd[1], 2);
			execl(devd, devd, "--socket", "/nonexistent/s", "--guest-ram", "/nonexistent/r",
			      cases[i][0], cases[i][1], (char *)NULL);
			_exit(127);
		}
		close(fd[1]);
		n = read(fd[0], line, sizeof(line) - 1);
		close(fd[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(n > 0);
		line[strcspn(line, "\n")] = 0;
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 2);
		assert_non_null(strstr(line, cases[i][2]));
	}
}

/* Whatever an earlier failure left: the daemon, its socket, the RAM file. */
static int cleanup(void **state)
{
	(void)state;
	if (t.pid > 0) {
		kill(t.pid, SIGKILL);
		waitpid(t.pid, NULL, 0);
	}
	if (t.ram) {
		munmap(t.ram, RAM_SIZE);
		close(t.ram_fd);
	}
	unlink(t.ram_path);
	unlink(t.sock);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(start),
		cmocka_unit_test(job_through_scattered_pages),
		cmocka_unit_test(hostile_entries),
		cmocka_unit_test(hostile_tables),
		cmocka_unit_test(hostile_mailbox),
		cmocka_unit_test(device_killed_then_restarted),
		cmocka_unit_test(guest_reconnects_then_sigterm),
		cmocka_unit_test(bad_arguments),
	};

	return cmocka_run_group_tests_name("devd", tests, NULL, cleanup);
}
