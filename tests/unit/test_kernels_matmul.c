// SPDX-License-Identifier: MIT
/*
 * The cpu backend's SIMD MATMUL sums against the firmware's definition,
 * bit for bit, at every instruction-set level and through the thread pool:
 * randomized shapes, both activation types, both weight types, every group
 * size, and the extreme values; packed weights; the instruction-set names.
 */
#include "test_kernels.h"

/* The definition (firmware/src/op_matmul.c), written out naively. */
static void reference(const struct npu_fw_matmul *mm)
{
	uint32_t g = mm->k / mm->groups_per_row, r, n, c;

	for (r = 0; r < mm->rows; r++)
		for (n = 0; n < mm->n; n++) {
			int64_t acc = 0, dot = 0;

			for (c = 0; c < mm->k; c++) {
				const uint8_t *xr = (const uint8_t *)mm->x + r * mm->x_stride;
				int64_t xv = mm->x_bits == 8 ? ((const int8_t *)xr)[c]
							     : ((const int16_t *)xr)[c];
				const uint8_t *wr = mm->w + n * mm->w_stride;
				int64_t wv = mm->w_bits == 8 ? ((const int8_t *)wr)[c]
					     : c & 1 ? (int8_t)wr[c / 2] >> 4
						     : (int8_t)(wr[c / 2] << 4) >> 4;

				dot += xv * wv;
				if ((c + 1) % g == 0) {
					acc += dot * mm->factors[n * mm->groups_per_row + c / g];
					dot = 0;
				}
			}
			mm->v[r * mm->n + n] = acc;
		}
}

struct shape {
	uint32_t rows, k, n, group, x_bits, w_bits;
	int extreme;	/* 1: extreme x, w and factors; 2: the same with every x at its minimum */
};

/*
 * @mm's weights packed in tiles, against @want: in two calls split at a
 * column inside a tile (the pool's chunks need not end on one).
 */
static void check_packed(const struct npu_level *l, struct npu_fw_matmul *mm,
			 struct npu_mm_prep *prep, const __s64 *want)
{
	uint32_t tiles = (mm->n + NPU_MM_TILE - 1) / NPU_MM_TILE, cut, i;
	uint8_t *packed = malloc(npu_mm_packed_bytes(mm));

	assert_non_null(packed);
	/* Garbage where the packing writes nothing would show. */
	memset(packed, 0xa5, npu_mm_packed_bytes(mm));
	l->mm_pack(mm, packed, 0, tiles / 2);
	l->mm_pack(mm, packed, tiles / 2, tiles);
	memset(mm->v, 0, (size_t)mm->rows * mm->n * 8);
	prep->packed = packed;
	l->mm_packed_prepare(mm, prep);
	cut = (uint32_t)t_rand_range(0, (int32_t)mm->n);
	l->mm(mm, prep, 0, cut);
	l->mm(mm, prep, cut, mm->n);
	for (i = 0; i < mm->rows * mm->n; i++)
		if (mm->v[i] != want[i])
			fail_msg("packed rows %u k %u n %u g %u: v[%u] = %lld, want %lld", mm->rows,
				 mm->k, mm->n, mm->k / mm->groups_per_row, i, (long long)mm->v[i],
				 (long long)want[i]);
	prep->packed = NULL;
	free(packed);
}

