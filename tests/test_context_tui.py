"""The context window in the app (issue 16, items 1-3): the meter in the status bar, the input estimate in the
prompt's frame, and the fit dialog when a conversation will not fit the model's window; each way out
works against the simulator (which enforces the windows) and a real history file."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import OptionList, Static

from holysheep_tui.chat.attachments import make_attachment
from holysheep_tui.chat.context import RELAY_MODELS
from holysheep_tui.config import Config
from holysheep_tui.simulator import RecordedRequest, RelaySimulator
from holysheep_tui.store import HistoryStore
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.screens.fit_choice import FitChoiceScreen
from holysheep_tui.tui.screens.search import SearchScreen
from holysheep_tui.tui.widgets.prompt import PromptInput

TOPICS = ("长城", "运河", "丝绸", "瓷器")
TURNS = len(TOPICS)
Wait = Callable[..., Awaitable[None]]


def _marker(index: int) -> str:
    return f"第{index + 1}轮标记{TOPICS[index]}"


def seed_long_conversation(db: Path) -> str:
    """A kimi-k2 conversation of four long Chinese turns (about 11k tokens): too long for moonshot-v1-8k."""
    with HistoryStore.open(db) as store:
        cid = store.create_conversation(profile="demo", system_prompt=None)
        for index in range(TURNS):
            prompt = _marker(index) + "：" + f"请详细介绍{TOPICS[index]}的历史与文化影响。" * 180
            store.add_user_message(cid, prompt, model="kimi-k2")
            answer = store.start_answer(cid, model="kimi-k2")
            store.finish_answer(
                answer, status="complete", content=f"关于{TOPICS[index]}的回答，" * 20, reasoning="",
                model="kimi-k2",
            )  # fmt: skip
    return cid


def live_line(app: HolySheepApp) -> str:
    return str(app.query_one("#status-live", Static).render())


def meter_tokens(app: HolySheepApp) -> int | None:
    """The meter's figure in the status bar (``ctx ~12,340 tok · 9%``), None when it is not shown."""
    found = re.search(r"ctx ~([\d,]+) tok · (?:\d+|<1)%", live_line(app))
    return int(found.group(1).replace(",", "")) if found else None


def subtitle(app: HolySheepApp) -> str:
    return str(app.query_one(PromptInput).border_subtitle or "")


def sent(
    chats: Callable[[RelaySimulator], list[RecordedRequest]], sim: RelaySimulator
) -> list[dict[str, Any]]:
    return [r.json for r in chats(sim)]


def text_of(body: dict[str, Any]) -> str:
    return json.dumps(body["messages"], ensure_ascii=False)


async def type_text(pilot: Pilot[Any], text: str) -> None:
    app = pilot.app
    app.query_one(PromptInput).focus()
    await pilot.press(*text)


# ---- the meter and the estimate --------------------------------------------------------------------


async def test_the_meter_moves_as_you_type_and_after_an_answer(
    make_app: Callable[..., HolySheepApp], wait_until: Wait, send_and_wait: Callable[..., Awaitable[Any]]
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: meter_tokens(app) is not None, "the meter")
        empty = meter_tokens(app)
        assert empty is not None and "%" in live_line(app)
        assert subtitle(app) == ""  # nothing typed: no estimate in the frame

        await type_text(pilot, "请介绍一下长城的历史")
        await wait_until(pilot, lambda: (meter_tokens(app) or 0) > empty, "the meter to count the prompt")
        typed = meter_tokens(app)
        assert typed is not None
        await wait_until(pilot, lambda: "CNY (est.)" in subtitle(app), "the estimate in the prompt's frame")
        assert re.search(r"input ≈\$[\d.]+ · ¥[\d.]+ CNY \(est\.\)", subtitle(app)), subtitle(app)

        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.answering and len(app.conversation.turns) == 1, "the answer")
        await wait_until(pilot, lambda: (meter_tokens(app) or 0) > typed, "the meter to count the answer")
        assert subtitle(app) == ""  # the prompt is empty again


