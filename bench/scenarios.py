"""The benchmark cases compare.py runs: which strom-load subcommand, with which arguments, and
which figures of its JSON line are compared. Message counts are sized so that one run takes
about two seconds against nats-server 2.15 on a 2-core machine (strom should take less); --quick
divides them by 4.

Names follow nats-server's benchmark naming (pub_16b, pubsub_128b, fanout_8x_1k, ...)."""

from dataclasses import dataclass

ALL_SCENARIOS = ["pub", "pubsub", "fanout", "queue", "reqrep", "conns"]
SIZES = [16, 128, 1024, 65536]

# Messages per run, by scenario and payload size. 64 KiB runs use far fewer: they are bound by
# bytes, not messages.
MSGS = {
    "pub": {16: 10_000_000, 128: 7_000_000, 1024: 4_000_000, 65536: 35_000},
    "pubsub": {16: 4_500_000, 128: 3_000_000, 1024: 1_400_000, 65536: 25_000},
    "fanout": {16: 1_000_000, 128: 650_000, 1024: 350_000, 65536: 8_000},
    "queue": {16: 3_000_000, 128: 2_300_000, 1024: 1_300_000, 65536: 18_000},
    "reqrep": {16: 10_000, 128: 10_000, 1024: 10_000, 65536: 5_000},
}
FANOUT_SUBS = 8
QUEUE_MEMBERS = 4
CONNS = 1000
CONN_SUBS = 100


@dataclass
class Metric:
    key: str  # field of the JSON line (or of the driver's own measurement, for conns)
    label: str
    unit: str  # "msgs/s", "us" or "MiB"
    higher_is_better: bool
    target: float | None = None  # required strom/nats ratio, if this metric has one


@dataclass
class Case:
    name: str
    scenario: str
    args: list[str]
    metrics: list[Metric]
    size: int | None = None


def messages(scenario: str, size: int) -> int:
    """The count for `size`. A size not in the table takes the nearest smaller one's count,
    scaled down by bytes above 1 KiB, where runs are bound by bytes rather than messages."""
    known = MSGS[scenario]
    if size in known:
        return known[size]
    base = max((k for k in known if k <= size), default=min(known))
    if scenario == "reqrep" or size <= 1024:
        return known[base]
    return known[base] * max(base, 1024) // size


def size_name(size: int) -> str:
    return f"{size // 1024}k" if size >= 1024 else f"{size}b"


THROUGHPUT_TARGET = 1.2
LATENCY_TARGET = 0.8
MEMORY_TARGET = 0.7


def throughput(key: str, label: str) -> list[Metric]:
    # On a 2-core machine the load tool holds about one core, so throughput is partly bound by
    # the client and the kernel; the server's own CPU for the same messages shows its cost.
    return [Metric(key, label, "msgs/s", True, THROUGHPUT_TARGET),
            Metric("server_cpu_s", "server CPU for the run", "s", False)]


def cases(scenarios: set[str], sizes: list[int], quick: bool) -> list[Case]:
    div = 4 if quick else 1
    out = []
    for size in sizes:
        def n(scenario: str) -> int:
            return max(messages(scenario, size) // div, 100)

        s = size_name(size)
        if "pub" in scenarios:
            out.append(Case(f"pub_{s}", "pub", ["--size", str(size), "--msgs", str(n("pub"))],
                            throughput("msgs_per_sec", "published"), size))
        if "pubsub" in scenarios:
            out.append(Case(f"pubsub_{s}", "pubsub",
                            ["--size", str(size), "--msgs", str(n("pubsub"))],
                            throughput("msgs_per_sec", "received"), size))
        if "fanout" in scenarios:
            out.append(Case(f"fanout_{FANOUT_SUBS}x_{s}", "fanout",
                            ["--subs", str(FANOUT_SUBS), "--size", str(size),
                             "--msgs", str(n("fanout"))],
                            throughput("delivered_msgs_per_sec", "delivered, all subs"), size))
        if "queue" in scenarios:
            out.append(Case(f"queue_{QUEUE_MEMBERS}x_{s}", "queue",
                            ["--members", str(QUEUE_MEMBERS), "--size", str(size),
                             "--msgs", str(n("queue"))],
                            throughput("msgs_per_sec", "delivered"), size))
        if "reqrep" in scenarios:
            count = n("reqrep")
            out.append(Case(f"req_reply_latency_{s}", "reqrep",
                            ["--size", str(size), "--count", str(count),
                             "--warmup", str(max(count // 10, 100))],
                            [Metric("p50_us", "p50", "us", False),
                             Metric("p99_us", "p99", "us", False, LATENCY_TARGET),
                             Metric("p999_us", "p99.9", "us", False)], size))
    order = {name: i for i, name in enumerate(ALL_SCENARIOS)}
    out.sort(key=lambda c: order[c.scenario])  # stable: sizes stay in order within a scenario
    if "conns" in scenarios:
        out.append(Case(f"conns_{CONNS}x{CONN_SUBS}", "conns",
                        ["--conns", str(CONNS), "--subs", str(CONN_SUBS)],
                        [Metric("rss_held_mib", "RSS with connections held", "MiB", False,
                                MEMORY_TARGET),
                         Metric("rss_added_mib", "RSS added by the connections", "MiB", False),
                         Metric("rss_idle_mib", "RSS idle", "MiB", False)]))
    return out

