// SPDX-License-Identifier: MIT
/*
 * Hostile model files (issue 20), built byte by byte: what a file may make
 * the loader allocate (tensors sharing bytes, counts past the file's end),
 * keys and tensor names given twice, names that reach an error (escaped
 * and cut to one short line), 65,536 tensors in milliseconds, a file that
 * shrinks while it loads or after, paths that are not regular files, and
 * quantized tensors of shapes that have no blocks (their cause named).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <npu/model.h>
#include "testlib.h"
#include "../gguf_build.h"

static char dir[512];

static int make_dir(void **state)
{
	(void)state;
	return t_mkdtemp("test_gguf_hostile", dir, sizeof(dir));
}

static int remove_dir(void **state)
{
	(void)state;
	return t_rmdir(dir);
}

struct shape {
	uint32_t dim, hidden, layers, heads, vocab;
};

/* The magic, version and counts, then @s's six llama keys (@n_kv counts them). */
static void gb_header(struct gguf_build *b, const struct shape *s, uint64_t n_tensors, uint64_t n_kv)
{
	gguf_put(b, "GGUF", 4);
	gguf_u32(b, 3);
	gguf_u64(b, n_tensors);
	gguf_u64(b, n_kv);
	gguf_kv_str(b, "general.architecture", "llama", 5);
	gguf_kv_u32(b, "llama.context_length", 20, 32);
	gguf_kv_u32(b, "llama.embedding_length", 22, s->dim);
	gguf_kv_u32(b, "llama.block_count", 17, s->layers);
	gguf_kv_u32(b, "llama.feed_forward_length", 25, s->hidden);
	gguf_kv_u32(b, "llama.attention.head_count", 26, s->heads);
}

static uint64_t tensor_bytes(uint32_t type, uint64_t n)
{
	return type == NPU_GGUF_Q4_0 ? n / 32 * 18 : type == NPU_GGUF_Q8_0 ? n / 32 * 34 :
	       type == NPU_GGUF_F16 ? n * 2 : n * 4;
}

/* One descriptor; returns the bytes its data takes. */
static uint64_t gb_tensor(struct gguf_build *b, const char *name, size_t name_len, uint64_t ne0,
			  uint64_t ne1, uint32_t type, uint64_t offset)
{
	gguf_str(b, name, name_len);
	gguf_u32(b, ne1 ? 2 : 1);
	gguf_u64(b, ne0);
	if (ne1)
		gguf_u64(b, ne1);
	gguf_u32(b, type);
	gguf_u64(b, offset);
	return tensor_bytes(type, ne0 * (ne1 ? ne1 : 1));
}

/*
 * The descriptors of @s's model (shared classifier), matrices of @type
 * (norms F32), one after another, or all at offset 0 when @alias.
 * Returns the bytes of tensor data they need.
 */
static uint64_t gb_model_tensors(struct gguf_build *b, const struct shape *s, uint32_t type, int alias)
{
	uint64_t d = s->dim, h = s->hidden, off = 0, end = 0;
	uint32_t l;
	int k;

#define T(name, ne0, ne1, ty) do { \
		uint64_t n_ = gb_tensor(b, name, strlen(name), ne0, ne1, ty, alias ? 0 : off); \
		end = alias ? (n_ > end ? n_ : end) : off + n_; \
		off = (off + n_ + 31) & ~31ull; \
	} while (0)
	T("token_embd.weight", d, s->vocab, type);
	T("output_norm.weight", d, 0, NPU_GGUF_F32);
	for (l = 0; l < s->layers; l++) {
		static const char *const mats[] = { "attn_q", "attn_k", "attn_v", "attn_output",
						    "ffn_gate", "ffn_down", "ffn_up" };
		char name[64];

		snprintf(name, sizeof(name), "blk.%u.attn_norm.weight", l);
		T(name, d, 0, NPU_GGUF_F32);
		snprintf(name, sizeof(name), "blk.%u.ffn_norm.weight", l);
		T(name, d, 0, NPU_GGUF_F32);
		for (k = 0; k < 7; k++) {
			snprintf(name, sizeof(name), "blk.%u.%s.weight", l, mats[k]);
			T(name, k == 5 ? h : d, k == 4 || k == 6 ? h : d, type);
		}
	}
