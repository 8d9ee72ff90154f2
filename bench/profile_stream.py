"""Where the app's CPU goes while an answer streams: the streaming screen's run under cProfile.

``holysheep --base-url URL`` runs under ``python -m cProfile`` in a private tmux server (160x48), as in
``bench_screen.py``, against a relay simulator in this process; the prompt is sent, the answer (4,000 tokens
at 100 tok/s by default) streams to its end, Ctrl+Q quits and the profile is written. The report groups the
self time of every function by the part of the program it belongs to (Textual's compositor, layout,
styles, strips; Rich; our Markdown renderer; the relay client; the event loop) and lists the top functions.
Profiling slows Python code about twofold: read the shares, not the seconds.

    .venv/bin/python bench/profile_stream.py [--tokens 4000] [--tps 100] [--out bench/.work/stream.prof]
"""

from __future__ import annotations

import argparse
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import WORK_DIR, Deadline, isolated_env, scratch_home
from bench_screen import PROMPT, sim_model
from bench_startup import APP_MARKER
from bench_typing import Tmux, status_lines

from holysheep_tui.simulator import RelaySimulator
from holysheep_tui.simulator.scenarios import DEMO_PACING

PARTS: tuple[tuple[str, str], ...] = (
    ("textual/_compositor", "Textual compositor (which regions changed, cutting strips)"),
    ("textual/_arrange", "Textual layout (arrange, box model)"),
    ("textual/layouts", "Textual layout (arrange, box model)"),
    ("textual/_layout", "Textual layout (arrange, box model)"),
    ("textual/box_model", "Textual layout (arrange, box model)"),
    ("textual/_resolve", "Textual layout (arrange, box model)"),
    ("textual/strip", "Textual strips (cropping, styling lines)"),
    ("textual/_styles_cache", "Textual styles cache (borders, padding, line styles)"),
    ("textual/css", "Textual CSS (styles lookups)"),
    ("textual/filter", "Textual filters (colours for the terminal)"),
    ("textual/drivers", "Textual driver (writing to the terminal)"),
    ("textual/_segment_tools", "Textual strips (cropping, styling lines)"),
    ("textual/color", "Textual colours"),
    ("textual/widget", "Textual widgets (refresh, render_lines)"),
    ("textual/screen", "Textual screen (update, timers)"),
    ("textual/app", "Textual app (message loop, update)"),
    ("textual/message_pump", "Textual message pump"),
    ("textual/", "Textual, other"),
    ("rich/", "Rich (segments, styles, text)"),
    ("holysheep_tui/tui/markdown", "our Markdown layout and rendering"),
    ("holysheep_tui/tui/widgets/status_bar", "our status bar"),
    ("holysheep_tui/tui/", "our app, other"),
    ("holysheep_tui/relay", "our relay client (SSE decoding)"),
    ("holysheep_tui/chat", "our conversation controller (history, metrics, cost)"),
    ("holysheep_tui/store", "our history store"),
    ("holysheep_tui/simulator", "the simulator (not the app: runs in the bench process)"),
    ("holysheep_tui/", "our core, other"),
    ("httpx", "httpx / httpcore / anyio (network)"),
    ("httpcore", "httpx / httpcore / anyio (network)"),
    ("anyio", "httpx / httpcore / anyio (network)"),
    ("asyncio", "asyncio event loop"),
    ("selectors", "asyncio event loop"),
)


def part_of(filename: str) -> str:
    for needle, name in PARTS:
        if needle in filename:
            return name
    if filename.startswith("~") or filename.startswith("<"):
        return "built-ins (called from the parts above)"
    return "Python standard library, other"


