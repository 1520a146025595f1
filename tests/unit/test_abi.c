// SPDX-License-Identifier: MIT
/*
 * The ABI cannot drift by accident: the size of every struct of
 * uapi/drm/npu_accel.h and npu_cmd.h, the offset of every field and the
 * value of every opcode are pinned here.
 * Changing one of these numbers is an ABI break (or an extension at the
 * end of a struct, which must bump DRM_NPU_ABI_MINOR).
 */
#include <stddef.h>

#include "testlib.h"

#define OFF(s, f, o) assert_int_equal(offsetof(struct s, f), o)

static void abi_scale(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct drm_npu_scale), 8);
	assert_int_equal(sizeof(struct drm_npu_scale) % 8, 0);
	OFF(drm_npu_scale, mult, 0);
	OFF(drm_npu_scale, shift, 4);
}

static void abi_tensor(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct drm_npu_tensor), 40);
	assert_int_equal(sizeof(struct drm_npu_tensor) % 8, 0);
	OFF(drm_npu_tensor, addr, 0);
	OFF(drm_npu_tensor, scale_addr, 8);
	OFF(drm_npu_tensor, rows, 16);
	OFF(drm_npu_tensor, cols, 20);
	OFF(drm_npu_tensor, stride, 24);
	OFF(drm_npu_tensor, dtype, 28);
	OFF(drm_npu_tensor, scale_mode, 29);
	OFF(drm_npu_tensor, pad, 30);
	OFF(drm_npu_tensor, scale, 32);
}

static void abi_matmul_params(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct drm_npu_matmul_params), 16);
	assert_int_equal(sizeof(struct drm_npu_matmul_params) % 8, 0);
	OFF(drm_npu_matmul_params, group_size, 0);
	OFF(drm_npu_matmul_params, pad, 4);
	/* ABI 1.2: SCALE_BLOCK's fields, in bytes 1.1 required to be zero. */
	OFF(drm_npu_matmul_params, block_groups, 8);
	OFF(drm_npu_matmul_params, zero, 10);
	OFF(drm_npu_matmul_params, block_flags, 11);
	OFF(drm_npu_matmul_params, pad2, 12);
	assert_int_equal(sizeof(((struct drm_npu_matmul_params *)0)->block_groups), 2);
	assert_int_equal(sizeof(((struct drm_npu_matmul_params *)0)->zero), 1);
	assert_int_equal(sizeof(((struct drm_npu_matmul_params *)0)->block_flags), 1);
	/* ABI 1.2: EMBEDDING's table layout, the same 16 bytes. */
	assert_int_equal(sizeof(struct drm_npu_embedding_params), 16);
	OFF(drm_npu_embedding_params, table, 0);
}

static void abi_norm_params(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct drm_npu_norm_params), 8);
	assert_int_equal(sizeof(struct drm_npu_norm_params) % 8, 0);
	OFF(drm_npu_norm_params, eps, 0);
}

static void abi_pos_params(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct drm_npu_pos_params), 32);
	assert_int_equal(sizeof(struct drm_npu_pos_params) % 8, 0);
	OFF(drm_npu_pos_params, pos_addr, 0);
	OFF(drm_npu_pos_params, pos, 8);
	OFF(drm_npu_pos_params, n_heads, 12);
	OFF(drm_npu_pos_params, n_kv_heads, 16);
	OFF(drm_npu_pos_params, head_dim, 20);
	OFF(drm_npu_pos_params, alpha, 24);
}

static void abi_op(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct drm_npu_op), 256);
	assert_int_equal(sizeof(struct drm_npu_op) % 8, 0);
	OFF(drm_npu_op, opcode, 0);
	OFF(drm_npu_op, flags, 2);
	OFF(drm_npu_op, pad, 4);
	OFF(drm_npu_op, in, 8);
	OFF(drm_npu_op, out, 128);
	OFF(drm_npu_op, matmul, 168);
	OFF(drm_npu_op, embedding, 168);
	OFF(drm_npu_op, norm, 168);
	OFF(drm_npu_op, pos, 168);
	OFF(drm_npu_op, params_raw, 168);
	OFF(drm_npu_op, reserved, 216);
}

