"""``holysheep key set|status|delete``: the API key in the OS keyring."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from holysheep_tui.config import Profile, load_config
from holysheep_tui.errors import EXIT_AUTH, EXIT_OK, EXIT_USAGE, UsageError
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
        help="store, inspect or delete the API key in the OS keyring",
        description="Manage the API key kept in the OS keyring (service 'holysheep-tui', one entry per "
        "profile). HOLYSHEEP_API_KEY, when set, takes precedence over the keyring.",
    )
    actions = parser.add_subparsers(dest="key_action", metavar="ACTION")
    set_parser = actions.add_parser(
        "set",
        parents=[common],
        help="store a key (hidden prompt, or read from stdin when piped)",
        description="Store the API key in the keyring. On a terminal it is asked for without echo; "
        "otherwise it is read from stdin, e.g.: pass show holysheep | holysheep key set",
    )
    set_parser.set_defaults(func=_set)
    status_parser = actions.add_parser(
        "status", parents=[common], help="show where the key comes from, masked to its last 4 characters"
    )
    status_parser.add_argument("--json", action="store_true", help="print the status as JSON")
    status_parser.set_defaults(func=_status)
    delete_parser = actions.add_parser("delete", parents=[common], help="remove the key from the keyring")
    delete_parser.set_defaults(func=_delete)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_usage(sys.stderr)
    print("holysheep key: choose an action: set, status or delete", file=sys.stderr)
    return EXIT_USAGE


def _profile(args: argparse.Namespace) -> tuple[str, Profile]:
    config = load_config()
    name = getattr(args, "profile", None) or config.default_profile
    if name not in config.profiles:
        known = ", ".join(sorted(config.profiles))
        raise UsageError(f"Unknown profile '{name}'. Known profiles: {known}.")
    return name, config.profiles[name]


def _profile_flag(name: str) -> str:
    return "" if name == "holysheep" else f" --profile {name}"


def _read_key(name: str) -> str:
    if sys.stdin.isatty():
        try:
            raw = getpass.getpass(f"API key for profile '{name}' (input hidden): ")
        except EOFError:
            raw = ""
    else:
        raw = sys.stdin.read()
    key = raw.strip()
    if not key:
        raise UsageError("No key given: the input was empty.", hint="Paste the key, or pipe it on stdin.")
    if any(not (0x21 <= ord(ch) <= 0x7E) for ch in key):
        # An HTTP header can only carry printable ASCII; this catches two pasted lines too.
        raise UsageError(
            "The key contains spaces, line breaks or non-ASCII characters, so it cannot be an API key.",
            hint="Give only the key itself, e.g. sk-...",
        )
    return key


def _set(args: argparse.Namespace) -> int:
    name, _profile_obj = _profile(args)
    unusable = keyring_problem()  # asked before the key is typed: no key pasted for nothing
    if unusable is not None and unusable.reason in ("none", "null"):
        print(strip_control(f"holysheep: {unusable.title}: {unusable.message}"), file=sys.stderr)
        print(strip_control(ways_text(name)), file=sys.stderr)
        return EXIT_AUTH
    key = _read_key(name)
    backend = store_key(name, key)
    print(f"Stored the key {mask(key)} for profile '{name}' in the keyring ({backend}).")
    return EXIT_OK


def _delete(args: argparse.Namespace) -> int:
    name, _profile_obj = _profile(args)
    if delete_key(name):
        print(f"Deleted the key for profile '{name}' from the keyring.")
    else:
        print(f"No key was stored for profile '{name}' in the keyring; nothing to delete.", file=sys.stderr)
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    name, profile = _profile(args)
    status = key_status(name, profile)
    code = EXIT_OK if status.source else EXIT_AUTH
    if args.json:
        print(json.dumps(status.to_json(), ensure_ascii=False, indent=2))
        return code
    print(f"profile:  {name}")
    print(f"key:      {status.masked} from {status.source}" if status.source else "key:      none available")
    if status.ways:  # no keyring here: what works instead, never `key set`
        message, _, _hint = (status.keyring_problem or "").partition("\n")
        print(f"keyring:  {message or f'{status.backend} (disabled: it stores nothing)'}")
        if not status.source:
            print("To give this profile a key here:")
            for way in status.ways:
                print(f"  - {way}")
    elif status.keyring_problem:
        message, _, hint = status.keyring_problem.partition("\n")
        print(f"keyring:  {message}")
        if hint and not status.problem:
            print(f"          {hint}")
    elif status.backend == "keyring.backends.null.Keyring":
        print(f"keyring:  {status.backend} (disabled: it stores nothing)")
    elif status.stored:
        print(f"keyring:  {status.backend} (a key is stored for this profile)")
    else:
        print(f"keyring:  {status.backend} (no key stored for this profile)")
        print(f"To store a key in the keyring: holysheep key set{_profile_flag(name)}")
    if status.problem:
        problem = status.problem.partition("\n")[0] if status.ways else status.problem  # ways: printed above
        print(f"holysheep: No API key: {problem}", file=sys.stderr)
    return code
