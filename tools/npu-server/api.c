// SPDX-License-Identifier: MIT
/*
 * The endpoints, in OpenAI's request and response shapes: a request is
 * checked (every field's type and range, the model's name), its prompt
 * tokenized (a chat's messages rendered by the model's template first),
 * and its job queued on the pool; then the whole text is answered, or
 * the stream of events is made as the tokens come.
 */
#define _GNU_SOURCE	/* asprintf */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npu-server.h"

/* @o (freed) as @r's JSON body, status 200. */
static void reply_json(struct reply *r, json_object *o)
{
	r->status = 200;
	r->body = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

void api_error(struct reply *r, int status, const char *type, const char *fmt, ...)
{
	json_object *o = json_object_new_object(), *e = json_object_new_object();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(e, "message", json_object_new_string(msg));
	json_object_object_add(e, "type", json_object_new_string(type));
	json_object_object_add(o, "error", e);
	reply_json(r, o);
	r->status = status;
}

static int is_number(json_object *v)
{
	return json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int);
}

/* The sampling fields and max_tokens, checked; 0, or 1 with @r an error. */
static int parse_sampling(struct server *srv, json_object *req, struct job *j, struct reply *r)
{
	json_object *v;
	double d;
	int64_t n;

	npu_llm_sampler_defaults(&j->sampling);
	j->sampling.temperature = 1.0f;	/* OpenAI's default */
	j->sampling.seed = 42;
	j->max_tokens = srv->positions;
	if (json_object_object_get_ex(req, "temperature", &v) && !json_object_is_type(v, json_type_null)) {
		d = json_object_get_double(v);
		if (!is_number(v) || d < 0 || d > 2) {
			api_error(r, 400, "invalid_request_error", "temperature: want a number in 0..2");
			return 1;
		}
		j->sampling.temperature = (float)d;
	}
	if (json_object_object_get_ex(req, "top_p", &v) && !json_object_is_type(v, json_type_null)) {
		d = json_object_get_double(v);
		if (!is_number(v) || d <= 0 || d > 1) {
			api_error(r, 400, "invalid_request_error", "top_p: want a number in (0, 1]");
			return 1;
		}
		j->sampling.top_p = (float)d;
	}
	if (json_object_object_get_ex(req, "seed", &v) && !json_object_is_type(v, json_type_null)) {
		n = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || n < 0) {
			api_error(r, 400, "invalid_request_error", "seed: want an integer from 0");
			return 1;
		}
		j->sampling.seed = (uint64_t)n;
	}
	if ((json_object_object_get_ex(req, "max_tokens", &v) ||
	     json_object_object_get_ex(req, "max_completion_tokens", &v)) &&
	    !json_object_is_type(v, json_type_null)) {
		n = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || n < 1 || n > srv->positions) {
			api_error(r, 400, "invalid_request_error",
				  "max_tokens: want an integer in 1..%d (the context)", srv->positions);
			return 1;
		}
		j->max_tokens = (int)n;
	}
	return 0;
}

/* "stop": a string or up to SERVER_MAX_STOP of them. */
static int parse_stop(json_object *req, struct job *j, struct reply *r)
{
	json_object *v, *s;
	size_t i, n;

	if (!json_object_object_get_ex(req, "stop", &v) || json_object_is_type(v, json_type_null))
		return 0;
	n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 1;
	if (!(json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_array)) ||
	    n > SERVER_MAX_STOP)
		goto bad;
	for (i = 0; i < n; i++) {
		s = json_object_is_type(v, json_type_array) ? json_object_array_get_idx(v, i) : v;
		if (!json_object_is_type(s, json_type_string) || !json_object_get_string_len(s))
			goto bad;
		j->stop[j->n_stop] = strdup(json_object_get_string(s));
		if (!j->stop[j->n_stop]) {
			api_error(r, 500, "server_error", "out of memory");
			return 1;
		}
		if (strlen(j->stop[j->n_stop]) > j->stop_max)
			j->stop_max = strlen(j->stop[j->n_stop]);
		j->n_stop++;
	}
	return 0;
bad:
	api_error(r, 400, "invalid_request_error",
		  "stop: want a non-empty string or an array of up to %d", SERVER_MAX_STOP);
	return 1;
}

/*
 * "service_tier", OpenAI's: "flex" runs at the NPU's low priority,
 * "priority" at its high one, "auto" and "default" at normal.
 */
