#!/usr/bin/env bash
# Nexus against etcd, side by side on this machine: a 3-node Nexus cluster and a 3-node etcd 3.4
# cluster on 127.0.0.1, each node its own process, data dir and ports, driven by the same load
# generator. It measures
#   - Raft writes under load: wrk, one write per request, sent to the leader (Nexus: POST
#     /v1/cluster/tokens, minting a join token; etcd: POST /v3/kv/put), at 1, 16, 64 and 256
#     clients: writes/s (2xx only), p50, p99, and every non-2xx answer or socket error, shown;
#   - elections: the Nexus Raft term before and after the 64-client run (terms begun);
#   - failover: one client writing to a survivor node (any node but the leader; both systems
#     forward to the leader), each write with a 0.5 s timeout; the leader's process is SIGKILLed
#     and the time to the next 2xx write is taken (scripts/vs-etcd-failover.py); the node is
#     restarted on the same data dir and the cluster is healthy again before the next round.
# Prints a Markdown table and writes the raw numbers to $OUT. Installs etcd, wrk, python3 and
# curl when missing (apt). Everything runs in a temp dir and is killed on exit.
#
#   scripts/vs-etcd.sh                  # 10 s per run, 1/16/64/256 clients, 10 failovers each
#   scripts/vs-etcd.sh --quick          # 3 s per run, 1 and 64 clients, 2 failovers each
#   scripts/vs-etcd.sh --soak 300       # also 64 clients on Nexus for 300 s: new terms (want 0)
#   scripts/vs-etcd.sh --etcd-tls       # etcd as Nexus runs: clients over HTTPS, peers over
#                                       # mutual TLS (a throwaway CA made with openssl)
#   NEXUS_BIN=target/debug/nexus scripts/vs-etcd.sh --quick   # debug figures mean nothing
#
# Environment: NEXUS_BIN (default target/release/nexus), OUT (default target/vs-etcd.json),
# VS_ETCD_DURATION (seconds per load run), VS_ETCD_ROUNDS (failovers per system),
# VS_ETCD_WRITE_TIMEOUT (seconds per failover write, default 0.5: a write lost with the leader
# costs that long, so the failover figures move in steps of it),
# VS_ETCD_PORT_BASE (default 24100: Nexus uses BASE+10..BASE+31, etcd BASE+110..BASE+131),
# VS_ETCD_KEEP=1 keeps the temp dir (data, logs), NEXUS_LOG (the nodes' log filter). The Nexus
# nodes allow 1024 connections per client address ([limits] max_connections_per_ip; the default,
# 256, is the biggest run's size) and log rustls at error only (see nexus_log below).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

quick=""
soak=0
etcd_tls=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --etcd-tls) etcd_tls=1 ;;
    --soak)
      if [ $# -lt 2 ] || ! [[ $2 =~ ^[1-9][0-9]*$ ]]; then echo "vs-etcd: --soak needs SECONDS" >&2; exit 2; fi
      soak=$2
      shift
      ;;
    -h | --help) usage; exit 0 ;;
    *) echo "vs-etcd: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ -n "$quick" ]; then
  duration=${VS_ETCD_DURATION:-3}
  rounds=${VS_ETCD_ROUNDS:-2}
  clients=(1 64)
else
  duration=${VS_ETCD_DURATION:-10}
  rounds=${VS_ETCD_ROUNDS:-10}
  clients=(1 16 64 256)
fi
write_timeout=${VS_ETCD_WRITE_TIMEOUT:-0.5}
base=${VS_ETCD_PORT_BASE:-24100}
out=${OUT:-target/vs-etcd.json}
nexus=${NEXUS_BIN:-target/release/nexus}
here=$(pwd)

# --- Tools: etcd-server has `etcd`, etcd-client `etcdctl` (Debian splits them). ---------------
missing=()
command -v etcd >/dev/null || missing+=(etcd-server)
command -v etcdctl >/dev/null || missing+=(etcd-client)
command -v wrk >/dev/null || missing+=(wrk)
command -v python3 >/dev/null || missing+=(python3)
command -v curl >/dev/null || missing+=(curl)
[ -z "$etcd_tls" ] || command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  echo "vs-etcd: installing ${missing[*]}"
  scripts/apt-install.sh "${missing[@]}"
