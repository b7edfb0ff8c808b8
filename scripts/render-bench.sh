#!/usr/bin/env bash
# Times `nexus render examples/render` at 1920x1080 (16x9 tiles) on one node
# and over a three-node loopback cluster (nexus init + two joins, mTLS), and
# checks that both PNGs are the same bytes. Usage:
#   scripts/render-bench.sh [path/to/nexus]   (default: target/release/nexus)
# Everything lives in a temporary directory, removed at the end; the nodes
# listen on 127.0.0.1 only and are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
nexus=$(realpath "${1:-target/release/nexus}")
size=${RENDER_SIZE:-1920x1080}
tiles=${RENDER_TILES:-16x9}
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
for n in 1 2 3; do
  mkdir -p "$work/n$n"
  cat > "$work/n$n.toml" <<TOML
listen = "127.0.0.1:$(port)"
data_dir = "$work/n$n/data"
[cluster]
raft_listen = "127.0.0.1:$(port)"
TOML
done
raft1=$(sed -n 's/^raft_listen = "\(.*\)"/\1/p' "$work/n1.toml")

"$nexus" --config "$work/n1.toml" init --token-uses 2 > "$work/init.log"
"$nexus" --config "$work/n1.toml" serve 2> "$work/n1.log" & pids+=($!)
sleep 2
for n in 2 3; do
  "$nexus" --config "$work/n$n.toml" join --token-file "$work/n1/data/tls/join-token" \
    --peer "$raft1" > "$work/n$n.out" 2> "$work/n$n.log" & pids+=($!)
  sleep 3
done
for _ in $(seq 60); do
  members=$("$nexus" --config "$work/n1.toml" --json status | python3 -c \
    'import json,sys; print(len(json.load(sys.stdin)["members"]))' 2>/dev/null || echo 0)
  [ "$members" = 3 ] && break
  sleep 1
done
echo "cluster: $members nodes on $(nproc) cores"

render() {  # render TIER OUT
  local start end
  start=$(date +%s.%N)
  "$nexus" --config "$work/n1.toml" render "$sandbox" --size "$size" --tiles "$tiles" \
    --tier "$1" -o "$2" > /dev/null 2>&1
  end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.2f}')"
}
# A first small frame docks the workbook and compiles the tile kernel on every node.
sandbox=$("$nexus" --config "$work/n1.toml" render "$(pwd)/examples/render" --size 320x180 \
  --tiles 4x3 --tier node -o "$work/warm.png" 2>&1 | grep -o 'sb_[A-Za-z0-9]*' | head -1)
one=$(render instance "$work/one.png")
three=$(render node "$work/three.png")
echo "$size in $tiles tiles: 1 node ${one} s, 3 nodes ${three} s"
if cmp -s "$work/one.png" "$work/three.png"; then
  echo "PNGs identical: sha256 $(sha256sum "$work/one.png" | cut -c1-16)…"
else
  echo "PNGs differ" >&2
  exit 1
fi