/* @s through the kernels of @isa, or through @pool when there is one. */
static void check_shape(const struct shape *s, enum npu_isa isa, struct npu_kernels *pool)
{
	uint32_t xs = s->k * s->x_bits / 8 + 8, ws = s->w_bits == 8 ? s->k + 3 : s->k / 2 + 5;
	uint8_t *x = calloc(s->rows, xs), *w = calloc(s->n, ws);
	uint16_t *f = calloc((size_t)s->n * (s->k / s->group), 2);
	__s64 *want = calloc((size_t)s->rows * s->n, 8), *got = calloc((size_t)s->rows * s->n, 8);
	const struct npu_level *l = npu_level_of(isa);
	struct npu_fw_matmul mm = {
		.x = x, .x_stride = xs, .x_bits = s->x_bits, .rows = s->rows, .k = s->k,
		.n = s->n, .w = w, .w_stride = ws, .w_bits = s->w_bits,
		.groups_per_row = s->k / s->group, .factors = f,
	};
	uint8_t *buf = malloc(npu_mm_prep_bytes(&mm));
	struct npu_mm_prep prep = { 0 };
	uint32_t r, c, i;

	assert_true(x && w && f && want && got && buf);
	/* Stale bytes, as a buffer kept between calls holds: no kernel may read past its row. */
	memset(buf, 0x5a, npu_mm_prep_bytes(&mm));
	for (r = 0; r < s->rows; r++)
		for (c = 0; c < s->k; c++) {
			int32_t lo = -(1 << (s->x_bits - 1)), hi = (1 << (s->x_bits - 1)) - 1;
			int32_t v = s->extreme == 2 ? lo : s->extreme ? (c % 3 ? lo : hi) :
					t_rand_range(lo, hi);

			if (s->x_bits == 8)
				((int8_t *)(x + r * xs))[c] = (int8_t)v;
			else
				((int16_t *)(x + r * xs))[c] = (int16_t)v;
		}
	for (i = 0; i < s->n * ws; i++)
		w[i] = s->extreme ? (s->w_bits == 8 ? 0x80 : 0x88) : (uint8_t)t_rand();
	for (i = 0; i < s->n * (s->k / s->group); i++)
		f[i] = s->extreme ? 65535 : (uint16_t)t_rand_range(0, 65535);
	mm.v = want;
	reference(&mm);
	mm.v = got;
	/* As kernels.c calls it: activations prepared where the level takes them so. */
	if (pool)
		assert_int_equal(npu_kernels_matmul(pool, &mm), 0);
	else if (l->mm_prepare && npu_mm_prepared(&mm))
		l->mm_prepare(&mm, buf, &prep);
	if (!pool)
		l->mm(&mm, &prep, 0, s->n);
	for (i = 0; i < s->rows * s->n; i++)
		if (got[i] != want[i])
			fail_msg("isa %d rows %u k %u n %u g %u x%u w%u: v[%u] = %lld, want %lld", isa,
				 s->rows, s->k, s->n, s->group, s->x_bits, s->w_bits, i,
				 (long long)got[i], (long long)want[i]);
	if (!pool && l->mm_pack && npu_mm_packed_fits(&mm))
		check_packed(l, &mm, &prep, want);
	free(x);
	free(w);
	free(f);
	free(want);
	free(got);
	free(buf);
}

