#!/usr/bin/env python3
"""Side-by-side JetStream benchmark: strom at its safe default (fsync before every PubAck,
group commit) against nats-server twice — at its default (fsync every 2 minutes, PubAck
before the data is durable) and with `sync_interval: always`. Every run gets a fresh server
and a fresh store directory; the variants alternate within each round and medians are
compared. Figures for BENCHMARKS.md come from here.

  bench/js_compare.py [--rounds 3] [--quick] [--no-build]
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).parent))
import servers  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
VARIANTS = ["strom", "nats", "nats_always"]

# name, strom-load arguments, metric key, higher is better, targets by variant compared with
CASES = [
    ("async_pub_16b", ["jspub", "--size", "16", "--msgs", "200000", "--window", "256"],
     "msgs_per_sec", True, {"nats": 1.0, "nats_always": 3.0}),
    ("async_pub_128b", ["jspub", "--size", "128", "--msgs", "200000", "--window", "256"],
     "msgs_per_sec", True, {"nats": 1.0, "nats_always": 3.0}),
    ("async_pub_1k", ["jspub", "--size", "1024", "--msgs", "100000", "--window", "256"],
     "msgs_per_sec", True, {"nats": 1.0, "nats_always": 3.0}),
    ("async_pub_16k", ["jspub", "--size", "16384", "--msgs", "20000", "--window", "64"],
     "msgs_per_sec", True, {"nats": 1.0, "nats_always": 3.0}),
    ("sync_pub_16b_p99", ["jspub", "--size", "16", "--msgs", "2000", "--window", "1"],
     "p99_us", False, {"nats_always": 0.8}),
    ("sync_pub_128b_p99", ["jspub", "--size", "128", "--msgs", "2000", "--window", "1"],
     "p99_us", False, {"nats_always": 0.8}),
    ("sync_pub_1k_p99", ["jspub", "--size", "1024", "--msgs", "2000", "--window", "1"],
     "p99_us", False, {"nats_always": 0.8}),
    ("sync_pub_16k_p99", ["jspub", "--size", "16384", "--msgs", "2000", "--window", "1"],
     "p99_us", False, {"nats_always": 0.8}),
    ("direct_get_seq_p99", ["jsget", "--size", "128", "--msgs", "100000", "--count", "20000"],
     "p99_us", False, {"nats": 1.0}),
    ("direct_get_last_p99", ["jsget", "--size", "128", "--msgs", "100000", "--count", "20000",
                             "--by-last"], "p99_us", False, {"nats": 1.0}),
]


# Consumers: strom against nats-server at its default (its consumer state is not fsynced per
# ack either way; strom's is, under its default). Same shape as CASES.
CONSUMER_CASES = [
    ("pull_ack_none_16b", ["jspull", "--size", "16", "--msgs", "400000", "--batch", "1000"],
     "msgs_per_sec", True, {"nats": 1.2}),
    ("pull_ack_explicit_16b", ["jspull", "--size", "16", "--msgs", "200000", "--batch", "1000",
                               "--ack"], "msgs_per_sec", True, {"nats": 1.2}),
    ("pull_ack_none_1k", ["jspull", "--size", "1024", "--msgs", "200000", "--batch", "1000"],
     "msgs_per_sec", True, {"nats": 1.2}),
    ("push_flow_control_16b", ["jspush", "--size", "16", "--msgs", "400000"],
     "msgs_per_sec", True, {"nats": 1.2}),
    ("redelivery_storm_10k", ["jsredeliver", "--size", "128", "--msgs", "10000",
                              "--ack-wait-ms", "1000"], "storm_secs", False, {"nats": 1.0}),
    # Mirrors and sources: a copy created over a filled origin, timed until it holds all.
    ("mirror_copy_1k", ["jsmirror", "--size", "1024", "--msgs", "200000"],
     "msgs_per_sec", True, {"nats": 1.0}),
    ("source_copy_1k", ["jsmirror", "--size", "1024", "--msgs", "200000", "--source"],
     "msgs_per_sec", True, {"nats": 1.0}),
]


# Key-value and object store (issue #7): strom against nats-server at its default.
KV_CASES = [
    ("kv_put_10k_keys", ["kvput", "--keys", "10000", "--msgs", "200000", "--window", "256"],
     "ops_per_sec", True, {"nats": 1.2}),
    ("kv_get_direct_10k_keys", ["kvget", "--keys", "10000", "--count", "200000", "--window",
                                "64"], "ops_per_sec", True, {"nats": 1.2}),
    ("kv_watch_10k_keys", ["kvwatch", "--keys", "10000"], "ops_per_sec", True, {"nats": 1.2}),
    ("object_put_256mib", ["object", "--mib", "256"], "put_mib_per_sec", True, {"nats": 1.2}),
    ("object_get_256mib", ["object", "--mib", "256"], "get_mib_per_sec", True, {"nats": 1.2}),
]


def peak_rss(load: Path, binary: Path, variant: str, args: list[str], log_dir: Path) -> dict:
    """Runs one load while sampling the server's resident memory every 20 ms; reports the
    peak, and the server's memory before the load."""
    import threading
    store = Path(tempfile.mkdtemp(prefix=f"jsbench-{variant}-", dir=REPO / "target"))
    try:
        with servers.Server(variant, binary, log_dir, server_args(variant, store)) as srv:
            time.sleep(0.3)
            base = srv.rss_kib()
            peak = [base]
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    peak[0] = max(peak[0], srv.rss_kib())
                    time.sleep(0.02)

            t = threading.Thread(target=sample)
            t.start()
            out = subprocess.run([str(load), *args, "--url", srv.url], capture_output=True,
                                 text=True, timeout=900)
            done.set()
            t.join()
            if out.returncode != 0:
                return {"error": out.stderr.strip()[-300:]}
            line = next((l for l in out.stdout.splitlines() if l.startswith("{")), None)
            report = json.loads(line) if line else {}
            return {**report, "peak_rss_kib": peak[0], "base_rss_kib": base}
    finally:
        shutil.rmtree(store, ignore_errors=True)


