"""The API key: where it comes from, and keeping it in the OS keyring.

Lookup order: the profile's ``api_key_env``, ``HOLYSHEEP_API_KEY``, the keyring (service
``holysheep-tui``, user = profile name), the profile's ``api_key_cmd``. Every keyring call, backend
detection included, runs in a daemon thread with a deadline: keyring itself has none, and a locked
keyring with a desktop prompt or a hung daemon would block forever. After one time-out the keyring
counts as unavailable for the rest of the process.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

from holysheep_tui.config import Profile
from holysheep_tui.errors import ConfigError, KeyMissingError, KeyringError

KEYRING_SERVICE = "holysheep-tui"
KEY_ENV = "HOLYSHEEP_API_KEY"
TIMEOUT_ENV = "HOLYSHEEP_KEYRING_TIMEOUT"
DEFAULT_TIMEOUT = 10.0

_FILE_STORE_HINT = (
    "If you accept a plain file store: pip install keyrings.alt and set "
    "PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring."
)
_USE_ENV = f"set {KEY_ENV} in the environment instead"
_USE_ENV_CAP = f"Set {KEY_ENV} in the environment instead"

KeyringReason = Literal["none", "null", "locked", "timeout", "misconfigured", "failed"]

T = TypeVar("T")


def mask(key: str) -> str:
    """The key reduced to its last 4 characters; short keys show nothing at all."""
    return f"****{key[-4:]}" if len(key) >= 12 else "****"


class Secret:
    """A string that never shows itself in repr(), str() or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{mask(self._value)}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class ResolvedKey:
    value: Secret
    """The key; ``value.get_secret_value()`` gives the string."""
    source: str
    """Where it came from, for messages and ``holysheep key status``."""


class KeyringUnavailableError(KeyringError):
    """The keyring could not be used; ``reason`` tells the cases apart."""

    def __init__(self, reason: KeyringReason, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason: KeyringReason = reason


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
        }


def keyring_timeout(environ: Mapping[str, str] | None = None) -> float:
    """Seconds any keyring operation may take: ``HOLYSHEEP_KEYRING_TIMEOUT`` or 10."""
    env = os.environ if environ is None else environ
    raw = env.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 600:
        raise ConfigError(f"{TIMEOUT_ENV} must be a number of seconds between 0 and 600 (got {raw!r}).")
    return value


# --- the guarded keyring ---------------------------------------------------------------------------


