// SPDX-License-Identifier: MIT
/*
 * seedgen OUT_DIR: writes the generated seed corpora of the fuzz harnesses
 *	OUT_DIR/fuzz_cmdstream/	valid command streams (fuzz_cmdstream.h
 *				format): every op, alone and together,
 *				and the block formats of GGUF types
 *	OUT_DIR/fuzz_model/	a tiny llama2.c checkpoint (shared and
 *				separate classifier), truncated headers, a
 *				512-token tokenizer; tiny GGUF models (F32,
 *				Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) with their
 *				tokenizer, and broken
 *				ones: aliased tensors, a key or tensor name
 *				given twice, many tensors, names and keys
 *				that need escaping, a long text to encode
 *	OUT_DIR/fuzz_vocab/	vocabulary-only GGUF files (SentencePiece,
 *				byte-level BPE with three pre-tokenizers)
 *				after their length, then a text with
 *				special tokens' texts (fuzz_vocab.c)
 * The directories must exist. Every stream is one the firmware runs to
 * DRM_NPU_STATUS_OK (NPU_FUZZ_VERBOSE=1 fuzz_cmdstream FILE shows it),
 * except where a name says otherwise.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../uapi/drm/npu_accel.h"
#include "fuzz_cmdstream.h"
#include "../gguf_build.h"
#include "../vocab_build.h"

#define A FUZZ_A_ADDR
#define B FUZZ_B_ADDR
#define C FUZZ_C_ADDR
/* Where per-row output scales go: far from any data the seeds use. */
#define SCALES (C + 0x8000)

#define I4 DRM_NPU_DTYPE_I4
#define I8 DRM_NPU_DTYPE_I8
#define I16 DRM_NPU_DTYPE_I16
#define I32 DRM_NPU_DTYPE_I32
#define NONE DRM_NPU_SCALE_NONE
#define TENSOR DRM_NPU_SCALE_TENSOR
#define ROW DRM_NPU_SCALE_ROW
#define GROUP DRM_NPU_SCALE_GROUP
#define BLOCK DRM_NPU_SCALE_BLOCK

static const char *out_dir;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void write_file(const char *sub, const char *name, const void *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, sub, name);
	f = fopen(path, "wb");
	if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f))
		die(path);
}

/* Bits of a code type (ABI 1.2), 0 for the others. */
static __u32 code_bits(__u8 dtype)
{
	static const __u8 bits[] = { 2, 3, 4, 5, 6, 8 };

	return dtype >= DRM_NPU_DTYPE_U2 && dtype <= DRM_NPU_DTYPE_U8 ?
	       bits[dtype - DRM_NPU_DTYPE_U2] : 0;
}

/*
 * A dense tensor; TENSOR, GROUP and BLOCK get a scale of 2^-7, ROW, GROUP
 * and BLOCK their scales' address.
 */
static struct drm_npu_tensor t(__u64 addr, __u32 rows, __u32 cols, __u8 dtype, __u8 sm,
			       __u64 scale_addr)
{
	struct drm_npu_tensor d;
	__u32 eb = dtype == I16 ? 2 : dtype == I32 ? 4 : 1;

	memset(&d, 0, sizeof(d));
	d.addr = addr;
	d.rows = rows;
	d.cols = cols;
	if (dtype == I4)
		d.stride = cols / 2;
	else if (code_bits(dtype))
		d.stride = (cols * code_bits(dtype) + 7) / 8;
	else
		d.stride = cols * eb;
	d.dtype = dtype;
	d.scale_mode = sm;
	if (sm == TENSOR || sm == GROUP || sm == BLOCK) {
		d.scale.mult = 1 << 30;
		d.scale.shift = 37;
	}
	if (sm == ROW || sm == GROUP || sm == BLOCK)
		d.scale_addr = scale_addr;
	return d;
}

static struct drm_npu_op op(__u16 opcode)
{
	struct drm_npu_op o;

	memset(&o, 0, sizeof(o));
	o.opcode = opcode;
	return o;
}

static struct drm_npu_op op_quantize(void)
{
	struct drm_npu_op o = op(DRM_NPU_OP_QUANTIZE);

	o.in[0] = t(A, 4, 64, I8, TENSOR, 0);
	o.out = t(B, 4, 64, I16, ROW, SCALES);
	return o;
}

/* Reads the per-row scales QUANTIZE wrote; in[1] broadcasts one row. */
static struct drm_npu_op op_add(void)
{
	struct drm_npu_op o = op(DRM_NPU_OP_ADD);

	o.in[0] = t(B, 4, 64, I16, ROW, SCALES);
	o.in[1] = t(A, 1, 64, I8, TENSOR, 0);
	o.out = t(C, 4, 64, I8, TENSOR, 0);
	return o;
}

static struct drm_npu_op op_mul(void)
{
	struct drm_npu_op o = op(DRM_NPU_OP_MUL);

