// SPDX-License-Identifier: MIT
/*
 * The cpu backend's SCALE_BLOCK MATMUL sums (the matmul_block hook) against
 * a reference that dequantizes each weight on its own, bit for bit, at each
 * instruction-set level and through the thread pool: every code width, flag
 * set and group size, super-blocks of 1 to 16 groups, rows longer than the
 * kernel's segment, extreme values, and the codes and records ending at an
 * unmapped page (nothing past them is read). A binary16 infinity or NaN
 * leaves the call to the firmware, as does the scalar level.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "test_kernels.h"

#define F_MIN DRM_NPU_BLOCK_F_MIN
#define F_S8 DRM_NPU_BLOCK_F_SUB_S8
#define F_U4 DRM_NPU_BLOCK_F_SUB_U4

typedef __int128 i128;

/* @bytes that end where an unmapped page begins. */
struct guarded {
	uint8_t *map, *p;
	size_t len;
};

static void guarded_alloc(struct guarded *g, size_t bytes)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	g->len = (bytes + page - 1) / page * page + page;
	g->map = mmap(NULL, g->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g->map != MAP_FAILED);
	assert_int_equal(mprotect(g->map + g->len - page, page, PROT_NONE), 0);
	g->p = g->map + g->len - page - bytes;
}

static void guarded_free(struct guarded *g)
{
	munmap(g->map, g->len);
}

/* A binary16 times 2^24 as an integer (finite only). */
static i128 half24(uint16_t h)
{
	uint32_t ex = (h >> 10) & 31, f = h & 1023;
	i128 m = ex ? 1024 + f : f;

	m <<= ex ? ex - 1 : 0;
	return h >> 15 ? -m : m;
}

struct bcase {
	uint32_t bits, flags, g, nb, k, n, rows, zero;
	int big;
	/* With spread > 0: exponents (binary16's field) from e0 to e0 + spread - 1, some zeros. */
	int e0, spread;
	/* x from -xmax to xmax (xmax 0: any int16; below 0: from xmax to -xmax - 1). */
	int32_t xmax;
};

/* A random finite binary16 for @c; c->big: among the largest. */
static uint16_t rand_half(const struct bcase *c)
{
	uint16_t sign = (uint16_t)(t_rand() & 1) << 15;

	if (c->big)
		return sign | (uint16_t)(30 << 10) | 1023;
	if (c->spread && t_rand_range(0, 15) == 0)
		return sign;
	if (c->spread)
		return sign | (uint16_t)(t_rand_range(c->e0, c->e0 + c->spread - 1) << 10) |
		       (uint16_t)t_rand_range(0, 1023);
	return sign | (uint16_t)(t_rand_range(0, 30) << 10) | (uint16_t)t_rand_range(0, 1023);
}

