"""Opening the SQLite file: permissions, pragmas, corruption recovery, and sqlite3 error translation."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from holysheep_tui.errors import StorageError
from holysheep_tui.locations import ensure_private_dir
from holysheep_tui.store.migrations import NewerSchemaError, migrate, pending
from holysheep_tui.store.schema import bindable
from holysheep_tui.store.search import words_text

BUSY_TIMEOUT_S = 5.0
SQLITE_HEADER = b"SQLite format 3\x00"

# Primary result codes (the low byte of sqlite_errorcode).
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 10, 11, 13, 14, 26

_FULL_BELOW = 1024 * 1024
_HINT = "This conversation stays on screen but is not being saved."


class _Corrupt(Exception):
    pass


def storage_error(exc: BaseException, path: Path) -> StorageError:
    """A user-facing StorageError for a low-level sqlite3 or OS failure on ``path``."""
    if isinstance(exc, StorageError):
        return exc
    code = getattr(exc, "sqlite_errorcode", -1) & 0xFF
    text = str(exc).lower()
    if (
        code == _SQLITE_FULL
        or "disk is full" in text
        or getattr(exc, "errno", None) == 28
        or ((code == _SQLITE_IOERR or "i/o error" in text) and _nearly_full(path))
    ):
        return StorageError(f"The disk holding {path} is full; history cannot be saved.", hint=_HINT)
    read_only_fs = getattr(exc, "errno", None) == 30 or (  # EROFS: a read-only mount
        (code in (_SQLITE_CANTOPEN, _SQLITE_IOERR) or "unable to open" in text) and _unwritable(path)
    )
    if (
        code in (_SQLITE_READONLY, _SQLITE_PERM)
        or "readonly" in text
        or isinstance(exc, PermissionError)
        or read_only_fs
    ):
        return StorageError(
            f"Cannot write the history database {path}: the file or its folder is read-only.",
            hint=f"Check the permissions, or set HOLYSHEEP_DATA_DIR to a writable folder. {_HINT}",
        )
    if code == _SQLITE_CANTOPEN or "unable to open" in text:
        return StorageError(
            f"Cannot open the history database {path}.",
            hint=f"Check that the folder exists and is writable, or set HOLYSHEEP_DATA_DIR. {_HINT}",
        )
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED) or "locked" in text:
        return StorageError(
            f"The history database {path} stayed locked by another process for over {BUSY_TIMEOUT_S:g} s.",
            hint="Try again; if it persists, close other holysheep windows.",
        )
    if code == _SQLITE_IOERR or "i/o error" in text:
        return StorageError(f"Disk I/O error on the history database {path}.", hint=_HINT)
    return StorageError(f"History database error on {path}: {exc}", hint=_HINT)


def _unwritable(path: Path) -> bool:
    """The folder exists but this process may not write it (a read-only mount, permissions)."""
    return path.parent.is_dir() and not os.access(path.parent, os.W_OK)


def _nearly_full(path: Path) -> bool:
    """An I/O error on a disk with almost no room left (SQLite says I/O error when -shm cannot grow)."""
    try:
        return shutil.disk_usage(path.parent).free < _FULL_BELOW
    except OSError:
        return False


@contextlib.contextmanager
def translated(path: Path) -> Iterator[None]:
    """Turn sqlite3 and OS errors raised inside into StorageError."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise storage_error(exc, path) from exc


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
    try:
        db.create_function("hs_words", 1, words_text, deterministic=True)  # used by the words index triggers
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")  # in WAL: durable across process crashes
    except BaseException:
        db.close()
        raise
    return db


