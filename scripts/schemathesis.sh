#!/usr/bin/env bash
# Fuzzes the REST API against its OpenAPI document (docs/openapi.json) with Schemathesis:
# starts `tokennet node` on the embedded simulated chain on a free local port, joins the
# demo token network once (so that channels exist), runs every response check against
# http://127.0.0.1:PORT/api/v1/openapi.json, and stops the node with SIGTERM.
#
# Random addresses almost never pass EIP-55, so half of the generated addresses are
# drawn from the node's real ones (the demo token, our address, our partners): those
# requests reach the joins, leaves, mints and channel lookups instead of a 404.
#
# Run by hand, not by CI:   scripts/schemathesis.sh
# Knobs (environment):      MAX_EXAMPLES (default 50 per operation), SEED (default 1),
#                           CHECKS (default: the five response checks below; `all` adds
#                           Schemathesis's other checks), SCHEMATHESIS_ARGS (extra
#                           arguments for `schemathesis run`).
# Needs python3 (3.9+) with venv and pip reaching PyPI; Schemathesis is installed in
# target/schemathesis-venv. The node's log is kept in target/schemathesis-node.log.
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5
CHECKS=${CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance}

cd "$(dirname "$0")/.."
venv=target/schemathesis-venv
log=target/schemathesis-node.log
mkdir -p target

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
    echo "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --quiet --bin tokennet

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
# A fresh state database on disk, so that every request goes through the real SQLite path.
datadir=target/schemathesis-state
rm -rf "$datadir"
target/debug/tokennet node \
    --api-address "127.0.0.1:$port" \
    --datadir "$datadir" \
    --sim-block-time 100ms \
    --sim-settle-timeout 2s \
    --tx-timeout 30s \
    >"$log" 2>&1 &
node_pid=$!
stop_node() {
    if kill -0 "$node_pid" 2>/dev/null; then
        kill -TERM "$node_pid"
        wait "$node_pid" || echo "tokennet exited with status $?" >&2
    fi
}
trap stop_node EXIT

echo "waiting for tokennet on $base (log: $log)"
for _ in $(seq 1 300); do
    if curl -fsS "$base/api/v1/status" 2>/dev/null | grep -q '"ready"'; then
        break
    fi
    if ! kill -0 "$node_pid" 2>/dev/null; then
        echo "tokennet did not start:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.2
done
curl -fsS "$base/api/v1/status" | grep -q '"ready"' || {
    echo "tokennet is not ready after 60 s" >&2
    exit 1
}

json() { python3 -c "import json, sys; data = json.load(sys.stdin); print($1)"; }
token=$(curl -fsS "$base/api/v1/tokens" | json 'data[0]')
ours=$(curl -fsS "$base/api/v1/address" | json 'data["our_address"]')
echo "joining the demo token network $token once"
curl -fsS -X PUT "$base/api/v1/connections/$token" -H 'Content-Type: application/json' \
    -d '{"funds": "100000000000000000000"}'
partners=$(curl -fsS "$base/api/v1/channels" | json '" ".join(c["partner_address"] for c in data)')
config=target/schemathesis.toml
{
    echo '# Written by scripts/schemathesis.sh for one run.'
    echo 'cache = { directory = "target/schemathesis-cache" }'
    echo
    echo "[dictionaries.addresses]"
    printf 'values = ['
    printf '"%s", ' "$token" "$ours" $partners
    printf ']\n\n'
    echo "[parameters]"
    echo '"path.token_address" = { dictionary = "addresses", probability = 0.5 }'
    echo '"path.partner_address" = { dictionary = "addresses", probability = 0.5 }'
    echo '"body.to" = { dictionary = "addresses", probability = 0.5 }'
} >"$config"

status=0
# shellcheck disable=SC2086 # SCHEMATHESIS_ARGS is a list of arguments
"$venv/bin/schemathesis" --config-file "$config" run "$base/api/v1/openapi.json" \
    --url "$base" \
    --checks "$CHECKS" \
    --max-examples "${MAX_EXAMPLES:-50}" \
    --seed "${SEED:-1}" \
    --request-timeout 120 \
    --workers 1 \
    ${SCHEMATHESIS_ARGS:-} || status=$?

stop_node
trap - EXIT
grep -q "stopped" "$log" || {
    echo "tokennet did not log 'stopped'; see $log" >&2
    status=1
}
exit "$status"
