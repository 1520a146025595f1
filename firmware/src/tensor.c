// SPDX-License-Identifier: MIT
/* Tensor operands: validation, address translation, row load and store. */
#include "exec.h"

int fw_is_zero(const void *p, __u64 len)
{
	const __u8 *b = p;
	__u64 i;

	for (i = 0; i < len; i++)
		if (b[i])
			return 0;
	return 1;
}

static __u32 elem_bytes(__u8 dtype)
{
	switch (dtype) {
	case DRM_NPU_DTYPE_I16:
		return 2;
	case DRM_NPU_DTYPE_I32:
		return 4;
	default:
		return 1;
	}
}

/* Bytes of one row as the firmware reads it: U types are dense bit strings. */
static __u64 row_bytes(const struct drm_npu_tensor *d)
{
	__u32 bits = fw_code_bits(d->dtype);

	if (bits)
		return ((__u64)d->cols * bits + 7) / 8;
	if (d->dtype == DRM_NPU_DTYPE_I4)
		return d->cols / 2;
	return (__u64)d->cols * elem_bytes(d->dtype);
}

__u32 fw_tensor_check(const struct drm_npu_tensor *d, const struct fw_operand_spec *spec)
{
	__u32 eb;
	int codes, block;

	if (d->pad)
		return DRM_NPU_STATUS_BAD_RESERVED;
	if (d->dtype > 31 || !(spec->dtypes & (1u << d->dtype)))
		return DRM_NPU_STATUS_BAD_DTYPE;
	if (d->scale_mode > 31 || !(spec->scales & (1u << d->scale_mode)))
		return DRM_NPU_STATUS_BAD_QPARAM;
	/* Codes mean something only under SCALE_BLOCK, and it scales only codes. */
	codes = fw_code_bits(d->dtype) != 0;
	block = d->scale_mode == DRM_NPU_SCALE_BLOCK;
	if (codes != block)
		return DRM_NPU_STATUS_BAD_QPARAM;
	if (d->rows == 0 || d->cols == 0 || d->cols > 65536 ||
	    (d->dtype == DRM_NPU_DTYPE_I4 && (d->cols & 1)))
		return DRM_NPU_STATUS_BAD_SHAPE;
	eb = elem_bytes(d->dtype);
	if (d->stride < row_bytes(d) || d->stride % eb)
		return DRM_NPU_STATUS_BAD_STRIDE;
	if (d->addr % eb)
		return DRM_NPU_STATUS_BAD_ALIGN;

	switch (d->scale_mode) {
	case DRM_NPU_SCALE_NONE:
		if (d->scale_addr || d->scale.mult || d->scale.shift)
			return DRM_NPU_STATUS_BAD_QPARAM;
		break;
	case DRM_NPU_SCALE_TENSOR:
		if (d->scale_addr || !fw_scale_valid(d->scale))
			return DRM_NPU_STATUS_BAD_QPARAM;
		break;
	case DRM_NPU_SCALE_ROW:
		if (d->scale.mult || d->scale.shift || !d->scale_addr)
			return DRM_NPU_STATUS_BAD_QPARAM;
		if (d->scale_addr % 4)
			return DRM_NPU_STATUS_BAD_ALIGN;
		break;
	case DRM_NPU_SCALE_GROUP:
	case DRM_NPU_SCALE_BLOCK:
		if (!fw_scale_valid(d->scale) || !d->scale_addr)
			return DRM_NPU_STATUS_BAD_QPARAM;
		if (d->scale_addr % 2)
			return DRM_NPU_STATUS_BAD_ALIGN;
		break;
	}
	return DRM_NPU_STATUS_OK;
}

static __u32 map_range(struct fw_exec *x, __u64 addr, __u64 len, int write, __u8 **p)
{
	const struct npu_fw_mem *m = &x->core->mem;

	if (addr + len < addr)
		return DRM_NPU_STATUS_OVERFLOW;
	*p = m->translate(m->ctx, addr, len, write, &x->fault_addr);
	return *p ? DRM_NPU_STATUS_OK : DRM_NPU_STATUS_FAULT;
}

/*
 * Translate the tensor's data and scale ranges. Group factors and block
 * records are sized by the op's parameters, which its prepare() has stored.
 */
__u32 fw_tensor_map(struct fw_exec *x, struct fw_tensor *t, int write)
{
	const struct drm_npu_tensor *d = &t->d;
	__u32 st;

	t->row_bytes = row_bytes(d);
	/* rows < 2^32 and stride < 2^32: the product fits in 64 bits. */
	t->span = (__u64)(d->rows - 1) * d->stride + t->row_bytes;
	st = map_range(x, d->addr, t->span, write, &t->data);
	if (st)
		return st;
	t->scales = FW_NULL;
	if (d->scale_mode == DRM_NPU_SCALE_ROW)
		t->scale_bytes = (__u64)d->rows * sizeof(struct drm_npu_scale);
	else if (d->scale_mode == DRM_NPU_SCALE_GROUP)
		t->scale_bytes = (__u64)d->rows * t->groups_per_row * sizeof(__u16);
	else if (d->scale_mode == DRM_NPU_SCALE_BLOCK)
		t->scale_bytes = (__u64)d->rows * t->record_bytes;
	else
		return DRM_NPU_STATUS_OK;
	return map_range(x, d->scale_addr, t->scale_bytes, write, &t->scales);
}

static struct drm_npu_scale load_scale(const __u8 *p)
{
	struct drm_npu_scale s;

	s.mult = (__s32)((__u32)p[0] | (__u32)p[1] << 8 | (__u32)p[2] << 16 | (__u32)p[3] << 24);
	s.shift = (__s32)((__u32)p[4] | (__u32)p[5] << 8 | (__u32)p[6] << 16 | (__u32)p[7] << 24);
	return s;
}

