// SPDX-License-Identifier: MIT
/*
 * MATMUL with SCALE_BLOCK weights (ABI 1.2): b-bit codes in groups of 16 or
 * 32 columns with small integer scales (and mins), under binary16 scales
 * (and mins) per super-block of groups. The sums are exact in 128 bits
 * (docs/numerics.md, "MATMUL"); each output row is then shifted right just
 * enough to fit 64 bits. A host may compute the sums faster (its
 * matmul_block hook); exact integers, they are the same bits either way.
 * EMBEDDING reads such a table's rows through fw_block_row().
 */
#include "exec.h"

#define F_MIN DRM_NPU_BLOCK_F_MIN
#define F_S8 DRM_NPU_BLOCK_F_SUB_S8
#define F_U4 DRM_NPU_BLOCK_F_SUB_U4
#define MAX_BLOCK_GROUPS 16

/* Where one row's record keeps its parts (struct drm_npu_matmul_params). */
struct layout {
	__u32 g, nb, groups, blocks;
	__u32 dmin_off, sub_off;
	__u64 bytes;
};

static void get_layout(const struct drm_npu_matmul_params *p, __u32 k, struct layout *l)
{
	__u32 min = p->block_flags & F_MIN ? 1 : 0, sub = 0;

	l->g = p->group_size;
	l->nb = p->block_groups;
	l->groups = k / l->g;
	l->blocks = l->groups / l->nb;
	l->dmin_off = 2 * l->blocks;
	l->sub_off = 2 * l->blocks * (1 + min);
	if (p->block_flags & F_S8)
		sub = l->groups * (1 + min);
	else if (p->block_flags & F_U4)
		sub = l->groups;
	l->bytes = ((__u64)l->sub_off + sub + 1) & ~1ull;
}

/*
 * Scratch: the V sums of @rows rows (int128, 16-aligned), one row of v, a
 * super-block of decoded codes, and per row of x its values and its group
 * sums.
 */
struct block_scratch {
	__int128_t *acc;
	__s64 *v;
	__s32 *q, *xs, *xr;
};

static __u64 fixed_bytes(__u32 n_out)
{
	return 16 + (__u64)n_out * sizeof(__s64) + FW_BLOCK_MAX_COLS * sizeof(__s32);
}

static __u64 per_row_bytes(__u32 k, __u32 groups, __u32 n_out)
{
	return (__u64)n_out * sizeof(__int128_t) + ((__u64)k + groups) * sizeof(__s32);
}

static void carve(struct fw_exec *x, __u32 groups, __u32 n_out, __u32 rows,
		  struct block_scratch *s)
{
	__u8 *p = fw_scratch(x);

	p += (16 - ((unsigned long)p & 15)) & 15;
	s->acc = (__int128_t *)p;
	s->v = (__s64 *)(s->acc + (__u64)rows * n_out);
	s->q = (__s32 *)(s->v + n_out);
	s->xs = s->q + FW_BLOCK_MAX_COLS;
	s->xr = s->xs + (__u64)rows * groups;
}

__u32 fw_block_layout(const struct drm_npu_matmul_params *p, struct fw_tensor *w)
{
	__u32 k = w->d.cols, g = p->group_size, nb = p->block_groups, f = p->block_flags;
	__u32 sub = f & (F_S8 | F_U4);
	struct layout l;

	if (p->pad || p->pad2)
		return DRM_NPU_STATUS_BAD_RESERVED;
	if ((g != 16 && g != 32) || nb < 1 || nb > MAX_BLOCK_GROUPS || k % (g * nb))
		return DRM_NPU_STATUS_BAD_QPARAM;
	if (p->zero >> fw_code_bits(w->d.dtype))
		return DRM_NPU_STATUS_BAD_QPARAM;
	/* Without sub-scales a super-block is one group: nothing else to tell apart. */
	if ((f & ~(F_MIN | F_S8 | F_U4)) || sub == (F_S8 | F_U4) ||
	    (sub == F_U4 && !(f & F_MIN)) || (!sub && nb != 1))
		return DRM_NPU_STATUS_BAD_QPARAM;
	get_layout(p, k, &l);
	w->groups_per_row = l.groups;
	w->record_bytes = l.bytes;
	return DRM_NPU_STATUS_OK;
}

__u32 fw_prepare_matmul_block(struct fw_exec *x, struct fw_op *o)
{
	struct fw_tensor *w = &o->in[1];
	__u32 st = fw_block_layout(&o->op.matmul, w);

	(void)x;
	if (st)
		return st;
	o->scratch_need = fixed_bytes(w->d.rows) +
			  per_row_bytes(w->d.cols, w->groups_per_row, w->d.rows);
	return DRM_NPU_STATUS_OK;
}

/* A binary16 as mant * 2^(e - 24), 0 <= e <= 29; nonzero for an infinity or NaN. */
static int half(const __u8 *p, __s64 *mant, __u32 *e)
{
	__u32 h = (__u32)p[0] | (__u32)p[1] << 8, ex = (h >> 10) & 31, f = h & 1023;
	__s64 m = ex ? 1024 + f : f;

	if (ex == 31)
		return 1;
	*e = ex ? ex - 1 : 0;
	*mant = h >> 15 ? -m : m;
	return 0;
}

