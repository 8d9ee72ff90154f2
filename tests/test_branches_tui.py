"""Branches in the app, driven by keys as a person would: move between alternatives (‹2/3›), select an
earlier message and edit it, ask it again with another model, fork a conversation from it.

The app runs under Pilot against the relay simulator on loopback, over a real history file; a second
app (a restart) opens the same file and finds the same tree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from holysheep_tui import locations
from holysheep_tui.store import HistoryStore
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.screens.model_picker import ModelPicker
from holysheep_tui.tui.widgets.answer import AnswerView, StoredAnswer
from holysheep_tui.tui.widgets.conversation import UserMessage
from holysheep_tui.tui.widgets.prompt import PromptInput

PROMPT = "用一句话介绍你自己"
SECOND = "再说说你的缺点"

Wait = Callable[..., Awaitable[None]]


def header(widget: Any) -> str:
    """What the answer's first line says: the model and its place among the alternatives."""
    if isinstance(widget, StoredAnswer):
        return widget.header
    assert isinstance(widget, AnswerView)
    return str(widget.query_one(".answer-header").render())


def last_answer(app: HolySheepApp) -> Any:
    return app.view.answers()[-1]


async def regenerated(pilot: Any, app: HolySheepApp, wait_until: Wait, count: int) -> None:
    await wait_until(
        pilot,
        lambda: (
            not app.answering
            and len(app.view.answers()) >= 1
            and f"‹{count}/{count}›" in header(last_answer(app))
        ),
        f"answer ‹{count}/{count}›",
    )


async def test_regenerate_three_times_then_move_between_the_four_answers_and_find_them_after_a_restart(
    make_app: Callable[..., HolySheepApp],
    send_and_wait: Callable[..., Awaitable[Any]],
    wait_until: Wait,
) -> None:
    db = locations.history_db()
    app = make_app(store=db)
    async with app.run_test(size=(120, 40)) as pilot:
        first = await send_and_wait(pilot, PROMPT)
        first_text = first.text
        assert "‹" not in header(first)  # no alternatives yet: no place shown
        for n in (2, 3, 4):
            await pilot.press("ctrl+r")
            await regenerated(pilot, app, wait_until, n)
        conv_id = app.chat.conversation.id
        assert conv_id is not None
        # F6 from the prompt walks back through the alternatives of the last answer, one at a time.
        for n in (3, 2, 1):
            await pilot.press("f6")
            place = f"‹{n}/4›"
            await wait_until(pilot, lambda p=place: p in header(last_answer(app)), f"alternative {place}")
        assert last_answer(app).text == first_text
        assert app.chat.conversation.turns[-1].answer.content == first_text  # what the next request sends
        await pilot.press("f6")  # already the first: it stays (no wrap to the last)
        await pilot.pause(0.2)
        assert "‹1/4›" in header(last_answer(app))
        await pilot.press("f7")
        await wait_until(pilot, lambda: "‹2/4›" in header(last_answer(app)), "alternative 2/4")
        second_id = last_answer(app).message_id
    with HistoryStore.open(db) as store:
        stored = store.get_conversation(conv_id)
    assert [m.role for m in stored.tree].count("assistant") == 4
    assert stored.messages[-1].id == second_id  # the active path was moved, nothing deleted

    again = make_app(store=db)
    async with again.run_test(size=(120, 40)) as pilot:
        await again.open_conversation(conv_id)
        await wait_until(pilot, lambda: bool(again.view.answers()), "the conversation reopened")
        assert "‹2/4›" in header(last_answer(again))
        assert last_answer(again).message_id == second_id
        await pilot.press("f7")
        await wait_until(
            pilot, lambda: "‹3/4›" in header(last_answer(again)), "alternative 3/4 after a restart"
        )


