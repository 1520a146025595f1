#!/bin/sh
# Where one decode token's time goes in the guest: runs COMMAND (an npu-run)
# with the kernel's scheduler, interrupt and fence events traced, then
# prints the median of each stage over its jobs, one job per token (the
# caller's npu-run --burst 1):
#   push -> run_job      the job queued until drm_sched's worker runs it
#   run_job -> MSI-X     the device: doorbell, execution, interrupt (PCI)
#   MSI-X -> fence       the driver's completion (PCI)
#   run_job -> fence     the device and its completion (either NPU)
#   fence -> npu-run     the waiter woken and running again
#   npu-run -> push      the engine's own work and the next SUBMIT
#   push -> push         the whole token, and its mean (the decode speed's)
# Tracing costs time itself: the stages are for comparison, the speeds
# come from an untraced run. An npu-run --compare is traced without it
# (its teacher-forced second pass is not decode).
# usage: token-trace.sh LABEL COMMAND...
label=$1
shift
n=$#
while [ "$n" -gt 0 ]; do
	[ "$1" = --compare ] || set -- "$@" "$1"
	shift
	n=$((n - 1))
done
t=/sys/kernel/tracing
[ -d $t/events ] || mount -t tracefs nodev $t 2>/dev/null
if [ ! -w $t/tracing_on ]; then
	echo "TRACE $label: no tracefs in this kernel"
	exit 0
fi
echo 0 > $t/tracing_on
echo > $t/trace
echo 8192 > $t/buffer_size_kb
for e in sched/sched_switch irq/irq_handler_entry gpu_scheduler/drm_sched_job \
	gpu_scheduler/drm_run_job dma_fence/dma_fence_signaled; do
	echo 1 > $t/events/$e/enable
done
echo 1 > $t/tracing_on
"$@" > /dev/null 2>&1
rc=$?
echo 0 > $t/tracing_on
echo 0 > $t/events/enable
# Jobs in order, one in flight: each stage from the event that starts it
# to the first event after it that ends it. The first 10 jobs (the prompt,
# the caches warming) are left out; the medians keep a host's hiccups out.
awk -v label="$label" '
	function at() { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) return $i + 0; return -1 }
	function keep(name, v) { if (jobs > 10) { n[name]++; s[name, n[name]] = v } }
	function median(name,    i, j, x, m) {
		m = n[name]
		for (i = 2; i <= m; i++) {
			x = s[name, i]
			for (j = i - 1; j >= 1 && s[name, j] > x; j--) s[name, j + 1] = s[name, j]
			s[name, j + 1] = x
		}
		return m ? s[name, int((m + 1) / 2)] * 1e6 : -1
	}
	/drm_sched_job:/ {
		ts = at()
		if (user > 0) keep("user", ts - user)
		if (push > 0 && jobs > 10) { cycle += ts - push; cycles++ }
		if (push > 0) keep("cycle", ts - push)
		push = ts; run = irq = hw = user = 0; jobs++
		next
	}
	/drm_run_job:/ && push > 0 && !run { run = at(); keep("queue", run - push); next }
	/irq_handler_entry:.*name=npu/ && run > 0 && !irq && !hw { irq = at(); keep("device", irq - run); next }
	/dma_fence_signaled: driver=npu / && run > 0 && !hw {
		hw = at(); keep("done", hw - run)
		if (irq > 0) keep("irq", hw - irq)
		next
	}
	/sched_switch:.*next_comm=npu-run / && hw > 0 && !user { user = at(); keep("wake", user - hw) }
	END {
		printf "TRACE %s: %d jobs; medians in us: push -> run_job %.0f", label, jobs, median("queue")
		if (n["device"]) printf ", run_job -> MSI-X %.0f, MSI-X -> fence %.0f", median("device"), median("irq")
		printf ", run_job -> fence %.0f, fence -> npu-run %.0f, npu-run -> push %.0f;",
			median("done"), median("wake"), median("user")
		printf " push -> push %.0f (mean %.0f)\n", median("cycle"), cycles ? cycle / cycles * 1e6 : -1
	}' $t/trace
echo > $t/trace
exit $rc
