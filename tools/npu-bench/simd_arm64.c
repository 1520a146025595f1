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

__attribute__((target("arch=armv8.2-a+dotprod"))) static uint64_t peak_sdot(long iters)
{
	int8x16_t a = vdupq_n_s8(3), b = vdupq_n_s8(-2);
	int32x4_t c0 = vdupq_n_s32(0), c1 = vdupq_n_s32(1), c2 = vdupq_n_s32(2);
	int32x4_t c3 = vdupq_n_s32(3), c4 = vdupq_n_s32(4), c5 = vdupq_n_s32(5);
	int32x4_t c6 = vdupq_n_s32(6), c7 = vdupq_n_s32(7);
	long i;

#define SDOT(c) ((c) = vdotq_s32((c), a, b))
	for (i = 0; i < iters; i++) {
		OPAQUE(a);
		OPAQUE(b);
		SDOT(c0), SDOT(c1), SDOT(c2), SDOT(c3), SDOT(c4), SDOT(c5), SDOT(c6), SDOT(c7);
	}
#undef SDOT
	c0 = vaddq_s32(vaddq_s32(c0, c1), vaddq_s32(c2, c3));
	c4 = vaddq_s32(vaddq_s32(c4, c5), vaddq_s32(c6, c7));
	return (uint64_t)vaddvq_s32(vaddq_s32(c0, c4));
}

__attribute__((target("arch=armv8.2-a+dotprod+i8mm"))) static uint64_t peak_smmla(long iters)
{
	int8x16_t a = vdupq_n_s8(3), b = vdupq_n_s8(-2);
	int32x4_t c0 = vdupq_n_s32(0), c1 = vdupq_n_s32(1), c2 = vdupq_n_s32(2);
	int32x4_t c3 = vdupq_n_s32(3), c4 = vdupq_n_s32(4), c5 = vdupq_n_s32(5);
	int32x4_t c6 = vdupq_n_s32(6), c7 = vdupq_n_s32(7);
	long i;

#define MMLA(c) ((c) = vmmlaq_s32((c), a, b))
	for (i = 0; i < iters; i++) {
		OPAQUE(a);
		OPAQUE(b);
		MMLA(c0), MMLA(c1), MMLA(c2), MMLA(c3), MMLA(c4), MMLA(c5), MMLA(c6), MMLA(c7);
	}
#undef MMLA
	c0 = vaddq_s32(vaddq_s32(c0, c1), vaddq_s32(c2, c3));
	c4 = vaddq_s32(vaddq_s32(c4, c5), vaddq_s32(c6, c7));
	return (uint64_t)vaddvq_s32(vaddq_s32(c0, c4));
}

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