#undef T
	return end;
}

/* Zeros to the 32-byte boundary, then @bytes of zero tensor data; written to @name. */
static const char *gb_finish(struct gguf_build *b, uint64_t bytes, const char *name)
{
	static char path[700];
	uint8_t *zero = calloc(1, (size_t)bytes + 32);

	assert_non_null(zero);
	gguf_put(b, zero, (32 - b->n % 32) % 32);
	gguf_put(b, zero, (size_t)bytes);
	free(zero);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	t_write_file(path, b->p, b->n);
	return path;
}

/* A model of 64-wide layers, 1 layer, 64 tokens: 11 tensors, 6 keys. */
static const struct shape small = { 64, 64, 1, 2, 64 };
#define SMALL_TENSORS 11

/* An error is one short line of printable ASCII. */
static void assert_one_safe_line(const char *err, const char *path)
{
	const unsigned char *c;

	for (c = (const unsigned char *)err; *c; c++)
		if (*c < 0x20 || *c >= 0x7f)
			fail_msg("error has byte 0x%02x at %zu: %s", *c, (size_t)(c - (const unsigned char *)err), err);
	if (strlen(err) > strlen(path) + 200)
		fail_msg("error is %zu bytes long: %.300s", strlen(err), err);
}

/* In a forked child: a crash ends it (cmocka's handlers would run the tests on in it). */
static void child_default_signals(void)
{
	static const int sigs[] = { SIGBUS, SIGSEGV, SIGFPE, SIGILL, SIGABRT };
	size_t i;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
}

/* What loading @path gives: the result, its error, and the peak RSS growth of the load. */
static int load_measured(const char *path, char *err, size_t err_len, long *grew_kb)
{
	struct { int ret; long kb; char err[256]; } r;
	int pfd[2], status;
	pid_t pid;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct rusage ru0, ru1;
		struct npu_model m;

		child_default_signals();
		memset(&r, 0, sizeof(r));
		getrusage(RUSAGE_SELF, &ru0);
		r.ret = npu_model_load_gguf(path, &m, NULL, r.err, sizeof(r.err));
		getrusage(RUSAGE_SELF, &ru1);
		r.kb = ru1.ru_maxrss - ru0.ru_maxrss;
		_exit(write(pfd[1], &r, sizeof(r)) == sizeof(r) ? 0 : 1);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &r, sizeof(r)), sizeof(r));
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && !WEXITSTATUS(status));
	snprintf(err, err_len, "%s", r.err);
	*grew_kb = r.kb;
	return r.ret;
}

/*
 * Issue 20: tensors whose data overlap let a small file claim a large
 * model (all at offset 0: 128 layers of 256 x 256 Q4_0 in ~110 KB); each
 * tensor's bytes must be its own. With no overlap every float the loader
 * allocates comes from at least 18/32 file bytes of its own tensor.
 */
