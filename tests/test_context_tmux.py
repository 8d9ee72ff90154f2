"""The issue's steps in a real terminal (issue 16, items 1-3): tmux runs `python -m holysheep_tui --demo` on a
history holding a long kimi-k2 conversation; the person opens it, sees the meter, switches to
moonshot-v1-8k, sends, sees the three ways out with their costs, compacts, and finds the original
messages by search."""

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

from holysheep_tui.store import HistoryStore

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

TOPICS = ("长城", "运河", "丝绸", "瓷器")


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


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal(f"holysheep-context-{os.getpid()}", "holysheep-context")
    try:
        yield term
    finally:
        term.tmux("kill-server")


def seed_long_conversation() -> str:
    """A kimi-k2 conversation of four long Chinese turns (about 11k tokens), in the default history file."""
    with HistoryStore.open() as store:
        cid = store.create_conversation(profile="demo", title="中国文化长谈", system_prompt=None)
        for index, topic in enumerate(TOPICS):
            prompt = f"第{index + 1}轮标记{topic}：" + f"请详细介绍{topic}的历史与文化影响。" * 180
            store.add_user_message(cid, prompt, model="kimi-k2")
            answer = store.start_answer(cid, model="kimi-k2")
            store.finish_answer(
                answer, status="complete", content=f"关于{topic}的回答，" * 20, reasoning="", model="kimi-k2"
            )
    return cid


def test_long_conversation_switch_to_8k_choose_compact_and_find_the_originals(terminal: Terminal) -> None:
    cid = seed_long_conversation()
    terminal.start(160, 48)
    terminal.wait(r"DEMO")
    terminal.keys("C-b")
    terminal.wait(r"中国文化长谈")
    terminal.keys("Enter")
    terminal.wait(r"关于瓷器的回答")
    terminal.keys("C-b")
    terminal.wait(r"kimi-k2 · ctx ~[\d,]+ tok · \d+%")  # the meter: the window is known

    terminal.keys("C-o")
    terminal.wait(r"Space marks models")
    terminal.type("moonshot-v1-8k")
    terminal.keys("Enter")
    terminal.wait(r"no longer fits moonshot-v1-8k")
    terminal.wait(r"moonshot-v1-8k · ctx ~[\d,]+ tok · \d{3}%")  # over the window

    terminal.type("接着说")
    terminal.wait(r"input ≈\$[\d.]+ · ¥[\d.]+ CNY \(est\.\)")  # the estimate in the prompt's frame
    terminal.keys("Enter")
    screen = terminal.wait(r"Too long for moonshot-v1-8k(?s:.*)Switch to")
    assert re.search(r"Compact: summary by deepseek-v3\.2 \(cheapest\) ≈\$[\d.]+ · ≈¥[\d.]+ CNY", screen)
    assert re.search(r"Send only the recent turns \(leaves out turns? 1.*≈\$[\d.]+ · ≈¥[\d.]+ CNY", screen)
    assert re.search(r"Switch to [\w.-]+ \(window [\d,]+\).*≈\$[\d.]+ · ≈¥[\d.]+ CNY", screen)

    terminal.keys("Enter")  # the first: compact, written by the cheapest model
    terminal.wait(r"Summary of 4 turns by deepseek-v3\.2 stored")
    answered_and_fits = r"moonshot-v1-8k · ctx ~[\d,]+ tok · \d{1,2}% · idle"
    terminal.wait(answered_and_fits, timeout=90)

    with HistoryStore.open() as store:
        kinds = [m.kind for m in store.get_conversation(cid).messages]
    assert kinds.count("summary") == 1 and kinds[-1] == "message" and len(kinds) == 2 * len(TOPICS) + 3

    terminal.keys("C-f")
    terminal.wait(r"Search history")
    terminal.type("第1轮标记长城")
    terminal.wait(r"第1轮标记长城：请详细介绍")  # the original first prompt, still found
