"""A long stored conversation scrolled with the keys from the prompt (issue 17, item 2).

PageUp reaches the first message, also when the keys come faster than pages load (a held key);
Home jumps to the first message and End back to the last; every message is shown once, in the
store's order, on the way up and down; and what is typed while paging all reaches the prompt.
Pilot drives the real app over a real SQLite history in tmp_path. Nothing here is timed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widget import Widget

from holysheep_tui.chat.resume import estimate_lines, pair_messages
from holysheep_tui.store import Conversation, HistoryStore, Message
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.widgets.conversation import ConversationView, UserMessage
from holysheep_tui.tui.widgets.prompt import PromptInput

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
TURNS = 200
SIZE = (120, 40)
PARAGRAPH = "人民币按一元等于一美元结算，流式输出时首字延迟通常在一秒以内，限流时按指数退避重试。"

WaitUntil = Callable[..., Awaitable[None]]


def answer_text(i: int) -> str:
    """Answers of one to six paragraphs, some with a list: pages hold different numbers of turns."""
    paragraphs = [f"第 {i} 个回答的第 {n} 段：{PARAGRAPH}" for n in range(1 + i % 6)]
    if i % 4 == 0:
        paragraphs.append("\n".join(f"- 要点 {k}：**粗体** 和 `代码`" for k in range(3)))
    return f"## 回答 {i}\n\n" + "\n\n".join(paragraphs)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore.open(tmp_path / "history.db") as s:
        yield s


@pytest.fixture
def conv_id(store: HistoryStore) -> str:
    messages: list[Message] = []
    for i in range(TURNS):
        messages.append(
            Message(0, "", "user", f"第 {i} 个问题：请解释限流和重试", T0 + timedelta(minutes=2 * i))
        )
        messages.append(
            Message(0, "", "assistant", answer_text(i), T0 + timedelta(minutes=2 * i + 1), model="deepseek-v3.2",
                    prompt_tokens=100 + i, completion_tokens=80)
        )  # fmt: skip
    end = T0 + timedelta(minutes=2 * TURNS)
    return store.insert_conversation(
        Conversation("", "很长的对话", False, T0, end, "holysheep", messages=tuple(messages))
    )


def on_screen(view: ConversationView, widget: Widget) -> bool:
    """Some of ``widget`` is inside the view's visible rows."""
    if not widget.is_attached:
        return False
    top = view.scroll_y
    bottom = top + view.scrollable_content_region.height
    region = widget.virtual_region
    return region.y < bottom and region.bottom > top


def shown_ids(view: ConversationView) -> list[int]:
    return [m for m in (getattr(w, "message_id", None) for w in view.messages()) if m is not None]


def first_prompt(view: ConversationView) -> UserMessage | None:
    prompts = list(view.query(UserMessage))
    return prompts[0] if prompts else None


def first_on_screen(view: ConversationView, first_id: int) -> bool:
    prompt = first_prompt(view)
    return prompt is not None and prompt.message_id == first_id and on_screen(view, prompt)


def last_on_screen(view: ConversationView, last_id: int) -> bool:
    answers = view.answers()
    return bool(answers) and answers[-1].message_id == last_id and on_screen(view, answers[-1])


def press_bound(store: HistoryStore, conv_id: str, view: ConversationView) -> int:
    """PageUp keys enough to cross the whole conversation: its estimated height (drawn, it comes to
    some 1.8 times that) in screens, with room to spare."""
    turns = pair_messages(store.get_conversation(conv_id).messages)
    width = view.scrollable_content_region.width - 4
    lines = sum(estimate_lines(turn, width) for turn in turns)
    return int(lines * 2.5 / view.scrollable_content_region.height) + 10


async def idle(pilot: Pilot[None], view: ConversationView) -> None:
    """Let the pages the keys asked for load (bounded by turns of the event loop, not by time)."""
    for _ in range(400):
        await pilot.pause()
        if not view._loading and not getattr(view, "_debt", 0):
            await pilot.pause()
            if not view._loading:
                return
    raise AssertionError("the pages did not settle")


async def opened(app: HolySheepApp, pilot: Pilot[None], conv_id: str) -> tuple[ConversationView, PromptInput]:
    await app.open_conversation(conv_id)
    view = app.view
    await idle(pilot, view)
    prompt = app.query_one(PromptInput)
    prompt.focus()
    await pilot.pause()
    return view, prompt


def check_slice(ids: list[int], order: list[int]) -> None:
    """What is mounted is a run of the conversation in the store's order: none missing between, none twice."""
    assert ids, "something is shown"
    start = order.index(ids[0])
    assert ids == order[start : start + len(ids)], "the messages mounted are the store's, in order"


