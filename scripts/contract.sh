#!/usr/bin/env bash
# The published contract, checked against a real server: starts `tollway
# serve` (debug build) on SQLite, then on PostgreSQL, each with an admin
# key and a user with points, validates its /openapi.json with
# openapi-spec-validator and runs schemathesis against it, authenticated
# with the admin key. Fails on any 5xx, any status, content type, header
# or body the document does not declare, or an invalid document.
# Both tools come from PyPI (pip) when missing.
#
# The server runs without the embedded model: /v1/chat/completions then
# answers 404 `model_not_found` for every model (declared), so schemathesis
# checks the gateway's admission (auth, body, headers) but never waits for
# generation; the gateway's answers with the model are covered by
# crates/server/tests/gateway.rs.
#
#   scripts/contract.sh                  (PostgreSQL from $TOLLWAY_TEST_PG_URL, else scripts/pg.sh)
#   CONTRACT_EXAMPLES=N  test cases per operation and phase (default 100)
#   CONTRACT_SEED=N      schemathesis seed (default 12: the same cases every run)
#   CONTRACT_BACKENDS="sqlite postgres"  which stores to run on
set -euo pipefail
cd "$(dirname "$0")/.."

examples="${CONTRACT_EXAMPLES:-100}"
backends="${CONTRACT_BACKENDS:-sqlite postgres}"

pip_tool() { # command, PyPI package
  command -v "$1" >/dev/null || python3 -m pip install -q --disable-pip-version-check "$2" >&2
}
pip_tool openapi-spec-validator openapi-spec-validator
pip_tool schemathesis schemathesis

# The executable cargo reports (not target/debug/tollway, which a build in
# another checkout sharing CARGO_TARGET_DIR may replace or remove).
built=$(cargo build --locked -q -p tollway-cli --bin tollway --message-format=json |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"): print(m["executable"])')
work=$(mktemp -d)
export TOLLWAY_ANVIL_BIN="${TOLLWAY_ANVIL_BIN:-$(scripts/anvil.sh)}"
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# A private copy: another build cannot swap the binary under the run.
cp "$built" "$work/tollway"
tollway="$work/tollway"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# run_on NAME DATABASE_URL: the whole check on one store.
run_on() {
  local name=$1 url=$2 port admin_key started
  started=$(date +%s)
  port=$(free_port)
  export TOLLWAY_DATABASE_URL="$url" TOLLWAY_LISTEN="127.0.0.1:$port" TOLLWAY_MODEL_PATH="$work/no-model.gguf"
  # The stablecoin checkout on its own anvil (no webhook secret: webhook
  # URLs are refused, so nothing is ever sent to a generated address).
  export TOLLWAY_EVM_DEVNET=1 TOLLWAY_EVM="{devnet_port = $(free_port)}"
  "$tollway" migrate >/dev/null
  admin_key=$("$tollway" admin create-user admin --admin | sed -n 's/^api key: //p')
  "$tollway" admin create-user alice >/dev/null
  "$tollway" admin set-price '*' 30 60 >/dev/null
  "$tollway" admin grant admin 1000000000 --reason contract >/dev/null
  "$tollway" admin grant alice 1000000 --reason contract >/dev/null
  "$tollway" serve >"$work/serve-$name.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$port/openapi.json" -o "$work/openapi-$name.json"
  openapi-spec-validator "$work/openapi-$name.json"
  local status=0
  schemathesis run "http://127.0.0.1:$port/openapi.json" \
    -H "Authorization: Bearer $admin_key" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --max-examples "$examples" --workers 2 --seed "${CONTRACT_SEED:-12}" --no-color \
    --suppress-health-check all --warnings off \
    --generation-database none || status=$?
  if ! "$tollway" admin audit >/dev/null; then
    echo "contract.sh: the ledger audit failed after the run on $name" >&2
    status=1
  fi
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=
  if [ "$status" -ne 0 ]; then
    echo "contract.sh: server log ($name), last lines:" >&2
    tail -n 40 "$work/serve-$name.log" >&2
  fi
  echo "contract.sh: $name took $(( $(date +%s) - started ))s"
  return "$status"
}

for backend in $backends; do
  case "$backend" in
    sqlite)
      mkdir -p "$work/sqlite"
      run_on sqlite "sqlite://$work/sqlite/tollway.db"
      ;;
    postgres)
      pg_url="${TOLLWAY_TEST_PG_URL:-$(scripts/pg.sh start)}"
      psql_bin=$(ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | head -n1)
      db="tollway_t_contract_$$"
      "$psql_bin" "$pg_url" -qc "CREATE DATABASE $db" >/dev/null
      status=0
      run_on postgres "${pg_url%/*}/$db" || status=$?
      "$psql_bin" "$pg_url" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
      [ "$status" -eq 0 ] || exit "$status"
      ;;
    *) echo "contract.sh: unknown backend $backend" >&2; exit 2 ;;
  esac
done
echo "contract.sh: the document validates and matches the server on: $backends"
