"""Message rows: the ``messages`` table's columns as the message schema derives them, and the conversions."""

from __future__ import annotations

import sqlite3
from typing import Any

from holysheep_tui.store.models import MESSAGE_SCHEMA, Message
from holysheep_tui.store.schema import sql_reader, sql_writer

MESSAGE_COLUMNS = ", ".join(c.name for c in MESSAGE_SCHEMA)
_MESSAGE_READERS = tuple((c.name, sql_reader(c)) for c in MESSAGE_SCHEMA)
# Inserts leave out the id: SQLite numbers the rows.
_MESSAGE_WRITERS = tuple((c.name, sql_writer(c)) for c in MESSAGE_SCHEMA if c.name != "id")
INSERT_MESSAGE = (
    f"INSERT INTO messages ({', '.join(name for name, _ in _MESSAGE_WRITERS)}) "
    f"VALUES ({', '.join('?' * len(_MESSAGE_WRITERS))})"
)


def message_from(row: sqlite3.Row) -> Message:
    return Message(
        **{name: row[name] if read is None else read(row[name]) for name, read in _MESSAGE_READERS}
    )


def message_row(m: Message) -> tuple[Any, ...]:
    return tuple(
        getattr(m, name) if write is None else write(getattr(m, name)) for name, write in _MESSAGE_WRITERS
    )
