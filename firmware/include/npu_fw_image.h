/* SPDX-License-Identifier: MIT */
/*
 * The firmware image npu_fw.bin: a header, then the sections (the tables
 * the op kernels read). All fields little-endian. The build writes it with
 * tools/mkfw; the kernel, libnpu's cpu backend and the USB device verify it
 * with npu_fw_image_verify() before booting a core with it.
 */
#ifndef NPU_FW_IMAGE_H
#define NPU_FW_IMAGE_H

#include <linux/types.h>

#define NPU_FW_MAGIC 0x5746504eu /* the bytes "NPFW" */
#define NPU_FW_MAX_SECTIONS 8
#define NPU_FW_MAX_IMAGE 0x100000u	/* 1 MiB */

/**
 * enum npu_fw_section_id - the tables an image carries, one section each.
 * @NPU_FW_SEC_EXP2: __u32[NPU_FW_EXP2_N]: round(2^30 * 2^(-i/256)).
 * @NPU_FW_SEC_RSQRT: __u32[NPU_FW_RSQRT_N]: round(2^33 / sqrt(i + 16.5)).
 * @NPU_FW_SEC_SIN: __s16[NPU_FW_SIN_N]: round(2^14 * sin(2 pi i / 1024)).
 */
enum npu_fw_section_id {
	NPU_FW_SEC_EXP2 = 1,
	NPU_FW_SEC_RSQRT = 2,
	NPU_FW_SEC_SIN = 3,
};

#define NPU_FW_EXP2_N 257
#define NPU_FW_RSQRT_N 48
#define NPU_FW_SIN_N 1025

/**
 * struct npu_fw_section - where one table lives in the image.
 * @id: enum npu_fw_section_id; each id appears once.
 * @offset: byte offset from the start of the image, 4-aligned, past the
 *	header.
 * @size: bytes; exactly what the id's table needs.
 * @pad: zero.
 */
struct npu_fw_section {
	__u32 id;
	__u32 offset;
	__u32 size;
	__u32 pad;
};

/**
 * struct npu_fw_header - first bytes of npu_fw.bin.
 * @magic: NPU_FW_MAGIC.
 * @abi_major: command-stream ABI major the image implements; must equal
 *	the host's DRM_NPU_ABI_MAJOR.
 * @abi_minor: ABI minor it implements.
 * @header_size: sizeof(struct npu_fw_header).
 * @image_size: size of the whole image in bytes.
 * @crc32: CRC-32 (IEEE 802.3) of the whole image computed with this field
 *	set to zero.
 * @n_sections: sections used, 1..NPU_FW_MAX_SECTIONS.
 * @op_mask: bit (1 << opcode) per op the image implements.
 * @build_id: NUL-terminated printable build identifier.
 * @sections: the section table; unused entries are zero.
 */
struct npu_fw_header {
	__u32 magic;
	__u16 abi_major;
	__u16 abi_minor;
	__u32 header_size;
	__u32 image_size;
	__u32 crc32;
	__u32 n_sections;
	__u64 op_mask;
	char build_id[32];
	struct npu_fw_section sections[NPU_FW_MAX_SECTIONS];
};

