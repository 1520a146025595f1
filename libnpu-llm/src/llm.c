// SPDX-License-Identifier: MIT
/*
 * The public API's objects: a model (its file's weights on the host, its
 * tokenizer, and the weights on a device) and its contexts (a forward
 * pass on the device, or the float reference, at a position).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "llm_internal.h"

struct npu_llm_model {
	struct npu_model host;
	struct npu_tokenizer tok;
	struct llm_weights *w;	/* NULL: the float reference only */
	/* The same weights on further devices (npu_llm_model_attach). */
	struct llm_weights *attached[NPU_LLM_MAX_DEVICES - 1];
	int n_attached;
	int bits, group;	/* @w's quantization, for the devices attached */
	struct npu_llm_model_params p;
	char *name, *tok_path;
	char tok_note[512];	/* why a tokenizer beside the model was passed over */
	char types[512];	/* a GGUF file's tensors per type */
	char notes[768];	/* the weights' notes after why native was not used, or "" */
	char arch[256];		/* the architecture in a line */
	const char *weights;
	enum npu_llm_tokenizer_source tok_source;
	double load_s;
	int floats_pending;	/* host's native matrices have no floats yet */
};

/*
 * The host model's floats in full: a GGUF file's native matrices get
 * theirs only when something reads them (the float reference, w8 or w4).
 */
static void host_floats(npu_llm_model *m)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

	pthread_mutex_lock(&lock);
	if (m->floats_pending)
		npu_model_native_floats(&m->host);
	m->floats_pending = 0;
	pthread_mutex_unlock(&lock);
}

struct npu_llm_ctx {
	npu_llm_model *m;
	struct npu_engine *dev;
	struct ref_engine *ref;
	int pos, positions;
	int trace;		/* npu_llm_trace() has layers to give */
	int evaluated;		/* logits and trace are of the last eval: none since a rewind */
	int burst;		/* npu_llm_ctx_set_burst() */
	float *logits;
	char error[192];
};

/*
 * GGUF files start with their magic; llama2.c checkpoints with a dim. A
 * file that cannot be read here is left to the loader, which says why.
 */
static int is_gguf(const char *path)
{
	char magic[4], why[64];
	uint64_t size;
	int fd = npu_model_open(path, &size, why, sizeof(why)), gguf;

	if (fd < 0)
		return 0;
	gguf = size >= 4 && !npu_model_read(fd, magic, 4, 0, path, why, sizeof(why)) &&
	       !memcmp(magic, "GGUF", 4);
	close(fd);
	return gguf;
}

/* "w8", "w4g32", ... into bits and group; 0 for NULL (the model's default). */
static int parse_weights(const char *s, int *bits, int *group, char *err, size_t len)
{
	*group = 0;
	if (!s)
		*bits = 0;
	else if (!strcmp(s, "native"))
		*bits = -1;
	else if (!strcmp(s, "w8"))
		*bits = 8;
	else if (!strcmp(s, "w4g32") || !strcmp(s, "w4g64") || !strcmp(s, "w4g128"))
		*bits = 4;
	else
		*bits = 0;
	if (s && !*bits) {
		snprintf(err, len, "weights '%.16s': want w8, w4g32, w4g64, w4g128 or native", s);
		return NPU_E_INVAL;
	}
	if (*bits == 4)
		*group = atoi(s + 3);
	return NPU_OK;
}

/* A regular file @name in @path's directory: its path in *@out (malloc'ed). */
static int beside(const char *path, const char *name, char **out)
{
	const char *slash = strrchr(path, '/');
	int dir = slash ? (int)(slash - path + 1) : 0;
	struct stat st;

	if (asprintf(out, "%.*s%s", dir, path, name) < 0) {
		*out = NULL;
		return 0;
	}
	if (!stat(*out, &st) && S_ISREG(st.st_mode))
		return 1;
	free(*out);
	*out = NULL;
	return 0;
}

