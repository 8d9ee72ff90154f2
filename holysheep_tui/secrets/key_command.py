"""The profile's ``api_key_cmd``: run it with a deadline and take the first line it prints."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence

from holysheep_tui.errors import KeyMissingError
from holysheep_tui.secrets.secret import KEY_ENV


def run_key_command(argv: Sequence[str], timeout: float) -> str:
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