def _is_corruption(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", -1) & 0xFF
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return True
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text


def _check(db: sqlite3.Connection) -> None:
    try:
        rows = db.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        if _is_corruption(exc):
            raise _Corrupt(str(exc)) from exc
        raise
    if [r[0] for r in rows] != ["ok"]:
        raise _Corrupt("; ".join(str(r[0]) for r in rows[:3]))


def _move_aside(path: Path, inode: int | None) -> Path | None:
    """Rename ``path`` and its -wal/-shm to ``<name>.corrupt-<stamp>``; None if someone did it already."""
    try:
        if inode is not None and path.stat().st_ino != inode:
            return None  # another process already replaced it
    except FileNotFoundError:
        return None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    for n in range(2, 100):
        if not target.exists():
            break
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, target.with_name(target.name + suffix))
    os.replace(path, target)
    return target


def _create_file(path: Path) -> None:
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
        os.chmod(path, 0o600)


def _looks_like_sqlite(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(len(SQLITE_HEADER))
    return head in (b"", SQLITE_HEADER)


def open_database(path: Path, *, integrity_check: bool = True) -> tuple[sqlite3.Connection, Path | None]:
    """Open (creating if needed) and migrate the database; move a corrupt one aside first.

    Returns the connection and where a corrupt file was moved, if it was.
    """
    recovered: Path | None = None
    with translated(path):
        ensure_private_dir(path.parent)
        for _attempt in range(3):
            inode = path.stat().st_ino if path.exists() else None
            try:
                if inode is not None and not _looks_like_sqlite(path):
                    raise _Corrupt("not an SQLite file")
                _create_file(path)
                db = _connect(path)
            except sqlite3.DatabaseError as exc:
                if not _is_corruption(exc):
                    raise
                moved = _move_aside(path, inode)
                recovered = moved or recovered
                continue
            except _Corrupt:
                moved = _move_aside(path, inode)
                recovered = moved or recovered
                continue
            try:
                if inode is not None and integrity_check:
                    _check(db)
                migrate(db)
            except (_Corrupt, sqlite3.DatabaseError) as exc:
                db.close()
                if isinstance(exc, sqlite3.DatabaseError) and not _is_corruption(exc):
                    raise
                moved = _move_aside(path, inode)
                recovered = moved or recovered
                continue
            except NewerSchemaError as exc:
                db.close()
                raise StorageError(
                    f"The history database {path} was written by a newer holysheep-tui "
                    f"(unknown schema steps: {exc}).",
                    hint="Upgrade holysheep-tui, or set HOLYSHEEP_DATA_DIR to another folder.",
                ) from None
            except BaseException:
                db.close()
                raise
            return db, recovered
    raise StorageError(f"Could not create a usable history database at {path}.", hint=_HINT)


def open_read_only(path: Path) -> sqlite3.Connection | None:
    """A connection that only reads ``path``: for a full disk or a read-only file or mount, where the
    normal open cannot write. None when the file is missing, not SQLite, or needs a migration first.

    ``mode=ro`` first; ``immutable=1`` (no -shm, no locks) when even that needs a write."""
    try:
        if not path.is_file() or path.stat().st_size == 0 or not _looks_like_sqlite(path):
            return None
        uri = path.resolve().as_uri()
    except (OSError, ValueError):
        return None
    for params in ("mode=ro", "mode=ro&immutable=1"):
        try:
            db = sqlite3.connect(
                f"{uri}?{params}",
                uri=True,
                isolation_level=None,
                timeout=BUSY_TIMEOUT_S,
                check_same_thread=False,
            )
        except sqlite3.Error:
            continue
        try:
            db.create_function("hs_words", 1, words_text, deterministic=True)
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            if not pending(db):  # the first read: fails here when the file cannot be read this way
                return db
        except (sqlite3.Error, NewerSchemaError):
            pass
        db.close()
    return None


class Binding:
    """The connection as writes use it: a value SQLite cannot bind (a lone surrogate from a hostile relay,
    an integer past 64 bits) is made bindable and the statement run again; valid values cost nothing."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, params)
        except (UnicodeEncodeError, OverflowError):
            return self._db.execute(sql, bindable(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> sqlite3.Cursor:
        return self._db.executemany(sql, [bindable(row) for row in rows])
