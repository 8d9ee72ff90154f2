"""Full-text search: turning a user's query into SQL, and cutting marked snippets.

Messages are indexed by FTS5 with the trigram tokenizer, which finds any substring of three or more
characters in any script (Chinese included). Shorter terms are matched with instr(); a query made only
of short terms scans messages newest first and stops at the limit.
"""

from __future__ import annotations

import re

from holysheep_tui.textsafety import strip_control

MAX_TERMS = 8
MAX_TERM_CHARS = 200
SNIPPET_BEFORE = 24
SNIPPET_CHARS = 100
TRIGRAM = 3

_COLUMNS = (
    "m.id, m.conversation_id, c.title, m.role, m.created, m.content "
    "FROM messages m JOIN conversations c ON c.id = m.conversation_id"
)


def query_terms(query: str) -> list[str]:
    """Whitespace-separated terms, de-duplicated, without control characters, bounded in number and size."""
    terms: list[str] = []
    for raw in strip_control(query).split():
        term = raw[:MAX_TERM_CHARS]
        if term.lower() not in (t.lower() for t in terms):
            terms.append(term)
    return terms[:MAX_TERMS]


def fts_phrase(term: str) -> str:
    """``term`` as an FTS5 string: every operator and quote in it is literal."""
    return '"' + term.replace('"', '""') + '"'


def search_sql(terms: list[str], limit: int) -> tuple[str, list[object]]:
    """SQL and parameters for messages containing every term, newest first."""
    long_terms = [t for t in terms if len(t) >= TRIGRAM]
    short_terms = [t for t in terms if len(t) < TRIGRAM]
    params: list[object] = []
    where: list[str] = []
    if long_terms:
        sql = f"SELECT {_COLUMNS} JOIN messages_fts f ON f.rowid = m.id"
        where.append("messages_fts MATCH ?")
        params.append(" AND ".join(fts_phrase(t) for t in long_terms))
        order = "f.rowid DESC"
    else:
        sql = f"SELECT {_COLUMNS}"
        order = "m.id DESC"
    for term in short_terms:
        where.append("instr(lower(m.content), lower(?)) > 0")
        params.append(term)
    sql += " WHERE " + " AND ".join(where) + f" ORDER BY {order} LIMIT ?"
    params.append(limit)
    return sql, params


def make_snippet(content: str, terms: list[str]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """A one-line excerpt around the first match and the (start, end) spans of every match in it."""
    flat = re.sub(r"\s", " ", strip_control(content))
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE)
    first = pattern.search(flat) if terms else None
    start = max(0, first.start() - SNIPPET_BEFORE) if first else 0
    end = min(len(flat), start + SNIPPET_CHARS)
    if first and first.end() > end:  # a very long term: show all of it
        end = first.end()
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(flat) else ""
    body = flat[start:end]
    snippet = prefix + body + suffix
    spans = (
        tuple((m.start() + len(prefix), m.end() + len(prefix)) for m in pattern.finditer(body))
        if terms
        else ()
    )
    return snippet, spans
