"""Attachments in a real terminal, as the issue's person does it: tmux runs `python -m holysheep_tui
--demo`, F10 opens the path prompt (Tab completes), the image shows as a chip, a text-only model is
chosen and sending is refused before any request; another model that reads images takes it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tmux import Terminal, tmux_terminal

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    with tmux_terminal("attach") as term:
        yield term


def test_attach_an_image_switch_to_a_text_only_model_and_see_the_refusal(
    terminal: Terminal, tmp_path: Path
) -> None:
    folder = tmp_path / "图片"
    folder.mkdir()
    (folder / "小猫.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(240 * 1024 - 8))
    terminal.start("--demo", width=120, height=36)
    terminal.wait(r"DEMO")

    terminal.keys("F10")
    terminal.wait(r"Attach a file or an image")
    terminal.type(f"{folder}/小")
    terminal.keys("Tab")
    terminal.wait(r"图片/小猫\.png")
    terminal.keys("Enter")
    terminal.wait(r"\[Image #1 小猫\.png 240 KB\] ✕")

    # A text-only model: the picker marks the ones that read images and says which can take this one.
    terminal.keys("C-o")
    terminal.wait(r"1 image attached: only models marked ◉")
    terminal.type("deepseek-v3.2")
    terminal.keys("Enter")
    terminal.wait(r"DEMO +· deepseek-v3\.2 ·")  # the status bar: the picker has closed
    terminal.type("这张图片里有什么？")
    terminal.keys("Enter")
    screen = terminal.wait(r"nothing was sent")
    assert "deepseek-v3.2 does not read" in screen
    assert "这张图片里有什么？" in screen  # the prompt is still there
    assert "[Image #1 小猫.png 240 KB]" in screen  # and so is the chip

    # The way out: a model that reads images takes the same prompt and its image.
    terminal.keys("C-o")
    terminal.wait(r"1 image attached")
    terminal.type("gpt-4.1")
    terminal.keys("Enter")
    terminal.wait(r"DEMO +· gpt-4\.1 ·")
    terminal.keys("Enter")
    terminal.wait(r"\d+ in · \d+ out")
    terminal.keys("C-Home")  # the top of the conversation: the prompt sent with its chip, the answer's start
    terminal.wait(r"这张图片里有什么？ *\n.*\[Image #1 小猫\.png 240 KB\]")  # the sent prompt's chip
    terminal.wait(r"收到 1 张图片：image/png，240 KB")  # the simulator saw the image
