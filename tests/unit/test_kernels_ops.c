// SPDX-License-Identifier: MIT
/*
 * The cpu backend's SIMD kernels after the MATMUL sums against the
 * firmware's definition, bit for bit: the output stage, ATTENTION's sums
 * and rescaling, SILU, ADD, the norms' loops, the softmax and the row
 * maximum.
 */
#include "test_kernels.h"

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx2")
#include "../../swcore/kernels/x86/int64_avx2.h"
#pragma GCC pop_options
#include "../../swcore/kernels/x86/udiv_avx512.h"
#endif

/* The level a test runs at, from its state. */
#define level_of t_level

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
 * The output stage against the definition: random rows at every
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
	const struct npu_level *l = level_of(state);
	int round, fast = 0;

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
		ret = l->requant(NULL, &rq);
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
	const struct npu_level *l = level_of(state);
	struct npu_kernels *pool = npu_kernels_create(l->isa);
	int round, pooled = 0;

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
					   : l->attention(NULL, &a), 0);
		for (h = 0; h < nh; h++)
			for (j = 0; j < len; j++)
				if (t[h * cap + j] != want[h * cap + j])
					fail_msg("scores h %u j %u (hd %u kb %u): %lld, want %lld", h, j,
						 hd, kb, (long long)t[h * cap + j],
						 (long long)want[h * cap + j]);
		/* Query values past 16 bits go back to the firmware. */
		q[nh * hd - 1] = 32768;
		assert_int_not_equal(l->attention(NULL, &a), 0);
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
					   : l->attention(NULL, &a), 0);
		assert_memory_equal(acc, want, (size_t)nh * hd * 8);
		pooled += round % 2 && len > 32 && len * nh >= 512;
		t[(nh - 1) * cap + len - 1] = (int64_t)INT32_MAX + 1;
		assert_int_not_equal(l->attention(NULL, &a), 0);
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
	const struct npu_level *l = level_of(state);
	struct npu_kernels *pool = npu_kernels_create(l->isa);
	int round, pooled = 0;

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
					   : l->rescale(NULL, &r), 0);
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
		assert_int_not_equal(l->rescale(NULL, &r), 0);
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
 * SILU against the firmware's own per-element function, with the tables
 * of the built-in image: random rows, scales and magnitudes, from tiny
 * activations to ones the fast path must hand back (any |x| >= 2^8), and
 * shifts outside 1..62, which it never takes.
 */
/*
 * Long rows through the pool's SILU, split by elements: the same values,
 * and a refusal in any one part (one element too large) refuses the row.
 */
static void silu_through_pool(const struct npu_level *l, const struct npu_fw_tables *tables)
{
	enum { N = 5000 };
	int32_t *x = malloc(N * sizeof(*x));
	__s64 *v = malloc((N + 1) * sizeof(*v));
	struct npu_kernels *k;
	int round;
	uint32_t i;

	assert_true(x && v);
	k = pool_create(l->isa);
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
	const struct npu_level *l = level_of(state);
	void *image;
	int round, fast = 0, back = 0;

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
		ret = l->silu(NULL, &a);
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
	silu_through_pool(l, &tables);
	free(image);
}

/* ADD's rescaling against fw_requant(): random rows, scales and shifts. */
static void add_equals_firmware(void **state)
{
	int32_t a[29], b[29];
	__s64 v[29 + 1];
	const struct npu_level *l = level_of(state);
	int round, fast = 0;

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
		ret = l->add(NULL, &h);
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
	const struct npu_level *l = level_of(state);
	int round, fast[2] = { 0, 0 }, back[2] = { 0, 0 };

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
		ret = l->norm(NULL, &nm);
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
		ret = l->norm(NULL, &nm);
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
	const struct npu_level *l = level_of(state);
	struct npu_kernels *pool = npu_kernels_create(l->isa);
	void *image;
	int round, pooled = 0;

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
					   : l->softmax(NULL, &sm), 0);
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
	const struct npu_level *l = level_of(state);
	__s64 v[70];
	int round;

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
		assert_int_equal(l->amax(NULL, v, n, &got), 0);
		assert_true(got == want);
	}
}

