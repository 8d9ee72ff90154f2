"""Transcript export in every format, atomic file writing, JSON import, and control-sequence stripping."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from holysheep_tui.errors import HolySheepError, UsageError
from holysheep_tui.store import Conversation, HistoryStore, Message
from holysheep_tui.store.models import MESSAGE_SCHEMA
from holysheep_tui.textsafety import strip_control
from holysheep_tui.transcripts.export import (
    EXPORTERS,
    FORMATS,
    OutputExistsError,
    export_conversation,
    write_export,
)
from holysheep_tui.transcripts.importer import ImportFormatError, import_conversations, parse_export

HOSTILE = "红色\x1b[31m警告\x1b[0m\x1b]0;偷改标题\x07\x1bP+q544e\x1b\\\x9b2J\x07\r\n结束"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    s = HistoryStore.open(tmp_path / "history.db")
    yield s
    s.close()


@pytest.fixture
def conv(store: HistoryStore) -> Conversation:
    cid = store.create_conversation(profile="holysheep", system_prompt="你是一位耐心的老师")
    store.add_user_message(cid, "什么是上下文窗口？<script>alert('x')</script>", model="kimi-k2")
    msg = store.start_answer(cid, model="kimi-k2")
    store.finish_answer(
        msg,
        status="complete",
        content="上下文窗口是模型一次能读的 token 数。\n\n| 模型 | 窗口 |\n|---|---|",
        reasoning="用户想要定义。</details>不应破坏折叠块",
        prompt_tokens=120,
        completion_tokens=80,
        cached_tokens=30,
        cost_usd=0.0042,
        cost_estimated=True,
        ttft_ms=640,
        total_ms=3100,
    )
    store.add_user_message(cid, HOSTILE, model="deepseek-chat")
    msg = store.start_answer(cid, model="deepseek-chat")
    store.finish_answer(
        msg, status="error", content="半截回答", error_text="连接被重置", model="deepseek-chat"
    )
    return store.get_conversation(cid)


# ---- strip_control ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x1b[1;31m加粗红字\x1b[0m", "加粗红字"),
        ("标题\x1b]0;evil title\x07之后", "标题之后"),
        ("链接\x1b]8;;http://例子.com\x1b\\文字\x1b]8;;\x1b\\", "链接文字"),
        ("\x1bP1$r0m\x1b\\数据", "数据"),
        ("\x9b31m八位\x9d0;t\x9c控制", "八位控制"),
        ("保留\t制表符\n换行", "保留\t制表符\n换行"),
        ("回车\r\n换行\x00空\x7f删\x85下一行", "回车\n换行空删下一行"),
        ("\x1b7光标\x1b8\x1bc重置\x1b(B", "光标重置"),
        ("未结束的 OSC \x1b]0;标题\n下一行保留", "未结束的 OSC \n下一行保留"),
    ],
)
def test_strip_control_removes_sequences_and_controls(raw: str, clean: str) -> None:
    assert strip_control(raw) == clean


# ---- formats -----------------------------------------------------------------------------------------


def _front_matter(md: str) -> dict[str, str]:
    match = re.match(r"---\n(.*?)\n---\n", md, re.S)
    assert match, md[:200]
    return dict(line.split(": ", 1) for line in match.group(1).splitlines())


def test_markdown_has_front_matter_headings_and_reasoning_block(conv: Conversation) -> None:
    md = export_conversation(conv, "md")
    front = _front_matter(md)
    assert json.loads(front["title"]) == "什么是上下文窗口？<script>alert('x')</script>"
    assert json.loads(front["models"]) == ["kimi-k2", "deepseek-chat"]
    assert (front["prompt_tokens"], front["completion_tokens"], front["cached_tokens"]) == ("120", "80", "30")
    assert front["cost_usd"] == "0.0042" and front["cost_estimated"] == "true"
    assert front["created"] == conv.created.isoformat(timespec="microseconds")
    assert (
        "## Assistant · kimi-k2 · " in md and "120 in / 80 out (30 cached) tokens" in md and "~$0.0042" in md
    )
    assert "## User · kimi-k2 · " in md
    assert (
        "<details><summary>Reasoning</summary>\n\n用户想要定义。&lt;/details&gt;不应破坏折叠块\n\n</details>"
        in md
    )
    # The history does not record when the system prompt was set: the export says it is the current one.
    assert "## System prompt (current)\n\n*" in md and "\n\n你是一位耐心的老师\n" in md
    assert "~$0.0042 · CNY ~0.0042" in md and front["cost_cny"] == "0.0042"
    assert "error" in md and "连接被重置" in md
    assert "\x1b" not in md and "\x07" not in md and "红色警告" in md


def test_html_is_self_contained_and_escaped(conv: Conversation) -> None:
    page = export_conversation(conv, "html")
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert "<script" not in page and "&lt;script&gt;alert('x')&lt;/script&gt;" in page
    for external in ("src=", "href=", "@import", "url(", "<link"):
        assert external not in page
    assert "<style>" in page and '<details class="reasoning"><summary>Reasoning</summary>' in page
    assert "\x1b" not in page and "\x9b" not in page and "红色警告" in page


def test_text_strips_terminal_sequences(conv: Conversation) -> None:
    text = export_conversation(conv, "txt")
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)
    assert "红色警告\n结束" in text and "偷改标题" not in text
    assert "[Assistant · kimi-k2 · " in text and "上下文窗口是模型一次能读的 token 数。" in text
    assert "(reasoning)" in text and "Error: 连接被重置" in text


def test_openai_messages_include_the_system_prompt(conv: Conversation) -> None:
    messages = json.loads(export_conversation(conv, "openai"))
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant"]
    assert messages[0] == {"role": "system", "content": "你是一位耐心的老师"}
    assert messages[3]["content"] == HOSTILE  # JSON keeps text exact; escapes are encoded, not raw
    assert all(set(m) == {"role", "content"} for m in messages)


def test_unknown_format_is_a_usage_error_naming_the_table(conv: Conversation) -> None:
    with pytest.raises(UsageError) as info:
        export_conversation(conv, "pdf")
    assert all(e.name in (info.value.hint or "") for e in EXPORTERS)


def test_each_format_has_its_own_name_and_extension() -> None:
    """Two formats never write the same file name for one conversation."""
    assert len(set(FORMATS)) == len({e.extension for e in EXPORTERS}) == len(EXPORTERS)
    assert all(e.extension.startswith(".") and e.description for e in EXPORTERS)


# ---- JSON round trip and import --------------------------------------------------------------------


def _without_ids(doc: dict[str, Any]) -> dict[str, Any]:
    doc = dict(doc)
    doc.pop("exported")
    convs = []
    for c in doc["conversations"]:
        c = {k: v for k, v in c.items() if k not in ("id", "active_leaf")}  # the store numbers messages
        c["messages"] = [{k: v for k, v in m.items() if k not in ("id", "parent_id")} for m in c["messages"]]
        convs.append(c)
    doc["conversations"] = convs
    return doc


def test_json_round_trip_is_lossless(conv: Conversation, tmp_path: Path) -> None:
    exported = export_conversation(conv, "json")
    doc = json.loads(exported)
    assert (doc["schema"], doc["version"]) == ("holysheep-tui/conversation", 2)
    with HistoryStore.open(tmp_path / "另一台机器.db") as other:
        (new_id,) = import_conversations(other, exported)
        assert new_id == conv.id  # a fresh store keeps the id
        again = json.loads(export_conversation(other.get_conversation(new_id), "json"))
    assert _without_ids(again) == _without_ids(doc)
    assert again["conversations"][0]["id"] == conv.id


# Written by holysheep-tui before the message schema was derived from ``Message``: format version 1.
EXPORT_V1 = """\
{
  "schema": "holysheep-tui/conversation",
  "version": 1,
  "exported": "2025-03-01T13:00:00.000000+00:00",
  "conversations": [
    {
      "id": "6f1c2a7e-3b1d-4c2e-9a55-0d5e8b7c1f20",
      "title": "如何用人民币结算？",
      "title_is_user_set": true,
      "created": "2025-03-01T12:00:00.123456+00:00",
      "updated": "2025-03-01T12:05:00.123456+00:00",
      "profile": "holysheep",
      "system_prompt": "回答要简短",
      "archived": false,
      "messages": [
        {
          "id": 1,
          "role": "user",
          "content": "按什么汇率？",
          "reasoning": "",
          "model": "kimi-k2",
          "status": "complete",
          "prompt_tokens": null,
          "completion_tokens": null,
          "cached_tokens": null,
          "cost_usd": null,
          "cost_estimated": false,
          "ttft_ms": null,
          "total_ms": null,
          "error_text": null,
          "created": "2025-03-01T12:00:00.123456+00:00"
        },
        {
          "id": 2,
          "role": "assistant",
          "content": "¥1 = $1。",
          "reasoning": "查价格表",
          "model": "kimi-k2",
          "status": "complete",
          "prompt_tokens": 30,
          "completion_tokens": 12,
          "cached_tokens": 8,
          "cost_usd": 0.0031,
          "cost_estimated": true,
          "ttft_ms": 420,
          "total_ms": 1800,
          "error_text": null,
          "created": "2025-03-01T12:00:03.123456+00:00"
        },
        {
          "id": 3,
          "role": "assistant",
          "content": "半截",
          "reasoning": "",
          "model": "deepseek-chat",
          "status": "error",
          "prompt_tokens": null,
          "completion_tokens": null,
          "cached_tokens": null,
          "cost_usd": null,
          "cost_estimated": false,
          "ttft_ms": null,
          "total_ms": null,
          "error_text": "连接被重置",
          "created": "2025-03-01T12:00:09.123456+00:00"
        }
      ]
    }
  ]
}
"""


def test_an_existing_version_1_export_imports_as_one_path_and_exports_again_unchanged(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "history.db") as fresh:
        (conv_id,) = import_conversations(fresh, EXPORT_V1)
        again = json.loads(export_conversation(fresh.get_conversation(conv_id), "json"))
    messages = again["conversations"][0]["messages"]
    assert [m["parent_id"] for m in messages] == [None, *[m["id"] for m in messages[:-1]]]
    assert again["conversations"][0]["active_leaf"] == messages[-1]["id"]
    old = json.loads(EXPORT_V1)
    for m in old["conversations"][0]["messages"]:
        m["copied_from"] = None  # a field added since: a version 1 file has no fork copies
        m["kind"] = "message"  # added since: a version 1 file has no summaries
    assert again["version"] == 2 and _without_ids(again) == _without_ids(old) | {"version": 2}


# A value for every field the JSON export carries back, none of them a default.
EVERY_FIELD: dict[str, Any] = {
    "role": "assistant",
    "content": "每个字段都要保留",
    "created": datetime(2025, 3, 1, 12, 0, 1, 654321, tzinfo=UTC),
    "reasoning": "先想一想",
    "model": "kimi-k2",
    "status": "stopped",
    "prompt_tokens": 11,
    "completion_tokens": 22,
    "cached_tokens": 3,
    "cost_usd": 0.0042,
    "cost_estimated": True,
    "ttft_ms": 640,
    "total_ms": 3100,
    "error_text": "用户停止",
    "copied_from": 7,
    "kind": "summary",
}


def test_every_field_of_the_message_schema_survives_the_store_and_a_json_round_trip(tmp_path: Path) -> None:
    imported = [c for c in MESSAGE_SCHEMA if c.json.imported and c.name != "parent_id"]  # renumbered
    assert set(EVERY_FIELD) == {c.name for c in imported}, "a new Message field needs a value here"
    assert all(EVERY_FIELD[c.name] != c.default for c in imported)
    moment = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    message = Message(0, "", **EVERY_FIELD)
    conv = Conversation("", "全部字段", False, moment, moment, "holysheep", messages=(message,))
    with HistoryStore.open(tmp_path / "a.db") as a, HistoryStore.open(tmp_path / "b.db") as b:
        stored = a.get_conversation(a.insert_conversation(conv)).messages[0]
        assert {name: getattr(stored, name) for name in EVERY_FIELD} == EVERY_FIELD
        exported = json.loads(export_conversation(a.get_conversation(stored.conversation_id), "json"))
        keys = set(exported["conversations"][0]["messages"][0])
        assert keys == {c.name for c in MESSAGE_SCHEMA if c.json.exported}
        (copy_id,) = import_conversations(b, json.dumps(exported))
        copy = b.get_conversation(copy_id).messages[0]
    assert {name: getattr(copy, name) for name in EVERY_FIELD} == EVERY_FIELD


@pytest.mark.parametrize("name", [c.name for c in MESSAGE_SCHEMA if c.json.minimum is not None])
def test_import_refuses_numbers_below_the_schema_minimum(name: str) -> None:
    doc = json.loads(_doc())
    doc["conversations"][0]["messages"][0][name] = -1
    with pytest.raises(ImportFormatError, match=f"messages.0.{name}"):
        parse_export(json.dumps(doc))


@pytest.mark.parametrize("name", [c.name for c in MESSAGE_SCHEMA if c.json.imported and c.required])
def test_import_requires_the_schema_required_fields(name: str) -> None:
    doc = json.loads(_doc())
    del doc["conversations"][0]["messages"][0][name]
    with pytest.raises(ImportFormatError, match=f"messages.0.{name}"):
        parse_export(json.dumps(doc))


def test_importing_into_the_same_store_gets_a_new_id(store: HistoryStore, conv: Conversation) -> None:
    exported = export_conversation(conv, "json")
    (new_id,) = import_conversations(store, exported)
    assert new_id != conv.id
    copy = store.get_conversation(new_id)
    assert [m.content for m in copy.messages] == [m.content for m in conv.messages]
    assert len(store.search("上下文窗口")) == 4  # imported messages are indexed


def _doc(**changes: Any) -> str:
    base: dict[str, Any] = {
        "schema": "holysheep-tui/conversation",
        "version": 1,
        "conversations": [
            {
                "id": "a",
                "title": "导入测试",
                "created": "2025-01-02T03:04:05+00:00",
                "updated": "2025-01-02T03:04:06+00:00",
                "profile": "holysheep",
                "messages": [{"role": "user", "content": "你好", "created": "2025-01-02T03:04:05+00:00"}],
            }
        ],
    }
    base.update(changes)
    return json.dumps(base, ensure_ascii=False)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{不是 JSON", "not valid JSON"),
        ("[1, 2, 3]", "not a holysheep-tui conversation export"),
        (_doc(schema="别的格式"), "not a holysheep-tui conversation export"),
        (_doc(version=3), "newer"),
        (_doc(version="1"), "invalid format version"),
        (_doc(conversations=[{"title": "缺字段"}]), "malformed at conversations.0"),
        (
            _doc(
                conversations=[
                    json.loads(_doc())["conversations"][0]
                    | {"messages": [{"role": "robot", "content": "喂", "created": "2025-01-02T03:04:05Z"}]}
                ]
            ),
            "messages.0.role",
        ),
    ],
)
def test_import_refuses_bad_files_clearly_and_writes_nothing(
    store: HistoryStore, text: str, reason: str
) -> None:
    with pytest.raises(ImportFormatError, match=reason) as info:
        import_conversations(store, text)
    assert isinstance(info.value, UsageError)
    assert store.list_conversations(include_archived=True) == []


def test_import_is_all_or_nothing_per_file(store: HistoryStore) -> None:
    good = json.loads(_doc())["conversations"][0]
    with pytest.raises(ImportFormatError):
        import_conversations(store, _doc(conversations=[good, {**good, "messages": "不是列表"}]))
    assert store.list_conversations() == []
    assert len(import_conversations(store, _doc(conversations=[good, good]))) == 2


def test_imported_streaming_rows_become_interrupted(store: HistoryStore) -> None:
    good = json.loads(_doc())["conversations"][0]
    good["messages"].append(
        {"role": "assistant", "content": "半截", "status": "streaming", "created": "2025-01-02T03:04:06Z"}
    )
    (cid,) = import_conversations(store, _doc(conversations=[good]))
    assert store.get_messages(cid)[-1].status == "interrupted"


# ---- writing files -----------------------------------------------------------------------------------


def test_write_export_is_private_and_never_overwrites_without_force(tmp_path: Path) -> None:
    target = tmp_path / "对话.md"
    write_export(target, "第一版")
    assert target.read_text(encoding="utf-8") == "第一版"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with pytest.raises(OutputExistsError, match="already exists") as info:
        write_export(target, "第二版")
    assert isinstance(info.value, HolySheepError) and "--force" in (info.value.hint or "")
    assert target.read_text(encoding="utf-8") == "第一版"
    write_export(target, "第二版", force=True)
    assert target.read_text(encoding="utf-8") == "第二版"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["对话.md"]  # no temp files left


def test_write_export_to_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(HolySheepError, match="Cannot write"):
        write_export(tmp_path / "没有这个目录" / "x.md", "内容")
    with pytest.raises(UsageError, match="directory"):
        write_export(tmp_path, "内容")


def test_every_format_exports_an_empty_conversation(store: HistoryStore) -> None:
    empty = store.get_conversation(store.create_conversation(profile="holysheep"))
    for fmt in FORMATS:
        assert export_conversation(empty, fmt)