/* @n codes minus @zero from @p, the first starting at bit 0 of its byte. */
static void decode(const __u8 *p, __u32 bits, __s32 zero, __u32 n, __s32 *q)
{
	__u32 acc = 0, have = 0, mask = (1u << bits) - 1, i;

	if (bits == 8) {
		for (i = 0; i < n; i++)
			q[i] = (__s32)p[i] - zero;
		return;
	}
	for (i = 0; i < n; i++) {
		if (have < bits) {
			acc |= (__u32)*p++ << have;
			have += 8;
		}
		q[i] = (__s32)(acc & mask) - zero;
		acc >>= bits;
		have -= bits;
	}
}

/* |x| <= 2^15, |q| <= 255, n <= 32: the sum fits 28 bits. */
static __s32 dot(const __s32 *x, const __s32 *q, __u32 n)
{
	__s32 acc = 0;
	__u32 i;

	for (i = 0; i < n; i++)
		acc += x[i] * q[i];
	return acc;
}

/* Group j's scale and min from the record @rec. */
static void sub_scales(const __u8 *rec, const struct layout *l, __u32 flags, __u32 j,
		       __s64 *sc, __s64 *mn)
{
	const __u8 *s = rec + l->sub_off;

	if (flags & F_S8) {
		*sc = (__s8)s[j];
		*mn = flags & F_MIN ? s[l->groups + j] : 0;
	} else if (flags & F_U4) {
		*sc = s[j] & 15;
		*mn = s[j] >> 4;
	} else {
		*sc = 1;
		*mn = 1;
	}
}

/* acc[r][n] for @rows rows of x: output @n's exact sums. */
static __u32 sums_n(const struct fw_op *o, const struct layout *l, const struct block_scratch *s,
		    __u32 rows, __u32 n)
{
	const struct fw_tensor *w = &o->in[1];
	const struct drm_npu_matmul_params *p = &o->op.matmul;
	__u32 k = w->d.cols, n_out = w->d.rows, bits = fw_code_bits(w->d.dtype);
	__u32 flags = p->block_flags, cols = l->g * l->nb, b, j, r;
	const __u8 *rec = w->scales + (__u64)n * l->bytes;
	const __u8 *codes = w->data + (__u64)n * w->d.stride;
	__s64 sc[MAX_BLOCK_GROUPS], mn[MAX_BLOCK_GROUPS];

	for (r = 0; r < rows; r++)
		s->acc[(__u64)r * n_out + n] = 0;
	for (b = 0; b < l->blocks; b++) {
		__s64 dm, mm = 0;
		__u32 de, me = 0;

		if (half(rec + 2 * b, &dm, &de) ||
		    ((flags & F_MIN) && half(rec + l->dmin_off + 2 * b, &mm, &me)))
			return DRM_NPU_STATUS_BAD_QPARAM;
		for (j = 0; j < l->nb; j++)
			sub_scales(rec, l, flags, b * l->nb + j, &sc[j], &mn[j]);
		/* A super-block's first code starts a byte: cols * bits is a multiple of 8. */
		decode(codes + (__u64)b * cols * bits / 8, bits, p->zero, cols, s->q);
		for (r = 0; r < rows; r++) {
			const __s32 *xr = s->xr + (__u64)r * k + (__u64)b * cols;
			const __s32 *xs = s->xs + (__u64)r * l->groups + (__u64)b * l->nb;
			__int128_t *acc = &s->acc[(__u64)r * n_out + n];
			__s64 sp = 0, sq = 0;

			for (j = 0; j < l->nb; j++)
				sp += sc[j] * dot(xr + j * l->g, s->q + j * l->g, l->g);
			*acc += (__int128_t)(dm * sp) * ((__int128_t)1 << de);
			if (!(flags & F_MIN))
				continue;
			for (j = 0; j < l->nb; j++)
				sq += mn[j] * xs[j];
			*acc -= (__int128_t)(mm * sq) * ((__int128_t)1 << me);
		}
	}
	return DRM_NPU_STATUS_OK;
}

/*
 * Row @row's exact values in units of 2^-24 (times the tensor scale):
 * |d * sc * (q - zero)| < 2^11 * 2^7 * 2^8 * 2^29 and the min's term below
 * 2^11 * 2^8 * 2^29, so each fits 57 bits. @q holds a super-block's codes.
 */