def kv_scale(load: Path, binary: Path, variant: str, keys: int, log_dir: Path) -> dict:
    """Fills a bucket with `keys` keys and lists them (strom-load kvscale), reading the
    server's resident memory after each, then stops the server and times a restart."""
    store = Path(tempfile.mkdtemp(prefix=f"jsbench-{variant}-", dir=REPO / "target"))
    try:
        args = server_args(variant, store)
        with servers.Server(variant, binary, log_dir, args) as srv:
            out = subprocess.run([str(load), "kvscale", "--keys", str(keys), "--url", srv.url],
                                 capture_output=True, text=True, timeout=1800)
            line = next((l for l in out.stdout.splitlines() if l.startswith("{")), None)
            if out.returncode != 0 or line is None:
                return {"error": out.stderr.strip()[-300:]}
            r = json.loads(line)
            r["rss_kib"] = srv.rss_kib()
        log = log_dir / f"{variant}-kvscale-restart.log"
        port = servers.free_port()
        started = time.monotonic()
        with open(log, "w") as f:
            proc = subprocess.Popen([str(binary), "-p", str(port), "-a", "127.0.0.1", *args],
                                    stdout=f, stderr=subprocess.STDOUT)
        try:
            while "Server is ready" not in log.read_text():
                if proc.poll() is not None or time.monotonic() - started > 600:
                    return {"error": "did not become ready"}
                time.sleep(0.005)
            r["restart_secs"] = time.monotonic() - started
        finally:
            proc.terminate()
            proc.wait()
        return r
    finally:
        shutil.rmtree(store, ignore_errors=True)