	o.in[0] = t(A, 2, 64, I8, TENSOR, 0);
	o.in[1] = t(B, 2, 64, I32, TENSOR, 0);
	o.out = t(C, 2, 64, I16, ROW, SCALES);
	return o;
}

static struct drm_npu_op op_matmul(void)
{
	struct drm_npu_op o = op(DRM_NPU_OP_MATMUL);

	o.flags = DRM_NPU_OP_F_BIAS;
	o.in[0] = t(A, 4, 64, I8, TENSOR, 0);
	o.in[1] = t(B, 16, 64, I8, GROUP, C + 0x1000);
	o.in[2] = t(A + 0x4000, 1, 16, I32, TENSOR, 0);
	o.out = t(C, 4, 16, I16, ROW, C + 0x2000);
	o.matmul.group_size = 32;
	return o;
}

static struct drm_npu_op op_matmul_i4(void)
{
	struct drm_npu_op o = op(DRM_NPU_OP_MATMUL);

	o.in[0] = t(A, 2, 64, I16, TENSOR, 0);
	o.in[1] = t(B, 8, 64, I4, GROUP, C + 0x1000);
	o.out = t(C, 2, 8, I32, TENSOR, 0);
	o.matmul.group_size = 64;
	return o;
}

/* SCALE_BLOCK weights (ABI 1.2) as a GGUF type maps to them (docs/gguf.md). */
struct block_seed {
	const char *name;
	__u8 dtype, zero, flags;
	__u32 g, nb;
};

static const struct block_seed block_seeds[] = {
	{ "q4_k", DRM_NPU_DTYPE_U4, 0, DRM_NPU_BLOCK_F_MIN | DRM_NPU_BLOCK_F_SUB_S8, 32, 8 },
	{ "q5_k", DRM_NPU_DTYPE_U5, 0, DRM_NPU_BLOCK_F_MIN | DRM_NPU_BLOCK_F_SUB_S8, 32, 8 },
	{ "q6_k", DRM_NPU_DTYPE_U6, 32, DRM_NPU_BLOCK_F_SUB_S8, 16, 16 },
	{ "q3_k", DRM_NPU_DTYPE_U3, 4, DRM_NPU_BLOCK_F_SUB_S8, 16, 16 },
	{ "q2_k", DRM_NPU_DTYPE_U2, 0, DRM_NPU_BLOCK_F_MIN | DRM_NPU_BLOCK_F_SUB_U4, 16, 16 },
	{ "q4_1", DRM_NPU_DTYPE_U4, 0, DRM_NPU_BLOCK_F_MIN, 32, 1 },
	{ "q8_0", DRM_NPU_DTYPE_U8, 128, 0, 32, 1 },
};

static struct drm_npu_matmul_params block_params(const struct block_seed *s)
{
	struct drm_npu_matmul_params p;

	memset(&p, 0, sizeof(p));
	p.group_size = s->g;
	p.block_groups = (__u16)s->nb;
	p.zero = s->zero;
	p.block_flags = s->flags;
	return p;
}

static struct drm_npu_op op_matmul_block(const struct block_seed *s)
{
	struct drm_npu_op o = op(DRM_NPU_OP_MATMUL);

	o.flags = DRM_NPU_OP_F_BIAS;
	o.in[0] = t(A, 3, 512, I16, TENSOR, 0);
	o.in[1] = t(B, 8, 512, s->dtype, BLOCK, C + 0x1000);
	o.in[2] = t(A + 0x4000, 1, 8, I32, TENSOR, 0);
	o.out = t(C, 3, 8, I8, ROW, C + 0x2000);
	o.matmul = block_params(s);
	return o;
}

static struct drm_npu_op op_embedding_block(const struct block_seed *s)
{
	struct drm_npu_op o = op(DRM_NPU_OP_EMBEDDING);

	o.in[0] = t(B, 16, 256, s->dtype, BLOCK, C + 0x1000);
	o.in[1] = t(A, 4, 1, I32, NONE, 0);
	o.out = t(C, 4, 256, I16, ROW, C + 0x2000);
	o.embedding.table = block_params(s);
	return o;
}

static struct drm_npu_op op_norm(int layer)
{
	struct drm_npu_op o = op(layer ? DRM_NPU_OP_LAYERNORM : DRM_NPU_OP_RMSNORM);

	o.in[0] = t(A, 4, 64, I8, TENSOR, 0);
	o.in[1] = t(B, 1, 64, I16, TENSOR, 0);
	if (layer)
		o.in[2] = t(B + 0x1000, 1, 64, I8, TENSOR, 0);
	o.out = t(C, 4, 64, I8, ROW, SCALES);
	o.norm.eps.mult = 1 << 30;
	o.norm.eps.shift = 50;
	return o;
}

static struct drm_npu_op op_softmax(int pos_addr)
{
	struct drm_npu_op o = op(DRM_NPU_OP_SOFTMAX);

