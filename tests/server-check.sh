#!/bin/sh
# npu-server over HTTP: it serves stories260K.gguf on the cpu backend on
# a free port (--port 0, read from its first line), and curl asks every
# endpoint. A greedy completion must be npu-run's text for the same
# prompt and steps; its stream's chunks must join to the same text and end
# with [DONE]; a chat (--chat-template chatml) must answer; each malformed
# request must get its 4xx and a JSON error, the server still healthy
# after; --parallel 2 --queue 1 must serve or 503 each of 6 concurrent
# requests, serving at least 3; a client gone mid-stream must free its
# session; SIGTERM must end it with status 0 within seconds.
# Prints PASS/FAIL lines (SKIP without curl, python3 or the model, FAIL
# then when CI=true).
# usage: server-check.sh BUILD_DIR
set -u
dir=$1
check=server_check
# Seconds to wait for the server to listen, answer or exit.
limit=${NPU_SERVER_TIMEOUT:-60}
. tests/server-lib.sh

command -v curl >/dev/null 2>&1 || missing "no curl (tools/install-deps.sh installs it)"
command -v python3 >/dev/null 2>&1 || missing "no python3"
[ -f "$model" ] || missing "no stories260K.gguf in $models"
if [ ! -x "$server" ] || [ ! -x "$run" ]; then
	echo "FAIL server_check: no $server or $run"
	exit 1
fi

# req FILE METHOD PATH [BODY]: the response's body into FILE; its status printed.
req() {
	f=$1
	shift
	if [ $# -ge 3 ]; then
		curl -s -m "$limit" -o "$f" -w '%{http_code}' -X "$1" "$url$2" \
			-H 'Content-Type: application/json' --data-binary "$3"
	else
		curl -s -m "$limit" -o "$f" -w '%{http_code}' -X "$1" "$url$2"
	fi
}

# py FILE EXPR: EXPR on the JSON in FILE (d) printed; "" when it is not JSON.
py() {
	python3 -c 'import json, sys
try:
	d = json.load(open(sys.argv[1]))
except Exception:
	sys.exit(0)
print(eval("(" + sys.argv[2] + ")"))' "$1" "$2" 2>&1
}

start server_start --parallel 2 --queue 1 --chat-template chatml

code=$(req "$tmp/h" GET /health)
result server_health "$([ "$code" = 200 ] && [ "$(py "$tmp/h" 'd["status"]')" = ok ] ||
	echo "status $code: $(head -c 200 "$tmp/h")")"

code=$(req "$tmp/m" GET /v1/models)
result server_models "$([ "$code" = 200 ] &&
	[ "$(py "$tmp/m" 'd["data"][0]["id"]')" = stories260K.gguf ] &&
	[ "$(py "$tmp/m" 'd["data"][0]["npu_device"]')" = cpu ] ||
	echo "status $code: $(head -c 200 "$tmp/m")")"

# Greedy: npu-run's text (the prompt's and the generated) for the same prompt and steps.
prompt="Once upon a time"
steps=100
timeout "$limit" "$run" --model "$model" --device cpu --prompt "$prompt" --steps $steps \
	--json >"$tmp/run.json" 2>"$tmp/run.err"
want=$(py "$tmp/run.json" 'd["text"]')
code=$(req "$tmp/c" POST /v1/completions \
	"{\"prompt\": \"$prompt\", \"max_tokens\": $steps, \"temperature\": 0}")
got="$prompt$(py "$tmp/c" 'd["choices"][0]["text"]')"
why=
if [ "$code" != 200 ]; then
	why="status $code: $(head -c 200 "$tmp/c")"
elif [ -z "$want" ]; then
	why="npu-run gave no text: $(head -c 200 "$tmp/run.err")"
elif [ "$got" != "$want" ]; then
	why="'$got' is not npu-run's '$want'"
