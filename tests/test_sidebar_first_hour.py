"""The history sidebar as a new user meets it: the cursor is marked apart from the open conversation, it
stops at both ends, and ``d`` always names the conversation under the cursor (issue 15, item 10)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.pilot import Pilot

from holysheep_tui.store import Conversation, HistoryStore, Message
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.screens.dialogs import ConfirmScreen
from holysheep_tui.tui.widgets.sidebar import CURSOR_MARK, HistorySidebar

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
TITLES = ["第一个：人民币结算", "第二个：模型价格", "第三个：首字延迟", "第四个：发票怎么开", "第五个：退款"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore.open(tmp_path / "history.db") as s:
        for i, title in enumerate(TITLES):  # inserted oldest first: the sidebar lists the newest first
            at = T0 + timedelta(hours=i)
            messages = (
                Message(0, "", "user", f"{title}？", at),
                Message(0, "", "assistant", f"关于{title}的回答。", at + timedelta(minutes=1)),
            )
            s.insert_conversation(
                Conversation("", title, False, at, at + timedelta(minutes=1), "holysheep", messages=messages)
            )
        yield s


def shown(sidebar: HistorySidebar) -> list[str]:
    """The text of each line the sidebar's list draws."""
    options = sidebar.options
    return [options.render_line(y).text for y in range(options.size.height)]


async def open_sidebar(pilot: Pilot[None]) -> HistorySidebar:
    await pilot.press("ctrl+b")
    await pilot.pause()
    sidebar = pilot.app.query_one(HistorySidebar)
    sidebar.focus_list()
    await pilot.pause()
    return sidebar


async def test_the_cursor_has_its_own_mark_apart_from_the_open_conversation(
    store: HistoryStore, make_app: Callable[..., HolySheepApp], wait_until: Callable[..., Awaitable[None]]
) -> None:
    app = make_app(store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        sidebar = await open_sidebar(pilot)
        await app.open_conversation(sidebar.rows[1].id)  # 第四个 is open
        await wait_until(pilot, lambda: sidebar.current_id == sidebar.rows[1].id, "the open conversation")
        sidebar.focus_list()
        sidebar.options.highlighted = 3  # the cursor on 第二个
        await pilot.pause()
        lines = shown(sidebar)
        open_line = next(line for line in lines if "第四个" in line)
        cursor_lines = [line for line in lines if line.startswith(CURSOR_MARK)]
        assert "▸ 第四个" in open_line and not open_line.startswith(CURSOR_MARK)
        assert len(cursor_lines) == 3, "every line of the cursor row (title, date, models) carries the mark"
        assert "第二个" in cursor_lines[0] and "▸" not in cursor_lines[0]


async def test_the_cursor_stops_at_the_top_and_the_bottom(
    store: HistoryStore, make_app: Callable[..., HolySheepApp]
) -> None:
    app = make_app(store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        sidebar = await open_sidebar(pilot)
        sidebar.options.highlighted = 0
        await pilot.press("up", "up", "up")
        assert sidebar.options.highlighted == 0, "Up at the top does not jump to the bottom"
        await pilot.press(*["down"] * 8)
        assert sidebar.options.highlighted == len(TITLES) - 1, "Down stops at the last conversation"
        await pilot.press("down")
        assert sidebar.options.highlighted == len(TITLES) - 1


async def test_three_ups_then_d_asks_about_the_conversation_under_the_cursor(
    store: HistoryStore, make_app: Callable[..., HolySheepApp], wait_until: Callable[..., Awaitable[None]]
) -> None:
    app = make_app(store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        sidebar = await open_sidebar(pilot)
        sidebar.options.highlighted = 1  # 第四个; three Ups would once have wrapped to 第二个
        await pilot.pause()
        await pilot.press("up", "up", "up")
        under_cursor = next(line for line in shown(sidebar) if line.startswith(CURSOR_MARK))
        assert "第五个" in under_cursor
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert isinstance(app.screen, ConfirmScreen)
        assert "第五个：退款" in app.screen.question
        assert not any(t in app.screen.question for t in TITLES[:4])
        await pilot.press("y")
        await wait_until(pilot, lambda: len(sidebar.rows) == 4, "the deleted conversation to leave the list")
        assert [c.title for c in store.list_conversations()] == TITLES[3::-1]