static int parse_tier(json_object *req, struct job *j, struct reply *r)
{
	static const struct { const char *name; enum npu_priority prio; } tiers[] = {
		{ "auto", NPU_PRIO_NORMAL }, { "default", NPU_PRIO_NORMAL },
		{ "flex", NPU_PRIO_LOW }, { "priority", NPU_PRIO_HIGH },
	};
	json_object *v;
	size_t i;

	j->priority = NPU_PRIO_NORMAL;
	j->tier = "default";
	if (!json_object_object_get_ex(req, "service_tier", &v) ||
	    json_object_is_type(v, json_type_null))
		return 0;
	for (i = 0; json_object_is_type(v, json_type_string) && i < 4; i++) {
		if (!strcmp(json_object_get_string(v), tiers[i].name)) {
			j->priority = tiers[i].prio;
			j->tier = tiers[i].name;
			return 0;
		}
	}
	api_error(r, 400, "invalid_request_error",
		  "service_tier: want auto, default, flex (low priority) or priority (high)");
	return 1;
}

/* A chat's messages rendered by the model's template: malloc'ed text, or NULL with @r set. */
static char *render_chat(struct server *srv, json_object *req, struct reply *r)
{
	struct npu_llm_chat_msg *msgs;
	json_object *v, *m, *role, *content;
	char *text = NULL;
	size_t i, n;
	int ret;

	if (!json_object_object_get_ex(req, "messages", &v) ||
	    !json_object_is_type(v, json_type_array) || !json_object_array_length(v)) {
		api_error(r, 400, "invalid_request_error", "messages: want a non-empty array");
		return NULL;
	}
	if (!srv->chat_template) {
		api_error(r, 400, "invalid_request_error", "chat: %s",
			  srv->chat_error);
		return NULL;
	}
	n = json_object_array_length(v);
	msgs = calloc(n, sizeof(*msgs));
	if (!msgs) {
		api_error(r, 500, "server_error", "out of memory");
		return NULL;
	}
	for (i = 0; i < n; i++) {
		m = json_object_array_get_idx(v, i);
		if (!json_object_is_type(m, json_type_object) ||
		    !json_object_object_get_ex(m, "role", &role) ||
		    !json_object_is_type(role, json_type_string) ||
		    !json_object_object_get_ex(m, "content", &content) ||
		    !json_object_is_type(content, json_type_string)) {
			api_error(r, 400, "invalid_request_error",
				  "messages[%zu]: want {\"role\": string, \"content\": string}", i);
			free(msgs);
			return NULL;
		}
		msgs[i].role = json_object_get_string(role);
		msgs[i].content = json_object_get_string(content);
		if (strcmp(msgs[i].role, "system") && strcmp(msgs[i].role, "user") &&
		    strcmp(msgs[i].role, "assistant")) {
			api_error(r, 400, "invalid_request_error",
				  "messages[%zu].role: want system, user or assistant", i);
			free(msgs);
			return NULL;
		}
	}
	ret = npu_llm_chat_apply(srv->chat_template, msgs, n, 1, &text);
	free(msgs);
	if (ret) {
		api_error(r, 500, "server_error", "rendering the chat: %s", npu_strerror(ret));
		return NULL;
	}
	return text;
}

/* @text's tokens into the job: as npu-run encodes a prompt, or a chat's as llama.cpp does. */
static int tokenize(struct server *srv, const char *text, int chat, struct job *j,
		    struct reply *r)
{
	const struct npu_tokenizer *tok = npu_llm_model_tokenizer(srv->m);
	size_t len = strlen(text);
	int32_t n = 0;
	int ret;

	if (len > SERVER_MAX_BODY) {
		api_error(r, 400, "invalid_request_error", "the prompt is too long");
		return 1;
	}
	/* At most a token a byte, BOS, EOS and a dummy space. */
	j->prompt = calloc(len + 4, sizeof(*j->prompt));
	if (!j->prompt) {
		api_error(r, 500, "server_error", "out of memory");
		return 1;
	}
	if (chat)
		ret = npu_tokenizer_tokenize(tok, text, len, NPU_TOKENIZE_ADD_SPECIAL |
					     NPU_TOKENIZE_PARSE_SPECIAL, j->prompt,
					     (int32_t)len + 4, &n);
	else
		ret = npu_tokenizer_encode(tok, text, 1, j->prompt, (int32_t)len + 4, &n);
	if (ret) {
		api_error(r, 400, "invalid_request_error", "tokenizing the prompt: %s",
			  npu_strerror(ret));
		return 1;
	}
	if (n < 1 || n >= srv->positions) {
		api_error(r, 400, "invalid_request_error",
			  "the prompt is %d tokens; the context holds %d with room for one more",
			  n, srv->positions);
		return 1;
	}
	j->n_prompt = n;
	if (j->max_tokens > srv->positions - n)
		j->max_tokens = srv->positions - n;
	return 0;
}

