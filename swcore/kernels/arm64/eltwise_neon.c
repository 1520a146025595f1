// SPDX-License-Identifier: MIT
/*
 * Element-wise hooks in NEON's two int64 lanes at every arm64 level, bit
 * for bit the firmware's loops, with the x86 levels' bounds and refusals
 * (x86/eltwise_avx512.c says why each is exact): ADD's two rescalings,
 * the norms' loops and the output stage's row maximum. Every product is
 * of 32-bit operands (SMULL, UMULL), which those bounds allow. SILU and
 * the softmax, whose cost is a 64-bit division per element, stay with
 * the firmware's loops: AArch64 divides in one scalar instruction, and
 * NEON has no division to do better with.
 */
#include <arm_neon.h>

#include "arm64.h"

/* Two int32 from @p (the first @left of them, the rest 0) as int64. */
static inline int64x2_t load2_s32(const int32_t *p, uint32_t left)
{
	if (left >= 2)
		return vmovl_s32(vld1_s32(p));
	return vsetq_lane_s64(p[0], vdupq_n_s64(0), 0);
}

static inline int64x2_t load2_s64(const __s64 *p, uint32_t left)
{
	if (left >= 2)
		return vld1q_s64((const int64_t *)p);
	return vsetq_lane_s64(p[0], vdupq_n_s64(0), 0);
}

static inline void store2_s64(__s64 *p, uint32_t left, int64x2_t v)
{
	if (left >= 2)
		vst1q_s64((int64_t *)p, v);
	else
		p[0] = vgetq_lane_s64(v, 0);
}

/* -v where @v < 0 gave @neg: the firmware's rounding is of magnitudes. */
static inline int64x2_t signed_as(uint64x2_t a, uint64x2_t neg)
{
	int64x2_t s = vreinterpretq_s64_u64(a);

	return vbslq_s64(neg, vnegq_s64(s), s);
}

/* fw_rshift_round for 1 <= @shift <= 63 on |x| < 2^63: ties away from zero. */
static inline int64x2_t rshift_round2(int64x2_t x, int shift)
{
	uint64x2_t a = vreinterpretq_u64_s64(vabsq_s64(x));

	a = vshlq_u64(vaddq_u64(a, vdupq_n_u64(1ull << (shift - 1))), vdupq_n_s64(-shift));
	return signed_as(a, vcltzq_s64(x));
}

/* round(x * s) for int32 x and 1 <= s.shift <= 62: |x * mult| < 2^62. */
static inline int64x2_t requant2(int64x2_t x, struct drm_npu_scale s)
{
	return rshift_round2(vmull_s32(vmovn_s64(x), vdup_n_s32(s.mult)), s.shift);
}

int npu_add_neon(void *unused NPU_UNUSED, const struct npu_fw_add *a)
{
	__u32 i;

	/* Other shifts round to nothing or saturate: the firmware's loop. */
	if (a->ma.shift < 1 || a->ma.shift > 62 || a->mb.shift < 1 || a->mb.shift > 62)
		return 1;
	for (i = 0; i < a->n; i += 2) {
		int64x2_t x = load2_s32(a->a + i, a->n - i), y = load2_s32(a->b + i, a->n - i);

		/* Each term is under 2^61: the sum cannot overflow. */
		store2_s64(a->v + i, a->n - i, vaddq_s64(requant2(x, a->ma), requant2(y, a->mb)));
	}
	return 0;
}

int npu_amax_neon(void *unused NPU_UNUSED, const __s64 *v, __u32 n, __u64 *out)
{
	uint64x2_t top = vdupq_n_u64(0);
	__u64 a, b;
	__u32 i;

	/* |INT64_MIN| stays INT64_MIN: 2^63 when read unsigned, as the firmware's. */
	for (i = 0; i < n; i += 2) {
		uint64x2_t x = vreinterpretq_u64_s64(vabsq_s64(load2_s64(v + i, n - i)));

		top = vbslq_u64(vcgtq_u64(x, top), x, top);
	}
	a = vgetq_lane_u64(top, 0);
	b = vgetq_lane_u64(top, 1);
	*out = a > b ? a : b;
	return 0;
}

/* v = x * 2^frac - mean and the sum of squares, for |v| < 2^24: under 2^64 for n <= 2^16. */
static int norm_center(const struct npu_fw_norm *nm)
{
	const int64x2_t mean = vdupq_n_s64(nm->mean), frac = vdupq_n_s64(nm->frac);
	const uint64x2_t limit = vdupq_n_u64((1ull << 24) - 1);
	uint64x2_t bad = vdupq_n_u64(0), ss = vdupq_n_u64(0);
	__u32 i;

	if (nm->n > 65536 || nm->frac < 0 || nm->frac > 24)
		return 1;
	for (i = 0; i < nm->n; i += 2) {
		int64x2_t v = vsubq_s64(vshlq_s64(load2_s32(nm->x + i, nm->n - i), frac), mean);

		/* A row's odd last lane would hold -mean: keep it out of the sum. */
		if (nm->n - i < 2)
			v = vsetq_lane_s64(0, v, 1);
		bad = vorrq_u64(bad, vcgtq_u64(vreinterpretq_u64_s64(vabsq_s64(v)), limit));
		/* |v| < 2^24 where it counts: its square in one 32-bit multiply. */
		ss = vaddq_u64(ss, vreinterpretq_u64_s64(vmull_s32(vmovn_s64(v), vmovn_s64(v))));
		store2_s64(nm->v + i, nm->n - i, v);
	}
	if (vgetq_lane_u64(bad, 0) | vgetq_lane_u64(bad, 1))
		return 1;
	*nm->ss = vgetq_lane_u64(ss, 0) + vgetq_lane_u64(ss, 1);
	return 0;
}

/*
 * v = round(v * r * 2^-shift) * gamma, where every |v| < 2^32, every
 * product under 2^63 and every rounded value under 2^31 (so that times an
 * int32 gain it fits 64 bits): checked on the row's largest |v| before
 * anything is written.
 */
static int norm_scale(const struct npu_fw_norm *nm)
{
	const uint32x2_t r = vdup_n_u32((uint32_t)nm->r);
	__u64 amax;
	__u32 i;

	if (nm->shift < 1 || nm->shift > 63)
		return 1;
	npu_amax_neon(NULL, nm->v, nm->n, &amax);
	if (amax >= 1ull << 32 || (__uint128_t)amax * nm->r >= 1ull << 63 ||
	    ((__uint128_t)amax * nm->r + (1ull << (nm->shift - 1))) >> nm->shift >= 1ull << 31)
		return 1;
	for (i = 0; i < nm->n; i += 2) {
		int64x2_t v = load2_s64(nm->v + i, nm->n - i);
		int64x2_t g = load2_s32(nm->gamma + i, nm->n - i);
		/* |v| < 2^32 and r < 2^32: UMULL's product is exact, and under 2^63. */
		uint64x2_t p = vmull_u32(vmovn_u64(vreinterpretq_u64_s64(vabsq_s64(v))), r);
		int64x2_t q = rshift_round2(signed_as(p, vcltzq_s64(v)), nm->shift);

		/* |q| < 2^31 and |gain| < 2^31. */
		store2_s64(nm->v + i, nm->n - i, vmull_s32(vmovn_s64(q), vmovn_s64(g)));
	}
	return 0;
}

int npu_norm_neon(void *unused NPU_UNUSED, const struct npu_fw_norm *nm)
{
	return nm->step == NPU_FW_NORM_CENTER ? norm_center(nm) : norm_scale(nm);
}
