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
version=5.23.2	# the newest openai without an engines floor above node 20
cache=${XDG_CACHE_HOME:-$HOME/.cache}/npu-openai
. tests/server-lib.sh

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

start openai_server_start --parallel 2 --chat-template chatml

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

stop openai_server_sigterm
