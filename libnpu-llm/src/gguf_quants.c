// SPDX-License-Identifier: MIT
/*
 * ggml's quantized blocks into the NPU's SCALE_BLOCK format, exactly.
 *
 * Every type the loader reads is, per ggml block (one super-block here),
 * weight = d * sc[j] * (q - zero) - dmin * mn[j] with q an unsigned code,
 * d and dmin binary16, sc and mn small integers per group: ggml's
 * dequantize_row_* computed the same way. Each block is unpacked into
 * that form (struct qblock: dense codes in column order, whatever order
 * ggml packs them in), then written out as a row's codes and record.
 *
 * The floats are computed in double from those integers and rounded once
 * to float. d * sc * (q - zero) has at most 11 + 7 + 8 significant bits
 * and dmin * mn 11 + 6, so both are exact; their difference rounds in
 * double only when the smaller is below 2^-29 of the larger, and then not
 * onto a float rounding boundary: the float is the exact value correctly
 * rounded, which is what ggml's float arithmetic gives too.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

#define MAX_BLOCK 256

/* One ggml block, unpacked: the codes in column order and the scales. */
struct qblock {
	uint8_t q[MAX_BLOCK];
	uint16_t d, dmin;	/* binary16; dmin as the format's (Q4_1's -m) */
	int8_t sc[16];
	uint8_t mn[16];
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

/* ggml puts columns j and j + 16 of a 32-block in one byte: low nibble, high nibble. */
static void nibbles32(const uint8_t *qs, struct qblock *u)
{
	int j;

	for (j = 0; j < 16; j++) {
		u->q[j] = qs[j] & 15;
		u->q[j + 16] = qs[j] >> 4;
	}
}

/* Q5_0/Q5_1: bit j of qh is column j's fifth bit. */
static void fifth_bits(uint32_t qh, struct qblock *u)
{
	int j;

	for (j = 0; j < 32; j++)
		u->q[j] |= (uint8_t)(((qh >> j) & 1) << 4);
}

static void unpack_q4_0(const uint8_t *b, struct qblock *u)
{
	u->d = rd16(b);
	nibbles32(b + 2, u);
}

/* w = d * q + m: the format's dmin is -m, a flip of the binary16 sign bit. */
static void unpack_q4_1(const uint8_t *b, struct qblock *u)
{
	u->d = rd16(b);
	u->dmin = rd16(b + 2) ^ 0x8000;
	nibbles32(b + 4, u);
}

static void unpack_q5_0(const uint8_t *b, struct qblock *u)
{
	u->d = rd16(b);
	nibbles32(b + 6, u);
	fifth_bits(rd32(b + 2), u);
}

static void unpack_q5_1(const uint8_t *b, struct qblock *u)
{
	u->d = rd16(b);
	u->dmin = rd16(b + 2) ^ 0x8000;
	nibbles32(b + 8, u);
	fifth_bits(rd32(b + 4), u);
}

/* int8 v is code v + 128 with zero 128. */
static void unpack_q8_0(const uint8_t *b, struct qblock *u)
{
	int j;

	u->d = rd16(b);
	for (j = 0; j < 32; j++)
		u->q[j] = b[2 + j] ^ 0x80;
}

/*
 * The K-quants' 256 columns come in two halves of 128; within a half,
 * byte l of a 32-byte run holds column 32 * k + l of the half in bits
 * 2k..2k+1 (Q2_K, Q3_K's low bits, Q6_K's high bits).
 */
static void unpack_q2_k(const uint8_t *b, struct qblock *u)
{
	const uint8_t *qs = b + 16;
	int e, j;

	for (j = 0; j < 16; j++) {
		u->sc[j] = (int8_t)(b[j] & 15);
		u->mn[j] = b[j] >> 4;
	}
	for (e = 0; e < 256; e++)
		u->q[e] = (qs[32 * (e / 128) + e % 32] >> (2 * (e % 128 / 32))) & 3;
	u->d = rd16(b + 80);
	u->dmin = rd16(b + 82);
}

/*
 * Q3_K: hmask[l] bit 4h + k is the third bit of column 32k + l of half h
 * (ggml subtracts 4 when it is clear: code - 4 with the bit as +4). The
 * 6-bit scales: low nibbles in bytes 0..7 (groups 0..7 low, 8..15 high
 * nibble), high pairs in bytes 8..11 (group j: byte 8 + j % 4, bits
 * 2 * (j / 4)), biased by 32.
 */
static void unpack_q3_k(const uint8_t *b, struct qblock *u)
{
	const uint8_t *hm = b, *qs = b + 32, *s = b + 96;
	int e, j;

	for (j = 0; j < 16; j++) {
		int lo = j < 8 ? s[j] & 15 : s[j - 8] >> 4;
		int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;

		u->sc[j] = (int8_t)((lo | hi << 4) - 32);
	}
	for (e = 0; e < 256; e++) {
		int h = e / 128, k = e % 128 / 32, l = e % 32;

		u->q[e] = (uint8_t)(((qs[32 * h + l] >> (2 * k)) & 3) |
				    ((hm[l] >> (4 * h + k)) & 1) << 2);
	}
	u->d = rd16(b + 108);
}

/* Q4_K/Q5_K's 12 bytes of 6-bit scales and mins (ggml's get_scale_min_k4). */
static void scales_k4(const uint8_t *s, struct qblock *u)
{
	int j;

	for (j = 0; j < 8; j++) {
		if (j < 4) {
			u->sc[j] = (int8_t)(s[j] & 63);
			u->mn[j] = s[j + 4] & 63;
		} else {
			u->sc[j] = (int8_t)((s[j + 4] & 15) | (s[j - 4] >> 6) << 4);
			u->mn[j] = (uint8_t)((s[j + 4] >> 4) | (s[j] >> 6) << 4);
		}
	}
}

/*
 * Q4_K and Q5_K: 64 columns per 32 bytes of @qs, the first 32 in the low
 * nibbles; Q5_K's fifth bit is bit e / 32 of qh[e % 32] (@qh NULL: none).
 */
static void unpack_k45(const uint8_t *b, const uint8_t *qh, const uint8_t *qs, struct qblock *u)
{
	int e;

	u->d = rd16(b);
	u->dmin = rd16(b + 2);
	scales_k4(b + 4, u);
	for (e = 0; e < 256; e++) {
		uint8_t v = qs[32 * (e / 64) + e % 32];

		u->q[e] = (uint8_t)((e % 64 < 32 ? v & 15 : v >> 4) |
				    (qh ? ((qh[e % 32] >> (e / 32)) & 1) << 4 : 0));
	}
}

static void unpack_q4_k(const uint8_t *b, struct qblock *u)
{
	unpack_k45(b, NULL, b + 16, u);
}

static void unpack_q5_k(const uint8_t *b, struct qblock *u)
{
	unpack_k45(b, b + 16, b + 48, u);
}

/*
 * Q6_K: per half h, column 32k + l has its low nibble in ql[64h + l +
 * 32 (k & 1)] (low nibble for k < 2, high otherwise) and its top two bits
 * in qh[32h + l] bits 2k..2k+1; int8 scales per 16 columns.
 */
static void unpack_q6_k(const uint8_t *b, struct qblock *u)
{
	const uint8_t *ql = b, *qh = b + 128;
	int e, j;

	for (j = 0; j < 16; j++)
		u->sc[j] = (int8_t)b[192 + j];
	for (e = 0; e < 256; e++) {
		int h = e / 128, k = e % 128 / 32, l = e % 32;
		uint8_t lo = ql[64 * h + l + 32 * (k & 1)];

		u->q[e] = (uint8_t)((k < 2 ? lo & 15 : lo >> 4) |
				    ((qh[32 * h + l] >> (2 * k)) & 3) << 4);
	}
	u->d = rd16(b + 208);
}

/* ggml's type names by id (ggml.h), removed ones included. */
static const char *const type_names[] = {
	"F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K",
	"Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S",
	"IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16",
	"Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8",
	"IQ4_NL_8_8", "MXFP4", "NVFP4", "Q1_0", "Q2_0",
};

#define N_TYPES (sizeof(type_names) / sizeof(type_names[0]))
_Static_assert(N_TYPES == NPU_GGUF_NTYPES, "npu_model.types counts every named type");

/* A type the loader reads: its block and, when quantized, its SCALE_BLOCK form. */
struct qtype {
	uint16_t block, bytes;	/* columns and bytes of a block; 0: not read */
	uint8_t bits, group, zero, flags;
	void (*unpack)(const uint8_t *b, struct qblock *u);
};

#define F_MIN NPU_BLOCK_MIN
#define F_S8 NPU_BLOCK_SUB_S8
#define F_U4 NPU_BLOCK_SUB_U4

static const struct qtype qtypes[N_TYPES] = {
	[NPU_GGUF_F32] = { 1, 4, 0, 0, 0, 0, NULL },
	[NPU_GGUF_F16] = { 1, 2, 0, 0, 0, 0, NULL },
	[NPU_GGUF_Q4_0] = { 32, 18, 4, 32, 8, 0, unpack_q4_0 },
	[NPU_GGUF_Q4_1] = { 32, 20, 4, 32, 0, F_MIN, unpack_q4_1 },
	[NPU_GGUF_Q5_0] = { 32, 22, 5, 32, 16, 0, unpack_q5_0 },
	[NPU_GGUF_Q5_1] = { 32, 24, 5, 32, 0, F_MIN, unpack_q5_1 },
	[NPU_GGUF_Q8_0] = { 32, 34, 8, 32, 128, 0, unpack_q8_0 },
	[NPU_GGUF_Q2_K] = { 256, 84, 2, 16, 0, F_MIN | F_U4, unpack_q2_k },
	[NPU_GGUF_Q3_K] = { 256, 110, 3, 16, 4, F_S8, unpack_q3_k },
	[NPU_GGUF_Q4_K] = { 256, 144, 4, 32, 0, F_MIN | F_S8, unpack_q4_k },
	[NPU_GGUF_Q5_K] = { 256, 176, 5, 32, 0, F_MIN | F_S8, unpack_q5_k },
	[NPU_GGUF_Q6_K] = { 256, 210, 6, 16, 32, F_S8, unpack_q6_k },
};

const char *npu_gguf_type_name(uint32_t type)
{
	return type < N_TYPES ? type_names[type] : NULL;
}

uint32_t npu_gguf_type_block(uint32_t type)
{
	return type < N_TYPES ? qtypes[type].block : 0;
}

uint64_t npu_gguf_type_bytes(uint32_t type, uint64_t ne0, uint64_t n)
{
	const struct qtype *t = type < N_TYPES ? &qtypes[type] : NULL;

	if (!t || !t->block || ne0 % t->block)
		return 0;
	return n / t->block * t->bytes;
}

int npu_gguf_type_quantized(uint32_t type)
{
	return type < N_TYPES && qtypes[type].unpack;
}

/*
 * IEEE binary16 to double, subnormals included; inf and NaN stay so. By
 * its bits: a float holds every binary16 exactly.
 */
double npu_half_to_double(uint16_t h)
{
	uint32_t e = (h >> 10) & 31, m = h & 1023, b;
	float f;

	if (!e) {
		f = (float)m * 0x1p-24f;
		return (h & 0x8000) ? -f : f;
	}
	b = (uint32_t)(h & 0x8000) << 16 | (e == 31 ? 255 : e + 112) << 23 | m << 13;
	memcpy(&f, &b, 4);
	return f;
}

/* Block @u's values into @out: its binary16s decoded once, each value rounded once. */
static void block_floats(const struct qtype *t, const struct qblock *u, float *out)
{
	double d = npu_half_to_double(u->d), dmin = npu_half_to_double(u->dmin);
	int sub = t->flags & (F_S8 | F_U4), k;

	for (k = 0; k < t->block; k++) {
		int j = k / t->group;
		double v = d * (sub ? u->sc[j] : 1) * ((int)u->q[k] - t->zero);

		if (t->flags & F_MIN)
			v -= dmin * (sub ? u->mn[j] : 1);
		out[k] = (float)v;
	}
}

/* Block @u's part of a row's record, as super-block @sb. */
static void put_block(const struct qtype *t, const struct npu_block_format *f, uint32_t cols,
		      const struct qblock *u, uint64_t sb, uint8_t *rec)
{
	uint64_t nsb = cols / t->block, g = cols / t->group;
	uint64_t sub = 2 * nsb * (f->flags & F_MIN ? 2 : 1), j0 = sb * f->block_groups, j;

	rec[2 * sb] = (uint8_t)u->d;
	rec[2 * sb + 1] = (uint8_t)(u->d >> 8);
	if (f->flags & F_MIN) {
		rec[2 * nsb + 2 * sb] = (uint8_t)u->dmin;
		rec[2 * nsb + 2 * sb + 1] = (uint8_t)(u->dmin >> 8);
	}
	for (j = 0; j < f->block_groups && (f->flags & (F_S8 | F_U4)); j++) {
		if (f->flags & F_U4) {
			rec[sub + j0 + j] = (uint8_t)(u->sc[j] | u->mn[j] << 4);
			continue;
		}
		rec[sub + j0 + j] = (uint8_t)u->sc[j];
		if (f->flags & F_MIN)
			rec[sub + g + j0 + j] = u->mn[j];
	}
}

/* put_codes() and put_block() undone: super-block @sb of a row back into @u. */
static void get_block(const struct qtype *t, const struct npu_block_format *f, uint32_t cols,
		      const uint8_t *codes, const uint8_t *rec, uint64_t sb, struct qblock *u)
{
	uint64_t nsb = cols / t->block, g = cols / t->group, bit = sb * t->block * t->bits;
	uint64_t sub = 2 * nsb * (f->flags & F_MIN ? 2 : 1), j0 = sb * f->block_groups, j;
	int k;

	for (k = 0; k < t->block; k++, bit += t->bits) {
		uint32_t v = codes[bit / 8] >> (bit & 7);

		if ((bit & 7) + t->bits > 8)
			v |= (uint32_t)codes[bit / 8 + 1] << (8 - (bit & 7));
		u->q[k] = (uint8_t)(v & ((1u << t->bits) - 1));
	}
	u->d = (uint16_t)(rec[2 * sb] | rec[2 * sb + 1] << 8);
	u->dmin = f->flags & F_MIN ? (uint16_t)(rec[2 * nsb + 2 * sb] |
						 rec[2 * nsb + 2 * sb + 1] << 8) : 0;
	for (j = 0; j < f->block_groups && (f->flags & (F_S8 | F_U4)); j++) {
		if (f->flags & F_U4) {
			u->sc[j] = (int8_t)(rec[sub + j0 + j] & 15);
			u->mn[j] = rec[sub + j0 + j] >> 4;
			continue;
		}
		u->sc[j] = (int8_t)rec[sub + j0 + j];
		if (f->flags & F_MIN)
			u->mn[j] = rec[sub + g + j0 + j];
	}
}

/* The first element of block @u whose float is not a weight (|w| > 1e4), or -1. */
static int block_check(const struct qtype *t, const struct qblock *u, float *f)
{
	double d = fabs(npu_half_to_double(u->d)), dmin = fabs(npu_half_to_double(u->dmin));
	int qmax = t->zero > (1 << t->bits) - 1 - t->zero ? t->zero : (1 << t->bits) - 1 - t->zero;
	int sub = t->flags & (F_S8 | F_U4), k;

	/* A bound on every |value| (scales up to 127, mins up to 63): most blocks stop here. */
	if (d * (sub ? 128 : 1) * qmax + ((t->flags & F_MIN) ? dmin * (sub ? 64 : 1) : 0) < 9999)
		return -1;
	block_floats(t, u, f);
	for (k = 0; k < t->block; k++)
		if (!isfinite(f[k]) || fabsf(f[k]) > 1e4f)
			return k;
	return -1;
}

/* Block @u's codes into a row at bit @bit: whole bytes for 8 and 4 bits, else bit by bit. */
static void put_codes(const struct qtype *t, const struct qblock *u, uint64_t bit, uint8_t *codes)
{
	uint8_t *p = codes + bit / 8;
	int k;

	if (t->bits == 8) {
		memcpy(p, u->q, t->block);
		return;
	}
	if (t->bits == 4) {
		for (k = 0; k < t->block; k += 2)
			p[k / 2] = (uint8_t)(u->q[k] | u->q[k + 1] << 4);
		return;
	}
	for (k = 0; k < t->block; k++, bit += t->bits) {
		/* A code spans at most two bytes (bits <= 8). */
		uint32_t v = (uint32_t)u->q[k] << (bit & 7);

		codes[bit / 8] |= (uint8_t)v;
		if ((bit & 7) + t->bits > 8)
			codes[bit / 8 + 1] |= (uint8_t)(v >> 8);
	}
}

/* One thread's blocks [b0, b1) of a matrix, and the first of them found bad. */
struct dq_part {
	const uint8_t *src;
	const struct qtype *t;
	struct npu_block_format f;
	uint32_t cols;
	uint64_t b0, b1, rb, recb;
	float *out;
	struct npu_qmatrix *q;
	uint64_t bad_scale, bad_elem;	/* a block's index, an element's; UINT64_MAX: none */
	uint16_t scale;
};

static void *dq_run(void *arg)
{
	struct dq_part *P = arg;
	const struct qtype *t = P->t;
	uint64_t nsb = P->cols / t->block, b;
	struct qblock u;
	float f[MAX_BLOCK];

	for (b = P->b0; b < P->b1; b++) {
		u.dmin = 0;	/* unpack sets every other field a type uses */
		t->unpack(P->src + b * t->bytes, &u);
		/* The NPU stops at an infinite or NaN scale: refused, with the block. */
		if ((u.d & 0x7c00) == 0x7c00 ||
		    ((t->flags & F_MIN) && (u.dmin & 0x7c00) == 0x7c00)) {
			P->bad_scale = b;
			P->scale = (u.d & 0x7c00) == 0x7c00 ? u.d : u.dmin;
			return NULL;
		}
		if (P->out) {
			int k;

			block_floats(t, &u, P->out + b * t->block);
			for (k = 0; k < t->block && P->bad_elem == UINT64_MAX; k++)
				if (fabsf(P->out[b * t->block + k]) > 1e4f)
					P->bad_elem = b * t->block + (uint64_t)k;
		} else if (P->bad_elem == UINT64_MAX) {
			int k = block_check(t, &u, f);

			if (k >= 0)
				P->bad_elem = b * t->block + (uint64_t)k;
		}
		if (P->q) {
			uint8_t *rec = P->q->records + b / nsb * P->recb;

			put_codes(t, &u, b % nsb * t->block * t->bits, P->q->q + b / nsb * P->rb);
			put_block(t, &P->f, P->cols, &u, b % nsb, rec);
		}
	}
	return NULL;
}

#define MAX_DQ_THREADS 8

int npu_gguf_dequant(const uint8_t *src, uint32_t type, int32_t rows, int32_t cols, float *out,
		     struct npu_qmatrix *q, uint64_t bad[2])
{
	const struct qtype *t = &qtypes[type];
	uint64_t nsb = (uint64_t)cols / t->block, rb = 0, recb = 0;
	struct npu_block_format f = { t->group, t->block / t->group, t->zero, t->flags };
	struct dq_part part[MAX_DQ_THREADS];
	int n = llm_parts(MAX_DQ_THREADS), i, ret;