static void aliased_tensors_refused(void **state)
{
	static const struct shape big = { 256, 256, 128, 8, 256 };
	struct gguf_build b = { 0 };
	char err[256];
	const char *path;
	uint64_t bytes;
	long kb;
	int ret;

	(void)state;
	gb_header(&b, &big, 2 + 9ull * big.layers, 6);
	bytes = gb_model_tensors(&b, &big, NPU_GGUF_Q4_0, 1);
	path = gb_finish(&b, bytes, "aliased.gguf");
	ret = load_measured(path, err, sizeof(err), &kb);
	printf("aliased tensors: a %zu-byte file: result %d, peak RSS grew by %ld KB: %s\n", b.n,
	       ret, kb, err);
	if (ret != NPU_E_FORMAT)
		fail_msg("a %zu-byte file of aliased tensors loaded (peak RSS +%ld KB)", b.n, kb);
	assert_non_null(strstr(err, "tensor \"output_norm.weight\": data (1024 bytes at offset 0) "
				    "overlaps tensor \"token_embd.weight\""));
	assert_true(kb * 1024 < 8 * (long)b.n + (16 << 20));
	free(b.p);

	/* Two neighbours overlapping by one block of 32 bytes. */
	memset(&b, 0, sizeof(b));
	gb_header(&b, &small, SMALL_TENSORS, 6);
	bytes = gb_model_tensors(&b, &small, NPU_GGUF_F32, 0);
	path = gb_finish(&b, bytes, "overlap.gguf");
	{
		const char *name = "blk.0.attn_norm.weight";
		uint8_t *p = memmem(b.p, b.n, name, strlen(name));
		uint64_t off;

		assert_non_null(p);
		p += strlen(name) + 4 + 8 + 4;
		memcpy(&off, p, 8);
		off -= 32;
		memcpy(p, &off, 8);
		t_write_file(path, b.p, b.n);
	}
	ret = load_measured(path, err, sizeof(err), &kb);
	assert_int_equal(ret, NPU_E_FORMAT);
	assert_non_null(strstr(err, "tensor \"blk.0.attn_norm.weight\": data (256 bytes at offset "
				    "16608) overlaps tensor \"output_norm.weight\" (256 bytes at offset 16384)"));
	free(b.p);
}

/* A file the loader accepts: what it allocates is a small multiple of the file. */
static void allocation_bounded_by_file(void **state)
{
	static const uint32_t types[] = { NPU_GGUF_F32, NPU_GGUF_F16, NPU_GGUF_Q8_0, NPU_GGUF_Q4_0 };
	size_t k;

	(void)state;
	for (k = 0; k < 4; k++) {
		struct gguf_build b = { 0 };
		struct npu_model m;
		char err[256] = "";
		size_t bytes, i;
		const char *path;

		gb_header(&b, &small, SMALL_TENSORS, 6);
		path = gb_finish(&b, gb_model_tensors(&b, &small, types[k], 0), "bound.gguf");
		if (npu_model_load_gguf(path, &m, NULL, err, sizeof(err)))
			fail_msg("%s", err);
		bytes = m.n_floats * 4;
		for (i = 0; m.native && i <= (size_t)m.cfg.n_layers * NPU_MODEL_LAYER_MATS; i++)
			if (m.native[i].q)
				bytes += (size_t)m.native[i].rows * m.native[i].cols /
					 (m.native[i].bits == 8 ? 1 : 2) +
					 (size_t)m.native[i].rows * m.native[i].cols / 16;
		printf("type %u: %zu bytes of file, %zu bytes of model (%.2fx)\n", types[k], b.n,
		       bytes, (double)bytes / (double)b.n);
		assert_true(bytes <= 10 * b.n);
		npu_model_free(&m);
		free(b.p);
	}
}

/* Issue 20: a key given twice was taken as its last value. */
static void duplicate_keys_refused(void **state)
{
	static const char odd[] = "k\n\x1b[31m\"\\";
	struct gguf_build b = { 0 };
	struct npu_model m;
	char err[256], *big = malloc(10000);
	const char *path;
	uint64_t bytes;
	int pass;

	(void)state;
	assert_non_null(big);
	memset(big, 'K', 10000);
	for (pass = 0; pass < 3; pass++) {
		memset(&b, 0, sizeof(b));
		gb_header(&b, &small, SMALL_TENSORS, 8);
		if (pass == 0) {
			gguf_kv_u32(&b, "general.file_type", 17, 0);
			gguf_kv_u32(&b, "llama.block_count", 17, 1);	/* the same value again */
		} else if (pass == 1) {
			gguf_kv_u32(&b, odd, sizeof(odd) - 1, 0);
			gguf_kv_u32(&b, odd, sizeof(odd) - 1, 1);
		} else {
			gguf_kv_u32(&b, big, 10000, 0);
			gguf_kv_u32(&b, big, 10000, 1);
		}
		bytes = gb_model_tensors(&b, &small, NPU_GGUF_F32, 0);
		path = gb_finish(&b, bytes, "dupkey.gguf");
		err[0] = 0;
		if (npu_model_load_gguf(path, &m, NULL, err, sizeof(err)) != NPU_E_FORMAT)
			fail_msg("pass %d: a key given twice was accepted: '%s'", pass, err);
		assert_one_safe_line(err, path);
		if (pass == 0)
			assert_non_null(strstr(err, "metadata key \"llama.block_count\" appears twice"));
		else if (pass == 1)
			assert_non_null(strstr(err, "metadata key \"k\\x0a\\x1b[31m\\\"\\\\\" appears twice"));
		else
			assert_non_null(strstr(err, "metadata key \"KKKK"));
		free(b.p);
	}
	free(big);
}

