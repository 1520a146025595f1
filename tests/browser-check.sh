#!/bin/sh
# npu-server's chat page in a browser: Debian's headless chromium, driven
# by playwright-core (from npm, cached outside the clone in
# ${XDG_CACHE_HOME:-$HOME/.cache}/npu-web), runs tests/browser/chat.mjs
# against the server on stories260K.gguf. The screenshot goes to
# BUILD_DIR/browser-chat.png.
# Prints PASS/FAIL lines (SKIP without chromium, npm or the model, FAIL
# then when CI=true).
# usage: browser-check.sh BUILD_DIR
set -u
PLAYWRIGHT=1.65.2
dir=$1
models=${NPU_MODELS:-../shared/models}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/npu-web
export NPU_FW_IMAGE="$dir/firmware/npu_fw.bin"
export ASAN_OPTIONS=detect_leaks=1

check=browser_chat
limit=${NPU_BROWSER_TIMEOUT:-300}	# seconds for the install, and for the page's checks
. tests/check-lib.sh
browser=$(command -v chromium || command -v chromium-browser) ||
	missing "no chromium (tools/install-deps.sh installs it)"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	missing "no node and npm (tools/install-deps.sh installs them)"
fi
[ -f "$models/stories260K.gguf" ] || missing "no stories260K.gguf in $models"
if [ ! -x "$dir/bin/npu-server" ]; then
	echo "FAIL browser_chat: no $dir/bin/npu-server"
	exit 1
fi

npm_package playwright-core "$PLAYWRIGHT" "$cache"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
NODE_PATH=$cache/node_modules timeout "$limit" node tests/browser/chat.mjs "$dir/bin/npu-server" \
	"$models/stories260K.gguf" "$browser" "$dir/browser-chat.png" >"$out" 2>&1
rc=$?
cat "$out"
# A crash before its checks (no playwright-core, a syntax error) still fails.
if [ $rc -ne 0 ] && ! grep -q '^FAIL' "$out"; then
	echo "FAIL browser_chat: chat.mjs exited with status $rc"
	exit 1
fi
exit $rc
