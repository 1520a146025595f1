// SPDX-License-Identifier: MIT
/* Fixed-point primitives and the table-driven functions (docs/numerics.md). */
#include "fixed.h"

struct drm_npu_scale fw_scale_norm(__u64 m, __s32 shift)
{
	struct drm_npu_scale s;

	if (m == 0) {
		s.mult = 1 << 30;
		s.shift = FW_SHIFT_MAX;
		return s;
	}
	if (m >= (1ull << 31)) {
		int n = 64 - __builtin_clzll(m) - 31;

		/* One rounding shift; a carry into bit 31 halves exactly. */
		m = (m + (1ull << (n - 1))) >> n;
		shift -= n;
		if (m == (1ull << 31)) {
			m >>= 1;
			shift--;
		}
	}
	while (m < (1ull << 30)) {
		m <<= 1;
		shift++;
	}
	s.mult = (__s32)m;
	s.shift = shift;
	return s;
}

struct drm_npu_scale fw_scale_mul(struct drm_npu_scale a, struct drm_npu_scale b)
{
	struct drm_npu_scale na = fw_scale_norm((__u64)a.mult, a.shift);
	struct drm_npu_scale nb = fw_scale_norm((__u64)b.mult, b.shift);
	__u64 p = (__u64)na.mult * (__u64)nb.mult;

	return fw_scale_norm((p + (1ull << 30)) >> 31, na.shift + nb.shift - 31);
}

struct drm_npu_scale fw_scale_div(struct drm_npu_scale a, struct drm_npu_scale b)
{
	struct drm_npu_scale na = fw_scale_norm((__u64)a.mult, a.shift);
	struct drm_npu_scale nb = fw_scale_norm((__u64)b.mult, b.shift);
	__u64 num = (__u64)na.mult << 32;
	__u64 q = (num + (__u64)nb.mult / 2) / (__u64)nb.mult;

	return fw_scale_norm(q, na.shift - nb.shift + 32);
}

int fw_scale_cmp(struct drm_npu_scale a, struct drm_npu_scale b)
{
	if (a.shift != b.shift)
		return a.shift < b.shift ? 1 : -1;
	if (a.mult != b.mult)
		return a.mult > b.mult ? 1 : -1;
	return 0;
}

struct drm_npu_scale fw_scale_storable(struct drm_npu_scale s)
{
	if (s.shift > FW_SHIFT_MAX) {
		int d = s.shift - FW_SHIFT_MAX;

		s.mult = d >= 31 ? 1 : (__s32)(((__u32)s.mult + (1u << (d - 1))) >> d);
		if (s.mult == 0)
			s.mult = 1;
		s.shift = FW_SHIFT_MAX;
	} else if (s.shift < FW_SHIFT_MIN) {
		s.mult = FW_S32_MAX;
		s.shift = FW_SHIFT_MIN;
	}
	return s;
}

__u32 fw_exp2_neg_q16(const struct npu_fw_tables *t, __u64 u)
{
	__u64 ip = u >> 16;
	__u32 fp = (__u32)(u & 0xffff);
	__u32 idx = fp >> 8, frac = fp & 0xff;
	__u32 a = t->exp2[idx], b = t->exp2[idx + 1];
	__u32 v = a - (((a - b) * frac + 128) >> 8);

	if (ip >= 32)
		return 0;
	if (ip == 0)
		return v;
	return (__u32)(((__u64)v + (1ull << (ip - 1))) >> ip);
}

void fw_rsqrt(const struct npu_fw_tables *t, __u64 x, __u32 *r, __s32 *e)
{
	int k = 0;
	__u64 u, y;
	int i;

	if (x == 0)
		x = 1;
	/* u = x * 2^k in [2^60, 2^62) with k even. */
	u = x;
	while (u >= (1ull << 62)) {
		u >>= 2;
		k -= 2;
	}
	while (u < (1ull << 60)) {
		u <<= 2;
		k += 2;
	}
	y = t->rsqrt[(u >> 56) - 16];
	/* Two Newton steps on y = 2^61 / sqrt(u). */
	for (i = 0; i < 2; i++) {
		__uint128_t h = ((__uint128_t)u * (y * y)) >> 61;
		__uint128_t three = (__uint128_t)3 << 61;

		y = (__u64)(((__uint128_t)y * (three - h)) >> 62);
	}
	*r = (__u32)y;
	*e = 61 - k / 2;
}

void fw_sincos_q14(const struct npu_fw_tables *t, __u32 turns, __s32 *s, __s32 *c)
{
	__u32 a;
	int j;

	for (j = 0; j < 2; j++) {
		__u32 idx, frac;
		__s32 lo, hi, v;

		/* cos(x) = sin(x + quarter turn). */
		a = turns + (j ? 0x40000000u : 0);
		idx = a >> 22;
		frac = (a >> 6) & 0xffff;
		lo = t->sin[idx];
		hi = t->sin[idx + 1];
		v = lo + (__s32)fw_rshift_round((__int128_t)(hi - lo) * frac, 16);
		if (j)
			*c = v;
		else
			*s = v;
	}
}

/* log2(e) in Q30. */
#define FW_LOG2E_Q30 1549082005ll

__u32 fw_sigmoid_q30(const struct npu_fw_tables *t, __s64 x_q16)
{
	__u64 ax = x_q16 < 0 ? (__u64)-x_q16 : (__u64)x_q16;
	__u64 u = (__u64)fw_rshift_round((__int128_t)ax * FW_LOG2E_Q30, 30);
	__u64 e = fw_exp2_neg_q16(t, u);	/* e^-|x| in Q30 */
	__u64 one = 1ull << 30;

	if (x_q16 >= 0)
		return (__u32)(((one << 30) + (one + e) / 2) / (one + e));
	return (__u32)(((e << 30) + (one + e) / 2) / (one + e));
}

__s64 fw_silu_q24(const struct npu_fw_tables *t, __s32 x, struct drm_npu_scale to_act)
{
	__s64 xq = fw_clamp(fw_requant(x, to_act), -FW_ACT_LIMIT, FW_ACT_LIMIT);
	__s64 x16 = (__s64)fw_rshift_round(xq, FW_ACT_FRAC - 16);

	return (__s64)fw_rshift_round((__int128_t)xq * fw_sigmoid_q30(t, x16), 30);
}
