/* SPDX-License-Identifier: MIT */
/**
 * DOC: libnpu - submit quantized transformer ops to an NPU.
 *
 * Objects:
 *
 *  - npu_device: an opened NPU behind one backend ("accel", "usb" or
 *    "cpu"). All other objects belong to one device.
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
 *
 * Every function returns NPU_OK (0) or a negative enum npu_status unless
 * its Return: says otherwise; npu_strerror() turns either that or a
 * positive job status into text. Functions are thread-safe for distinct
 * npu_cmd objects; a device may be used from several threads at once.
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

/**
 * enum npu_status - status codes of the library; job statuses are
 * positive (enum npu_job_status).
 * @NPU_OK: success
 * @NPU_E_INVAL: an argument is invalid (NULL, zero size, bad enum)
 * @NPU_E_NOMEM: out of host memory
 * @NPU_E_NODEV: no such backend or no device behind it
 * @NPU_E_HANDLE: a buffer handle is stale, freed or never existed
 * @NPU_E_XDEV: an object of another device was passed
 * @NPU_E_RANGE: offset or size outside the buffer
 * @NPU_E_NOSPC: device address space or queue exhausted
 * @NPU_E_TIMEOUT: the wait timed out; the job is still running
 * @NPU_E_JOB: the job failed; the job result says why
 * @NPU_E_FIRMWARE: firmware image missing or rejected
 * @NPU_E_IO: the device or its driver reported an error
 * @NPU_E_EXPIRED: the job's result is no longer retained
 * @NPU_E_UNSUPPORTED: the device does not implement the op
 * @NPU_E_BUSY: the object is in use (e.g. mapped)
 * @NPU_E_FORMAT: a model or tokenizer file is malformed
 * @NPU_E_GONE: the device went away (unplugged); reopen it
 */
enum npu_status {
	NPU_OK = 0,
	NPU_E_INVAL = -1,
	NPU_E_NOMEM = -2,
	NPU_E_NODEV = -3,
	NPU_E_HANDLE = -4,
	NPU_E_XDEV = -5,
	NPU_E_RANGE = -6,
	NPU_E_NOSPC = -7,
	NPU_E_TIMEOUT = -8,
	NPU_E_JOB = -9,
	NPU_E_FIRMWARE = -10,
	NPU_E_IO = -11,
	NPU_E_EXPIRED = -12,
	NPU_E_UNSUPPORTED = -13,
	NPU_E_BUSY = -14,
	NPU_E_FORMAT = -15,
	NPU_E_GONE = -16,
};

/**
 * enum npu_job_status - outcome of a job; values are those of enum
 * drm_npu_status in the ABI (uapi/drm/npu_accel.h).
 * @NPU_JOB_OK: every op ran.
 * @NPU_JOB_BAD_HEADER: stream header malformed (magic, sizes).
 * @NPU_JOB_BAD_VERSION: stream ABI major unsupported.
 * @NPU_JOB_BAD_OPCODE: unknown or unsupported opcode.
 * @NPU_JOB_BAD_FLAGS: a flags bit the op does not define.
 * @NPU_JOB_BAD_RESERVED: a pad or reserved field is not zero.
 * @NPU_JOB_BAD_DTYPE: element type not allowed for this operand.
 * @NPU_JOB_BAD_SHAPE: rows/cols inconsistent between operands.
 * @NPU_JOB_BAD_STRIDE: stride shorter than a row or not a multiple
 *	of the element size.
 * @NPU_JOB_BAD_ALIGN: an address not aligned as required.
 * @NPU_JOB_BAD_QPARAM: scale mode or scale value not allowed.
 * @NPU_JOB_OVERFLOW: a size computation overflows 64 bits.
 * @NPU_JOB_ALIAS: output overlaps an input it may not overlap.
 * @NPU_JOB_TOO_LARGE: the op needs more core scratch memory than the
 *	core has.
 * @NPU_JOB_FAULT: a device address outside the context's mappings;
 *	the address is reported.
 * @NPU_JOB_INDEX: a token id outside the embedding table (at run time).
 * @NPU_JOB_RANGE: a position outside the KV cache (at run time).
 * @NPU_JOB_TIMEOUT: the job exceeded its time and was stopped.
 * @NPU_JOB_CANCELLED: the job was dropped before it ran.
 */
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
 *
 * Return: a static string (never NULL).
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
 *
 * Return: a NULL-terminated array of names, hardware first:
 * {"accel", "usb", "cpu", NULL}.
 */
