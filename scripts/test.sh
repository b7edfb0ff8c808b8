#!/usr/bin/env bash
# The README's test command: installs what is missing, checks formatting and
# lints, and runs every test in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
