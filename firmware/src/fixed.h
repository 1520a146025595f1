/* SPDX-License-Identifier: MIT */
/*
 * Fixed-point arithmetic of the NPU (docs/numerics.md, "Notation and integer primitives").
 * Every rounding here is to nearest with ties away from zero.
 */
#ifndef NPU_FW_FIXED_H
#define NPU_FW_FIXED_H

#include "../include/npu_fw.h"

/* The firmware has no libc: its own NULL. */
#define FW_NULL ((void *)0)

#define FW_S64_MAX ((__s64)0x7fffffffffffffffLL)
#define FW_S64_MIN (-FW_S64_MAX - 1)
#define FW_S32_MAX 0x7fffffff
#define FW_S32_MIN (-FW_S32_MAX - 1)

/* Host-supplied scales: 1 <= mult, -32 <= shift <= 126. */
#define FW_SHIFT_MIN (-32)
#define FW_SHIFT_MAX 126

static inline int fw_scale_valid(struct drm_npu_scale s)
{
	return s.mult >= 1 && s.shift >= FW_SHIFT_MIN && s.shift <= FW_SHIFT_MAX;
}

/*
 * x / 2^n rounded, n >= 0; |x| < 2^126. Without a branch on the sign:
 * callers run it over data whose signs are random, which mispredicts.
 */
static inline __int128_t fw_rshift_round(__int128_t x, int n)
{
	__int128_t neg = x >> 127, r;	/* 0 or -1 */

	if (n == 0)
		return x;
	if (n >= 127)
		return 0;
	r = (((x ^ neg) - neg) + ((__int128_t)1 << (n - 1))) >> n;
	return (r ^ neg) - neg;
}

static inline __s64 fw_sat64(__int128_t x)
{
	if (x > FW_S64_MAX)
		return FW_S64_MAX;
	if (x < FW_S64_MIN)
		return FW_S64_MIN;
	return (__s64)x;
}

static inline __s64 fw_clamp(__s64 x, __s64 lo, __s64 hi)
{
	return x < lo ? lo : (x > hi ? hi : x);
}

/* a + b, saturated to 64 bits. */
static inline __s64 fw_add_sat(__s64 a, __s64 b)
{
	return fw_sat64((__int128_t)a + b);
}

/* round(v * s), saturated to 64 bits. */
static inline __s64 fw_requant(__s64 v, struct drm_npu_scale s)
{
	__int128_t p = (__int128_t)v * s.mult;

	if (s.shift >= 0)
		return fw_sat64(fw_rshift_round(p, s.shift));
	/* s.shift >= -2^31: shift left with saturation; |p| < 2^94. */
	if (s.shift < -32)
		return p > 0 ? FW_S64_MAX : (p < 0 ? FW_S64_MIN : 0);
	return fw_sat64(p * ((__int128_t)1 << -s.shift));
}

/* Normalize m * 2^-shift (m > 0) so that 2^30 <= mult < 2^31, rounding. */
struct drm_npu_scale fw_scale_norm(__u64 m, __s32 shift);
struct drm_npu_scale fw_scale_mul(struct drm_npu_scale a, struct drm_npu_scale b);
struct drm_npu_scale fw_scale_div(struct drm_npu_scale a, struct drm_npu_scale b);
/* <0, 0, >0 as a is smaller, equal or larger than b (both normalized). */
int fw_scale_cmp(struct drm_npu_scale a, struct drm_npu_scale b);
/* Clamp a computed scale into the range a tensor may carry. */
struct drm_npu_scale fw_scale_storable(struct drm_npu_scale s);

/* 2^(-u / 65536) in Q30 for u >= 0 (exp2 table, linear interpolation). */
__u32 fw_exp2_neg_q16(const struct npu_fw_tables *t, __u64 u);
/* 1/sqrt(x) = r * 2^-e for x >= 1, with 2^30 - 1 <= r <= 2^31. */
void fw_rsqrt(const struct npu_fw_tables *t, __u64 x, __u32 *r, __s32 *e);
/* sin and cos in Q14 of an angle in turns, Q0.32. */
void fw_sincos_q14(const struct npu_fw_tables *t, __u32 turns, __s32 *s, __s32 *c);
/* sigmoid(x) in Q30 of x in Q16. */
__u32 fw_sigmoid_q30(const struct npu_fw_tables *t, __s64 x_q16);
/* SILU of x scaled into Q24 by @to_act (struct npu_fw_silu), in Q24. */
__s64 fw_silu_q24(const struct npu_fw_tables *t, __s32 x, struct drm_npu_scale to_act);

/* SiLU and GELU work on x in Q24; the exponentials take Q16 arguments. */
#define FW_ACT_FRAC 24
#define FW_ACT_LIMIT 0x800000000000ll	/* 2^47: |x| <= 2^23 in Q24 */

#endif
