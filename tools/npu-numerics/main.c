// SPDX-License-Identifier: MIT
/*
 * npu-numerics - measure what every integer op of the NPU costs in accuracy.
 *
 * Each op runs on randomized inputs through libnpu's "cpu" backend (the
 * firmware's own kernels, in-process). Its output, dequantized with the
 * output scales, is compared with a double-precision computation of the
 * same op on the same dequantized inputs: the error shown is what the
 * integer op adds (its intermediate roundings, its tables, the rounding of
 * its output), not the quantization of its inputs. Rows marked "vs float"
 * compare instead with the op on the original, unquantized float inputs:
 * that is the cost of quantizing them.
 *
 * An LSB is the output's scale (the row's scale for a dynamic ROW output).
 *
 * usage: npu-numerics [--markdown]
 * Deterministic (fixed seeds). Exit status 1 if any op fails to run.
 */
#include <stdio.h>
#include <string.h>

#include "numerics.h"

npu_device *dev;
int n_measured, n_failed;

int main(int argc, char **argv)
{
	struct npu_info info;
	int err;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--markdown"))) {
		fprintf(stderr, "usage: npu-numerics [--markdown]\n");
		return 2;
	}
	err = npu_open("cpu", &dev);
	if (err)
		die("npu_open(\"cpu\")", err);
	err = npu_query(dev, &info);
	if (err)
		die("npu_query", err);

	printf("Integer ops of the NPU against double precision (backend %s, firmware %s).\n",
	       info.backend, info.fw_build_id);
	printf("Reference: the same op in double on the same dequantized inputs; \"vs float\":\n");
	printf("on the unquantized float inputs. LSB: the output's scale (its row's, if dynamic).\n\n");
	print_header();

	measure_matmul("MATMUL W8/channel", NPU_I8, 512, 0, NPU_I16, NPU_SCALE_ROW, 0,
		       "x I8 row-dyn 32x512, rows N(0,sd), sd in [0.25,4]; W I8 256x512 "
		       "group=512 -> I16 row-dyn", 1);
	measure_matmul("MATMUL W8/channel + bias", NPU_I8, 512, 1, NPU_I32, NPU_SCALE_TENSOR,
		       0x1p-20, "same x, W; bias I32 tensor 2^-20 -> I32 tensor 2^-20", 1);
	measure_matmul("MATMUL W4 g32", NPU_I4, 32, 0, NPU_I16, NPU_SCALE_ROW, 0,
		       "x I8 row-dyn 32x512; W I4 256x512 group=32 -> I16 row-dyn", 1);
	measure_matmul("MATMUL W4 g64", NPU_I4, 64, 0, NPU_I16, NPU_SCALE_ROW, 0,
		       "x I8 row-dyn 32x512; W I4 256x512 group=64 -> I16 row-dyn", 1);
	measure_matmul("MATMUL W4 g128", NPU_I4, 128, 0, NPU_I16, NPU_SCALE_ROW, 0,
		       "x I8 row-dyn 32x512; W I4 256x512 group=128 -> I16 row-dyn", 1);
	measure_rmsnorm("x I16 tensor 2^-10, 64x512, rows N(0,sd), sd in [0.25,4]; "
			"gamma I8 [0.5,1.5]; eps 1e-5 -> I8 row-dyn",
			NPU_I16, NPU_SCALE_TENSOR, 0x1p-10, 0.25, 4.0, NPU_I8, 2);
	measure_rmsnorm("x I8 tensor 2^-5, 64x512, small rows: sd in [0.03,0.12] "
			"(1-4 LSB); gamma I8; eps 1e-5 -> I16 row-dyn",
			NPU_I8, NPU_SCALE_TENSOR, 0x1p-5, 0.03, 0.12, NPU_I16, 2);
	measure_layernorm();
	measure_softmax("SOFTMAX", "x I16 tensor 2^-8, 64x256, N(0,sd), sd in [8,32]; "
			"alpha 1/8 -> I16 tensor 1/32767", 0, NPU_I16, 1.0 / 32767, 4);
	measure_softmax("SOFTMAX causal", "same, causal mask at pos 100 (101..164 visible) "
			"-> I16 tensor 1/32767", 1, NPU_I16, 1.0 / 32767, 4);
	measure_softmax("SOFTMAX", "same, no mask -> I8 tensor 1/127", 0, NPU_I8, 1.0 / 127, 4);
	measure_activation("SILU", "x I16 tensor 2^-11, 64x1024, N(0,sd), sd in [0.5,3] "
			   "-> I16 row-dyn", 0, 0, NPU_I16, NPU_SCALE_TENSOR, 0x1p-11, 0.5, 3.0, 5);
	measure_activation("SILU", "x I8 row-dyn, same values -> I8 row-dyn",
			   0, 0, NPU_I8, NPU_SCALE_ROW, 0, 0.5, 3.0, 5);
	measure_activation("SILU", "x I16 row-dyn, small rows: sd in [0.002,0.02] "
			   "-> I16 row-dyn", 0, 0, NPU_I16, NPU_SCALE_ROW, 0, 0.002, 0.02, 5);
	measure_activation("GELU", "x I16 tensor 2^-11, same values -> I16 row-dyn "
			   "(reference: tanh form)", 1, 0, NPU_I16, NPU_SCALE_TENSOR, 0x1p-11, 0.5, 3.0, 5);
	measure_activation("GELU", "x I8 row-dyn, same values -> I8 row-dyn (tanh form)",
			   1, 0, NPU_I8, NPU_SCALE_ROW, 0, 0.5, 3.0, 5);
	measure_activation("GELU vs erf", "x I16 tensor 2^-11 -> I16 row-dyn; reference: "
			   "exact erf GELU", 1, 1, NPU_I16, NPU_SCALE_TENSOR, 0x1p-11, 0.5, 3.0, 5);
	measure_binary("ADD", "a I16 tensor 2^-11 + b I16 row-dyn, 64x1024, N(0,sd) "
		       "-> I16 tensor 2^-11", 1, 6);
	measure_binary("MUL", "a I8 row-dyn * b I8 row-dyn, 64x1024, N(0,sd) -> I8 row-dyn",
		       0, 7);
	measure_rope();
	measure_attention("ATTENTION, I8 KV cache", "q I8 row-dyn 8x512 (8 heads x 64), "
			  "K/V I8 row-dyn 128x128 (2 KV heads), pos 96..103, alpha 1/8 "
			  "-> I16 row-dyn", NPU_I8, 8);
	measure_attention("ATTENTION, I16 KV cache", "same, K/V I16 row-dyn", NPU_I16, 8);
	measure_kv_append("src I16 row-dyn 4x128 -> I8 row-dyn cache rows 17..20",
			  NPU_I8, 13);
	measure_kv_append("src I16 row-dyn 4x128 -> I16 row-dyn cache rows 17..20",
			  NPU_I16, 13);
	measure_embedding();
	measure_quantize();
	measure_argmax();

	printf("\n%d measurements, %d failed to run.\n", n_measured, n_failed);
	npu_close(dev);
	return n_failed ? 1 : 0;
}
