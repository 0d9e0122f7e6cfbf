#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ (decoders of client-supplied payment
# data) for FUZZ_SECONDS (default 600), all targets at once, so the whole
# run takes about FUZZ_SECONDS of wall time; with AddressSanitizer, on the
# stable toolchain (RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags).
# The targets are built first, one after another, so the parallel runs do
# not race on the build. Each run starts from its seeds (fuzz/seeds/<target>,
# tracked) and the corpus earlier runs grew (fuzz/corpus/<target>, not
# tracked), and logs to fuzz/target/fuzz-logs/<target>.log. Any failing
# target fails the script, with its log's tail and the crashing input's
# place (fuzz/artifacts/<target>).
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
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-600}"
cd fuzz
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
[ ${#targets[@]} -gt 0 ] || { echo "fuzz.sh: no fuzz targets" >&2; exit 1; }

for target in "${targets[@]}"; do
  echo "fuzz.sh: building $target" >&2
  cargo fuzz build "$target" >&2
done

logs=target/fuzz-logs
mkdir -p "$logs"
declare -A pids=()
# Each run is its own session (setsid), so an interrupted script can stop
# every fuzzer it started, and only those.
stop_runs() {
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
}
trap 'stop_runs; exit 130' INT
trap 'stop_runs; exit 143' TERM
trap 'stop_runs' EXIT

for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  corpora=("corpus/$target")   # new inputs are written to the first
  [ ! -d "seeds/$target" ] || corpora+=("seeds/$target")
  echo "fuzz.sh: $target for $seconds s (log: fuzz/$logs/$target.log)" >&2
  setsid -w cargo fuzz run "$target" "${corpora[@]}" -- -max_total_time="$seconds" -print_final_stats=1 \
    >"$logs/$target.log" 2>&1 &
  pids[$target]=$!
done

failed=0
for target in "${targets[@]}"; do
  set +e
  wait "${pids[$target]}"
  status=$?
  set -e
  unset "pids[$target]"
  log="$logs/$target.log"
  grep -E "^(Done|stat::number_of_executed_units)" "$log" | sed "s/^/fuzz.sh: $target: /" >&2 || true
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$log" >&2
    echo "fuzz.sh: $target FAILED (exit $status); the input is under fuzz/artifacts/$target, the log is fuzz/$log" >&2
    failed="$status"
  fi
done
[ "$failed" -eq 0 ] || exit "$failed"
echo "fuzz.sh: every target ran clean (${targets[*]})" >&2
