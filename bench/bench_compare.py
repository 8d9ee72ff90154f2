"""Issue 14, a comparison of 7 models streaming side by side: app CPU, longest freeze, keystroke echo (tmux).

``holysheep`` runs in a private tmux server (160x48) against a relay simulator in this process (the demo's
pacing), through a profile whose ``X-Sim-Scenario`` header makes every answer ``len=N,tps=100``. Ctrl+O
opens the model picker; for each model Ctrl+U clears the filter, its name filters and Space marks it;
Enter makes the next prompt go to all of them. While the answers stream, ``capture-pane`` is polled and
single characters are typed into the prompt (as bench_typing.py does). The same is run with one model
(a plain answer, the baseline), so the rows compare side by side.

    .venv/bin/python bench/bench_compare.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Deadline,
    Result,
    Target,
    fmt,
    isolated_env,
    median,
    p95,
    proc_cpu_time,
    scratch_home,
)
from bench_startup import APP_MARKER
from bench_typing import ALPHABET, KEY_TIMEOUT, PREFIX, Tmux

from holysheep_tui.simulator import RelaySimulator
from holysheep_tui.simulator.scenarios import DEMO_PACING
from holysheep_tui.simulator.server import RecordedRequest

MODELS = (
    "kimi-k2",
    "moonshot-v1-32k",
    "deepseek-v3.2",
    "gpt-4.1",
    "claude-sonnet-4.5",
    "gemini-2.5-flash",
    "moonshot-v1-8k",
)
TPS = 100
PROMPT = "请比较一下各个模型 compare"
CORES_TARGET = 1.0
FREEZE_TARGET = 0.25
ECHO_P95_TARGET_MS = 50.0
POLL = 0.01


def write_config(home: Path, base_url: str, tokens: int) -> None:
    path = home / "config" / "holysheep-tui" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[profiles.holysheep]\nbase_url = "{base_url}"\nmodel = "kimi-k2"\n\n'
        f'[profiles.holysheep.headers]\n"X-Sim-Scenario" = "len={tokens},tps={TPS}"\n',
        encoding="utf-8",
    )


def chats(sim: RelaySimulator) -> list[RecordedRequest]:
    return [r for r in sim.requests if r.path.endswith("/chat/completions")]


def filtered(screen: str, model: str) -> bool:
    """Whether the picker lists only rows naming ``model`` (its filter has been applied)."""
    rows = [line for line in screen.splitlines() if "☐" in line or "☑" in line]
    return bool(rows) and all(model in row for row in rows)


def pick_models(tmux: Tmux, models: tuple[str, ...], sim: RelaySimulator) -> None:
    deadline = Deadline(15)  # the picker lists the relay's models once the app has them
    while not deadline.passed and not any(r.path.endswith("/models") and r.finished for r in sim.requests):
        time.sleep(0.02)
    time.sleep(0.5)
    tmux.keys("C-o", literal=False)
    if tmux.wait_for("Space marks models", 10) is None:
        raise RuntimeError(f"the model picker never opened; screen:\n{tmux.screen()}")
    if tmux.wait_for(models[-1], 10) is None:  # the relay's model list is in
        raise RuntimeError(f"the picker lists no models; screen:\n{tmux.screen()}")
    for i, model in enumerate(models, start=1):
        tmux.keys("C-u", literal=False)
        tmux.keys(model)
        deadline = Deadline(5)
        while not deadline.passed and not filtered(tmux.screen(), model):
            time.sleep(0.02)
        time.sleep(0.1)
        tmux.keys("Space", literal=False)
        if tmux.wait_for(f"Marked {i}:", 5) is None:
            raise RuntimeError(f"{model} was not marked; screen:\n{tmux.screen()}")
    tmux.keys("Enter", literal=False)
    deadline = Deadline(10)
    while not deadline.passed and "Space marks models" in tmux.screen():
        time.sleep(0.05)


def measure(models: tuple[str, ...], tokens: int, home: Path, sim: RelaySimulator) -> dict[str, Any]:
    """One prompt to ``models`` (a comparison when more than one), typing while the answers stream."""
    rng = random.Random(14)
    sim.reset()
    write_config(home, sim.base_url, tokens)
    env = isolated_env(home, HOLYSHEEP_API_KEY="sk-bench-placeholder")
    tmux = Tmux([sys.executable, "-m", "holysheep_tui", "--model", models[0]], env)
    polls: list[tuple[float, bool]] = []  # (perf_counter, screen changed)
    delays: list[float] = []
    try:
        if tmux.wait_for(APP_MARKER, 20) is None:
            raise RuntimeError(f"{APP_MARKER!r} never drawn; screen:\n{tmux.screen()}")
        if len(models) > 1:
            pick_models(tmux, models, sim)
        tmux.keys(PROMPT)
        if tmux.wait_for(PROMPT, 10) is None:
            raise RuntimeError("the prompt never appeared")
        cpu0, wall0 = proc_cpu_time(tmux.pid), time.perf_counter()
        tmux.keys("Enter", literal=False)
        # Poll from Enter on; once the first answer bytes are out, type: PREFIX first (not timed), then one
        # character at a time, each timed until it is on screen.
        typed, pending, next_key = "", 0.0, None
        deadline = Deadline(tokens / TPS + 60)
        before = ""
        while not deadline.passed:
            recs = chats(sim)
            if len(recs) >= len(models) and all(r.finished for r in recs):
                break
            now = time.perf_counter()
            if next_key is None and any(r.sent for r in recs):
                next_key = now
            if not pending and next_key is not None and now >= next_key and len(typed) < 140:
                key = PREFIX if not typed else ALPHABET[(len(typed) - len(PREFIX)) % len(ALPHABET)]
                typed += key
                pending = time.perf_counter()
                tmux.keys(key)
            screen = tmux.screen()
            now = time.perf_counter()
            polls.append((now, screen != before))
            before = screen
            if pending and (typed in screen or now - pending > KEY_TIMEOUT):
                if typed != PREFIX:
                    delays.append((now - pending) * 1000)
                pending, next_key = 0.0, now + rng.uniform(0.08, 0.2)
            if not pending:
                time.sleep(POLL)
        cpu1, wall1 = proc_cpu_time(tmux.pid), time.perf_counter()
    finally:
        tmux.close()
    recs = chats(sim)
    if len(recs) != len(models) or not all(r.finished for r in recs):
        raise RuntimeError(f"the simulator finished {sum(r.finished for r in recs)} of {len(models)} answers")
    first = min(r.sent[0][0] for r in recs if r.sent)
    last = max(r.sent[-1][0] for r in recs if r.sent)
    changes = [t for t, changed in polls if changed and first <= t <= last]
    edges = [first, *changes, last]
    gaps = [(b - a, a - first) for a, b in zip(edges, edges[1:], strict=False)]
    freeze, freeze_at = max(gaps, default=(0.0, 0.0))
    cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    return {
        "models": len(models), "tokens": tokens, "delays_ms": delays, "freeze": freeze, "freeze_at": freeze_at,
        "cpu": cpu,
        "cores": cpu / (wall1 - wall0) if cpu is not None else None, "wall": wall1 - wall0,
        "streamed_for": last - first, "polls": len(polls),
        "tokens_sent": sum(r.tokens_sent for r in recs),
    }  # fmt: skip


def bench(tokens: int) -> Result:
    result = Result("compare", "7. A comparison of 7 models streaming side by side")
    result.columns = [
        "models", "tokens each", "tokens sent", "streamed for s", "app CPU s", "app cores", "longest freeze s",
        "it began at s", "keys", "echo p50 ms", "echo p95 ms", "cores vs one model",
    ]  # fmt: skip
    result.runs = 1
    with scratch_home("compare") as home, RelaySimulator(pacing=DEMO_PACING) as sim:
        runs = [measure(MODELS[:1], tokens, home, sim), measure(MODELS, tokens, home, sim)]
    base = runs[0]["cores"]
    for r in runs:
        ratio = r["cores"] / base if base and r["cores"] is not None else None
        result.rows.append(
            [r["models"], r["tokens"], r["tokens_sent"], fmt(r["streamed_for"], 1), fmt(r["cpu"], 2),
             fmt(r["cores"], 3), fmt(r["freeze"], 3), fmt(r["freeze_at"], 1), len(r["delays_ms"]), fmt(median(r["delays_ms"]), 1),
             fmt(p95(r["delays_ms"]), 1), "" if r is runs[0] or ratio is None else f"{ratio:.2f}x"]
        )  # fmt: skip
        result.data[f"models={r['models']}"] = r
    seven = runs[1]
    label = f"{len(MODELS)} models x {tokens} tokens at {TPS} tok/s"
    result.targets += [
        Target(f"app cores, {label}", seven["cores"], CORES_TARGET, "cores"),
        Target(f"longest freeze, {label}", seven["freeze"], FREEZE_TARGET, "s"),
        Target(f"keystroke echo p95, {label}", p95(seven["delays_ms"]), ECHO_P95_TARGET_MS, "ms"),
    ]
    result.notes.append(
        "tmux 160x48 on a private socket against a relay simulator in the benchmark's process (demo pacing, "
        f"every answer `len={tokens},tps={TPS}` through the profile's X-Sim-Scenario header), loopback only. "
        "App CPU is the whole app process's (user + system, /proc) from Enter until every answer was sent; "
        "cores that over the same wall time. A freeze is the longest interval without a `capture-pane` change "
        "(polled about every 10 ms) between the first and the last write of any answer. Keys are typed "
        "80-200 ms apart while the answers stream; an echo runs from just before `send-keys` to the first "
        "capture showing it (two tmux round trips included). The first row is one model, the baseline."
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="1,000-token answers")
    parser.add_argument("--tokens", type=int, default=4000)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    tokens = 1000 if args.quick else max(200, min(args.tokens, 8000))
    return bench(tokens).report(args.json)


if __name__ == "__main__":
    raise SystemExit(main())
