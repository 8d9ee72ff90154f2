"""The metrics log: one JSON line per request in ``metrics.jsonl``, rotated at a size limit.

A record holds numbers and names only; it has no field for the key or any message text. Each line is
written with O_APPEND in a single write, so concurrent writers (the app and a batch run) never interleave.
Appends and rotation hold an exclusive ``flock`` on the log's folder (reads a shared one), so processes
never rotate each other's files away nor read a file twice while it moves.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from holysheep_tui import locations
from holysheep_tui.economics.prices import Cost
from holysheep_tui.errors import HolySheepError, RelayError, StorageError
from holysheep_tui.relay.wire import Answer, Timings, Usage

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: appends and rotation go unlocked
    fcntl = None  # type: ignore[assignment]

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_KEEP = 3
LOCK_WAIT = 5.0
"""Seconds to wait for the lock (held for microseconds per append); past that, go on without it."""
_SURROGATE = re.compile("[\ud800-\udfff]")


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


@dataclass(frozen=True, slots=True)
class MetricRecord:
    time: datetime
    """When the request finished (timezone-aware; written as ISO UTC)."""
    profile: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    ttft_ms: float | None = None
    total_ms: float | None = None
    tokens_per_s: float | None = None
    cost_usd: float | None = None
    cost_estimated: bool = False
    success: bool = True
    http_status: int | None = None
    error_type: str | None = None
    retries: int = 0
    comparison: str | None = None
    """The comparison this request was a leg of (one prompt sent to several models); written only when set."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["time"] = self.time.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if self.comparison is None:
            del data["comparison"]
        return data

    @classmethod
    def from_json(cls, data: Any) -> MetricRecord:
        """Parse one decoded line; raises ValueError/TypeError/KeyError on anything malformed."""
        if not isinstance(data, dict):
            raise ValueError("not an object")
        when = datetime.fromisoformat(str(data["time"]).replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)

        def num(key: str) -> float | None:
            v = data.get(key)
            if v is None:
                return None
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise TypeError(key)
            return float(v)

        def count(key: str) -> int:
            v = data.get(key, 0)
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(key)
            return v

        status = data.get("http_status")
        error_type = data.get("error_type")
        comparison = data.get("comparison")
        return cls(
            time=when,
            profile=str(data["profile"]),
            model=str(data["model"]),
            prompt_tokens=count("prompt_tokens"),
            completion_tokens=count("completion_tokens"),
            cached_tokens=count("cached_tokens"),
            ttft_ms=num("ttft_ms"),
            total_ms=num("total_ms"),
            tokens_per_s=num("tokens_per_s"),
            cost_usd=num("cost_usd"),
            cost_estimated=bool(data.get("cost_estimated", False)),
            success=bool(data["success"]),
            http_status=status if isinstance(status, int) and not isinstance(status, bool) else None,
            error_type=str(error_type) if error_type is not None else None,
            retries=count("retries"),
            comparison=comparison if isinstance(comparison, str) else None,
        )

    @classmethod
    def for_answer(
        cls,
        profile: str,
        answer: Answer,
        cost: Cost | None,
        *,
        http_status: int | None = 200,
        when: datetime | None = None,
        usage: Usage | None = None,
        comparison: str | None = None,
    ) -> MetricRecord:
        """The record of a finished answer. ``usage`` (e.g. an estimate) replaces a missing answer.usage;
        with neither, the tokens are 0."""
        usage = answer.usage or usage
        completion = usage.completion_tokens if usage else 0
        tps = answer.timings.tokens_per_second(completion)
        return cls(
            time=when or datetime.now(UTC),
            profile=profile,
            model=answer.model,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=completion,
            cached_tokens=usage.cached_tokens if usage else 0,
            ttft_ms=_ms(answer.timings.ttft),
            total_ms=_ms(answer.timings.total),
            tokens_per_s=None if tps is None else round(tps, 2),
            cost_usd=None if cost is None else cost.usd,
            cost_estimated=bool(cost and cost.estimated),
            success=True,
            http_status=http_status,
            retries=answer.retries,
            comparison=comparison,
        )

    @classmethod
    def for_failure(
        cls,
        profile: str,
        model: str,
        error: BaseException,
        *,
        timings: Timings | None = None,
        retries: int = 0,
        cost: Cost | None = None,
        when: datetime | None = None,
        usage: Usage | None = None,
        comparison: str | None = None,
    ) -> MetricRecord:
        """The record of a failed request: only the error's kind and HTTP status, never its text; the tokens
        of what it answered before it ended (``usage``, perhaps estimated)."""
        error_type = error.kind if isinstance(error, HolySheepError) else type(error).__name__
        status = error.status if isinstance(error, RelayError) else None
        return cls(
            time=when or datetime.now(UTC),
            profile=profile,
            model=model,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            cached_tokens=usage.cached_tokens if usage else 0,
            ttft_ms=_ms(timings.ttft) if timings else None,
            total_ms=_ms(timings.total) if timings else None,
            cost_usd=None if cost is None else cost.usd,
            cost_estimated=bool(cost and cost.estimated),
            success=False,
            http_status=status,
            error_type=error_type,
            retries=retries,
            comparison=comparison,
        )


