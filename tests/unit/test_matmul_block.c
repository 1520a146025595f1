// SPDX-License-Identifier: MIT
/*
 * MATMUL with SCALE_BLOCK weights (ABI 1.2), end to end through libnpu:
 * random formats of every code width, flag combination, group size and
 * super-block size, against a reference written apart from the firmware's
 * loops (each weight dequantized on its own to an exact integer, binary16
 * read through the compiler's _Float16). With power-of-two scales the
 * output is exact and compared bit for bit; with random scales it is
 * compared with the real value within the emission's rounding. Every case
 * also runs on the cpu backend at each ISA level this CPU has, to the same
 * bits. EMBEDDING of such a table, exactly. Then libnpu's record sizes and
 * the encoder's refusals.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#define F_MIN NPU_BLOCK_MIN
#define F_S8 NPU_BLOCK_SUB_S8
#define F_U4 NPU_BLOCK_SUB_U4

typedef __int128 i128;

/* One case: the format, the operands, and how the output is scaled. */
struct bcase {
	enum npu_dtype wt, xt, ot;
	struct npu_block_format f;
	uint32_t m, n, k;
	int big;		/* extremes everywhere: the sums pass 2^62 */
	int mixed;		/* big, but odd rows of w tiny: their v shows t's rounding */
	int exact;		/* power-of-two scales, an I32 TENSOR output */
	int row_x, row_out, bias;
	/* host data */
	int32_t *x;		/* [m][k] */
	uint8_t *q;		/* [n][k] codes */
	uint16_t *d, *dmin;	/* [n][blocks] */
	int32_t *sc, *mn;	/* [n][groups] */
	int32_t *b;		/* [n] */
	struct npu_scale sx[8], sw, sb, so;
	/* what the reference says */
	i128 *v_exact;		/* [m][n]: V */
	uint32_t len[8], t[8];	/* per row: bits of the largest |V|, bits shifted off */
};

static uint32_t code_bits(enum npu_dtype t)
{
	return (uint32_t)npu_row_bytes(t, 8);	/* 8 codes take b bytes */
}

/* A binary16: zero, a subnormal, a normal or one of the largest, any sign. */
static uint16_t rand_half(int big)
{
	uint16_t sign = (uint16_t)(t_rand() & 1) << 15;
	uint32_t kind = (uint32_t)t_rand_range(0, 9);

	if (big)
		return sign | (uint16_t)(30 << 10) | (uint16_t)t_rand_range(0, 1023);
	if (kind == 0)
		return sign;
	if (kind == 1)
		return sign | (uint16_t)t_rand_range(1, 1023);
	return sign | (uint16_t)(t_rand_range(1, 30) << 10) | (uint16_t)t_rand_range(0, 1023);
}

/* A binary16 times 2^24, exactly (an integer below 2^41). */
static int64_t half24(uint16_t h)
{
	_Float16 v;

	memcpy(&v, &h, 2);
	return (int64_t)ldexp((double)v, 24);
}

static i128 rround(i128 v, uint32_t t)
{
	i128 a = v < 0 ? -v : v;

	if (t == 0)
		return v;
	a = (a + ((i128)1 << (t - 1))) >> t;
	return v < 0 ? -a : a;
}

static double pow2(int e)
{
	return ldexp(1.0, e);
}

/* A random power of two 2^e as a scale. */
static struct npu_scale scale2(int e)
{
	struct npu_scale s = { 1 << 30, 30 - e };

	return s;
}

