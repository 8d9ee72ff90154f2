"""Budget guard and client-side rate-limit wait in the app, driven by Pilot against the simulator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from textual.widgets import Static

from holysheep_tui.chat.session import Session
from holysheep_tui.economics.metrics import MetricRecord, MetricsLog
from holysheep_tui.simulator import RecordedRequest, RelaySimulator
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.screens.dialogs import ConfirmScreen
from holysheep_tui.tui.widgets.prompt import PromptInput
from holysheep_tui.tui.widgets.status_bar import StatusBar

PROFILE = "团队"


def spent_log(path: Path, usd: float) -> MetricsLog:
    """A metrics log in which the profile already spent ``usd`` today (plus another profile's spend)."""
    log = MetricsLog(path)
    now = datetime.now(UTC)
    log.append(MetricRecord(now, PROFILE, "kimi-k2", 1200, 3400, cost_usd=usd, total_ms=900.0))
    log.append(MetricRecord(now, "其他", "kimi-k2", 10, 10, cost_usd=5.0))
    return log


@pytest.fixture
def budget_app(
    make_session: Callable[..., Session], make_app: Callable[..., HolySheepApp]
) -> Callable[..., HolySheepApp]:
    """``budget_app(log, *, daily=0.01, rpm=None)``: the app on a keyed profile on loopback (not the demo)."""

    def build(log: MetricsLog | None, *, daily: float | None = 0.01, rpm: int | None = None) -> HolySheepApp:
        session = make_session(profile=PROFILE, budget_daily_usd=daily, rate_limit_rpm=rpm)
        return make_app(session, metrics=log)

    return build


def money_line(app: HolySheepApp) -> str:
    return str(app.query_one("#status-money", Static).render())


def live_line(app: HolySheepApp) -> str:
    return str(app.query_one("#status-live", Static).render())


def notes(app: HolySheepApp) -> list[tuple[str, str]]:
    return [(n.message, n.severity) for n in app._notifications]


async def test_spend_at_80_percent_shows_the_budget_in_warning_style(
    tmp_path: Path, budget_app: Callable[..., HolySheepApp], wait_until: Callable[..., Awaitable[None]]
) -> None:
    app = budget_app(spent_log(tmp_path / "metrics.jsonl", 0.0085))
    async with app.run_test(size=(160, 48)) as pilot:
        bar = app.query_one(StatusBar)
        await wait_until(pilot, lambda: bar.has_class("-budget-warn"), "the budget warning")
        assert "⚠ budget $0.0085 of $0.0100 today (85%)" in money_line(app)
        warned = ("85% of the daily budget used ($0.0085 of $0.0100).", "warning")
        await wait_until(pilot, lambda: warned in notes(app), "the warning notification")
        assert not bar.has_class("-budget-over")


async def test_no_budget_means_no_budget_segment(
    tmp_path: Path,
    budget_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send: Callable[..., Awaitable[None]],
) -> None:
    app = budget_app(spent_log(tmp_path / "metrics.jsonl", 0.0085), daily=None)
    async with app.run_test(size=(160, 48)) as pilot:
        await send(pilot, "没有预算的时候")  # after the answer the bar has read the spend and added the cost
        await wait_until(pilot, lambda: not app.answering and "tok ¥" in money_line(app), "the answer's cost")
        assert "budget" not in money_line(app)
        assert not app.query_one(StatusBar).has_class("-budget-warn")


async def test_an_answer_that_crosses_the_budget_warns_and_the_next_send_asks(
    simulator: RelaySimulator,
    tmp_path: Path,
    budget_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send: Callable[..., Awaitable[None]],
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
) -> None:
    log = spent_log(tmp_path / "metrics.jsonl", 0.00999)
    app = budget_app(log)
    async with app.run_test(size=(160, 48)) as pilot:
        bar = app.query_one(StatusBar)
        await wait_until(pilot, lambda: bar.has_class("-budget-warn"), "the budget warning")
        await send(pilot, "第一个问题：预算还够吗？")
        await wait_until(pilot, lambda: bar.has_class("-budget-over"), "the budget to be used up")
        assert "⛔ budget" in money_line(app)
        await wait_until(
            pilot,
            lambda: any("daily budget is used up" in m and s == "error" for m, s in notes(app)),
            "the over-budget notification",
        )
        assert len(chats(simulator)) == 1
        # the record the app wrote counts too: a fresh read agrees with the bar
        assert app.budget.read() == app.budget.status


async def test_over_budget_no_sends_nothing_and_keeps_the_prompt(
    simulator: RelaySimulator,
    tmp_path: Path,
    budget_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send: Callable[..., Awaitable[None]],
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
) -> None:
    app = budget_app(spent_log(tmp_path / "metrics.jsonl", 0.012))
    async with app.run_test(size=(160, 48)) as pilot:
        bar = app.query_one(StatusBar)
        await wait_until(pilot, lambda: bar.has_class("-budget-over"), "the over-budget state")
        await send(pilot, "超出预算了还要发吗？")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirm dialog")
        assert "$0.0120 of its $0.0100 daily budget" in str(app.screen.query_one(Static).render())
        await pilot.press("n")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the dialog to close")
        await wait_until(
            pilot,
            lambda: any(m.startswith("Not sent: the budget is used up") for m, _ in notes(app)),
            "the not-sent notification",
        )
        assert app.query_one(PromptInput).text == "超出预算了还要发吗？"
        assert app.conversation.turns == []
        # Sent after all, with a yes: the relay sees this prompt, and nothing before it.
        await send(pilot, "这次确定要发")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirm dialog")
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.answering and bool(app.conversation.turns), "the answer")
        assert [r.json["messages"][-1]["content"] for r in chats(simulator)] == ["这次确定要发"]


