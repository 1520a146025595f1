/* SPDX-License-Identifier: MIT */
/*
 * libnpu - submit quantized transformer ops to an NPU.
 *
 * Objects:
 *  - npu_device: an opened NPU behind one backend ("cpu", later "accel",
 *    "usb"). All other objects belong to one device.
 *  - npu_bo: a buffer in device memory, named by a 64-bit handle. Handles
 *    are values, not pointers: a stale or foreign handle is detected and
 *    rejected, never dereferenced. A freed buffer's handle stays dead: it
 *    is never handed out again, however many buffers come after it.
 *  - npu_tensor: a description of a 2-D tensor inside buffers (a value).
 *  - npu_cmd: a command stream being encoded on the host.
 *  - npu_graph: a command stream uploaded once and launched many times.
 *  - npu_fence: the handle of a submitted job; wait on it for its result.
 *    A fence names its device too: another device refuses it.
 *
 * Every function returns NPU_OK (0) or a negative enum npu_status;
 * npu_strerror() turns either that or a positive job status into text.
 * Functions are thread-safe for distinct npu_cmd objects; a device may be
 * used from several threads at once.
 */
#ifndef NPU_NPU_H
#define NPU_NPU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define NPU_API __attribute__((visibility("default")))
#else
#define NPU_API
#endif

/** Status codes of the library; job statuses are positive (enum npu_job_status). */
enum npu_status {
	NPU_OK = 0,
	NPU_E_INVAL = -1,	/**< an argument is invalid (NULL, zero size, bad enum) */
	NPU_E_NOMEM = -2,	/**< out of host memory */
	NPU_E_NODEV = -3,	/**< no such backend or no device behind it */
	NPU_E_HANDLE = -4,	/**< a buffer handle is stale, freed or never existed */
	NPU_E_XDEV = -5,	/**< an object of another device was passed */
	NPU_E_RANGE = -6,	/**< offset or size outside the buffer */
	NPU_E_NOSPC = -7,	/**< device address space or queue exhausted */
	NPU_E_TIMEOUT = -8,	/**< the wait timed out; the job is still running */
	NPU_E_JOB = -9,		/**< the job failed; the job result says why */
	NPU_E_FIRMWARE = -10,	/**< firmware image missing or rejected */
	NPU_E_IO = -11,		/**< the device or its driver reported an error */
	NPU_E_EXPIRED = -12,	/**< the job's result is no longer retained */
	NPU_E_UNSUPPORTED = -13,/**< the device does not implement the op */
	NPU_E_BUSY = -14,	/**< the object is in use (e.g. mapped) */
	NPU_E_FORMAT = -15,	/**< a model or tokenizer file is malformed */
	NPU_E_GONE = -16,	/**< the device went away (unplugged); reopen it */
};

/** Outcome of a job; values are those of enum drm_npu_status in the ABI. */
enum npu_job_status {
	NPU_JOB_OK = 0,
	NPU_JOB_BAD_HEADER = 1,
	NPU_JOB_BAD_VERSION = 2,
	NPU_JOB_BAD_OPCODE = 3,
	NPU_JOB_BAD_FLAGS = 4,
	NPU_JOB_BAD_RESERVED = 5,
	NPU_JOB_BAD_DTYPE = 6,
	NPU_JOB_BAD_SHAPE = 7,
	NPU_JOB_BAD_STRIDE = 8,
	NPU_JOB_BAD_ALIGN = 9,
	NPU_JOB_BAD_QPARAM = 10,
	NPU_JOB_OVERFLOW = 11,
	NPU_JOB_ALIAS = 12,
	NPU_JOB_TOO_LARGE = 13,
	NPU_JOB_FAULT = 14,
	NPU_JOB_INDEX = 15,
	NPU_JOB_RANGE = 16,
	NPU_JOB_TIMEOUT = 17,
	NPU_JOB_CANCELLED = 18,
};

/**
 * npu_strerror - text for a status.
 * @status: a negative enum npu_status, 0, or a positive enum npu_job_status.
 */
NPU_API const char *npu_strerror(int status);

typedef struct npu_device npu_device;
typedef struct npu_cmd npu_cmd;
typedef struct npu_graph npu_graph;
typedef uint64_t npu_bo;
typedef uint64_t npu_fence;

/* ---- devices ------------------------------------------------------- */

/**
 * npu_backends - the backends compiled into this library.
 * Returns a NULL-terminated array of names, e.g. {"cpu", NULL}.
 */
NPU_API const char *const *npu_backends(void);

