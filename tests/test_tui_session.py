"""The app's chat session: one path switches it (``SessionReady``), widgets follow it, and an answer's
figures come from one source, so they read the same live and after the answer is reopened."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.message import Message
from textual.widgets import Static

from holysheep_tui.chat.chat_session import ChatSession
from holysheep_tui.chat.session import Session
from holysheep_tui.config import Config, Profile
from holysheep_tui.simulator import RelaySimulator
from holysheep_tui.startup import FirstFrame
from holysheep_tui.store import HistoryStore
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.messages import SessionReady
from holysheep_tui.tui.widgets.answer import AnswerView, StoredAnswer
from holysheep_tui.tui.widgets.sidebar import HistorySidebar

RETRIED = "kimi-k2+429ra0x1,ttft=0.15,tps=400"
"""The first request is refused (429, retry at once), the second answers after 0.15 s."""


def shown(app: HolySheepApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def test_a_retried_answer_shows_the_same_figures_live_and_reopened(
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Session],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
    wait_until: Callable[..., Awaitable[None]],
    tmp_path: Path,
) -> None:
    store = HistoryStore.open(tmp_path / "历史.db")
    app = make_app(make_session(model=RETRIED, retries=1), store=store)
    async with app.run_test(size=(160, 48)) as pilot:
        answer = await send_and_wait(pilot, "你好")
        turn = app.conversation.turns[-1]
        assert turn.status == "complete" and turn.answer.retries == 1
        live = str(answer.query_one(".answer-figures", Static).render())
        timings = turn.answer.timings
        assert timings.ttft is not None and timings.ttft >= 0.15  # from the request that answered
        assert f"ttft {round(timings.ttft * 1000) / 1000:.2f}s" in live and "tok/s" in live
        status = shown(app, "#status-live")
        _tokens_in, _tokens_out, ttft, total, tps, _cost = live.split(" · ")
        assert f"{ttft} · {total.removeprefix('total ')} · {tps}" in status  # the bar reads the same figures

        conv_id = app.conversation.id
        assert conv_id is not None
        await app.open_conversation(conv_id)
        await wait_until(pilot, lambda: bool(app.view.query(StoredAnswer)), "the reopened answer")
        reopened = app.view.query_one(StoredAnswer).figures
        assert reopened.startswith(live + " · "), (live, reopened)  # then only the date


async def test_a_first_frame_session_is_applied_once_by_session_ready(
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Session],
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    session = make_session(profile="本地", model="deepseek-v3.2", key="sk-test-key")
    frame = FirstFrame.of(session)
    stale = FirstFrame(
        profile_name="本地", model="kimi-k2", base_url=frame.base_url, demo=False, theme=frame.theme,
        currency="USD",
    )  # fmt: skip
    seen: list[Message] = []
    app = make_app(stale, open_later=lambda: (session, None))
    async with app.run_test(size=(120, 36), message_hook=seen.append) as pilot:
        first = app.chat
        await wait_until(pilot, lambda: app.chat.state == "ready", "the session")
        await pilot.pause()
        assert [m.session for m in seen if isinstance(m, SessionReady)] == [session]
        assert app.chat is not first and app.open_session is session
        assert app.model == "deepseek-v3.2"  # the config says otherwise than the stale cache
        assert app.money == frame.currency_view() == app.query_one(HistorySidebar).money
        await wait_until(pilot, lambda: "deepseek-v3.2" in shown(app, "#status-live"), "the bar to follow")
        assert "¥" in shown(app, "#status-money")


async def test_the_demo_chosen_on_the_first_run_screen_is_a_session_ready(
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Session],
    wait_until: Callable[..., Awaitable[None]],
    simulator: RelaySimulator,
) -> None:
    from holysheep_tui.errors import KeyMissingError
    from holysheep_tui.tui.screens.first_run import FirstRunScreen

    keyless = make_session(profile="remote", base_url="https://relay.invalid/v1")
    seen: list[Message] = []
    app = make_app(keyless, first_run=KeyMissingError("No API key for profile 'remote'."))
    try:
        async with app.run_test(size=(100, 36), message_hook=seen.append) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, FirstRunScreen), "the first-run screen")
            await pilot.click("#first-run-demo")
            await wait_until(pilot, lambda: app.chat.demo, "the demo session")
            ready = [m for m in seen if isinstance(m, SessionReady)]
            assert len(ready) == 1 and ready[0].session is app.open_session
            await wait_until(pilot, lambda: " DEMO " in shown(app, "#status-live"), "the bar to follow")
            assert app.chat.metrics is not None and not app.chat.budget.enabled  # logged as profile demo
    finally:
        if app.open_session is not None:
            app.open_session.close()


def test_a_successor_on_the_same_profile_keeps_the_conversation_and_a_model_chosen_meanwhile() -> None:
    config = Config()
    first = Session(config, "work", Profile(base_url="http://127.0.0.1:9/v1", model="kimi-k2"), None, None)
    chat = ChatSession(FirstFrame.of(first), None)
    chat.choose_model("deepseek-v3.2")
    conversation = chat.conversation
    loaded = Session(config, "work", Profile(base_url="http://127.0.0.1:9/v1", model="qwen-max"), "k", "env")
    after = chat.successor(FirstFrame.of(loaded), loaded, None)
    assert after.state == "ready" and chat.state == "loading"
    assert after.conversation is conversation and after.model == "deepseek-v3.2"

    demo = Session(config, "demo", Profile(base_url="http://127.0.0.1:9/v1", model="kimi-k2"), None, None, demo=True)
    switched = after.successor(FirstFrame.of(demo), demo, None)
    assert switched.conversation is not conversation and switched.model == "kimi-k2"
    assert switched.conversation.profile == "demo" and switched.endpoint == "demo"
