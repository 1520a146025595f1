/* SPDX-License-Identifier: MIT */
#ifndef LIBNPU_MODEL_INTERNAL_H
#define LIBNPU_MODEL_INTERNAL_H

#include <npu/model.h>

#define NPU_HIDDEN __attribute__((visibility("hidden")))

NPU_HIDDEN void npu_model_error(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
NPU_HIDDEN int npu_model_check_config(const struct npu_model_config *c, char *err, size_t len);
NPU_HIDDEN size_t npu_model_layout(struct npu_model *m, int with_rope_tables);
/* Sort a filled tokenizer's pieces for lookup. */
NPU_HIDDEN int npu_tokenizer_index(struct npu_tokenizer *t);

#endif
