"""Issue 16, the context meter and the pre-send estimate while typing: keystroke echo in tmux (160x48).

A history database under bench/.work/meter/ gets one conversation of 2,000 messages (``gen_history``),
every message on kimi-k2 (a known window, so the meter is on). ``holysheep --demo`` opens it (Ctrl+B,
Enter), a 10,000-character prompt (Chinese and Latin lines) is pasted into the prompt as a bracketed
paste, and then single characters are typed with ``tmux send-keys``; each is timed until it is on screen
(``capture-pane``), as in the typing scenario. The meter in the status bar and the estimate in the
prompt's frame are read again 0.1 s after each key; the run checks that the meter moved.

    .venv/bin/python bench/bench_meter.py [--quick] [--keys 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import WORK_DIR, Result, Target, fmt, isolated_env, median, p95
from bench_startup import APP_MARKER
from bench_typing import P95_TARGET_MS, Tmux, status_lines, type_keys
from gen_history import generate

MESSAGES = 2000
PROMPT_CHARS = 10_000
METER = re.compile(r"ctx ~([\d,]+) tok")


def build_history(home: Path) -> Path:
    """The data dir under ``home`` with one 2,000-message conversation, every message on kimi-k2."""
    data = home / "data" / "holysheep-tui"
    data.mkdir(parents=True)
    db = data / "history.db"
    generate(db, 1, MESSAGES, seed=16)
    con = sqlite3.connect(db)
    try:
        con.execute("UPDATE messages SET model = 'kimi-k2'")
        con.commit()
    finally:
        con.close()
    return data


def long_prompt(chars: int) -> str:
    """``chars`` characters in lines of 60: Chinese and Latin lines by turns, ending with a line break."""
    zh, en = "上下文窗口的估算在输入时不应拖慢按键回显", "the meter counts only the prompt per keystroke "
    lines: list[str] = []
    total = 0
    while total < chars:
        source = zh if len(lines) % 2 == 0 else en
        line = (source * 4)[: min(59, chars - total - 1)] + "\n"
        lines.append(line)
        total += len(line)
    return "".join(lines)


def meter(screen: str) -> int | None:
    found = METER.search(status_lines(screen))
    return int(found.group(1).replace(",", "")) if found else None


def wait_meter(tmux: Tmux, above: int, timeout: float) -> int | None:
    """The meter's figure once it exceeds ``above`` (None on time-out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = meter(tmux.screen())
        if shown is not None and shown > above:
            return shown
        time.sleep(0.05)
    return None


def measure(keys: int) -> dict[str, Any]:
    home = WORK_DIR / "meter"
    shutil.rmtree(home, ignore_errors=True)
    build_history(home)
    tmux = Tmux([sys.executable, "-m", "holysheep_tui", "--demo"], isolated_env(home))
    try:
        if tmux.wait_for(APP_MARKER, 20) is None:
            raise RuntimeError(f"{APP_MARKER!r} never drawn; screen:\n{tmux.screen()}")
        tmux.keys("C-b", literal=False)
        if tmux.wait_for("History · 1", 10) is None:
            raise RuntimeError(f"the history sidebar never opened; screen:\n{tmux.screen()}")
        tmux.keys("Enter", literal=False)
        opened = wait_meter(tmux, 10_000, 30)  # 2,000 messages: far more than an empty conversation
        if opened is None:
            raise RuntimeError(f"the conversation's meter never showed; screen:\n{tmux.screen()}")
        tmux.keys("C-b", literal=False)  # the sidebar away, the prompt focused
        prompt_file = home / "prompt.txt"
        prompt_file.write_text(long_prompt(PROMPT_CHARS), encoding="utf-8")
        tmux.run("load-buffer", "-b", "meter", str(prompt_file))
        tmux.run("paste-buffer", "-p", "-d", "-b", "meter", "-t", "bench")
        pasted = wait_meter(tmux, opened + 1000, 30)
        if pasted is None:
            raise RuntimeError(f"the meter never counted the pasted prompt; screen:\n{tmux.screen()}")
        time.sleep(0.5)
        out = type_keys(tmux, keys, random.Random(16), while_text=None)
        typed = wait_meter(tmux, pasted, 5)
    finally:
        tmux.close()
    return {**out, "meter_opened": opened, "meter_pasted": pasted, "meter_typed": typed}


def bench(keys: int) -> Result:
    result = Result("meter", "6b. Typing into a 10,000-character prompt in a 2,000-message conversation")
    out = measure(keys)
    delays = out["delays_ms"]
    result.columns = ["case", "keys", "p50 ms", "p95 ms", "max ms", "app CPU (cores)", "meter tok"]
    result.rows.append(
        [f"holysheep --demo, {MESSAGES:,} messages, {PROMPT_CHARS:,}-char prompt, meter on", len(delays),
         fmt(median(delays), 1), fmt(p95(delays), 1), fmt(max(delays), 1), fmt(out["core"], 2),
         f"{out['meter_opened']:,} → {out['meter_pasted']:,} → {out['meter_typed'] or 0:,}"]
    )  # fmt: skip
    result.targets.append(
        Target(
            "keystroke echo, 10,000-char prompt, 2,000 messages, meter on, p95",
            p95(delays),
            P95_TARGET_MS,
            "ms",
        )
    )
    if out["meter_typed"] is None:
        result.notes.append(
            "The meter did not move after the typed keys: the reading is not being refreshed."
        )
    result.data = out
    result.notes.append(
        "tmux 160x48 (private socket); the conversation is written with gen_history under bench/.work/meter/ "
        "and opened from the sidebar; the prompt arrives as one bracketed paste (tmux paste-buffer -p), then "
        "keys 80–200 ms apart are timed from just before `send-keys` to the first `capture-pane` showing "
        "them (two tmux round trips included: see the typing scenario's bare-app row). The meter column: "
        "its figure after opening, after the paste, after the typed keys."
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10 keystrokes")
    parser.add_argument("--keys", type=int, default=30)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    keys = 10 if args.quick else max(5, min(args.keys, 100))
    return bench(keys).report(args.json)


if __name__ == "__main__":
    raise SystemExit(main())