/*
 * The tokenizer: the given file, the GGUF's own, or beside a checkpoint
 * tok<vocab>.bin (llama2.c's name for a trained vocabulary), then
 * tokenizer.bin, the first that loads; else bytes. Why a file beside the
 * model was passed over is kept for npu_llm_model_info().
 */
static int load_tokenizer(npu_llm_model *m, const char *path, int gguf, char *err, size_t len)
{
	int32_t vocab = m->host.cfg.vocab_size;
	char tok_vocab[32], why[512];
	const char *names[] = { tok_vocab, "tokenizer.bin" };
	int i, ret;

	if (m->p.tokenizer) {
		m->tok_source = NPU_LLM_TOKENIZER_GIVEN;
		m->tok_path = strdup(m->p.tokenizer);
		if (!m->tok_path)
			return NPU_E_NOMEM;
		return npu_tokenizer_load(m->p.tokenizer, vocab, &m->tok, err, len);
	}
	if (gguf) {
		m->tok_source = NPU_LLM_TOKENIZER_GGUF;
		return NPU_OK;
	}
	snprintf(tok_vocab, sizeof(tok_vocab), "tok%d.bin", vocab);
	for (i = 0; path && i < 2; i++) {
		if (!beside(path, names[i], &m->tok_path))
			continue;
		ret = npu_tokenizer_load(m->tok_path, vocab, &m->tok, why, sizeof(why));
		if (!ret) {
			m->tok_source = NPU_LLM_TOKENIZER_BESIDE;
			return NPU_OK;
		}
		if (ret == NPU_E_NOMEM)
			return ret;
		if (!m->tok_note[0])
			snprintf(m->tok_note, sizeof(m->tok_note), "%s", why);
		free(m->tok_path);
		m->tok_path = NULL;
	}
	m->tok_source = NPU_LLM_TOKENIZER_BYTES;
	return npu_tokenizer_bytes(vocab, &m->tok);
}

/* Load errors name their part: "model: PATH: why" or "tokenizer: PATH: why". */
static int load_host(npu_llm_model *m, const char *path, char *err, size_t len)
{
	int gguf = path && is_gguf(path), ret;
	char why[1024] = "";

	if (gguf) {
		ret = npu_model_load_gguf_native(path, &m->host, m->p.tokenizer ? NULL : &m->tok,
						 why, sizeof(why));
		m->floats_pending = !ret;
	}
	else if (path)
		ret = npu_model_load(path, &m->host, why, sizeof(why));
	else
		ret = npu_model_synthetic(m->p.synthetic ? m->p.synthetic : "tiny", m->p.seed,
					  &m->host, why, sizeof(why));
	if (!ret)
		ret = load_tokenizer(m, path, gguf, why, sizeof(why));
	if (ret)
		snprintf(err, len, "%s: %s", m->host.data ? "tokenizer" : "model",
			 why[0] ? why : npu_strerror(ret));
	return ret;
}

/* "Q4_K x 98, Q6_K x 15, F32 x 31": quantized types, most tensors first, then F16, F32. */
static void types_text(const struct npu_model *h, char *out, size_t len)
{
	uint32_t done[NPU_GGUF_NTYPES] = { 0 }, t, best;
	size_t n = 0;

	out[0] = 0;
	for (;;) {
		best = NPU_GGUF_NTYPES;
		for (t = NPU_GGUF_F16 + 1; t < NPU_GGUF_NTYPES; t++)
			if (h->types[t] && !done[t] && (best == NPU_GGUF_NTYPES ||
							h->types[t] > h->types[best]))
				best = t;
		if (best == NPU_GGUF_NTYPES)
			best = h->types[NPU_GGUF_F16] && !done[NPU_GGUF_F16] ? NPU_GGUF_F16 :
			       h->types[NPU_GGUF_F32] && !done[NPU_GGUF_F32] ? NPU_GGUF_F32 :
			       NPU_GGUF_NTYPES;
		if (best == NPU_GGUF_NTYPES || n >= len)
			return;
		done[best] = 1;
		n += (size_t)snprintf(out + n, len - n, "%s%s x %u", n ? ", " : "",
				      npu_gguf_type_name(best), h->types[best]);
	}
}