static void abi_cmd_header(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct drm_npu_cmd_header), 24);
	assert_int_equal(sizeof(struct drm_npu_cmd_header) % 8, 0);
	OFF(drm_npu_cmd_header, magic, 0);
	OFF(drm_npu_cmd_header, version_major, 4);
	OFF(drm_npu_cmd_header, version_minor, 6);
	OFF(drm_npu_cmd_header, op_count, 8);
	OFF(drm_npu_cmd_header, op_size, 12);
	OFF(drm_npu_cmd_header, profile_addr, 16);
}

static void abi_caps(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct drm_npu_caps), 72);
	assert_int_equal(sizeof(struct drm_npu_caps) % 8, 0);
	OFF(drm_npu_caps, abi_major, 0);
	OFF(drm_npu_caps, abi_minor, 2);
	OFF(drm_npu_caps, fw_abi_major, 4);
	OFF(drm_npu_caps, fw_abi_minor, 6);
	OFF(drm_npu_caps, op_mask, 8);
	OFF(drm_npu_caps, n_cores, 16);
	OFF(drm_npu_caps, n_priorities, 20);
	OFF(drm_npu_caps, va_size, 24);
	OFF(drm_npu_caps, scratch_size, 32);
	OFF(drm_npu_caps, fw_build_id, 40);
}

static void abi_bo_create(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct drm_npu_bo_create), 24);
	assert_int_equal(sizeof(struct drm_npu_bo_create) % 8, 0);
	OFF(drm_npu_bo_create, size, 0);
	OFF(drm_npu_bo_create, flags, 8);
	OFF(drm_npu_bo_create, handle, 12);
	OFF(drm_npu_bo_create, dev_addr, 16);
}

static void abi_bo_info(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct drm_npu_bo_info), 32);
	assert_int_equal(sizeof(struct drm_npu_bo_info) % 8, 0);
	OFF(drm_npu_bo_info, handle, 0);
	OFF(drm_npu_bo_info, flags, 4);
	OFF(drm_npu_bo_info, mmap_offset, 8);
	OFF(drm_npu_bo_info, dev_addr, 16);
	OFF(drm_npu_bo_info, size, 24);
}

static void abi_submit(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct drm_npu_submit), 56);
	assert_int_equal(sizeof(struct drm_npu_submit) % 8, 0);
	OFF(drm_npu_submit, cmd_handle, 0);
	OFF(drm_npu_submit, cmd_offset, 4);
	OFF(drm_npu_submit, cmd_size, 8);
	OFF(drm_npu_submit, priority, 12);
	OFF(drm_npu_submit, bo_handles, 16);
	OFF(drm_npu_submit, bo_count, 24);
	OFF(drm_npu_submit, in_syncobj_count, 28);
	OFF(drm_npu_submit, in_syncobjs, 32);
	OFF(drm_npu_submit, out_syncobj, 40);
	OFF(drm_npu_submit, flags, 44);
	OFF(drm_npu_submit, job_id, 48);
}

static void abi_wait(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct drm_npu_wait), 40);
	assert_int_equal(sizeof(struct drm_npu_wait) % 8, 0);
	OFF(drm_npu_wait, job_id, 0);
	OFF(drm_npu_wait, timeout_ns, 8);
	OFF(drm_npu_wait, status, 16);
	OFF(drm_npu_wait, op_index, 20);
	OFF(drm_npu_wait, fault_addr, 24);
	OFF(drm_npu_wait, flags, 32);
	OFF(drm_npu_wait, pad, 36);
}