NPU_API const char *const *npu_backends(void);

/**
 * npu_open - open a device.
 * @backend: "auto" or NULL: the environment variable NPU_DEVICE, when set,
 *	names the device, else the first that opens of a hardware device and
 *	the "cpu" backend. Or a backend name from npu_backends(), or "accelN"
 *	for /dev/accel/accelN ("accel" is the first npu node there). A name
 *	given here is opened whatever NPU_DEVICE says.
 * @dev: out: the device.
 *
 * A hardware device that "auto" finds but cannot use (no permission, no
 * firmware, another ABI) makes it fall back to the next backend;
 * npu_open_reason() then says why, and with NPU_DEBUG set in the
 * environment the library prints that once on stderr.
 *
 * Return: NPU_OK, NPU_E_NODEV when there is no such backend or no device
 * behind it, or the error of the backend that failed.
 */
NPU_API int npu_open(const char *backend, npu_device **dev);

/**
 * npu_open_reason - why the calling thread's last npu_open() did not get
 * the device it looked for.
 *
 * After a fallback of "auto": the device found and what failed, then the
 * backend used ("/dev/accel/accel0: Permission denied; using the cpu
 * backend"). After a failed npu_open(): its cause when the library knows
 * more than the status ("/dev/accel/accel1: No such file or directory").
 *
 * Return: the text, "" when there is nothing to say (the device opened as
 * asked, or there is no hardware at all). Valid until this thread's next
 * npu_open().
 */
NPU_API const char *npu_open_reason(void);

/**
 * npu_close - wait for the device's jobs, free everything it owns.
 * @dev: the device.
 *
 * Return: NPU_OK, or NPU_E_INVAL for a NULL @dev.
 */
NPU_API int npu_close(npu_device *dev);

/**
 * struct npu_info - what a device is and what it can do.
 * @backend: backend name
 * @name: device description
 * @abi_major: library/driver ABI, major
 * @abi_minor: library/driver ABI, minor
 * @fw_abi_major: firmware image ABI, major
 * @fw_abi_minor: firmware image ABI, minor
 * @fw_build_id: firmware build id
 * @op_mask: bit (1 << enum drm_npu_opcode) per op
 * @n_cores: cores executing jobs
 * @n_priorities: submit priorities, 0 = lowest
 * @va_size: device address space per context
 * @scratch_size: scratch per core: bounds op sizes
 */
struct npu_info {
	char backend[16];
	char name[64];
	uint16_t abi_major, abi_minor;
	uint16_t fw_abi_major, fw_abi_minor;
	char fw_build_id[32];
	uint64_t op_mask;
	uint32_t n_cores;
	uint32_t n_priorities;
	uint64_t va_size;
	uint64_t scratch_size;
};

/**
 * npu_query - what the device is and what it can do.
 * @dev: the device.
 * @info: out: its description.
 *
 * Return: NPU_OK or a negative enum npu_status.
 */
NPU_API int npu_query(npu_device *dev, struct npu_info *info);

/**
 * npu_attention_rows - the most cache rows one ATTENTION op takes on a
 * device: its core's scratch memory bounds them.
 * @dev: the device.
 * @n_heads: query heads.
 * @q_cols: the query's columns (n_heads x head size).
 * @kv_cols: the cache's columns.
 * @rows: out: the count (0 when not even one row fits).
 *
 * Return: NPU_OK or a negative enum npu_status.
 */
NPU_API int npu_attention_rows(npu_device *dev, uint32_t n_heads, uint32_t q_cols,
			       uint32_t kv_cols, uint64_t *rows);

/**
 * npu_op_name - name of an opcode.
 * @opcode: a DRM_NPU_OP_* value.
 *
 * Return: the name ("MATMUL"), or NULL if unknown.
 */
NPU_API const char *npu_op_name(unsigned int opcode);

/* ---- buffers ------------------------------------------------------- */

/**
 * npu_bo_alloc - allocate device memory.
 * @dev: the device.
 * @size: bytes, zeroed.
 * @bo: out: the buffer's handle.
 *
 * Return: NPU_OK or a negative enum npu_status.
 */
NPU_API int npu_bo_alloc(npu_device *dev, uint64_t size, npu_bo *bo);

