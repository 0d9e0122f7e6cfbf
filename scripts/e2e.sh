#!/usr/bin/env bash
# The browser app in a real browser: builds web/ (from the committed
# lockfile), starts `tollway serve` on a fresh SQLite database and a free
# port, and runs every web/e2e/*.mjs script in Debian's Chromium (installed
# from Debian when missing) driven by playwright-core. Screenshots go to
# docs/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null; then
  command -v apt-get >/dev/null || { echo "e2e.sh: Chromium is required (Debian: chromium)" >&2; exit 1; }
  echo "e2e.sh: installing Chromium from Debian" >&2
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q chromium >&2
fi
(cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
cargo build --locked -q -p tollway-cli
bin=target/debug/tollway
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
env -u TOLLWAY_CONFIG TOLLWAY_LISTEN="127.0.0.1:$port" TOLLWAY_DATABASE_URL="sqlite://$dir/e2e.db" TOLLWAY_WEB_DIR=web/dist \
  TOLLWAY_MODEL_PATH="$dir/no-model.gguf" RUST_LOG=warn "$bin" serve > "$dir/serve.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$dir/serve.log" >&2; exit 1; }
  sleep 0.2
done
status=0
for script in web/e2e/*.mjs; do
  echo "e2e.sh: $script"
  TOLLWAY_URL="http://127.0.0.1:$port" node "$script" || status=1
done
exit "$status"