/* Values shared with userspace, firmware images and recorded streams. */
static void abi_constants(void **state)
{
	static const unsigned int opcodes[] = {
		DRM_NPU_OP_NOP, DRM_NPU_OP_MATMUL, DRM_NPU_OP_RMSNORM, DRM_NPU_OP_LAYERNORM,
		DRM_NPU_OP_SOFTMAX, DRM_NPU_OP_SILU, DRM_NPU_OP_GELU, DRM_NPU_OP_ADD,
		DRM_NPU_OP_MUL, DRM_NPU_OP_ROPE, DRM_NPU_OP_ATTENTION, DRM_NPU_OP_KV_APPEND,
		DRM_NPU_OP_EMBEDDING, DRM_NPU_OP_QUANTIZE, DRM_NPU_OP_ARGMAX,
	};
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(opcodes) / sizeof(opcodes[0]); i++)
		assert_int_equal(opcodes[i], i);
	assert_int_equal(DRM_NPU_ABI_MAJOR, 1);
	assert_int_equal(DRM_NPU_CMD_MAGIC, 0x4355504e);
	assert_memory_equal(&(uint32_t){ DRM_NPU_CMD_MAGIC }, "NPUC", 4);
	assert_int_equal(DRM_NPU_CMD_MAX_OPS, 4096);
	assert_int_equal(DRM_NPU_OP_COUNT, 15);
	assert_int_equal(DRM_NPU_STATUS_COUNT, 19);
	assert_int_equal(DRM_NPU_STATUS_FAULT, 14);
	assert_int_equal(DRM_NPU_DTYPE_I4, 1);
	assert_int_equal(DRM_NPU_DTYPE_I32, 4);
	assert_int_equal(DRM_NPU_SCALE_GROUP, 3);
	assert_int_equal(DRM_NPU_ABI_MINOR, 2);
	assert_int_equal(DRM_NPU_DTYPE_U2, 5);
	assert_int_equal(DRM_NPU_DTYPE_U3, 6);
	assert_int_equal(DRM_NPU_DTYPE_U4, 7);
	assert_int_equal(DRM_NPU_DTYPE_U5, 8);
	assert_int_equal(DRM_NPU_DTYPE_U6, 9);
	assert_int_equal(DRM_NPU_DTYPE_U8, 10);
	assert_int_equal(DRM_NPU_SCALE_BLOCK, 4);
	assert_int_equal(DRM_NPU_BLOCK_F_MIN, 1);
	assert_int_equal(DRM_NPU_BLOCK_F_SUB_S8, 2);
	assert_int_equal(DRM_NPU_BLOCK_F_SUB_U4, 4);
	assert_int_equal(DRM_NPU_OP_F_POS_ADDR, 4);
	assert_int_equal(DRM_IOCTL_NPU_GET_CAPS, DRM_IOWR(0x40, struct drm_npu_caps));
	assert_int_equal(DRM_IOCTL_NPU_WAIT, DRM_IOWR(0x44, struct drm_npu_wait));
	/* libnpu's public enums mirror the ABI's. */
	assert_int_equal(NPU_JOB_CANCELLED, DRM_NPU_STATUS_CANCELLED);
	assert_int_equal(NPU_JOB_FAULT, DRM_NPU_STATUS_FAULT);
	assert_int_equal(NPU_I4, DRM_NPU_DTYPE_I4);
	assert_int_equal(NPU_SCALE_GROUP, DRM_NPU_SCALE_GROUP);
	assert_int_equal(NPU_SCALE_BLOCK, DRM_NPU_SCALE_BLOCK);
	assert_int_equal(NPU_U2, DRM_NPU_DTYPE_U2);
	assert_int_equal(NPU_U3, DRM_NPU_DTYPE_U3);
	assert_int_equal(NPU_U4, DRM_NPU_DTYPE_U4);
	assert_int_equal(NPU_U5, DRM_NPU_DTYPE_U5);
	assert_int_equal(NPU_U6, DRM_NPU_DTYPE_U6);
	assert_int_equal(NPU_U8, DRM_NPU_DTYPE_U8);
	assert_int_equal(NPU_BLOCK_MIN, DRM_NPU_BLOCK_F_MIN);
	assert_int_equal(NPU_BLOCK_SUB_S8, DRM_NPU_BLOCK_F_SUB_S8);
	assert_int_equal(NPU_BLOCK_SUB_U4, DRM_NPU_BLOCK_F_SUB_U4);
	assert_int_equal(NPU_PRIO_HIGH, DRM_NPU_PRIO_HIGH);
	assert_int_equal(sizeof(struct npu_scale), sizeof(struct drm_npu_scale));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(abi_scale),
		cmocka_unit_test(abi_tensor),
		cmocka_unit_test(abi_matmul_params),
		cmocka_unit_test(abi_norm_params),
		cmocka_unit_test(abi_pos_params),
		cmocka_unit_test(abi_op),
		cmocka_unit_test(abi_cmd_header),
		cmocka_unit_test(abi_caps),
		cmocka_unit_test(abi_bo_create),
		cmocka_unit_test(abi_bo_info),
		cmocka_unit_test(abi_submit),
		cmocka_unit_test(abi_wait),
		cmocka_unit_test(abi_constants),
	};

	return cmocka_run_group_tests_name("abi", tests, NULL, NULL);
}
