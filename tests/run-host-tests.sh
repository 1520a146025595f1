#!/bin/sh
# make check's runner: the host test binaries of each build directory
# given (plain, then sanitized) at every instruction-set level this CPU
# has; the plain ones again on emulated CPUs that lack AVX-512 or AVX2;
# npu-run's command line (tests/cli-check.sh) in each build that has it,
# so the sanitized one checks every error exit for leaks; npu-run --chat
# in tmux (tests/chat-check.sh); npu-server over HTTP (tests/server-check.sh)
# and through the openai npm client (tests/openai-check.sh), its chat page
# in headless chromium (tests/browser-check.sh);
# the Python package (tests/python); npu-run under valgrind; the firmware
# object checks; make install. One
# closing line "N passed, N failed, N skipped", the skips named above it.
# usage: run-host-tests.sh BUILD_DIR [BUILD_DIR...]
set -u
passed=0
failed=0
skipped=0
start=$(date +%s)
log=$(mktemp)

# Add a "N passed, N failed, N skipped" closing line to the totals.
add_summary() {
	passed=$((passed + $1))
	failed=$((failed + $3))
	skipped=$((skipped + $5))
}

# Add the PASS and FAIL lines in $log to the totals.
add_checks() {
	passed=$((passed + $(grep -c '^PASS' "$log")))
	failed=$((failed + $(grep -c '^FAIL' "$log")))
	skipped=$((skipped + $(grep -c '^SKIP' "$log")))
}

for dir in "$@"; do
	tests/run-unit-tests.sh "$dir" >"$log" 2>&1
	rc=$?
	grep -v '^[0-9]* passed, ' "$log"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -1)
	# shellcheck disable=SC2086
	add_summary ${line:-0 passed, 1 failed, 0 skipped}
	# Exited non-zero with nothing failed (nothing passed either): one failure.
	case "$line" in
	*" 0 failed, "*) [ $rc -eq 0 ] || failed=$((failed + 1)) ;;
	esac
done

# A CPU without AVX-512 and one without AVX2, emulated by QEMU's user mode,
# run the plain tests: each must pass with exactly the tests that need the
# missing instructions skipped. So a host that has them still proves the
# suite holds, and says what it skips, where they are missing.
. tests/emulated-cpu.sh
dir=$1
echo "== emulated CPUs: $dir"
# QEMU's max without AVX-512 whichever QEMU this is (7.2's TCG has none,
# nor AVX-VNNI).
emulated qemu-x86_64 max,-avx512f 'AVX-VNNI|AVX-512 VNNI' no_avx512 >"$log.out"
emulated qemu-x86_64 Nehalem 'AVX2 BMI2|AVX-VNNI|AVX-512 VNNI' no_avx2 >>"$log.out"
mv "$log.out" "$log"
cat "$log"
add_checks

for dir in "$@"; do
	[ -x "$dir/bin/npu-run" ] || continue
	tests/cli-check.sh "$dir" >"$log" 2>&1
	cat "$log"
	add_checks
done

echo "== npu-run --chat in a terminal (tmux): $1"
tests/chat-check.sh "$1" >"$log" 2>&1
cat "$log"
add_checks

# npu-server over HTTP (curl) and through the official openai npm client, in
# each build that has it: the sanitized one checks its exits for leaks.
for dir in "$@"; do
	[ -x "$dir/bin/npu-server" ] || continue
	for check in server openai; do
		echo "== npu-server: tests/$check-check.sh $dir"
		tests/$check-check.sh "$dir" >"$log" 2>&1
		cat "$log"
		add_checks
	done
done

echo "== npu-server's chat page in headless chromium (tests/browser-check.sh): $1"
tests/browser-check.sh "$1" >"$log" 2>&1
cat "$log"
add_checks

echo "== the Python package: pytest tests/python ($1)"
# Debian's python3-pytest is /usr/bin/python3's, which another python3 first in PATH may lack.
py=python3
"$py" -c 'import pytest' 2>/dev/null || py=/usr/bin/python3
if ! "$py" -c 'import pytest' 2>/dev/null; then
	(check=python_tests; . tests/check-lib.sh
	 missing "no pytest (tools/install-deps.sh installs python3-pytest)") >"$log"
	cat "$log"
	add_checks
else
	NPU_LLM_LIBRARY="$1/lib/libnpu-llm.so" NPU_BUILD="$1" PYTHONDONTWRITEBYTECODE=1 \
		"$py" -m pytest -q -rs -p no:cacheprovider tests/python >"$log" 2>&1
	rc=$?
	cat "$log"
	# The closing line: "1 failed, 11 passed, 2 skipped in 0.3s" (errors count as failures).
	sum=$(tail -1 "$log")
	count() { echo "$sum" | grep -oE "[0-9]+ $1" | grep -oE '^[0-9]+' || echo 0; }
	p=$(count passed)
	f=$(($(count failed) + $(count error)))
	passed=$((passed + p))
	skipped=$((skipped + $(count skipped)))
	[ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
	[ "$p" -eq 0 ] && [ "$f" -eq 0 ] && f=1	# nothing ran
	failed=$((failed + f))
fi

echo "== valgrind: npu-run on the cpu backend ($1)"
models=${NPU_MODELS:-../shared/models}
model_args=
[ -f "$models/stories260K.bin" ] &&
	model_args="--model $models/stories260K.bin --tokenizer $models/tok512.bin"
# Valgrind has no AVX-512: the AVX2 kernels (or the scalar loops, on a CPU
# without AVX2) stand in for the SIMD path.
# shellcheck disable=SC2086
if NPU_CPU_ISA=avx2 valgrind -q --error-exitcode=3 --leak-check=full \
	--errors-for-leak-kinds=definite "$1/bin/npu-run" --device cpu --steps 20 --compare \
	$model_args >"$log" 2>&1; then
	echo "PASS npu_run_valgrind_clean"
	passed=$((passed + 1))
else
	tail -30 "$log"
	echo "FAIL npu_run_valgrind_clean"
	failed=$((failed + 1))
fi

echo "== firmware object checks: $1"
tests/check-firmware-objects.sh "$1" >"$log" 2>&1
cat "$log"
add_checks

echo "== make install / uninstall into a DESTDIR: $1"
tests/install-check.sh "$1" >"$log" 2>&1
cat "$log"
add_checks
rm -f "$log"

echo "host suite time: $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
