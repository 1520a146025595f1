/* SPDX-License-Identifier: MIT */
/*
 * The firmware's interface to whoever hosts it: the emulated NPU core in
 * npu.ko, libnpu's cpu backend, or the USB device. The firmware reaches
 * memory only through npu_fw_mem.translate(), so a host decides exactly
 * which device addresses a job may touch.
 */
#ifndef NPU_FW_H
#define NPU_FW_H

#include "npu_fw_image.h"
#include "../../uapi/drm/npu_accel.h"

/**
 * struct npu_fw_mem - the core's view of device memory (its MMU).
 * @translate: returns a host pointer to the device range [addr, addr + len)
 *	if the whole range is mapped (writable when @write), else NULL with
 *	*@fault_addr set to the first address that is not.
 * @ctx: passed back to @translate.
 */
struct npu_fw_mem {
	void *(*translate)(void *ctx, __u64 addr, __u64 len, int write,
			   __u64 *fault_addr);
	void *ctx;
};

/**
 * struct npu_fw_core - what a core needs to execute command streams.
 * @tables: from npu_fw_image_verify() of the booted image.
 * @mem: address translation of the submitting context.
 * @scratch: core-local working memory, 8-byte aligned.
 * @scratch_size: bytes of @scratch; bounds the row sizes an op may use.
 * @should_stop: optional; polled before each op runs: nonzero stops the
 *	stream with DRM_NPU_STATUS_CANCELLED (a reset of the core).
 * @stop_ctx: passed back to @should_stop.
 */
struct npu_fw_core {
	const struct npu_fw_tables *tables;
	struct npu_fw_mem mem;
	void *scratch;
	__u64 scratch_size;
	int (*should_stop)(void *stop_ctx);
	void *stop_ctx;
};

/**
 * struct npu_fw_result - outcome of a command stream.
 * @status: enum drm_npu_status.
 * @op_index: index of the op that failed (0 for header errors).
 * @fault_addr: the faulting device address for DRM_NPU_STATUS_FAULT.
 */
struct npu_fw_result {
	__u32 status;
	__u32 op_index;
	__u64 fault_addr;
};

/*
 * Validate the whole stream at @stream_addr, then run it op by op. Each op
 * is copied to core memory and validated again before it runs, so a stream
 * rewritten while in flight cannot bypass validation. Nothing runs if any
 * op is malformed; data-dependent failures (token ids, positions, scales
 * read from memory) stop the stream at the op that meets them.
 */
void npu_fw_exec(const struct npu_fw_core *core, __u64 stream_addr,
		 __u32 stream_size, struct npu_fw_result *res);

/* Scratch bytes of every core: the largest row an op may use (TOO_LARGE). */
#define NPU_FW_SCRATCH_SIZE (4u << 20)

#endif