/**
 * npu_open - open a device.
 * @backend: "auto", a backend name from npu_backends(), or NULL for "auto".
 *	The environment variable NPU_DEVICE, when set, overrides it. "auto"
 *	prefers a hardware device and falls back to "cpu".
 * @dev: out: the device.
 */
NPU_API int npu_open(const char *backend, npu_device **dev);

/** npu_close - wait for the device's jobs, free everything it owns. */
NPU_API int npu_close(npu_device *dev);

struct npu_info {
	char backend[16];	/**< backend name */
	char name[64];		/**< device description */
	uint16_t abi_major, abi_minor;		/**< library/driver ABI */
	uint16_t fw_abi_major, fw_abi_minor;	/**< firmware image ABI */
	char fw_build_id[32];	/**< firmware build id */
	uint64_t op_mask;	/**< bit (1 << enum npu_opcode) per op */
	uint32_t n_cores;	/**< cores executing jobs */
	uint32_t n_priorities;	/**< submit priorities, 0 = lowest */
	uint64_t va_size;	/**< device address space per context */
	uint64_t scratch_size;	/**< scratch per core: bounds op sizes */
};

/** npu_query - what the device is and what it can do. */
NPU_API int npu_query(npu_device *dev, struct npu_info *info);

/** npu_op_name - name of an opcode ("MATMUL"), or NULL if unknown. */
NPU_API const char *npu_op_name(unsigned int opcode);

/* ---- buffers ------------------------------------------------------- */

/** npu_bo_alloc - allocate @size bytes (zeroed) of device memory. */
NPU_API int npu_bo_alloc(npu_device *dev, uint64_t size, npu_bo *bo);
/**
 * npu_bo_free - free a buffer. A job running at that moment finishes first;
 * a job that runs later and uses the buffer's addresses fails with
 * NPU_JOB_FAULT while they are not reused. The accel driver hands out
 * addresses upwards, wrapping at the end of the file's address space, and
 * holds a freed range back until 64 more are freed (or nothing else fits);
 * the cpu backend (and npu-usb-gadget, behind the usb backend) hands out
 * fresh addresses while its address space has any, then freed ranges: one
 * freed 1,024 frees ago or earlier, or, when nothing else fits, one freed
 * more recently, oldest first. A mapped buffer is not freed: NPU_E_BUSY
 * until every npu_bo_map() is undone.
 */
NPU_API int npu_bo_free(npu_device *dev, npu_bo bo);
/** npu_bo_map - host pointer to the buffer's bytes. */
NPU_API int npu_bo_map(npu_device *dev, npu_bo bo, void **ptr);
/** npu_bo_unmap - end a mapping made with npu_bo_map(). */
NPU_API int npu_bo_unmap(npu_device *dev, npu_bo bo);
/** npu_bo_info - the buffer's device address and size. */
NPU_API int npu_bo_info(npu_device *dev, npu_bo bo, uint64_t *dev_addr, uint64_t *size);
/**
 * npu_bo_seal - promise that the buffer's bytes no longer change: neither
 * the host nor a job writes them again (model weights, once loaded). A
 * backend may then keep them in layouts of its own kernels: the cpu
 * backend, on a CPU with AVX-512 VNNI, packs int4 weights for its
 * per-row matmuls when their factors' buffer is sealed too
 * (npu_memory_usage() counts the copies). The cpu backend holds the
 * promise for you: its mapping turns read-only (a write through it is a
 * segmentation fault) and a job that writes the buffer ends
 * NPU_JOB_FAULT; sealing waits for the job running at the time, and
 * fails with NPU_E_NOMEM if the pages cannot be protected. Other
 * backends accept the call and change nothing. A seal is for the
 * buffer's life.
 */
NPU_API int npu_bo_seal(npu_device *dev, npu_bo bo);

struct npu_memory {
	uint64_t buffers;	/**< bytes of the device's live buffers */
	uint64_t packed;	/**< bytes the backend keeps beside sealed buffers */
};

/**
 * npu_memory_usage - the sizes of a device's live buffers (as requested),
 * and the host memory its backend keeps beside sealed ones.
 */
NPU_API int npu_memory_usage(npu_device *dev, struct npu_memory *mem);

/* ---- tensors ------------------------------------------------------- */

enum npu_dtype { NPU_I4 = 1, NPU_I8 = 2, NPU_I16 = 3, NPU_I32 = 4 };

