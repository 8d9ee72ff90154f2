"""The ways to give a profile its key that work on a machine without a system keyring.

Said by ``key set``, ``key status``, the missing-key error and the first-run screen, so none of them points
back to ``key set`` where it cannot work. keyring's plaintext file backend is offered only when keyrings.alt
is installed, and only as an explicit choice.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

from holysheep_tui import locations
from holysheep_tui.i18n import _
from holysheep_tui.secrets.secret import KEY_ENV

PLAINTEXT_BACKEND = "keyrings.alt.file.PlaintextKeyring"
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def plaintext_backend_installed() -> bool:
    """Whether keyrings.alt (which holds keyring's plaintext file backend) can be imported."""
    try:
        return importlib.util.find_spec("keyrings.alt") is not None
    except (ImportError, ValueError):
        return False


def profile_table(profile_name: str) -> str:
    """The profile's TOML table name: ``profiles.work`` or ``profiles."团队"``."""
    shown = profile_name if _BARE_KEY.match(profile_name) else json.dumps(profile_name, ensure_ascii=False)
    return f"profiles.{shown}"


def ways_without_keyring(profile_name: str, *, config_file: Path | None = None) -> list[str]:
    """What works here instead of the keyring, one sentence each (the first-run screen adds "this session
    only")."""
    path = config_file or locations.config_file()
    flag = "" if profile_name == "holysheep" else f" --profile {json.dumps(profile_name, ensure_ascii=False)}"
    ways = [
        _("Set {env} in the environment (e.g. export {env}=sk-... in your shell's profile).").format(
            env=KEY_ENV
        ),
        _(
            "Set api_key_cmd in [{table}] of {path}: a command that prints the key, "
            'e.g. api_key_cmd = ["pass", "show", "holysheep"].'
        ).format(table=profile_table(profile_name), path=path),
    ]
    if plaintext_backend_installed():
        ways.append(
            _(
                "Choose keyring's plaintext file backend (the key in a file, not encrypted): set "
                "PYTHON_KEYRING_BACKEND={backend} for every run, then holysheep key set{flag}."
            ).format(backend=PLAINTEXT_BACKEND, flag=flag)
        )
    return ways


def ways_text(profile_name: str) -> str:
    """``ways_without_keyring`` as a hint: a heading and one line each."""
    return (
        _("Ways that work here:")
        + "\n"
        + "\n".join(f"  - {way}" for way in ways_without_keyring(profile_name))
    )
