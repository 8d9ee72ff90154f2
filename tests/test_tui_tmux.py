"""End to end in a real terminal: tmux runs `python -m holysheep_tui --demo` at 80x24."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def _tmux(socket: str, *args: str) -> str:
    proc = subprocess.run(
        ["tmux", "-L", socket, *args], capture_output=True, text=True, timeout=30, check=False
    )
    return proc.stdout


def _screen(socket: str, name: str) -> str:
    return _tmux(socket, "capture-pane", "-p", "-t", name)


def _wait_screen(socket: str, name: str, pattern: str, timeout: float) -> str:
    screen = ""
    for _ in range(int(timeout / 0.25)):
        screen = _screen(socket, name)
        if re.search(pattern, screen):
            return screen
        time.sleep(0.25)
    raise AssertionError(f"never saw {pattern!r} on the screen; last screen:\n{screen}")


def test_demo_answers_a_prompt_with_its_cost_on_screen(tmp_path: Path) -> None:
    socket = f"holysheep-test-{os.getpid()}"
    name = "holysheep-demo"
    env_cmd = f"cd {Path.cwd()} && exec {sys.executable} -m holysheep_tui --demo"
    try:
        subprocess.run(
            ["tmux", "-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", name, "-x", "80", "-y", "24", env_cmd],
            check=True, timeout=30, env={**os.environ, "TERM": "xterm-256color", "LANG": "C.UTF-8"},
        )  # fmt: skip
        _wait_screen(socket, name, r"DEMO", timeout=30)
        _tmux(socket, "send-keys", "-t", name, "-l", "你好，请介绍一下价格")
        _tmux(socket, "send-keys", "-t", name, "Enter")
        screen = _wait_screen(socket, name, r"\d+ in · \d+ out", timeout=60)
        assert "以上是模拟器生成的示例回答" in screen  # the answer's last paragraph
        assert re.search(r"\d+ in · \d+ out · ttft [\d.]+s · total [\d.]+s · \d+ tok/s · ¥0\.\d+", screen)
        assert re.search(r"total \$0\.\d+ = ¥0\.\d+ CNY billed", screen)
        assert "idle" in screen
    finally:
        _tmux(socket, "kill-session", "-t", name)
        _tmux(socket, "kill-server")