/**
 * npu_bo_free - free a buffer.
 * @dev: the device.
 * @bo: the buffer.
 *
 * A job running at that moment finishes first; a job that runs later and
 * uses the buffer's addresses fails with NPU_JOB_FAULT while they are not
 * reused. The accel driver hands out addresses upwards, wrapping at the
 * end of the file's address space, and holds a freed range back until 64
 * more are freed (or nothing else fits); the cpu backend (and
 * npu-usb-gadget, behind the usb backend) hands out fresh addresses while
 * its address space has any, then freed ranges: one freed 1,024 frees ago
 * or earlier, or, when nothing else fits, one freed more recently, oldest
 * first.
 *
 * Return: NPU_OK; NPU_E_BUSY for a mapped buffer, which is not freed until
 * every npu_bo_map() is undone.
 */
NPU_API int npu_bo_free(npu_device *dev, npu_bo bo);

/**
 * npu_bo_map - host pointer to the buffer's bytes.
 * @dev: the device.
 * @bo: the buffer.
 * @ptr: out: the pointer.
 *
 * Return: NPU_OK or a negative enum npu_status.
 */
NPU_API int npu_bo_map(npu_device *dev, npu_bo bo, void **ptr);

/**
 * npu_bo_unmap - end a mapping made with npu_bo_map().
 * @dev: the device.
 * @bo: the buffer.
 *
 * Return: NPU_OK or a negative enum npu_status.
 */
NPU_API int npu_bo_unmap(npu_device *dev, npu_bo bo);

/**
 * npu_bo_info - the buffer's device address and size.
 * @dev: the device.
 * @bo: the buffer.
 * @dev_addr: out: its device address.
 * @size: out: its size.
 *
 * Return: NPU_OK or a negative enum npu_status.
 */
NPU_API int npu_bo_info(npu_device *dev, npu_bo bo, uint64_t *dev_addr, uint64_t *size);

/**
 * npu_bo_seal - promise that the buffer's bytes no longer change.
 * @dev: the device.
 * @bo: the buffer.
 *
 * Neither the host nor a job writes them again (model weights, once
 * loaded). A backend may then keep them in layouts of its own kernels: the
 * cpu backend, on a CPU with AVX-512 VNNI, packs int4 weights for its
 * per-row matmuls when their factors' buffer is sealed too
 * (npu_memory_usage() counts the copies). The cpu backend holds the
 * promise for you: its mapping turns read-only (a write through it is a
 * segmentation fault) and a job that writes the buffer ends
 * NPU_JOB_FAULT; sealing waits for the job running at the time. Other
 * backends accept the call and change nothing. A seal is for the
 * buffer's life.
 *
 * Return: NPU_OK; NPU_E_NOMEM if the cpu backend cannot protect the pages.
 */
NPU_API int npu_bo_seal(npu_device *dev, npu_bo bo);

/**
 * struct npu_memory - host and device memory a device holds.
 * @buffers: bytes of the device's live buffers
 * @packed: bytes the backend keeps beside sealed buffers
 */
struct npu_memory {
	uint64_t buffers;
	uint64_t packed;
};

/**
 * npu_memory_usage - the sizes of a device's live buffers (as requested),
 * and the host memory its backend keeps beside sealed ones.
 * @dev: the device.
 * @mem: out: the sizes.
 *
 * Return: NPU_OK or a negative enum npu_status.
 */
NPU_API int npu_memory_usage(npu_device *dev, struct npu_memory *mem);

/* ---- tensors ------------------------------------------------------- */

/**
 * enum npu_dtype - element types.
 * @NPU_I4: signed 4-bit, two per byte
 * @NPU_I8: signed 8-bit
 * @NPU_I16: signed 16-bit
 * @NPU_I32: signed 32-bit
 * @NPU_U2: unsigned 2-bit codes of NPU_SCALE_BLOCK weights, a dense bit string
 * @NPU_U3: unsigned 3-bit codes, as NPU_U2
 * @NPU_U4: unsigned 4-bit codes, as NPU_U2
 * @NPU_U5: unsigned 5-bit codes, as NPU_U2
 * @NPU_U6: unsigned 6-bit codes, as NPU_U2
 * @NPU_U8: unsigned 8-bit codes, as NPU_U2
 */
