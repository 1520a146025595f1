// SPDX-License-Identifier: MIT
/*
 * Encoding command streams: a refused op gets a precise error, the stream
 * keeps the first one and refuses submission with it; row lengths.
 */
#include <string.h>

#include "testlib.h"

/*
 * An encoder refused with @want (@err): the stream keeps the error and
 * its ops as they were, refuses submission, and is reset for the next.
 */
static void refused(npu_cmd *cmd, int err, int want)
{
	uint32_t before, after;
	npu_fence f;

	assert_int_equal(err, want);
	assert_int_equal(npu_cmd_count(cmd, &before), want);
	assert_int_equal(npu_op_nop(cmd), want);
	assert_int_equal(npu_cmd_count(cmd, &after), want);
	assert_int_equal(after, before);
	assert_int_equal(npu_submit(cmd, &f), want);
	assert_int_equal(npu_cmd_reset(cmd), NPU_OK);
}

static void encode_misuse(void **state)
{
	npu_device *a = t_open(), *b = t_open_other();
	struct t_buf x = t_alloc(a, 64), o = t_alloc(a, 64), bx = t_alloc(b, 64);
	struct npu_tensor tx = npu_tensor_2d(x.bo, 0, 1, 64, NPU_I8);
	struct npu_tensor to = npu_tensor_2d(o.bo, 0, 1, 64, NPU_I8);
	struct npu_tensor t;
	npu_cmd *cmd;
	uint32_t n;
	npu_fence f;

	(void)state;
	tx.scale_mode = NPU_SCALE_TENSOR;
	tx.scale = t_scale(1);
	to.scale_mode = NPU_SCALE_TENSOR;
	to.scale = t_scale(1);
	assert_int_equal(npu_cmd_create(NULL, &cmd), NPU_E_INVAL);
	assert_int_equal(npu_cmd_create(a, NULL), NPU_E_INVAL);
	assert_int_equal(npu_cmd_create(a, &cmd), NPU_OK);
	assert_int_equal(npu_submit(cmd, &f), NPU_E_INVAL);	/* empty */
	assert_int_equal(npu_cmd_set_priority(cmd, 3), NPU_E_INVAL);
	assert_int_equal(npu_op_quantize(NULL, &tx, &to), NPU_E_INVAL);
	refused(cmd, npu_op_quantize(cmd, NULL, &to), NPU_E_INVAL);

	t = tx;
	t.offset = 1;		/* 64 bytes from offset 1 overrun the buffer */
	refused(cmd, npu_op_quantize(cmd, &t, &to), NPU_E_RANGE);
	t = tx;
	t.rows = 2;
	t.stride = 1u << 31;
	refused(cmd, npu_op_quantize(cmd, &t, &to), NPU_E_RANGE);
	t = tx;
	t.rows = 0;
	refused(cmd, npu_op_quantize(cmd, &t, &to), NPU_E_INVAL);
	t = tx;
	t.dtype = NPU_U8 + 1;
	refused(cmd, npu_op_quantize(cmd, &t, &to), NPU_E_INVAL);
	t = tx;
	t.bo = bx.bo;
	refused(cmd, npu_op_quantize(cmd, &t, &to), NPU_E_XDEV);
	t = tx;
	t.scale_mode = NPU_SCALE_ROW;	/* ROW needs a scale buffer */
	refused(cmd, npu_op_quantize(cmd, &t, &to), NPU_E_HANDLE);
	refused(cmd, npu_op_matmul(cmd, &tx, &tx, 0, NULL, &to), NPU_E_INVAL);

	assert_int_equal(npu_op_quantize(cmd, &tx, &to), NPU_OK);
	assert_int_equal(npu_cmd_count(cmd, &n), NPU_OK);
	assert_int_equal(n, 1);
	assert_int_equal(npu_cmd_reset(cmd), NPU_OK);
	assert_int_equal(npu_cmd_count(cmd, &n), NPU_OK);
	assert_int_equal(n, 0);
	for (n = 0; n < DRM_NPU_CMD_MAX_OPS; n++)
		assert_int_equal(npu_op_nop(cmd), NPU_OK);
	assert_int_equal(t_run(a, cmd, NULL), NPU_JOB_OK);
	/* One op more than a stream holds: the stream is refused whole. */
	refused(cmd, npu_op_nop(cmd), NPU_E_NOSPC);
	npu_cmd_destroy(cmd);
	assert_int_equal(npu_cmd_destroy(NULL), NPU_E_INVAL);
	t_free(a, &x);
	t_free(a, &o);
	t_free(b, &bx);
	npu_close(a);
	npu_close(b);
}

/*
 * A stream keeps its first encoder error: a valid op after it, and an
 * invalid one with an error of its own, return that first error and add
 * nothing; submitting or recording the stream returns it and runs nothing.
 */
