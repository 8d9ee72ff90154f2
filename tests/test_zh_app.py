"""Issue 18: the app's core in Simplified Chinese (keys, help, palette, notifications) and the palette's
language switch, which applies at once, is remembered in the config and chosen again at the next start."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from textual.command import CommandList, CommandPalette
from textual.widgets import Static

from holysheep_tui import i18n
from holysheep_tui.cli import choose_language
from holysheep_tui.config import parse_config
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.keys import KEYS
from holysheep_tui.tui.screens.dialogs import HelpScreen
from holysheep_tui.tui.widgets.prompt import PromptInput

Wait = Callable[..., Awaitable[None]]


def _toasts(app: HolySheepApp) -> list[tuple[str, str]]:
    """(title, message) of every notification raised so far."""
    return [(str(n.title), str(n.message)) for n in app._notifications]


def _described(app: HolySheepApp, key: str) -> str:
    """What the bindings in force say ``key`` does (what a footer or the key panel shows)."""
    return app.screen.active_bindings[key].binding.description


def _placeholder(app: HolySheepApp) -> str:
    return str(app.query_one(PromptInput).placeholder)


def _top_hit(app: HolySheepApp) -> str:
    lists = app.screen.query(CommandList)
    if not lists or lists.first().highlighted is None:
        return ""
    hits = lists.first()
    return str(hits.get_option_at_index(hits.highlighted or 0).prompt)


async def _palette(pilot: Any, app: HolySheepApp, wait_until: Wait, typed: str, hit: str) -> None:
    """Ctrl+P, type ``typed``, wait for ``hit`` to be the highlighted entry, run it."""
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), "the command palette")
    await pilot.press(*typed)
    await wait_until(pilot, lambda: hit in _top_hit(app), f"the palette's hit {hit!r}")
    await pilot.press("enter")
    await wait_until(pilot, lambda: not isinstance(app.screen, CommandPalette), "the palette to close")


async def test_keys_help_and_placeholder_in_chinese(
    make_app: Callable[..., HolySheepApp], wait_until: Wait
) -> None:
    i18n.use("zh-CN")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        assert _described(app, "f1") == "显示全部按键"
        assert _described(app, "ctrl+n") == "新建对话"
        assert "F1" in _placeholder(app) and not _placeholder(app).startswith("Ask anything")
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        text = "\n".join(str(s.render()) for s in app.screen.query(".help-column").results(Static))
        for words in (
            "任意位置",
            "显示全部按键",
            "选择下一条消息使用的模型",
            "发送提示词",
            "从它分叉出新对话",
        ):
            assert words in text
        assert "Ctrl+O / F2" in text, "key names stay as they are"
        assert "Show every key" not in text and "Anywhere" not in text
        await pilot.press("escape")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"主题", "退出", "新建对话", "界面语言：English"} <= titles
        assert "Language: 简体中文" not in titles, "no entry for the language in force"


async def test_a_keymap_problem_and_a_notice_in_chinese(
    make_app: Callable[..., HolySheepApp], make_session: Callable[..., Any], wait_until: Wait
) -> None:
    i18n.use("zh-CN")
    config = parse_config({"keys": {"new_conversation": "ctrl+q", "不存在": "f11"}})
    app = make_app(make_session(config=config))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: any(t == "按键未更改" for t, _m in _toasts(app)), "the keymap notice")
        notice = next(m for t, m in _toasts(app) if t == "按键未更改")
        assert "[keys] new_conversation：Ctrl+Q 保留用于输入、发送或退出。" in notice
        assert "[keys] 不存在：没有这个操作（可用：" in notice
        await pilot.press("f4")
        await wait_until(
            pilot, lambda: any(m == "还没有可复制的回答。" for _t, m in _toasts(app)), "F4's notice"
        )
        await pilot.press("f12")
        await wait_until(pilot, lambda: any(t == "鼠标" for t, _m in _toasts(app)), "F12's notice")


async def test_palette_switches_language_at_once_and_the_next_start_keeps_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_app: Callable[..., HolySheepApp],
    wait_until: Wait,
) -> None:
    path = tmp_path / "config.toml"
    path.write_text("# 我的配置\n\n[ui]\nshow_reasoning = false  # 收起推理\n", encoding="utf-8")
    monkeypatch.setenv("HOLYSHEEP_CONFIG", str(path))
    assert choose_language([]) == "en"  # an English environment, nothing in the config yet
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        assert _described(app, "f1") == "Show every key"
        await _palette(pilot, app, wait_until, "language", "Language: 简体中文")
        assert i18n.current() == "zh-CN"
        assert _described(app, "f1") == "显示全部按键", "the bindings follow at once"
        assert not _placeholder(app).startswith("Ask anything"), "the prompt's placeholder follows at once"
        await wait_until(
            pilot,
            lambda: any(t == "界面语言" and "简体中文" in m for t, m in _toasts(app)),
            "the notice in Chinese",
        )
    text = path.read_text(encoding="utf-8")
    assert 'language = "zh-CN"' in text
    assert text.startswith("# 我的配置\n") and "show_reasoning = false  # 收起推理" in text

    i18n.use("en")  # a new process starts in English until the CLI chooses
    assert choose_language([]) == "zh-CN", "the next start (English environment, no --lang) speaks Chinese"
    again = make_app()
    async with again.run_test(size=(80, 24)) as pilot:
        assert _described(again, "f1") == "显示全部按键"
        await _palette(pilot, again, wait_until, "english", "界面语言：English")
        assert i18n.current() == "en"
        assert _described(again, "f1") == "Show every key"
        assert _placeholder(again).startswith("Ask anything…")
        await wait_until(
            pilot,
            lambda: any(t == "Language" and "English" in m for t, m in _toasts(again)),
            "the notice in English",
        )
    assert 'language = "en"' in path.read_text(encoding="utf-8")
    assert choose_language([]) == "en"
    assert choose_language(["--lang", "zh-CN"]) == "zh-CN", "--lang still wins over the config"


async def test_the_bottom_of_the_screen_fits_80x24_in_chinese(
    make_app: Callable[..., HolySheepApp], wait_until: Wait
) -> None:
    i18n.use("zh-CN")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        lines = [strip.text for strip in app.screen._compositor.render_strips()]
        assert len(lines) == 24
        assert all(cell_len(line) == 80 for line in lines), "no line wider than the screen"
        shown = "\n".join(lines)
        assert _placeholder(app) in shown, "the placeholder is whole"
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        await pilot.pause()
        lines = [strip.text for strip in app.screen._compositor.render_strips()]
        assert all(cell_len(line) == 80 for line in lines)
        shown = "\n".join(lines)
        for _keys, _action, description in KEYS[:8]:  # the rows the help shows before it scrolls
            chinese = i18n._(description)
            assert chinese != description and chinese in shown, f"{chinese} is shown whole"


async def test_a_config_that_cannot_take_the_language_is_left_alone_and_said_so_in_chinese(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_app: Callable[..., HolySheepApp],
    wait_until: Wait,
) -> None:
    path = tmp_path / "config.toml"
    broken = "[ui\n主题 = 坏了\n"
    path.write_text(broken, encoding="utf-8")
    monkeypatch.setenv("HOLYSHEEP_CONFIG", str(path))
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _palette(pilot, app, wait_until, "language", "Language: 简体中文")
        await wait_until(pilot, lambda: any(t == "界面语言未保存" for t, _m in _toasts(app)), "the warning")
        warning = next(m for t, m in _toasts(app) if t == "界面语言未保存")
        assert "不是有效的 TOML" in warning and str(path) in warning
        assert any("仅本次会话" in m for t, m in _toasts(app) if t == "界面语言"), "switched for this session"
        assert _described(app, "f1") == "显示全部按键"
    assert path.read_text(encoding="utf-8") == broken, "the file is left as it was"


async def test_the_theme_list_asks_in_chinese(make_app: Any) -> None:
    i18n.use("zh-CN")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+t")
        await pilot.pause(0.3)
        from textual.command import CommandInput

        assert app.screen.query_one(CommandInput).placeholder == "搜索主题…"