async def test_edit_an_earlier_prompt_adds_an_alternative_and_the_old_branch_comes_back_whole(
    make_app: Callable[..., HolySheepApp],
    send_and_wait: Callable[..., Awaitable[Any]],
    wait_until: Wait,
    chats: Callable[..., list[Any]],
    simulator: Any,
) -> None:
    db = locations.history_db()
    app = make_app(store=db)
    async with app.run_test(size=(120, 40)) as pilot:
        await send_and_wait(pilot, PROMPT)
        await send_and_wait(pilot, SECOND)
        # Ctrl+Up selects the last answer; Up three times reaches the first prompt (and stops there).
        await pilot.press("ctrl+up", "up", "up", "up", "up")
        selected = app.view.selected
        assert isinstance(selected, UserMessage) and selected.text == PROMPT
        await pilot.press("e")
        prompt = app.query_one(PromptInput)
        await wait_until(
            pilot, lambda: prompt.text == PROMPT and prompt.has_focus, "the prompt loaded to edit"
        )
        prompt.load_text("用三句话介绍你自己")
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: not app.answering and app.chat.conversation.turns[-1].prompt == "用三句话介绍你自己",
            "the edited prompt's answer",
        )
        assert [t.prompt for t in app.chat.conversation.turns] == ["用三句话介绍你自己"]
        sent = chats(simulator)[-1].json["messages"]
        assert [m["content"] for m in sent] == ["用三句话介绍你自己"]  # nothing after the edited prompt
        prompts = [w for w in app.view.messages() if isinstance(w, UserMessage)]
        assert "‹2/2›" in str(prompts[0].render())
        # Back to the first branch: the old prompt, its answer and the turn after it, all there.
        await pilot.press("ctrl+up", "up", "left")
        await wait_until(
            pilot,
            lambda: [t.prompt for t in app.chat.conversation.turns] == [PROMPT, SECOND],
            "the original branch",
        )
        assert isinstance(app.view.selected, UserMessage) and "‹1/2›" in str(app.view.selected.render())


async def test_leaving_an_edit_of_an_earlier_prompt_changes_nothing(
    make_app: Callable[..., HolySheepApp],
    send_and_wait: Callable[..., Awaitable[Any]],
    wait_until: Wait,
) -> None:
    db = locations.history_db()
    app = make_app(store=db)
    async with app.run_test(size=(120, 40)) as pilot:
        await send_and_wait(pilot, PROMPT)
        await send_and_wait(pilot, SECOND)
        await pilot.press("ctrl+up", "up", "up", "up", "e")
        prompt = app.query_one(PromptInput)
        await wait_until(pilot, lambda: prompt.text == PROMPT, "the prompt loaded to edit")
        assert prompt.border_title  # it says an edit is under way
        prompt.clear()
        await pilot.pause()
        assert not prompt.border_title
        await send_and_wait(pilot, "第三个问题")  # a new prompt after emptying: not an edit
        assert [t.prompt for t in app.chat.conversation.turns] == [PROMPT, SECOND, "第三个问题"]
        conv_id = app.chat.conversation.id
        assert conv_id is not None
    with HistoryStore.open(db) as store:
        stored = store.get_conversation(conv_id)
    assert not stored.off_path and [m.role for m in stored.messages].count("user") == 3


async def test_ask_an_earlier_answer_again_with_another_model(
    make_app: Callable[..., HolySheepApp],
    send_and_wait: Callable[..., Awaitable[Any]],
    wait_until: Wait,
    chats: Callable[..., list[Any]],
    simulator: Any,
) -> None:
    db = locations.history_db()
    app = make_app(store=db)
    async with app.run_test(size=(120, 40)) as pilot:
        await send_and_wait(pilot, PROMPT)
        await send_and_wait(pilot, SECOND)
        await pilot.press("ctrl+up", "up", "up")  # the first answer
        assert isinstance(app.view.selected, StoredAnswer | AnswerView)
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), "the model picker")
        await pilot.press(*"deepseek-v3.2", "enter")
        await wait_until(
            pilot,
            lambda: not app.answering and "‹2/2›" in header(last_answer(app)),
            "the other model's answer",
        )
        assert header(last_answer(app)).startswith("deepseek-v3.2")
        request = chats(simulator)[-1].json
        assert request["model"] == "deepseek-v3.2"
        assert [m["content"] for m in request["messages"]] == [PROMPT]
        assert app.chat.model == "deepseek-v3.2"
        assert [t.prompt for t in app.chat.conversation.turns] == [PROMPT]
        conv_id = app.chat.conversation.id
        assert conv_id is not None
    with HistoryStore.open(db) as store:
        stored = store.get_conversation(conv_id)
    answers = [m for m in stored.tree if m.role == "assistant"]
    assert [m.model for m in answers] == ["kimi-k2", "kimi-k2", "deepseek-v3.2"]
    assert answers[0].parent_id == answers[2].parent_id  # siblings: two answers to the first prompt