/**
 * enum npu_fw_image_error - why npu_fw_image_verify() rejected an image;
 * npu_fw_image_strerror() says it in words.
 * @NPU_FW_IMAGE_OK: not rejected.
 * @NPU_FW_IMAGE_TOO_SMALL: smaller than its header.
 * @NPU_FW_IMAGE_TOO_LARGE: larger than NPU_FW_MAX_IMAGE.
 * @NPU_FW_IMAGE_BAD_MAGIC: magic is not NPU_FW_MAGIC.
 * @NPU_FW_IMAGE_BAD_ABI: abi_major is not DRM_NPU_ABI_MAJOR.
 * @NPU_FW_IMAGE_BAD_HEADER_SIZE: header_size is not the header's size.
 * @NPU_FW_IMAGE_BAD_SIZE: image_size is not the size given.
 * @NPU_FW_IMAGE_BAD_CRC: crc32 does not match.
 * @NPU_FW_IMAGE_BAD_CAPS: op_mask lacks NOP or names unknown opcodes.
 * @NPU_FW_IMAGE_BAD_BUILD_ID: build_id empty, unterminated or unprintable.
 * @NPU_FW_IMAGE_BAD_SECTION_COUNT: n_sections out of range.
 * @NPU_FW_IMAGE_BAD_SECTION: a section out of bounds, misaligned, of an
 *	unknown id or the wrong size, or an unused entry not zero.
 * @NPU_FW_IMAGE_DUP_SECTION: a section id twice, or overlapping sections.
 * @NPU_FW_IMAGE_MISSING_SECTION: a table's section is missing.
 * @NPU_FW_IMAGE_BAD_TABLE: a table's contents are out of the range the op
 *	kernels rely on.
 * @NPU_FW_IMAGE_ERROR_COUNT: number of codes; not a code.
 */
enum npu_fw_image_error {
	NPU_FW_IMAGE_OK = 0,
	NPU_FW_IMAGE_TOO_SMALL,
	NPU_FW_IMAGE_TOO_LARGE,
	NPU_FW_IMAGE_BAD_MAGIC,
	NPU_FW_IMAGE_BAD_ABI,
	NPU_FW_IMAGE_BAD_HEADER_SIZE,
	NPU_FW_IMAGE_BAD_SIZE,
	NPU_FW_IMAGE_BAD_CRC,
	NPU_FW_IMAGE_BAD_CAPS,
	NPU_FW_IMAGE_BAD_BUILD_ID,
	NPU_FW_IMAGE_BAD_SECTION_COUNT,
	NPU_FW_IMAGE_BAD_SECTION,
	NPU_FW_IMAGE_DUP_SECTION,
	NPU_FW_IMAGE_MISSING_SECTION,
	NPU_FW_IMAGE_BAD_TABLE,
	NPU_FW_IMAGE_ERROR_COUNT
};

/**
 * struct npu_fw_tables - a verified image, pointing into the image itself.
 * @exp2: the NPU_FW_SEC_EXP2 table.
 * @rsqrt: the NPU_FW_SEC_RSQRT table.
 * @sin: the NPU_FW_SEC_SIN table.
 * @op_mask: the header's op_mask.
 * @abi_major: the header's abi_major.
 * @abi_minor: the header's abi_minor.
 * @build_id: the header's build_id.
 */
struct npu_fw_tables {
	const __u32 *exp2;
	const __u32 *rsqrt;
	const __s16 *sin;
	__u64 op_mask;
	__u16 abi_major;
	__u16 abi_minor;
	const char *build_id;
};

/**
 * npu_fw_crc32() - CRC-32 (IEEE 802.3), continued over more bytes.
 * @crc: the CRC of the bytes before @buf; 0 to start.
 * @buf: the bytes.
 * @len: bytes at @buf.
 *
 * Return: the CRC of the bytes before @buf followed by @buf.
 */
__u32 npu_fw_crc32(__u32 crc, const void *buf, __u64 len);

/**
 * npu_fw_image_verify() - check an image before a core boots it.
 * @image: the whole image, aligned as struct npu_fw_header.
 * @size: its size in bytes.
 * @tables: set to the image's tables when it is accepted.
 *
 * Every field of the header, every section and every table's range is
 * checked: what is accepted here, the op kernels can run with.
 *
 * Return: NPU_FW_IMAGE_OK, or the first reason to reject the image.
 */
enum npu_fw_image_error npu_fw_image_verify(const void *image, __u64 size,
					    struct npu_fw_tables *tables);

/**
 * npu_fw_image_strerror() - a rejection in words.
 * @err: a code of npu_fw_image_verify().
 *
 * Return: a static string, also for a code out of range.
 */
const char *npu_fw_image_strerror(enum npu_fw_image_error err);

#endif
