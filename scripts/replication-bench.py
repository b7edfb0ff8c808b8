#!/usr/bin/env python3
"""Sandbox replication on a 3-node Nexus cluster on 127.0.0.1 (one process per node).

Measures, with the binary at NEXUS_BIN (default target/release/nexus):
  - call latency of a small kv write (cluster-tests/guests/mark: one 8-byte counter) with factor 1 (no
    replica) against factor 2 in sync mode (the answer waits for the replica): p50, p99, ratio;
  - a call that writes 1 MiB (cluster-tests/guests/mib: one kv value): p50 with factor 1 and factor 2, and what shipping
    the change adds, as MiB/s;
  - the same 1 MiB calls on a workbook that also carries BALLAST_MIB (default 64) MiB of files,
    factor 2 sync: p50, p99 and the slowest call (a whole copy of the workbook on the call's path
    would show there);
  - failover: the home of a factor-2 sandbox (not the Raft leader) is SIGKILLed while a client
    calls it through another node; the time from the kill to the first acknowledged call, with
    the default timings and with `[replication] home_timeout_ms = 300`; the node is restarted
    and the sandbox has its replica again before the next round.
Prints a Markdown table and writes the raw numbers to OUT (default target/replication-bench.json).

  scripts/replication-bench.py [--calls N] [--rounds N] [--no-failover]

Environment: NEXUS_BIN, OUT, BALLAST_MIB, REPL_BENCH_PORT_BASE (default 24300), REPL_BENCH_KEEP=1
keeps the temp dir. Standard library only.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

class Node:
    def __init__(self, tmp, i, base, nexus, extra):
        self.i, self.nexus = i, nexus
        self.api, self.raft = base + 10 * i, base + 10 * i + 1
        self.dir = os.path.join(tmp, f"n{i}")
        self.data = os.path.join(self.dir, "data")
        self.config = os.path.join(self.dir, "nexus.toml")
        self.log = os.path.join(tmp, f"nexus{i}.log")
        self.proc = None
        os.makedirs(self.dir, exist_ok=True)
        with open(self.config, "w") as f:
            f.write(
                f'listen = "127.0.0.1:{self.api}"\ndata_dir = "{self.data}"\n\n'
                f'[cluster]\nraft_listen = "127.0.0.1:{self.raft}"\n\n{extra}'
            )

    def start(self, *args):
        env = dict(os.environ, NEXUS_LOG=os.environ.get("NEXUS_LOG", "info,openraft=warn,rustls=error"))
        for k in list(env):
            if k.startswith("NEXUS_") and k not in ("NEXUS_LOG",):
                del env[k]
        out = open(self.log, "ab")
        self.proc = subprocess.Popen([self.nexus, *args, "--config", self.config], stdout=out, stderr=out, env=env)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Client:
    """One keep-alive HTTPS connection to a node, reopened after any failure."""

    def __init__(self, port, ctx, key, timeout=5.0):
        self.port, self.ctx, self.key, self.timeout = port, ctx, key, timeout
        self.conn = None

    def request(self, method, path, body=None, raw=None):
        if self.conn is None:
            self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=self.timeout)
        headers = {"Authorization": f"Bearer {self.key}"}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            text = response.read()
            return response.status, json.loads(text) if text else None
        except (OSError, http.client.HTTPException, ValueError) as e:
            self.conn.close()
            self.conn = None
            return 0, {"transport_error": str(e)}

    def call(self, sandbox, stdin):
        status, body = self.request("POST", f"/v1/sandboxes/{sandbox}/call", {"stdin": stdin})
        return status == 200 and body and body.get("exit_code") == 0, body


def wait_for(seconds, what, check):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            value = check()
            if value:
                return value
        except (OSError, KeyError, ValueError, TypeError):
            pass
        time.sleep(0.2)
    sys.exit(f"replication-bench: FAILED: {what} (not within {seconds} s)")


def pack(nexus, tmp, name):
    """Packs cluster-tests/guests/NAME (a WAT guest) and returns the workbook's bytes."""
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cluster-tests", "guests", name)
    out = os.path.join(tmp, f"{name}.workbook")
    subprocess.run([nexus, "workbook", "pack", d, "-o", out], check=True, capture_output=True)
    with open(out, "rb") as f:
        return f.read()


