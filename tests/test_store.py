"""The SQLite history store, over real files: schema, lifecycle, search, recovery, concurrency."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from holysheep_tui import locations
from holysheep_tui.errors import StorageError, UsageError
from holysheep_tui.store import ConversationNotFoundError, HistoryStore
from holysheep_tui.store.migrations import MIGRATIONS
from holysheep_tui.store.models import MESSAGE_BOOKKEEPING_COLUMNS, MESSAGE_SCHEMA
from holysheep_tui.store.titles import cell_width

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "数据" / "history.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[HistoryStore]:
    s = HistoryStore.open(db_path)
    yield s
    s.close()


def _exchange(store: HistoryStore, conv: str, prompt: str, answer: str, *, model: str = "kimi-k2") -> int:
    store.add_user_message(conv, prompt, model=model)
    msg = store.start_answer(conv, model=model)
    store.finish_answer(
        msg, status="complete", content=answer, prompt_tokens=12, completion_tokens=34, cost_usd=0.0025
    )
    return msg


# ---- files, pragmas, migrations ------------------------------------------------------------------


def test_default_path_is_created_lazily_and_privately(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOLYSHEEP_DATA_DIR", str(tmp_path / "数据目录"))
    assert not locations.history_db().parent.exists()  # importing the store created nothing
    with HistoryStore.open() as s:
        assert s.path == locations.history_db()
        assert stat.S_IMODE(s.path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(s.path.stat().st_mode) == 0o600
        assert s._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert s._db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_migrations_are_recorded_once(db_path: Path) -> None:
    HistoryStore.open(db_path).close()
    HistoryStore.open(db_path).close()
    db = sqlite3.connect(db_path)
    names = [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert names == [fn.__name__ for fn in MIGRATIONS]
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    db.close()


def test_database_from_a_newer_release_is_refused_not_damaged(db_path: Path) -> None:
    HistoryStore.open(db_path).close()
    db = sqlite3.connect(db_path)
    db.execute("INSERT INTO _migrations VALUES ('m999_未来', '2030-01-01')")
    db.commit()
    db.close()
    with pytest.raises(StorageError, match="newer"):
        HistoryStore.open(db_path)
    assert db_path.exists() and not list(db_path.parent.glob("*.corrupt-*"))


def test_messages_table_has_exactly_the_columns_of_the_message_schema(db_path: Path) -> None:
    """A migration that adds a column without a Message field (or a field without a migration) fails here."""
    HistoryStore.open(db_path).close()
    db = sqlite3.connect(db_path)
    table = [row[1] for row in db.execute("PRAGMA table_info(messages)")]
    db.close()
    schema = [c.name for c in MESSAGE_SCHEMA]
    assert sorted(table) == sorted(schema + list(MESSAGE_BOOKKEEPING_COLUMNS))
    assert len(set(schema)) == len(schema) and not set(schema) & set(MESSAGE_BOOKKEEPING_COLUMNS)


# ---- conversations and messages --------------------------------------------------------------------


def test_title_comes_from_first_prompt_until_renamed(store: HistoryStore) -> None:
    conv = store.create_conversation(profile="holysheep")
    assert store.get_conversation(conv).title is None
    _exchange(store, conv, "\n\n  请用 Go   写一个并发下载器\n第二行不算", "好的")
    store.add_user_message(conv, "第二个问题不会改标题", model="kimi-k2")
    assert store.get_conversation(conv).title == "请用 Go 写一个并发下载器"
    store.rename(conv, "我的下载器")
    got = store.get_conversation(conv)
    assert (got.title, got.title_is_user_set) == ("我的下载器", True)
    with pytest.raises(UsageError):
        store.rename(conv, "  \x1b[31m ")


def test_long_chinese_title_is_cut_by_terminal_width(store: HistoryStore) -> None:
    conv = store.create_conversation(profile="holysheep")
    store.add_user_message(conv, "解释一下" * 40, model=None)
    title = store.get_conversation(conv).title
    assert title is not None and title.endswith("…")
    assert sum(cell_width(c) for c in title) <= 48
    assert title.startswith("解释一下解释一下")


def test_answer_lifecycle_records_every_field(store: HistoryStore) -> None:
    conv = store.create_conversation(profile="holysheep", system_prompt="你是一个简洁的助手")
    prompt_id = store.add_user_message(conv, "中转站的延迟怎么样？", model="deepseek-chat")
    answer_id = store.start_answer(conv, model="deepseek-chat")
    assert store.get_messages(conv)[-1].status == "streaming"
    store.update_answer(answer_id, content="首字延迟", reasoning="先想一想")
    store.finish_answer(
        answer_id,
        status="complete",
        content="首字延迟大约八百毫秒。",
        reasoning="先想一想延迟。",
        model="deepseek-chat-v3",
        prompt_tokens=20,
        completion_tokens=40,
        cached_tokens=8,
        cost_usd=0.00012,
        cost_estimated=True,
        ttft_ms=812,
        total_ms=2400,
    )
    got = store.get_conversation(conv)
    assert got.system_prompt == "你是一个简洁的助手"
    prompt, answer = got.messages
    assert (prompt.id, prompt.role, prompt.content, prompt.model) == (
        prompt_id,
        "user",
        "中转站的延迟怎么样？",
        "deepseek-chat",
    )
    assert answer.id == answer_id and answer.status == "complete"
    assert (answer.content, answer.reasoning, answer.model) == (
        "首字延迟大约八百毫秒。",
        "先想一想延迟。",
        "deepseek-chat-v3",
    )
    assert (answer.prompt_tokens, answer.completion_tokens, answer.cached_tokens) == (20, 40, 8)
    assert (answer.cost_usd, answer.cost_estimated, answer.ttft_ms, answer.total_ms) == (
        0.00012,
        True,
        812,
        2400,
    )
    with pytest.raises(ValueError):
        store.finish_answer(answer_id, status="streaming", content="")


def test_error_answer_keeps_partial_text_and_error(store: HistoryStore) -> None:
    conv = store.create_conversation(profile="holysheep")
    store.add_user_message(conv, "写一首诗", model="kimi-k2")
    msg = store.start_answer(conv, model="kimi-k2")
    store.finish_answer(msg, status="error", content="床前明月", error_text="连接被重置")
    last = store.get_messages(conv)[-1]
    assert (last.status, last.content, last.error_text) == ("error", "床前明月", "连接被重置")


def test_list_is_newest_first_with_models_cost_and_counts(store: HistoryStore) -> None:
    old = store.create_conversation(profile="holysheep")
    _exchange(store, old, "旧的对话", "旧回答", model="kimi-k2")
    new = store.create_conversation(profile="work")
    _exchange(store, new, "新的对话", "新回答", model="deepseek-chat")
    _exchange(store, new, "再问一次", "再答一次", model="gpt-4o-mini")
    archived = store.create_conversation(profile="holysheep", title="归档的")
    store.set_archived(archived, True)
    rows = store.list_conversations()
    assert [r.id for r in rows] == [new, old]
    first = rows[0]
    assert (first.title, first.message_count, first.profile) == ("新的对话", 4, "work")
    assert set(first.models) == {"deepseek-chat", "gpt-4o-mini"}
    assert first.cost_usd == pytest.approx(0.005)
    assert archived in [r.id for r in store.list_conversations(include_archived=True)]
    assert [r.id for r in store.list_conversations(limit=1, offset=1)] == [old]
    store.touch(old)
    assert store.last_conversation_id() == old


def test_long_conversation_loads_latest_page_then_older(store: HistoryStore) -> None:
    conv = store.create_conversation(profile="holysheep")
    ids = [store.add_user_message(conv, f"第{i}条消息", model=None) for i in range(30)]
    page = store.get_messages(conv, limit=10)
    assert [m.id for m in page] == ids[-10:]
    older = store.get_messages(conv, before_id=page[0].id, limit=10)
    assert [m.id for m in older] == ids[10:20]
    assert [m.id for m in store.get_conversation(conv, last=5).messages] == ids[-5:]
    assert store.count_messages(conv) == 30


def test_unknown_ids_raise_a_usage_error(store: HistoryStore) -> None:
    for call in (
        lambda: store.get_conversation("不存在"),
        lambda: store.add_user_message("不存在", "你好", model=None),
        lambda: store.start_answer("不存在", model="kimi-k2"),
        lambda: store.rename("不存在", "标题"),
        lambda: store.delete_conversation("不存在"),
        lambda: store.resolve_id("zzzz"),
    ):
        with pytest.raises(ConversationNotFoundError):
            call()


def test_resolve_id_accepts_unique_prefix_only(store: HistoryStore) -> None:
    ids = [store.create_conversation(profile="holysheep", title=f"对话{i}") for i in range(20)]
    assert store.resolve_id(ids[0][:8]) == ids[0]
    assert store.resolve_id(ids[0].upper()) == ids[0]
    firsts = [i[0] for i in ids]
    shared = next(c for c in firsts if firsts.count(c) > 1)  # 20 ids, 16 hex digits
    with pytest.raises(UsageError, match="More than one"):
        store.resolve_id(shared)
    for wildcard in ("%", "_"):
        with pytest.raises(ConversationNotFoundError):
            store.resolve_id(wildcard)


def test_delete_cascades_to_messages_and_search(store: HistoryStore) -> None:
    conv = store.create_conversation(profile="holysheep")
    _exchange(store, conv, "删除之前可以搜到", "独一无二的回答内容")
    assert store.search("独一无二")
    store.delete_conversation(conv)
    assert store.search("独一无二") == [] and store.search("删除") == []
    assert store._db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0


# ---- search ------------------------------------------------------------------------------------------


def test_search_finds_chinese_long_and_short_terms_newest_first(store: HistoryStore) -> None:
    a = store.create_conversation(profile="holysheep")
    _exchange(store, a, "这个模型的成本是多少？", "按一元等于一美元计费，成本很低。")
    b = store.create_conversation(profile="holysheep")
    newest = _exchange(store, b, "用 Go 语言实现并发下载器", "下面是 go 代码，成本可控。")
    hits = store.search("成本")  # two characters: below the trigram length
    assert [h.message_id for h in hits][0] == newest and len(hits) == 3
    assert all(h.snippet[a:b] == "成本" for h in hits for a, b in h.spans)
    hits = store.search("并发下载器")
    assert {h.conversation_id for h in hits} == {b} and hits[
        0
    ].conversation_title == "用 Go 语言实现并发下载器"
    assert len(store.search("GO")) == 2  # ASCII is matched without case
    assert [h.message_id for h in store.search("一美元 成本")] == [newest - 2]
    assert store.search("不存在的词语") == []
    assert len(store.search("成本", limit=1)) == 1


def test_search_hits_are_marked_for_highlighting(store: HistoryStore) -> None:
    conv = store.create_conversation(profile="holysheep")
    _exchange(store, conv, "前言" * 100 + "关键的并发问题" + "后记" * 100, "无关")
    (hit,) = store.search("并发问题")
    assert hit.marked("<", ">").count("<并发问题>") == 1
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…") and len(hit.snippet) < 200


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""未闭合',
        "AND",
        "OR NOT",
        "NEAR(并发 下载",
        "*",
        "成本*",
        "content:成本",
        "^开头",
        "{a b}",
        "'; DROP TABLE messages; --",
        "%",
        "_",
        "\\",
        "\x00\x1b[31m",
        "(((",
        "一 二 三 四 五 六 七 八 九 十",
    ],
)
def test_no_query_raises(store: HistoryStore, query: str) -> None:
    conv = store.create_conversation(profile="holysheep")
    _exchange(store, conv, '包含 AND 和 NEAR( 和 "引号" 的文本', "成本* 与 content:成本")
    store.search(query)  # must not raise
    assert store.count_messages(conv) == 2


def test_search_treats_operators_as_text(store: HistoryStore) -> None:
    conv = store.create_conversation(profile="holysheep")
    _exchange(store, conv, 'SQL 里 "NOT NULL" 约束', "其他")
    assert len(store.search('"NOT NULL"')) == 1
    assert len(store.search("NOT")) == 1


def test_flushed_text_is_searchable_and_replaces_old_text(store: HistoryStore) -> None:
    conv = store.create_conversation(profile="holysheep")
    msg = store.start_answer(conv, model="kimi-k2")
    store.update_answer(msg, content="草稿内容甲乙丙")
    assert store.search("甲乙丙")
    store.update_answer(msg, content="最终内容丁戊己")
    assert store.search("甲乙丙") == [] and store.search("丁戊己")


def test_a_flush_landing_after_the_final_write_changes_nothing(store: HistoryStore) -> None:
    conv = store.create_conversation(profile="holysheep")
    msg = store.start_answer(conv, model="kimi-k2")
    store.finish_answer(msg, status="complete", content="完整的最终回答")
    store.update_answer(msg, content="完整的")  # a partial flush from a thread, late
    final = store.get_conversation(conv).messages[-1]
    assert final.content == "完整的最终回答" and final.status == "complete"
    assert store.search("最终回答")


# ---- failures --------------------------------------------------------------------------------------


def test_file_that_is_not_sqlite_is_moved_aside(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes("这不是数据库".encode() * 100)
    db_path.with_name("history.db-wal").write_bytes(b"junk wal")
    with HistoryStore.open(db_path) as s:
        assert s.recovered_from is not None and s.recovered_from.name.startswith("history.db.corrupt-")
        assert s.recovered_from.read_bytes() == "这不是数据库".encode() * 100
        assert s.recovered_from.with_name(s.recovered_from.name + "-wal").read_bytes() == b"junk wal"
        conv = s.create_conversation(profile="holysheep")
        s.add_user_message(conv, "新的数据库可以用", model=None)
    with HistoryStore.open(db_path) as s:
        assert s.recovered_from is None and len(s.list_conversations()) == 1


def test_damaged_pages_fail_quick_check_and_are_moved_aside(db_path: Path) -> None:
    with HistoryStore.open(db_path) as s:
        for i in range(40):
            conv = s.create_conversation(profile="holysheep")
            s.add_user_message(conv, f"第{i}段很长的中文内容。" * 100, model=None)
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    with open(db_path, "r+b") as f:
        f.seek(4096 * 3)
        f.write(b"\xff" * 4096 * 4)
    with HistoryStore.open(db_path) as s:
        assert s.recovered_from is not None and s.recovered_from.exists()
        assert s.list_conversations() == []


_READ_ONLY = """
    import os, sys
    from pathlib import Path
    from holysheep_tui.errors import StorageError
    from holysheep_tui.store import HistoryStore
    root = Path(sys.argv[1])
    (root / "只读目录").mkdir(mode=0o500)
    try:
        HistoryStore.open(root / "只读目录" / "history.db")
    except StorageError as exc:
        print("folder:", exc.user_text().replace(chr(10), " "))
    path = root / "可写" / "history.db"
    with HistoryStore.open(path) as s:
        s.create_conversation(profile="holysheep", title="只读之前")
    path.chmod(0o400)
    try:
        with HistoryStore.open(path) as s:
            s.create_conversation(profile="holysheep", title="写不进去")
    except StorageError as exc:
        print("file:", exc.user_text().replace(chr(10), " "))