static void make_id(char *id, size_t len, int chat)
{
	static unsigned long counter;

	snprintf(id, len, "%s-%lx-%lu", chat ? "chatcmpl" : "cmpl", (unsigned long)time(NULL),
		 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
}

static json_object *usage(const struct job *j)
{
	json_object *u = json_object_new_object();

	json_object_object_add(u, "prompt_tokens", json_object_new_int(j->n_prompt));
	json_object_object_add(u, "completion_tokens",
			       json_object_new_int(j->stats.generated_tokens));
	json_object_object_add(u, "total_tokens",
			       json_object_new_int(j->n_prompt + j->stats.generated_tokens));
	return u;
}

/* The shell of a response or a chunk: id, object, created, model, one choice. */
static json_object *envelope(struct server *srv, const char *id, const char *object,
			     json_object *choice)
{
	json_object *o = json_object_new_object(), *choices = json_object_new_array();

	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "object", json_object_new_string(object));
	json_object_object_add(o, "created", json_object_new_int64((int64_t)time(NULL)));
	json_object_object_add(o, "model", json_object_new_string(srv->model_id));
	json_object_object_add(choice, "index", json_object_new_int(0));
	json_object_array_add(choices, choice);
	json_object_object_add(o, "choices", choices);
	return o;
}

/* A choice's text: a chat's as a message (or a chunk's delta), else "text". */
static json_object *choice(int chat, int delta, const char *text, size_t len,
			   const char *finish)
{
	json_object *c = json_object_new_object(), *m;

	if (chat) {
		m = json_object_new_object();
		if (!delta || !text)
			json_object_object_add(m, "role", json_object_new_string("assistant"));
		if (text)
			json_object_object_add(m, "content", json_object_new_string_len(text, (int)len));
		json_object_object_add(c, delta ? "delta" : "message", m);
	} else {
		json_object_object_add(c, "text", json_object_new_string_len(text ? text : "",
									     (int)len));
	}
	json_object_object_add(c, "finish_reason", finish ? json_object_new_string(finish) : NULL);
	return c;
}

static void generate(struct server *srv, json_object *req, int chat, struct reply *r)
{
	json_object *v;
	struct job *j = job_new();
	char *text = NULL;
	int stream = 0;

	if (!j) {
		api_error(r, 500, "server_error", "out of memory");
		return;
	}
	if (json_object_object_get_ex(req, "model", &v) && !json_object_is_type(v, json_type_null) &&
	    (!json_object_is_type(v, json_type_string) ||
	     strcmp(json_object_get_string(v), srv->model_id))) {
		api_error(r, 404, "invalid_request_error", "model '%.200s': this server has '%s'",
			  json_object_get_string(v), srv->model_id);
		goto out;
	}
	if (json_object_object_get_ex(req, "stream", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			api_error(r, 400, "invalid_request_error", "stream: want true or false");
			goto out;
		}
		stream = json_object_get_boolean(v);
	}
	if (parse_sampling(srv, req, j, r) || parse_stop(req, j, r) || parse_tier(req, j, r))
		goto out;
	if (chat) {
		text = render_chat(srv, req, r);
		if (!text)
			goto out;
	} else if (!json_object_object_get_ex(req, "prompt", &v) ||
		   !json_object_is_type(v, json_type_string)) {
		api_error(r, 400, "invalid_request_error", "prompt: want a string");
		goto out;
	}
	if (tokenize(srv, chat ? text : json_object_get_string(v), chat, j, r))
		goto out;
	if (pool_submit(&srv->pool, j)) {
		metrics_rejected();
		api_error(r, 503, "server_busy", "all %d sessions are busy and %d requests wait: "
			  "try again later", srv->pool.n, srv->pool.queue_max);
		goto out;
	}
	make_id(r->id, sizeof(r->id), chat);
	r->chat = chat;
	if (stream) {
		r->status = 200;
		r->stream = j;	/* http.c's now */
		free(text);
		return;
	}
	pthread_mutex_lock(&j->lock);
	while (!j->done)
		pthread_cond_wait(&j->cond, &j->lock);
	pthread_mutex_unlock(&j->lock);
	if (j->failed) {
		api_error(r, 500, "server_error", "%s", j->error);
	} else {
		json_object *o = envelope(srv, r->id, chat ? "chat.completion" : "text_completion",
					  choice(chat, 0, j->text ? j->text : "", j->len,
						 job_finish_reason(j)));

		json_object_object_add(o, "usage", usage(j));
		json_object_object_add(o, "service_tier", json_object_new_string(j->tier));
		reply_json(r, o);
	}
out:
	free(text);
	job_put(j);
}

