"""Issue 17, scrolling a long conversation with the keys: PageUp to the top, Home and End, in tmux (160x48).

The 2,000-message conversation of the conversation scenario (``bench_conversation.database``) is copied
into a scratch data directory; ``holysheep --demo`` opens it in a private tmux server (Ctrl+B, Enter on
the conversation, Ctrl+B again for the full width), the prompt keeps the focus. Then:

- one at a time: PageUp, then ``capture-pane`` polled until the screen changes (the paint time of that
  key), then the next PageUp, until the first prompt is on screen;
- held: Ctrl+End back to the end, then PageUp sent ten keys per ``send-keys`` with no wait for the
  screen, as fast as tmux takes them, until the first prompt is on screen (how fast the app goes up
  when the keys come faster than it paints);
- Home from the end until the first prompt is on screen, and End from there until the last answer's
  figures are (each three times).

App CPU and peak RSS are the app process's (/proc).

    .venv/bin/python bench/bench_scroll.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Result, Target, fmt, isolated_env, median, p95, peak_rss_mb, proc_cpu_time, scratch_home
from bench_conversation import database
from bench_startup import APP_MARKER
from bench_typing import Tmux

MESSAGES = 2000
FIRST = "第 1 个问题：请解释 streaming 和限流 #0"
"""The first prompt of the conversation, as drawn."""
LAST = f"{1000 + MESSAGES - 1} in · 300 out"
"""The figures of the last answer (``prompt_tokens`` is 1000 + its index)."""
WHOLE_TARGET_S = 5.0
PAGE_UP_P95_TARGET_MS = 50.0
RSS_TARGET_MB = 250.0
HOME_TARGET_S = 0.5
KEY_TIMEOUT = 5.0
MAX_PRESSES = 3000
BURST = 10
JUMPS = 3
GC_LOG_MS = 5.0
"""Garbage collections at least this long are logged by the app process (``_APP``)."""
_APP = f"""
import gc, sys, time
log, began = open(sys.argv[1], "a", buffering=1), [0.0]

def timed(phase, info):
    if phase == "start":
        began[0] = time.perf_counter()
    elif (ms := (time.perf_counter() - began[0]) * 1000) >= {GC_LOG_MS}:
        log.write(f"{{info['generation']}} {{ms:.1f}} {{info['collected']}}\\n")

gc.callbacks.append(timed)
from holysheep_tui.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _start(home: Path, gc_log: Path) -> Tmux:
    data = home / "data" / "holysheep-tui"
    data.mkdir(parents=True, exist_ok=True)
    path, _ = database(MESSAGES)
    shutil.copyfile(path, data / "history.db")
    tmux = Tmux([sys.executable, "-c", _APP, str(gc_log), "--demo"], isolated_env(home))
    if tmux.wait_for(APP_MARKER, 20) is None:
        raise RuntimeError(f"{APP_MARKER!r} never drawn; screen:\n{tmux.screen()}")
    tmux.keys("C-b", literal=False)
    if tmux.wait_for("History · 1", 10) is None:
        raise RuntimeError(f"the history sidebar never opened; screen:\n{tmux.screen()}")
    tmux.keys("Enter", literal=False)
    if tmux.wait_for(LAST, 30) is None:
        raise RuntimeError(f"the conversation never opened at its end; screen:\n{tmux.screen()}")
    tmux.keys("C-b", literal=False)  # the sidebar away: the conversation at full width
    time.sleep(1.0)
    return tmux


def _wait(tmux: Tmux, text: str, timeout: float) -> float | None:
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        if text in tmux.screen():
            return time.perf_counter() - began
        time.sleep(0.002)
    return None


def one_at_a_time(tmux: Tmux, deadline: float) -> dict[str, Any]:
    """PageUp, wait for the screen to change, again, until the first prompt shows."""
    times: list[float] = []
    stuck = 0
    before = tmux.screen()
    cpu0, began = proc_cpu_time(tmux.pid), time.perf_counter()
    reached = None
    while len(times) < MAX_PRESSES and time.perf_counter() - began < deadline:
        t0 = time.perf_counter()
        tmux.keys("PPage", literal=False)
        seen = None
        while time.perf_counter() - t0 < KEY_TIMEOUT:
            screen = tmux.screen()
            if screen != before:
                seen = time.perf_counter() - t0
                before = screen
                break
            time.sleep(0.002)
        if seen is None:
            stuck += 1
            times.append(KEY_TIMEOUT)
        else:
            times.append(seen)
        if FIRST in before:
            reached = time.perf_counter() - began
            break
    cpu1 = proc_cpu_time(tmux.pid)
    cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    return {"times_s": times, "whole_s": reached, "cpu_s": cpu, "unchanged": stuck}


def held(tmux: Tmux, deadline: float) -> dict[str, Any]:
    """From the end, PageUp ``BURST`` at a time without waiting for the screen, until the first prompt shows."""
    tmux.keys("C-End", literal=False)
    if _wait(tmux, LAST, 30) is None:
        raise RuntimeError(f"Ctrl+End did not return to the end; screen:\n{tmux.screen()}")
    time.sleep(1.0)
    sent, reached = 0, None
    cpu0, began = proc_cpu_time(tmux.pid), time.perf_counter()
    while sent < MAX_PRESSES and time.perf_counter() - began < deadline:
        tmux.run("send-keys", "-t", "bench", *["PPage"] * BURST)
        sent += BURST
        if FIRST in tmux.screen():
            reached = time.perf_counter() - began
            break
    if reached is None and (left := deadline - (time.perf_counter() - began)) > 0:
        waited = _wait(tmux, FIRST, left)  # every key sent: the app may still be working through them
        reached = None if waited is None else time.perf_counter() - began
    cpu1 = proc_cpu_time(tmux.pid)
    cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    return {"whole_s": reached, "keys": sent, "cpu_s": cpu}


