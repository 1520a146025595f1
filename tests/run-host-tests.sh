#!/bin/sh
# Run every host test binary of each build directory given (plain, then
# sanitized), then the firmware object checks; print cmocka's summaries
# and one closing line "N passed, N failed".
# usage: run-host-tests.sh BUILD_DIR [BUILD_DIR...]
set -u
passed=0
failed=0
start=$(date +%s)
log=$(mktemp)

count() {
	# cmocka: "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), listed below:"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed.*/\1/p' "$log" | tail -1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
}

for dir in "$@"; do
	echo "== host tests: $dir"
	ran=0
	for t in "$dir"/tests/test_*; do
		if [ ! -x "$t" ]; then
			echo "FAIL $t: no such test binary"
			failed=$((failed + 1))
			continue
		fi
		ran=$((ran + 1))
		# Tests run from the top of the tree (they read build/firmware).
		NPU_FW_IMAGE="$dir/firmware/npu_fw.bin" NPU_MODELS="${NPU_MODELS:-../shared/models}" "$t" >"$log" 2>&1
		rc=$?
		grep -E '^\[(==========|  PASSED  |  FAILED  |  ERROR   |   LINE   )\]|^ERROR' "$log" |
			sed "s|^|$(basename "$t"): |"
		count
		# A crash or sanitizer abort leaves no cmocka summary: count it.
		if [ $rc -ne 0 ] && ! grep -q 'FAILED  \]' "$log"; then
			echo "$(basename "$t"): exited with status $rc without a cmocka summary:"
			tail -20 "$log"
			failed=$((failed + 1))
		fi
	done
	echo "== $ran test binaries in $dir"
done

echo "== valgrind: npu-run on the cpu backend ($1)"
models=${NPU_MODELS:-../shared/models}
model_args=
[ -f "$models/stories260K.bin" ] &&
	model_args="--model $models/stories260K.bin --tokenizer $models/tok512.bin"
# Valgrind has no AVX-512: the AVX2 kernels stand in for the SIMD path.
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
passed=$((passed + $(grep -c '^PASS' "$log")))
failed=$((failed + $(grep -c '^FAIL' "$log")))
rm -f "$log"

echo "== make install / uninstall into a DESTDIR: $1"
tests/install-check.sh "$1" >"$log" 2>&1
cat "$log"
passed=$((passed + $(grep -c '^PASS' "$log")))
failed=$((failed + $(grep -c '^FAIL' "$log")))
rm -f "$log"

echo "host suite time: $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