static void gen(struct bcase *c)
{
	uint32_t bits = code_bits(c->wt), g = c->f.group_size, groups = c->k / g;
	uint32_t blocks = groups / c->f.block_groups, qmax = (1u << bits) - 1, i, j;
	int32_t xmax = c->xt == NPU_I16 ? 32767 : 127;

	c->f.zero = (uint32_t)t_rand_range(0, (int32_t)qmax);
	/* Big: x at -2^15 and every term of one sign, as large as it gets. */
	if (c->big)
		c->f.zero = c->f.flags & F_S8 ? qmax : 0;
	c->x = calloc((size_t)c->m * c->k, sizeof(*c->x));
	c->q = calloc((size_t)c->n * c->k, 1);
	c->d = calloc((size_t)c->n * blocks, 2);
	c->dmin = calloc((size_t)c->n * blocks, 2);
	c->sc = calloc((size_t)c->n * groups, sizeof(int32_t));
	c->mn = calloc((size_t)c->n * groups, sizeof(int32_t));
	c->b = calloc(c->n, sizeof(int32_t));
	c->v_exact = calloc((size_t)c->m * c->n, sizeof(i128));
	assert_true(c->x && c->q && c->d && c->dmin && c->sc && c->mn && c->b && c->v_exact);
	for (i = 0; i < c->m * c->k; i++)
		c->x[i] = c->big ? -xmax - 1 : t_rand_range(-xmax - 1, xmax);
	for (i = 0; i < c->n * c->k; i++)
		c->q[i] = (uint8_t)(c->big && !(c->mixed && i / c->k % 2) ? qmax - c->f.zero :
				    (uint32_t)t_rand_range(0, (int32_t)qmax));
	for (i = 0; i < c->n * blocks; i++) {
		c->d[i] = rand_half(c->big);
		c->dmin[i] = rand_half(c->big);
		if (c->big) {	/* d positive, dmin negative: both terms grow */
			c->d[i] &= 0x7fff;
			c->dmin[i] |= 0x8000;
		}
	}
	for (i = 0; c->mixed && i < c->n * blocks; i++)
		if (i / blocks % 2) {
			c->d[i] = 1;	/* 2^-24 */
			c->dmin[i] = 0;
		}
	for (i = 0; i < c->n * groups; i++) {
		if (c->mixed && i / groups % 2) {
			c->sc[i] = 1;
			c->mn[i] = 0;
			continue;
		}
		if (c->f.flags & F_S8) {
			c->sc[i] = c->big ? -128 : t_rand_range(-128, 127);
			c->mn[i] = c->f.flags & F_MIN ? (c->big ? 255 : t_rand_range(0, 255)) : 0;
		} else if (c->f.flags & F_U4) {
			c->sc[i] = c->big ? 15 : t_rand_range(0, 15);
			c->mn[i] = c->big ? 15 : t_rand_range(0, 15);
		} else {
			c->sc[i] = 1;
			c->mn[i] = c->f.flags & F_MIN ? 1 : 0;
		}
	}
	for (j = 0; j < c->n; j++)
		c->b[j] = t_rand_range(-100000, 100000);
}

/* Weight [n][k] alone, as an integer in units of 2^-24. */
static i128 weight24(const struct bcase *c, uint32_t n, uint32_t k)
{
	uint32_t g = c->f.group_size, groups = c->k / g, blocks = groups / c->f.block_groups;
	uint32_t j = n * groups + k / g, b = n * blocks + k / g / c->f.block_groups;
	i128 w = (i128)half24(c->d[b]) * c->sc[j] *
		 ((int32_t)c->q[(size_t)n * c->k + k] - (int32_t)c->f.zero);

	if (c->f.flags & F_MIN)
		w -= (i128)half24(c->dmin[b]) * c->mn[j];
	return w;
}

/*
 * The reference: each weight dequantized alone to an integer in units of
 * 2^-24, then plain dot products in 128 bits; per row, the shift that
 * brings the largest sum within 62 bits.
 */
static void reference(struct bcase *c)
{
	uint32_t m, n, k;

	for (m = 0; m < c->m; m++) {
		i128 amax = 0;
		uint32_t len = 0;

		for (n = 0; n < c->n; n++) {
			i128 acc = 0;

			for (k = 0; k < c->k; k++)
				acc += weight24(c, n, k) * c->x[(size_t)m * c->k + k];
			c->v_exact[(size_t)m * c->n + n] = acc;
			if ((acc < 0 ? -acc : acc) > amax)
				amax = acc < 0 ? -acc : acc;
		}
		while (len < 127 && amax >= (i128)1 << len)
			len++;
		c->len[m] = len;
		c->t[m] = len > 62 ? len - 62 : 0;
	}
}

static void put16(uint8_t *p, uint16_t h)
{
	p[0] = (uint8_t)h;
	p[1] = (uint8_t)(h >> 8);
}

/* Row n's record as docs/numerics.md lays it out. */
static void record(const struct bcase *c, uint32_t n, uint8_t *p)
{
	uint32_t groups = c->k / c->f.group_size, blocks = groups / c->f.block_groups, i;

	for (i = 0; i < blocks; i++)
		put16(p + 2 * i, c->d[n * blocks + i]);
	p += 2 * blocks;
	if (c->f.flags & F_MIN) {
		for (i = 0; i < blocks; i++)
			put16(p + 2 * i, c->dmin[n * blocks + i]);
		p += 2 * blocks;
	}
	for (i = 0; i < groups; i++) {
		if (c->f.flags & F_S8) {
			p[i] = (uint8_t)(int8_t)c->sc[n * groups + i];
			if (c->f.flags & F_MIN)
				p[groups + i] = (uint8_t)c->mn[n * groups + i];
		} else if (c->f.flags & F_U4) {
			p[i] = (uint8_t)(c->sc[n * groups + i] | c->mn[n * groups + i] << 4);
		}
	}
}

