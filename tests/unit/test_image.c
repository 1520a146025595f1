// SPDX-License-Identifier: MIT
/*
 * The firmware image verifier. Every rejection reason gets a corrupted copy
 * of the built image that trips exactly that check: where the corruption is
 * behind the CRC check, the copy is re-sealed, so the CRC does not fire
 * first. Copies are allocated at their exact size, so a read past the
 * image is caught by ASan. Then what a booted image's caps decide: the ops
 * it runs, and (ABI 1.1) how a GGUF file's quantized matrices load.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <npu/llm.h>

#include "testlib.h"
#include "../../firmware/include/npu_fw_image.h"

struct img {
	uint8_t *buf;
	size_t size;
};

/* The built image, read by the first test that needs it. */
static struct img good;

/*
 * Read $NPU_FW_IMAGE or build/firmware/npu_fw.bin (tests run from the top
 * of the tree). A missing image fails the test: it is never skipped.
 */
static void need_good(void)
{
	const char *path = getenv("NPU_FW_IMAGE");
	long n = -1;
	FILE *f;

	if (good.buf)
		return;
	if (!path || !*path)
		path = "build/firmware/npu_fw.bin";
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open the firmware image %s (run from the top of the tree, "
			 "or set NPU_FW_IMAGE)", path);
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		fail_msg("cannot size the firmware image %s", path);
	}
	good.buf = malloc((size_t)n);
	assert_non_null(good.buf);
	if (fread(good.buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(good.buf);
		good.buf = NULL;
		fail_msg("cannot read the firmware image %s", path);
	}
	fclose(f);
	good.size = (size_t)n;
}

static struct npu_fw_header *hdr(struct img *im)
{
	return (struct npu_fw_header *)im->buf;
}

/* A copy of the good image in a buffer of exactly @size bytes. */
static struct img copy_sized(size_t size)
{
	struct img im;

	im.size = size;
	im.buf = calloc(1, size ? size : 1);
	assert_non_null(im.buf);
	memcpy(im.buf, good.buf, size < good.size ? size : good.size);
	return im;
}

static struct img copy_good(void)
{
	return copy_sized(good.size);
}

/* Recompute the CRC over the image as it now is, header fields included. */
static void reseal(struct img *im)
{
	hdr(im)->crc32 = 0;
	hdr(im)->crc32 = npu_fw_crc32(0, im->buf, im->size);
}

static const struct npu_fw_section *section(struct img *im, uint32_t id)
{
	uint32_t i;

	for (i = 0; i < hdr(im)->n_sections; i++)
		if (hdr(im)->sections[i].id == id)
			return &hdr(im)->sections[i];
	fail_msg("the good image has no section %u", id);
	return NULL;
}

static void *table(struct img *im, uint32_t id)
{
	return im->buf + section(im, id)->offset;
}

static void expect_verify_at(struct img *im, enum npu_fw_image_error err, int line)
{
	struct npu_fw_tables t;
	enum npu_fw_image_error got;

	memset(&t, 0, sizeof(t));
	got = npu_fw_image_verify(im->buf, im->size, &t);
	if (got != err) {
		print_error("line %d: verify gave %d (%s), want %d (%s)\n", line, got,
			    npu_fw_image_strerror(got), err, npu_fw_image_strerror(err));
		fail();
	}
}

/* Verify and free a corrupted copy. */
#define expect_reject(im, err) do { \
		expect_verify_at(&(im), (err), __LINE__); \
		free((im).buf); \
	} while (0)

/* ---- the good image ---------------------------------------------------- */

