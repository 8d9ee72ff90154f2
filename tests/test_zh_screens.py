"""The app's screens and dialogs in Simplified Chinese at 80x24 (issue 18): the first-run screen, the model
picker, F8's statistics, the export dialog and the fit dialog, each driven as a person would, with every
title, button and column header shown whole on the screen."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from textual.widgets import Button, DataTable, Input, OptionList, Select, Static

from holysheep_tui import i18n
from holysheep_tui import secrets as keys
from holysheep_tui.chat.session import Session
from holysheep_tui.config import Profile, RetryPolicy
from holysheep_tui.economics.metrics import MetricsLog
from holysheep_tui.errors import HolySheepError, KeyMissingError, KeyringError
from holysheep_tui.secrets import keyring_store
from holysheep_tui.simulator import RelaySimulator
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.screens.export import ExportScreen
from holysheep_tui.tui.screens.first_run import FirstRunScreen
from holysheep_tui.tui.screens.fit_choice import FitChoiceScreen
from holysheep_tui.tui.screens.model_picker import ModelPicker
from holysheep_tui.tui.screens.search import SearchScreen
from holysheep_tui.tui.screens.stats import StatsScreen
from holysheep_tui.tui.widgets.prompt import PromptInput

from .test_context_tui import seed_long_conversation

SIZE = (80, 24)
GOOD = "sk-hs-good-0123456789abcdefWXYZ"
BAD = "sk-hs-bad-9876543210zyxwvutQRST"
PROFILE = "团队"
Wait = Callable[..., Awaitable[None]]


@pytest.fixture(autouse=True)
def chinese() -> None:
    """The app speaks Chinese, as ``holysheep`` does once the CLI chose the language (before the app
    starts); conftest restores English after each test."""
    i18n.use("zh-CN")


@pytest.fixture(autouse=True)
def fresh_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring_store, "_GUARD", keyring_store._Guard())


def painted(app: HolySheepApp) -> list[str]:
    """The lines the terminal shows for the active screen, as painted."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def on_one_line(app: HolySheepApp, text: str) -> bool:
    """``text`` is painted whole, on one line (not wrapped, not cut)."""
    return any(text in line for line in painted(app))


def static(app: HolySheepApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def notices(app: HolySheepApp) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


def fits(app: HolySheepApp) -> None:
    """No painted line is wider than the terminal (a wide character never sticks out)."""
    width = app.size.width
    assert all(cell_len(line) <= width for line in painted(app))


# ---- the first-run screen ---------------------------------------------------------------------------


def missing_key(profile: Profile) -> HolySheepError:
    try:
        keys.resolve_key(PROFILE, profile, environ={})
    except (KeyMissingError, KeyringError) as exc:
        return exc
    raise AssertionError("a key was found")


@pytest.fixture
def first_run_app(
    make_simulator: Callable[..., RelaySimulator],
    make_session: Callable[..., Session],
    make_app: Callable[..., HolySheepApp],
    tmp_path: Path,
) -> Callable[[], HolySheepApp]:
    """``first_run_app()``: the app as started with no key for the profile (the key lookup is made then,
    with the keyring the test set up)."""

    def build() -> HolySheepApp:
        sim = make_simulator(require_key=GOOD)
        session = make_session(sim, profile=PROFILE)
        profile = Profile(base_url=sim.base_url, model="kimi-k2", retry=RetryPolicy(max_retries=0))
        metrics = MetricsLog(tmp_path / "metrics.jsonl")
        return make_app(session, metrics=metrics, first_run=missing_key(profile))

    return build


async def test_first_run_screen_in_chinese_at_80x24(
    keyring_file: Path, first_run_app: Callable[[], HolySheepApp], wait_until: Wait
) -> None:
    app = first_run_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, FirstRunScreen), "the first-run screen")
        assert on_one_line(app, "欢迎使用 HolySheep")
        help_text = static(app, "#first-run-help")
        assert "中转服务的 API 密钥来自你的 HolySheep 账户" in help_text
        assert f"供配置档“{PROFILE}”使用" in help_text  # a keyring can keep it
        check = app.screen.query_one("#first-run-check", Button)
        assert str(check.label) == "校验并保存"
        for label in ("校验并保存", "试用演示"):
            assert on_one_line(app, label), label
        assert "Ctrl+Q 退出" in static(app, ".dialog-help")
        fits(app)

        await pilot.press("enter")  # nothing pasted yet
        await wait_until(pilot, lambda: "请先粘贴密钥。" in static(app, "#first-run-status"), "the nudge")

        app.screen.query_one("#first-run-key", Input).value = BAD
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: "中转服务拒绝了这个密钥" in static(app, "#first-run-status"),
            "the rejection in Chinese",
        )
        assert BAD not in "\n".join(painted(app))
        fits(app)

        app.screen.query_one("#first-run-key", Input).value = GOOD
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, FirstRunScreen), "the chat screen")
        await wait_until(pilot, lambda: "已保存到密钥环" in notices(app), "the notice in Chinese")
        assert "正在使用密钥" in notices(app) and GOOD not in notices(app)


