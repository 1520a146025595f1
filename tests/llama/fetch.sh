#!/bin/sh
# llama.cpp for the GGUF oracle, without building it: the prebuilt libraries
# of node-llama-cpp's linux-x64 package and the headers of the same release
# (from the llama.cpp git bundle inside node-llama-cpp), into CACHE_DIR
# (outside the clone). Idempotent: a complete earlier fetch is reused.
# Prints what it has; fails, saying why, when it cannot (npm unreachable...).
# usage: fetch.sh CACHE_DIR
# Leaves CACHE_DIR/node-llama-cpp-VERSION/{lib,include,vocab,templates,VERSIONS}: vocab
# holds the release's tokenizer test vectors (models/ggml-vocab-*.gguf, .inp, .out),
# templates its models' chat templates (models/templates/*.jinja).
set -eu
VERSION=3.22.1
# The libraries the oracle links (libllama needs the other two), and the CPU
# backend's variants, one of which libggml loads at run time for this CPU.
LIBS="libllama.v0.5.0.so libggml-base.so libggml.v0.5.0.so"
for v in x64 sse42 sandybridge ivybridge piledriver haswell skylakex cannonlake cascadelake \
	cooperlake icelake alderlake sapphirerapids zen4; do
	LIBS="$LIBS libggml-cpu-$v.so"
done
cache=${1:?usage: fetch.sh CACHE_DIR}
dir=$cache/node-llama-cpp-$VERSION

complete=1
[ -f "$dir/VERSIONS" ] && [ -d "$dir/vocab" ] && [ -d "$dir/templates" ] || complete=0
for l in $LIBS; do
	[ -f "$dir/lib/$l" ] || complete=0
done
if [ $complete = 1 ]; then
	sed 's/^/fetch.sh: cached: /' "$dir/VERSIONS"
	exit 0
fi
for tool in npm git tar; do
	command -v $tool >/dev/null || { echo "fetch.sh: $tool is not installed" >&2; exit 1; }
done
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "fetch.sh: npm pack node-llama-cpp@$VERSION @node-llama-cpp/linux-x64@$VERSION into $cache"
for pkg in node-llama-cpp "@node-llama-cpp/linux-x64"; do
	if ! npm pack --loglevel=error --pack-destination "$tmp" "$pkg@$VERSION" \
		>"$tmp/pack.log" 2>&1; then
		echo "fetch.sh: npm pack $pkg@$VERSION failed:" >&2
		grep -m3 -i error "$tmp/pack.log" >&2 || tail -3 "$tmp/pack.log" >&2
		exit 1
	fi
done
tar -xzf "$tmp/node-llama-cpp-$VERSION.tgz" -C "$tmp" package/package.json \
	package/llama/gitRelease.bundle package/llama/llama.cpp.info.json
mkdir -p "$tmp/bins" "$tmp/out/lib" "$tmp/out/include"
# shellcheck disable=SC2046
tar -xzf "$tmp/node-llama-cpp-linux-x64-$VERSION.tgz" -C "$tmp/bins" package/package.json \
	$(for l in $LIBS; do echo "package/bins/linux-x64/$l"; done)
for l in $LIBS; do
	cp "$tmp/bins/package/bins/linux-x64/$l" "$tmp/out/lib/"
done

# The headers of the release the libraries were built from.
git clone -q --bare "$tmp/package/llama/gitRelease.bundle" "$tmp/src.git"
git -C "$tmp/src.git" archive HEAD include/llama.h ggml/include | tar -x -C "$tmp/out/include"
mv "$tmp/out/include/include/llama.h" "$tmp/out/include/ggml/include/"* "$tmp/out/include/"
rmdir "$tmp/out/include/include" "$tmp/out/include/ggml/include" "$tmp/out/include/ggml"
mkdir -p "$tmp/models" "$tmp/out/vocab" "$tmp/out/templates"
git -C "$tmp/src.git" archive HEAD models | tar -x -C "$tmp/models"
cp "$tmp/models/models/"ggml-vocab-*.gguf* "$tmp/out/vocab/"
cp "$tmp/models/models/templates/"*.jinja "$tmp/out/templates/"

ver() { sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$1" | head -1; }
{
	echo "node-llama-cpp $(ver "$tmp/package/package.json")"
	echo "@node-llama-cpp/linux-x64 $(ver "$tmp/bins/package/package.json")"
	tag=$(sed -n 's/^ *"tag": *"\([^"]*\)".*/\1/p' "$tmp/package/llama/llama.cpp.info.json")
	echo "llama.cpp $tag (bundle $(git -C "$tmp/src.git" rev-parse --short HEAD))"
	echo "libraries: $LIBS"
} >"$tmp/out/VERSIONS"
rm -rf "$dir"
mv "$tmp/out" "$dir"
sed 's/^/fetch.sh: fetched: /' "$dir/VERSIONS"
