// SPDX-License-Identifier: MIT
/*
 * npu-bench's loops on arm64: the memory read in NEON's 16-byte loads,
 * and the int8 peak of each level the cpu backend's kernels run: NEON's
 * widening multiply-add (smlal, 8 MACs), SDOT (16) and SMMLA (32).
 */
#include <arm_neon.h>
#include <string.h>

#include "simd.h"

void *bench_read_all(void *arg)
{
	struct bw_arg *a = arg;
	uint64x2_t s0 = vdupq_n_u64(0), s1 = s0, s2 = s0, s3 = s0;
	size_t i;

	for (i = 0; i + 64 <= a->len; i += 64) {
		s0 = vaddq_u64(s0, vld1q_u64((const uint64_t *)(a->p + i)));
		s1 = vaddq_u64(s1, vld1q_u64((const uint64_t *)(a->p + i + 16)));
		s2 = vaddq_u64(s2, vld1q_u64((const uint64_t *)(a->p + i + 32)));
		s3 = vaddq_u64(s3, vld1q_u64((const uint64_t *)(a->p + i + 48)));
	}
	s0 = vaddq_u64(vaddq_u64(s0, s1), vaddq_u64(s2, s3));
	a->sink = vgetq_lane_u64(s0, 0) + vgetq_lane_u64(s0, 1);
	return NULL;
}

/*
 * As on x86, the operands are opaque to the compiler and each chain
 * starts at its own value, so that no two chains merge and nothing is
 * hoisted out of the loop: eight independent accumulators.
 */
#define OPAQUE(v) __asm__ volatile("" : "+w"(v))

static uint64_t peak_neon(long iters)
{
	int8x8_t a = vdup_n_s8(3), b = vdup_n_s8(-2);
	int16x8_t c0 = vdupq_n_s16(0), c1 = vdupq_n_s16(1), c2 = vdupq_n_s16(2);
	int16x8_t c3 = vdupq_n_s16(3), c4 = vdupq_n_s16(4), c5 = vdupq_n_s16(5);
	int16x8_t c6 = vdupq_n_s16(6), c7 = vdupq_n_s16(7);
	long i;

#define MLAL(c) ((c) = vmlal_s8((c), a, b))
	for (i = 0; i < iters; i++) {
		OPAQUE(a);
		OPAQUE(b);
		MLAL(c0), MLAL(c1), MLAL(c2), MLAL(c3), MLAL(c4), MLAL(c5), MLAL(c6), MLAL(c7);
	}
#undef MLAL
	c0 = vaddq_s16(vaddq_s16(c0, c1), vaddq_s16(c2, c3));
	c4 = vaddq_s16(vaddq_s16(c4, c5), vaddq_s16(c6, c7));
	return (uint64_t)vaddvq_s16(vaddq_s16(c0, c4));
}

/*
 * SDOT's and SMMLA's loops: eight int32x4 chains of @op (vdotq_s32 or
 * vmmlaq_s32), each fed its own product of int8 vectors.
 */
#define PEAK_INT32(name, arch, op) \
	__attribute__((target(arch))) static uint64_t name(long iters) \
	{ \
		int8x16_t a = vdupq_n_s8(3), b = vdupq_n_s8(-2); \
		int32x4_t c0 = vdupq_n_s32(0), c1 = vdupq_n_s32(1), c2 = vdupq_n_s32(2); \
		int32x4_t c3 = vdupq_n_s32(3), c4 = vdupq_n_s32(4), c5 = vdupq_n_s32(5); \
		int32x4_t c6 = vdupq_n_s32(6), c7 = vdupq_n_s32(7); \
		long i; \
		for (i = 0; i < iters; i++) { \
			OPAQUE(a); \
			OPAQUE(b); \
			c0 = op(c0, a, b), c1 = op(c1, a, b), c2 = op(c2, a, b); \
			c3 = op(c3, a, b), c4 = op(c4, a, b), c5 = op(c5, a, b); \
			c6 = op(c6, a, b), c7 = op(c7, a, b); \
		} \
		c0 = vaddq_s32(vaddq_s32(c0, c1), vaddq_s32(c2, c3)); \
		c4 = vaddq_s32(vaddq_s32(c4, c5), vaddq_s32(c6, c7)); \
		return (uint64_t)vaddvq_s32(vaddq_s32(c0, c4)); \
	}

PEAK_INT32(peak_sdot, "arch=armv8.2-a+dotprod", vdotq_s32)
PEAK_INT32(peak_smmla, "arch=armv8.2-a+dotprod+i8mm", vmmlaq_s32)

const struct bench_peak *bench_peak_for(const char *backend)
{
	/* Per iteration: 8 SMMLA x 32 MACs, 8 SDOT x 16, 8 SMLAL x 8. */
	static const struct bench_peak smmla = { "i8mm", "NEON SMMLA", 8 * 32, peak_smmla };
	static const struct bench_peak sdot = { "dotprod", "NEON SDOT", 8 * 16, peak_sdot };
	static const struct bench_peak neon = { "neon", "NEON SMLAL", 8 * 8, peak_neon };

	if (strstr(backend, "matmul i8mm "))
		return &smmla;
	if (strstr(backend, "matmul dotprod "))
		return &sdot;
	return &neon;
}
