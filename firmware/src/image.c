// SPDX-License-Identifier: MIT
/* The firmware image: CRC-32 and the verifier every host runs before boot. */
#include "../include/npu_fw.h"

__u32 npu_fw_crc32(__u32 crc, const void *buf, __u64 len)
{
	const __u8 *p = buf;
	__u64 i;
	int b;

	crc = ~crc;
	for (i = 0; i < len; i++) {
		crc ^= p[i];
		for (b = 0; b < 8; b++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

static const char *const image_errors[NPU_FW_IMAGE_ERROR_COUNT] = {
	[NPU_FW_IMAGE_OK] = "ok",
	[NPU_FW_IMAGE_TOO_SMALL] = "image smaller than its header",
	[NPU_FW_IMAGE_TOO_LARGE] = "image larger than 1 MiB",
	[NPU_FW_IMAGE_BAD_MAGIC] = "bad magic (not an NPU firmware image)",
	[NPU_FW_IMAGE_BAD_ABI] = "unsupported ABI major version",
	[NPU_FW_IMAGE_BAD_HEADER_SIZE] = "header size does not match",
	[NPU_FW_IMAGE_BAD_SIZE] = "image size in header does not match the file",
	[NPU_FW_IMAGE_BAD_CRC] = "CRC-32 mismatch",
	[NPU_FW_IMAGE_BAD_CAPS] = "capability mask names unknown ops or lacks NOP",
	[NPU_FW_IMAGE_BAD_BUILD_ID] = "build id not a NUL-terminated printable string",
	[NPU_FW_IMAGE_BAD_SECTION_COUNT] = "section count out of range",
	[NPU_FW_IMAGE_BAD_SECTION] = "section out of bounds, misaligned, unknown or wrongly sized",
	[NPU_FW_IMAGE_DUP_SECTION] = "section present twice or overlapping another",
	[NPU_FW_IMAGE_MISSING_SECTION] = "a required table section is missing",
	[NPU_FW_IMAGE_BAD_TABLE] = "a table's contents are out of range",
};

const char *npu_fw_image_strerror(enum npu_fw_image_error err)
{
	if ((unsigned int)err >= NPU_FW_IMAGE_ERROR_COUNT)
		return "unknown firmware image error";
	return image_errors[err];
}

static __u32 section_bytes(__u32 id)
{
	switch (id) {
	case NPU_FW_SEC_EXP2:
		return NPU_FW_EXP2_N * 4;
	case NPU_FW_SEC_RSQRT:
		return NPU_FW_RSQRT_N * 4;
	case NPU_FW_SEC_SIN:
		return NPU_FW_SIN_N * 2;
	default:
		return 0;
	}
}

/* Contents the op kernels rely on for their range arguments. */
static int tables_sane(const struct npu_fw_tables *t)
{
	int i;

	if (t->exp2[0] != (1u << 30) || t->exp2[NPU_FW_EXP2_N - 1] != (1u << 29))
		return 0;
	for (i = 1; i < NPU_FW_EXP2_N; i++)
		if (t->exp2[i] >= t->exp2[i - 1])
			return 0;
	/*
	 * rsqrt[i] ~ 2^33 / sqrt(i + 16.5), i.e. rsqrt[i]^2 * (2i + 33) ~ 2^67;
	 * within 1/16 of it Newton's steps converge (fw_rsqrt).
	 */
	for (i = 0; i < NPU_FW_RSQRT_N; i++) {
		__uint128_t v = (__uint128_t)t->rsqrt[i] * t->rsqrt[i] * (2 * i + 33);
		__uint128_t want = (__uint128_t)1 << 67, tol = (__uint128_t)1 << 63;

		if (t->rsqrt[i] < (1u << 30) || t->rsqrt[i] >= (1u << 31) ||
		    (i && t->rsqrt[i] >= t->rsqrt[i - 1]) || v > want + tol || v < want - tol)
			return 0;
	}
	for (i = 0; i < NPU_FW_SIN_N; i++)
		if (t->sin[i] > (1 << 14) || t->sin[i] < -(1 << 14))
			return 0;
	return t->sin[0] == 0 && t->sin[256] == (1 << 14) && t->sin[NPU_FW_SIN_N - 1] == 0;
}

enum npu_fw_image_error npu_fw_image_verify(const void *image, __u64 size,
					    struct npu_fw_tables *t)
{
	const __u8 *img = image;
	const struct npu_fw_header *h = image;
	__u32 crc, seen = 0, i, j;
	const char zero4[4] = { 0, 0, 0, 0 };

	if (size < sizeof(*h))
		return NPU_FW_IMAGE_TOO_SMALL;
	if (size > NPU_FW_MAX_IMAGE)
		return NPU_FW_IMAGE_TOO_LARGE;
	if (h->magic != NPU_FW_MAGIC)
		return NPU_FW_IMAGE_BAD_MAGIC;
	if (h->abi_major != DRM_NPU_ABI_MAJOR)
		return NPU_FW_IMAGE_BAD_ABI;
	if (h->header_size != sizeof(*h))
		return NPU_FW_IMAGE_BAD_HEADER_SIZE;
	if (h->image_size != size)
		return NPU_FW_IMAGE_BAD_SIZE;
	crc = npu_fw_crc32(0, img, 16);
	crc = npu_fw_crc32(crc, zero4, 4);
	crc = npu_fw_crc32(crc, img + 20, size - 20);
	if (crc != h->crc32)
		return NPU_FW_IMAGE_BAD_CRC;
	if (!(h->op_mask & 1) || (h->op_mask >> DRM_NPU_OP_COUNT))
		return NPU_FW_IMAGE_BAD_CAPS;
	for (i = 0; i < sizeof(h->build_id) && h->build_id[i]; i++)
		if (h->build_id[i] < 0x20 || h->build_id[i] > 0x7e)
			return NPU_FW_IMAGE_BAD_BUILD_ID;
	if (i == 0 || i == sizeof(h->build_id))
		return NPU_FW_IMAGE_BAD_BUILD_ID;
	if (h->n_sections == 0 || h->n_sections > NPU_FW_MAX_SECTIONS)
		return NPU_FW_IMAGE_BAD_SECTION_COUNT;

	for (i = 0; i < NPU_FW_MAX_SECTIONS; i++) {
		const struct npu_fw_section *s = &h->sections[i];

		if (i >= h->n_sections) {
			if (s->id || s->offset || s->size || s->pad)
				return NPU_FW_IMAGE_BAD_SECTION;
			continue;
		}
		if (s->pad || s->offset % 4 || s->offset < sizeof(*h) ||
		    s->size != section_bytes(s->id) || s->size == 0 ||
		    (__u64)s->offset + s->size > size)
			return NPU_FW_IMAGE_BAD_SECTION;
		if (seen & (1u << s->id))
			return NPU_FW_IMAGE_DUP_SECTION;
		seen |= 1u << s->id;
		for (j = 0; j < i; j++) {
			const struct npu_fw_section *o = &h->sections[j];

			if (s->offset < o->offset + o->size && o->offset < s->offset + s->size)
				return NPU_FW_IMAGE_DUP_SECTION;
		}
		if (s->id == NPU_FW_SEC_EXP2)
			t->exp2 = (const __u32 *)(img + s->offset);
		else if (s->id == NPU_FW_SEC_RSQRT)
			t->rsqrt = (const __u32 *)(img + s->offset);
		else
			t->sin = (const __s16 *)(img + s->offset);
	}
	if (seen != ((1u << NPU_FW_SEC_EXP2) | (1u << NPU_FW_SEC_RSQRT) | (1u << NPU_FW_SEC_SIN)))
		return NPU_FW_IMAGE_MISSING_SECTION;
	if (!tables_sane(t))
		return NPU_FW_IMAGE_BAD_TABLE;
	t->op_mask = h->op_mask;
	t->abi_major = h->abi_major;
	t->abi_minor = h->abi_minor;
	t->build_id = h->build_id;
	return NPU_FW_IMAGE_OK;
}
