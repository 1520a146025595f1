/* SPDX-License-Identifier: MIT */
/* npu-numerics: what the measurements share (see main.c). */
#ifndef NPU_NUMERICS_H
#define NPU_NUMERICS_H

#include <stddef.h>
#include <stdint.h>

#include <npu/npu.h>

/* The cpu backend every op runs on; measurements made and failed to run. */
extern npu_device *dev;
extern int n_measured, n_failed;

/* random.c */
void rng_seed(uint64_t seed);
uint64_t rng_next(void);
double rng_uniform(double lo, double hi);
double rng_normal(void);
void fill_normal_rows(double *x, uint32_t rows, uint32_t cols, double lo, double hi);

/* tensors.c */
struct buf {
	npu_bo bo;
	void *p;
};

struct qt {
	struct npu_tensor t;
	struct buf data;
	struct buf scales;	/* ROW: struct npu_scale per row; GROUP: uint16 factors */
};

void die(const char *what, int err);
double *dalloc(size_t n);
struct npu_scale scale_of(double v);
double real_of(struct npu_scale s);
struct qt qt_new(uint32_t rows, uint32_t cols, enum npu_dtype dt,
		 enum npu_scale_mode mode, double scale);
void qt_free(struct qt *q);
int32_t qt_int(const struct qt *q, uint32_t r, uint32_t c);
void qt_set_int(struct qt *q, uint32_t r, uint32_t c, int32_t v);
double qt_scale(const struct qt *q, uint32_t r);
double qt_real(const struct qt *q, uint32_t r, uint32_t c);
double *qt_reals(const struct qt *q);
void qt_fill(struct qt *q, const double *x);
struct qt weights_new(uint32_t n, uint32_t k, enum npu_dtype dt, uint32_t group,
		      const double *wf, double *wr);

/* report.c */
struct err {
	long n;
	double max_abs, sum_abs;
	double max_lsb, sum_lsb;
	double max_ref;
};

void err_add(struct err *e, double got, double want, double lsb);
void err_add_rows(struct err *e, const struct qt *out, uint32_t r0, uint32_t nrows,
		  const double *ref);
void err_add_qt(struct err *e, const struct qt *out, const double *ref);
void print_header(void);
void print_row(const char *op, const char *inputs, const struct err *e, int lsb);
int check_run(const char *op, const char *inputs, int status);
npu_cmd *cmd_new(void);
int run(npu_cmd *cmd, int enc);

/* reference.c */
void matmul_ref(const double *x, const double *w, const double *b, uint32_t rows,
		uint32_t n_out, uint32_t k, double *y);
void softmax_ref(const double *x, uint32_t n, uint32_t vis, double alpha, double *p);
void attention_ref(const double *q, const double *k, const double *v, uint32_t rows,
		   uint32_t pos, uint32_t nh, uint32_t nkv, uint32_t hd, double alpha,
		   double *out);
double silu_ref(double x);
double gelu_tanh_ref(double x);
double gelu_erf_ref(double x);

/* measure_matmul.c */
void measure_matmul(const char *op, enum npu_dtype wdt, uint32_t group, int with_bias,
		    enum npu_dtype odt, enum npu_scale_mode omode, double oscale,
		    const char *inputs, uint64_t seed);

/* measure_norm.c */
void measure_rmsnorm(const char *inputs, enum npu_dtype xdt,
		     enum npu_scale_mode xmode, double xscale, double amp_lo,
		     double amp_hi, enum npu_dtype odt, uint64_t seed);
void measure_layernorm(void);

/* measure_eltwise.c */
void measure_softmax(const char *op, const char *inputs, int causal,
		     enum npu_dtype odt, double oscale, uint64_t seed);
void measure_activation(const char *op, const char *inputs, int gelu, int erf_ref,
			enum npu_dtype dt, enum npu_scale_mode xmode, double xscale,
			double amp_lo, double amp_hi, uint64_t seed);
void measure_binary(const char *op, const char *inputs, int add, uint64_t seed);
void measure_quantize(void);

/* measure_position.c */
void measure_rope(void);
void measure_attention(const char *op, const char *inputs, enum npu_dtype cdt,
		       uint64_t seed);
void measure_kv_append(const char *inputs, enum npu_dtype cdt, uint64_t seed);

/* measure_tokens.c */
void measure_embedding(void);
void measure_argmax(void);

#endif
