"""The app's widgets in Simplified Chinese, as a person sees them at 80x24 (issue 18).

Each test chooses Chinese before the app starts (as ``holysheep`` does once the CLI chose the language),
then drives the app against the relay simulator on loopback: an answer's figures line, the status bar
(one line each at 80 columns, parts left out rather than cut), an error with what to do, the sidebar
with its counts and a comparison's header.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from textual.command import CommandList
from textual.pilot import Pilot
from textual.widgets import Static

from holysheep_tui import i18n, locations
from holysheep_tui.store import Conversation, HistoryStore, Message, MessageRole
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.screens.model_picker import ModelPicker
from holysheep_tui.tui.widgets.answer import AnswerView
from holysheep_tui.tui.widgets.compare import CompareView
from holysheep_tui.tui.widgets.prompt import PromptInput
from holysheep_tui.tui.widgets.sidebar import HistorySidebar

Wait = Callable[..., Awaitable[None]]
SendAndWait = Callable[..., Awaitable[AnswerView]]
PROMPT = "用一句话介绍一下人民币结算"


@pytest.fixture(autouse=True)
def chinese() -> None:
    """The interface in Chinese from the start (conftest puts English back after each test)."""
    i18n.use("zh-CN")


def shown(widget: Static) -> str:
    """The text a Static draws now."""
    return str(widget.render())


def top_hit(app: HolySheepApp) -> str:
    """The palette's highlighted entry ("" before there is one)."""
    lists = app.screen.query(CommandList)
    if not lists or lists.first().highlighted is None:
        return ""
    hits = lists.first()
    return str(hits.get_option_at_index(hits.highlighted or 0).prompt)


def status_lines(app: HolySheepApp) -> list[tuple[str, int]]:
    """Each line of the status bar and the cells it has."""
    return [
        (shown(line), line.content_size.width)
        for line in (app.query_one("#status-live", Static), app.query_one("#status-money", Static))
    ]


