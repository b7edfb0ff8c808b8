#!/usr/bin/env bash
# Throughput over the WireGuard mesh against the underlay under it (iperf3,
# one TCP stream, 10 s each): two `nexus` nodes, each in its own network
# namespace, joined by a veth pair through a bridge namespace. Root only
# (namespaces, CAP_NET_ADMIN); everything it makes carries this run's
# suffix and is removed on exit. Prints both figures and their ratio.
#
#   scripts/mesh-bench.sh                   # uses target/release/nexus (built if missing)
#   NEXUS=target/debug/nexus scripts/mesh-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
nexus=${NEXUS:-$target/release/nexus}
[ -x "$nexus" ] || cargo build --release --bin nexus
nexus=$(realpath "$nexus")
seconds=${SECONDS_PER_RUN:-10}

s=$$
br=nxbb-$s
ns1=nxb1-$s
ns2=nxb2-$s
dir=$(mktemp -d)
cleanup() {
  for ns in $ns1 $ns2 $br; do
    for sig in TERM KILL; do
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      [ -n "$pids" ] && kill -s $sig $pids 2>/dev/null || true
      sleep 0.3
    done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -f /var/run/wireguard/nxb$s-1.sock /var/run/wireguard/nxb$s-2.sock
  rm -rf "$dir"
}
trap cleanup EXIT

ip netns add "$br"
ip -n "$br" link add br0 type bridge
ip -n "$br" link set br0 up
for i in 1 2; do
  ns=nxb$i-$s
  ip netns add "$ns"
  ip -n "$ns" link add eth0 type veth peer name "nxbv$s-$i" netns "$br"
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "172.31.251.$i/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$br" link set "nxbv$s-$i" master br0
  ip -n "$br" link set "nxbv$s-$i" up
  cat > "$dir/n$i.toml" <<TOML
listen = "127.0.0.1:2026"
data_dir = "$dir/data$i"

[cluster]
name = "bench"
raft_listen = "172.31.251.$i:2027"

[mesh]
enabled = true
interface = "nxb$s-$i"
TOML
done

ip netns exec "$ns1" "$nexus" init --config "$dir/n1.toml" --token-uses 1 >/dev/null
ip netns exec "$ns1" "$nexus" serve --config "$dir/n1.toml" >"$dir/n1.log" 2>&1 &
for _ in $(seq 100); do [ -s "$dir/data1/tls/join-token" ] && break; sleep 0.2; done
cp "$dir/data1/tls/join-token" "$dir/token"
ip netns exec "$ns2" "$nexus" join --token-file "$dir/token" --peer 172.31.251.1:2027 \
  --config "$dir/n2.toml" >"$dir/n2.log" 2>&1 &
ok=
for _ in $(seq 150); do
  if ip netns exec "$ns1" ping -c1 -W1 10.99.0.2 >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.2
done
[ -n "$ok" ] || { echo "mesh-bench: the mesh did not come up"; tail -20 "$dir"/n*.log; exit 1; }

run() { # $1: server address
  ip netns exec "$ns2" iperf3 -s -1 -B "$1" >/dev/null 2>&1 &
  sleep 0.5
  ip netns exec "$ns1" timeout $((seconds + 20)) iperf3 -c "$1" -t "$seconds" -J \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])'
  wait
}
underlay=$(run 172.31.251.2)
mesh=$(run 10.99.0.2)
python3 - "$underlay" "$mesh" <<'PY'
import sys
underlay, mesh = (float(x) for x in sys.argv[1:])
print(f"underlay (veth):        {underlay / 1e9:6.2f} Gbit/s")
print(f"mesh (boringtun, 1 thr): {mesh / 1e9:6.2f} Gbit/s")
print(f"mesh / underlay:        {mesh / underlay:6.1%}")
PY