enum npu_scale_mode {
	NPU_SCALE_NONE = 0,	/**< plain integers */
	NPU_SCALE_TENSOR = 1,	/**< one scale: npu_tensor.scale */
	NPU_SCALE_ROW = 2,	/**< a struct npu_scale per row in scale_bo */
	NPU_SCALE_GROUP = 3,	/**< weights: tensor scale x uint16 Q0.16 factor per group */
};

/** A positive real mult * 2^-shift (see docs/numerics.md). */
struct npu_scale {
	int32_t mult;
	int32_t shift;
};

/** A 2-D strided tensor in device memory. */
struct npu_tensor {
	npu_bo bo;		/**< buffer holding the elements */
	uint64_t offset;	/**< byte offset of element [0][0] */
	uint32_t rows, cols;
	uint32_t stride;	/**< bytes between rows; 0 = packed */
	enum npu_dtype dtype;
	enum npu_scale_mode scale_mode;
	struct npu_scale scale;	/**< TENSOR and GROUP modes */
	npu_bo scale_bo;	/**< ROW and GROUP modes: where the scales are */
	uint64_t scale_offset;
};

/** npu_tensor_2d - a packed tensor without scale (fill in the scale after). */
NPU_API struct npu_tensor npu_tensor_2d(npu_bo bo, uint64_t offset, uint32_t rows,
					uint32_t cols, enum npu_dtype dtype);

/** npu_scale_from_double - nearest scale to a positive finite real. */
NPU_API int npu_scale_from_double(double value, struct npu_scale *scale);
/** npu_scale_to_double - the real value of a scale. */
NPU_API double npu_scale_to_double(struct npu_scale scale);

/** A position: immediate, or read by the device from a buffer when bo != 0. */
struct npu_pos {
	uint32_t value;
	npu_bo bo;
	uint64_t offset;
};

/* ---- command streams ------------------------------------------------ */

enum npu_priority { NPU_PRIO_LOW = 0, NPU_PRIO_NORMAL = 1, NPU_PRIO_HIGH = 2 };

NPU_API int npu_cmd_create(npu_device *dev, npu_cmd **cmd);
NPU_API int npu_cmd_destroy(npu_cmd *cmd);
/** npu_cmd_reset - drop the encoded ops, keep the allocation. */
NPU_API int npu_cmd_reset(npu_cmd *cmd);
NPU_API int npu_cmd_set_priority(npu_cmd *cmd, enum npu_priority prio);
/** npu_cmd_count - ops encoded so far. */
NPU_API int npu_cmd_count(const npu_cmd *cmd, uint32_t *count);
/** npu_cmd_opcode - the opcode (DRM_NPU_OP_*) of op @index. */
NPU_API int npu_cmd_opcode(const npu_cmd *cmd, uint32_t index, unsigned int *opcode);
/**
 * npu_cmd_set_profile - ask the core to write each op's run time, in
 * nanoseconds, as a uint64_t per op at @offset (8-aligned) in @bo when the
 * stream runs (and each time a graph recorded from it is launched). The
 * buffer must hold one slot per op at submission: NPU_E_RANGE otherwise.
 */
NPU_API int npu_cmd_set_profile(npu_cmd *cmd, npu_bo bo, uint64_t offset);

/*
 * Op encoders. Each checks what the host can check (handles, ranges,
 * devices) and appends one op; the firmware validates the rest when the
 * stream runs. Semantics and numerics: docs/numerics.md.
 */
NPU_API int npu_op_nop(npu_cmd *cmd);
/** out = x . w^T (+ bias); w is I8/I4 with GROUP scales, group_size 32/64/128 or w.cols. */
NPU_API int npu_op_matmul(npu_cmd *cmd, const struct npu_tensor *x, const struct npu_tensor *w,
			  uint32_t group_size, const struct npu_tensor *bias,
			  const struct npu_tensor *out);
NPU_API int npu_op_rmsnorm(npu_cmd *cmd, const struct npu_tensor *x,
			   const struct npu_tensor *gamma, struct npu_scale eps,
			   const struct npu_tensor *out);
NPU_API int npu_op_layernorm(npu_cmd *cmd, const struct npu_tensor *x,
			     const struct npu_tensor *gamma, const struct npu_tensor *beta,
			     struct npu_scale eps, const struct npu_tensor *out);
/** Row softmax of x * alpha; with @causal non-NULL, column j of row r is masked when j > pos + r. */
NPU_API int npu_op_softmax(npu_cmd *cmd, const struct npu_tensor *x, struct npu_scale alpha,
			   const struct npu_pos *causal, const struct npu_tensor *out);
