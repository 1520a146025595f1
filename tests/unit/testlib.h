/* SPDX-License-Identifier: MIT */
/* Helpers shared by the host tests (cmocka). */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <npu/npu.h>
#include "../../uapi/drm/npu_accel.h"
#include "../../swcore/kernels/isa.h"

/*
 * Open the device NPU_DEVICE names (default: auto); fails the test
 * otherwise, or when a cpu backend runs at a level other than the one
 * $NPU_CPU_ISA asks for (capped at this CPU's best).
 */
npu_device *t_open(void);
/*
 * Open @backend (NULL: as t_open) with $NPU_CPU_ISA set to @isa (NULL: as
 * it is) for this call only; the same checks.
 */
npu_device *t_open_at(const char *backend, const char *isa);
/* A second device: another of the same backend, or the cpu backend when
 * the first serves one session at a time (usb). */
npu_device *t_open_other(void);

/* An environment variable as it was, to be put back by t_env_restore. */
struct t_env {
	const char *name;
	int set;
	char value[64];
};

/* Keep @name's value, then set it to @value (NULL: unset it). */
struct t_env t_env_set(const char *name, const char *value);
void t_env_restore(const struct t_env *e);

/*
 * Unless this CPU has @isa, skip the calling test with a line that names
 * the missing instructions and the CPU: hardware a host lacks is reported
 * as not tested, never failed and never passed.
 */
void t_require_isa(enum npu_isa isa);

/* A buffer, allocated and mapped; t_free unmaps and frees it. */
struct t_buf {
	npu_bo bo;
	void *p;
	uint64_t addr;
	uint64_t size;
};

/* A whole file into a malloc'd buffer (asserting), and bytes into a file. */
void *t_read_file(const char *path, size_t *len);
void t_write_file(const char *path, const void *p, size_t len);
/*
 * $NPU_MODELS (else ../shared/models)/@name into @out: 0 when readable,
 * else a line on stderr and -1 (a missing model fails, never skips).
 */
int t_model_path(const char *name, char *out, size_t len);
/* stories260K's files, and a fresh scratch directory named for @test. */
struct t_stories {
	char bin[512], tok[512], gguf[512], dir[512];
};
/* A cmocka group setup's body: -1 when a file is missing (it fails, never skips). */
int t_stories_find(struct t_stories *s, const char *test);
/* A new directory $TMPDIR (else /tmp)/@tag.XXXXXX into @dir: 0, or -1. */
int t_mkdtemp(const char *tag, char *dir, size_t len);
/* Remove @dir and everything in it: 0, or -1. */
int t_rmdir(const char *dir);

struct t_buf t_alloc(npu_device *dev, uint64_t size);
void t_free(npu_device *dev, struct t_buf *b);

/* Submit cmd, wait, return the job status (NPU_JOB_*). */
uint32_t t_run(npu_device *dev, npu_cmd *cmd, struct npu_job_result *res);

/*
 * Run a raw stream: header + n ops (op_size = sizeof(struct drm_npu_op)),
 * copied into a fresh buffer and submitted as a driver would.
 */
uint32_t t_run_ops(npu_device *dev, const struct drm_npu_op *ops, uint32_t n,
		   struct npu_job_result *res);
/* Run arbitrary stream bytes. */
uint32_t t_run_bytes(npu_device *dev, const void *bytes, uint32_t size, struct npu_job_result *res);

/* Deterministic pseudo-random numbers (xorshift64*), seeded per test. */
void t_seed(uint64_t seed);
uint64_t t_rand(void);
int32_t t_rand_range(int32_t lo, int32_t hi);	/* inclusive */
double t_rand_unit(void);			/* [0, 1) */

/* A scale from a double, asserting it is representable. */
struct npu_scale t_scale(double v);

/* ABI tensor descriptor for a packed buffer region. */
struct drm_npu_tensor t_abi_tensor(uint64_t addr, uint32_t rows, uint32_t cols, uint8_t dtype,
				   uint8_t scale_mode, struct npu_scale s, uint64_t scale_addr);

#endif
