// SPDX-License-Identifier: MIT
/*
 * npu-server - an OpenAI-compatible HTTP server on libnpu-llm: the model
 * loaded once, --parallel sessions (a context each, on npu.ko each in its
 * own DRM file) serving the requests, a bounded queue before them.
 * SIGTERM or SIGINT: stop accepting, cancel what runs, free everything,
 * exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npu-server.h"

static int load(struct server *srv)
{
	struct npu_llm_model_params mp = { .tokenizer = srv->a.tokenizer };
	struct npu_llm_ctx_size size;
	char err[1024] = "";
	const char *slash;
	int ret;

	if (strcmp(srv->a.device, "float")) {
		ret = npu_open(srv->a.device, &srv->dev);
		if (ret) {
			fprintf(stderr, "npu-server: device '%s': %s%s%s%s\n", srv->a.device,
				npu_strerror(ret), npu_open_reason()[0] ? " (" : "",
				npu_open_reason(), npu_open_reason()[0] ? ")" : "");
			return 1;
		}
	}
	ret = npu_llm_model_load(srv->dev, srv->a.model, &mp, &srv->m, err, sizeof(err));
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

/*
 * On npu.ko, every session beyond the first opens the NPU again: its own
 * DRM file, so its own address space, priorities and fault isolation,
 * with the model's weights attached there. Other backends' sessions
 * share the model's device.
 */
static int open_sessions(struct server *srv)
{
	struct npu_info info;
	char err[512];
	size_t len;
	int i, ret;

	srv->devs = calloc((size_t)srv->a.parallel, sizeof(*srv->devs));
	if (!srv->devs) {
		fprintf(stderr, "npu-server: sessions: %s\n", npu_strerror(NPU_E_NOMEM));
		return 1;
	}
	snprintf(srv->device, sizeof(srv->device), "%s", srv->a.device);
	if (!srv->dev || npu_query(srv->dev, &info))
		return 0;
	snprintf(srv->device, sizeof(srv->device), "%s", info.backend);
	if (strcmp(info.backend, "accel"))
		return 0;
	/* Its name is "/dev/accel/accelN (npu.ko)": reopen that node, not any. */
	len = strcspn(info.name, " ");
	if (len < sizeof(srv->node) + 11 && !strncmp(info.name, "/dev/accel/", 11))
		snprintf(srv->node, sizeof(srv->node), "%.*s", (int)len - 11, info.name + 11);
	if (!srv->node[0]) {
		fprintf(stderr, "npu-server: cannot tell npu.ko's node from '%s'\n", info.name);
		return 1;
	}
	snprintf(srv->device, sizeof(srv->device), "%s", srv->node);
	for (i = 1; i < srv->a.parallel; i++) {
		ret = npu_open(srv->node, &srv->devs[i]);
		if (ret) {
			fprintf(stderr, "npu-server: session %d: opening %s: %s\n", i, srv->node,
				npu_strerror(ret));
			return 1;
		}
		if (npu_llm_model_attach(srv->m, srv->devs[i], err, sizeof(err))) {
			fprintf(stderr, "npu-server: session %d: %s\n", i, err);
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct server srv = { 0 };
	struct http *h = NULL;
	sigset_t set;
	int status, sig, i;

	status = parse_args(argc, argv, &srv.a);
	if (status)
		return status;
	/* Every thread blocks these; main takes them with sigwait(). */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	status = load(&srv);
	status = status ? status : open_sessions(&srv);
	if (!status) {
		status = pool_start(&srv.pool, srv.m, srv.devs, srv.a.parallel, srv.positions,
				    srv.a.queue);
		if (!status) {
			h = http_start(&srv);
			status = !h;
		}
	}
	if (!status) {
		fprintf(stderr, "npu-server: %s, %d session%s of %d positions%s%s, chat %s: "
			"listening on http://%s:%d\n", srv.model_id, srv.a.parallel,
			srv.a.parallel == 1 ? "" : "s", srv.positions,
			srv.node[0] ? ", a DRM file each on " : "", srv.node,
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
	for (i = 0; srv.devs && i < srv.a.parallel; i++)
		if (srv.devs[i])
			npu_close(srv.devs[i]);
	free(srv.devs);
	if (srv.dev)
		npu_close(srv.dev);
	return status;
}