/* Every weight of the model (matrices, tables and gains): its layout's floats. */
static uint64_t weight_count(const struct npu_model_config *c)
{
	struct npu_model shape = { .cfg = *c };

	return npu_model_layout(&shape, 0);
}

/*
 * A file's own matrices are SCALE_BLOCK weights, which firmware of ABI 1.2
 * and later runs: 0 when @dev's is older (its minor in *@minor).
 */
static int runs_blocks(npu_device *dev, unsigned int *minor)
{
	struct npu_info info;

	if (npu_query(dev, &info))
		return 1;	/* it will say what is wrong when used */
	*minor = info.fw_abi_minor < info.abi_minor ? info.fw_abi_minor : info.abi_minor;
	return info.abi_major != 1 || info.fw_abi_major != 1 || *minor >= 2;
}

/* The weights on @dev as @m->p asks; @m->host and the tokenizer are loaded. */
static int model_setup(npu_llm_model *m, npu_device *dev, char *err, size_t err_len)
{
	unsigned int minor = 0;
	int bits, group, ret, old = 0;

	ret = parse_weights(m->p.weights, &bits, &group, err, err_len);
	if (ret)
		return ret;
	if (bits < 0 && !m->host.native) {
		snprintf(err, err_len, "weights native: the model has no quantized matrices");
		return NPU_E_INVAL;
	}
	if (dev && bits <= 0 && m->host.native && !runs_blocks(dev, &minor)) {
		if (bits < 0) {
			snprintf(err, err_len, "weights native: the device's firmware speaks ABI "
				 "1.%u; a GGUF file's quantized matrices need 1.2 (update npu.ko "
				 "or the firmware, or ask for w8)", minor);
			return NPU_E_UNSUPPORTED;
		}
		old = 1;
		bits = 8;
	}
	if (!bits)
		bits = m->host.native ? -1 : 8;
	m->weights = !dev ? "f32" : bits < 0 ? "native" : bits == 8 ? "w8" :
		     group == 32 ? "w4g32" : group == 64 ? "w4g64" : "w4g128";
	types_text(&m->host, m->types, sizeof(m->types));
	if (!dev || bits > 0)
		host_floats(m);
	if (!dev)
		return NPU_OK;
	m->bits = bits;
	m->group = group;
	ret = llm_weights_create(dev, &m->host, bits, group, m->p.progress, m->p.progress_user,
				 &m->w, err, err_len);
	if (!ret && old)
		snprintf(m->notes, sizeof(m->notes), "the device's firmware speaks ABI 1.%u, and a "
			 "GGUF file's quantized matrices need 1.2: requantized to w8%s%s", minor,
			 m->w->note[0] ? "\n" : "", m->w->note);
	return ret;
}

/*
 * The model's weights on @dev, and the load's end: the caller's params
 * forgotten (their strings are the caller's), or on failure the model freed
 * and @err naming the cause.
 */
