"""The disk and file rows of the fault matrix, as `ask`, `stats`, `export` and the app meet them.

Read-only and full disks are real: a read-only tmpfs and a small tmpfs mounted here (the tests run as root
in CI). Where mounting is not permitted the tests say so and skip; the store-level equivalents
(tests/test_store.py: read-only via an unprivileged user, full via SQLite's max_page_count) still run.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from holysheep_tui.chat.session import Session
from holysheep_tui.errors import EXIT_CONFIG, EXIT_STORAGE
from holysheep_tui.simulator import Pacing, RelaySimulator
from holysheep_tui.store import HistoryStore
from holysheep_tui.store.models import Message
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.lifecycle import open_history

PROMPT = "磁盘故障测试：请解释上下文窗口"
FAST = Pacing(first_token_delay=0.0, tokens_per_second=None)


@pytest.fixture
def relay(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    return make_simulator(pacing=FAST)


# ---- read-only data directory ----------------------------------------------------------------------


def test_ask_with_a_read_only_data_directory_answers_and_says_history_is_off(
    relay: RelaySimulator,
    tmp_path: Path,
    holysheep: Callable[..., subprocess.CompletedProcess[str]],
    tmpfs: Callable[..., Any],
) -> None:
    with tmpfs(tmp_path / "只读", "ro") as data:
        out = holysheep("ask", "--base-url", relay.base_url, PROMPT, data=data)
    assert out.returncode == 0, out.stderr
    assert "HolySheep 本地模拟器" in out.stdout  # the answer itself is unharmed
    assert "history not saved" in out.stderr and "read-only" in out.stderr
    assert "Metrics not recorded" in out.stderr
    assert "Traceback" not in out.stderr


async def test_app_with_a_read_only_data_directory_warns_and_still_answers(
    relay: RelaySimulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_session: Callable[..., Session],
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    holysheep: Callable[..., subprocess.CompletedProcess[str]],
    tmpfs: Callable[..., Any],
) -> None:
    with tmpfs(tmp_path / "只读", "ro") as data:
        monkeypatch.setenv("HOLYSHEEP_DATA_DIR", str(data))
        store, warning = open_history()  # what run_app does before the app starts
        assert store is None and warning is not None and "read-only" in warning
        app = make_app(make_session(profile="holysheep", base_url=relay.base_url))
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            app.notify(f"History is off: {warning}", severity="warning")
            app.query_one("#prompt").load_text(PROMPT)  # type: ignore[attr-defined]
            await pilot.press("enter")
            await wait_until(pilot, lambda: not app.answering and len(app.view.answers()) == 1, "the answer")
            assert app.conversation.turns[-1].status == "complete"
            assert any("read-only" in str(n.message) for n in app._notifications)
        assert list(data.iterdir()) == []


# ---- disk full -------------------------------------------------------------------------------------


def test_ask_on_a_full_disk_prints_the_answer_and_warns_history_was_not_saved(
    relay: RelaySimulator,
    tmp_path: Path,
    holysheep: Callable[..., subprocess.CompletedProcess[str]],
    tmpfs: Callable[..., Any],
    fill_disk: Callable[[Path], None],
) -> None:
    with tmpfs(tmp_path / "小盘") as data:
        first = holysheep("ask", "--base-url", relay.base_url, "第一个问题：磁盘还没满", data=data)
        assert first.returncode == 0, first.stderr
        fill_disk(data)
        out = holysheep("ask", "--base-url", relay.base_url, "-m", "kimi-k2+len=3000", PROMPT, data=data)
        assert out.returncode == 0, out.stderr
        assert len(out.stdout) > 3000  # the whole answer reached the user
        assert "full" in out.stderr.lower() and "Traceback" not in out.stderr
        (data / "填满.bin").unlink()
        with HistoryStore.open(
            data / "history.db"
        ) as store:  # what was saved before the disk filled is intact
            convs = store.list_conversations()
            assert any(c.title and "磁盘还没满" in c.title for c in convs)
            for conv in convs:
                for message in store.get_conversation(conv.id).messages:
                    assert message.status != "streaming"


async def test_app_on_a_full_disk_keeps_the_answer_on_screen_and_warns(
    relay: RelaySimulator,
    tmp_path: Path,
    make_session: Callable[..., Session],
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    holysheep: Callable[..., subprocess.CompletedProcess[str]],
    tmpfs: Callable[..., Any],
    fill_disk: Callable[[Path], None],
) -> None:
    with tmpfs(tmp_path / "小盘") as data:
        session = make_session(profile="holysheep", model="kimi-k2+len=3000", base_url=relay.base_url)
        app = make_app(session, store=data / "history.db")  # opened before the disk fills
        fill_disk(data)
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            app.query_one("#prompt").load_text(PROMPT)  # type: ignore[attr-defined]
            await pilot.press("enter")
            await wait_until(pilot, lambda: not app.answering and len(app.view.answers()) == 1, "the answer")
            turn = app.conversation.turns[-1]
            assert turn.status == "complete" and app.view.answers()[0].text == turn.answer.content
            assert any("History is not being saved" in str(n.message) for n in app._notifications)
            app.query_one("#prompt").load_text("磁盘满了还能继续问吗？")  # type: ignore[attr-defined]
            await pilot.press("enter")
            await wait_until(pilot, lambda: not app.answering and len(app.view.answers()) == 2, "the second")
            assert app.conversation.turns[-1].status == "complete"


# ---- corrupt or foreign history database -----------------------------------------------------------


@pytest.mark.parametrize("damage", ["not-sqlite", "damaged-pages"])
def test_ask_with_a_corrupt_history_moves_it_aside_and_records_in_a_new_one(
    relay: RelaySimulator,
    tmp_path: Path,
    damage: str,
    stored_turn: Callable[[Path], tuple[Message, Message]],
    holysheep: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    data = tmp_path / "数据"
    data.mkdir()
    db = data / "history.db"
    if damage == "not-sqlite":
        db.write_text("这不是数据库，只是一段文字。\n" * 200, encoding="utf-8")
    else:
        with HistoryStore.open(db) as store:
            for i in range(40):
                conv = store.create_conversation(profile="holysheep")
                store.add_user_message(conv, f"第{i}段旧的中文内容。" * 100, model=None)
        con = sqlite3.connect(db)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        with open(db, "r+b") as f:
            f.seek(4096 * 3)
            f.write(b"\xff" * 4096 * 4)
    original = db.read_bytes()
    out = holysheep("ask", "--base-url", relay.base_url, PROMPT, data=data)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    aside = [p for p in data.iterdir() if p.name.startswith("history.db.corrupt-")]
    assert any(p.read_bytes() == original for p in aside), "the damaged file is kept, not deleted"
    prompt, answer = stored_turn(db)
    assert prompt.content == PROMPT and answer.status == "complete"
    listed = holysheep("history", "list", data=data)
    assert listed.returncode == 0 and "磁盘故障测试" in listed.stdout


# ---- config ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[profiles.holysheep]\nbase_url = "https://api.holysheep.ai/v1\n', "line 2"),
        ('[profiles.holysheep.timeouts]\nread = "很久"\n', "timeouts.read"),
        ("[profiles.holysheep.retry]\nmax_retries = -1\n", "max_retries"),
    ],
    ids=["invalid-toml", "wrong-type", "out-of-range"],
)
@pytest.mark.parametrize("command", [["ask", "你好"], []], ids=["ask", "app"])
def test_bad_config_is_one_clear_line_and_exit_9(
    tmp_path: Path,
    text: str,
    words: str,
    command: list[str],
    holysheep: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    config = tmp_path / "配置.toml"
    config.write_text(text, encoding="utf-8")
    out = holysheep(*command, data=tmp_path / "数据", stdin="", HOLYSHEEP_CONFIG=str(config))
    assert out.returncode == EXIT_CONFIG
    assert str(config) in out.stderr and words in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) <= 3


# ---- metrics log with a torn last line ---------------------------------------------------------------


def test_torn_metrics_line_is_skipped_and_the_next_record_is_whole(
    relay: RelaySimulator, tmp_path: Path, holysheep: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    data = tmp_path / "数据"
    first = holysheep("ask", "--base-url", relay.base_url, "第一问", data=data)
    assert first.returncode == 0, first.stderr
    log = data / "metrics.jsonl"
    whole = log.read_bytes()
    log.write_bytes(whole + whole[: len(whole) // 2])  # a crash mid-append: half a line, no newline
    second = holysheep("ask", "--base-url", relay.base_url, "第二问", data=data)
    assert second.returncode == 0, second.stderr
    stats = holysheep("stats", "--json", "--since", "all", data=data)
    assert stats.returncode == 0, stats.stderr
    report = json.loads(stats.stdout)
    assert report["skipped_lines"] == 1
    assert sum(row["requests"] for row in report["rows"]) == 2  # both whole records count
    plain = holysheep("stats", "--since", "all", data=data)
    assert "skipped 1 unreadable line" in plain.stderr


# ---- export target not writable -----------------------------------------------------------------------


def test_export_to_an_unwritable_place_is_a_storage_error_and_writes_nothing(
    relay: RelaySimulator,
    tmp_path: Path,
    holysheep: Callable[..., subprocess.CompletedProcess[str]],
    tmpfs: Callable[..., Any],
) -> None:
    data = tmp_path / "数据"
    assert holysheep("ask", "--base-url", relay.base_url, PROMPT, data=data).returncode == 0
    with tmpfs(tmp_path / "只读导出", "ro") as target:
        out = holysheep("export", "--last", "-o", str(target / "对话.md"), data=data)
        assert out.returncode == EXIT_STORAGE, out.stderr
        assert "Traceback" not in out.stderr and str(target) in out.stderr
        assert list(target.iterdir()) == []
    missing = tmp_path / f"没有这个目录-{uuid.uuid4().hex[:6]}" / "对话.md"
    out = holysheep("export", "--last", "-o", str(missing), data=data)
    assert out.returncode == EXIT_STORAGE and "Traceback" not in out.stderr
    assert not missing.parent.exists()


def test_tmpfs_is_really_read_only_and_small(
    tmp_path: Path, tmpfs: Callable[..., Any], fill_disk: Callable[[Path], None]
) -> None:
    """The fixtures behave as the rows assume (so a pass above means what it says)."""
    with tmpfs(tmp_path / "只读", "ro") as ro, pytest.raises(OSError):
        (ro / "x").write_text("写不进去")
    with tmpfs(tmp_path / "小盘") as small:
        fill_disk(small)
        assert shutil.disk_usage(small).free < 8192