async def test_no_meter_when_the_window_is_unknown(
    make_app: Callable[..., HolySheepApp], make_session: Callable[..., Any], wait_until: Wait
) -> None:
    app = make_app(make_session(model="本地模型-unknown"))
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.relay_models, "the relay's model list")
        await type_text(pilot, "你好")
        await wait_until(pilot, lambda: "input cost unknown" in subtitle(app), "the frame's estimate")
        assert "ctx" not in live_line(app) and meter_tokens(app) is None
        assert app.context_meter is not None and app.context_meter.window is None


# ---- the fit dialog ----------------------------------------------------------------------------------


@pytest.fixture
def long_app(tmp_path: Path, make_app: Callable[..., HolySheepApp]) -> tuple[HolySheepApp, str]:
    db = tmp_path / "历史.db"
    cid = seed_long_conversation(db)
    return make_app(store=db), cid


async def open_on_8k(pilot: Pilot[Any], cid: str, wait_until: Wait) -> FitChoiceScreen:
    """Open the long conversation, switch to moonshot-v1-8k, type a prompt and press Enter: the dialog."""
    app = pilot.app
    assert isinstance(app, HolySheepApp)
    await wait_until(pilot, lambda: app.relay_models, "the relay's model list")
    await app.open_conversation(cid)
    assert len(app.conversation.turns) == TURNS
    await app.choose_model("moonshot-v1-8k")
    warned = lambda: any("no longer fits moonshot-v1-8k" in n.message for n in app._notifications)  # noqa: E731
    await wait_until(pilot, warned, "the warning that it no longer fits")
    await type_text(pilot, "接着说")
    await wait_until(pilot, lambda: "too long for moonshot-v1-8k" in subtitle(app), "the frame's warning")
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, FitChoiceScreen), "the fit dialog")
    screen = app.screen
    assert isinstance(screen, FitChoiceScreen)
    return screen


async def choose(pilot: Pilot[Any], screen: FitChoiceScreen, kind: str) -> Any:
    index = next(i for i, (choice, _) in enumerate(screen.choices) if choice.kind == kind)
    screen.query_one(OptionList).highlighted = index
    await pilot.press("enter")
    return screen.choices[index][0]


async def test_too_long_for_the_window_offers_three_choices_with_costs_and_esc_keeps_the_prompt(
    long_app: tuple[HolySheepApp, str], simulator: RelaySimulator,
    chats: Callable[[RelaySimulator], list[RecordedRequest]], wait_until: Wait,
) -> None:  # fmt: skip
    app, cid = long_app
    async with app.run_test(size=(160, 44)) as pilot:
        screen = await open_on_8k(pilot, cid, wait_until)
        kinds = [choice.kind for choice, _ in screen.choices]
        assert kinds[0] == "compact" and "recent" in kinds and "switch" in kinds
        assert all(re.search(r"≈\$[\d.]+ · ≈¥[\d.]+ CNY", label) for _, label in screen.choices)
        recent = next(label for choice, label in screen.choices if choice.kind == "recent")
        assert re.search(rf"leaves out turns? 1(–\d)? of {TURNS}", recent)
        writers = [choice.model for choice, _ in screen.choices if choice.kind == "compact"]
        assert writers[0] == "deepseek-v3.2" and len(writers) > 1  # the cheapest first, others to pick
        switches = [label for choice, label in screen.choices if choice.kind == "switch"]
        assert all("window" in label for label in switches)
        assert "8,192" in str(screen.query_one("#fit-head", Static).render())
        assert sent(chats, simulator) == []  # never sent blind

        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, FitChoiceScreen), "the dialog to close")
        assert app.query_one(PromptInput).text == "接着说"
        assert sent(chats, simulator) == [] and len(app.conversation.turns) == TURNS


