"""Hostile storage: what an adversarial review broke in history, export, import, settings, keys and metrics.

Full and read-only disks are real (a small tmpfs, a tmpfs remounted read-only; the tests run as root in
CI and skip where mounting is not permitted); relays are the simulator or tests/rawserver.py on loopback;
the CLI runs as a real ``holysheep`` subprocess.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from holysheep_tui.economics.metrics import MetricsLog
from holysheep_tui.errors import EXIT_STORAGE, EXIT_USAGE, StorageError
from holysheep_tui.simulator import Pacing, RelaySimulator
from holysheep_tui.store import HistoryStore
from holysheep_tui.store.migrations import MIGRATIONS
from tests.rawserver import RawServer, Reply, chunk, sse

PROMPT = "救援导出测试：请解释上下文窗口"
FAST = Pacing(first_token_delay=0.0, tokens_per_second=None)
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def relay(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    return make_simulator(pacing=FAST)


def remount_read_only(where: Path) -> None:
    proc = subprocess.run(["mount", "-o", "remount,ro", str(where)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(OSError):
        (where / "写不进去").write_text("只读")


def conversation_id(holysheep: Run, data: Path) -> str:
    listed = holysheep("history", "list", "--json", data=data)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 1
    return str(rows[0]["id"])


# ---- 17: reading history needs no write ------------------------------------------------------------


def _reads_work(holysheep: Run, data: Path, rescue: Path) -> None:
    """list, show, search and export (to stdout and to a file elsewhere) all read the history."""
    listed = holysheep("history", "list", data=data)
    assert listed.returncode == 0, listed.stderr
    assert "救援导出测试" in listed.stdout
    conv = conversation_id(holysheep, data)
    shown = holysheep("history", "show", conv[:8], data=data)
    assert shown.returncode == 0, shown.stderr
    assert PROMPT in shown.stdout
    found = holysheep("history", "search", "上下文", data=data)
    assert found.returncode == 0 and conv[:8] in found.stdout, found.stderr
    out = holysheep("export", "--last", data=data)
    assert out.returncode == 0 and PROMPT in out.stdout, out.stderr
    saved = holysheep("export", conv[:8], "-f", "json", "-o", str(rescue), data=data)
    assert saved.returncode == 0, saved.stderr
    assert PROMPT in rescue.read_text(encoding="utf-8")


def test_a_full_disk_still_lists_shows_and_rescue_exports_the_history(
    relay: RelaySimulator,
    tmp_path: Path,
    holysheep: Run,
    tmpfs: Callable[..., Any],
    fill_disk: Callable[[Path], None],
) -> None:
    with tmpfs(tmp_path / "小盘") as data:
        first = holysheep("ask", "--base-url", relay.base_url, PROMPT, data=data)
        assert first.returncode == 0, first.stderr
        fill_disk(data)
        _reads_work(holysheep, data, tmp_path / "救援.json")
        deleted = holysheep("history", "delete", "--yes", conversation_id(holysheep, data), data=data)
        assert deleted.returncode == EXIT_STORAGE
        assert "full" in deleted.stderr and "rollback" not in deleted.stderr
        assert "Traceback" not in deleted.stderr


def test_a_read_only_mount_still_lists_shows_and_exports_the_history(
    relay: RelaySimulator, tmp_path: Path, holysheep: Run, tmpfs: Callable[..., Any]
) -> None:
    with tmpfs(tmp_path / "只读") as data:
        first = holysheep("ask", "--base-url", relay.base_url, PROMPT, data=data)
        assert first.returncode == 0, first.stderr
        remount_read_only(data)
        _reads_work(holysheep, data, tmp_path / "救援.json")
        deleted = holysheep("history", "delete", "--yes", conversation_id(holysheep, data), data=data)
        assert deleted.returncode == EXIT_STORAGE
        assert "read-only" in deleted.stderr and "Traceback" not in deleted.stderr


def test_a_migration_failing_on_a_full_disk_reports_the_full_disk_not_the_rollback(
    tmp_path: Path, tmpfs: Callable[..., Any], fill_disk: Callable[[Path], None]
) -> None:
    """An older database, open in another process (its -shm and -wal exist), needs a migration on a full
    disk: the COMMIT fails and SQLite has already rolled back; the error says the disk is full."""
    with tmpfs(tmp_path / "小盘") as data:
        db_path = data / "history.db"
        other = sqlite3.connect(db_path, isolation_level=None)
        try:
            other.execute("PRAGMA journal_mode = WAL")
            MIGRATIONS[0](other)
            other.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)")
            other.execute("INSERT INTO _migrations VALUES (?, '2026-01-01')", (MIGRATIONS[0].__name__,))
            fill_disk(data)
            with pytest.raises(StorageError) as caught:
                HistoryStore.open(db_path)
        finally:
            other.close()
    assert "full" in caught.value.message
    assert "rollback" not in caught.value.user_text()


# ---- 22: export writes only regular files -----------------------------------------------------------


def _make_fifo(path: Path) -> None:
    os.mkfifo(path, 0o600)


def _make_char_device(path: Path) -> None:
    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # what /dev/null is
    except PermissionError:
        pytest.skip("cannot make a device node here")


@pytest.mark.parametrize(
    ("make", "what", "is_kind"),
    [(_make_fifo, "named pipe", stat.S_ISFIFO), (_make_char_device, "character device", stat.S_ISCHR)],
    ids=["fifo", "char-device"],
)
@pytest.mark.parametrize("force", [True, False], ids=["force", "no-force"])
def test_export_refuses_to_replace_a_pipe_or_device(
    relay: RelaySimulator,
    tmp_path: Path,
    holysheep: Run,
    make: Callable[[Path], None],
    what: str,
    is_kind: Callable[[int], bool],
    force: bool,
) -> None:
    data = tmp_path / "数据"
    assert holysheep("ask", "--base-url", relay.base_url, PROMPT, data=data).returncode == 0
    target = tmp_path / "导出管道"
    make(target)
    out = holysheep("export", "--last", "-o", str(target), *(["--force"] if force else []), data=data)
    assert out.returncode == EXIT_USAGE, out.stderr
    assert what in out.stderr and "regular file" in out.stderr and "Traceback" not in out.stderr
    assert is_kind(target.lstat().st_mode), "the special file is still there, untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["数据", "导出管道"])


# ---- 19: ids with non-ASCII capitals ----------------------------------------------------------------

UNICODE_ID = "Ä对话-Ünïcode-1"


def _export_doc(*conversations: dict[str, Any]) -> str:
    return json.dumps(
        {"schema": "holysheep-tui/conversation", "version": 1, "conversations": list(conversations)},
        ensure_ascii=True,  # lone surrogates travel as the \ud800 escapes a hostile file holds
    )


def _conversation(conv_id: str, text: str, **message: Any) -> dict[str, Any]:
    return {
        "id": conv_id,
        "title": f"导入的对话：{text}",
        "created": "2025-01-02T03:04:05Z",
        "updated": "2025-01-02T03:04:06Z",
        "profile": "holysheep",
        "messages": [
            {"role": "user", "content": f"{text}？", "created": "2025-01-02T03:04:05Z"},
            {
                "role": "assistant",
                "content": f"关于{text}的回答。",
                "created": "2025-01-02T03:04:06Z",
                **message,
            },
        ],
    }


def test_an_imported_id_with_non_ascii_capitals_can_be_shown_exported_and_deleted(
    tmp_path: Path, holysheep: Run
) -> None:
    data, source = tmp_path / "数据", tmp_path / "导入.json"
    source.write_text(_export_doc(_conversation(UNICODE_ID, "大写字母")), encoding="utf-8")
    imported = holysheep("import", str(source), data=data)
    assert imported.returncode == 0 and imported.stdout.split() == [UNICODE_ID], imported.stderr
    shown = holysheep("history", "show", "Ä对话", data=data)
    assert shown.returncode == 0 and "大写字母？" in shown.stdout, shown.stderr
    exported = holysheep("export", UNICODE_ID, "-f", "md", data=data)
    assert exported.returncode == 0 and "关于大写字母的回答。" in exported.stdout, exported.stderr
    deleted = holysheep("history", "delete", "--yes", UNICODE_ID, data=data)
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(holysheep("history", "list", "--json", data=data).stdout) == []


def test_ascii_letters_in_an_id_still_match_in_either_case(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "历史.db") as store:
        conv = store.create_conversation(profile="holysheep", title="大小写")
        assert store.resolve_id(conv[:8].upper()) == conv
        assert store.resolve_id(conv.upper()) == conv


# ---- 18: import refuses hostile files clearly, in one transaction, and a rerun adds nothing ---------


def _deep(depth: int) -> str:
    return '{"schema": "holysheep-tui/conversation", "version": 1, "conversations": [], "x": ' + (
        "[" * depth + "]" * depth + "}"
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (_deep(100_000), "nests JSON too deeply"),
        (
            _export_doc(_conversation("日期", "日期") | {"created": "0001-01-01T00:00:00+08:00"}),
            "date out of range",
        ),
        (_export_doc(_conversation("代理", "代理", content="半个\ud800字")), "lone surrogate"),
        (_export_doc(_conversation("巨大", "巨大", completion_tokens=10**30)), "completion_tokens"),
        (
            _export_doc(_conversation("无穷", "无穷")).replace(
                '"created": "2025-01-02T03:04:06Z"}', '"created": "2025-01-02T03:04:06Z", "cost_usd": 1e999}'
            ),
            "cost_usd",
        ),
    ],
    ids=["deep-nesting", "date-out-of-range", "lone-surrogate", "huge-count", "infinite-cost"],
)
def test_import_of_a_hostile_file_is_a_clear_cannot_import_and_stores_nothing(
    tmp_path: Path, holysheep: Run, text: str, words: str
) -> None:
    data, source = tmp_path / "数据", tmp_path / "恶意.json"
    source.write_text(text, encoding="utf-8")
    out = holysheep("import", str(source), data=data)
    assert out.returncode == EXIT_USAGE, out.stderr
    assert "Cannot import" in out.stderr and words in out.stderr and "Traceback" not in out.stderr
    assert json.loads(holysheep("history", "list", "--json", data=data).stdout) == []


def test_import_is_one_transaction_per_file_and_a_rerun_adds_nothing(tmp_path: Path, holysheep: Run) -> None:
    data, source = tmp_path / "数据", tmp_path / "两个对话.json"
    first, second = _conversation("第一个", "第一个"), _conversation("第二个", "第二个")
    with HistoryStore.open(tmp_path / "数据" / "history.db") as store:  # the second fails inside SQLite
        store._db.execute(
            "CREATE TRIGGER refuse_second BEFORE INSERT ON conversations WHEN new.id = '第二个' "
            "BEGIN SELECT RAISE(ABORT, '磁盘上的约束拒绝了第二个对话'); END"
        )
    source.write_text(_export_doc(first, second), encoding="utf-8")
    for _ in range(2):
        failed = holysheep("import", str(source), data=data)
        assert failed.returncode == EXIT_STORAGE and "Traceback" not in failed.stderr, failed.stderr
        assert json.loads(holysheep("history", "list", "--json", data=data).stdout) == []
    with HistoryStore.open(tmp_path / "数据" / "history.db") as store:
        store._db.execute("DROP TRIGGER refuse_second")
    for run in range(3):
        done = holysheep("import", str(source), data=data)
        assert done.returncode == 0, done.stderr
        assert len(done.stdout.split()) == (2 if run == 0 else 0)
    listed = json.loads(holysheep("history", "list", "--json", data=data).stdout)
    assert sorted(row["id"] for row in listed) == ["第一个", "第二个"]
    assert holysheep("history", "delete", "--yes", "第一个", data=data).returncode == 0
    restored = holysheep("import", str(source), data=data)  # what was deleted since comes back, once
    assert restored.returncode == 0 and restored.stdout.split() == ["第一个"], restored.stderr
    listed = json.loads(holysheep("history", "list", "--json", data=data).stdout)
    assert sorted(row["id"] for row in listed) == ["第一个", "第二个"]


def test_a_file_whose_second_conversation_is_hostile_imports_nothing_on_every_run(
    tmp_path: Path, holysheep: Run
) -> None:
    data, source = tmp_path / "数据", tmp_path / "第二个坏了.json"
    bad = _conversation("坏的", "坏的", content="半个\udc00字")
    source.write_text(_export_doc(_conversation("好的", "好的"), bad), encoding="utf-8")
    for _ in range(2):
        out = holysheep("import", str(source), data=data)
        assert out.returncode == EXIT_USAGE and "conversations.1.messages.1.content" in out.stderr, out.stderr
        assert json.loads(holysheep("history", "list", "--json", data=data).stdout) == []


# ---- 20: metrics rotation across processes ------------------------------------------------------------

APPENDER = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from holysheep_tui.economics.metrics import MetricRecord, MetricsLog
from holysheep_tui.errors import StorageError

path, tag, count, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
log = MetricsLog(path, max_bytes=int(sys.argv[5]), keep=int(sys.argv[6]))
while not go.exists():
    time.sleep(0.005)
lost = 0
for i in range(count):
    try:
        log.append(MetricRecord(time=datetime.now(UTC), profile="并发轮转", model=f"{tag}-{i}", prompt_tokens=i))
    except StorageError as exc:
        lost += 1
        print(f"lost {tag}-{i}: {exc}", file=sys.stderr)
sys.exit(1 if lost else 0)
"""