class _Guard:
    """Process-wide keyring state: once a call times out, the keyring is not asked again."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.dead: KeyringUnavailableError | None = None


_GUARD = _Guard()


def _run_with_deadline(fn: Callable[[], T], deadline: float, timeout: float) -> T:
    with _GUARD.lock:
        if _GUARD.dead is not None:
            raise _GUARD.dead
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    # A daemon thread, not an executor: a hung call must not keep the process alive at exit.
    thread = threading.Thread(target=target, name="holysheep-keyring", daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    if thread.is_alive():
        error = KeyringUnavailableError(
            "timeout",
            f"The system keyring did not answer within {timeout:g} s "
            "(its daemon may be hung, or waiting for an unlock prompt).",
            hint=f"{_USE_ENV_CAP}, or restart the keyring daemon (e.g. gnome-keyring) and retry. "
            f"{TIMEOUT_ENV} sets how long to wait.",
        )
        with _GUARD.lock:
            _GUARD.dead = error
        raise error
    if "error" in box:
        raise box["error"]
    return cast(T, box["value"])


def _configured_by() -> str:
    chosen = os.environ.get("PYTHON_KEYRING_BACKEND")
    if chosen:
        return f"PYTHON_KEYRING_BACKEND={chosen}"
    try:
        from keyring.util import platform_

        return f"the keyring config file {platform_.config_root() / 'keyringrc.cfg'}"
    except Exception:
        return "the keyring config file keyringrc.cfg"


def _backend_name(backend: object) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _detect() -> Any:
    import keyring.core

    keyring.core.init_backend(limit=keyring.core.recommended)
    return keyring.core.get_keyring()


def _backend(deadline: float, timeout: float) -> Any:
    """The backend the user configured, else the best recommended one (never a silent plaintext file)."""
    try:
        return _run_with_deadline(_detect, deadline, timeout)
    except KeyringUnavailableError:
        raise
    except Exception as exc:
        raise KeyringUnavailableError(
            "misconfigured",
            f"The keyring backend chosen by {_configured_by()} cannot be used: {type(exc).__name__}: {exc}",
            hint=f"Fix or remove that setting, or {_USE_ENV}.",
        ) from None


def _kind(backend: object) -> Literal["fail", "null", "real"]:
    from keyring.backends import fail, null

    if isinstance(backend, fail.Keyring):
        return "fail"
    if isinstance(backend, null.Keyring):
        return "null"
    return "real"


def _no_keyring_error(action: str) -> KeyringUnavailableError:
    return KeyringUnavailableError(
        "none",
        f"No system keyring is available here, so the key cannot be {action}.",
        hint=f"{_USE_ENV_CAP}. On Linux a keyring needs a D-Bus session with a Secret Service "
        "(gnome-keyring or KWallet). " + _FILE_STORE_HINT,
    )


def _null_error(action: str) -> KeyringUnavailableError:
    return KeyringUnavailableError(
        "null",
        f"The keyring is disabled (backend keyring.backends.null.Keyring, chosen by {_configured_by()}), "
        f"so the key cannot be {action}.",
        hint=f"{_USE_ENV_CAP}, or remove that setting to use the system keyring. " + _FILE_STORE_HINT,
    )


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, mask(secret)) if secret else text


def _translate(exc: BaseException, action: str, secret: str | None = None) -> KeyringUnavailableError:
    """A keyring failure as one of our errors, without the key in it."""
    from keyring.errors import InitError, KeyringLocked, NoKeyringError

    if isinstance(exc, KeyringUnavailableError):
        return exc
    if isinstance(exc, NoKeyringError):
        return _no_keyring_error(action)
    if isinstance(exc, KeyringLocked | InitError):
        return KeyringUnavailableError(
            "locked",
            f"The system keyring is locked, or its unlock prompt was dismissed, so the key cannot be {action}.",
            hint=f"Unlock the keyring (log in to the desktop session, or run gnome-keyring-daemon --unlock) "
            f"and retry, or {_USE_ENV}.",
        )
    detail = _scrub(f"{type(exc).__name__}: {exc}", secret)
    return KeyringUnavailableError(
        "failed",
        f"The system keyring failed, so the key cannot be {action}: {detail}",
        hint=f"{_USE_ENV_CAP}, or retry once the keyring works again.",
    )


def _timeout(timeout: float | None) -> float:
    return keyring_timeout() if timeout is None else timeout


def _keyring_get(profile_name: str, timeout: float) -> tuple[str | None, str]:
    """(key or None, backend name) from the keyring."""
    deadline = time.monotonic() + timeout
    backend = _backend(deadline, timeout)
    name = _backend_name(backend)
    kind = _kind(backend)
    if kind == "fail":
        raise _no_keyring_error("read")
    if kind == "null":
        return None, name
    try:
        value = _run_with_deadline(
            lambda: backend.get_password(KEYRING_SERVICE, profile_name), deadline, timeout
        )
    except Exception as exc:
        raise _translate(exc, "read") from None
    return (value or None), name


def store_key(profile_name: str, key: str, *, timeout: float | None = None) -> str:
    """Save the key in the keyring; returns the backend's name. Refuses when there is no real keyring."""
    if not key:
        raise KeyringError("Refusing to store an empty key.")
    limit = _timeout(timeout)
    deadline = time.monotonic() + limit
    backend = _backend(deadline, limit)
    kind = _kind(backend)
    if kind == "fail":
        raise _no_keyring_error("saved")
    if kind == "null":
        raise _null_error("saved")
    try:
        _run_with_deadline(lambda: backend.set_password(KEYRING_SERVICE, profile_name, key), deadline, limit)
    except Exception as exc:
        raise _translate(exc, "saved", key) from None
    return _backend_name(backend)


