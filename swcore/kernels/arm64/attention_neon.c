// SPDX-License-Identifier: MIT
/*
 * ATTENTION's sums (struct npu_fw_attention) in NEON, on every arm64
 * level, the same integers as the firmware's 64-bit loops. SCORES: 16-bit
 * query values times 8- or 16-bit keys (at most 2^30 each) multiplied
 * into int32 (smull) and added pairwise into int64 lanes (sadalp): exact
 * for any head size. VALUES: int32 weights times 8- or 16-bit values
 * multiplied and added in int64 lanes (smlal), as the firmware does.
 */
#include <arm_neon.h>
#include <string.h>

#include "arm64.h"

/* Query elements narrowed to int16 at a time (the pool's threads each keep their own). */
#define SCORES_PART 256

/* Eight signed elements of a cache row from @d, as int16. */
static inline int16x8_t load_k8(const uint8_t *row, uint32_t bits, uint32_t d)
{
	if (bits == 8)
		return vmovl_s8(vld1_s8((const int8_t *)row + d));
	return vld1q_s16((const int16_t *)row + d);
}

static inline int32_t elem(const uint8_t *row, uint32_t bits, uint32_t d)
{
	return bits == 8 ? ((const int8_t *)row)[d] : ((const int16_t *)row)[d];
}

/* The sum of q[0..n) times a row's elements from @d0 (q already int16). */
static int64_t dot_row(const int16_t *q, const uint8_t *row, uint32_t bits, uint32_t d0,
		       uint32_t n)
{
	int64x2_t a0 = vdupq_n_s64(0), a1 = vdupq_n_s64(0);
	int64_t total;
	uint32_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		int16x8_t qv = vld1q_s16(q + i), kv = load_k8(row, bits, d0 + i);

		a0 = vpadalq_s32(a0, vmull_s16(vget_low_s16(qv), vget_low_s16(kv)));
		a1 = vpadalq_s32(a1, vmull_high_s16(qv, kv));
	}
	total = vaddvq_s64(vaddq_s64(a0, a1));
	for (; i < n; i++)
		total += (int64_t)q[i] * elem(row, bits, d0 + i);
	return total;
}

/* SCORES over cache rows j0..j1, head by head, SCORES_PART query elements at a time. */
static void scores_rows(const struct npu_fw_attention *a, uint32_t j0, uint32_t j1)
{
	const uint32_t hd = a->head_dim, kb = a->k_bits / 8;
	int16_t q16[SCORES_PART];
	uint32_t h, p0, p1, j, d;

	for (h = 0; h < a->n_heads; h++) {
		const uint8_t *kh = a->k + (uint64_t)(h / a->group) * hd * kb;
		const __s32 *q = a->q + (uint64_t)h * hd;
		__s64 *t = a->t + h * a->t_stride;

		for (p0 = 0; p0 < hd; p0 = p1) {
			p1 = hd - p0 > SCORES_PART ? p0 + SCORES_PART : hd;
			for (d = p0; d < p1; d++)
				q16[d - p0] = (int16_t)q[d];
			for (j = j0; j < j1; j++) {
				int64_t s = dot_row(q16, kh + (uint64_t)j * a->k_stride, a->k_bits, p0,
						    p1 - p0);

				t[j] = p0 ? t[j] + s : s;
			}
		}
	}
}

/* Four signed elements of a value row from @d, as int32. */
static inline int32x4_t load_v4(const uint8_t *row, uint32_t bits, uint32_t d)
{
	int16x4_t v;

	if (bits == 8) {
		uint32_t w;

		/* Any alignment: a row's d is an element index. */
		memcpy(&w, row + d, sizeof(w));
		v = vget_low_s16(vmovl_s8(vreinterpret_s8_u32(vdup_n_u32(w))));
	} else {
		v = vld1_s16((const int16_t *)row + d);
	}
	return vmovl_s16(v);
}

/* VALUES for head @h over cache rows j0..j1, added into @out (its head_dim sums). */
static void values_head(const struct npu_fw_attention *a, uint32_t h, uint32_t j0, uint32_t j1,
			__s64 *out)
{
	const uint32_t hd = a->head_dim;
	const uint8_t *v = a->v + (uint64_t)(h / a->group) * hd * (a->v_bits / 8);
	const __s64 *t = a->t + h * a->t_stride;
	uint32_t d = 0, j;

	for (; d + 4 <= hd; d += 4) {
		int64x2_t s0 = vld1q_s64((int64_t *)out + d), s1 = vld1q_s64((int64_t *)out + d + 2);

		for (j = j0; j < j1; j++) {
			/* 4 elements, the row's last perhaps: the load reads no further. */
			int32x4_t x = load_v4(v + j * a->v_stride, a->v_bits, d);
			int32_t w = (int32_t)t[j];

			s0 = vmlal_n_s32(s0, vget_low_s32(x), w);
			s1 = vmlal_high_n_s32(s1, x, w);
		}
		vst1q_s64((int64_t *)out + d, s0);
		vst1q_s64((int64_t *)out + d + 2, s1);
	}
	for (; d < hd; d++)
		for (j = j0; j < j1; j++)
			out[d] += t[j] * elem(v + j * a->v_stride, a->v_bits, d);
}

void npu_attention_rows_neon(const struct npu_fw_attention *a, uint32_t j0, uint32_t j1,
			     __s64 *acc)
{
	uint32_t h;

	if (a->step == NPU_FW_ATTN_SCORES) {
		scores_rows(a, j0, j1);
		return;
	}
	for (h = 0; h < a->n_heads; h++)
		values_head(a, h, j0, j1, acc + (uint64_t)h * a->head_dim);
}

int npu_attention_neon(void *unused NPU_UNUSED, const struct npu_fw_attention *a)
{
	if (npu_attention_begin(a))
		return 1;
	npu_attention_rows_neon(a, 0, a->len, a->acc);
	return 0;
}
