"""Shared helpers of the benchmark scripts: CPU time, memory, percentiles, machine facts, result files.

Every scenario script writes one JSON object (``Result.to_json``) to the path given with ``--json``;
``bench/run.py`` collects them into RESULTS.md. Nothing here imports Textual.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import platform
import re
import resource
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / ".work"  # git-ignored: generated databases, scratch files


# ---- measuring --------------------------------------------------------------------------------


def cpu_time() -> float:
    """CPU seconds (user + system) of this process, all threads."""
    return time.process_time()


def proc_cpu_time(pid: int) -> float | None:
    """CPU seconds (user + system) of another process from /proc/PID/stat; None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def tree_cpu_time(pid: int) -> float | None:
    """CPU seconds (user + system) of a process and every descendant, live or reaped; None when it is gone."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            child = int(stat.parent.name)
        except (OSError, IndexError, ValueError):
            continue
        parents[child] = int(fields[1])
        times[child] = sum(int(f) for f in fields[11:15]) / ticks  # utime, stime, cutime, cstime
    if pid not in times:
        return None
    total, todo = 0.0, [pid]
    while todo:
        at = todo.pop()
        total += times.get(at, 0.0)
        todo += [child for child, parent in parents.items() if parent == at]
    return total


def _status_kb(pid: int | str, key: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def rss_mb(pid: int | str = "self") -> float | None:
    """Resident set size now, in MiB."""
    kb = _status_kb(pid, "VmRSS")
    return None if kb is None else kb / 1024


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident set size, in MiB (VmHWM; getrusage for this process as a fallback)."""
    kb = _status_kb(pid, "VmHWM")
    if kb is None and pid == "self":
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (kb or 0.0) / 1024


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank on sorted values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def p95(values: Sequence[float]) -> float:
    return percentile(values, 95)


class Deadline:
    """A wall-clock budget for a loop: ``while not deadline.passed: ...``."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.end

    @property
    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())


# ---- machine --------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def textual_version() -> str:
    """Textual's version without importing it (importing costs start-up time in the caller)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("textual")
    except PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return out.stdout.strip()

    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "textual": textual_version(),
        "platform": platform.platform(),
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


# ---- processes --------------------------------------------------------------------------------


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment for an app subprocess whose config, data and caches live under ``home``."""
    env = dict(os.environ)
    for name in ("HOLYSHEEP_API_KEY", "HOLYSHEEP_DEBUG", "TEXTUAL", "TEXTUAL_DEVTOOLS_PORT"):
        env.pop(name, None)
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "XDG_STATE_HOME": str(home / "state"),
            "HOLYSHEEP_CONFIG": str(home / "config" / "holysheep-tui" / "config.toml"),
            "HOLYSHEEP_DATA_DIR": str(home / "data" / "holysheep-tui"),
            "TERM": "xterm-256color",
            "COLORTERM": "truecolor",
        }
    )
    env.update(extra)
    return env


@contextmanager
def scratch_home(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"holysheep-bench-{prefix}-") as tmp:
        yield Path(tmp)


# ---- pseudo-terminals: has this text been drawn? ----------------------------------------------
# No terminal emulator is needed: output is read as it comes, escape sequences are dropped and the
# text is searched for (a span of one style is written contiguously).
_ESCAPES = re.compile(
    rb"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    rb"|\x1bP[^\x1b]*\x1b\\"  # DCS
    rb"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    rb"|\x1b[()*+][0-9A-Za-z]"  # charset
    rb"|\x1b[@-_=>78]"  # other two-byte sequences
)
MAX_OUTPUT = 64 * 2**20


class PtyApp:
    """A child process on a fresh pseudo-terminal of ``columns`` x ``lines`` (started at construction)."""

    def __init__(
        self, argv: Sequence[str], env: dict[str, str], cwd: str, *, columns: int = 160, lines: int = 48
    ) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        self.master = master
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            list(argv), stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, start_new_session=True,
            close_fds=True,
        )  # fmt: skip
        os.close(slave)
        self.raw = bytearray()
        self._text = b""
        self._scanned = 0

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:
            data = b""
        if not data:
            raise EOFError("the program closed its terminal")
        if len(self.raw) < MAX_OUTPUT:
            self.raw += data
        return True

    def wait_for(self, marker: str, timeout: float) -> float | None:
        """Seconds from the start until ``marker`` was on screen; None after ``timeout`` or an exit."""
        needle = marker.encode()
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            try:
                got = self._read(min(0.05, max(0.0, end - time.perf_counter())))
            except EOFError:
                return None
            if got:
                # Strip escapes from a little before the new data so a marker split across reads is found.
                start = max(0, self._scanned - 4096)
                text = _ESCAPES.sub(b"", bytes(self.raw[start:]))
                self._scanned = len(self.raw)
                if needle in text:
                    return time.perf_counter() - self.started
        return None

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def drain(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        with contextlib.suppress(EOFError):
            while time.perf_counter() < end:
                self._read(0.02)

    def cpu(self) -> float | None:
        return proc_cpu_time(self.proc.pid)

    def rss_peak(self) -> float:
        return peak_rss_mb(self.proc.pid)

    def close(self) -> None:
        """End the child (SIGTERM, then SIGKILL to its own process group), keep reading so it never blocks."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            end = time.perf_counter() + 5
            while self.proc.poll() is None and time.perf_counter() < end:
                self.drain(0.05)
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        with contextlib.suppress(OSError):
            os.close(self.master)


# ---- results ----------------------------------------------------------------------------------


@dataclass
class Target:
    """One target of the issue: ``value`` compared with ``limit`` (``value <= limit`` passes)."""

    name: str
    value: float | None
    limit: float
    unit: str = ""
    note: str = ""

    @property
    def status(self) -> str:
        if self.value is None or math.isnan(self.value):
            return "N/A"
        return "PASS" if self.value <= self.limit else "MISS"


@dataclass
class Result:
    """What one scenario script reports."""

    scenario: str
    title: str
    available: bool = True
    reason: str = ""
    runs: int = 0
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["targets"] = [{**asdict(t), "status": t.status} for t in self.targets]
        return out

    def write(self, path: str | None) -> None:
        text = json.dumps(self.to_json(), indent=2, ensure_ascii=False, default=_jsonable)
        if path:
            Path(path).write_text(text + "\n", encoding="utf-8")
        else:
            print(text)

    def report(self, path: str | None) -> int:
        """The end of a scenario's ``main``: the JSON (to ``path`` or stdout), the rows and targets on stderr."""
        self.write(path)
        for row in self.rows:
            print("  ".join(str(c) for c in row), file=sys.stderr)
        for t in self.targets:
            print(f"{t.status}  {t.name}: {t.value} (limit {t.limit} {t.unit})", file=sys.stderr)
        return 0


def _jsonable(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


def unavailable(scenario: str, title: str, reason: str, path: str | None) -> int:
    Result(scenario, title, available=False, reason=reason).write(path)
    print(f"{scenario}: not available: {reason}", file=sys.stderr)
    return 0


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"