static void store_scale(__u8 *p, struct drm_npu_scale s)
{
	int i;

	for (i = 0; i < 4; i++) {
		p[i] = (__u8)((__u32)s.mult >> (8 * i));
		p[4 + i] = (__u8)((__u32)s.shift >> (8 * i));
	}
}

/* A scale read from memory is data: it is checked when it is used. */
__u32 fw_row_scale(const struct fw_tensor *t, __u32 row, struct drm_npu_scale *s)
{
	if (t->d.scale_mode != DRM_NPU_SCALE_ROW) {
		*s = t->d.scale;
		return DRM_NPU_STATUS_OK;
	}
	*s = load_scale(t->scales + (__u64)row * sizeof(struct drm_npu_scale));
	return fw_scale_valid(*s) ? DRM_NPU_STATUS_OK : DRM_NPU_STATUS_BAD_QPARAM;
}

void fw_load_row(const struct fw_tensor *t, __u32 row, __s32 *dst)
{
	const __u8 *p = t->data + (__u64)row * t->d.stride;
	__u32 i, n = t->d.cols;

	switch (t->d.dtype) {
	case DRM_NPU_DTYPE_I4:
		for (i = 0; i < n; i += 2) {
			dst[i] = (__s32)((__s8)(p[i / 2] << 4) >> 4);
			dst[i + 1] = (__s32)((__s8)p[i / 2] >> 4);
		}
		break;
	case DRM_NPU_DTYPE_I8:
		for (i = 0; i < n; i++)
			dst[i] = (__s8)p[i];
		break;
	case DRM_NPU_DTYPE_I16:
		for (i = 0; i < n; i++)
			dst[i] = ((const __s16 *)p)[i];
		break;
	default:
		for (i = 0; i < n; i++)
			dst[i] = ((const __s32 *)p)[i];
		break;
	}
}

static __s64 type_max(__u8 dtype)
{
	switch (dtype) {
	case DRM_NPU_DTYPE_I8:
		return 127;
	case DRM_NPU_DTYPE_I16:
		return 32767;
	default:
		return FW_S32_MAX;
	}
}

static void store_row(const struct fw_exec *x, const struct fw_tensor *out, __u32 row,
		      const __s64 *v, struct drm_npu_scale m)
{
	const struct npu_fw_core *c = x->core;
	__u8 *p = out->data + (__u64)row * out->d.stride;
	__s64 q = type_max(out->d.dtype);
	__u32 i, n = out->d.cols;

	if (x->hooks->requant) {
		struct npu_fw_requant rq = {
			.v = v, .n = n, .mult = m.mult, .shift = m.shift, .qmax = q,
			.out_bits = out->d.dtype == DRM_NPU_DTYPE_I8 ? 8 :
				    out->d.dtype == DRM_NPU_DTYPE_I16 ? 16 : 32,
			.out = p,
		};

		if (!x->hooks->requant(c->hook_ctx, &rq))
			return;
	}
	for (i = 0; i < n; i++) {
		__s64 r = fw_clamp(fw_requant(v[i], m), -q, q);

		if (out->d.dtype == DRM_NPU_DTYPE_I8)
			p[i] = (__u8)(__s8)r;
		else if (out->d.dtype == DRM_NPU_DTYPE_I16)
			((__s16 *)p)[i] = (__s16)r;
		else
			((__s32 *)p)[i] = (__s32)r;
	}
}

/*
 * Write row @row of @out from v[i] * s. A SCALE_TENSOR output is requantized
 * to its fixed scale; a SCALE_ROW output gets the scale that maps the row's
 * largest magnitude to the type's largest value, stored beside the row.
 */
void fw_emit_row(const struct fw_exec *x, const struct fw_tensor *out, __u32 row, const __s64 *v,
		 struct drm_npu_scale s)
{
	struct drm_npu_scale one = { 1, 0 };
	__u64 amax = 0;
	__u32 i, n = out->d.cols;
	struct drm_npu_scale qs, ms;

	if (out->d.scale_mode == DRM_NPU_SCALE_TENSOR) {
		store_row(x, out, row, v, fw_scale_div(s, out->d.scale));
		return;
	}
	if (out->d.scale_mode == DRM_NPU_SCALE_NONE) {
		store_row(x, out, row, v, one);
		return;
	}
	if (!x->hooks->amax || x->hooks->amax(x->core->hook_ctx, v, n, &amax)) {
		amax = 0;
		for (i = 0; i < n; i++) {
			__u64 a = v[i] < 0 ? -(__u64)v[i] : (__u64)v[i];

			if (a > amax)
				amax = a;
		}
	}
	qs.mult = (__s32)type_max(out->d.dtype);
	qs.shift = 0;
	if (amax == 0) {
		store_row(x, out, row, v, one);
		store_scale(out->scales + (__u64)row * sizeof(struct drm_npu_scale),
			    fw_scale_storable(fw_scale_norm(s.mult, s.shift)));
		return;
	}
	ms = fw_scale_norm(amax, 0);
	store_row(x, out, row, v, fw_scale_div(qs, ms));
	store_scale(out->scales + (__u64)row * sizeof(struct drm_npu_scale),
		    fw_scale_storable(fw_scale_mul(s, fw_scale_div(ms, qs))));
}

/* The position of row 0: immediate, or read from memory as the op runs. */
__u32 fw_read_pos(const struct fw_op *o)
{
	const __u8 *p = o->pos_ptr;

	if (!p)
		return o->op.pos.pos;
	return (__u32)p[0] | (__u32)p[1] << 8 | (__u32)p[2] << 16 | (__u32)p[3] << 24;
}