/*
 * Issue 20: names and strings from the file went into errors raw (a
 * newline, a terminal escape). Each is escaped and cut: one short line.
 */
static void errors_escaped(void **state)
{
	static const char esc[] = "\n\x1b[31m";
	struct gguf_build b = { 0 };
	struct npu_model m;
	char err[256], *big = malloc(10240);
	const char *path;
	uint64_t bytes;
	int pass;

	(void)state;
	assert_non_null(big);
	memset(big, 'N', 10240);
	memcpy(big + 5000, esc, sizeof(esc) - 1);
	for (pass = 0; pass < 4; pass++) {
		memset(&b, 0, sizeof(b));
		if (pass < 2) {
			/* One tensor more than the model has. */
			gb_header(&b, &small, SMALL_TENSORS + 1, 6);
			bytes = gb_model_tensors(&b, &small, NPU_GGUF_F32, 0);
			gb_tensor(&b, pass ? big : esc, pass ? 10240 : sizeof(esc) - 1, 1, 0,
				  NPU_GGUF_F32, (bytes + 31) & ~31ull);
			bytes = ((bytes + 31) & ~31ull) + 4;
		} else {
			/* A tensor whose data runs past the end, named so. */
			gb_header(&b, &small, SMALL_TENSORS + 1, 6);
			bytes = gb_model_tensors(&b, &small, NPU_GGUF_F32, 0);
			gb_tensor(&b, pass == 3 ? big : esc, pass == 3 ? 10240 : sizeof(esc) - 1, 1,
				  0, NPU_GGUF_F32, 1ull << 40);
		}
		path = gb_finish(&b, bytes, "escape.gguf");
		err[0] = 0;
		assert_int_equal(npu_model_load_gguf(path, &m, NULL, err, sizeof(err)), NPU_E_FORMAT);
		printf("pass %d: %s\n", pass, err);
		assert_one_safe_line(err, path);
		if (!(pass & 1))
			assert_non_null(strstr(err, "tensor \"\\x0a\\x1b[31m\""));
		else
			assert_non_null(strstr(err, "NNNN...\""));
		free(b.p);
	}
	/* general.architecture's value. */
	memset(&b, 0, sizeof(b));
	gguf_put(&b, "GGUF", 4);
	gguf_u32(&b, 3);
	gguf_u64(&b, 0);
	gguf_u64(&b, 1);
	gguf_kv_str(&b, "general.architecture", big, 10240);
	path = gb_finish(&b, 0, "arch.gguf");
	assert_int_equal(npu_model_load_gguf(path, &m, NULL, err, sizeof(err)), NPU_E_FORMAT);
	assert_one_safe_line(err, path);
	assert_non_null(strstr(err, "general.architecture is \"NNN"));
	free(b.p);
	free(big);
}

/* Issue 20: 65,536 tensors took 11 s to be checked for a name given twice. */
static void many_tensors_fast(void **state)
{
	int dup;

	(void)state;
	for (dup = 0; dup < 2; dup++) {
		struct gguf_build b = { 0 };
		struct npu_model m;
		struct timespec t0, t1;
		char err[256] = "";
		const char *path;
		uint64_t bytes, i, n = 65536 - SMALL_TENSORS;
		double s;
		int ret;

		gb_header(&b, &small, 65536, 6);
		bytes = gb_model_tensors(&b, &small, NPU_GGUF_F32, 0);
		bytes = (bytes + 31) & ~31ull;
		for (i = 0; i < n; i++) {
			char name[16];

			snprintf(name, sizeof(name), "x%05llu",
				 (unsigned long long)(dup && i == n - 1 ? 0 : i));
			gb_tensor(&b, name, strlen(name), 1, 0, NPU_GGUF_F32, bytes + 32 * i);
		}
		path = gb_finish(&b, bytes + 32 * n, "many.gguf");
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ret = npu_model_load_gguf(path, &m, NULL, err, sizeof(err));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
		printf("65536 tensors%s (%zu bytes): %.3f s: %s\n", dup ? ", one name twice" : "",
		       b.n, s, err);
		assert_int_equal(ret, NPU_E_FORMAT);
		assert_non_null(strstr(err, dup ? "tensor \"x00000\" appears twice" :
					    "tensor \"x00000\" is not part of a model of this architecture"));
		assert_true(s < 2.0);
		free(b.p);
	}
}

