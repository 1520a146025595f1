/* SPDX-License-Identifier: MIT */
/*
 * npu-server's parts: its options (args.c), the HTTP front (http.c), the
 * OpenAI-shaped endpoints (api.c), the sessions that generate (pool.c),
 * the counters /metrics shows (metrics.c) and its life (main.c).
 */
#ifndef NPU_SERVER_H
#define NPU_SERVER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <npu/llm.h>

/* A request body beyond this is refused (413). */
#define SERVER_MAX_BODY (1u << 20)
/* Stop strings a request may give, as OpenAI allows. */
#define SERVER_MAX_STOP 4

struct args {
	const char *model, *tokenizer, *device, *host, *chat_template;
	int port, ctx_size, parallel, queue;
};

/* 0, or the exit status of bad arguments (2, after one line on stderr). */
int parse_args(int argc, char **argv, struct args *a);

/*
 * One generation: filled by a handler, run by a session, read by the
 * handler (whole, or as a stream). Two holders (the handler's side and
 * the pool's) free it with job_put().
 */
struct job {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs;
	struct job *next;
	/* what to do */
	int32_t *prompt;
	int n_prompt, max_tokens;
	struct npu_llm_sampler_params sampling;
	char *stop[SERVER_MAX_STOP];
	int n_stop;
	size_t stop_max;	/* the longest stop string's bytes */
	enum npu_priority priority;	/* its forward passes' on the NPU */
	const char *tier;	/* the service_tier it was asked as (static) */
	/* what came of it, under @lock */
	char *text;
	size_t len, cap;
	int done, cancel, stopped;	/* stopped: a stop string ended it */
	int failed;		/* a forward pass or memory failed: @error says why */
	char error[256];
	struct npu_llm_stats stats;
};

struct job *job_new(void);
void job_put(struct job *j);
/* Text that may be sent: not a part of a stop string or of a UTF-8 character. */
size_t job_ready(const struct job *j);
/* "stop" or "length". */
const char *job_finish_reason(const struct job *j);

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t work;
	npu_llm_model *m;
	npu_llm_ctx **ctx;
	pthread_t *threads;
	int n, started, busy, queued, queue_max, stopping;
	struct job *head, *tail;
};

/*
 * --parallel contexts of @positions each, and a thread for each; session
 * i's context on @devs[i] (NULL: the model's own device).
 */
int pool_start(struct pool *p, npu_llm_model *m, npu_device *const *devs, int n, int positions,
	       int queue_max);
/* Queue @j (the pool takes a reference): 0, or -1 when the queue is full or the pool stops. */
int pool_submit(struct pool *p, struct job *j);
/* Cancel what runs and waits, join the threads, free the contexts. */
void pool_stop(struct pool *p);

struct counters {
	uint64_t requests, errors, rejected, prompt_tokens, generated_tokens;
	double generation_s;
};

struct metrics {
	pthread_mutex_t lock;
	struct counters c;
};

extern struct metrics metrics;
void metrics_request(void);
void metrics_error(void);
void metrics_rejected(void);
void metrics_generation(const struct npu_llm_stats *s);
/* The Prometheus text, malloc'ed: the server's counters and its NPU's. */
struct server;
char *metrics_text(struct server *srv);

struct server {
	struct args a;
	npu_llm_model *m;
	const char *model_id;	/* the model file's name */
	const char *chat_template;	/* the family chat requests render with, or NULL */
	char chat_error[256];	/* why there is none */
	int positions;		/* each session's context */
	struct pool pool;
	long created;		/* the load's time, for /v1/models */
	npu_device *dev;	/* the model's */
	/* Session i's own open of the NPU (npu.ko: a DRM file each), or NULL: @dev. */
	npu_device **devs;
	char node[16];		/* npu.ko's node ("accel0") for its sysfs counters, or "" */
	char device[16];	/* what the sessions run on: the node, a backend, or "float" */
};

struct http;
/* Serve @srv on --host and --port (0: a free port); NULL after a line on stderr. */
struct http *http_start(struct server *srv);
int http_port(struct http *h);
/* Accept no more connections (@h may be NULL). */
void http_quiesce(struct http *h);
void http_stop(struct http *h);

/* A finished response the handlers hand to http.c. */
struct reply {
	int status;
	char *body;		/* malloc'ed JSON or text */
	const char *type;	/* Content-Type */
	struct job *stream;	/* set instead of @body: a stream of events from this job */
	int chat;		/* the stream's chunks are chat.completion.chunk */
	char id[40];
};

/* The chat page (page.html), NUL-terminated. */
extern const char npu_server_page[];

/* Route a request: @path, @method, its body (NULL for none). */
void api_handle(struct server *srv, const char *method, const char *path, const char *body,
		size_t len, int too_big, struct reply *r);
/* An error reply: {"error": {"message": MSG, "type": TYPE}}. */
void api_error(struct reply *r, int status, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The next event of a stream: malloc'ed "data: ...\n\n", or NULL at its end. */
char *api_stream_event(struct server *srv, struct reply *r, size_t *sent, int *finished);

#endif