def jumps(tmux: Tmux) -> dict[str, Any]:
    """Home from the end (to the first prompt) and End back, ``JUMPS`` times each."""
    home: list[float | None] = []
    end: list[float | None] = []
    for _ in range(JUMPS):
        t0 = time.perf_counter()
        tmux.keys("C-Home", literal=False)
        home.append(None if _wait(tmux, FIRST, 30) is None else time.perf_counter() - t0)
        time.sleep(0.5)
        t0 = time.perf_counter()
        tmux.keys("C-End", literal=False)
        end.append(None if _wait(tmux, LAST, 30) is None else time.perf_counter() - t0)
        time.sleep(0.5)
    return {"home_s": home, "end_s": end}


def collections(log: Path) -> list[dict[str, float]]:
    """The app's garbage collections of ``GC_LOG_MS`` or more so far: generation, ms, objects freed."""
    out = []
    for line in log.read_text().splitlines() if log.exists() else ():
        generation, ms, freed = line.split()
        out.append({"generation": int(generation), "ms": float(ms), "freed": int(freed)})
    return out


def measure(deadline: float) -> dict[str, Any]:
    with scratch_home("scroll") as home:
        gc_log = home / "collections.txt"
        tmux = _start(home, gc_log)
        try:
            before = len(collections(gc_log))
            out: dict[str, Any] = {"steps": one_at_a_time(tmux, deadline)}
            out["steps"]["collections"] = collections(gc_log)[before:]
            out["held"] = held(tmux, deadline)
            out["jumps"] = jumps(tmux)
            out["rss_peak"] = peak_rss_mb(tmux.pid)
        finally:
            tmux.close()
    return out


def _known(values: list[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def bench(deadline: float) -> Result:
    result = Result("scroll", "9. Scrolling a 2,000-message conversation with the keys")
    out = measure(deadline)
    steps, fast, jump = out["steps"], out["held"], out["jumps"]
    ms = [t * 1000 for t in steps["times_s"]]
    result.columns = [
        "way up", "PageUp keys", "whole way up s", "PageUp paint p50 ms", "p95 ms", "max ms", "app CPU s",
    ]  # fmt: skip
    result.rows.append(
        ["one at a time", len(ms), fmt(steps["whole_s"]), fmt(median(ms), 1), fmt(p95(ms), 1),
         fmt(max(ms, default=None), 1), fmt(steps["cpu_s"])]
    )  # fmt: skip
    result.rows.append(["held (10 keys per send-keys)", fast["keys"], fmt(fast["whole_s"]), "–", "–", "–",
                        fmt(fast["cpu_s"])])  # fmt: skip
    homes, ends = _known(jump["home_s"]), _known(jump["end_s"])
    result.rows.append(
        [f"Home / End from the other end ({JUMPS} each), median s", "–",
         f"{fmt(median(homes))} / {fmt(median(ends))}", "–", "–", "–", "–"]
    )  # fmt: skip
    result.targets += [
        Target("whole way up by PageUp (held)", fast["whole_s"], WHOLE_TARGET_S, "s"),
        Target("PageUp key to screen change, p95", p95(ms), PAGE_UP_P95_TARGET_MS, "ms"),
        Target("peak RSS while scrolling", out["rss_peak"], RSS_TARGET_MB, "MiB"),
        Target("Home to the first message, slowest", max(homes) if homes else None, HOME_TARGET_S, "s"),
    ]
    if steps["whole_s"] is None:
        result.notes.append(
            f"One at a time did not reach the first message ({len(ms)} keys, {deadline:.0f} s)."
        )
    if fast["whole_s"] is None:
        result.notes.append(f"Held did not reach the first message ({fast['keys']} keys, {deadline:.0f} s).")
    if steps["unchanged"]:
        result.notes.append(
            f"{steps['unchanged']} PageUp keys left the screen unchanged for {KEY_TIMEOUT:.0f} s (counted at that)."
        )
    if ms:
        slowest = sorted(range(len(ms)), key=lambda i: -ms[i])[:3]
        result.notes.append(
            "Slowest PageUp keys, one at a time (key number from the bottom: ms): "
            + ", ".join(f"#{i + 1}: {ms[i]:.0f}" for i in slowest)
            + "."
        )
    if gcs := steps.get("collections"):
        took = [c["ms"] for c in gcs]
        result.notes.append(
            f"The app's garbage collections of {GC_LOG_MS:.0f} ms or more while paging one at a time: {len(gcs)} "
            f"(generations {', '.join(str(g) for g in sorted({c['generation'] for c in gcs}))}), "
            f"{fmt(median(took), 0)} ms median, {fmt(max(took), 0)} ms longest, freeing "
            f"{fmt(median([c['freed'] for c in gcs]), 0)} objects (median) each."
        )
    if len(homes) < JUMPS or len(ends) < JUMPS:
        result.notes.append("Some Home or End jumps did not show their end of the conversation within 30 s.")
    result.notes.append(
        "`holysheep --demo` in tmux 160x48 (private socket), the conversation scenario's 2,000 messages (answers "
        "of 150–550 tokens of mixed Markdown). Each PageUp time runs from just before `tmux send-keys` to the "
        "first `capture-pane` (polled every 2 ms) that differs, so it includes two tmux round trips (about "
        "7 ms, the typing scenario's bare-app row); one at a time, the whole way up adds that per key."
    )
    result.data = out
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="each way up cut at 60 s")
    parser.add_argument("--deadline", type=float, default=180.0, help="seconds for each way up")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    deadline = 60.0 if args.quick else max(10.0, min(args.deadline, 600.0))
    return bench(deadline).report(args.json)


if __name__ == "__main__":
    raise SystemExit(main())
