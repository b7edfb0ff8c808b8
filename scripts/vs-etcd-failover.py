#!/usr/bin/env python3
"""One failover round for scripts/vs-etcd.sh: leader SIGKILL -> next committed write.

A single client writes in a loop to a survivor node (any node that is not the
leader; it forwards the write to the leader), each write bounded by --timeout
(default 0.5 s). Once --warmup writes have succeeded it SIGKILLs --kill-pid
(the leader's process) and keeps writing; the figure is the time from the kill
to the end of the first write that answers 2xx, which was sent after the kill.
Prints one JSON line:

  {"ms": 812.4, "attempts": 3, "failures": {"timeout": 2}, "warmup_ms": 41.0}

and exits 0; exits 1 (with a message on stderr) when the warm-up writes fail or
no write succeeds within --deadline seconds of the kill.

  vs-etcd-failover.py --url https://127.0.0.1:24120/v1/cluster/tokens --cacert ca.pem \
      --header-file auth-header --body '{"ttl_secs":60}' --kill-pid 1234

Standard library only.
"""

import argparse
import http.client
import json
import os
import signal
import ssl
import sys
import time
import urllib.parse


class Writer:
    """One keep-alive connection to the survivor; reopened after any failure."""

    def __init__(self, url, cacert, headers, body, timeout):
        parts = urllib.parse.urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.path = parts.path or "/"
        self.headers = dict(headers)
        self.headers.setdefault("Content-Type", "application/json")
        self.body = body.encode()
        self.timeout = timeout
        self.context = None
        if self.https:
            self.context = ssl.create_default_context(cafile=cacert)
        self.conn = None

    def _connect(self):
        if self.https:
            conn = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=self.context
            )
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        conn.connect()
        return conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def write(self):
        """One write: its HTTP status, or the name of the failure ("timeout", ...)."""
        start = time.monotonic()
        try:
            if self.conn is None:
                self.conn = self._connect()
            # The whole write, connecting included, gets at most `timeout`.
            left = self.timeout - (time.monotonic() - start)
            if left <= 0:
                raise TimeoutError
            self.conn.sock.settimeout(left)
            self.conn.request("POST", self.path, body=self.body, headers=self.headers)
            response = self.conn.getresponse()
            response.read()
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            return response.status
        except TimeoutError:  # socket.timeout, on connect or read, TLS included
            self.close()
            return "timeout"
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return type(e).__name__


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="a survivor's write URL")
    parser.add_argument("--cacert", help="CA certificate for an https URL")
    parser.add_argument("--header", action="append", default=[], help="'Name: value'")
    parser.add_argument(
        "--header-file", help="more headers, one 'Name: value' a line (keeps keys out of ps)"
    )
    parser.add_argument("--body", required=True, help="the request body (JSON)")
    parser.add_argument("--kill-pid", type=int, required=True, help="the leader's process")
    parser.add_argument("--timeout", type=float, default=0.5, help="seconds per write")
    parser.add_argument("--warmup", type=int, default=5, help="writes that must succeed first")
    parser.add_argument("--deadline", type=float, default=30.0, help="seconds after the kill")
    args = parser.parse_args()

    lines = list(args.header)
    if args.header_file:
        with open(args.header_file, encoding="utf-8") as f:
            lines += [line for line in f.read().splitlines() if line.strip()]
    headers = {}
    for header in lines:
        name, _, value = header.partition(":")
        headers[name.strip()] = value.strip()
    writer = Writer(args.url, args.cacert, headers, args.body, args.timeout)

    # Warm-up: the survivor must take writes before the kill, or the figure means nothing.
    start = time.monotonic()
    ok = 0
    last = None
    while ok < args.warmup:
        if time.monotonic() - start > 10:
            sys.exit(f"vs-etcd-failover: warm-up writes to {args.url} fail (last: {last})")
        last = writer.write()
        if isinstance(last, int) and 200 <= last < 300:
            ok += 1
        else:
            time.sleep(0.05)
    warmup_ms = (time.monotonic() - start) * 1000

    killed = time.monotonic()
    os.kill(args.kill_pid, signal.SIGKILL)
    attempts = 0
    failures = {}
    while True:
        if time.monotonic() - killed > args.deadline:
            sys.exit(
                f"vs-etcd-failover: no write succeeded within {args.deadline:.0f} s of the kill "
                f"({attempts} attempts: {failures})"
            )
        attempts += 1
        result = writer.write()
        if isinstance(result, int) and 200 <= result < 300:
            break
        key = str(result)
        failures[key] = failures.get(key, 0) + 1
        if result != "timeout":
            # An answer or a refusal, not a hang (e.g. 503 no leader): do not spin on it.
            time.sleep(0.005)
    ms = (time.monotonic() - killed) * 1000
    writer.close()
    print(
        json.dumps(
            {
                "ms": round(ms, 1),
                "attempts": attempts,
                "failures": failures,
                "warmup_ms": round(warmup_ms, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
