"""Conversations as trees: regenerate and edit add branches, nothing is deleted, totals count every answer.

The app runs under Pilot against the relay simulator on loopback, over the real history file that a
`holysheep` subprocess then reads; the migration runs on a database written by the release before trees.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from holysheep_tui import locations
from holysheep_tui.store import HistoryStore
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.widgets.prompt import PromptInput
from holysheep_tui.tui.widgets.sidebar import HistorySidebar

FIXTURE = Path(__file__).parent / "fixtures" / "history-v3.db"
PROMPT = "用一句话介绍你自己"


def test_the_migration_keeps_every_message_of_a_database_from_before_trees(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    shutil.copyfile(FIXTURE, path)
    with sqlite3.connect(path) as raw:
        before = raw.execute(
            "SELECT id, conversation_id, role, content, status FROM messages ORDER BY id"
        ).fetchall()
    raw.close()
    assert len(before) == 8
    with HistoryStore.open(path) as store:
        rows = store.list_conversations()
        assert sorted(r.message_count for r in rows) == [0, 4, 4]
        after = []
        for row in rows:
            conv = store.get_conversation(row.id)
            assert conv.off_path == ()
            messages = conv.messages
            assert [m.parent_id for m in messages] == [None, *[m.id for m in messages[:-1]]][: len(messages)]
            assert conv.active_leaf == (messages[-1].id if messages else None)
            after += [(m.id, m.conversation_id, m.role, m.content, m.status) for m in messages]
        assert sorted(after) == before
        first = next(r.id for r in rows if r.message_count and r.profile == "default")
        conv = store.get_conversation(first)
        assert conv.system_prompt == "你是一位简洁的助手。"
        assert [m.status for m in conv.messages][-1] == "stopped"
        assert conv.cost_usd == 0.0021 + 0.0013
        # a new prompt goes on from the end of the migrated path
        new = store.add_user_message(first, "继续")
        assert store.get_conversation(first).messages[-1].parent_id == conv.messages[-1].id
        assert new == store.get_conversation(first).active_leaf


async def test_editing_without_sending_then_a_new_conversation_keeps_both_messages(
    make_app: Callable[..., HolySheepApp],
    send_and_wait: Callable[..., Awaitable[Any]],
    wait_until: Callable[..., Awaitable[None]],
    cli: Any,
) -> None:
    db = locations.history_db()
    app = make_app(store=db)
    async with app.run_test(size=(120, 40)) as pilot:
        await send_and_wait(pilot, PROMPT)
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: app.query_one(PromptInput).text == PROMPT, "the prompt loaded")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: not app.chat.conversation.turns, "a new conversation")
        await pilot.press("ctrl+b")
        sidebar = app.query_one(HistorySidebar)
        await wait_until(pilot, lambda: bool(sidebar.rows), "the sidebar")
        assert sidebar.rows[0].message_count == 2
    listed = cli("history", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["message_count"] == 2
    shown = cli("history", "show", row["id"])
    assert PROMPT in shown.stdout


async def test_regenerating_three_times_keeps_four_answers_and_the_totals_agree(
    make_app: Callable[..., HolySheepApp],
    send_and_wait: Callable[..., Awaitable[Any]],
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    db = locations.history_db()
    app = make_app(store=db)
    async with app.run_test(size=(120, 40)) as pilot:
        await send_and_wait(pilot, PROMPT)
        for n in range(3):
            if n == 2:
                await app.choose_model("deepseek-v3.2")
            await pilot.press("ctrl+r")
            await wait_until(
                pilot,
                lambda: not app.answering and app.chat.conversation.turns[-1].status != "streaming",
                f"regenerated answer {n + 1}",
            )
            assert len(app.chat.conversation.turns) == 1
        conv_id = app.chat.conversation.id
        assert conv_id is not None
        live_total = app.chat.live.total_usd
        last = app.chat.conversation.turns[-1]
        await pilot.press("ctrl+b")
        sidebar = app.query_one(HistorySidebar)
        await wait_until(pilot, lambda: bool(sidebar.rows), "the sidebar")
        assert sidebar.rows[0].message_count == 5  # the prompt and all four answers
        assert live_total > 0 and abs(sidebar.rows[0].cost_usd - live_total) < 1e-12
    with HistoryStore.open(db) as store:
        stored = store.get_conversation(conv_id)
    tree = stored.tree
    assert [m.role for m in tree].count("assistant") == 4 and [m.role for m in tree].count("user") == 1
    prompt_id = tree[0].id
    assert all(m.parent_id == prompt_id for m in tree[1:])
    assert [m.id for m in stored.messages] == [prompt_id, last.answer_id]
    assert stored.messages[-1].model == "deepseek-v3.2"
    assert abs(stored.cost_usd - live_total) < 1e-12

    again = make_app(store=db)
    async with again.run_test(size=(120, 40)) as pilot:
        await again.open_conversation(conv_id)
        await wait_until(pilot, lambda: again.chat.conversation.id == conv_id, "the conversation reopened")
        turns = again.chat.conversation.turns
        assert [(t.prompt, t.answer_id) for t in turns] == [(PROMPT, last.answer_id)]
        assert again.chat.model == "deepseek-v3.2"
        assert abs(again.chat.live.total_usd - live_total) < 1e-12


async def test_an_edit_sent_becomes_a_sibling_of_the_old_prompt(
    make_app: Callable[..., HolySheepApp],
    send_and_wait: Callable[..., Awaitable[Any]],
    wait_until: Callable[..., Awaitable[None]],
    cli: Any,
) -> None:
    db = locations.history_db()
    app = make_app(store=db)
    async with app.run_test(size=(120, 40)) as pilot:
        await send_and_wait(pilot, "第一个问题")
        await send_and_wait(pilot, PROMPT)
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: app.query_one(PromptInput).text == PROMPT, "the prompt loaded")
        app.query_one(PromptInput).load_text("用两句话介绍你自己")
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: not app.answering and app.chat.conversation.turns[-1].prompt == "用两句话介绍你自己",
            "the edited prompt's answer",
        )
        conv_id = app.chat.conversation.id
        assert conv_id is not None
        assert [t.prompt for t in app.chat.conversation.turns] == ["第一个问题", "用两句话介绍你自己"]
    with HistoryStore.open(db) as store:
        stored = store.get_conversation(conv_id)
    users = [m for m in stored.tree if m.role == "user"]
    assert [m.content for m in users] == ["第一个问题", PROMPT, "用两句话介绍你自己"]
    assert users[1].parent_id == users[2].parent_id == stored.messages[1].id
    assert [m.content for m in stored.messages if m.role == "user"] == ["第一个问题", "用两句话介绍你自己"]
    assert len(stored.tree) == 6
    found = json.loads(cli("history", "search", "介绍你自己", "--json").stdout)
    assert [hit["snippet"] for hit in found if hit["role"] == "user"] == ["用两句话介绍你自己"]
    assert not [hit for hit in found if PROMPT in hit["snippet"]]  # the old branch is not on the path
    shown = cli("history", "show", conv_id).stdout
    assert "用两句话介绍你自己" in shown and PROMPT not in shown


async def test_a_reopened_conversation_goes_on_with_the_model_of_its_last_answer(
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    chats: Callable[..., list[Any]],
    simulator: Any,
) -> None:
    db = locations.history_db()
    with HistoryStore.open(db) as store:
        conv_id = store.create_conversation(profile="demo")
        store.add_user_message(conv_id, PROMPT, model="deepseek-v3.2")
        answer = store.start_answer(conv_id, model="deepseek-v3.2")
        store.finish_answer(answer, status="complete", content="我是一个中文助手。", cost_usd=0.001)
    app = make_app(store=db)  # the profile's model is kimi-k2
    async with app.run_test(size=(120, 40)) as pilot:
        await app.open_conversation(conv_id)
        await wait_until(pilot, lambda: app.chat.conversation.id == conv_id, "the conversation opened")
        assert app.chat.model == "deepseek-v3.2"
        app.query_one(PromptInput).load_text("继续说")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(chats(simulator)) == 1 and not app.answering, "the answer")
    assert chats(simulator)[0].json["model"] == "deepseek-v3.2"


def test_the_json_export_carries_the_tree_and_the_import_renumbers_it(tmp_path: Path) -> None:
    from holysheep_tui.transcripts.export import export_conversation
    from holysheep_tui.transcripts.importer import ImportFormatError, import_conversations

    with HistoryStore.open(tmp_path / "a.db") as a:
        conv_id = a.create_conversation(profile="demo", system_prompt="请用中文回答。")
        first = a.add_user_message(conv_id, "第一个问题")
        a.finish_answer(a.start_answer(conv_id, model="kimi-k2"), status="complete", content="第一个回答")
        old = a.add_user_message(conv_id, PROMPT)
        a.finish_answer(a.start_answer(conv_id, model="kimi-k2"), status="error", content="", cost_usd=0.001)
        a.finish_answer(
            a.start_answer(conv_id, model="kimi-k2", parent_id=old), status="complete", content="重答"
        )
        edit = a.add_user_message(conv_id, "用两句话介绍你自己", sibling_of=old)
        a.finish_answer(a.start_answer(conv_id, model="deepseek-v3.2"), status="stopped", content="好的，")
        original = a.get_conversation(conv_id)
        text = export_conversation(original, "json")
    assert first < old < edit
    with HistoryStore.open(tmp_path / "b.db") as b:
        b.add_user_message(b.create_conversation(profile="demo"), "先占用几个编号")  # the ids shift
        (copy_id,) = import_conversations(b, text)
        copy = b.get_conversation(copy_id)

    def shape(conv: Any) -> list[tuple[str, str | None]]:
        by_id = {m.id: m.content for m in conv.tree}
        return [(m.content, by_id.get(m.parent_id)) for m in conv.tree]

    assert shape(copy) == shape(original) and len(copy.tree) == 7
    assert [m.content for m in copy.messages] == [m.content for m in original.messages]
    assert [m.content for m in copy.messages][-2:] == ["用两句话介绍你自己", "好的，"]
    assert [m.id for m in copy.tree] != [m.id for m in original.tree]  # renumbered, the links kept
    assert copy.cost_usd == original.cost_usd == 0.001
    broken = json.loads(text)
    broken["conversations"][0]["messages"][1]["parent_id"] = 999
    with HistoryStore.open(tmp_path / "c.db") as c, pytest.raises(ImportFormatError, match="messages.1"):
        import_conversations(c, json.dumps(broken))
