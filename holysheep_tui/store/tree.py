"""The message tree: each message has a parent; a conversation shows the path up from its active leaf."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import replace

from holysheep_tui.store.attachment_rows import write_attachments
from holysheep_tui.store.db import Binding
from holysheep_tui.store.models import MESSAGE_SCHEMA, Conversation
from holysheep_tui.store.rows import INSERT_MESSAGE, message_row
from holysheep_tui.store.schema import to_iso

LEAF = (
    "SELECT coalesce(active_leaf, (SELECT max(id) FROM messages WHERE conversation_id = ?1)) "
    "FROM conversations WHERE id = ?1"
)
PATH_CTE = (
    f"WITH RECURSIVE path(id) AS ({LEAF} "
    "UNION SELECT m.parent_id FROM messages m JOIN path ON m.id = path.id WHERE m.parent_id IS NOT NULL)"
)
"""``path``: the ids of conversation ``?1``'s active path (UNION: a damaged, cyclic tree still ends)."""


COPY_COLUMNS = ", ".join(
    c.name for c in MESSAGE_SCHEMA if c.name not in ("id", "conversation_id", "parent_id", "copied_from")
)
"""What a fork copies of a message as it is; the id, conversation, parent and origin are the copy's own."""


def newest_under(db: sqlite3.Connection | Binding, msg_id: int) -> int:
    """The newest message in the subtree of ``msg_id`` (a leaf: any child would be newer still)."""
    row = db.execute(
        "WITH RECURSIVE sub(id) AS (SELECT ?1 UNION SELECT m.id FROM messages m JOIN sub ON m.parent_id = sub.id) "
        "SELECT max(id) FROM sub",
        (msg_id,),
    ).fetchone()
    return msg_id if row is None or row[0] is None else int(row[0])


def active_leaf(db: sqlite3.Connection | Binding, conv_id: str) -> int | None:
    row = db.execute(LEAF, (conv_id,)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def parent_of(db: sqlite3.Connection | Binding, msg_id: int) -> int | None:
    row = db.execute("SELECT parent_id FROM messages WHERE id = ?", (msg_id,)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def insert_tree(db: Binding, conv: Conversation, columns: str) -> str:
    """Store a whole conversation with its tree: its id unless taken; messages get new ids."""
    conv_id = conv.id
    if not conv_id or db.execute("SELECT 1 FROM conversations WHERE id = ?", (conv_id,)).fetchone():
        conv_id = str(uuid.uuid4())
    db.execute(
        f"INSERT INTO conversations ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            conv_id,
            conv.title,
            int(conv.title_is_user_set),
            to_iso(conv.created),
            to_iso(conv.updated),
            conv.profile,
            conv.system_prompt,
            int(conv.archived),
        ),
    )
    new_ids: dict[int, int] = {}  # the given ids (an export's) -> the store's; parents come first
    chained = all(m.parent_id is None for m in conv.tree)  # no tree given: one message after another
    last: int | None = None
    for m in conv.tree:
        status = "interrupted" if m.status == "streaming" else m.status
        parent = last if chained else None if m.parent_id is None else new_ids.get(m.parent_id)
        row = message_row(replace(m, conversation_id=conv_id, status=status, parent_id=parent))
        last = new_ids[m.id] = int(db.execute(INSERT_MESSAGE, row).lastrowid or 0)
        if m.id in conv.attachments:
            write_attachments(db, last, conv.attachments[m.id])
    leaf = new_ids.get(conv.active_leaf) if conv.active_leaf is not None and not chained else None
    db.execute(
        "UPDATE conversations SET active_leaf = coalesce(?, "
        "(SELECT max(id) FROM messages WHERE conversation_id = ?)) WHERE id = ?",
        (leaf, conv_id, conv_id),
    )
    return conv_id
