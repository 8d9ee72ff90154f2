"""Stored answers share the app's one ``StoredAnswerLook`` for their component styles (issue 17, item 2).

A stored answer has 21 component classes (Markdown parts, header, notices, figures); styled on its own,
each is a node of its own, made and styled at every mount and left for the garbage collector when the
page is unmounted. Opened and paged the way a person does (Ctrl+B, Enter, PageUp), every stored answer
reads the app's one look instead, draws in the theme's colours, and follows the theme when it changes
(Ctrl+T). Pilot drives the real app over a real SQLite history in tmp_path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.color import Color as RichColor
from textual.color import Color
from textual.pilot import Pilot
from textual.widgets import OptionList

from holysheep_tui.store import Conversation, HistoryStore, Message
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.widgets.answer import StoredAnswer, StoredAnswerLook

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
TURNS = 40
SIZE = (100, 30)


def conversation(store: HistoryStore) -> str:
    messages: list[Message] = []
    for i in range(TURNS):
        messages.append(Message(0, "", "user", f"第 {i} 个问题：¥ 结算怎么算？", T0 + timedelta(minutes=2 * i)))
        messages.append(
            Message(0, "", "assistant", f"# 标题 {i}\n\n按一元等于一美元结算，**粗体**和 `代码`。",
                    T0 + timedelta(minutes=2 * i + 1), model="deepseek-v3.2", prompt_tokens=100, completion_tokens=20)
        )  # fmt: skip
    end = T0 + timedelta(minutes=2 * TURNS)
    return store.insert_conversation(
        Conversation("", "人民币结算", False, T0, end, "holysheep", messages=tuple(messages))
    )


def theme_color(app: HolySheepApp, name: str) -> RichColor:
    return Color.parse(app.theme_variables[name]).rich_color


def heading_colors(answer: StoredAnswer) -> list[RichColor | None]:
    """The colour of each heading ("标题 N") the answer draws."""
    return [
        segment.style.color if segment.style is not None else None
        for y in range(answer.size.height)
        for segment in answer.render_line(y)
        if segment.text.startswith("标题")
    ]


def drawn(app: HolySheepApp) -> list[StoredAnswer]:
    return [a for a in app.query(StoredAnswer) if a.size.height > 0]


async def open_first(pilot: Pilot[None], wait_until: Callable[..., Awaitable[None]]) -> None:
    app = pilot.app
    assert isinstance(app, HolySheepApp)
    await pilot.press("ctrl+b")
    await wait_until(pilot, lambda: app.query_one("#history-list", OptionList).option_count > 0, "the history")
    app.query_one("#history-list", OptionList).focus()
    await pilot.press("enter")
    await wait_until(pilot, lambda: bool(drawn(app)), "the stored answers")
    await pilot.press("ctrl+b")  # the sidebar away, back to the prompt
    await pilot.pause()


async def test_stored_answers_read_one_look_and_draw_in_the_theme_as_it_changes(
    tmp_path: Path, make_app: Callable[..., HolySheepApp], wait_until: Callable[..., Awaitable[None]]
) -> None:
    store = HistoryStore.open(tmp_path / "history.db")
    conversation(store)
    app = make_app(store=store)
    async with app.run_test(size=SIZE) as pilot:
        await open_first(pilot, wait_until)
        looks = list(app.query(StoredAnswerLook))
        assert len(looks) == 1 and looks[0].display is False, "one hidden look for the app"
        answers = drawn(app)
        assert all(not a._component_styles for a in answers), "no component nodes of each answer's own"
        primary = theme_color(app, "text-primary")
        assert {c for a in answers for c in heading_colors(a)} == {primary}, "headings in $text-primary"

        for _ in range(12):  # older pages mounted, far ones unmounted: still the one look
            await pilot.press("pageup")
            await pilot.pause()
        assert len(app.query(StoredAnswerLook)) == 1
        assert all(not a._component_styles for a in app.query(StoredAnswer))
        assert any(a.message.content.startswith("# 标题 0") for a in app.query(StoredAnswer)), "paged to the top"

        await pilot.press("ctrl+t")  # the theme list, as a person switches
        await pilot.pause(0.3)
        await pilot.press(*"nord")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.theme == "nord", "the nord theme")
        await pilot.pause()
        nord = theme_color(app, "text-primary")
        assert nord != primary
        colors = {c for a in drawn(app) for c in heading_colors(a)}
        assert colors == {nord}, f"every stored answer follows the theme: {colors} != {{{nord}}}"
    store.close()