def delete_key(profile_name: str, *, timeout: float | None = None) -> bool:
    """Remove the profile's key from the keyring; False when there was nothing to delete."""
    from keyring.errors import PasswordDeleteError

    limit = _timeout(timeout)
    deadline = time.monotonic() + limit
    backend = _backend(deadline, limit)
    kind = _kind(backend)
    if kind == "fail":
        raise _no_keyring_error("deleted")
    if kind == "null":
        return False
    try:
        _run_with_deadline(lambda: backend.delete_password(KEYRING_SERVICE, profile_name), deadline, limit)
    except PasswordDeleteError:
        return False
    except Exception as exc:
        raise _translate(exc, "deleted") from None
    return True


# --- api_key_cmd -------------------------------------------------------------------------------------


def _run_key_command(argv: Sequence[str], timeout: float) -> str:
    """The first line the command prints. Its output is never echoed in errors: it may be the key."""
    shown = repr(list(argv))
    hint = f"Fix api_key_cmd in the config file, or set {KEY_ENV}, or run `holysheep key set`."
    if not argv:
        raise KeyMissingError("api_key_cmd is an empty list.", hint=hint)
    try:
        # Own process group, so a time-out kills what the command started too (e.g. gpg).
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            process_group=0,
        )
    except OSError as exc:
        raise KeyMissingError(
            f"Cannot run api_key_cmd {shown}: {exc.strerror or type(exc).__name__}.", hint=hint
        ) from None
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=2)
        raise KeyMissingError(
            f"api_key_cmd {shown} did not finish within {timeout:g} s and was stopped.", hint=hint
        ) from None
    text = out.decode("utf-8", errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if proc.returncode != 0:
        last = [ln.strip() for ln in err.decode("utf-8", errors="replace").splitlines() if ln.strip()]
        said = last[-1][:200] if last else ""
        for line in lines:  # never repeat anything it printed on stdout
            said = said.replace(line, "****")
        detail = f" It said: {said}" if said else ""
        raise KeyMissingError(
            f"api_key_cmd {shown} failed with exit status {proc.returncode}.{detail}", hint=hint
        )
    if not lines:
        raise KeyMissingError(f"api_key_cmd {shown} printed nothing.", hint=hint)
    return lines[0]


# --- lookup ------------------------------------------------------------------------------------------


def _from_env(profile: Profile, env: Mapping[str, str]) -> ResolvedKey | None:
    names = [profile.api_key_env] if profile.api_key_env else []
    names.append(KEY_ENV)
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return ResolvedKey(Secret(value), f"environment variable {name}")
    return None


def _missing(profile_name: str, profile: Profile, keyring_note: str | None) -> KeyMissingError:
    tried = f"{profile.api_key_env}, " if profile.api_key_env else ""
    note = f" {keyring_note}" if keyring_note else ""
    return KeyMissingError(
        f"No API key for profile '{profile_name}' (looked in {tried}{KEY_ENV} and the keyring).{note}",
        hint=f"Set {KEY_ENV}, or run `holysheep key set"
        + ("" if profile_name == "holysheep" else f" --profile {profile_name}")
        + "` to store it in the keyring.",
    )


def _keyring_lookup(profile_name: str, limit: float) -> _Lookup:
    """(key, backend name, failure): the keyring's answer, its failures caught."""
    try:
        value, backend = _keyring_get(profile_name, limit)
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
        return ResolvedKey(Secret(value), f"keyring ({backend})")
    if profile.api_key_cmd:
        command = _run_key_command(profile.api_key_cmd, limit)
        return ResolvedKey(Secret(command), f"command {profile.api_key_cmd!r}")
    if failure is not None and failure.reason not in ("none", "null"):
        raise failure
    note = (
        "No system keyring is available here." if failure is not None and failure.reason == "none" else None
    )
    raise _missing(profile_name, profile, note)


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
    )