	o.flags = DRM_NPU_OP_F_CAUSAL;
	o.in[0] = t(A, 4, 32, I16, TENSOR, 0);
	o.out = t(C, 4, 32, I8, TENSOR, 0);
	if (pos_addr) {
		o.flags |= DRM_NPU_OP_F_POS_ADDR;
		o.pos.pos_addr = A + 0x8000;
	} else {
		o.pos.pos = 2;
	}
	o.pos.alpha.mult = 1 << 30;
	o.pos.alpha.shift = 30;
	return o;
}

static struct drm_npu_op op_unary(__u16 opcode)
{
	struct drm_npu_op o = op(opcode);

	if (opcode == DRM_NPU_OP_SILU) {
		o.in[0] = t(A, 2, 64, I8, TENSOR, 0);
		o.out = t(C, 2, 64, I16, ROW, SCALES);
	} else {
		o.in[0] = t(A, 2, 64, I16, TENSOR, 0);
		o.out = t(C, 2, 64, I8, TENSOR, 0);
	}
	return o;
}

static struct drm_npu_op op_rope(void)
{
	struct drm_npu_op o = op(DRM_NPU_OP_ROPE);

	o.in[0] = t(A, 2, 64, I16, TENSOR, 0);
	o.in[1] = t(B, 1, 8, I32, NONE, 0);
	o.out = t(C, 2, 64, I16, TENSOR, 0);
	o.pos.pos = 5;
	o.pos.n_heads = 4;
	o.pos.head_dim = 16;
	return o;
}

static struct drm_npu_op op_attention(void)
{
	struct drm_npu_op o = op(DRM_NPU_OP_ATTENTION);

	o.in[0] = t(A, 2, 64, I8, TENSOR, 0);
	o.in[1] = t(B, 8, 32, I8, TENSOR, 0);
	o.in[2] = t(B + 0x1000, 8, 32, I8, TENSOR, 0);
	o.out = t(C, 2, 64, I16, ROW, SCALES);
	o.pos.pos = 3;
	o.pos.n_heads = 4;
	o.pos.n_kv_heads = 2;
	o.pos.head_dim = 16;
	o.pos.alpha.mult = 1 << 30;
	o.pos.alpha.shift = 32;
	return o;
}

static struct drm_npu_op op_kv_append(void)
{
	struct drm_npu_op o = op(DRM_NPU_OP_KV_APPEND);

	o.in[0] = t(A, 2, 32, I8, TENSOR, 0);
	o.out = t(B + 0x2000, 8, 32, I8, ROW, SCALES);
	o.pos.pos = 4;
	return o;
}

static struct drm_npu_op op_embedding(void)
{
	struct drm_npu_op o = op(DRM_NPU_OP_EMBEDDING);

	o.in[0] = t(B, 16, 64, I8, TENSOR, 0);
	o.in[1] = t(A, 4, 1, I32, NONE, 0);
	o.out = t(C, 4, 64, I16, TENSOR, 0);
	return o;
}

static struct drm_npu_op op_argmax(void)
{
	struct drm_npu_op o = op(DRM_NPU_OP_ARGMAX);

	o.in[0] = t(A, 4, 64, I8, NONE, 0);
	o.out = t(C, 4, 1, I32, NONE, 0);
	return o;
}

/* prefix + header + ops (+ tail): one fuzz_cmdstream input. */
static void stream(const char *name, const __u8 prefix[FUZZ_PREFIX],
		   const struct drm_npu_op *ops, __u32 n, const __u8 *tail, size_t tail_len)
{
	struct drm_npu_cmd_header h;
	size_t size = FUZZ_PREFIX + sizeof(h) + (size_t)n * sizeof(*ops) + tail_len;
	__u8 *p = malloc(size);

	if (!p)
		die("malloc");
	memset(&h, 0, sizeof(h));
	h.magic = DRM_NPU_CMD_MAGIC;
	h.version_major = DRM_NPU_ABI_MAJOR;
	h.version_minor = DRM_NPU_ABI_MINOR;
	h.op_count = n;
	h.op_size = sizeof(*ops);
	memcpy(p, prefix, FUZZ_PREFIX);
	memcpy(p + FUZZ_PREFIX, &h, sizeof(h));
	memcpy(p + FUZZ_PREFIX + sizeof(h), ops, (size_t)n * sizeof(*ops));
	if (tail_len)
		memcpy(p + FUZZ_PREFIX + sizeof(h) + (size_t)n * sizeof(*ops), tail, tail_len);
	write_file("fuzz_cmdstream", name, p, size);
	free(p);
}

