"""Temperature and max tokens per conversation: set in the F3 dialog with the system prompt, validated,
sent with every request of the conversation, kept in the history and restored on reopening (issue 15,
item 24)."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.widgets import Input, Static, TextArea

from holysheep_tui.simulator import RecordedRequest, RelaySimulator
from holysheep_tui.store import HistoryStore
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.screens.settings import (
    ConversationSettings,
    ConversationSettingsScreen,
    apply_settings,
    parse_max_tokens,
    parse_temperature,
)
from holysheep_tui.tui.widgets.answer import AnswerView

FIXTURE = Path(__file__).parent / "fixtures" / "history-v3.db"


def test_the_migration_keeps_an_older_database_and_adds_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    shutil.copyfile(FIXTURE, path)
    with sqlite3.connect(path) as raw:
        before = raw.execute("SELECT id, title, system_prompt FROM conversations ORDER BY id").fetchall()
    raw.close()
    with HistoryStore.open(path) as store:
        rows = store.list_conversations()
        assert sorted((r.id, r.title) for r in rows) == [(b[0], b[1]) for b in before]
        first = next(r.id for r in rows if r.message_count and r.profile == "default")
        conv = store.get_conversation(first)
        assert conv.system_prompt == "你是一位简洁的助手。"
        assert (conv.temperature, conv.max_tokens) == (None, None)
        store.set_settings(first, temperature=0.7, max_tokens=512)
    with HistoryStore.open(path) as store:
        conv = store.get_conversation(first)
        assert (conv.temperature, conv.max_tokens, len(conv.messages)) == (0.7, 512, 4)


@pytest.mark.parametrize("text", ["2.5", "-0.1", "热", "nan", "inf"])
def test_a_temperature_outside_0_to_2_is_refused(text: str) -> None:
    with pytest.raises(Exception, match="Temperature must be a number from 0 to 2"):
        parse_temperature(text)


@pytest.mark.parametrize("text", ["0", "-5", "1.5", "１２", "很多"])
def test_max_tokens_must_be_a_positive_whole_number(text: str) -> None:
    with pytest.raises(Exception, match="Max tokens must be a positive whole number"):
        parse_max_tokens(text)


def test_empty_fields_mean_the_defaults() -> None:
    assert (parse_temperature(" "), parse_max_tokens("")) == (None, None)
    assert (parse_temperature("0"), parse_temperature("2"), parse_max_tokens("64")) == (0.0, 2.0, 64)


async def test_settings_are_sent_with_each_request_and_restored_on_reopening(
    tmp_path: Path,
    simulator: RelaySimulator,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
) -> None:
    app = make_app(store=tmp_path / "history.db")
    async with app.run_test(size=(100, 30)) as pilot:
        await send_and_wait(pilot, "第一个问题")
        assert "temperature" not in chats(simulator)[-1].json

        async def done(chosen: ConversationSettings | None) -> None:
            if chosen is not None:
                for line in apply_settings(app.controller, app.conversation, chosen):
                    await app.view.add_marker(line)

        app.push_screen(ConversationSettingsScreen(app.conversation), done)
        await wait_until(pilot, lambda: bool(app.screen.query("#max-tokens")), "the dialog")
        dialog = app.screen
        dialog.query_one("#system-text", TextArea).load_text("你是一位严谨的助手")
        dialog.query_one("#temperature", Input).focus()
        await pilot.press("3")
        dialog.query_one("#max-tokens", Input).focus()
        await pilot.press("2", "5", "6")
        await pilot.press("ctrl+s")
        error = str(dialog.query_one("#settings-error", Static).render())
        assert "Temperature must be a number from 0 to 2" in error
        assert app.screen is dialog, "an invalid value keeps the dialog open"
        dialog.query_one("#temperature", Input).focus()
        await pilot.press("backspace", "0", ".", "3")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.conversation.max_tokens == 256, "the settings applied")
        assert app.conversation.temperature == 0.3

        await send_and_wait(pilot, "第二个问题")
        sent = chats(simulator)[-1].json
        assert (sent["temperature"], sent["max_tokens"]) == (0.3, 256)
        assert sent["messages"][0] == {"role": "system", "content": "你是一位严谨的助手"}
        first_id = app.conversation.id
        assert first_id is not None

        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: not app.view.answers(), "a new conversation")
        await send_and_wait(pilot, "另一个对话")
        other = chats(simulator)[-1].json
        assert "temperature" not in other and "max_tokens" not in other

        await app.open_conversation(first_id)
        await wait_until(pilot, lambda: app.conversation.id == first_id, "the first conversation reopened")
        assert (app.conversation.temperature, app.conversation.max_tokens) == (0.3, 256)
        await send_and_wait(pilot, "第三个问题")
        again = chats(simulator)[-1].json
        assert (again["temperature"], again["max_tokens"]) == (0.3, 256)
