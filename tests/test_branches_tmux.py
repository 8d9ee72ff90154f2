"""Branches and a comparison in a real terminal: tmux runs `python -m holysheep_tui --demo`, keys are typed
with send-keys and the screen read with capture-pane, then the app is quit and started again."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest

from tests.tmux import Terminal, tmux_terminal

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    with tmux_terminal("branches") as term:
        yield term


def test_regenerate_three_times_move_between_answers_restart_and_compare(terminal: Terminal) -> None:
    terminal.start("--demo", width=120, height=36)
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
    terminal.start("--demo", width=120, height=36)
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