def pack_with_ballast(nexus, tmp, name, mib):
    """Packs cluster-tests/guests/NAME with MIB MiB of pseudo-random files in its workspace."""
    d = os.path.join(tmp, f"{name}-ballast")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cluster-tests", "guests", name)
    shutil.copytree(src, d)
    os.makedirs(os.path.join(d, "ballast"))
    for i in range(mib):
        with open(os.path.join(d, "ballast", f"{i}.bin"), "wb") as f:
            f.write(os.urandom(1 << 20))
    with open(os.path.join(d, "workbook.toml"), "a") as f:
        f.write('\n[[files]]\nsrc = "ballast"\n')
    out = os.path.join(tmp, f"{name}-ballast.workbook")
    subprocess.run([nexus, "workbook", "pack", d, "-o", out], check=True, capture_output=True)
    with open(out, "rb") as f:
        return f.read()


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class Bench:
    def __init__(self, args, nexus, tmp, extra):
        self.args, self.nexus, self.tmp = args, nexus, tmp
        base = int(os.environ.get("REPL_BENCH_PORT_BASE", "24300"))
        self.nodes = {i: Node(tmp, i, base, nexus, extra) for i in (1, 2, 3)}
        n1 = self.nodes[1]
        n1.start("init", "--serve", "--token-uses", "2")
        ca = os.path.join(n1.data, "tls", "ca.pem")
        token = os.path.join(n1.data, "tls", "join-token")
        wait_for(60, "node 1 founding the cluster", lambda: all(os.path.exists(p) for p in (ca, token)) and os.path.getsize(os.path.join(n1.data, "admin.key")) > 0)
        with open(os.path.join(n1.data, "admin.key")) as f:
            self.key = f.read().strip()
        self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx.check_hostname = False
        for i in (2, 3):
            wait_for(60, f"node {i - 1} ready", lambda: self.client(i - 1).request("GET", "/v1/cluster/status")[0] == 200)
            self.nodes[i].start("join", "--token-file", token, "--peer", f"127.0.0.1:{n1.raft}")
            wait_for(90, f"node {i} joining", lambda: self.voters() == i)

    def client(self, i, timeout=5.0):
        return Client(self.nodes[i].api, self.ctx, self.key, timeout)

    def voters(self, via=1):
        _, status = self.client(via).request("GET", "/v1/cluster/status")
        return sum(m["kind"] == "voter" for m in status["members"])

    def serving(self, i):
        status, body = self.client(i).request("GET", "/v1/cluster/status")
        return status == 200 and body["leader"] is not None

    def leader(self, via):
        _, status = self.client(via).request("GET", "/v1/cluster/status")
        return status["leader"]

    def dock(self, via, name, workbook, home, factor, durability="sync"):
        client = self.client(via, timeout=60)
        q = f"/v1/sandboxes?name={name}&node={home}&factor={factor}&durability={durability}"
        status, body = client.request("POST", q, raw=workbook)
        if status != 201:
            sys.exit(f"replication-bench: FAILED: dock {name}: {status} {body}")
        return body["id"]

    def replicas(self, via, sandbox):
        status, body = self.client(via).request("GET", f"/v1/sandboxes/{sandbox}")
        return [r["node_id"] for r in body["replicas"]] if status == 200 else None

    def latency(self, via, sandbox, stdin_of, calls):
        client, samples = self.client(via, timeout=30), []
        for i in range(calls):
            started = time.perf_counter()
            ok, body = client.call(sandbox, stdin_of(i))
            if not ok:
                sys.exit(f"replication-bench: FAILED: call {i} of {sandbox}: {body}")
            samples.append((time.perf_counter() - started) * 1000)
        return samples

    def failover(self, sandbox, home, via):
        client = self.client(via, timeout=1.0)
        for i in range(20):
            client.call(sandbox, f"warm/{i}")
        self.nodes[home].kill()
        killed = time.perf_counter()
        attempts = 0
        while time.perf_counter() - killed < 30:
            attempts += 1
            ok, _ = client.call(sandbox, "after")
            if ok:
                return (time.perf_counter() - killed) * 1000, attempts
            time.sleep(0.02)
        sys.exit("replication-bench: FAILED: no call acknowledged within 30 s of the kill")

    def stop(self):
        for node in self.nodes.values():
            node.stop()


