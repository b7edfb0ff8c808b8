#!/usr/bin/env python3
"""How fast `nexus up` is ready, and how much memory an idle node holds.

For each run, with the binary at NEXUS_BIN (default target/release/nexus), on a fresh data dir:
  - first start: from just before the exec of `nexus up` until `GET /ready` answers 200 (polled
    every 0.5 ms on a fresh connection);
  - restart: the same node stopped with SIGTERM and started again on its data dir;
  - first write after a restart: from just before that exec until a Raft write (POST
    /v1/cluster/tokens with the admin key, retried on a fresh connection every 0.5 ms while it
    answers anything but 201) commits: /ready does not wait for the node to lead again;
  - idle RSS: the restarted node's VmRSS (and its anonymous and file-backed parts) after it has
    been ready and idle for IDLE_S (default 3) seconds.
Prints each run, then the medians beside the targets (first start and restart <= 25 ms, idle RSS
<= 16 MiB; the first write has no target of its own).

  scripts/up-bench.py [--runs N] [--port P] [--config nexus.toml]

--config passes a nexus.toml to `nexus up` (its listen address and data dir are overridden).

Standard library only.
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

READY_TIMEOUT_S = 10.0
POLL_S = 0.0005


def answers(port, request, status, timeout):
    """Whether `request` sent on a fresh connection answers `status` now (False while nothing
    listens)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(request)
            return s.recv(64).startswith(b"HTTP/1.1 " + status)
    except OSError:
        return False


def ready(port):
    """Whether GET /ready answers 200 now."""
    request = b"GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    return answers(port, request, b"200", 1.0)


def start(nexus, data, port, log, config):
    """Starts `nexus up`; returns (process, milliseconds until ready, when it was started)."""
    extra = ["--config", config] if config else []
    began = time.perf_counter()
    proc = subprocess.Popen(
        [nexus, "up", "--listen", f"127.0.0.1:{port}", "--data-dir", data, *extra],
        stdout=log, stderr=log, env={k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")},
    )
    while not ready(port):
        if proc.poll() is not None:
            sys.exit(f"nexus up exited with {proc.returncode}; see its log")
        if time.perf_counter() - began > READY_TIMEOUT_S:
            proc.kill()
            sys.exit(f"nexus up not ready after {READY_TIMEOUT_S} s")
        time.sleep(POLL_S)
    return proc, (time.perf_counter() - began) * 1e3, began


def mint(port, key):
    """Whether POST /v1/cluster/tokens (one Raft write) answers 201 now."""
    body = b'{"ttl_secs":60,"uses":1}'
    head = (f"POST /v1/cluster/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return answers(port, head + body, b"201", 5.0)


def first_write(port, key, began):
    """Milliseconds from `began` until a mint commits."""
    while not mint(port, key):
        if time.perf_counter() - began > READY_TIMEOUT_S:
            sys.exit(f"no write committed {READY_TIMEOUT_S} s after the restart")
        time.sleep(POLL_S)
    return (time.perf_counter() - began) * 1e3


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss_mib(pid):
    """(VmRSS, RssAnon, RssFile) of `pid` in MiB."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "RssAnon", "RssFile"):
                fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["RssAnon"], fields["RssFile"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--port", type=int, default=24700)
    parser.add_argument("--config")
    args = parser.parse_args()
    nexus = os.environ.get("NEXUS_BIN", "target/release/nexus")
    idle_s = float(os.environ.get("IDLE_S", "3"))
    firsts, restarts, writes, rss = [], [], [], []
    for run in range(args.runs):
        tmp = tempfile.mkdtemp(prefix="nexus-up-bench-")
        try:
            data = os.path.join(tmp, "data")
            with open(os.path.join(tmp, "node.log"), "ab") as log:
                proc, first, _ = start(nexus, data, args.port, log, args.config)
                stop(proc)
                proc, again, began = start(nexus, data, args.port, log, args.config)
                with open(os.path.join(data, "admin.key")) as f:
                    write = first_write(args.port, f.read().strip(), began)
                time.sleep(idle_s)
                total, anon, file = rss_mib(proc.pid)
                stop(proc)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        firsts.append(first)
        restarts.append(again)
        writes.append(write)
        rss.append((total, anon, file))
        print(f"run {run + 1}: first start {first:.1f} ms, restart {again:.1f} ms "
              f"(first write {write:.1f} ms), "
              f"idle RSS {total:.1f} MiB ({anon:.1f} anon, {file:.1f} file)")
    med = statistics.median
    print()
    print("| figure | median (min–max) | target |")
    print("|---|---|---|")
    print(f"| first start → /ready | {med(firsts):.1f} ms ({min(firsts):.1f}–{max(firsts):.1f}) | ≤ 25 ms |")
    print(f"| restart → /ready | {med(restarts):.1f} ms ({min(restarts):.1f}–{max(restarts):.1f}) | ≤ 25 ms |")
    print(f"| restart → first write committed | {med(writes):.1f} ms ({min(writes):.1f}–{max(writes):.1f}) | |")
    totals = [r[0] for r in rss]
    print(f"| idle RSS after {idle_s:g} s | {med(totals):.1f} MiB ({min(totals):.1f}–{max(totals):.1f}; "
          f"anon {med([r[1] for r in rss]):.1f}) | ≤ 16 MiB |")


if __name__ == "__main__":
    main()
