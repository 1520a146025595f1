#!/bin/sh
# npu-run --chat in a terminal: tmux runs it on stories260K with the
# chatml template, this script types two turns and reads the screen. The
# transcript must show both prompts and a reply to each; the second turn
# must go on from where the first ended (its prompt tokens evaluated from
# that position: the first turn stays in the KV cache, not evaluated
# again); a tiny --ctx-size must say the context is full and go on; EOF
# (Ctrl-D) must end with the summary and status 0.
# Prints PASS/FAIL lines (SKIP without tmux or the model, FAIL then when
# CI=true).
# usage: chat-check.sh BUILD_DIR
set -u
dir=$1
run=$dir/bin/npu-run
models=${NPU_MODELS:-../shared/models}
sock=npu-chat-check-$$
tmp=$(mktemp -d)
trap 'tmux -L "$sock" kill-server 2>/dev/null; rm -rf "$tmp"' EXIT
# Seconds to wait for each thing the screen should show.
limit=${NPU_CHAT_TIMEOUT:-60}

check=chat_tmux
. tests/check-lib.sh
command -v tmux >/dev/null 2>&1 || missing "no tmux (tools/install-deps.sh installs it)"
if [ ! -f "$models/stories260K.bin" ] || [ ! -f "$models/tok512.bin" ]; then
	missing "no stories260K.bin and tok512.bin in $models"
fi
if [ ! -x "$run" ]; then
	echo "FAIL chat_tmux: no $run"
	exit 1
fi

# The screen so far, wrapped lines joined.
screen() {
	tmux -L "$sock" capture-pane -p -J -S - -t "$ses" 2>/dev/null
}

# wait_for WHAT REGEX [COUNT]: until COUNT (default 1) lines match, or
# fail after $limit seconds naming WHAT.
wait_for() {
	end=$(($(date +%s) + limit))
	while [ "$(screen | grep -cE -- "$2")" -lt "${3:-1}" ]; do
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "FAIL $name: no $1 after $limit s; the screen:"
			screen | grep -v '^$' | tail -15 | sed 's/^/  | /'
			return 1
		fi
		sleep 0.1
	done
}

# start ARGS...: npu-run --chat in a new tmux session, its exit status
# shown after it. The last session goes once the new one runs: the server
# stays up (a server that has just exited may still hold the socket).
ses=
start() {
	old=$ses
	ses=chat$$-$(date +%s%N)
	{
		echo "export NPU_FW_IMAGE='$dir/firmware/npu_fw.bin'"
		printf "'%s' --model '%s' --tokenizer '%s' --device cpu --chat --chat-template chatml" \
			"$run" "$models/stories260K.bin" "$models/tok512.bin"
		printf " '%s'" "$@"
		echo
		echo 'echo "[exit $?]"'
		echo 'sleep 600'
	} >"$tmp/$ses.sh"
	tmux -L "$sock" -f /dev/null new-session -d -s "$ses" -x 160 -y 60 "sh $tmp/$ses.sh"
	[ -z "$old" ] || tmux -L "$sock" kill-session -t "$old"
}

# say TEXT: typed, then Enter.
say() {
	tmux -L "$sock" send-keys -t "$ses" -l "$1"
	tmux -L "$sock" send-keys -t "$ses" Enter
}

# field N WORD: from the "[turn N: ...]" line, the number before WORD
# ("evaluated", "generated"), or after it ("position", "context").
turn_field() {
	screen | sed -n "s/^\[turn $1: \([0-9]*\) prompt tokens evaluated from position \([0-9]*\), \([0-9]*\) generated .*; context \([0-9]*\) of .*/\1 \2 \3 \4/p" |
		tail -1 | cut -d' ' -f"$2"
}

