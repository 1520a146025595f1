// SPDX-License-Identifier: MIT
/*
 * llama2.c checkpoints: a header of 7 int32 (dim, hidden_dim, n_layers,
 * n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means a
 * separate classifier follows), then float32 tensors in a fixed order.
 * Every field is checked before anything large is allocated, and the file
 * size must be exactly what the header implies. Also the helpers both
 * model loaders share: errors, quoting file bytes, opening and reading.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <npu/model.h>
#include "model_internal.h"

void npu_model_error(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/*
 * @n bytes of @s escaped into @out: '\' and @quote (when not 0) after a
 * '\', other than printable ASCII as \xNN, cut after @chars characters
 * with "..." (@out holds @chars + 4). Returns the characters written.
 */
static size_t escape(char *out, size_t chars, const void *s, size_t n, char quote)
{
	const unsigned char *c = s;
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char e[8];
		int el;

		if (c[i] == '\\' || (quote && c[i] == (unsigned char)quote))
			el = snprintf(e, sizeof(e), "\\%c", c[i]);
		else if (c[i] < 0x20 || c[i] >= 0x7f)
			el = snprintf(e, sizeof(e), "\\x%02x", c[i]);
		else
			el = snprintf(e, sizeof(e), "%c", c[i]);
		if (o + (size_t)el > chars) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, e, (size_t)el);
		o += (size_t)el;
	}
	out[o] = '\0';
	return o;
}

