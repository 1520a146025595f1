// SPDX-License-Identifier: MIT
/*
 * The activations of a SCALE_BLOCK MATMUL with one group per super-block,
 * laid out once per call for every thread (struct npu_mmb_prep), and the
 * widest spread of exponents the int64 sums of mm_block_g1.h take exactly.
 */
#include <string.h>

#include "kernels.h"

static size_t up32(size_t b)
{
	return (b + 31) & ~(size_t)31;
}

static uint64_t scratch_words(const struct npu_fw_matmul_block *mb)
{
	/* d and dmin (groups + 8 each) for each output of the GEMM, then their int16 codes. */
	return NPU_MMB_GEMM_COLS * (2 * ((uint64_t)mb->k / 32 + 8) + mb->k / 2);
}

size_t npu_mmb_prep_bytes(const struct npu_fw_matmul_block *mb, int threads)
{
	size_t rk = (size_t)mb->rows * mb->k, groups = mb->k / 32, rb = (mb->rows + 7) / 8;
	size_t b = up32(rk * 2) * (mb->w_bits == 4 ? 2 : 1) + up32(rk) +
		   up32((size_t)mb->rows * (groups + 8) * 4);

	if (mb->rows >= 8)
		b += up32(rb * mb->k * 16) + up32(rb * groups * 32);
	return b + up32((size_t)threads * scratch_words(mb) * 4);
}

static int bit_length(uint64_t v)
{
	return v ? 64 - __builtin_clzll(v) : 0;
}

int npu_mmb_prepare(const struct npu_fw_matmul_block *mb, int vnni, void *buf,
		    struct npu_mmb_prep *p)
{
	uint32_t groups = mb->k / 32, rows = mb->rows, k = mb->k, r, c, j, s, n;
	uint32_t zero = mb->zero, top = (1u << mb->w_bits) - 1;
	uint64_t xmax = 0, qmax = top > zero && top - zero > zero ? top - zero : zero;
	size_t rk = (size_t)rows * k, i;
	uint8_t *at = buf;
	int16_t *x16_fw, *x16, *xp;
	int32_t *xsum, *xsp, lo = 0, hi = 0;
	uint8_t *xp8;
	int8_t *x8;

