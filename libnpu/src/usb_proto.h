/* SPDX-License-Identifier: MIT */
/*
 * The USB NPU's wire protocol (docs/usb-protocol.md), shared by libnpu's
 * usb backend and tools/npu-usb-gadget. All fields are little-endian.
 */
#ifndef LIBNPU_USB_PROTO_H
#define LIBNPU_USB_PROTO_H

#include <stdint.h>

/* pid.codes' test ids: a product must bring its own. */
#define NPU_USB_VID 0x1209
#define NPU_USB_PID 0x0001
/* The NPU interface: vendor class, subclass 'N', protocol version 1. */
#define NPU_USB_CLASS 0xff
#define NPU_USB_SUBCLASS 0x4e
#define NPU_USB_PROTOCOL 0x01

#define NPU_USB_REQ_MAGIC 0x5155504eu	/* "NPUQ" */
#define NPU_USB_REPLY_MAGIC 0x5255504eu	/* "NPUR" */
#define NPU_USB_VERSION 1
#define NPU_USB_MAX_PAYLOAD (1u << 20)	/* bytes after one header */
#define NPU_USB_MAX_WRITES 4096u	/* ranges in one WAIT reply */
#define NPU_USB_MAX_WAIT_MS 100u	/* longest a WAIT blocks the link */
#define NPU_USB_PAGE 4096u		/* sync granularity of the host mirror */

enum npu_usb_cmd {
	NPU_USB_RESET = 1,	/* end the session: drain jobs, free all memory */
	NPU_USB_CAPS = 2,	/* -> struct npu_usb_caps */
	NPU_USB_ALLOC = 3,	/* u64 size -> u64 device address */
	NPU_USB_FREE = 4,	/* u64 address */
	NPU_USB_WRITE = 5,	/* u64 address, then the bytes */
	NPU_USB_READ = 6,	/* u64 address, u64 length -> the bytes */
	NPU_USB_SUBMIT = 7,	/* struct npu_usb_submit -> u64 seq */
	NPU_USB_WAIT = 8,	/* struct npu_usb_wait -> struct npu_usb_done + ranges */
};

/* Every frame: this header (one transfer), then @len payload bytes (one transfer). */
struct npu_usb_hdr {
	uint32_t magic;		/* NPU_USB_REQ_MAGIC or NPU_USB_REPLY_MAGIC */
	uint16_t version;	/* NPU_USB_VERSION */
	uint16_t cmd;		/* enum npu_usb_cmd; a reply echoes it */
	uint32_t tag;		/* chosen by the host, echoed by the reply */
	int32_t status;		/* reply: 0 or a negative npu_status; request: 0 */
	uint32_t len;		/* payload bytes, <= NPU_USB_MAX_PAYLOAD */
	uint32_t reserved;	/* 0 */
};

struct npu_usb_caps {
	uint16_t abi_major, abi_minor;		/* the command-stream ABI */
	uint16_t fw_abi_major, fw_abi_minor;
	uint32_t op_mask;
	uint32_t n_priorities;
	uint64_t va_size;
	uint64_t scratch_size;
	uint64_t mem_limit;		/* device memory the gadget grants */
	uint32_t max_payload;
	uint32_t max_writes;
	char name[64];
	char fw_build_id[32];
};

struct npu_usb_submit {
	uint64_t addr;		/* the stream's device address */
	uint32_t size;
	uint32_t prio;		/* enum npu_priority */
};

struct npu_usb_wait {
	uint64_t seq;
	uint32_t timeout_ms;	/* capped at NPU_USB_MAX_WAIT_MS */
	uint32_t reserved;
};

/* WAIT's reply: the job's result, then n_writes struct npu_usb_range. */
struct npu_usb_done {
	uint32_t status;	/* enum npu_job_status */
	uint32_t op_index;
	uint64_t fault_addr;
	uint32_t n_writes;
	uint32_t reserved;
};

/* A range the job's ops mapped for writing: the host reads it back. */
struct npu_usb_range {
	uint64_t addr, len;
};

_Static_assert(sizeof(struct npu_usb_hdr) == 24, "header layout");
_Static_assert(sizeof(struct npu_usb_caps) == 144, "caps layout");
_Static_assert(sizeof(struct npu_usb_done) == 24, "done layout");

#endif