#if defined(__x86_64__)
/*
 * The sigmoid's division: divisors 2^30 + e whose double quotient is one
 * too low (r = 1) or one too high (found by trying every e), then random
 * ones, against C's division.
 */
static const uint64_t udiv_hard[][2] = {
		{ 4094138, 1 }, { 54238469, 1 }, { 115858826, 0 }, { 186550095, 1 },
		{ 247897098, 1 }, { 303598826, 0 }, { 362858860, 1 }, { 424507259, 0 },
		{ 500005106, 1 }, { 576163148, 1 }, { 635022506, 0 }, { 722651446, 0 },
		{ 802064966, 0 }, { 877699225, 0 }, { 989343300, 1 }, { 1069551614, 0 },
};

/* Round @round's dividends and divisors: the hard cases first, then random ones. */
static void udiv_operands(int round, uint64_t *n, uint64_t *d)
{
	int j;

	for (j = 0; j < 8; j++) {
		uint64_t e = round < 2 ? udiv_hard[round * 8 + j][0] : t_rand() >> 34;
		int pos = round < 2 ? (int)udiv_hard[round * 8 + j][1] : (int)(t_rand() & 1);

		d[j] = (1ull << 30) + e;
		n[j] = (pos ? 1ull << 60 : e << 30) + d[j] / 2;
	}
}

static void udiv_check(const uint64_t *n, const uint64_t *d, const uint64_t *q)
{
	int i;

	for (i = 0; i < 8; i++)
			if (q[i] != n[i] / d[i])
				fail_msg("%llu / %llu: %llu, want %llu", (unsigned long long)n[i],
					 (unsigned long long)d[i], (unsigned long long)q[i],
					 (unsigned long long)(n[i] / d[i]));
}

__attribute__((target("avx512f,avx512dq"))) static void udiv_avx512_equals_c(void)
{
	uint64_t n[8], d[8], q[8];
	int round;

	for (round = 0; round < 2 + 2000; round++) {
		udiv_operands(round, n, d);
		_mm512_storeu_si512(q, npu_udiv_avx512(_mm512_loadu_si512(n), _mm512_loadu_si512(d)));
		udiv_check(n, d, q);
	}
}

__attribute__((target("avx2"))) static void udiv_avx2_equals_c(void)
{
	uint64_t n[8], d[8], q[8];
	int round, h;

	for (round = 0; round < 2 + 2000; round++) {
		udiv_operands(round, n, d);
		for (h = 0; h < 8; h += 4)
			_mm256_storeu_si256((__m256i *)(q + h),
					    udiv4(_mm256_loadu_si256((const __m256i *)(n + h)),
						  _mm256_loadu_si256((const __m256i *)(d + h))));
		udiv_check(n, d, q);
	}
}

/* The exact division the sigmoid and the softmax use, at the level's width. */
static void udiv_equals_c(void **state)
{
	const struct npu_level *l = level_of(state);

	if (l->isa >= NPU_ISA_AVX512)
		udiv_avx512_equals_c();
	else
		udiv_avx2_equals_c();
}
#endif

#define HAS(hook) \
	static int has_##hook(const struct npu_level *l) \
	{ \
		return T_OWN(l, hook); \
	}
HAS(requant)
HAS(attention)
HAS(rescale)
HAS(silu)
HAS(add)
HAS(norm)
HAS(softmax)
HAS(amax)

/* Each test at each level that has its kernel, named test_level. */
#define AT_LEVELS(f, hook) { #f, f, has_##hook }

int main(void)
{
	static const struct t_level_test tests[] = {
		AT_LEVELS(requant_equals_reference, requant),
		AT_LEVELS(attention_equals_reference, attention),
		AT_LEVELS(rescale_equals_firmware, rescale),
		AT_LEVELS(silu_equals_firmware, silu),
		AT_LEVELS(add_equals_firmware, add),
		AT_LEVELS(norm_equals_firmware, norm),
		AT_LEVELS(softmax_equals_firmware, softmax),
		AT_LEVELS(amax_equals_firmware, amax),
#if defined(__x86_64__)
		{ "udiv_equals_c", udiv_equals_c, has_silu },
#endif
	};

	return t_run_at_levels("kernels_ops", NULL, 0, tests, sizeof(tests) / sizeof(tests[0]));
}
