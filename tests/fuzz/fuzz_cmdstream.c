// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: command streams through the firmware's npu_fw_exec(),
 * with a fake MMU over a few host buffers (input format and address space:
 * fuzz_cmdstream.h).
 *
 * Beyond ASan and UBSan, it checks:
 *  - the result: status < DRM_NPU_STATUS_COUNT; op_index 0 on success and
 *    below the header's op_count otherwise; fault_addr only for FAULT, and
 *    then exactly what the MMU last reported; FAULT iff the MMU refused;
 *  - that the firmware touches only what it translated: every buffer is
 *    ASan-poisoned and each translated range unpoisoned as it is handed
 *    out; the scratch (FUZZ_F_SMALL_SCRATCH) ends at an ASan redzone;
 *  - "nothing runs if any op is malformed": after a validation error
 *    (one that no data read at run time can cause) every data buffer
 *    still holds its initial contents.
 *
 * Environment: NPU_FW_IMAGE (default build/firmware/npu_fw.bin), the image
 * whose tables the firmware uses; NPU_FUZZ_VERBOSE=1 prints each result.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../firmware/include/npu_fw.h"
#include "fuzz_cmdstream.h"

#if defined(__has_include)
#if __has_include(<sanitizer/asan_interface.h>)
#include <sanitizer/asan_interface.h>
#endif
#endif
#ifndef ASAN_POISON_MEMORY_REGION
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { R_STREAM, R_A, R_B, R_C, N_REGIONS };

struct region {
	__u64 addr;
	__u8 *host;
	__u64 size;
	int writable;
};

struct mmu {
	struct region r[N_REGIONS];
	unsigned int faults;
	__u64 last_fault;
};

struct stopper {
	unsigned int calls, fire_at;
};

static struct npu_fw_tables tables;
static __u8 *image;
static __u8 *buf[3];		/* A, B, C */
static __u8 *pattern;		/* initial B and C with FUZZ_F_PATTERN */
static __u8 *scratch;		/* NPU_FW_SCRATCH_SIZE bytes */
static int verbose;

static void __attribute__((noreturn)) die(const char *what)
{
	fprintf(stderr, "fuzz_cmdstream: %s\n", what);
	abort();
}

static void load_image(void)
{
	const char *path = getenv("NPU_FW_IMAGE");
	enum npu_fw_image_error e;
	long n;
	FILE *f;

	if (!path || !*path)
		path = "build/firmware/npu_fw.bin";
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "fuzz_cmdstream: cannot open the firmware image %s "
			"(build it with make, or set NPU_FW_IMAGE)\n", path);
		abort();
	}
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) <= 0 || n > (long)NPU_FW_MAX_IMAGE ||
	    fseek(f, 0, SEEK_SET))
		die("firmware image: empty, unreadable or larger than 1 MiB");
	image = malloc((size_t)n);
	if (!image || fread(image, 1, (size_t)n, f) != (size_t)n)
		die("firmware image: read error");
	fclose(f);
	e = npu_fw_image_verify(image, (__u64)n, &tables);
	if (e != NPU_FW_IMAGE_OK) {
		fprintf(stderr, "fuzz_cmdstream: %s does not verify: %s\n", path,
			npu_fw_image_strerror(e));
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint64_t lcg = 0x9e3779b97f4a7c15ull;
	size_t i;

	(void)argc;
	(void)argv;
	load_image();
	for (i = 0; i < 3; i++) {
		buf[i] = malloc(FUZZ_BUF_SIZE);
		if (!buf[i])
			die("out of memory");
	}
	pattern = malloc(FUZZ_BUF_SIZE);
	scratch = malloc(NPU_FW_SCRATCH_SIZE);
	if (!pattern || !scratch)
		die("out of memory");
	/*
	 * Every 8-aligned unit is a valid normalized scale (shift 0..40), so
	 * SCALE_ROW reads succeed; as int8/int16 data the bytes look random.
	 */
	for (i = 0; i < FUZZ_BUF_SIZE; i += 8) {
		uint32_t mult, shift;

		lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
		mult = (1u << 30) | (uint32_t)(lcg >> 34);
		shift = (uint32_t)(lcg >> 20) % 41;
		memcpy(pattern + i, &mult, 4);
		memcpy(pattern + i + 4, &shift, 4);
	}
	verbose = getenv("NPU_FUZZ_VERBOSE") && atoi(getenv("NPU_FUZZ_VERBOSE"));
	return 0;
}