static void level(enum npu_isa isa)
{
	static const uint32_t ks[] = { 2, 4, 6, 8, 10, 32, 64, 96, 128, 172, 256, 384, 1000, 4096 };
	static const uint32_t groups[] = { 16, 32, 64, 128, 256, 0 };
	int i, gi, xb, wb;

	t_require_isa(isa);
	t_seed(1000 + isa);
	for (i = 0; i < (int)(sizeof(ks) / sizeof(ks[0])); i++)
		for (gi = 0; gi < 6; gi++)
			for (xb = 8; xb <= 16; xb += 8)
				for (wb = 4; wb <= 8; wb += 4) {
					uint32_t k = ks[i], g = groups[gi] ? groups[gi] : k;
					struct shape s = { 1 + (uint32_t)t_rand_range(0, 4), k,
							   1 + (uint32_t)t_rand_range(0, 40), g,
							   (uint32_t)xb, (uint32_t)wb, 0 };

					if (k % g || (wb == 4 && k % 2))
						continue;
					check_shape(&s, isa, NULL);
					s.extreme = 1;
					check_shape(&s, isa, NULL);
				}
	/* Prefill shapes: 4 x 4 blocks with row and column remainders. */
	{
		static const struct shape pre[] = {
			{ 9, 1000, 30, 1000, 8, 8, 0 }, { 8, 256, 16, 32, 8, 8, 0 },
			{ 13, 4096, 7, 128, 8, 8, 1 }, { 64, 512, 33, 512, 8, 4, 0 },
			{ 5, 320, 9, 64, 16, 8, 0 },
			/* The GEMM: 64-row tiles, 16-row and column remainders. */
			{ 16, 64, 6, 64, 8, 8, 0 }, { 64, 4096, 12, 4096, 8, 8, 1 },
			{ 83, 1000, 31, 1000, 8, 8, 0 }, { 130, 172, 13, 172, 8, 8, 0 },
			{ 17, 2048, 5, 2048, 8, 8, 1 }, { 64, 300, 100, 300, 8, 8, 0 },
			/*
			 * The unpacked GEMM, int4 weights: both activation
			 * widths, every group, chunks of 256 columns of k with a
			 * remainder, 6-column and 16-row remainders, more rows
			 * than share a chunk; a row's one group over several
			 * chunks.
			 */
			{ 16, 64, 6, 32, 8, 4, 0 }, { 17, 320, 7, 32, 8, 4, 1 },
			{ 64, 4096, 12, 32, 8, 4, 0 }, { 83, 384, 31, 128, 8, 4, 0 },
			{ 150, 192, 13, 64, 8, 4, 1 }, { 33, 64, 11, 64, 8, 4, 0 },
			{ 16, 64, 6, 32, 16, 4, 0 }, { 17, 320, 7, 32, 16, 4, 1 },
			{ 64, 2048, 12, 128, 16, 4, 0 }, { 150, 192, 13, 64, 16, 4, 1 },
			{ 40, 8, 9, 8, 8, 4, 1 }, { 40, 8, 9, 4, 16, 4, 0 },
			{ 20, 1000, 7, 1000, 8, 4, 1 }, { 20, 1000, 7, 1000, 16, 4, 0 },
			/* int8 weights against int16 x, one group per row. */
			{ 17, 5632, 7, 5632, 16, 8, 0 }, { 33, 1000, 13, 1000, 16, 8, 1 },
			{ 16, 64, 6, 64, 16, 8, 0 },
			/*
			 * Packed int4 tiles: blocks of 512, 256 and 128
			 * columns, a last one padded past k by 32..96 columns,
			 * groups of 32..512, partial last tiles, up to 15 rows;
			 * groups of 512 take them at 16 rows too; every lane's
			 * sum at its bound (w -8, x -128, factors 65535).
			 */
			{ 1, 640, 17, 32, 8, 4, 0 }, { 3, 1152, 9, 128, 8, 4, 1 },
			{ 1, 288, 13, 32, 8, 4, 0 }, { 2, 800, 9, 32, 8, 4, 1 },
			{ 1, 96, 5, 32, 8, 4, 0 }, { 3, 768, 17, 256, 8, 4, 0 },
			{ 1, 2080, 8, 32, 8, 4, 1 }, { 2, 992, 16, 32, 8, 4, 0 },
			{ 2, 1024, 8, 512, 8, 4, 0 }, { 1, 1536, 24, 512, 8, 4, 1 },
			{ 5, 2560, 13, 256, 8, 4, 0 }, { 15, 512, 11, 64, 8, 4, 1 },
			{ 1, 5632, 31, 32, 8, 4, 0 }, { 16, 1024, 10, 512, 8, 4, 0 },
			{ 1, 832, 17, 64, 8, 4, 0 }, { 2, 960, 9, 32, 8, 4, 1 },
			{ 3, 448, 11, 32, 8, 4, 0 }, { 1, 2048, 16, 32, 8, 4, 2 },
			{ 2, 960, 9, 32, 8, 4, 2 }, { 1, 832, 13, 64, 8, 4, 2 },
		};

		for (i = 0; i < (int)(sizeof(pre) / sizeof(pre[0])); i++)
			check_shape(&pre[i], isa, NULL);
	}
	/* The widest rows the ABI allows, at the extremes; 16 rows take the GEMMs. */
	{
		struct shape s = { 1, 65536, 3, 65536, 8, 8, 1 };

		check_shape(&s, isa, NULL);
		s.x_bits = 16;
		check_shape(&s, isa, NULL);
		s.rows = 16;
		check_shape(&s, isa, NULL);
		s.w_bits = 4;
		check_shape(&s, isa, NULL);
		s.x_bits = 8;
		check_shape(&s, isa, NULL);
		/* Packed, in groups of 512. */
		s.rows = 1;
		s.group = 512;
		check_shape(&s, isa, NULL);
	}
}

static void mm_equals_reference(void **state)
{
	level(t_level(state)->isa);
}

/* A store of packed weights for one matrix, as the cpu backend's core keeps them. */
struct one_store {
	uint8_t *mem;
	uint64_t bytes;
	int calls, fresh;
};

