#!/bin/sh
# The host's clients of npu-server in the QEMU guest (make qemu-check): the
# guest serves stories260K.gguf on npu.ko's accel0 with 3 sessions, each in
# its own DRM file, behind a forwarded port. From the host: /health and
# /v1/models over curl; the official openai client's checks (tests/openai/
# client.mjs: npu-run's text on this host's cpu backend for the same
# prompt, seed and settings, chats, errors, 4 streams at once with one at
# the NPU's low priority); /metrics with the driver's counters; and a short
# load run (tools/server-bench.mjs). Prints PASS/FAIL/SKIP lines, which
# run.sh hands back to the guest to count.
# usage: guest-server-check.sh BUILD_DIR BASE_URL
set -u
dir=$1
url=$2
check=guest_server_check
limit=${NPU_SERVER_TIMEOUT:-300}
. tests/server-lib.sh

command -v curl >/dev/null 2>&1 || missing "no curl"
[ -f "$model" ] || missing "no stories260K.gguf in $models"

health=$(curl -s -m 30 "$url/health")
result guest_server_health "$(echo "$health" | grep -q '"ok"' || echo "got '$health'")"
models=$(curl -s -m 30 "$url/v1/models")
result guest_server_on_accel "$(echo "$models" | grep -q '"npu_device":"accel0"' ||
	echo "got '$models'")"

openai_client
openai_want "$tmp/want.json"
openai_run "$url/v1" guest_openai_

# The clients' work shows in the driver's counters (all of accel0's clients).
curl -s -m 30 "$url/metrics" >"$tmp/metrics"
value() { sed -n "s/^$1 \([0-9.]*\)$/\1/p" "$tmp/metrics"; }
jobs=$(value 'npu_device_jobs_submitted_total{device="accel0"}')
result guest_metrics_driver_jobs "$(awk -v j="${jobs:-0}" 'BEGIN { exit !(j > 0) }' ||
	echo "npu_device_jobs_submitted_total: '$jobs'")"
busy=$(value 'npu_device_busy_seconds_total{device="accel0"}')
result guest_metrics_driver_busy "$(awk -v b="${busy:-0}" 'BEGIN { exit !(b > 0) }' ||
	echo "npu_device_busy_seconds_total: '$busy'")"
result guest_metrics_sessions "$([ "$(value npu_server_sessions)" = 3 ] ||
	echo "npu_server_sessions: '$(value npu_server_sessions)'")"
grep -E '^(npu_device|process_resident)' "$tmp/metrics"

# The load benchmark, short: its figures in the log, no errors.
timeout "$limit" node tools/server-bench.mjs "$url" --streams 3 --seconds 15 \
	--tier-low 1 >"$tmp/bench" 2>&1
rc=$?
cat "$tmp/bench"
result guest_server_bench "$([ $rc -eq 0 ] || echo "exit status $rc")"