/* The MMU: a range must lie inside one region; writes need a writable one. */
static void *translate(void *ctx, __u64 addr, __u64 len, int write, __u64 *fault_addr)
{
	struct mmu *m = ctx;
	__u64 fault = addr;
	int i;

	for (i = 0; i < N_REGIONS; i++) {
		const struct region *r = &m->r[i];
		__u64 off = addr - r->addr;

		if (!r->size || addr < r->addr || off >= r->size)
			continue;
		if (len > r->size - off) {
			fault = r->addr + r->size;
			break;
		}
		if (write && !r->writable)
			break;
		ASAN_UNPOISON_MEMORY_REGION(r->host + off, len);
		return r->host + off;
	}
	m->faults++;
	m->last_fault = fault;
	*fault_addr = fault;
	return NULL;
}

static int should_stop(void *ctx)
{
	struct stopper *s = ctx;

	return s->calls++ == s->fire_at;
}

/* Statuses only validation produces (pass 0: before any op runs). */
static int validation_error(__u32 st)
{
	switch (st) {
	case DRM_NPU_STATUS_BAD_HEADER:
	case DRM_NPU_STATUS_BAD_VERSION:
	case DRM_NPU_STATUS_BAD_OPCODE:
	case DRM_NPU_STATUS_BAD_FLAGS:
	case DRM_NPU_STATUS_BAD_RESERVED:
	case DRM_NPU_STATUS_BAD_DTYPE:
	case DRM_NPU_STATUS_BAD_SHAPE:
	case DRM_NPU_STATUS_BAD_STRIDE:
	case DRM_NPU_STATUS_BAD_ALIGN:
	case DRM_NPU_STATUS_OVERFLOW:
	case DRM_NPU_STATUS_ALIAS:
	case DRM_NPU_STATUS_TOO_LARGE:
	case DRM_NPU_STATUS_FAULT:
		return 1;
	default:
		/* BAD_QPARAM, RANGE: scales and positions read at run time too. */
		return 0;
	}
}

/* memcmp, not a loop: the harness's own loops would be traced for coverage. */
static int all_zero(const __u8 *p, size_t n)
{
	static const __u8 zero[FUZZ_BUF_SIZE];

	return memcmp(p, zero, n) == 0;
}

static void __attribute__((noreturn)) fail(const char *what,
					    const struct npu_fw_result *res)
{
	fprintf(stderr, "fuzz_cmdstream: invariant violated: %s (status %u, op_index %u, "
		"fault_addr 0x%llx)\n", what, res->status, res->op_index,
		(unsigned long long)res->fault_addr);
	abort();
}

