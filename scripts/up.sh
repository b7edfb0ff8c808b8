#!/usr/bin/env bash
# The README's run command: single-node dev mode with the hello example
# docked and called. Ctrl-C stops the node cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --quiet --release -p nexus-node
exec target/release/nexus up --example examples/hello "$@"
