#!/usr/bin/env bash
# Peak RSS of a node under N parallel oversized uploads (issue 13).
# Usage: scripts/upload-rss.sh [NEXUS_BINARY] [PARALLEL] [MB]
# Starts `nexus serve` on a free loopback port in a temporary data dir, sends PARALLEL uploads of
# MB megabytes twice (declared Content-Length, then chunked with no length), samples the node's RSS
# every 50 ms (the tenant may hold PARALLEL uploads) and prints idle and peak RSS with each upload's answer code.
set -euo pipefail
bin=${1:-target/release/nexus}
parallel=${2:-8}
mb=${3:-300}
work=$(mktemp -d)
trap 'kill "$node" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listen = "127.0.0.1:%s"\ndata_dir = "%s/data"\n[limits]\nmax_concurrent_uploads_per_tenant = %s\n' "$port" "$work" "$parallel" > "$work/nexus.toml"
"$bin" serve --config "$work/nexus.toml" > "$work/node.log" 2>&1 &
node=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
key=$(cat "$work/data/admin.key")
head -c "$((mb << 20))" /dev/zero > "$work/big"
rss() { awk '/VmRSS/ {print $2}' "/proc/$node/status"; }
echo "idle RSS: $(rss) KiB"
for mode in declared chunked; do
  extra=()
  [ "$mode" = chunked ] && extra=(-H "Transfer-Encoding: chunked")
  peak=0
  pids=()
  for i in $(seq "$parallel"); do
    curl -s -o "$work/answer.$i" -H "Authorization: Bearer $key" "${extra[@]}" \
      --data-binary @"$work/big" "http://127.0.0.1:$port/v1/sandboxes" &
    pids+=($!)
  done
  while kill -0 "${pids[@]}" 2>/dev/null; do
    r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
    sleep 0.05
  done
  wait "${pids[@]}" || true
  codes=$(cat "$work"/answer.* | grep -o '"code":"[A-Z_]*"' | sort | uniq -c | tr '\n' ' ')
  echo "$mode: $parallel x $mb MB -> peak RSS $peak KiB; answers: $codes"
  rm -f "$work"/answer.*
done
echo "after: $(rss) KiB; staging files left: $(ls "$work/data/staging" | wc -l)"
