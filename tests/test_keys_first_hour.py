"""The keys a new user reaches for in the first hour (issue 15 items 9 and 14), pressed through Pilot."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.widgets.conversation import ConversationView
from holysheep_tui.tui.widgets.prompt import PromptInput

Send = Callable[..., Awaitable[Any]]


def focus_of(app: HolySheepApp) -> object:
    return app.focused


async def two_answers(pilot: Pilot[Any], send_and_wait: Send) -> ConversationView:
    await send_and_wait(pilot, "请介绍一下价格")
    await send_and_wait(pilot, "再说一遍，用中文")
    view = pilot.app.query_one(ConversationView)
    await pilot.pause()
    assert view.max_scroll_y > 0, "the conversation is taller than the screen"
    return view


async def test_the_prompt_scrolls_the_conversation_and_keeps_every_key_typed(
    make_app: Callable[..., HolySheepApp], send_and_wait: Send
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        view = await two_answers(pilot, send_and_wait)
        prompt = app.query_one(PromptInput)
        assert app.focused is prompt
        bottom = view.scroll_y
        await pilot.press("pageup")
        await pilot.pause()
        assert view.scroll_y < bottom
        await pilot.press("ctrl+home")
        await pilot.pause()
        assert view.scroll_y == 0
        await pilot.press("pagedown")
        await pilot.pause()
        assert view.scroll_y > 0
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y
        await pilot.press("home")  # an empty prompt: Home is the conversation's top
        await pilot.pause()
        assert view.scroll_y == 0
        await pilot.press("end")
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y
        await pilot.press(*"价格")
        await pilot.press("home")  # in a prompt with text, Home is the prompt's own
        assert prompt.cursor_location == (0, 0) and view.scroll_y == view.max_scroll_y
        await pilot.press("end", "pageup", *"ok")
        assert app.focused is prompt and prompt.text == "价格ok"


async def test_tab_from_the_conversation_returns_to_the_prompt_in_one_press(
    make_app: Callable[..., HolySheepApp], send_and_wait: Send
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        view = await two_answers(pilot, send_and_wait)
        view.focus()
        await pilot.pause()
        assert app.focused is view
        await pilot.press("pageup")
        await pilot.press("tab")
        await pilot.pause()
        assert focus_of(app) is app.query_one(PromptInput)
        view.focus()
        await pilot.pause()
        await pilot.press(*"读完了")  # typed while reading: nothing is lost
        await pilot.pause()
        assert app.query_one(PromptInput).text == "读完了"


async def test_f1_fits_160x48_and_lists_every_key_in_one_spelling(
    make_app: Callable[..., HolySheepApp],
) -> None:
    from textual.containers import VerticalScroll
    from textual.widgets import Static

    from holysheep_tui.tui.keys import KEYS, MESSAGE_KEYS, key_label
    from holysheep_tui.tui.screens.dialogs import HelpScreen
    from holysheep_tui.tui.widgets.sidebar import SIDEBAR_KEYS

    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        await pilot.pause()
        assert help_screen.query_one(VerticalScroll).max_scroll_y == 0, "all of it on one screen"
        text = "\n".join(str(s.render()) for s in help_screen.query(".help-column").results(Static))
        for needed in ("Ctrl+P", "Ctrl+Q", "PageUp / PageDown", "Ctrl+Home / Ctrl+End", "Ctrl+O / F2"):
            assert needed in text
        for keys, _action, description in KEYS:
            assert f"{key_label(keys)}  {description}" in text
        for key, description in MESSAGE_KEYS:
            assert f"{key}  {description}" in text
        for part in SIDEBAR_KEYS.split(" · "):
            assert part.split(" ")[0] in text and part.split(" ", 1)[1].capitalize() in text
        assert not any(f"Ctrl+{c}" in text for c in "abcdefghijklmnopqrstuvwxyz")
        await pilot.press("escape")
        commands = {c.title: c.help for c in app.get_system_commands(app.screen)}
        assert not {"Maximize", "Screenshot", "Keys"} & set(commands)
        assert "Ctrl+Q" in commands["Quit"] and "Ctrl+T" in commands["Theme"]
        assert "Ctrl+N" in commands["New conversation"]


async def test_prompt_recall_survives_a_restart_and_a_reopened_conversation_comes_first(
    make_app: Callable[..., HolySheepApp], send_and_wait: Send, tmp_path: Path
) -> None:
    db = tmp_path / "history.db"
    app = make_app(store=db)
    async with app.run_test(size=(80, 24)) as pilot:
        await send_and_wait(pilot, "第一个对话的问题")
        first = app.conversation.id
        await pilot.press("ctrl+n")
        await pilot.pause()
        await send_and_wait(pilot, "第二个对话的问题")
    assert first is not None
    again = make_app(store=db)  # a restart: a new app over the same history
    async with again.run_test(size=(80, 24)) as pilot:
        prompt = again.query_one(PromptInput)
        await pilot.press("up")
        assert prompt.text == "第二个对话的问题"  # the latest prompt of any conversation
        await pilot.press("escape")
        prompt.clear()
        await again.open_conversation(first)
        await pilot.pause()
        prompt.focus()
        await pilot.press("up")
        assert prompt.text == "第一个对话的问题"  # the reopened conversation's own prompt first
        await pilot.press("up")
        assert prompt.text == "第二个对话的问题"


async def test_a_prompt_taller_than_its_box_keeps_its_own_paging(
    make_app: Callable[..., HolySheepApp], send_and_wait: Send
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        view = await two_answers(pilot, send_and_wait)
        prompt = app.query_one(PromptInput)
        prompt.set_prompt("\n".join(f"第{i}行" for i in range(40)))
        await pilot.pause()
        assert prompt.max_scroll_y > 0
        bottom, row = view.scroll_y, prompt.cursor_location[0]
        await pilot.press("pageup")
        await pilot.pause()
        assert prompt.cursor_location[0] < row and view.scroll_y == bottom
        await pilot.press("ctrl+home")  # the conversation's top, even from a long prompt
        await pilot.pause()
        assert view.scroll_y == 0
