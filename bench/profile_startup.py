"""Where start-up's time goes: the modules imported before the first frame, by ``python -X importtime``.

``holysheep --demo`` starts on a 160x48 pseudo-terminal with ``-X importtime``; when its first frame is
drawn it writes the names of the modules loaded so far and quits. The report sums each module's own import
time (its body, without what it imports) by the part of the program it belongs to, for the app and for a
bare Textual app with one Input started the same way, and lists our slowest modules. ``-X importtime``
slows imports somewhat: read the shares and the difference, not the seconds.

    .venv/bin/python bench/profile_startup.py [--top 25]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, PtyApp, isolated_env, scratch_home
from bench_startup import BARE_APP, BARE_MARKER

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
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
