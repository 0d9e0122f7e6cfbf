#!/usr/bin/env bash
# Proves the local EVM devnet end to end on a real anvil (groundwork for
# issue 15's stablecoin rail): installs anvil (scripts/anvil.sh, cached),
# checks that contracts/TollwayToken.json matches its source
# (scripts/contracts.sh check), then runs scripts/evm-devnet-smoke.mjs:
# anvil on a free port with chain id 56, USDT, USDC and BUSD deployed from
# anvil's first default account (1,000,000 each), read back with eth_call,
# one transfer found with eth_getLogs, anvil stopped.
#   scripts/evm-devnet-smoke.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
command -v node >/dev/null || { echo "evm-devnet-smoke.sh: node (Node.js 18 or later) is required" >&2; exit 1; }
anvil=$("$here/scripts/anvil.sh")
"$anvil" --version | head -1 >&2
"$here/scripts/contracts.sh" check
exec node "$here/scripts/evm-devnet-smoke.mjs" "$anvil"
