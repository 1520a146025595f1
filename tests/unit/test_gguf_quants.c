// SPDX-License-Identifier: MIT
/*
 * Every quantized GGUF type the loader reads (Q4_0, Q4_1, Q5_0, Q5_1,
 * Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K), in one mixed file built byte by
 * byte: each weight's float must equal this file's own decode of ggml's
 * block layouts (written after ggml's dequantize_row_* loops, in float as
 * ggml computes), and the SCALE_BLOCK codes and records, read as
 * uapi/drm/npu_cmd.h describes them, must give the same values. Blocks
 * are random bytes under chosen binary16 scales (negative, subnormal,
 * zero), with hand-written ones first: Q4_0's -8 x d under d < 0, Q4_1
 * and Q5_1's negative m, Q6_K's negative scales, Q3_K's hmask both ways.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <npu/llm.h>
#include "testlib.h"
#include "../gguf_build.h"

static char dir[512];

static int make_dir(void **state)
{
	(void)state;
	return t_mkdtemp("test_gguf_quants", dir, sizeof(dir));
}

static int remove_dir(void **state)
{
	(void)state;
	return t_rmdir(dir);
}

/* ---- ggml's layouts, decoded as ggml-common.h and dequantize_row_* lay them out ---- */

enum { Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q2_K = 10, Q3_K = 11, Q4_K = 12,
       Q5_K = 13, Q6_K = 14 };

static const struct {
	uint32_t type;
	const char *name;
	int block, bytes, d_at, dmin_at;	/* dmin_at (or m): -1 when none */
	int bits, group, zero, flags;		/* the SCALE_BLOCK form expected */
} types[] = {
	{ Q4_0, "Q4_0", 32, 18, 0, -1, 4, 32, 8, 0 },
	{ Q4_1, "Q4_1", 32, 20, 0, 2, 4, 32, 0, NPU_BLOCK_MIN },
	{ Q5_0, "Q5_0", 32, 22, 0, -1, 5, 32, 16, 0 },
	{ Q5_1, "Q5_1", 32, 24, 0, 2, 5, 32, 0, NPU_BLOCK_MIN },
	{ Q8_0, "Q8_0", 32, 34, 0, -1, 8, 32, 128, 0 },
	{ Q2_K, "Q2_K", 256, 84, 80, 82, 2, 16, 0, NPU_BLOCK_MIN | NPU_BLOCK_SUB_U4 },
	{ Q3_K, "Q3_K", 256, 110, 108, -1, 3, 16, 4, NPU_BLOCK_SUB_S8 },
	{ Q4_K, "Q4_K", 256, 144, 0, 2, 4, 32, 0, NPU_BLOCK_MIN | NPU_BLOCK_SUB_S8 },
	{ Q5_K, "Q5_K", 256, 176, 0, 2, 5, 32, 0, NPU_BLOCK_MIN | NPU_BLOCK_SUB_S8 },
	{ Q6_K, "Q6_K", 256, 210, 208, -1, 6, 16, 32, NPU_BLOCK_SUB_S8 },
};

#define N_TYPES (sizeof(types) / sizeof(types[0]))

static int type_index(uint32_t type)
{
	size_t i;

	for (i = 0; i < N_TYPES; i++)
		if (types[i].type == type)
			return (int)i;
	return -1;
}

static float h2f(const uint8_t *p)
{
	uint16_t h = (uint16_t)(p[0] | p[1] << 8);
	int e = (h >> 10) & 31, m = h & 1023;
	float v = e ? ldexpf((float)(m | 1024), e - 25) : ldexpf((float)m, -24);

	return (h & 0x8000) ? -v : v;
}

