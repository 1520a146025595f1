#!/bin/sh
# The cmocka test binaries of one build directory, each at every
# instruction-set level of the cpu backend this CPU has: their summaries,
# a line "SKIP dir/binary[level] test: why" for each test skipped
# (hardware the CPU lacks), and one closing line
# "N passed, N failed, N skipped".
# usage: run-unit-tests.sh BUILD_DIR
# NPU_TEST_WRAP: a command to run every binary under (run-host-tests.sh's
# emulated CPUs: qemu-x86_64 -cpu MODEL; arm64-check.sh's qemu-aarch64).
# NPU_TEST_FOREIGN=1: the binaries are another architecture's, so the
# suites that test no level run under the wrapper too.
# NPU_TEST_LEVELS: the levels the suites that run per level run at
# (unset: every level this CPU has; empty: none; test_kernels_* and
# test_backends test every level themselves regardless).
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
# On the real CPU the probe must agree with the kernel's flags: a probe
# that missed a level would skip its tests, and they would pass unseen.
# (qemu-x86_64 shows the host's /proc/cpuinfo, not the emulated CPU's.)
if [ -z "$wrap" ]; then
	has() { case "$flags" in *" $1 "*) return 0 ;; esac; return 1; }
	want=scalar
	case $(uname -m) in
	x86_64)
		flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
		if has avx2 && has bmi2; then
			want="$want avx2"
			! has avx_vnni || want="$want avxvnni"
			has avx512f && has avx512bw && has avx512vl && has avx512dq && has avx512_vnni &&
				want="$want avx512"
		fi
		;;
	aarch64)
		flags=" $(grep -m1 '^Features' /proc/cpuinfo | cut -d: -f2) "
		if has asimd; then
			want="$want neon"
			if has asimddp; then
				want="$want dotprod"
				! has i8mm || want="$want i8mm"
			fi
		fi
		;;
	*) want="no flags check for $(uname -m)" ;;
	esac
	if [ "$levels" != "$want" ]; then
		echo "FAIL host-cpu finds levels '$levels', /proc/cpuinfo's flags '$want'"
		failed=$((failed + 1))
	fi
fi

. "$(dirname "$0")/tally.sh"

# One binary, at level $2 when given (else with no NPU_CPU_ISA at all).
run() {
	# Tests run from the top of the tree (they read build/firmware).
	# shellcheck disable=SC2086
	env -u NPU_CPU_ISA ${2:+NPU_CPU_ISA=$2} NPU_FW_IMAGE="$dir/firmware/npu_fw.bin" \
		NPU_DEVD="$dir/bin/npu-devd" \
		NPU_MODELS="${NPU_MODELS:-../shared/models}" $wrap "$1" >"$log" 2>&1
	tally "$log" "$dir" "$(basename "$1")${2:+[$2]}" $?
}

echo "== host tests: $dir${wrap:+ (under $wrap)}, levels: $levels"
ran=0
for t in "$dir"/tests/test_*; do
	if [ ! -x "$t" ]; then
		echo "FAIL $t: no such test binary"
		failed=$((failed + 1))
		continue
	fi
	case "$(basename "$t")" in
	# Once: test_abi, test_image, test_fw_stop, test_handles,
	# test_tokenizer and test_quantize test no level (the ABI's layout, the
	# firmware image's verifier, the firmware on its own, handles and
	# addresses, the tokenizer, the quantizer's plain C: the device run
	# it ends with is bit-exact at every level, which test_backends
	# checks), test_devd the PCI NPU's daemon (at its host's best level);
	# test_kernels_* and test_backends test each level in turn themselves.
	test_abi | test_image | test_fw_stop | test_tokenizer)
		# Nothing for an emulated CPU of this architecture to add; on
		# another one, the ABI's layout, the verifier and the firmware.
		[ -n "$wrap" ] && [ -z "${NPU_TEST_FOREIGN:-}" ] && continue
		run "$t" ;;
	test_handles | test_quantize | test_devd)
		# Not under QEMU's user mode: it maps test_handles' 1 GiB
		# buffers slowly and runs test_quantize's calibration slowly
		# (minutes), and test_devd starts npu-devd, which another
		# architecture's binary cannot be without binfmt_misc.
		[ -n "$wrap" ] && continue
		run "$t" ;;
	test_kernels_* | test_backends) run "$t" ;;
	# Every other suite runs work on the cpu backend: once per level.
	*) for l in ${NPU_TEST_LEVELS-$levels}; do run "$t" "$l"; done ;;
	esac
	ran=$((ran + 1))
done
rm -f "$log"
echo "== $ran test binaries in $dir"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
