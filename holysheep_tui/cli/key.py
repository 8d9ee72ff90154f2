"""``holysheep key set|status|delete``: the API key in the OS keyring."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from holysheep_tui.config import Profile, load_config
from holysheep_tui.errors import EXIT_AUTH, EXIT_OK, EXIT_USAGE, UsageError
from holysheep_tui.i18n import _
from holysheep_tui.linebreak import cell_len
from holysheep_tui.secrets import (
    delete_key,
    key_status,
    keyring_problem,
    mask,
    store_key,
    ways_text,
)
from holysheep_tui.textsafety import strip_control


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = subparsers.add_parser(
        "key",
        help=_("store, inspect or delete the API key in the OS keyring"),
        description=_(
            "Manage the API key kept in the OS keyring (service 'holysheep-tui', one entry per "
            "profile). HOLYSHEEP_API_KEY, when set, takes precedence over the keyring."
        ),
    )
    actions = parser.add_subparsers(dest="key_action", metavar="ACTION")
    set_parser = actions.add_parser(
        "set",
        parents=[common],
        help=_("store a key (hidden prompt, or read from stdin when piped)"),
        description=_(
            "Store the API key in the keyring. On a terminal it is asked for without echo; "
            "otherwise it is read from stdin, e.g.: pass show holysheep | holysheep key set"
        ),
    )
    set_parser.set_defaults(func=_set)
    status_parser = actions.add_parser(
        "status", parents=[common], help=_("show where the key comes from, masked to its last 4 characters")
    )
    status_parser.add_argument("--json", action="store_true", help=_("print the status as JSON"))
    status_parser.set_defaults(func=_status)
    delete_parser = actions.add_parser("delete", parents=[common], help=_("remove the key from the keyring"))
    delete_parser.set_defaults(func=_delete)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_usage(sys.stderr)
    print("holysheep key: " + _("choose an action: set, status or delete"), file=sys.stderr)
    return EXIT_USAGE


def _profile(args: argparse.Namespace) -> tuple[str, Profile]:
    config = load_config()
    name = getattr(args, "profile", None) or config.default_profile
    if name not in config.profiles:
        known = ", ".join(sorted(config.profiles))
        raise UsageError(
            _("Unknown profile '{name}'. Known profiles: {known}.").format(name=name, known=known)
        )
    return name, config.profiles[name]


def _profile_flag(name: str) -> str:
    return "" if name == "holysheep" else f" --profile {name}"


def _read_key(name: str) -> str:
    if sys.stdin.isatty():
        try:
            raw = getpass.getpass(_("API key for profile '{name}' (input hidden): ").format(name=name))
        except EOFError:
            raw = ""
    else:
        raw = sys.stdin.read()
    key = raw.strip()
    if not key:
        raise UsageError(
            _("No key given: the input was empty."), hint=_("Paste the key, or pipe it on stdin.")
        )
    if any(not (0x21 <= ord(ch) <= 0x7E) for ch in key):
        # An HTTP header can only carry printable ASCII; this catches two pasted lines too.
        raise UsageError(
            _("The key contains spaces, line breaks or non-ASCII characters, so it cannot be an API key."),
            hint=_("Give only the key itself, e.g. sk-..."),
        )
    return key


def _set(args: argparse.Namespace) -> int:
    name, _profile_obj = _profile(args)
    unusable = keyring_problem()  # asked before the key is typed: no key pasted for nothing
    if unusable is not None and unusable.reason in ("none", "null"):
        said = _("{title}: {text}").format(title=_(unusable.title), text=unusable.message)
        print(strip_control(f"holysheep: {said}"), file=sys.stderr)
        print(strip_control(ways_text(name)), file=sys.stderr)
        return EXIT_AUTH
    key = _read_key(name)
    backend = store_key(name, key)
    print(
        _("Stored the key {masked} for profile '{name}' in the keyring ({backend}).").format(
            masked=mask(key), name=name, backend=backend
        )
    )
    return EXIT_OK


def _delete(args: argparse.Namespace) -> int:
    name, _profile_obj = _profile(args)
    if delete_key(name):
        print(_("Deleted the key for profile '{name}' from the keyring.").format(name=name))
    else:
        print(
            _("No key was stored for profile '{name}' in the keyring; nothing to delete.").format(name=name),
            file=sys.stderr,
        )
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    name, profile = _profile(args)
    status = key_status(name, profile)
    code = EXIT_OK if status.source else EXIT_AUTH
    if args.json:
        print(json.dumps(status.to_json(), ensure_ascii=False, indent=2))
        return code
    label = _labels()
    print(label["profile"] + name)
    if status.source:
        print(label["key"] + _("{masked} from {source}").format(masked=status.masked, source=status.source))
    else:
        print(label["key"] + _("none available"))
    disabled = _("{backend} (disabled: it stores nothing)")
    if status.ways:  # no keyring here: what works instead, never `key set`
        message = (status.keyring_problem or "").partition("\n")[0]
        print(label["keyring"] + (message or disabled.format(backend=status.backend)))
        if not status.source:
            print(_("To give this profile a key here:"))
            for way in status.ways:
                print(f"  - {way}")
    elif status.keyring_problem:
        message, _sep, hint = status.keyring_problem.partition("\n")
        print(label["keyring"] + message)
        if hint and not status.problem:
            print(" " * cell_len(label["keyring"]) + hint)
    elif status.backend == "keyring.backends.null.Keyring":
        print(label["keyring"] + disabled.format(backend=status.backend))
    elif status.stored:
        print(
            label["keyring"]
            + _("{backend} (a key is stored for this profile)").format(backend=status.backend)
        )
    else:
        print(
            label["keyring"] + _("{backend} (no key stored for this profile)").format(backend=status.backend)
        )
        print(
            _("To store a key in the keyring: {command}").format(
                command=f"holysheep key set{_profile_flag(name)}"
            )
        )
    if status.problem:
        problem = status.problem.partition("\n")[0] if status.ways else status.problem  # ways: printed above
        said = _("{title}: {text}").format(title=_("No API key"), text=problem)
        print(f"holysheep: {said}", file=sys.stderr)
    return code


def _labels() -> dict[str, str]:
    """The status's field names, padded to one column of terminal cells ("profile:  " in English)."""
    names = {"profile": _("profile:"), "key": _("key:"), "keyring": _("keyring:")}
    width = max(cell_len(text) for text in names.values()) + 2
    return {field: text + " " * (width - cell_len(text)) for field, text in names.items()}