NPU_API int npu_op_silu(npu_cmd *cmd, const struct npu_tensor *x, const struct npu_tensor *out);
NPU_API int npu_op_gelu(npu_cmd *cmd, const struct npu_tensor *x, const struct npu_tensor *out);
NPU_API int npu_op_add(npu_cmd *cmd, const struct npu_tensor *a, const struct npu_tensor *b,
		       const struct npu_tensor *out);
NPU_API int npu_op_mul(npu_cmd *cmd, const struct npu_tensor *a, const struct npu_tensor *b,
		       const struct npu_tensor *out);
/** Requantize x into out's type and scale (dynamic per row with NPU_SCALE_ROW). */
NPU_API int npu_op_quantize(npu_cmd *cmd, const struct npu_tensor *x,
			    const struct npu_tensor *out);
/** Rotate pairs of each head; freqs is I32 1 x head_dim/2, turns per position in Q0.32. */
NPU_API int npu_op_rope(npu_cmd *cmd, const struct npu_tensor *x, const struct npu_tensor *freqs,
			uint32_t n_heads, uint32_t head_dim, const struct npu_pos *pos,
			const struct npu_tensor *out);
/** Causal grouped-query attention of q rows at positions pos.. over the KV cache rows 0..pos+r. */
NPU_API int npu_op_attention(npu_cmd *cmd, const struct npu_tensor *q,
			     const struct npu_tensor *k_cache, const struct npu_tensor *v_cache,
			     uint32_t n_heads, uint32_t n_kv_heads, uint32_t head_dim,
			     struct npu_scale alpha, const struct npu_pos *pos,
			     const struct npu_tensor *out);
/** Write src's rows into cache rows pos.. (requantized to the cache's format). */
NPU_API int npu_op_kv_append(npu_cmd *cmd, const struct npu_tensor *src,
			     const struct npu_tensor *cache, const struct npu_pos *pos);
/** out[r] = table[ids[r]]; ids is I32 rows x 1. */
NPU_API int npu_op_embedding(npu_cmd *cmd, const struct npu_tensor *table,
			     const struct npu_tensor *ids, const struct npu_tensor *out);
/** out[r] = index of the first maximum of row r; out is I32 rows x 1. */
NPU_API int npu_op_argmax(npu_cmd *cmd, const struct npu_tensor *x, const struct npu_tensor *out);

/* ---- jobs ------------------------------------------------------------ */

/** The result of a finished job. */
struct npu_job_result {
	uint32_t status;	/**< enum npu_job_status */
	uint32_t op_index;	/**< failing op when status != NPU_JOB_OK */
	uint64_t fault_addr;	/**< device address for NPU_JOB_FAULT */
};

/** npu_submit - copy the stream to the device and queue it. */
NPU_API int npu_submit(npu_cmd *cmd, npu_fence *fence);
/**
 * npu_submit_stream - queue a stream already in device memory (as a driver
 * would receive it): @size bytes at @offset in @bo. NPU_E_INVAL when
 * @offset is not 8-aligned or @size is shorter than a stream header; every
 * other check is the firmware's, reported as the job's status.
 */
NPU_API int npu_submit_stream(npu_device *dev, npu_bo bo, uint64_t offset, uint32_t size,
			      enum npu_priority prio, npu_fence *fence);
/**
 * npu_fence_wait - wait for a job.
 * @timeout_ns: relative timeout; 0 polls, negative waits forever.
 * @result: out, may be NULL: the job's result.
 * Returns NPU_OK, NPU_E_JOB (result says why), NPU_E_TIMEOUT, or an error:
 * NPU_E_XDEV for a fence of another device, NPU_E_INVAL for a value that
 * is no fence, NPU_E_EXPIRED once the result is no longer retained.
 */
NPU_API int npu_fence_wait(npu_device *dev, npu_fence fence, int64_t timeout_ns,
			   struct npu_job_result *result);

/* ---- graphs ---------------------------------------------------------- */

/**
 * npu_graph_create - record: upload @cmd's stream once. Later launches
 * replay it without re-encoding; new inputs go into the same buffers (and
 * positions into npu_pos buffers).
 */
NPU_API int npu_graph_create(npu_cmd *cmd, npu_graph **graph);
NPU_API int npu_graph_launch(npu_graph *graph, npu_fence *fence);
NPU_API int npu_graph_destroy(npu_graph *graph);

#ifdef __cplusplus
}
#endif

#endif /* NPU_NPU_H */
