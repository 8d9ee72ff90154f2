"""Which process is still writing an answer.

A store that starts an answer holds an advisory lock on ``<db>.writers/<token>.lock`` for as long as it
is open; the kernel drops the lock when the process dies, even by SIGKILL. A 'streaming' row whose
writer's lock is free was left by a dead process. Without fcntl (Windows) every other writer counts as dead.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_TOKEN = re.compile(r"^[0-9a-f]{32}$")


class WriterLock:
    def __init__(self, db_path: Path) -> None:
        self.dir = db_path.with_name(db_path.name + ".writers")
        self.token = uuid.uuid4().hex
        self._fd: int | None = None

    def acquire(self) -> str:
        """Hold this store's lock (idempotent); return the token to record on rows it writes."""
        if self._fd is None and fcntl is not None:
            self.dir.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(self.dir / f"{self.token}.lock", os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise
            self._fd = fd
        return self.token

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.dir / f"{self.token}.lock")
        except OSError:
            pass
        os.close(self._fd)  # closing drops the flock
        self._fd = None

    def is_alive(self, token: str | None) -> bool:
        """Whether the writer that recorded ``token`` still runs. Reaps the lock files of dead writers."""
        if token == self.token:
            return True
        if token is None or fcntl is None or not _TOKEN.match(token):
            return False
        path = self.dir / f"{token}.lock"
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True  # held by a live process
        finally:
            os.close(fd)
        try:
            os.unlink(path)
        except OSError:
            pass
        return False
