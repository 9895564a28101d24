#!/usr/bin/env python3
"""Monitoring under load, Strom and nats-server side by side in one run.

Two phases per server, each server started alike (JetStream on, monitoring port on):

1. Busy: `strom-load conns` holds 1,000 connections that each publish 100 messages a second
   (100k msgs/s in all) while this script asks /varz, /connz, /connz?subs=1, /subsz?subs=1,
   /jsz?accounts=1 and /healthz in turn. Reported: p50, p99 and the slowest answer per endpoint.
2. Many: 10,000 idle connections; /connz answers with a page (nats-server's default limit of
   1,024), not one reply of 10,000. Reported: the page's size in bytes, its connection count,
   the total it reports, and the p50/p99 of the time to answer.

Usage: python3 bench/monitor_compare.py [--no-build] [--nats-bin PATH] [--rounds N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import servers  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BUSY_ENDPOINTS = ["/varz", "/connz", "/connz?subs=1", "/subsz?subs=1", "/jsz?accounts=1",
                  "/healthz"]


def get(port: int, path: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status != 200:
        raise RuntimeError(f"{path}: HTTP {r.status}: {body[:200]!r}")
    return time.perf_counter() - start, body


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def hold(load: Path, url: str, conns: int, rate: int) -> subprocess.Popen:
    cmd = [str(load), "conns", "--url", url, "--conns", str(conns), "--subs", "1",
           "--publish-rate", str(rate), "--timeout-secs", "120"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "ready":
            return proc
    proc.wait()
    raise RuntimeError(f"strom-load conns ended before ready: {proc.stderr.read()[-500:]}")


def release(proc: subprocess.Popen) -> None:
    if proc.stdin:
        proc.stdin.close()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure(name: str, binary: Path, load: Path, samples: int, log_dir: Path) -> dict:
    out: dict = {}
    with tempfile.TemporaryDirectory() as store:
        mport = servers.free_port()
        extra = ["-js", "-sd", store, "-m", str(mport)]
        with servers.Server(name, binary, log_dir, extra) as server:
            busy = hold(load, server.url, 1000, 100)
            time.sleep(1.0)  # let the publishing settle into its rate
            try:
                for ep in BUSY_ENDPOINTS:
                    times = [get(mport, ep)[0] for _ in range(samples)]
                    out[ep] = {"p50_ms": pct(times, 50) * 1e3, "p99_ms": pct(times, 99) * 1e3,
                               "max_ms": max(times) * 1e3}
            finally:
                release(busy)
        with servers.Server(name, binary, log_dir, extra) as server:
            many = hold(load, server.url, 10_000, 0)
            try:
                times, body = [], b""
                for _ in range(samples):
                    t, body = get(mport, "/connz")
                    times.append(t)
                page = json.loads(body)
                out["/connz of 10k"] = {
                    "p50_ms": pct(times, 50) * 1e3, "p99_ms": pct(times, 99) * 1e3,
                    "max_ms": max(times) * 1e3, "bytes": len(body),
                    "num_connections": page["num_connections"], "total": page["total"]}
            finally:
                release(many)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--nats-bin", default=None)
    p.add_argument("--samples", type=int, default=40)
    args = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "strom", "-p", "strom-bench"],
                       cwd=REPO, check=True)
    target = REPO / "target" / "release"
    load = target / "strom-load"
    nats = servers.find_nats_server(REPO, args.nats_bin)
    log_dir = REPO / "target" / "bench-logs"
    results = {}
    for name, binary in [("strom", target / "strom"), ("nats", nats)]:
        print(f"measuring {name} ...", file=sys.stderr)
        results[name] = measure(name, binary, load, args.samples, log_dir)
    print(f"| Endpoint | Strom p50 / p99 / max (ms) | nats-server p50 / p99 / max (ms) | p99 ratio |")
    print("|---|---|---|---|")
    for ep in [*BUSY_ENDPOINTS, "/connz of 10k"]:
        s, n = results["strom"][ep], results["nats"][ep]
        fmt = lambda r: f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f} / {r['max_ms']:.2f}"
        label = ep if ep.startswith("/connz of") else f"`{ep}` under 100k msgs/s"
        print(f"| {label} | {fmt(s)} | {fmt(n)} | {s['p99_ms'] / n['p99_ms']:.2f}x |")
    for name in ("strom", "nats"):
        r = results[name]["/connz of 10k"]
        print(f"{name}: /connz of 10,000 connections: {r['bytes']} bytes, "
              f"{r['num_connections']} listed of total {r['total']}")
    print(json.dumps(results), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