async def test_first_run_without_a_keyring_offers_this_session_in_chinese(
    first_run_app: Callable[[], HolySheepApp], wait_until: Wait
) -> None:
    app = first_run_app()  # the conftest's keyring fails: nowhere to keep the key
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, FirstRunScreen), "the first-run screen")
        assert "仅用于本次会话" in static(app, "#first-run-help")
        assert "没有密钥环时" in static(app, "#first-run-ways")
        assert str(app.screen.query_one("#first-run-check", Button).label) == "校验并用于本次会话"
        await pilot.press("tab")  # to the buttons, below the ways to keep the key: the screen scrolls
        check = app.screen.query_one("#first-run-check", Button)
        await wait_until(pilot, lambda: check.has_focus, "the check button focused")
        await wait_until(pilot, lambda: on_one_line(app, "校验并用于本次会话"), "the button in view")
        assert on_one_line(app, "试用演示")
        fits(app)


# ---- the model picker --------------------------------------------------------------------------------


async def test_model_picker_in_chinese_at_80x24(
    make_app: Callable[..., HolySheepApp], wait_until: Wait
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.relay_models, "the relay's model list")
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), "the model picker")
        await wait_until(pilot, lambda: app.screen.query_one(OptionList).option_count > 0, "the models")
        assert on_one_line(app, "下一条消息的模型（当前：kimi-k2）")
        assert on_one_line(app, "输入以筛选模型…")
        # the legend's text: at 80x24 (in English too) it is below the dialog's edge, the list keeping all
        # nine models in view (tests/test_picker_first_hour.py)
        legend = " ".join(str(s.render()) for s in app.screen.query(".dialog-help").results(Static))
        assert "★ 收藏（Ctrl+F）" in legend and "识别图片" in legend and "每百万词元" in legend
        assert on_one_line(app, "空格标记要对比的模型（最多 8 个）")
        options = app.screen.query_one(OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        priced = [label for label in labels if "$" in label]
        assert priced and all("输入 $" in label and "· 输出 $" in label for label in priced)
        fits(app)

        await pilot.press(*"本地模型")  # a name the relay does not list
        await wait_until(pilot, lambda: on_one_line(app, "按输入使用“本地模型”"), "the typed name offered")
        await pilot.press(*["backspace"] * 4, *"kimi-k2")
        await wait_until(pilot, lambda: options.option_count and options.highlighted is not None, "the match")
        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: "已收藏 kimi-k2。" in notices(app), "the star's notice in Chinese")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ModelPicker), "the picker to close")


# ---- F8: usage statistics -----------------------------------------------------------------------------


async def test_stats_in_chinese_at_80x24(
    make_app: Callable[..., HolySheepApp], tmp_path: Path, wait_until: Wait,
    send_and_wait: Callable[..., Awaitable[Any]],
) -> None:  # fmt: skip
    app = make_app(metrics=MetricsLog(tmp_path / "指标" / "metrics.jsonl"))
    async with app.run_test(size=SIZE) as pilot:
        await send_and_wait(pilot, "用一句话介绍人民币结算")
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, StatsScreen), "the statistics screen")
        screen = app.screen
        assert isinstance(screen, StatsScreen)
        await wait_until(pilot, lambda: screen.data is not None and not screen.data.empty, "the figures")
        assert "用量统计" in static(app, "#stats-title")
        assert on_one_line(app, "最近 30 天")  # the period chooser
        total = static(app, "#stats-total")
        assert total.startswith("最近 30 天：1 次请求 · 0 次失败") and "首词元时间" in total, total
        assert "费用：标价" in total and "计费" in total
        table = screen.query_one(DataTable)
        headers = [str(c.label) for c in table.columns.values()]
        assert headers[0] == "模型" and "费用 USD" in headers and "请求" in headers, headers
        header_line = next(line for line in painted(app) if "模型" in line)
        assert all(title in header_line for title in headers), (headers, header_line)  # none cut at 80
        assert "kimi-k2" in "\n".join(painted(app))  # model names as they are
        assert static(app, "#stats-days-title").startswith("每日请求数，共 ")
        assert on_one_line(app, "R 刷新 · Esc 关闭")
        fits(app)

        await pilot.press("c")
        await wait_until(
            pilot, lambda: "每日费用（计费）" in static(app, "#stats-days-title"), "cost per day"
        )
        await pilot.press("4")
        await wait_until(pilot, lambda: screen.query_one(Select).value == "all", "all time")
        await wait_until(
            pilot, lambda: static(app, "#stats-total").startswith("全部时间："), "all time's totals"
        )
        assert on_one_line(app, "全部时间")