/* One block of @type at @x into @y, the way ggml's loops walk it. */
static void ggml_decode(uint32_t type, const uint8_t *x, float *y)
{
	int i, j, l, n, is = 0;

	switch (type) {
	case Q4_0: case Q4_1: case Q5_0: case Q5_1: {
		/* d [m] [qh u32] qs[16]: element j low nibble, j + 16 high */
		int has_m = type == Q4_1 || type == Q5_1, five = type == Q5_0 || type == Q5_1;
		const uint8_t *qs = x + 2 + 2 * has_m + 4 * five;
		uint32_t qh = 0;
		float d = h2f(x), m = has_m ? h2f(x + 2) : 0;

		if (five)
			memcpy(&qh, x + 2 + 2 * has_m, 4);
		for (j = 0; j < 16; j++) {
			int x0 = qs[j] & 15, x1 = qs[j] >> 4;

			if (five) {
				x0 |= ((qh >> j) << 4) & 0x10;
				x1 |= (qh >> (j + 12)) & 0x10;
			}
			if (has_m) {
				y[j] = x0 * d + m;
				y[j + 16] = x1 * d + m;
			} else {
				y[j] = (x0 - (five ? 16 : 8)) * d;
				y[j + 16] = (x1 - (five ? 16 : 8)) * d;
			}
		}
		break;
	}
	case Q8_0:
		for (j = 0; j < 32; j++)
			y[j] = (int8_t)x[2 + j] * h2f(x);
		break;
	case Q2_K: {
		/* scales[16] qs[64] d dmin */
		const uint8_t *q = x + 16;
		float d = h2f(x + 80), min = h2f(x + 82);

		for (n = 0; n < 256; n += 128) {
			int shift = 0;

			for (j = 0; j < 4; j++) {
				uint8_t sc = x[is++];
				float dl = d * (sc & 15), ml = min * (sc >> 4);

				for (l = 0; l < 16; l++)
					*y++ = dl * ((int8_t)((q[l] >> shift) & 3)) - ml;
				sc = x[is++];
				dl = d * (sc & 15);
				ml = min * (sc >> 4);
				for (l = 0; l < 16; l++)
					*y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3)) - ml;
				shift += 2;
			}
			q += 32;
		}
		break;
	}
	case Q3_K: {
		/* hmask[32] qs[64] scales[12] d */
		uint32_t aux[4], tmp;
		const int8_t *scales = (const int8_t *)aux;
		const uint8_t *q = x + 32, *hm = x;
		float d_all = h2f(x + 108);
		uint8_t m = 1;

		memcpy(aux, x + 96, 12);
		tmp = aux[2];
		aux[2] = ((aux[0] >> 4) & 0x0f0f0f0f) | (((tmp >> 4) & 0x03030303) << 4);
		aux[3] = ((aux[1] >> 4) & 0x0f0f0f0f) | (((tmp >> 6) & 0x03030303) << 4);
		aux[0] = (aux[0] & 0x0f0f0f0f) | (((tmp >> 0) & 0x03030303) << 4);
		aux[1] = (aux[1] & 0x0f0f0f0f) | (((tmp >> 2) & 0x03030303) << 4);
		for (n = 0; n < 256; n += 128) {
			int shift = 0;

			for (j = 0; j < 4; j++) {
				float dl = d_all * (scales[is++] - 32);

				for (l = 0; l < 16; l++)
					*y++ = dl * ((int8_t)((q[l] >> shift) & 3) -
						     ((hm[l] & m) ? 0 : 4));
				dl = d_all * (scales[is++] - 32);
				for (l = 0; l < 16; l++)
					*y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3) -
						     ((hm[l + 16] & m) ? 0 : 4));
				shift += 2;
				m <<= 1;
			}
			q += 32;
		}
		break;
	}
	case Q4_K: case Q5_K: {
		/* d dmin scales[12] [qh[32]] qs[128] */
		const uint8_t *s = x + 4, *qh = x + 16, *ql = x + (type == Q5_K ? 48 : 16);
		float d = h2f(x), min = h2f(x + 2);
		int five = type == Q5_K;
		uint8_t u1 = 1, u2 = 2;

		for (j = 0; j < 256; j += 64) {
			uint8_t sc[2], mn[2];

			for (i = 0; i < 2; i++, is++) {
				if (is < 4) {
					sc[i] = s[is] & 63;
					mn[i] = s[is + 4] & 63;
				} else {
					sc[i] = (uint8_t)((s[is + 4] & 0xF) |
							  ((s[is - 4] >> 6) << 4));
					mn[i] = (uint8_t)((s[is + 4] >> 4) | ((s[is] >> 6) << 4));
				}
			}
			for (l = 0; l < 32; l++)
				*y++ = d * sc[0] * ((ql[l] & 0xF) +
						    (five && (qh[l] & u1) ? 16 : 0)) - min * mn[0];
			for (l = 0; l < 32; l++)
				*y++ = d * sc[1] * ((ql[l] >> 4) +
						    (five && (qh[l] & u2) ? 16 : 0)) - min * mn[1];
			ql += 32;
			u1 <<= 2;
			u2 <<= 2;
		}
		break;
	}
	case Q6_K: {
		/* ql[128] qh[64] scales[16] (int8) d */
		const uint8_t *ql = x, *qh = x + 128;
		const int8_t *sc = (const int8_t *)(x + 192);
		float d = h2f(x + 208);

		for (n = 0; n < 256; n += 128) {
			for (l = 0; l < 32; l++) {
				int k = l / 16;
				int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
				int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
				int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
				int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;

				y[l] = d * sc[k] * q1;
				y[l + 32] = d * sc[k + 2] * q2;
				y[l + 64] = d * sc[k + 4] * q3;
				y[l + 96] = d * sc[k + 6] * q4;
			}
			y += 128;
			ql += 64;
			qh += 32;
			sc += 8;
		}
		break;
	}
	default:
		fail_msg("no decoder for type %u", type);
	}
}

