"""The conversation history: one SQLite file shared safely by every holysheep process.

Every write is its own short ``BEGIN IMMEDIATE`` transaction, committed before the method returns, so
a prompt is on disk before the request leaves and a killed process loses only unflushed answer text.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from holysheep_tui import locations
from holysheep_tui.errors import StorageError, UsageError
from holysheep_tui.i18n import _
from holysheep_tui.store.attachment_rows import read_attachments, write_attachments
from holysheep_tui.store.db import Binding, open_database, open_read_only, storage_error, translated
from holysheep_tui.store.liveness import WriterLock
from holysheep_tui.store.models import (
    STATUSES,
    Attachment,
    Conversation,
    ConversationNotFoundError,
    ConversationSummary,
    Message,
    MessageStatus,
    SearchHit,
)
from holysheep_tui.store.rows import MESSAGE_COLUMNS, message_from
from holysheep_tui.store.schema import to_iso
from holysheep_tui.store.search import make_snippet, query_terms, search_sql
from holysheep_tui.store.titles import clean_title, title_from_prompt
from holysheep_tui.store.tree import COPY_COLUMNS, PATH_CTE, active_leaf, insert_tree, newest_under, parent_of

FINAL_STATUSES = frozenset(s for s in STATUSES if s != "streaming")

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_CONVERSATION_COLUMNS = "id, title, title_is_user_set, created, updated, profile, system_prompt, archived"


def now_iso() -> str:
    return to_iso(datetime.now(UTC))


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


class HistoryStore:
    """Use from one thread at a time; any number of processes may share the file."""

    def __init__(
        self,
        db: sqlite3.Connection,
        path: Path,
        recovered_from: Path | None = None,
        *,
        read_only: StorageError | None = None,
    ) -> None:
        self._db = db
        self.path = path
        self.recovered_from = recovered_from
        self.read_only = read_only
        """Why this store can only read (a full disk, a read-only file): every write raises it. None: it writes."""
        self._lock = threading.RLock()
        self._writer = WriterLock(path)

    @classmethod
    def open(cls, path: Path | None = None, *, integrity_check: bool = True) -> HistoryStore:
        """Open or create the database (default: the user's data dir). Corrupt files are moved aside,
        and ``recovered_from`` says where. Raises StorageError when the file cannot be used.

        When the file exists but cannot be written (a full disk, a read-only file or mount), the store
        opens for reading only and ``read_only`` says why; its writes raise that StorageError.

        ``integrity_check`` runs ``PRAGMA quick_check`` (about 0.9 s on 500,000 messages)."""
        path = path or locations.history_db()
        try:
            db, recovered = open_database(path, integrity_check=integrity_check)
        except StorageError as exc:
            reader = open_read_only(path)
            if reader is None:
                raise
            return cls(reader, path, read_only=exc)
        return cls(db, path, recovered)

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._writer.release()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- plumbing ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[Binding]:
        if self.read_only is not None:
            raise StorageError(self.read_only.message, hint=self.read_only.hint)
        with self._lock, translated(self.path):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield Binding(self._db)
                self._db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock, translated(self.path):
            yield self._db

    @staticmethod
    def _require(db: sqlite3.Connection | Binding, conv_id: str) -> tuple[Any, ...]:
        row = db.execute(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ?", (conv_id,)
        ).fetchone()
        if row is None:
            raise ConversationNotFoundError(conv_id)
        return tuple(row)

    # ---- conversations -------------------------------------------------------------------------

    def create_conversation(
        self,
        *,
        profile: str,
        title: str | None = None,
        system_prompt: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> str:
        conv_id = str(uuid.uuid4())
        title = clean_title(title) if title else None
        stamp = now_iso()
        with self._write() as db:
            db.execute(
                f"INSERT INTO conversations ({_CONVERSATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                (conv_id, title or None, int(bool(title)), stamp, stamp, profile, system_prompt),
            )
            if temperature is not None or max_tokens is not None:
                db.execute(
                    "UPDATE conversations SET temperature = ?, max_tokens = ? WHERE id = ?",
                    (temperature, max_tokens, conv_id),
                )
        return conv_id

    def rename(self, conv_id: str, title: str) -> None:
        """Set a title by hand; it is no longer taken from the first prompt."""
        cleaned = clean_title(title)
        if not cleaned:
            raise UsageError("A conversation title cannot be empty.")
        self._update_conversation(conv_id, "title = ?, title_is_user_set = 1", (cleaned,))

    def set_archived(self, conv_id: str, archived: bool = True) -> None:
        self._update_conversation(conv_id, "archived = ?", (int(archived),))

    def set_system_prompt(self, conv_id: str, system_prompt: str | None) -> None:
        self._update_conversation(conv_id, "system_prompt = ?", (system_prompt or None,))

    def set_settings(self, conv_id: str, *, temperature: float | None, max_tokens: int | None) -> None:
        """The conversation's temperature and max tokens (None: not sent)."""
        self._update_conversation(conv_id, "temperature = ?, max_tokens = ?", (temperature, max_tokens))

    def touch(self, conv_id: str) -> None:
        """Mark the conversation as just used (it moves to the top of the list)."""
        self._update_conversation(conv_id, "updated = ?", (now_iso(),))

    def _update_conversation(self, conv_id: str, assignments: str, params: tuple[Any, ...]) -> None:
        with self._write() as db:
            cur = db.execute(f"UPDATE conversations SET {assignments} WHERE id = ?", (*params, conv_id))
            if cur.rowcount == 0:
                raise ConversationNotFoundError(conv_id)

    def delete_conversation(self, conv_id: str) -> None:
        """Delete the conversation, its messages and their attachments; a file's bytes go with the last
        message that holds them (blobs are shared by sha256 across messages, forks and conversations)."""
        with self._write() as db:
            digests = [
                row[0]
                for row in db.execute(
                    "SELECT DISTINCT a.sha256 FROM attachments a JOIN messages m ON m.id = a.message_id "
                    "WHERE m.conversation_id = ?",
                    (conv_id,),
                ).fetchall()
            ]
            if db.execute("DELETE FROM conversations WHERE id = ?", (conv_id,)).rowcount == 0:
                raise ConversationNotFoundError(conv_id)
            for digest in digests:
                db.execute(
                    "DELETE FROM attachment_blobs WHERE sha256 = ? "
                    "AND NOT EXISTS (SELECT 1 FROM attachments WHERE sha256 = ?)",
                    (digest, digest),
                )

    def resolve_id(self, id_or_prefix: str) -> str:
        """The full id of the one conversation whose id is, or starts with, ``id_or_prefix``.

        ASCII letters match in either case; any other character (an imported id's 'Ä') matches exactly."""
        text = id_or_prefix.strip()
        if not text:
            raise ConversationNotFoundError(id_or_prefix)
        folded = text.translate(_ASCII_LOWER)
        with self._read() as db:
            for exact in dict.fromkeys((text, folded)):
                if db.execute("SELECT 1 FROM conversations WHERE id = ?", (exact,)).fetchone():
                    return exact
            # SQLite's lower() folds ASCII only, as _ASCII_LOWER does: both sides alike, whatever the script.
            rows = db.execute(
                "SELECT id FROM conversations WHERE lower(substr(id, 1, ?)) = ? LIMIT 2",
                (len(folded), folded),
            ).fetchall()
        if not rows:
            raise ConversationNotFoundError(id_or_prefix)
        if len(rows) > 1:
            raise UsageError(
                _("More than one conversation id starts with {prefix!r}.").format(prefix=id_or_prefix),
                hint=_("Give more characters."),
            )
        return str(rows[0][0])

    def last_conversation_id(self, *, profile: str | None = None) -> str | None:
        """The most recently updated conversation that is not archived (of ``profile`` when given)."""
        with self._read() as db:
            row = db.execute(
                "SELECT id FROM conversations WHERE archived = 0 AND (? IS NULL OR profile = ?) "
                "ORDER BY updated DESC LIMIT 1",
                (profile, profile),
            ).fetchone()
        return None if row is None else str(row[0])

    def list_conversations(
        self, *, limit: int = 200, offset: int = 0, include_archived: bool = False
    ) -> list[ConversationSummary]:
        """Newest first, with message count, models used and cost total."""
        with self._read() as db:
            rows = db.execute(
                """
                WITH page AS (
                    SELECT id, title, created, updated, profile, archived FROM conversations
                    WHERE archived = 0 OR ? ORDER BY updated DESC LIMIT ? OFFSET ?
                )
                SELECT page.*, count(m.id),
                       group_concat(DISTINCT CASE WHEN m.role = 'assistant' THEN m.model END),
                       total(CASE WHEN m.copied_from IS NULL THEN m.cost_usd END),
                       max(CASE WHEN m.copied_from IS NULL THEN coalesce(m.cost_estimated, 0) ELSE 0 END)
                FROM page LEFT JOIN messages m ON m.conversation_id = page.id
                GROUP BY page.id ORDER BY page.updated DESC
                """,
                (int(include_archived), limit, offset),
            ).fetchall()
        return [
            ConversationSummary(
                id=r[0],
                title=r[1],
                created=_dt(r[2]),
                updated=_dt(r[3]),
                profile=r[4],
                archived=bool(r[5]),
                message_count=r[6],
                models=tuple(r[7].split(",")) if r[7] else (),
                cost_usd=float(r[8]),
                cost_estimated=bool(r[9]),
            )
            for r in rows
        ]

    def get_conversation(self, conv_id: str, *, last: int | None = None) -> Conversation:
        """The conversation with its messages (only the latest ``last`` of them if given)."""
        with self._read() as db:
            db.execute("BEGIN")
            try:
                row = self._require(db, conv_id)
                settings = db.execute(
                    "SELECT temperature, max_tokens FROM conversations WHERE id = ?", (conv_id,)
                ).fetchone()
                messages = self._messages(db, conv_id, before_id=None, limit=last)
                leaf = active_leaf(db, conv_id)
                off_path = self._off_path(db, conv_id) if last is None else []
                files = read_attachments(db, [m.id for m in (*messages, *off_path) if m.role == "user"])
            finally:
                db.execute("COMMIT")
        return Conversation(
            id=row[0],
            title=row[1],
            title_is_user_set=bool(row[2]),
            created=_dt(row[3]),
            updated=_dt(row[4]),
            profile=row[5],
            system_prompt=row[6],
            archived=bool(row[7]),
            temperature=settings[0],
            max_tokens=settings[1],
            messages=tuple(messages),
            off_path=tuple(off_path),
            active_leaf=leaf,
            attachments=files,
        )

    def get_messages(
        self, conv_id: str, *, before_id: int | None = None, limit: int | None = None
    ) -> list[Message]:
        """The active path's messages in order; with ``limit``, the latest ``limit`` older than ``before_id``."""
        with self._read() as db:
            return self._messages(db, conv_id, before_id=before_id, limit=limit)

    def count_messages(self, conv_id: str) -> int:
        with self._read() as db:
            return int(
                db.execute("SELECT count(*) FROM messages WHERE conversation_id = ?", (conv_id,)).fetchone()[
                    0
                ]
            )

    @staticmethod
    def _messages(
        db: sqlite3.Connection, conv_id: str, *, before_id: int | None, limit: int | None
    ) -> list[Message]:
        cur = db.cursor()
        cur.row_factory = sqlite3.Row  # read by column name
        rows = cur.execute(
            f"""{PATH_CTE} SELECT * FROM (
                    SELECT {MESSAGE_COLUMNS} FROM messages WHERE id IN (SELECT id FROM path)
                    AND conversation_id = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3
                ) ORDER BY id""",
            (conv_id, before_id, -1 if limit is None else limit),
        ).fetchall()
        return [message_from(r) for r in rows]

    @staticmethod
    def _off_path(db: sqlite3.Connection, conv_id: str) -> list[Message]:
        cur = db.cursor()
        cur.row_factory = sqlite3.Row
        rows = cur.execute(
            f"{PATH_CTE} SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 "
            "AND id NOT IN (SELECT id FROM path WHERE id IS NOT NULL) ORDER BY id",
            (conv_id,),
        ).fetchall()
        return [message_from(r) for r in rows]

    # ---- branches ------------------------------------------------------------------------------

    def set_active(self, conv_id: str, msg_id: int, *, exact: bool = False) -> int:
        """Show the branch through ``msg_id``: the active path becomes the one ending at the newest
        message under it (where that branch was last used), or at ``msg_id`` itself when ``exact`` (to
        branch off there). Returns the new active leaf."""
        with self._write() as db:
            self._require(db, conv_id)
            if not db.execute(
                "SELECT 1 FROM messages WHERE id = ? AND conversation_id = ?", (msg_id, conv_id)
            ).fetchone():
                raise UsageError(f"Message {msg_id} is not in conversation {conv_id}.")
            leaf = msg_id if exact else newest_under(db, msg_id)
            db.execute("UPDATE conversations SET active_leaf = ? WHERE id = ?", (leaf, conv_id))
            return leaf

    def siblings(self, msg_id: int) -> list[int]:
        """The ids of ``msg_id`` and its alternatives (same conversation, parent and role), oldest first."""
        with self._read() as db:
            rows = db.execute(
                "SELECT s.id FROM messages m JOIN messages s ON s.conversation_id = m.conversation_id "
                "AND s.role = m.role AND s.parent_id IS m.parent_id WHERE m.id = ? ORDER BY s.id",
                (msg_id,),
            ).fetchall()
        return [int(r[0]) for r in rows]

    def fork(self, conv_id: str, msg_id: int, *, include: bool = True) -> str:
        """A new conversation holding the path from the root to ``msg_id`` (to its parent when not
        ``include``), copied; the original is untouched. Copies name their originals, so the money
        paid for them counts once, in the original. Returns the new conversation's id."""
        with self._write() as db:
            row = self._require(db, conv_id)
            chain: list[int] = []
            cursor: int | None = msg_id if include else parent_of(db, msg_id)
            if not db.execute(
                "SELECT 1 FROM messages WHERE id = ? AND conversation_id = ?", (msg_id, conv_id)
            ).fetchone():
                raise UsageError(f"Message {msg_id} is not in conversation {conv_id}.")
            while cursor is not None and cursor not in chain:
                chain.append(cursor)
                cursor = parent_of(db, cursor)
            new_id = str(uuid.uuid4())
            stamp = now_iso()
            title = row[1]
            db.execute(
                f"INSERT INTO conversations ({_CONVERSATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                (
                    new_id,
                    f"{title} (fork)" if title else None,
                    int(bool(title)),
                    stamp,
                    stamp,
                    row[5],
                    row[6],
                ),
            )
            parent: int | None = None
            for old in reversed(chain):
                cur = db.execute(
                    f"INSERT INTO messages ({COPY_COLUMNS}, conversation_id, parent_id, copied_from) "
                    f"SELECT {COPY_COLUMNS}, ?, ?, coalesce(copied_from, id) FROM messages WHERE id = ?",
                    (new_id, parent, old),
                )
                parent = int(cur.lastrowid or 0)
                db.execute(
                    "INSERT INTO attachments (message_id, position, name, mime, kind, size, sha256) "
                    "SELECT ?, position, name, mime, kind, size, sha256 FROM attachments WHERE message_id = ?",
                    (parent, old),
                )
            db.execute("UPDATE conversations SET active_leaf = ? WHERE id = ?", (parent, new_id))
            return new_id

    # ---- messages ------------------------------------------------------------------------------

    def add_user_message(
        self,
        conv_id: str,
        content: str,
        *,
        model: str | None = None,
        sibling_of: int | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> int:
        """Record a prompt (committed on return) after the active leaf, or next to prompt ``sibling_of``
        (an edit), with its ``attachments``; it becomes the active leaf. The first prompt names an
        untitled conversation."""
        stamp = now_iso()
        with self._write() as db:
            conv = self._require(db, conv_id)
            parent = active_leaf(db, conv_id) if sibling_of is None else parent_of(db, sibling_of)
            cur = db.execute(
                "INSERT INTO messages (conversation_id, role, content, model, status, created, parent_id) "
                "VALUES (?, 'user', ?, ?, 'complete', ?, ?)",
                (conv_id, content, model, stamp, parent),
            )
            title = conv[1]
            if title is None and not conv[2]:
                title = title_from_prompt(content)
            db.execute(
                "UPDATE conversations SET updated = ?, title = ?, active_leaf = ? WHERE id = ?",
                (stamp, title, cur.lastrowid, conv_id),
            )
            write_attachments(db, int(cur.lastrowid or 0), attachments)
            return int(cur.lastrowid or 0)

    def add_summary(
        self,
        conv_id: str,
        content: str,
        *,
        model: str,
        cost_usd: float | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> int:
        """Record a compaction's summary (role system, kind summary) after the active leaf; it becomes the
        active leaf. It stands for the messages above it on the path, which stay as they are."""
        stamp = now_iso()
        with self._write() as db:
            self._require(db, conv_id)
            cur = db.execute(
                "INSERT INTO messages (conversation_id, role, content, model, status, created, parent_id, kind, "
                "cost_usd, prompt_tokens, completion_tokens) VALUES (?, 'system', ?, ?, 'complete', ?, ?, 'summary', ?, ?, ?)",
                (
                    conv_id,
                    content,
                    model,
                    stamp,
                    active_leaf(db, conv_id),
                    cost_usd,
                    prompt_tokens,
                    completion_tokens,
                ),
            )
            db.execute(
                "UPDATE conversations SET updated = ?, active_leaf = ? WHERE id = ?",
                (stamp, cur.lastrowid, conv_id),
            )
            return int(cur.lastrowid or 0)

    def start_answer(self, conv_id: str, *, model: str, parent_id: int | None = None) -> int:
        """Create the answer's row, status 'streaming', before its text arrives (committed on return),
        after the active leaf or under prompt ``parent_id`` (a new answer to it); it becomes the active leaf."""
        try:
            writer: str | None = self._writer.acquire()
        except OSError:
            writer = None  # without a lock another process may call it interrupted; the text is still kept
        stamp = now_iso()
        with self._write() as db:
            self._require(db, conv_id)
            parent = active_leaf(db, conv_id) if parent_id is None else parent_id
            cur = db.execute(
                "INSERT INTO messages (conversation_id, role, content, model, status, created, writer, "
                "parent_id) VALUES (?, 'assistant', '', ?, 'streaming', ?, ?, ?)",
                (conv_id, model, stamp, writer, parent),
            )
            db.execute(
                "UPDATE conversations SET updated = ?, active_leaf = ? WHERE id = ?",
                (stamp, cur.lastrowid, conv_id),
            )
            return int(cur.lastrowid or 0)

    def update_answer(self, msg_id: int, *, content: str, reasoning: str = "") -> None:
        """Flush the answer's text so far (committed on return). A deleted row is ignored, and so is an
        answer already finished: a flush that lands late never overwrites the final text."""
        with self._write() as db:
            db.execute(
                "UPDATE messages SET content = ?, reasoning = ? WHERE id = ? AND status = 'streaming'",
                (content, reasoning, msg_id),
            )

    def finish_answer(
        self,
        msg_id: int,
        *,
        status: MessageStatus,
        content: str,
        reasoning: str = "",
        model: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        cached_tokens: int | None = None,
        cost_usd: float | None = None,
        cost_estimated: bool = False,
        ttft_ms: int | None = None,
        total_ms: int | None = None,
        error_text: str | None = None,
    ) -> None:
        """Store the final text, status and numbers. ``model`` (the one the server reported) replaces
        the requested one when given. A deleted row is ignored."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"not a final status: {status!r}")
        with self._write() as db:
            db.execute(
                """UPDATE messages SET status = ?, content = ?, reasoning = ?, model = coalesce(?, model),
                       prompt_tokens = ?, completion_tokens = ?, cached_tokens = ?, cost_usd = ?,
                       cost_estimated = ?, ttft_ms = ?, total_ms = ?, error_text = ?, writer = NULL
                   WHERE id = ?""",
                (
                    status,
                    content,
                    reasoning,
                    model,
                    prompt_tokens,
                    completion_tokens,
                    cached_tokens,
                    cost_usd,
                    int(cost_estimated),
                    ttft_ms,
                    total_ms,
                    error_text,
                    msg_id,
                ),
            )
            db.execute(
                "UPDATE conversations SET updated = ? WHERE id = "
                "(SELECT conversation_id FROM messages WHERE id = ?)",
                (now_iso(), msg_id),
            )

    def recover_interrupted(self) -> int:
        """Mark answers left 'streaming' by processes that died as 'interrupted'; return how many."""
        with self._read() as db:
            writers = [
                r[0] for r in db.execute("SELECT DISTINCT writer FROM messages WHERE status = 'streaming'")
            ]
        dead = [w for w in writers if not self._writer.is_alive(w)]
        if not dead:
            return 0
        tokens = [w for w in dead if w is not None]
        marks = ",".join("?" * len(tokens)) or "NULL"
        null_clause = " OR writer IS NULL" if None in dead else ""
        with self._write() as db:
            cur = db.execute(
                "UPDATE messages SET status = 'interrupted', writer = NULL "
                f"WHERE status = 'streaming' AND (writer IN ({marks}){null_clause})",
                tokens,
            )
            return int(cur.rowcount)

    # ---- search and import -----------------------------------------------------------------------

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Messages containing every whitespace-separated term of ``query``, newest first."""
        terms = query_terms(query)
        if not terms or limit <= 0:
            return []
        sql, params = search_sql(terms, limit)
        with self._read() as db:
            rows = db.execute(sql, params).fetchall()
        hits = []
        for msg_id, conv_id, title, role, created, content in rows:
            snippet, spans = make_snippet(content, terms)
            hits.append(SearchHit(conv_id, title, msg_id, role, _dt(created), snippet, spans))
        return hits

    def insert_conversation(self, conv: Conversation) -> str:
        """Store a whole conversation. Keeps its id unless taken; messages get new ids."""
        with self._write() as db:
            return insert_tree(db, conv, _CONVERSATION_COLUMNS)

    def insert_import(self, convs: Sequence[Conversation], digest: str) -> list[str]:
        """Store the conversations of an import file in one transaction (all or none); the ids added.

        ``digest`` names the file's text. Importing it again adds only what is no longer stored (a
        conversation deleted since), so a rerun never duplicates."""
        with self._write() as db:
            row = db.execute("SELECT conversations FROM imports WHERE digest = ?", (digest,)).fetchone()
            before: list[str] = json.loads(row[0]) if row else []
            ids: list[str] = []
            added: list[str] = []
            for n, conv in enumerate(convs):
                known = before[n] if n < len(before) else None
                if known and db.execute("SELECT 1 FROM conversations WHERE id = ?", (known,)).fetchone():
                    ids.append(known)
                    continue
                ids.append(insert_tree(db, conv, _CONVERSATION_COLUMNS))
                added.append(ids[-1])
            db.execute(
                "INSERT OR REPLACE INTO imports (digest, imported, conversations) VALUES (?, ?, ?)",
                (digest, now_iso(), json.dumps(ids)),
            )
        return added


__all__ = ["HistoryStore", "now_iso", "storage_error", "to_iso"]