/* A clock for stream profiles that advances on every read. */
static __u64 fake_clock(void *unused)
{
	static __u64 now;

	(void)unused;
	return now += 1000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mmu m;
	struct stopper stop = { 0, 0 };
	struct npu_fw_core core;
	struct npu_fw_result res;
	struct drm_npu_cmd_header h;
	__u8 flags, *stream;
	size_t in_len, stream_len, tail_len = 0, scratch_size = NPU_FW_SCRATCH_SIZE;
	__u32 exec_size, op_count = 0;
	const __u8 *in, *tail = NULL;
	int i;

	if (size < FUZZ_PREFIX)
		return 0;
	flags = data[0];
	in = data + FUZZ_PREFIX;
	in_len = size - FUZZ_PREFIX;

	/* The stream, in a buffer of exactly its size. */
	if (flags & FUZZ_F_PATCH) {
		__u32 op_size = sizeof(struct drm_npu_op) + 8u * (flags >> FUZZ_F_EXTRA_SHIFT);

		op_count = (data[1] & 0x1f) + 1u;
		stream_len = sizeof(h) + (size_t)op_count * op_size;
		stream = calloc(1, stream_len);
		if (!stream)
			return 0;
		memcpy(stream, in, in_len < stream_len ? in_len : stream_len);
		memcpy(&h, stream, sizeof(h));
		h.magic = DRM_NPU_CMD_MAGIC;
		h.version_major = DRM_NPU_ABI_MAJOR;
		h.op_count = op_count;
		h.op_size = op_size;
		/* A profile, when asked for, lands in or just past buffer C. */
		if (h.profile_addr)
			h.profile_addr = FUZZ_C_ADDR + h.profile_addr % (FUZZ_BUF_SIZE + 64);
		memcpy(stream, &h, sizeof(h));
		if (in_len > stream_len) {
			tail = in + stream_len;
			tail_len = in_len - stream_len;
			if (tail_len > FUZZ_BUF_SIZE)
				tail_len = FUZZ_BUF_SIZE;
		}
		exec_size = (__u32)stream_len;
	} else {
		stream_len = in_len;
		stream = malloc(stream_len ? stream_len : 1);
		if (!stream)
			return 0;
		if (in_len)
			memcpy(stream, in, in_len);
		if (in_len >= sizeof(h)) {
			memcpy(&h, stream, sizeof(h));
			op_count = h.op_count;
		}
		exec_size = (__u32)stream_len;
		if (flags & (1u << FUZZ_F_EXTRA_SHIFT))
			exec_size += 256;
	}

	/* Data buffers: A from the tail, B and C zero or the pattern. */
	for (i = 0; i < 3; i++)
		ASAN_UNPOISON_MEMORY_REGION(buf[i], FUZZ_BUF_SIZE);
	memset(buf[0], 0, FUZZ_BUF_SIZE);
	if (tail_len)
		memcpy(buf[0], tail, tail_len);
	for (i = 1; i < 3; i++) {
		if (flags & FUZZ_F_PATTERN)
			memcpy(buf[i], pattern, FUZZ_BUF_SIZE);
		else
			memset(buf[i], 0, FUZZ_BUF_SIZE);
	}

	memset(&m, 0, sizeof(m));
	m.r[R_STREAM] = (struct region){ FUZZ_STREAM_ADDR, stream, stream_len,
					 !!(flags & FUZZ_F_RW_STREAM) };
	m.r[R_A] = (struct region){ FUZZ_A_ADDR, buf[0], FUZZ_BUF_SIZE, 1 };
	m.r[R_B] = (struct region){ FUZZ_B_ADDR, buf[1], FUZZ_BUF_SIZE, 1 };
	m.r[R_C] = (struct region){ FUZZ_C_ADDR, buf[2], FUZZ_BUF_SIZE, 1 };
	for (i = 0; i < N_REGIONS; i++)
		ASAN_POISON_MEMORY_REGION(m.r[i].host, m.r[i].size);

	memset(&core, 0, sizeof(core));
	core.tables = &tables;
	core.mem.translate = translate;
	core.mem.ctx = &m;
	core.scratch = scratch;
	if (flags & FUZZ_F_SMALL_SCRATCH) {
		/* The scratch ends where the allocation does: overruns hit the redzone. */
		scratch_size = 8 * (1 + (size_t)(data[2] | data[3] << 8));
		core.scratch = scratch + NPU_FW_SCRATCH_SIZE - scratch_size;
		ASAN_POISON_MEMORY_REGION(scratch, NPU_FW_SCRATCH_SIZE - scratch_size);
	}
	core.scratch_size = scratch_size;
	core.clock_ns = fake_clock;
	if (flags & FUZZ_F_CANCEL) {
		stop.fire_at = data[1] >> 5;
		core.should_stop = should_stop;
		core.stop_ctx = &stop;
	}

	memset(&res, 0xa5, sizeof(res));
	npu_fw_exec(&core, FUZZ_STREAM_ADDR, exec_size, &res);

	for (i = 0; i < 3; i++)
		ASAN_UNPOISON_MEMORY_REGION(buf[i], FUZZ_BUF_SIZE);
	ASAN_UNPOISON_MEMORY_REGION(stream, stream_len);
	ASAN_UNPOISON_MEMORY_REGION(scratch, NPU_FW_SCRATCH_SIZE);
	if (verbose)
		fprintf(stderr, "status %u op_index %u fault_addr 0x%llx (mmu faults %u)\n",
			res.status, res.op_index, (unsigned long long)res.fault_addr, m.faults);

	if (res.status >= DRM_NPU_STATUS_COUNT)
		fail("status out of range", &res);
	if (res.status == DRM_NPU_STATUS_OK && res.op_index)
		fail("op_index set on success", &res);
	if (res.op_index && res.op_index >= op_count)
		fail("op_index not below the header's op_count", &res);
	if (res.op_index >= DRM_NPU_CMD_MAX_OPS)
		fail("op_index past DRM_NPU_CMD_MAX_OPS", &res);
	if (res.status != DRM_NPU_STATUS_FAULT && res.fault_addr)
		fail("fault_addr set without FAULT", &res);
	if (res.status == DRM_NPU_STATUS_FAULT && (!m.faults || res.fault_addr != m.last_fault))
		fail("FAULT whose address the MMU did not report", &res);
	if (res.status != DRM_NPU_STATUS_FAULT && m.faults)
		fail("the MMU refused a range but the stream did not fault", &res);
	if (res.status == DRM_NPU_STATUS_CANCELLED && !(flags & FUZZ_F_CANCEL))
		fail("CANCELLED without should_stop", &res);
	if (!(flags & FUZZ_F_RW_STREAM) && validation_error(res.status)) {
		const __u8 *init = flags & FUZZ_F_PATTERN ? pattern : NULL;

		if ((tail_len && memcmp(buf[0], tail, tail_len)) ||
		    !all_zero(buf[0] + tail_len, FUZZ_BUF_SIZE - tail_len))
			fail("a malformed stream wrote to buffer A", &res);
		for (i = 1; i < 3; i++)
			if (init ? memcmp(buf[i], init, FUZZ_BUF_SIZE) != 0 :
				   !all_zero(buf[i], FUZZ_BUF_SIZE))
				fail("a malformed stream wrote to buffer B or C", &res);
	}
	free(stream);
	return 0;
}
