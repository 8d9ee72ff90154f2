"""Comparing models in the app, as a person does it: Ctrl+O, Space marks models, Enter, type a prompt.

The answers stream side by side against the relay simulator on loopback; every leg is stored as a
sibling answer of the one prompt, with its own figures; F6/F7 choose which one the conversation goes on
with; one failing leg leaves the others running; Esc stops them all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from holysheep_tui import locations
from holysheep_tui.simulator import Pacing
from holysheep_tui.store import HistoryStore
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.screens.model_picker import ModelPicker
from holysheep_tui.tui.widgets.compare import CompareView
from holysheep_tui.tui.widgets.prompt import PromptInput

PROMPT = "用三句话比较一下你们自己"
MODELS = ("kimi-k2", "deepseek-v3.2", "gpt-4.1")
Wait = Callable[..., Awaitable[None]]


async def mark_models(pilot: Any, app: HolySheepApp, models: tuple[str, ...], wait_until: Wait) -> None:
    """Open the picker, filter to each model and mark it with Space, then Enter."""
    await pilot.press("ctrl+o")
    await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), "the model picker")
    picker = app.screen
    assert isinstance(picker, ModelPicker)
    for model in models:
        await pilot.press("ctrl+u", *model)
        await pilot.pause()
        await pilot.press("space")
        await pilot.pause()
    assert picker.marked == list(models)
    await pilot.press("enter")
    await wait_until(pilot, lambda: not isinstance(app.screen, ModelPicker), "the picker to close")


def comparison(app: HolySheepApp) -> CompareView:
    found = app.view.query(CompareView)
    assert found, "no comparison on screen"
    return found.last()


async def test_three_models_answer_side_by_side_each_with_its_own_figures_and_all_are_kept(
    make_app: Callable[..., HolySheepApp],
    wait_until: Wait,
    chats: Callable[..., list[Any]],
    simulator: Any,
) -> None:
    db = locations.history_db()
    app = make_app(store=db)
    async with app.run_test(size=(160, 48)) as pilot:
        await mark_models(pilot, app, MODELS, wait_until)
        prompt = app.query_one(PromptInput)
        title = str(prompt.border_title)
        assert "3 models" in title and "CNY" in title  # the combined estimate, before sending
        prompt.load_text(PROMPT)
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: not app.answering and bool(app.view.query(CompareView)), "the comparison"
        )
        view = comparison(app)
        assert [leg.model for leg in view.legs] == list(MODELS)
        assert not view.query_one(".compare-legs").has_class("-stacked")  # side by side at 160 columns
        requests = chats(simulator)
        assert sorted(r.json["model"] for r in requests) == sorted(MODELS)
        assert all(r.json["messages"] == requests[0].json["messages"] for r in requests)
        for leg in view.legs:
            figures = str(leg.query_one(".answer-figures").render())
            assert "tok/s" in figures and "$" in figures, figures
        assert view.chosen == 0 and app.chat.model == MODELS[0]
        # F7: the conversation goes on with the second model's answer instead.
        await pilot.press("f7")
        await wait_until(pilot, lambda: view.chosen == 1, "the second leg chosen")
        assert app.chat.model == MODELS[1]
        second_answer = view.legs[1].text
        prompt.load_text("继续")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(chats(simulator)) == 4 and not app.answering, "the next answer")
        sent = chats(simulator)[-1].json
        assert sent["model"] == MODELS[1]
        assert [m["content"] for m in sent["messages"]] == [PROMPT, second_answer, "继续"]
        conv_id = app.chat.conversation.id
        assert conv_id is not None
        live_total = app.chat.live.total_usd
    with HistoryStore.open(db) as store:
        stored = store.get_conversation(conv_id)
    prompts = [m for m in stored.tree if m.content == PROMPT]
    answers = [m for m in stored.tree if m.role == "assistant" and m.parent_id == prompts[0].id]
    assert len(prompts) == 1 and [m.model for m in answers] == list(MODELS)
    assert all(m.cost_usd for m in answers)
    assert abs(stored.cost_usd - live_total) < 1e-12  # every leg counts, live and stored alike


async def test_one_leg_failing_shows_its_error_in_its_column_and_the_others_finish(
    make_app: Callable[..., HolySheepApp],
    wait_until: Wait,
) -> None:
    app = make_app(store=locations.history_db())
    async with app.run_test(size=(160, 48)) as pilot:
        await mark_models(pilot, app, ("kimi-k2", "kimi-k3", "deepseek-v3.2"), wait_until)
        app.query_one(PromptInput).load_text(PROMPT)
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: not app.answering and bool(app.view.query(CompareView)), "the comparison"
        )
        view = comparison(app)
        assert [leg.status for leg in view.legs] == ["complete", "error", "complete"]
        notice = str(view.legs[1].query_one(".answer-notice").render())
        assert "kimi-k3" in notice
        assert view.legs[0].text and view.legs[2].text


async def test_esc_stops_every_leg_and_each_keeps_its_partial_answer(
    make_app: Callable[..., HolySheepApp],
    make_simulator: Callable[..., Any],
    make_session: Callable[..., Any],
    wait_until: Wait,
) -> None:
    sim = make_simulator(pacing=Pacing(first_token_delay=0, tokens_per_second=40, chunk_tokens=1))
    db = locations.history_db()
    app = make_app(make_session(base_url=sim.base_url), store=db)
    async with app.run_test(size=(80, 30)) as pilot:
        await mark_models(pilot, app, MODELS, wait_until)
        app.query_one(PromptInput).load_text(PROMPT)
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(app.view.query(CompareView)), "the comparison")
        view = comparison(app)
        assert view.query_one(".compare-legs").has_class("-stacked")  # 80 columns: one above the other
        await wait_until(pilot, lambda: all(len(leg.text) > 5 for leg in view.legs), "every leg streaming")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.answering, "every leg stopped")
        assert [leg.status for leg in view.legs] == ["stopped"] * 3
        shown = [leg.text for leg in view.legs]
        conv_id = app.chat.conversation.id
        assert conv_id is not None
    with HistoryStore.open(db) as store:
        stored = store.get_conversation(conv_id)
    answers = [m for m in stored.tree if m.role == "assistant"]
    assert [m.status for m in answers] == ["stopped"] * 3
    for m, text in zip(answers, shown, strict=True):
        assert m.content and text.startswith(m.content[:5])
