// SPDX-License-Identifier: MIT
/*
 * The cpu backend's SIMD MATMUL sums against the firmware's definition,
 * bit for bit, at every instruction-set level and through the thread pool:
 * randomized shapes, both activation types, both weight types, every group
 * size, and the extreme values; likewise the output stage, ATTENTION's
 * sums and rescaling, SILU, ADD, the norms' loops, the softmax and the row maximum.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "../../swcore/kernels/kernels.h"
#include "../../swcore/kernels/udiv_avx512.h"
#include "../../swcore/swcore.h"
#include "../../firmware/include/npu_fw_image.h"
#include "../../firmware/src/fixed.h"

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
static void check_packed(struct npu_fw_matmul *mm, struct npu_mm_prep *prep, const __s64 *want)
{
	uint32_t tiles = (mm->n + NPU_MM_TILE - 1) / NPU_MM_TILE, cut, i;
	uint8_t *packed = malloc(npu_mm_packed_bytes(mm));

	assert_non_null(packed);
	/* Garbage where the packing writes nothing would show. */
	memset(packed, 0xa5, npu_mm_packed_bytes(mm));
	npu_mm_pack(mm, packed, 0, tiles / 2);
	npu_mm_pack(mm, packed, tiles / 2, tiles);
	memset(mm->v, 0, (size_t)mm->rows * mm->n * 8);
	prep->packed = packed;
	npu_mm_packed_prepare(mm, prep);
	cut = (uint32_t)t_rand_range(0, (int32_t)mm->n);
	npu_mm_packed_avx512(mm, prep, 0, cut);
	npu_mm_packed_avx512(mm, prep, cut, mm->n);
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
	/* As kernels.c calls it: prepared int8 activations for AVX-512. */
	if (pool)
		assert_int_equal(npu_kernels_matmul(pool, &mm), 0);
	else if (isa == NPU_ISA_AVX512 && npu_mm_prepared(&mm))
		npu_mm_avx512_prepare(&mm, buf, &prep);
	if (!pool && isa == NPU_ISA_AVX512)
		npu_mm_avx512(&mm, &prep, 0, s->n);
	else if (!pool)
		npu_mm_avx2(&mm, &prep, 0, s->n);
	for (i = 0; i < s->rows * s->n; i++)
		if (got[i] != want[i])
			fail_msg("isa %d rows %u k %u n %u g %u x%u w%u: v[%u] = %lld, want %lld", isa,
				 s->rows, s->k, s->n, s->group, s->x_bits, s->w_bits, i,
				 (long long)got[i], (long long)want[i]);
	if (!pool && isa == NPU_ISA_AVX512 && npu_mm_packed_fits(&mm))
		check_packed(&mm, &prep, want);
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

static void avx2_equals_reference(void **state)
{
	(void)state;
	level(NPU_ISA_AVX2);
}

