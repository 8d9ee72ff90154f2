"""``holysheep export`` and ``holysheep import``: transcripts in and out of the history."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from holysheep_tui.cli.help_format import RawDescriptionHelpFormatter
from holysheep_tui.cli.history import confirm, mark_interrupted, open_store
from holysheep_tui.config import load_config
from holysheep_tui.errors import HolySheepError, StorageError, UsageError
from holysheep_tui.i18n import _, ngettext
from holysheep_tui.textsafety import inert_json, one_line
from holysheep_tui.transcripts.export import (
    EXPORTERS,
    FORMATS,
    OutputExistsError,
    export_conversation,
    write_export,
)
from holysheep_tui.transcripts.facts import ExportOptions
from holysheep_tui.transcripts.importer import import_conversations

MAX_IMPORT_BYTES = 512 * 1024 * 1024


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "export",
        parents=[common],
        help=_("write a conversation as {formats} or {last}").format(
            formats=", ".join(FORMATS[:-1]), last=FORMATS[-1]
        ),
        epilog=_("formats:") + "\n" + "\n".join(f"  {e.name:<8} {_(e.description)}" for e in EXPORTERS),
        formatter_class=RawDescriptionHelpFormatter,
    )
    p.add_argument("id", nargs="?", help=_("conversation id or unique prefix (default: the latest)"))
    p.add_argument("--last", action="store_true", help=_("the most recently updated conversation"))
    p.add_argument("--format", "-f", choices=FORMATS, default="md", help=_("output format (default md)"))
    p.add_argument("-o", "--output", type=Path, help=_("file to write (default: standard output)"))
    p.add_argument("--force", action="store_true", help=_("overwrite an existing file"))
    p.add_argument(
        "--all-branches",
        action="store_true",
        help=_(
            "md and html: include every other branch (earlier answers, edited prompts) where it splits "
            "off; the default is the active path (json always holds every branch)"
        ),
    )
    p.set_defaults(func=cmd_export)

    p = subparsers.add_parser("import", parents=[common], help=_("add conversations from a JSON export"))
    p.add_argument(
        "file", help=_("a file written by `holysheep export --format json` ('-' for standard input)")
    )
    p.set_defaults(func=cmd_import)


def cmd_export(args: argparse.Namespace) -> int:
    if args.id and args.last:
        raise UsageError(_("Give a conversation id or --last, not both."))
    with open_store() as store:
        if args.id:
            conv_id = store.resolve_id(args.id)
        else:
            last = store.last_conversation_id()
            if last is None:
                raise UsageError(_("There are no conversations to export yet."))
            conv_id = last
        mark_interrupted(store)
        options = ExportOptions(all_branches=args.all_branches, cny_per_usd=_relay_rate())
        text = export_conversation(store.get_conversation(conv_id), args.format, options)
    if args.output is None or str(args.output) == "-":
        sys.stdout.write(inert_json(text) if args.format in ("json", "openai") else text)
        return 0
    try:
        write_export(args.output, text, force=args.force)
    except OutputExistsError:
        if args.force or not confirm(_("{path} exists. Overwrite it?").format(path=args.output)):
            raise
        write_export(args.output, text, force=True)
    print(_("Wrote {path}").format(path=args.output), file=sys.stderr)
    return 0


def _relay_rate() -> float:
    """CNY billed per USD from the config; the relay's ¥1 = $1 when the config cannot be read (an export
    should not fail over a setting it only uses for one figure)."""
    try:
        return load_config().pricing.relay_rate
    except HolySheepError:
        return ExportOptions().cny_per_usd


def _read(file: str) -> str:
    if file == "-":
        return sys.stdin.read()
    path = Path(file)
    try:
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise UsageError(
                _("{path} is larger than {size} MiB; not importing it.").format(
                    path=path, size=MAX_IMPORT_BYTES // 2**20
                )
            )
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(_("No such file: {path}").format(path=path)) from None
    except UnicodeDecodeError:
        raise UsageError(_("{path} is not UTF-8 text; is it a JSON export?").format(path=path)) from None
    except OSError as exc:
        raise StorageError(
            _("Cannot read {path}: {reason}.").format(path=path, reason=exc.strerror or exc)
        ) from exc


def cmd_import(args: argparse.Namespace) -> int:
    text = _read(args.file)
    with open_store() as store:
        ids = import_conversations(store, text)
    for conv_id in ids:
        print(one_line(conv_id))  # an imported id is the file's
    print(
        ngettext("Imported {count} conversation.", "Imported {count} conversations.", len(ids)).format(
            count=len(ids)
        ),
        file=sys.stderr,
    )
    return 0