/* "qwen2: 24 layers, 14 heads of 64 (2 KV), ..., RoPE base 1e+06 (YaRN x4 over 32768)" */
static void describe(const struct npu_model_config *c, char *buf, size_t len)
{
	static const char *const archs[] = { "llama", "qwen2", "qwen3", "gemma", "phi3" };
	static const char *const scaling[] = { "", "linear", "YaRN", "Llama 3 factors" };
	const struct npu_rope_params *r = &c->rope;
	size_t n;

	n = (size_t)snprintf(buf, len, "%s: %d layers, dim %d, %d heads of %d (%d KV), FFN %d, "
			     "RMSNorm eps %g, RoPE base %g", archs[c->arch], c->n_layers, c->dim,
			     c->n_heads, c->head_dim, c->n_kv_heads, c->hidden_dim,
			     (double)c->norm_eps, (double)r->base);
	if (n < len && r->scaling == NPU_ROPE_LLAMA3)
		n += (size_t)snprintf(buf + n, len - n, " (%s)", scaling[r->scaling]);
	else if (n < len && r->scaling != NPU_ROPE_NONE)
		n += (size_t)snprintf(buf + n, len - n, " (%s x%g over %d)", scaling[r->scaling],
				      1.0 / r->freq_scale, r->orig_ctx);
	if (n < len && c->qkv_bias)
		n += (size_t)snprintf(buf + n, len - n, ", Q/K/V biases");
	if (n < len && c->qk_norm)
		n += (size_t)snprintf(buf + n, len - n, ", Q/K head norms");
	if (n < len && c->ffn_gelu)
		n += (size_t)snprintf(buf + n, len - n, ", GELU gates");
	if (n < len && c->embed_scale != 1)
		n += (size_t)snprintf(buf + n, len - n, ", embedding x%g", (double)c->embed_scale);
	if (n < len && c->sliding_window)
		n += (size_t)snprintf(buf + n, len - n, ", sliding window %d", c->sliding_window);
	if (n < len)
		snprintf(buf + n, len - n, ", %s classifier", c->shared_classifier ? "tied" :
			 "own");
}

static int model_finish(npu_llm_model *m, npu_device *dev, double t0, int ret,
			npu_llm_model **out, char *err, size_t err_len)
{
	ret = ret ? ret : model_setup(m, dev, err, err_len);
	memset(&m->p, 0, sizeof(m->p));
	if (!ret)
		describe(&m->host.cfg, m->arch, sizeof(m->arch));
	if (ret) {
		if (!err[0])
			snprintf(err, err_len, "%s", npu_strerror(ret));
		npu_llm_model_free(m);
		return ret;
	}
	m->load_s = llm_now() - t0;
	*out = m;
	return NPU_OK;
}

int npu_llm_model_load(npu_device *dev, const char *path,
		       const struct npu_llm_model_params *params, npu_llm_model **out,
		       char *err, size_t err_len)
{
	double t0 = llm_now();
	npu_llm_model *m = calloc(1, sizeof(*m));
	int bits, group, ret;

	err[0] = 0;
	if (!m) {
		snprintf(err, err_len, "%s", npu_strerror(NPU_E_NOMEM));
		return NPU_E_NOMEM;
	}
	if (params)
		m->p = *params;
	/* A bad weights name before the file is read. */
	ret = parse_weights(m->p.weights, &bits, &group, err, err_len);
	if (!ret && path)
		m->name = strdup(path);
	else if (!ret && asprintf(&m->name, "synthetic %s",
				  m->p.synthetic ? m->p.synthetic : "tiny") < 0)
		m->name = NULL;
	if (!ret && !m->name)
		ret = NPU_E_NOMEM;
	ret = ret ? ret : load_host(m, path, err, err_len);
	return model_finish(m, dev, t0, ret, out, err, err_len);
}

int npu_llm_model_create(npu_device *dev, struct npu_model *host, struct npu_tokenizer *tok,
			 const struct npu_llm_model_params *params, npu_llm_model **out,
			 char *err, size_t err_len)
{
	double t0 = llm_now();
	npu_llm_model *m = calloc(1, sizeof(*m));
	int ret = NPU_OK;

	err[0] = 0;
	if (!m) {
		/* Taken over either way: freed here. */
		npu_model_free(host);
		if (tok)
			npu_tokenizer_free(tok);
		snprintf(err, err_len, "%s", npu_strerror(NPU_E_NOMEM));
		return NPU_E_NOMEM;
	}
	if (params)
		m->p = *params;
	m->host = *host;
	memset(host, 0, sizeof(*host));
	if (tok && tok->pieces) {
		m->tok = *tok;
		m->tok_source = NPU_LLM_TOKENIZER_GIVEN;
		m->tok_path = strdup("given");
		ret = m->tok_path ? NPU_OK : NPU_E_NOMEM;
	} else {
		if (tok)
			npu_tokenizer_free(tok);
		m->tok_source = NPU_LLM_TOKENIZER_BYTES;
		ret = npu_tokenizer_bytes(m->host.cfg.vocab_size, &m->tok);
	}
	if (tok)
		memset(tok, 0, sizeof(*tok));
	m->name = ret ? NULL : strdup("in memory");
	ret = ret ? ret : m->name ? NPU_OK : NPU_E_NOMEM;
	return model_finish(m, dev, t0, ret, out, err, err_len);
}

