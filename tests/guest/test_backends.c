// SPDX-License-Identifier: MIT
/*
 * Every op through the device (accel, usb, or the cpu backend at each of
 * its instruction-set levels) equals the firmware's own loops (the cpu
 * backend at NPU_CPU_ISA=scalar) bit for bit: the same randomized stream
 * runs on both, and every output byte is compared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <npu/npu.h>
#include "../unit/testlib.h"

#define ROWS 6
#define COLS 64
#define BUF (1 << 20)

/* Offsets of the regions every stream uses inside one buffer. */
enum { X8 = 0, X16 = 8192, X32 = 16384, XS = 32768, W8 = 40960, W4 = 49152, WF = 53248,
       G16 = 57344, B16 = 57600, FREQ = 57856, IDS = 58112, KC = 65536, KS = 98304,
       VC = 106496, OUT = 262144, OUTS = 524288, STRIDE = 8192 };

struct side {
	npu_device *dev;
	npu_bo bo;
	void *p;
};

static void fill(uint8_t *p)
{
	int i;

	for (i = 0; i < OUT; i++)
		p[i] = (uint8_t)t_rand();
	/* Valid scales where scales are read; valid ids. */
	for (i = 0; i < 64; i++)
		((struct npu_scale *)(p + XS))[i] = t_scale(0.001 + t_rand_unit() * 0.05);
	for (i = 0; i < 512; i++)
		((struct npu_scale *)(p + KS))[i] = t_scale(0.001 + t_rand_unit() * 0.05);
	for (i = 0; i < ROWS; i++)
		((int32_t *)(p + IDS))[i] = t_rand_range(0, 63);
}

static struct npu_tensor t_at(struct side *s, uint64_t off, uint32_t rows, uint32_t cols,
			      enum npu_dtype dt, enum npu_scale_mode mode)
{
	struct npu_tensor t = npu_tensor_2d(s->bo, off, rows, cols, dt);

	t.scale_mode = mode;
	if (mode == NPU_SCALE_TENSOR || mode == NPU_SCALE_GROUP)
		t.scale = t_scale(0.0173);
	if (mode == NPU_SCALE_ROW) {
		t.scale_bo = s->bo;
		t.scale_offset = off == KC || off == VC ? KS : XS;
	}
	if (mode == NPU_SCALE_GROUP) {
		t.scale_bo = s->bo;
		t.scale_offset = WF;
	}
	return t;
}

/* One op of each kind, each writing its own output region. */
static void encode_all(struct side *s, npu_cmd *cmd)
{
	struct npu_tensor x8 = t_at(s, X8, ROWS, COLS, NPU_I8, NPU_SCALE_ROW);
	struct npu_tensor x16 = t_at(s, X16, ROWS, COLS, NPU_I16, NPU_SCALE_TENSOR);
	struct npu_tensor x32 = t_at(s, X32, ROWS, COLS, NPU_I32, NPU_SCALE_TENSOR);
	struct npu_tensor w8 = t_at(s, W8, 32, COLS, NPU_I8, NPU_SCALE_GROUP);
	struct npu_tensor w4 = t_at(s, W4, 32, COLS, NPU_I4, NPU_SCALE_GROUP);
	struct npu_tensor g = t_at(s, G16, 1, COLS, NPU_I16, NPU_SCALE_TENSOR);
	struct npu_tensor b = t_at(s, B16, 1, COLS, NPU_I16, NPU_SCALE_TENSOR);
	struct npu_tensor f = t_at(s, FREQ, 1, 4, NPU_I32, NPU_SCALE_NONE);
	struct npu_tensor ids = t_at(s, IDS, ROWS, 1, NPU_I32, NPU_SCALE_NONE);
	struct npu_tensor kc = t_at(s, KC, 32, 32, NPU_I8, NPU_SCALE_ROW);
	struct npu_tensor vc = t_at(s, VC, 32, 32, NPU_I16, NPU_SCALE_TENSOR);
	struct npu_tensor tab = t_at(s, X8, 64, COLS, NPU_I8, NPU_SCALE_TENSOR);
	struct npu_pos pos = { .value = 20 };
	uint64_t o = OUT, os = OUTS;
	int i;

	for (i = 0; i < 17; i++) {
		struct npu_tensor out = t_at(s, o, ROWS, COLS, NPU_I16, NPU_SCALE_ROW);
		struct npu_tensor o32 = out;

		out.scale_offset = os;
		o32.cols = 32;
		o32.dtype = NPU_I32;
		o32.scale_mode = NPU_SCALE_TENSOR;
		o32.scale = t_scale(0.01);
		o32.scale_bo = 0;
		switch (i) {
		case 0: npu_op_matmul(cmd, &x8, &w8, 64, NULL, &o32); break;
		case 1: npu_op_matmul(cmd, &x8, &w4, 32, NULL, &o32); break;
		case 2: npu_op_matmul(cmd, &x16, &w8, 64, NULL, &o32); break;
		case 3: npu_op_rmsnorm(cmd, &x16, &g, t_scale(1e-5), &out); break;
		case 4: npu_op_layernorm(cmd, &x32, &g, &b, t_scale(1e-5), &out); break;
		case 5: npu_op_softmax(cmd, &x32, t_scale(0.125), &pos, &out); break;
		case 6: npu_op_silu(cmd, &x16, &out); break;
		case 7: npu_op_gelu(cmd, &x8, &out); break;
		case 8: npu_op_add(cmd, &x8, &x16, &out); break;
		case 9: npu_op_mul(cmd, &x16, &x8, &out); break;
		case 10: npu_op_rope(cmd, &x16, &f, 8, 8, &pos, &out); break;
		case 11: {
			struct npu_tensor q = t_at(s, X8, 2, COLS, NPU_I8, NPU_SCALE_ROW);

			out.rows = 2;
			npu_op_attention(cmd, &q, &kc, &vc, 8, 4, 8, t_scale(0.35), &pos, &out);
			break;
		}
		case 12: npu_op_embedding(cmd, &tab, &ids, &out); break;
		case 13: npu_op_quantize(cmd, &x32, &out); break;
		case 14: {
			struct npu_tensor am = t_at(s, o, ROWS, 1, NPU_I32, NPU_SCALE_NONE);

			npu_op_argmax(cmd, &x32, &am);
			break;
		}
		case 15: {
			struct npu_tensor cache = t_at(s, o, 32, COLS, NPU_I8, NPU_SCALE_ROW);

			cache.scale_offset = os;
			npu_op_kv_append(cmd, &x16, &cache, &pos);
			break;
		}
		default: npu_op_quantize(cmd, &x16, &out); break;
		}
		o += STRIDE;
		os += 256;
	}
}