/* ---- the SCALE_BLOCK format, read as npu_cmd.h's drm_npu_matmul_params says ---- */

static double f16(const uint8_t *p)
{
	return h2f(p);
}

/* d[SB], with MIN dmin[SB], then sc[G] and with MIN mn[G] (SUB_S8) or G bytes (SUB_U4); even. */
static size_t record_bytes(const struct npu_block_format *f, int32_t cols)
{
	size_t G = (size_t)cols / f->group_size, SB = G / f->block_groups;
	size_t n = 2 * SB + (f->flags & NPU_BLOCK_MIN ? 2 * SB : 0) +
		   (f->flags & NPU_BLOCK_SUB_S8 ? G * (f->flags & NPU_BLOCK_MIN ? 2 : 1) :
		    f->flags & NPU_BLOCK_SUB_U4 ? G : 0);

	return n + (n & 1);
}

static float format_value(const struct npu_qmatrix *q, int32_t r, int32_t c)
{
	const struct npu_block_format *f = &q->block;
	size_t row_bytes = ((size_t)q->cols * q->bits + 7) / 8;
	size_t G = (size_t)q->cols / f->group_size, SB = G / f->block_groups;
	size_t j = (size_t)c / f->group_size, b = j / f->block_groups, sub;
	const uint8_t *rec = q->records + (size_t)r * record_bytes(f, q->cols);
	uint32_t code = 0;
	double sc = 1, mn = 1, w;
	int i;

	for (i = 0; i < q->bits; i++) {
		size_t bit = (size_t)c * q->bits + i;

		code |= (uint32_t)((q->q[(size_t)r * row_bytes + bit / 8] >> (bit % 8)) & 1) << i;
	}
	sub = 2 * SB + (f->flags & NPU_BLOCK_MIN ? 2 * SB : 0);
	if (f->flags & NPU_BLOCK_SUB_S8) {
		sc = (int8_t)rec[sub + j];
		if (f->flags & NPU_BLOCK_MIN)
			mn = rec[sub + G + j];
	} else if (f->flags & NPU_BLOCK_SUB_U4) {
		sc = rec[sub + j] & 15;
		mn = rec[sub + j] >> 4;
	}
	w = f16(rec + 2 * b) * sc * ((double)code - f->zero);
	if (f->flags & NPU_BLOCK_MIN)
		w -= f16(rec + 2 * SB + 2 * b) * mn;
	return (float)(npu_scale_to_double(q->scale) * w);
}

/* ---- the file ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint8_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint8_t)(rng >> 24);
}

/* Scales: +-1, +-0.1, 2^-24 (the smallest subnormal), -0x123 and 0x3ff subnormals, 2^-10, +-0. */
static const uint16_t halves[] = { 0x3c00, 0xbc00, 0x2e66, 0xae66, 0x0001, 0x8123,
				   0x03ff, 0x1400, 0x0000, 0x8000 };

#define N_HALVES (sizeof(halves) / sizeof(halves[0]))

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/*
 * Block @i of a tensor: the hand-written ones first (@i 0), then random
 * bytes under scales from halves[].
 */
