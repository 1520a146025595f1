// SPDX-License-Identifier: MIT
/*
 * The HTTP front: libmicrohttpd with a thread per connection (a request
 * waits for its generation in its own thread), bodies gathered up to
 * SERVER_MAX_BODY, replies from api.c sent whole or, for a stream, as
 * server-sent events from a content reader that waits for the tokens.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npu-server.h"

struct http {
	struct MHD_Daemon *d;
	struct server *srv;
};

/* A request's body as it comes. */
struct body {
	char *data;
	size_t len;
	int too_big;
};

/* A stream being sent: the event in hand and how far the job's text went. */
struct stream {
	struct server *srv;
	struct reply r;
	char *event;
	size_t len, off, sent;
	int stage;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	size_t n;

	(void)pos;
	while (s->off == s->len) {
		free(s->event);
		s->event = api_stream_event(s->srv, &s->r, &s->sent, &s->stage);
		s->off = 0;
		s->len = s->event ? strlen(s->event) : 0;
		if (!s->event)
			return MHD_CONTENT_READER_END_OF_STREAM;
	}
	n = s->len - s->off < max ? s->len - s->off : max;
	memcpy(buf, s->event + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

/* The stream is over, sent or not: a client gone mid-stream frees its session. */
static void stream_free(void *cls)
{
	struct stream *s = cls;
	struct job *j = s->r.stream;

	pthread_mutex_lock(&j->lock);
	j->cancel = 1;
	pthread_mutex_unlock(&j->lock);
	job_put(j);
	free(s->event);
	free(s);
}

static enum MHD_Result send_reply(struct MHD_Connection *con, struct server *srv,
				  struct reply *r)
{
	struct MHD_Response *resp;
	struct stream *s;
	enum MHD_Result ret;

	if (r->status >= 400)
		metrics_error();
	if (r->stream) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			job_put(r->stream);
			return MHD_NO;
		}
		s->srv = srv;
		s->r = *r;
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s,
							 stream_free);
		if (!resp) {
			stream_free(s);
			return MHD_NO;
		}
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	} else {
		resp = MHD_create_response_from_buffer(r->body ? strlen(r->body) : 0, r->body,
						       MHD_RESPMEM_MUST_FREE);
		if (!resp) {
			free(r->body);
			return MHD_NO;
		}
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					r->type ? r->type : "application/json");
	}
	ret = MHD_queue_response(con, (unsigned int)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_size, void **con_cls)
{
	struct http *h = cls;
	struct body *b = *con_cls;
	struct reply r = { 0 };
	char *t;

	(void)version;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return MHD_NO;
		*con_cls = b;
		metrics_request();
		return MHD_YES;
	}
	if (*upload_size) {
		if (b->len + *upload_size > SERVER_MAX_BODY) {
			b->too_big = 1;	/* read to its end, then refused */
		} else {
			t = realloc(b->data, b->len + *upload_size + 1);
			if (!t)
				return MHD_NO;
			b->data = t;
			memcpy(b->data + b->len, upload, *upload_size);
			b->len += *upload_size;
			b->data[b->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	api_handle(h->srv, method, url, b->data, b->len, b->too_big, &r);
	return send_reply(con, h->srv, &r);
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
			 enum MHD_RequestTerminationCode code)
{
	struct body *b = *con_cls;

	(void)cls;
	(void)con;
	(void)code;
	if (b) {
		free(b->data);
		free(b);
		*con_cls = NULL;
	}
}

struct http *http_start(struct server *srv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	struct http *h = calloc(1, sizeof(*h));

	if (!h) {
		fprintf(stderr, "npu-server: %s\n", npu_strerror(NPU_E_NOMEM));
		return NULL;
	}
	if (inet_pton(AF_INET, srv->a.host, &addr.sin_addr) != 1) {
		fprintf(stderr, "npu-server: --host '%s': want an IPv4 address such as 127.0.0.1\n",
			srv->a.host);
		free(h);
		return NULL;
	}
	addr.sin_port = htons((uint16_t)srv->a.port);
	h->srv = srv;
	h->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
				MHD_USE_ITC | MHD_USE_ERROR_LOG, (uint16_t)srv->a.port, NULL, NULL,
				on_request, h, MHD_OPTION_SOCK_ADDR, &addr,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
				MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
	if (!h->d) {
		fprintf(stderr, "npu-server: cannot listen on %s:%d (in use, or not this host's "
			"address)\n", srv->a.host, srv->a.port);
		free(h);
		return NULL;
	}
	return h;
}

int http_port(struct http *h)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);

	return i ? i->port : -1;
}

void http_quiesce(struct http *h)
{
	MHD_socket s;

	if (!h)
		return;
	s = MHD_quiesce_daemon(h->d);
	if (s != MHD_INVALID_SOCKET)
		close(s);
}

void http_stop(struct http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
