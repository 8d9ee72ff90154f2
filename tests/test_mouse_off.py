"""Issue 15 item 21: ``ui.mouse = false`` and F12 leave the mouse (and selecting text) to the terminal."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from holysheep_tui.config import parse_config
from holysheep_tui.tui.app import HolySheepApp

TMUX = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def _tmux(socket: str, *args: str) -> str:
    done = subprocess.run(
        ["tmux", "-L", socket, *args], capture_output=True, text=True, timeout=30, check=False
    )
    return done.stdout


def _wait(socket: str, what: str, check: Callable[[], bool], timeout: float = 30) -> None:
    for _ in range(int(timeout / 0.25)):
        if check():
            return
        time.sleep(0.25)
    screen = _tmux(socket, "capture-pane", "-p", "-t", "mouse")
    raise AssertionError(f"never saw {what}; last screen:\n{screen}")


def _mouse_flags(socket: str) -> str:
    """What the terminal was asked to report: any motion and the SGR encoding, "1 1" while the app has it."""
    return _tmux(socket, "display", "-p", "-t", "mouse", "#{mouse_any_flag} #{mouse_sgr_flag}").strip()


def _toast(socket: str, pattern: str) -> Callable[[], bool]:
    return lambda: bool(re.search(pattern, _tmux(socket, "capture-pane", "-p", "-t", "mouse")))


@pytest.mark.tmux
@TMUX
@pytest.mark.parametrize("configured", [True, False], ids=["ui.mouse=false", "default"])
def test_mouse_reporting_follows_the_config_and_f12(tmp_path: Path, configured: bool) -> None:
    config = tmp_path / "config.toml"
    config.write_text("# 鼠标交给终端\n[ui]\nmouse = false\n" if configured else "# 默认\n", encoding="utf-8")
    socket = f"holysheep-mouse-{os.getpid()}-{configured}"
    command = f"cd {Path.cwd()} && exec {sys.executable} -m holysheep_tui --demo"
    env = {**os.environ, "TERM": "xterm-256color", "LANG": "C.UTF-8", "HOLYSHEEP_CONFIG": str(config)}
    try:
        subprocess.run(
            ["tmux", "-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", "mouse", "-x", "100", "-y", "30", command],
            check=True, timeout=30, env=env,
        )  # fmt: skip
        _wait(socket, "the app", _toast(socket, "DEMO"))
        _tmux(
            socket, "send-keys", "-t", "mouse", "-l", "你好"
        )  # the session is open once the prompt takes keys
        _wait(socket, "the prompt", _toast(socket, "你好"))
        if configured:
            _wait(socket, "mouse reporting off", lambda: _mouse_flags(socket) == "0 0")
            _wait(socket, "the notice", _toast(socket, "Mouse off: select text with the"))
            _tmux(socket, "send-keys", "-t", "mouse", "F12")
            _wait(socket, "mouse reporting on", lambda: _mouse_flags(socket) == "1 1")
            _wait(socket, "the notice", _toast(socket, "Mouse on"))
            _tmux(socket, "send-keys", "-t", "mouse", "F12")
            _wait(socket, "mouse reporting off again", lambda: _mouse_flags(socket) == "0 0")
        else:
            assert _mouse_flags(socket) == "1 1"
            _tmux(socket, "send-keys", "-t", "mouse", "F12")
            _wait(socket, "mouse reporting off", lambda: _mouse_flags(socket) == "0 0")
            _wait(socket, "the notice", _toast(socket, "Mouse off: select text with the"))
        _tmux(socket, "send-keys", "-t", "mouse", "C-q")
    finally:
        _tmux(socket, "kill-session", "-t", "mouse")
        _tmux(socket, "kill-server")


async def test_f12_toggles_the_mouse_in_the_app(
    make_app: Callable[..., HolySheepApp], make_session: Callable[..., object]
) -> None:
    app = make_app(make_session(config=parse_config({"ui": {"mouse": False}})))
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.mouse_on is False
        await pilot.press("f12")
        assert app.mouse_on is True
        assert any("Mouse on" in str(n.message) for n in app._notifications)
        await pilot.press("f12")
        assert app.mouse_on is False
        assert "Mouse off: select text with the terminal" in str(list(app._notifications)[-1].message)
