#!/usr/bin/env bash
# Benchmarks recorded in docs/benchmarks.md (release build, 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
TOLLWAY_TEST_PG_URL="$(scripts/pg.sh start)"
export TOLLWAY_TEST_PG_URL
cargo build --release --locked -p tollway-cli
bin=target/release/tollway
for backend in sqlite postgres; do
  "$bin" bench ledger --backend "$backend" --charges "${CHARGES:-50000}" --concurrency 512
  "$bin" bench http --backend "$backend" --charges "${HTTP_CHARGES:-20000}" --concurrency 64
  "$bin" bench channels --backend "$backend"
  "$bin" bench ckb --backend "$backend"
  "$bin" bench reads --backend "$backend" --charges "${READ_ROWS:-1000000}" --concurrency 512
done
"$bin" bench gateway --chunks 200 --requests 200 --concurrency 32 --duration-secs 10