async def test_fork_from_a_prompt_opens_a_new_conversation_with_it_ready_and_the_original_untouched(
    make_app: Callable[..., HolySheepApp],
    send_and_wait: Callable[..., Awaitable[Any]],
    wait_until: Wait,
    cli: Any,
) -> None:
    db = locations.history_db()
    app = make_app(store=db)
    async with app.run_test(size=(120, 40)) as pilot:
        await send_and_wait(pilot, PROMPT)
        await send_and_wait(pilot, SECOND)
        original = app.chat.conversation.id
        paid = app.chat.live.total_usd
        await pilot.press("ctrl+up", "up")  # the second prompt
        assert isinstance(app.view.selected, UserMessage) and app.view.selected.text == SECOND
        await pilot.press("f")
        prompt = app.query_one(PromptInput)
        await wait_until(
            pilot, lambda: app.chat.conversation.id != original and prompt.text == SECOND, "the fork"
        )
        assert [t.prompt for t in app.chat.conversation.turns] == [PROMPT]
        await send_and_wait(pilot, "换个说法：" + SECOND)
        fork = app.chat.conversation.id
        assert fork is not None and original is not None
    with HistoryStore.open(db) as store:
        kept = store.get_conversation(original)
        forked = store.get_conversation(fork)
        listed = {c.id: c for c in store.list_conversations()}
    assert [m.content for m in kept.messages if m.role == "user"] == [PROMPT, SECOND]
    assert [m.content for m in forked.messages if m.role == "user"] == [PROMPT, "换个说法：" + SECOND]
    assert forked.messages[0].copied_from == kept.messages[0].id
    # The copied answer was paid once, in the original: the totals do not count it twice.
    assert abs(listed[original].cost_usd - paid) < 1e-12
    assert abs(listed[fork].cost_usd - forked.messages[-1].cost_usd) < 1e-12  # type: ignore[operator]


async def test_typing_while_a_message_is_selected_goes_to_the_prompt(
    make_app: Callable[..., HolySheepApp],
    send_and_wait: Callable[..., Awaitable[Any]],
    wait_until: Wait,
) -> None:
    app = make_app(store=locations.history_db())
    async with app.run_test(size=(120, 40)) as pilot:
        await send_and_wait(pilot, PROMPT)
        await pilot.press("ctrl+up")
        assert app.view.selected is not None
        await pilot.press("h", "i", "space")
        prompt = app.query_one(PromptInput)
        await wait_until(pilot, lambda: prompt.text == "hi ", "the typed text in the prompt")
        assert prompt.has_focus and app.view.selected is None


async def test_ctrl_s_with_include_alternatives_writes_every_answer_to_the_markdown_file(
    make_app: Callable[..., HolySheepApp],
    send_and_wait: Callable[..., Awaitable[Any]],
    wait_until: Wait,
    tmp_path: Path,
) -> None:
    from textual.widgets import Checkbox, Input

    from holysheep_tui.tui.screens.export import ExportScreen

    app = make_app(store=locations.history_db())
    app.export_dir = tmp_path
    async with app.run_test(size=(120, 40)) as pilot:
        first = (await send_and_wait(pilot, PROMPT)).text
        await pilot.press("ctrl+r")
        await regenerated(pilot, app, wait_until, 2)
        second = last_answer(app).text
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportScreen), "the export dialog")
        box = app.screen.query_one("#export-branches", Checkbox)
        path = Path(app.screen.query_one(Input).value)
        assert path.suffix == ".md"
        await pilot.press("tab", "space")
        await wait_until(pilot, lambda: box.value, "include alternatives ticked")
        await pilot.press("shift+tab", "enter")
        await wait_until(pilot, path.exists, "the exported file")
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    assert first[:20] in text and second[:20] in text and "Alternative 1 of 2" in text