/* The codes of row n as a little-endian bit string. */
static void pack(const struct bcase *c, uint32_t n, uint8_t *p)
{
	uint32_t bits = code_bits(c->wt), k, i;

	for (k = 0; k < c->k; k++)
		for (i = 0; i < bits; i++)
			if (c->q[(size_t)n * c->k + k] >> i & 1)
				p[(k * bits + i) / 8] |= (uint8_t)(1u << ((k * bits + i) % 8));
}

/* What one device computed: the output's bytes and its row scales. */
struct result {
	uint8_t *out;
	struct npu_scale rs[8];
	size_t bytes;
};

static void run(npu_device *dev, const struct bcase *c, struct result *r)
{
	uint64_t rb = npu_row_bytes(c->wt, c->k), rec = npu_block_record_bytes(&c->f, c->k);
	uint64_t xb = npu_row_bytes(c->xt, c->k), ob = npu_row_bytes(c->ot, c->n);
	struct t_buf x = t_alloc(dev, c->m * xb), w = t_alloc(dev, c->n * (rb + 3));
	struct t_buf s = t_alloc(dev, c->n * rec + 128), o = t_alloc(dev, c->m * ob + 64);
	struct t_buf b = t_alloc(dev, 4 * c->n);
	struct npu_tensor tx, tw, to, tb;
	uint32_t i, j;
	npu_cmd *cmd;

	/* Odd strides and offsets: codes are bytes. */
	memset(w.p, 0, w.size);
	for (i = 0; i < c->n; i++)
		pack(c, i, (uint8_t *)w.p + 1 + i * (rb + 3));
	/* x's row scales, then the records from an address 2 but not 4 aligned. */
	memset(s.p, 0, s.size);
	memcpy(s.p, c->sx, 8 * c->m);
	for (i = 0; i < c->n; i++)
		record(c, i, (uint8_t *)s.p + 66 + i * rec);
	for (i = 0; i < c->m; i++)
		for (j = 0; j < c->k; j++)
			if (c->xt == NPU_I16)
				((int16_t *)x.p)[i * c->k + j] = (int16_t)c->x[i * c->k + j];
			else
				((int8_t *)x.p)[i * c->k + j] = (int8_t)c->x[i * c->k + j];
	memcpy(b.p, c->b, 4 * c->n);

	tx = npu_tensor_2d(x.bo, 0, c->m, c->k, c->xt);
	if (c->row_x) {
		tx.scale_mode = NPU_SCALE_ROW;
		tx.scale_bo = s.bo;
	} else {
		tx.scale_mode = NPU_SCALE_TENSOR;
		tx.scale = c->sx[0];
	}
	tw = npu_tensor_2d(w.bo, 1, c->n, c->k, c->wt);
	tw.stride = (uint32_t)(rb + 3);
	tw.scale_mode = NPU_SCALE_BLOCK;
	tw.scale = c->sw;
	tw.scale_bo = s.bo;
	tw.scale_offset = 66;
	tb = npu_tensor_2d(b.bo, 0, 1, c->n, NPU_I32);
	tb.scale_mode = NPU_SCALE_TENSOR;
	tb.scale = c->sb;
	to = npu_tensor_2d(o.bo, 0, c->m, c->n, c->ot);
	if (c->row_out) {
		to.scale_mode = NPU_SCALE_ROW;
		to.scale_bo = o.bo;
		to.scale_offset = c->m * ob;
		to.scale_offset += (8 - to.scale_offset % 8) % 8;
	} else {
		to.scale_mode = NPU_SCALE_TENSOR;
		to.scale = c->so;
	}
	assert_int_equal(npu_cmd_create(dev, &cmd), NPU_OK);
	assert_int_equal(npu_op_matmul_block(cmd, &tx, &tw, &c->f, c->bias ? &tb : NULL, &to),
			 NPU_OK);
	assert_int_equal(t_run(dev, cmd, NULL), NPU_JOB_OK);
	npu_cmd_destroy(cmd);
	r->bytes = c->m * ob;
	r->out = malloc(r->bytes);
	assert_non_null(r->out);
	memcpy(r->out, o.p, r->bytes);
	if (c->row_out)
		memcpy(r->rs, (uint8_t *)o.p + to.scale_offset, 8 * c->m);
	t_free(dev, &x);
	t_free(dev, &w);
	t_free(dev, &s);
	t_free(dev, &o);
	t_free(dev, &b);
}