enum npu_dtype {
	NPU_I4 = 1, NPU_I8 = 2, NPU_I16 = 3, NPU_I32 = 4,
	NPU_U2 = 5, NPU_U3 = 6, NPU_U4 = 7, NPU_U5 = 8, NPU_U6 = 9, NPU_U8 = 10,
};

/**
 * npu_row_bytes - bytes of one packed row, as the firmware reads it.
 * @dtype: the element type.
 * @cols: elements per row.
 *
 * An I4 row has an even number of columns (the firmware rejects an odd
 * one: NPU_JOB_BAD_SHAPE), two per byte; a row of b-bit codes (the U
 * types) takes ceil(@cols * b / 8) bytes.
 *
 * Return: @cols elements' bytes (I4: @cols / 2), 0 for an unknown @dtype.
 */
NPU_API uint64_t npu_row_bytes(enum npu_dtype dtype, uint32_t cols);

/**
 * enum npu_scale_mode - how a tensor's integers map to reals.
 * @NPU_SCALE_NONE: plain integers
 * @NPU_SCALE_TENSOR: one scale: npu_tensor.scale
 * @NPU_SCALE_ROW: a struct npu_scale per row in scale_bo
 * @NPU_SCALE_GROUP: weights: tensor scale x uint16 Q0.16 factor per group
 * @NPU_SCALE_BLOCK: weights of a U type: tensor scale x binary16 super-block
 *	scales (and mins) x small integer group scales (and mins), as struct
 *	npu_block_format describes (ABI 1.2)
 */
enum npu_scale_mode {
	NPU_SCALE_NONE = 0,
	NPU_SCALE_TENSOR = 1,
	NPU_SCALE_ROW = 2,
	NPU_SCALE_GROUP = 3,
	NPU_SCALE_BLOCK = 4,
};

/* struct npu_block_format.flags: DRM_NPU_BLOCK_F_* of uapi/drm/npu_cmd.h */
#define NPU_BLOCK_MIN 0x1	/* a binary16 min per super-block */
#define NPU_BLOCK_SUB_S8 0x2	/* an int8 scale per group; with NPU_BLOCK_MIN a uint8 min */
#define NPU_BLOCK_SUB_U4 0x4	/* a byte per group: scale low nibble, min high */

/**
 * struct npu_block_format - how NPU_SCALE_BLOCK weights are laid out.
 * @group_size: columns per group: 16 or 32.
 * @block_groups: groups per super-block, 1..16.
 * @zero: the code that stands for zero.
 * @flags: NPU_BLOCK_*.
 *
 * Column k of row n, in group j = k / group_size of super-block
 * b = j / block_groups, is scale * (d[b] * sc[j] * (q - zero) - dmin[b] *
 * mn[j]); row n's record, at scale_offset + n * npu_block_record_bytes(),
 * holds d[] (binary16), with NPU_BLOCK_MIN dmin[], then the group scales
 * and mins the flags name (docs/numerics.md, "SCALE_BLOCK").
 */
struct npu_block_format {
	uint32_t group_size;
	uint32_t block_groups;
	uint32_t zero;
	uint32_t flags;
};

/**
 * npu_block_record_bytes - bytes of one row's record of NPU_SCALE_BLOCK weights.
 * @f: the format.
 * @cols: the weights' columns, a multiple of the super-block's.
 *
 * Return: the bytes (even), 0 for an invalid format or @cols.
 */
NPU_API uint64_t npu_block_record_bytes(const struct npu_block_format *f, uint32_t cols);

/**
 * struct npu_scale - a positive real mult * 2^-shift (see docs/numerics.md).
 * @mult: the multiplier
 * @shift: the power of two it is divided by
 */
struct npu_scale {
	int32_t mult;
	int32_t shift;
};

/**
 * struct npu_tensor - a 2-D strided tensor in device memory.
 * @bo: buffer holding the elements
 * @offset: byte offset of element [0][0]
 * @rows: rows
 * @cols: elements per row
 * @stride: bytes between rows; 0 = packed
 * @dtype: element type
 * @scale_mode: how the elements map to reals
 * @scale: TENSOR, GROUP and BLOCK modes: the tensor's scale
 * @scale_bo: ROW, GROUP and BLOCK modes: where the scales (records) are
 * @scale_offset: ROW, GROUP and BLOCK modes: their byte offset in @scale_bo
 */