static void cmdstream_seeds(void)
{
	static const __u8 raw[FUZZ_PREFIX] = { 0, 0, 0, 0 };
	struct drm_npu_op all[32], two[2];
	__u8 prefix[FUZZ_PREFIX], tail[1024];
	__u32 n = 0, i;

	all[n++] = op(DRM_NPU_OP_NOP);
	stream("nop.bin", raw, all, 1, NULL, 0);
	/* PATCH with nothing after the prefix: the harness pads one zero op (NOP). */
	write_file("fuzz_cmdstream", "nop-patched.bin", (const __u8[]){ FUZZ_F_PATCH, 0, 0, 0 },
		   FUZZ_PREFIX);

	two[0] = op_quantize();
	two[1] = op_add();
	stream("quantize-add.bin", raw, two, 2, NULL, 0);
	two[0] = op_matmul();
	stream("matmul.bin", raw, two, 1, NULL, 0);
	/* Scratch of exactly what MATMUL declares: k * 4 + n * 8 + 8 = 392 bytes. */
	memcpy(prefix, (const __u8[]){ FUZZ_F_SMALL_SCRATCH, 0, 392 / 8 - 1, 0 }, FUZZ_PREFIX);
	stream("matmul-small-scratch.bin", prefix, two, 1, NULL, 0);
	two[0] = op_matmul_i4();
	stream("matmul-i4.bin", raw, two, 1, NULL, 0);
	two[0] = op_norm(0);
	stream("rmsnorm.bin", raw, two, 1, NULL, 0);
	two[0] = op_norm(1);
	stream("layernorm.bin", raw, two, 1, NULL, 0);
	two[0] = op_softmax(0);
	stream("softmax-causal.bin", raw, two, 1, NULL, 0);
	two[0] = op_softmax(1);
	stream("softmax-pos-addr.bin", raw, two, 1, NULL, 0);
	two[0] = op_unary(DRM_NPU_OP_SILU);
	stream("silu.bin", raw, two, 1, NULL, 0);
	two[0] = op_unary(DRM_NPU_OP_GELU);
	stream("gelu.bin", raw, two, 1, NULL, 0);
	two[0] = op_mul();
	stream("mul.bin", raw, two, 1, NULL, 0);
	two[0] = op_rope();
	stream("rope.bin", raw, two, 1, NULL, 0);
	two[0] = op_attention();
	stream("attention.bin", raw, two, 1, NULL, 0);
	two[0] = op_kv_append();
	stream("kv-append.bin", raw, two, 1, NULL, 0);
	two[0] = op_embedding();
	stream("embedding.bin", raw, two, 1, NULL, 0);
	two[0] = op_argmax();
	stream("argmax.bin", raw, two, 1, NULL, 0);
	/*
	 * Each GGUF type's block format (ABI 1.2): MATMUL on zeroed memory,
	 * EMBEDDING on patterned bytes; once with a pattern whose records hold
	 * a binary16 infinity, so the op stops (BAD_QPARAM).
	 */
	memcpy(prefix, (const __u8[]){ FUZZ_F_PATTERN, 0, 0, 0 }, FUZZ_PREFIX);
	for (i = 0; i < sizeof(block_seeds) / sizeof(block_seeds[0]); i++) {
		char name[64];

		two[0] = op_matmul_block(&block_seeds[i]);
		snprintf(name, sizeof(name), "matmul-block-%s.bin", block_seeds[i].name);
		stream(name, raw, two, 1, NULL, 0);
		two[0] = op_embedding_block(&block_seeds[i]);
		snprintf(name, sizeof(name), "embedding-block-%s.bin", block_seeds[i].name);
		stream(name, prefix, two, 1, NULL, 0);
	}
	two[0] = op_matmul_block(&block_seeds[6]);
	stream("matmul-block-q8_0-nonfinite.bin", prefix, two, 1, NULL, 0);

	/* Every op in one stream. */
	all[n++] = op_quantize();
	all[n++] = op_add();
	all[n++] = op_matmul();
	all[n++] = op_matmul_i4();
	all[n++] = op_norm(0);
	all[n++] = op_norm(1);
	all[n++] = op_softmax(0);
	all[n++] = op_softmax(1);
	all[n++] = op_unary(DRM_NPU_OP_SILU);
	all[n++] = op_unary(DRM_NPU_OP_GELU);
	all[n++] = op_mul();
	all[n++] = op_rope();
	all[n++] = op_attention();
	all[n++] = op_kv_append();
	all[n++] = op_embedding();
	all[n++] = op_argmax();
	all[n++] = op_matmul_block(&block_seeds[0]);
	all[n++] = op_embedding_block(&block_seeds[2]);
	stream("all-ops.bin", raw, all, n, NULL, 0);
	/* The same patched, with B and C patterned and A from a tail of small values. */
	for (i = 0; i < sizeof(tail); i++)
		tail[i] = (__u8)((i * 37 + 11) % 9);
	/* EMBEDDING's token ids: four I32 at A. */
	memcpy(tail, (const __s32[]){ 1, 5, 9, 15 }, 16);
	memcpy(prefix, (const __u8[]){ FUZZ_F_PATCH | FUZZ_F_PATTERN, (__u8)(n - 1), 0, 0 },
	       FUZZ_PREFIX);
	stream("all-ops-patched-data.bin", prefix, all, n, tail, sizeof(tail));
	/* Cancelled at the fourth op of the run pass. */
	memcpy(prefix, (const __u8[]){ FUZZ_F_CANCEL, 3 << 5, 0, 0 }, FUZZ_PREFIX);
	stream("all-ops-cancel.bin", prefix, all, n, NULL, 0);

	/*
	 * A stream that rewrites itself: op 0 writes 256 zero bytes over op 1
	 * (validated as GELU, then run as a NOP). It needs FUZZ_F_RW_STREAM.
	 */
	two[0] = op(DRM_NPU_OP_QUANTIZE);
	two[0].in[0] = t(A, 1, 256, I8, TENSOR, 0);
	two[0].out = t(FUZZ_STREAM_ADDR + sizeof(struct drm_npu_cmd_header) + sizeof(two[0]),
		       1, 256, I8, TENSOR, 0);
	two[1] = op_unary(DRM_NPU_OP_GELU);
	memcpy(prefix, (const __u8[]){ FUZZ_F_RW_STREAM, 0, 0, 0 }, FUZZ_PREFIX);
	stream("self-rewrite.bin", prefix, two, 2, NULL, 0);
}

