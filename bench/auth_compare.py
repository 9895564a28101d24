#!/usr/bin/env python3
"""A flood of failed logins, Strom and nats-server side by side in one run.

Each server is started alike with one user whose password is a bcrypt hash (cost 11, what
`nats server passwd` writes). `strom-load loginflood` then measures request/reply round
trips between two logged-in clients, first on a quiet server and then while N attackers keep
logging in with a wrong password, each refusal costing the server one bcrypt hash. Reported
per server and round: the quiet and flooded p50/p99, and the refusals per second the server
got through. What issue #4 asks: a flood of failed logins does not slow other clients.

Usage: python3 bench/auth_compare.py [--no-build] [--nats-bin PATH] [--rounds N]
                                     [--attackers N] [--count N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import servers  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
USER, PASSWORD = "bench", "s3cret-bench"
# bcrypt("s3cret-bench", cost 11), as `nats server passwd` makes them.
HASH = "$2a$11$30AVlD4MnUj.ynsoX113KuHFLQBD96ZjCPuOxIPN0Ioo3Z4JiGUme"
CONFIG = f'authorization {{ users [ {{ user: "{USER}", password: "{HASH}" }} ] }}\n'
FIELDS = ["quiet_p50_us", "quiet_p99_us", "flood_p50_us", "flood_p99_us", "refusals_per_sec"]


def one_round(name: str, binary: Path, load: Path, attackers: int, count: int,
              log_dir: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "auth.conf"
        conf.write_text(CONFIG)
        with servers.Server(name, binary, log_dir, ["-c", str(conf)]) as server:
            out = subprocess.run(
                [str(load), "--url", server.url, "--timeout-secs", "600", "loginflood",
                 "--user", USER, "--pass", PASSWORD, "--attackers", str(attackers),
                 "--count", str(count)],
                capture_output=True, text=True, timeout=900)
            if out.returncode != 0:
                raise RuntimeError(f"{name}: strom-load failed: {out.stderr.strip()}")
            line = next(l for l in out.stdout.splitlines() if l.startswith("{"))
            return json.loads(line)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--nats-bin", default=None)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--attackers", type=int, default=8)
    p.add_argument("--count", type=int, default=5000)
    args = p.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "strom", "-p", "strom-bench"],
                       cwd=REPO, check=True)
    target = REPO / "target" / "release"
    load = target / "strom-load"
    nats = servers.find_nats_server(REPO, args.nats_bin)
    log_dir = REPO / "target" / "bench-logs"
    results: dict[str, list[dict]] = {"strom": [], "nats": []}
    for r in range(args.rounds):
        for name, binary in [("strom", target / "strom"), ("nats", nats)]:
            res = one_round(name, binary, load, args.attackers, args.count, log_dir)
            results[name].append(res)
            print(f"round {r + 1} {name:5} " + " ".join(f"{k} {res[k]:.1f}" for k in FIELDS),
                  file=sys.stderr)
    med = {n: {k: statistics.median(x[k] for x in rs) for k in FIELDS}
           for n, rs in results.items()}
    print(f"\n{args.attackers} attackers, {args.rounds} rounds, medians")
    print("| server | quiet p50 / p99 (us) | flooded p50 / p99 (us) | p99 flooded / quiet "
          "| refused logins/s |")
    print("|---|---:|---:|---:|---:|")
    for n, m in med.items():
        print(f"| {n} | {m['quiet_p50_us']:.0f} / {m['quiet_p99_us']:.0f} | "
              f"{m['flood_p50_us']:.0f} / {m['flood_p99_us']:.0f} | "
              f"{m['flood_p99_us'] / m['quiet_p99_us']:.2f}x | {m['refusals_per_sec']:.1f} |")
    s, n = med["strom"], med["nats"]
    print(f"flooded p99, strom / nats-server: {s['flood_p99_us'] / n['flood_p99_us']:.2f}x")
    print(json.dumps(results), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
