"""Garbage collection while an answer streams: painted lines are freed when dropped, and full collections
(a keystroke's delay each) wait until the stream ends."""

from __future__ import annotations

import collections
import gc
from collections.abc import Awaitable, Callable
from pathlib import Path

from holysheep_tui.chat.session import Session
from holysheep_tui.store import HistoryStore
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.gc_pacing import HELD_FACTOR
from holysheep_tui.tui.widgets.answer import AnswerView

STREAMED = "kimi-k2+len=1200,tps=600"
"""A 1,200-token answer paced so the screen paints many frames while it streams."""


async def test_an_answer_streamed_on_screen_leaves_no_painted_line_to_the_collector(
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Session],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
    tmp_path: Path,
) -> None:
    app = make_app(make_session(model=STREAMED), store=HistoryStore.open(tmp_path / "历史.db"))
    async with app.run_test(size=(120, 40)) as pilot:
        await send_and_wait(pilot, "写一段关于长江的介绍")
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector frees is kept here, to be counted
        try:
            answer = await send_and_wait(pilot, "再写一段，讲讲黄河")
            gc.collect()
            kinds = collections.Counter(type(o).__name__ for o in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        assert answer.has_class("-complete") and app.conversation.turns[-1].status == "complete"
        # Painted lines are freed by their reference count; the few left are held by a widget that was
        # removed (a widget is a cycle by nature). Before: about 2,000 strips, each a cycle of its own.
        assert kinds["Strip"] <= 10, kinds.most_common(8)


async def test_full_collections_wait_while_an_answer_streams_and_come_back_after(
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Session],
    wait_until: Callable[..., Awaitable[None]],
    send: Callable[..., Awaitable[None]],
) -> None:
    before = gc.get_threshold()
    app = make_app(make_session(model="kimi-k2+len=3000,tps=300"))
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "慢慢讲一个很长的故事")
        await wait_until(pilot, lambda: app.answering and app.stream_collections.held, "the stream")
        young, middle, old = gc.get_threshold()
        assert (young, middle) == before[:2] and old == before[2] * HELD_FACTOR
        await pilot.press("escape")  # stopped: the stream ends
        await wait_until(pilot, lambda: not app.answering, "the answer to stop")
        await wait_until(pilot, lambda: not app.stream_collections.held, "the hold to end")
        assert gc.get_threshold() == before
        assert app.conversation.turns[-1].status == "stopped"


async def test_an_app_that_ends_while_an_answer_streams_gives_the_collections_back(
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Session],
    wait_until: Callable[..., Awaitable[None]],
    send: Callable[..., Awaitable[None]],
) -> None:
    before = gc.get_threshold()
    app = make_app(make_session(model="kimi-k2+len=3000,tps=200"))
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "讲一个很长的故事")
        await wait_until(pilot, lambda: app.stream_collections.held, "the stream")
        await pilot.press("ctrl+q")  # quit mid-answer
    assert gc.get_threshold() == before
