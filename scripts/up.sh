#!/usr/bin/env bash
# The README's run command: single-node dev mode with the hello example
# docked and called. Ctrl-C stops the node cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ ! -x target/release/nexus ]; then
  echo "up: building the release binary (whole-program optimised: about 20 minutes on 2 cores, once)" >&2
fi
cargo build --release -p nexus-node
exec target/release/nexus up --example examples/hello "$@"
