"""The comparison table: medians per server, strom/nats ratios against the targets, and how
much the rounds spread; rendered for the terminal and as Markdown."""

from statistics import median

from scenarios import Case, Metric

SERVERS = ["strom", "nats"]
NOT_RUN = "not run"


def fmt(value: float | str | None, unit: str) -> str:
    if value is None:
        return "failed"
    if isinstance(value, str):
        return value
    if unit == "msgs/s":
        for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if value >= scale:
                return f"{value / scale:.2f}{suffix}"
        return f"{value:.0f}"
    if unit == "s":
        return f"{value:.2f}"
    return f"{value:.1f}"


def rows(cases: list[Case], results: dict) -> list[list[str]]:
    """One row per case and metric: benchmark, metric, strom, nats, ratio, target, verdict,
    spread. `results[case][server]` is a list of per-round dicts (or {"error": ...})."""
    out = []
    for case in cases:
        for metric in case.metrics:
            medians, spreads = {}, {}
            for server in SERVERS:
                runs = results.get(case.name, {}).get(server)
                values = [r[metric.key] for r in runs or []
                          if "error" not in r and r.get(metric.key) is not None]
                medians[server] = median(values) if values else (None if runs else NOT_RUN)
                spreads[server] = _spread(values)
            out.append(_row(case, metric, medians, spreads))
    return out


def _spread(values: list[float]) -> str:
    if len(values) < 2 or median(values) == 0:
        return "-"
    return f"{(max(values) - min(values)) / median(values) * 100:.0f}%"


def _row(case: Case, metric: Metric, medians: dict, spreads: dict) -> list[str]:
    strom, nats = medians["strom"], medians["nats"]
    both = all(isinstance(v, (int, float)) for v in (strom, nats))
    ratio = strom / nats if both and nats else None
    target = verdict = ""
    if metric.target is not None:
        target = f"{'>=' if metric.higher_is_better else '<='} {metric.target}x"
        if ratio is not None:
            met = ratio >= metric.target if metric.higher_is_better else ratio <= metric.target
            verdict = "met" if met else "missed"
    return [case.name, f"{metric.label} ({metric.unit})", fmt(strom, metric.unit),
            fmt(nats, metric.unit), f"{ratio:.2f}x" if ratio is not None else "-", target,
            verdict, f"{spreads['strom']} / {spreads['nats']}"]


HEADER = ["benchmark", "metric", "strom", "nats-server", "strom/nats", "target", "", "spread"]


def text(table: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [HEADER, *table]) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
             for r in [HEADER, *table]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(table: list[list[str]]) -> str:
    right = {2, 3, 4}
    lines = ["| " + " | ".join(HEADER) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(HEADER))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in table]
    return "\n".join(lines)
