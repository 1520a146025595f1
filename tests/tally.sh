# Sourced by the test runners (tests/run-unit-tests.sh, and the QEMU
# guest's init, under busybox sh): one cmocka binary's output counted.
#
# tally LOG WHERE LABEL RC: the binary LABEL (of WHERE: a build directory,
# or "guest") wrote LOG and exited with RC. Prints its summary lines, a
# line "SKIP WHERE/LABEL test: why" for each test skipped, and adds to
# $passed, $failed and $skipped. A skip must be for hardware the CPU
# lacks, named by the "SKIP: why" line t_require_isa prints: one without
# it fails, as does an exit without a cmocka summary (a crash, a
# sanitizer's abort).
tally() {
	local log=$1 where=$2 label=$3 rc=$4 p f s why

	grep -E '^\[(==========|  PASSED  |  FAILED  |  ERROR   |   LINE   )\]|^ERROR|^BENCH' "$log" |
		sed "s|^|$label: |"
	# "[  PASSED  ] N test(s).", "[  FAILED  ] N test(s), listed below:",
	# "[  SKIPPED ] N test(s), listed below:"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed.*/\1/p' "$log" | tail -1)
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test(s), listed.*/\1/p' "$log" | tail -1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	skipped=$((skipped + ${s:-0}))
	awk -v label="$where/$label" '
		/^\[ RUN      \] / { t = $4 }
		/^SKIP: / { sub(/^SKIP: /, ""); print "SKIP " label " " t ": " $0 }' "$log" >"$log.why"
	cat "$log.why"
	why=$(wc -l <"$log.why")
	rm -f "$log.why"
	if [ "$why" -ne "${s:-0}" ]; then
		echo "FAIL $label: ${s:-0} tests skipped, $why for want of hardware"
		failed=$((failed + 1))
	fi
	if [ "$rc" -ne 0 ] && [ -z "$f" ]; then
		echo "$label: exited with status $rc without a cmocka summary:"
		tail -20 "$log"
		failed=$((failed + 1))
	fi
}