/* ---- models ---------------------------------------------------------- */

struct cfg {
	int32_t dim, hidden, layers, heads, kv_heads, vocab, seq;
};

static size_t model_floats(const struct cfg *c, int shared)
{
	size_t d = (size_t)c->dim, h = (size_t)c->hidden, l = (size_t)c->layers;
	size_t kv = d * (size_t)c->kv_heads / (size_t)c->heads, hs = d / (size_t)c->heads;

	return (size_t)c->vocab * d + l * d + l * d * d + 2 * l * kv * d + l * d * d + l * d +
	       3 * l * h * d + d + (size_t)c->seq * hs + (shared ? 0 : (size_t)c->vocab * d);
}

static void checkpoint(const char *name, const struct cfg *c, int shared, size_t keep)
{
	int32_t hdr[7] = { c->dim, c->hidden, c->layers, c->heads, c->kv_heads,
			   shared ? c->vocab : -c->vocab, c->seq };
	size_t n = model_floats(c, shared), size = sizeof(hdr) + n * sizeof(float), i;
	__u8 *p = malloc(size);

	if (!p)
		die("malloc");
	memcpy(p, hdr, sizeof(hdr));
	for (i = 0; i < n; i++) {
		float v = (float)((int)(i % 13) - 6) * 0.01f;

		memcpy(p + sizeof(hdr) + i * sizeof(float), &v, sizeof(v));
	}
	write_file("fuzz_model", name, p, keep && keep < size ? keep : size);
	free(p);
}

static void put(__u8 **p, const void *src, size_t n)
{
	memcpy(*p, src, n);
	*p += n;
}

/* A llama2.c tokenizer of exactly 512 pieces (what fuzz_model loads). */
static void tokenizer(void)
{
	static const char *const words[] = {
		" ", "a", "e", "h", "n", "o", "s", "t", " t", "th", "he", " th", "the",
		" the", "an", " a", "on", "in", "er", "es", "st", "nd", " and", "Once",
		" upon", " time", "\xc3\xa9", "\xe2\x82\xac",
	};
	int32_t max_len = 8, i;
	__u8 *buf = malloc(4 + 512 * (8 + 8)), *p = buf;

	if (!buf)
		die("malloc");
	put(&p, &max_len, 4);
	for (i = 0; i < 512; i++) {
		char piece[16];
		float score = i < 259 ? 0.0f : -(float)i;
		int32_t n;

		if (i == 0)
			snprintf(piece, sizeof(piece), "<unk>");
		else if (i == 1)
			snprintf(piece, sizeof(piece), "\n<s>\n");
		else if (i == 2)
			snprintf(piece, sizeof(piece), "\n</s>\n");
		else if (i < 259)
			snprintf(piece, sizeof(piece), "<0x%02X>", i - 3);
		else if (i - 259 < (int32_t)(sizeof(words) / sizeof(words[0])))
			snprintf(piece, sizeof(piece), "%s", words[i - 259]);
		else
			snprintf(piece, sizeof(piece), "x%d", i);
		n = (int32_t)strlen(piece);
		put(&p, &score, 4);
		put(&p, &n, 4);
		put(&p, piece, (size_t)n);
	}
	write_file("fuzz_model", "tokenizer-512.bin", buf, (size_t)(p - buf));
	free(buf);
}

/* ---- GGUF models ------------------------------------------------------ */

struct gg {
	struct gguf_build b;
	/* The model tensors' data, to fill in each one's type. */
	struct { uint64_t at, bytes; uint32_t type; } t[11];
	int nt;
};

#define GG_F32 0
#define GG_Q4_0 2
#define GG_Q4_1 3
#define GG_Q5_0 6
#define GG_Q5_1 7
#define GG_Q8_0 8
#define GG_VOCAB 288

