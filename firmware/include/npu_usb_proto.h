/* SPDX-License-Identifier: MIT */
/*
 * The USB NPU's wire protocol (docs/usb-protocol.md): its device interface,
 * as uapi/drm/npu_accel.h is the PCI NPU's. Both sides build from it:
 * libnpu's usb backend and tools/npu-usb-gadget. All fields are little-endian.
 */
#ifndef NPU_USB_PROTO_H
#define NPU_USB_PROTO_H

#include <assert.h>
#include <linux/types.h>

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
#define NPU_USB_MAX_PAYLOAD 0x100000u	/* bytes after one header: 1 MiB */
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
	__u32 magic;		/* NPU_USB_REQ_MAGIC or NPU_USB_REPLY_MAGIC */
	__u16 version;	/* NPU_USB_VERSION */
	__u16 cmd;		/* enum npu_usb_cmd; a reply echoes it */
	__u32 tag;		/* chosen by the host, echoed by the reply */
	__s32 status;		/* reply: 0 or a negative npu_status; request: 0 */
	__u32 len;		/* payload bytes, <= NPU_USB_MAX_PAYLOAD */
	__u32 reserved;	/* 0 */
};

struct npu_usb_caps {
	__u16 abi_major, abi_minor;		/* the command-stream ABI */
	__u16 fw_abi_major, fw_abi_minor;
	__u32 op_mask;
	__u32 n_priorities;
	__u64 va_size;
	__u64 scratch_size;
	__u64 mem_limit;		/* device memory the gadget grants */
	__u32 max_payload;
	__u32 max_writes;
	char name[64];
	char fw_build_id[32];
};

struct npu_usb_submit {
	__u64 addr;		/* the stream's device address */
	__u32 size;
	__u32 prio;		/* enum npu_priority */
};

struct npu_usb_wait {
	__u64 seq;
	__u32 timeout_ms;	/* capped at NPU_USB_MAX_WAIT_MS */
	__u32 reserved;
};

/* WAIT's reply: the job's result, then n_writes struct npu_usb_range. */
struct npu_usb_done {
	__u32 status;	/* enum npu_job_status */
	__u32 op_index;
	__u64 fault_addr;
	__u32 n_writes;
	__u32 reserved;
};

/* A range the job's ops mapped for writing: the host reads it back. */
struct npu_usb_range {
	__u64 addr, len;
};

static_assert(sizeof(struct npu_usb_hdr) == 24, "header layout");
static_assert(sizeof(struct npu_usb_caps) == 144, "caps layout");
static_assert(sizeof(struct npu_usb_done) == 24, "done layout");

#endif