struct npu_tensor {
	npu_bo bo;
	uint64_t offset;
	uint32_t rows, cols;
	uint32_t stride;
	enum npu_dtype dtype;
	enum npu_scale_mode scale_mode;
	struct npu_scale scale;
	npu_bo scale_bo;
	uint64_t scale_offset;
};

/**
 * npu_tensor_2d - a packed tensor without scale (fill in the scale after).
 * @bo: buffer holding the elements.
 * @offset: byte offset of element [0][0].
 * @rows: rows.
 * @cols: elements per row.
 * @dtype: element type.
 *
 * Return: the tensor.
 */
NPU_API struct npu_tensor npu_tensor_2d(npu_bo bo, uint64_t offset, uint32_t rows,
					uint32_t cols, enum npu_dtype dtype);

/**
 * npu_scale_from_double - nearest scale to a positive finite real.
 * @value: the real.
 * @scale: out: the scale.
 *
 * Return: NPU_OK or a negative enum npu_status.
 */
NPU_API int npu_scale_from_double(double value, struct npu_scale *scale);

/**
 * npu_scale_to_double - the real value of a scale.
 * @scale: the scale.
 *
 * Return: mult * 2^-shift.
 */
NPU_API double npu_scale_to_double(struct npu_scale scale);

/**
 * struct npu_pos - a position: immediate, or read by the device from a
 * buffer when @bo != 0.
 * @value: the position, when @bo is 0
 * @bo: buffer holding the position as a uint32_t
 * @offset: its byte offset in @bo
 */
struct npu_pos {
	uint32_t value;
	npu_bo bo;
	uint64_t offset;
};

/* ---- command streams ------------------------------------------------ */

/**
 * enum npu_priority - submit priorities.
 * @NPU_PRIO_LOW: lowest
 * @NPU_PRIO_NORMAL: a new stream's
 * @NPU_PRIO_HIGH: highest
 */
enum npu_priority { NPU_PRIO_LOW = 0, NPU_PRIO_NORMAL = 1, NPU_PRIO_HIGH = 2 };

/**
 * npu_cmd_create - a new, empty command stream.
 * @dev: the device it will run on.
 * @cmd: out: the stream.
 *
 * Return: NPU_OK or a negative enum npu_status.
 */
NPU_API int npu_cmd_create(npu_device *dev, npu_cmd **cmd);

/**
 * npu_cmd_destroy - free a command stream.
 * @cmd: the stream.
 *
 * Return: NPU_OK or a negative enum npu_status.
 */
NPU_API int npu_cmd_destroy(npu_cmd *cmd);

/**
 * npu_cmd_reset - drop the encoded ops and the kept encoder error, keep
 * the allocation.
 * @cmd: the stream.
 *
 * Return: NPU_OK or a negative enum npu_status.
 */
NPU_API int npu_cmd_reset(npu_cmd *cmd);

/**
 * npu_cmd_set_priority - the priority the stream is submitted at.
 * @cmd: the stream.
 * @prio: the priority.
 *
 * Return: NPU_OK or a negative enum npu_status.
 */
NPU_API int npu_cmd_set_priority(npu_cmd *cmd, enum npu_priority prio);

/**
 * npu_cmd_count - ops encoded so far.
 * @cmd: the stream.
 * @count: out: the number of ops.
 *
 * Return: NPU_OK, or the stream's kept encoder error (the ops counted are
 * then those before it), or another negative enum npu_status.
 */
NPU_API int npu_cmd_count(const npu_cmd *cmd, uint32_t *count);

/**
 * npu_cmd_opcode - the opcode (DRM_NPU_OP_*) of an op.
 * @cmd: the stream.
 * @index: the op's index.
 * @opcode: out: its opcode.
 *
 * Return: NPU_OK or a negative enum npu_status.
 */
NPU_API int npu_cmd_opcode(const npu_cmd *cmd, uint32_t index, unsigned int *opcode);

/**
 * npu_cmd_set_profile - ask the core to write each op's run time.
 * @cmd: the stream.
 * @bo: buffer for the times.
 * @offset: where they start in @bo (8-aligned).
 *
 * When the stream runs (and each time a graph recorded from it is
 * launched), each op's run time in nanoseconds is written as a uint64_t
 * per op at @offset in @bo. The buffer must hold one slot per op at
 * submission: NPU_E_RANGE otherwise.
 *
 * Return: NPU_OK or a negative enum npu_status.
 */
