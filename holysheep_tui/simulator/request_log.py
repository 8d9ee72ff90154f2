"""What the simulator saw: one ``RecordedRequest`` per request, kept in a log that tests wait on."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(slots=True)
class RecordedRequest:
    """One request as the server saw it; ``headers`` names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    started: float
    peer: str = ""  # client address:port; equal for requests on one keep-alive connection
    status: int | None = None
    completed: bool = False
    client_disconnected: bool = False
    finished: bool = False
    chunks_sent: int = 0
    tokens_sent: int = 0
    sent: list[tuple[float, int]] = field(default_factory=list)
    """(time.monotonic(), tokens sent so far) after each write of the answer: when each token left."""


class RequestLog:
    """Recorded requests, attempt counts and the simulator's own failures, behind one condition."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._records: list[RecordedRequest] = []
        self._attempts: dict[str, int] = {}
        self._errors: list[str] = []

    # ---- read by tests, through RelaySimulator ----

    def snapshot(self) -> list[RecordedRequest]:
        """Copies of the records, safe to read while requests are still being handled."""
        with self._cond:
            return [replace(r, headers=dict(r.headers)) for r in self._records]

    def errors(self) -> list[str]:
        with self._cond:
            return list(self._errors)

    def wait(
        self, ready: Callable[[list[RecordedRequest]], bool], what: str, timeout: float
    ) -> list[RecordedRequest]:
        """Block until ``ready(records)`` holds; TimeoutError otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: ready(self._records), timeout):
                raise TimeoutError(f"simulator: waited {timeout:g}s for {what}, have {len(self._records)}")
        return self.snapshot()

    def attempts(self, key: str) -> int:
        with self._cond:
            return self._attempts.get(key, 0)

    def reset(self) -> None:
        with self._cond:
            self._records.clear()
            self._attempts.clear()

    # ---- written by the request handler ----

    def record(self, rec: RecordedRequest) -> None:
        with self._cond:
            self._records.append(rec)
            self._cond.notify_all()

    def update(self, rec: RecordedRequest, **changes: Any) -> None:
        with self._cond:
            for name, value in changes.items():
                setattr(rec, name, value)
            self._cond.notify_all()

    def count(self, rec: RecordedRequest, events: int, tokens: int) -> None:
        with self._cond:
            rec.chunks_sent += events
            rec.tokens_sent += tokens
            rec.sent.append((time.monotonic(), rec.tokens_sent))

    def next_attempt(self, key: str) -> int:
        with self._cond:
            self._attempts[key] = self._attempts.get(key, 0) + 1
            return self._attempts[key]

    def note_error(self, text: str) -> None:
        with self._cond:
            self._errors.append(text)
