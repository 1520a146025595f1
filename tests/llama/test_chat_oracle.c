// SPDX-License-Identifier: MIT
/*
 * The chat templates against llama.cpp's llama_chat_apply_template: the
 * dump of ggml-oracle chat (each family's name and each of llama.cpp's
 * models/templates/NAME.jinja, rendered on its fixed conversations) read
 * back, each template detected and rendered by libnpu-llm. A template
 * detected here passes when every rendering is llama.cpp's, byte for
 * byte, and llama.cpp renders it as the same family. A template refused
 * here passes when llama.cpp refuses it too, or when the refusal names
 * the family llama.cpp renders it as and no family rendered here gives
 * llama.cpp's text (one not implemented, refused rather than rendered
 * wrongly).
 * usage: test_chat_oracle DUMP     (ggml-oracle chat's output)
 *        test_chat_oracle --names  (the families rendered here, for ggml-oracle chat)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <npu/llm.h>

#include "slurp.h"

#define MAX_CONVS 16
#define MAX_MSGS 16
#define MAX_FAMILIES 32

struct conv {
	int add_ass;
	size_t n;
	struct npu_llm_chat_msg m[MAX_MSGS];
	const char *want;	/* NULL: llama.cpp refuses the template */
};

/* The next line of the dump, its newline cut; NULL at the end. */
static char *line(char **p)
{
	char *s = *p, *e;

	if (!*s)
		return NULL;
	e = strchr(s, '\n');
	if (!e)
		e = s + strlen(s);
	*p = *e ? e + 1 : e;
	*e = 0;
	return s;
}

/* A string of the dump: its byte count's line, the bytes, a newline (cut). */
static const char *string(char **p, const char *count)
{
	char *end, *s = *p;
	unsigned long n = strtoul(count, &end, 10);

	if (end == count || *end || strlen(s) < n + 1 || s[n] != '\n')
		return NULL;
	s[n] = 0;
	*p = s + n + 1;
	return s;
}

/* @s with its control characters escaped, at most 60 bytes of it. */
static void show(const char *what, const char *s, size_t from)
{
	size_t i;

	printf("  %s at byte %zu: \"", what, from);
	for (i = from; s[i] && i < from + 60; i++) {
		if (s[i] == '\n')
			printf("\\n");
		else if (s[i] == '\t')
			printf("\\t");
		else if ((unsigned char)s[i] < 0x20)
			printf("\\x%02x", (unsigned char)s[i]);
		else
			putchar(s[i]);
	}
	printf("\"%s\n", s[i] ? "..." : "");
}

static int in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = list; (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ' ') && (!p[n] || p[n] == ' '))
			return 1;
	return 0;
}

/* Our rendering of every conversation as @family: 1 when each is llama.cpp's. */
static int renders_as(const char *family, const struct conv *c, size_t n, const char *label,
		      int verbose)
{
	size_t i, k;
	char *got;

	for (i = 0; i < n; i++) {
		if (!c[i].want) {
			if (verbose)
				printf("FAIL %s: rendered as %s, llama.cpp refuses it\n", label,
				       family);
			return 0;
		}
		if (npu_llm_chat_apply(family, c[i].m, c[i].n, c[i].add_ass, &got)) {
			if (verbose)
				printf("FAIL %s: npu_llm_chat_apply %s failed\n", label, family);
			return 0;
		}
		if (strcmp(got, c[i].want)) {
			if (verbose) {
				for (k = 0; got[k] == c[i].want[k]; k++)
					;
				printf("FAIL %s: as %s, conversation %zu (%zu messages, "
				       "add_assistant %d) renders differently\n", label, family, i,
				       c[i].n, c[i].add_ass);
				show("llama.cpp", c[i].want, k);
				show("ours     ", got, k);
			}
			free(got);
			return 0;
		}
		free(got);
	}
	return 1;
}