elif [ "$(py "$tmp/c" 'd["usage"]["completion_tokens"] == d["usage"]["total_tokens"] -
	d["usage"]["prompt_tokens"] and d["choices"][0]["finish_reason"] in ("stop", "length")')" \
	!= True ]; then
	why="usage or finish_reason wrong: $(head -c 300 "$tmp/c")"
fi
result server_completion_matches_npu_run "$why"

# The same as a stream: data: lines whose texts join to it, then [DONE].
curl -s -N -m "$limit" "$url/v1/completions" -H 'Content-Type: application/json' \
	-d "{\"prompt\": \"$prompt\", \"max_tokens\": $steps, \"temperature\": 0, \"stream\": true}" \
	>"$tmp/s"
streamed=$(python3 -c 'import json, sys
ev = [l[6:] for l in open(sys.argv[1]).read().split("\n\n") if l.startswith("data: ")]
assert ev and ev[-1] == "[DONE]", "no [DONE] at the end"
chunks = [json.loads(e) for e in ev[:-1]]
assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length"), "no finish_reason"
print("".join(c["choices"][0]["text"] for c in chunks), end="")' "$tmp/s" 2>&1)
result server_stream_matches "$([ "$prompt$streamed" = "$want" ] ||
	echo "'$prompt$streamed' is not '$want'")"

# A chat, whole and streamed: an answer, ended by the model or max_tokens.
code=$(req "$tmp/ch" POST /v1/chat/completions \
	'{"messages": [{"role": "system", "content": "Tell stories."},
	  {"role": "user", "content": "A story"}], "max_tokens": 20, "seed": 7}')
result server_chat "$([ "$code" = 200 ] &&
	[ "$(py "$tmp/ch" 'd["choices"][0]["message"]["role"] == "assistant" and
	  isinstance(d["choices"][0]["message"]["content"], str) and
	  d["object"] == "chat.completion"')" = True ] ||
	echo "status $code: $(head -c 300 "$tmp/ch")")"
curl -s -N -m "$limit" "$url/v1/chat/completions" -d \
	'{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 10, "stream": true}' \
	>"$tmp/chs"
result server_chat_stream "$(python3 -c 'import json, sys
ev = [l[6:] for l in open(sys.argv[1]).read().split("\n\n") if l.startswith("data: ")]
assert ev[-1] == "[DONE]", "no [DONE]"
c = [json.loads(e) for e in ev[:-1]]
assert c[0]["object"] == "chat.completion.chunk", "not chunks"
assert c[-1]["choices"][0]["finish_reason"] in ("stop", "length"), "no finish_reason"' \
	"$tmp/chs" 2>&1 | tail -1)"

# A stop string ends the text before it.
code=$(req "$tmp/st" POST /v1/completions \
	"{\"prompt\": \"$prompt\", \"max_tokens\": $steps, \"temperature\": 0, \"stop\": \" Lily\"}")
result server_stop_string "$([ "$code" = 200 ] &&
	[ "$(py "$tmp/st" 'd["choices"][0]["finish_reason"] == "stop" and
	  "Lily" not in d["choices"][0]["text"]')" = True ] ||
	echo "not ended by the stop string: $(head -c 300 "$tmp/st")")"

# Each malformed request: its status, a JSON error, and the server still serving.
head -c 1100000 /dev/zero | tr '\0' a >"$tmp/big"
bad() {
	name=$1
	want=$2
	shift 2
	code=$(req "$tmp/e" "$@")
	why=
	if [ "$code" != "$want" ]; then
		why="status $code, not $want: $(head -c 200 "$tmp/e")"
	elif [ "$(py "$tmp/e" 'isinstance(d["error"]["message"], str) and
		  isinstance(d["error"]["type"], str)')" != True ]; then
		why="not a JSON error: $(head -c 200 "$tmp/e")"
	elif [ "$(req "$tmp/h" GET /health)" != 200 ]; then
		why="/health fails after it"
	fi
	result "server_rejects_$name" "$why"
}
bad malformed_json 400 POST /v1/completions '{"prompt": "a",'
bad not_an_object 400 POST /v1/completions '[1, 2]'
bad prompt_type 400 POST /v1/completions '{"prompt": 5}'
bad temperature_type 400 POST /v1/completions '{"prompt": "a", "temperature": "hot"}'
bad stream_type 400 POST /v1/completions '{"prompt": "a", "stream": 1}'
bad negative_max_tokens 400 POST /v1/completions '{"prompt": "a", "max_tokens": -1}'
bad huge_max_tokens 400 POST /v1/completions '{"prompt": "a", "max_tokens": 1000000000}'
bad float_max_tokens 400 POST /v1/completions '{"prompt": "a", "max_tokens": 2.5}'
bad unknown_model 404 POST /v1/completions '{"prompt": "a", "model": "gpt-4"}'
bad no_messages 400 POST /v1/chat/completions '{"messages": []}'
bad message_shape 400 POST /v1/chat/completions '{"messages": [{"role": "user"}]}'
bad message_role 400 POST /v1/chat/completions '{"messages": [{"role": "x", "content": "a"}]}'
bad empty_body 400 POST /v1/completions ''
bad body_over_limit 413 POST /v1/completions "@$tmp/big"
bad unknown_path 404 GET /v2/nothing
bad wrong_method 405 DELETE /v1/completions

# 6 at once on 2 sessions and a queue of 1: each served or refused with 503, at least 3 served.
i=0
curls=
while [ $i -lt 6 ]; do
	curl -s -m "$limit" -o "$tmp/p$i" -w '%{http_code}' "$url/v1/completions" -d \
		"{\"prompt\": \"$prompt\", \"max_tokens\": 400, \"seed\": $i}" >"$tmp/pc$i" &
	curls="$curls $!"
	i=$((i + 1))
done
# shellcheck disable=SC2086
wait $curls
served=0
why=
for i in 0 1 2 3 4 5; do
	code=$(cat "$tmp/pc$i")
	case "$code" in
	200) served=$((served + 1)) ;;
	503) [ "$(py "$tmp/p$i" 'd["error"]["type"]')" = server_busy ] ||
		why="a 503 without its error: $(head -c 200 "$tmp/p$i")" ;;
	*) why="status '$code': $(head -c 200 "$tmp/p$i")" ;;
	esac