/* One case through @k's hook (and, when @bad, with an infinity or NaN in it). */
static void run(struct npu_kernels *k, const struct bcase *c, int bad)
{
	uint32_t groups = c->k / c->g, blocks = groups / c->nb, min = c->flags & F_MIN ? 1 : 0;
	uint32_t sub = c->flags & F_S8 ? groups * (1 + min) : c->flags & F_U4 ? groups : 0;
	uint32_t dmin_off = 2 * blocks, sub_off = 2 * blocks * (1 + min), qmax = (1u << c->bits) - 1;
	uint64_t rec_bytes = (sub_off + sub + 1) & ~1ull, stride = (uint64_t)c->k * c->bits / 8;
	int32_t *xr = calloc((size_t)c->rows * c->k, 4), *xs = calloc((size_t)c->rows * groups, 4);
	i128 *acc = aligned_alloc(16, (size_t)c->rows * c->n * sizeof(i128));
	struct guarded w, recs;
	uint32_t r, n, i, j;

	assert_true(xr && xs && acc);
	guarded_alloc(&w, stride * c->n);
	guarded_alloc(&recs, rec_bytes * c->n);
	memset(w.p, 0, stride * c->n);
	for (i = 0; i < c->rows * c->k; i++)
		xr[i] = c->big ? -32768 : c->xmax < 0 ? t_rand_range(c->xmax, -c->xmax - 1) :
			c->xmax ? t_rand_range(-c->xmax, c->xmax) : t_rand_range(-32768, 32767);
	for (r = 0; r < c->rows; r++)
		for (j = 0; j < groups; j++)
			for (i = 0; i < c->g; i++)
				xs[r * groups + j] += xr[r * c->k + j * c->g + i];
	for (n = 0; n < c->n; n++) {
		uint8_t *rec = recs.p + n * rec_bytes;

		for (i = 0; i < c->k; i++) {
			uint32_t q = c->big ? (c->flags & F_S8 ? 0 : qmax) :
					      (uint32_t)t_rand_range(0, (int32_t)qmax);
			uint64_t bit = (uint64_t)n * stride * 8 + (uint64_t)i * c->bits;

			for (j = 0; j < c->bits; j++, bit++)
				w.p[bit / 8] |= (uint8_t)(((q >> j) & 1) << (bit % 8));
		}
		for (i = 0; i < rec_bytes; i++)
			rec[i] = (uint8_t)t_rand();
		for (i = 0; i < blocks * (1 + min); i++) {
			uint16_t h = rand_half(c);

			rec[2 * i] = (uint8_t)h;
			rec[2 * i + 1] = (uint8_t)(h >> 8);
		}
		if (c->big && c->flags & F_S8)
			memset(rec + sub_off, 0x80, groups);
	}
	if (bad) {
		n = (uint32_t)t_rand_range(0, (int32_t)c->n - 1);
		i = (uint32_t)t_rand_range(0, (int32_t)blocks - 1);
		recs.p[n * rec_bytes + (min && t_rand() & 1 ? dmin_off : 0) + 2 * i + 1] = 0x7c;
	}
	{
		struct npu_fw_matmul_block mb = {
			.xr = xr, .xs = xs, .rows = c->rows, .k = c->k, .n = c->n,
			.w = w.p, .w_stride = stride, .w_bits = c->bits, .zero = c->zero,
			.group_size = c->g, .block_groups = c->nb, .flags = c->flags,
			.records = recs.p, .record_bytes = rec_bytes,
			.dmin_off = dmin_off, .sub_off = sub_off, .acc = acc,
		};

		if (bad || !npu_level_of(npu_kernels_isa(k)) ||
		    !npu_level_of(npu_kernels_isa(k))->mm_block) {
			assert_int_not_equal(npu_kernels_matmul_block(k, &mb), 0);
			goto out;
		}
		assert_int_equal(npu_kernels_matmul_block(k, &mb), 0);
	}
	/* Each weight dequantized on its own, in units of 2^-24. */
	for (n = 0; n < c->n; n++) {
		const uint8_t *rec = recs.p + n * rec_bytes, *s = rec + sub_off;

		for (r = 0; r < c->rows; r++) {
			i128 want = 0;

			for (i = 0; i < c->k; i++) {
				uint32_t gj = i / c->g, b = gj / c->nb, q = 0, t;
				uint64_t bit = (uint64_t)n * stride * 8 + (uint64_t)i * c->bits;
				i128 d = half24((uint16_t)(rec[2 * b] | rec[2 * b + 1] << 8)), dmin = 0;
				int64_t sc = 1, mn = 1;

				if (min)
					dmin = half24((uint16_t)(rec[dmin_off + 2 * b] |
								 rec[dmin_off + 2 * b + 1] << 8));
				if (c->flags & F_S8) {
					sc = (int8_t)s[gj];
					mn = min ? s[groups + gj] : 0;
				} else if (c->flags & F_U4) {
					sc = s[gj] & 15;
					mn = s[gj] >> 4;
				}
				for (t = 0; t < c->bits; t++, bit++)
					q |= (uint32_t)((w.p[bit / 8] >> (bit % 8)) & 1) << t;
				want += (i128)xr[r * c->k + i] *
					(d * sc * ((int64_t)q - c->zero) - dmin * mn);
			}
			assert_true(acc[(size_t)r * c->n + n] == want);
		}
	}
out:
	guarded_free(&w);
	guarded_free(&recs);
	free(xr);
	free(xs);
	free(acc);
}

static const uint32_t widths[] = { 2, 3, 4, 5, 6, 8 };
static const uint32_t flag_sets[] = { 0, F_MIN, F_S8, F_MIN | F_S8, F_MIN | F_U4 };
static const uint32_t block_sizes[] = { 1, 2, 3, 8, 12, 16 };

