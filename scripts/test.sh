#!/usr/bin/env bash
# The whole test suite: the contract artifacts rebuilt and compared, the contracts' own
# tests on anvil (ABI, rules, gas against Raiden's figures), then unit,
# integration (on the simulated chain and on a real anvil), doc tests, and the benches
# built and run once in test mode (so that they cannot rot).
set -euo pipefail
cd "$(dirname "$0")/.."

# anvil and solc are pinned npm packages; once installed, nothing downloads at test time.
if [ "${CI:-}" = true ] || [ ! -x contracts/node_modules/.bin/anvil ]; then
  (cd contracts && npm ci --no-audit --no-fund)
fi
(cd contracts && npm run --silent check && npm test --silent)

cargo test --workspace --all-targets
cargo test --workspace --doc