static int64_t out_at(const struct bcase *c, const struct result *r, uint32_t i)
{
	if (c->ot == NPU_I8)
		return ((int8_t *)r->out)[i];
	if (c->ot == NPU_I16)
		return ((int16_t *)r->out)[i];
	return ((int32_t *)r->out)[i];
}

static int log2_of(struct npu_scale s)
{
	return 30 - s.shift;
}

/* Power-of-two scales: the firmware's result, exactly. */
static void check_exact(const struct bcase *c, const struct result *r)
{
	uint32_t m, n;

	for (m = 0; m < c->m; m++) {
		int se = log2_of(c->sx[c->row_x ? m : 0]) + log2_of(c->sw) - 24 + (int)c->t[m];
		int e = se - log2_of(c->so), eb = log2_of(c->sb) - se;

		for (n = 0; n < c->n; n++) {
			i128 v = rround(c->v_exact[(size_t)m * c->n + n], c->t[m]), want;
			i128 lim = INT32_MAX;

			if (c->bias)
				v += eb >= 0 ? (i128)c->b[n] * ((i128)1 << eb) :
					       rround(c->b[n], (uint32_t)-eb);
			/* |v| < 2^63 and e small: no saturation at 64 bits before the clamp */
			want = e >= 0 ? (v > (lim >> e) ? lim : v < -(lim >> e) ? -lim :
					 v * ((i128)1 << e)) : rround(v, (uint32_t)-e);
			want = want > lim ? lim : want < -lim ? -lim : want;
			if (out_at(c, r, m * c->n + n) != (int64_t)want)
				fail_msg("k %u g %u B %u flags %u bits %u: out[%u][%u] = %lld, "
					 "want %lld (t %u)", c->k, c->f.group_size,
					 c->f.block_groups, c->f.flags, code_bits(c->wt), m, n,
					 (long long)out_at(c, r, m * c->n + n), (long long)want,
					 c->t[m]);
		}
	}
}

static double to_double(struct npu_scale s)
{
	return ldexp((double)s.mult, -s.shift);
}

/* Random scales: the real value within the emission's rounding. */
static void check_real(const struct bcase *c, const struct result *r)
{
	double qmax = c->ot == NPU_I8 ? 127 : c->ot == NPU_I16 ? 32767 : 2147483647.0;
	uint32_t m, n;

	for (m = 0; m < c->m; m++) {
		long double unit = (long double)to_double(c->sx[c->row_x ? m : 0]) *
				   to_double(c->sw) * pow2(-24);
		double os = c->row_out ? to_double(r->rs[m]) : to_double(c->so), amax = 0;

		for (n = 0; n < c->n; n++) {
			long double real = (long double)c->v_exact[(size_t)m * c->n + n] * unit;

			if (c->bias)
				real += (long double)c->b[n] * to_double(c->sb);
			amax = fmax(amax, fabs((double)real));
		}
		for (n = 0; n < c->n; n++) {
			long double real = (long double)c->v_exact[(size_t)m * c->n + n] * unit;
			double want, got = (double)out_at(c, r, m * c->n + n), tol;

			if (c->bias)
				real += (long double)c->b[n] * to_double(c->sb);
			want = (double)(real / os);
			want = fmin(fmax(want, -qmax), qmax);
			/* v's unit after t, the bias's rounding to it, and 31-bit scales */
			tol = 0.5 + 1e-6 * amax / os +
			      (c->bias ? 0.5 * (double)unit * pow2((int)c->t[m]) / os : 0);
			if (fabs(got - want) > tol)
				fail_msg("k %u g %u B %u flags %u bits %u: out[%u][%u] = %.0f, "
					 "want %.3f (tol %.3g)", c->k, c->f.group_size,
					 c->f.block_groups, c->f.flags, code_bits(c->wt), m, n,
					 got, want, tol);
		}
	}
}

static void free_case(struct bcase *c)
{
	free(c->x);
	free(c->q);
	free(c->d);
	free(c->dmin);
	free(c->sc);
	free(c->mn);
	free(c->b);
	free(c->v_exact);
}

/* The default device, then the cpu backend at each level this CPU has. */
static int n_devs;
static npu_device *devs[1 + NPU_ISA_COUNT];