async def test_an_answer_shows_its_figures_line_in_chinese(
    make_app: Callable[..., HolySheepApp], send_and_wait: SendAndWait
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        answer = await send_and_wait(pilot, PROMPT)
        assert answer.status == "complete"
        figures = shown(answer.query_one(".answer-figures", Static))
        assert figures.startswith("词元 "), figures  # 词元 12→34: sent → received
        assert "→" in figures and "首词元 " in figures and "总耗时 " in figures and " 秒" in figures, figures
        assert "词元/秒" in figures and " in · " not in figures and "ttft" not in figures, figures


async def test_the_status_bar_in_chinese_fits_80_columns_with_both_currencies(
    make_app: Callable[..., HolySheepApp], send_and_wait: SendAndWait, wait_until: Wait
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await send_and_wait(pilot, PROMPT)
        await wait_until(pilot, lambda: "空闲" in status_lines(app)[0][0], "the status bar after the answer")
        (live, live_width), (money, money_width) = status_lines(app)
        # Each line fits its row: parts are left out, nothing is cut (no ellipsis, no half character).
        assert 0 < cell_len(live) <= live_width and "…" not in live, live
        assert 0 < cell_len(money) <= money_width and "…" not in money, money
        assert "kimi-k2" in live and "空闲" in live, live  # the model and the phase always stay
        assert "合计 $" in money and " = ¥" in money and " tok " in money, money  # $ and ¥ both shown
        assert "F1 按键" in money, money  # the keys still fit once the total is said short
        assert "total" not in money and "billed" not in money, money
        screen = "\n".join(app.export_screenshot().splitlines())
        assert "合计" in screen


async def test_a_rejected_key_shows_its_chinese_error_and_what_to_do_in_the_answer(
    make_app: Callable[..., HolySheepApp], make_session: Callable[..., Any], send_and_wait: SendAndWait
) -> None:
    app = make_app(make_session(headers={"X-Sim-Scenario": "401"}))
    async with app.run_test(size=(80, 24)) as pilot:
        answer = await send_and_wait(pilot, PROMPT)
        assert answer.status == "error"
        notice = shown(answer.query_one(".answer-notice", Static))
        assert notice.startswith("✖ 认证失败"), notice
        assert "API 密钥" in notice, notice  # the relay's failure, worded in Chinese (relay/failures.py)
        assert "按 Ctrl+R 重新发送提示词。" in notice, notice  # what to do once the key is fixed
        header = shown(answer.query_one(".answer-header", Static))
        assert header.endswith("· 出错"), header


async def test_a_rate_limit_says_how_long_the_relay_asks_to_wait_in_chinese(
    make_app: Callable[..., HolySheepApp], make_session: Callable[..., Any], send_and_wait: SendAndWait
) -> None:
    app = make_app(make_session(headers={"X-Sim-Scenario": "429"}))
    async with app.run_test(size=(80, 24)) as pilot:
        answer = await send_and_wait(pilot, PROMPT)
        notice = shown(answer.query_one(".answer-notice", Static))
        assert notice.startswith("✖ 请求被限流"), notice
        assert "中转服务要求等待 1 秒后再重试。" in notice and "按 Ctrl+R 重试。" in notice, notice


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    """Three conversations whose answers name no model: the sidebar counts their messages instead."""
    t0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    with HistoryStore.open(tmp_path / "history.db") as s:
        for i, title in enumerate(["发票怎么开", "退款流程", "充值到账时间"]):
            at = t0 + timedelta(hours=i)
            roles: list[MessageRole] = ["user", "assistant"] * (i + 1)
            messages = tuple(
                Message(0, "", role, f"{title}：第 {n} 条", at + timedelta(minutes=n))
                for n, role in enumerate(roles)
            )
            end = at + timedelta(minutes=len(messages))
            s.insert_conversation(Conversation("", title, False, at, end, "holysheep", messages=messages))
        yield s


async def test_the_sidebar_in_chinese_counts_messages_and_fits(
    store: HistoryStore, make_app: Callable[..., HolySheepApp], wait_until: Wait
) -> None:
    app = make_app(store=store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+b")
        sidebar = app.query_one(HistorySidebar)
        await wait_until(pilot, lambda: len(sidebar.rows) == 3, "the sidebar's rows")
        await pilot.pause()
        title = shown(sidebar.query_one(".sidebar-title", Static))
        assert title == "历史记录 · 3", title
        options = sidebar.options
        lines = [options.render_line(y).text.rstrip() for y in range(options.size.height)]
        assert any(line.endswith("6 条消息") for line in lines), lines  # the newest first
        assert any(line.endswith("2 条消息") for line in lines), lines
        assert all(cell_len(line) <= options.size.width for line in lines)
        keys = shown(sidebar.query_one(".sidebar-help", Static))
        assert keys.startswith("Enter 打开 · r 重命名"), keys
        await pilot.press("r")  # rename the highlighted conversation: the dialog speaks Chinese too
        await wait_until(pilot, lambda: bool(app.screen.query(".dialog-title")), "the rename dialog")
        assert shown(app.screen.query_one(".dialog-title", Static)) == "重命名对话"
        await pilot.press("escape")


async def mark_models(
    pilot: Pilot[None], app: HolySheepApp, models: tuple[str, ...], wait_until: Wait
) -> None:
    """Open the picker, filter to each model and mark it with Space, then Enter."""
    await pilot.press("ctrl+o")
    await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), "the model picker")
    for model in models:
        await pilot.press("ctrl+u", *model)
        await pilot.pause()
        await pilot.press("space")
        await pilot.pause()
    await pilot.press("enter")
    await wait_until(pilot, lambda: not isinstance(app.screen, ModelPicker), "the picker to close")


async def test_a_comparison_heads_its_columns_in_chinese(
    make_app: Callable[..., HolySheepApp], wait_until: Wait
) -> None:
    app = make_app(store=locations.history_db())
    async with app.run_test(size=(80, 24)) as pilot:
        await mark_models(pilot, app, ("kimi-k2", "deepseek-v3.2"), wait_until)
        app.query_one(PromptInput).load_text(PROMPT)
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: not app.answering and bool(app.view.query(CompareView)), "the comparison"
        )
        view = app.view.query(CompareView).last()
        header = shown(view.query_one(".compare-header", Static))
        assert header == "对比 2 个模型：kimi-k2, deepseek-v3.2", header
        footer = shown(view.query_one(".compare-footer", Static))
        assert footer.startswith("✓ 对话将沿用 kimi-k2 的回答（第 1 个，共 2 个）。"), footer
        for leg in view.legs:
            figures = shown(leg.query_one(".answer-figures", Static))
            assert figures.startswith("词元 ") and "$" in figures and "CNY" in figures, figures


async def test_switching_to_chinese_in_the_palette_rewords_the_widgets_at_once(
    store: HistoryStore, make_app: Callable[..., HolySheepApp], wait_until: Wait
) -> None:
    i18n.use("en")  # started in English, as in an English environment
    app = make_app(store=store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+b")
        sidebar = app.query_one(HistorySidebar)
        await wait_until(pilot, lambda: len(sidebar.rows) == 3, "the sidebar's rows")
        assert shown(sidebar.query_one(".sidebar-title", Static)) == "History · 3"
        await pilot.press("ctrl+p", *"language")
        await wait_until(pilot, lambda: "Language: 简体中文" in top_hit(app), "the palette's hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: i18n.current() == "zh-CN", "the switch")
        await wait_until(pilot, lambda: "合计" in status_lines(app)[1][0], "the status bar in Chinese")
        assert shown(sidebar.query_one(".sidebar-title", Static)) == "历史记录 · 3"
        assert shown(sidebar.query_one(".sidebar-help", Static)).startswith("Enter 打开 · r 重命名")
        assert str(app.query_one(PromptInput).placeholder).startswith("输入任何问题")
        assert str(app.view.render()).startswith("开始对话")  # the empty conversation's welcome
        (live, live_width), (money, money_width) = status_lines(app)
        assert cell_len(live) <= live_width and cell_len(money) <= money_width and "F1 按键" in money, money
