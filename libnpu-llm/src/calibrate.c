// SPDX-License-Identifier: MIT
/*
 * One matrix site's statistics for quantizing it in sequence: the float
 * model and the partly quantized copy run the same calibration text side
 * by side, and at the site both inputs are seen for every token, so the
 * matrix can be quantized to reproduce the float model's product from the
 * inputs the quantized layers before it actually give (the errors made
 * upstream corrected, not only this matrix's own).
 */
#include <stdlib.h>
#include <string.h>

#include "calibrate.h"

struct pair_tap {
	struct calib_pair *cp;
	int float_seen;		/* the float model's input for this token is in xf */
	float *xf;
};

static void tap_float(void *user, int layer, enum ref_site site, const float *x, int n)
{
	struct pair_tap *t = user;

	if (layer != t->cp->layer || site != t->cp->site || n != t->cp->n)
		return;
	memcpy(t->xf, x, (size_t)n * sizeof(*x));
	t->float_seen = 1;
}

static void tap_quant(void *user, int layer, enum ref_site site, const float *xq, int n)
{
	struct pair_tap *t = user;
	struct calib_pair *cp = t->cp;
	const float *xf = t->xf;
	int i, j;

	if (layer != cp->layer || site != cp->site || n != cp->n || !t->float_seen)
		return;
	for (i = 0; i < n; i++) {
		double *hf = cp->hf + (size_t)i * n, *hq = cp->hq + (size_t)i * n;
		double *c = cp->c + (size_t)i * n;

		for (j = 0; j <= i; j++) {
			hf[j] += (double)xf[i] * xf[j];
			hq[j] += (double)xq[i] * xq[j];
		}
		for (j = 0; j < n; j++)
			c[j] += (double)xf[i] * xq[j];
	}
	t->float_seen = 0;
}

int calib_pair_init(struct calib_pair *cp, int layer, enum ref_site site, int n)
{
	size_t nn = (size_t)n * n;

	*cp = (struct calib_pair){ layer, site, n, NULL, NULL, NULL };
	cp->hf = calloc(3 * nn, sizeof(double));
	if (!cp->hf)
		return NPU_E_NOMEM;
	cp->hq = cp->hf + nn;
	cp->c = cp->hq + nn;
	return NPU_OK;
}

void calib_pair_free(struct calib_pair *cp)
{
	free(cp->hf);
	cp->hf = cp->hq = cp->c = NULL;
}

int calib_pair_gather(const struct npu_model *f, const struct npu_model *q,
		      const int32_t *tokens, int n_tokens, int chunk, struct calib_pair *cp)
{
	struct ref_engine *rf = NULL, *rq = NULL;
	struct pair_tap t = { cp, 0, NULL };
	float *logits = malloc((size_t)f->cfg.vocab_size * sizeof(*logits));
	int i, j, n = cp->n, ret;

	t.xf = malloc((size_t)n * sizeof(*t.xf));
	ret = logits && t.xf ? ref_create(f, chunk, &rf) : NPU_E_NOMEM;
	ret = ret ? ret : ref_create(q, chunk, &rq);
	if (!ret) {
		/* Layers past the site's do not change its inputs. */
		ref_set_tap(rf, tap_float, &t, cp->layer + 1);
		ref_set_tap(rq, tap_quant, &t, cp->layer + 1);
	}
	for (i = 0; !ret && i < n_tokens; i++) {
		ret = ref_forward(rf, tokens[i], i % chunk, logits);
		ret = ret ? ret : ref_forward(rq, tokens[i], i % chunk, logits);
	}
	ref_destroy(rf);
	ref_destroy(rq);
	free(logits);
	free(t.xf);
	/* The two second moments' upper triangles from their lower ones. */
	for (i = 0; !ret && i < n; i++)
		for (j = i + 1; j < n; j++) {
			cp->hf[(size_t)i * n + j] = cp->hf[(size_t)j * n + i];
			cp->hq[(size_t)i * n + j] = cp->hq[(size_t)j * n + i];
		}
	return ret;
}
