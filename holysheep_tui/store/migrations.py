"""Schema migrations: an ordered list of named functions, each applied once and recorded.

Never edit or reorder a migration that has shipped; append a new one.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


class NewerSchemaError(Exception):
    """The database was migrated by a newer release than this one."""


def pending(db: sqlite3.Connection) -> list[Migration]:
    """The migrations not yet applied, found by reading only. Raises NewerSchemaError."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").fetchone():
        done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    else:
        done = set()
    unknown = done - {fn.__name__ for fn in MIGRATIONS}
    if unknown:
        raise NewerSchemaError(", ".join(sorted(unknown)))
    return [fn for fn in MIGRATIONS if fn.__name__ not in done]


def migrate(db: sqlite3.Connection) -> int:
    """Apply pending migrations in one write transaction; return how many ran.

    An up-to-date database is only read: opening it needs no write (a full or read-only disk).
    ``db`` must be in autocommit mode (``isolation_level=None``).
    """
    if not pending(db):
        return 0
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)")
        todo = pending(db)  # again, under the write lock: another process may have migrated meanwhile
        for fn in todo:
            fn(db)
            db.execute(
                "INSERT INTO _migrations (name, applied) VALUES (?, ?)",
                (fn.__name__, datetime.now(UTC).isoformat()),
            )
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        db.execute("COMMIT")
    except BaseException:
        # A failed COMMIT (a full disk) has already rolled back: keep the real error, not ROLLBACK's.
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise
    return len(todo)


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            title TEXT,
            title_is_user_set INTEGER NOT NULL DEFAULT 0,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            profile TEXT NOT NULL,
            system_prompt TEXT,
            archived INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    db.execute("CREATE INDEX conversations_updated ON conversations (archived, updated)")
    db.execute(
        """
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content TEXT NOT NULL DEFAULT '',
            reasoning TEXT NOT NULL DEFAULT '',
            model TEXT,
            status TEXT NOT NULL DEFAULT 'complete'
                CHECK (status IN ('complete', 'streaming', 'stopped', 'interrupted', 'error')),
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            cached_tokens INTEGER,
            cost_usd REAL,
            cost_estimated INTEGER NOT NULL DEFAULT 0,
            ttft_ms INTEGER,
            total_ms INTEGER,
            error_text TEXT,
            created TEXT NOT NULL,
            writer TEXT
        )
        """
    )
    db.execute("CREATE INDEX messages_conversation ON messages (conversation_id, id)")
    db.execute("CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming'")


@migration
def m002_fts(db: sqlite3.Connection) -> None:
    # trigram splits Chinese (and any script) into 3-character tokens; shorter queries use instr().
    db.execute(
        "CREATE VIRTUAL TABLE messages_fts USING fts5("
        "content, content='messages', content_rowid='id', tokenize='trigram')"
    )
    db.execute(
        """
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages
        WHEN old.content IS NOT new.content BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
            INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
        END
        """
    )


@migration
def m003_words(db: sqlite3.Connection) -> None:
    # Terms shorter than a trigram (most Chinese words are two characters: 成本, 延迟) need their own
    # index: one token per CJK character and per Latin word (words_text), matched as a phrase.
    db.execute(
        "CREATE VIRTUAL TABLE messages_words USING fts5("
        "content, content='', tokenize='unicode61 remove_diacritics 0')"
    )
    db.execute("INSERT INTO messages_words (rowid, content) SELECT id, hs_words(content) FROM messages")
    db.execute(
        """
        CREATE TRIGGER messages_words_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_words (rowid, content) VALUES (new.id, hs_words(new.content));
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER messages_words_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_words (messages_words, rowid, content)
            VALUES ('delete', old.id, hs_words(old.content));
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER messages_words_update AFTER UPDATE OF content ON messages
        WHEN old.content IS NOT new.content BEGIN
            INSERT INTO messages_words (messages_words, rowid, content)
            VALUES ('delete', old.id, hs_words(old.content));
            INSERT INTO messages_words (rowid, content) VALUES (new.id, hs_words(new.content));
        END
        """
    )


@migration
def m004_imports(db: sqlite3.Connection) -> None:
    # Files imported (sha256 of their text), so importing one again adds nothing.
    db.execute(
        "CREATE TABLE imports (digest TEXT PRIMARY KEY, imported TEXT NOT NULL, conversations TEXT NOT NULL)"
    )


@migration
def m005_tree(db: sqlite3.Connection) -> None:
    # Messages form a tree: each has a parent (existing ones are chained in their order), and a
    # conversation shows the path from its active leaf up to the root.
    db.execute("ALTER TABLE messages ADD COLUMN parent_id INTEGER")
    db.execute("ALTER TABLE conversations ADD COLUMN active_leaf INTEGER")
    db.execute(
        "UPDATE messages SET parent_id = (SELECT max(p.id) FROM messages p "
        "WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id)"
    )
    db.execute(
        "UPDATE conversations SET active_leaf = "
        "(SELECT max(m.id) FROM messages m WHERE m.conversation_id = conversations.id)"
    )
    db.execute("CREATE INDEX messages_parent ON messages (parent_id)")


@migration
def m006_copies(db: sqlite3.Connection) -> None:
    # A fork copies the path it starts from into a new conversation; each copy names the message it
    # was copied from, and totals count only the original (it was paid once).
    db.execute("ALTER TABLE messages ADD COLUMN copied_from INTEGER")


@migration
def m007_conversation_settings(db: sqlite3.Connection) -> None:
    # Sampling settings chosen for a conversation (F3), sent with each of its requests; NULL: the relay's default.
    db.execute("ALTER TABLE conversations ADD COLUMN temperature REAL")
    db.execute("ALTER TABLE conversations ADD COLUMN max_tokens INTEGER")


@migration
def m008_summaries(db: sqlite3.Connection) -> None:
    # A message's kind: 'summary' marks a compaction's summary (role 'system'), sent instead of the
    # messages above it on the path (back to the previous summary); those stay in history, search, exports.
    db.execute("ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'message'")


@migration
def m009_attachments(db: sqlite3.Connection) -> None:
    # Files sent with prompts: one row per file of a message (in order), the bytes once per sha256 as a
    # BLOB in this same 0600 file, so a message and its files are written in one transaction.
    db.execute(
        "CREATE TABLE attachment_blobs (sha256 TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID"
    )
    db.execute(
        "CREATE TABLE attachments ("
        "message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE, position INTEGER NOT NULL, "
        "name TEXT NOT NULL, mime TEXT NOT NULL, kind TEXT NOT NULL, size INTEGER NOT NULL, "
        "sha256 TEXT NOT NULL REFERENCES attachment_blobs (sha256), PRIMARY KEY (message_id, position))"
    )