fi

if [ ! -x "$nexus" ]; then
  echo "vs-etcd: no nexus binary at $nexus; build it with \`cargo build --release --bin nexus\`" \
    "(or point NEXUS_BIN at one)" >&2
  exit 1
fi
nexus=$(realpath "$nexus")
failover_py=$here/scripts/vs-etcd-failover.py
[[ $out = /* ]] || out=$here/$out

# Settings from the caller's environment would override the nodes' files (NEXUS_LISTEN, ETCD_*).
while read -r var; do
  case $var in NEXUS_BIN | NEXUS_LOG) ;; NEXUS_* | ETCD_* | ETCDCTL_*) unset "$var" ;; esac
done < <(compgen -e)

# --- Ports: Nexus node i: API BASE+10i, Raft BASE+10i+1 (TCP, and UDP for QUIC); etcd node i:
# client BASE+100+10i, peer BASE+100+10i+1. ---------------------------------------------------
nx_api() { echo $((base + 10 * $1)); }
nx_raft() { echo $((base + 10 * $1 + 1)); }
et_client() { echo $((base + 100 + 10 * $1)); }
et_peer() { echo $((base + 100 + 10 * $1 + 1)); }
ports=()
for i in 1 2 3; do ports+=("$(nx_api "$i")" "$(nx_raft "$i")" "$(et_client "$i")" "$(et_peer "$i")"); done
python3 - "${ports[@]}" <<'EOF' || exit 1
import socket, sys
taken = []
for port in map(int, sys.argv[1:]):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        if kind == socket.SOCK_STREAM:  # as servers bind: TIME_WAIT leftovers do not count
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            taken.append(f"{port}/{'tcp' if kind == socket.SOCK_STREAM else 'udp'}")
        finally:
            s.close()
if taken:
    sys.exit(f"vs-etcd: ports in use: {' '.join(taken)} (set VS_ETCD_PORT_BASE to another range)")
EOF

# --- Temp dir, processes, cleanup. -------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vs-etcd.XXXXXX")
mkdir -p "$tmp/logs"
declare -A pids=() # nexus1..3, etcd1..3 -> its process (our child; unset once reaped)
ok=""
running() { # PID: alive and not a zombie
  local state
  state=$(grep -s '^State:' "/proc/$1/status") || return 1
  [[ $state != *Z* ]]
}
cleanup() {
  local pid alive _
  # bash reports each SIGKILLed child on stderr; our own messages go to fd 3.
  exec 3>&2 2>/dev/null
  for pid in "${pids[@]}"; do running "$pid" && { kill -TERM "$pid" 2>/dev/null || true; }; done
  # 10 s to stop, then SIGKILL (an etcd leader whose peers are stopping too tries to hand over
  # its leadership first, for up to 7 s)
  for _ in $(seq 100); do
    alive=""
    for pid in "${pids[@]}"; do running "$pid" && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do running "$pid" && { kill -KILL "$pid" 2>/dev/null || true; }; done
  wait 2>/dev/null || true
  if [ -n "${VS_ETCD_KEEP:-}" ]; then
    echo "vs-etcd: kept $tmp" >&3
  elif [ -n "$ok" ]; then
    rm -rf "$tmp"
  else
    rm -rf "$tmp"/n?/data "$tmp"/e?/data
    echo "vs-etcd: logs kept in $tmp/logs" >&3
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "vs-etcd: $*"; }
die() {
  echo "vs-etcd: FAILED: $*" >&2
  local f
  for f in "$tmp"/logs/*.log; do
    [ -s "$f" ] || continue
    echo "--- last lines of $f" >&2
    tail -n 8 "$f" >&2
  done
  exit 1
}
# wait_for SECONDS WHAT COMMAND...: runs COMMAND every 0.2 s until it succeeds; dies after SECONDS.
wait_for() {
  local limit=$1 what=$2
  shift 2
  local end=$((SECONDS + limit))
  until "$@"; do
    [ "$SECONDS" -lt "$end" ] || die "$what (not within $limit s)"
    sleep 0.2
  done
}
# json EXPR: prints EXPR of the JSON document on stdin (`d`).
json() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }

# ================================ Nexus ========================================================
nx_data() { echo "$tmp/n$1/data"; }
nx_ca=$(nx_data 1)/tls/ca.pem
nx_body='{"ttl_secs":60,"uses":1}'
for i in 1 2 3; do
  mkdir -p "$tmp/n$i"
  cat >"$tmp/n$i/nexus.toml" <<TOML
listen = "127.0.0.1:$(nx_api "$i")"
data_dir = "$(nx_data "$i")"

[limits]
max_connections_per_ip = 1024

[cluster]
raft_listen = "127.0.0.1:$(nx_raft "$i")"
TOML
done

# nx_get NODE PATH: GET over HTTPS with the cluster CA and the admin key (from a header file,
# not the command line).
nx_get() {
  curl -sSf --max-time 2 --cacert "$nx_ca" -H "@$tmp/auth-header" \
    "https://127.0.0.1:$(nx_api "$1")$2"
}
# The nodes' log filter: Nexus's default, but wrk sends the IP address as TLS SNI, which rustls
# logs as a WARN on every handshake (one per connection wrk opens). NEXUS_LOG from the caller wins.
nexus_log=${NEXUS_LOG:-info,openraft=warn,rustls=error}
nx_start() { # NODE ARGS...: start a node process with its config, logging to logs/nexusNODE.log
  local i=$1
  shift
  NEXUS_LOG=$nexus_log "$nexus" "$@" --config "$tmp/n$i/nexus.toml" >>"$tmp/logs/nexus$i.log" 2>&1 &
  pids[nexus$i]=$!
}
nx_alive() { kill -0 "${pids[nexus$1]}" 2>/dev/null || die "nexus node $1 exited; see $tmp/logs/nexus$1.log"; }
nx_founded() {
  nx_alive 1
  [ -s "$(nx_data 1)/admin.key" ] && [ -s "$(nx_data 1)/tls/join-token" ] && [ -s "$nx_ca" ]
}
nx_voters() { # voters in node 1's view
  nx_get 1 /v1/cluster/status 2>/dev/null | json 'sum(m["kind"] == "voter" for m in d["members"])' 2>/dev/null
}
nx_has_voters() { nx_alive "$2"; [ "$(nx_voters)" = "$1" ]; }

# nx_ready: every node answers, all name the same leader, and that leader counts three voters, all
# up and caught up. Prints the leader's node number (1-3).
nx_ready() {
  local i
  for i in 1 2 3; do nx_alive "$i"; done
  for i in 1 2 3; do nx_get "$i" /v1/cluster/status >"$tmp/status$i.json" 2>/dev/null || return 1; done
  python3 - "$tmp" "$base" <<'EOF'
import json, sys
tmp, base = sys.argv[1], int(sys.argv[2])
views = [json.load(open(f"{tmp}/status{i}.json")) for i in (1, 2, 3)]
leaders = {v["leader"] for v in views}
if len(leaders) != 1 or None in leaders:
    sys.exit(1)
leader = [v for v in views if v["node_id"] == v["leader"] and v["role"] == "leader"]
if len(leader) != 1:
    sys.exit(1)
voters = [m for m in leader[0]["members"] if m["kind"] == "voter"]
if len(voters) != 3 or any(m["health"] != "up" or (m["lag"] or 0) > 5 for m in voters):
    sys.exit(1)
me = next(m for m in voters if m["id"] == leader[0]["node_id"])
print((int(me["api_addr"].rsplit(":", 1)[1]) - base) // 10)
EOF
}
nx_leader() { nx_ready >"$tmp/leader"; }
nx_term() { # the highest term any node reports
  local i
  for i in 1 2 3; do nx_get "$i" /v1/cluster/status 2>/dev/null | json 'd["term"]' 2>/dev/null || true; done \
    | sort -n | tail -n 1 | grep .
}

log "nexus: $nexus ($("$nexus" --version 2>/dev/null || echo 'version unknown'))"
log "nexus: founding the cluster on 127.0.0.1:$(nx_api 1) (nexus init --serve)"
nx_start 1 init --serve --token-uses 2
wait_for 60 "nexus node 1 founding the cluster (admin.key, tls/join-token, tls/ca.pem)" nx_founded
printf 'Authorization: Bearer %s\n' "$(tr -d '[:space:]' <"$(nx_data 1)/admin.key")" >"$tmp/auth-header"
chmod 600 "$tmp/auth-header"
wait_for 60 "nexus node 1 answering GET /v1/cluster/status with itself as the voter" nx_has_voters 1 1
for i in 2 3; do
  log "nexus: node $i joins through 127.0.0.1:$(nx_raft 1) (nexus join)"
  nx_start "$i" join --token-file "$(nx_data 1)/tls/join-token" --peer "127.0.0.1:$(nx_raft 1)"
  wait_for 90 "nexus node $i joining as the cluster's voter number $i" nx_has_voters "$i" "$i"
done
wait_for 60 "the nexus cluster: three voters up, one leader" nx_leader
log "nexus: 3 voters, leader node $(cat "$tmp/leader")"

# ================================ etcd =========================================================
# With --etcd-tls, one certificate for 127.0.0.1 (server and client use) serves every member's
# client and peer ports; peers must present it (mutual TLS, as Nexus nodes do); clients need
# only trust the CA (Nexus's clients send an API key, not a certificate).
et_tls=()
et_ca=() # how etcdctl, curl and the failover client trust etcd's certificate
et_scheme=http
et_mode="clients over HTTP, peers in plaintext"
if [ -n "$etcd_tls" ]; then
  pki=$tmp/etcd-pki
  mkdir -p "$pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=vs-etcd-ca \
    -keyout "$pki/ca.key" -out "$pki/ca.pem" 2>/dev/null || die "openssl: making the etcd CA"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=vs-etcd \
    -keyout "$pki/node.key" -out "$pki/node.csr" 2>/dev/null || die "openssl: the etcd key"
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$pki/ext"
  openssl x509 -req -in "$pki/node.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -extfile "$pki/ext" -out "$pki/node.pem" 2>/dev/null || die "openssl: the etcd certificate"
  et_tls=(--cert-file "$pki/node.pem" --key-file "$pki/node.key"
    --peer-cert-file "$pki/node.pem" --peer-key-file "$pki/node.key"
    --peer-trusted-ca-file "$pki/ca.pem" --peer-client-cert-auth)
  et_ca=(--cacert "$pki/ca.pem")
  et_scheme=https
  et_mode="clients over HTTPS, peers over mutual TLS"
fi
et_url() { echo "$et_scheme://127.0.0.1:$(et_client "$1")"; }
et_all="$(et_url 1),$(et_url 2),$(et_url 3)"
et_cluster="e1=$et_scheme://127.0.0.1:$(et_peer 1),e2=$et_scheme://127.0.0.1:$(et_peer 2),e3=$et_scheme://127.0.0.1:$(et_peer 3)"
et_body='{"key":"dnMtZXRjZC1rZXk=","value":"dnMtZXRjZC12YWx1ZQ=="}' # "vs-etcd-key" = "vs-etcd-value"
et_start() { # NODE: the same command line for the first start and every restart
  local i=$1
  mkdir -p "$tmp/e$i"
  etcd --name "e$i" --data-dir "$tmp/e$i/data" \
    --listen-client-urls "$(et_url "$i")" --advertise-client-urls "$(et_url "$i")" \
    --listen-peer-urls "$et_scheme://127.0.0.1:$(et_peer "$i")" \
    --initial-advertise-peer-urls "$et_scheme://127.0.0.1:$(et_peer "$i")" "${et_tls[@]}" \
    --initial-cluster "$et_cluster" --initial-cluster-token vs-etcd --initial-cluster-state new \
    --logger zap --log-outputs stderr >>"$tmp/logs/etcd$i.log" 2>&1 &
  pids[etcd$i]=$!
}
etcdctl_() { etcdctl --endpoints "$et_all" "${et_ca[@]}" --dial-timeout 1s --command-timeout 2s "$@"; }
# et_ready: every member healthy (a quorum read) and all naming the same leader, one of them.
# Prints the leader's node number (1-3).
et_ready() {
  local i
  for i in 1 2 3; do kill -0 "${pids[etcd$i]}" 2>/dev/null || die "etcd node $i exited; see $tmp/logs/etcd$i.log"; done
  etcdctl_ endpoint health >/dev/null 2>&1 || return 1
  etcdctl_ endpoint status -w json 2>/dev/null | python3 -c '
import json, sys
st = json.load(sys.stdin)
if len(st) != 3: sys.exit(1)
leaders = {s["Status"]["leader"] for s in st}
if len(leaders) != 1 or 0 in leaders: sys.exit(1)
me = [s for s in st if s["Status"]["header"]["member_id"] == s["Status"]["leader"]]
if len(me) != 1: sys.exit(1)
print((int(me[0]["Endpoint"].rsplit(":", 1)[1]) - int(sys.argv[1]) - 100) // 10)' "$base"
}
et_leader() { et_ready >"$tmp/leader"; }
et_term() { etcdctl_ endpoint status -w json | json 'max(s["Status"]["raftTerm"] for s in d)'; }

log "etcd: $(etcd --version | head -n 1), 3 members on 127.0.0.1:$(et_client 1)-$(et_client 3), $et_mode"
for i in 1 2 3; do et_start "$i"; done
wait_for 60 "the etcd cluster: three members healthy, one leader" et_leader
log "etcd: 3 members, leader node $(cat "$tmp/leader")"

# ================================ Load =========================================================
# One write per request, the same body every time; done() prints wrk's own figures as JSON (the
# numbers behind its --latency text, which goes to logs/wrk-*.txt).
write_lua() { # FILE BODY [HEADER-LINE]
  {
    echo '-- written by scripts/vs-etcd.sh: one Raft write per request'
    echo 'wrk.method = "POST"'
    echo 'wrk.headers["Content-Type"] = "application/json"'
    [ -z "${3:-}" ] || printf 'wrk.headers["Authorization"] = "%s"\n' "${3#Authorization: }"
    printf "wrk.body = '%s'\n" "$2"
    cat <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'VSJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"timeout":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
LUA
  } >"$1"
}
write_lua "$tmp/nexus.lua" "$nx_body" "$(cat "$tmp/auth-header")"
write_lua "$tmp/etcd.lua" "$et_body"

results=$tmp/results.jsonl # one JSON object a line: every load run and failover round
: >"$results"

# leader_of SYSTEM: waits (bounded) for a healthy cluster; its leader's node number goes to
# $tmp/leader.
leader_of() { # SYSTEM WHAT
  case $1 in
    nexus) wait_for 90 "nexus: a healthy cluster with a leader $2" nx_leader ;;
    etcd) wait_for 90 "etcd: a healthy cluster with a leader $2" et_leader ;;
  esac
}
term_of() { # SYSTEM: the highest Raft term any member reports
  case $1 in nexus) nx_term ;; etcd) et_term ;; esac
}

# load SYSTEM CLIENTS SECONDS [LABEL]: wrk against SYSTEM's current leader; records wrk's
# figures with the Raft term before and after.
load() {
  local sys=$1 n=$2 secs=$3 label=${4:-load} leader url threads term0 term1 file figures
  leader_of "$sys" "before the $n-client run"
  leader=$(cat "$tmp/leader")
  if [ "$sys" = nexus ]; then
    url="https://127.0.0.1:$(nx_api "$leader")/v1/cluster/tokens"
  else
    url="$(et_url "$leader")/v3/kv/put"
  fi
  term0=$(term_of "$sys") || die "$sys: reading the Raft term before the $n-client run"
  threads=$((n < 2 ? n : 2))
  file=$tmp/logs/wrk-$sys-$label-$n.txt
  log "$sys: $n client(s), $secs s, to the leader (node $leader): $url"
  timeout -k 5 $((secs + 60)) wrk -t "$threads" -c "$n" -d "${secs}s" --timeout 5s --latency \
    -s "$tmp/$sys.lua" "$url" >"$file" 2>&1 || die "wrk against $sys failed; see $file"
  term1=$(term_of "$sys") || die "$sys: reading the Raft term after the $n-client run"
  figures=$(sed -n 's/^VSJSON //p' "$file")
  [ -n "$figures" ] || die "no figures from wrk against $sys; see $file"
  # Recorded, and shown at once with any errors: non-2xx answers are not writes.
  python3 - "$figures" "$sys" "$label" "$n" "$leader" "$term0" "$term1" >>"$results" <<'EOF'
import json, sys
d = json.loads(sys.argv[1])
d.update(system=sys.argv[2], kind=sys.argv[3], clients=int(sys.argv[4]),
         leader=int(sys.argv[5]), term_before=int(sys.argv[6]), term_after=int(sys.argv[7]))
print(json.dumps(d))
secs = d["duration_us"] / 1e6
line = (f"  {(d['requests'] - d['non2xx']) / secs:,.0f} writes/s (2xx), "
        f"p50 {d['p50_us'] / 1000:.2f} ms, p99 {d['p99_us'] / 1000:.2f} ms, "
        f"terms {d['term_before']} -> {d['term_after']}")
sock = d["connect"] + d["read"] + d["write"] + d["timeout"]
if d["non2xx"] or sock:
    line += f"  !! {d['non2xx']} non-2xx answers, {sock} socket errors"
print(line, file=sys.stderr)
EOF
}

# Nexus answers a mint with 201 before we measure it.
code=$(curl -sS -o "$tmp/mint.json" -D "$tmp/mint.head" -w '%{http_code}' --max-time 5 --cacert "$nx_ca" \
  -H "@$tmp/auth-header" -H 'Content-Type: application/json' -d "$nx_body" \
  "https://127.0.0.1:$(nx_api 1)/v1/cluster/tokens") || true
[[ $code = 2?? ]] || die "POST /v1/cluster/tokens answered $code: $(cat "$tmp/mint.json" 2>/dev/null)"
code=$(curl -sS -o "$tmp/put.json" -D "$tmp/put.head" -w '%{http_code}' --max-time 5 "${et_ca[@]}" -d "$et_body" \
  "$(et_url 1)/v3/kv/put") || true
[[ $code = 2?? ]] || die "etcd POST /v3/kv/put answered $code: $(cat "$tmp/put.json" 2>/dev/null)"
# Whether each keeps connections open: wrk opens a new one (a TLS handshake, for Nexus) whenever
# the answer says `connection: close`. The report says so under the table.
closes=""
grep -qi '^connection: *close' "$tmp/mint.head" && closes="$closes nexus"
grep -qi '^connection: *close' "$tmp/put.head" && closes="$closes etcd"

for n in "${clients[@]}"; do
  load nexus "$n" "$duration"
  load etcd "$n" "$duration"
done
# footprint: each Nexus node's resident memory and the size of its registry and Raft log
# (SQLite files with their WAL), after every write so far.
footprint() {
  local i rss registry log
  for i in 1 2 3; do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/${pids[nexus$i]}/status" 2>/dev/null || echo 0)
    registry=$(cat "$(nx_data "$i")"/registry.db* 2>/dev/null | wc -c)
    log=$(cat "$(nx_data "$i")"/raft/log.db* 2>/dev/null | wc -c)
    echo "  nexus node $i: RSS $((rss / 1024)) MiB, registry.db $((registry / 1048576)) MiB, raft/log.db $((log / 1048576)) MiB"
  done
}
if [ "$soak" -gt 0 ]; then
  log "nexus: footprint before the soak"
  footprint
  log "nexus: soak, 64 clients for $soak s"
  load nexus 64 "$soak" soak
  log "nexus: footprint after the soak"
  footprint
fi

# ================================ Failover =====================================================
# failover SYSTEM ROUND: SIGKILL the leader while one client writes to a survivor; restart it.
failover() {
  local sys=$1 round=$2 leader survivor pid result
  leader_of "$sys" "before failover round $round"
  leader=$(cat "$tmp/leader")
  survivor=$((leader % 3 + 1))
  pid=${pids[$sys$leader]}
  log "$sys: failover $round/$rounds: SIGKILL leader node $leader (pid $pid), writing to node $survivor"
  if [ "$sys" = nexus ]; then
    result=$(python3 "$failover_py" --url "https://127.0.0.1:$(nx_api "$survivor")/v1/cluster/tokens" \
      --cacert "$nx_ca" --header-file "$tmp/auth-header" --body "$nx_body" --kill-pid "$pid" --timeout "$write_timeout") \
      || die "$sys failover round $round"
  else
    result=$(python3 "$failover_py" --url "$(et_url "$survivor")/v3/kv/put" --body "$et_body" "${et_ca[@]}" \
      --kill-pid "$pid" --timeout "$write_timeout") || die "$sys failover round $round"
  fi
  wait "$pid" 2>/dev/null || true
  unset "pids[$sys$leader]"
  python3 -c '
import json, sys
d = json.loads(sys.argv[1])
d.update(system=sys.argv[2], kind="failover", round=int(sys.argv[3]), killed=int(sys.argv[4]))
print(json.dumps(d))' "$result" "$sys" "$round" "$leader" >>"$results"
  echo "  $(json '"%.0f ms to the next committed write, %d attempt(s), failures %s" % (d["ms"], d["attempts"], d["failures"] or "none")' <<<"$result")"
  if [ "$sys" = nexus ]; then
    echo "--- restart $(date +%T) (nexus serve)" >>"$tmp/logs/nexus$leader.log"
    nx_start "$leader" serve
  else
    echo "--- restart $(date +%T)" >>"$tmp/logs/etcd$leader.log"
    et_start "$leader"
  fi
}
for sys in nexus etcd; do
  for round in $(seq "$rounds"); do failover "$sys" "$round"; done
  leader_of "$sys" "after the last failover round"
done

# ================================ Report =======================================================
mkdir -p "$(dirname "$out")"
python3 - "$results" "$out" "$nexus" "$(etcd --version | head -n 1)" "$duration" "$rounds" "${clients[*]}" "$soak" \
  "$closes" "$write_timeout" "$et_mode" <<'EOF'
import json, statistics, sys
results_file, out, nexus_bin, etcd_version, duration, rounds, clients, soak, closes, write_timeout, etcd_mode = sys.argv[1:]
rows = [json.loads(line) for line in open(results_file)]
clients = [int(c) for c in clients.split()]

def load(system, n, kind="load"):
    return next((r for r in rows if r["system"] == system and r["kind"] == kind and r["clients"] == n), None)

def rate(r):
    return (r["requests"] - r["non2xx"]) / (r["duration_us"] / 1e6)

def socket_errors(r):
    return r["connect"] + r["read"] + r["write"] + r["timeout"]

def ms(us):
    v = us / 1000
    return f"{v:.2f} ms" if v < 10 else f"{v:.1f} ms"

def errors(r):
    bad = []
    if r["non2xx"]:
        bad.append(f"{r['non2xx']} non-2xx")
    if socket_errors(r):
        bad.append(f"{socket_errors(r)} socket errors")
    return f" **⚠ {', '.join(bad)}**" if bad else ""

def compare(nexus, etcd, lower_is_better):
    if not nexus or not etcd:
        return "–"
    r = nexus / etcd if lower_is_better else etcd / nexus  # > 1: Nexus is slower
    if 0.95 <= r <= 1.05:
        return "about the same"
    return f"{r:.1f}× slower" if r > 1 else f"{1 / r:.1f}× faster"

table = ["| | Nexus | etcd | Nexus vs etcd |", "|---|---|---|---|"]
n1, e1 = load("nexus", 1), load("etcd", 1)
if n1 or e1:
    p50 = lambda r: ms(r["p50_us"]) if r else "–"
    table.append(f"| 1 client p50 | {p50(n1)} | {p50(e1)} | "
                 f"{compare(n1 and n1['p50_us'], e1 and e1['p50_us'], True)} |")
def cell(r):
    return f"{rate(r):,.0f}/s ({ms(r['p50_us'])}, {ms(r['p99_us'])}){errors(r)}" if r else "–"

for n in clients:
    nx, et = load("nexus", n), load("etcd", n)
    table.append(f"| {n} client{'s' if n > 1 else ''} writes/s (p50, p99) | {cell(nx)} | {cell(et)} | "
                 f"{compare(nx and rate(nx), et and rate(et), False)} |")
failover = {}
for system in ("nexus", "etcd"):
    times = [r["ms"] for r in rows if r["system"] == system and r["kind"] == "failover"]
    if times:
        failover[system] = {"median_ms": statistics.median(times), "max_ms": max(times), "runs_ms": times}

def fcell(f):
    return f"{f['median_ms']:.0f} ms (max {f['max_ms']:.0f} ms)" if f else "–"

fn, fe = failover.get("nexus"), failover.get("etcd")
table.append(f"| leader SIGKILL → next committed write (median of {rounds}, max) | "
             f"{fcell(fn)} | {fcell(fe)} | "
             f"{compare(fn and fn['median_ms'], fe and fe['median_ms'], True)} |")

print()
print(f"Nexus: {nexus_bin}; {etcd_version} ({etcd_mode}); {duration} s per load run, writes to the leader, "
      f"wrk -c N -t min(N,2); failover: one client writing to a survivor, {write_timeout} s per write.")
print()
print("\n".join(table))
print()
for system, name, how in (("nexus", "Nexus", "TCP connect and TLS 1.3 handshake"),
                          ("etcd", "etcd", "TCP connect")):
    if system in closes.split():
        print(f"note: {name} answers every request with `connection: close`, so each of its writes "
              f"above includes a new {how}.")
elections = {}
for system in ("nexus", "etcd"):
    r = load(system, 64)
    if r:
        elections[system] = r["term_after"] - r["term_before"]
if "nexus" in elections:
    print(f"elections during the 64-client run: {elections['nexus']} "
          f"(etcd: {elections.get('etcd', '-')})")
soak_row = load("nexus", 64, "soak")
if soak_row:
    print(f"soak, 64 clients on Nexus for {soak} s: {rate(soak_row):,.0f} writes/s, "
          f"p50 {ms(soak_row['p50_us'])}, p99 {ms(soak_row['p99_us'])}{errors(soak_row)}; "
          f"elections during the soak: {soak_row['term_after'] - soak_row['term_before']}")
dirty = [r for r in rows if r["kind"] != "failover" and (r["non2xx"] or socket_errors(r))]
for r in dirty:
    print(f"WARNING: {r['system']} {r['clients']}-client {r['kind']} run had {r['non2xx']} non-2xx "
          f"answers and {socket_errors(r)} socket errors (not counted as writes)")

json.dump({
    "nexus_bin": nexus_bin, "etcd": etcd_version, "etcd_mode": etcd_mode, "duration_s": int(duration), "rounds": int(rounds),
    "connection_close": closes.split(), "failover_write_timeout_s": float(write_timeout),
    "load": [r for r in rows if r["kind"] != "failover"],
    "writes_per_s": {s: {str(n): round(rate(load(s, n)), 1) for n in clients if load(s, n)}
                     for s in ("nexus", "etcd")},
    "failover": failover,
    "failover_rounds": [r for r in rows if r["kind"] == "failover"],
    "elections_64_clients": elections,
    "soak": soak_row and {"seconds": int(soak), "elections": soak_row["term_after"] - soak_row["term_before"],
                          "writes_per_s": round(rate(soak_row), 1)},
}, open(out, "w"), indent=2)
print(f"raw numbers: {out}")
EOF
ok=1
