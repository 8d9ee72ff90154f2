"""Issue 14, switching between the alternatives of a 4,000-token answer: key-to-screen time in tmux (160x48).

A history database under bench/.work/ gets one conversation written with ``HistoryStore`` (as
gen_history does): a prompt with two 4,000-token answers (``mixed_markdown``), each ending with a line
of its own. ``holysheep --demo`` opens it in a private tmux server (Ctrl+B, Enter on the conversation);
then F6 / F7 switch the last answer to its previous / next alternative (the app sets the active path and
shows the conversation again from the history). Each switch is timed from just before ``send-keys`` to
the first ``capture-pane`` that shows the other answer's last line (the view sits at the end of the
answer) and no longer shows this one's.

    .venv/bin/python bench/bench_branches.py [--quick] [--switches 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import WORK_DIR, Result, Target, fmt, isolated_env, median, p95, proc_cpu_time
from bench_startup import APP_MARKER
from bench_typing import Tmux

from holysheep_tui.simulator.content import mixed_markdown
from holysheep_tui.store import HistoryStore

P95_TARGET = 0.1
TOKENS = 4000
PROMPT = "请写一篇很长的回答 long answer"
# The last line of each answer: (text on screen, the line written). Distinct, and not in mixed_markdown.
ENDINGS = ("ALPHA-7Q 第一个回答到此结束", "BRAVO-3K 第二个回答到此结束")
SWITCH_TIMEOUT = 5.0
RUN_TIMEOUT = 120.0


def build_history(home: Path, tokens: int) -> Path:
    """The data dir under ``home`` with one conversation: a prompt and two answers of ``tokens`` tokens."""
    data = home / "data" / "holysheep-tui"
    data.mkdir(parents=True)
    store = HistoryStore.open(data / "history.db")
    try:
        conv = store.create_conversation(profile="holysheep", title="分支切换 bench")
        prompt = store.add_user_message(conv, PROMPT, model="kimi-k2")
        for seed, line in enumerate(ENDINGS, start=1):
            text = mixed_markdown(tokens, seed=seed) + "\n\n" + line
            answer = store.start_answer(conv, model="kimi-k2", parent_id=prompt)
            store.finish_answer(answer, status="complete", content=text, completion_tokens=tokens)
    finally:
        store.close()
    return data


def shown(screen: str) -> int | None:
    """Which answer's last line is on screen (0 or 1), None when neither or both."""
    seen = [i for i, text in enumerate(ENDINGS) if text in screen]
    return seen[0] if len(seen) == 1 else None


def measure(switches: int, tokens: int) -> dict[str, Any]:
    home = WORK_DIR / "branches"
    shutil.rmtree(home, ignore_errors=True)
    build_history(home, tokens)
    began = time.monotonic()
    tmux = Tmux([sys.executable, "-m", "holysheep_tui", "--demo"], isolated_env(home))
    times: list[float] = []
    try:
        if tmux.wait_for(APP_MARKER, 20) is None:
            raise RuntimeError(f"{APP_MARKER!r} never drawn; screen:\n{tmux.screen()}")
        tmux.keys("C-b", literal=False)
        if tmux.wait_for("History · 1", 10) is None:
            raise RuntimeError(f"the history sidebar never opened; screen:\n{tmux.screen()}")
        tmux.keys("Enter", literal=False)
        if tmux.wait_for(ENDINGS[1], 15) is None:  # the answer written last is the active one
            raise RuntimeError(f"the conversation never opened; screen:\n{tmux.screen()}")
        tmux.keys("C-b", literal=False)  # the sidebar away: the conversation at full width
        time.sleep(1.0)
        cpu0 = proc_cpu_time(tmux.pid)
        current = 1
        for _ in range(switches):
            if time.monotonic() - began > RUN_TIMEOUT:
                break
            key, want = ("F6", 0) if current == 1 else ("F7", 1)
            t0 = time.perf_counter()
            tmux.keys(key, literal=False)
            seen = None
            while time.perf_counter() - t0 < SWITCH_TIMEOUT:
                if shown(tmux.screen()) == want:
                    seen = time.perf_counter() - t0
                    break
                time.sleep(0.002)
            if seen is None:
                raise RuntimeError(f"{key} did not show answer {want + 1}; screen:\n{tmux.screen()}")
            times.append(seen)
            current = want
            time.sleep(0.3)  # let the switch settle (the rest of the repaint, the status bar)
        cpu1 = proc_cpu_time(tmux.pid)
    finally:
        tmux.close()
    cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    return {"times_s": times, "cpu_s": cpu}


def bench(switches: int, tokens: int) -> Result:
    result = Result("branches", "8. Switching between alternatives of a long answer")
    out = measure(switches, tokens)
    times = out["times_s"]
    result.columns = ["answer tokens", "switches", "p50 s", "p95 s", "max s", "app CPU per switch s"]
    per = out["cpu_s"] / len(times) if out["cpu_s"] is not None and times else None
    result.rows.append(
        [tokens, len(times), fmt(median(times)), fmt(p95(times)), fmt(max(times, default=None)), fmt(per)]
    )
    result.targets.append(
        Target(f"F6/F7 to the other {tokens}-token answer on screen, p95", p95(times), P95_TARGET, "s")
    )
    result.data = out
    result.notes.append(
        "`holysheep --demo` in tmux 160x48 (private socket) on a history database written with HistoryStore "
        "under bench/.work/: one prompt, two answers; F6 and F7 alternate. Each time runs from just before "
        "`tmux send-keys` to the first `capture-pane` (polled every 2 ms) showing the other answer's last "
        "line, so it includes two tmux round trips (see the typing scenario's bare-app row)."
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="6 switches")
    parser.add_argument("--switches", type=int, default=20)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    switches = 6 if args.quick else max(2, min(args.switches, 100))
    return bench(switches, TOKENS).report(args.json)


if __name__ == "__main__":
    raise SystemExit(main())