def idle_consumers(load: Path, binary: Path, variant: str, consumers: int,
                   log_dir: Path) -> dict:
    """Creates `consumers` durable consumers on one stream, lets them sit, and reports the
    server's resident memory growth and its CPU while idle."""
    store = Path(tempfile.mkdtemp(prefix=f"jsbench-{variant}-", dir=REPO / "target"))
    try:
        with servers.Server(variant, binary, log_dir, server_args(variant, store)) as srv:
            time.sleep(0.5)
            before = srv.rss_kib()
            out = subprocess.run([str(load), "jsidle", "--consumers", str(consumers),
                                  "--url", srv.url], capture_output=True, text=True,
                                 timeout=600)
            if out.returncode != 0:
                return {"error": out.stderr.strip()[-300:]}
            time.sleep(2.0)
            after = srv.rss_kib()
            cpu0 = srv.cpu_seconds()
            time.sleep(5.0)
            cpu = (srv.cpu_seconds() - cpu0) / 5.0 * 100
            return {"rss_delta_kib": max(after - before, 1), "idle_cpu_pct": cpu,
                    "rss_kib": after}
    finally:
        shutil.rmtree(store, ignore_errors=True)


def server_args(variant: str, store: Path) -> list[str]:
    if variant == "nats_always":
        conf = store / "always.conf"
        conf.write_text(f'jetstream {{ store_dir: "{store}", sync_interval: always }}\n')
        return ["-c", str(conf)]
    return ["-js", "-sd", str(store)]


# nats-server with sync_interval: always manages a few thousand acknowledged publishes a
# second; its async runs are capped at this many messages (about 4 s), a rate all the same.
ALWAYS_CAP = 20_000


def run(load: Path, binary: Path, variant: str, args: list[str], log_dir: Path) -> dict:
    if variant == "nats_always" and "jspub" in args:
        args = list(args)
        i = args.index("--msgs") + 1
        args[i] = str(min(int(args[i]), ALWAYS_CAP))
    store = Path(tempfile.mkdtemp(prefix=f"jsbench-{variant}-", dir=REPO / "target"))
    try:
        with servers.Server(variant, binary, log_dir, server_args(variant, store)) as srv:
            out = subprocess.run([str(load), *args, "--url", srv.url], capture_output=True,
                                 text=True, timeout=600)
            line = next((l for l in out.stdout.splitlines() if l.startswith("{")), None)
            if out.returncode != 0 or line is None:
                return {"error": out.stderr.strip()[-300:]}
            return json.loads(line)
    finally:
        shutil.rmtree(store, ignore_errors=True)


