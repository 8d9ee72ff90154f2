"""``holysheep`` in a real terminal: a private tmux server runs it, keys are typed with ``send-keys`` and the
screen is read with ``capture-pane``. A test helper (not a test): ``with tmux_terminal("name") as term``."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = ["Terminal", "tmux_terminal"]


class Terminal:
    """One tmux session on its own server socket (``tmux -L``), so tests never meet a user's tmux."""

    def __init__(self, socket: str, name: str) -> None:
        self.socket, self.name = socket, name

    def tmux(self, *args: str) -> str:
        proc = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30, check=False
        )
        return proc.stdout

    def start(self, *args: str, width: int, height: int, app_env: Mapping[str, str] | None = None) -> None:
        """Run ``python -m holysheep_tui ARGS`` in a ``width`` x ``height`` terminal, as a person would type
        it with ``app_env`` before it (``LANG=zh_CN.UTF-8 holysheep --demo``). tmux itself runs in C.UTF-8,
        so it draws wide characters whatever locales the machine has."""
        assignments = [f"{name}={shlex.quote(value)}" for name, value in (app_env or {}).items()]
        program = shlex.join([sys.executable, "-m", "holysheep_tui", *args])
        command = f"cd {shlex.quote(str(Path.cwd()))} && exec env {' '.join(assignments)} {program}"
        subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", "new-session", "-d", "-s", self.name,
             "-x", str(width), "-y", str(height), command],
            check=True, timeout=30, env={**os.environ, "TERM": "xterm-256color", "LANG": "C.UTF-8"},
        )  # fmt: skip

    def keys(self, *keys: str) -> None:
        """Press keys by tmux's names (``Enter``, ``C-o``, ``F1``)."""
        self.tmux("send-keys", "-t", self.name, *keys)

    def type(self, text: str) -> None:
        """Type ``text`` literally (Chinese included)."""
        self.tmux("send-keys", "-t", self.name, "-l", text)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def wait(self, pattern: str, timeout: float = 60) -> str:
        """The screen once ``pattern`` (a regular expression) is on it; AssertionError after ``timeout``."""
        screen = ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if re.search(pattern, screen):
                return screen
            time.sleep(0.25)
        raise AssertionError(f"never saw {pattern!r} on the screen; last screen:\n{screen}")

    def wait_text(self, text: str, timeout: float = 60) -> str:
        """The screen once ``text`` (taken literally) is on it."""
        return self.wait(re.escape(text), timeout)

    def wait_without(self, text: str, timeout: float = 30) -> str:
        """The screen once ``text`` (taken literally) has left it (a dialog closed)."""
        screen = ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text not in screen:
                return screen
            time.sleep(0.25)
        raise AssertionError(f"{text!r} stayed on the screen:\n{screen}")

    def gone(self, timeout: float = 30) -> None:
        """Wait for the program to end (its session closes with it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.name not in self.tmux("list-sessions", "-F", "#{session_name}"):
                return
            time.sleep(0.25)
        raise AssertionError("the app did not quit")


@contextlib.contextmanager
def tmux_terminal(name: str) -> Iterator[Terminal]:
    """A terminal on a private tmux server, killed afterwards whatever happened."""
    term = Terminal(f"holysheep-{name}-{os.getpid()}", f"holysheep-{name}")
    try:
        yield term
    finally:
        term.tmux("kill-server")
