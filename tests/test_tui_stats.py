"""The usage statistics screen over a metrics log with known records (Pilot, and a snapshot)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import DataTable, Select, Sparkline, Static

from holysheep_tui.economics.metrics import MetricRecord, MetricsLog
from holysheep_tui.economics.money import CurrencyView
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.screens.stats import COLUMNS, StatsScreen, bar, build_stats

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PROFILE = "团队"


def rec(when: datetime, model: str, cost: float | None, **kw: Any) -> MetricRecord:
    return MetricRecord(when, PROFILE, model, cost_usd=cost, **kw)


RECORDS = [
    rec(datetime(2026, 9, 1, 8, 0, tzinfo=UTC), "moonshot-v1-8k", 1.0, prompt_tokens=10, completion_tokens=10),
    rec(datetime(2026, 11, 22, 9, 0, tzinfo=UTC), "gpt-4.1", 0.008, prompt_tokens=2000, completion_tokens=750,
        ttft_ms=800.0, total_ms=4000.0),
    rec(datetime(2026, 11, 25, 10, 0, tzinfo=UTC), "deepseek-v3.2", 0.001, prompt_tokens=900, completion_tokens=300,
        ttft_ms=200.0, total_ms=1000.0),
    rec(datetime(2026, 11, 25, 11, 0, tzinfo=UTC), "deepseek-v3.2", 0.001, prompt_tokens=900, completion_tokens=300,
        ttft_ms=400.0, total_ms=2000.0),
    rec(datetime(2026, 11, 26, 9, 0, tzinfo=UTC), "团队-私有模型", None, prompt_tokens=50, completion_tokens=60,
        ttft_ms=100.0, total_ms=600.0),
    rec(NOW - timedelta(hours=3), "kimi-k2", None, success=False, http_status=500, error_type="server_error"),
    rec(NOW - timedelta(hours=2), "kimi-k2", 0.004, prompt_tokens=2000, completion_tokens=1000,
        ttft_ms=500.0, total_ms=2500.0),
    rec(NOW - timedelta(hours=1), "kimi-k2", 0.002, prompt_tokens=1000, completion_tokens=500,
        ttft_ms=300.0, total_ms=1500.0),
]  # fmt: skip


@pytest.fixture
def log(tmp_path: Path) -> MetricsLog:
    metrics = MetricsLog(tmp_path / "数据" / "metrics.jsonl")
    for record in RECORDS:
        metrics.append(record)
    return metrics


def stats_screen(log: MetricsLog, since: str = "7d") -> StatsScreen:
    return StatsScreen(log, CurrencyView(), since=since, now=lambda: NOW, tz=UTC)


def loaded(screen: StatsScreen, since: str) -> Callable[[], bool]:
    return lambda: screen.data is not None and screen.data.since == since


def headers_of(table: DataTable[Any]) -> list[str]:
    return [str(c.label) for c in table.columns.values()]


def top_hit(app: HolySheepApp) -> str:
    """The command palette's highlighted hit ("" before there is one)."""
    lists = app.screen.query(CommandList)
    if not lists or lists.first().highlighted is None:
        return ""
    hits = lists.first()
    return str(hits.get_option_at_index(hits.highlighted or 0).prompt)