NPU_API int npu_cmd_set_profile(npu_cmd *cmd, npu_bo bo, uint64_t offset);

/**
 * DOC: op encoders
 *
 * Each checks what the host can check (handles, ranges, devices) and
 * appends one op; the firmware validates the rest when the stream runs.
 * Semantics and numerics: docs/numerics.md.
 *
 * A stream keeps its first encoder error: from then on every encoder
 * returns that error and encodes nothing, and npu_submit() and
 * npu_graph_create() refuse the stream with it, so a caller may encode a
 * whole pass and check once. npu_cmd_reset() clears it. A NULL @cmd is
 * NPU_E_INVAL and kept nowhere.
 */

/**
 * npu_op_nop - an op that does nothing.
 * @cmd: the stream.
 *
 * Return: NPU_OK, or the error (the stream's kept one, if any).
 */
NPU_API int npu_op_nop(npu_cmd *cmd);

/**
 * npu_op_matmul - out = x . w^T (+ bias).
 * @cmd: the stream.
 * @x: the activations.
 * @w: the weights: I8/I4 with GROUP scales.
 * @group_size: columns per group factor: 32, 64, 128 or w.cols.
 * @bias: NULL, or added to each row.
 * @out: the result.
 *
 * Return: NPU_OK, or the error (the stream's kept one, if any).
 */
NPU_API int npu_op_matmul(npu_cmd *cmd, const struct npu_tensor *x, const struct npu_tensor *w,
			  uint32_t group_size, const struct npu_tensor *bias,
			  const struct npu_tensor *out);

/**
 * npu_op_matmul_block - out = x . w^T (+ bias), w in a block format (ABI 1.2).
 * @cmd: the stream.
 * @x: the activations.
 * @w: the weights: a U type with NPU_SCALE_BLOCK.
 * @f: their layout.
 * @bias: NULL, or added to each row.
 * @out: the result.
 *
 * Return: NPU_OK, or the error (the stream's kept one, if any).
 */
NPU_API int npu_op_matmul_block(npu_cmd *cmd, const struct npu_tensor *x,
				const struct npu_tensor *w, const struct npu_block_format *f,
				const struct npu_tensor *bias, const struct npu_tensor *out);

/**
 * npu_op_rmsnorm - RMS norm of each row of x, times gamma.
 * @cmd: the stream.
 * @x: the input.
 * @gamma: the weights, one row.
 * @eps: added to the mean square.
 * @out: the result.
 *
 * Return: NPU_OK, or the error (the stream's kept one, if any).
 */
NPU_API int npu_op_rmsnorm(npu_cmd *cmd, const struct npu_tensor *x,
			   const struct npu_tensor *gamma, struct npu_scale eps,
			   const struct npu_tensor *out);

/**
 * npu_op_layernorm - layer norm of each row of x: times gamma, plus beta.
 * @cmd: the stream.
 * @x: the input.
 * @gamma: the weights, one row.
 * @beta: the biases, one row.
 * @eps: added to the variance.
 * @out: the result.
 *
 * Return: NPU_OK, or the error (the stream's kept one, if any).
 */
NPU_API int npu_op_layernorm(npu_cmd *cmd, const struct npu_tensor *x,
			     const struct npu_tensor *gamma, const struct npu_tensor *beta,
			     struct npu_scale eps, const struct npu_tensor *out);

/**
 * npu_op_softmax - row softmax of x * alpha.
 * @cmd: the stream.
 * @x: the input.
 * @alpha: the factor.
 * @causal: NULL, or column j of row r is masked when j > pos + r.
 * @out: the result.
 *
 * Return: NPU_OK, or the error (the stream's kept one, if any).
 */
NPU_API int npu_op_softmax(npu_cmd *cmd, const struct npu_tensor *x, struct npu_scale alpha,
			   const struct npu_pos *causal, const struct npu_tensor *out);

/**
 * npu_op_silu - SiLU of each element.
 * @cmd: the stream.
 * @x: the input.
 * @out: the result.
 *
 * Return: NPU_OK, or the error (the stream's kept one, if any).
 */
NPU_API int npu_op_silu(npu_cmd *cmd, const struct npu_tensor *x, const struct npu_tensor *out);