async def test_compact_stores_a_summary_sends_and_the_originals_are_found_by_search(
    long_app: tuple[HolySheepApp, str], simulator: RelaySimulator,
    chats: Callable[[RelaySimulator], list[RecordedRequest]], wait_until: Wait,
) -> None:  # fmt: skip
    app, cid = long_app
    async with app.run_test(size=(160, 44)) as pilot:
        screen = await open_on_8k(pilot, cid, wait_until)
        assert (await choose(pilot, screen, "compact")).model == "deepseek-v3.2"
        await wait_until(
            pilot, lambda: len(app.conversation.turns) == TURNS + 1 and not app.answering, "the answer"
        )
        summary_request, answer_request = sent(chats, simulator)
        assert summary_request["model"] == "deepseek-v3.2"
        assert all(_marker(i) in text_of(summary_request) for i in range(TURNS))
        assert answer_request["model"] == "moonshot-v1-8k"
        assert not any(_marker(i) in text_of(answer_request) for i in range(TURNS))
        assert "接着说" in text_of(answer_request)

        store = app.history_store
        assert store is not None
        stored = store.get_conversation(cid)
        summaries = [m for m in stored.messages if m.kind == "summary"]
        assert len(summaries) == 1 and summaries[0].cost_usd
        assert stored.messages[0].content.startswith(_marker(0))  # the originals stay in the history
        assert app.chat.live.total_usd == pytest.approx(stored.cost_usd)  # the summary counts in the total

        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen), "the search screen")
        search = app.screen
        assert isinstance(search, SearchScreen)
        await pilot.press(*_marker(0))
        await wait_until(pilot, lambda: bool(search.hits), "hits for the first turn's marker")
        assert any(h.message_id == stored.messages[0].id for h in search.hits)


async def test_recent_sends_without_the_left_out_turns(
    long_app: tuple[HolySheepApp, str], simulator: RelaySimulator,
    chats: Callable[[RelaySimulator], list[RecordedRequest]], wait_until: Wait,
) -> None:  # fmt: skip
    app, cid = long_app
    async with app.run_test(size=(160, 44)) as pilot:
        screen = await open_on_8k(pilot, cid, wait_until)
        choice = await choose(pilot, screen, "recent")
        await wait_until(
            pilot, lambda: len(app.conversation.turns) == TURNS + 1 and not app.answering, "the answer"
        )
        (body,) = sent(chats, simulator)
        assert body["model"] == "moonshot-v1-8k"
        request = text_of(body)
        assert all(_marker(i) not in request for i in range(choice.omit))
        assert _marker(TURNS - 1) in request and "接着说" in request
        assert app.conversation.turns[-1].answer.content  # the relay took it: it fit the window
        store = app.history_store
        assert store is not None
        assert store.get_conversation(cid).messages[0].content.startswith(_marker(0))


async def test_switch_sends_the_whole_conversation_to_the_other_model(
    long_app: tuple[HolySheepApp, str], simulator: RelaySimulator,
    chats: Callable[[RelaySimulator], list[RecordedRequest]], wait_until: Wait,
) -> None:  # fmt: skip
    app, cid = long_app
    async with app.run_test(size=(160, 44)) as pilot:
        screen = await open_on_8k(pilot, cid, wait_until)
        choice = await choose(pilot, screen, "switch")
        assert choice.model not in (None, "moonshot-v1-8k")
        await wait_until(
            pilot, lambda: len(app.conversation.turns) == TURNS + 1 and not app.answering, "the answer"
        )
        (body,) = sent(chats, simulator)
        assert body["model"] == choice.model and app.chat.model == choice.model
        assert all(_marker(i) in text_of(body) for i in range(TURNS))
        assert app.conversation.turns[-1].answer.content