static void crc32_check_value(void **state)
{
	(void)state;
	/* The CRC-32 (IEEE 802.3) check value, and chaining over pieces. */
	assert_int_equal(npu_fw_crc32(0, "123456789", 9), 0xcbf43926u);
	assert_int_equal(npu_fw_crc32(npu_fw_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
	assert_int_equal(npu_fw_crc32(0, "", 0), 0);
}

static void good_image_verifies(void **state)
{
	struct npu_fw_header *h;
	struct npu_fw_tables t;
	struct img im;
	size_t n;

	(void)state;
	need_good();
	im = copy_good();
	h = hdr(&im);
	memset(&t, 0, sizeof(t));
	assert_int_equal(npu_fw_image_verify(im.buf, im.size, &t), NPU_FW_IMAGE_OK);
	assert_int_equal(h->image_size, im.size);
	assert_int_equal(h->header_size, sizeof(*h));

	/* The tables point into the image, at their sections. */
	assert_ptr_equal(t.exp2, table(&im, NPU_FW_SEC_EXP2));
	assert_ptr_equal(t.rsqrt, table(&im, NPU_FW_SEC_RSQRT));
	assert_ptr_equal(t.sin, table(&im, NPU_FW_SEC_SIN));
	assert_int_equal(t.exp2[0], 1u << 30);
	assert_int_equal(t.exp2[NPU_FW_EXP2_N - 1], 1u << 29);
	assert_int_equal(t.exp2[256 / 2], 759250125u);	/* round(2^30 * 2^-0.5) */
	assert_int_equal(t.rsqrt[0], 2114695713u);	/* round(2^33 / sqrt(16.5)) */
	assert_int_equal(t.sin[0], 0);
	assert_int_equal(t.sin[128], 11585);		/* round(2^14 * sin(pi / 4)) */
	assert_int_equal(t.sin[256], 1 << 14);
	assert_int_equal(t.sin[768], -(1 << 14));

	/* The caps: every op of this ABI, NOP included; ABI and build id. */
	assert_int_equal(t.op_mask, h->op_mask);
	assert_true(t.op_mask & (1ull << DRM_NPU_OP_NOP));
	assert_int_equal(t.op_mask >> DRM_NPU_OP_COUNT, 0);
	assert_int_equal(t.op_mask, (1ull << DRM_NPU_OP_COUNT) - 1);
	assert_int_equal(t.abi_major, DRM_NPU_ABI_MAJOR);
	assert_int_equal(t.abi_minor, h->abi_minor);
	assert_ptr_equal(t.build_id, h->build_id);
	n = strnlen(t.build_id, sizeof(h->build_id));
	assert_true(n > 0 && n < sizeof(h->build_id));
	free(im.buf);
}

/* A newer ABI minor is fine; the minor is reported. */
static void minor_version_accepted(void **state)
{
	struct npu_fw_tables t;
	struct img im;

	(void)state;
	need_good();
	im = copy_good();
	hdr(&im)->abi_minor = 0x7777;
	reseal(&im);
	assert_int_equal(npu_fw_image_verify(im.buf, im.size, &t), NPU_FW_IMAGE_OK);
	assert_int_equal(t.abi_minor, 0x7777);
	free(im.buf);
}

/* ---- one test per rejection reason ------------------------------------- */

static void reject_too_small(void **state)
{
	struct img im;

	(void)state;
	need_good();
	im = copy_sized(sizeof(struct npu_fw_header) - 1);
	expect_reject(im, NPU_FW_IMAGE_TOO_SMALL);
	im = copy_sized(0);
	expect_reject(im, NPU_FW_IMAGE_TOO_SMALL);
	im = copy_sized(20);
	expect_reject(im, NPU_FW_IMAGE_TOO_SMALL);
}

/* Larger than 1 MiB, although the header agrees and the CRC matches. */
static void reject_too_large(void **state)
{
	struct img im;

	(void)state;
	need_good();
	im = copy_sized(NPU_FW_MAX_IMAGE + 8);
	hdr(&im)->image_size = NPU_FW_MAX_IMAGE + 8;
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_TOO_LARGE);
	/* Exactly 1 MiB is allowed: the check that fails is the size field. */
	im = copy_sized(NPU_FW_MAX_IMAGE);
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_SIZE);
}

static void reject_bad_magic(void **state)
{
	struct img im;

	(void)state;
	need_good();
	im = copy_good();
	hdr(&im)->magic ^= 1;
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_MAGIC);
	im = copy_good();
	hdr(&im)->magic = DRM_NPU_CMD_MAGIC;	/* a command stream is no image */
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_MAGIC);
}

static void reject_bad_abi(void **state)
{
	struct img im;

	(void)state;
	need_good();
	im = copy_good();
	hdr(&im)->abi_major = DRM_NPU_ABI_MAJOR + 1;
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_ABI);
	im = copy_good();
	hdr(&im)->abi_major = 0;
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_ABI);
}

static void reject_bad_header_size(void **state)
{
	struct img im;

	(void)state;
	need_good();
	im = copy_good();
	hdr(&im)->header_size += 8;
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_HEADER_SIZE);
	im = copy_good();
	hdr(&im)->header_size = 0;
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_HEADER_SIZE);
}

