"""Scenario 10, attaching a large file: the app stays responsive while a 10 MB image or a 1 MB text file is
read, checked and turned into a chip (issue 16).

``holysheep --demo`` runs in a private tmux server (160x48). The file's path is pasted into the prompt as a
terminal pastes a dropped file (one bracketed paste, ``tmux paste-buffer -p``); the app recognises it and
reads the file in a thread. From the paste on, single characters are typed and each one's delay until it
is on screen is timed, as the typing scenario does, until the chip has been on screen for a while. The
longest of those delays is the longest the screen could have been frozen for a person typing.

    .venv/bin/python bench/bench_attach.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Result, Target, fmt, isolated_env, median, p95, proc_cpu_time, scratch_home
from bench_startup import APP_MARKER
from bench_typing import ALPHABET, KEY_TIMEOUT, Tmux

FREEZE_TARGET_S = 0.25
PREFIX = "QZXJ"


def make_files(folder: Path, image_mb: int, text_mb: int) -> dict[str, Path]:
    """A PNG of ``image_mb`` MB (a valid signature and header, then incompressible bytes) and a UTF-8
    text file of ``text_mb`` MB (code and Chinese prose)."""
    folder.mkdir(parents=True, exist_ok=True)
    image = folder / "大图-screenshot.png"
    header = (
        b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (4000).to_bytes(4, "big") * 2 + b"\x08\x06\x00\x00\x00"
    )
    image.write_bytes(header + random.Random(10).randbytes(image_mb * 1024 * 1024 - len(header)))
    text = folder / "服务日志.log"
    line = "2026-12-05 08:00:00 INFO 中转请求 model=kimi-k2 latency=0.42s tokens=1234 状态正常 def f(x): return x\n"
    text.write_text(line * (text_mb * 1024 * 1024 // len(line.encode("utf-8"))), encoding="utf-8")
    return {f"{image_mb} MB image": image, f"{text_mb} MB text file": text}


def measure(label: str, path: Path, home: Path, keys_after: int) -> dict[str, Any]:
    rng = random.Random(11)
    chip_name = path.name
    tmux = Tmux([sys.executable, "-m", "holysheep_tui", "--demo"], isolated_env(home))
    try:
        if tmux.wait_for(APP_MARKER, 20) is None:
            raise RuntimeError(f"{APP_MARKER!r} never drawn; screen:\n{tmux.screen()}")
        tmux.keys(PREFIX)
        if tmux.wait_for(PREFIX, 10) is None:
            raise RuntimeError(f"the typed prefix never appeared; screen:\n{tmux.screen()}")
        buffer = home / "paste.txt"
        buffer.write_text(str(path), encoding="utf-8")
        tmux.run("load-buffer", "-b", "attach", str(buffer))
        cpu0 = proc_cpu_time(tmux.pid)
        pasted = time.perf_counter()
        tmux.run("paste-buffer", "-p", "-d", "-b", "attach", "-t", "bench")
        typed, chip_at = PREFIX, None
        delays: list[float] = []
        after = 0
        while after < keys_after and time.perf_counter() - pasted < 60:
            char = ALPHABET[len(delays) % len(ALPHABET)]
            typed += char
            began = time.perf_counter()
            tmux.keys(char)
            seen, screen = None, ""
            while time.perf_counter() - began < KEY_TIMEOUT:
                screen = tmux.screen()
                if typed in screen:
                    seen = time.perf_counter() - began
                    break
            delays.append(KEY_TIMEOUT if seen is None else seen)
            if chip_at is None and chip_name[:6] in screen and "#1" in screen:
                chip_at = time.perf_counter() - pasted
            if chip_at is not None:
                after += 1
            time.sleep(rng.uniform(0.03, 0.08))
        cpu1 = proc_cpu_time(tmux.pid)
    finally:
        tmux.close()
    if chip_at is None:
        raise RuntimeError(f"{label}: the chip never appeared")
    cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    return {"label": label, "bytes": path.stat().st_size, "chip_s": chip_at, "delays_s": delays, "cpu": cpu}


def bench(quick: bool) -> Result:
    result = Result("attach", "10. Attaching a large file: the app stays responsive")
    result.columns = [
        "file",
        "size MB",
        "paste to chip s",
        "keys",
        "echo p50 ms",
        "p95 ms",
        "longest ms",
        "app CPU s",
    ]
    with scratch_home("attach") as home:
        files = make_files(home / "files", 2 if quick else 10, 1)
        for label, path in files.items():
            out = measure(label, path, home, 3 if quick else 8)
            delays = out["delays_s"]
            result.rows.append(
                [label, fmt(out["bytes"] / 1e6, 1), fmt(out["chip_s"], 2), len(delays),
                 fmt(median(delays) * 1000, 1), fmt(p95(delays) * 1000, 1), fmt(max(delays) * 1000, 1),
                 fmt(out["cpu"], 2)]
            )  # fmt: skip
            result.targets.append(
                Target(f"longest freeze while attaching a {label}", max(delays), FREEZE_TARGET_S, "s")
            )
            result.data[label] = out
    result.notes.append(
        "tmux 160x48 (private socket), `holysheep --demo`; the path is pasted as a terminal pastes a dropped "
        "file (bracketed paste); from then on keys 30–80 ms apart are timed from `send-keys` to the first "
        "`capture-pane` showing them (two tmux round trips included), until the chip is up and a few more "
        "keys went through. The longest delay bounds the longest freeze a person typing could meet."
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a 2 MB image, fewer keys")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    os.environ.setdefault("TERM", "xterm-256color")
    return bench(args.quick).report(args.json)


if __name__ == "__main__":
    raise SystemExit(main())