static void make_block(int t, size_t i, uint8_t *blk)
{
	int k;

	for (k = 0; k < types[t].bytes; k++)
		blk[k] = rnd();
	put16(blk + types[t].d_at, halves[(i + (size_t)t) % N_HALVES]);
	if (types[t].dmin_at >= 0)
		put16(blk + types[t].dmin_at, halves[(i * 7 + 3) % N_HALVES]);
	if (i)
		return;
	switch (types[t].type) {
	case Q4_0:	/* every code 0 under d = -0.5: -8 x d = +4 */
		put16(blk, 0xb800);
		memset(blk + 2, 0, 16);
		break;
	case Q4_1: case Q5_1:	/* d 1, m -2: w = q - 2 */
		put16(blk, 0x3c00);
		put16(blk + 2, 0xc000);
		break;
	case Q3_K:	/* hmask clear in the first half, set in the second */
		memset(blk, 0xf0, 32);
		break;
	case Q6_K:	/* scales -128, -1, 127, ... */
		for (k = 0; k < 16; k++)
			blk[192 + k] = (uint8_t)(k % 3 == 0 ? 0x80 : k % 3 == 1 ? 0xff : 0x7f);
		put16(blk + 208, 0x3c00);
		break;
	}
}

struct tensor {
	const char *name;
	uint64_t ne0, ne1;
	uint32_t type;
	uint64_t offset, bytes;
	uint8_t *data;
};

#define DIM 256
#define HIDDEN 512
#define VOCAB 260	/* byte tokens need 259 */
#define LAYERS 2

static uint64_t bytes_of(uint32_t type, uint64_t n)
{
	int t = type_index(type);

	return type == NPU_GGUF_F32 ? n * 4 : type == NPU_GGUF_F16 ? n * 2 :
	       n / (uint64_t)types[t].block * (uint64_t)types[t].bytes;
}

/* The tensors' data: norms 1.0, F16 matrices 0.5, quantized ones by make_block(). */
static void fill(struct tensor *t)
{
	uint64_t n = t->ne0 * t->ne1, i;
	int ti = type_index(t->type);

	t->bytes = bytes_of(t->type, n);
	t->data = malloc(t->bytes);
	assert_non_null(t->data);
	for (i = 0; t->type == NPU_GGUF_F32 && i < n; i++)
		((float *)t->data)[i] = 1.0f;
	for (i = 0; t->type == NPU_GGUF_F16 && i < n; i++)
		put16(t->data + 2 * i, 0x3800);
	for (i = 0; ti >= 0 && i < n / (uint64_t)types[ti].block; i++)
		make_block(ti, i, t->data + i * (uint64_t)types[ti].bytes);
}

