#!/bin/sh
# Run every fuzz harness for SECONDS seconds each; builds nothing.
# usage: run.sh BUILD_DIR SECONDS
#   BUILD_DIR/fuzz/fuzz_{cmdstream,image,model,vocab}  the harnesses (built by make)
#   BUILD_DIR/fuzz/seeds/<harness>/              generated seeds (make-seeds.sh)
#   BUILD_DIR/fuzz/corpus/<harness>/             working corpus: a fresh copy
#                                                of the seeds, grown by the run
#   BUILD_DIR/fuzz/artifacts/<harness>/          crash-*, leak-*, timeout-*, oom-*
#   BUILD_DIR/fuzz/logs/<harness>.log            libFuzzer's output
# Inputs in tests/fuzz/regressions/<harness>-*.bin are replayed first (set
# NPU_FUZZ_SKIP_REGRESSIONS=1 to skip them).
# Prints "PASS fuzz_<name> (<execs> execs in <s> s)" or "FAIL fuzz_<name>"
# per harness, then "N passed, N failed"; exits nonzero on any failure.
# Environment: NPU_FW_IMAGE (default BUILD_DIR/firmware/npu_fw.bin).
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILD_DIR SECONDS" >&2
	exit 2
fi
case $2 in
'' | *[!0-9]*)
	echo "run.sh: SECONDS must be a whole number" >&2
	exit 2
	;;
esac
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd) || exit 2
secs=$2
fz=$build/fuzz
NPU_FW_IMAGE=${NPU_FW_IMAGE:-$build/firmware/npu_fw.bin}
export NPU_FW_IMAGE
# UBSan must stop at the first report for libFuzzer to see it as a crash.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

if ! "$root/tests/fuzz/make-seeds.sh" "$fz/seeds" "$build" >/dev/null; then
	echo "run.sh: generating the seeds failed" >&2
	exit 1
fi
mkdir -p "$fz/logs"

passed=0
failed=0

# max_len per harness: a stream of 32 ops and a data tail; the image with
# room to spare; a tokenizer or a small checkpoint; a small vocabulary and text.
for spec in cmdstream:16384 image:8192 model:65536 vocab:16384; do
	name=fuzz_${spec%%:*}
	maxlen=${spec#*:}
	bin=$fz/$name
	log=$fz/logs/$name.log
	art=$fz/artifacts/$name
	corpus=$fz/corpus/$name
	if [ ! -x "$bin" ]; then
		echo "FAIL $name (not built: $bin)"
		failed=$((failed + 1))
		continue
	fi
	rm -rf "$art" "$corpus"
	mkdir -p "$art" "$corpus"
	cp "$fz/seeds/$name"/* "$corpus"/
	: >"$log"
	ok=1

	# Known reproducers first: each must run clean.
	if [ "${NPU_FUZZ_SKIP_REGRESSIONS:-0}" != 1 ]; then
		for r in "$root/tests/fuzz/regressions/$name"-*; do
			[ -f "$r" ] || continue
			if ! "$bin" -artifact_prefix="$art/regression-" "$r" >>"$log" 2>&1; then
				echo "  $name: regression input fails: $r"
				ok=0
			fi
		done
	fi

	start=$(date +%s)
	"$bin" -max_total_time="$secs" -max_len="$maxlen" -print_final_stats=1 -timeout=30 \
		-rss_limit_mb=2048 -artifact_prefix="$art/" "$corpus" >>"$log" 2>&1
	rc=$?
	end=$(date +%s)
	execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
	found=$(find "$art" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
		-o -name 'oom-*' \) | sort)
	if [ $rc -ne 0 ] || [ -n "$found" ]; then
		ok=0
		echo "  $name: libFuzzer exited with $rc; log: $log"
		grep -E '^(SUMMARY|==[0-9]+==ERROR)|runtime error|invariant violated' "$log" |
			head -5 | sed "s|^|  $name: |"
		for f in $found; do
			echo "  $name: reproducer: $f"
		done
	fi
	if [ $ok = 1 ]; then
		echo "PASS $name (${execs:-?} execs in $((end - start)) s)"
		passed=$((passed + 1))
	else
		echo "FAIL $name"
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
