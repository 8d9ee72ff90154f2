"""Fill a history database with synthetic conversations for performance work.

    python bench/gen_history.py PATH [--conversations 10000] [--messages 500000] [--seed 1]

Also importable: ``generate(path, conversations, messages)``. Rows go in with executemany inside one
transaction; the full-text index is rebuilt once at the end instead of row by row.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from holysheep_tui.store import HistoryStore
from holysheep_tui.store.search import words_text

MAX_CONVERSATIONS = 1_000_000
MAX_MESSAGES = 10_000_000
BATCH = 20_000

_ZH = (
    "请帮我写一个并发下载器",
    "这个模型的成本是多少",
    "用 Go 语言实现",
    "解释一下上下文窗口",
    "中转站的延迟怎么样",
    "首字延迟大约八百毫秒",
    "我们按一元等于一美元计费",
    "请把这段代码改成异步",
    "数据库迁移需要注意什么",
    "如何处理限流错误",
    "流式输出中断了",
    "总结一下这篇文章",
    "翻译成英文",
    "给出三个例子",
    "为什么会超时",
    "推理模型的思考过程",
)
_EN = (
    "Here is a minimal example.",
    "The p95 latency stayed under two seconds.",
    "Use exponential backoff.",
    "def main() -> None:",
    "SELECT * FROM messages;",
    "The cache hit rate improved.",
    "Kimi and DeepSeek both support streaming.",
    "Check the API key and the base URL.",
)
_MODELS = (
    "kimi-k2",
    "deepseek-chat",
    "deepseek-reasoner",
    "gpt-4o-mini",
    "claude-sonnet-4",
    "gemini-2.5-flash",
)


def _text(rng: random.Random, parts: int) -> str:
    return " ".join(rng.choice(_ZH) if rng.random() < 0.7 else rng.choice(_EN) for _ in range(parts))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def generate(path: Path, conversations: int = 10_000, messages: int = 500_000, *, seed: int = 1) -> None:
    """Add ``conversations`` conversations holding ``messages`` messages in all to the database at ``path``."""
    if not 1 <= conversations <= MAX_CONVERSATIONS or not 0 <= messages <= MAX_MESSAGES:
        raise ValueError(f"conversations must be 1..{MAX_CONVERSATIONS}, messages 0..{MAX_MESSAGES}")
    HistoryStore.open(path).close()  # schema and migrations
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=365)
    step = timedelta(days=365) / max(messages, 1)
    per_conv, extra = divmod(messages, conversations)

    db = sqlite3.connect(path, isolation_level=None)
    db.create_function("hs_words", 1, words_text, deterministic=True)
    try:
        db.execute("PRAGMA synchronous = OFF")
        db.execute("BEGIN IMMEDIATE")
        triggers = db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'messages'"
        ).fetchall()
        names = db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'messages'"
        ).fetchall()
        for (name,) in names:
            db.execute(f'DROP TRIGGER "{name}"')
        conv_rows: list[tuple[object, ...]] = []
        msg_rows: list[tuple[object, ...]] = []
        moment = start
        for c in range(conversations):
            conv_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            count = per_conv + (1 if c < extra else 0)
            created = moment
            model = rng.choice(_MODELS)
            for i in range(count):
                moment += step
                if i % 2 == 0:
                    msg_rows.append(
                        (
                            conv_id,
                            "user",
                            _text(rng, rng.randint(1, 4)),
                            "",
                            model,
                            "complete",
                            None,
                            None,
                            None,
                            None,
                            0,
                            None,
                            None,
                            _iso(moment),
                        )
                    )
                else:
                    p, o = rng.randint(20, 4000), rng.randint(20, 1500)
                    msg_rows.append(
                        (
                            conv_id,
                            "assistant",
                            _text(rng, rng.randint(3, 14)),
                            "",
                            model,
                            "complete",
                            p,
                            o,
                            0,
                            round((p + 4 * o) / 1e6, 8),
                            0,
                            rng.randint(200, 2500),
                            rng.randint(1000, 30000),
                            _iso(moment),
                        )
                    )
            title = _text(rng, 1)[:40]
            conv_rows.append((conv_id, title, 0, _iso(created), _iso(moment), "holysheep", None, 0))
            if len(msg_rows) >= BATCH:
                _flush(db, conv_rows, msg_rows)
        _flush(db, conv_rows, msg_rows)
        # Each conversation one path: every message follows the one before it.
        db.execute(
            "UPDATE messages SET parent_id = (SELECT max(p.id) FROM messages p "
            "WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id)"
        )
        db.execute(
            "UPDATE conversations SET active_leaf = "
            "(SELECT max(m.id) FROM messages m WHERE m.conversation_id = conversations.id)"
        )
        db.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
        db.execute("INSERT INTO messages_words (rowid, content) SELECT id, hs_words(content) FROM messages")
        for (sql,) in triggers:
            db.execute(sql)
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def _flush(
    db: sqlite3.Connection, conv_rows: list[tuple[object, ...]], msg_rows: list[tuple[object, ...]]
) -> None:
    db.executemany(
        "INSERT INTO conversations (id, title, title_is_user_set, created, updated, profile, system_prompt, "
        "archived) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        conv_rows,
    )
    db.executemany(
        "INSERT INTO messages (conversation_id, role, content, reasoning, model, status, prompt_tokens, "
        "completion_tokens, cached_tokens, cost_usd, cost_estimated, ttft_ms, total_ms, created) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        msg_rows,
    )
    conv_rows.clear()
    msg_rows.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("path", type=Path)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    generate(args.path, args.conversations, args.messages, seed=args.seed)
    size = args.path.stat().st_size / 2**20
    print(
        f"{args.path}: {args.conversations} conversations, {args.messages} messages, "
        f"{size:.0f} MiB in {time.perf_counter() - began:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