/**
 * npu_op_gelu - GELU of each element.
 * @cmd: the stream.
 * @x: the input.
 * @out: the result.
 *
 * Return: NPU_OK, or the error (the stream's kept one, if any).
 */
NPU_API int npu_op_gelu(npu_cmd *cmd, const struct npu_tensor *x, const struct npu_tensor *out);

/**
 * npu_op_add - out = a + b, element by element.
 * @cmd: the stream.
 * @a: an input.
 * @b: the other input.
 * @out: the result.
 *
 * Return: NPU_OK, or the error (the stream's kept one, if any).
 */
NPU_API int npu_op_add(npu_cmd *cmd, const struct npu_tensor *a, const struct npu_tensor *b,
		       const struct npu_tensor *out);

/**
 * npu_op_mul - out = a * b, element by element.
 * @cmd: the stream.
 * @a: an input.
 * @b: the other input.
 * @out: the result.
 *
 * Return: NPU_OK, or the error (the stream's kept one, if any).
 */
NPU_API int npu_op_mul(npu_cmd *cmd, const struct npu_tensor *a, const struct npu_tensor *b,
		       const struct npu_tensor *out);

/**
 * npu_op_quantize - requantize x into out's type and scale.
 * @cmd: the stream.
 * @x: the input.
 * @out: the result (dynamic per row with NPU_SCALE_ROW).
 *
 * Return: NPU_OK, or the error (the stream's kept one, if any).
 */
NPU_API int npu_op_quantize(npu_cmd *cmd, const struct npu_tensor *x,
			    const struct npu_tensor *out);

/**
 * npu_op_rope - rotate pairs of each head.
 * @cmd: the stream.
 * @x: the input.
 * @freqs: I32 1 x head_dim/2, turns per position in Q0.32.
 * @n_heads: heads per row.
 * @head_dim: elements per head.
 * @pos: the position of row 0.
 * @out: the result.
 *
 * Return: NPU_OK, or the error (the stream's kept one, if any).
 */
NPU_API int npu_op_rope(npu_cmd *cmd, const struct npu_tensor *x, const struct npu_tensor *freqs,
			uint32_t n_heads, uint32_t head_dim, const struct npu_pos *pos,
			const struct npu_tensor *out);

/**
 * npu_op_attention - causal grouped-query attention of q rows at positions
 * pos.. over the KV cache rows 0..pos+r.
 * @cmd: the stream.
 * @q: the queries.
 * @k_cache: the keys.
 * @v_cache: the values.
 * @n_heads: query heads.
 * @n_kv_heads: key/value heads.
 * @head_dim: elements per head.
 * @alpha: the factor of the scores.
 * @pos: the position of q's row 0.
 * @out: the result.
 *
 * Return: NPU_OK, or the error (the stream's kept one, if any).
 */
NPU_API int npu_op_attention(npu_cmd *cmd, const struct npu_tensor *q,
			     const struct npu_tensor *k_cache, const struct npu_tensor *v_cache,
			     uint32_t n_heads, uint32_t n_kv_heads, uint32_t head_dim,
			     struct npu_scale alpha, const struct npu_pos *pos,
			     const struct npu_tensor *out);

/**
 * npu_op_kv_append - write src's rows into cache rows pos.. (requantized
 * to the cache's format).
 * @cmd: the stream.
 * @src: the rows.
 * @cache: the cache.
 * @pos: the cache row of src's row 0.
 *
 * Return: NPU_OK, or the error (the stream's kept one, if any).
 */
NPU_API int npu_op_kv_append(npu_cmd *cmd, const struct npu_tensor *src,
			     const struct npu_tensor *cache, const struct npu_pos *pos);

/**
 * npu_op_embedding - out[r] = table[ids[r]].
 * @cmd: the stream.
 * @table: the embeddings.
 * @ids: I32 rows x 1.
 * @out: the result.
 *
 * Return: NPU_OK, or the error (the stream's kept one, if any).
 */
NPU_API int npu_op_embedding(npu_cmd *cmd, const struct npu_tensor *table,
			     const struct npu_tensor *ids, const struct npu_tensor *out);

/**
 * npu_op_embedding_block - out[r] = table[ids[r]], the table in a block
 *	format (ABI 1.2): each row's exact values, requantized into out.
 * @cmd: the stream.
 * @table: the embeddings: a U type with NPU_SCALE_BLOCK.
 * @f: their layout.
 * @ids: I32 rows x 1.
 * @out: the result.
 *
 * Return: NPU_OK, or the error (the stream's kept one, if any).
 */