	for (i = 0; i < rk; i++) {
		lo = mb->xr[i] < lo ? mb->xr[i] : lo;
		hi = mb->xr[i] > hi ? mb->xr[i] : hi;
	}
	xmax = (uint64_t)(-(int64_t)lo > hi ? -(int64_t)lo : hi);
	/*
	 * A group's sum is below 32 * qmax * xmax; times a mantissa (< 2^11),
	 * at most 2 * groups terms (the mins' are smaller), each shifted by
	 * at most lim: all below 2^63.
	 */
	p->lim = 62 - bit_length(32 * (qmax ? qmax : 1) * xmax) - 11 - bit_length(2 * groups);
	if (p->lim < 0)
		return -1;
	/* A mantissa (< 2^11) shifted by at most 20 stays an int32. */
	p->lim = p->lim < 20 ? p->lim : 20;
	x16_fw = (int16_t *)at;
	at += up32(rk * 2);
	x16 = x16_fw;
	if (mb->w_bits == 4) {
		x16 = (int16_t *)at;
		at += up32(rk * 2);
	}
	x8 = xmax <= 127 && rows < 8 ? (int8_t *)at : NULL;
	at += up32(rk);
	xsum = (int32_t *)at;
	at += up32((size_t)rows * (groups + 8) * 4);
	/* -2^15 <= x < 2^15 (fw_load_row of I8 or I16): exact in int16. */
	for (i = 0; i < rk; i++)
		x16_fw[i] = (int16_t)mb->xr[i];
	/* 4-bit codes: each group's even columns, then its odd ones (not read beside x8). */
	for (i = 0; x16 != x16_fw && !x8 && i < rk; i += 32)
		for (c = 0; c < 16; c++) {
			x16[i + c] = x16_fw[i + 2 * c];
			x16[i + 16 + c] = x16_fw[i + 2 * c + 1];
		}
	for (i = 0; x8 && mb->w_bits == 8 && i < rk; i++)
		x8[i] = (int8_t)x16_fw[i];
	/*
	 * 4-bit codes, int8 x: each whole 8 groups in pairs, the pair's even
	 * columns (both groups'), then their odd ones; a group after them on
	 * its own, its even columns, then its odd ones.
	 */
	for (r = 0; x8 && mb->w_bits == 4 && r < rows; r++)
		for (j = 0; j < groups; j += n) {
			const int16_t *x = x16_fw + (size_t)r * k + 32 * j;
			int8_t *d = x8 + (size_t)r * k + 32 * j;

			n = j < groups / 8 * 8 ? 2 : 1;
			for (c = 0; c < 16 * n; c++) {
				d[c] = (int8_t)x[2 * c];
				d[16 * n + c] = (int8_t)x[2 * c + 1];
			}
		}
	/* Decode's (int8 x: its sums of x make up for the codes' zero). */
	for (r = 0; rows < 8 && r < rows; r++) {
		int32_t *sum = xsum + (size_t)r * (groups + 8);
		const int16_t *x = x16_fw + (size_t)r * k;

		memset(sum + groups, 0, 8 * sizeof(*sum));
		for (j = 0; j < groups; j++) {
			int32_t t = 0;

			for (c = 0; c < 32; c++)
				t += x[32 * j + c];
			sum[j] = t;
		}
	}
	xp = NULL;
	xp8 = NULL;
	xsp = NULL;
	if (rows >= 8) {
		uint32_t rb = (rows + 7) / 8;

		/* Codes minus zero in int8: x + 128 against them in vpdpbusd. */
		if (vnni && lo >= -128 && hi <= 127 && zero <= 128 && top - zero <= 127) {
			xp8 = at;
			memset(xp8, 0, (size_t)rb * k * 8);
			/* Row r's 4 columns at a time, 32 bytes (8 rows' 4) apart. */
			for (r = 0; r < rows; r++) {
				uint8_t *d = xp8 + ((size_t)(r / 8) * k * 8 + r % 8 * 4);
				const int16_t *x = x16 + (size_t)r * k;

				for (c = 0; c < k; c += 4, d += 32)
					for (s = 0; s < 4; s++)
						d[s] = (uint8_t)(x[c + s] + 128);
			}
		} else {
			xp = (int16_t *)at;
			memset(xp, 0, (size_t)rb * k * 16);
			/* Row r's 2 columns at a time, 32 bytes (8 rows' 2) apart. */
			for (r = 0; r < rows; r++) {
				int16_t *d = xp + ((size_t)(r / 8) * k * 8 + r % 8 * 2);
				const int16_t *x = x16 + (size_t)r * k;

				for (c = 0; c < k; c += 2, d += 16)
					memcpy(d, x + c, 4);
			}
		}
		at += up32((size_t)rb * k * 16);
		xsp = (int32_t *)at;
		at += up32((size_t)rb * groups * 32);
		memset(xsp, 0, (size_t)rb * groups * 32);
		for (r = 0; (mb->flags & DRM_NPU_BLOCK_F_MIN) && r < rows; r++)
			for (j = 0; j < groups; j++)
				xsp[((size_t)(r / 8) * groups + j) * 8 + r % 8] =
					mb->xs[(size_t)r * groups + j];
	}
	p->x16_fw = x16_fw;
	p->x16 = x16;
	p->x8 = x8;
	p->xsum = xsum;
	p->gemm = rows >= 8;
	p->xp = xp;
	p->xp8 = xp8;
	p->xsp = xsp;
	p->scratch = (int32_t *)at;
	p->scratch_words = scratch_words(mb);
	return 0;
}