/* The file of @n tensors (llama keys, no tokenizer); returns its path. */
static const char *write_file(struct tensor *ts, size_t n, const char *name)
{
	static char path[700];
	struct gguf_build b = { 0 };
	uint8_t zero[32] = { 0 };
	uint64_t off = 0;
	size_t i;

	gguf_put(&b, "GGUF", 4);
	gguf_u32(&b, 3);
	gguf_u64(&b, n);
	gguf_u64(&b, 6);
	gguf_kv_str(&b, "general.architecture", "llama", 5);
	gguf_kv_u32(&b, "llama.context_length", 20, 32);
	gguf_kv_u32(&b, "llama.embedding_length", 22, DIM);
	gguf_kv_u32(&b, "llama.block_count", 17, LAYERS);
	gguf_kv_u32(&b, "llama.feed_forward_length", 25, HIDDEN);
	gguf_kv_u32(&b, "llama.attention.head_count", 26, 2);
	for (i = 0; i < n; i++) {
		gguf_str(&b, ts[i].name, strlen(ts[i].name));
		gguf_u32(&b, ts[i].ne1 > 1 ? 2 : 1);
		gguf_u64(&b, ts[i].ne0);
		if (ts[i].ne1 > 1)
			gguf_u64(&b, ts[i].ne1);
		gguf_u32(&b, ts[i].type);
		ts[i].offset = off;
		gguf_u64(&b, off);
		off = (off + ts[i].bytes + 31) & ~31ull;
	}
	gguf_put(&b, zero, (32 - b.n % 32) % 32);
	for (i = 0; i < n; i++) {
		gguf_put(&b, ts[i].data, ts[i].bytes);
		gguf_put(&b, zero, (32 - ts[i].bytes % 32) % 32);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	t_write_file(path, b.p, b.n);
	free(b.p);
	return path;
}

static const char *const mat_names[] = { "attn_q", "attn_k", "attn_v", "attn_output",
					 "ffn_gate", "ffn_down", "ffn_up" };

/* Layer 0 the legacy types and two K, layer 1 the other K and both float types. */
static const uint32_t mat_types[LAYERS][7] = {
	{ Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K },
	{ Q4_K, Q5_K, Q6_K, NPU_GGUF_F16, Q4_K, Q6_K, NPU_GGUF_F32 },
};

/* The mixed model: with output.weight (Q4_K), or the classifier shared; the table @emb_type. */
static size_t model_tensors(struct tensor *ts, int with_output, uint32_t emb_type)
{
	static char names[LAYERS][9][40];
	size_t n = 0;
	int l, k;

	ts[n++] = (struct tensor){ .name = "token_embd.weight", .ne0 = DIM, .ne1 = VOCAB,
				   .type = emb_type };
	ts[n++] = (struct tensor){ .name = "output_norm.weight", .ne0 = DIM, .ne1 = 1,
				   .type = NPU_GGUF_F32 };
	if (with_output)
		ts[n++] = (struct tensor){ .name = "output.weight", .ne0 = DIM, .ne1 = VOCAB,
					   .type = Q4_K };
	for (l = 0; l < LAYERS; l++) {
		snprintf(names[l][7], 40, "blk.%d.attn_norm.weight", l);
		snprintf(names[l][8], 40, "blk.%d.ffn_norm.weight", l);
		ts[n++] = (struct tensor){ .name = names[l][7], .ne0 = DIM, .ne1 = 1,
					   .type = NPU_GGUF_F32 };
		ts[n++] = (struct tensor){ .name = names[l][8], .ne0 = DIM, .ne1 = 1,
					   .type = NPU_GGUF_F32 };
		for (k = 0; k < 7; k++) {
			snprintf(names[l][k], 40, "blk.%d.%s.weight", l, mat_names[k]);
			ts[n++] = (struct tensor){ .name = names[l][k],
						   .ne0 = k == 5 ? HIDDEN : DIM,
						   .ne1 = k == 4 || k == 6 ? HIDDEN : DIM,
						   .type = mat_types[l][k] };
		}
	}
	for (k = 0; k < (int)n; k++)
		fill(&ts[k]);
	return n;
}

static void free_tensors(struct tensor *ts, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(ts[i].data);
}

/* A tensor's floats, by ggml's decode. */
static float *expected(const struct tensor *t)
{
	uint64_t n = t->ne0 * t->ne1, i;
	int ti = type_index(t->type);
	float *y = malloc(n * sizeof(float));

	assert_non_null(y);
	assert_true(ti >= 0);
	for (i = 0; i < n / (uint64_t)types[ti].block; i++)
		ggml_decode(t->type, t->data + i * (uint64_t)types[ti].bytes,
			    y + i * (uint64_t)types[ti].block);
	return y;
}

/*
 * Tensor @t loaded as @w (floats) and @q (NULL: floats only): every float
 * equal to ggml's, bit for bit; the block form's fields, and its codes and
 * records giving the same floats; its bytes within 5% of the file's.
 */
static void check_tensor(const struct tensor *t, const float *w, const struct npu_qmatrix *q)
{
	int ti = type_index(t->type);
	float *y = expected(t);
	int32_t rows = (int32_t)t->ne1, cols = (int32_t)t->ne0, r, c;
	uint64_t dev;

	for (r = 0; r < rows; r++)
		for (c = 0; c < cols; c++) {
			size_t e = (size_t)r * cols + c;

			if (memcmp(&w[e], &y[e], 4))
				fail_msg("%s (%s) element %zu: loaded %a, ggml %a", t->name,
					 types[ti].name, e, w[e], y[e]);
			if (q && (format_value(q, r, c) != y[e] ||
				  npu_qmatrix_value(q, r, c) != y[e]))
				fail_msg("%s (%s) element %zu: block form %a / %a, ggml %a",
					 t->name, types[ti].name, e, format_value(q, r, c),
					 npu_qmatrix_value(q, r, c), y[e]);
		}
	free(y);
	if (!q)
		return;
	assert_non_null(q->q);
	assert_non_null(q->records);
	assert_null(q->factors);
	assert_string_equal(q->source, types[ti].name);
	assert_int_equal(q->rows, rows);
	assert_int_equal(q->cols, cols);
	assert_int_equal(q->bits, types[ti].bits);
	assert_int_equal(q->group_size, types[ti].group);
	assert_int_equal(q->block.group_size, types[ti].group);
	assert_int_equal(q->block.block_groups, types[ti].block / types[ti].group);
	assert_int_equal(q->block.zero, types[ti].zero);
	assert_int_equal(q->block.flags, types[ti].flags);
	assert_int_equal(q->scale.mult, 1 << 30);
	assert_int_equal(q->scale.shift, 30);
	dev = (uint64_t)rows * (((uint64_t)cols * q->bits + 7) / 8 + record_bytes(&q->block, cols));
	if (dev * 100 > t->bytes * 105)
		fail_msg("%s (%s): %llu bytes on the device for %llu in the file", t->name,
			 types[ti].name, (unsigned long long)dev, (unsigned long long)t->bytes);
}

static void load(const char *path, struct npu_model *m)
{
	char err[256] = "";

	if (npu_model_load_gguf(path, m, NULL, err, sizeof(err)))
		fail_msg("%s", err);
}

/* The hand-written blocks' values, by hand. */
static void hand_written(const struct npu_model *m)
{
	const struct npu_qmatrix *nq = m->native;
	int j;

	for (j = 0; j < 32; j++) {
		assert_true(m->wq[j] == 4.0f);			/* Q4_0: -8 x -0.5 */
		assert_int_equal((nq[0].q[j / 2] >> (4 * (j & 1))) & 15, 0);
		assert_true(m->wk[j] == (float)(npu_qmatrix_value(&nq[1], 0, j)));
	}
	/* Q4_1: d 1, m -2, so w = q - 2; its record's dmin is +2 (0x4000). */
	assert_int_equal(nq[1].records[2 * (DIM / 32)] | nq[1].records[2 * (DIM / 32) + 1] << 8,
			 0x4000);
	for (j = 0; j < 32; j++) {
		int code = (nq[1].q[j / 2] >> (4 * (j & 1))) & 15;

		assert_true(m->wk[j] == (float)(code - 2));
	}
	/* Q6_K scales -128, -1, 127 per 16 columns: w = sc x (q - 32). */
	for (j = 0; j < 256; j++) {
		const float *v = m->wv + (size_t)DIM * DIM;	/* layer 1's */
		int sc = (j / 16) % 3 == 0 ? -128 : (j / 16) % 3 == 1 ? -1 : 127;
		const struct npu_qmatrix *q6 = &nq[NPU_MODEL_LAYER_MATS + 2];
		size_t bit = (size_t)j * 6;
		int code = ((q6->q[bit / 8] | q6->q[bit / 8 + 1] << 8) >> (bit % 8)) & 63;

		assert_true(v[j] == (float)(sc * (code - 32)));
	}
}

static void every_type_exact(void **state)
{
	struct tensor ts[32];
	struct npu_model m;
	size_t n = model_tensors(ts, 1, Q6_K), i;
	int l, k;

	(void)state;
	load(write_file(ts, n, "mixed.gguf"), &m);
	assert_non_null(m.native);
	assert_false(m.cfg.shared_classifier);
	assert_int_equal(m.embedding_type, Q6_K);
	for (i = 0; i < n; i++) {
		const struct tensor *t = &ts[i];
		const float *w = NULL;
		const struct npu_qmatrix *q = NULL;

		if (!strcmp(t->name, "token_embd.weight")) {
			w = m.token_embedding;
		} else if (!strcmp(t->name, "output.weight")) {
			w = m.wcls;
			q = &m.native[LAYERS * NPU_MODEL_LAYER_MATS];
		}
		for (l = 0; l < LAYERS; l++)
			for (k = 0; k < 7; k++) {
				float *const base[] = { m.wq, m.wk, m.wv, m.wo, m.w1, m.w2, m.w3 };
				char name[40];

				snprintf(name, sizeof(name), "blk.%d.%s.weight", l, mat_names[k]);
				if (strcmp(t->name, name))
					continue;
				w = base[k] + (size_t)l * t->ne0 * t->ne1;
				q = &m.native[l * NPU_MODEL_LAYER_MATS + k];
			}
		if (!w || t->type == NPU_GGUF_F32)
			continue;
		if (t->type == NPU_GGUF_F16) {
			assert_null(q->q);
			assert_true(w[0] == 0.5f);
			continue;
		}
		check_tensor(t, w, q);
	}
	hand_written(&m);
	assert_int_equal(m.types[Q4_K], 3);
	assert_int_equal(m.types[Q6_K], 3);
	assert_int_equal(m.types[NPU_GGUF_F32], 6);
	assert_int_equal(m.types[Q2_K], 1);
	npu_model_free(&m);
	free_tensors(ts, n);
}

/* Shared classifier: the embedding table's block form is the classifier's. */
static void tied_classifier_native(void **state)
{
	struct tensor ts[32];
	struct npu_model m;
	struct npu_llm_model_info info;
	npu_llm_model *lm;
	char err[256] = "";
	size_t n = model_tensors(ts, 0, Q4_K);

	(void)state;
	load(write_file(ts, n, "tied.gguf"), &m);
	assert_true(m.cfg.shared_classifier);
	assert_true(m.wcls == m.token_embedding);
	check_tensor(&ts[0], m.token_embedding, &m.native[LAYERS * NPU_MODEL_LAYER_MATS]);
	/* No device: the float reference, with the file's types counted. */
	if (npu_llm_model_create(NULL, &m, NULL, NULL, &lm, err, sizeof(err)))
		fail_msg("%s", err);
	npu_llm_model_info(lm, &info);
	assert_string_equal(info.weight_types, "Q4_K x 3, Q6_K x 2, Q4_0 x 1, Q4_1 x 1, "
			    "Q5_0 x 1, Q5_1 x 1, Q8_0 x 1, Q2_K x 1, Q3_K x 1, Q5_K x 1, "
			    "F16 x 1, F32 x 6");
	assert_true(info.weight_count == (uint64_t)VOCAB * DIM + DIM +
		    LAYERS * (2ull * DIM + 4ull * DIM * DIM + 3ull * DIM * HIDDEN));
	npu_llm_model_free(lm);
	free_tensors(ts, n);
}

/* What is refused, with the type named. */
static void refusals(void **state)
{
	static const struct {
		const char *tensor;
		uint32_t type;
		int bad_scale;	/* block 3's d (or dmin) made +inf */
		const char *error;
	} cases[] = {
		{ "blk.0.attn_q.weight", 15, 0,
		  "tensor \"blk.0.attn_q.weight\" has type Q8_K: supported are F32, F16, Q4_0, "
		  "Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K" },
		{ "blk.1.ffn_up.weight", 23, 0,
		  "\"blk.1.ffn_up.weight\" has type IQ4_XS: supported" },
		{ "blk.0.ffn_norm.weight", Q4_K, 0,
		  "\"blk.0.ffn_norm.weight\" is a vector of type Q4_K: quantized types are for "
		  "matrices" },
		{ "blk.0.attn_k.weight", Q4_1, 1,
		  "\"blk.0.attn_k.weight\": block 3 has scale 0x7c00 (f16): not finite" },
		{ "blk.1.attn_q.weight", Q4_K, 2,
		  "\"blk.1.attn_q.weight\": block 3 has scale 0x7c00 (f16): not finite" },
		{ "blk.0.ffn_up.weight", Q3_K, 1,
		  "\"blk.0.ffn_up.weight\": block 3 has scale 0x7c00 (f16): not finite" },
	};
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct tensor ts[32];
		struct npu_model m;
		char err[256] = "";
		const char *path;
		size_t n = model_tensors(ts, 1, Q6_K), i;

		for (i = 0; i < n; i++) {
			int ti = type_index(cases[k].type);

			if (strcmp(ts[i].name, cases[k].tensor))
				continue;
			if (!cases[k].bad_scale) {
				ts[i].type = cases[k].type;
				continue;
			}
			put16(ts[i].data + 3 * types[ti].bytes +
			      (cases[k].bad_scale == 1 ? types[ti].d_at : types[ti].dmin_at),
			      0x7c00);
		}
		path = write_file(ts, n, "bad.gguf");
		if (npu_model_load_gguf(path, &m, NULL, err, sizeof(err)) != NPU_E_FORMAT ||
		    !strstr(err, cases[k].error))
			fail_msg("case %zu: '%s', want '%s'", k, err, cases[k].error);
		free_tensors(ts, n);
	}
}