const char *npu_model_quote(char out[NPU_QUOTE_LEN], const void *s, size_t n)
{
	size_t o = escape(out + 1, NPU_QUOTE_CHARS, s, n, '"') + 1;

	out[0] = '"';
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

void npu_model_file_error(char *err, size_t len, const char *path, const char *fmt, ...)
{
	char p[NPU_PATH_CHARS + 4];
	va_list ap;
	size_t o;

	if (!err || !len)
		return;
	escape(p, NPU_PATH_CHARS, path, strlen(path), 0);
	snprintf(err, len, "%s: ", p);
	o = strlen(err);
	va_start(ap, fmt);
	vsnprintf(err + o, len - o, fmt, ap);
	va_end(ap);
}

/* Not a regular file: a FIFO or a device would block, or never end. */
static int not_regular(const char *path, mode_t mode, char *err, size_t len)
{
	npu_model_file_error(err, len, path, "not a regular file (a %s)",
			     S_ISFIFO(mode) ? "FIFO" : S_ISDIR(mode) ? "directory" :
			     S_ISCHR(mode) || S_ISBLK(mode) ? "device" : "socket");
	return NPU_E_FORMAT;
}

int npu_model_open(const char *path, uint64_t *size, char *err, size_t len)
{
	struct stat st;
	int fd;

	/* Looked at before it is opened: opening a device can act (a tape rewinds). */
	if (stat(path, &st)) {
		npu_model_file_error(err, len, path, "%s", strerror(errno));
		return NPU_E_IO;
	}
	if (!S_ISREG(st.st_mode))
		return not_regular(path, st.st_mode, err, len);
	/*
	 * And again once open: it may have been replaced since. O_NONBLOCK:
	 * opening a FIFO put there meanwhile must not wait for a writer.
	 */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st)) {
		npu_model_file_error(err, len, path, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return NPU_E_IO;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return not_regular(path, st.st_mode, err, len);
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

int npu_model_read(int fd, void *buf, size_t n, uint64_t off, const char *path, char *err,
		   size_t len)
{
	uint8_t *p = buf;

	while (n) {
		ssize_t got = pread(fd, p, n, (off_t)off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			npu_model_file_error(err, len, path, "reading byte %llu: %s",
					     (unsigned long long)off, strerror(errno));
			return NPU_E_IO;
		}
		if (!got) {
			npu_model_file_error(err, len, path,
					     "the file ends at byte %llu: it shrank while read",
					     (unsigned long long)off);
			return NPU_E_IO;
		}
		p += got;
		off += (uint64_t)got;
		n -= (size_t)got;
	}
	return NPU_OK;
}


int npu_model_check_config(struct npu_model_config *c, char *err, size_t len)
{
	const struct { const char *name; int32_t v, max; } f[] = {
		{ "dim", c->dim, MAX_DIM }, { "hidden_dim", c->hidden_dim, MAX_DIM * 4 },
		{ "n_layers", c->n_layers, MAX_LAYERS }, { "n_heads", c->n_heads, MAX_DIM },
		{ "n_kv_heads", c->n_kv_heads, MAX_DIM }, { "vocab_size", c->vocab_size, 1048576 },
		{ "seq_len", c->seq_len, MAX_SEQ },
	};
	struct npu_rope_params *r = &c->rope;
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].v < 1 || f[i].v > f[i].max) {
			npu_model_error(err, len, "header field %s = %d is outside 1..%d", f[i].name,
					f[i].v, f[i].max);
			return NPU_E_FORMAT;
		}
	if (!c->head_dim && c->dim % c->n_heads) {
		npu_model_error(err, len, "dim %d is not a multiple of n_heads %d", c->dim,
				c->n_heads);
		return NPU_E_FORMAT;
	}
	if (c->n_heads % c->n_kv_heads) {
		npu_model_error(err, len, "n_heads %d is not a multiple of n_kv_heads %d",
				c->n_heads, c->n_kv_heads);
		return NPU_E_FORMAT;
	}
	c->head_dim = c->head_dim ? c->head_dim : c->dim / c->n_heads;
	if (c->head_dim < 2 || c->head_dim > MAX_DIM / c->n_heads || c->head_dim % 2) {
		npu_model_error(err, len, "head size %d with %d heads: RoPE rotates pairs, and "
				"the heads may hold up to %d", c->head_dim, c->n_heads, MAX_DIM);
		return NPU_E_FORMAT;
	}
	c->norm_eps = c->norm_eps ? c->norm_eps : 1e-5f;
	r->base = r->base ? r->base : 10000.0f;
	r->freq_scale = r->freq_scale ? r->freq_scale : 1.0f;
	r->attn_factor = r->attn_factor ? r->attn_factor : 1.0f;
	r->beta_fast = r->beta_fast ? r->beta_fast : 32.0f;
	r->beta_slow = r->beta_slow ? r->beta_slow : 1.0f;
	r->orig_ctx = r->orig_ctx ? r->orig_ctx : c->seq_len;
	c->embed_scale = c->embed_scale ? c->embed_scale : 1.0f;
	{
		/* Each value and its range, named: one line says which is wrong. */
		const struct { const char *name; double v, lo, hi; } rng[] = {
			{ "RMSNorm eps", c->norm_eps, 0, 1 },
			{ "RoPE base", r->base, 1, 1e12 },
			{ "RoPE frequency scale (1 / factor)", r->freq_scale, 0, 1.000001 },
			{ "RoPE attention factor", r->attn_factor, 0, 16 },
			{ "YaRN extrapolation", r->ext_factor, -1e-9, 1.000001 },
			{ "YaRN beta fast", r->beta_fast, 0, 1e6 },
			{ "YaRN beta slow", r->beta_slow, 0, 1e6 },
			{ "embedding scale", c->embed_scale, 0, 1e4 },
		};

		for (i = 0; i < sizeof(rng) / sizeof(rng[0]); i++)
			if (!(rng[i].v > rng[i].lo && rng[i].v < rng[i].hi)) {
				npu_model_error(err, len, "%s %g is outside (%g, %g)", rng[i].name,
						rng[i].v, rng[i].lo, rng[i].hi);
				return NPU_E_FORMAT;
			}
	}
	if (r->orig_ctx < 1 || r->scaling < NPU_ROPE_NONE || r->scaling > NPU_ROPE_LLAMA3 ||
	    c->arch < NPU_ARCH_LLAMA || c->arch > NPU_ARCH_PHI3 || c->sliding_window < 0) {
		npu_model_error(err, len, "RoPE original context %d, scaling %d, architecture %d "
				"or sliding window %d: not one the runner takes", r->orig_ctx,
				r->scaling, c->arch, c->sliding_window);
		return NPU_E_FORMAT;
	}
	return NPU_OK;
}

/* Floats of each tensor, in file order; also sets the pointers when m->data is set. */
size_t npu_model_layout(struct npu_model *m, int with_rope_tables)
{
	const struct npu_model_config *c = &m->cfg;
	size_t d = (size_t)c->dim, h = (size_t)c->hidden_dim, l = (size_t)c->n_layers;
	size_t hs = (size_t)c->head_dim, qd = hs * (size_t)c->n_heads;
	size_t kv = hs * (size_t)c->n_kv_heads;
	size_t off = 0;
	float *base = m->data;

#define TAKE(ptr, count) do { if (base) (ptr) = base + off; off += (count); } while (0)
	TAKE(m->token_embedding, (size_t)c->vocab_size * d);
	TAKE(m->rms_att, l * d);
	TAKE(m->wq, l * qd * d);
	TAKE(m->wk, l * kv * d);
	TAKE(m->wv, l * kv * d);
	TAKE(m->wo, l * d * qd);
	TAKE(m->rms_ffn, l * d);
	TAKE(m->w1, l * h * d);
	TAKE(m->w2, l * d * h);
	TAKE(m->w3, l * h * d);
	TAKE(m->rms_final, d);
	if (with_rope_tables)
		off += (size_t)c->seq_len * hs;	/* legacy freq_cis_real and _imag */
	if (c->shared_classifier) {
		if (base)
			m->wcls = m->token_embedding;
	} else {
		TAKE(m->wcls, (size_t)c->vocab_size * d);
	}
	/* What llama2.c checkpoints lack, after what they hold. */
	if (c->qkv_bias) {
		TAKE(m->bq, l * qd);
		TAKE(m->bk, l * kv);
		TAKE(m->bv, l * kv);
	}
	if (c->qk_norm) {
		TAKE(m->q_norm, l * hs);
		TAKE(m->k_norm, l * hs);
	}
	if (c->rope_factors)
		TAKE(m->rope_factors, hs / 2);
#undef TAKE
	return off;
}

