// SPDX-License-Identifier: MIT
/*
 * RoPE's angles, as llama.cpp's ggml_rope_ext() makes them, for the float
 * reference and for the device's frequency table alike. Each pair i of a
 * head turns by pos * theta_i radians: theta_i = base^(-2i/head_dim),
 * divided by a rope_freqs factor (Llama 3.1), scaled by freq_scale
 * (linear), or, with YaRN, mixed between the two by a ramp over the
 * pairs; YaRN also scales the rotated Q and K (the magnitude scale).
 */
#include <math.h>

#include "llm_internal.h"

/* YaRN's correction dimension: the pair that turns @n_rot times over the original context. */
static double corr_dim(int dims, int ctx, double n_rot, double base)
{
	return dims * log(ctx / (n_rot * 2 * M_PI)) / (2 * log(base));
}

double llm_rope_theta(const struct npu_model *m, double *theta)
{
	const struct npu_model_config *c = &m->cfg;
	const struct npu_rope_params *r = &c->rope;
	int dims = c->head_dim, i;
	double lo = 0, hi = 0, mscale = r->attn_factor;

	if (r->ext_factor != 0) {
		lo = fmax(0, floor(corr_dim(dims, r->orig_ctx, r->beta_fast, r->base)));
		hi = fmin(dims - 1, ceil(corr_dim(dims, r->orig_ctx, r->beta_slow, r->base)));
		mscale *= 1 + 0.1 * log(1.0 / r->freq_scale);
	}
	for (i = 0; i < dims / 2; i++) {
		double t = pow(r->base, -2.0 * i / dims), mix = 0;

		if (m->rope_factors)
			t /= m->rope_factors[i];
		if (r->ext_factor != 0) {
			double y = (i - lo) / fmax(0.001, hi - lo);

			mix = (1 - fmin(1, fmax(0, y))) * r->ext_factor;
		}
		theta[i] = t * (r->freq_scale * (1 - mix) + mix);
	}
	return mscale;
}