int npu_llm_model_attach(npu_llm_model *m, npu_device *dev, char *err, size_t err_len)
{
	struct llm_weights *w;
	unsigned int minor;
	int i, ret;

	err[0] = 0;
	if (!m->w || !dev) {
		snprintf(err, err_len, "attach: %s", !dev ? "no device" :
			 "the model runs the float reference, on no device");
		return NPU_E_INVAL;
	}
	for (i = -1; i < m->n_attached; i++) {
		if ((i < 0 ? m->w : m->attached[i])->dev == dev) {
			snprintf(err, err_len, "attach: the model is on that device already");
			return NPU_E_INVAL;
		}
	}
	if (m->n_attached == NPU_LLM_MAX_DEVICES - 1) {
		snprintf(err, err_len, "attach: the model is on %d devices, the most it may be",
			 NPU_LLM_MAX_DEVICES);
		return NPU_E_RANGE;
	}
	if (m->bits < 0 && !runs_blocks(dev, &minor)) {
		snprintf(err, err_len, "attach: the device's firmware speaks ABI 1.%u; the model's "
			 "native matrices need 1.2", minor);
		return NPU_E_UNSUPPORTED;
	}
	ret = llm_weights_create(dev, &m->host, m->bits, m->group, NULL, NULL, &w, err, err_len);
	if (ret)
		return ret;
	m->attached[m->n_attached++] = w;
	return NPU_OK;
}

void npu_llm_model_free(npu_llm_model *m)
{
	int i;

	if (!m)
		return;
	for (i = 0; i < m->n_attached; i++)
		llm_weights_destroy(m->attached[i]);
	llm_weights_destroy(m->w);
	npu_tokenizer_free(&m->tok);
	npu_model_free(&m->host);
	free(m->name);
	free(m->tok_path);
	free(m);
}

void npu_llm_model_info(const npu_llm_model *m, struct npu_llm_model_info *info)
{
	memset(info, 0, sizeof(*info));
	info->cfg = m->host.cfg;
	info->name = m->name;
	info->weights = m->weights;
	info->tokenizer_source = m->tok_source;
	info->tokenizer_note = m->tok_note;
	info->tokenizer = m->tok_path ? m->tok_path :
			  m->tok_source == NPU_LLM_TOKENIZER_GGUF ? "gguf" : "bytes";
	info->device_bytes = m->w ? m->w->bytes : 0;
	info->weight_bytes = m->w ? llm_weights_matrix_bytes(m->w) : 0;
	info->load_s = m->load_s;
	info->weight_count = weight_count(&m->host.cfg);
	info->weight_types = m->types;
	info->weight_note = m->notes[0] ? m->notes : m->w ? m->w->note : "";
	info->architecture = m->arch;
}

const struct npu_model *npu_llm_model_host(const npu_llm_model *m)
{
	host_floats((npu_llm_model *)m);	/* the caller's model is never const */
	return &m->host;
}

const struct npu_model_config *llm_model_cfg(const npu_llm_model *m)
{
	return &m->host.cfg;
}

const struct npu_tokenizer *npu_llm_model_tokenizer(const npu_llm_model *m)
{
	return &m->tok;
}

