"""``holysheep history list | search | show | delete``: the saved conversations from a shell."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from typing import Any

from holysheep_tui.errors import UsageError
from holysheep_tui.store import HistoryStore, SearchHit
from holysheep_tui.store.schema import to_iso
from holysheep_tui.textsafety import inert_json, one_line
from holysheep_tui.transcripts.export import dump_json, to_text


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "history", parents=[common], help="list, search, show and delete saved conversations"
    )
    actions = parser.add_subparsers(dest="history_action", metavar="ACTION", required=True)

    p = actions.add_parser("list", help="conversations, newest first")
    p.add_argument("--all", action="store_true", help="include archived conversations")
    p.add_argument("--limit", type=int, default=200, help="at most this many (default 200)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = actions.add_parser("search", help="full-text search over every message")
    p.add_argument("query", help="words to find (any language; all must occur)")
    p.add_argument("--limit", type=int, default=50, help="at most this many hits (default 50)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_search)

    p = actions.add_parser("show", help="print one conversation")
    p.add_argument("id", help="conversation id (a unique prefix is enough)")
    p.add_argument("--json", action="store_true", help="the JSON export format")
    p.set_defaults(func=cmd_show)

    p = actions.add_parser("delete", help="delete one conversation")
    p.add_argument("id", help="conversation id (a unique prefix is enough)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_delete)


def open_store() -> HistoryStore:
    """The user's history store; tells the user on stderr if a corrupt file was set aside."""
    store = HistoryStore.open()
    if store.recovered_from is not None:
        print(
            f"holysheep: the history database was damaged; it was moved to {store.recovered_from} "
            "and a new one was started.",
            file=sys.stderr,
        )
    return store


def mark_interrupted(store: HistoryStore) -> None:
    """Answers left 'streaming' by a process that died (a killed `ask`) read 'interrupted', as the app
    shows them. A store that can only read leaves them as they are."""
    if store.read_only is None:
        store.recover_interrupted()


def confirm(question: str) -> bool:
    """Ask on the terminal; never when stdin is not one."""
    if not sys.stdin.isatty():
        return False
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _when(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


_safe = one_line  # ids, titles and model names come from the history file: an import or a relay wrote them


def _print_json(data: Any) -> None:
    print(inert_json(json.dumps(data, ensure_ascii=False, indent=2)))


def cmd_list(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UsageError("--limit must be at least 1.")
    with open_store() as store:
        rows = store.list_conversations(limit=args.limit, include_archived=args.all)
    if args.json:
        _print_json(
            [
                {
                    "id": r.id,
                    "title": r.title,
                    "created": to_iso(r.created),
                    "updated": to_iso(r.updated),
                    "profile": r.profile,
                    "archived": r.archived,
                    "message_count": r.message_count,
                    "models": list(r.models),
                    "cost_usd": r.cost_usd,
                    "cost_estimated": r.cost_estimated,
                }
                for r in rows
            ]
        )
        return 0
    if not rows:
        print("No conversations yet.", file=sys.stderr)
        return 0
    print(f"{'ID':<8}  {'UPDATED':<16}  {'MSGS':>5}  {'COST':>10}  {'MODELS':<24}  TITLE")
    for r in rows:
        cost = f"{'~' if r.cost_estimated else ''}${r.cost_usd:.4f}"
        models = _safe(",".join(r.models))[:24] or "-"
        title = _safe(r.display_title) + ("  (archived)" if r.archived else "")
        print(
            f"{_safe(r.id)[:8]:<8}  {_when(r.updated):<16}  {r.message_count:>5}  {cost:>10}  {models:<24}  {title}"
        )
    return 0


def _markers() -> tuple[str, str]:
    if sys.stdout.isatty() and not os.environ.get("NO_COLOR"):
        return "\x1b[7m", "\x1b[27m"
    return "«", "»"


def _hit_json(hit: SearchHit) -> dict[str, Any]:
    return {
        "conversation_id": hit.conversation_id,
        "conversation_title": hit.conversation_title,
        "message_id": hit.message_id,
        "role": hit.role,
        "created": to_iso(hit.created),
        "snippet": hit.snippet,
        "spans": [list(s) for s in hit.spans],
    }


def cmd_search(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UsageError("--limit must be at least 1.")
    with open_store() as store:
        hits = store.search(args.query, limit=args.limit)
    if args.json:
        _print_json([_hit_json(h) for h in hits])
        return 0
    if not hits:
        print(f"No messages contain {args.query!r}.", file=sys.stderr)
        return 0
    start, end = _markers()
    for h in hits:
        title = _safe(h.conversation_title or "Untitled")
        head = f"{_safe(h.conversation_id)[:8]}  #{h.message_id}  {_when(h.created)}  {_safe(h.role)}"
        print(f"{head}  {title}")
        print(f"    {h.marked(start, end)}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with open_store() as store:
        conv_id = store.resolve_id(args.id)
        mark_interrupted(store)
        conv = store.get_conversation(conv_id)
    if args.json:
        sys.stdout.write(inert_json(dump_json([conv])))
    else:
        sys.stdout.write(to_text(conv))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    with open_store() as store:
        conv_id = store.resolve_id(args.id)
        title = _safe(store.get_conversation(conv_id, last=0).display_title)
        if not args.yes:
            count = store.count_messages(conv_id)
            if not confirm(f"Delete “{title}” ({count} messages)?"):
                raise UsageError("Not deleted.", hint="Pass --yes to delete without being asked.")
        store.delete_conversation(conv_id)
    print(f"Deleted {_safe(conv_id)} “{title}”.", file=sys.stderr)
    return 0
