#!/bin/sh
# make server-bench: the load benchmark (tools/server-bench.mjs) against
# npu-server serving stories260K.gguf with 3 sessions: on this host's cpu
# backend, or (given a URL: run.sh passes the guest's) on npu.ko in the
# QEMU guest. BENCH_STREAMS (default 4) streams, one at low priority
# (service_tier "flex"), for BENCH_SECONDS (default 30).
# usage: server-bench.sh BUILD_DIR cpu | server-bench.sh BUILD_DIR URL
set -u
dir=$1
check=server_bench
limit=$((${BENCH_SECONDS:-30} + 300))
. tests/server-lib.sh

command -v node >/dev/null 2>&1 || missing "no node"
status=0
bench() {
	echo "---- server-bench on $1"
	timeout "$limit" node tools/server-bench.mjs "$2" --streams "${BENCH_STREAMS:-4}" \
		--seconds "${BENCH_SECONDS:-30}" --tier-low 1
	rc=$?
	[ $rc -eq 0 ] || status=1
	result "server_bench_$1" "$([ $rc -eq 0 ] || echo "errors, or a stream without tokens")"
}
if [ "$2" != cpu ]; then
	bench accel0-in-guest "$2"
	exit $status
fi
[ -f "$model" ] || missing "no stories260K.gguf in $models"
start server_bench_start --parallel 3 --chat-template chatml
echo "host: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
bench cpu "$url"
stop server_bench_sigterm >"$tmp/stop"
cat "$tmp/stop"
grep -q '^FAIL' "$tmp/stop" && status=1
exit $status