def restart(load: Path, binary: Path, variant: str, msgs: int, log_dir: Path) -> dict:
    """Fills a stream with `msgs` 16-byte messages, stops the server (SIGTERM), and times a
    fresh start on the same store until it logs that it is ready."""
    store = Path(tempfile.mkdtemp(prefix=f"jsbench-{variant}-", dir=REPO / "target"))
    try:
        args = server_args(variant, store)
        with servers.Server(variant, binary, log_dir, args) as srv:
            out = subprocess.run([str(load), "jspub", "--size", "16", "--msgs", str(msgs),
                                  "--window", "512", "--url", srv.url],
                                 capture_output=True, text=True, timeout=1800)
            if out.returncode != 0:
                return {"error": out.stderr.strip()[-300:]}
        log = log_dir / f"{variant}-restart.log"
        port = servers.free_port()
        started = time.monotonic()
        with open(log, "w") as f:
            proc = subprocess.Popen([str(binary), "-p", str(port), "-a", "127.0.0.1", *args],
                                    stdout=f, stderr=subprocess.STDOUT)
        try:
            while "Server is ready" not in log.read_text():
                if proc.poll() is not None or time.monotonic() - started > 600:
                    return {"error": "did not become ready"}
                time.sleep(0.005)
            secs = time.monotonic() - started
        finally:
            proc.terminate()
            proc.wait()
        return {"restart_secs": secs}
    finally:
        shutil.rmtree(store, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="a quarter of the messages")
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--cases", default="", help="comma-separated subset of case names")
    p.add_argument("--nats-bin")
    p.add_argument("--restart-msgs", type=int, default=10_000_000,
                   help="messages in the stream for the restart case (0 skips it)")
    p.add_argument("--idle-consumers", type=int, default=1000,
                   help="consumers in the idle-memory case (0 skips it)")
    p.add_argument("--kv-keys", type=int, default=1_000_000,
                   help="keys in the KV scale case (0 skips it)")
    args = p.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "strom", "-p", "strom-bench"],
                       cwd=REPO, check=True)
    bins = REPO / "target" / "release"
    binaries = {"strom": bins / "strom",
                "nats": servers.find_nats_server(REPO, args.nats_bin)}
    binaries["nats_always"] = binaries["nats"]
    log_dir = REPO / "bench-results" / "logs"
    wanted = set(filter(None, args.cases.split(",")))
    results: dict = {}
    for name, load_args, key, higher, targets in CASES:
        if wanted and name not in wanted:
            continue
        load_args = list(load_args)
        if args.quick:
            i = load_args.index("--msgs") + 1
            load_args[i] = str(max(int(load_args[i]) // 4, 500))
        for rnd in range(args.rounds):
            for v in VARIANTS:
                r = run(bins / "strom-load", binaries[v], v, load_args, log_dir)
                results.setdefault(name, {}).setdefault(v, []).append(r)
                shown = r.get(key, r.get("error"))
                print(f"{name:<22} round {rnd + 1} {v:<12} {key} {shown}", flush=True)
    for name, load_args, key, higher, targets in CONSUMER_CASES:
        if wanted and name not in wanted:
            continue
        load_args = list(load_args)
        if args.quick:
            i = load_args.index("--msgs") + 1
            load_args[i] = str(max(int(load_args[i]) // 4, 500))
        for rnd in range(args.rounds):
            for v in ["strom", "nats"]:
                r = run(bins / "strom-load", binaries[v], v, load_args, log_dir)
                results.setdefault(name, {}).setdefault(v, []).append(r)
                results[name].setdefault("nats_always", [])
                shown = r.get(key, r.get("error"))
                print(f"{name:<22} round {rnd + 1} {v:<12} {key} {shown}", flush=True)
    for name, load_args, key, higher, targets in KV_CASES:
        if wanted and name not in wanted:
            continue
        load_args = list(load_args)
        if args.quick and "--msgs" in load_args:
            i = load_args.index("--msgs") + 1
            load_args[i] = str(max(int(load_args[i]) // 4, 500))
        for rnd in range(args.rounds):
            for v in ["strom", "nats"]:
                r = run(bins / "strom-load", binaries[v], v, load_args, log_dir)
                results.setdefault(name, {}).setdefault(v, []).append(r)
                results[name].setdefault("nats_always", [])
                print(f"{name:<22} round {rnd + 1} {v:<12} {key} {r.get(key, r.get('error'))}",
                      flush=True)
    cases = list(CASES) + list(CONSUMER_CASES) + list(KV_CASES)
    if args.kv_keys and (not wanted or "kv_scale" in wanted):
        name = f"kv_{args.kv_keys // 1000}k_keys"
        for rnd in range(args.rounds):
            for v in ["strom", "nats"]:
                r = kv_scale(bins / "strom-load", binaries[v], v, args.kv_keys, log_dir)
                for metric in ["fill_secs", "list_secs", "rss_kib", "restart_secs"]:
                    results.setdefault(f"{name}_{metric}", {}).setdefault(v, []).append(r)
                    results[f"{name}_{metric}"].setdefault("nats_always", [])
                print(f"{name:<22} round {rnd + 1} {v:<12} {r}", flush=True)
        for metric in ["fill_secs", "list_secs", "rss_kib", "restart_secs"]:
            cases.append((f"{name}_{metric}", [], metric, False, {}))
    if wanted and "objclient_512mib" in wanted:
        # Through async-nats (chunking and digest checks in the client); only on request.
        name = "objclient_512mib"
        for rnd in range(args.rounds):
            for v in ["strom", "nats"]:
                r = peak_rss(bins / "strom-load", binaries[v], v, ["objclient", "--mib", "512"],
                             log_dir)
                for metric in ["peak_rss_kib", "put_mib_per_sec", "get_mib_per_sec"]:
                    results.setdefault(f"{name}_{metric}", {}).setdefault(v, []).append(r)
                    results[f"{name}_{metric}"].setdefault("nats_always", [])
                print(f"{name:<22} round {rnd + 1} {v:<12} {r}", flush=True)
        for metric in ["peak_rss_kib", "put_mib_per_sec", "get_mib_per_sec"]:
            cases.append((f"{name}_{metric}", [], metric, metric == "peak_rss_kib", {}))
    if not wanted or "object_512mib_rss" in wanted:
        name = "object_512mib_rss"
        for rnd in range(args.rounds):
            for v in ["strom", "nats"]:
                r = peak_rss(bins / "strom-load", binaries[v], v, ["object", "--mib", "512"],
                             log_dir)
                results.setdefault(name, {}).setdefault(v, []).append(r)
                results[name].setdefault("nats_always", [])
                print(f"{name:<22} round {rnd + 1} {v:<12} {r}", flush=True)
        cases.append((name, [], "peak_rss_kib", False, {}))
    if args.idle_consumers and (not wanted or "idle_consumers" in wanted):
        name = f"idle_{args.idle_consumers}_consumers"
        for rnd in range(args.rounds):
            for v in ["strom", "nats"]:
                r = idle_consumers(bins / "strom-load", binaries[v], v, args.idle_consumers,
                                   log_dir)
                results.setdefault(name, {}).setdefault(v, []).append(r)
                results.setdefault(name + "_cpu", {}).setdefault(v, []).append(r)
                results[name].setdefault("nats_always", [])
                results[name + "_cpu"].setdefault("nats_always", [])
                print(f"{name:<22} round {rnd + 1} {v:<12} {r}", flush=True)
        cases.append((name, [], "rss_delta_kib", False, {"nats": 0.7}))
        cases.append((name + "_cpu", [], "idle_cpu_pct", False, {}))
    if args.restart_msgs and (not wanted or "restart" in wanted):
        msgs = args.restart_msgs // (4 if args.quick else 1)
        name = f"restart_{msgs // 1_000_000}m"
        for rnd in range(args.rounds):
            for v in ["strom", "nats"]:
                r = restart(bins / "strom-load", binaries[v], v, msgs, log_dir)
                results.setdefault(name, {}).setdefault(v, []).append(r)
                results[name].setdefault("nats_always", [])
                print(f"{name:<22} round {rnd + 1} {v:<12} restart_secs "
                      f"{r.get('restart_secs', r.get('error'))}", flush=True)
        cases.append((name, [], "restart_secs", False, {"nats": 0.5}))
    print()
    print(f"{'case':<22} {'metric':<13} {'strom':>10} {'nats':>10} {'nats_always':>12}  ratios")
    for name, _, key, higher, targets in cases:
        if name not in results:
            continue
        med = {}
        for v in VARIANTS:
            vals = [r[key] for r in results[name][v] if key in r]
            med[v] = median(vals) if vals else None
        ratios = []
        for other, target in targets.items():
            if med["strom"] and med[other]:
                ratio = med["strom"] / med[other]
                met = ratio >= target if higher else ratio <= target
                ratios.append(f"vs {other} {ratio:.2f}x ({'>=' if higher else '<='} {target}: "
                              f"{'met' if met else 'MISSED'})")
        cells = [f"{med[v]:.3g}" if med[v] is not None else "-" for v in VARIANTS]
        print(f"{name:<22} {key:<13} {cells[0]:>10} {cells[1]:>10} {cells[2]:>12}  "
              + "; ".join(ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
