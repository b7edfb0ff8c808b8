#!/usr/bin/env bash
# Regenerates node/link/startup-order.txt: every function of the release `nexus` that runs from
# its exec through `nexus up` on a fresh data dir and a restart on that data dir, each followed
# by one Raft write and one read through the API and 3 s of idling. callgrind (valgrind) records
# them; then the same two starts run natively under `perf record -e page-faults`, which adds the
# functions callgrind could not see (code chosen by CPU features valgrind lacks, and what the
# default instance pool runs). node/build.rs has the linker put these functions side by side at
# the front of `.text`, so an idle node maps a few MiB of its code instead of a little of
# everything (docs/benchmarks.md, run X).
#
#   scripts/startup-order.sh        # profiles target/release/nexus (build it first)
#
# Run it after changes that move start-up code (a new start-up step) and after adding or
# updating nexus-node's dependencies (they change the hashes in the symbol names), then rebuild:
# names a build no longer has are skipped, so a stale list still links but orders less. Installs
# valgrind and perf when missing (apt). Environment: NEXUS_BIN (default target/release/nexus).
# Under valgrind the node runs with NEXUS_MAX_INSTANCES=16: the default instance pool reserves
# more address space than valgrind allows.
set -euo pipefail
cd "$(dirname "$0")/.."

nexus=${NEXUS_BIN:-target/release/nexus}
if [ ! -x "$nexus" ]; then
  echo "startup-order: no nexus binary at $nexus; build it with \`cargo build --release -p nexus-node\`" >&2
  exit 1