async def test_over_budget_yes_sends(
    simulator: RelaySimulator,
    tmp_path: Path,
    budget_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send: Callable[..., Awaitable[None]],
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
) -> None:
    app = budget_app(spent_log(tmp_path / "metrics.jsonl", 0.012))
    async with app.run_test(size=(160, 48)) as pilot:
        bar = app.query_one(StatusBar)
        await wait_until(pilot, lambda: bar.has_class("-budget-over"), "the over-budget state")
        await send(pilot, "我知道超预算了，照样发送")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirm dialog")
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.answering and bool(app.conversation.turns), "the answer")
        assert app.conversation.turns[-1].status == "complete"
        assert len(chats(simulator)) == 1
        assert app.query_one(PromptInput).text == ""


async def test_rate_limit_wait_is_shown_in_the_status_bar(
    simulator: RelaySimulator,
    budget_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send: Callable[..., Awaitable[None]],
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
) -> None:
    app = budget_app(None, daily=None, rpm=1)
    async with app.run_test(size=(160, 48)) as pilot:
        await send(pilot, "第一个问题")
        await wait_until(pilot, lambda: not app.answering and bool(app.conversation.turns), "the first answer")
        await send(pilot, "第二个问题，马上发送")
        await wait_until(pilot, lambda: "(rate limit)" in live_line(app), "the rate-limit wait")
        assert "waiting " in live_line(app)
        left = int(live_line(app).split("waiting ")[1].split(" s")[0])
        assert 50 <= left <= 60  # a one-per-minute limit just used
        await pilot.press("escape")  # stop waiting: nothing was sent
        await wait_until(pilot, lambda: not app.answering, "the stop")
        assert len(chats(simulator)) == 1


async def test_after_midnight_a_used_up_daily_budget_lets_the_next_prompt_through(
    simulator: RelaySimulator,
    tmp_path: Path,
    budget_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send: Callable[..., Awaitable[None]],
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
) -> None:
    app = budget_app(spent_log(tmp_path / "metrics.jsonl", 0.02))
    async with app.run_test(size=(160, 48)) as pilot:
        bar = app.query_one(StatusBar)
        await wait_until(pilot, lambda: bar.has_class("-budget-over"), "the used-up budget")
        app.budget.today = lambda: date.today() + timedelta(days=1)  # the app ran on past midnight
        await send(pilot, "新的一天，预算重新开始了吗？")
        await wait_until(pilot, lambda: len(chats(simulator)) == 1 and not app.answering, "the answer")
        assert not isinstance(app.screen, ConfirmScreen), "no question: today's budget is untouched"
        assert "budget $0.0000 of $0.0100 today" not in money_line(app)  # the answer's cost now counts
        assert app.budget.status is not None and app.budget.status.daily is not None
        assert app.budget.status.daily.spent_usd < 0.02