def test_three_processes_appending_with_a_small_rotation_size_lose_no_line(tmp_path: Path) -> None:
    path, go = tmp_path / "数据" / "metrics.jsonl", tmp_path / "开始"
    path.parent.mkdir()
    max_bytes, keep, count = 8192, 400, 1500  # ~25 lines a file: a rotation every few appends
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                APPENDER,
                str(path),
                f"进程{n}",
                str(count),
                str(go),
                str(max_bytes),
                str(keep),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    go.touch()
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert all(code == 0 and err == "" for code, _out, err in results), results
    log = MetricsLog(path, max_bytes=max_bytes, keep=keep)
    read = log.read()
    assert read.skipped == 0
    seen = sorted(r.model for r in read.records)
    assert seen == sorted(f"进程{n}-{i}" for n in range(3) for i in range(count))
    assert len(log.files()) < keep, "nothing was rotated past the last kept file"
    assert all(p.stat().st_size <= max_bytes for p in log.files())


# ---- 3: lone surrogates and huge counts never raise out of the store or a batch -------------------------


def test_the_store_replaces_lone_surrogates_and_clamps_huge_counts_on_write(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "历史.db") as store:
        conv = store.create_conversation(profile="holysheep", title="标题\ud800", system_prompt="系统\udfff")
        store.add_user_message(conv, "问题\ud83d", model="kimi\udc00")
        answer = store.start_answer(conv, model="kimi-k2\ud800")
        store.update_answer(answer, content="一半\ud800", reasoning="想\udfff")
        store.finish_answer(
            answer,
            status="complete",
            content="回答\ud800完",
            reasoning="推理\udfff",
            prompt_tokens=10**30,
            completion_tokens=10**40,
            cached_tokens=2**64,
            error_text="错误\ud800",
        )
        stored = store.get_conversation(conv)
        assert store.search("回答")[0].conversation_id == conv
    prompt, reply = stored.messages
    assert (stored.title, stored.system_prompt) == ("标题\ufffd", "系统\ufffd")
    assert (prompt.content, prompt.model) == ("问题\ufffd", "kimi\ufffd")
    assert (reply.content, reply.reasoning, reply.error_text) == ("回答\ufffd完", "推理\ufffd", "错误\ufffd")
    assert reply.prompt_tokens == reply.completion_tokens == reply.cached_tokens == 2**63 - 1


