"""Chinese text in the app wraps by the Unicode line-breaking rules at 80 columns, sidebar open or not:
lines are full, a break falls between CJK characters rather than only at the one space, and no line
starts with a closing mark such as ``。，、）」`` (issue 15, item 6)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.cells import cell_len
from textual import events
from textual.keys import _character_to_key
from textual.pilot import Pilot
from textual.widget import Widget

from holysheep_tui.store import Conversation, HistoryStore, Message
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.widgets.answer import AnswerView, StoredAnswer
from holysheep_tui.tui.widgets.conversation import UserMessage
from holysheep_tui.tui.widgets.prompt import PromptInput
from holysheep_tui.tui.widgets.sidebar import HistorySidebar

CLOSERS = "。，、）」』！？：；"
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
PROMPT = (
    "请用中文详细解释一下，为什么通过中转服务按人民币结算的时候，实际花费会比直接用美元信用卡支付低很多，"
    "以及「一比一」汇率具体是怎么计算的？ 最好再举一个具体的例子（比如一百万个输出词元）。"
)
ANSWER = (
    "人民币结算的好处在于按一比一的汇率计费，所以同样的美元标价用人民币支付时实际花费大约只有原来的七分之一。"
    "举例来说，一百万个输出词元标价两美元五十美分，按市场汇率要付十八元左右，而这里只要两元五角。"
    " 另外充值可以直接用微信或支付宝，财务对账也更简单（不需要外币信用卡），开发票也方便。"
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore.open(tmp_path / "history.db") as s:
        messages = (
            Message(0, "", "user", PROMPT, T0),
            Message(0, "", "assistant", ANSWER, T0 + timedelta(minutes=1)),
        )
        s.insert_conversation(
            Conversation(
                "", "人民币结算的好处", False, T0, T0 + timedelta(minutes=1), "holysheep", messages=messages
            )
        )
        yield s


def painted(app: HolySheepApp, widget: Widget) -> list[str]:
    """The non-blank lines the screen shows inside ``widget``'s content area."""
    strips = app.screen._compositor.render_strips()
    region = widget.content_region
    lines = [strips[y].crop(region.x, region.right).text.rstrip() for y in range(region.y, region.bottom)]
    return [line for line in lines if line.strip()]


def paragraph(lines: list[str], source: str) -> list[str]:
    """The run of lines that shows ``source``, from its first line on."""
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(source[:6]))
    shown: list[str] = []
    for line in lines[start:]:
        shown.append(line.strip())
        if "".join(shown).replace(" ", "").startswith(source.replace(" ", "")):
            break
    return shown


def assert_wrapped_by_the_rules(source: str, lines: list[str], width: int) -> None:
    text = "".join(lines)
    assert text.replace(" ", "").startswith(source.replace(" ", "")), lines
    assert len(lines) > 2, lines
    assert not [line for line in lines if line[:1] in CLOSERS], lines
    position = 0
    for line, after in zip(lines, lines[1:], strict=False):
        position = source.index(line, position) + len(line)
        spaces = len(source[position:]) - len(source[position:].lstrip(" "))
        first = after[0] + "".join(ch for ch in after[1:3] if ch in CLOSERS)
        assert cell_len(line) + spaces + cell_len(first) > width, f"not full at {width}: {line!r} / {after!r}"


async def open_the_conversation(
    pilot: Pilot[None], app: HolySheepApp, wait_until: Callable[..., Awaitable[None]]
) -> None:
    await pilot.press("ctrl+b")
    sidebar = app.query_one(HistorySidebar)
    await wait_until(pilot, lambda: bool(sidebar.rows), "the sidebar lists the conversation")
    await app.open_conversation(sidebar.rows[0].id)
    await wait_until(pilot, lambda: bool(app.query(StoredAnswer)), "the stored answer is shown")
    await pilot.pause()


@pytest.mark.parametrize("sidebar_open", [False, True])
async def test_a_stored_chinese_answer_and_prompt_wrap_between_characters(
    store: HistoryStore,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    sidebar_open: bool,
) -> None:
    app = make_app(store=store)
    async with app.run_test(size=(80, 30)) as pilot:
        await open_the_conversation(pilot, app, wait_until)
        if not sidebar_open:
            await pilot.press("ctrl+b")
            await wait_until(
                pilot, lambda: not app.query_one("#sidebar").has_class("-visible"), "sidebar closed"
            )
        await pilot.pause()
        assert app.query_one(HistorySidebar).region.width > 0 if sidebar_open else True
        answer = app.query_one(StoredAnswer)
        prompt = app.query_one(UserMessage)
        answer_lines = paragraph(painted(app, answer), ANSWER)
        prompt_lines = paragraph(painted(app, prompt), PROMPT)
        assert_wrapped_by_the_rules(ANSWER, answer_lines, answer.content_region.width)
        assert_wrapped_by_the_rules(PROMPT, prompt_lines, prompt.content_region.width)
        assert "。" not in [line.strip() for line in painted(app, answer)], "a lone 。 on its own line"


async def test_a_streamed_answer_never_starts_a_line_with_a_closing_mark(
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 60)) as pilot:
        answer = await send_and_wait(pilot, PROMPT)
        prompt = app.query(UserMessage).last()
        app.view.scroll_to_widget(prompt, animate=False, top=True)
        await pilot.pause()
        prompt_lines = paragraph(painted(app, prompt), PROMPT)
        assert_wrapped_by_the_rules(PROMPT, prompt_lines, prompt.content_region.width)
        body = [line.strip() for line in painted(app, answer)]
        assert any(any("\u4e00" <= ch <= "\u9fff" for ch in line) for line in body), body
        assert not [line for line in body if line[:1] in CLOSERS], body


async def type_text(pilot: Pilot[None], text: str) -> None:
    """Key events as the terminal reports typed (or IME-committed) characters: the key's name and the
    character itself (Pilot's ``press`` gives no character for names such as ``fullwidth_comma``)."""
    driver = pilot.app._driver
    assert driver is not None
    for ch in text:
        event = events.Key(_character_to_key(ch), ch)
        event.set_sender(pilot.app)
        driver.send_message(event)
        await pilot.pause(0)


async def test_a_chinese_prompt_being_typed_wraps_between_characters(
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    """Typed into the prompt at 80 columns (IME text arrives as characters), a Chinese prompt fills each
    row and breaks between characters; no row starts with a closing mark; the screen shows those rows."""
    app = make_app()
    async with app.run_test(size=(80, 30)) as pilot:
        prompt = app.query_one(PromptInput)
        await wait_until(pilot, lambda: prompt.has_focus, "the prompt has the focus")
        await type_text(pilot, PROMPT)
        await pilot.pause()
        assert prompt.text == PROMPT
        rows = [row.rstrip(" ") for row in prompt.wrapped_document.get_sections(0)]
        assert "".join(rows).replace(" ", "") == PROMPT.replace(" ", "")
        assert_wrapped_by_the_rules(PROMPT, rows, prompt.wrap_width)
        shown = [line.strip() for line in painted(app, prompt)]
        assert shown and all(line in [r.strip() for r in rows] for line in shown), (shown, rows)
        await pilot.press("ctrl+j")  # a second line, wrapped as it is edited
        await type_text(pilot, PROMPT)
        assert prompt.text == PROMPT + "\n" + PROMPT
        rows = [row.rstrip(" ") for row in prompt.wrapped_document.get_sections(1)]
        assert_wrapped_by_the_rules(PROMPT, rows, prompt.wrap_width)