/* The size in the header must be the size of what was loaded. */
static void reject_bad_size(void **state)
{
	struct img im;

	(void)state;
	need_good();
	im = copy_good();
	hdr(&im)->image_size += 8;
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_SIZE);
	im = copy_good();
	hdr(&im)->image_size -= 8;
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_SIZE);
	/* A truncated file, and one with bytes appended. */
	im = copy_sized(good.size - 8);
	expect_reject(im, NPU_FW_IMAGE_BAD_SIZE);
	im = copy_sized(good.size + 8);
	expect_reject(im, NPU_FW_IMAGE_BAD_SIZE);
}

static void reject_bad_crc(void **state)
{
	struct img im;
	uint32_t *exp2;

	(void)state;
	need_good();
	/* One bit of a table, the header fields behind the CRC, the CRC itself. */
	im = copy_good();
	exp2 = table(&im, NPU_FW_SEC_EXP2);
	exp2[100] ^= 1;
	expect_reject(im, NPU_FW_IMAGE_BAD_CRC);
	im = copy_good();
	im.buf[im.size - 1] ^= 0x80;
	expect_reject(im, NPU_FW_IMAGE_BAD_CRC);
	im = copy_good();
	hdr(&im)->op_mask &= ~(1ull << DRM_NPU_OP_ARGMAX);
	expect_reject(im, NPU_FW_IMAGE_BAD_CRC);
	im = copy_good();
	hdr(&im)->build_id[0] ^= 1;
	expect_reject(im, NPU_FW_IMAGE_BAD_CRC);
	im = copy_good();
	hdr(&im)->crc32 ^= 0x00010000u;
	expect_reject(im, NPU_FW_IMAGE_BAD_CRC);
	/* The CRC field is zero while the CRC is computed, not skipped. */
	im = copy_good();
	hdr(&im)->crc32 = npu_fw_crc32(0, im.buf, im.size);
	expect_reject(im, NPU_FW_IMAGE_BAD_CRC);
}

/* The op mask must name NOP and no opcode past the ABI's last. */
static void reject_bad_caps(void **state)
{
	struct img im;

	(void)state;
	need_good();
	im = copy_good();
	hdr(&im)->op_mask &= ~(1ull << DRM_NPU_OP_NOP);
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_CAPS);
	im = copy_good();
	hdr(&im)->op_mask |= 1ull << DRM_NPU_OP_COUNT;
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_CAPS);
	im = copy_good();
	hdr(&im)->op_mask |= 1ull << 63;
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_CAPS);
	im = copy_good();
	hdr(&im)->op_mask = 0;
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_CAPS);
}

static void reject_bad_build_id(void **state)
{
	struct img im;

	(void)state;
	need_good();
	im = copy_good();
	memset(hdr(&im)->build_id, 0, sizeof(hdr(&im)->build_id));
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_BUILD_ID);
	/* No NUL in the 32 bytes. */
	im = copy_good();
	memset(hdr(&im)->build_id, 'a', sizeof(hdr(&im)->build_id));
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_BUILD_ID);
	/* A control character, DEL, a byte with the high bit set. */
	im = copy_good();
	hdr(&im)->build_id[0] = '\n';
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_BUILD_ID);
	im = copy_good();
	hdr(&im)->build_id[0] = 0x7f;
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_BUILD_ID);
	im = copy_good();
	hdr(&im)->build_id[0] = (char)0xc3;
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_BUILD_ID);
	/* 31 printable characters and the NUL are fine. */
	im = copy_good();
	memset(hdr(&im)->build_id, '~', sizeof(hdr(&im)->build_id) - 1);
	hdr(&im)->build_id[sizeof(hdr(&im)->build_id) - 1] = 0;
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_OK);
}

static void reject_bad_section_count(void **state)
{
	struct img im;

	(void)state;
	need_good();
	im = copy_good();
	hdr(&im)->n_sections = 0;
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_SECTION_COUNT);
	im = copy_good();
	hdr(&im)->n_sections = NPU_FW_MAX_SECTIONS + 1;
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_SECTION_COUNT);
	im = copy_good();
	hdr(&im)->n_sections = 0xffffffffu;
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_BAD_SECTION_COUNT);
}

