"""The process rows of the fault matrix: the real app in tmux, killed or signalled in the middle of an answer.

The app talks to a relay simulator started here (a real relay URL, so history is on), and each test reads
the history database the way the next start of the program would.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from holysheep_tui.simulator import Pacing, RecordedRequest, RelaySimulator

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "请慢慢讲讲上下文窗口和费用"
SLOW = Pacing(first_token_delay=0.0, tokens_per_second=25.0, chunk_tokens=2)


@dataclass
class Terminal:
    socket: str
    name: str
    data: Path

    def tmux(self, *args: str) -> str:
        proc = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30)
        return proc.stdout

    def start(self, base_url: str, *, exit_file: Path | None = None) -> int:
        """Run ``holysheep`` (the app) at 100x30; returns its pid. With ``exit_file``, a shell around the
        app writes the app's exit status there."""
        env = {"HOLYSHEEP_DATA_DIR": str(self.data), "PYTHONPATH": str(ROOT), "TERM": "xterm-256color"}
        env |= {k: os.environ[k] for k in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "HOME") if k in os.environ}
        cmd = " ".join(
            ["exec", "env", *(f"{k}={shlex.quote(v)}" for k, v in env.items()), shlex.quote(sys.executable),
             "-m", "holysheep_tui", "--base-url", shlex.quote(base_url), "-m", "kimi-k2"]
        )  # fmt: skip
        if exit_file is not None:
            cmd = "sh -c " + shlex.quote(
                cmd.removeprefix("exec ") + f"; echo $? > {shlex.quote(str(exit_file))}"
            )
        subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", "new-session", "-d", "-s", self.name,
             "-x", "100", "-y", "30", cmd],
            check=True, timeout=30, env={**os.environ, "LANG": "C.UTF-8"},
        )  # fmt: skip
        self.tmux("set-option", "-t", self.name, "remain-on-exit", "on")
        pid = int(self.tmux("display-message", "-p", "-t", self.name, "#{pane_pid}").strip())
        if exit_file is None:
            return pid
        children = Path(f"/proc/{pid}/task/{pid}/children")
        for _ in range(100):
            found = children.read_text().split() if children.exists() else []
            if found:
                return int(found[0])
            time.sleep(0.05)
        raise AssertionError("the app did not start under the shell")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def wait_screen(self, pattern: str, timeout: float = 30) -> str:
        screen = ""
        for _ in range(int(timeout / 0.2)):
            screen = self.screen()
            if re.search(pattern, screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"never saw {pattern!r}; last screen:\n{screen}")

    def type_prompt(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.name, "-l", text)
        self.tmux("send-keys", "-t", self.name, "Enter")


