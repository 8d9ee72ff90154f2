"""Scenario 5, history at scale: list, search (Latin and Chinese, short and long terms) and open.

The database (10,000 conversations, 500,000 messages by default) is generated once into bench/.work/
by bench/gen_history.py and reused. Each query runs once untimed (warm cache), then ``--repeat``
times; p50/p95 of the wall time per operation. The baseline is one indexed primary-key lookup.

    .venv/bin/python bench/bench_history.py [--quick] [--repeat 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import WORK_DIR, Deadline, Result, Target, fmt, median, p95, peak_rss_mb
from gen_history import generate

from holysheep_tui.store import HistoryStore

SEARCH_P95_MS = 50.0
FULL = (10_000, 500_000)
SMALL = (1_000, 50_000)

# (category, query): hits and misses; the misses are the slow path for short terms (a full scan).
QUERIES: list[tuple[str, str]] = [
    ("Latin 3+ chars", "backoff"),
    ("Latin 3+ chars", "latency"),
    ("Latin 3+ chars", "Kimi streaming"),
    ("Latin 3+ chars", "zebrafish"),
    ("Latin 2 chars", "Go"),
    ("Latin 2 chars", "p9"),
    ("Latin 2 chars", "qz"),
    ("Chinese 3+ chars", "并发下载器"),
    ("Chinese 3+ chars", "中转站"),
    ("Chinese 3+ chars", "上下文 窗口"),
    ("Chinese 3+ chars", "鲸鱼骨架"),
    ("Chinese 2 chars", "限流"),
    ("Chinese 2 chars", "超时"),
    ("Chinese 2 chars", "鲸鱼"),
]


def database(conversations: int, messages: int) -> tuple[Path, float | None]:
    """The generated database, made now if missing; the second value is the seconds spent making it."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    path = WORK_DIR / f"history-{conversations}x{messages}.db"
    if path.exists():
        return path, None
    partial = path.with_suffix(".partial")
    for stale in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        stale.unlink(missing_ok=True)
    began = time.perf_counter()
    generate(partial, conversations, messages)
    partial.rename(path)
    return path, time.perf_counter() - began


def _timed(fn: Callable[[], object], repeat: int, deadline: Deadline) -> tuple[list[float], object]:
    result = fn()  # warm-up
    samples: list[float] = []
    for _ in range(repeat):
        if deadline.passed:
            break
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return samples, result


def bench(repeat: int, size: tuple[int, int], budget: float) -> Result:
    conversations, messages = size
    path, made = database(conversations, messages)
    result = Result("history", "5. History at scale")
    deadline = Deadline(budget)
    store = HistoryStore.open(path, integrity_check=False)
    try:
        ids = [c.id for c in store.list_conversations(limit=conversations, include_archived=True)]
        rng = random.Random(5)
        picks = [rng.choice(ids) for _ in range(max(repeat, 1) + 1)]
        pick_iter = iter(picks * 2)
        conn = store._db  # the baseline: one primary-key lookup through the same connection
        ops: list[tuple[str, str, Callable[[], object]]] = [
            ("baseline", "primary-key lookup", lambda: conn.execute(
                "SELECT id, title FROM conversations WHERE id = ?", (picks[0],)).fetchone()),
            ("list", "newest 50", lambda: store.list_conversations(limit=50)),
            ("list", "page at offset 5,000", lambda: store.list_conversations(limit=50, offset=5000)),
            ("open", "whole conversation", lambda: store.get_conversation(next(pick_iter))),
        ]  # fmt: skip

        def searcher(query: str) -> Callable[[], object]:
            return lambda: store.search(query, limit=50)

        ops += [(cat, query, searcher(query)) for cat, query in QUERIES]
        result.columns = ["operation", "query", "hits", "p50 ms", "p95 ms", "max ms", "vs baseline p50"]
        pooled: dict[str, list[float]] = {}
        base_p50 = None
        for category, label, fn in ops:
            samples, out = _timed(fn, repeat, deadline)
            hits = (
                len(out) if isinstance(out, list) else (len(out.messages) if hasattr(out, "messages") else 1)
            )
            p50 = median(samples)
            if category == "baseline":
                base_p50 = p50
            if category not in ("baseline", "list", "open"):
                pooled.setdefault(category, []).extend(samples)
            versus = f"{p50 / base_p50:.0f}x" if base_p50 else "–"
            result.rows.append(
                [
                    category,
                    label,
                    hits,
                    fmt(p50, 2),
                    fmt(p95(samples), 2),
                    fmt(max(samples, default=None), 2),
                    versus,
                ]
            )
            result.data.setdefault("samples_ms", {})[f"{category}: {label}"] = samples
        everything = [s for values in pooled.values() for s in values]
        for category, values in pooled.items():
            result.targets.append(Target(f"search p95, {category}", p95(values), SEARCH_P95_MS, "ms"))
        result.targets.append(Target("search p95, all queries", p95(everything), SEARCH_P95_MS, "ms"))
        if deadline.passed:
            result.notes.append(
                f"The time budget of {budget:.0f} s ran out: later operations have fewer samples."
            )
    finally:
        store.close()
    result.notes.append(
        f"{conversations:,} conversations, {messages:,} messages ({path.stat().st_size / 2**20:.0f} MiB, "
        f"`{path.relative_to(WORK_DIR.parent.parent)}`"
        + (f", generated in {made:.0f} s" if made else ", reused")
        + f"); {repeat} timed runs per operation after one untimed; search limit 50; peak RSS "
        f"{peak_rss_mb():.0f} MiB."
    )
    result.notes.append(
        "Misses (`zebrafish`, `qz`, `鲸鱼骨架`, `鲸鱼`) are the worst case: a 1–2 character term cannot use "
        "the trigram index and scans every message."
    )
    if size != FULL:
        result.notes.append(f"Quick run on a smaller database; the target is for {FULL[1]:,} messages.")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="fewer runs; the small database unless the full one exists"
    )
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--budget", type=float, default=300.0, help="wall seconds for all timed queries")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    size = FULL
    repeat = max(1, min(args.repeat, 1000))
    if args.quick:
        repeat = min(repeat, 5)
        if not (WORK_DIR / f"history-{FULL[0]}x{FULL[1]}.db").exists():
            size = SMALL
    result = bench(repeat, size, args.budget)
    return result.report(args.json)


if __name__ == "__main__":
    raise SystemExit(main())
