"""Scenario 3, start-up: ``python -m holysheep_tui --demo`` until its screen is ready, against a bare
Textual app with one Input measured the same way in the same run.

Each launch is a fresh process on a fresh 160x48 pseudo-terminal; "ready" is the moment a marker drawn
in the last part of the first frame appears in the output (the status bar's key hints for the app,
the Input's placeholder for the bare app). Launches alternate app/bare; one untimed launch of each first.

    .venv/bin/python bench/bench_startup.py [--quick] [--repeat 7] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, WORK_DIR, PtyApp, Result, Target, fmt, isolated_env, median, scratch_home

APP_MARKER = "F1 keys"
BARE_MARKER = "bare-app-ready"
BARE_APP = f"""
from textual.app import App
from textual.widgets import Input

class Bare(App):
    def compose(self):
        yield Input(placeholder="{BARE_MARKER}")

Bare().run()
"""
READY_TARGET_S = 0.8
RATIO_TARGET = 1.5
LAUNCH_TIMEOUT = 20.0
PYCACHE = WORK_DIR / "pycache"
"""Bytecode for both programs, as an installed program has it (the untimed first launches write it),
outside the source tree; PYTHONDONTWRITEBYTECODE in the caller's environment would otherwise make every
launch compile this project's modules from source while Textual's come precompiled from site-packages."""


def launch_env(home: Path) -> dict[str, str]:
    env = isolated_env(home, PYTHONPYCACHEPREFIX=str(PYCACHE))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def launch(kind: str, home: Path) -> dict[str, Any]:
    if kind == "app":
        argv, marker = [sys.executable, "-m", "holysheep_tui", "--demo"], APP_MARKER
    else:
        argv, marker = [sys.executable, "-c", BARE_APP], BARE_MARKER
    app = PtyApp(argv, launch_env(home), str(ROOT))
    try:
        ready = app.wait_for(marker, LAUNCH_TIMEOUT)
        cpu = app.cpu()
        app.drain(0.3)  # let it finish settling before the peak memory is read
        rss = app.rss_peak()
    finally:
        app.close()
    if ready is None:
        tail = app.raw[-400:].decode(errors="replace")
        raise RuntimeError(
            f"{kind}: {marker!r} not drawn within {LAUNCH_TIMEOUT:.0f} s; last output: {tail!r}"
        )
    return {"kind": kind, "ready": ready, "cpu": cpu, "rss": rss}


def bench(repeat: int) -> Result:
    result = Result("startup", "3. Start-up", runs=repeat)
    samples: dict[str, list[dict[str, Any]]] = {"bare": [], "app": []}
    with scratch_home("startup") as home:
        launch("bare", home)
        launch("app", home)
        for _ in range(repeat):
            for kind in ("bare", "app"):
                samples[kind].append(launch(kind, home))
    base = median([s["ready"] for s in samples["bare"]])
    result.columns = [
        "program",
        "ready s (median)",
        "min",
        "max",
        "CPU at ready s",
        "peak RSS MiB",
        "vs bare",
    ]
    labels = {"bare": "bare Textual app, one Input", "app": "holysheep --demo"}
    for kind in ("bare", "app"):
        ready = [s["ready"] for s in samples[kind]]
        result.rows.append(
            [
                labels[kind],
                fmt(median(ready)),
                fmt(min(ready)),
                fmt(max(ready)),
                fmt(median([s["cpu"] for s in samples[kind] if s["cpu"] is not None])),
                fmt(median([s["rss"] for s in samples[kind]]), 0),
                f"{median(ready) / base:.2f}x",
            ]
        )
        result.data[kind] = samples[kind]
    app_ready = median([s["ready"] for s in samples["app"]])
    result.targets.append(Target("ready after launch", app_ready, READY_TARGET_S, "s"))
    result.targets.append(Target("ready vs bare Textual app", app_ready / base, RATIO_TARGET, "x"))
    result.notes.append(
        f"Fresh process and pseudo-terminal (160x48) per launch, {repeat} launches of each, alternating; "
        f"ready = `{APP_MARKER}` (status bar) or `{BARE_MARKER}` (placeholder) appears in the output; "
        "bytecode cached for both (PYTHONPYCACHEPREFIX), as in an installed program."
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="3 launches of each")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    repeat = 3 if args.quick else max(1, min(args.repeat, 50))
    result = bench(repeat)
    return result.report(args.json)


if __name__ == "__main__":
    raise SystemExit(main())
