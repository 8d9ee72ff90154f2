"""The profile's ``api_key_cmd``: run it with a deadline and take the first line it prints.

Its output is bounded (a key is one short line) and what it says on failure is shown only cleaned:
no terminal control sequences, nothing it printed on stdout and nothing that looks like a key.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import subprocess
import time
from collections.abc import Sequence

from holysheep_tui.errors import KeyMissingError
from holysheep_tui.secrets.secret import KEY_ENV
from holysheep_tui.textsafety import strip_control

MAX_OUTPUT = 64 * 1024
"""Bytes of stdout read at most; a command printing more is stopped."""
MAX_KEY = 8 * 1024
"""Characters a key may have."""
_ERROR_TAIL = 4096
"""Bytes of stderr kept (its end, where the reason usually is)."""
_KEYLIKE = re.compile(r"[A-Za-z0-9_.+=~-]*\d[A-Za-z0-9_.+=~-]*")


class KeyCommandError(KeyMissingError):
    """The configured ``api_key_cmd`` failed: reported even for a loopback endpoint, never skipped."""

    title = "api_key_cmd failed"


class _TooMuch(Exception):
    pass


def _collect(proc: subprocess.Popen[bytes], timeout: float) -> tuple[bytes, bytes]:
    """stdout (at most MAX_OUTPUT bytes) and the end of stderr, once the command exits.

    Raises subprocess.TimeoutExpired past ``timeout``, _TooMuch when stdout passes MAX_OUTPUT."""
    deadline = time.monotonic() + timeout
    out, err = bytearray(), bytearray()
    assert proc.stdout is not None and proc.stderr is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ, out)
        selector.register(proc.stderr, selectors.EVENT_READ, err)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(proc.args, timeout)
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.data is out:
                    out += chunk
                    if len(out) > MAX_OUTPUT:
                        raise _TooMuch
                else:
                    err += chunk
                    del err[:-_ERROR_TAIL]
    proc.wait(max(deadline - time.monotonic(), 0.01))
    return bytes(out), bytes(err)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill the command and whatever it started (its own process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=2)


def _what_it_said(err: bytes, printed: list[str]) -> str:
    """The last line of stderr, cleaned: no control sequences, no stdout line, no key-like word."""
    lines = [ln.strip() for ln in strip_control(err.decode("utf-8", errors="replace")).splitlines()]
    said = next((ln for ln in reversed(lines) if ln), "")
    for line in printed:  # never repeat anything it printed on stdout
        said = said.replace(line, "****")
    said = _KEYLIKE.sub(lambda m: "****" if len(m.group()) >= 16 else m.group(), said)
    return said[:200]


def run_key_command(argv: Sequence[str], timeout: float) -> str:
    """The first line the command prints. Raises KeyCommandError when it fails, prints too much or no key."""
    shown = strip_control(repr(list(argv)))
    hint = f"Fix api_key_cmd in the config file, or set {KEY_ENV}, or run `holysheep key set`."
    if not argv:
        raise KeyCommandError("api_key_cmd is an empty list.", hint=hint)
    try:
        # Own process group, so a time-out kills what the command started too (e.g. gpg).
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            process_group=0,
        )
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the argv
        reason = getattr(exc, "strerror", None) or "not a valid command line"
        raise KeyCommandError(f"Cannot run api_key_cmd {shown}: {reason}.", hint=hint) from None
    try:
        out, err = _collect(proc, timeout)
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise KeyCommandError(
            f"api_key_cmd {shown} did not finish within {timeout:g} s and was stopped.", hint=hint
        ) from None
    except _TooMuch:
        _stop(proc)
        raise KeyCommandError(
            f"api_key_cmd {shown} printed more than {MAX_OUTPUT // 1024} KiB and was stopped; "
            "a key is one short line.",
            hint=hint,
        ) from None
    finally:
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    lines = [line.strip() for line in out.decode("utf-8", errors="replace").splitlines() if line.strip()]
    if proc.returncode != 0:
        said = _what_it_said(err, lines)
        detail = f" It said: {said}" if said else ""
        raise KeyCommandError(
            f"api_key_cmd {shown} failed with exit status {proc.returncode}.{detail}", hint=hint
        )
    if not lines:
        raise KeyCommandError(f"api_key_cmd {shown} printed nothing.", hint=hint)
    key = lines[0]
    if len(key) > MAX_KEY or not key.isascii() or not key.isprintable():
        raise KeyCommandError(
            f"api_key_cmd {shown} printed a first line that is not a key "
            f"(a key is printable ASCII, at most {MAX_KEY} characters).",
            hint=hint,
        )
    return key
