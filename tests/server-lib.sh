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

# result NAME WHY: PASS when WHY is empty.
result() {
	if [ -z "$2" ]; then
		echo "PASS $1"
	else
		echo "FAIL $1: $2"
	fi
}

# missing WHY: what cannot be installed here is a SKIP, or a FAIL when CI=true.
missing() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL $check: $1"
		exit 1
	fi
	echo "SKIP $check: $1"
	exit 0
}

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
