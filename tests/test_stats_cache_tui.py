"""Issue 15 item 23 in F8: per model, cached input tokens, their share and what they saved (USD and CNY),
from the same core function as ``holysheep stats``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.widgets import DataTable, Static

from holysheep_tui.config import PricingConfig
from holysheep_tui.economics.metrics import MetricsLog
from holysheep_tui.economics.money import CurrencyView, format_cny, format_usd
from holysheep_tui.economics.prices import PriceBook
from holysheep_tui.economics.stats import summarise
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.screens.stats import StatsScreen


async def test_f8_shows_cached_input_hit_rate_and_savings_per_model(
    tmp_path: Path,
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Any],
    send_and_wait: Callable[..., Any],
    wait_until: Callable[..., Any],
) -> None:
    log = MetricsLog(tmp_path / "metrics.jsonl")
    session = make_session(profile="work", key="sk-test-缓存", model="gpt-4.1")
    app = make_app(session, metrics=log)
    async with app.run_test(size=(200, 48)) as pilot:
        await send_and_wait(pilot, "请解释一下缓存命中是什么意思")
        await send_and_wait(
            pilot, "再详细一点，举个例子"
        )  # the simulator counts the earlier messages as cached
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, StatsScreen), "the statistics screen")
        screen = app.screen
        assert isinstance(screen, StatsScreen)
        await wait_until(pilot, lambda: screen.data is not None and not screen.data.empty, "the statistics")
        table = screen.query_one(DataTable)
        headers = [str(c.label) for c in table.columns.values()]
        assert headers[-2:] == ["Cached in", "Cache saved"]
        row = [str(cell) for cell in table.get_row_at(0)]
        assert row[0] == "gpt-4.1"

        records = log.read().records
        expected = summarise(records, "model", view=CurrencyView(), prices=PriceBook(PricingConfig()))[0]
        assert expected.cached_tokens > 0 and expected.cache_saved_usd > 0
        hit = f"{expected.cached_tokens:,} ({expected.cache_hit_rate:.0%})"
        saved = f"{format_usd(expected.cache_saved_usd)} / {format_cny(expected.cache_saved_usd)}"
        assert row[-2:] == [hit, saved]
        total = str(screen.query_one("#stats-total", Static).render())
        assert (
            f"Cached input {expected.cached_tokens:,} tokens ({expected.cache_hit_rate:.0%} of input)"
            in total
        )
        assert f"cache hits saved {saved} billed" in total


async def test_f8_without_cache_hits_has_no_cache_columns(
    tmp_path: Path,
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Any],
    send_and_wait: Callable[..., Any],
    wait_until: Callable[..., Any],
) -> None:
    log = MetricsLog(tmp_path / "metrics.jsonl")
    app = make_app(make_session(profile="work", key="sk-test-缓存", model="gpt-4.1"), metrics=log)
    async with app.run_test(size=(200, 48)) as pilot:
        await send_and_wait(pilot, "第一个问题没有缓存")
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, StatsScreen), "the statistics screen")
        screen = app.screen
        assert isinstance(screen, StatsScreen)
        await wait_until(pilot, lambda: screen.data is not None and not screen.data.empty, "the statistics")
        headers = [str(c.label) for c in screen.query_one(DataTable).columns.values()]
        assert "Cached in" not in headers and "Cached input" not in str(
            screen.query_one("#stats-total", Static).render()
        )
