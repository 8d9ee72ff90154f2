"""Full-text search: turning a user's query into SQL, and cutting marked snippets.

Messages are indexed twice by FTS5: with the trigram tokenizer, which finds any substring of three or
more characters in any script, and as "words" (one token per CJK character, per Latin word: see
``words_text``), which finds shorter terms (成本, Go) as phrases. Every short term is also checked with
instr(), so a hit always contains the term as typed. A term with no word characters at all ("%%") falls
back to a scan, newest first, stopping at the limit.
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


_CJK = re.compile(
    "([\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0002fa1f])"
)


def words_text(text: str | None) -> str:
    """The text the words index sees: each CJK character stands apart, so it is a token of its own."""
    return _CJK.sub(r" \1 ", text) if text else ""


def query_terms(query: str) -> list[str]:
    """Whitespace-separated terms, de-duplicated, without control characters, bounded in number and size."""
    terms: list[str] = []
    for raw in strip_control(query).split():
        term = raw[:MAX_TERM_CHARS]
        if term.lower() not in (t.lower() for t in terms):
            terms.append(term)
    return terms[:MAX_TERMS]


# Only messages on their conversation's active path (what the conversation shows) are found.
_ON_ACTIVE_PATH = (
    "EXISTS (WITH RECURSIVE up(id) AS (SELECT c.active_leaf UNION SELECT p.parent_id FROM messages p "
    "JOIN up ON p.id = up.id WHERE p.parent_id IS NOT NULL) SELECT 1 FROM up WHERE up.id = m.id)"
)


def fts_phrase(term: str) -> str:
    """``term`` as an FTS5 string: every operator and quote in it is literal."""
    return '"' + term.replace('"', '""') + '"'


def search_sql(terms: list[str], limit: int) -> tuple[str, list[object]]:
    """SQL and parameters for messages on an active path containing every term, newest first.

    One index drives the query, walked newest first so it stops at the limit: the trigram index when a
    term is long enough for it, else the words index; every other term is checked on the rows it yields.
    """
    long_terms = [t for t in terms if len(t) >= TRIGRAM]
    short_terms = [t for t in terms if len(t) < TRIGRAM]
    indexed = [t for t in short_terms if re.search(r"\w", t)]
    params: list[object] = []
    where: list[str] = []
    if long_terms:
        sql = f"SELECT {_COLUMNS} JOIN messages_fts f ON f.rowid = m.id"
        where.append("messages_fts MATCH ?")
        params.append(" AND ".join(fts_phrase(t) for t in long_terms))
        order = "f.rowid DESC"
    elif indexed:
        sql = f"SELECT {_COLUMNS} JOIN messages_words w ON w.rowid = m.id"
        where.append("messages_words MATCH ?")
        params.append(" AND ".join(fts_phrase(words_text(t).strip()) for t in indexed))
        order = "w.rowid DESC"
    else:
        sql = f"SELECT {_COLUMNS}"
        order = "m.id DESC"
    for term in short_terms:
        where.append("instr(lower(m.content), lower(?)) > 0")
        params.append(term)
    where.append(_ON_ACTIVE_PATH)
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