	if (q) {
		memset(q, 0, sizeof(*q));
		rb = ((uint64_t)cols * t->bits + 7) / 8;
		recb = npu_block_record_bytes(&f, (uint32_t)cols);
		/* Written whole below, but for the bit-by-bit codes' |= and the records' gaps. */
		q->q = t->bits == 8 || t->bits == 4 ? malloc((size_t)rows * rb) :
			calloc((size_t)rows, rb);
		q->records = calloc((size_t)rows, recb);
		if (!q->q || !q->records) {
			npu_qmatrix_free(q);
			return NPU_E_NOMEM;
		}
		q->rows = rows;
		q->cols = cols;
		q->group_size = t->group;
		q->bits = t->bits;
		q->scale = (struct npu_scale){ 1 << 30, 30 };
		q->block = f;
		q->source = type_names[type];
	}
	/* Small matrices on this thread alone; else whole rows per thread. */
	if ((uint64_t)rows * (uint64_t)cols < (1u << 16))
		n = 1;
	if (n > rows)
		n = rows;
	for (i = 0; i < n; i++) {
		part[i] = (struct dq_part){ src, t, f, (uint32_t)cols,
					    (uint64_t)rows * i / n * nsb,
					    (uint64_t)rows * (i + 1) / n * nsb, rb, recb, out, q,
					    UINT64_MAX, UINT64_MAX, 0 };
	}
	llm_run_parts(dq_run, part, sizeof(part[0]), n);
	/* As one pass would find them: the first bad scale, else the first bad element. */
	ret = NPU_OK;
	for (i = 0; i < n && ret != NPU_E_FORMAT; i++)
		if (part[i].bad_scale != UINT64_MAX) {
			bad[0] = part[i].bad_scale;
			bad[1] = part[i].scale;
			ret = NPU_E_FORMAT;
		}
	for (i = 0; i < n && !ret; i++)
		if (part[i].bad_elem != UINT64_MAX) {
			bad[0] = part[i].bad_elem;
			ret = NPU_E_RANGE;
		}
	if (ret && q)
		npu_qmatrix_free(q);
	return ret;
}

/* Matrix @q's exact floats, from its codes and records: the loader's, block by block. */
void npu_gguf_native_floats(const struct npu_qmatrix *q, float *out)
{
	const struct qtype *t = NULL;
	uint64_t nsb, rb, recb, b;
	uint32_t type;
	struct qblock u;

	for (type = 0; type < N_TYPES && !t; type++)
		if (q->source == type_names[type])
			t = &qtypes[type];
	if (!t || !t->unpack)
		return;
	nsb = (uint64_t)q->cols / t->block;
	rb = ((uint64_t)q->cols * t->bits + 7) / 8;
	recb = npu_block_record_bytes(&q->block, (uint32_t)q->cols);
	for (b = 0; b < (uint64_t)q->rows * nsb; b++) {
		get_block(t, &q->block, (uint32_t)q->cols, q->q + b / nsb * rb,
			  q->records + b / nsb * recb, b % nsb, &u);
		block_floats(t, &u, out + b * t->block);
	}
}
