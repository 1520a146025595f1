// SPDX-License-Identifier: MIT
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

/* A cpu backend runs at the level @request names (capped at this CPU's): none stands in. */
static void check_level(npu_device *dev, const char *request)
{
	int isa = npu_isa_select(request);
	struct npu_info info;
	char want[32];

	assert_int_equal(npu_query(dev, &info), NPU_OK);
	if (strcmp(info.backend, "cpu"))
		return;
	assert_true(isa >= 0);
	snprintf(want, sizeof(want), "matmul %s ", npu_isa_name(isa));
	if (!strstr(info.name, want))
		fail_msg("the cpu backend is \"%s\", not at level %s", info.name, npu_isa_name(isa));
}

npu_device *t_open_at(const char *backend, const char *isa)
{
	struct t_env env;
	npu_device *dev = NULL;
	int err;

	if (isa)
		env = t_env_set("NPU_CPU_ISA", isa);
	err = npu_open(backend, &dev);
	if (isa)
		t_env_restore(&env);
	assert_int_equal(err, NPU_OK);
	assert_non_null(dev);
	check_level(dev, isa ? isa : getenv("NPU_CPU_ISA"));
	return dev;
}

npu_device *t_open(void)
{
	/* The backend NPU_DEVICE names, else the preferred one. */
	return t_open_at(NULL, NULL);
}

npu_device *t_open_other(void)
{
	npu_device *dev = NULL;
	int err = npu_open(NULL, &dev);

	/* A USB NPU serves one session: the cpu backend is the other device. */
	if (err == NPU_E_BUSY)
		err = npu_open("cpu", &dev);
	assert_int_equal(err, NPU_OK);
	return dev;
}

struct t_env t_env_set(const char *name, const char *value)
{
	struct t_env e = { .name = name };
	const char *now = getenv(name);

	if (now) {
		e.set = 1;
		assert_true(strlen(now) < sizeof(e.value));
		strcpy(e.value, now);
	}
	if (value)
		setenv(name, value, 1);
	else
		unsetenv(name);
	return e;
}

void t_env_restore(const struct t_env *e)
{
	if (e->set)
		setenv(e->name, e->value, 1);
	else
		unsetenv(e->name);
}

void t_require_isa(enum npu_isa isa)
{
	char cpu[96];

	if (npu_isa_host_has(isa))
		return;
	npu_isa_host_cpu(cpu, sizeof(cpu));
	/* "SKIP: " starts the line the test runners collect. */
	print_message("SKIP: %s: not on this CPU (%s), not tested\n", npu_isa_title(isa), cpu);
	skip();
}

struct t_buf t_alloc(npu_device *dev, uint64_t size)
{
	struct t_buf b;

	memset(&b, 0, sizeof(b));
	assert_int_equal(npu_bo_alloc(dev, size, &b.bo), NPU_OK);
	assert_int_equal(npu_bo_map(dev, b.bo, &b.p), NPU_OK);
	assert_int_equal(npu_bo_info(dev, b.bo, &b.addr, &b.size), NPU_OK);
	return b;
}

void t_free(npu_device *dev, struct t_buf *b)
{
	assert_int_equal(npu_bo_unmap(dev, b->bo), NPU_OK);
	assert_int_equal(npu_bo_free(dev, b->bo), NPU_OK);
	memset(b, 0, sizeof(*b));
}

uint32_t t_run(npu_device *dev, npu_cmd *cmd, struct npu_job_result *res)
{
	struct npu_job_result r;
	npu_fence f;
	int err;

	assert_int_equal(npu_submit(cmd, &f), NPU_OK);
	err = npu_fence_wait(dev, f, -1, &r);
	assert_int_equal(err, r.status ? NPU_E_JOB : NPU_OK);
	if (res)
		*res = r;
	return r.status;
}

