#!/usr/bin/env bash
# The README's test command: installs what is missing, checks formatting and
# lints, and runs every test in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# Layering: no import cycle between the top-level modules of any crate.
python3 scripts/module-cycles.py abi errors durable workbook engine raft tls transport netctl node cluster-tests
# The guest workspace (guest/Cargo.toml: the SDK, the examples, the test guests; wasm32-wasip1).
cargo fmt --manifest-path guest/Cargo.toml --all -- --check
cargo clippy --quiet --release --target wasm32-wasip1 --manifest-path guest/Cargo.toml --workspace \
  --all-targets -- -D warnings
cargo test --workspace
# The API against its own OpenAPI document, fuzzed with schemathesis (about 2 minutes), on the
# nexus binary the tests just built.
NEXUS_BIN=target/debug/nexus scripts/api-fuzz.sh
