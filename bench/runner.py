"""One run of one case against one fresh server: start it, run strom-load, read the JSON line
(and, for conns, the server's resident memory while the connections are held), stop it."""

import json
import queue
import subprocess
import threading
import time
from pathlib import Path

from scenarios import Case
from servers import Server


class RunError(Exception):
    pass


def run_case(load: Path, case: Case, name: str, binary: Path, log_dir: Path,
             timeout: float) -> dict:
    """Returns the run's figures (the JSON line, plus rss_* for conns)."""
    with Server(name, binary, log_dir) as server:
        if case.scenario == "conns":
            return _run_conns(load, case, server, timeout)
        cmd = [str(load), case.scenario, "--url", server.url, *case.args,
               "--timeout-secs", str(int(timeout))]
        cpu_before = server.cpu_seconds()
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 10)
        except subprocess.TimeoutExpired:
            raise RunError(f"strom-load did not finish within {timeout + 10:.0f}s")
        result = _json_line(out.stdout)
        if out.returncode != 0 or result is None:
            raise RunError(_failure(out.returncode, out.stderr, server))
        result["server_cpu_s"] = server.cpu_seconds() - cpu_before
        return result


def _run_conns(load: Path, case: Case, server: Server, timeout: float) -> dict:
    time.sleep(0.3)  # let the freshly started server settle before the idle reading
    idle = server.rss_kib()
    cmd = [str(load), "conns", "--url", server.url, *case.args,
           "--timeout-secs", str(int(timeout))]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        result = None
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise RunError(f"no 'ready' from strom-load within {timeout:.0f}s")
            if line is None:
                proc.wait()
                raise RunError(_failure(proc.returncode, proc.stderr.read(), server))
            if line.startswith("{") and result is None:
                result = json.loads(line)
            if line == "ready":
                break
        # The connections are open and their subscriptions confirmed; give the server a moment
        # (a Go runtime may still be growing its heap) and keep the highest reading.
        held = 0
        for _ in range(6):
            time.sleep(0.25)
            held = max(held, server.rss_kib())
        if not server.alive():
            raise RunError("the server exited while the connections were held")
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.returncode != 0 or result is None:
        raise RunError(_failure(proc.returncode, proc.stderr.read(), server))
    result.update(rss_idle_mib=idle / 1024, rss_held_mib=held / 1024,
                  rss_added_mib=(held - idle) / 1024)
    return result


def _json_line(stdout: str) -> dict | None:
    for line in stdout.splitlines():
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def _failure(code: int | None, stderr: str, server: Server) -> str:
    lines = [l for l in (stderr or "").strip().splitlines() if l.strip()]
    detail = " | ".join(lines[-3:]) if lines else "no output"
    state = "" if server.alive() else f"; the server exited with status {server.proc.returncode}"
    return f"strom-load exited with status {code}: {detail}{state}"
