#!/bin/sh
# make test: every suite in turn (host tests plain and sanitized, the same
# for arm64 under QEMU's user mode, the GGUF
# loader against llama.cpp, bounded fuzzing, the kernel's static checks, the
# QEMU guest suite, the DKMS-built module's smoke run), each one's summary
# kept, then the tests skipped (for hardware this host lacks, or llama.cpp
# that could not be fetched outside CI), named, then the failures' own lines
# (so a log's tail says what failed), and one closing line for all.
# usage: run-all.sh MAKE_FLAGS...
set -u
passed=0
failed=0
skipped=0
start=$(date +%s)
log=$(mktemp)
skips=$(mktemp)
fails=$(mktemp)

# A suite's "N passed, N failed" and, where it can skip, ", N skipped".
add() {
	passed=$((passed + $1))
	failed=$((failed + $3))
	skipped=$((skipped + ${5:-0}))
}

for target in check llama-check fuzz-check kernel-check qemu-check dkms-check arm64-check; do
	echo "==== make $target"
	{
		make --no-print-directory "$@" "$target" 2>&1
		echo $? >"$log.rc"
	} | tee "$log"
	grep '^SKIP ' "$log" >>"$skips"
	# What names a failure: a check's FAIL line, cmocka's failed test and
	# the assertion's file and line, a binary that ended without a summary.
	grep -aE '(^|: )FAIL |\[  FAILED  \] [a-z_]|\[   LINE   \]|^ERROR|without a cmocka summary' \
		"$log" | sed "s|^|$target: |" | head -40 >>"$fails"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	if [ -z "$line" ]; then
		echo "==== make $target gave no result: counted as one failure"
		failed=$((failed + 1))
		continue
	fi
	# shellcheck disable=SC2086
	add $line
	f=${line#*passed, }
	f=${f%% failed*}
	echo "==== make $target: $line"
	if [ "$(cat "$log.rc")" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "==== make $target exited with status $(cat "$log.rc"): counted as one failure"
		failed=$((failed + 1))
	fi
done
if [ -s "$skips" ]; then
	echo "==== skipped: not on this CPU (or no llama.cpp), so not tested"
	cat "$skips"
fi
if [ "$failed" -ne 0 ]; then
	echo "==== failed"
	cat "$fails"
fi
rm -f "$log" "$log.rc" "$skips" "$fails"
echo "all suites: $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
