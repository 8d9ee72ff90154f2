"""Scenario 2, a long conversation: open a stored conversation of 2,000 messages in the app, jump to its
top, scroll up through all of it, and the memory it takes; against a 20-message conversation opened the
same way in the same run.

The app runs headless (``App.run_test``, 160x48) in a fresh process per measurement, on a history
database with both conversations (answers are mixed Markdown of a few hundred tokens, Chinese and
English). "First paint" is from the call that opens the conversation until the app is idle with it
drawn; "Home" is the Home key's action until the first message is at the top of the view; "scroll up"
(from the latest message again) moves the view to its top edge repeatedly, as a mouse wheel or
Page Up would, until no older page is left to load: every answer is rendered once on the way. The
widget count is the largest seen while scrolling; RSS is read after each phase.

Needs from the app: ``HolySheepApp.open_conversation(conversation_id: str)`` (awaitable; returns once
the conversation is mounted). Until it exists the scenario reports "not available".

    .venv/bin/python bench/bench_conversation.py [--quick] [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ROOT,
    WORK_DIR,
    Deadline,
    Result,
    Target,
    cpu_time,
    fmt,
    isolated_env,
    median,
    peak_rss_mb,
    rss_mb,
    scratch_home,
    unavailable,
)

TITLE = "2. A conversation of 2,000 messages"
OPEN_API = "open_conversation"
PAINT_TARGET_S = 0.5
RSS_TARGET_MB = 250.0
SIZES = (20, 2000)
RUN_TIMEOUT = 300.0
SCROLL_STEPS = 2000
SCROLL_DEADLINE_S = 120.0


def database(messages: int) -> tuple[Path, str]:
    """A history database with one conversation of ``messages`` messages (made once, reused)."""
    from holysheep_tui.simulator import mixed_markdown
    from holysheep_tui.store import Conversation, HistoryStore, Message

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    path = WORK_DIR / f"conversation-{messages}.db"
    conv_id = str(uuid.UUID(int=messages, version=4))
    if path.exists():
        return path, conv_id
    start = datetime.now(UTC) - timedelta(days=3)
    rows = []
    for i in range(messages):
        created = start + timedelta(seconds=30 * i)
        if i % 2 == 0:
            rows.append(
                Message(0, conv_id, "user", f"第 {i // 2 + 1} 个问题：请解释 streaming 和限流 #{i}", created)
            )
        else:
            rows.append(
                Message(
                    0, conv_id, "assistant", mixed_markdown(150 + (i * 37) % 400, seed=i), created,
                    model="kimi-k2", prompt_tokens=1000 + i, completion_tokens=300, cost_usd=0.001,
                    ttft_ms=800, total_ms=4000,
                )
            )  # fmt: skip
    conv = Conversation(
        conv_id, f"长对话 {messages} 条", False, start, rows[-1].created, "holysheep", messages=tuple(rows)
    )
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    with HistoryStore.open(partial) as store:
        store.insert_conversation(conv)
    partial.rename(path)
    return path, conv_id


async def _at_top(pilot: Any, view: Any, deadline: Deadline, step: Any = None) -> tuple[int, bool, int]:
    """Pause (calling ``step`` first each time) until the view is at its top with nothing older to load.

    Returns (pauses, reached, most widgets seen).
    """
    most, steps = 0, 0
    for steps in range(1, SCROLL_STEPS + 1):
        if step is not None:
            step()
        await pilot.pause()
        most = max(most, len(view.query("*")))
        pager = getattr(view, "pager", None)
        older = bool(pager is not None and getattr(pager, "has_older", False))
        if view.scroll_y == 0 and not older:
            return steps, True, most
        if deadline.passed:
            break
    return steps, False, most


async def _measure(path: Path, conv_id: str) -> dict[str, Any]:
    from holysheep_tui.chat.session import open_session
    from holysheep_tui.store import HistoryStore
    from holysheep_tui.tui.app import HolySheepApp

    session = open_session(demo=True)
    store = HistoryStore.open(path)
    out: dict[str, Any] = {}
    try:
        app = HolySheepApp(session, store=store, cursor_blink=False, save_theme=False)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            out["rss_before"] = rss_mb()
            wall, cpu = time.perf_counter(), cpu_time()
            await getattr(app, OPEN_API)(conv_id)
            await pilot.pause()
            out["paint"], out["paint_cpu"] = time.perf_counter() - wall, cpu_time() - cpu
            out["rss_open"] = rss_mb()
            view = app.query_one("#conversation")
            out["widgets"] = len(view.query("*"))

            wall = time.perf_counter()
            view.action_scroll_home()  # the Home key
            _, out["home_reached"], _ = await _at_top(pilot, view, Deadline(30))
            out["home"] = time.perf_counter() - wall

            await getattr(app, OPEN_API)(conv_id)  # back to the latest message
            await pilot.pause()
            wall, cpu = time.perf_counter(), cpu_time()
            deadline = Deadline(SCROLL_DEADLINE_S)
            steps, reached, most = await _at_top(
                pilot, view, deadline, lambda: view.scroll_home(animate=False)
            )
            out["top"], out["top_cpu"], out["top_steps"] = time.perf_counter() - wall, cpu_time() - cpu, steps
            out["top_reached"], out["widgets_max"] = reached, most
            out["widgets_after"] = len(view.query("*"))
            out["rss_after"] = rss_mb()
            out["rss_peak"] = peak_rss_mb()
    finally:
        store.close()
        session.close()
    return out


def _run_one(path: Path, conv_id: str, home: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--measure", str(path), conv_id]
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=isolated_env(home), cwd=ROOT
    )
    if out.returncode != 0:
        raise RuntimeError(f"measurement failed: {out.stderr.strip()[-1500:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def missing_api() -> str | None:
    try:
        from holysheep_tui.tui.app import HolySheepApp
    except ImportError as exc:
        return f"the app does not import ({exc})"
    if not callable(getattr(HolySheepApp, OPEN_API, None)):
        return f"HolySheepApp has no `{OPEN_API}(conversation_id)` yet"
    return None


def bench(repeat: int) -> Result:
    result = Result("conversation", TITLE, runs=repeat)
    result.columns = [
        "conversation", "first paint s", "paint CPU s", "Home s", "scroll up through all s", "scroll CPU s",
        "widgets (open / most)", "RSS MiB (before → open → after)", "peak RSS MiB", "paint vs 20 msgs",
    ]  # fmt: skip
    samples: dict[int, list[dict[str, Any]]] = {}
    with scratch_home("conversation") as home:
        for size in SIZES:
            path, conv_id = database(size)
            samples[size] = [_run_one(path, conv_id, home) for _ in range(repeat)]
    base = median([s["paint"] for s in samples[SIZES[0]]])
    for size in SIZES:
        runs = samples[size]

        def med(key: str, runs: list[dict[str, Any]] = runs) -> float:
            return median([float(s[key]) for s in runs])

        result.rows.append(
            [
                f"{size:,} messages", fmt(med("paint")), fmt(med("paint_cpu")), fmt(med("home")), fmt(med("top")),
                fmt(med("top_cpu")), f"{med('widgets'):.0f} / {med('widgets_max'):.0f}",
                f"{med('rss_before'):.0f} → {med('rss_open'):.0f} → {med('rss_after'):.0f}",
                fmt(med("rss_peak"), 0), f"{med('paint') / base:.1f}x",
            ]
        )  # fmt: skip
        result.data[str(size)] = runs
    big = samples[SIZES[-1]]
    result.targets.append(
        Target("open 2,000 messages: first paint", median([s["paint"] for s in big]), PAINT_TARGET_S, "s")
    )
    result.targets.append(
        Target("open 2,000 messages: peak RSS", median([s["rss_peak"] for s in big]), RSS_TARGET_MB, "MiB")
    )
    if not all(s["home_reached"] for s in big):
        result.notes.append("Home did not reach the first message within 30 s.")
    if not all(s["top_reached"] for s in big):
        result.notes.append(
            f"Scrolling up through all messages did not finish within {SCROLL_DEADLINE_S:.0f} s."
        )
    result.notes.append(
        "Scrolling up through all messages renders every answer once (about 1,000 Markdown answers); "
        f"median {median([s['top_steps'] for s in big]):.0f} pages loaded."
    )
    result.notes.append(
        f"Headless app (run_test, 160x48), fresh process per run, {repeat} runs; medians. Answers are "
        "mixed Markdown of 150–550 tokens."
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="one run of each")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--measure", nargs=2, metavar=("DB", "ID"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(asyncio.run(_measure(Path(args.measure[0]), args.measure[1]))))
        return 0
    reason = missing_api()
    if reason:
        return unavailable("conversation", TITLE, reason, args.json)
    result = bench(1 if args.quick else max(1, min(args.repeat, 10)))
    return result.report(args.json)


if __name__ == "__main__":
    raise SystemExit(main())