static int open_devices(void **state)
{
	enum npu_isa isa;

	(void)state;
	devs[n_devs++] = t_open();
	for (isa = NPU_ISA_SCALAR; isa < NPU_ISA_COUNT; isa++)
		if (npu_isa_host_has(isa))
			devs[n_devs++] = t_open_at("cpu", npu_isa_name(isa));
	return 0;
}

static int close_devices(void **state)
{
	(void)state;
	while (n_devs)
		npu_close(devs[--n_devs]);
	return 0;
}

/*
 * The output's and the bias's scales, from the sums: outputs mostly in
 * range, some clamped, the bias a few units of the output.
 */
static void choose_scales(struct bcase *c)
{
	uint32_t m;

	if (c->exact) {
		int e = -200;

		for (m = 0; m < c->m; m++) {
			int em = log2_of(c->sx[c->row_x ? m : 0]) + log2_of(c->sw) - 24 +
				 (int)c->len[m] - 29;

			e = em > e ? em : e;
		}
		c->so = scale2(e - t_rand_range(0, 2));
		/* Mixed: out = v itself, clamped; the tiny rows' v are in range. */
		if (c->mixed)
			c->so = scale2(log2_of(c->sx[0]) + log2_of(c->sw) - 24 + (int)c->t[0]);
		e -= t_rand_range(12, 18);
		c->sb = scale2(e < -90 ? -90 : e);
	} else {
		double qmax = c->ot == NPU_I8 ? 127 : 32767, amax = 0, bmax = INFINITY;

		for (m = 0; m < c->m; m++) {
			double unit = to_double(c->sx[c->row_x ? m : 0]) * to_double(c->sw) *
				      pow2(-24), rmax = 0;
			uint32_t n;

			for (n = 0; n < c->n; n++)
				rmax = fmax(rmax, fabs((double)c->v_exact[(size_t)m * c->n + n] *
						       unit));
			amax = fmax(amax, rmax);
			/* |v| <= 2^62 in units of unit * 2^t: v + bias must stay within 2^63. */
			bmax = fmin(bmax, ldexp(unit, 62 + (int)c->t[m]));
		}
		if (amax == 0)
			amax = 1;
		c->sb = t_scale(fmin(amax, bmax) * (0.05 + 0.4 * t_rand_unit()) / 100000);
		c->so = t_scale(amax * 1.5 / (qmax * (0.5 + t_rand_unit())));
	}
}

/* Run @c everywhere, compare the devices' bits, and check against the reference. */
static void run_case(struct bcase *c)
{
	struct result first, r;
	int i;

	gen(c);
	reference(c);
	choose_scales(c);
	run(devs[0], c, &first);
	if (c->exact)
		check_exact(c, &first);
	else
		check_real(c, &first);
	for (i = 1; i < n_devs; i++) {
		run(devs[i], c, &r);
		assert_memory_equal(r.out, first.out, first.bytes);
		if (c->row_out)
			assert_memory_equal(r.rs, first.rs, 8 * c->m);
		free(r.out);
	}
	free(first.out);
	free_case(c);
}

static const enum npu_dtype wtypes[] = { NPU_U2, NPU_U3, NPU_U4, NPU_U5, NPU_U6, NPU_U8 };
static const uint32_t flag_sets[] = { 0, F_MIN, F_S8, F_MIN | F_S8, F_MIN | F_U4 };
static const uint32_t block_sizes[] = { 1, 8, 16 };

/* A random case of @flags and @w, with super-blocks of @nb groups. */
static void random_case(struct bcase *c, enum npu_dtype w, uint32_t flags, uint32_t nb,
			int exact)
{
	memset(c, 0, sizeof(*c));
	c->wt = w;
	c->xt = t_rand() & 1 ? NPU_I16 : NPU_I8;
	c->f.group_size = t_rand() & 1 ? 32 : 16;
	c->f.block_groups = nb;
	c->f.flags = flags;
	c->k = c->f.group_size * nb * (uint32_t)t_rand_range(1, nb == 1 ? 6 : 2);
	c->n = (uint32_t)t_rand_range(1, 24);
	c->m = (uint32_t)t_rand_range(1, 5);
	c->exact = exact;
	c->row_x = t_rand() & 1;
	c->bias = t_rand() & 1;
	if (exact) {
		int i;

		c->ot = NPU_I32;
		for (i = 0; i < 8; i++)
			c->sx[i] = scale2(t_rand_range(-12, 0));
		c->sw = scale2(t_rand_range(-16, 0));
	} else {
		int i;

		c->ot = t_rand() % 3 == 0 ? NPU_I16 : NPU_I8;
		c->row_out = t_rand() & 1;
		for (i = 0; i < 8; i++)
			c->sx[i] = t_scale(ldexp(1 + t_rand_unit(), -t_rand_range(4, 12)));
		c->sw = t_scale(ldexp(1 + t_rand_unit(), -t_rand_range(10, 20)));
	}
}

