# Sourced by the npu-server checks (server-check.sh, openai-check.sh): the
# server on a free port and its end. The caller sets dir (the build),
# check (its name, for SKIP and FAIL lines) and limit (seconds to wait);
# this sets server, run, model, tmp and the exit trap.
# shellcheck shell=sh disable=SC2034,SC2154
server=$dir/bin/npu-server
run=$dir/bin/npu-run
models=${NPU_MODELS:-../shared/models}
model=$models/stories260K.gguf
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
export NPU_FW_IMAGE="$dir/firmware/npu_fw.bin"
export ASAN_OPTIONS=detect_leaks=1

. tests/check-lib.sh

# start NAME ARGS...: the server in the background until it says where it
# listens ($port, $url); a FAIL line NAME and exit when it does not.
start() {
	name=$1
	shift
	"$server" --model "$model" --device cpu --port 0 "$@" >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	end=$(($(date +%s) + limit))
	port=
	while [ -z "$port" ]; do
		port=$(sed -n 's/.*listening on http:\/\/[0-9.]*:\([0-9]*\)$/\1/p' "$tmp/err")
		if ! kill -0 "$pid" 2>/dev/null || [ "$(date +%s)" -ge "$end" ]; then
			echo "FAIL $name: not listening: $(head -c 300 "$tmp/err")"
			exit 1
		fi
		[ -n "$port" ] || sleep 0.05
	done
	url=http://127.0.0.1:$port
}

# stop NAME: SIGTERM, then status 0 and no leak within $limit seconds.
stop() {
	kill -TERM "$pid"
	end=$(($(date +%s) + limit))
	while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		wait "$pid"
		result "$1" "still running $limit s after SIGTERM"
	else
		wait "$pid"
		rc=$?
		why=
		[ "$rc" -eq 0 ] || why="exit status $rc: $(tail -c 300 "$tmp/err")"
		grep -q LeakSanitizer "$tmp/err" && why="leaks: $(grep -m1 SUMMARY "$tmp/err")"
		result "$1" "$why"
	fi
	pid=
}

# openai_client: the official openai npm client at its pinned version, in
# ${XDG_CACHE_HOME:-~/.cache}/npu-openai; missing() when it cannot be had.
openai_version=5.23.2	# the newest openai without an engines floor above node 20
openai_cache=${XDG_CACHE_HOME:-$HOME/.cache}/npu-openai
openai_client() {
	command -v node >/dev/null 2>&1 || missing "no node"
	command -v python3 >/dev/null 2>&1 || missing "no python3"
	npm_package openai "$openai_version" "$openai_cache"
}

# openai_want FILE: npu-run's texts (the prompt's and the generated, on the
# cpu backend), greedy and sampled, for the client to compare with.
openai_want() {
	prompt="Once upon a time"
	steps=80
	greedy=$(npu_run_text --temperature 0)
	sampled=$(npu_run_text --temperature 0.8 --topp 0.9 --seed 7)
	python3 -c 'import json, sys
print(json.dumps({"prompt": sys.argv[1], "steps": int(sys.argv[2]), "greedy": sys.argv[3],
	"sampled": {"temperature": 0.8, "top_p": 0.9, "seed": 7, "text": sys.argv[4]}}))' \
		"$prompt" $steps "$greedy" "$sampled" >"$1"
}
npu_run_text() {
	timeout "$limit" "$run" --model "$model" --device cpu --prompt "$prompt" --steps $steps \
		--json "$@" 2>"$tmp/run.err" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["text"], end="")'
}

# openai_run BASE_URL PREFIX: tests/openai/client.mjs against the server,
# its checks named PREFIX...; a crash or a timeout before its own FAIL lines
# is a FAIL PREFIXclient.
openai_run() {
	# Node finds the client's modules from its own directory: a copy beside node_modules.
	ln -sf "$openai_cache/node_modules" "$tmp/node_modules"
	cp tests/openai/client.mjs "$tmp/client.mjs"
	timeout "$limit" node "$tmp/client.mjs" "$1" "$tmp/want.json" "$2" >"$tmp/client" 2>&1
	rc=$?
	cat "$tmp/client"
	grep -q '^FAIL' "$tmp/client" || result "${2}client" \
		"$([ $rc -eq 0 ] || echo "exit status $rc: $(tail -c 300 "$tmp/client")")"
}