@pytest.fixture
def relay(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    return make_simulator(pacing=SLOW)


@pytest.fixture
def term(tmp_path: Path) -> Iterator[Terminal]:
    t = Terminal(f"holysheep-rel-{os.getpid()}-{tmp_path.name}", "app", tmp_path / "数据")
    try:
        yield t
    finally:
        t.tmux("kill-server")


def process_gone(pid: int, timeout: float = 20) -> bool:
    for _ in range(int(timeout / 0.1)):
        if not Path(f"/proc/{pid}").exists() or "Z" in _proc_state(pid):
            return True
        time.sleep(0.1)
    return False


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"


def exit_status(path: Path, timeout: float = 20) -> int:
    for _ in range(int(timeout / 0.1)):
        text = path.read_text().strip() if path.exists() else ""
        if text:
            return int(text)
        time.sleep(0.1)
    raise AssertionError("the app did not exit")


def start_answer(
    term: Terminal, relay: RelaySimulator, flushed_partial: Callable[..., str], exit_file: Path | None = None
) -> tuple[int, str]:
    pid = term.start(relay.base_url, exit_file=exit_file)
    term.wait_screen(r"holysheep")
    term.type_prompt(PROMPT)
    partial = flushed_partial(term.data / "history.db")
    return pid, partial


@pytest.mark.tmux
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_sigkill_mid_answer_restart_finds_prompt_and_partial_marked_interrupted(
    term: Terminal,
    relay: RelaySimulator,
    newest_exchange: Callable[[Path], tuple[str, str, str] | None],
    flushed_partial: Callable[..., str],
) -> None:
    pid, partial = start_answer(term, relay, flushed_partial)
    os.kill(pid, signal.SIGKILL)
    assert process_gone(pid)
    prompt, status, text = newest_exchange(term.data / "history.db") or ("", "", "")
    assert (prompt, status) == (PROMPT, "streaming") and text.startswith(partial)
    # Restart: the new app marks the dead process's answer as interrupted and keeps its text.
    term.tmux("kill-session", "-t", term.name)
    pid = term.start(relay.base_url)
    term.wait_screen(r"holysheep")
    for _ in range(100):
        row = newest_exchange(term.data / "history.db")
        if row and row[1] == "interrupted":
            break
        time.sleep(0.1)
    assert row == (PROMPT, "interrupted", text)
    with sqlite3.connect(f"file:{term.data / 'history.db'}?mode=ro", uri=True) as con:
        conv_id = con.execute("SELECT conversation_id FROM messages ORDER BY id DESC LIMIT 1").fetchone()[0]
    con.close()
    shown = subprocess.run(
        [sys.executable, "-m", "holysheep_tui", "history", "show", "--json", conv_id],
        capture_output=True, text=True, timeout=30,
        env={**os.environ, "HOLYSHEEP_DATA_DIR": str(term.data)},
    )  # fmt: skip
    assert PROMPT in shown.stdout and "interrupted" in shown.stdout, shown.stderr
    term.tmux("send-keys", "-t", term.name, "C-q")
    assert process_gone(pid), f"state {_proc_state(pid)}"


@pytest.mark.tmux
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize(
    ("how", "code"),
    [("SIGTERM", 128 + signal.SIGTERM), ("SIGHUP via tmux kill-session", None)],
    ids=["sigterm", "sighup-terminal-closed"],
)
def test_signal_mid_answer_stores_the_partial_answer_as_stopped_then_exits(
    term: Terminal,
    relay: RelaySimulator,
    how: str,
    code: int | None,
    tmp_path: Path,
    finished_chat: Callable[..., RecordedRequest],
    newest_exchange: Callable[[Path], tuple[str, str, str] | None],
    flushed_partial: Callable[..., str],
) -> None:
    exit_file = tmp_path / "exit-status"
    pid, partial = start_answer(term, relay, flushed_partial, exit_file if code is not None else None)
    if code is not None:
        os.kill(pid, signal.SIGTERM)
        assert exit_status(exit_file) == code
    else:
        term.tmux("kill-session", "-t", term.name)  # tmux sends SIGHUP to the pane's process
        assert process_gone(pid), "the app exits when its terminal goes away"
    prompt, status, text = newest_exchange(term.data / "history.db") or ("", "", "")
    assert (prompt, status) == (PROMPT, "stopped")
    assert text.startswith(partial) and len(text) >= len(partial)
    rec = finished_chat(relay)
    assert rec.client_disconnected and not rec.completed
    assert rec.tokens_sent < 2000, "the answer was cut short by the stop, not streamed to the end"


def test_ctrl_c_in_ask_stores_the_printed_partial_answer_as_stopped(
    relay: RelaySimulator,
    tmp_path: Path,
    cli: Any,
    newest_exchange: Callable[[Path], tuple[str, str, str] | None],
    flushed_partial: Callable[..., str],
) -> None:
    """tests/test_cli_ask.py proves exit 130 and the closed connection; this proves the history side."""
    data = tmp_path / "数据"
    proc = cli.popen(
        "ask", "--base-url", relay.base_url, PROMPT,
        stdin=subprocess.DEVNULL, bufsize=0, text=False, env={"HOLYSHEEP_DATA_DIR": str(data)},
    )  # fmt: skip
    assert proc.stdout is not None
    first = proc.stdout.read(30)  # some of the answer has been printed (unbuffered: nothing held back)
    flushed_partial(data / "history.db")
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and b"Traceback" not in err
    printed = (first + rest).decode()
    prompt, status, text = newest_exchange(data / "history.db") or ("", "", "")
    assert (prompt, status) == (PROMPT, "stopped")
    assert printed.rstrip("\n") == text.rstrip("\n"), "what was printed is what was kept"
