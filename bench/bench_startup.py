"""Scenario 3, start-up: ``python -m holysheep_tui --demo`` until its screen is ready, against a bare
Textual app with one Input measured the same way in the same run; and the app in Chinese
(``LANG=zh_CN.UTF-8``) beside it in English (``LANG=C.UTF-8``), issue 18's "start-up in Chinese is within
noise of start-up in English".

Each launch is a fresh process on a fresh 160x48 pseudo-terminal; "ready" is the moment a marker drawn
in the last part of the first frame appears in the output (the status bar's key hints for the app, in
the language it speaks; the Input's placeholder for the bare app). Launches alternate bare/app/app in
Chinese; one untimed launch of each first.

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
RATIO_TARGET = 1.2
"""Issue 17: ready at most 1.2x a bare Textual app with one Input, in the same run."""
CHINESE_RATIO_TARGET = 1.1
"""Chinese start-up over English start-up: within noise, taken as 10 % (launch-to-launch spread)."""
LANGUAGE_ENV = {"app": "C.UTF-8", "app-zh": "zh_CN.UTF-8"}
LAUNCH_TIMEOUT = 20.0
PYCACHE = WORK_DIR / "pycache"
"""Bytecode for both programs, as an installed program has it (the untimed first launches write it),
outside the source tree; PYTHONDONTWRITEBYTECODE in the caller's environment would otherwise make every
launch compile this project's modules from source while Textual's come precompiled from site-packages."""


def launch_env(home: Path, lang: str | None = None) -> dict[str, str]:
    env = isolated_env(home, PYTHONPYCACHEPREFIX=str(PYCACHE))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if lang is not None:  # the language comes from LANG alone, as on a machine set up in Chinese
        for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
            env.pop(name, None)
        env["LANG"] = lang
    return env


def chinese_marker() -> str:
    """The first of the status bar's key hints in Chinese, from the catalog the app reads (English until
    the hint is translated)."""
    from holysheep_tui import i18n
    from holysheep_tui.tui.widgets.status_bar import KEYS_HINT

    i18n.use("zh-CN")
    try:
        return i18n._(KEYS_HINT).split(" · ")[0]
    finally:
        i18n.use("en")


def launch(kind: str, home: Path, markers: dict[str, str] | None = None) -> dict[str, Any]:
    if kind in LANGUAGE_ENV:
        argv = [sys.executable, "-m", "holysheep_tui", "--demo"]
        marker = (markers or {}).get(kind, APP_MARKER)
        env = launch_env(home, LANGUAGE_ENV[kind])
    else:
        argv, marker = [sys.executable, "-c", BARE_APP], BARE_MARKER
        env = launch_env(home)
    app = PtyApp(argv, env, str(ROOT))
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
    kinds = ("bare", "app", "app-zh")
    markers = {"app": APP_MARKER, "app-zh": chinese_marker()}
    samples: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    with scratch_home("startup") as home:
        for kind in kinds:
            launch(kind, home, markers)
        for _ in range(repeat):
            for kind in kinds:
                samples[kind].append(launch(kind, home, markers))
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
    labels = {
        "bare": "bare Textual app, one Input",
        "app": "holysheep --demo",
        "app-zh": "holysheep --demo, LANG=zh_CN.UTF-8 (Chinese)",
    }
    for kind in kinds:
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
    chinese_ready = median([s["ready"] for s in samples["app-zh"]])
    result.targets.append(
        Target(
            "ready in Chinese vs in English",
            chinese_ready / app_ready,
            CHINESE_RATIO_TARGET,
            "x",
            "issue 18: within noise",
        )
    )
    result.notes.append(
        f"Fresh process and pseudo-terminal (160x48) per launch, {repeat} launches of each, alternating; "
        f"ready = `{APP_MARKER}` (status bar; `{markers['app-zh']}` in Chinese) or `{BARE_MARKER}` "
        "(placeholder) appears in the output; the app in English with LANG=C.UTF-8, in Chinese with "
        "LANG=zh_CN.UTF-8 (LC_ALL, LC_MESSAGES, LANGUAGE unset); bytecode cached for every program "
        "(PYTHONPYCACHEPREFIX), as in an installed program."
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
