"""Money in the app as a first-time user meets it: the demo's answers in F8 under the profile ``demo``,
apart from real budgets (issue 15 item 1)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from textual.widgets import DataTable, Static

from holysheep_tui import locations
from holysheep_tui.config import Profile
from holysheep_tui.economics.budget import budget_status
from holysheep_tui.economics.metrics import MetricRecord, MetricsLog
from holysheep_tui.economics.money import format_usd
from holysheep_tui.simulator import Pacing, RelaySimulator
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.screens.stats import StatsScreen
from holysheep_tui.tui.widgets.status_bar import StatusBar

REAL = "工作"


async def test_f8_in_the_demo_lists_the_demo_answers_and_real_budgets_do_not_move(
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[Any]],
) -> None:
    log = MetricsLog()  # the default log in the isolated data dir, as `holysheep --demo` uses
    log.append(MetricRecord(datetime.now().astimezone(), REAL, "kimi-k2", cost_usd=0.5, prompt_tokens=10))
    app = make_app()  # the demo session, no metrics log given: as `holysheep --demo` starts it
    async with app.run_test(size=(120, 36)) as pilot:
        assert app.chat.demo
        await send_and_wait(pilot, "第一个问题：人民币结算")
        await send_and_wait(pilot, "第二个问题")
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, StatsScreen), "the stats screen")
        screen = app.screen
        assert isinstance(screen, StatsScreen)
        await wait_until(pilot, lambda: screen.data is not None, "the statistics")
        assert screen.data is not None and screen.data.total.requests == 2  # the demo's two, not the real one
        assert "demo" in str(screen.query_one("#stats-title", Static).render())
        assert not screen.has_class("-empty") and screen.query_one(DataTable).row_count == 1
    demo = [r for r in log.read().records if r.profile == "demo"]
    assert len(demo) == 2 and all(r.success for r in demo)
    limits = Profile(model="kimi-k2", budget_daily_usd=1.0)
    status = budget_status(REAL, limits, log)
    assert status.daily is not None and status.daily.spent_usd == 0.5  # demo answers moved no real budget


def total_in(line: str) -> float | None:
    match = re.search(r"total (≈?)\$(\d+\.\d+)", line)
    return float(match.group(2)) if match and match.group(1) else None


async def test_the_conversation_total_moves_while_an_answer_streams(
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Any],
    make_simulator: Callable[..., RelaySimulator],
    wait_until: Callable[..., Awaitable[None]],
    send: Callable[..., Awaitable[None]],
) -> None:
    slow = make_simulator(pacing=Pacing(first_token_delay=0, tokens_per_second=20))
    app = make_app(make_session(slow))
    async with app.run_test(size=(160, 48)) as pilot:
        money = app.query_one("#status-money", Static)
        await send(pilot, "慢慢讲一个关于人民币结算的长故事")
        await wait_until(
            pilot, lambda: app.chat.live.running and app.chat.live.tokens_out > 3, "the answer streaming"
        )
        app.query_one(StatusBar).redraw()  # as its 2 Hz tick does
        line = str(money.render())
        assert (total_in(line) or 0) > 0, line  # a running ≈ total before the answer ends
        assert app.chat.live.ended is None and app.chat.live.total_usd == 0  # nothing ended yet
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.chat.live.running, "the stopped answer")
        stopped = app.chat.conversation.turns[-1]
        assert stopped.status == "stopped" and stopped.cost is not None and stopped.cost.estimated
        assert stopped.usage is not None and stopped.usage.completion_tokens > 0
        assert stopped.usage.prompt_tokens > 0
        assert app.chat.live.total_usd == stopped.cost.usd


async def test_with_branches_the_status_bar_shows_the_active_path_apart(
    make_app: Callable[..., HolySheepApp],
    send_and_wait: Callable[..., Awaitable[Any]],
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    app = make_app(store=locations.history_db())
    async with app.run_test(size=(160, 48)) as pilot:
        money = app.query_one("#status-money", Static)
        await send_and_wait(pilot, "用一句话介绍人民币结算")
        assert "this branch" not in str(money.render())  # one path: nothing to show apart
        first = app.chat.conversation.turns[-1].cost
        assert first is not None
        await pilot.press("ctrl+r")  # ask again: a second answer, a branch beside the first
        await wait_until(
            pilot,
            lambda: not app.answering and app.chat.live.total_usd > first.usd * 1.5,
            "the second answer counted",
        )
        app.query_one(StatusBar).redraw()
        line = str(money.render())
        path_usd, _ = app.chat.conversation.path_cost()
        assert path_usd < app.chat.live.total_usd
        assert " CNY billed" in line and " CNY at market" in line  # a bare ¥ could read as yen
        assert f"total {format_usd(app.chat.live.total_usd)} · this branch {format_usd(path_usd)}" in line, (
            line
        )
