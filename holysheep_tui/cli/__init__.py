"""The ``holysheep`` command: a thin front end over the core.

Each subcommand lives in its own module exposing ``register(subparsers, common)``; the module sets
``func`` (``(args) -> int``) on its parser. With no subcommand the full-screen app starts.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence

from holysheep_tui import __version__
from holysheep_tui.cli.help_format import ArgumentParser
from holysheep_tui.errors import EXIT_ERROR, EXIT_INTERRUPTED, HolySheepError
from holysheep_tui.i18n import LANGUAGES, _
from holysheep_tui.textsafety import strip_control

SUBCOMMAND_MODULES = (
    "ask",
    "models",
    "simulate",
    "key",
    "history",
    "export",
    "stats",
    "batch",
    "balance",
)


def common_options(*, suppress: bool) -> argparse.ArgumentParser:
    """Options every command takes. Subcommand copies use SUPPRESS so they never clobber the top level."""
    default = argparse.SUPPRESS if suppress else None
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group(_("endpoint"))
    group.add_argument(
        "--profile", default=default, help=_("profile from the config file (default: holysheep)")
    )
    group.add_argument(
        "--base-url", default=default, help=_("OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1")
    )
    group.add_argument("-m", "--model", default=default, help=_("model name, e.g. kimi-k2"))
    group.add_argument(
        "--demo",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help=_("use the built-in relay simulator: no key, no network"),
    )
    add_language_option(parent, default=default)
    return parent


def add_language_option(parser: argparse.ArgumentParser, *, default: object = argparse.SUPPRESS) -> None:
    """``--lang``, which every command and action takes wherever it stands (``choose_language`` has
    already acted on it; a parser only has to accept it)."""
    parser.add_argument(
        "--lang",
        choices=tuple(LANGUAGES),
        default=default,
        help=_("language of the interface (default: ui.language in the config, else the environment's)"),
    )


def _accept_language_everywhere(parser: argparse.ArgumentParser) -> None:
    """Give ``--lang`` to every subcommand and action that lacks it (``history list``, ``simulate``),
    so ``holysheep history list --lang zh-CN`` is accepted wherever ``--lang`` stands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if "--lang" not in sub._option_string_actions:
                    add_language_option(sub)
                _accept_language_everywhere(sub)


def build_parser(*, subcommands: bool = True) -> argparse.ArgumentParser:
    """The ``holysheep`` parser; without ``subcommands`` only the app's options (no -h)."""
    parser = ArgumentParser(
        prog="holysheep",
        description=_(
            "Terminal chat client for the HolySheep AI relay and any OpenAI-compatible endpoint. "
            "Without a command, opens the full-screen app."
        ),
        parents=[common_options(suppress=False)],
        add_help=subcommands,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"holysheep-tui {__version__}",
        help=_("show program's version number and exit"),
    )
    if not subcommands:
        parser.set_defaults(command=None)
        return parser
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = common_options(suppress=True)
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(f"holysheep_tui.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"holysheep_tui.cli.{name}":
                continue
            raise
        module.register(subparsers, common)
    _accept_language_everywhere(parser)
    return parser


def _run_app(args: argparse.Namespace) -> int:
    # Start-up allocates much and frees little: no collections until the app's first frame re-enables them.
    gc.disable()
    from holysheep_tui.startup import hold_early_keys

    restore_terminal = hold_early_keys()  # keys typed from now on reach the prompt (issue 15 item 5)
    try:
        from holysheep_tui.tui.app import run_app  # Textual is imported only for the app

        return run_app(args)
    finally:
        restore_terminal()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """With no command named, the subcommand modules are not imported: the app starts sooner."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not {"-h", "--help"} & set(argv):
        args, rest = build_parser(subcommands=False).parse_known_args(argv)
        if not rest:
            return args
    return build_parser().parse_args(argv)


def _configured_language() -> str | None:
    """``ui.language`` from the config file, read without validating the rest (that comes later)."""
    import tomllib

    from holysheep_tui.locations import config_file

    try:
        ui = tomllib.loads(config_file().read_text(encoding="utf-8")).get("ui", {})
    except (OSError, ValueError):
        return None
    value = ui.get("language") if isinstance(ui, dict) else None
    return value if isinstance(value, str) else None


def choose_language(argv: Sequence[str]) -> str:
    """Speak the language of ``--lang``, else the config's, else the environment's; before any parser is
    built, so ``--help`` speaks it too. With ``--json``, English: what a program reads never changes."""
    from holysheep_tui import i18n
    from holysheep_tui.cli import argparse_messages

    argparse_messages.use()  # argparse's own words follow whatever language is chosen below
    cli = None
    for index, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--json":
            return i18n.use("en")  # machine output is the same in every language
        if arg == "--lang" and index + 1 < len(argv):
            cli = argv[index + 1]
        elif arg.startswith("--lang="):
            cli = arg.partition("=")[2]
    return i18n.use(i18n.resolve(cli, None if cli else _configured_language()))


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    choose_language(argv)
    args = parse_args(argv)
    func = getattr(args, "func", _run_app)
    try:
        return int(func(args))
    except HolySheepError as exc:
        said = _("{title}: {text}").format(title=_(exc.title), text=exc.user_text())
        print(strip_control(f"holysheep: {said}"), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("holysheep: " + _("interrupted"), file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout closed early (e.g. piped into head): not an error worth a message.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as exc:  # the last line of defence: never a raw traceback
        if os.environ.get("HOLYSHEEP_DEBUG"):
            raise
        print(
            "holysheep: "
            + _("internal error ({kind}): {detail}").format(
                kind=type(exc).__name__, detail=strip_control(str(exc))
            )
            + "\n"
            + _("Set HOLYSHEEP_DEBUG=1 to see the details, and please report it."),
            file=sys.stderr,
        )
        return EXIT_ERROR
