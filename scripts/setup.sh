#!/usr/bin/env bash
# Installs what a fresh machine lacks for building and testing Nexus, then
# builds the example guests. Safe to run again: every step checks first.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
  echo "setup: cargo is missing; install Rust with rustup first (https://rustup.rs)" >&2
  exit 1
fi

if ! rustup target list --installed | grep -qx wasm32-wasip1; then
  rustup target add wasm32-wasip1
fi

# The sqlite3 CLI (tests check that `sqlite3 FILE .tables` opens a workbook), the openssl
# CLI (cluster tests knock on peer ports with `openssl s_client`) and promtool (from the
# prometheus package: a test checks the node's /metrics with `promtool check metrics`).
missing=""
command -v sqlite3 >/dev/null || missing="$missing sqlite3"
command -v openssl >/dev/null || missing="$missing openssl"
command -v promtool >/dev/null || missing="$missing prometheus"
# python3 venv (scripts/api-fuzz.sh installs schemathesis from PyPI into one) and curl.
python3 -c "import ensurepip, venv" 2>/dev/null || missing="$missing python3-venv"
command -v curl >/dev/null || missing="$missing curl"
# C for wasm32-wasip1 (the C programs of the WASI conformance suite): clang, lld, wasi-libc and
# compiler-rt's wasm32 builtins.
command -v clang >/dev/null || missing="$missing clang"
command -v wasm-ld >/dev/null || missing="$missing lld"
[ -e /usr/lib/wasm32-wasi/libc.a ] || missing="$missing wasi-libc"
ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1 \
  || missing="$missing libclang-rt-14-dev-wasm32"
# The WireGuard mesh tests and benchmark (cluster-tests/tests/mesh.rs, scripts/mesh-bench.sh):
# `wg` reads the devices, ping and iperf3 cross them, setpriv drops CAP_NET_ADMIN.
command -v wg >/dev/null || missing="$missing wireguard-tools"
command -v iperf3 >/dev/null || missing="$missing iperf3"
command -v ping >/dev/null || missing="$missing iputils-ping"
command -v setpriv >/dev/null || missing="$missing util-linux"
# shellcheck disable=SC2086 # one word per package
scripts/apt-install.sh $missing

# The guest workspace: the SDK, the example guests and the test guests (hostile, files), into guest/target
# (each guest's directory links its NAME.wasm there).
cargo build --quiet --release --target wasm32-wasip1 --manifest-path guest/Cargo.toml --workspace

# The C programs of the WASI conformance suite (node/tests/conformance/c), beside the Rust ones.
mkdir -p guest/target/wasm32-wasip1/c
for source in node/tests/conformance/c/*.c; do
  name=$(basename "$source" .c)
  out=guest/target/wasm32-wasip1/c/$name.wasm
  if [ ! -e "$out" ] || [ "$source" -nt "$out" ] || [ node/tests/conformance/c/check.h -nt "$out" ]; then
    clang --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Wextra -Werror -o "$out" "$source"
  fi
done

# A real tool, unmodified, for examples/markdown: comrak from crates.io built for wasm32-wasip1
# (about a minute, once).
if [ ! -e guest/target/tools/bin/comrak.wasm ]; then
  cargo install --quiet --locked --target wasm32-wasip1 --root guest/target/tools \
    comrak --version =0.59.0 --no-default-features --features cli
fi