char *api_stream_event(struct server *srv, struct reply *r, size_t *sent, int *stage)
{
	struct job *j = r->stream;
	const char *object = r->chat ? "chat.completion.chunk" : "text_completion";
	json_object *o = NULL;
	char *event = NULL;
	size_t ready;

	if (*stage == 2)
		return NULL;
	if (*stage == 0 && r->chat) {	/* the role first, as OpenAI sends it */
		*stage = 1;
		o = envelope(srv, r->id, object, choice(1, 1, NULL, 0, NULL));
		goto out;
	}
	*stage = 1;
	pthread_mutex_lock(&j->lock);
	while ((ready = job_ready(j)) <= *sent && !j->done)
		pthread_cond_wait(&j->cond, &j->lock);
	if (ready > *sent) {
		o = envelope(srv, r->id, object, choice(r->chat, 1, j->text + *sent,
							 ready - *sent, NULL));
		*sent = ready;
	} else if (j->failed) {
		json_object *e = json_object_new_object();

		o = json_object_new_object();
		json_object_object_add(e, "message", json_object_new_string(j->error));
		json_object_object_add(e, "type", json_object_new_string("server_error"));
		json_object_object_add(o, "error", e);
		*stage = 2;
	} else {
		o = envelope(srv, r->id, object, choice(r->chat, 1, r->chat ? NULL : "", 0,
							 job_finish_reason(j)));
		if (r->chat)	/* an empty delta closes a chat */
			json_object_object_add(json_object_array_get_idx(
				json_object_object_get(o, "choices"), 0), "delta",
				json_object_new_object());
		json_object_object_add(o, "usage", usage(j));
		json_object_object_add(o, "service_tier", json_object_new_string(j->tier));
		*stage = 2;
	}
	pthread_mutex_unlock(&j->lock);
out:
	if (asprintf(&event, "data: %s\n\n%s", json_object_to_json_string_ext(o,
		     JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
		     *stage == 2 ? "data: [DONE]\n\n" : "") < 0)
		event = NULL;
	json_object_put(o);
	return event;
}

static void models(struct server *srv, struct reply *r)
{
	json_object *o = json_object_new_object(), *list = json_object_new_array();
	json_object *m = json_object_new_object();

	json_object_object_add(m, "id", json_object_new_string(srv->model_id));
	json_object_object_add(m, "object", json_object_new_string("model"));
	json_object_object_add(m, "created", json_object_new_int64(srv->created));
	json_object_object_add(m, "owned_by", json_object_new_string("npu"));
	/* Not OpenAI's: the device it runs on, for the chat page. */
	json_object_object_add(m, "npu_device", json_object_new_string(srv->device));
	json_object_array_add(list, m);
	json_object_object_add(o, "object", json_object_new_string("list"));
	json_object_object_add(o, "data", list);
	reply_json(r, o);
}

void api_handle(struct server *srv, const char *method, const char *path, const char *body,
		size_t len, int too_big, struct reply *r)
{
	int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
	int chat = !strcmp(path, "/v1/chat/completions");
	enum json_tokener_error jerr = json_tokener_success;
	json_object *req;

	if (!strcmp(path, "/") && get) {
		r->status = 200;
		r->body = strdup(npu_server_page);
		r->type = "text/html; charset=utf-8";
	} else if (!strcmp(path, "/health") && get) {
		r->status = 200;
		r->body = strdup("{\"status\":\"ok\"}");
	} else if (!strcmp(path, "/v1/models") && get) {
		models(srv, r);
	} else if (!strcmp(path, "/metrics") && get) {
		r->status = 200;
		r->body = metrics_text(srv);
		r->type = "text/plain; version=0.0.4";
	} else if ((chat || !strcmp(path, "/v1/completions")) && post) {
		if (too_big) {
			api_error(r, 413, "invalid_request_error", "the body is over %u bytes",
				  SERVER_MAX_BODY);
			return;
		}
		req = body ? json_tokener_parse_verbose(body, &jerr) : NULL;
		if (!req || !json_object_is_type(req, json_type_object) ||
		    strlen(body) != len) {
			api_error(r, 400, "invalid_request_error", "the body is not a JSON object%s%s",
				  jerr != json_tokener_success ? ": " : "",
				  jerr != json_tokener_success ? json_tokener_error_desc(jerr) : "");
			json_object_put(req);
			return;
		}
		generate(srv, req, chat, r);
		json_object_put(req);
	} else if (!strcmp(path, "/") || !strcmp(path, "/health") || !strcmp(path, "/v1/models") ||
		   !strcmp(path, "/metrics") || chat || !strcmp(path, "/v1/completions")) {
		api_error(r, 405, "invalid_request_error", "%s %.200s: method not allowed", method,
			  path);
	} else {
		api_error(r, 404, "invalid_request_error", "%s %.200s: no such endpoint", method,
			  path);
	}
}