NPU_API int npu_op_embedding_block(npu_cmd *cmd, const struct npu_tensor *table,
				   const struct npu_block_format *f, const struct npu_tensor *ids,
				   const struct npu_tensor *out);

/**
 * npu_op_argmax - out[r] = index of the first maximum of row r.
 * @cmd: the stream.
 * @x: the input.
 * @out: I32 rows x 1.
 *
 * Return: NPU_OK, or the error (the stream's kept one, if any).
 */
NPU_API int npu_op_argmax(npu_cmd *cmd, const struct npu_tensor *x, const struct npu_tensor *out);

/* ---- jobs ------------------------------------------------------------ */

/**
 * struct npu_job_result - the result of a finished job.
 * @status: enum npu_job_status
 * @op_index: failing op when status != NPU_JOB_OK
 * @fault_addr: device address for NPU_JOB_FAULT
 */
struct npu_job_result {
	uint32_t status;
	uint32_t op_index;
	uint64_t fault_addr;
};

/**
 * npu_submit - copy the stream to the device and queue it.
 * @cmd: the stream.
 * @fence: out: the job's fence.
 *
 * Return: NPU_OK; the stream's kept encoder error (nothing is submitted);
 * NPU_E_INVAL for an empty stream; or the error of the copy or the queue.
 */
NPU_API int npu_submit(npu_cmd *cmd, npu_fence *fence);

/**
 * npu_submit_stream - queue a stream already in device memory (as a driver
 * would receive it).
 * @dev: the device.
 * @bo: the buffer holding the stream.
 * @offset: where the stream starts in @bo.
 * @size: its bytes.
 * @prio: the priority.
 * @fence: out: the job's fence.
 *
 * Return: NPU_E_INVAL when @offset is not 8-aligned or @size is shorter
 * than a stream header; every other check is the firmware's, reported as
 * the job's status.
 */
NPU_API int npu_submit_stream(npu_device *dev, npu_bo bo, uint64_t offset, uint32_t size,
			      enum npu_priority prio, npu_fence *fence);

/**
 * npu_fence_wait - wait for a job.
 * @dev: the device.
 * @fence: the job's fence.
 * @timeout_ns: relative timeout; 0 polls, negative waits forever.
 * @result: out, may be NULL: the job's result.
 *
 * Return: NPU_OK, NPU_E_JOB (result says why), NPU_E_TIMEOUT, or an error:
 * NPU_E_XDEV for a fence of another device, NPU_E_INVAL for a value that
 * is no fence, NPU_E_EXPIRED once the result is no longer retained.
 */
NPU_API int npu_fence_wait(npu_device *dev, npu_fence fence, int64_t timeout_ns,
			   struct npu_job_result *result);

/* ---- graphs ---------------------------------------------------------- */

/**
 * npu_graph_create - record: upload a stream once.
 * @cmd: the stream.
 * @graph: out: the graph.
 *
 * Later launches replay it without re-encoding; new inputs go into the
 * same buffers (and positions into npu_pos buffers).
 *
 * Return: NPU_OK, the stream's kept encoder error, or another error.
 */
NPU_API int npu_graph_create(npu_cmd *cmd, npu_graph **graph);

/**
 * npu_graph_launch - queue a recorded stream.
 * @graph: the graph.
 * @fence: out: the job's fence.
 *
 * Return: NPU_OK or a negative enum npu_status.
 */
NPU_API int npu_graph_launch(npu_graph *graph, npu_fence *fence);

/**
 * npu_graph_set_priority - the priority the graph's later launches queue at.
 * @graph: the graph.
 * @prio: the priority.
 *
 * A graph starts with its stream's priority when it was recorded.
 *
 * Return: NPU_OK, or NPU_E_INVAL for a priority out of range.
 */
NPU_API int npu_graph_set_priority(npu_graph *graph, enum npu_priority prio);

/**
 * npu_graph_destroy - free a graph.
 * @graph: the graph.
 *
 * Return: NPU_OK or a negative enum npu_status.
 */
NPU_API int npu_graph_destroy(npu_graph *graph);

#ifdef __cplusplus
}
#endif

#endif /* NPU_NPU_H */
