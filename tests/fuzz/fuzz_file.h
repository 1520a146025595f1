/* SPDX-License-Identifier: MIT */
/*
 * What the file-loading harnesses share: the input written to a memfd (a
 * temporary file where there is none) that the loaders open by path
 * (/proc/self/fd/N), an invariant's failure, and the check that an error
 * message is one line of printable ASCII.
 */
#ifndef NPU_FUZZ_FILE_H
#define NPU_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct fuzz_file {
	int fd;
	char path[64];
	const char *name;	/* the harness's, for messages */
};

static inline void __attribute__((noreturn)) fuzz_fail(const struct fuzz_file *f,
						       const char *what)
{
	fprintf(stderr, "%s: invariant violated: %s\n", f->name, what);
	abort();
}

static inline void fuzz_file_open(struct fuzz_file *f, const char *name)
{
	f->name = name;
#ifdef MFD_CLOEXEC
	f->fd = memfd_create(name, MFD_CLOEXEC);
	if (f->fd >= 0) {
		snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
		return;
	}
#endif
	snprintf(f->path, sizeof(f->path), "/tmp/%s.XXXXXX", name);
	f->fd = mkstemp(f->path);
	if (f->fd < 0) {
		perror(name);
		abort();
	}
}

/* The file's bytes become @data: 0, or -1 when they could not be written. */
static inline int fuzz_file_put(const struct fuzz_file *f, const uint8_t *data, size_t size)
{
	size_t done = 0;

	if (ftruncate(f->fd, 0))
		return -1;
	while (done < size) {
		ssize_t n = pwrite(f->fd, data + done, size - done, (off_t)done);

		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/* An error message: NUL-terminated, one line of printable ASCII. */
static inline void fuzz_check_error(const struct fuzz_file *f, const char *err, size_t size)
{
	size_t i;

	if (strnlen(err, size) == size)
		fuzz_fail(f, "error message not NUL-terminated");
	for (i = 0; err[i]; i++)
		if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] >= 0x7f)
			fuzz_fail(f, "error message holds a control or non-ASCII byte");
}

#endif