static void *one_store(void *ctx, const struct npu_fw_matmul *mm, uint64_t bytes, int *fresh)
{
	struct one_store *st = ctx;

	(void)mm;
	st->calls++;
	*fresh = !st->mem;
	if (!st->mem) {
		st->mem = malloc(bytes);
		assert_non_null(st->mem);
		memset(st->mem, 0xa5, bytes);
		st->bytes = bytes;
		st->fresh++;
	}
	assert_int_equal(bytes, st->bytes);
	return st->mem;
}

/*
 * $NPU_CPU_ISA's names: each level capped at the best this CPU has, the
 * best when unset, and a name it does not know refused.
 */
static void isa_select_caps_at_host(void **state)
{
	enum npu_isa best = npu_isa_host_best(), isa;

	(void)state;
	assert_true(npu_isa_host_has(best));
	if (best + 1 < NPU_ISA_COUNT)
		assert_false(npu_isa_host_has(best + 1));
	assert_int_equal(npu_isa_select(NULL), best);
	for (isa = NPU_ISA_SCALAR; isa < NPU_ISA_COUNT; isa++) {
		enum npu_isa want = isa;

		/* The highest level at or below the one asked for. */
		while (!npu_isa_host_has(want))
			want--;
		assert_int_equal(npu_isa_select(npu_isa_name(isa)), want);
	}
	assert_int_equal(npu_isa_select(""), best);
#if defined(__x86_64__)
	/* Without AVX-VNNI, asking for it gives AVX2 (or less), whatever else the CPU has. */
	if (!npu_isa_host_has(NPU_ISA_AVXVNNI))
		assert_true(npu_isa_select("avxvnni") <= NPU_ISA_AVX2);
	if (npu_isa_host_has(NPU_ISA_AVX2))
		assert_int_equal(npu_isa_select("avx2"), NPU_ISA_AVX2);
	assert_int_equal(npu_isa_select("AVX2"), -1);
	assert_int_equal(npu_isa_select("avx512-vnni"), -1);
	/* The other architecture's names are not levels here. */
	assert_int_equal(npu_isa_select("dotprod"), -1);
#elif defined(__aarch64__)
	/* Without SMMLA, asking for it gives SDOT (or less). */
	if (!npu_isa_host_has(NPU_ISA_I8MM))
		assert_true(npu_isa_select("i8mm") <= NPU_ISA_DOTPROD);
	assert_int_equal(npu_isa_select("neon"), NPU_ISA_NEON);
	assert_int_equal(npu_isa_select("NEON"), -1);
	assert_int_equal(npu_isa_select("avx2"), -1);
#endif
	assert_int_equal(npu_isa_select("scalar"), NPU_ISA_SCALAR);
}

/* One int4 x int8 matrix of 300 columns and its expected sums, for the pool tests. */
struct pool_case {
	uint8_t *x, *w;
	uint16_t *f;
	__s64 *want, *got;
	struct npu_fw_matmul mm;
};

static void pool_case_init(struct pool_case *c)
{
	uint32_t i;

	c->x = calloc(3, 512);
	c->w = calloc(300, 256);
	c->f = calloc(300 * 16, 2);
	c->want = calloc(900, 8);
	c->got = calloc(900, 8);
	assert_true(c->x && c->w && c->f && c->want && c->got);
	c->mm = (struct npu_fw_matmul){
		.x = c->x, .x_stride = 512, .x_bits = 8, .rows = 3, .k = 512, .n = 300,
		.w = c->w, .w_stride = 256, .w_bits = 4, .groups_per_row = 16, .factors = c->f,
	};
	t_seed(77);
	for (i = 0; i < 3 * 512; i++)
		c->x[i] = (uint8_t)t_rand();
	for (i = 0; i < 300 * 256; i++)
		c->w[i] = (uint8_t)t_rand();
	for (i = 0; i < 300 * 16; i++)
		c->f[i] = (uint16_t)t_rand();
	c->mm.v = c->want;
	reference(&c->mm);
	c->mm.v = c->got;
}

static void pool_case_free(struct pool_case *c)
{
	free(c->x);
	free(c->w);
	free(c->f);
	free(c->want);
	free(c->got);
}

/* @c through @k, @rounds times: the reference's sums every time. */
static void pool_case_check(struct npu_kernels *k, struct pool_case *c, int rounds)
{
	int i;

	for (i = 0; i < rounds; i++) {
		memset(c->got, 0, 900 * 8);
		assert_int_equal(npu_kernels_matmul(k, &c->mm), 0);
		assert_memory_equal(c->got, c->want, 900 * 8);
	}
}

