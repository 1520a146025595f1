# Sourced by the check scripts that print PASS/FAIL/SKIP lines (chat-check,
# cli-check, browser-check, server-lib's server checks, run-host-tests' own
# steps). The caller sets check (its name, for the SKIP and FAIL lines of
# missing()) and, for npm_package, limit (seconds an install may take).
# shellcheck shell=sh disable=SC2154

# result NAME WHY: PASS when WHY is empty, else FAIL with WHY on one line.
result() {
	if [ -z "$2" ]; then
		echo "PASS $1"
	else
		echo "FAIL $1: $(printf '%s' "$2" | tr '\n' ' ')"
	fi
}

# missing WHY: what cannot be installed here is a SKIP, or a FAIL when CI=true.
missing() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL $check: $1"
		exit 1
	fi
	echo "SKIP $check: $1"
	exit 0
}

# npm_package NAME VERSION CACHE: the npm package at its pinned version,
# installed once into CACHE/node_modules (outside the clone); missing()
# when it cannot be.
npm_package() {
	have=$(node -p "require('$3/node_modules/$1/package.json').version" 2>/dev/null)
	[ "$have" = "$2" ] && return 0
	command -v npm >/dev/null 2>&1 || missing "no npm to install $1@$2"
	mkdir -p "$3" || missing "cannot make $3"
	# Optional peers (openai's ws and zod) are not needed here.
	timeout "$limit" npm install --prefix "$3" --no-audit --no-fund --save-exact \
		--legacy-peer-deps --loglevel=error "$1@$2" >"$3/install.log" 2>&1 ||
		missing "npm install $1@$2 failed: $(tail -3 "$3/install.log" | tr '\n' ' ')"
}