uint32_t t_run_bytes(npu_device *dev, const void *bytes, uint32_t size, struct npu_job_result *res)
{
	struct npu_job_result r;
	struct t_buf b = t_alloc(dev, size ? size : 8);
	npu_fence f;
	int err;

	memcpy(b.p, bytes, size);
	assert_int_equal(npu_submit_stream(dev, b.bo, 0, size, NPU_PRIO_NORMAL, &f), NPU_OK);
	err = npu_fence_wait(dev, f, -1, &r);
	assert_int_equal(err, r.status ? NPU_E_JOB : NPU_OK);
	t_free(dev, &b);
	if (res)
		*res = r;
	return r.status;
}

uint32_t t_run_ops(npu_device *dev, const struct drm_npu_op *ops, uint32_t n,
		   struct npu_job_result *res)
{
	size_t size = sizeof(struct drm_npu_cmd_header) + (size_t)n * sizeof(*ops);
	struct drm_npu_cmd_header *h = calloc(1, size);
	uint32_t st;

	assert_non_null(h);
	h->magic = DRM_NPU_CMD_MAGIC;
	h->version_major = DRM_NPU_ABI_MAJOR;
	h->version_minor = DRM_NPU_ABI_MINOR;
	h->op_count = n;
	h->op_size = sizeof(*ops);
	memcpy(h + 1, ops, (size_t)n * sizeof(*ops));
	st = t_run_bytes(dev, h, (uint32_t)size, res);
	free(h);
	return st;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

void t_seed(uint64_t seed)
{
	rng_state = seed ? seed : 0x9e3779b97f4a7c15ull;
}

uint64_t t_rand(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

int32_t t_rand_range(int32_t lo, int32_t hi)
{
	return (int32_t)(lo + (int64_t)(t_rand() % ((uint64_t)((int64_t)hi - lo) + 1)));
}

double t_rand_unit(void)
{
	return (double)(t_rand() >> 11) / 9007199254740992.0;
}

struct npu_scale t_scale(double v)
{
	struct npu_scale s;

	assert_int_equal(npu_scale_from_double(v, &s), NPU_OK);
	return s;
}

struct drm_npu_tensor t_abi_tensor(uint64_t addr, uint32_t rows, uint32_t cols, uint8_t dtype,
				   uint8_t scale_mode, struct npu_scale s, uint64_t scale_addr)
{
	struct drm_npu_tensor t;
	uint64_t rb = npu_row_bytes((enum npu_dtype)dtype, cols);

	memset(&t, 0, sizeof(t));
	t.addr = addr;
	t.rows = rows;
	t.cols = cols;
	/* Packed; a dtype the firmware must refuse gets a byte per element. */
	t.stride = rb ? (uint32_t)rb : cols;
	t.dtype = dtype;
	t.scale_mode = scale_mode;
	if (scale_mode == DRM_NPU_SCALE_TENSOR || scale_mode == DRM_NPU_SCALE_GROUP ||
	    scale_mode == DRM_NPU_SCALE_BLOCK) {
		t.scale.mult = s.mult;
		t.scale.shift = s.shift;
	}
	t.scale_addr = scale_addr;
	return t;
}

void *t_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	void *p;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc(*len);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, *len, f), *len);
	fclose(f);
	return p;
}

void t_write_file(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	fclose(f);
}

int t_model_path(const char *name, char *out, size_t len)
{
	const char *d = getenv("NPU_MODELS") ? getenv("NPU_MODELS") : "../shared/models";

	snprintf(out, len, "%s/%s", d, name);
	if (access(out, R_OK)) {
		fprintf(stderr, "%s missing (set NPU_MODELS)\n", out);
		return -1;
	}
	return 0;
}

int t_mkdtemp(const char *tag, char *dir, size_t len)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	snprintf(dir, len, "%s/%s.XXXXXX", tmp, tag);
	return mkdtemp(dir) ? 0 : -1;
}

int t_rmdir(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

int t_stories_find(struct t_stories *s, const char *test)
{
	if (t_model_path("stories260K.bin", s->bin, sizeof(s->bin)) |
	    t_model_path("tok512.bin", s->tok, sizeof(s->tok)) |
	    t_model_path("stories260K.gguf", s->gguf, sizeof(s->gguf)))
		return -1;
	return t_mkdtemp(test, s->dir, sizeof(s->dir));
}
