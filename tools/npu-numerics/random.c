// SPDX-License-Identifier: MIT
/* npu-numerics: random inputs (xorshift64*, reseeded by every measurement). */
#include <math.h>

#include "numerics.h"

static uint64_t rng_state;

void rng_seed(uint64_t seed)
{
	rng_state = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
}

uint64_t rng_next(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, 1). */
static double rng_unit(void)
{
	return (double)(rng_next() >> 11) * 0x1p-53;
}

double rng_uniform(double lo, double hi)
{
	return lo + (hi - lo) * rng_unit();
}

/* Standard normal (Box-Muller). */
double rng_normal(void)
{
	double u = 1.0 - rng_unit(), v = rng_unit();

	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* rows x cols normal values, each row scaled by its own amplitude in [lo, hi]. */
void fill_normal_rows(double *x, uint32_t rows, uint32_t cols, double lo, double hi)
{
	uint32_t r, c;

	for (r = 0; r < rows; r++) {
		double amp = rng_uniform(lo, hi);

		for (c = 0; c < cols; c++)
			x[(size_t)r * cols + c] = amp * rng_normal();
	}
}
