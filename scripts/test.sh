#!/usr/bin/env bash
# The whole test suite: unit, integration, doc tests, and the benches built and run once
# in test mode (so that they cannot rot).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets
cargo test --workspace --doc