"""


def test_read_only_folder_or_file_gives_a_storage_error() -> None:
    """Runs as an unprivileged user (via setpriv when the tests run as root, who ignores permissions)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv")
        prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    root = Path(tempfile.mkdtemp(prefix="holysheep-只读-"))
    root.chmod(0o777)
    try:
        proc = subprocess.run(
            [*prefix, sys.executable, "-c", textwrap.dedent(_READ_ONLY), str(root)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert len(lines) == 2 and lines[0].startswith("folder:") and lines[1].startswith("file:")
        assert all("read-only" in line and "HOLYSHEEP_DATA_DIR" in line for line in lines)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_full_disk_gives_a_storage_error_and_keeps_earlier_data(store: HistoryStore) -> None:
    conv = store.create_conversation(profile="holysheep")
    store.add_user_message(conv, "磁盘满之前的问题", model=None)
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages + 1}")  # SQLite's own "database or disk is full"
    with pytest.raises(StorageError, match="full"):
        store.add_user_message(conv, "大量内容" * 50_000, model=None)
    assert [m.content for m in store.get_messages(conv)] == ["磁盘满之前的问题"]


# ---- several processes ------------------------------------------------------------------------------


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


_HALF_ANSWER = """
    import sys, time
    from pathlib import Path
    from holysheep_tui.store import HistoryStore
    s = HistoryStore.open(Path(sys.argv[1]))
    conv = s.create_conversation(profile="holysheep")
    s.add_user_message(conv, "请解释上下文窗口", model="kimi-k2")
    msg = s.start_answer(conv, model="kimi-k2")
    s.update_answer(msg, content="上下文窗口是模型一次", reasoning="先定义")
    print(conv, flush=True)
    for _ in range(600):
        time.sleep(0.1)
"""


def test_sigkill_mid_answer_keeps_prompt_and_partial_answer(db_path: Path) -> None:
    proc = _python(_HALF_ANSWER, str(db_path))
    try:
        assert proc.stdout is not None
        conv = proc.stdout.readline().strip()
        assert conv, proc.stderr.read() if proc.stderr else ""
        with HistoryStore.open(db_path) as other:
            assert other.recover_interrupted() == 0  # the writer is alive: its answer is left alone
            assert other.get_messages(conv)[-1].status == "streaming"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    with HistoryStore.open(db_path) as s:
        assert s.recover_interrupted() == 1
        prompt, answer = s.get_conversation(conv).messages
        assert (prompt.role, prompt.content) == ("user", "请解释上下文窗口")
        assert (answer.status, answer.content, answer.reasoning) == (
            "interrupted",
            "上下文窗口是模型一次",
            "先定义",
        )
        assert s.recover_interrupted() == 0


def test_closed_store_leaves_its_unfinished_answer_to_recovery(db_path: Path) -> None:
    with HistoryStore.open(db_path) as first, HistoryStore.open(db_path) as second:
        conv = first.create_conversation(profile="holysheep")
        first.start_answer(conv, model="kimi-k2")
        assert first.recover_interrupted() == 0 and second.recover_interrupted() == 0
        first.close()
        assert second.recover_interrupted() == 1


_WRITER = """
    import sys
    from pathlib import Path
    from holysheep_tui.store import HistoryStore
    s = HistoryStore.open(Path(sys.argv[1]))
    for c in range(3):
        conv = s.create_conversation(profile="进程" + sys.argv[2])
        for i in range(15):
            s.add_user_message(conv, f"进程{sys.argv[2]}的第{i}个问题", model="kimi-k2")
            msg = s.start_answer(conv, model="kimi-k2")
            s.update_answer(msg, content="部分回答")
            s.finish_answer(msg, status="complete", content=f"第{i}个回答")
        s.list_conversations()
        s.search("问题")
    s.close()
"""


def test_concurrent_processes_never_see_database_locked(db_path: Path) -> None:
    HistoryStore.open(db_path).close()
    procs = [_python(_WRITER, str(db_path), str(n)) for n in range(4)]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    with HistoryStore.open(db_path) as s:
        rows = s.list_conversations()
        assert len(rows) == 12 and all(r.message_count == 30 for r in rows)
        assert len(s.search("问题", limit=1000)) == 4 * 3 * 15


def test_second_instance_sees_new_conversations_on_refresh(db_path: Path) -> None:
    with HistoryStore.open(db_path) as a, HistoryStore.open(db_path) as b:
        assert b.list_conversations() == []
        conv = a.create_conversation(profile="holysheep", title="另一个窗口")
        assert [r.id for r in b.list_conversations()] == [conv]


# ---- bench generator ---------------------------------------------------------------------------------


def _gen_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_history", ROOT / "bench" / "gen_history.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_generator_fills_a_searchable_database(tmp_path: Path) -> None:
    path = tmp_path / "bench.db"
    _gen_module().generate(path, 200, 3001)
    with HistoryStore.open(path) as s:
        assert s._db.execute("SELECT count(*) FROM conversations").fetchone()[0] == 200
        assert s._db.execute("SELECT count(*) FROM messages").fetchone()[0] == 3001
        rows = s.list_conversations(limit=50)
        assert len(rows) == 50 and rows[0].updated >= rows[-1].updated
        assert s.search("并发下载器", limit=10) and s.search("成本", limit=10)
        conv = s.create_conversation(profile="holysheep")
        s.add_user_message(conv, "生成之后索引仍然同步", model=None)
        assert s.search("索引仍然同步")[0].conversation_id == conv


def test_store_and_exports_never_import_textual() -> None:
    code = (
        "import sys, holysheep_tui.store, holysheep_tui.transcripts.export, holysheep_tui.transcripts.importer, "
        "holysheep_tui.cli.history, holysheep_tui.cli.export; print('textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


def test_store_can_be_handed_to_a_worker_thread(store: HistoryStore) -> None:
    conv = store.create_conversation(profile="holysheep")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            store.add_user_message(conv, "来自工作线程的问题", model=None)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=30)
    assert not errors and store.get_messages(conv)[0].content == "来自工作线程的问题"


def test_short_terms_use_the_words_index_and_match_as_typed(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "h.db") as s:
        cid = s.create_conversation(profile="测试")
        hit = s.add_user_message(cid, "怎样降低成本？我们用 Go 写的服务，延迟 5% 以内")
        s.add_user_message(cid, "本月的成绩不错")  # 成 and 本 both appear, never side by side
        s.add_user_message(cid, "Golang and Gopher are not the word go")
        assert [h.message_id for h in s.search("成本")] == [hit]
        assert {h.message_id for h in s.search("成")} >= {hit}
        assert hit in [h.message_id for h in s.search("go")]
        assert [h.message_id for h in s.search("5%")] == [hit]
        assert [h.message_id for h in s.search("降低成本 延迟")] == [hit]
        plan = s._db.execute(
            "EXPLAIN QUERY PLAN SELECT rowid FROM messages_words WHERE messages_words MATCH ?", ('"成 本"',)
        ).fetchall()
        assert any("VIRTUAL TABLE INDEX" in str(row) for row in plan)


def test_an_older_database_gets_the_words_index_filled_in(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with HistoryStore.open(path) as s:
        cid = s.create_conversation(profile="测试")
        msg = s.add_user_message(cid, "旧数据库里的延迟问题")
        s._db.execute("DROP TABLE messages_words")
        for name in ("insert", "delete", "update"):
            s._db.execute(f"DROP TRIGGER messages_words_{name}")
        s._db.execute("DELETE FROM _migrations WHERE name = 'm003_words'")
    with HistoryStore.open(path) as s:
        assert [h.message_id for h in s.search("延迟")] == [msg]
        s.delete_conversation(cid)
        assert s.search("延迟") == []