/* Corrupt one field of section @i (good image, re-sealed) and expect @err. */
#define expect_section(i, field, value, err) do { \
		struct img im_ = copy_good(); \
		hdr(&im_)->sections[i].field = (value); \
		reseal(&im_); \
		expect_verify_at(&im_, (err), __LINE__); \
		free(im_.buf); \
	} while (0)

static void reject_bad_section(void **state)
{
	const struct npu_fw_header *h;
	uint32_t last, past;

	(void)state;
	need_good();
	h = hdr(&good);
	last = h->n_sections - 1;
	/* The first 4-aligned offset that puts the last section past the end. */
	past = (uint32_t)((good.size - h->sections[last].size) & ~(size_t)3) + 4;
	assert_true(h->n_sections < NPU_FW_MAX_SECTIONS);
	expect_section(0, pad, 1, NPU_FW_IMAGE_BAD_SECTION);
	expect_section(0, offset, h->sections[0].offset + 2, NPU_FW_IMAGE_BAD_SECTION);
	expect_section(0, offset, 0, NPU_FW_IMAGE_BAD_SECTION);
	expect_section(0, offset, sizeof(*h) - 4, NPU_FW_IMAGE_BAD_SECTION);
	expect_section(0, size, h->sections[0].size - 4, NPU_FW_IMAGE_BAD_SECTION);
	expect_section(0, size, h->sections[0].size + 4, NPU_FW_IMAGE_BAD_SECTION);
	expect_section(0, size, 0, NPU_FW_IMAGE_BAD_SECTION);
	/* Unknown ids, whatever their size. */
	expect_section(1, id, 0, NPU_FW_IMAGE_BAD_SECTION);
	expect_section(1, id, NPU_FW_SEC_SIN + 1, NPU_FW_IMAGE_BAD_SECTION);
	expect_section(1, id, 40, NPU_FW_IMAGE_BAD_SECTION);
	expect_section(1, id, 0x80000000u, NPU_FW_IMAGE_BAD_SECTION);
	/* Past the end of the image, also by wrapping 32 bits. */
	expect_section(last, offset, past, NPU_FW_IMAGE_BAD_SECTION);
	expect_section(last, offset, 0xfffffffcu, NPU_FW_IMAGE_BAD_SECTION);
	/* An unused entry of the table that is not zero. */
	expect_section(last + 1, id, NPU_FW_SEC_EXP2, NPU_FW_IMAGE_BAD_SECTION);
	expect_section(NPU_FW_MAX_SECTIONS - 1, pad, 1, NPU_FW_IMAGE_BAD_SECTION);
	expect_section(NPU_FW_MAX_SECTIONS - 1, size, 4, NPU_FW_IMAGE_BAD_SECTION);
}

/* The good image plus a second EXP2 section, a copy of the table appended. */
static struct img copy_with_second_exp2(void)
{
	struct img im = copy_sized(good.size + 1032);
	struct npu_fw_header *h = hdr(&im);
	struct npu_fw_section *e = &h->sections[h->n_sections];

	*e = *section(&im, NPU_FW_SEC_EXP2);
	memcpy(im.buf + good.size, im.buf + e->offset, e->size);
	e->offset = (uint32_t)good.size;
	h->n_sections++;
	h->image_size = (uint32_t)im.size;
	reseal(&im);
	return im;
}

static void reject_dup_section(void **state)
{
	const struct npu_fw_header *h;
	struct img im;

	(void)state;
	need_good();
	h = hdr(&good);
	/* The same id twice. */
	im = copy_good();
	hdr(&im)->sections[1] = hdr(&im)->sections[0];
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_DUP_SECTION);
	im = copy_good();
	hdr(&im)->sections[hdr(&im)->n_sections] = hdr(&im)->sections[0];
	hdr(&im)->n_sections++;
	reseal(&im);
	expect_reject(im, NPU_FW_IMAGE_DUP_SECTION);
	/* The same id twice without overlap: the id check alone catches it. */
	im = copy_with_second_exp2();
	expect_reject(im, NPU_FW_IMAGE_DUP_SECTION);
	/* Two ids sharing bytes, either one first. */
	expect_section(1, offset, h->sections[0].offset + 4, NPU_FW_IMAGE_DUP_SECTION);
	expect_section(0, offset, h->sections[1].offset + 4, NPU_FW_IMAGE_DUP_SECTION);
}