async def test_stats_empty_state_in_chinese(make_app: Callable[..., HolySheepApp], wait_until: Wait) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, StatsScreen), "the statistics screen")
        screen = app.screen
        assert isinstance(screen, StatsScreen)
        await wait_until(pilot, lambda: screen.data is not None, "the (empty) figures")
        empty = static(app, "#stats-empty")
        assert empty.startswith("没有请求记录（最近 30 天）。") and "按 4 查看全部时间。" in empty, empty
        fits(app)


# ---- the export dialog --------------------------------------------------------------------------------


async def test_export_dialog_in_chinese_at_80x24(
    make_app: Callable[..., HolySheepApp], tmp_path: Path, wait_until: Wait,
    send_and_wait: Callable[..., Awaitable[Any]],
) -> None:  # fmt: skip
    app = make_app(store=tmp_path / "历史.db")
    async with app.run_test(size=SIZE) as pilot:
        await send_and_wait(pilot, "长城有多长")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportScreen), "the export dialog")
        assert static(app, ".dialog-title").startswith("导出“")
        assert on_one_line(app, "包含备选回答（md、html）")
        assert on_one_line(app, "Enter 写入 · Esc 取消 · 文件权限 0600")
        options = app.screen.query_one(OptionList)
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert any("纯文本" in prompt for prompt in prompts), prompts
        fits(app)

        path = app.screen.query_one(Input)
        path.value = ""
        await pilot.press("enter")
        await wait_until(pilot, lambda: "请填写文件名。" in notices(app), "the warning in Chinese")
        path.value = str(tmp_path / "导出.md")
        await pilot.press("enter")
        await wait_until(pilot, lambda: (tmp_path / "导出.md").exists(), "the file")
    assert "长城有多长" in (tmp_path / "导出.md").read_text(encoding="utf-8")


# ---- the fit dialog -----------------------------------------------------------------------------------


async def test_fit_dialog_in_chinese_at_80x24(
    make_app: Callable[..., HolySheepApp], tmp_path: Path, wait_until: Wait
) -> None:
    db = tmp_path / "历史.db"
    cid = seed_long_conversation(db)
    app = make_app(store=db)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.relay_models, "the relay's model list")
        await app.open_conversation(cid)
        await app.choose_model("moonshot-v1-8k")
        app.query_one(PromptInput).focus()
        await pilot.press(*"接着说")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, FitChoiceScreen), "the fit dialog")
        screen = app.screen
        assert isinstance(screen, FitChoiceScreen)
        assert on_one_line(app, "超出 moonshot-v1-8k 的上下文窗口")
        head = static(app, "#fit-head")
        assert "下一个请求约需" in head and "尚未发送任何内容。" in head
        labels = [label for _choice, label in screen.choices]
        assert labels[0].startswith("压缩：由 deepseek-v3.2 写摘要（最便宜）")
        assert any(label.startswith("只发送最近几轮") for label in labels)
        assert any(label.startswith("换用 ") for label in labels)
        await wait_until(
            pilot, lambda: on_one_line(app, "Esc 取消（输入框内容保持不变）。"), "the help in view"
        )
        assert on_one_line(app, "Enter 选择") and on_one_line(app, "尚未发送任何内容。")
        fits(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, FitChoiceScreen), "the dialog to close")
        assert app.query_one(PromptInput).text == "接着说"


# ---- search -------------------------------------------------------------------------------------------


async def test_search_in_chinese_at_80x24(
    make_app: Callable[..., HolySheepApp], tmp_path: Path, wait_until: Wait,
    send_and_wait: Callable[..., Awaitable[Any]],
) -> None:  # fmt: skip
    app = make_app(store=tmp_path / "历史.db")
    async with app.run_test(size=SIZE) as pilot:
        await send_and_wait(pilot, "长城有多长")
        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen), "the search dialog")
        assert on_one_line(app, "搜索历史记录") and on_one_line(app, "搜索所有消息…")
        assert on_one_line(app, "输入即搜索（支持中文） · ↑/↓ 选择 · Enter 打开 · Esc 关闭")
        await pilot.press(*"长城")
        counted = re.compile(r"\d+ 条消息 · ↑/↓ 选择 · Enter 打开 · Esc 关闭")
        await wait_until(
            pilot, lambda: any(counted.search(line) for line in painted(app)), "the hits counted"
        )
        hits = app.screen.query_one(OptionList)
        assert any("用户 · " in str(hits.get_option_at_index(i).prompt) for i in range(hits.option_count))
        fits(app)
