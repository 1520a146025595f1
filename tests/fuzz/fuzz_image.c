// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: firmware images through npu_fw_image_verify().
 *
 * Each input is verified as it is, then again as a copy whose image_size
 * and crc32 fields are fixed up, so that the checks behind the CRC are
 * reached too. When an image verifies:
 *  - every table entry is read (and summed) through the returned pointers,
 *    which must lie inside the image, as must the build id;
 *  - the firmware's table-driven functions (firmware/src/fixed.h) run over
 *    a sweep of arguments with those tables, and their documented result
 *    ranges are checked: what the verifier accepts, the op kernels must be
 *    able to use.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../firmware/include/npu_fw.h"
#include "../../firmware/src/fixed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void __attribute__((noreturn)) fail(const char *what)
{
	fprintf(stderr, "fuzz_image: invariant violated: %s\n", what);
	abort();
}

static int inside(const void *p, size_t len, const uint8_t *img, size_t size)
{
	const uint8_t *b = p;

	return b >= img && len <= size && (size_t)(b - img) <= size - len;
}

/*
 * docs/numerics.md and fixed.h: fw_rsqrt gives 1/sqrt(x) = r * 2^-e "with
 * 2^30 <= r <= 2^31", and the verifier's table checks "keep the kernels'
 * range arguments true" (not the tables' exact values). The bounds hold to
 * a few units only (Newton's truncation gives r = 2^30 - 1 just below
 * powers of four with the real table; a slightly different table that
 * verifies, a few more), so what is checked is that r is not far outside:
 * that the two Newton steps did not diverge.
 */
static void check_rsqrt(__u32 r)
{
	if (r < (1u << 29) || r > (1u << 31) + (1u << 29))
		fail("fw_rsqrt: r far outside [2^30, 2^31] with a verified rsqrt table");
}

/* The documented ranges of the table-driven functions, over a sweep. */
static void check_functions(const struct npu_fw_tables *t)
{
	static const __s64 sig_x[] = {
		0, 1, -1, 1 << 16, -(1 << 16), 5 << 16, -(5 << 16), 40ll << 16, -(40ll << 16),
		0x7fffffffll, -0x7fffffffll, 1ll << 40, -(1ll << 40),
	};
	__u64 u, x;
	__u32 r, turns;
	__s32 e, s, c;
	int i;

	for (u = 0; u < (34ull << 16); u += 0x1234)
		if (fw_exp2_neg_q16(t, u) > (1u << 30))
			fail("fw_exp2_neg_q16 above 2^30");
	if (fw_exp2_neg_q16(t, 0) != (1u << 30))
		fail("fw_exp2_neg_q16(0) is not 2^30 (softmax relies on it)");
	for (i = 0; i < (int)(sizeof(sig_x) / sizeof(sig_x[0])); i++)
		if (fw_sigmoid_q30(t, sig_x[i]) > (1u << 30))
			fail("fw_sigmoid_q30 above 2^30");
	for (i = 0; i < 1024; i++) {
		/* Every table slot, at some fraction within it. */
		turns = (__u32)i << 22 | ((__u32)i * 2654435761u) >> 10;
		fw_sincos_q14(t, turns, &s, &c);
		if (s > (1 << 14) || s < -(1 << 14) || c > (1 << 14) || c < -(1 << 14))
			fail("fw_sincos_q14 outside [-2^14, 2^14]");
	}
	for (i = 0; i < 64; i++) {
		for (x = (1ull << i) - 1; x <= (1ull << i) + 1 && x >= (1ull << i) - 1; x++) {
			fw_rsqrt(t, x, &r, &e);
			check_rsqrt(r);
		}
		x = (1ull << i) | ((1ull << i) - 1) / 3;
		fw_rsqrt(t, x, &r, &e);
		check_rsqrt(r);
	}
	/* Every table slot: u >> 56 runs over 16..63. */
	for (x = 1ull << 56; x < (1ull << 58); x += 1ull << 50) {
		fw_rsqrt(t, x, &r, &e);
		check_rsqrt(r);
	}
}

static void check_ok(const uint8_t *img, size_t size, const struct npu_fw_tables *t)
{
	const struct npu_fw_header *h = (const struct npu_fw_header *)img;
	__u64 sum = 0;
	size_t len;
	int i;

	if (size < sizeof(*h) || size > NPU_FW_MAX_IMAGE)
		fail("an image of impossible size verified");
	if (!inside(t->exp2, NPU_FW_EXP2_N * sizeof(*t->exp2), img, size) ||
	    !inside(t->rsqrt, NPU_FW_RSQRT_N * sizeof(*t->rsqrt), img, size) ||
	    !inside(t->sin, NPU_FW_SIN_N * sizeof(*t->sin), img, size))
		fail("a table pointer is outside the image");
	if ((uintptr_t)t->exp2 % 4 || (uintptr_t)t->rsqrt % 4 || (uintptr_t)t->sin % 2)
		fail("a table is misaligned");
	if ((const uint8_t *)t->exp2 < img + sizeof(*h) ||
	    (const uint8_t *)t->rsqrt < img + sizeof(*h) ||
	    (const uint8_t *)t->sin < img + sizeof(*h))
		fail("a table overlaps the header");
	for (i = 0; i < NPU_FW_EXP2_N; i++)
		sum += t->exp2[i];
	for (i = 0; i < NPU_FW_RSQRT_N; i++)
		sum += t->rsqrt[i];
	for (i = 0; i < NPU_FW_SIN_N; i++)
		sum += (__u64)(__s64)t->sin[i];
	/* exp2[0] = 2^30 and sin[256] = 2^14 in any verified image. */
	if (sum == 0)
		fail("verified tables sum to zero");
	if (!inside(t->build_id, 32, img, size))
		fail("build_id is outside the image");
	len = strnlen(t->build_id, 32);
	if (len == 0 || len == 32)
		fail("build_id is empty or not NUL-terminated");
	if (t->abi_major != DRM_NPU_ABI_MAJOR || !(t->op_mask & 1) ||
	    (t->op_mask >> DRM_NPU_OP_COUNT))
		fail("verified header fields out of range");
	check_functions(t);
}

static void verify(const uint8_t *img, size_t size)
{
	struct npu_fw_tables t;
	enum npu_fw_image_error e;
	const char *msg;

	memset(&t, 0, sizeof(t));
	e = npu_fw_image_verify(img, size, &t);
	if ((unsigned int)e >= NPU_FW_IMAGE_ERROR_COUNT)
		fail("npu_fw_image_verify returned an unknown error");
	msg = npu_fw_image_strerror(e);
	if (!msg || !*msg)
		fail("an error without a message");
	if (e == NPU_FW_IMAGE_OK)
		check_ok(img, size, &t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct npu_fw_header h;
	uint8_t *copy;

	/* The image is read in place: give it the alignment a loader would. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	verify(copy, size);

	if (size >= sizeof(h) && size <= NPU_FW_MAX_IMAGE) {
		memcpy(&h, copy, sizeof(h));
		h.image_size = (__u32)size;
		h.crc32 = 0;
		memcpy(copy, &h, sizeof(h));
		h.crc32 = npu_fw_crc32(0, copy, size);
		memcpy(copy, &h, sizeof(h));
		verify(copy, size);
	}
	free(copy);
	return 0;
}
