"""Where start-up's time goes: the phases of a launch, and the modules imported before the first frame.

Phases: ``holysheep --demo`` and a bare Textual app with one Input each start on a 160x48 pseudo-terminal,
``--repeat`` times, with a probe that notes the wall-clock time of each step (interpreter up, imports done,
compose, mounted) and the characters of CSS it parsed by its first frame; "on screen" is when the first
frame's last part reached the terminal (``bench_startup.py``'s marker). The table gives the
median milliseconds from launch and what each phase adds over the bare app.

Imports: the app starts again with ``-X importtime``; when its first frame is drawn it writes the names of
the modules loaded so far and quits. The report sums each module's own import time (its body, without what
it imports) by the part of the program it belongs to, for the app and for the bare app started the same
way, and lists our slowest modules. ``-X importtime`` slows imports somewhat: read the shares and the
difference, not the seconds.

    .venv/bin/python bench/profile_startup.py [--top 25] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, PtyApp, isolated_env, median, scratch_home
from bench_startup import APP_MARKER, BARE_APP, BARE_MARKER, launch_env

_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
_APP = """
import sys
from holysheep_tui.tui import app as _app

_first = _app.HolySheepApp._after_first_frame

def _after_first_frame(self):
    with open({out!r}, "w") as f:
        f.write("\\n".join(sys.modules))
    self.exit()

_app.HolySheepApp._after_first_frame = _after_first_frame
from holysheep_tui.cli import main
sys.exit(main(["--demo"]))
"""
_CSS = "sum(len(s.content) for s in self.stylesheet.source.values())"
_APP_PHASES = """
import json, sys, time
T = {{"up": time.time()}}
from holysheep_tui import cli
from holysheep_tui.tui import app as _app
T["imported"] = time.time()
A = _app.HolySheepApp
_compose, _mount, _first = A.compose, A.on_mount, A._after_first_frame

def compose(self):
    T.setdefault("compose", time.time())
    yield from _compose(self)

def on_mount(self):
    T.setdefault("mounted", time.time())
    _mount(self)

def after_first_frame(self):
    if "painted" not in T:
        T["painted"] = time.time()
        T["css"] = {css}
        with open({out!r}, "w") as f:
            json.dump(T, f)
    _first(self)

A.compose, A.on_mount, A._after_first_frame = compose, on_mount, after_first_frame
sys.exit(cli.main(["--demo"]))
"""
_BARE_PHASES = """
import json, time
T = {{"up": time.time()}}
from textual.app import App
from textual.widgets import Input
T["imported"] = time.time()

class Bare(App):
    def compose(self):
        T.setdefault("compose", time.time())
        yield Input(placeholder={marker!r})

    def on_mount(self):
        T.setdefault("mounted", time.time())
        self.call_after_refresh(self.painted)

    def painted(self):
        T["painted"] = time.time()
        T["css"] = {css}
        with open({out!r}, "w") as f:
            json.dump(T, f)

Bare().run()
"""
PHASES = (
    ("up", "interpreter up"),
    ("imported", "imports done"),
    ("compose", "compose begins"),
    ("mounted", "mounted (CSS parsed, styles applied)"),
    ("screen", "first frame on screen (layout, paint, output)"),
)
PARTS = (
    ("holysheep_tui", "our code"),
    ("textual", "Textual"),
    ("rich", "Rich"),
    ("markdown_it", "markdown-it"),
    ("platformdirs", "platformdirs"),
)


def part_of(module: str) -> str:
    top = module.split(".")[0]
    for prefix, name in PARTS:
        if top == prefix:
            return name
    return "Python standard library and others"


def imports(log: str, loaded: set[str] | None) -> dict[str, int]:
    """Each module's own import time in microseconds (only those in ``loaded``, when given)."""
    out: dict[str, int] = {}
    for line in log.splitlines():
        m = _LINE.match(line)
        if m and (loaded is None or m.group(4) in loaded):
            out[m.group(4)] = int(m.group(1))
    return out


def run(script: str, marker: str | None, *, args: list[str]) -> str:
    """The importtime log of the second of two launches in one home (the first writes the start-up cache
    and the bytecode, as an installed program that has run before has them)."""
    with scratch_home("profile-startup") as home:
        _launch(script, marker, args, home)
        return _launch(script, marker, args, home)