@dataclass(slots=True)
class MetricsRead:
    records: list[MetricRecord] = field(default_factory=list)
    skipped: int = 0
    """Lines that were not valid records (a torn last line, garbage) and were left out."""


class MetricsLog:
    """Append-only JSON-lines log with size-based rotation (``metrics.jsonl.1`` is the newest old file)."""

    def __init__(
        self, path: Path | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES, keep: int = DEFAULT_KEEP
    ) -> None:
        self._path = path
        self.max_bytes = max_bytes
        self.keep = max(keep, 0)

    @property
    def path(self) -> Path:
        return self._path if self._path is not None else locations.metrics_file()

    def rotated(self, n: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{n}")

    def append(self, record: MetricRecord) -> None:
        text = json.dumps(record.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n"
        try:
            line = text.encode()
        except UnicodeEncodeError:  # a lone surrogate in a model name a relay sent
            line = _SURROGATE.sub("\ufffd", text).encode()
        path = self.path
        try:
            locations.ensure_private_dir(path.parent)
            with self._locked(exclusive=True):
                self._maybe_rotate(path, len(line))
                fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    size = os.fstat(fd).st_size
                    if size and os.pread(fd, 1, size - 1) != b"\n":
                        line = b"\n" + line  # a torn last line from a crash: keep it apart from ours
                    written = os.write(fd, line)
                    if written != len(line):  # a short write on a full disk: finish the line if we can
                        os.write(fd, line[written:])
                finally:
                    os.close(fd)
        except OSError as exc:
            raise StorageError(f"Cannot write the metrics log {path}: {exc.strerror or exc}") from None

    @contextlib.contextmanager
    def _locked(self, *, exclusive: bool) -> Iterator[None]:
        """Hold the lock on the log's folder (no lock file of its own). Without fcntl, without the folder or
        after LOCK_WAIT seconds (a holder stopped by a debugger), go on without it."""
        fd: int | None = None
        if fcntl is not None:
            with contextlib.suppress(OSError):
                fd = os.open(self.path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            if fd is not None:
                _flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            if fd is not None:
                os.close(fd)  # closing drops the lock

    def _maybe_rotate(self, path: Path, incoming: int) -> None:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0 or size + incoming <= self.max_bytes:
            return
        with contextlib.suppress(FileNotFoundError):  # unlocked (no fcntl): another process rotated first
            if self.keep == 0:
                path.unlink()
                return
            for n in range(self.keep - 1, 0, -1):
                older = self.rotated(n)
                if older.exists():
                    os.replace(older, self.rotated(n + 1))
            os.replace(path, self.rotated(1))

    def files(self) -> list[Path]:
        """Existing log files, oldest first."""
        candidates = [self.rotated(n) for n in range(self.keep, 0, -1)] + [self.path]
        return [p for p in candidates if p.exists()]

    def read(self, since: datetime | None = None) -> MetricsRead:
        """All records at or after ``since``, oldest file first; bad lines are skipped and counted."""
        with self._locked(exclusive=False):
            return self._read(since)

    def _read(self, since: datetime | None) -> MetricsRead:
        result = MetricsRead()
        for path in self.files():
            try:
                if since is not None and path != self.path:
                    mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                    if mtime < since:
                        continue  # its newest line is older than since
                for record in self._parse(path, result):
                    if since is None or record.time >= since:
                        result.records.append(record)
            except FileNotFoundError:
                continue  # rotated away while we read
            except OSError as exc:
                raise StorageError(f"Cannot read the metrics log {path}: {exc.strerror or exc}") from None
        return result

    @staticmethod
    def _parse(path: Path, result: MetricsRead) -> Iterator[MetricRecord]:
        with path.open("rb") as fh:
            for raw in fh:
                if not raw.strip():
                    continue
                try:
                    yield MetricRecord.from_json(json.loads(raw))
                except (ValueError, TypeError, KeyError):
                    result.skipped += 1


def _flock(fd: int, mode: int) -> None:
    """Take the lock, waiting at most LOCK_WAIT seconds; past that, return without it."""
    deadline = time.monotonic() + LOCK_WAIT
    pause = 0.0002
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except OSError:
            if time.monotonic() > deadline:
                return
            time.sleep(pause)
            pause = min(pause * 2, 0.01)
