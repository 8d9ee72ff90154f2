"""``holysheep history list | search | show | delete``: the saved conversations from a shell."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from typing import Any

from holysheep_tui.errors import UsageError
from holysheep_tui.i18n import _, ngettext
from holysheep_tui.linebreak import cell_len
from holysheep_tui.store import HistoryStore, SearchHit
from holysheep_tui.store.schema import to_iso
from holysheep_tui.textsafety import inert_json, one_line
from holysheep_tui.transcripts.export import dump_json, to_text


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "history", parents=[common], help=_("list, search, show and delete saved conversations")
    )
    actions = parser.add_subparsers(dest="history_action", metavar="ACTION", required=True)

    p = actions.add_parser("list", help=_("conversations, newest first"))
    p.add_argument("--all", action="store_true", help=_("include archived conversations"))
    p.add_argument("--limit", type=int, default=200, help=_("at most this many (default 200)"))
    p.add_argument("--json", action="store_true", help=_("machine-readable output"))
    p.set_defaults(func=cmd_list)

    p = actions.add_parser("search", help=_("full-text search over every message"))
    p.add_argument("query", help=_("words to find (any language; all must occur)"))
    p.add_argument("--limit", type=int, default=50, help=_("at most this many hits (default 50)"))
    p.add_argument("--json", action="store_true", help=_("machine-readable output"))
    p.set_defaults(func=cmd_search)

    p = actions.add_parser("show", help=_("print one conversation"))
    p.add_argument("id", help=_("conversation id (a unique prefix is enough)"))
    p.add_argument("--json", action="store_true", help=_("the JSON export format"))
    p.set_defaults(func=cmd_show)

    p = actions.add_parser("delete", help=_("delete one conversation"))
    p.add_argument("id", help=_("conversation id (a unique prefix is enough)"))
    p.add_argument("--yes", "-y", action="store_true", help=_("do not ask for confirmation"))
    p.set_defaults(func=cmd_delete)


def open_store() -> HistoryStore:
    """The user's history store; tells the user on stderr if a corrupt file was set aside."""
    store = HistoryStore.open()
    if store.recovered_from is not None:
        print(
            "holysheep: "
            + _("the history database was damaged; it was moved to {path} and a new one was started.").format(
                path=store.recovered_from
            ),
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
        raise UsageError(_("--limit must be at least 1."))
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
        print(_("No conversations yet."), file=sys.stderr)
        return 0
    header = [_("ID"), _("UPDATED"), _("MSGS"), _("COST"), _("MODELS"), _("TITLE")]
    widths = [max(least, cell_len(title)) for least, title in zip((8, 16, 5, 10, 24), header, strict=False)]
    print(
        "  ".join(
            [
                _left(header[0], widths[0]),
                _left(header[1], widths[1]),
                _right(header[2], widths[2]),
                _right(header[3], widths[3]),
                _left(header[4], widths[4]),
                header[5],
            ]
        )
    )
    archived = "  " + _("(archived)")
    for r in rows:
        cost = f"{'~' if r.cost_estimated else ''}${r.cost_usd:.4f}"
        models = _safe(",".join(r.models))[:24] or "-"
        title = _safe(r.display_title) + (archived if r.archived else "")
        cells = [
            _left(_safe(r.id)[:8], widths[0]),
            _left(_when(r.updated), widths[1]),
            _right(str(r.message_count), widths[2]),
            _right(cost, widths[3]),
            _left(models, widths[4]),
            title,
        ]
        print("  ".join(cells))
    return 0


def _left(text: str, width: int) -> str:
    return text + " " * (width - cell_len(text))


def _right(text: str, width: int) -> str:
    return " " * (width - cell_len(text)) + text


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
        raise UsageError(_("--limit must be at least 1."))
    with open_store() as store:
        hits = store.search(args.query, limit=args.limit)
    if args.json:
        _print_json([_hit_json(h) for h in hits])
        return 0
    if not hits:
        print(_("No messages contain {query!r}.").format(query=args.query), file=sys.stderr)
        return 0
    start, end = _markers()
    for h in hits:
        title = _safe(h.conversation_title or _("Untitled"))
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
            question = ngettext(
                "Delete “{title}” ({count} message)?", "Delete “{title}” ({count} messages)?", count
            )
            if not confirm(question.format(title=title, count=count)):
                raise UsageError(_("Not deleted."), hint=_("Pass --yes to delete without being asked."))
        store.delete_conversation(conv_id)
    print(_("Deleted {id} “{title}”.").format(id=_safe(conv_id), title=title), file=sys.stderr)
    return 0