def table_rows(screen: StatsScreen) -> list[list[str]]:
    table = screen.query_one(DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def text(screen: StatsScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def test_bar_is_proportional_in_eighths() -> None:
    assert bar(8, 8, 16) == "█" * 16
    assert bar(1, 8, 16) == "██"
    assert bar(1, 64, 16) == "▎"  # 2 eighths
    assert bar(0, 8) == "" and bar(3, 0) == ""
    assert bar(0.0001, 8, 16) == "▏"  # anything spent shows


def test_build_stats_fills_every_day_of_the_range() -> None:
    start = NOW - timedelta(days=7)
    data = build_stats([r for r in RECORDS if r.time >= start], "7d", start=start, now=NOW, view=CurrencyView(),
                       tz=UTC)  # fmt: skip
    assert [d.isoformat() for d, _ in data.days][0] == "2026-11-20"
    assert len(data.days) == 8
    assert data.day_series("requests") == [0, 0, 1, 0, 0, 2, 1, 3]
    assert data.day_series("cost") == pytest.approx([0, 0, 0.008, 0, 0, 0.002, 0, 0.006])
    assert [r.key for r in data.models] == ["kimi-k2", "deepseek-v3.2", "gpt-4.1", "团队-私有模型"]


async def test_stats_screen_shows_rows_bars_and_days(
    log: MetricsLog,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = stats_screen(log)
        await app.push_screen(screen)
        await wait_until(pilot, loaded(screen, "7d"), "the 7-day statistics")
        rows = table_rows(screen)
        assert [r[0] for r in rows] == ["kimi-k2", "deepseek-v3.2", "gpt-4.1", "团队-私有模型"]
        kimi = rows[0]
        assert kimi[1:5] == ["3", "1 (33%)", "3,000 / 1,500", "$0.0060"]
        assert kimi[5:8] == ["¥0.0060", "¥0.0438", "¥0.0378"]  # billed at ¥1 = $1, market at 7.3
        assert kimi[8] == "1.50/2.50 s" and kimi[9] == "0.30/0.50 s"
        bars = {r[0]: r[10].strip() for r in rows}
        assert bars == {"gpt-4.1": "█" * 14, "kimi-k2": "██████████▌", "deepseek-v3.2": "███▌", "团队-私有模型": ""}
        assert rows[3][4:6] == ["price unknown", "–"]
        total = text(screen, "#stats-total")
        assert "7 requests · 1 failed (14.3%)" in total
        assert "latency p50/p95 1.50/4.00 s · time to first token p50/p95 0.30/0.80 s" in total
        assert (
            "Cost $0.0160 list = ¥0.0160 billed (¥1 = $1) vs ¥0.1168 at the market rate (7.3) · saved ¥0.1008"
            " · 1 more without a known price"
        ) in total
        assert list(screen.query_one(Sparkline).data or []) == [0, 0, 1, 0, 0, 2, 1, 3]
        title = text(screen, "#stats-days-title")
        assert "Requests per day, 8 days · most: 3 on 2026-11-27" in title
        assert text(screen, "#stats-axis-first") == "2026-11-20"
        assert text(screen, "#stats-axis-last") == "2026-11-27"

        await pilot.press("c")
        assert list(screen.query_one(Sparkline).data or []) == pytest.approx([0, 0, 0.008, 0, 0, 0.002, 0, 0.006])
        assert "Cost (billed) per day" in text(screen, "#stats-days-title")
        assert "most: ¥0.0080 on 2026-11-22" in text(screen, "#stats-days-title")

        await pilot.press("1")
        await wait_until(pilot, loaded(screen, "24h"), "the 24-hour statistics")
        assert screen.query_one("#stats-since", Select).value == "24h"
        assert [r[0] for r in table_rows(screen)] == ["kimi-k2"]
        assert len(screen.data.days) == 2 if screen.data else False

        await pilot.press("4")
        await wait_until(pilot, loaded(screen, "all"), "all-time statistics")
        assert "moonshot-v1-8k" in [r[0] for r in table_rows(screen)]
        assert screen.data is not None and screen.data.days[0][0].isoformat() == "2026-09-01"
        assert "8 requests" in text(screen, "#stats-total")

        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, StatsScreen), "the screen to close")


async def test_at_80_columns_the_table_keeps_the_most_wanted_columns_and_fits(
    log: MetricsLog,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = stats_screen(log)
        await app.push_screen(screen)
        await wait_until(pilot, loaded(screen, "7d"), "the 7-day statistics")
        table = screen.query_one(DataTable)
        await wait_until(pilot, lambda: "Billed ¥" in headers_of(table), "the table's columns")
        headers = headers_of(table)
        assert headers[:3] == ["Model", "Requests", "Failed"] and "Cost USD" in headers and "Billed ¥" in headers
        assert "Market ¥" not in headers and "Saved ¥" not in headers, "the totals line gives those"
        assert table.virtual_size.width <= table.size.width, "no sideways scrolling"
        assert table_rows(screen)[0][0] == "kimi-k2" and "¥0.1008" in text(screen, "#stats-total")
        await pilot.resize_terminal(160, 48)
        await wait_until(pilot, lambda: headers_of(table) == list(COLUMNS), "every column, wide again")


async def test_f8_opens_stats_with_a_friendly_empty_state(
    make_app: Callable[..., HolySheepApp], wait_until: Callable[..., Awaitable[None]]
) -> None:
    app = make_app()  # the default metrics log in the isolated data dir: nothing recorded yet
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, StatsScreen), "the stats screen")
        screen = app.screen
        assert isinstance(screen, StatsScreen)
        await wait_until(pilot, loaded(screen, "30d"), "the statistics")
        assert screen.has_class("-empty")
        assert screen.query_one("#stats-empty").display
        assert not screen.query_one(DataTable).display
        empty = text(screen, "#stats-empty")
        assert empty.startswith("No requests recorded (last 30 days).")
        assert "metrics.jsonl" in empty and "ask a few questions" in empty


async def test_palette_entry_opens_stats(
    make_app: Callable[..., HolySheepApp], wait_until: Callable[..., Awaitable[None]]
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), "the command palette")
        await pilot.press(*"usage statistics")
        await wait_until(pilot, lambda: "Usage statistics" in top_hit(app), "the palette's hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, StatsScreen), "the stats screen")


async def test_unreadable_lines_are_counted(
    log: MetricsLog,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    with log.path.open("a", encoding="utf-8") as fh:
        fh.write("不是 JSON\n")
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = stats_screen(log)
        await app.push_screen(screen)
        await wait_until(pilot, loaded(screen, "7d"), "the statistics")
        assert "1 unreadable lines skipped" in text(screen, "#stats-total")


def test_stats_screen_snapshot(
    snap_compare: Callable[..., bool],
    log: MetricsLog,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    """You should see 'Usage statistics' with 'Last 7 days' selected; two totals lines (7 requests, 1 failed
    (14.3%), latency and first-token p50/p95; $0.0160 list = ¥0.0160 billed vs ¥0.1168 at market); a table of kimi-k2, deepseek-v3.2,
    gpt-4.1 and 团队-私有模型 (price unknown) with requests, failures, tokens, USD/CNY, latency and
    TTFT p50/p95 and a cost bar (gpt-4.1 the longest, 团队-私有模型 none); then 'Requests per day, 8
    days' as a sparkline dated 2026-11-20 … 2026-11-27, and the key help at the bottom."""
    app = make_app()

    async def open_stats(pilot: Pilot[None]) -> None:
        screen = stats_screen(log)
        await app.push_screen(screen)
        await wait_until(pilot, loaded(screen, "7d"), "the statistics")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(160, 48), run_before=open_stats)