/*
 * The blocks of 32 of the quantized types seeded, their bytes and where
 * their binary16 d and m are (K-quant models do not fit fuzz_model's
 * 64 KiB: its mutations reach their type ids).
 */
static const struct {
	uint32_t type, bytes, m_at;	/* m_at 0: no m */
} gg_q[] = {
	{ GG_Q4_0, 18, 0 }, { GG_Q4_1, 20, 2 }, { GG_Q5_0, 22, 0 }, { GG_Q5_1, 24, 2 },
	{ GG_Q8_0, 34, 0 },
};

/* Bytes of a block of 32 of @type; 0 for F32. */
static uint32_t gg_block(uint32_t type)
{
	size_t i;

	for (i = 0; i < sizeof(gg_q) / sizeof(gg_q[0]); i++)
		if (gg_q[i].type == type)
			return gg_q[i].bytes;
	return 0;
}

/* A GGUF llama model of one layer and what is wrong with it, if anything. */
struct gguf_seed {
	const char *name;
	uint32_t dim, type;	/* matrices' type; norms are F32 */
	int alias;		/* every tensor's data at offset 0 */
	int dup_key;		/* llama.block_count twice */
	uint32_t extra;		/* extra 1-element tensors "x0000"..., all at offset 0 */
	int extra_dup;		/* ... the last named as the first */
	const char *odd_name;	/* one more tensor, so named */
	size_t odd_len;
	const char *odd_key;	/* a key given twice, so named */
	size_t odd_key_len;
	uint64_t claim_tensors;	/* the tensor count field, when not 0 */
	size_t text_len;	/* a general.description of this many bytes of text */
};

static const char *const gg_words[] = {
	"\xe2\x96\x81", "a", "e", "h", "n", "o", "s", "t", "\xe2\x96\x81t", "th", "he",
	"\xe2\x96\x81th", "the", "\xe2\x96\x81the", "an", "\xe2\x96\x81" "a", "on", "in", "er", "es",
	"st", "nd", "\xe2\x96\x81" "and", "Once", "\xe2\x96\x81upon", "\xe2\x96\x81time", "\xc3\xa9",
	"\xe2\x82\xac", "ti",
};

