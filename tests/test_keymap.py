"""Issue 15 item 20: a ``[keys]`` table in the config rebinds the app's keys; conflicts are a notice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.widgets import Static

from holysheep_tui.config import Config, parse_config
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.keys import resolve_keymap
from holysheep_tui.tui.screens.dialogs import HelpScreen

Send = Callable[..., Any]


def _toasts(app: HolySheepApp) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


async def _help_text(app: HolySheepApp, pilot: Any) -> str:
    await pilot.press("f1")
    await pilot.pause()
    assert isinstance(app.screen, HelpScreen)
    text = "\n".join(str(s.render()) for s in app.screen.query(".help-column").results(Static))
    await pilot.press("escape")
    return text


async def test_a_keymap_moves_new_conversation_and_f1_shows_the_keys_in_force(
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Any],
    send_and_wait: Send,
    wait_until: Callable[..., Any],
) -> None:
    config = parse_config({"keys": {"new_conversation": "ctrl+t", "change_theme": "f11"}})
    app = make_app(make_session(config=config))
    async with app.run_test(size=(160, 48)) as pilot:
        await send_and_wait(pilot, "你好，键位")
        assert len(app.conversation.turns) == 1
        await pilot.press("ctrl+n")  # no longer bound
        await pilot.pause()
        assert len(app.conversation.turns) == 1
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: not app.conversation.turns, "a new conversation")
        assert app.screen is app.screen_stack[0], "ctrl+t no longer opens the theme picker"
        text = await _help_text(app, pilot)
        assert "Ctrl+T  New conversation" in text
        assert "F11  Choose a theme" in text
        assert "Ctrl+N" not in text
        commands = {c.title: c.help for c in app.get_system_commands(app.screen)}
        assert "Ctrl+T" in commands["New conversation"] and "F11" in commands["Theme"]
        assert "Keys not changed" not in "".join(n.title for n in app._notifications)


async def test_a_conflicting_keymap_is_a_notice_and_the_defaults_stay(
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Any],
    send_and_wait: Send,
    wait_until: Callable[..., Any],
) -> None:
    keys = {
        "new_conversation": "ctrl+r",
        "nonsense_action": "f11",
        "stop": "ctrl+q",
        "export_conversation": "f6",
    }
    app = make_app(make_session(config=Config(keys=keys)))
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await wait_until(
            pilot, lambda: "Keys not changed" in [n.title for n in app._notifications], "a notice"
        )
        toasts = _toasts(app)
        assert "Ctrl+R is given to both new_conversation and regenerate" in toasts
        assert "nonsense_action: no such action" in toasts
        assert "Ctrl+Q is kept" in toasts
        assert "F6 is given to both" in toasts  # a priority key (previous alternative)
        await send_and_wait(pilot, "冲突的键位")
        await pilot.press("ctrl+n")  # the default stays
        await wait_until(pilot, lambda: not app.conversation.turns, "a new conversation")
        text = await _help_text(app, pilot)
        assert "Ctrl+N  New conversation" in text and "Ctrl+R  Regenerate" in text


def test_a_swap_of_two_keys_is_no_conflict() -> None:
    keymap = resolve_keymap({"new_conversation": "ctrl+t", "change_theme": "ctrl+n"})
    assert keymap.problems == []
    assert keymap.keys_of("new_conversation") == "ctrl+t" and keymap.keys_of("change_theme") == "ctrl+n"
    assert resolve_keymap({"stop": "Q"}).problems  # a bare letter would eat typing (中文 too)
