"""`holysheep export --all-branches`: every regenerated answer and edited prompt, nested where it splits off.

A real history file holds a tree (three answers to one prompt, a follow-up with two answers under one of
them, an edited first prompt); the CLI runs as a subprocess, as a person runs it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
from markdown_it import MarkdownIt

from holysheep_tui.errors import EXIT_USAGE
from holysheep_tui.store import HistoryStore

Run = Callable[..., CompletedProcess[str]]

COST_ANSWER = "答案甲：先看价格。\n\n## Cost\n\n| 模型 | 价格 |\n|---|---|\n| kimi-k2 | 便宜 |"
CONTENTS = {
    "U1": "什么是上下文窗口？",
    "A1a": COST_ANSWER,
    "A1b": "答案乙：窗口是一次能读的量。",
    "U2b": "追问乙：能举个例子吗？",
    "A2b": "乙的追问回答一",
    "A2b2": "乙的追问回答二",
    "A1c": "答案丙：最终采用的回答。",
    "U2": "继续说说成本。",
    "A2": "最终回答：成本按 token 计。\n\n# 小结\n\n便宜。",
    "U1e": "改过的问题：上下文窗口多大？",
    "A1e": "改过的回答：十二万八千。",
}


def _answer(s: HistoryStore, cid: str, key: str, model: str, cost: float, parent: int | None = None) -> int:
    msg = s.start_answer(cid, model=model, parent_id=parent)
    s.finish_answer(msg, status="complete", content=CONTENTS[key], cost_usd=cost, prompt_tokens=10)
    return msg


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "数据"


@pytest.fixture
def tree(data_dir: Path) -> dict[str, Any]:
    """U1 → {A1a, A1b → U2b → {A2b, A2b2}, A1c → U2 → A2 (active)}; U1e (an edit of U1) → A1e."""
    ids: dict[str, Any] = {}
    with HistoryStore.open(data_dir / "history.db") as s:
        cid = ids["conv"] = s.create_conversation(profile="holysheep", title="窗口的对话")
        ids["U1"] = s.add_user_message(cid, CONTENTS["U1"], model="kimi-k2")
        ids["A1a"] = _answer(s, cid, "A1a", "kimi-k2", 0.001)
        ids["A1b"] = _answer(s, cid, "A1b", "deepseek-chat", 0.002, parent=ids["U1"])
        ids["U2b"] = s.add_user_message(cid, CONTENTS["U2b"], model="deepseek-chat")
        ids["A2b"] = _answer(s, cid, "A2b", "deepseek-chat", 0.0005)
        ids["A2b2"] = _answer(s, cid, "A2b2", "qwen3-max", 0.0007, parent=ids["U2b"])
        ids["A1c"] = _answer(s, cid, "A1c", "glm-4.6", 0.003, parent=ids["U1"])
        ids["U2"] = s.add_user_message(cid, CONTENTS["U2"], model="glm-4.6")
        ids["A2"] = _answer(s, cid, "A2", "glm-4.6", 0.004)
        ids["U1e"] = s.add_user_message(cid, CONTENTS["U1e"], model="kimi-k2", sibling_of=ids["U1"])
        ids["A1e"] = _answer(s, cid, "A1e", "kimi-k2", 0.0002)
        s.set_active(cid, ids["A2"])
        assert [m.id for m in s.get_conversation(cid).messages] == [ids[k] for k in ("U1", "A1c", "U2", "A2")]
    return ids


def _export(holysheep: Run, data: Path, *args: str) -> str:
    out = holysheep("export", *args, data=data)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_markdown_with_all_branches_nests_every_alternative_where_it_splits_off(
    holysheep: Run, data_dir: Path, tree: dict[str, Any]
) -> None:
    md = _export(holysheep, data_dir, "--all-branches")
    for key, content in CONTENTS.items():  # every message once, none lost, none repeated
        first_line = content.split("\n", 1)[0]
        assert md.count(first_line) == 1, (key, md)
    labels = re.findall(r"\*\*(Alternative [^*]+)\*\*", md)
    assert labels == [
        "Alternative 2 of 2 — kimi-k2 · 2 messages · $0.0002 · CNY 0.0002",  # the edited first prompt
        "Alternative 1 of 3 — kimi-k2 · $0.001 · CNY 0.001",
        "Alternative 2 of 3 — deepseek-chat · 4 messages · $0.0032 · CNY 0.0032",
        "Alternative 1 of 2 — deepseek-chat · $0.0005 · CNY 0.0005",  # nested inside the one above
    ]
    lines = md.splitlines()

    def line_of(text: str) -> str:
        return next(line for line in lines if text in line)

    # The active path's messages stand at the top level, each branch one quote level deeper.
    assert line_of(CONTENTS["A1c"]) == CONTENTS["A1c"]
    assert line_of(CONTENTS["A1b"]).startswith("> " + CONTENTS["A1b"][:3])
    assert line_of(CONTENTS["A2b2"]).startswith("> ") and not line_of(CONTENTS["A2b2"]).startswith("> >")
    assert line_of(CONTENTS["A2b"]).startswith("> > ")
    assert "alternative 1 of 2" in line_of("## User · kimi-k2")  # the shown prompt says where it stands
    assert "alternative 3 of 3" in line_of("## Assistant · glm-4.6")
    # Each branch sits where it splits off: after the answer it is an alternative to, before the next prompt.
    at = md.index
    assert (
        at(CONTENTS["U1"])
        < at(CONTENTS["U1e"])
        < at(CONTENTS["A1c"])
        < at(CONTENTS["A2b"])
        < at(CONTENTS["U2"])
    )


def test_headings_inside_answers_sit_below_the_message_headings(
    holysheep: Run, data_dir: Path, tree: dict[str, Any]
) -> None:
    for args in ((), ("--all-branches",)):
        md = _export(holysheep, data_dir, *args)
        tokens = MarkdownIt("commonmark").enable("table").parse(md.split("\n---\n", 1)[1])
        headings = [
            (int(tok.tag[1]), tokens[i + 1].content)
            for i, tok in enumerate(tokens)
            if tok.type == "heading_open"
        ]
        level_two = [text for level, text in headings if level == 2]
        assert level_two and all(t.startswith(("User ·", "Assistant ·")) for t in level_two), headings
        assert (3, "小结") in headings  # "# 小结" in the last answer nests below its ## heading
        if args:  # in a branch the answer's heading is ###, so its "## Cost" becomes #####
            assert (5, "Cost") in headings and (3, "Assistant · kimi-k2") in [
                (level, text.split(" · 20")[0]) for level, text in headings
            ]
            assert "| 模型 | 价格 |" in md  # the table itself is untouched


def test_the_default_export_and_plain_text_follow_the_active_path(
    holysheep: Run, data_dir: Path, tree: dict[str, Any]
) -> None:
    on_path = {"U1", "A1c", "U2", "A2"}
    for fmt in ("md", "html", "txt"):
        text = _export(holysheep, data_dir, "--format", fmt)
        for key, content in CONTENTS.items():
            assert (content.split("\n", 1)[0] in text) == (key in on_path), (fmt, key)
        assert "Alternative 1 of 3" not in text
    refused = holysheep("export", "--format", "txt", "--all-branches", data=data_dir)
    assert refused.returncode == EXIT_USAGE and refused.stdout == ""
    assert "active path" in refused.stderr and "md or html" in refused.stderr


def test_html_with_all_branches_marks_each_alternative(
    holysheep: Run, data_dir: Path, tree: dict[str, Any]
) -> None:
    page = _export(holysheep, data_dir, "--format", "html", "--all-branches")
    for content in CONTENTS.values():
        assert page.count(content.split("\n", 1)[0]) == 1
    assert page.count('<div class="alternative">') == 4
    assert '<p class="alt-label">Alternative 1 of 3 — kimi-k2 · $0.001 · CNY 0.001</p>' in page
    # The nested answer's heading is one level deeper than its branch's messages: h4 inside h3.
    nested = page[page.index(CONTENTS["U2b"]) :]
    assert re.search(
        r"<h3 class=\"head\"><span class=\"role\">Assistant</span> <span class=\"facts\">qwen3-max", nested
    )
    assert re.search(
        r"<h4 class=\"head\"><span class=\"role\">Assistant</span> <span class=\"facts\">deepseek-chat",
        nested,
    )


def test_json_carries_the_whole_tree_and_fork_copies_through_import(
    holysheep: Run, data_dir: Path, tree: dict[str, Any], tmp_path: Path
) -> None:
    with HistoryStore.open(data_dir / "history.db") as s:
        fork = s.fork(tree["conv"], tree["A1c"])
        copies = s.get_conversation(fork).messages
    assert [m.copied_from for m in copies] == [tree["U1"], tree["A1c"]]
    elsewhere = tmp_path / "另一台机器"
    for conv_id in (tree["conv"], fork):
        exported = tmp_path / f"{conv_id}.json"
        _export(holysheep, data_dir, conv_id, "--format", "json", "-o", str(exported))
        imported = holysheep("import", str(exported), data=elsewhere)
        assert imported.returncode == 0, imported.stderr
    listed = {
        r["title"] + str(r["message_count"]): r
        for r in json.loads(holysheep("history", "list", "--json", data=elsewhere).stdout)
    }
    original = json.loads(_export(holysheep, elsewhere, tree["conv"], "--format", "json"))["conversations"][0]
    by_id = {m["id"]: m for m in original["messages"]}
    assert sorted(m["content"] for m in by_id.values()) == sorted(CONTENTS.values())
    for m in by_id.values():  # every parent link survives the renumbering
        parent = by_id.get(m["parent_id"])
        expected = {
            "A2b": "U2b",
            "A2b2": "U2b",
            "A1a": "U1",
            "A1b": "U1",
            "A1c": "U1",
            "A2": "U2",
            "A1e": "U1e",
        }
        key = next(k for k, v in CONTENTS.items() if v == m["content"])
        if key in expected:
            assert parent is not None and parent["content"] == CONTENTS[expected[key]]
    assert by_id[original["active_leaf"]]["content"] == CONTENTS["A2"]
    again = json.loads(_export(holysheep, elsewhere, fork[:8], "--format", "json"))["conversations"][0]
    assert [m["copied_from"] for m in again["messages"]] == [tree["U1"], tree["A1c"]]
    # A fork's copies were paid for in the original: neither store counts them twice.
    costs = sorted(r["cost_usd"] for r in listed.values())
    assert costs == [0.0, pytest.approx(0.0114)]


def test_a_stopped_answer_with_an_open_code_fence_does_not_swallow_the_next_message(
    holysheep: Run, data_dir: Path
) -> None:
    with HistoryStore.open(data_dir / "history.db") as s:
        cid = s.create_conversation(profile="holysheep", title="停下的回答")
        s.add_user_message(cid, "写一段代码", model="kimi-k2")
        msg = s.start_answer(cid, model="kimi-k2")
        s.finish_answer(msg, status="stopped", content="好的：\n\n```python\nprint('半截")
        s.add_user_message(cid, "下一个问题", model="kimi-k2")
    md = _export(holysheep, data_dir)
    tokens = MarkdownIt("commonmark").parse(md.split("\n---\n", 1)[1])
    headings = [tokens[i + 1].content for i, tok in enumerate(tokens) if tok.type == "heading_open"]
    assert [h.split(" · ")[0] for h in headings] == ["停下的回答", "User", "Assistant", "User"]
    (code,) = [tok.content for tok in tokens if tok.type == "fence"]
    assert code == "print('半截\n"