done
[ -z "$why" ] && [ $served -lt 3 ] && why="$served of 6 served, not at least 3"
result server_parallel_queue "$why"

# A client gone mid-stream frees its session: both sessions are free again,
# having generated far fewer than the 2 x 2000 tokens asked (the streams
# were cut after 0.3 s).
generated() { curl -s -m "$limit" "$url/metrics" | sed -n 's/^npu_server_generated_tokens_total //p'; }
before=$(generated)
i=0
while [ $i -lt 2 ]; do
	curl -s -N -m 0.3 "$url/v1/completions" -d \
		'{"prompt": "Once", "max_tokens": 2000, "stream": true}' >/dev/null 2>&1
	i=$((i + 1))
done
end=$(($(date +%s) + limit))
while [ "$(curl -s -m "$limit" "$url/metrics" | sed -n 's/^npu_server_sessions_busy //p')" != 0 ] &&
	[ "$(date +%s)" -lt "$end" ]; do
	sleep 0.05
done
after=$(generated)
code=$(req "$tmp/a" POST /v1/completions '{"prompt": "a", "max_tokens": 5}')
why=
[ "$code" = 200 ] || why="status $code after two dropped streams: $(head -c 200 "$tmp/a")"
[ $((${after:-0} - ${before:-0})) -lt 2000 ] ||
	why="the dropped streams generated $((${after:-0} - ${before:-0})) tokens: not cancelled"
result server_disconnect_frees_session "$why"

# The counters: the requests, the errors and the tokens so far.
curl -s -m "$limit" "$url/metrics" >"$tmp/metrics"
why=
for m in requests_total errors_total prompt_tokens_total generated_tokens_total \
	tokens_per_second queue_depth sessions_busy device_buffer_bytes; do
	v=$(sed -n "s/^npu_server_$m //p" "$tmp/metrics")
	[ -n "$v" ] || why="no npu_server_$m"
done
rss=$(sed -n 's/^process_resident_memory_bytes //p' "$tmp/metrics")
[ "${rss:-0}" -gt 1000000 ] || why="process_resident_memory_bytes '$rss'"
[ -z "$why" ] && [ "$(sed -n 's/^npu_server_errors_total //p' "$tmp/metrics")" -lt 16 ] &&
	why="fewer than 16 errors counted: $(grep errors_total "$tmp/metrics")"
result server_metrics "$why"

# SIGTERM in the middle of a stream: status 0, promptly.
curl -s -N -m "$limit" "$url/v1/completions" -d \
	'{"prompt": "Once", "max_tokens": 2000, "stream": true}' >"$tmp/term" 2>&1 &
end=$(($(date +%s) + limit))
while [ ! -s "$tmp/term" ] && [ "$(date +%s)" -lt "$end" ]; do
	sleep 0.05
done
[ "$(head -c 6 "$tmp/term")" = "data: " ] ||
	echo "FAIL server_sigterm_mid_stream: no stream was running: $(head -c 200 "$tmp/term")"
stop server_sigterm_mid_stream
wait

# A model that will not load: status 1, one line.
timeout "$limit" "$server" --model "$tmp/none.gguf" --device cpu --port 0 >/dev/null 2>"$tmp/err"
rc=$?
result server_bad_model "$([ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] ||
	echo "status $rc: $(head -c 200 "$tmp/err")")"
timeout "$limit" "$server" --model "$model" >/dev/null 2>"$tmp/err"
rc=$?
result server_needs_port "$([ $rc -eq 2 ] && grep -q -- --port "$tmp/err" ||
	echo "status $rc: $(head -c 200 "$tmp/err")")"