# ---- two turns: both in the transcript, the second after the first ----
name=chat_two_turns
start --steps 20 --verbose
ok=1
wait_for "prompt marker" '^> ' || ok=0
[ $ok = 1 ] && say "Tell me a story" && wait_for "first turn's line" '^\[turn 1: ' || ok=0
[ $ok = 1 ] && wait_for "second prompt marker" '^> ' 2 || ok=0
[ $ok = 1 ] && say "What happened next?" && wait_for "second turn's line" '^\[turn 2: ' || ok=0
[ $ok = 1 ] && wait_for "third prompt marker" '^> ' 3 || ok=0
[ $ok = 1 ] && tmux -L "$sock" send-keys -t "$ses" C-d && wait_for "summary" '^chat: template chatml, 2 turns' || ok=0
[ $ok = 1 ] && wait_for "exit status" '^\[exit ' || ok=0
if [ $ok = 1 ]; then
	screen >"$tmp/screen"
	w=
	grep -q '^> Tell me a story$' "$tmp/screen" || w="$w, no first prompt"
	grep -q '^> What happened next?$' "$tmp/screen" || w="$w, no second prompt"
	grep -q '^\[exit 0\]' "$tmp/screen" || w="$w, $(grep '^\[exit' "$tmp/screen")"
	# A reply: the line after each prompt is text, not the turn's figures.
	for p in 'Tell me a story' 'What happened next?'; do
		reply=$(grep -A1 -F "> $p" "$tmp/screen" | sed -n 2p)
		case "$reply" in
		'' | '['*) w="$w, no reply to '$p'" ;;
		esac
	done
	e1=$(turn_field 1 1) g1=$(turn_field 1 3) c1=$(turn_field 1 4)
	e2=$(turn_field 2 1) s2=$(turn_field 2 2) g2=$(turn_field 2 3) c2=$(turn_field 2 4)
	if [ -z "$e1" ] || [ -z "$e2" ]; then
		w="$w, no turn figures"
	else
		[ "$g1" -gt 0 ] && [ "$g2" -gt 0 ] || w="$w, replies of $g1 and $g2 tokens"
		[ "$c1" -eq $((e1 + g1)) ] || w="$w, turn 1 left the context at $c1, not $e1 + $g1"
		# Turn 2 starts where turn 1 ended: nothing of turn 1 evaluated again.
		[ "$s2" -eq "$c1" ] || w="$w, turn 2 evaluated from position $s2, not $c1"
		[ "$c2" -eq $((c1 + e2 + g2)) ] || w="$w, turn 2 left the context at $c2"
		# The summary counts the same per turn.
		grep -q "prompt tokens evaluated per turn: $e1 $e2;" "$tmp/screen" ||
			w="$w, the summary's counts are not $e1 $e2"
	fi
	if [ -z "$w" ]; then
		echo "PASS $name (prompt tokens evaluated: $e1, then $e2 from position $s2)"
	else
		echo "FAIL $name: ${w#, }"
		sed 's/^/  | /' "$tmp/screen" | tail -20
	fi
fi

# ---- a tiny context: the second turn does not fit, it is said, the chat goes on ----
name=chat_context_full
start --steps 20 --verbose --ctx-size 128 --system "Be kind."
ok=1
wait_for "prompt marker" '^> ' || ok=0
[ $ok = 1 ] && say "Tell me a story" && wait_for "first turn's line" '^\[turn 1: ' || ok=0
[ $ok = 1 ] && wait_for "second prompt marker" '^> ' 2 || ok=0
[ $ok = 1 ] && say "And then?" && wait_for "context-full line" 'context is full \(128 positions\)' || ok=0
[ $ok = 1 ] && wait_for "second turn's line" '^\[turn 2: ' || ok=0
[ $ok = 1 ] && tmux -L "$sock" send-keys -t "$ses" C-d && wait_for "summary" '^chat: template chatml, 2 turns' || ok=0
[ $ok = 1 ] && wait_for "exit status" '^\[exit ' || ok=0
if [ $ok = 1 ]; then
	screen >"$tmp/screen"
	w=
	grep -q '^context: 128 positions (file 512' "$tmp/screen" || w="$w, no 'context: 128 positions'"
	grep -q 'the system prompt kept' "$tmp/screen" || w="$w, the system prompt not said kept"
	[ "$(turn_field 2 2)" = 0 ] || w="$w, turn 2 not from position 0"
	[ "$(turn_field 2 3)" -gt 0 ] 2>/dev/null || w="$w, no reply to turn 2"
	grep -q '^\[exit 0\]' "$tmp/screen" || w="$w, $(grep '^\[exit' "$tmp/screen")"
	if [ -z "$w" ]; then
		echo "PASS $name"
	else
		echo "FAIL $name: ${w#, }"
		sed 's/^/  | /' "$tmp/screen" | tail -20
	fi
fi