int npu_model_alloc(const struct npu_model_config *cfg, struct npu_model *m, char *err,
		    size_t err_len)
{
	int ret;

	if (!m)
		return NPU_E_INVAL;
	memset(m, 0, sizeof(*m));
	if (!cfg)
		return NPU_E_INVAL;
	m->cfg = *cfg;
	ret = npu_model_check_config(&m->cfg, err, err_len);
	if (ret) {
		memset(m, 0, sizeof(*m));
		return ret;
	}
	m->n_floats = npu_model_layout(m, 0);
	m->data = calloc(m->n_floats, sizeof(float));
	if (!m->data) {
		npu_model_error(err, err_len, "no memory for %zu floats", m->n_floats);
		memset(m, 0, sizeof(*m));
		return NPU_E_NOMEM;
	}
	npu_model_layout(m, 0);
	return NPU_OK;
}

int npu_model_load(const char *path, struct npu_model *m, char *err, size_t len)
{
	int32_t hdr[7];
	uint64_t size;
	size_t n, i;
	int fd, ret;

	/* Zeroed first, and again on each failure: npu_model_free is then safe. */
	if (m)
		memset(m, 0, sizeof(*m));
	if (!path || !m)
		return NPU_E_INVAL;
	fd = npu_model_open(path, &size, err, len);
	if (fd < 0)
		return fd;
	if (size < sizeof(hdr)) {
		npu_model_file_error(err, len, path, "shorter than the 28-byte header");
		close(fd);
		return NPU_E_FORMAT;
	}
	ret = npu_model_read(fd, hdr, sizeof(hdr), 0, path, err, len);
	if (ret) {
		close(fd);
		return ret;
	}
	m->cfg.dim = hdr[0];
	m->cfg.hidden_dim = hdr[1];
	m->cfg.n_layers = hdr[2];
	m->cfg.n_heads = hdr[3];
	m->cfg.n_kv_heads = hdr[4];
	m->cfg.shared_classifier = hdr[5] > 0;
	m->cfg.vocab_size = hdr[5] == INT32_MIN ? 0 : abs(hdr[5]);
	m->cfg.seq_len = hdr[6];
	ret = npu_model_check_config(&m->cfg, err, len);
	if (ret) {
		close(fd);
		npu_model_free(m);
		return ret;
	}
	n = npu_model_layout(m, 1);
	if (size != sizeof(hdr) + n * sizeof(float)) {
		npu_model_file_error(err, len, path,
				     "%llu bytes, but the header's shapes need %zu (28 + 4 x %zu floats)",
				     (unsigned long long)size, sizeof(hdr) + n * sizeof(float), n);
		close(fd);
		npu_model_free(m);
		return NPU_E_FORMAT;
	}
	m->data = malloc(n * sizeof(float));
	if (!m->data) {
		close(fd);
		npu_model_free(m);
		return NPU_E_NOMEM;
	}
	ret = npu_model_read(fd, m->data, n * sizeof(float), sizeof(hdr), path, err, len);
	close(fd);
	if (ret) {
		npu_model_free(m);
		return ret;
	}
	m->n_floats = n;
	npu_model_layout(m, 1);
	for (i = 0; i < n; i++)
		if (!isfinite(m->data[i]) || fabsf(m->data[i]) > 1e4f) {
			npu_model_file_error(err, len, path,
					     "float %zu (byte offset %zu) is %g: not a weight", i,
					     28 + 4 * i, (double)m->data[i]);
			npu_model_free(m);
			return NPU_E_FORMAT;
		}
	return NPU_OK;
}

void npu_model_free(struct npu_model *m)
{
	size_t i;

	if (!m)
		return;
	if (m->native)
		for (i = 0; i < (size_t)m->cfg.n_layers * NPU_MODEL_LAYER_MATS + 2; i++)
			npu_qmatrix_free(&m->native[i]);
	free(m->native);
	free(m->data);
	memset(m, 0, sizeof(*m));
}
