"""The input rows of the fault matrix: what a user can type or paste, in the app (Pilot) and in `ask`."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual import events
from textual.geometry import Region
from textual.widget import Widget

from holysheep_tui.chat.session import Session
from holysheep_tui.config import Config, Profile, RetryPolicy
from holysheep_tui.errors import EXIT_USAGE
from holysheep_tui.simulator import Pacing, RelaySimulator
from holysheep_tui.store import HistoryStore
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.widgets.answer import AnswerView
from holysheep_tui.tui.widgets.conversation import UserMessage
from holysheep_tui.tui.widgets.prompt import PromptInput
from tests.test_reliability_network import stored_turn, wait_for

FAST = Pacing(first_token_delay=0.0, tokens_per_second=None, chunk_tokens=3)
CONTROL = "控制字符\x00空字符\x1b[31m红色\x1b]0;改标题\x07响铃\x08退格\x7f删除\x9b2J结束"
RTL_AND_COMBINING = "مرحبا بالعالم · שלום עולם · e\u0301 a\u0308 o\u0302\u0323 · 汉字 · 👩\u200d👩\u200d👧 🇨🇳"


@pytest.fixture
def relay() -> Iterator[RelaySimulator]:
    with RelaySimulator(pacing=FAST) as sim:
        yield sim
        assert not sim.errors


async def ask(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`holysheep ask ARGS` as a subprocess, off the event loop."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "holysheep_tui", "ask", *args],
        input=stdin, capture_output=True, text=True, timeout=60, encoding="utf-8",
    )  # fmt: skip


def make_app(relay: RelaySimulator, db: Path, model: str = "gpt-4.1") -> HolySheepApp:
    profile = Profile(base_url=relay.base_url, model=model, retry=RetryPolicy(max_retries=0))
    session = Session(Config(), "holysheep", profile, None, None)
    return HolySheepApp(session, store=HistoryStore.open(db), cursor_blink=False, save_theme=False)


def chat_requests(relay: RelaySimulator) -> list[dict[str, object]]:
    return [r.json for r in relay.requests if r.path.endswith("/chat/completions") and r.json]


def last_user_content(relay: RelaySimulator) -> str:
    messages = chat_requests(relay)[-1]["messages"]
    assert isinstance(messages, list)
    return str(messages[-1]["content"])


def screen_text(app: HolySheepApp) -> str:
    """Every character the screen would draw (segment text, before the driver encodes it)."""
    lines = []
    for widget in app.screen.walk_children(Widget):
        if widget.is_attached and widget.size.area:
            for strip in widget.render_lines(Region(0, 0, widget.size.width, widget.size.height)):
                lines.append("".join(seg.text for seg in strip))
    return "\n".join(lines)


async def finished(pilot: object, app: HolySheepApp, count: int) -> AnswerView:
    await wait_for(pilot, lambda: app._turn is None and len(app.view.answers()) >= count, "the answer")  # type: ignore[arg-type]
    answer = app.view.answers()[-1]
    assert isinstance(answer, AnswerView), "an answer of this session"
    return answer


@pytest.mark.slow
async def test_one_megabyte_paste_is_sent_exactly_and_the_app_keeps_working(
    relay: RelaySimulator, tmp_path: Path
) -> None:
    lines, size, i = [], 0, 0
    while size < 1_000_000:
        line = f"第{i}行：上下文窗口 context window 的粘贴测试，价格 ¥1 = $1。"
        lines.append(line)
        size += len(line.encode()) + 1
        i += 1
    pasted = "\n".join(lines)
    app = make_app(relay, tmp_path / "h.db")
    async with app.run_test(size=(100, 30)) as pilot:
        prompt = app.query_one(PromptInput)
        app.post_message(events.Paste(pasted))  # as the driver delivers a bracketed paste
        await wait_for(pilot, lambda: prompt.text == pasted, "the paste to land", 60)
        await pilot.press("enter")
        answer = await finished(pilot, app, 1)
        assert last_user_content(relay) == pasted
        assert answer.status == "complete" and answer.text
        assert prompt.text == ""
        assert stored_turn(tmp_path / "h.db")[0].content == pasted
        await pilot.press(*"还好吗", "enter")  # the app still takes input and answers
        assert (await finished(pilot, app, 2)).status == "complete"


async def test_nul_and_control_characters_are_sent_as_typed_and_shown_inert(
    relay: RelaySimulator, tmp_path: Path
) -> None:
    app = make_app(relay, tmp_path / "h.db")
    async with app.run_test(size=(100, 30)) as pilot:
        prompt = app.query_one(PromptInput)
        prompt.load_text(CONTROL)
        await pilot.press("enter")
        answer = await finished(pilot, app, 1)
        assert last_user_content(relay) == CONTROL  # JSON-escaped on the wire, intact at the relay
        assert stored_turn(tmp_path / "h.db")[0].content == CONTROL
        assert "控制字符" in answer.text  # the answer quotes the prompt, controls and all
        assert_inert(answer_text_on_screen(answer))


async def test_control_characters_in_the_prompt_are_shown_inert(relay: RelaySimulator, tmp_path: Path) -> None:
    app = make_app(relay, tmp_path / "h.db")
    async with app.run_test(size=(100, 30)) as pilot:
        app.query_one(PromptInput).load_text(CONTROL)
        await pilot.press("enter")
        await finished(pilot, app, 1)
        assert_inert(screen_text(app))
        assert "␀空字符␛[31m红色" in str(app.query_one(UserMessage).render())  # visible, not hidden
        assert app.query_one(UserMessage).text == CONTROL


def assert_inert(shown: str) -> None:
    assert "控制字符" in shown and "红色" in shown
    for bad in ("\x00", "\x1b", "\x07", "\x08", "\x7f", "\x9b"):
        assert bad not in shown, f"{bad!r} reached the screen"


def answer_text_on_screen(answer: AnswerView) -> str:
    lines = []
    for widget in answer.walk_children(Widget):
        if widget.size.area:
            for strip in widget.render_lines(Region(0, 0, widget.size.width, widget.size.height)):
                lines.append("".join(seg.text for seg in strip))
    return "\n".join(lines)


@pytest.mark.parametrize("text", ["", "   ", " \n\t \n "], ids=["empty", "spaces", "whitespace-lines"])
async def test_empty_or_blank_prompt_sends_nothing(relay: RelaySimulator, tmp_path: Path, text: str) -> None:
    app = make_app(relay, tmp_path / "h.db")
    async with app.run_test(size=(100, 30)) as pilot:
        app.query_one(PromptInput).load_text(text)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert app._turn is None and app.view.answers() == [] and app.conversation.turns == []
    assert chat_requests(relay) == []
    proc = await ask("--base-url", relay.base_url, "-", stdin=text)
    assert proc.returncode == EXIT_USAGE and "empty" in proc.stderr and "Traceback" not in proc.stderr
    assert chat_requests(relay) == []


async def test_a_200000_character_line_is_sent_whole_and_shown(relay: RelaySimulator, tmp_path: Path) -> None:
    line = ("长行测试" + "x" * 16) * 10_000
    assert len(line) == 200_000 and "\n" not in line
    app = make_app(relay, tmp_path / "h.db")
    async with app.run_test(size=(100, 30)) as pilot:
        app.query_one(PromptInput).load_text(line)
        await pilot.press("enter")
        answer = await finished(pilot, app, 1)
        assert last_user_content(relay) == line
        assert answer.status == "complete"
        assert app.query_one(UserMessage).text == line
    proc = await ask("--base-url", relay.base_url, "-m", "gpt-4.1", "-", stdin=line)
    assert proc.returncode == 0, proc.stderr
    assert last_user_content(relay) == line


async def test_right_to_left_and_combining_characters_round_trip(relay: RelaySimulator, tmp_path: Path) -> None:
    app = make_app(relay, tmp_path / "h.db")
    async with app.run_test(size=(100, 30)) as pilot:
        app.query_one(PromptInput).load_text(RTL_AND_COMBINING)
        await pilot.press("enter")
        answer = await finished(pilot, app, 1)
        assert last_user_content(relay) == RTL_AND_COMBINING
        assert answer.status == "complete" and RTL_AND_COMBINING[:20] in answer.text
        assert app.query_one(UserMessage).text == RTL_AND_COMBINING
        assert "مرحبا" in screen_text(app)
    assert stored_turn(tmp_path / "h.db")[0].content == RTL_AND_COMBINING
    proc = await ask("--base-url", relay.base_url, "-m", "gpt-4.1", RTL_AND_COMBINING)
    assert proc.returncode == 0, proc.stderr
    assert last_user_content(relay) == RTL_AND_COMBINING and RTL_AND_COMBINING[:20] in proc.stdout


async def test_resize_to_20x5_and_back_mid_stream_keeps_the_answer_intact(
    relay: RelaySimulator, tmp_path: Path
) -> None:
    app = make_app(relay, tmp_path / "h.db", model="kimi-k2+tps=300,len=600")
    async with app.run_test(size=(100, 30)) as pilot:
        app.query_one(PromptInput).load_text("边调整窗口边回答：讲讲计费")
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.view.answers()) == 1 and len(app.view.answers()[0].text) > 50, "tokens")
        await pilot.resize_terminal(20, 5)
        await pilot.pause(0.3)
        assert app.size == (20, 5)
        await pilot.resize_terminal(100, 30)
        answer = await finished(pilot, app, 1)
        turn = app.conversation.turns[-1]
        assert turn.status == "complete" and answer.text == turn.answer.content
        assert turn.answer.usage is not None and turn.answer.usage.completion_tokens == 600
        assert stored_turn(tmp_path / "h.db")[1].content == turn.answer.content
        await pilot.resize_terminal(20, 5)  # and the app answers at 20x5 too
        app.query_one(PromptInput).load_text("小窗口里再问一次")
        await pilot.press("enter")
        assert (await finished(pilot, app, 2)).status == "complete"


def test_ask_on_a_terminal_shows_control_characters_inert(relay: RelaySimulator) -> None:
    """stdout is a pty: what the relay sends (here quoting the prompt) cannot drive the terminal."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "holysheep_tui", "ask", "--base-url", relay.base_url, "-q", "-"],
            stdout=slave, stderr=subprocess.DEVNULL, stdin=subprocess.PIPE,
        )  # fmt: skip
        os.close(slave)
        assert proc.stdin is not None
        proc.stdin.write(CONTROL.encode())
        proc.stdin.close()
        out = b""
        for _ in range(600):  # bounded: 60 s
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        assert proc.wait(timeout=30) == 0
    finally:
        os.close(master)
    text = out.decode("utf-8", "replace")
    assert "控制字符" in text and "红色" in text
    for bad in ("\x00", "\x1b", "\x07", "\x08", "\x7f", "\x9b"):
        assert bad not in text, f"{bad!r} reached the terminal"
    assert last_user_content(relay) == CONTROL