async def test_asking_again_when_too_long_offers_recent_and_switch_but_not_compaction(
    long_app: tuple[HolySheepApp, str], simulator: RelaySimulator,
    chats: Callable[[RelaySimulator], list[RecordedRequest]], wait_until: Wait,
) -> None:  # fmt: skip
    app, cid = long_app
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.relay_models, "the relay's model list")
        await app.open_conversation(cid)
        await app.choose_model("moonshot-v1-8k")
        await pilot.press("ctrl+r")  # ask the last prompt again: a new answer next to the old one
        await wait_until(pilot, lambda: isinstance(app.screen, FitChoiceScreen), "the fit dialog")
        screen = app.screen
        assert isinstance(screen, FitChoiceScreen)
        kinds = {choice.kind for choice, _ in screen.choices}
        assert kinds == {"recent", "switch"}
        assert sent(chats, simulator) == []
        choice = await choose(pilot, screen, "recent")
        await wait_until(pilot, lambda: len(sent(chats, simulator)) == 1 and not app.answering, "the answer")
        (body,) = sent(chats, simulator)
        request = text_of(body)
        assert body["model"] == "moonshot-v1-8k" and _marker(0) not in request
        assert request.count(_marker(TURNS - 1)) == 1  # the last prompt, asked again once
        assert len(app.conversation.turns) == TURNS and choice.omit >= 1
        store = app.history_store
        assert store is not None
        answers = [m for m in store.get_conversation(cid).messages if m.role == "assistant"]
        assert answers[-1].model == "moonshot-v1-8k"  # the new alternative is on the active path


async def test_when_no_way_out_fits_the_dialog_says_what_to_do_and_nothing_is_sent(
    make_app: Callable[..., HolySheepApp], make_session: Callable[..., Any], simulator: RelaySimulator,
    chats: Callable[[RelaySimulator], list[RecordedRequest]], wait_until: Wait,
) -> None:  # fmt: skip
    small = Config(context_windows={name: 1000 for name in RELAY_MODELS})  # every window below the prompt
    app = make_app(make_session(config=small))
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.relay_models, "the relay's model list")
        app.query_one(PromptInput).load_text("请把这段话翻译成英文。" * 200)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, FitChoiceScreen), "the fit dialog")
        screen = app.screen
        assert isinstance(screen, FitChoiceScreen) and screen.choices == []
        assert "Shorten the prompt" in str(screen.query_one("#fit-help", Static).render())
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, FitChoiceScreen), "the dialog to close")
        assert app.query_one(PromptInput).text.startswith("请把这段话翻译成英文。")
        assert sent(chats, simulator) == [] and not app.conversation.turns


async def test_an_attached_file_counts_in_the_meter_and_the_estimate(
    make_app: Callable[..., HolySheepApp], wait_until: Wait
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await type_text(pilot, "总结这份笔记")
        await wait_until(pilot, lambda: "CNY (est.)" in subtitle(app), "the estimate in the prompt's frame")
        before, estimate = meter_tokens(app), subtitle(app)
        assert before is not None
        note = make_attachment("笔记.md", ("长城修建于春秋战国时期，秦朝连接成万里长城。" * 60).encode())
        app.attachments = (note,)
        await wait_until(pilot, lambda: (meter_tokens(app) or 0) > before + 1000, "the file in the meter")
        assert subtitle(app) != estimate


async def test_a_comparison_that_one_model_cannot_take_is_not_sent_blind(
    long_app: tuple[HolySheepApp, str], simulator: RelaySimulator,
    chats: Callable[[RelaySimulator], list[RecordedRequest]], wait_until: Wait,
) -> None:  # fmt: skip
    """Compare the long conversation on kimi-k2 and moonshot-v1-8k: nothing is sent, the notice names the
    model whose window is too small and the ways out; the prompt stays."""
    from tests.test_compare_tui import mark_models

    app, cid = long_app
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.relay_models, "the relay's model list")
        await app.open_conversation(cid)
        await mark_models(pilot, app, ("kimi-k2", "moonshot-v1-8k"), wait_until)
        await type_text(pilot, "两个模型都说说")
        await pilot.press("enter")

        def refused() -> list[str]:
            return [n.message for n in app._notifications if "Too long for the context window" in n.message]

        await wait_until(pilot, lambda: bool(refused()), "the refusal")
        assert "moonshot-v1-8k" in refused()[0] and "kimi-k2 (" not in refused()[0]
        assert "compact" in refused()[0] and "Ctrl+O" in refused()[0]
        assert sent(chats, simulator) == [] and len(app.conversation.turns) == TURNS
        assert app.query_one(PromptInput).text == "两个模型都说说"
