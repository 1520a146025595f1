// SPDX-License-Identifier: MIT
/*
 * npu-server - an OpenAI-compatible HTTP server on libnpu-llm: the model
 * loaded once on one device, --parallel sessions (a context each) serving
 * the requests, a bounded queue before them. SIGTERM or SIGINT: stop
 * accepting, cancel what runs, free everything, exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npu-server.h"

static int load(struct server *srv, npu_device **dev)
{
	struct npu_llm_model_params mp = { .tokenizer = srv->a.tokenizer };
	struct npu_llm_ctx_size size;
	char err[1024] = "";
	const char *slash;
	int ret;

	if (strcmp(srv->a.device, "float")) {
		ret = npu_open(srv->a.device, dev);
		if (ret) {
			fprintf(stderr, "npu-server: device '%s': %s%s%s%s\n", srv->a.device,
				npu_strerror(ret), npu_open_reason()[0] ? " (" : "",
				npu_open_reason(), npu_open_reason()[0] ? ")" : "");
			return 1;
		}
	}
	ret = npu_llm_model_load(*dev, srv->a.model, &mp, &srv->m, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "npu-server: %s\n", err);
		return 1;
	}
	ret = npu_llm_ctx_size(srv->m, &size);
	if (ret) {
		fprintf(stderr, "npu-server: sizing the context: %s\n", npu_strerror(ret));
		return 1;
	}
	if (srv->a.ctx_size > size.file) {
		fprintf(stderr, "npu-server: --ctx-size '%d': the model's context is %d positions "
			"(see --help)\n", srv->a.ctx_size, size.file);
		return 2;
	}
	srv->positions = srv->a.ctx_size ? srv->a.ctx_size : size.positions;
	slash = strrchr(srv->a.model, '/');
	srv->model_id = slash ? slash + 1 : srv->a.model;
	/* Without a template, chat requests are refused, saying why; completions still serve. */
	if (npu_llm_chat_template_name(srv->m, srv->a.chat_template, &srv->chat_template,
				       srv->chat_error, sizeof(srv->chat_error)))
		srv->chat_template = NULL;
	srv->created = (long)time(NULL);
	return 0;
}

int main(int argc, char **argv)
{
	struct server srv = { 0 };
	npu_device *dev = NULL;
	struct http *h = NULL;
	sigset_t set;
	int status, sig;

	status = parse_args(argc, argv, &srv.a);
	if (status)
		return status;
	/* Every thread blocks these; main takes them with sigwait(). */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	status = load(&srv, &dev);
	if (!status) {
		status = pool_start(&srv.pool, srv.m, srv.a.parallel, srv.positions, srv.a.queue);
		if (!status) {
			h = http_start(&srv);
			status = !h;
		}
	}
	if (!status) {
		fprintf(stderr, "npu-server: %s, %d session%s of %d positions, chat %s: listening "
			"on http://%s:%d\n", srv.model_id, srv.a.parallel,
			srv.a.parallel == 1 ? "" : "s", srv.positions,
			srv.chat_template ? srv.chat_template : "off", srv.a.host, http_port(h));
		sigwait(&set, &sig);
		fprintf(stderr, "npu-server: %s: stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	}
	/* No new connections; then the sessions: a stream waiting for tokens sees its job end. */
	http_quiesce(h);
	if (srv.pool.ctx)
		pool_stop(&srv.pool);
	http_stop(h);
	npu_llm_model_free(srv.m);
	if (dev)
		npu_close(dev);
	return status;
}
