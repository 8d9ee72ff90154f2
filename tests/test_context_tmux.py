"""The issue's steps in a real terminal (issue 16, items 1-3): tmux runs `python -m holysheep_tui --demo` on a
history holding a long kimi-k2 conversation; the person opens it, sees the meter, switches to
moonshot-v1-8k, sends, sees the three ways out with their costs, compacts, and finds the original
messages by search."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest

from holysheep_tui.store import HistoryStore
from tests.tmux import Terminal, tmux_terminal

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

TOPICS = ("长城", "运河", "丝绸", "瓷器")


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    with tmux_terminal("context") as term:
        yield term


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
    terminal.start("--demo", width=160, height=48)
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
