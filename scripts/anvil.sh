#!/usr/bin/env bash
# Installs anvil (the local EVM node of Foundry) from the npm package
# @foundry-rs/anvil-linux-amd64 into a cache outside the clone, keyed by
# version, and prints the binary's path (messages go to stderr). Does
# nothing but print it when it is cached.
#   scripts/anvil.sh           (cache: $TOLLWAY_CACHE, else /var/cache/tollway
#                               as root, else ~/.cache/tollway)
#   scripts/anvil.sh --cached  prints the path only if it is cached (exit 1 if not)
set -euo pipefail
if [ "$(id -u)" = 0 ]; then default_cache=/var/cache/tollway; else default_cache="$HOME/.cache/tollway"; fi
cache="${TOLLWAY_CACHE:-$default_cache}"
package=@foundry-rs/anvil-linux-amd64
version=1.7.1
root="$cache/anvil-$version"
bin="$root/node_modules/$package/bin/anvil"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
if [ "${1:-}" = --cached ]; then exit 1; fi

[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || { echo "anvil.sh: $package is for Linux x86_64 only" >&2; exit 1; }
command -v npm >/dev/null || { echo "anvil.sh: npm (Node.js) is required" >&2; exit 1; }
echo "anvil.sh: installing $package@$version from the npm registry into $root (once)" >&2
mkdir -p "$cache"
# Installed into a temporary directory and moved into place, so an
# interrupted install never leaves a half-written cache entry behind.
tmp=$(mktemp -d "$cache/anvil-$version.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo '{"private": true}' >"$tmp/package.json"
npm install --prefix "$tmp" --no-audit --no-fund --ignore-scripts --save-exact \
  "$package@$version" >&2
[ -x "$tmp/node_modules/$package/bin/anvil" ] || { echo "anvil.sh: the package holds no bin/anvil" >&2; exit 1; }
"$tmp/node_modules/$package/bin/anvil" --version >&2
rm -rf "$root"
mv "$tmp" "$root"
trap - EXIT
echo "$bin"
