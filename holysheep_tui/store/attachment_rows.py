"""Attachments in the history file: one row per file of a message, the bytes once per sha256.

Why BLOBs in the database rather than files in a folder: a prompt and its files are written in one
transaction (no orphan or missing file after a crash), they share the database's 0600 permissions and its
one-file backup, and every process that shares the history sees them with the same locking.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from holysheep_tui.store.db import Binding
from holysheep_tui.store.models import Attachment


def write_attachments(db: Binding, message_id: int, attachments: Sequence[Attachment]) -> None:
    """Store ``attachments`` in order under ``message_id`` (inside the caller's write transaction)."""
    for position, a in enumerate(attachments):
        db.execute("INSERT OR IGNORE INTO attachment_blobs (sha256, data) VALUES (?, ?)", (a.sha256, a.data))
        db.execute(
            "INSERT INTO attachments (message_id, position, name, mime, kind, size, sha256) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (message_id, position, a.name, a.mime, a.kind, a.size, a.sha256),
        )


def read_attachments(
    db: sqlite3.Connection | Binding, message_ids: Iterable[int]
) -> dict[int, tuple[Attachment, ...]]:
    """The attachments of these messages, by message id; messages without any are left out."""
    ids = list(message_ids)
    found: dict[int, list[Attachment]] = {}
    for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows: list[Any] = db.execute(
            "SELECT a.message_id, a.name, a.mime, a.kind, a.sha256, b.data FROM attachments a "
            f"JOIN attachment_blobs b ON b.sha256 = a.sha256 WHERE a.message_id IN ({marks}) "
            "ORDER BY a.message_id, a.position",
            chunk,
        ).fetchall()
        for mid, name, mime, kind, digest, data in rows:
            found.setdefault(mid, []).append(Attachment(name, mime, kind, bytes(data), digest))
    return {mid: tuple(items) for mid, items in found.items()}
