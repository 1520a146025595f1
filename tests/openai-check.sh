#!/bin/sh
# npu-server through the official openai npm client (tests/openai/client.mjs):
# npu-server serves stories260K.gguf on the cpu backend with 2 sessions and
# the chatml template; the client lists the models, asks for completions
# (greedy, and sampled with a seed) whole and streamed, each of which must
# be npu-run's text for the same prompt, steps and settings; chats, whole
# and streamed, which must agree and repeat; an unknown model (404) and a
# negative max_tokens (400) as the client's APIError; 4 streamed chats at
# once, each the text of one alone. SIGTERM must then end it with status 0.
# openai is installed once (npm, a pinned version) into
# ${XDG_CACHE_HOME:-~/.cache}/npu-openai, outside the clone.
# Prints PASS/FAIL lines (SKIP without node, npm, the registry or the
# model, FAIL then when CI=true).
# usage: openai-check.sh BUILD_DIR
set -u
dir=$1
check=openai_check
# Seconds to wait for the server to listen, npu-run or the client to finish.
limit=${NPU_SERVER_TIMEOUT:-120}
. tests/server-lib.sh

[ -f "$model" ] || missing "no stories260K.gguf in $models"
if [ ! -x "$server" ] || [ ! -x "$run" ]; then
	echo "FAIL openai_check: no $server or $run"
	exit 1
fi
openai_client
openai_want "$tmp/want.json"

start openai_server_start --parallel 2 --chat-template chatml

openai_run "http://127.0.0.1:$port/v1" openai_

stop openai_server_sigterm
