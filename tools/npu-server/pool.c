// SPDX-License-Identifier: MIT
/*
 * The sessions: one model, --parallel contexts, a thread each, taking
 * jobs from a queue of at most --queue waiting beyond the free sessions.
 * A job's text grows as its tokens come; a stop string, a cancel (the
 * client went away) or the pool stopping ends it early.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npu-server.h"

struct job *job_new(void)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	j->refs = 1;
	return j;
}

void job_put(struct job *j)
{
	int last, i;

	if (!j)
		return;
	pthread_mutex_lock(&j->lock);
	last = --j->refs == 0;
	pthread_mutex_unlock(&j->lock);
	if (!last)
		return;
	for (i = 0; i < j->n_stop; i++)
		free(j->stop[i]);
	free(j->prompt);
	free(j->text);
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->cond);
	free(j);
}

size_t job_ready(const struct job *j)
{
	size_t n = j->len, back;

	if (j->done)
		return n;
	/* Hold back what may yet begin a stop string. */
	back = j->stop_max ? j->stop_max - 1 : 0;
	n = n > back ? n - back : 0;
	/* And a UTF-8 character's leading bytes without all its continuation bytes. */
	for (back = 0; back < 4 && back < n; back++) {
		unsigned char c = (unsigned char)j->text[n - 1 - back];

		if ((c & 0xc0) != 0x80) {
			int need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;

			if ((size_t)need > back + 1)
				n -= back + 1;
			break;
		}
	}
	return n;
}

const char *job_finish_reason(const struct job *j)
{
	return j->stats.stop == NPU_LLM_STOP_LENGTH && !j->stopped ? "length" : "stop";
}

/* Add @s to the text and end it at a stop string; under the job's lock. */
static int append(struct job *j, const char *s)
{
	size_t n = strlen(s), from;
	char *t;
	int i;

	if (j->len + n + 1 > j->cap) {
		j->cap = (j->len + n + 1) * 2;
		t = realloc(j->text, j->cap);
		if (!t) {
			j->failed = 1;
			snprintf(j->error, sizeof(j->error), "out of memory for the text");
			return 1;
		}
		j->text = t;
	}
	memcpy(j->text + j->len, s, n + 1);
	/* A stop string ending in the new text begins at most stop_max - 1 bytes before it. */
	from = j->len > j->stop_max ? j->len - j->stop_max : 0;
	j->len += n;
	for (i = 0; i < j->n_stop; i++) {
		char *at = strstr(j->text + from, j->stop[i]);

		if (at) {
			j->len = (size_t)(at - j->text);
			j->text[j->len] = '\0';
			j->stopped = 1;
		}
	}
	return j->stopped;
}

struct token_ctx {
	struct pool *p;
	struct job *j;
};

static int on_token(void *user, int32_t token, const char *text)
{
	struct token_ctx *tc = user;
	struct job *j = tc->j;
	int stop;

	(void)token;
	pthread_mutex_lock(&j->lock);
	stop = append(j, text) || j->cancel;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
	/* A read without the pool's lock: the flag only goes from 0 to 1. */
	return stop || __atomic_load_n(&tc->p->stopping, __ATOMIC_RELAXED);
}

static void run(struct pool *p, npu_llm_ctx *c, struct job *j)
{
	struct token_ctx tc = { p, j };
	struct npu_llm_stats st = { 0 };
	npu_llm_sampler *s = NULL;
	int ret, cancelled;

	pthread_mutex_lock(&j->lock);
	cancelled = j->cancel;
	pthread_mutex_unlock(&j->lock);
	ret = cancelled ? 0 : npu_llm_ctx_rewind(c, 0);
	/* The float reference has no device, so no priorities: it runs as it is. */
	if (!cancelled && !ret && npu_llm_ctx_set_priority(c, j->priority) == NPU_E_INVAL)
		ret = NPU_E_INVAL;
	if (!cancelled && !ret)
		ret = npu_llm_sampler_create(&j->sampling,
					     npu_llm_model_host(p->m)->cfg.vocab_size, &s);
	if (!cancelled && !ret)
		ret = npu_llm_generate(c, s, j->prompt, j->n_prompt, j->max_tokens, on_token, &tc,
				       &st);
	npu_llm_sampler_free(s);
	if (!cancelled)
		metrics_generation(&st);
	pthread_mutex_lock(&j->lock);
	j->stats = st;
	if (ret && !j->failed) {
		j->failed = 1;
		snprintf(j->error, sizeof(j->error), "generation failed: %s",
			 npu_llm_ctx_error(c)[0] ? npu_llm_ctx_error(c) : npu_strerror(ret));
	}
	j->done = 1;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

struct worker {
	struct pool *p;
	int i;
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->p;
	npu_llm_ctx *c = p->ctx[w->i];
	struct job *j;

	free(w);
	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->work, &p->lock);
		j = p->head;
		if (!j) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->queued--;
		p->busy++;
		pthread_mutex_unlock(&p->lock);
		if (p->stopping) {
			pthread_mutex_lock(&j->lock);
			j->cancel = 1;
			pthread_mutex_unlock(&j->lock);
		}
		run(p, c, j);
		job_put(j);
		pthread_mutex_lock(&p->lock);
		p->busy--;
		pthread_mutex_unlock(&p->lock);
	}
}

int pool_start(struct pool *p, npu_llm_model *m, npu_device *const *devs, int n, int positions,
	       int queue_max)
{
	struct npu_llm_ctx_params cp = { .positions = positions };
	struct worker *w;
	char err[512];
	int i;

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	p->m = m;
	p->n = n;
	p->queue_max = queue_max;
	p->ctx = calloc((size_t)n, sizeof(*p->ctx));
	p->threads = calloc((size_t)n, sizeof(*p->threads));
	if (!p->ctx || !p->threads) {
		fprintf(stderr, "npu-server: sessions: %s\n", npu_strerror(NPU_E_NOMEM));
		return 1;
	}
	for (i = 0; i < n; i++) {
		cp.device = devs[i];
		if (npu_llm_ctx_create(m, &cp, &p->ctx[i], err, sizeof(err))) {
			fprintf(stderr, "npu-server: session %d: %s\n", i, err);
			return 1;
		}
	}
	for (i = 0; i < n; i++) {
		w = malloc(sizeof(*w));
		if (!w) {
			fprintf(stderr, "npu-server: sessions: %s\n", npu_strerror(NPU_E_NOMEM));
			return 1;
		}
		*w = (struct worker){ p, i };
		if (pthread_create(&p->threads[i], NULL, worker, w)) {
			free(w);
			fprintf(stderr, "npu-server: sessions: cannot start a thread\n");
			return 1;
		}
		p->started++;
	}
	return 0;
}

int pool_submit(struct pool *p, struct job *j)
{
	int ret = -1;

	pthread_mutex_lock(&p->lock);
	/* Waiting beyond the free sessions: at most queue_max. */
	if (!p->stopping && p->queued - (p->n - p->busy) < p->queue_max) {
		j->refs++;	/* the pool's; no other holder runs yet */
		j->next = NULL;
		if (p->tail)
			p->tail->next = j;
		else
			p->head = j;
		p->tail = j;
		p->queued++;
		pthread_cond_signal(&p->work);
		ret = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

void pool_stop(struct pool *p)
{
	int i;

	pthread_mutex_lock(&p->lock);
	__atomic_store_n(&p->stopping, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->started; i++)
		pthread_join(p->threads[i], NULL);
	for (i = 0; p->ctx && i < p->n; i++)
		npu_llm_ctx_free(p->ctx[i]);
	free(p->ctx);
	free(p->threads);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
}
