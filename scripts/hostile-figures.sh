#!/usr/bin/env bash
# Figures for the hostile cases of docs/benchmarks.md: dock time and node RSS for compile bombs,
# and how long a slow-loris connection lives.
# Usage: scripts/hostile-figures.sh [NEXUS_BINARY]
# Starts `nexus serve` with default limits on a free loopback port in a temporary data dir; for each
# bomb (1,000,000 trivial functions; 1,000,000 nested blocks) packs a workbook, docks it, and prints
# the answer code, the dock time and the RSS before, at peak and 2 s after. Then opens a connection
# that sends one header byte per second and prints when the node closed it.
set -euo pipefail
bin=${1:-target/release/nexus}
work=$(mktemp -d)
trap 'kill "$node" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listen = "127.0.0.1:%s"\ndata_dir = "%s/data"\n' "$port" "$work" > "$work/nexus.toml"
"$bin" serve --config "$work/nexus.toml" > "$work/node.log" 2>&1 &
node=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
key=$(cat "$work/data/admin.key")
rss() { awk '/VmRSS/ {print $2}' "/proc/$node/status"; }

# Writes bomb module $1 (functions|nested) of $2 units to $3.
bomb() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys
kind, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def leb(v):
    b = bytearray()
    while True:
        byte, v = v & 0x7F, v >> 7
        if v == 0:
            b.append(byte); return bytes(b)
        b.append(byte | 0x80)
def section(i, body): return bytes([i]) + leb(len(body)) + body
bodies = [b"\x00\x0b"] * n if kind == "functions" else [b"\x00" + b"\x02\x40" * n + b"\x0b" * (n + 1)]
code = leb(len(bodies)) + b"".join(leb(len(x)) + x for x in bodies)
wasm = (b"\x00asm\x01\x00\x00\x00" + section(1, b"\x01\x60\x00\x00")
        + section(3, leb(len(bodies)) + b"\x00" * len(bodies)) + section(10, code))
open(out, "wb").write(wasm)
PY
}

for spec in functions:1000000 nested:1000000; do
  kind=${spec%%:*}; n=${spec##*:}
  dir="$work/$kind"; mkdir -p "$dir"
  bomb "$kind" "$n" "$dir/bomb.wasm"
  printf 'name = "bomb"\nentry = "bomb"\n[[modules]]\nname = "bomb"\npath = "bomb.wasm"\n' > "$dir/workbook.toml"
  "$bin" workbook pack "$dir" -o "$dir/bomb.workbook" >/dev/null
  before=$(rss); peak=$before
  start=$(date +%s.%N)
  curl -s -o "$dir/answer" -H "Authorization: Bearer $key" --data-binary @"$dir/bomb.workbook" \
    "http://127.0.0.1:$port/v1/sandboxes" &
  req=$!
  while kill -0 "$req" 2>/dev/null; do r=$(rss); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.02; done
  wait "$req" || true
  took=$(python3 -c "import time; print(f'{time.time() - $start:.2f}')")
  sleep 2
  code=$(grep -o '"code":"[A-Z_]*"' "$dir/answer" || echo "docked")
  echo "$kind x $n ($(stat -c %s "$dir/bomb.wasm") bytes): $code in ${took}s; RSS before $before KiB, peak $peak KiB, 2 s after $(rss) KiB"
done

python3 - "$port" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
start = time.time()
s.settimeout(1.0)
head = b"GET /health HTTP/1.1\r\nHost: x\r\n"
i = 0
while time.time() - start < 120:
    try:
        s.send(head[i % len(head):i % len(head) + 1]); i += 1
        data = s.recv(4096)
        if data == b"" or data:
            status = data.split(b"\r\n", 1)[0].decode(errors="replace") if data else "closed"
            print(f"slow-loris (1 header byte/s): answered '{status}' after {time.time() - start:.1f}s")
            break
    except socket.timeout:
        continue
    except OSError as e:
        print(f"slow-loris: connection ended after {time.time() - start:.1f}s ({e})")
        break
PY
