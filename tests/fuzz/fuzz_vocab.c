// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: GGUF vocabularies (tokenizer.ggml.*) and text. The
 * input is a 4-byte little-endian length, that many bytes of a GGUF file
 * (the rest of the input when it claims more), then the text. The file is
 * loaded with npu_tokenizer_load_gguf() from a memfd (a temporary file
 * where there is none) opened through /proc/self/fd; a refusal is one
 * line of printable ASCII and leaves the tokenizer zeroed (it starts as
 * garbage). What loads has its special ids in range, every token's piece
 * readable (npu_tokenizer_piece), and the text tokenized with each of the
 * four flag combinations: ids in range, the count the same whatever the
 * room, a cut encoding the whole one's first tokens.
 * NPU_FUZZ_VERBOSE=1 prints what the loader said.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <npu/model.h>

#include "fuzz_file.h"

#define MAX_INPUT (1u << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_file file;
static int verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("NPU_FUZZ_VERBOSE") && atoi(getenv("NPU_FUZZ_VERBOSE"));
	fuzz_file_open(&file, "fuzz_vocab");
	return 0;
}

/* The text with @flags: counted alone, whole, then cut; every id in range. */
static void tokenize(const struct npu_tokenizer *t, const char *text, size_t len,
		     unsigned int flags)
{
	int32_t n = -1, m = -1, k, *all, *cut;

	if (npu_tokenizer_tokenize(t, text, len, flags, NULL, 0, &n))
		fuzz_fail(&file, "npu_tokenizer_tokenize failed on counting");
	/*
	 * Each byte three tokens at most (a space is U+2581's bytes), a special
	 * text one and the space prefix after it; BOS, EOS and the first prefix.
	 */
	if (n < 0 || (size_t)n > 4 * len + 5)
		fuzz_fail(&file, "npu_tokenizer_tokenize: a token count out of range");
	all = malloc(((size_t)n + 1) * sizeof(*all));
	cut = malloc(((size_t)n / 2 + 1) * sizeof(*cut));
	if (!all || !cut)
		fuzz_fail(&file, "no memory for the tokens");
	if (npu_tokenizer_tokenize(t, text, len, flags, all, n, &m) || m != n)
		fuzz_fail(&file, "npu_tokenizer_tokenize: another count with room for every token");
	for (k = 0; k < n; k++)
		if (all[k] < 0 || all[k] >= t->vocab_size)
			fuzz_fail(&file, "npu_tokenizer_tokenize: a token outside the vocabulary");
	if (npu_tokenizer_tokenize(t, text, len, flags, cut, n / 2, &m) || m != n ||
	    memcmp(cut, all, (size_t)(n / 2) * sizeof(*cut)))
		fuzz_fail(&file, "npu_tokenizer_tokenize: a cut encoding is not the whole one's start");
	free(cut);
	free(all);
}

static void use_tokenizer(const struct npu_tokenizer *t, const char *text, size_t len)
{
	int32_t i, prev = -1;
	unsigned int f;
	char byte[2];
	const char *tmpl = npu_tokenizer_chat_template(t);

	if (t->vocab_size < 1 || !t->pieces || !t->scores || !t->sorted || !t->vocab)
		fuzz_fail(&file, "a loaded tokenizer is incomplete");
	for (i = 0; i < NPU_TOKEN_ROLES; i++) {
		int32_t id = npu_tokenizer_special(t, (enum npu_token_role)i);

		if (id < -1 || id >= t->vocab_size)
			fuzz_fail(&file, "a special id outside the vocabulary");
	}
	if (tmpl)
		(void)strlen(tmpl);
	for (i = 0; i < t->vocab_size; i++) {
		const char *p = npu_tokenizer_piece(t, prev, i, byte);

		if (!p || (int32_t)strlen(t->pieces[i]) > t->max_token_length)
			fuzz_fail(&file, "npu_tokenizer_piece: no piece, or one past max_token_length");
		(void)strlen(p);
		(void)npu_tokenizer_is_eog(t, i);
		prev = i;
	}
	if (*npu_tokenizer_piece(t, 1, -1, byte) || *npu_tokenizer_piece(t, 1, i, byte) ||
	    npu_tokenizer_is_eog(t, -1) || npu_tokenizer_is_eog(t, i))
		fuzz_fail(&file, "an id outside the vocabulary has a piece or ends generation");
	for (f = 0; f < 4; f++)
		tokenize(t, text, len, f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct npu_tokenizer t;
	uint32_t flen;
	char err[256];
	int ret;

	if (size > MAX_INPUT || size < 4)
		return 0;
	memcpy(&flen, data, 4);
	flen = flen < size - 4 ? flen : (uint32_t)(size - 4);
	if (fuzz_file_put(&file, data + 4, flen)) {
		perror("fuzz_vocab: writing the input");
		abort();
	}
	err[0] = '\0';
	memset(&t, 0xa5, sizeof(t));
	ret = npu_tokenizer_load_gguf(file.path, &t, err, sizeof(err));
	if (verbose)
		fprintf(stderr, "vocab: %d %s\n", ret, err);
	if (ret == NPU_OK) {
		use_tokenizer(&t, (const char *)data + 4 + flen, size - 4 - flen);
		npu_tokenizer_free(&t);
	} else if (t.pieces || t.scores || t.sorted || t.vocab_size || t.max_token_length ||
		   t.vocab) {
		fuzz_fail(&file, "npu_tokenizer_load_gguf failed but did not zero the tokenizer");
	} else if (!err[0]) {
		fuzz_fail(&file, "npu_tokenizer_load_gguf failed without saying why");
	}
	fuzz_check_error(&file, err, sizeof(err));
	return 0;
}