fi
nexus=$(realpath "$nexus")
out=node/link/startup-order.txt
missing=()
command -v valgrind >/dev/null || missing+=(valgrind)
command -v perf >/dev/null || missing+=(linux-perf)
if [ ${#missing[@]} -gt 0 ]; then
  echo "startup-order: installing ${missing[*]}"
  scripts/apt-install.sh "${missing[@]}"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/startup-order.XXXXXX")
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# until_ready TAG DATA: waits for the node started as $pid on data dir DATA to answer /ready,
# sends it what an idle node has usually served (a Raft write with the admin key — a join token
# — and a read of the sandbox list), then waits 3 s more.
until_ready() {
  local tag=$1 data=$2 i key
  for i in $(seq 600); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/ready" && break
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/$tag.log" >&2; echo "startup-order: nexus up exited" >&2; exit 1; }
    [ "$i" -lt 600 ] || { echo "startup-order: nexus up not ready within 120 s" >&2; exit 1; }
    sleep 0.2
  done
  key=$(tr -d '[:space:]' <"$data/admin.key")
  for i in $(seq 101); do # the restarted node may not lead again for a moment
    curl -sf -o /dev/null -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
      -d '{"ttl_secs":60}' "http://127.0.0.1:$port/v1/cluster/tokens" && break
    [ "$i" -lt 101 ] || { echo "startup-order: POST /v1/cluster/tokens failed for 10 s" >&2; exit 1; }
    sleep 0.1
  done
  curl -sf -o /dev/null -H "Authorization: Bearer $key" "http://127.0.0.1:$port/v1/sandboxes" ||
    { echo "startup-order: GET /v1/sandboxes failed" >&2; exit 1; }
  sleep 3
}
# stop: kills the node (no shutdown code runs) and waits for it.
stop() {
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
}

# callgrind TAG: one `nexus up` under callgrind until ready and 3 s idle; the counts go to
# $tmp/cg.TAG.<pid>.1 (callgrind_control's dump).
callgrind() {
  local tag=$1 i
  NEXUS_MAX_INSTANCES=16 valgrind --tool=callgrind --demangle=no \
    --callgrind-out-file="$tmp/cg.$tag.%p" \
    "$nexus" up --listen "127.0.0.1:$port" --data-dir "$tmp/cg-data" >"$tmp/$tag.log" 2>&1 &
  pid=$!
  until_ready "$tag" "$tmp/cg-data"
  callgrind_control --dump "$pid" >/dev/null
  for i in $(seq 100); do
    [ -s "$tmp/cg.$tag.$pid.1" ] && break
    sleep 0.1
  done
  sleep 1 # the dump is written in one go once the file exists; let it finish
  stop
}
# faults TAG: one native `nexus up` until ready and 3 s idle, every page fault recorded with its
# address in $tmp/pf.TAG.
faults() {
  local tag=$1
  perf record -q -c 1 -e page-faults -d -o "$tmp/pf.$tag" -- \
    "$nexus" up --listen "127.0.0.1:$port" --data-dir "$tmp/pf-data" >"$tmp/$tag.log" 2>&1 &
  pid=$!
  until_ready "$tag" "$tmp/pf-data"
  kill -KILL "$(pgrep -P "$pid")"
  wait "$pid" 2>/dev/null || true
  pid=""
  perf script -i "$tmp/pf.$tag" --show-mmap-events -F addr,ip >"$tmp/pf.$tag.txt" 2>/dev/null
}
callgrind first
callgrind again
faults first
faults again

python3 - "$nexus" "$out" "$(git rev-parse --short HEAD)" "$tmp" <<'EOF'
import bisect, glob, re, subprocess, sys

binary, out, commit, tmp = sys.argv[1:5]
dumps, fault_logs = sorted(glob.glob(f"{tmp}/cg.*.1")), sorted(glob.glob(f"{tmp}/pf.*.txt"))
# Text symbols of the binary: name -> (address, size); the list may only name these.
symbols = {}
for line in subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True,
                           text=True, check=True).stdout.splitlines():
    parts = line.split()
    if len(parts) == 4 and parts[2] in "tTwW":
        symbols.setdefault(parts[3], (int(parts[0], 16), int(parts[1], 16)))
order, seen = [], set()


def take(name):
    """Appends `name` to the list the first time it comes up."""
    if name in symbols and name not in seen:
        seen.add(name)
        order.append(name)



# Callgrind's compressed names: `ob=(N) path` and `fn=(N) name` define, `fn=(N)` refers; a
# function block belongs to the object named by the last `ob=` line. `'2` marks recursion.
for dump in dumps:
    objects, functions, current = {}, {}, None
    for line in open(dump, errors="replace"):
        m = re.match(r"^(c?)(ob|fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if not m:
            continue
        called, kind, number, name = m.groups()
        table = objects if kind == "ob" else functions
        if name is not None:
            table[number] = re.sub(r"'\d+$", "", name)
        if called:
            continue
        if kind == "ob":
            current = objects.get(number)
        elif current == binary:
            take(functions.get(number))
found = len(order)
# Native page faults: an instruction fetch (the faulting address within a page of the
# instruction's) in the binary's code, at link address = address - mapping start + mapping
# offset + how far the code segment is linked above its file offset.
skew = next(int(f[2], 16) - int(f[1], 16)
            for f in (l.split() for l in subprocess.run(["readelf", "-lW", binary],
                                                        capture_output=True, text=True,
                                                        check=True).stdout.splitlines())
            if len(f) >= 8 and f[0] == "LOAD" and f[6] == "R" and f[7] == "E")
by_address = sorted((address, size, name) for name, (address, size) in symbols.items())
starts = [a for a, _, _ in by_address]
for log in fault_logs:
    mapping = None
    for line in open(log, errors="replace"):
        m = re.search(r"MMAP2 .*\[(0x[0-9a-f]+)\((0x[0-9a-f]+)\) @ (0x[0-9a-f]+) .*\]: r-xp (\S+)$", line)
        if m:
            if m.group(4) == binary:
                mapping = tuple(int(g, 16) for g in m.groups()[:3])
            continue
        fields = line.split()
        if mapping is None or len(fields) != 2:
            continue
        try:
            address, ip = int(fields[0], 16), int(fields[1], 16)
        except ValueError:
            continue
        low, length, offset = mapping
        if not low <= address < low + length or abs(address - ip) >= 4096:
            continue
        at = address - low + offset + skew
        i = bisect.bisect_right(starts, at) - 1
        if i >= 0 and at < by_address[i][0] + max(by_address[i][1], 1):
            take(by_address[i][2])
total = sum(symbols[s][1] for s in order)
with open(out, "w") as f:
    f.write("# Functions the release `nexus` runs to start and idle, laid out first in .text by\n")
    f.write("# node/build.rs. Generated by scripts/startup-order.sh (from commit %s); do not edit.\n"
            % commit)
    f.write("# %d functions, %d bytes of code.\n" % (len(order), total))
    f.writelines(s + "\n" for s in order)
print(f"startup-order: {len(order)} functions ({len(order) - found} of them from page faults),"
      f" {total / 2**20:.1f} MiB of code -> {out}")
EOF