/* Every code width x every flag set x B in {1, 8, 16}, exact and real. */
static void formats(void **state)
{
	size_t wi, fi, bi;
	int exact;
	struct bcase c;

	(void)state;
	t_seed(2201);
	for (exact = 0; exact < 2; exact++)
		for (wi = 0; wi < sizeof(wtypes) / sizeof(wtypes[0]); wi++)
			for (fi = 0; fi < sizeof(flag_sets) / sizeof(flag_sets[0]); fi++)
				for (bi = 0; bi < 3; bi++) {
					uint32_t nb = block_sizes[bi];

					/* without sub-scales a super-block is one group */
					if (!(flag_sets[fi] & (F_S8 | F_U4)) && nb != 1)
						continue;
					random_case(&c, wtypes[wi], flag_sets[fi], nb, exact);
					run_case(&c);
				}
}

/* Sums past 2^62: t > 0, exactly as the reference shifts them. */
static void large_sums(void **state)
{
	static const uint32_t flags[] = { F_MIN | F_S8, F_S8, F_MIN | F_U4, F_MIN };
	size_t i;
	int exact, seen = 0;
	struct bcase c;

	(void)state;
	t_seed(2202);
	for (exact = 0; exact < 2; exact++)
		for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
			random_case(&c, i & 1 ? NPU_U8 : NPU_U2, flags[i],
				    flags[i] == F_MIN ? 1 : 16, exact);
			c.big = 1;
			c.xt = NPU_I16;
			c.k = c.f.group_size * c.f.block_groups * (flags[i] == F_MIN ? 128 : 16);
			c.m = 2;
			c.row_x = 0;
			c.mixed = exact && i < 3;
			c.bias = c.bias && !c.mixed;
			run_case(&c);
			seen += c.t[0] > 0 && c.t[1] > 0;
		}
	assert_true(seen >= 4);
}

/* EMBEDDING of @c's weights as a table, rows @ids, into I32 at 2^s units: out, per device. */
static void embed(npu_device *dev, const struct bcase *c, const int32_t *ids, int s, int32_t *out)
{
	uint64_t rb = npu_row_bytes(c->wt, c->k), rec = npu_block_record_bytes(&c->f, c->k);
	struct t_buf w = t_alloc(dev, c->n * rb), r = t_alloc(dev, c->n * rec);
	struct t_buf id = t_alloc(dev, 4 * c->m), o = t_alloc(dev, 4ull * c->m * c->k);
	struct npu_tensor tt, ti, to;
	uint32_t i;
	npu_cmd *cmd;

	memset(w.p, 0, w.size);
	for (i = 0; i < c->n; i++) {
		pack(c, i, (uint8_t *)w.p + i * rb);
		record(c, i, (uint8_t *)r.p + i * rec);
	}
	memcpy(id.p, ids, 4 * c->m);
	tt = npu_tensor_2d(w.bo, 0, c->n, c->k, c->wt);
	tt.scale_mode = NPU_SCALE_BLOCK;
	tt.scale = c->sw;
	tt.scale_bo = r.bo;
	ti = npu_tensor_2d(id.bo, 0, c->m, 1, NPU_I32);
	to = npu_tensor_2d(o.bo, 0, c->m, c->k, NPU_I32);
	to.scale_mode = NPU_SCALE_TENSOR;
	to.scale = scale2(log2_of(c->sw) - 24 + s);
	assert_int_equal(npu_cmd_create(dev, &cmd), NPU_OK);
	assert_int_equal(npu_op_embedding_block(cmd, &tt, &c->f, &ti, &to), NPU_OK);
	assert_int_equal(t_run(dev, cmd, NULL), NPU_JOB_OK);
	npu_cmd_destroy(cmd);
	memcpy(out, o.p, 4ull * c->m * c->k);
	t_free(dev, &w);
	t_free(dev, &r);
	t_free(dev, &id);
	t_free(dev, &o);
}

/*
 * EMBEDDING of a SCALE_BLOCK table: each picked row's exact values, in an
 * I32 output whose unit is just coarse enough to hold the largest (then
 * rounded as the emission rounds), on every device alike.
 */
