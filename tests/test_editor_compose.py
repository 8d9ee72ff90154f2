"""Issue 15 item 19: Ctrl+G writes the prompt in $VISUAL / $EDITOR and brings the text back, unsent."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from holysheep_tui.simulator import RecordedRequest, RelaySimulator
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.editor import editor_command
from holysheep_tui.tui.widgets.prompt import PromptInput

APPEND = """#!/bin/sh
# A stand-in editor: notes the file it was given and its mode, then appends its arguments' text.
path="$2"
stat -c '%a %n' "$path" > "{log}"
stat -c '%a' "$(dirname "$path")" >> "{log}"
printf '%s\\n' "$1" >> "$path"
"""
FAIL = "#!/bin/sh\necho '编辑器坏了' >&2\nexit 3\n"


def _script(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    path.chmod(0o700)
    return path


def _gone(path: Path) -> bool:
    """Neither the file nor its folder is left."""
    return not path.exists() and not path.parent.exists()


def _toasts(app: HolySheepApp) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


async def test_ctrl_g_brings_the_edited_text_back_unsent(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_app: Callable[..., HolySheepApp],
    simulator: RelaySimulator,
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
    wait_until: Callable[..., Any],
) -> None:
    log = tmp_path / "editor.log"
    editor = _script(tmp_path, "my editor.sh", APPEND.format(log=log))
    monkeypatch.setenv(
        "VISUAL", f"'{editor}' 你好，编辑器"
    )  # a command with an argument, split as a shell would
    monkeypatch.setenv("EDITOR", "false")
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        prompt = app.query_one(PromptInput)
        await pilot.press(*"hello ", "ctrl+g")
        await wait_until(pilot, lambda: "你好，编辑器" in prompt.text, "the edited prompt")
        assert prompt.text == "hello 你好，编辑器"  # the editor's trailing newline is not kept
        assert prompt.has_focus
        assert not chats(simulator), "the edited prompt is not sent"
    file_mode, path, dir_mode = re.split(r"[ \n]", log.read_text(encoding="utf-8").strip(), maxsplit=2)
    assert (file_mode, dir_mode) == ("600", "700"), "a private file in a private folder"
    assert _gone(Path(path)), "removed afterwards"


async def test_an_editor_that_fails_leaves_the_prompt_as_it_was(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Any],
) -> None:
    monkeypatch.setenv("VISUAL", str(_script(tmp_path, "broken.sh", FAIL)))
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        prompt = app.query_one(PromptInput)
        prompt.set_prompt("原来的问题")
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: "exited with status 3" in _toasts(app), "the notice")
        assert prompt.text == "原来的问题"
        assert "the prompt is unchanged" in _toasts(app)


async def test_no_editor_at_all_says_how_to_set_one(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Any],
) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # neither nano nor vi
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        prompt = app.query_one(PromptInput)
        prompt.set_prompt("草稿")
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: "No editor found" in _toasts(app), "the notice")
        assert prompt.text == "草稿"
        assert "$EDITOR" in _toasts(app)


def test_the_editor_is_visual_then_editor_then_a_common_one() -> None:
    found = {"vi": "/usr/bin/vi"}.get
    assert editor_command({"VISUAL": "code -w", "EDITOR": "nano"}, found) == ["code", "-w"]
    assert editor_command({"VISUAL": " ", "EDITOR": "emacs -nw"}, found) == ["emacs", "-nw"]
    assert editor_command({}, found) == ["/usr/bin/vi"]  # no nano here: vi
    assert editor_command({}, lambda name: None) is None


# ---- in a real terminal ----------------------------------------------------------------------------
def _tmux(socket: str, *args: str) -> str:
    done = subprocess.run(
        ["tmux", "-L", socket, *args], capture_output=True, text=True, timeout=30, check=False
    )
    return done.stdout


def _wait_screen(socket: str, name: str, pattern: str, timeout: float = 30) -> str:
    screen = ""
    for _ in range(int(timeout / 0.25)):
        screen = _tmux(socket, "capture-pane", "-p", "-t", name)
        if re.search(pattern, screen):
            return screen
        time.sleep(0.25)
    raise AssertionError(f"never saw {pattern!r}; last screen:\n{screen}")


@pytest.mark.tmux
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize("ending", ["saved", "failed", "ctrl-c"])
def test_ctrl_g_in_a_real_terminal(tmp_path: Path, ending: str) -> None:
    """The app hands the terminal to the editor (the editor reads a key from it) and takes it back."""
    started = tmp_path / "started"
    # The editor reads a line typed in the terminal: only a real hand-over (echo, lines) lets it read one.
    body = f'echo started > "{started}"\nread line\n'
    works = ending == "saved"
    body += 'printf "%s\\n" "$line" >> "$1"\n' if works else "exit 4\n"
    editor = _script(tmp_path, "editor.sh", "#!/bin/sh\n" + body)
    socket, name = f"holysheep-editor-{os.getpid()}-{ending}", "editor"
    command = f"cd {Path.cwd()} && exec {sys.executable} -m holysheep_tui --demo"
    env = {**os.environ, "TERM": "xterm-256color", "LANG": "C.UTF-8", "VISUAL": str(editor)}
    try:
        subprocess.run(
            ["tmux", "-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", name, "-x", "100", "-y", "30", command],
            check=True, timeout=30, env=env,
        )  # fmt: skip
        _wait_screen(socket, name, r"DEMO")
        _tmux(socket, "send-keys", "-t", name, "-l", "第一行")
        _wait_screen(socket, name, "第一行")
        _tmux(socket, "send-keys", "-t", name, "C-g")
        for _ in range(120):  # bounded: the editor says it has started
            if started.exists():
                break
            time.sleep(0.25)
        assert started.exists(), "the editor started"
        assert "DEMO" not in _tmux(socket, "capture-pane", "-p", "-t", name), "the app gave the terminal up"
        _tmux(socket, "send-keys", "-t", name, "-l", "编辑器里写的")
        # Ctrl+C interrupts the editor (status 130), and only the editor: the app comes back.
        _tmux(socket, "send-keys", "-t", name, "C-c" if ending == "ctrl-c" else "Enter")
        if works:
            screen = _wait_screen(socket, name, "第一行编辑器里写的")
            assert "DEMO" in screen
        else:
            screen = _wait_screen(socket, name, r"▌ Editor")  # the notice (a long path wraps its text)
            assert "第一行" in screen and "编辑器里写的" not in screen
            assert "unchanged" in screen
        _tmux(socket, "send-keys", "-t", name, "C-q")
    finally:
        _tmux(socket, "kill-session", "-t", name)
        _tmux(socket, "kill-server")
