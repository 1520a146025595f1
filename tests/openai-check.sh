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
server=$dir/bin/npu-server
run=$dir/bin/npu-run
models=${NPU_MODELS:-../shared/models}
model=$models/stories260K.gguf
version=5.23.2	# the newest openai without an engines floor above node 20
cache=${XDG_CACHE_HOME:-$HOME/.cache}/npu-openai
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
export NPU_FW_IMAGE="$dir/firmware/npu_fw.bin"
export ASAN_OPTIONS=detect_leaks=1
# Seconds to wait for the server to listen, npu-run or the client to finish.
limit=${NPU_SERVER_TIMEOUT:-120}

missing() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL openai_check: $1"
		exit 1
	fi
	echo "SKIP openai_check: $1"
	exit 0
}
command -v node >/dev/null 2>&1 || missing "no node"
command -v python3 >/dev/null 2>&1 || missing "no python3"
[ -f "$model" ] || missing "no stories260K.gguf in $models"
if [ ! -x "$server" ] || [ ! -x "$run" ]; then
	echo "FAIL openai_check: no $server or $run"
	exit 1
fi
have=$(node -p "require('$cache/node_modules/openai/package.json').version" 2>/dev/null)
if [ "$have" != "$version" ]; then
	command -v npm >/dev/null 2>&1 || missing "no npm to install openai@$version"
	mkdir -p "$cache" || missing "cannot make $cache"
	# ws and zod are optional peers the client does not need here.
	timeout "$limit" npm install --prefix "$cache" --no-audit --no-fund --save-exact \
		--legacy-peer-deps "openai@$version" >"$tmp/npm" 2>&1 ||
		missing "npm install openai@$version failed: $(tail -3 "$tmp/npm" | tr '\n' ' ')"
fi

result() {
	if [ -z "$2" ]; then
		echo "PASS $1"
	else
		echo "FAIL $1: $2"
	fi
}

# npu-run's text (the prompt's and the generated) for the client to compare.
prompt="Once upon a time"
steps=80
npu_run() {
	timeout "$limit" "$run" --model "$model" --device cpu --prompt "$prompt" --steps $steps \
		--json "$@" 2>"$tmp/run.err" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["text"], end="")'
}
greedy=$(npu_run --temperature 0)
sampled=$(npu_run --temperature 0.8 --topp 0.9 --seed 7)
python3 -c 'import json, sys
print(json.dumps({"prompt": sys.argv[1], "steps": int(sys.argv[2]), "greedy": sys.argv[3],
	"sampled": {"temperature": 0.8, "top_p": 0.9, "seed": 7, "text": sys.argv[4]}}))' \
	"$prompt" $steps "$greedy" "$sampled" >"$tmp/want.json"

"$server" --model "$model" --device cpu --port 0 --parallel 2 --chat-template chatml \
	>"$tmp/out" 2>"$tmp/err" &
pid=$!
end=$(($(date +%s) + limit))
port=
while [ -z "$port" ]; do
	port=$(sed -n 's/.*listening on http:\/\/[0-9.]*:\([0-9]*\)$/\1/p' "$tmp/err")
	if ! kill -0 "$pid" 2>/dev/null || [ "$(date +%s)" -ge "$end" ]; then
		echo "FAIL openai_server_start: not listening: $(head -c 300 "$tmp/err")"
		exit 1
	fi
	[ -n "$port" ] || sleep 0.05
done

# Node finds the client's modules from its own directory: a copy beside node_modules.
ln -s "$cache/node_modules" "$tmp/node_modules"
cp tests/openai/client.mjs "$tmp/client.mjs"
timeout "$limit" node "$tmp/client.mjs" "http://127.0.0.1:$port/v1" "$tmp/want.json" \
	>"$tmp/client" 2>&1
rc=$?
cat "$tmp/client"
# A crash or a timeout before the client's own FAIL lines: one of ours.
grep -q '^FAIL' "$tmp/client" || result openai_client \
	"$([ $rc -eq 0 ] || echo "exit status $rc: $(tail -c 300 "$tmp/client")")"

kill -TERM "$pid"
end=$(($(date +%s) + limit))
while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do
	sleep 0.05
done
why=
if kill -0 "$pid" 2>/dev/null; then
	kill -KILL "$pid"
	why="still running $limit s after SIGTERM"
fi
wait "$pid"
rc=$?
pid=
[ -z "$why" ] && [ $rc -ne 0 ] && why="exit status $rc: $(tail -c 300 "$tmp/err")"
grep -q LeakSanitizer "$tmp/err" && why="leaks: $(grep -m1 SUMMARY "$tmp/err")"
result openai_server_sigterm "$why"
