// SPDX-License-Identifier: MIT
/*
 * The output stage of every op (struct npu_fw_requant) in NEON's two
 * int64 lanes, exact without 128-bit products, as the x86 levels do it
 * (x86/requant_avx512.c gives why each case is exact): with
 * |v| = hi * 2^32 + lo, hi * mult and lo * mult each fit 64 bits (UMULL).
 * Shifts of 0..32, and of 33..94 but for v = INT64_MIN, are answered;
 * other calls go back to the firmware's fw_requant().
 */
#include <arm_neon.h>

#include "arm64.h"

/* Elements i, i + 1 of @v (zero past @n). */
static inline int64x2_t load2(const __s64 *v, uint32_t i, uint32_t n)
{
	if (n - i >= 2)
		return vld1q_s64((const int64_t *)v + i);
	return vsetq_lane_s64(v[i], vdupq_n_s64(0), 0);
}

static inline void put(const struct npu_fw_requant *rq, uint32_t i, int64_t x)
{
	if (rq->out_bits == 8)
		((int8_t *)rq->out)[i] = (int8_t)x;
	else if (rq->out_bits == 16)
		((int16_t *)rq->out)[i] = (int16_t)x;
	else
		((int32_t *)rq->out)[i] = (int32_t)x;
}

/* |result| in @r (under 2^63), signed as @v, clamped to +-qmax, at out[i..]. */
static inline void store2(const struct npu_fw_requant *rq, uint32_t i, int64x2_t v, uint64x2_t r)
{
	const int64x2_t qmax = vdupq_n_s64(rq->qmax), qmin = vnegq_s64(qmax);
	int64x2_t s = vreinterpretq_s64_u64(r);

	s = vbslq_s64(vcltzq_s64(v), vnegq_s64(s), s);
	/* No 64-bit min and max in NEON: compare and select. */
	s = vbslq_s64(vcgtq_s64(s, qmax), qmax, s);
	s = vbslq_s64(vcltq_s64(s, qmin), qmin, s);
	put(rq, i, vgetq_lane_s64(s, 0));
	if (rq->n - i >= 2)
		put(rq, i + 1, vgetq_lane_s64(s, 1));
}

/* 0 <= shift <= 32: (hi * mult << (32 - shift)) + ((lo * mult + half) >> shift). */
static void requant_small_shift(const struct npu_fw_requant *rq)
{
	const uint32x2_t mult = vdup_n_u32((uint32_t)rq->mult);
	const uint64x2_t qmax = vdupq_n_u64((uint64_t)rq->qmax);
	const uint64x2_t half = vdupq_n_u64(rq->shift ? 1ull << (rq->shift - 1) : 0);
	/* The hi * mult past which a lane's result is past any qmax (< 2^31). */
	const uint64x2_t limit = vdupq_n_u64((rq->shift ? 1ull << (rq->shift - 1) : 1) - 1);
	const int64x2_t down = vdupq_n_s64(-rq->shift), up = vdupq_n_s64(32 - rq->shift);
	uint32_t i;

	for (i = 0; i < rq->n; i += 2) {
		int64x2_t v = load2(rq->v, i, rq->n);
		/* |INT64_MIN| is 2^63 as unsigned: its hi saturates it. */
		uint64x2_t a = vreinterpretq_u64_s64(vabsq_s64(v));
		uint64x2_t hi = vmull_u32(vshrn_n_u64(a, 32), mult);
		uint64x2_t lo = vshlq_u64(vaddq_u64(vmull_u32(vmovn_u64(a), mult), half), down);
		uint64x2_t r = vaddq_u64(vshlq_u64(hi, up), lo);

		store2(rq, i, v, vbslq_u64(vcgtq_u64(hi, limit), qmax, r));
	}
}

int npu_requant_neon(void *unused NPU_UNUSED, const struct npu_fw_requant *rq)
{
	const uint32x2_t mult = vdup_n_u32((uint32_t)rq->mult);
	uint64x2_t half, bad = vdupq_n_u64(0);
	int64x2_t down;
	uint32_t i;

	if (rq->shift >= 0 && rq->shift <= 32) {
		requant_small_shift(rq);
		return 0;
	}
	if (rq->shift < 33 || rq->shift > 94)
		return 1;
	/* (hi * mult + (lo * mult >> 32) + 2^(shift - 33)) >> (shift - 32). */
	half = vdupq_n_u64(1ull << (rq->shift - 33));
	down = vdupq_n_s64(32 - rq->shift);
	for (i = 0; i < rq->n; i += 2) {
		int64x2_t v = load2(rq->v, i, rq->n);
		uint64x2_t a = vreinterpretq_u64_s64(vabsq_s64(v));
		uint64x2_t hi = vmull_u32(vshrn_n_u64(a, 32), mult);
		uint64x2_t lo = vshrq_n_u64(vmull_u32(vmovn_u64(a), mult), 32);

		bad = vorrq_u64(bad, a);
		store2(rq, i, v, vshlq_u64(vaddq_u64(vaddq_u64(hi, lo), half), down));
	}
	/* An INT64_MIN (|v| = 2^63): the firmware computes the whole row. */
	return (vgetq_lane_u64(bad, 0) | vgetq_lane_u64(bad, 1)) >> 63 ? 1 : 0;
}