static void reject_missing_section(void **state)
{
	uint32_t drop;

	(void)state;
	need_good();
	for (drop = 0; drop < hdr(&good)->n_sections; drop++) {
		struct img im = copy_good();
		struct npu_fw_header *h = hdr(&im);
		uint32_t i;

		for (i = drop; i + 1 < h->n_sections; i++)
			h->sections[i] = h->sections[i + 1];
		memset(&h->sections[h->n_sections - 1], 0, sizeof(h->sections[0]));
		h->n_sections--;
		reseal(&im);
		expect_reject(im, NPU_FW_IMAGE_MISSING_SECTION);
	}
}

/* Table contents the op kernels rely on. Each case is re-sealed. */
static void reject_bad_table(void **state)
{
	static const struct {
		uint32_t id;
		uint32_t index;
		int64_t value;
	} bad[] = {
		{ NPU_FW_SEC_EXP2, 0, (1 << 30) - 1 },
		{ NPU_FW_SEC_EXP2, NPU_FW_EXP2_N - 1, (1 << 29) + 1 },
		{ NPU_FW_SEC_EXP2, 100, -1 },		/* not decreasing: value of [99] */
		{ NPU_FW_SEC_RSQRT, 0, 1u << 31 },
		{ NPU_FW_SEC_RSQRT, NPU_FW_RSQRT_N - 1, (1 << 30) - 1 },
		{ NPU_FW_SEC_RSQRT, 10, -1 },		/* not decreasing */
		{ NPU_FW_SEC_SIN, 0, 1 },
		{ NPU_FW_SEC_SIN, 256, (1 << 14) - 1 },
		{ NPU_FW_SEC_SIN, NPU_FW_SIN_N - 1, -1 },
		{ NPU_FW_SEC_SIN, 300, (1 << 14) + 1 },
		{ NPU_FW_SEC_SIN, 700, -(1 << 14) - 1 },
	};
	size_t i;

	(void)state;
	need_good();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct img im = copy_good();
		void *tab = table(&im, bad[i].id);
		uint32_t k = bad[i].index;

		if (bad[i].id == NPU_FW_SEC_SIN) {
			((int16_t *)tab)[k] = (int16_t)bad[i].value;
		} else {
			uint32_t *u = tab;

			u[k] = bad[i].value < 0 ? u[k - 1] : (uint32_t)bad[i].value;
		}
		reseal(&im);
		expect_verify_at(&im, NPU_FW_IMAGE_BAD_TABLE, __LINE__);
		free(im.buf);
	}
}

/*
 * Found by fuzzing: an ordered rsqrt table far from 2^33 / sqrt(i + 16.5)
 * made Newton's steps diverge (fuzz_image-rsqrt-table-diverges.bin).
 */
static void reject_divergent_rsqrt(void **state)
{
	struct img im;
	uint32_t *u;
	int i;

	(void)state;
	need_good();
	im = copy_good();
	u = table(&im, NPU_FW_SEC_RSQRT);
	for (i = 0; i < NPU_FW_RSQRT_N; i++)
		u[i] = 0x7fffffffu - (uint32_t)i;
	reseal(&im);
	expect_verify_at(&im, NPU_FW_IMAGE_BAD_TABLE, __LINE__);
	free(im.buf);
}

static void strerror_texts(void **state)
{
	int i, j;

	(void)state;
	need_good();
	for (i = 0; i < NPU_FW_IMAGE_ERROR_COUNT; i++) {
		const char *a = npu_fw_image_strerror((enum npu_fw_image_error)i);

		assert_non_null(a);
		assert_true(strlen(a) > 0);
		for (j = 0; j < i; j++)
			assert_string_not_equal(a, npu_fw_image_strerror((enum npu_fw_image_error)j));
	}
	/* Out of range: still a text, not a crash. */
	assert_non_null(npu_fw_image_strerror(NPU_FW_IMAGE_ERROR_COUNT));
	assert_non_null(npu_fw_image_strerror((enum npu_fw_image_error)-1));
}

/* ---- the cpu backend boots only a good image ------------------------------- */

static char tmp_path[64];

static int unset_firmware(void **state)
{
	(void)state;
	unsetenv("NPU_FIRMWARE");
	if (tmp_path[0])
		unlink(tmp_path);
	tmp_path[0] = 0;
	return 0;
}