/* The model keeps nothing of the file: truncating it after the load changes nothing. */
static void file_truncated_after_load(void **state)
{
	struct gguf_build b = { 0 };
	struct npu_model m;
	char err[256] = "", line[1024];
	const char *path;
	double sum = 0;
	FILE *maps;
	size_t i;
	int fd;

	(void)state;
	gb_header(&b, &small, SMALL_TENSORS, 6);
	path = gb_finish(&b, gb_model_tensors(&b, &small, NPU_GGUF_Q8_0, 0), "shrink.gguf");
	if (npu_model_load_gguf(path, &m, NULL, err, sizeof(err)))
		fail_msg("%s", err);
	/* No mapping of the file is left behind. */
	maps = fopen("/proc/self/maps", "r");
	assert_non_null(maps);
	while (fgets(line, sizeof(line), maps))
		if (strstr(line, path))
			fail_msg("the model file is still mapped: %s", line);
	fclose(maps);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	close(fd);
	for (i = 0; i < m.n_floats; i++)
		sum += m.data[i];
	assert_non_null(m.native);
	for (i = 0; i < (size_t)m.cfg.n_layers * NPU_MODEL_LAYER_MATS; i++)
		sum += m.native[i].q[0] + m.native[i].records[0];
	assert_true(isfinite(sum));
	npu_model_free(&m);
	free(b.p);
}

/*
 * pread as the loaders (linked in statically) call it: when armed, the
 * file is cut to @to bytes just before the first read at @at or beyond,
 * after the loader has taken its size: the shrink, made deterministic.
 */
static struct {
	int armed;
	const char *path;
	off_t at, to;
} cut;

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	if (cut.armed && off >= cut.at) {
		cut.armed = 0;
		if (truncate(cut.path, cut.to))
			return -1;
	}
	return syscall(SYS_pread64, fd, buf, n, off);
}

/* Issue 20: the file cut between the size check and the tensor reads. */
static void file_shrinks_after_size_check(void **state)
{
	struct gguf_build b = { 0 };
	struct npu_model m;
	char err[256] = "";
	const char *path;
	uint64_t bytes;
	int ret;

	(void)state;
	gb_header(&b, &small, SMALL_TENSORS, 6);
	bytes = gb_model_tensors(&b, &small, NPU_GGUF_F32, 0);
	path = gb_finish(&b, bytes, "cut.gguf");
	cut.path = path;
	cut.at = (off_t)(b.n - bytes);	/* the tensor data */
	cut.to = cut.at + 100;
	cut.armed = 1;
	ret = npu_model_load_gguf(path, &m, NULL, err, sizeof(err));
	printf("cut after the size check: %d %s\n", ret, err);
	if (cut.armed)
		fail_msg("the loader never read the tensor data with pread (result %d)", ret);
	assert_int_equal(ret, NPU_E_IO);
	assert_non_null(strstr(err, "it shrank while read"));
	assert_null(m.data);
	free(b.p);
}

/* Cuts the file to half its size and grows it back (zeros), until stopped. */
struct shrinker {
	const char *path;
	off_t full, half;
	atomic_int stop;
};

