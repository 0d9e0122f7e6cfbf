#!/usr/bin/env bash
# Installs the CKB node (`ckb`, from its crates.io package, built from
# source: about 35 minutes on 2 cores, needs Debian's clang and
# libclang-dev) into a cache outside the clone, keyed by version, and
# prints the binary's path. Does nothing but print it when it is cached.
#   scripts/ckb.sh          (cache: $TOLLWAY_CACHE, else /var/cache/tollway
#                            as root, else ~/.cache/tollway)
#   scripts/ckb.sh --cached  prints the path only if it is cached (exit 1 if not)
set -euo pipefail
if [ "$(id -u)" = 0 ]; then default_cache=/var/cache/tollway; else default_cache="$HOME/.cache/tollway"; fi
cache="${TOLLWAY_CACHE:-$default_cache}"
version=0.210.0
root="$cache/ckb-$version"
bin="$root/bin/ckb"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
if [ "${1:-}" = --cached ]; then exit 1; fi

command -v cargo >/dev/null || { echo "ckb.sh: cargo (Rust) is required" >&2; exit 1; }
if ! command -v clang >/dev/null || ! ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1; then
  command -v apt-get >/dev/null || { echo "ckb.sh: clang and libclang are required (Debian: clang libclang-dev)" >&2; exit 1; }
  echo "ckb.sh: installing clang and libclang-dev from Debian" >&2
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q clang libclang-dev >&2
fi
echo "ckb.sh: building ckb $version from crates.io into $root (about 35 minutes on 2 cores; once)" >&2
mkdir -p "$cache"
# The build directory is kept beside the cache, so an interrupted build resumes.
CARGO_TARGET_DIR="$cache/ckb-build" cargo install ckb --version "$version" --locked --root "$root" >&2
rm -rf "$cache/ckb-build"
echo "$bin"