static void embedding_rows(void **state)
{
	size_t wi, fi;
	struct bcase c;

	(void)state;
	t_seed(2203);
	for (wi = 0; wi < sizeof(wtypes) / sizeof(wtypes[0]); wi++)
		for (fi = 0; fi < sizeof(flag_sets) / sizeof(flag_sets[0]); fi++) {
			uint32_t nb = flag_sets[fi] & (F_S8 | F_U4) ? 8 : 1, m, k, len = 0;
			int32_t ids[5], *want, *got;
			i128 amax = 0;
			int i, s;

			random_case(&c, wtypes[wi], flag_sets[fi], nb, 1);
			c.big = fi & 1;
			gen(&c);
			for (m = 0; m < c.m; m++)
				ids[m] = (int32_t)t_rand_range(0, (int)c.n - 1);
			for (m = 0; m < c.m; m++)
				for (k = 0; k < c.k; k++) {
					i128 w = weight24(&c, (uint32_t)ids[m], k);

					amax = w < 0 ? (-w > amax ? -w : amax) : (w > amax ? w : amax);
				}
			while (amax >= (i128)1 << len)
				len++;
			s = len > 31 ? (int)len - 31 : 0;
			want = malloc(4ull * c.m * c.k);
			got = malloc(4ull * c.m * c.k);
			assert_true(want && got);
			for (m = 0; m < c.m; m++)
				for (k = 0; k < c.k; k++) {
					i128 v = rround(weight24(&c, (uint32_t)ids[m], k), (uint32_t)s);

					want[m * c.k + k] = (int32_t)(v > INT32_MAX ? INT32_MAX :
								      v < -INT32_MAX ? -INT32_MAX : v);
				}
			for (i = 0; i < n_devs; i++) {
				embed(devs[i], &c, ids, s, got);
				assert_memory_equal(got, want, 4ull * c.m * c.k);
			}
			free(want);
			free(got);
			free_case(&c);
		}
}

/* npu_block_record_bytes(): the layout's bytes, 0 for what the firmware refuses. */
static void record_bytes(void **state)
{
	struct npu_block_format f = { 32, 8, 0, F_MIN | F_S8 };

	(void)state;
	/* 256 columns: 1 super-block of 8 groups: 2 + 2 + 8 + 8. */
	assert_int_equal(npu_block_record_bytes(&f, 256), 20);
	f.flags = F_S8;
	assert_int_equal(npu_block_record_bytes(&f, 256), 10);
	f.flags = F_MIN | F_U4;
	assert_int_equal(npu_block_record_bytes(&f, 512), 4 + 4 + 16);
	f.group_size = 16;
	f.block_groups = 16;	/* Q6_K-like: 256 columns, 16 groups */
	f.flags = F_S8;
	assert_int_equal(npu_block_record_bytes(&f, 256), 2 + 16);
	f.block_groups = 1;
	f.flags = 0;		/* Q8_0-like in groups of 16: a d per group */
	assert_int_equal(npu_block_record_bytes(&f, 48), 6);
	f.flags = F_MIN;
	assert_int_equal(npu_block_record_bytes(&f, 48), 12);
	f.group_size = 32;
	f.flags = F_S8;		/* one group: 2 + 1, rounded up to even */
	assert_int_equal(npu_block_record_bytes(&f, 32), 4);
	/* Refused. */
	assert_int_equal(npu_block_record_bytes(NULL, 32), 0);
	assert_int_equal(npu_block_record_bytes(&f, 0), 0);
	assert_int_equal(npu_block_record_bytes(&f, 48), 0);
	assert_int_equal(npu_block_record_bytes(&f, 65536 + 32), 0);
	f.group_size = 64;
	assert_int_equal(npu_block_record_bytes(&f, 64), 0);
	f.group_size = 32;
	f.block_groups = 0;
	assert_int_equal(npu_block_record_bytes(&f, 64), 0);
	f.block_groups = 17;
	assert_int_equal(npu_block_record_bytes(&f, 32 * 17), 0);
	f.block_groups = 2;
	f.flags = 0;		/* no SUB flag with B > 1 */
	assert_int_equal(npu_block_record_bytes(&f, 64), 0);
	f.flags = F_U4;		/* SUB_U4 without MIN */
	assert_int_equal(npu_block_record_bytes(&f, 64), 0);
	f.flags = F_S8 | F_U4 | F_MIN;
	assert_int_equal(npu_block_record_bytes(&f, 64), 0);
	f.flags = 8;
	assert_int_equal(npu_block_record_bytes(&f, 64), 0);
	f.flags = F_S8;
	f.zero = 256;
	assert_int_equal(npu_block_record_bytes(&f, 64), 0);
}