async def test_page_up_from_the_prompt_reaches_the_first_message_with_every_message_in_order(
    store: HistoryStore, conv_id: str, make_app: Callable[..., HolySheepApp]
) -> None:
    app = make_app(store=store)
    order = [m.id for m in store.get_conversation(conv_id).messages]
    async with app.run_test(size=SIZE) as pilot:
        view, prompt = await opened(app, pilot, conv_id)
        assert last_on_screen(view, order[-1]), "it opens at the latest answer"
        bound = press_bound(store, conv_id, view)
        seen: set[int] = set(shown_ids(view))
        presses = 0
        while not first_on_screen(view, order[0]):
            assert presses < bound, f"the first message not reached in {bound} PageUp keys"
            await pilot.press("pageup")
            await idle(pilot, view)
            presses += 1
            ids = shown_ids(view)
            check_slice(ids, order)
            seen.update(ids)
        assert prompt.has_focus, "the prompt kept the focus"
        first = first_prompt(view)
        assert first is not None and first.text == "第 0 个问题：请解释限流和重试"
        assert seen == set(order), "every message was shown on the way up"
        assert len(view.query("*")) < 200, "far pages were unmounted on the way"

        seen = set(shown_ids(view))
        presses = 0
        while not last_on_screen(view, order[-1]) or view.scroll_y < view.max_scroll_y:
            assert presses < bound, f"the last message not reached in {bound} PageDown keys"
            await pilot.press("pagedown")
            await idle(pilot, view)
            presses += 1
            ids = shown_ids(view)
            check_slice(ids, order)
            seen.update(ids)
        assert seen == set(order), "and every message on the way down"


async def test_page_up_held_down_loses_no_key_and_reaches_the_first_message(
    store: HistoryStore, conv_id: str, make_app: Callable[..., HolySheepApp]
) -> None:
    """Keys faster than pages load (a held key: all posted at once): each still moves a screen."""
    app = make_app(store=store)
    order = [m.id for m in store.get_conversation(conv_id).messages]
    async with app.run_test(size=SIZE) as pilot:
        view, prompt = await opened(app, pilot, conv_id)
        bound = press_bound(store, conv_id, view)
        for _ in range(bound):
            app.post_message(events.Key("pageup", None))
        await idle(pilot, view)
        assert first_on_screen(view, order[0]), f"{bound} PageUp keys held reach the first message"
        assert view.scroll_y == 0
        check_slice(shown_ids(view), order)

        for _ in range(3):  # and from there a few keys down, each a screen, in order
            before = view.scroll_y
            app.post_message(events.Key("pagedown", None))
            await idle(pilot, view)
            assert view.scroll_y > before
            check_slice(shown_ids(view), order)


async def test_home_jumps_to_the_first_message_and_end_returns_to_the_last(
    store: HistoryStore, conv_id: str, make_app: Callable[..., HolySheepApp]
) -> None:
    app = make_app(store=store)
    order = [m.id for m in store.get_conversation(conv_id).messages]
    async with app.run_test(size=SIZE) as pilot:
        view, prompt = await opened(app, pilot, conv_id)
        assert prompt.text == ""
        await pilot.press("home")  # on an empty prompt: the conversation's top
        await idle(pilot, view)
        assert first_on_screen(view, order[0]) and view.scroll_y == 0
        ids = shown_ids(view)
        check_slice(ids, order)
        assert order[-1] not in ids and len(ids) < len(order) // 4, "one page at the top, not every page"

        await pilot.press("end")
        await idle(pilot, view)
        assert last_on_screen(view, order[-1]) and view.scroll_y >= view.max_scroll_y - 1
        assert view.is_anchored, "at the end the view follows new answers again"
        check_slice(shown_ids(view), order)

        await pilot.press("ctrl+home")  # the same with text in the prompt
        prompt.insert("草稿")
        await pilot.press("ctrl+home")
        await idle(pilot, view)
        assert first_on_screen(view, order[0])
        await pilot.press("ctrl+end")
        await idle(pilot, view)
        assert last_on_screen(view, order[-1])
        assert prompt.text == "草稿", "the draft is untouched"


async def test_typing_while_paging_loses_no_character(
    store: HistoryStore, conv_id: str, make_app: Callable[..., HolySheepApp], wait_until: WaitUntil
) -> None:
    app = make_app(store=store)
    typed = "限流时请重试 retry 二〇二四"
    async with app.run_test(size=SIZE) as pilot:
        view, prompt = await opened(app, pilot, conv_id)
        assert view.pager is not None
        start = view.pager.start
        for char in typed:  # each character between PageUp keys, all queued before any is handled
            app.post_message(events.Key("pageup", None))
            app.post_message(events.Key("pageup", None))
            app.post_message(events.Key(char if char != " " else "space", char))
        await idle(pilot, view)
        await wait_until(pilot, lambda: prompt.text == typed, "every character in the prompt")
        assert prompt.has_focus
        assert view.pager.start < start, "older pages were loaded meanwhile"
