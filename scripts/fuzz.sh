#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ (decoders of client-supplied payment
# data) for FUZZ_SECONDS each (default 600), with AddressSanitizer, on the
# stable toolchain (RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags).
# cargo-fuzz comes from crates.io into a cache outside the clone.
#   scripts/fuzz.sh [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then default_cache=/var/cache/tollway; else default_cache="$HOME/.cache/tollway"; fi
cache="${TOLLWAY_CACHE:-$default_cache}"
version=0.13.2
tool="$cache/cargo-fuzz-$version"
if [ ! -x "$tool/bin/cargo-fuzz" ]; then
  echo "fuzz.sh: installing cargo-fuzz $version from crates.io into $tool" >&2
  cargo install cargo-fuzz --version "$version" --locked --root "$tool" >&2
fi
export PATH="$tool/bin:$PATH"
cd fuzz
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for target in "${targets[@]}"; do
  echo "fuzz.sh: $target for ${FUZZ_SECONDS:-600} s" >&2
  set +e
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- -max_total_time="${FUZZ_SECONDS:-600}" -print_final_stats=1 >"$log" 2>&1
  status=$?
  set -e
  grep -E "^(Done|stat::number_of_executed_units)" "$log" >&2 || true
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$log" >&2
    echo "fuzz.sh: $target FAILED (exit $status); the input is under fuzz/artifacts/$target" >&2
    exit "$status"
  fi
done
echo "fuzz.sh: every target ran clean" >&2