static void *shrink_loop(void *arg)
{
	struct shrinker *s = arg;
	int fd = open(s->path, O_WRONLY);

	/* Whole most of the time: loads get past the size check, then lose their data. */
	while (fd >= 0 && !atomic_load(&s->stop)) {
		if (ftruncate(fd, s->half) || ftruncate(fd, s->full))
			break;
		usleep(200);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

/*
 * Issue 20: the file shrinking while it loads (after its size was
 * checked) killed the process with SIGBUS through the mapping. Loads
 * racing a file cut to half and grown back: each loads or fails, in a
 * child so a signal is reported, not suffered.
 */
static void file_shrinks_during_load(void **state)
{
	static const struct shape mid = { 128, 256, 4, 4, 512 };	/* 2.9 MB of F32 */
	struct gguf_build b = { 0 };
	const char *path;
	pid_t pid;
	int status;

	(void)state;
	gb_header(&b, &mid, 2 + 9ull * mid.layers, 6);
	path = gb_finish(&b, gb_model_tensors(&b, &mid, NPU_GGUF_F32, 0), "race.gguf");
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct shrinker s = { path, (off_t)b.n, (off_t)b.n / 2, 0 };
		int counts[3] = { 0 }, i;
		pthread_t th;

		child_default_signals();
		alarm(60);
		if (pthread_create(&th, NULL, shrink_loop, &s))
			_exit(2);
		for (i = 0; i < 300; i++) {
			struct npu_model m;
			char err[256] = "";
			int ret = npu_model_load_gguf(path, &m, NULL, err, sizeof(err));

			if (ret && ret != NPU_E_IO && ret != NPU_E_FORMAT) {
				printf("load %d: %d %s\n", i, ret, err);
				_exit(3);
			}
			if (!ret)
				npu_model_free(&m);
			counts[!ret ? 0 : ret == NPU_E_IO ? 1 : 2]++;
		}
		atomic_store(&s.stop, 1);
		pthread_join(th, NULL);
		printf("shrinking file: %d loaded, %d shrank while read, %d short when checked\n",
		       counts[0], counts[1], counts[2]);
		fflush(stdout);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("loading a shrinking file died of signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	free(b.p);
}

/* Issue 20: a FIFO as the model hung both loaders in open(); a directory is refused too. */
static void not_regular_files_refused(void **state)
{
	char fifo[700];
	pid_t pid;
	int status;

	(void)state;
	snprintf(fifo, sizeof(fifo), "%s/model.fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		const char *paths[] = { fifo, dir };
		struct npu_model m;
		char err[256];
		int i;

		child_default_signals();
		alarm(5);	/* a hang fails the test, not the run */
		for (i = 0; i < 2; i++) {
			err[0] = 0;
			if (npu_model_load_gguf(paths[i], &m, NULL, err, sizeof(err)) != NPU_E_FORMAT ||
			    !strstr(err, "not a regular file"))
				_exit(10 + i);
			err[0] = 0;
			if (npu_model_load(paths[i], &m, err, sizeof(err)) != NPU_E_FORMAT ||
			    !strstr(err, "not a regular file"))
				_exit(20 + i);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("loading a FIFO %s (signal %d)",
			 WTERMSIG(status) == SIGALRM ? "hung" : "crashed", WTERMSIG(status));
	if (WEXITSTATUS(status))
		fail_msg("a non-regular file was not refused as one (case %d)", WEXITSTATUS(status));
	unlink(fifo);
}

/* Counts and lengths are held against the bytes left before anything is allocated for them. */
static void counts_checked_against_file(void **state)
{
	static const struct {
		uint64_t n_tensors, n_kv;
		const char *error;
	} cases[] = {
		{ 65536, 0, "65536 tensor descriptors need at least 2097152 bytes; 8 are left" },
		{ 0, 65536, "65536 metadata entries need at least 851968 bytes; 8 are left" },
		{ 0, 1, "16777216 strings of an array need at least 134217728 bytes; 8 are left" },
	};
	struct npu_model m;
	char path[700], err[256];
	size_t k;

	(void)state;
	snprintf(path, sizeof(path), "%s/counts.gguf", dir);
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct gguf_build b = { 0 };

		gguf_put(&b, "GGUF", 4);
		gguf_u32(&b, 3);
		gguf_u64(&b, cases[k].n_tensors);
		gguf_u64(&b, cases[k].n_kv);
		if (k == 2) {
			gguf_str(&b, "tokenizer.ggml.tokens", 21);
			gguf_u32(&b, 9);	/* GGUF_ARRAY */
			gguf_u32(&b, 8);	/* of GGUF_STRING */
			gguf_u64(&b, 1 << 24);
		}
		gguf_u64(&b, 0);	/* 8 bytes more */
		t_write_file(path, b.p, b.n);
		err[0] = 0;
		assert_int_equal(npu_model_load_gguf(path, &m, NULL, err, sizeof(err)), NPU_E_FORMAT);
		if (!strstr(err, cases[k].error))
			fail_msg("case %zu: '%s', want '%s'", k, err, cases[k].error);
		free(b.p);
	}
}

/*
 * A norm vector or a matrix whose rows are not whole blocks, given a
 * quantized type: the error names the type and the cause (it once said
 * "rows a multiple of 32 long, not 64" of a 64-long vector, or, under 32
 * elements, that Q8_0 was not supported).
 */
static void quantized_shapes_named(void **state)
{
	static const struct {
		struct shape s;
		const char *name;
		uint32_t type;
		const char *error;
	} cases[] = {
		{ { 64, 64, 1, 2, 64 }, "blk.0.attn_norm.weight", NPU_GGUF_Q4_0,
		  "tensor \"blk.0.attn_norm.weight\" is a vector of type Q4_0: quantized types are "
		  "for matrices" },
		{ { 64, 64, 1, 2, 64 }, "output_norm.weight", NPU_GGUF_Q8_0,
		  "tensor \"output_norm.weight\" is a vector of type Q8_0: quantized types are for "
		  "matrices" },
		{ { 16, 16, 1, 2, 64 }, "blk.0.ffn_norm.weight", NPU_GGUF_Q8_0,
		  "tensor \"blk.0.ffn_norm.weight\" is a vector of type Q8_0: quantized types are "
		  "for matrices" },
		{ { 48, 64, 1, 2, 64 }, "blk.0.attn_q.weight", NPU_GGUF_Q4_0,
		  "tensor \"blk.0.attn_q.weight\" has type Q4_0: row length 48 is not a multiple of "
		  "its block's 32" },
		{ { 4, 4, 1, 2, 64 }, "blk.0.attn_k.weight", NPU_GGUF_Q8_0,
		  "tensor \"blk.0.attn_k.weight\" has type Q8_0: row length 4 is not a multiple of "
		  "its block's 32" },
	};
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct gguf_build b = { 0 };
		struct npu_model m;
		char err[256] = "";
		const char *path;
		uint8_t *p;
		uint32_t dims;

		gb_header(&b, &cases[k].s, SMALL_TENSORS, 6);
		path = gb_finish(&b, gb_model_tensors(&b, &cases[k].s, NPU_GGUF_F32, 0), "q.gguf");
		/* The descriptor: name, n_dims, ne[n_dims], type. */
		p = memmem(b.p, b.n, cases[k].name, strlen(cases[k].name));
		assert_non_null(p);
		p += strlen(cases[k].name);
		memcpy(&dims, p, 4);
		memcpy(p + 4 + 8 * dims, &cases[k].type, 4);
		t_write_file(path, b.p, b.n);
		if (npu_model_load_gguf(path, &m, NULL, err, sizeof(err)) != NPU_E_FORMAT ||
		    !strstr(err, cases[k].error))
			fail_msg("case %zu: '%s', want '%s'", k, err, cases[k].error);
		free(b.p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(aliased_tensors_refused),
		cmocka_unit_test(allocation_bounded_by_file),
		cmocka_unit_test(duplicate_keys_refused),
		cmocka_unit_test(errors_escaped),
		cmocka_unit_test(many_tensors_fast),
		cmocka_unit_test(counts_checked_against_file),
		cmocka_unit_test(file_truncated_after_load),
		cmocka_unit_test(file_shrinks_after_size_check),
		cmocka_unit_test(file_shrinks_during_load),
		cmocka_unit_test(not_regular_files_refused),
		cmocka_unit_test(quantized_shapes_named),
	};

	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