/* Write @im to a fresh temporary file and point NPU_FIRMWARE at it. */
static void use_image(const struct img *im)
{
	int fd;

	if (tmp_path[0])
		unlink(tmp_path);
	strcpy(tmp_path, "/tmp/npu_fw_test.XXXXXX");
	fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, im->buf, im->size), (ssize_t)im->size);
	assert_int_equal(close(fd), 0);
	assert_int_equal(setenv("NPU_FIRMWARE", tmp_path, 1), 0);
}

/* The cpu backend (NPU_DEVICE chooses only for "auto"): these tests are about its image. */
static int open_cpu(npu_device **dev)
{
	return npu_open("cpu", dev);
}

static void expect_open(int err, int line)
{
	npu_device *dev = NULL;
	int got = open_cpu(&dev);

	if (got != err) {
		print_error("line %d: npu_open gave %d (%s), want %d (%s)\n", line, got,
			    npu_strerror(got), err, npu_strerror(err));
		if (!got)
			npu_close(dev);
		fail();
	}
	if (!got) {
		assert_non_null(dev);
		npu_close(dev);
	}
}

static void open_rejects_bad_image(void **state)
{
	struct img im;

	(void)state;
	need_good();
	/* The good image from a file boots. */
	im = copy_good();
	use_image(&im);
	free(im.buf);
	expect_open(NPU_OK, __LINE__);
	/* A CRC error, and a re-sealed image with a bad table. */
	im = copy_good();
	im.buf[im.size - 8] ^= 1;
	use_image(&im);
	free(im.buf);
	expect_open(NPU_E_FIRMWARE, __LINE__);
	im = copy_good();
	((uint32_t *)table(&im, NPU_FW_SEC_EXP2))[0] = 0;
	reseal(&im);
	use_image(&im);
	free(im.buf);
	expect_open(NPU_E_FIRMWARE, __LINE__);
	/* Empty, and larger than any image may be. */
	im = copy_sized(0);
	use_image(&im);
	free(im.buf);
	expect_open(NPU_E_FIRMWARE, __LINE__);
	im = copy_sized(NPU_FW_MAX_IMAGE + 8);
	hdr(&im)->image_size = NPU_FW_MAX_IMAGE + 8;
	reseal(&im);
	use_image(&im);
	free(im.buf);
	expect_open(NPU_E_FIRMWARE, __LINE__);
}

static void open_missing_image(void **state)
{
	(void)state;
	need_good();
	assert_int_equal(setenv("NPU_FIRMWARE", "/nonexistent/npu/npu_fw.bin", 1), 0);
	expect_open(NPU_E_FIRMWARE, __LINE__);
	/* A directory is not an image either. */
	assert_int_equal(setenv("NPU_FIRMWARE", "/", 1), 0);
	expect_open(NPU_E_FIRMWARE, __LINE__);
	/* Unset, the built-in image boots. */
	unsetenv("NPU_FIRMWARE");
	expect_open(NPU_OK, __LINE__);
}

/* The booted image's caps reach npu_query, and its op mask gates opcodes. */
static void open_reports_image_caps(void **state)
{
	struct drm_npu_op op;
	struct npu_job_result r;
	struct npu_info info;
	npu_device *dev = NULL;
	struct t_buf a, b;
	struct img im;

	(void)state;
	need_good();
	im = copy_good();
	hdr(&im)->op_mask &= ~(1ull << DRM_NPU_OP_ARGMAX);
	hdr(&im)->abi_minor = 0x4242;
	memcpy(hdr(&im)->build_id, "caps-test", sizeof("caps-test"));
	reseal(&im);
	use_image(&im);
	free(im.buf);
	assert_int_equal(open_cpu(&dev), NPU_OK);
	assert_int_equal(npu_query(dev, &info), NPU_OK);
	assert_int_equal(info.op_mask, ((1ull << DRM_NPU_OP_COUNT) - 1) &
				       ~(1ull << DRM_NPU_OP_ARGMAX));
	assert_int_equal(info.fw_abi_major, DRM_NPU_ABI_MAJOR);
	assert_int_equal(info.fw_abi_minor, 0x4242);
	assert_string_equal(info.fw_build_id, "caps-test");

	/* An op the image lacks is an unsupported opcode; the others run. */
	a = t_alloc(dev, 64);
	b = t_alloc(dev, 64);
	memset(&op, 0, sizeof(op));
	op.opcode = DRM_NPU_OP_ARGMAX;
	op.in[0] = t_abi_tensor(a.addr, 1, 16, DRM_NPU_DTYPE_I8, DRM_NPU_SCALE_NONE,
				(struct npu_scale){ 0, 0 }, 0);
	op.out = t_abi_tensor(b.addr, 1, 1, DRM_NPU_DTYPE_I32, DRM_NPU_SCALE_NONE,
			      (struct npu_scale){ 0, 0 }, 0);
	assert_int_equal(t_run_ops(dev, (struct drm_npu_op[]){ { .opcode = DRM_NPU_OP_NOP }, op },
				   2, &r), DRM_NPU_STATUS_BAD_OPCODE);
	assert_int_equal(r.op_index, 1);
	op.opcode = DRM_NPU_OP_QUANTIZE;
	op.out = t_abi_tensor(b.addr, 1, 16, DRM_NPU_DTYPE_I8, DRM_NPU_SCALE_TENSOR,
			      (struct npu_scale){ 1 << 30, 30 }, 0);
	op.in[0].scale_mode = DRM_NPU_SCALE_TENSOR;
	op.in[0].scale = op.out.scale;
	assert_int_equal(t_run_ops(dev, &op, 1, &r), DRM_NPU_STATUS_OK);
	npu_close(dev);
}