/* The tokenizer keys: GG_VOCAB pieces (byte tokens 3..258, then words). */
static void gg_tokenizer(struct gg *g)
{
	int32_t i;

	gguf_kv_str(&g->b, "tokenizer.ggml.model", "llama", 5);
	gguf_str(&g->b, "tokenizer.ggml.tokens", 21);
	gguf_u32(&g->b, 9);	/* ARRAY */
	gguf_u32(&g->b, 8);	/* of STRING */
	gguf_u64(&g->b, GG_VOCAB);
	for (i = 0; i < GG_VOCAB; i++) {
		char piece[16];

		if (i < 3)
			snprintf(piece, sizeof(piece), "%s", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
		else if (i < 259)
			snprintf(piece, sizeof(piece), "<0x%02X>", i - 3);
		else
			snprintf(piece, sizeof(piece), "%s", gg_words[i - 259]);
		gguf_str(&g->b, piece, strlen(piece));
	}
	gguf_str(&g->b, "tokenizer.ggml.scores", 21);
	gguf_u32(&g->b, 9);	/* ARRAY */
	gguf_u32(&g->b, 6);	/* of F32 */
	gguf_u64(&g->b, GG_VOCAB);
	for (i = 0; i < GG_VOCAB; i++) {
		float score = i < 259 ? 0.0f : -(float)(i - 259);

		gguf_put(&g->b, &score, 4);
	}
}

static uint64_t gg_bytes(uint32_t type, uint64_t n)
{
	return gg_block(type) ? n / 32 * gg_block(type) : n * 4;
}

/* One descriptor at *off (or 0); *off moves past its data, aligned. */
static void gg_tensor(struct gg *g, const char *name, size_t len, uint64_t ne0, uint64_t ne1,
		      uint32_t type, int alias, uint64_t *off, uint64_t *end)
{
	uint64_t b = gg_bytes(type, ne0 * (ne1 ? ne1 : 1)), at = alias ? 0 : *off;

	gguf_str(&g->b, name, len);
	gguf_u32(&g->b, ne1 ? 2 : 1);
	gguf_u64(&g->b, ne0);
	if (ne1)
		gguf_u64(&g->b, ne1);
	gguf_u32(&g->b, type);
	gguf_u64(&g->b, at);
	if (g->nt < 11)
		g->t[g->nt++] = (typeof(g->t[0])){ at, b, type };
	if (at + b > *end)
		*end = at + b;
	*off = (*off + b + 31) & ~31ull;
}

/* One tensor's data: small weights in its type's layout (Q blocks: d = m = 2^-7). */
static void gg_fill(__u8 *p, uint64_t bytes, uint32_t type)
{
	uint64_t bs = gg_block(type), i;
	uint32_t m_at = 0;
	size_t k;

	for (k = 0; k < sizeof(gg_q) / sizeof(gg_q[0]); k++)
		if (gg_q[k].type == type)
			m_at = gg_q[k].m_at;
	for (i = 0; i < bytes; i++) {
		if (type == GG_F32 && i % 4 == 0) {
			float v = (float)((int)(i / 4 % 13) - 6) * 0.01f;

			memcpy(p + i, &v, 4);
		} else if (type != GG_F32) {
			uint64_t at = i % bs;
			int half = at < 2 || (m_at && at >= m_at && at < m_at + 2u);

			/* f16 2^-7 is 0x2000, little-endian */
			p[i] = half ? (at % 2 ? 0x20 : 0x00) : (__u8)(i * 37 % 251);
		}
	}
}

static void gguf(const struct gguf_seed *sd)
{
	static const char *const mats[] = { "attn_q", "attn_k", "attn_v", "attn_output",
					    "ffn_gate", "ffn_down", "ffn_up" };
	uint32_t d = sd->dim, h = 32, i;
	uint64_t off = 0, end = 0, n_tensors = 11 + sd->extra + !!sd->odd_name;
	struct gg g = { 0 };
	char name[64];
	__u8 *data;

	gguf_put(&g.b, "GGUF", 4);
	gguf_u32(&g.b, 3);
	gguf_u64(&g.b, sd->claim_tensors ? sd->claim_tensors : n_tensors);
	gguf_u64(&g.b, 11 + !!sd->dup_key + 2 * !!sd->odd_key + !!sd->text_len);
	gguf_kv_str(&g.b, "general.architecture", "llama", 5);
	gguf_kv_u32(&g.b, "llama.context_length", 20, 16);
	gguf_kv_u32(&g.b, "llama.embedding_length", 22, d);
	gguf_kv_u32(&g.b, "llama.block_count", 17, 1);
	gguf_kv_u32(&g.b, "llama.feed_forward_length", 25, h);
	gguf_kv_u32(&g.b, "llama.attention.head_count", 26, 2);
	gguf_kv_u32(&g.b, "tokenizer.ggml.bos_token_id", 27, 1);
	gguf_kv_u32(&g.b, "tokenizer.ggml.eos_token_id", 27, 2);
	gg_tokenizer(&g);
	if (sd->dup_key)
		gguf_kv_u32(&g.b, "llama.block_count", 17, 1);
	if (sd->odd_key) {
		gguf_kv_u32(&g.b, sd->odd_key, sd->odd_key_len, 0);
		gguf_kv_u32(&g.b, sd->odd_key, sd->odd_key_len, 1);
	}
	if (sd->text_len) {
		char *text = malloc(sd->text_len);
		size_t k = 0;

		if (!text)
			die("malloc");
		while (k < sd->text_len) {
			static const char story[] = "Once upon a time, the \xc3\xa9l\xc3\xa8ve and "
				"the cat saw 3 \xe2\x82\xac in the sun; then they ate them. ";
			size_t l = sizeof(story) - 1 < sd->text_len - k ? sizeof(story) - 1 :
				   sd->text_len - k;

			memcpy(text + k, story, l);
			k += l;
		}
		gguf_kv_str(&g.b, "general.description", text, sd->text_len);
		free(text);
	}
	gg_tensor(&g, "token_embd.weight", 17, d, GG_VOCAB, sd->type, sd->alias, &off, &end);
	gg_tensor(&g, "output_norm.weight", 18, d, 0, GG_F32, sd->alias, &off, &end);
	snprintf(name, sizeof(name), "blk.0.attn_norm.weight");
	gg_tensor(&g, name, strlen(name), d, 0, GG_F32, sd->alias, &off, &end);
	snprintf(name, sizeof(name), "blk.0.ffn_norm.weight");
	gg_tensor(&g, name, strlen(name), d, 0, GG_F32, sd->alias, &off, &end);
	for (i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "blk.0.%s.weight", mats[i]);
		gg_tensor(&g, name, strlen(name), i == 5 ? h : d, i == 4 || i == 6 ? h : d,
			  sd->type, sd->alias, &off, &end);
	}
	for (i = 0; i < sd->extra; i++) {
		snprintf(name, sizeof(name), "x%04u", sd->extra_dup && i == sd->extra - 1 ? 0 : i);
		gg_tensor(&g, name, strlen(name), 1, 0, GG_F32, 1, &off, &end);
	}
	if (sd->odd_name)
		gg_tensor(&g, sd->odd_name, sd->odd_len, 1, 0, GG_F32, 0, &off, &end);
	data = calloc(1, (size_t)end + 32);
	if (!data)
		die("calloc");
	gguf_put(&g.b, data, (32 - g.b.n % 32) % 32);
	for (i = 0; i < (uint32_t)g.nt; i++)
		gg_fill(data + g.t[i].at, g.t[i].bytes, g.t[i].type);
	gguf_put(&g.b, data, (size_t)end);
	if (g.b.n > 65536) {
		fprintf(stderr, "seedgen: %s is %zu bytes, over fuzz_model's 65536\n", sd->name, g.b.n);
		exit(1);
	}
	write_file("fuzz_model", sd->name, g.b.p, g.b.n);
	free(data);
	free(g.b.p);
}

