#!/usr/bin/env bash
# Builds the `nexus:local` image offline, FROM scratch: the nexus binary, exactly
# the shared libraries `ldd` names for it, and the hello example (for
# `nexus init --example`). Nothing is pulled.
#   docker/build-image.sh            # release binary (cargo build --release)
#   docker/build-image.sh --debug    # debug binary (faster to build, larger)
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
if [ "${1:-}" = --debug ]; then
  profile=debug
fi
tag=${NEXUS_IMAGE:-nexus:local}

if ! rustup target list --installed | grep -qx wasm32-wasip1; then
  rustup target add wasm32-wasip1
fi
cargo build --quiet --release --target wasm32-wasip1 --manifest-path guest/Cargo.toml -p hello
if [ "$profile" = release ]; then
  cargo build --quiet --release --workspace --bin nexus
else
  cargo build --quiet --workspace --bin nexus
fi
binary="${CARGO_TARGET_DIR:-target}/$profile/nexus"

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
root="$context/rootfs"
mkdir -p "$root/examples/hello" "$root/tmp" "$context/owned/data" "$context/owned/tokens"
cp "$binary" "$root/nexus"
# `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` and `/lib64/ld-linux-x86-64.so.2 (0x…)`.
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
  while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
cp -L examples/hello/workbook.toml examples/hello/hello.wasm examples/hello/README.md "$root/examples/hello/"
chmod -R a+rX "$root"
chmod 1777 "$root/tmp"
cat > "$context/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
# The data dir and the token volume: a named volume mounted there starts
# with this ownership, so the node (uid 65534) can write it.
COPY --chown=65534:65534 owned/ /
USER 65534:65534
ENV NEXUS_DATA_DIR=/data
ENTRYPOINT ["/nexus"]
DOCKERFILE
docker build --quiet --tag "$tag" "$context" >/dev/null
size=$(docker image inspect --format '{{.Size}}' "$tag")
echo "built $tag from $binary ($((size / 1024 / 1024)) MiB)"