static void run_side(struct side *s, uint64_t seed)
{
	npu_cmd *cmd;
	uint32_t n;

	assert_int_equal(npu_bo_alloc(s->dev, BUF, &s->bo), NPU_OK);
	assert_int_equal(npu_bo_map(s->dev, s->bo, &s->p), NPU_OK);
	t_seed(seed);
	fill(s->p);
	assert_int_equal(npu_cmd_create(s->dev, &cmd), NPU_OK);
	encode_all(s, cmd);
	assert_int_equal(npu_cmd_count(cmd, &n), NPU_OK);
	assert_int_equal(n, 17);
	assert_int_equal(t_run(s->dev, cmd, NULL), NPU_JOB_OK);
	npu_cmd_destroy(cmd);
}

/*
 * The device under test (@backend; for the cpu backend at level @isa) against
 * the cpu backend at the scalar level.
 */
static void compare(const char *backend, const char *isa)
{
	struct side dev = { 0 }, cpu = { 0 };
	struct npu_info info;
	uint64_t seed;

	/* Each at the level it is asked for: t_open_at checks none stands in. */
	dev.dev = t_open_at(backend, isa);
	cpu.dev = t_open_at("cpu", "scalar");
	assert_int_equal(npu_query(dev.dev, &info), NPU_OK);
	assert_string_equal(info.backend, backend);
	for (seed = 1; seed <= 20; seed++) {
		run_side(&dev, seed);
		run_side(&cpu, seed);
		/* Inputs identical, so every output byte must be too. */
		assert_memory_equal(dev.p, cpu.p, BUF);
		npu_bo_unmap(dev.dev, dev.bo);
		npu_bo_unmap(cpu.dev, cpu.bo);
		npu_bo_free(dev.dev, dev.bo);
		npu_bo_free(cpu.dev, cpu.bo);
	}
	npu_close(dev.dev);
	npu_close(cpu.dev);
}

/* A device other than the cpu backend (NPU_DEVICE): accel or usb. */
static void device_equals_cpu(void **state)
{
	compare(*state, NULL);
}

/* The cpu backend at a level beyond the scalar one (the state: the level). */
static void cpu_at_level_equals_scalar(void **state)
{
	enum npu_isa isa = *(const enum npu_isa *)*state;

	t_require_isa(isa);
	compare("cpu", npu_isa_name(isa));
}

int main(void)
{
	/* The device under test: NPU_DEVICE (the cpu backend by default). */
	static char backend[16] = "cpu";
	const char *env = getenv("NPU_DEVICE");
	const struct CMUnitTest device[] = {
		cmocka_unit_test_prestate(device_equals_cpu, backend),
	};
	/* One test per level of this architecture: cpu_avx2_equals_scalar, cpu_dotprod_... */
	static enum npu_isa levels[NPU_ISA_COUNT];
	static char names[NPU_ISA_COUNT][48];
	struct CMUnitTest cpu[NPU_ISA_COUNT];
	size_t n = 0;
	enum npu_isa isa;

	for (isa = NPU_ISA_SCALAR + 1; isa < NPU_ISA_COUNT; isa++, n++) {
		levels[n] = isa;
		snprintf(names[n], sizeof(names[n]), "cpu_%s_equals_scalar", npu_isa_name(isa));
		cpu[n] = (struct CMUnitTest){ names[n], cpu_at_level_equals_scalar, NULL, NULL,
					      &levels[n] };
	}

	if (env && *env)
		snprintf(backend, sizeof(backend), "%s", env);
	if (strcmp(backend, "cpu"))
		return cmocka_run_group_tests_name("backends", device, NULL, NULL);
	return _cmocka_run_group_tests("backends", cpu, n, NULL, NULL);
}
