#!/usr/bin/env bash
# The browser app in a real browser: builds web/ (from the committed
# lockfile), starts `tollway serve` on a fresh SQLite database and a free
# port with the real embedded model (an admin created and the model priced
# at 1 point per input token, 2 per output token), and runs every
# web/e2e/*.mjs script (or those named as arguments) in Debian's Chromium
# (installed from Debian when missing) driven by playwright-core, with
# TOLLWAY_URL and TOLLWAY_ADMIN_KEY set. Screenshots go to docs/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
unset TOLLWAY_CONFIG
if ! command -v chromium >/dev/null; then
  command -v apt-get >/dev/null || { echo "e2e.sh: Chromium is required (Debian: chromium)" >&2; exit 1; }
  echo "e2e.sh: installing Chromium from Debian" >&2
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q chromium >&2
fi
# npm ci only when the installed packages are older than the lockfile; the
# app built into TOLLWAY_E2E_WEB_OUT (default web/dist), so that two runs
# side by side do not share a build.
if [ ! -f web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
web_out="$PWD/${TOLLWAY_E2E_WEB_OUT:-web/dist}"
# TOLLWAY_E2E_PREBUILT=1: serve what is in the output folder as it is.
[ "${TOLLWAY_E2E_PREBUILT:-}" = 1 ] || (cd web && npx tsc -p . && npx vite build --logLevel warn --outDir "$web_out" --emptyOutDir)
cargo build --locked -q -p tollway-cli
bin=target/debug/tollway
model="${TOLLWAY_TEST_MODEL:-$(scripts/fetch-model.sh)}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# --- CKB devnet (web/e2e/ckb.mjs) -------------------------------------------
# With TOLLWAY_CKB_BIN (the `ckb` node binary, e.g. from scripts/ckb.sh), a
# fresh devnet (a block a second) runs beside the server, the CKB rail is on
# with devnet test account 2 as the seller, and the scripts get
# TOLLWAY_CKB_RPC (the node's JSON-RPC). Without it ckb.mjs skips.
if [ -n "${TOLLWAY_CKB_BIN:-}" ]; then
  ckb_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  ckb_p2p=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$bin" devnet start --dir "$dir/devnet" --ckb-bin "$TOLLWAY_CKB_BIN" --rpc-port "$ckb_port" --p2p-port "$ckb_p2p" \
    --block-interval-ms 1000 > "$dir/devnet.log" 2>&1 &
  ckb_pid=$!
  # Stopped when this script ends, whatever trap the rest of it sets; its
  # folder removed once the node (a child of the devnet process) is gone.
  (while kill -0 $$ 2>/dev/null; do sleep 1; done; kill "$ckb_pid" 2>/dev/null
   for _ in $(seq 1 100); do pgrep -f "$dir/devnet" >/dev/null || break; sleep 0.2; done; rm -rf "$dir") >/dev/null 2>&1 &
  for _ in $(seq 1 150); do grep -q "listening on" "$dir/devnet.log" 2>/dev/null && break; sleep 0.2; done
  grep -q "listening on" "$dir/devnet.log" || { echo "e2e.sh: the CKB devnet did not start" >&2; cat "$dir/devnet.log" >&2; exit 1; }
  ckb_seller=$("$bin" devnet accounts | sed -n 's/^account 2: .*secret key \(0x[0-9a-f]*\).*/\1/p')
  export TOLLWAY_CKB="{rpc_url = \"http://127.0.0.1:$ckb_port\", seller_secret = \"$ckb_seller\", block_interval_secs = 1}"
  export TOLLWAY_CKB_RPC="http://127.0.0.1:$ckb_port"
  # The hub (web/e2e/hub.mjs) with devnet test account 1's key: not 3,
  # whose cells ckb.mjs's faucet spends (init_pool would split the same cell).
  ckb_hub=$("$bin" devnet accounts | sed -n 's/^account 1: .*secret key \(0x[0-9a-f]*\).*/\1/p')
  export TOLLWAY_HUB="{secret = \"$ckb_hub\", init_pool = true, job_interval_ms = 200}"
fi
# --- end CKB devnet ------------------------------------------------------------
# --- EVM devnet (web/e2e/checkout.mjs) ----------------------------------------
# The server starts its own anvil (TOLLWAY_EVM_DEVNET=1) on a free port with
# USDT, USDC and BUSD; it is stopped with this script.
evm_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export TOLLWAY_EVM_DEVNET=1 TOLLWAY_ANVIL_BIN="${TOLLWAY_ANVIL_BIN:-$(scripts/anvil.sh)}"
export TOLLWAY_EVM="{devnet_port = $evm_port, poll_interval_ms = 250, confirmations = 2}"
(while kill -0 $$ 2>/dev/null; do sleep 1; done; pkill -f "anvil.*--port $evm_port" 2>/dev/null) >/dev/null 2>&1 &
# --- end EVM devnet ------------------------------------------------------------
export TOLLWAY_DATABASE_URL="sqlite://$dir/e2e.db"
"$bin" migrate >/dev/null
admin_key=$("$bin" admin create-user admin --admin | sed -n 's/^api key: //p')
"$bin" admin set-price smollm2-135m-instruct 1000 2000 --note "e2e" >/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TOLLWAY_LISTEN="127.0.0.1:$port" TOLLWAY_WEB_DIR="$web_out" \
  TOLLWAY_MODEL_PATH="$model" RUST_LOG=warn "$bin" serve > "$dir/serve.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$dir/serve.log" >&2; exit 1; }
  sleep 0.2
done
status=0
scripts=("$@")
[ ${#scripts[@]} -gt 0 ] || scripts=(web/e2e/*.mjs)
for script in "${scripts[@]}"; do
  echo "e2e.sh: $script"
  TOLLWAY_URL="http://127.0.0.1:$port" TOLLWAY_ADMIN_KEY="$admin_key" node "$script" || status=1
done
exit "$status"