/* The encoder refuses what it can see, and sizes the records it resolves. */
static void encoder_checks(void **state)
{
	npu_device *dev = devs[0];
	struct npu_block_format f = { 32, 2, 8, F_MIN | F_U4 };
	struct t_buf x = t_alloc(dev, 64), w = t_alloc(dev, 4 * 32), s = t_alloc(dev, 4096);
	struct t_buf o = t_alloc(dev, 64);
	struct npu_tensor tx = npu_tensor_2d(x.bo, 0, 1, 64, NPU_I8);
	struct npu_tensor tw = npu_tensor_2d(w.bo, 0, 4, 64, NPU_U4);
	struct npu_tensor to = npu_tensor_2d(o.bo, 0, 1, 4, NPU_I32);
	struct npu_tensor t;
	npu_cmd *cmd;

	(void)state;
	tx.scale_mode = to.scale_mode = NPU_SCALE_TENSOR;
	tx.scale = to.scale = t_scale(1);
	tw.scale_mode = NPU_SCALE_BLOCK;
	tw.scale = t_scale(1);
	tw.scale_bo = s.bo;
	memset(s.p, 0, s.size);
	assert_int_equal(npu_cmd_create(dev, &cmd), NPU_OK);
	assert_int_equal(npu_op_matmul_block(cmd, &tx, &tw, NULL, NULL, &to), NPU_E_INVAL);
	npu_cmd_reset(cmd);
	assert_int_equal(npu_op_matmul_block(cmd, &tx, NULL, &f, NULL, &to), NPU_E_INVAL);
	npu_cmd_reset(cmd);
	t = tw;
	t.scale_mode = NPU_SCALE_GROUP;
	assert_int_equal(npu_op_matmul_block(cmd, &tx, &t, &f, NULL, &to), NPU_E_INVAL);
	npu_cmd_reset(cmd);
	t = tw;
	t.dtype = NPU_I8;
	assert_int_equal(npu_op_matmul_block(cmd, &tx, &t, &f, NULL, &to), NPU_E_INVAL);
	npu_cmd_reset(cmd);
	f.zero = 16;		/* U4: below 16 */
	assert_int_equal(npu_op_matmul_block(cmd, &tx, &tw, &f, NULL, &to), NPU_E_INVAL);
	npu_cmd_reset(cmd);
	f.zero = 8;
	f.flags = F_U4;
	assert_int_equal(npu_op_matmul_block(cmd, &tx, &tw, &f, NULL, &to), NPU_E_INVAL);
	npu_cmd_reset(cmd);
	f.flags = F_MIN | F_U4;
	/* 4 records of 6 bytes from 4096 - 22 overrun the buffer; from - 24 they fit. */
	tw.scale_offset = s.size - 22;
	assert_int_equal(npu_op_matmul_block(cmd, &tx, &tw, &f, NULL, &to), NPU_E_RANGE);
	npu_cmd_reset(cmd);
	tw.scale_offset = s.size - 24;
	assert_int_equal(npu_op_matmul_block(cmd, &tx, &tw, &f, NULL, &to), NPU_OK);
	assert_int_equal(t_run(dev, cmd, NULL), NPU_JOB_OK);
	npu_cmd_destroy(cmd);
	t_free(dev, &x);
	t_free(dev, &w);
	t_free(dev, &s);
	t_free(dev, &o);
}

/* Every device says it speaks ABI 1.2, and so does the firmware it runs. */
static void reports_abi_1_2(void **state)
{
	struct npu_info info;
	int i;

	(void)state;
	for (i = 0; i < n_devs; i++) {
		assert_int_equal(npu_query(devs[i], &info), NPU_OK);
		assert_int_equal(info.abi_major, 1);
		assert_int_equal(info.abi_minor, 2);
		assert_int_equal(info.fw_abi_major, 1);
		assert_int_equal(info.fw_abi_minor, 2);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reports_abi_1_2),
		cmocka_unit_test(formats),
		cmocka_unit_test(large_sums),
		cmocka_unit_test(embedding_rows),
		cmocka_unit_test(record_bytes),
		cmocka_unit_test(encoder_checks),
	};

	return cmocka_run_group_tests_name("matmul_block", tests, open_devices, close_devices);
}
