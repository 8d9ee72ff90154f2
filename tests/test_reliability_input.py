"""The input rows of the fault matrix: what a user can type or paste, in the app (Pilot) and in `ask`."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget

from holysheep_tui.chat.session import Session
from holysheep_tui.errors import EXIT_USAGE
from holysheep_tui.simulator import Pacing, RelaySimulator
from holysheep_tui.store.models import Message
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.widgets.answer import AnswerView
from holysheep_tui.tui.widgets.conversation import UserMessage
from holysheep_tui.tui.widgets.prompt import PromptInput

FAST = Pacing(first_token_delay=0.0, tokens_per_second=None, chunk_tokens=3)
CONTROL = "控制字符\x00空字符\x1b[31m红色\x1b]0;改标题\x07响铃\x08退格\x7f删除\x9b2J结束"
RTL_AND_COMBINING = "مرحبا بالعالم · שלום עולם · e\u0301 a\u0308 o\u0302\u0323 · 汉字 · 👩\u200d👩\u200d👧 🇨🇳"


@pytest.fixture
def relay(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    return make_simulator(pacing=FAST)


@pytest.fixture
def ask(cli: Any) -> Callable[..., Awaitable[subprocess.CompletedProcess[str]]]:
    """``await ask(*args, stdin=None)``: `holysheep ask ARGS` as a subprocess, off the event loop."""

    async def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result: subprocess.CompletedProcess[str] = await asyncio.to_thread(cli, "ask", *args, stdin=stdin)
        return result

    return run


@pytest.fixture
def input_app(
    relay: RelaySimulator, make_session: Callable[..., Session], make_app: Callable[..., HolySheepApp]
) -> Callable[..., HolySheepApp]:
    """``input_app(db, model="gpt-4.1")``: the app on a keyless loopback profile, history in ``db``."""

    def build(db: Path, model: str = "gpt-4.1") -> HolySheepApp:
        return make_app(make_session(relay, profile="holysheep", model=model), store=db)

    return build


@pytest.fixture
def finished(wait_until: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[AnswerView]]:
    """``await finished(pilot, app, count)``: the last answer once ``count`` answers have ended."""

    async def wait(pilot: Pilot[None], app: HolySheepApp, count: int) -> AnswerView:
        await wait_until(pilot, lambda: not app.answering and len(app.view.answers()) >= count, "the answer")
        answer = app.view.answers()[-1]
        assert isinstance(answer, AnswerView), "an answer of this session"
        return answer

    return wait


def chat_requests(relay: RelaySimulator) -> list[dict[str, object]]:
    return [r.json for r in relay.requests if r.path.endswith("/chat/completions") and r.json]


def last_user_content_of(request: dict[str, object]) -> str:
    messages = request["messages"]
    assert isinstance(messages, list)
    return str(messages[-1]["content"])


def last_user_content(relay: RelaySimulator) -> str:
    return last_user_content_of(chat_requests(relay)[-1])


def screen_text(app: HolySheepApp) -> str:
    """Every character the screen would draw (segment text, before the driver encodes it)."""
    lines = []
    for widget in app.screen.walk_children(Widget):
        if widget.is_attached and widget.size.area:
            for strip in widget.render_lines(Region(0, 0, widget.size.width, widget.size.height)):
                lines.append("".join(seg.text for seg in strip))
    return "\n".join(lines)


@pytest.mark.slow
async def test_one_megabyte_paste_is_sent_exactly_and_the_app_keeps_working(
    relay: RelaySimulator,
    tmp_path: Path,
    input_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    stored_turn: Callable[[Path], tuple[Message, Message]],
    finished: Callable[..., Awaitable[AnswerView]],
) -> None:
    lines, size, i = [], 0, 0
    while size < 1_000_000:
        line = f"第{i}行：上下文窗口 context window 的粘贴测试，价格 ¥1 = $1。"
        lines.append(line)
        size += len(line.encode()) + 1
        i += 1
    pasted = "\n".join(lines)
    app = input_app(tmp_path / "h.db")
    async with app.run_test(size=(100, 30)) as pilot:
        prompt = app.query_one(PromptInput)
        app.post_message(events.Paste(pasted))  # as the driver delivers a bracketed paste
        await wait_until(pilot, lambda: prompt.text == pasted, "the paste to land", 60)
        await pilot.press("enter")
        answer = await finished(pilot, app, 1)
        assert last_user_content(relay) == pasted
        assert answer.status == "complete" and answer.text
        assert prompt.text == ""
        assert stored_turn(tmp_path / "h.db")[0].content == pasted
        await pilot.press(*"还好吗", "enter")  # the app still takes input and answers
        assert (await finished(pilot, app, 2)).status == "complete"


async def test_nul_and_control_characters_are_sent_as_typed_and_shown_inert(
    relay: RelaySimulator,
    tmp_path: Path,
    input_app: Callable[..., HolySheepApp],
    stored_turn: Callable[[Path], tuple[Message, Message]],
    finished: Callable[..., Awaitable[AnswerView]],
) -> None:
    app = input_app(tmp_path / "h.db")
    async with app.run_test(size=(100, 30)) as pilot:
        prompt = app.query_one(PromptInput)
        prompt.load_text(CONTROL)
        await pilot.press("enter")
        answer = await finished(pilot, app, 1)
        assert last_user_content(relay) == CONTROL  # JSON-escaped on the wire, intact at the relay
        assert stored_turn(tmp_path / "h.db")[0].content == CONTROL
        assert "控制字符" in answer.text  # the answer quotes the prompt, controls and all
        assert_inert(answer_text_on_screen(answer))


async def test_control_characters_in_the_prompt_are_shown_inert(
    relay: RelaySimulator,
    tmp_path: Path,
    input_app: Callable[..., HolySheepApp],
    finished: Callable[..., Awaitable[AnswerView]],
) -> None:
    app = input_app(tmp_path / "h.db")
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
async def test_empty_or_blank_prompt_sends_nothing(
    relay: RelaySimulator,
    tmp_path: Path,
    text: str,
    input_app: Callable[..., HolySheepApp],
    ask: Callable[..., Awaitable[subprocess.CompletedProcess[str]]],
    finished: Callable[..., Awaitable[AnswerView]],
) -> None:
    app = input_app(tmp_path / "h.db")
    async with app.run_test(size=(100, 30)) as pilot:
        app.query_one(PromptInput).load_text(text)
        await pilot.press("enter")
        # A real prompt after it: once it is answered, anything the blank one sent would have come first.
        app.query_one(PromptInput).load_text("空白之后的真问题")
        await pilot.press("enter")
        await finished(pilot, app, 1)
        assert [u.text for u in app.query(UserMessage)] == ["空白之后的真问题"]
        assert len(app.view.answers()) == 1 and len(app.conversation.turns) == 1
    assert [last_user_content_of(r) for r in chat_requests(relay)] == ["空白之后的真问题"]
    sent = len(chat_requests(relay))
    proc = await ask("--base-url", relay.base_url, "-", stdin=text)
    assert proc.returncode == EXIT_USAGE and "empty" in proc.stderr and "Traceback" not in proc.stderr
    assert len(chat_requests(relay)) == sent  # ask has exited: it sent nothing


async def test_a_200000_character_line_is_sent_whole_and_shown(
    relay: RelaySimulator,
    tmp_path: Path,
    input_app: Callable[..., HolySheepApp],
    ask: Callable[..., Awaitable[subprocess.CompletedProcess[str]]],
    finished: Callable[..., Awaitable[AnswerView]],
) -> None:
    line = ("长行测试" + "x" * 16) * 10_000
    assert len(line) == 200_000 and "\n" not in line
    app = input_app(tmp_path / "h.db")
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


async def test_right_to_left_and_combining_characters_round_trip(
    relay: RelaySimulator,
    tmp_path: Path,
    input_app: Callable[..., HolySheepApp],
    stored_turn: Callable[[Path], tuple[Message, Message]],
    ask: Callable[..., Awaitable[subprocess.CompletedProcess[str]]],
    finished: Callable[..., Awaitable[AnswerView]],
) -> None:
    app = input_app(tmp_path / "h.db")
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
    relay: RelaySimulator,
    tmp_path: Path,
    input_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    stored_turn: Callable[[Path], tuple[Message, Message]],
    finished: Callable[..., Awaitable[AnswerView]],
) -> None:
    app = input_app(tmp_path / "h.db", model="kimi-k2+tps=300,len=600")
    async with app.run_test(size=(100, 30)) as pilot:
        app.query_one(PromptInput).load_text("边调整窗口边回答：讲讲计费")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.view.answers()) == 1 and len(app.view.answers()[0].text) > 50, "tokens")
        await pilot.resize_terminal(20, 5)
        await wait_until(pilot, lambda: app.size == (20, 5), "the 20x5 terminal")
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


def test_ask_on_a_terminal_shows_control_characters_inert(relay: RelaySimulator, cli: Any) -> None:
    """stdout is a pty: what the relay sends (here quoting the prompt) cannot drive the terminal."""
    master, slave = pty.openpty()
    try:
        proc = cli.popen(
            "ask", "--base-url", relay.base_url, "-q", "-",
            stdout=slave, stderr=subprocess.DEVNULL, stdin=subprocess.PIPE, text=False,
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
