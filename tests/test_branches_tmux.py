"""Branches and a comparison in a real terminal: tmux runs `python -m holysheep_tui --demo`, keys are typed
with send-keys and the screen read with capture-pane, then the app is quit and started again."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Terminal:
    def __init__(self, socket: str, name: str) -> None:
        self.socket, self.name = socket, name

    def tmux(self, *args: str) -> str:
        proc = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30, check=False
        )
        return proc.stdout

    def start(self, width: int, height: int) -> None:
        command = f"cd {Path.cwd()} && exec {sys.executable} -m holysheep_tui --demo"
        subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", "new-session", "-d", "-s", self.name,
             "-x", str(width), "-y", str(height), command],
            check=True, timeout=30, env={**os.environ, "TERM": "xterm-256color", "LANG": "C.UTF-8"},
        )  # fmt: skip

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.name, "-l", text)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def wait(self, pattern: str, timeout: float = 60) -> str:
        screen = ""
        for _ in range(int(timeout / 0.25)):
            screen = self.screen()
            if re.search(pattern, screen):
                return screen
            time.sleep(0.25)
        raise AssertionError(f"never saw {pattern!r} on the screen; last screen:\n{screen}")

    def gone(self, timeout: float = 30) -> None:
        for _ in range(int(timeout / 0.25)):
            if self.name not in self.tmux("list-sessions", "-F", "#{session_name}"):
                return
            time.sleep(0.25)
        raise AssertionError("the app did not quit")


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal(f"holysheep-branches-{os.getpid()}", "holysheep-branches")
    try:
        yield term
    finally:
        term.tmux("kill-server")


def test_regenerate_three_times_move_between_answers_restart_and_compare(terminal: Terminal) -> None:
    terminal.start(120, 36)
    terminal.wait(r"DEMO")
    terminal.type("用一句话介绍你自己")
    terminal.keys("Enter")
    terminal.wait(r"\d+ in · \d+ out")
    for n in (2, 3, 4):
        terminal.keys("C-r")
        terminal.wait(rf"‹{n}/{n}›(?s:.*)\d+ in · \d+ out")
    terminal.keys("F6")
    terminal.wait(r"‹3/4›")
    terminal.keys("F6")
    terminal.wait(r"‹2/4›")
    terminal.keys("C-q")
    terminal.gone()

    # Started again: the conversation, with its four answers, is where it was left (‹2/4›).
    terminal.start(120, 36)
    terminal.wait(r"DEMO")
    terminal.keys("C-b")
    terminal.wait(r"用一句话介绍你自己")
    terminal.keys("Enter")
    terminal.wait(r"‹2/4›")
    terminal.keys("F7")
    terminal.wait(r"‹3/4›")

    # A comparison: Ctrl+O, Space marks the current model, filter and mark another, Enter, then the prompt.
    terminal.keys("C-b")  # the sidebar closed: the columns get the width
    terminal.keys("C-o")
    terminal.wait(r"Space marks models")
    terminal.keys("Space")
    terminal.type("deepseek-v3.2")
    terminal.keys("Space")
    terminal.wait(r"Marked 2: kimi-k2, deepseek-v3.2")
    terminal.keys("Enter")
    terminal.wait(r"Next prompt goes to 2 models")
    terminal.type("比较一下")
    terminal.keys("Enter")
    terminal.wait(r"Comparing 2 models: kimi-k2, deepseek-v3.2")
    screen = terminal.wait(r"The conversation goes on with kimi-k2", timeout=90)
    assert len(re.findall(r"\$0\.\d+ · ¥0\.\d+ CNY", screen)) == 2  # each column's own cost, USD and CNY
    terminal.keys("F7")
    terminal.wait(r"The conversation goes on with deepseek-v3.2")