/*
 * Firmware of ABI 1.1 has no SCALE_BLOCK weights: a GGUF file's quantized
 * matrices are then requantized to w8, and said so; asked for as they are
 * (native), they are refused with the cause.
 */
static void old_image_quantized_gguf(void **state)
{
	struct npu_llm_model_params p = { .weights = "native" };
	char path[] = "/tmp/npu_q8_test.XXXXXX", err[256] = "";
	struct npu_llm_model_info info;
	struct npu_tokenizer tok;
	npu_device *dev = NULL;
	npu_llm_model *m = NULL;
	struct npu_model host;
	struct img im;
	int fd;

	(void)state;
	need_good();
	im = copy_good();
	hdr(&im)->abi_minor = 1;
	reseal(&im);
	use_image(&im);
	free(im.buf);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(npu_model_synthetic("tiny", 5, &host, err, sizeof(err)), NPU_OK);
	assert_int_equal(npu_tokenizer_bytes(host.cfg.vocab_size, &tok), NPU_OK);
	assert_int_equal(npu_model_save_gguf(path, &host, &tok, NPU_GGUF_Q8_0, err, sizeof(err)),
			 NPU_OK);
	npu_tokenizer_free(&tok);
	npu_model_free(&host);
	assert_int_equal(open_cpu(&dev), NPU_OK);
	assert_int_equal(npu_llm_model_load(dev, path, NULL, &m, err, sizeof(err)), NPU_OK);
	npu_llm_model_info(m, &info);
	assert_string_equal(info.weights, "w8");
	assert_non_null(strstr(info.weight_note, "the device's firmware speaks ABI 1.1, and a "
			       "GGUF file's quantized matrices need 1.2: requantized to w8"));
	npu_llm_model_free(m);
	assert_int_equal(npu_llm_model_load(dev, path, &p, &m, err, sizeof(err)),
			 NPU_E_UNSUPPORTED);
	assert_non_null(strstr(err, "weights native: the device's firmware speaks ABI 1.1;"));
	npu_close(dev);
	unlink(path);
}

#define T(name) cmocka_unit_test_teardown(name, unset_firmware)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(crc32_check_value),
		T(good_image_verifies),
		T(minor_version_accepted),
		T(reject_too_small),
		T(reject_too_large),
		T(reject_bad_magic),
		T(reject_bad_abi),
		T(reject_bad_header_size),
		T(reject_bad_size),
		T(reject_bad_crc),
		T(reject_bad_caps),
		T(reject_bad_build_id),
		T(reject_bad_section_count),
		T(reject_bad_section),
		T(reject_dup_section),
		T(reject_missing_section),
		T(reject_bad_table),
		T(reject_divergent_rsqrt),
		T(strerror_texts),
		T(open_rejects_bad_image),
		T(open_missing_image),
		T(open_reports_image_caps),
		T(old_image_quantized_gguf),
	};

	int failed = cmocka_run_group_tests_name("image", tests, NULL, NULL);

	free(good.buf);
	return failed;
}
