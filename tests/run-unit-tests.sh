#!/bin/sh
# The cmocka test binaries of one build directory, each at every
# instruction-set level of the cpu backend this CPU has: their summaries,
# a line "SKIP binary[level] test: why" for each test skipped (hardware
# the CPU lacks), and one closing line "N passed, N failed, N skipped".
# usage: run-unit-tests.sh BUILD_DIR
# NPU_TEST_WRAP: a command to run every binary under (run-host-tests.sh's
# emulated CPUs: qemu-x86_64 -cpu MODEL).
set -u
dir=$1
wrap=${NPU_TEST_WRAP:-}
passed=0
failed=0
skipped=0
log=$(mktemp)
# The build's own probe, run as the tests will be (under $wrap too).
# shellcheck disable=SC2086
levels=$($wrap "$dir/host/host-cpu" --levels 2>/dev/null) || levels=
if [ -z "$levels" ]; then
	echo "FAIL $dir/host/host-cpu: no instruction-set levels"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi

# One binary, at $2 when given: its summary and skips counted.
run() {
	label=$(basename "$1")${2:+[$2]}
	# Tests run from the top of the tree (they read build/firmware).
	# shellcheck disable=SC2086
	env ${2:+NPU_CPU_ISA=$2} NPU_FW_IMAGE="$dir/firmware/npu_fw.bin" \
		NPU_MODELS="${NPU_MODELS:-../shared/models}" $wrap "$1" >"$log" 2>&1
	rc=$?
	grep -E '^\[(==========|  PASSED  |  FAILED  |  ERROR   |   LINE   )\]|^ERROR' "$log" |
		sed "s|^|$label: |"
	# cmocka: "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), listed below:";
	# each skip follows the "SKIP: why" line t_require_isa prints in it.
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed.*/\1/p' "$log" | tail -1)
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test(s), listed.*/\1/p' "$log" | tail -1)
	awk -v label="$label" '/^\[ RUN      \] / { t = $4 } /^SKIP: / { sub(/^SKIP: /, ""); print "SKIP " label " " t ": " $0 }' "$log"
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	skipped=$((skipped + ${s:-0}))
	# A crash or sanitizer abort leaves no cmocka summary: count it.
	if [ $rc -ne 0 ] && [ -z "$f" ]; then
		echo "$label: exited with status $rc without a cmocka summary:"
		tail -20 "$log"
		failed=$((failed + 1))
	fi
}

echo "== host tests: $dir${wrap:+ (under $wrap)}, levels: $levels"
ran=0
for t in "$dir"/tests/test_*; do
	if [ ! -x "$t" ]; then
		echo "FAIL $t: no such test binary"
		failed=$((failed + 1))
		continue
	fi
	ran=$((ran + 1))
	case "$(basename "$t")" in
	# No device: the ABI's layout and the firmware image's verifier.
	test_abi | test_image) run "$t" ;;
	# Each level in turn, itself: the kernels against their definition,
	# the cpu backend at each level against its scalar level.
	test_kernels | test_backends) run "$t" ;;
	# Every other suite runs work on the cpu backend: once per level.
	*) for l in $levels; do run "$t" "$l"; done ;;
	esac
done
rm -f "$log"
echo "== $ran test binaries in $dir"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
