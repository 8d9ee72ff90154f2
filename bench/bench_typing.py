"""Scenario 6, typing while an answer streams: keystroke-to-screen delay in a real terminal (tmux, 160x48).

``holysheep --demo`` runs in a private tmux server; a prompt asks the simulator for a long answer paced
at 200 tokens/s (the model suffix ``+len=N,tps=200``); while it streams, single characters are sent
with ``tmux send-keys`` and ``capture-pane`` is polled until the character is on screen. The same is
measured with nothing streaming, and for a bare Textual app with one Input (the floor: tmux and the
polling cost a few milliseconds themselves).

    .venv/bin/python bench/bench_typing.py [--quick] [--keys 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ROOT,
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
from bench_startup import APP_MARKER, BARE_APP, BARE_MARKER

P95_TARGET_MS = 50.0
TPS = 200
PREFIX = "QZXJ"
ALPHABET = "abcdefghijkmnopqrstuvwxyz"
KEY_TIMEOUT = 3.0
TMUX_TIMEOUT = 10.0


def status_lines(screen: str) -> str:
    """The bottom of the screen, where the status bar says what is happening."""
    return "\n".join(screen.rstrip("\n").splitlines()[-3:])


class Tmux:
    """A private tmux server (its own socket) running one program in a 160x48 window."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.socket = f"holysheep-bench-{os.getpid()}-{random.randrange(10**6)}"
        env = {k: v for k, v in env.items() if k not in ("TERM", "COLORTERM", "TMUX")}
        shell = (
            "exec env "
            + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
            + " "
            + shlex.join(command)
        )
        self.run("new-session", "-d", "-x", "160", "-y", "48", "-s", "bench", shell, env=env)
        self.pid = int(self.run("display-message", "-p", "-t", "bench", "#{pane_pid}").strip())

    def run(self, *args: str, env: dict[str, str] | None = None) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True, text=True, timeout=TMUX_TIMEOUT, env=env, cwd=ROOT,
        )  # fmt: skip
        if out.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {out.stderr.strip()}")
        return out.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "bench")

    def keys(self, text: str, *, literal: bool = True) -> None:
        self.run("send-keys", "-t", "bench", *(["-l"] if literal else []), text)

    def wait_for(self, text: str, timeout: float, *, status_only: bool = False) -> float | None:
        began = time.perf_counter()
        deadline = Deadline(timeout)
        while not deadline.passed:
            screen = self.screen()
            if text in (status_lines(screen) if status_only else screen):
                return time.perf_counter() - began
            time.sleep(0.005)
        return None

    def close(self) -> None:
        """End the tmux server and wait (up to 10 s) for the program to exit, so that its shutdown
        does not overlap the next measurement."""
        try:
            self.run("kill-server")
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{self.pid}").exists():
            try:
                if Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                    break  # exited, not yet reaped by its parent
            except (OSError, IndexError):
                break
            time.sleep(0.05)


def type_keys(tmux: Tmux, count: int, rng: random.Random, *, while_text: str | None) -> dict[str, Any]:
    """Type PREFIX, then ``count`` timed characters; the delay of each until it is on screen (ms)."""
    tmux.keys(PREFIX)
    if tmux.wait_for(PREFIX, 10) is None:
        raise RuntimeError(f"the typed prefix never appeared; screen:\n{tmux.screen()}")
    typed = PREFIX
    delays: list[float] = []
    during: list[bool] = []
    cpu0, wall0 = proc_cpu_time(tmux.pid), time.perf_counter()
    for i in range(count):
        char = ALPHABET[i % len(ALPHABET)]
        typed += char
        began = time.perf_counter()
        tmux.keys(char)
        seen = None
        screen = ""
        while time.perf_counter() - began < KEY_TIMEOUT:
            screen = tmux.screen()
            if typed in screen:
                seen = time.perf_counter() - began
                break
        delays.append(KEY_TIMEOUT * 1000 if seen is None else seen * 1000)
        during.append(while_text is None or while_text in status_lines(screen))
        time.sleep(rng.uniform(0.08, 0.2))
    cpu1, wall1 = proc_cpu_time(tmux.pid), time.perf_counter()
    core = (cpu1 - cpu0) / (wall1 - wall0) if cpu0 is not None and cpu1 is not None else None
    return {"delays_ms": delays, "during": during, "core": core}


def measure(kind: str, keys: int, home: Path) -> dict[str, Any]:
    rng = random.Random(6)
    if kind == "bare":
        command, marker = [sys.executable, "-c", BARE_APP], BARE_MARKER
    else:
        model = f"kimi-k2+len={TPS * 40},tps={TPS}"
        command, marker = [sys.executable, "-m", "holysheep_tui", "--demo", "--model", model], APP_MARKER
    tmux = Tmux(command, isolated_env(home))
    try:
        if tmux.wait_for(marker, 20) is None:
            raise RuntimeError(f"{kind}: {marker!r} never drawn; screen:\n{tmux.screen()}")
        if kind == "streaming":
            tmux.keys("请写一篇很长的回答 long answer")
            tmux.keys("Enter", literal=False)
            if tmux.wait_for("streaming", 15, status_only=True) is None:
                raise RuntimeError(f"the answer did not start streaming; screen:\n{tmux.screen()}")
            time.sleep(1.0)  # some of the answer on screen first
        out = type_keys(tmux, keys, rng, while_text="streaming" if kind == "streaming" else None)
    finally:
        tmux.close()
    return {"kind": kind, **out}


def bench(keys: int) -> Result:
    result = Result("typing", "6. Typing while an answer streams")
    labels = {
        "bare": "bare Textual app, one Input, idle",
        "idle": "holysheep --demo, idle",
        "streaming": f"holysheep --demo, answer streaming at {TPS} tok/s",
    }
    result.columns = ["terminal program", "keys", "p50 ms", "p95 ms", "max ms", "app CPU (cores)"]
    with scratch_home("typing") as home:
        for kind in labels:
            out = measure(kind, keys, home)
            delays = out["delays_ms"]
            if kind == "streaming":
                delays = [d for d, live in zip(delays, out["during"], strict=True) if live]
                result.targets.append(
                    Target("keystroke echo while streaming, p95", p95(delays), P95_TARGET_MS, "ms")
                )
                if len(delays) < len(out["delays_ms"]):
                    result.notes.append(
                        f"{len(out['delays_ms']) - len(delays)} keystrokes landed after the answer ended; not counted."
                    )
            result.rows.append(
                [labels[kind], len(delays), fmt(median(delays), 1), fmt(p95(delays), 1), fmt(max(delays), 1),
                 fmt(out["core"], 2)]
            )  # fmt: skip
            result.data[kind] = out
    result.notes.append(
        "tmux 160x48 on a private socket; each delay runs from just before `tmux send-keys` to the first "
        "`capture-pane` that shows the character, so it includes two tmux client round trips (the bare "
        "app's row shows that floor). Keys 80–200 ms apart."
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10 keystrokes per case")
    parser.add_argument("--keys", type=int, default=30)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    keys = 10 if args.quick else max(5, min(args.keys, 100))
    result = bench(keys)
    return result.report(args.json)


if __name__ == "__main__":
    raise SystemExit(main())
