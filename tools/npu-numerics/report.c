// SPDX-License-Identifier: MIT
/* npu-numerics: error statistics, the table, running one encoded op. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "numerics.h"

void err_add(struct err *e, double got, double want, double lsb)
{
	double d = fabs(got - want);

	e->n++;
	e->max_abs = fmax(e->max_abs, d);
	e->sum_abs += d;
	e->max_ref = fmax(e->max_ref, fabs(want));
	if (lsb > 0) {
		e->max_lsb = fmax(e->max_lsb, d / lsb);
		e->sum_lsb += d / lsb;
	}
}

/* Compare rows [r0, r0 + nrows) of out with ref (nrows x cols, row-major). */
void err_add_rows(struct err *e, const struct qt *out, uint32_t r0, uint32_t nrows,
		  const double *ref)
{
	uint32_t r, c, n = out->t.cols;

	for (r = 0; r < nrows; r++)
		for (c = 0; c < n; c++)
			err_add(e, qt_real(out, r0 + r, c), ref[(size_t)r * n + c],
				qt_scale(out, r0 + r));
}

void err_add_qt(struct err *e, const struct qt *out, const double *ref)
{
	err_add_rows(e, out, 0, out->t.rows, ref);
}

void print_header(void)
{
	printf("| op | inputs -> output | samples | max abs err | mean abs err "
	       "| max err (LSB) | mean err (LSB) | max abs ref |\n");
	printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
}

void print_row(const char *op, const char *inputs, const struct err *e, int lsb)
{
	double n = e->n ? (double)e->n : 1.0;

	printf("| %s | %s | %ld | %.3g | %.3g | ", op, inputs, e->n, e->max_abs, e->sum_abs / n);
	if (lsb)
		printf("%.3f | %.3f | ", e->max_lsb, e->sum_lsb / n);
	else
		printf("- | - | ");
	if (lsb)
		printf("%.3g |\n", e->max_ref);
	else
		printf("- |\n");
}

/* Account for one run; on failure print the row as failed. Returns status. */
int check_run(const char *op, const char *inputs, int status)
{
	n_measured++;
	if (status) {
		n_failed++;
		printf("| %s | %s | FAILED: %s | | | | | |\n", op, inputs, npu_strerror(status));
	}
	return status;
}

npu_cmd *cmd_new(void)
{
	npu_cmd *cmd;
	int err = npu_cmd_create(dev, &cmd);

	if (err)
		die("npu_cmd_create", err);
	return cmd;
}

/*
 * Run the op just encoded (@enc: the encoder's status), wait, destroy cmd.
 * Returns 0, a negative enum npu_status, or the positive job status.
 */
int run(npu_cmd *cmd, int enc)
{
	struct npu_job_result res;
	npu_fence fence;
	int err = enc;

	if (!err)
		err = npu_submit(cmd, &fence);
	if (!err) {
		err = npu_fence_wait(dev, fence, -1, &res);
		if (err == NPU_E_JOB)
			err = (int)res.status;
	}
	npu_cmd_destroy(cmd);
	return err;
}
