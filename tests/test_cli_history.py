"""``holysheep history / export / import`` as a user runs them: real subprocesses over a real database."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from holysheep_tui.store import HistoryStore
from holysheep_tui.transcripts.export import EXPORTERS, FORMATS
from tests.harness import Cli

FAKE_KEY = "sk-holysheep-测试密钥-DO-NOT-LEAK-0123456789"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "数据"


@pytest.fixture
def seeded(data_dir: Path) -> dict[str, str]:
    """Three conversations: one about cost, one about Go, one archived."""
    with HistoryStore.open(data_dir / "history.db") as s:
        cost = s.create_conversation(profile="holysheep", system_prompt="回答要简短")
        s.add_user_message(cost, "这个模型的成本是多少？", model="kimi-k2")
        msg = s.start_answer(cost, model="kimi-k2")
        s.finish_answer(
            msg,
            status="complete",
            content="成本很低：一元等于一美元。",
            reasoning="查价格表",
            prompt_tokens=30,
            completion_tokens=12,
            cost_usd=0.0031,
        )
        go = s.create_conversation(profile="holysheep")
        s.add_user_message(go, "用 Go 写并发下载器\x1b]0;偷改标题\x07", model="deepseek-chat")
        msg = s.start_answer(go, model="deepseek-chat")
        s.finish_answer(msg, status="complete", content="package main // 并发\x1b[2J下载", cost_usd=0.002)
        old = s.create_conversation(profile="holysheep", title="归档的旧对话")
        s.add_user_message(old, "很久以前的问题", model=None)
        s.set_archived(old, True)
    return {"cost": cost, "go": go, "old": old}


def run(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLYSHEEP_")}
    env.update(HOLYSHEEP_DATA_DIR=str(data_dir), HOLYSHEEP_API_KEY=FAKE_KEY, NO_COLOR="1")
    proc = subprocess.run(
        [sys.executable, "-m", "holysheep_tui", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert FAKE_KEY not in proc.stdout + proc.stderr
    return proc


def test_list_shows_newest_first_and_hides_archived(data_dir: Path, seeded: dict[str, str]) -> None:
    proc = run(data_dir, "history", "list")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("ID") and len(lines) == 3
    assert seeded["go"][:8] in lines[1] and "用 Go 写并发下载器" in lines[1] and "deepseek-chat" in lines[1]
    assert seeded["cost"][:8] in lines[2] and "$0.0031" in lines[2]
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    assert "归档的旧对话" in run(data_dir, "history", "list", "--all").stdout


def test_list_json(data_dir: Path, seeded: dict[str, str]) -> None:
    rows = json.loads(run(data_dir, "history", "list", "--json", "--all").stdout)
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == set(seeded.values())
    assert by_id[seeded["cost"]]["title"] == "这个模型的成本是多少？"
    assert by_id[seeded["cost"]]["models"] == ["kimi-k2"] and by_id[seeded["cost"]]["message_count"] == 2
    assert by_id[seeded["old"]]["archived"] is True


def test_empty_history_lists_nothing(data_dir: Path) -> None:
    proc = run(data_dir, "history", "list")
    assert proc.returncode == 0 and proc.stdout == "" and "No conversations" in proc.stderr
    assert json.loads(run(data_dir, "history", "list", "--json").stdout) == []


def test_search_marks_hits_and_handles_short_chinese_queries(data_dir: Path, seeded: dict[str, str]) -> None:
    proc = run(data_dir, "history", "search", "成本")
    assert proc.returncode == 0, proc.stderr
    assert "«成本»很低" in proc.stdout and seeded["cost"][:8] in proc.stdout
    hits = json.loads(run(data_dir, "history", "search", "并发下载器", "--json").stdout)
    assert [h["conversation_id"] for h in hits] == [seeded["go"]]
    a, b = hits[0]["spans"][0]
    assert hits[0]["snippet"][a:b] == "并发下载器"
    proc = run(data_dir, "history", "search", '"NEAR( AND *')
    assert proc.returncode == 0 and "No messages" in proc.stderr


def test_show_by_prefix_text_and_json(data_dir: Path, seeded: dict[str, str]) -> None:
    proc = run(data_dir, "history", "show", seeded["go"][:8])
    assert proc.returncode == 0, proc.stderr
    assert "package main // 并发下载" in proc.stdout and "\x1b" not in proc.stdout
    doc = json.loads(run(data_dir, "history", "show", seeded["cost"], "--json").stdout)
    conv = doc["conversations"][0]
    assert conv["system_prompt"] == "回答要简短" and conv["messages"][1]["reasoning"] == "查价格表"


def test_unknown_id_is_a_clear_usage_error(data_dir: Path, seeded: dict[str, str]) -> None:
    for args in (
        ("history", "show", "不存在"),
        ("history", "delete", "ffffffff", "--yes"),
        ("export", "不存在"),
    ):
        proc = run(data_dir, *args)
        assert proc.returncode == 2, args
        assert proc.stdout == "" and "No conversation with id" in proc.stderr


def test_delete_needs_confirmation(data_dir: Path, seeded: dict[str, str]) -> None:
    proc = run(data_dir, "history", "delete", seeded["cost"])
    assert proc.returncode == 2 and "--yes" in proc.stderr
    assert run(data_dir, "history", "show", seeded["cost"]).returncode == 0
    proc = run(data_dir, "history", "delete", seeded["cost"][:8], "--yes")
    assert proc.returncode == 0 and "这个模型的成本是多少" in proc.stderr
    assert run(data_dir, "history", "show", seeded["cost"]).returncode == 2
    assert json.loads(run(data_dir, "history", "search", "成本", "--json").stdout) == []


def test_export_to_stdout_and_to_a_private_file(
    data_dir: Path, seeded: dict[str, str], tmp_path: Path
) -> None:
    proc = run(data_dir, "export", "--last", "--format", "md")
    assert proc.returncode == 0 and proc.stdout.startswith('---\ntitle: "用 Go 写并发下载器"')
    target = tmp_path / "导出.html"
    proc = run(data_dir, "export", seeded["cost"][:8], "--format", "html", "-o", str(target))
    assert proc.returncode == 0 and proc.stdout == ""
    assert "成本很低" in target.read_text(encoding="utf-8") and stat.S_IMODE(target.stat().st_mode) == 0o600
    before = target.read_bytes()
    proc = run(data_dir, "export", seeded["go"], "--format", "html", "-o", str(target))
    assert proc.returncode == 2 and "already exists" in proc.stderr and "--force" in proc.stderr
    assert target.read_bytes() == before
    proc = run(data_dir, "export", seeded["go"], "--format", "txt", "-o", str(target), "--force")
    assert proc.returncode == 0 and "并发" in target.read_text(encoding="utf-8")
    assert run(data_dir, "export", seeded["go"], "--last").returncode == 2


def test_export_help_offers_every_format_of_the_exporter_table(cli: Cli) -> None:
    proc = cli("export", "--help")
    assert proc.returncode == 0, proc.stderr
    choices = re.search(r"--format \{([^}]*)\}", proc.stdout)
    assert choices and tuple(choices.group(1).split(",")) == FORMATS
    listed = " ".join(proc.stdout.split())
    assert all(f"{e.name} {' '.join(e.description.split())}" in listed for e in EXPORTERS)
    assert cli("export", "--format", "pdf").returncode == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_export_contains_the_api_key(data_dir: Path, seeded: dict[str, str], fmt: str) -> None:
    proc = run(data_dir, "export", seeded["cost"], "--format", fmt)  # run() asserts the key is absent
    assert proc.returncode == 0 and "成本" in proc.stdout


def test_export_with_no_history_says_so(data_dir: Path) -> None:
    proc = run(data_dir, "export", "--last")
    assert proc.returncode == 2 and "no conversations" in proc.stderr


def test_import_round_trips_through_files(data_dir: Path, seeded: dict[str, str], tmp_path: Path) -> None:
    exported = tmp_path / "备份.json"
    assert run(data_dir, "export", seeded["cost"], "--format", "json", "-o", str(exported)).returncode == 0
    fresh = tmp_path / "新机器"
    proc = run(fresh, "import", str(exported))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [seeded["cost"]] and "Imported 1" in proc.stderr
    original = json.loads(exported.read_text(encoding="utf-8"))
    again = json.loads(run(fresh, "export", seeded["cost"], "--format", "json").stdout)
    assert _same_but_ids(again, original)
    proc = run(fresh, "import", "-", stdin=exported.read_text(encoding="utf-8"))
    assert proc.returncode == 0 and proc.stdout.split() != [seeded["cost"]]


def _same_but_ids(a: dict[str, object], b: dict[str, object]) -> bool:
    def strip(doc: dict[str, object]) -> object:
        convs = json.loads(json.dumps(doc["conversations"]))
        for c in convs:
            for m in c["messages"]:
                m.pop("id")
        return convs

    return strip(a) == strip(b)


def test_import_refuses_bad_files(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "坏文件.json"
    bad.write_text("{这不是 JSON", encoding="utf-8")
    proc = run(data_dir, "import", str(bad))
    assert proc.returncode == 2 and "not valid JSON" in proc.stderr
    newer = tmp_path / "新版本.json"
    newer.write_text(json.dumps({"schema": "holysheep-tui/conversation", "version": 9, "conversations": []}))
    proc = run(data_dir, "import", str(newer))
    assert proc.returncode == 2 and "newer" in proc.stderr and "Upgrade" in proc.stderr
    proc = run(data_dir, "import", str(tmp_path / "不存在.json"))
    assert proc.returncode == 2 and "No such file" in proc.stderr


def test_corrupt_database_is_set_aside_and_reported(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "history.db").write_bytes(b"\x00garbage, not sqlite" * 64)
    proc = run(data_dir, "history", "list")
    assert proc.returncode == 0 and "damaged" in proc.stderr and "history.db.corrupt-" in proc.stderr
    assert len(list(data_dir.glob("history.db.corrupt-*"))) == 1
