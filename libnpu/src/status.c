// SPDX-License-Identifier: MIT
/* Status texts: library errors (negative) and job statuses (positive). */
#include "internal.h"

static const char *const lib_errors[] = {
	[0] = "success",
	[-NPU_E_INVAL] = "invalid argument",
	[-NPU_E_NOMEM] = "out of host memory",
	[-NPU_E_NODEV] = "no such backend or device",
	[-NPU_E_HANDLE] = "stale or unknown buffer handle",
	[-NPU_E_XDEV] = "object belongs to another device",
	[-NPU_E_RANGE] = "offset or size outside the buffer",
	[-NPU_E_NOSPC] = "device address space or job queue exhausted",
	[-NPU_E_TIMEOUT] = "timed out",
	[-NPU_E_JOB] = "job failed",
	[-NPU_E_FIRMWARE] = "firmware image missing or invalid",
	[-NPU_E_IO] = "device I/O error",
	[-NPU_E_EXPIRED] = "job result no longer retained",
	[-NPU_E_UNSUPPORTED] = "operation not supported by the device",
	[-NPU_E_BUSY] = "object in use",
	[-NPU_E_FORMAT] = "malformed model or tokenizer file",
	[-NPU_E_GONE] = "the device went away (unplugged or reset); reopen it",
};

static const char *const job_statuses[] = {
	[DRM_NPU_STATUS_OK] = "success",
	[DRM_NPU_STATUS_BAD_HEADER] = "job: malformed command stream header",
	[DRM_NPU_STATUS_BAD_VERSION] = "job: unsupported command stream version",
	[DRM_NPU_STATUS_BAD_OPCODE] = "job: unknown or unsupported opcode",
	[DRM_NPU_STATUS_BAD_FLAGS] = "job: undefined op flag set",
	[DRM_NPU_STATUS_BAD_RESERVED] = "job: reserved or padding field not zero",
	[DRM_NPU_STATUS_BAD_DTYPE] = "job: element type not allowed for this operand",
	[DRM_NPU_STATUS_BAD_SHAPE] = "job: operand shapes do not match",
	[DRM_NPU_STATUS_BAD_STRIDE] = "job: stride shorter than a row or misaligned",
	[DRM_NPU_STATUS_BAD_ALIGN] = "job: misaligned address",
	[DRM_NPU_STATUS_BAD_QPARAM] = "job: invalid scale or quantization parameter",
	[DRM_NPU_STATUS_OVERFLOW] = "job: size arithmetic overflows",
	[DRM_NPU_STATUS_ALIAS] = "job: output overlaps an input",
	[DRM_NPU_STATUS_TOO_LARGE] = "job: op needs more core scratch memory than the core has",
	[DRM_NPU_STATUS_FAULT] = "job: device memory fault",
	[DRM_NPU_STATUS_INDEX] = "job: token id outside the embedding table",
	[DRM_NPU_STATUS_RANGE] = "job: position outside the KV cache",
	[DRM_NPU_STATUS_TIMEOUT] = "job: timed out",
	[DRM_NPU_STATUS_CANCELLED] = "job: cancelled",
};

const char *npu_strerror(int status)
{
	if (status <= 0 && -status < (int)(sizeof(lib_errors) / sizeof(lib_errors[0])))
		return lib_errors[-status];
	if (status > 0 && status < (int)(sizeof(job_statuses) / sizeof(job_statuses[0])))
		return job_statuses[status];
	return "unknown status";
}

static const char *const op_names[DRM_NPU_OP_COUNT] = {
	[DRM_NPU_OP_NOP] = "NOP",
	[DRM_NPU_OP_MATMUL] = "MATMUL",
	[DRM_NPU_OP_RMSNORM] = "RMSNORM",
	[DRM_NPU_OP_LAYERNORM] = "LAYERNORM",
	[DRM_NPU_OP_SOFTMAX] = "SOFTMAX",
	[DRM_NPU_OP_SILU] = "SILU",
	[DRM_NPU_OP_GELU] = "GELU",
	[DRM_NPU_OP_ADD] = "ADD",
	[DRM_NPU_OP_MUL] = "MUL",
	[DRM_NPU_OP_ROPE] = "ROPE",
	[DRM_NPU_OP_ATTENTION] = "ATTENTION",
	[DRM_NPU_OP_KV_APPEND] = "KV_APPEND",
	[DRM_NPU_OP_EMBEDDING] = "EMBEDDING",
	[DRM_NPU_OP_QUANTIZE] = "QUANTIZE",
	[DRM_NPU_OP_ARGMAX] = "ARGMAX",
};

const char *npu_op_name(unsigned int opcode)
{
	return opcode < DRM_NPU_OP_COUNT ? op_names[opcode] : NULL;
}
