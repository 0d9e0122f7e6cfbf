#!/usr/bin/env bash
# Compiles the Solidity sources in contracts/ offline with the npm package
# solc (solc-js, the compiler built to WebAssembly; pinned below), installed
# once into a cache outside the clone ($TOLLWAY_CACHE, else
# /var/cache/tollway as root, else ~/.cache/tollway).
#   scripts/contracts.sh check   recompiles and fails if contracts/TollwayToken.json
#                                differs from what its source compiles to
#   scripts/contracts.sh build   rewrites contracts/TollwayToken.json
#   scripts/contracts.sh solc    installs solc if needed and prints its directory
set -euo pipefail
if [ "$(id -u)" = 0 ]; then default_cache=/var/cache/tollway; else default_cache="$HOME/.cache/tollway"; fi
cache="${TOLLWAY_CACHE:-$default_cache}"
version=0.8.37
root="$cache/solc-$version"
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/contracts/TollwayToken.json"

install_solc() {
  [ -f "$root/node_modules/solc/package.json" ] && return 0
  command -v npm >/dev/null || { echo "contracts.sh: npm (Node.js) is required" >&2; exit 1; }
  echo "contracts.sh: installing solc@$version from the npm registry into $root (once)" >&2
  mkdir -p "$cache"
  local tmp
  tmp=$(mktemp -d "$cache/solc-$version.XXXXXX")
  echo '{"private": true}' >"$tmp/package.json"
  # --ignore-scripts: solc needs no install step; its compiler (soljson.js)
  # ships inside the package, so compiling never downloads anything.
  npm install --prefix "$tmp" --no-audit --no-fund --ignore-scripts --save-exact "solc@$version" >&2 \
    || { rm -rf "$tmp"; exit 1; }
  rm -rf "$root"
  mv "$tmp" "$root"
}

case "${1:-check}" in
  build)
    install_solc
    node "$here/contracts/build.mjs" "$root" "$out"
    echo "contracts.sh: wrote contracts/TollwayToken.json" >&2
    ;;
  check)
    install_solc
    tmp=$(mktemp)
    trap 'rm -f "$tmp"' EXIT
    node "$here/contracts/build.mjs" "$root" "$tmp"
    if ! cmp -s "$tmp" "$out"; then
      echo "contracts.sh: contracts/TollwayToken.json does not match contracts/TollwayToken.sol compiled with solc $version;" >&2
      echo "  run scripts/contracts.sh build and commit the result" >&2
      diff <(head -c 2000 "$out" 2>/dev/null || true) <(head -c 2000 "$tmp") >&2 || true
      exit 1
    fi
    echo "contracts.sh: contracts/TollwayToken.json matches its source (solc $version)" >&2
    ;;
  solc)
    install_solc
    echo "$root"
    ;;
  *)
    echo "usage: $0 check|build|solc" >&2; exit 2 ;;
esac
