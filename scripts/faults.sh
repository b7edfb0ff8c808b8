#!/usr/bin/env bash
# The fault suite (docs/operations.md, "Fault suite"): builds the nexus:local
# image offline and the counter workbook, brings up docker-compose.yml, runs
# nexus-faults — a client workload of registry writes, linearizable reads and
# counter increments while every fault kind is injected ROUNDS times — checks
# the history, prints the summary and takes the cluster down.
#   scripts/faults.sh                 # 10 rounds, release image (about 40 min on 2 cores)
#   ROUNDS=2 scripts/faults.sh --debug  # quicker: a debug image, 2 rounds
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
docker/build-image.sh "$@"
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --workspace --bins
"$target/debug/nexus" workbook pack examples/counter -o "$target/counter.workbook" >/dev/null
mkdir -p "$target/faults"
"$target/debug/nexus-faults" --counter "$target/counter.workbook" \
  --rounds "${ROUNDS:-10}" --out "$target/faults/summary.md"