/* A llama2.c tokenizer of VOCAB two-letter pieces, for npu_llm_model_load(). */
static const char *write_tokenizer(void)
{
	static char path[700];
	uint8_t b[4 + VOCAB * 10];
	int32_t two = 2, i;
	size_t n = 0;

	memcpy(b, &two, 4);
	for (n = 4, i = 0; i < VOCAB; i++, n += 10) {
		memset(b + n, 0, 4);
		memcpy(b + n + 4, &two, 4);
		b[n + 8] = (uint8_t)('A' + i / 26);
		b[n + 9] = (uint8_t)('a' + i % 26);
	}
	snprintf(path, sizeof(path), "%s/tok.bin", dir);
	t_write_file(path, b, n);
	return path;
}

/*
 * npu_llm_model_load() leaves the file's own matrices without floats until
 * they are asked for: then they are the loader's floats, bit for bit; and
 * a weight over 1e4 is refused as npu_model_load_gguf() refuses it, the
 * element named (the block's scale made 2^15; in the first and the last
 * thread's rows).
 */
static void floats_later(void **state)
{
	static const struct {
		const char *tensor;
		uint32_t type;
		int block;	/* -1: no change; -2: the last block */
	} cases[] = {
		{ NULL, 0, -1 },
		{ "blk.0.ffn_gate.weight", Q8_0, 3 },
		{ "blk.1.attn_q.weight", Q4_K, -2 },
		{ "blk.0.attn_v.weight", Q5_0, -2 },
	};
	struct npu_llm_model_params p = { .tokenizer = write_tokenizer() };
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct tensor ts[32];
		struct npu_model m;
		npu_llm_model *lm = NULL;
		char err[256] = "", lerr[512] = "";
		const char *path;
		size_t n = model_tensors(ts, k != 2, Q6_K), i;
		int ret, lret;

		for (i = 0; i < n && cases[k].tensor; i++) {
			int ti = type_index(cases[k].type);
			uint64_t nb = ts[i].ne0 * ts[i].ne1 / (uint64_t)types[ti].block;
			uint64_t b = cases[k].block == -2 ? nb - 1 : (uint64_t)cases[k].block;

			if (!strcmp(ts[i].name, cases[k].tensor))
				put16(ts[i].data + b * types[ti].bytes + types[ti].d_at, 0x7800);
		}
		path = write_file(ts, n, "later.gguf");
		ret = npu_model_load_gguf(path, &m, NULL, err, sizeof(err));
		lret = npu_llm_model_load(NULL, path, &p, &lm, lerr, sizeof(lerr));
		assert_int_equal(ret, lret);
		if (ret) {
			assert_non_null(strstr(err, "is not a finite weight (|w| > 1e4)"));
			if (!strstr(lerr, err))
				fail_msg("case %zu: '%s', want '%s'", k, lerr, err);
		} else {
			const struct npu_model *h = npu_llm_model_host(lm);

			assert_true(h->n_floats == m.n_floats);
			assert_memory_equal(h->data, m.data, m.n_floats * sizeof(float));
			npu_llm_model_free(lm);
		}
		npu_model_free(&m);
		free_tensors(ts, n);
	}
}

