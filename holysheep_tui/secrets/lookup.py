"""Which key a profile uses: ``api_key_env``, ``HOLYSHEEP_API_KEY``, the keyring, ``api_key_cmd``.

The first source that has a key wins. ``key_status`` reports the same choice without showing the key.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from holysheep_tui.config import Profile
from holysheep_tui.errors import KeyMissingError, KeyringError
from holysheep_tui.i18n import _, sentences
from holysheep_tui.secrets.key_command import run_key_command
from holysheep_tui.secrets.keyring_store import (
    KEYRING_SERVICE,
    KeyringReason,
    KeyringUnavailableError,
    keyring_timeout,
    read_stored_key,
)
from holysheep_tui.secrets.secret import KEY_ENV, Secret, mask
from holysheep_tui.secrets.ways import ways_text, ways_without_keyring


class KeyNotFoundError(KeyMissingError):
    """No source had the key; ``keyring_reason`` tells whether a keyring could have held it."""

    def __init__(self, message: str, *, hint: str | None = None, keyring_reason: KeyringReason | None = None):
        super().__init__(message, hint=hint)
        self.keyring_reason: KeyringReason | None = keyring_reason

    @property
    def no_keyring(self) -> bool:
        """No keyring can store a key here: ``key set`` would not work."""
        return self.keyring_reason in ("none", "null")


@dataclass(frozen=True)
class ResolvedKey:
    value: Secret
    """The key; ``value.get_secret_value()`` gives the string."""
    source: str
    """Where it came from, for messages and ``holysheep key status``."""


_NULL_BACKEND = "keyring.backends.null.Keyring"

# (key, backend name, failure): what the keyring said.
_Lookup = tuple[str | None, str | None, KeyringUnavailableError | None]


@dataclass(frozen=True)
class KeyStatus:
    profile: str
    source: str | None
    """Where the key in use comes from; None when there is none."""
    masked: str | None
    """The key in use, masked to its last 4 characters."""
    backend: str | None
    """The keyring backend (dotted class name), None when none could be chosen."""
    stored: bool | None
    """Whether the keyring holds a key for this profile; None when it could not be read."""
    keyring_reason: KeyringReason | None
    keyring_problem: str | None
    """Why the keyring could not be used, with the ways out."""
    problem: str | None
    """Why no key is available, when ``source`` is None."""
    ways: tuple[str, ...] = ()
    """What works instead of the keyring, when there is none."""

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "available": self.source is not None,
            "source": self.source,
            "masked": self.masked,
            "keyring": {
                "service": KEYRING_SERVICE,
                "backend": self.backend,
                "stored": self.stored,
                "reason": self.keyring_reason,
                "problem": self.keyring_problem,
            },
            "problem": self.problem,
            "ways": list(self.ways),
        }


def _from_env(profile: Profile, env: Mapping[str, str]) -> ResolvedKey | None:
    names = [profile.api_key_env] if profile.api_key_env else []
    names.append(KEY_ENV)
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return ResolvedKey(Secret(value), _("environment variable {name}").format(name=name))
    return None


def _missing(profile_name: str, profile: Profile, reason: KeyringReason | None) -> KeyNotFoundError:
    tried = f"{profile.api_key_env}, " if profile.api_key_env else ""
    note = {
        "none": _("No system keyring is available here."),
        "null": _("The keyring is disabled (keyring.backends.null.Keyring)."),
    }.get(reason or "", "")
    message = sentences(
        _("No API key for profile '{profile}' (looked in {places} and the keyring).").format(
            profile=profile_name, places=tried + KEY_ENV
        ),
        note,
    )
    if reason in ("none", "null"):  # `key set` cannot work here: say what does
        return KeyNotFoundError(message, hint=ways_text(profile_name), keyring_reason=reason)
    return KeyNotFoundError(
        message,
        hint=_("Set {env}, or run `{command}` to store it in the keyring.").format(
            env=KEY_ENV,
            command="holysheep key set"
            + ("" if profile_name == "holysheep" else f" --profile {profile_name}"),
        ),
        keyring_reason=reason,
    )


def _keyring_lookup(profile_name: str, limit: float) -> _Lookup:
    """(key, backend name, failure): the keyring's answer, its failures caught."""
    try:
        value, backend = read_stored_key(profile_name, limit)
    except KeyringUnavailableError as exc:
        none = "keyring.backends.fail.Keyring" if exc.reason == "none" else None
        return None, none, exc
    return value, backend, None


def _resolve(
    profile_name: str,
    profile: Profile,
    env: Mapping[str, str],
    limit: float,
    lookup: Callable[[], _Lookup],
) -> ResolvedKey:
    found = _from_env(profile, env)
    if found is not None:
        return found
    value, backend, failure = lookup()
    if value:
        return ResolvedKey(Secret(value), _("keyring ({backend})").format(backend=backend))
    if profile.api_key_cmd:
        command = run_key_command(profile.api_key_cmd, limit)
        return ResolvedKey(Secret(command), _("command {command!r}").format(command=profile.api_key_cmd))
    if failure is not None and failure.reason not in ("none", "null"):
        raise failure
    raise _missing(profile_name, profile, _reason(backend, failure))


def _reason(backend: str | None, failure: KeyringUnavailableError | None) -> KeyringReason | None:
    if failure is not None:
        return failure.reason
    return "null" if backend == _NULL_BACKEND else None


def resolve_key(
    profile_name: str,
    profile: Profile,
    *,
    environ: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> ResolvedKey:
    """The key for a profile, from the first source that has one.

    Raises ``KeyMissingError`` when none has it, or ``KeyringError`` when the keyring failed (locked,
    hung, misconfigured) and nothing after it had the key.
    """
    env = os.environ if environ is None else environ
    limit = keyring_timeout(env) if timeout is None else timeout
    return _resolve(profile_name, profile, env, limit, lambda: _keyring_lookup(profile_name, limit))


def key_status(
    profile_name: str,
    profile: Profile,
    *,
    environ: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> KeyStatus:
    """Which source gives the key and what the keyring holds, without ever showing the key."""
    env = os.environ if environ is None else environ
    limit = keyring_timeout(env) if timeout is None else timeout
    answer = _keyring_lookup(profile_name, limit)  # asked even when the environment wins
    value, backend, failure = answer
    source = masked = problem = None
    try:
        found = _resolve(profile_name, profile, env, limit, lambda: answer)
    except (KeyMissingError, KeyringError) as exc:
        problem = exc.user_text()
    else:
        source, masked = found.source, mask(found.value.get_secret_value())
    return KeyStatus(
        profile=profile_name,
        source=source,
        masked=masked,
        backend=backend,
        stored=None if failure is not None else bool(value),
        keyring_reason=failure.reason if failure else None,
        keyring_problem=failure.user_text() if failure else None,
        problem=problem,
        ways=tuple(ways_without_keyring(profile_name))
        if _reason(backend, failure) in ("none", "null")
        else (),
    )