int npu_llm_tokenize(const npu_llm_model *m, const char *text, int bos, int32_t *tokens,
		     int32_t max, int32_t *n)
{
	/* As llama.cpp tokenizes a prompt: the vocabulary's BOS, special tokens' text parsed. */
	unsigned int flags = (bos ? NPU_TOKENIZE_ADD_SPECIAL : 0) |
			     (m->tok.vocab ? NPU_TOKENIZE_PARSE_SPECIAL : 0);
	int32_t all = 0;
	int ret = npu_tokenizer_tokenize(&m->tok, text, strlen(text), flags, tokens, max, &all);

	*n = all < max ? all : max;
	return !ret && all > max ? NPU_E_RANGE : ret;
}

const char *npu_llm_token_text(const npu_llm_model *m, int32_t prev, int32_t token,
			       char byte_buf[2])
{
	return npu_tokenizer_piece(&m->tok, prev, token, byte_buf);
}

/* The positions a context of the model may hold: its context, or its shorter sliding window. */
static int model_positions(const struct npu_model_config *c)
{
	return c->sliding_window && c->sliding_window < c->seq_len ? c->sliding_window :
	       c->seq_len;
}

/* The positions a context may hold with the weights @w (NULL: none on a device). */
static int size_on(const npu_llm_model *m, const struct llm_weights *w,
		   struct npu_llm_ctx_size *out)
{
	const struct npu_model_config *c = &m->host.cfg;
	uint32_t q = (uint32_t)(c->head_dim * c->n_heads);
	uint32_t kv = (uint32_t)(c->head_dim * c->n_kv_heads);
	/* A position's cache: a K and a V row of int16 and each row's 8-byte scale, per layer. */
	uint64_t row = (uint64_t)c->n_layers * 2 * (kv * 2ull + 8), rows, room;
	struct npu_memory mem;
	struct npu_info info;
	int ret;

	*out = (struct npu_llm_ctx_size){ .file = c->seq_len, .positions = model_positions(c) };
	out->window = out->positions < c->seq_len ? out->positions : 0;
	if (!w)
		return NPU_OK;
	ret = npu_query(w->dev, &info);
	ret = ret ? ret : npu_memory_usage(w->dev, &mem);
	ret = ret ? ret : npu_attention_rows(w->dev, (uint32_t)c->n_heads, q, kv, &rows);
	if (ret)
		return ret;
	out->attention = rows < INT32_MAX ? (int)rows : INT32_MAX;
	room = info.va_size > mem.buffers ? (info.va_size - mem.buffers) / row : 0;
	out->device = room < (uint64_t)out->attention ? (int)room : out->attention;
	out->positions = out->device < out->positions ? out->device : out->positions;
	return NPU_OK;
}

int npu_llm_ctx_size(const npu_llm_model *m, struct npu_llm_ctx_size *out)
{
	return size_on(m, m->w, out);
}

/* The weights on @dev: the model's own (@dev NULL) or attached; NULL when it is on no such. */
static struct llm_weights *weights_on(const npu_llm_model *m, const npu_device *dev)
{
	int i;

	if (!dev || (m->w && m->w->dev == dev))
		return m->w;
	for (i = 0; i < m->n_attached; i++)
		if (m->attached[i]->dev == dev)
			return m->attached[i];
	return NULL;
}