static void gguf_seeds(void)
{
	static const char esc[] = "\n\x1b[31m\"\\%s";
	char long_name[4096];
	size_t i;
	const struct gguf_seed seeds[] = {
		{ .name = "gguf-f32.gguf", .dim = 16, .type = GG_F32 },
		{ .name = "gguf-q8_0.gguf", .dim = 32, .type = GG_Q8_0 },
		{ .name = "gguf-q4_0.gguf", .dim = 32, .type = GG_Q4_0 },
		{ .name = "gguf-q4_1.gguf", .dim = 32, .type = GG_Q4_1 },
		{ .name = "gguf-q5_0.gguf", .dim = 32, .type = GG_Q5_0 },
		{ .name = "gguf-q5_1.gguf", .dim = 32, .type = GG_Q5_1 },
		{ .name = "gguf-aliased.gguf", .dim = 32, .type = GG_Q8_0, .alias = 1 },
		{ .name = "gguf-dup-key.gguf", .dim = 16, .type = GG_F32, .dup_key = 1 },
		{ .name = "gguf-dup-tensor.gguf", .dim = 32, .type = GG_Q4_0, .odd_name = "output_norm.weight",
		  .odd_len = 18 },
		{ .name = "gguf-many-tensors.gguf", .dim = 32, .type = GG_Q4_0, .extra = 1100,
		  .extra_dup = 1 },
		{ .name = "gguf-claims-65536-tensors.gguf", .dim = 32, .type = GG_Q4_0,
		  .claim_tensors = 65536 },
		{ .name = "gguf-escaped-name.gguf", .dim = 32, .type = GG_Q4_0, .odd_name = esc,
		  .odd_len = sizeof(esc) - 1 },
		{ .name = "gguf-escaped-key.gguf", .dim = 32, .type = GG_Q4_0, .odd_key = esc,
		  .odd_key_len = sizeof(esc) - 1 },
		{ .name = "gguf-long-name.gguf", .dim = 32, .type = GG_Q4_0, .odd_name = long_name,
		  .odd_len = sizeof(long_name) },
		{ .name = "gguf-long-prompt.gguf", .dim = 32, .type = GG_Q4_0, .text_len = 40000 },
	};

	for (i = 0; i < sizeof(long_name); i++)
		long_name[i] = (char)(i % 3 ? 'N' : i % 256);
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		gguf(&seeds[i]);
}

static void model_seeds(void)
{
	static const struct cfg tiny = { 8, 16, 1, 2, 1, 32, 4 };

	checkpoint("model-tiny-shared.bin", &tiny, 1, 0);
	checkpoint("model-tiny-cls.bin", &tiny, 0, 0);
	checkpoint("model-header-only.bin", &tiny, 1, 28);
	checkpoint("model-truncated-header.bin", &tiny, 1, 16);
	tokenizer();
	gguf_seeds();
}

/* ---- GGUF vocabularies: the file's length, the file, then text ---------- */

static void vocab_seed(const char *name, const struct vb *v, const char *text)
{
	struct gguf_build b;
	uint32_t n;

	vb_write(v, &b);
	n = (uint32_t)b.n;
	gguf_put(&b, text, strlen(text));
	memmove(b.p + 4, b.p, b.n);
	b.n += 4;
	memcpy(b.p, &n, 4);
	write_file("fuzz_vocab", name, b.p, b.n);
	free(b.p);
}

static void vocab_seeds(void)
{
	static const char text[] = "<|im_start|>user\nOnce upon a time, the \xc3\xa9l\xc3\xa8ve "
		"and <tool> saw \xe2\x82\xac 3\x01 aaaaaaaa  in  the end<|im_end|></s>";
	static struct vb v;

	vb_spm(&v);
	vocab_seed("spm.bin", &v, text);
	vb_gpt2(&v, "gpt-2");
	vocab_seed("gpt2.bin", &v, text);
	vb_gpt2(&v, "qwen2");
	vocab_seed("gpt2-qwen2.bin", &v, text);
	vb_gpt2(&v, "llama-bpe");
	vocab_seed("gpt2-llama-bpe.bin", &v, text);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s OUT_DIR (with OUT_DIR/fuzz_cmdstream, "
			"OUT_DIR/fuzz_model and OUT_DIR/fuzz_vocab)\n", argv[0]);
		return 2;
	}
	out_dir = argv[1];
	cmdstream_seeds();
	model_seeds();
	vocab_seeds();
	return 0;
}