static void encode_keeps_first_error(void **state)
{
	npu_device *dev = t_open();
	struct t_buf x = t_alloc(dev, 64), o = t_alloc(dev, 64);
	struct npu_tensor tx = npu_tensor_2d(x.bo, 0, 1, 64, NPU_I8);
	struct npu_tensor to = npu_tensor_2d(o.bo, 0, 1, 64, NPU_I8);
	struct npu_tensor bad, empty;
	npu_graph *g = NULL;
	npu_cmd *cmd;
	npu_fence f;
	uint32_t n;
	int i;

	(void)state;
	tx.scale_mode = to.scale_mode = NPU_SCALE_TENSOR;
	tx.scale = to.scale = t_scale(1);
	memset(x.p, 5, 64);
	bad = tx;
	bad.offset = 1;
	empty = tx;
	empty.rows = 0;
	assert_int_equal(npu_cmd_create(dev, &cmd), NPU_OK);
	assert_int_equal(npu_op_quantize(cmd, &tx, &to), NPU_OK);
	assert_int_equal(npu_op_quantize(cmd, &bad, &to), NPU_E_RANGE);
	assert_int_equal(npu_op_quantize(cmd, &tx, &to), NPU_E_RANGE);
	assert_int_equal(npu_op_quantize(cmd, &empty, &to), NPU_E_RANGE);
	assert_int_equal(npu_op_nop(cmd), NPU_E_RANGE);
	/* The count says so too, with the ops before the error. */
	assert_int_equal(npu_cmd_count(cmd, &n), NPU_E_RANGE);
	assert_int_equal(n, 1);
	assert_int_equal(npu_submit(cmd, &f), NPU_E_RANGE);
	assert_int_equal(npu_graph_create(cmd, &g), NPU_E_RANGE);
	assert_null(g);
	for (i = 0; i < 64; i++)
		assert_int_equal(((int8_t *)o.p)[i], 0);

	/* A reset stream starts clean. */
	assert_int_equal(npu_cmd_reset(cmd), NPU_OK);
	assert_int_equal(npu_op_quantize(cmd, &tx, &to), NPU_OK);
	assert_int_equal(t_run(dev, cmd, NULL), NPU_JOB_OK);
	for (i = 0; i < 64; i++)
		assert_int_equal(((int8_t *)o.p)[i], 5);
	npu_cmd_destroy(cmd);
	t_free(dev, &x);
	t_free(dev, &o);
	npu_close(dev);
}

/* The firmware's row lengths: an I4 row is cols / 2 bytes (odd cols are BAD_SHAPE). */
static void row_bytes(void **state)
{
	npu_device *dev = t_open();
	struct t_buf x = t_alloc(dev, 63), w = t_alloc(dev, 4 * 31), f = t_alloc(dev, 8);
	struct t_buf o = t_alloc(dev, 16);
	struct npu_tensor tx = npu_tensor_2d(x.bo, 0, 1, 63, NPU_I8);
	struct npu_tensor tw = npu_tensor_2d(w.bo, 0, 4, 63, NPU_I4);
	struct npu_tensor to = npu_tensor_2d(o.bo, 0, 1, 4, NPU_I32);
	npu_cmd *cmd;

	(void)state;
	assert_int_equal(npu_row_bytes(NPU_I4, 64), 32);
	assert_int_equal(npu_row_bytes(NPU_I4, 63), 31);
	assert_int_equal(npu_row_bytes(NPU_I8, 63), 63);
	assert_int_equal(npu_row_bytes(NPU_I16, 63), 126);
	assert_int_equal(npu_row_bytes(NPU_I32, 63), 252);
	assert_int_equal(npu_row_bytes(NPU_I32, UINT32_MAX), 4ull * UINT32_MAX);
	assert_int_equal(npu_row_bytes(0, 63), 0);
	assert_int_equal(npu_row_bytes(NPU_U8 + 1, 63), 0);
	/* b-bit codes: ceil(cols * b / 8). */
	assert_int_equal(npu_row_bytes(NPU_U2, 63), 16);
	assert_int_equal(npu_row_bytes(NPU_U3, 63), 24);
	assert_int_equal(npu_row_bytes(NPU_U4, 63), 32);
	assert_int_equal(npu_row_bytes(NPU_U5, 63), 40);
	assert_int_equal(npu_row_bytes(NPU_U6, 63), 48);
	assert_int_equal(npu_row_bytes(NPU_U8, 63), 63);
	assert_int_equal(npu_row_bytes(NPU_U3, 256), 96);

	/* The host checks the span the firmware would read, which refuses the odd I4 row. */
	tx.scale_mode = to.scale_mode = NPU_SCALE_TENSOR;
	tx.scale = to.scale = t_scale(1);
	tw.scale_mode = NPU_SCALE_GROUP;
	tw.scale = t_scale(1);
	tw.scale_bo = f.bo;
	assert_int_equal(npu_cmd_create(dev, &cmd), NPU_OK);
	assert_int_equal(npu_op_matmul(cmd, &tx, &tw, 63, NULL, &to), NPU_OK);
	assert_int_equal(t_run(dev, cmd, NULL), NPU_JOB_BAD_SHAPE);
	npu_cmd_destroy(cmd);
	t_free(dev, &x);
	t_free(dev, &w);
	t_free(dev, &f);
	t_free(dev, &o);
	npu_close(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encode_misuse),
		cmocka_unit_test(encode_keeps_first_error),
		cmocka_unit_test(row_bytes),
	};

	return cmocka_run_group_tests_name("encode", tests, NULL, NULL);
}
