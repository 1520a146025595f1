/* SPDX-License-Identifier: MIT */
/* The host-side command stream, shared by the encoders and submission. */
#ifndef LIBNPU_CMD_H
#define LIBNPU_CMD_H

#include "internal.h"

struct npu_cmd {
	npu_device *dev;
	struct drm_npu_op *ops;
	uint32_t n_ops, cap_ops;
	int prio;
	int profile;		/* npu_cmd_set_profile: the slots' buffer */
	npu_bo profile_bo;
	uint64_t profile_offset;
	int err;		/* the first encoder error: later ops are refused with it */
};

#endif
