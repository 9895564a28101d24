#!/usr/bin/env python3
"""Side-by-side benchmark of strom against the reference nats-server.

Builds strom and strom-load in release mode, then for every case runs the load against a fresh
strom and a fresh nats-server in turn (strom, nats, strom, nats, ...: 5 rounds each), and
prints the medians and strom/nats ratios. The table also goes to bench-results/latest.md and the
raw figures of every round to bench-results/latest.json. See BENCHMARKS.md.

    bench/compare.py            # full run, 5 rounds: about 6 to 10 minutes on 2 cores
    bench/compare.py --quick    # a quarter of the messages, 3 rounds: about 2 minutes
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ left in bench/
sys.path.insert(0, str(Path(__file__).resolve().parent))

import scenarios  # noqa: E402
import servers  # noqa: E402
import table  # noqa: E402
from runner import RunError, run_case  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a quarter of the messages (~2 minutes)")
    p.add_argument("--rounds", type=int,
                   help="runs per server and case (default 5, or 3 with --quick)")
    p.add_argument("--scenarios", default=",".join(scenarios.ALL_SCENARIOS),
                   help="comma-separated subset of: " + ", ".join(scenarios.ALL_SCENARIOS))
    p.add_argument("--sizes", default=",".join(map(str, scenarios.SIZES)),
                   help="comma-separated payload sizes in bytes")
    p.add_argument("--servers", default="strom,nats",
                   help="which servers to run: strom,nats (default both)")
    p.add_argument("--no-build", action="store_true", help="use the binaries already built")
    p.add_argument("--strom-bin", help="strom binary (default: target/release/strom)")
    p.add_argument("--nats-bin", help="nats-server binary (default: searched, else installed)")
    p.add_argument("--out", default=str(REPO / "bench-results"), help="results folder")
    p.add_argument("--timeout", type=float, default=180, help="seconds allowed per run")
    args = p.parse_args()
    if args.rounds is None:
        args.rounds = 3 if args.quick else 5
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    unknown = set(args.scenarios.split(",")) - set(scenarios.ALL_SCENARIOS)
    if unknown:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


def target_dir() -> Path:
    meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                          cwd=REPO, capture_output=True, text=True, check=True)
    return Path(json.loads(meta.stdout)["target_directory"])


def build() -> None:
    cmd = ["cargo", "build", "--release", "-p", "strom", "-p", "strom-bench"]
    print("+ " + " ".join(cmd), flush=True)
    if subprocess.run(cmd, cwd=REPO).returncode != 0:
        sys.exit("the build failed; fix it, or run the binaries already built with --no-build")


def git_revision() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO,
                               capture_output=True, text=True).stdout.strip()
        return rev + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> int:
    args = parse_args()
    wanted = [s for s in args.servers.split(",") if s]
    if not wanted or set(wanted) - set(table.SERVERS):
        sys.exit("--servers takes strom, nats or strom,nats")
    if not args.no_build:
        build()
    bins = target_dir() / "release"
    load = bins / "strom-load"
    binaries = {}
    if "strom" in wanted:
        binaries["strom"] = Path(args.strom_bin) if args.strom_bin else bins / "strom"
    if "nats" in wanted:
        binaries["nats"] = servers.find_nats_server(REPO, args.nats_bin)
    for path in [load, *binaries.values()]:
        if not path.is_file():
            sys.exit(f"{path} not found (build it, or drop --no-build)")
    servers.raise_fd_limit(scenarios.CONNS * 2 + 256)

    sizes = [int(s) for s in args.sizes.split(",") if s]
    cases = scenarios.cases(set(args.scenarios.split(",")), sizes, args.quick)
    out_dir = Path(args.out)
    log_dir = out_dir / "logs"
    for old in log_dir.glob("*.log"):
        old.unlink()
    versions = {name: servers.version(path) for name, path in binaries.items()}
    print(" / ".join(f"{n}: {binaries[n]} ({versions[n]})" for n in binaries), flush=True)

    results: dict = {}
    total = len(cases) * args.rounds * len(binaries)
    done = 0
    started = time.monotonic()
    for case in cases:
        for rnd in range(1, args.rounds + 1):
            for name, binary in binaries.items():
                done += 1
                try:
                    r = run_case(load, case, name, binary, log_dir, args.timeout)
                    shown = "  ".join(f"{m.label} {table.fmt(r.get(m.key), m.unit)} {m.unit}"
                                      for m in case.metrics)
                except (RunError, RuntimeError) as e:
                    r = {"error": str(e)}
                    shown = f"FAILED: {e}"
                results.setdefault(case.name, {}).setdefault(name, []).append(r)
                print(f"[{done:3}/{total}] {case.name:<26} round {rnd} {name:<5} {shown}",
                      flush=True)
    elapsed = time.monotonic() - started

    rows = table.rows(cases, results)
    print()
    print(table.text(rows))
    md = render_markdown(args, rows, results, versions, elapsed)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "latest.md").write_text(md)
    (out_dir / "latest.json").write_text(json.dumps(
        {"date": datetime.datetime.now().isoformat(timespec="seconds"),
         "revision": git_revision(), "quick": args.quick, "rounds": args.rounds,
         "versions": versions, "results": results}, indent=1))
    print(f"\nwritten to {out_dir / 'latest.md'} and {out_dir / 'latest.json'} "
          f"({elapsed / 60:.1f} minutes)")
    failed = any("error" in r for per in results.values() for runs in per.values() for r in runs)
    return 1 if failed else 0


def render_markdown(args, rows, results, versions, elapsed) -> str:
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [
        f"# strom vs nats-server, {now}",
        "",
        f"- revision: {git_revision()}",
        f"- machine: {os.cpu_count()} CPUs, {cpu_model()}, {platform.system()} "
        f"{platform.release()}",
        "- servers: " + ", ".join(f"{n} `{v}`" for n, v in versions.items()),
        f"- mode: {'quick' if args.quick else 'full'}, {args.rounds} rounds per server, "
        f"alternating; medians shown; spread is (max - min) / median over the rounds "
        f"(strom / nats-server); {elapsed / 60:.1f} minutes",
        "",
        table.markdown(rows),
        "",
    ]
    failures = [(case, server, r["error"]) for case, per in results.items()
                for server, runs in per.items() for r in runs if "error" in r]
    if failures:
        lines += ["## Failed runs", ""]
        lines += [f"- {case} on {server}: {err}" for case, server, err in failures]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
