/* SPDX-License-Identifier: MIT */
/*
 * npu_accel.h - the DRM ioctls of the npu accel driver (/dev/accel/accelN).
 *
 * The command streams they submit are specified in npu_cmd.h, included
 * here; together the two headers are the ABI between npu.ko, its users and
 * the NPU firmware.
 *
 * Conventions: every struct has a fixed size padded to 64 bits, pointers
 * travel as __u64, and every pad, reserved and flags bit not defined here
 * must be zero (the kernel rejects anything else). Structs only ever grow
 * at the end; the size of an ioctl struct is encoded in its ioctl number.
 */
#ifndef _UAPI_DRM_NPU_ACCEL_H_
#define _UAPI_DRM_NPU_ACCEL_H_

#include "npu_cmd.h"

#if defined(__KERNEL__)
#include <drm/drm.h>
#else
#include "drm.h"
#endif

#if defined(__cplusplus)
extern "C" {
#endif

#define DRM_NPU_GET_CAPS	0x00
#define DRM_NPU_BO_CREATE	0x01
#define DRM_NPU_BO_INFO		0x02
#define DRM_NPU_SUBMIT		0x03
#define DRM_NPU_WAIT		0x04

/**
 * struct drm_npu_caps - DRM_IOCTL_NPU_GET_CAPS: what the device offers.
 * @abi_major: DRM_NPU_ABI_MAJOR of the driver.
 * @abi_minor: DRM_NPU_ABI_MINOR of the driver.
 * @fw_abi_major: ABI major of the loaded firmware image.
 * @fw_abi_minor: ABI minor of the loaded firmware image.
 * @op_mask: bit (1 << opcode) for each implemented op.
 * @n_cores: NPU cores serving the queues.
 * @n_priorities: submit priorities, 0 (low) .. n_priorities - 1 (high).
 * @va_size: size of each context's device address space, in bytes.
 * @scratch_size: scratch memory per core, in bytes (bounds op sizes).
 * @fw_build_id: NUL-terminated build id of the firmware image.
 */
struct drm_npu_caps {
	__u16 abi_major;
	__u16 abi_minor;
	__u16 fw_abi_major;
	__u16 fw_abi_minor;
	__u64 op_mask;
	__u32 n_cores;
	__u32 n_priorities;
	__u64 va_size;
	__u64 scratch_size;
	char fw_build_id[32];
};

/**
 * struct drm_npu_bo_create - DRM_IOCTL_NPU_BO_CREATE.
 * @size: in: bytes, > 0, at most 2 GiB; rounded up to the page size. The
 *	pages stay pinned while the buffer lives: -ENOMEM when the device's
 *	buffers would pin more than half of the system's RAM.
 * @flags: in: must be zero.
 * @handle: out: GEM handle.
 * @dev_addr: out: device address of the buffer in this file's address space.
 */
struct drm_npu_bo_create {
	__u64 size;
	__u32 flags;
	__u32 handle;
	__u64 dev_addr;
};

/**
 * struct drm_npu_bo_info - DRM_IOCTL_NPU_BO_INFO.
 * @handle: in: GEM handle (also an imported PRIME buffer).
 * @flags: in: must be zero.
 * @mmap_offset: out: offset to pass to mmap() on the device file.
 * @dev_addr: out: device address in this file's address space (mapping it
 *	first if it came through PRIME).
 * @size: out: bytes.
 */
struct drm_npu_bo_info {
	__u32 handle;
	__u32 flags;
	__u64 mmap_offset;
	__u64 dev_addr;
	__u64 size;
};

#define DRM_NPU_PRIO_LOW	0
#define DRM_NPU_PRIO_NORMAL	1
#define DRM_NPU_PRIO_HIGH	2

/**
 * struct drm_npu_submit - DRM_IOCTL_NPU_SUBMIT: queue a command stream.
 * @cmd_handle: in: GEM handle of the buffer holding the command stream.
 * @cmd_offset: in: byte offset of the stream in that buffer (8-aligned).
 * @cmd_size: in: byte size of the stream.
 * @priority: in: DRM_NPU_PRIO_*.
 * @bo_handles: in: user pointer to a __u32 array of GEM handles the
 *	stream's tensors live in (the command buffer is implied).
 * @bo_count: in: entries in bo_handles.
 * @in_syncobj_count: in: entries in in_syncobjs.
 * @in_syncobjs: in: user pointer to __u32 syncobj handles to wait for.
 * @out_syncobj: in: syncobj to signal when the job ends, or 0.
 * @flags: in: must be zero.
 * @job_id: out: id of the job, for DRM_IOCTL_NPU_WAIT.
 */
struct drm_npu_submit {
	__u32 cmd_handle;
	__u32 cmd_offset;
	__u32 cmd_size;
	__u32 priority;
	__u64 bo_handles;
	__u32 bo_count;
	__u32 in_syncobj_count;
	__u64 in_syncobjs;
	__u32 out_syncobj;
	__u32 flags;
	__u64 job_id;
};

/**
 * struct drm_npu_wait - DRM_IOCTL_NPU_WAIT: wait for a job, get its status.
 * @job_id: in: id from DRM_IOCTL_NPU_SUBMIT on this file.
 * @timeout_ns: in: absolute CLOCK_MONOTONIC deadline; 0 polls.
 * @status: out: enum drm_npu_status.
 * @op_index: out: index of the op that failed (valid when status != OK).
 * @fault_addr: out: faulting device address (DRM_NPU_STATUS_FAULT).
 * @flags: in: must be zero.
 * @pad: must be zero.
 */
struct drm_npu_wait {
	__u64 job_id;
	__s64 timeout_ns;
	__u32 status;
	__u32 op_index;
	__u64 fault_addr;
	__u32 flags;
	__u32 pad;
};

#define DRM_IOCTL_NPU_GET_CAPS \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_NPU_GET_CAPS, struct drm_npu_caps)
#define DRM_IOCTL_NPU_BO_CREATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_NPU_BO_CREATE, struct drm_npu_bo_create)
#define DRM_IOCTL_NPU_BO_INFO \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_NPU_BO_INFO, struct drm_npu_bo_info)
#define DRM_IOCTL_NPU_SUBMIT \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_NPU_SUBMIT, struct drm_npu_submit)
#define DRM_IOCTL_NPU_WAIT \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_NPU_WAIT, struct drm_npu_wait)

#if defined(__cplusplus)
}
#endif

#endif /* _UAPI_DRM_NPU_ACCEL_H_ */