def failover_rounds(args, nexus, extra, label, mark):
    tmp = tempfile.mkdtemp(prefix="replication-bench.")
    bench = Bench(args, nexus, tmp, extra)
    figures = []
    try:
        leader = wait_for(30, "a leader", lambda: bench.leader(1))
        home = next(i for i in (1, 2, 3) if i != leader)
        via = next(i for i in (1, 2, 3) if i not in (leader, home))
        sandbox = bench.dock(via, "failover", mark, home, 2)
        for round_ in range(args.rounds):
            wait_for(60, "the sandbox's replica", lambda: bench.replicas(via, sandbox))
            _, info = bench.client(via).request("GET", f"/v1/sandboxes/{sandbox}")
            home = info["home_node"]
            via = next(i for i in (1, 2, 3) if i != home)
            ms, attempts = bench.failover(sandbox, home, via)
            figures.append(ms)
            print(f"replication-bench: {label} round {round_ + 1}: home {home} SIGKILLed -> first call {ms:.0f} ms ({attempts} attempts)")
            bench.nodes[home].start("serve")
            wait_for(60, f"node {home} back", lambda: bench.serving(home))
    finally:
        bench.stop()
        if not os.environ.get("REPL_BENCH_KEEP"):
            subprocess.run(["rm", "-rf", tmp])
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-failover", action="store_true", help="skip the failover rounds")
    args = parser.parse_args()
    ballast_mib = int(os.environ.get("BALLAST_MIB", "64"))
    nexus = os.path.abspath(os.environ.get("NEXUS_BIN", "target/release/nexus"))
    if not os.access(nexus, os.X_OK):
        sys.exit(f"replication-bench: no nexus binary at {nexus}; cargo build --release --bin nexus")
    out = os.environ.get("OUT", "target/replication-bench.json")
    tmp = tempfile.mkdtemp(prefix="replication-bench.")
    mark = pack(nexus, tmp, "mark")
    mib = pack(nexus, tmp, "mib")
    heavy = pack_with_ballast(nexus, tmp, "mib", ballast_mib)
    heavy_name = f"1 MiB factor 2 sync, {ballast_mib} MiB workbook"
    results = {}
    bench = Bench(args, nexus, tmp, "")
    try:
        leader = wait_for(30, "a leader", lambda: bench.leader(1))
        home = next(i for i in (1, 2, 3) if i != leader)
        one = bench.dock(home, "one", mark, home, 1)
        two = bench.dock(home, "two", mark, home, 2)
        big_one = bench.dock(home, "big-one", mib, home, 1)
        big_two = bench.dock(home, "big-two", mib, home, 2)
        heavy_two = bench.dock(home, "heavy-two", heavy, home, 2)
        for sandbox in (two, big_two, heavy_two):
            wait_for(60, "the replica of a factor-2 sandbox", lambda: bench.replicas(home, sandbox))
        calls = args.calls
        lat = {
            "factor 1": bench.latency(home, one, lambda i: f"k/{i}", calls),
            "factor 2 sync": bench.latency(home, two, lambda i: f"k/{i}", calls),
            "1 MiB factor 1": bench.latency(home, big_one, lambda i: chr(65 + i % 26), max(calls // 10, 20)),
            "1 MiB factor 2 sync": bench.latency(home, big_two, lambda i: chr(65 + i % 26), max(calls // 10, 20)),
            heavy_name: bench.latency(home, heavy_two, lambda i: chr(65 + i % 26), max(calls // 10, 20)),
        }
        for name, samples in lat.items():
            results[name] = {"p50_ms": statistics.median(samples), "p99_ms": percentile(samples, 99),
                             "max_ms": max(samples), "calls": len(samples)}
    finally:
        bench.stop()
        if not os.environ.get("REPL_BENCH_KEEP"):
            subprocess.run(["rm", "-rf", tmp])
    failovers = () if args.no_failover else ("failover default", "failover fast")
    if failovers:
        results["failover default"] = failover_rounds(args, nexus, "", "default timings", mark)
        results["failover fast"] = failover_rounds(args, nexus, "[replication]\nhome_timeout_ms = 300\n", "home_timeout_ms 300", mark)
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
    small1, small2 = results["factor 1"], results["factor 2 sync"]
    big1, big2 = results["1 MiB factor 1"], results["1 MiB factor 2 sync"]
    added = big2["p50_ms"] - big1["p50_ms"]
    print("\n| | p50 | p99 | slowest |\n|---|---|---|---|")
    for name in ("factor 1", "factor 2 sync", "1 MiB factor 1", "1 MiB factor 2 sync", heavy_name):
        r = results[name]
        print(f"| call, {name} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | {r['max_ms']:.2f} ms |")
    print(f"| sync / factor 1 (small call) | {small2['p50_ms'] / small1['p50_ms']:.2f}x | {small2['p99_ms'] / small1['p99_ms']:.2f}x |")
    if added > 0:
        print(f"| shipping 1 MiB (p50 added) | {added:.1f} ms = {1000 / added:.0f} MiB/s | |")
    for name in failovers:
        rounds = results[name]
        print(f"| {name}: kill -> first call | median {statistics.median(rounds):.0f} ms | rounds {', '.join(f'{r:.0f}' for r in rounds)} ms |")
    print(f"\nreplication-bench: raw numbers in {out}")


if __name__ == "__main__":
    main()