int npu_llm_ctx_create(npu_llm_model *m, const struct npu_llm_ctx_params *params,
		       npu_llm_ctx **out, char *err, size_t err_len)
{
	struct npu_llm_ctx_params d = { 0 };
	npu_llm_ctx *c = calloc(1, sizeof(*c));
	struct llm_weights *w;
	int ret;

	err[0] = 0;
	if (!c) {
		snprintf(err, err_len, "%s", npu_strerror(NPU_E_NOMEM));
		return NPU_E_NOMEM;
	}
	if (!params)
		params = &d;
	c->m = m;
	w = weights_on(m, params->device);
	c->trace = params->reference || !w || params->trace;
	c->logits = calloc((size_t)m->host.cfg.vocab_size, sizeof(*c->logits));
	ret = c->logits ? NPU_OK : NPU_E_NOMEM;
	if (!ret && params->device && !w) {
		snprintf(err, err_len, "the model is not on that device (npu_llm_model_attach)");
		ret = NPU_E_INVAL;
	} else if (!ret && (params->norm_act < NPU_LLM_NORM_AUTO ||
			    params->norm_act > NPU_LLM_NORM_INT16)) {
		snprintf(err, err_len, "norm_act %d: want NPU_LLM_NORM_AUTO, _INT8 or _INT16",
			 params->norm_act);
		ret = NPU_E_INVAL;
	} else if (!ret && (params->positions < 0 || params->positions > m->host.cfg.seq_len)) {
		snprintf(err, err_len, "positions %d: want 0 (the whole context) up to the "
			 "model's context, %d", params->positions, m->host.cfg.seq_len);
		ret = NPU_E_RANGE;
	} else if (!ret && params->positions > model_positions(&m->host.cfg)) {
		snprintf(err, err_len, "positions %d: the model attends over a sliding window "
			 "of %d, which the NPU does not mask: a context holds at most %d",
			 params->positions, m->host.cfg.sliding_window,
			 m->host.cfg.sliding_window);
		ret = NPU_E_RANGE;
	}
	if (!ret && w && !params->reference) {
		struct engine_opts o = { params->trace, params->profile, params->norm_act };
		struct npu_llm_ctx_size size = { .positions = params->positions };

		if (!params->positions)
			ret = size_on(m, w, &size);
		if (!ret && !size.positions) {
			snprintf(err, err_len, "the device has room for no position of the KV cache"
				 " (attention limit %d)", size.attention);
			ret = NPU_E_RANGE;
		}
		ret = ret ? ret : engine_create(w, &o, size.positions, &c->dev, err, err_len);
		c->positions = ret ? 0 : engine_positions(c->dev);
	} else if (!ret) {
		host_floats(m);
		ret = ref_create(&m->host, params->positions ? params->positions :
				 model_positions(&m->host.cfg), &c->ref);
		if (ret)
			snprintf(err, err_len, "float reference: %s", npu_strerror(ret));
		c->positions = ret ? 0 : ref_positions(c->ref);
	}
	if (ret) {
		if (!err[0])
			snprintf(err, err_len, "%s", npu_strerror(ret));
		npu_llm_ctx_free(c);
		return ret;
	}
	*out = c;
	return NPU_OK;
}

void npu_llm_ctx_free(npu_llm_ctx *c)
{
	if (!c)
		return;
	engine_destroy(c->dev);
	ref_destroy(c->ref);
	free(c->logits);
	free(c);
}

npu_llm_model *npu_llm_ctx_model(const npu_llm_ctx *c)
{
	return c->m;
}

int npu_llm_ctx_positions(const npu_llm_ctx *c)
{
	return c->positions;
}

int npu_llm_ctx_pos(const npu_llm_ctx *c)
{
	return c->pos;
}

int npu_llm_ctx_rewind(npu_llm_ctx *c, int pos)
{
	if (pos < 0 || pos > c->pos)
		return NPU_E_RANGE;
	c->pos = pos;
	c->evaluated = 0;
	return NPU_OK;
}

const char *npu_llm_ctx_error(const npu_llm_ctx *c)
{
	return c->error;
}

int npu_llm_ctx_set_priority(npu_llm_ctx *c, enum npu_priority prio)
{
	if ((unsigned int)prio > NPU_PRIO_HIGH)
		return NPU_E_INVAL;
	return c->dev ? engine_set_priority(c->dev, prio) : NPU_E_UNSUPPORTED;
}

void llm_ctx_error(npu_llm_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
}

int llm_ctx_traces(const npu_llm_ctx *c)
{
	return c->trace;
}

