"""The first screen a new user sees: a welcome in the empty conversation, a placeholder in the prompt, and a
streaming answer that takes only the lines it has (issue 15, item 16)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.widget import Widget

from holysheep_tui.chat.session import Session
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.widgets.answer import AnswerView
from holysheep_tui.tui.widgets.prompt import PromptInput


def drawn(widget: Widget) -> list[str]:
    """The text of each line the widget draws (its own content, not its children's)."""
    return [widget.render_line(y).text.rstrip() for y in range(widget.size.height)]


async def test_an_empty_conversation_welcomes_and_the_welcome_leaves_with_the_first_prompt(
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Session],
    send_and_wait: Callable[..., Awaitable[object]],
) -> None:
    app = make_app(make_session(profile="holysheep", key="sk-测试-first-screen"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = "\n".join(drawn(app.view))
        assert "Type a question" in text and "中文" in text
        for key in ("Enter", "Ctrl+J", "Ctrl+O", "Ctrl+B", "F1", "Ctrl+Q"):
            assert key in text, key
        assert "Demo" not in text, "a real session says nothing of the demo"
        prompt = app.query_one(PromptInput)
        assert "Ask anything" in "\n".join(drawn(prompt)), "the empty prompt shows its placeholder"

        await send_and_wait(pilot, "你好，HolySheep 怎么结算？")
        await pilot.pause()
        assert "Type a question" not in "\n".join(drawn(app.view))
        assert "Ask anything" in "\n".join(drawn(prompt)), "the placeholder is back once the prompt is sent"


async def test_the_demo_says_what_it_is_on_the_first_screen(make_app: Callable[..., HolySheepApp]) -> None:
    app = make_app()  # the demo profile
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = "\n".join(drawn(app.view))
        assert "Demo: answers come from a built-in simulator; nothing is sent or billed." in text
        await pilot.press(*"你好")
        assert "Ask anything" not in "\n".join(drawn(app.query_one(PromptInput)))


async def test_a_streaming_answer_keeps_at_most_two_blank_lines_below_its_text(
    make_app: Callable[..., HolySheepApp],
    send: Callable[..., Awaitable[None]],
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.choose_model("kimi-k2+tps=40")
        await send(pilot, "请慢慢介绍 HolySheep 的人民币结算方式")
        await wait_until(pilot, lambda: len(app.view.answers()) == 1, "the answer")
        answer = app.view.answers()[0]
        assert isinstance(answer, AnswerView)
        samples = 0
        for _ in range(200):  # bounded: one sample per frame while the answer streams
            if not app.answering:
                break
            await pilot.pause()
            body = answer.body
            lines = drawn(body)
            if body.text.strip() and lines and body.size.height == len(lines):
                trailing = len(lines) - len("\n".join(lines).rstrip("\n").split("\n"))
                # The height grows three lines at a time while streaming (a third as many full-screen
                # layouts): at most two blank lines wait for text, never a block of the screen.
                assert trailing <= 2, f"{trailing} blank lines under the streaming text: {lines[-4:]}"
                samples += 1
        assert samples >= 3, "the answer was seen streaming"
        await wait_until(pilot, lambda: not app.answering, "the answer finished")
        await pilot.pause()
        lines = drawn(answer.body)
        assert lines[-1].strip(), "a finished answer keeps no blank line under its text"