/*
 * The pool splits the columns; results are the same at any thread count,
 * at every level this CPU has (one without MATMUL kernels, the scalar one,
 * leaves it to the firmware).
 */
static void pool_equals_reference(void **state)
{
	enum npu_isa isa;
	struct pool_case c;

	(void)state;
	pool_case_init(&c);
	for (isa = NPU_ISA_SCALAR; isa < NPU_ISA_COUNT; isa++) {
		struct npu_kernels *k;

		/* Levels are a set: Zen 4 has AVX-512 and not AVX-VNNI. */
		if (!npu_isa_host_has(isa))
			continue;
		k = pool_create(isa);
		if (!npu_level_of(isa) || !npu_level_of(isa)->mm)
			assert_int_not_equal(npu_kernels_matmul(k, &c.mm), 0);
		else
			pool_case_check(k, &c, 20);
		npu_kernels_destroy(k);
	}
	pool_case_free(&c);
}

/*
 * Sealed weights: packed by the pool at the first call, read packed
 * after; then a GEMM's last rows from packed weights (a new store for
 * each new matrix).
 */
static void pool_packs_sealed_weights(void **state)
{
	static const struct shape tails[] = {
		{ 17, 512, 300, 32, 8, 4, 0 }, { 20, 256, 100, 64, 8, 4, 1 },
	};
	enum npu_isa isa = t_level(state)->isa;
	struct one_store st = { 0 };
	struct npu_kernels *k;
	struct pool_case c;
	uint32_t i;

	pool_case_init(&c);
	k = pool_create(isa);
	npu_kernels_set_store(k, one_store, &st);
	pool_case_check(k, &c, 20);
	assert_int_equal(st.calls, 20);
	assert_int_equal(st.fresh, 1);
	for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		free(st.mem);
		memset(&st, 0, sizeof(st));
		check_shape(&tails[i], isa, k);
		assert_int_equal(st.fresh, 1);
	}
	npu_kernels_set_store(k, NULL, NULL);
	free(st.mem);
	npu_kernels_destroy(k);
	pool_case_free(&c);
}

/*
 * GEMMs through the pool: a last 1..4 rows go to the per-row kernels
 * (all four weight and activation widths), 5 or more stay in the GEMM.
 */
static void pool_gemm_equals_reference(void **state)
{
	static const struct shape gemms[] = {
		{ 17, 512, 300, 32, 8, 4, 0 }, { 20, 512, 100, 512, 8, 8, 1 },
		{ 36, 256, 100, 32, 16, 4, 1 }, { 19, 256, 100, 256, 16, 8, 0 },
		{ 66, 320, 53, 64, 8, 4, 0 }, { 21, 256, 50, 256, 8, 8, 0 },
		{ 16, 256, 50, 32, 8, 4, 1 },
	};
	enum npu_isa isa = t_level(state)->isa;
	struct npu_kernels *k;
	uint32_t i;

	t_seed(78);
	k = pool_create(isa);
	for (i = 0; i < sizeof(gemms) / sizeof(gemms[0]); i++)
		check_shape(&gemms[i], isa, k);
	npu_kernels_destroy(k);
}

static int has_mm(const struct npu_level *l)
{
	return T_OWN(l, mm);
}

/* The levels that pack sealed weights and split a GEMM's last rows off (AVX-512). */
static int has_mm_pack(const struct npu_level *l)
{
	return T_OWN(l, mm_pack);
}

int main(void)
{
	static const struct CMUnitTest plain[] = {
		cmocka_unit_test(isa_select_caps_at_host),
		cmocka_unit_test(pool_equals_reference),
	};
	static const struct t_level_test at_levels[] = {
		{ "mm_equals_reference", mm_equals_reference, has_mm },
		{ "pool_packs_sealed_weights", pool_packs_sealed_weights, has_mm_pack },
		{ "pool_gemm_equals_reference", pool_gemm_equals_reference, has_mm_pack },
	};

	return t_run_at_levels("kernels_matmul", plain, sizeof(plain) / sizeof(plain[0]), at_levels,
			       sizeof(at_levels) / sizeof(at_levels[0]));
}