int npu_llm_ctx_set_burst(npu_llm_ctx *c, int tokens)
{
	if (tokens < 0 || tokens > NPU_LLM_BURST_MAX)
		return NPU_E_RANGE;
	if (!c->dev)
		return NPU_E_UNSUPPORTED;
	c->burst = tokens;
	return NPU_OK;
}

int llm_ctx_burst(const npu_llm_ctx *c, int *fixed)
{
	int max = c->dev ? engine_burst_max(c->dev) : 0;

	*fixed = c->burst != 0;
	return c->burst && c->burst < max ? c->burst : max;
}

int llm_ctx_greedy(npu_llm_ctx *c, int n, int32_t *tokens)
{
	int ret;

	c->error[0] = 0;
	if (!c->dev || !c->evaluated || n < 1 || n > c->positions - c->pos) {
		snprintf(c->error, sizeof(c->error), "%d greedy steps at position %d: %s", n,
			 c->pos, !c->dev ? "the context has no device" :
			 !c->evaluated ? "no logits to pick from" : "past the cache");
		return NPU_E_INVAL;
	}
	c->evaluated = 0;
	ret = engine_greedy(c->dev, c->pos, n, tokens, c->logits, c->error, sizeof(c->error));
	if (ret)
		return ret;
	c->pos += n;
	c->evaluated = 1;
	return NPU_OK;
}

int npu_llm_eval(npu_llm_ctx *c, const int32_t *tokens, int n)
{
	int i, ret = NPU_OK;

	c->error[0] = 0;
	if (n < 1) {
		snprintf(c->error, sizeof(c->error), "%d tokens: want 1 or more", n);
		return NPU_E_INVAL;
	}
	if (n > c->positions - c->pos) {
		snprintf(c->error, sizeof(c->error), "%d tokens at position %d: the cache holds %d",
			 n, c->pos, c->positions);
		return NPU_E_RANGE;
	}
	for (i = 0; i < n; i++) {
		if (tokens[i] < 0 || tokens[i] >= c->m->host.cfg.vocab_size) {
			snprintf(c->error, sizeof(c->error), "token %d: the vocabulary has %d",
				 tokens[i], c->m->host.cfg.vocab_size);
			return NPU_E_RANGE;
		}
	}
	/* What fails from here on may have run part of the batch. */
	c->evaluated = 0;
	if (c->dev)
		ret = engine_forward(c->dev, tokens, n, c->pos, c->logits, c->error,
				     sizeof(c->error));
	for (i = 0; !c->dev && i < n && !ret; i++)
		ret = ref_forward(c->ref, tokens[i], c->pos + i, c->logits);
	if (ret) {
		if (!c->error[0])
			snprintf(c->error, sizeof(c->error), "%s", npu_strerror(ret));
		return ret;
	}
	c->pos += n;
	c->evaluated = 1;
	return NPU_OK;
}

const float *npu_llm_logits(const npu_llm_ctx *c)
{
	return c->evaluated ? c->logits : NULL;
}

int npu_llm_trace(const npu_llm_ctx *c, int layer, float *out)
{
	if (layer < 0 || layer >= c->m->host.cfg.n_layers || !c->trace || !c->evaluated)
		return NPU_E_INVAL;
	if (c->dev)
		engine_trace(c->dev, layer, out);
	else
		memcpy(out, ref_trace(c->ref, layer), (size_t)c->m->host.cfg.dim * sizeof(*out));
	return NPU_OK;
}

void npu_llm_profile(const npu_llm_ctx *c, uint64_t ns[NPU_LLM_OPCODES],
		     uint64_t count[NPU_LLM_OPCODES])
{
	if (c->dev) {
		engine_profile(c->dev, ns, count);
		return;
	}
	memset(ns, 0, NPU_LLM_OPCODES * sizeof(*ns));
	memset(count, 0, NPU_LLM_OPCODES * sizeof(*count));
}

uint64_t npu_llm_ctx_device_bytes(const npu_llm_ctx *c)
{
	return c->dev ? engine_device_bytes(c->dev) : 0;
}