static int check(const char *tmpl, const char *detect, const struct conv *c, size_t n,
		 const char **families, int n_families)
{
	const char *label = strrchr(tmpl, '/') ? strrchr(tmpl, '/') + 1 : tmpl;
	size_t len = strlen(tmpl), i, refused = 0, named_len;
	char *text, err[512] = "", named[64];
	const char *name, *p;
	int f;

	text = len > 6 && !strcmp(tmpl + len - 6, ".jinja") ? slurp(tmpl, NULL) : strdup(tmpl);
	if (!text) {
		printf("FAIL %s: cannot read it\n", label);
		return 0;
	}
	name = npu_llm_chat_detect(text, err, sizeof(err));
	free(text);
	for (i = 0; i < n; i++)
		refused += !c[i].want;
	if (name) {
		if (!renders_as(name, c, n, label, 1))
			return 0;
		if (!in_list(detect, name)) {
			printf("FAIL %s: detected as %s, which llama.cpp renders otherwise (it "
			       "renders this as:%s)\n", label, name, detect);
			return 0;
		}
		printf("PASS %s: %s, %zu renderings identical\n", label, name, n);
		return 1;
	}
	if (refused == n) {
		printf("PASS %s: refused, as llama.cpp refuses it\n", label);
		return 1;
	}
	p = strstr(err, "llama.cpp's '");
	named_len = p ? strcspn(p + 13, "'") : 0;
	if (!named_len || named_len >= sizeof(named)) {
		printf("FAIL %s: refused without naming llama.cpp's family (llama.cpp renders it "
		       "as:%s): %s\n", label, detect, err);
		return 0;
	}
	memcpy(named, p + 13, named_len);
	named[named_len] = 0;
	if (!in_list(detect, named)) {
		printf("FAIL %s: refused as llama.cpp's '%s', which renders it as:%s\n", label,
		       named, detect);
		return 0;
	}
	for (f = 0; f < n_families; f++) {
		if (renders_as(families[f], c, n, label, 0)) {
			printf("FAIL %s: refused as llama.cpp's '%s', yet rendered here as %s\n",
			       label, named, families[f]);
			return 0;
		}
	}
	printf("PASS %s: refused as llama.cpp's '%s', rendered as none here\n", label, named);
	return 1;
}

int main(int argc, char **argv)
{
	char *names, *dump, *p, *l, *tmpl = NULL, *detect = "";
	const char *families[MAX_FAMILIES];
	int n_families = 0, seen[MAX_FAMILIES] = { 0 }, passed = 0, failed = 0, f;
	struct conv c[MAX_CONVS];
	size_t n = 0;

	names = strdup(npu_llm_chat_names());
	for (p = strtok(names, ", "); p && n_families < MAX_FAMILIES; p = strtok(NULL, ", "))
		families[n_families++] = p;
	if (argc == 2 && !strcmp(argv[1], "--names")) {
		for (f = 0; f < n_families; f++)
			printf("%s\n", families[f]);
		free(names);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: test_chat_oracle DUMP | --names\n");
		return 2;
	}
	dump = slurp(argv[1], NULL);
	if (!dump) {
		perror(argv[1]);
		return 2;
	}
	/* Each template is checked when the next one (or the end) is reached. */
	p = dump;
	for (;;) {
		l = line(&p);
		if (tmpl && (!l || !strncmp(l, "template ", 9))) {
			for (f = 0; f < n_families; f++)
				seen[f] |= !strcmp(tmpl, families[f]);
			if (check(tmpl, detect, c, n, families, n_families))
				passed++;
			else
				failed++;
			tmpl = NULL;
		}
		if (!l)
			break;
		if (!strncmp(l, "template ", 9)) {
			tmpl = l + 9;
			detect = "";
			n = 0;
		} else if (tmpl && !strncmp(l, "detect", 6)) {
			detect = l + 6;
		} else if (tmpl && n < MAX_CONVS && sscanf(l, "conv %d %zu", &c[n].add_ass,
							     &c[n].n) == 2 && c[n].n <= MAX_MSGS) {
			size_t k;

			for (k = 0; k < c[n].n; k++) {
				l = line(&p);
				if (!l || strncmp(l, "msg ", 4))
					break;
				c[n].m[k].role = l + 4;
				l = line(&p);
				c[n].m[k].content = l ? string(&p, l) : NULL;
				if (!c[n].m[k].content)
					break;
			}
			l = k == c[n].n ? line(&p) : NULL;
			if (!l || strncmp(l, "render ", 7))
				goto bad;
			c[n].want = strcmp(l + 7, "-1") ? string(&p, l + 7) : NULL;
			if (!c[n].want && strcmp(l + 7, "-1"))
				goto bad;
			n++;
		} else {
			goto bad;
		}
	}
	for (f = 0; f < n_families; f++) {
		if (!seen[f]) {
			printf("FAIL %s: not in %s\n", families[f], argv[1]);
			failed++;
		}
	}
	printf("%d passed, %d failed, 0 skipped\n", passed, failed);
	free(dump);
	free(names);
	return failed || !passed;
bad:
	printf("FAIL %s: not a dump of ggml-oracle chat (at \"%.40s\")\n", argv[1], l ? l : "");
	printf("%d passed, %d failed, 0 skipped\n", passed, failed + 1);
	free(dump);
	free(names);
	return 1;
}