def run(tokens: int, tps: float | None, out: Path, *, idle_for: float | None = None, keys: int = 0) -> float:
    """Profile one run into ``out``; with ``idle_for``, the app only starts and waits that long (the
    baseline); with ``keys``, that many letters are typed into the prompt 0.1 s apart while the answer
    streams. Returns the seconds from Enter to the end of the answer (or the idle time)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    with RelaySimulator(pacing=DEMO_PACING) as sim, scratch_home("profile-stream") as home:
        command = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "holysheep_tui",
                   "--base-url", sim.base_url, "--model", sim_model(tokens, tps)]  # fmt: skip
        tmux = Tmux(command, isolated_env(home, HOLYSHEEP_API_KEY="sk-bench-placeholder"))
        try:
            if tmux.wait_for(APP_MARKER, 60) is None:
                raise RuntimeError("the app never drew its first frame:\n" + tmux.screen())
            tmux.keys(PROMPT)
            tmux.wait_for(PROMPT, 10)
            began = time.perf_counter()
            if idle_for is not None:
                time.sleep(idle_for)
            else:
                tmux.keys("Enter", literal=False)
            deadline = Deadline(tokens / (tps or 1000) + 60)
            if idle_for is None and tmux.wait_for("streaming", 60, status_only=True) is None:
                raise RuntimeError("the answer never started:\n" + tmux.screen())
            for n in range(keys):
                tmux.keys("abcdefghijklmnopqrstuvwxyz"[n % 26])
                time.sleep(0.1)
            while idle_for is None and not deadline.passed and "streaming" in status_lines(tmux.screen()):
                time.sleep(0.25)
            took = time.perf_counter() - began
            tmux.keys("C-q", literal=False)
            end = Deadline(30)
            while not end.passed and not out.exists():
                time.sleep(0.1)
            time.sleep(0.5)  # the profile is written as the process ends
        finally:
            tmux.close()
    if not out.exists():
        raise RuntimeError("no profile was written")
    return took


IDLE = ("<method 'poll' of 'select.epoll' objects>", "<method 'acquire' of '_thread.lock' objects>")
"""Waiting, not working: the event loop's poll and threads' locks."""


def _load(path: Path) -> dict[tuple[str, int, str], tuple[int, float, float]]:
    raw = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    return {key: (calls, self_time, cumulative) for key, (_cc, calls, self_time, cumulative, _) in raw.items()
            if key[2] not in IDLE}  # fmt: skip


def report(path: Path, top: int, baseline: Path | None = None) -> str:
    """The profile at ``path`` minus the one at ``baseline`` (start-up and idle), function by function."""
    found = _load(path)
    base = _load(baseline) if baseline is not None else {}
    parts: dict[str, float] = defaultdict(float)
    functions: list[tuple[float, float, int, str]] = []
    total = 0.0
    for (filename, line, name), (calls, self_time, cumulative) in found.items():
        b_calls, b_self, b_cumulative = base.get((filename, line, name), (0, 0.0, 0.0))
        calls, self_time, cumulative = (
            calls - b_calls,
            max(0.0, self_time - b_self),
            cumulative - b_cumulative,
        )
        parts[part_of(filename)] += self_time
        total += self_time
        short = filename.split("site-packages/")[-1].split("/work/main/")[-1]
        functions.append((self_time, cumulative, calls, f"{short}:{line} {name}"))
    lines = [f"Self time by part of the program (total {total:.2f} s under the profiler, waiting left out"
             + (", minus a run that started and waited as long without asking)" if base else ")") + ":", ""]  # fmt: skip
    lines += ["| part | self s | share |", "|---|---|---|"]
    for name, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {seconds:.2f} | {seconds / total:.0%} |")
    lines += ["", f"Top {top} functions by self time:", "", "| function | calls | self s | cumulative s |",
              "|---|---|---|---|"]  # fmt: skip
    for self_time, cumulative, calls, where in sorted(functions, reverse=True)[:top]:
        lines.append(f"| `{where}` | {calls} | {self_time:.2f} | {cumulative:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=4000)
    parser.add_argument("--tps", type=float, default=100.0, help="tokens per second (0: full speed)")
    parser.add_argument("--out", type=Path, default=WORK_DIR / "stream.prof")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--report-only", action="store_true", help="report an existing profile")
    parser.add_argument("--keys", type=int, default=0,
                        help="type this many keys while the answer streams; the baseline is then the same "
                        "stream with no keys typed, so the report is what typing costs")  # fmt: skip
    args = parser.parse_args(argv)
    baseline = args.out.with_suffix(".idle.prof")
    if not args.report_only:
        took = run(args.tokens, args.tps or None, args.out, keys=args.keys)
        if args.keys:
            run(args.tokens, args.tps or None, baseline)
        else:
            run(args.tokens, args.tps or None, baseline, idle_for=took)
    print(report(args.out, args.top, baseline if baseline.exists() else None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
