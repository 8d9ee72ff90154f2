"""Issue 18's "done when", in a real terminal: ``LANG=zh_CN.UTF-8 holysheep --demo`` in tmux speaks Chinese
end to end: the first screen, an error with what to do, an answer, the model picker, F1, F8 and the export
dialog. (``LANG=zh_CN.UTF-8 holysheep ask`` with no key: tests/test_i18n.py.)

What the screen should say is read from the Chinese catalog, so the test holds whatever wording the
translators choose, and fails when a message is not translated (the catalog gives English back).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest

from holysheep_tui import i18n
from holysheep_tui.i18n import _
from tests.tmux import Terminal, tmux_terminal

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

ZH = {"LANG": "zh_CN.UTF-8"}
MODEL = "kimi-k2+402x1"
"""The demo's simulator answers this model's first request 402 (out of balance: not retried), then
answers normally (docs/SIMULATOR.md, "Scenarios")."""


def chinese(msgid: str, most: int = 10) -> str:
    """The longest literal run of ``msgid``'s Chinese translation (between ``{placeholders}``), at most
    ``most`` characters: a piece of text the screen must show whole."""
    said = _(msgid)
    assert said != msgid, f"not translated: {msgid!r}"
    pieces = [p.strip(" ·:：") for p in re.split(r"\{[^}]*\}", said)]
    longest = max(pieces, key=len)[:most].strip()
    assert re.search(r"[\u4e00-\u9fff]", longest), f"no Chinese in {said!r}"
    return longest


def figures(msgid: str) -> str:
    """A regular expression for ``msgid``'s Chinese translation with numbers in its placeholders."""
    said = _(msgid)
    assert said != msgid, f"not translated: {msgid!r}"
    return r"[\d,.]+".join(re.escape(piece) for piece in re.split(r"\{[^}]*\}", said))


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    i18n.use("zh-CN")  # for reading the catalog here; the app chooses its language from LANG alone
    with tmux_terminal("zh") as term:
        yield term


def test_demo_in_chinese_end_to_end(terminal: Terminal) -> None:
    terminal.start("--demo", "-m", MODEL, width=80, height=24, app_env=ZH)

    # The first screen: the prompt's placeholder and the status bar's keys, in Chinese.
    screen = terminal.wait_text(chinese("Ask anything… (Enter sends · Ctrl+J new line · F1 every key)", 6))
    screen = terminal.wait_text(chinese("F1 keys · Ctrl+O model · Esc stop", 5))
    assert "Ask anything" not in screen and "F1 keys" not in screen

    # A prompt the relay refuses (out of balance): the error inline, its title and what to do in Chinese.
    terminal.type("人民币结算有什么好处？")
    terminal.keys("Enter")
    screen = terminal.wait_text(chinese("Out of balance or quota"))
    assert "Out of balance" not in screen

    # Ctrl+R asks again, and the answer comes with its figures in Chinese ("词元 15→332 · 首词元 …").
    terminal.keys("C-r")
    screen = terminal.wait(figures("{prompt} in · {completion} out"))
    assert " in · " not in screen and "total " not in screen

    # Ctrl+O: the model picker; F1: every key; F8: the usage statistics; Ctrl+S: the export dialog. Each
    # in Chinese with its English gone, and closed with Esc.
    dialogs = [
        ("C-o", "Model for the next message (now: {model})", "Model for the next"),
        ("F1", "Every action is also in the command palette (Ctrl+P). Esc closes.", "Every action"),
        ("F8", "Usage statistics · the demo's answers only (profile demo)", "Usage statistics"),
        ("C-s", "Include alternatives (md, html)", "Include alternatives"),
    ]
    for key, msgid, english in dialogs:
        terminal.keys(key)
        text = chinese(msgid, 6)
        screen = terminal.wait_text(text)
        assert english not in screen, screen
        terminal.keys("Escape")
        terminal.wait_without(text)

    terminal.keys("C-q")
    terminal.gone()
