# Sourced by the host test runners (run-host-tests.sh, arm64-check.sh):
# one build's plain tests on a CPU QEMU's user mode emulates.
#
# emulated QEMU CPU LACKS NAME: runs $dir's tests under "QEMU -cpu CPU"
# (the caller's NPU_TEST_* variables apply, with $log as scratch) and
# prints one PASS or FAIL line named emulated_cpu_NAME. They must pass
# with some tests skipped, each for want of one of LACKS (the levels'
# titles, as in "AVX2 BMI2|AVX-VNNI"), and none for another reason.
emulated() {
	qemu=$1
	cpu=$2
	lacks=$3
	name=$4
	NPU_TEST_WRAP="$qemu -cpu $cpu" tests/run-unit-tests.sh "$dir" >"$log" 2>&1
	line=$(tail -1 "$log")
	other=$(grep '^SKIP ' "$log" | grep -cvE ": ($lacks): not on this CPU")
	case "$line" in
	*" 0 failed, 0 skipped") ok=0 ;;	# it must lack something, and say so
	*" 0 failed, "*) ok=$((other == 0)) ;;
	*) ok=0 ;;
	esac
	what="$qemu -cpu $cpu: $line"
	if [ "$ok" = 1 ]; then
		echo "PASS emulated_cpu_$name ($what, each for want of $(echo "$lacks" | sed 's/|/ or /g'))"
	else
		# Indented: its SKIP lines are not this host's.
		grep -E 'FAIL|ERROR|SKIP|exited' "$log" | head -40 | sed 's/^/  emulated: /'
		echo "FAIL emulated_cpu_$name ($what; $other skips for other reasons)"
	fi
}