def _launch(script: str, marker: str | None, args: list[str], home: Path) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "importtime.txt"
        env = isolated_env(home, PYTHONPYCACHEPREFIX=str(home / "pycache"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # else every launch compiles our modules from source
        # -X importtime writes to the process's stderr: a file, not the terminal
        argv = ["sh", "-c", f'exec "$0" -X importtime -c "$1" 2>{log}', sys.executable, script, *args]
        app = PtyApp(argv, env, str(ROOT))
        try:
            if marker is not None:
                app.wait_for(marker, 60)
            else:
                end = time.perf_counter() + 60
                while time.perf_counter() < end and app.proc.poll() is None:
                    time.sleep(0.05)
        finally:
            app.close()
        return log.read_text(errors="replace")


def phases(repeat: int) -> dict[str, dict[str, float]]:
    """Median milliseconds from launch to each phase, and the CSS characters parsed, for both programs."""
    out: dict[str, dict[str, float]] = {}
    with scratch_home("profile-phases") as home, tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "phases.json"
        programs = {
            "app": (_APP_PHASES.format(out=str(probe), css=_CSS), APP_MARKER),
            "bare": (_BARE_PHASES.format(out=str(probe), css=_CSS, marker=BARE_MARKER), BARE_MARKER),
        }
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in programs}
        for round_ in range(repeat + 1):  # the first round writes the bytecode and the start-up cache
            for name, (script, marker) in programs.items():
                probe.unlink(missing_ok=True)
                launched = time.time()
                app = PtyApp([sys.executable, "-c", script], launch_env(home), str(ROOT))
                try:
                    seen = app.wait_for(marker, 60)
                    app.drain(0.2)
                finally:
                    app.close()
                if seen is None or not probe.exists():
                    raise RuntimeError(f"{name}: the first frame was never drawn")
                times = json.loads(probe.read_text())
                row = {k: (v - launched) * 1000 for k, v in times.items() if k != "css"}
                row["screen"], row["css"] = seen * 1000, times["css"]
                if round_:
                    samples[name].append(row)
        for name, rows in samples.items():
            out[name] = {key: median([r[key] for r in rows]) for key in rows[0]}
    return out


def print_phases(result: dict[str, dict[str, float]]) -> None:
    app, bare = result["app"], result["bare"]
    print("Phases of a launch (median ms from launch; adds: the phase's own time, app minus bare app):\n")
    print("| phase | app ms | bare app ms | phase adds ms |\n|---|---|---|---|")
    before = "launch"
    for key, label in PHASES:
        prev_app = app.get(before, 0.0)
        prev_bare = bare.get(before, 0.0)
        adds = (app[key] - prev_app) - (bare[key] - prev_bare)
        print(f"| {label} | {app[key]:.0f} | {bare[key]:.0f} | {adds:+.0f} |")
        before = key
    print(f"\nOn screen: the app {app['screen'] / bare['screen']:.2f}x the bare app. CSS parsed before the "
          f"first frame: the app {app['css']:.0f} characters, the bare app {bare['css']:.0f}.\n")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=7, help="launches of each program for the phases")
    args = parser.parse_args(argv)
    print_phases(phases(args.repeat))
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "modules.txt"
        app_log = run(_APP.format(out=str(listing)), None, args=[])
        loaded = set(listing.read_text().split()) if listing.exists() else None
        if loaded is None:
            print("the app never drew its first frame", file=sys.stderr)
            return 1
    bare_log = run(BARE_APP, BARE_MARKER, args=[])
    ours = imports(app_log, loaded)
    bare = imports(bare_log, None)
    parts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for module, us in ours.items():
        parts[part_of(module)][0] += us
    for module, us in bare.items():
        parts[part_of(module)][1] += us
    total_app, total_bare = sum(ours.values()), sum(bare.values())
    print(f"Imports before the first frame (-X importtime, own time of each module): the app "
          f"{total_app / 1000:.0f} ms in {len(ours)} modules, the bare Textual app {total_bare / 1000:.0f} ms "
          f"in {len(bare)} modules.\n")  # fmt: skip
    print("| part | app ms | bare app ms |\n|---|---|---|")
    for name, (app_us, bare_us) in sorted(parts.items(), key=lambda kv: -kv[1][0]):
        print(f"| {name} | {app_us / 1000:.1f} | {bare_us / 1000:.1f} |")
    print(f"\nOur {args.top} slowest modules to import (own time):\n\n| module | ms |\n|---|---|")
    mine = sorted(((us, m) for m, us in ours.items() if m.startswith("holysheep_tui")), reverse=True)
    for us, module in mine[: args.top]:
        print(f"| `{module}` | {us / 1000:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
