#!/usr/bin/env bash
# The README's test command: installs what is missing, checks formatting and
# lints, and runs every test in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The guest SDK and the Rust example guests live outside the workspace (wasm32-wasip1).
for crate in guest examples/hello examples/counter examples/notes examples/fetch \
  examples/wordcount examples/greeter node/tests/guests/hostile; do
  cargo fmt --manifest-path "$crate/Cargo.toml" -- --check
  cargo clippy --quiet --release --target wasm32-wasip1 --manifest-path "$crate/Cargo.toml" -- -D warnings
done
cargo test --workspace
