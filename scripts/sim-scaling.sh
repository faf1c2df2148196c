#!/usr/bin/env bash
# How the simulator's wall time and peak memory grow with the number of nodes: the
# Raiden-default scenario at 10^4, 10^5 and 10^6 nodes, run one after the other in one go
# so that the figures are comparable. Needs GNU time (/usr/bin/time, Debian's `time`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p tokennet-sim
out=$(mktemp -d)
printf '%-10s %10s %12s\n' nodes "wall (s)" "peak (MiB)"
for scenario in raiden-default raiden-100k raiden-1m; do
  nodes=$(grep -m1 '^count' "sim/scenarios/$scenario.toml" | tr -dc '0-9')
  /usr/bin/time -f '%e %M' -o "$out/time" \
    "${CARGO_TARGET_DIR:-target}/release/tokennet-sim" run "sim/scenarios/$scenario.toml" --out "$out/$scenario" >/dev/null
  read -r wall kib < "$out/time"
  printf '%-10s %10s %12s\n' "$nodes" "$wall" "$((kib / 1024))"
done
rm -rf "$out"