/* Every width x flag set x super-block size x group size at @isa, through a pool. */
static void level(enum npu_isa isa)
{
	struct npu_kernels *k;
	size_t wi, fi, bi;
	int big;

	t_require_isa(isa);
	t_seed(2210 + isa);
	k = pool_create(isa);
	for (big = 0; big < 2; big++)
		for (wi = 0; wi < sizeof(widths) / sizeof(widths[0]); wi++)
			for (fi = 0; fi < sizeof(flag_sets) / sizeof(flag_sets[0]); fi++)
				for (bi = 0; bi < sizeof(block_sizes) / sizeof(block_sizes[0]); bi++) {
					uint32_t nb = block_sizes[bi], g = t_rand() & 1 ? 32 : 16;
					/* One-group super-blocks: past a 2048-column segment. */
					uint32_t most = nb == 1 ? 150 : 6;
					struct bcase c = {
						widths[wi], flag_sets[fi], g, nb,
						g * nb * (uint32_t)t_rand_range(1, (int32_t)most),
						(uint32_t)t_rand_range(1, 70),
						(uint32_t)t_rand_range(1, 3), 0, big, 0, 0, 0,
					};

					if (!(c.flags & (F_S8 | F_U4)) && nb != 1)
						continue;
					c.zero = big ? (c.flags & F_S8 ? (1u << c.bits) - 1 : 0) :
						 (uint32_t)t_rand_range(0, (1 << c.bits) - 1);
					run(k, &c, 0);
					if (!big)
						run(k, &c, 1);
				}
	npu_kernels_destroy(k);
}

/*
 * One 32-column group a super-block, 8- or 4-bit codes, no sub-scales
 * (mm_block_g1.h): exponents spread across every window the kernel takes
 * and past it, int8 and int16 activations, decode's rows and the GEMM's
 * (8 and more, with a partial block of 8), at @isa.
 */
static void one_group(enum npu_isa isa)
{
	static const uint32_t rows[] = { 1, 2, 7, 8, 9, 16, 21 };
	static const int spreads[] = { 1, 2, 5, 12, 17, 21, 27, 31 };
	/* int8 (decode's bytes), int8 and -128 (the int8 GEMM's), a little past, int16. */
	static const int32_t xmaxes[] = { 127, -128, 128, 0 };
	struct npu_kernels *k;
	size_t ri, si, xi, f;
	uint32_t bits;

	t_require_isa(isa);
	t_seed(2310 + isa);
	k = pool_create(isa);
	for (bits = 4; bits <= 8; bits += 4)
		for (f = 0; f < 2; f++)
			for (ri = 0; ri < sizeof(rows) / sizeof(rows[0]); ri++)
				for (si = 0; si < sizeof(spreads) / sizeof(spreads[0]); si++)
					for (xi = 0; xi < sizeof(xmaxes) / sizeof(xmaxes[0]); xi++) {
						int spread = spreads[si];
						struct bcase c = {
							bits, f ? F_MIN : 0, 32, 1,
							32 * (uint32_t)t_rand_range(1, 150),
							(uint32_t)t_rand_range(1, 40), rows[ri],
							(uint32_t)t_rand_range(0, (1 << bits) - 1), 0,
							t_rand_range(0, 31 - spread), spread, xmaxes[xi],
						};

						if (t_rand() & 1)
							c.zero = 1u << (bits - 1);
						run(k, &c, 0);
						if (xi == 0 && si == 0)
							run(k, &c, 1);
					}
	/* The largest magnitudes everywhere, in one window. */
	for (bits = 4; bits <= 8; bits += 4)
		for (f = 0; f < 2; f++) {
			struct bcase c = { bits, f ? F_MIN : 0, 32, 1, 32 * 150, 9, 9, 0, 1,
					   0, 0, 0 };

			run(k, &c, 0);
		}
	npu_kernels_destroy(k);
}

static void scalar_refuses(void **state)
{
	struct npu_kernels *k = pool_create(NPU_ISA_SCALAR);
	struct bcase c = { 4, F_MIN | F_U4, 32, 8, 512, 4, 1, 0, 0, 0, 0, 0 };

	(void)state;
	t_seed(2209);
	run(k, &c, 0);
	npu_kernels_destroy(k);
}

static void block_equals_reference(void **state)
{
	enum npu_isa isa = t_level(state)->isa;

	level(isa);
	one_group(isa);
}

static int has_mm_block(const struct npu_level *l)
{
	return T_OWN(l, mm_block) || T_OWN(l, mm_block_g1);
}

int main(void)
{
	static const struct CMUnitTest plain[] = {
		cmocka_unit_test(scalar_refuses),
	};
	static const struct t_level_test at_levels[] = {
		{ "block_equals_reference", block_equals_reference, has_mm_block },
	};

	return t_run_at_levels("kernels_block", plain, 1, at_levels, 1);
}
