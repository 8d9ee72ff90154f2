"""The OS keyring, with a deadline on every call, backend detection and error translation.

Every keyring call, backend detection included, runs in a daemon thread with a deadline: keyring
itself has none, and a locked keyring with a desktop prompt or a hung daemon would block forever.
After one time-out the keyring counts as unavailable for the rest of the process. Entries live under
service ``holysheep-tui``, user = profile name.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, cast

from holysheep_tui.errors import ConfigError, KeyringError
from holysheep_tui.i18n import _, sentences
from holysheep_tui.secrets.secret import KEY_ENV, mask

KEYRING_SERVICE = "holysheep-tui"
TIMEOUT_ENV = "HOLYSHEEP_KEYRING_TIMEOUT"
DEFAULT_TIMEOUT = 10.0

KeyringAction = Literal["read", "saved", "deleted"]


def _file_store_hint() -> str:
    return _(
        "If you accept a plain file store: pip install keyrings.alt and set "
        "PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring."
    )


def _cannot(action: KeyringAction) -> str:
    """``the key cannot be saved``: what a keyring failure stops, in a sentence of its own."""
    if action == "read":
        return _("the key cannot be read")
    if action == "saved":
        return _("the key cannot be saved")
    return _("the key cannot be deleted")


KeyringReason = Literal["none", "null", "locked", "timeout", "misconfigured", "failed"]

T = TypeVar("T")


class KeyringUnavailableError(KeyringError):
    """The keyring could not be used; ``reason`` tells the cases apart."""

    def __init__(self, reason: KeyringReason, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason: KeyringReason = reason


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
        raise ConfigError(
            _("{name} must be a number of seconds between 0 and 600 (got {value!r}).").format(
                name=TIMEOUT_ENV, value=raw
            )
        )
    return value


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
            _(
                "The system keyring did not answer within {seconds:g} s "
                "(its daemon may be hung, or waiting for an unlock prompt)."
            ).format(seconds=timeout),
            hint=sentences(
                _(
                    "Set {env} in the environment instead, or restart the keyring daemon (e.g. gnome-keyring) "
                    "and retry."
                ).format(env=KEY_ENV),
                _("{name} sets how long to wait.").format(name=TIMEOUT_ENV),
            ),
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

        return _("the keyring config file {path}").format(path=platform_.config_root() / "keyringrc.cfg")
    except Exception:
        return _("the keyring config file {path}").format(path="keyringrc.cfg")


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
            _("The keyring backend chosen by {source} cannot be used: {error}").format(
                source=_configured_by(), error=f"{type(exc).__name__}: {exc}"
            ),
            hint=_("Fix or remove that setting, or set {env} in the environment instead.").format(
                env=KEY_ENV
            ),
        ) from None


def _kind(backend: object) -> Literal["fail", "null", "real"]:
    from keyring.backends import fail, null

    if isinstance(backend, fail.Keyring):
        return "fail"
    if isinstance(backend, null.Keyring):
        return "null"
    return "real"


def _no_keyring_error(action: KeyringAction) -> KeyringUnavailableError:
    return KeyringUnavailableError(
        "none",
        _("No system keyring is available here, so {consequence}.").format(consequence=_cannot(action)),
        hint=sentences(
            _("Set {env} in the environment instead.").format(env=KEY_ENV),
            _("On Linux a keyring needs a D-Bus session with a Secret Service (gnome-keyring or KWallet)."),
            _file_store_hint(),
        ),
    )


def _null_error(action: KeyringAction) -> KeyringUnavailableError:
    return KeyringUnavailableError(
        "null",
        _(
            "The keyring is disabled (backend keyring.backends.null.Keyring, chosen by {source}), "
            "so {consequence}."
        ).format(source=_configured_by(), consequence=_cannot(action)),
        hint=sentences(
            _(
                "Set {env} in the environment instead, or remove that setting to use the system keyring."
            ).format(env=KEY_ENV),
            _file_store_hint(),
        ),
    )


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, mask(secret)) if secret else text


def _translate(
    exc: BaseException, action: KeyringAction, secret: str | None = None
) -> KeyringUnavailableError:
    """A keyring failure as one of our errors, without the key in it."""
    from keyring.errors import InitError, KeyringLocked, NoKeyringError

    if isinstance(exc, KeyringUnavailableError):
        return exc
    if isinstance(exc, NoKeyringError):
        return _no_keyring_error(action)
    if isinstance(exc, KeyringLocked | InitError):
        return KeyringUnavailableError(
            "locked",
            _("The system keyring is locked, or its unlock prompt was dismissed, so {consequence}.").format(
                consequence=_cannot(action)
            ),
            hint=_(
                "Unlock the keyring (log in to the desktop session, or run gnome-keyring-daemon --unlock) "
                "and retry, or set {env} in the environment instead."
            ).format(env=KEY_ENV),
        )
    detail = _scrub(f"{type(exc).__name__}: {exc}", secret)
    return KeyringUnavailableError(
        "failed",
        _("The system keyring failed, so {consequence}: {detail}").format(
            consequence=_cannot(action), detail=detail
        ),
        hint=_("Set {env} in the environment instead, or retry once the keyring works again.").format(
            env=KEY_ENV
        ),
    )


def _timeout(timeout: float | None) -> float:
    return keyring_timeout() if timeout is None else timeout


def read_stored_key(profile_name: str, timeout: float) -> tuple[str | None, str]:
    """(key or None, backend name): what the keyring holds for the profile."""
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


def keyring_problem(*, timeout: float | None = None) -> KeyringUnavailableError | None:
    """Why a key could not be saved in the keyring here (no keyring, a disabled one, a hung or broken
    backend), without reading or writing anything; None when there is a real keyring."""
    limit = _timeout(timeout)
    try:
        backend = _backend(time.monotonic() + limit, limit)
    except KeyringUnavailableError as exc:
        return exc
    kind = _kind(backend)
    if kind == "fail":
        return _no_keyring_error("saved")
    if kind == "null":
        return _null_error("saved")
    return None


def store_key(profile_name: str, key: str, *, timeout: float | None = None) -> str:
    """Save the key in the keyring; returns the backend's name. Refuses when there is no real keyring."""
    if not key:
        raise KeyringError(_("Refusing to store an empty key."))
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