/* A Q4_K matrix of 512 columns has two super-blocks per row: records laid out per row. */
static void records_per_row(void **state)
{
	struct tensor ts[32];
	struct npu_model m;
	size_t n = model_tensors(ts, 1, Q6_K), i;

	(void)state;
	load(write_file(ts, n, "rows.gguf"), &m);
	for (i = 0; i < n && strcmp(ts[i].name, "blk.1.ffn_down.weight"); i++)
		;
	/* Q6_K, 512 columns: per row 2 d (4 bytes), 32 int8 scales; codes 384 bytes. */
	{
		const struct npu_qmatrix *q = &m.native[NPU_MODEL_LAYER_MATS + 5];
		const uint8_t *blk = ts[i].data + 2 * 210;	/* row 1's first block */
		const uint8_t *rec = q->records + 36;

		assert_int_equal(q->cols, HIDDEN);
		assert_memory_equal(rec, blk + 208, 2);			/* d[0] */
		assert_memory_equal(rec + 2, blk + 210 + 208, 2);	/* d[1] */
		assert_memory_equal(rec + 4, blk + 192, 16);		/* sc[0..15] */
		assert_memory_equal(rec + 20, blk + 210 + 192, 16);	/* sc[16..31] */
	}
	npu_model_free(&m);
	free_tensors(ts, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_type_exact),
		cmocka_unit_test(tied_classifier_native),
		cmocka_unit_test(refusals),
		cmocka_unit_test(records_per_row),
		cmocka_unit_test(floats_later),
	};

	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
