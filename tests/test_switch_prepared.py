"""Switching between long alternatives paints at once: the app lays out the other alternatives of the
answer on screen in the background, and selecting an answer does not lay it out again.

A history file holds one prompt with two long answers (Chinese and code); the app opens it from the
sidebar as a person would (Ctrl+B, Enter), then F6 / Ctrl+Up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from holysheep_tui import locations
from holysheep_tui.simulator.content import mixed_markdown
from holysheep_tui.store import HistoryStore
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.widgets.answer import LAID_OUT, StoredAnswer

Wait = Callable[..., Awaitable[None]]
ENDINGS = ("第一个回答到此结束 ALPHA", "第二个回答到此结束 BRAVO")


def write_history() -> tuple[str, list[str]]:
    store = HistoryStore.open(locations.history_db())
    try:
        conv = store.create_conversation(profile="demo", title="长回答的两个版本")
        prompt = store.add_user_message(conv, "请写一篇很长的回答", model="kimi-k2")
        texts = []
        for seed, ending in enumerate(ENDINGS, start=1):
            text = mixed_markdown(1500, seed=seed) + "\n\n" + ending
            answer = store.start_answer(conv, model="kimi-k2", parent_id=prompt)
            store.finish_answer(answer, status="complete", content=text, completion_tokens=1500)
            texts.append(text)
    finally:
        store.close()
    return conv, texts


def last_answer(app: HolySheepApp) -> StoredAnswer:
    answer = app.view.answers()[-1]
    assert isinstance(answer, StoredAnswer)
    return answer


async def open_first_conversation(pilot: Any, app: HolySheepApp, wait_until: Wait) -> None:
    await pilot.press("ctrl+b")
    await wait_until(pilot, lambda: app.sidebar.display, "the sidebar")
    await pilot.press("enter")
    await wait_until(pilot, lambda: bool(app.view.answers()), "the conversation shown")


async def test_f6_shows_the_other_long_answer_without_rendering_it_again(
    make_app: Callable[..., HolySheepApp], wait_until: Wait
) -> None:
    _, texts = write_history()
    LAID_OUT.clear()
    app = make_app(store=locations.history_db())
    async with app.run_test(size=(120, 40)) as pilot:
        await open_first_conversation(pilot, app, wait_until)
        assert last_answer(app).text == texts[1]  # the answer written last is the active one
        # The other alternative is laid out in the background at the width on screen.
        await wait_until(pilot, lambda: texts[0] in LAID_OUT, "the other alternative prepared")
        prepared = LAID_OUT.get(texts[0])
        assert prepared is not None and prepared.width == last_answer(app).body_layout[1]  # type: ignore[index]
        renders = prepared.blocks_rendered + prepared.open_renders
        await pilot.press("f6")
        await wait_until(pilot, lambda: last_answer(app).text == texts[0], "the first answer shown")
        await pilot.pause(0.2)
        shown = last_answer(app)
        assert "‹1/2›" in shown.header
        assert shown.body_renders == renders  # painted from the prepared lines: nothing rendered again
        # ... and the answer just left is kept too: F7 brings it back without rendering.
        back = LAID_OUT.get(texts[1])
        assert back is not None
        renders_back = back.blocks_rendered + back.open_renders
        await pilot.press("f7")
        await wait_until(pilot, lambda: last_answer(app).text == texts[1], "the second answer again")
        await pilot.pause(0.2)
        assert last_answer(app).body_renders == renders_back
        assert ENDINGS[1] in last_answer(app).text


async def test_selecting_a_long_answer_does_not_lay_it_out_again(
    make_app: Callable[..., HolySheepApp], wait_until: Wait
) -> None:
    write_history()
    app = make_app(store=locations.history_db())
    async with app.run_test(size=(120, 40)) as pilot:
        await open_first_conversation(pilot, app, wait_until)
        await pilot.press("ctrl+b")  # the sidebar away, focus back to the prompt
        await pilot.pause(0.2)
        answer = last_answer(app)
        renders = answer.body_renders
        assert renders > 0
        await pilot.press("ctrl+up")
        await wait_until(pilot, lambda: app.view.selected is answer, "the answer selected")
        await pilot.pause(0.2)
        assert answer.has_class("-selected")
        assert answer.body_renders == renders