static void avx512_equals_reference(void **state)
{
	(void)state;
	level(NPU_ISA_AVX512);
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
	for (isa = NPU_ISA_SCALAR; isa < NPU_ISA_COUNT; isa++)
		assert_int_equal(npu_isa_select(npu_isa_name(isa)), isa < best ? isa : best);
	assert_int_equal(npu_isa_select(""), best);
	assert_int_equal(npu_isa_select("AVX2"), -1);
	assert_int_equal(npu_isa_select("avx512-vnni"), -1);
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

/* A pool of three threads at @isa. */
static struct npu_kernels *pool_create(enum npu_isa isa)
{
	struct npu_kernels *k;

	setenv("NPU_THREADS", "3", 1);
	k = npu_kernels_create(isa);
	unsetenv("NPU_THREADS");
	assert_non_null(k);
	assert_int_equal(npu_kernels_threads(k), 3);
	assert_int_equal(npu_kernels_isa(k), isa);
	return k;
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
 * at every level this CPU has (the scalar one leaves MATMUL to the firmware).
 */
static void pool_equals_reference(void **state)
{
	enum npu_isa isa;
	struct pool_case c;

	(void)state;
	pool_case_init(&c);
	for (isa = NPU_ISA_SCALAR; isa <= npu_isa_host_best(); isa++) {
		struct npu_kernels *k = pool_create(isa);

		if (isa == NPU_ISA_SCALAR)
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
	struct one_store st = { 0 };
	struct npu_kernels *k;
	struct pool_case c;
	uint32_t i;

	(void)state;
	t_require_isa(NPU_ISA_AVX512);
	pool_case_init(&c);
	k = pool_create(NPU_ISA_AVX512);
	npu_kernels_set_store(k, one_store, &st);
	pool_case_check(k, &c, 20);
	assert_int_equal(st.calls, 20);
	assert_int_equal(st.fresh, 1);
	for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		free(st.mem);
		memset(&st, 0, sizeof(st));
		check_shape(&tails[i], NPU_ISA_AVX512, k);
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
	struct npu_kernels *k;
	uint32_t i;

	(void)state;
	t_require_isa(NPU_ISA_AVX512);
	t_seed(78);
	k = pool_create(NPU_ISA_AVX512);
	for (i = 0; i < sizeof(gemms) / sizeof(gemms[0]); i++)
		check_shape(&gemms[i], NPU_ISA_AVX512, k);
	npu_kernels_destroy(k);
}

/* The output stage's definition (firmware/src/fixed.h), written out. */
static int64_t requant_reference(int64_t v, int32_t mult, int32_t shift, int64_t q)
{
	__int128_t p = (__int128_t)v * mult, r;

	if (shift <= 0) {
		r = shift < -32 ? (p > 0 ? INT64_MAX : p < 0 ? INT64_MIN : 0)
				: p * ((__int128_t)1 << -shift);
	} else if (shift >= 127) {
		r = 0;
	} else {
		__int128_t half = (__int128_t)1 << (shift - 1);

		r = p >= 0 ? (p + half) >> shift : -((-p + half) >> shift);
	}
	r = r > INT64_MAX ? INT64_MAX : r < INT64_MIN ? INT64_MIN : r;
	return r > q ? q : r < -q ? -q : (int64_t)r;
}

/* A random int64 of random magnitude (2^0 .. 2^63) and sign. */
static int64_t any_magnitude(void)
{
	int bits = t_rand_range(0, 63);
	uint64_t m = bits ? t_rand() >> (64 - bits) : 0;

	return t_rand() & 1 ? -(int64_t)m : (int64_t)m;
}

/*
 * The AVX-512 output stage against the definition: random rows at every
 * output width, ties, saturation, INT64_MIN and every shift. Shifts of
 * 0..32, and of 33..94 without INT64_MIN, must take the fast path.
 */
static void requant_equals_reference(void **state)
{
	static const int bits[] = { 8, 16, 32 };
	static const int64_t qmax[] = { 127, 32767, 2147483647 };
	__s64 v[77];
	int64_t want[77];
	uint8_t out[77 * 4 + 8];
	int round, fast = 0;

	(void)state;
	t_require_isa(NPU_ISA_AVX512);
	t_seed(4242);
	for (round = 0; round < 20000; round++) {
		int b = round % 3, shift = round < 200 ? round % 161 - 32 : t_rand_range(-32, 126);
		int32_t mult = round % 7 ? t_rand_range(1, INT32_MAX) : round % 2 ? 1 : INT32_MAX;
		uint32_t n = (uint32_t)t_rand_range(0, 77), i;
		int min_seen = 0, ret;
		struct npu_fw_requant rq = { v, n, mult, shift, (uint32_t)bits[b], qmax[b], out };

		for (i = 0; i < n; i++) {
			v[i] = any_magnitude();
			if (t_rand_range(0, 15) == 0 && shift > 0 && shift <= 36)
				/* An exact tie: v * mult = (2k + 1) * 2^(shift - 1). */
				v[i] = mult == 1 ? (int64_t)((t_rand() >> 40) * 2 + 1) << (shift - 1) : v[i];
			if (t_rand_range(0, 200) == 0)
				v[i] = t_rand() & 1 ? INT64_MIN : INT64_MAX;
			min_seen |= v[i] == INT64_MIN;
			want[i] = requant_reference(v[i], mult, shift, qmax[b]);
		}
		memset(out, 0xa5, sizeof(out));
		ret = npu_requant_avx512(NULL, &rq);
		if ((shift >= 0 && shift <= 32) || (shift >= 33 && shift <= 94 && !min_seen))
			assert_int_equal(ret, 0);
		if (ret)
			continue;
		fast++;
		for (i = 0; i < n; i++) {
			int64_t got = b == 0 ? ((int8_t *)out)[i] : b == 1 ? ((int16_t *)out)[i]
									    : ((int32_t *)out)[i];

			if (got != want[i])
				fail_msg("v %lld mult %d shift %d q %lld: %lld, want %lld",
					 (long long)v[i], mult, shift, (long long)qmax[b],
					 (long long)got, (long long)want[i]);
		}
		/* Nothing past the row is written. */
		assert_int_equal(out[n * (uint32_t)bits[b] / 8], 0xa5);
	}
	assert_true(fast > 5000);
}

/*
 * ATTENTION's sums against their definition: random heads, groups, head
 * sizes (with tails, and past 256 elements), cache lengths, 8- and 16-bit
 * caches, and the extreme values, on one thread and through the pool
 * (split by rows); query values past 16 bits and weights past int32 must
 * go back to the firmware.
 */
static void attention_equals_reference(void **state)
{
	struct npu_kernels *pool;
	int round, pooled = 0;

	(void)state;
	t_require_isa(NPU_ISA_AVX512);
	pool = npu_kernels_create(NPU_ISA_AVX512);
	assert_non_null(pool);
	t_seed(5151);
	for (round = 0; round < 300; round++) {
		uint32_t kvh = (uint32_t)t_rand_range(1, 4), group = (uint32_t)t_rand_range(1, 12);
		/*
		 * Some heads past 256 elements: SCORES sums those in parts, and
		 * every 50th round fills whole parts with the extremes.
		 */
		uint32_t nh = kvh * group, hd = (uint32_t)(round % 10 == 3 || round % 50 == 0 ?
							   t_rand_range(250, 600) : t_rand_range(1, 130));
		uint32_t len = (uint32_t)t_rand_range(1, 300), kb = t_rand() & 1 ? 8 : 16;
		uint32_t vb = t_rand() & 1 ? 8 : 16, cap = len + 3, h, j, d;
		uint64_t ks = (uint64_t)kvh * hd * kb / 8 + 6, vs = (uint64_t)kvh * hd * vb / 8 + 2;
		int extreme = round % 5 == 0;
		__s32 *q = malloc(nh * hd * 4);
		uint8_t *k = malloc(len * ks), *v = malloc(len * vs);
		__s64 *t = calloc((size_t)nh * cap, 8), *acc = calloc((size_t)nh * hd, 8);
		int64_t *want = calloc((size_t)nh * (cap > hd ? cap : hd), 8);
		struct npu_fw_attention a = {
			NPU_FW_ATTN_SCORES, q, k, v, ks, vs, kb, vb, len, nh, group, hd, t, cap, acc,
		};

		assert_true(q && k && v && t && acc && want);
		/* Extremes: q = -32768, or -1 (a low byte of 255), against -128 or -32768. */
		for (h = 0; h < nh * hd; h++)
			q[h] = extreme ? (round % 10 ? -32768 : -1) : t_rand_range(-32768, 32767);
		for (j = 0; j < len * ks; j++)
			k[j] = extreme ? (kb == 8 || j % 2 ? 0x80 : 0) : (uint8_t)t_rand();
		for (j = 0; j < len * vs; j++)
			v[j] = extreme ? 0x80 : (uint8_t)t_rand();
		/* Scores. */
		for (h = 0; h < nh; h++)
			for (j = 0; j < len; j++) {
				const uint8_t *row = k + j * ks + (uint64_t)(h / group) * hd * kb / 8;
				int64_t dot = 0;

				for (d = 0; d < hd; d++)
					dot += (int64_t)q[h * hd + d] *
					       (kb == 8 ? (int8_t)row[d] : ((const int16_t *)row)[d]);
				want[h * cap + j] = dot;
			}
		/* Odd rounds through the pool (by rows, where the cache is long enough). */
		assert_int_equal(round % 2 ? npu_kernels_attention(pool, &a)
					   : npu_attention_avx512(NULL, &a), 0);
		for (h = 0; h < nh; h++)
			for (j = 0; j < len; j++)
				if (t[h * cap + j] != want[h * cap + j])
					fail_msg("scores h %u j %u (hd %u kb %u): %lld, want %lld", h, j,
						 hd, kb, (long long)t[h * cap + j],
						 (long long)want[h * cap + j]);
		/* Query values past 16 bits go back to the firmware. */
		q[nh * hd - 1] = 32768;
		assert_int_not_equal(npu_attention_avx512(NULL, &a), 0);
		assert_int_not_equal(npu_kernels_attention(pool, &a), 0);
		/* Values, with weights across the int32 range. */
		for (h = 0; h < nh; h++)
			for (j = 0; j < len; j++)
				t[h * cap + j] = extreme ? INT32_MIN : t_rand_range(INT32_MIN, INT32_MAX);
		for (h = 0; h < nh; h++)
			for (d = 0; d < hd; d++) {
				int64_t sum = 0;

				for (j = 0; j < len; j++) {
					const uint8_t *row = v + j * vs + (uint64_t)(h / group) * hd * vb / 8;

					sum += t[h * cap + j] *
					       (vb == 8 ? (int8_t)row[d] : ((const int16_t *)row)[d]);
				}
				want[h * hd + d] = sum;
			}
		a.step = NPU_FW_ATTN_VALUES;
		assert_int_equal(round % 2 ? npu_kernels_attention(pool, &a)
					   : npu_attention_avx512(NULL, &a), 0);
		assert_memory_equal(acc, want, (size_t)nh * hd * 8);
		pooled += round % 2 && len > 32 && len * nh >= 512;
		t[(nh - 1) * cap + len - 1] = (int64_t)INT32_MAX + 1;
		assert_int_not_equal(npu_attention_avx512(NULL, &a), 0);
		assert_int_not_equal(npu_kernels_attention(pool, &a), 0);
		free(q);
		free(k);
		free(v);
		free(t);
		free(acc);
		free(want);
	}
	/* The pool split some of them (with more than one thread to split over). */
	assert_true(npu_kernels_threads(pool) < 2 || pooled >= 10);
	npu_kernels_destroy(pool);
}

/*
 * ATTENTION's rescaling against fw_requant() and fw_clamp() themselves:
 * every shift 0..126 in one row of scales (normalized multipliers and
 * any), magnitudes of every size with INT64_MIN, INT64_MAX and ties,
 * odd lengths and strides, both clamps, on one thread and (odd rounds)
 * through the pool, by heads where there are enough; a negative shift
 * must be refused with t untouched.
 */
static void rescale_equals_firmware(void **state)
{
	struct npu_kernels *pool;
	int round, pooled = 0;

	(void)state;
	t_require_isa(NPU_ISA_AVX512);
	pool = npu_kernels_create(NPU_ISA_AVX512);
	assert_non_null(pool);
	t_seed(6262);
	for (round = 0; round < 400; round++) {
		uint32_t nh = (uint32_t)(round % 4 == 1 ? t_rand_range(30, 48) : t_rand_range(1, 9));
		uint32_t len = (uint32_t)t_rand_range(1, 140);
		uint64_t stride = len + (uint64_t)t_rand_range(0, 9), i;
		__s64 *t = malloc(nh * stride * 8), *want = malloc(nh * stride * 8);
		struct drm_npu_scale *sc = malloc(len * sizeof(*sc));
		struct npu_fw_rescale r = { t, stride, nh, len, sc, -(1ll << 47), 1ll << 47 };
		uint32_t h, j;

		assert_true(t && want && sc);
		if (round % 2) {
			r.lo = INT64_MIN;
			r.hi = INT64_MAX;
		}
		for (j = 0; j < len; j++) {
			sc[j].shift = round % 3 ? (int32_t)((j + (uint32_t)round) % 127)
						: t_rand_range(0, 126);
			sc[j].mult = t_rand() & 1 ? t_rand_range(1 << 30, INT32_MAX)
						  : t_rand_range(1, INT32_MAX);
		}
		for (i = 0; i < nh * stride; i++) {
			t[i] = any_magnitude();
			if (t_rand_range(0, 100) == 0)
				t[i] = t_rand() & 1 ? INT64_MIN : INT64_MAX;
		}
		for (h = 0; h < nh; h++)
			for (j = 0; j < len; j++) {
				__s64 *v = &t[h * stride + j];

				/* An exact tie: v * mult = (2k + 1) * 2^(shift - 1). */
				if (t_rand_range(0, 15) == 0 && sc[j].shift > 0 && sc[j].shift <= 40) {
					sc[j].mult = 1;
					*v = (int64_t)((t_rand() >> 42) * 2 + 1) << (sc[j].shift - 1);
				}
			}
		memcpy(want, t, nh * stride * 8);
		for (h = 0; h < nh; h++)
			for (j = 0; j < len; j++)
				want[h * stride + j] = fw_clamp(fw_requant(want[h * stride + j], sc[j]),
								r.lo, r.hi);
		assert_int_equal(round % 2 ? npu_kernels_rescale(pool, &r)
					   : npu_rescale_avx512(NULL, &r), 0);
		pooled += round % 2 && nh * len >= 4096;
		for (h = 0; h < nh; h++)
			for (j = 0; j < len; j++)
				if (t[h * stride + j] != want[h * stride + j])
					fail_msg("h %u j %u mult %d shift %d: %lld, want %lld", h, j,
						 sc[j].mult, sc[j].shift, (long long)t[h * stride + j],
						 (long long)want[h * stride + j]);
		/* Padding past len is untouched; a negative shift is refused. */
		assert_memory_equal(t, want, nh * stride * 8);
		sc[len - 1].shift = -t_rand_range(1, 32);
		assert_int_not_equal(npu_rescale_avx512(NULL, &r), 0);
		assert_int_not_equal(npu_kernels_rescale(pool, &r), 0);
		assert_memory_equal(t, want, nh * stride * 8);
		free(t);
		free(want);
		free(sc);
	}
	assert_true(pooled > 20);
	npu_kernels_destroy(pool);
}

/* The built-in firmware image's tables (read in place: free the image after). */
static void *builtin_tables(struct npu_fw_tables *tables)
{
	void *image;
	size_t size;

	assert_int_equal(npu_firmware_load(&image, &size), 0);
	assert_int_equal(npu_fw_image_verify(image, size, tables), NPU_FW_IMAGE_OK);
	return image;
}

/*
 * The sigmoid's division: divisors 2^30 + e whose double quotient is one
 * too low (r = 1) or one too high (found by trying every e), then random
 * ones, against C's division.
 */
__attribute__((target("avx512f,avx512dq"))) static void udiv_equals_c(void)
{
	static const uint64_t hard[][2] = {
		{ 4094138, 1 }, { 54238469, 1 }, { 115858826, 0 }, { 186550095, 1 },
		{ 247897098, 1 }, { 303598826, 0 }, { 362858860, 1 }, { 424507259, 0 },
		{ 500005106, 1 }, { 576163148, 1 }, { 635022506, 0 }, { 722651446, 0 },
		{ 802064966, 0 }, { 877699225, 0 }, { 989343300, 1 }, { 1069551614, 0 },
	};
	uint64_t n[8], d[8], q[8];
	int i, j, round;

	for (round = 0; round < 2 + 2000; round++) {
		for (j = 0; j < 8; j++) {
			uint64_t e = round < 2 ? hard[round * 8 + j][0] : t_rand() >> 34;
			int pos = round < 2 ? (int)hard[round * 8 + j][1] : (int)(t_rand() & 1);

			d[j] = (1ull << 30) + e;
			n[j] = (pos ? 1ull << 60 : e << 30) + d[j] / 2;
		}
		_mm512_storeu_si512(q, npu_udiv_avx512(_mm512_loadu_si512(n), _mm512_loadu_si512(d)));
		for (i = 0; i < 8; i++)
			if (q[i] != n[i] / d[i])
				fail_msg("%llu / %llu: %llu, want %llu", (unsigned long long)n[i],
					 (unsigned long long)d[i], (unsigned long long)q[i],
					 (unsigned long long)(n[i] / d[i]));
	}
}

/*
 * SILU against the firmware's own per-element function, with the tables
 * of the built-in image: random rows, scales and magnitudes, from tiny
 * activations to ones the fast path must hand back (any |x| >= 2^8), and
 * shifts outside 1..62, which it never takes.
 */
/*
 * Long rows through the pool's SILU, split by elements: the same values,
 * and a refusal in any one part (one element too large) refuses the row.
 */
static void silu_through_pool(const struct npu_fw_tables *tables)
{
	enum { N = 5000 };
	int32_t *x = malloc(N * sizeof(*x));
	__s64 *v = malloc((N + 1) * sizeof(*v));
	struct npu_kernels *k;
	int round;
	uint32_t i;

	assert_true(x && v);
	k = pool_create(NPU_ISA_AVX512);
	for (round = 0; round < 6; round++) {
		struct drm_npu_scale to_act = { t_rand_range(1 << 30, INT32_MAX),
						t_rand_range(20, 40) };
		struct npu_fw_silu a = { x, N, to_act, tables, v };

		for (i = 0; i < N; i++)
			x[i] = t_rand_range(-(1 << 20), 1 << 20);
		if (round % 2)
			x[N - 7] = INT32_MAX, a.to_act.shift = 10;	/* |xq| past the kernel's bound */
		v[N] = 0x5a5a;
		if (round % 2) {
			assert_int_not_equal(npu_kernels_silu(k, &a), 0);
			continue;
		}
		assert_int_equal(npu_kernels_silu(k, &a), 0);
		for (i = 0; i < N; i++)
			if (v[i] != fw_silu_q24(tables, x[i], to_act))
				fail_msg("pool: element %u: %lld, want %lld", i, (long long)v[i],
					 (long long)fw_silu_q24(tables, x[i], to_act));
		assert_int_equal(v[N], 0x5a5a);
	}
	npu_kernels_destroy(k);
	free(x);
	free(v);
}

static void silu_equals_firmware(void **state)
{
	struct npu_fw_tables tables;
	int32_t x[37];
	__s64 v[37 + 1];
	void *image;
	int round, fast = 0, back = 0;

	(void)state;
	t_require_isa(NPU_ISA_AVX512);
	image = builtin_tables(&tables);
	t_seed(777);
	for (round = 0; round < 20000; round++) {
		struct drm_npu_scale to_act = { t_rand_range(1 << 30, INT32_MAX),
						round % 50 ? t_rand_range(10, 40) : t_rand_range(-5, 70) };
		int bits = t_rand_range(1, 31);
		uint32_t n = (uint32_t)t_rand_range(0, 37), i;
		struct npu_fw_silu a = { x, n, to_act, &tables, v };
		int ret;

		for (i = 0; i < n; i++) {
			int32_t m = (int32_t)(t_rand() >> (64 - bits));

			x[i] = t_rand() & 1 ? -m : m;
			if (t_rand_range(0, 100) == 0)
				x[i] = t_rand() & 1 ? INT32_MIN : INT32_MAX;
		}
		v[n] = 0x5a5a;
		ret = npu_silu_avx512(NULL, &a);
		if (to_act.shift < 1 || to_act.shift > 62)
			assert_int_not_equal(ret, 0);
		if (ret) {
			back++;
			continue;
		}
		fast++;
		for (i = 0; i < n; i++)
			if (v[i] != fw_silu_q24(&tables, x[i], to_act))
				fail_msg("x %d scale %d >> %d: %lld, want %lld", x[i], to_act.mult,
					 to_act.shift, (long long)v[i],
					 (long long)fw_silu_q24(&tables, x[i], to_act));
		assert_int_equal(v[n], 0x5a5a);
	}
	assert_true(fast > 5000);
	assert_true(back > 1000);
	silu_through_pool(&tables);
	free(image);
	udiv_equals_c();
}

/* ADD's rescaling against fw_requant(): random rows, scales and shifts. */
static void add_equals_firmware(void **state)
{
	int32_t a[29], b[29];
	__s64 v[29 + 1];
	int round, fast = 0;

	(void)state;
	t_require_isa(NPU_ISA_AVX512);
	t_seed(31337);
	for (round = 0; round < 20000; round++) {
		struct drm_npu_scale ma = { t_rand_range(1, INT32_MAX), t_rand_range(-3, 66) };
		struct drm_npu_scale mb = { t_rand_range(1, INT32_MAX), t_rand_range(-3, 66) };
		uint32_t n = (uint32_t)t_rand_range(0, 29), i;
		struct npu_fw_add h = { a, b, n, ma, mb, v };
		int ret;

		for (i = 0; i < n; i++) {
			a[i] = (int32_t)t_rand();
			b[i] = (int32_t)(t_rand() >> t_rand_range(32, 63));
			if (t_rand_range(0, 50) == 0)
				a[i] = INT32_MIN;
		}
		v[n] = 0x5a5a;
		ret = npu_add_avx512(NULL, &h);
		if (ma.shift >= 1 && ma.shift <= 62 && mb.shift >= 1 && mb.shift <= 62)
			assert_int_equal(ret, 0);
		if (ret)
			continue;
		fast++;
		for (i = 0; i < n; i++)
			if (v[i] != fw_requant(a[i], ma) + fw_requant(b[i], mb))
				fail_msg("%d * %d >> %d + %d * %d >> %d: %lld, want %lld", a[i], ma.mult,
					 ma.shift, b[i], mb.mult, mb.shift, (long long)v[i],
					 (long long)(fw_requant(a[i], ma) + fw_requant(b[i], mb)));
		assert_int_equal(v[n], 0x5a5a);
	}
	assert_true(fast > 10000);
}

/*
 * The norms' loops against the firmware's: random rows of 8- to 32-bit
 * values, means, reciprocal roots and shifts; rows past the 64-bit
 * bounds must be handed back, and a refused SCALE must leave v alone.
 */
static void norm_equals_firmware(void **state)
{
	int32_t x[41], gamma[41];
	__s64 v[41 + 1], c[41], want[41];
	int round, fast[2] = { 0, 0 }, back[2] = { 0, 0 };

	(void)state;
	t_require_isa(NPU_ISA_AVX512);
	t_seed(2718);
	for (round = 0; round < 20000; round++) {
		int bits = round % 4 == 3 ? 32 : round % 4 == 2 ? 16 : 8 + t_rand_range(0, 8);
		uint32_t n = (uint32_t)t_rand_range(0, 41), i;
		__uint128_t ss = 0;
		__u64 got_ss = 0;
		struct npu_fw_norm nm = { NPU_FW_NORM_CENTER, x, gamma, n, 8,
					  t_rand_range(-(1 << 20), 1 << 20), 0, 0, v, &got_ss };
		int ret;

		for (i = 0; i < n; i++) {
			x[i] = (int32_t)((int64_t)t_rand() >> (64 - bits));
			gamma[i] = (int32_t)((int64_t)t_rand() >> t_rand_range(32, 63));
			c[i] = (__s64)x[i] * 256 - nm.mean;
			ss += (__uint128_t)((__int128_t)c[i] * c[i]);
		}
		v[n] = 0x5a5a;
		ret = npu_norm_avx512(NULL, &nm);
		if (bits <= 16)
			assert_int_equal(ret, 0);
		if (ret) {
			back[0]++;
			for (i = 0; i < n; i++)
				v[i] = c[i];
		} else {
			fast[0]++;
			assert_true(got_ss == ss);
			for (i = 0; i < n; i++)
				assert_true(v[i] == c[i]);
		}
		nm.step = NPU_FW_NORM_SCALE;
		nm.r = (uint32_t)t_rand_range((1 << 30) - 1, 1 << 30) + (uint32_t)t_rand_range(0, 1 << 30);
		nm.shift = t_rand_range(-2, 66);
		/* In 128 bits: rows the kernel refuses may overflow the firmware's product. */
		for (i = 0; i < n; i++)
			want[i] = nm.shift >= 0 && nm.shift < 127
				  ? (__s64)((__int128_t)(__s64)fw_rshift_round((__int128_t)c[i] * nm.r,
									       nm.shift) * gamma[i])
				  : 0;
		ret = npu_norm_avx512(NULL, &nm);
		if (nm.shift < 1 || nm.shift > 63)
			assert_int_not_equal(ret, 0);
		if (ret) {
			back[1]++;
			for (i = 0; i < n; i++)
				assert_true(v[i] == c[i]);
			continue;
		}
		fast[1]++;
		for (i = 0; i < n; i++)
			if (v[i] != want[i])
				fail_msg("c %lld r %u >> %d g %d: %lld, want %lld", (long long)c[i], nm.r,
					 nm.shift, gamma[i], (long long)v[i], (long long)want[i]);
		assert_int_equal(v[n], 0x5a5a);
	}
	assert_true(fast[0] > 10000 && back[0] > 1000);
	assert_true(fast[1] > 5000 && back[1] > 1000);
}

/* The firmware's softmax_q30 (firmware/src/op_softmax.c), written out. */
static void softmax_reference(const struct npu_fw_tables *tab, __s64 *t, uint32_t n)
{
	__s64 tmax = t[0];
	uint64_t sum = 0;
	uint32_t j;

	for (j = 1; j < n; j++)
		tmax = t[j] > tmax ? t[j] : tmax;
	for (j = 0; j < n; j++) {
		t[j] = fw_exp2_neg_q16(tab, (uint64_t)(tmax - t[j]));
		sum += (uint64_t)t[j];
	}
	for (j = 0; j < n; j++)
		t[j] = (__s64)((((uint64_t)t[j] << 30) + sum / 2) / sum);
}

/*
 * The softmax against its definition: rows of 1..300 exponents spread
 * from a few units to the clamp (2^47), ties for the largest, and equal
 * rows (every probability the same); several rows a call, apart by a
 * stride whose gaps stay untouched, on one thread and (odd rounds)
 * through the pool, by rows where there are enough.
 */
static void softmax_equals_firmware(void **state)
{
	struct npu_fw_tables tables;
	struct npu_kernels *pool;
	void *image;
	int round, pooled = 0;

	(void)state;
	t_require_isa(NPU_ISA_AVX512);
	pool = npu_kernels_create(NPU_ISA_AVX512);
	assert_non_null(pool);
	image = builtin_tables(&tables);
	t_seed(161803);
	for (round = 0; round < 3000; round++) {
		uint32_t n = (uint32_t)t_rand_range(1, 300), i, r;
		uint32_t rows = (uint32_t)(round % 8 == 1 ? t_rand_range(14, 40) : t_rand_range(1, 3));
		uint64_t stride = n + (uint64_t)t_rand_range(1, 5);
		int bits = t_rand_range(1, 48);
		__s64 *t = malloc(rows * stride * 8), *want = malloc(rows * stride * 8);
		struct npu_fw_softmax sm = { t, stride, rows, n, &tables };

		assert_true(t && want);
		for (i = 0; i < rows * stride; i++) {
			t[i] = round % 10 == 0 ? 12345 : (__s64)((int64_t)t_rand() >> (64 - bits));
			if (t_rand_range(0, 50) == 0)
				t[i] = t_rand() & 1 ? 1ll << 47 : -(1ll << 47);
			want[i] = t[i];
		}
		for (r = 0; r < rows; r++)
			softmax_reference(&tables, want + r * stride, n);
		assert_int_equal(round % 2 ? npu_kernels_softmax(pool, &sm)
					   : npu_softmax_avx512(NULL, &sm), 0);
		pooled += round % 2 && rows * n >= 4096;
		for (i = 0; i < rows * stride; i++)
			if (t[i] != want[i])
				fail_msg("n %u bits %d: p[%u] = %lld, want %lld", n, bits, i,
					 (long long)t[i], (long long)want[i]);
		free(t);
		free(want);
	}
	assert_true(pooled > 50);
	npu_kernels_destroy(pool);
	free(image);
}

/* The output stage's row maximum: random magnitudes, INT64_MIN, every tail. */
static void amax_equals_firmware(void **state)
{
	__s64 v[70];
	int round;

	(void)state;
	t_require_isa(NPU_ISA_AVX512);
	t_seed(99);
	for (round = 0; round < 5000; round++) {
		uint32_t n = (uint32_t)t_rand_range(0, 70), i;
		__u64 want = 0, got = 1;

		for (i = 0; i < n; i++) {
			__u64 a;

			v[i] = t_rand_range(0, 100) ? any_magnitude() : INT64_MIN;
			a = v[i] < 0 ? -(__u64)v[i] : (__u64)v[i];
			want = a > want ? a : want;
		}
		assert_int_equal(npu_amax_avx512(NULL, v, n, &got), 0);
		assert_true(got == want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(avx2_equals_reference),
		cmocka_unit_test(avx512_equals_reference),
		cmocka_unit_test(isa_select_caps_at_host),
		cmocka_unit_test(pool_equals_reference),
		cmocka_unit_test(pool_packs_sealed_weights),
		cmocka_unit_test(pool_gemm_equals_reference),
		cmocka_unit_test(requant_equals_reference),
		cmocka_unit_test(attention_equals_reference),
		cmocka_unit_test(rescale_equals_firmware),
		cmocka_unit_test(silu_equals_firmware),
		cmocka_unit_test(add_equals_firmware),
		cmocka_unit_test(norm_equals_firmware),
		cmocka_unit_test(softmax_equals_firmware),
		cmocka_unit_test(amax_equals_firmware),
	};

	return cmocka_run_group_tests_name("kernels", tests, NULL, NULL);
}
