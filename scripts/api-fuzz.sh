#!/usr/bin/env bash
# Fuzzes the API of a live node against its own OpenAPI document with
# schemathesis (from PyPI, in a venv under target/): no 5xx, every answer's
# status, content type, headers and body as the document says, valid input
# accepted, invalid input refused. Part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/schemathesis
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==4.*"
fi
# NEXUS_BIN: a nexus binary already built (the test command passes the one `cargo test
# --workspace` built: building `-p nexus-node` alone unifies features differently and recompiles
# wasmtime and the node, minutes on two cores).
nexus=${NEXUS_BIN:-}
if [ -z "$nexus" ]; then
  cargo build --quiet -p nexus-node --bin nexus
  nexus=target/debug/nexus
fi
work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The fuzzer sends many requests with broken keys on purpose: keep the failed-key limit out of
# its way so the operations behind it get tested.
NEXUS_MAX_AUTH_FAILURES=1000000000 "$nexus" up --listen "127.0.0.1:$port" --data-dir "$work/data" >"$work/node.log" 2>&1 &
node=$!
trap 'kill $node 2>/dev/null; wait $node 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break
  sleep 0.1
done
# Bounded: 20 examples per operation, 2 minutes in all, a fixed seed. Left out: revoking keys,
# removing tenants and removing nodes — the run would revoke its own key (or, having made an
# admin key elsewhere, remove the tenant holding it) or remove the node it tests.
"$venv/bin/schemathesis" --config-file scripts/schemathesis.toml run \
  "http://127.0.0.1:$port/v1/openapi.json" \
  -H "Authorization: Bearer $(cat "$work/data/admin.key")" \
  --max-examples 20 --max-time 120 --seed 1 \
  --exclude-path "/v1/keys/{id}" --exclude-path "/v1/tenants/{id}" \
  --exclude-path "/v1/cluster/nodes/{id}"
