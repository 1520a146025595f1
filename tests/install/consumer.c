// SPDX-License-Identifier: MIT
/*
 * An application of libnpu built from an installed tree with nothing but
 * `pkg-config --cflags --libs npu`: one ARGMAX job on the cpu backend.
 */
#include <stdint.h>
#include <stdio.h>

#include <npu/npu.h>

int main(void)
{
	struct npu_job_result res;
	struct npu_tensor x, out;
	npu_device *dev;
	npu_cmd *cmd;
	npu_fence fence;
	npu_bo bo;
	int32_t *p;
	int i, err;

	err = npu_open("cpu", &dev);
	err = err ? err : npu_bo_alloc(dev, 4096, &bo);
	err = err ? err : npu_bo_map(dev, bo, (void **)&p);
	if (err) {
		fprintf(stderr, "consumer: %s\n", npu_strerror(err));
		return 1;
	}
	/* (7 i) mod 16 is largest at i = 9. */
	for (i = 0; i < 16; i++)
		p[i] = (7 * i) % 16 - 3;
	x = npu_tensor_2d(bo, 0, 1, 16, NPU_I32);
	out = npu_tensor_2d(bo, 1024, 1, 1, NPU_I32);
	err = npu_cmd_create(dev, &cmd);
	err = err ? err : npu_op_argmax(cmd, &x, &out);
	err = err ? err : npu_submit(cmd, &fence);
	err = err ? err : npu_fence_wait(dev, fence, -1, &res);
	if (err || p[256] != 9) {
		fprintf(stderr, "consumer: %s, argmax %d (want 9)\n", npu_strerror(err), p[256]);
		return 1;
	}
	printf("consumer: argmax 9 on libnpu's cpu backend\n");
	npu_cmd_destroy(cmd);
	npu_bo_unmap(dev, bo);
	npu_bo_free(dev, bo);
	npu_close(dev);
	return 0;
}