def test_a_batch_records_an_item_that_fails_on_a_lone_surrogate_and_goes_on(tmp_path: Path, cli: Any) -> None:
    hostile = chunk("坏字符\ud800之后")
    hostile["usage"] = {"prompt_tokens": 10**30, "completion_tokens": 10**30, "total_tokens": 10**31}
    pieces = sse(json.dumps(hostile), json.dumps(chunk(finish="stop")))  # ensure_ascii: the \ud800 escape
    source, results = tmp_path / "批量.jsonl", tmp_path / "结果.jsonl"
    source.write_text(
        '{"id": "一", "prompt": "第一题"}\n'
        '{"id": "二", "prompt": "半个\\ud800字"}\n'  # a lone surrogate in the input itself
        '{"id": "三", "prompt": "第三题"}\n',
        encoding="utf-8",
    )
    with RawServer([Reply(pieces=pieces)]) as server:
        out = cli("batch", str(source), "-o", str(results), "-c", "1", "--base-url", server.base_url, "-q")
    assert out.returncode == 1, out.stderr  # some items failed; the run finished
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr
    lines = {r["id"]: r for r in map(json.loads, results.read_text(encoding="utf-8").splitlines())}
    assert sorted(lines) == ["一", "三", "二"]
    assert lines["二"]["status"] == "error" and lines["二"]["error"]["message"]
    for key in ("一", "三"):
        assert lines[key]["status"] == "ok" and "\ufffd" in lines[key]["content"]
