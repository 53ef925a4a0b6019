#!/usr/bin/env python3
"""Measurement: `/api/info` latency, threads and memory of `zoomstack view` while clients hold
many connections open (idle, or with a request half sent).

Starts the release binary on a loopback port, then in phases (a baseline with nothing held,
IDLE idle connections, then HALF more with a half-sent request head) times PROBES sequential
`GET /api/info` requests (a new connection each, `Connection: close`; the time includes this
Python client's own cost) and reads the server's Threads and VmRSS from /proc.

    cargo build --release -p zoomstack-cli
    python3 view/bench/held_connections.py [--idle 1000] [--half 0] [--probes 1000]
    python3 view/bench/held_connections.py --idle 500 --half 500 --head-bytes 30000

The default binary accepts 1024 connections at once (`Limits::max_connections`): keep
IDLE + HALF + 1 within that, or the probes are refused.

Standard library only. Prints figures and never fails on a number.
"""

import argparse
import resource
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / "target" / "release" / "zoomstack"


def proc_status(pid):
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["Threads"]), int(fields["VmRSS"].split()[0]) / 1024


def info(host, port):
    start = time.perf_counter()
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    elapsed = time.perf_counter() - start
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    return elapsed


def probe(host, port, n):
    times = sorted(info(host, port) for _ in range(n))
    pick = lambda q: times[min(n - 1, int(q * n))] * 1e3
    return f"p50 {pick(0.5):.2f} ms, p99 {pick(0.99):.2f} ms, max {times[-1] * 1e3:.2f} ms"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--half", type=int, default=0)
    ap.add_argument("--probes", type=int, default=1000)
    ap.add_argument(
        "--head-bytes", type=int, default=0, help="padding in each half-sent head (at most 32 KiB fits)"
    )
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    server = subprocess.Popen(
        [str(BINARY), "view", "--port", "0", "--quiet"], stdout=subprocess.PIPE, text=True
    )
    held = []
    try:
        url = server.stdout.readline().strip()
        host, port = url.removeprefix("http://").rstrip("/").split(":")
        port = int(port)
        info(host, port)  # warm up
        threads, rss = proc_status(server.pid)
        print(f"nothing held: {probe(host, port, args.probes)}; threads {threads}, RSS {rss:.1f} MiB")

        for _ in range(args.idle):
            held.append(socket.create_connection((host, port)))
        time.sleep(0.5)
        threads, rss_idle = proc_status(server.pid)
        print(
            f"{args.idle} idle connections: {probe(host, port, args.probes)}; threads {threads}, "
            f"RSS {rss_idle:.1f} MiB ({(rss_idle - rss) * 1024 / args.idle:.1f} KiB each)"
        )

        if args.half == 0:
            return
        for i in range(args.half):
            s = socket.create_connection((host, port))
            pad = "a" * args.head_bytes
            s.sendall(f"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half-{i}: {pad}".encode())
            held.append(s)
        time.sleep(0.5)
        threads, rss_half = proc_status(server.pid)
        print(
            f"+ {args.half} half-sent requests ({args.head_bytes} bytes of padding): {probe(host, port, args.probes)}; threads "
            f"{threads}, RSS {rss_half:.1f} MiB "
            f"({(rss_half - rss_idle) * 1024 / max(args.half, 1):.1f} KiB each)"
        )
    finally:
        for s in held:
            s.close()
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