__u32 fw_block_row(const struct drm_npu_matmul_params *p, const struct fw_tensor *w, __u32 row,
		   __s32 *q, __s64 *v)
{
	const __u8 *rec = w->scales + (__u64)row * w->record_bytes;
	const __u8 *codes = w->data + (__u64)row * w->d.stride;
	__u32 bits = fw_code_bits(w->d.dtype), flags = p->block_flags, b, j, i;
	struct layout l;

	get_layout(p, w->d.cols, &l);
	for (b = 0; b < l.blocks; b++) {
		__u32 cols = l.g * l.nb, de, me = 0;
		__s64 dm, mm = 0, sc, mn;

		if (half(rec + 2 * b, &dm, &de) ||
		    ((flags & F_MIN) && half(rec + l.dmin_off + 2 * b, &mm, &me)))
			return DRM_NPU_STATUS_BAD_QPARAM;
		decode(codes + (__u64)b * cols * bits / 8, bits, p->zero, cols, q);
		for (j = 0; j < l.nb; j++) {
			__s64 *vj = v + (__u64)b * cols + j * l.g;

			sub_scales(rec, &l, flags, b * l.nb + j, &sc, &mn);
			for (i = 0; i < l.g; i++)
				vj[i] = dm * sc * q[j * l.g + i] * ((__s64)1 << de);
			if (!(flags & F_MIN))
				continue;
			for (i = 0; i < l.g; i++)
				vj[i] -= mm * mn * ((__s64)1 << me);
		}
	}
	return DRM_NPU_STATUS_OK;
}

/* acc for @rows rows: the host's faster kernel, or our loops. */
static __u32 sums(struct fw_exec *x, const struct fw_op *o, const struct layout *l,
		  const struct block_scratch *s, __u32 rows)
{
	const struct fw_tensor *w = &o->in[1];
	const struct drm_npu_matmul_params *p = &o->op.matmul;
	__u32 k = w->d.cols, n_out = w->d.rows, n, st;

	if (x->hooks->matmul_block) {
		struct npu_fw_matmul_block mb = {
			.xr = s->xr,
			.xs = s->xs,
			.rows = rows,
			.k = k,
			.n = n_out,
			.w = w->data,
			.w_stride = w->d.stride,
			.w_bits = fw_code_bits(w->d.dtype),
			.zero = p->zero,
			.group_size = l->g,
			.block_groups = l->nb,
			.flags = p->block_flags,
			.records = w->scales,
			.record_bytes = l->bytes,
			.dmin_off = l->dmin_off,
			.sub_off = l->sub_off,
			.acc = s->acc,
		};

		if (!x->hooks->matmul_block(x->core->hook_ctx, &mb))
			return fw_poll(x, (__u64)rows * k * n_out) ? DRM_NPU_STATUS_CANCELLED :
								     DRM_NPU_STATUS_OK;
	}
	for (n = 0; n < n_out; n++) {
		if (fw_poll(x, (__u64)rows * k))
			return DRM_NPU_STATUS_CANCELLED;
		st = sums_n(o, l, s, rows, n);
		if (st)
			return st;
	}
	return DRM_NPU_STATUS_OK;
}

/* Bits of the largest magnitude among @n sums. */
static __u32 bit_length(const __int128_t *acc, __u32 n)
{
	__uint128_t any = 0;
	__u64 hi, lo;
	__u32 i;

	for (i = 0; i < n; i++)
		any |= acc[i] < 0 ? -(__uint128_t)acc[i] : (__uint128_t)acc[i];
	hi = (__u64)(any >> 64);
	lo = (__u64)any;
	if (hi)
		return 128 - __builtin_clzll(hi);
	return lo ? 64 - __builtin_clzll(lo) : 0;
}

__u32 fw_run_matmul_block(struct fw_exec *x, struct fw_op *o)
{
	const struct fw_tensor *a = &o->in[0], *w = &o->in[1];
	__u32 k = a->d.cols, n_out = w->d.rows, m0, r, n, j, i, block, st;
	int min = o->op.matmul.block_flags & F_MIN;
	struct block_scratch s;
	struct layout l;
	__u64 room;

	get_layout(&o->op.matmul, k, &l);
	/* As many rows at a time as scratch holds: each code is decoded once per block. */
	room = (x->core->scratch_size - fixed_bytes(n_out)) / per_row_bytes(k, l.groups, n_out);
	block = room < a->d.rows ? (__u32)room : a->d.rows;
	carve(x, l.groups, n_out, block, &s);
	for (m0 = 0; m0 < a->d.rows; m0 += block) {
		__u32 rows = a->d.rows - m0 < block ? a->d.rows - m0 : block;

		for (r = 0; r < rows; r++) {
			__s32 *xr = s.xr + (__u64)r * k;

			fw_load_row(a, m0 + r, xr);
			for (j = 0; min && j < l.groups; j++) {
				__s32 sum = 0;

				for (i = 0; i < l.g; i++)
					sum += xr[j * l.g + i];
				s.xs[(__u64)r * l.groups + j] = sum;
			}
		}
		st = sums(x, o, &l, &s, rows);
		if (st)
			return st;
		for (r = 0; r < rows; r++) {
			const __int128_t *acc = s.acc + (__u64)r * n_out;
			__u32 len = bit_length(acc, n_out), t = len > 62 ? len - 62 : 0;

			/* |acc| < 2^92: t bits off leaves |v| <= 2^62; v is acc * 2^-t. */
			for (n = 0; n < n_out; n++)
				s.v[n] = (__s64)fw_rshift_round(acc[n], (int)t);
			st = fw_matmul_emit(x, o, m0 + r, s.v, 24 - (__s32)t);
			if (st)
				return st;
		}
	}
	return DRM_NPU_STATUS_OK;
}
