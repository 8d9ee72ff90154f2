"""`holysheep history show` and `export` on an answer whose `ask` was killed: it reads interrupted, not streaming.

A real `ask` subprocess streams from the simulator into a real history file and is killed with SIGKILL
mid-answer; the commands a person runs next must say what happened to that answer.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from holysheep_tui.simulator import Pacing, RelaySimulator
from tests.harness import Cli, flushed_partial

PROMPT = "请慢慢地详细解释人民币结算"


@pytest.fixture
def data_dir(tmp_path: Path, cli: Cli) -> Path:
    data = tmp_path / "数据"
    cli.env["HOLYSHEEP_DATA_DIR"] = str(data)
    cli.env["NO_COLOR"] = "1"
    return data


@pytest.fixture
def slow_relay(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    return make_simulator(pacing=Pacing(first_token_delay=0.0, tokens_per_second=25.0, chunk_tokens=2))


@pytest.fixture
def asking(
    cli: Cli, data_dir: Path, slow_relay: RelaySimulator
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """An `ask` streaming a long answer into the history: (the process, the partial text already flushed)."""
    proc = cli.popen("ask", "--base-url", slow_relay.base_url, "-m", "kimi-k2", PROMPT)
    try:
        yield proc, flushed_partial(data_dir / "history.db")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def _only_conversation(cli: Cli) -> str:
    listed = cli("history", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    return str(row["id"])


def test_history_show_marks_an_answer_left_by_a_killed_ask_interrupted(
    cli: Cli,
    data_dir: Path,
    asking: tuple[subprocess.Popen[str], str],
    newest_exchange: Callable[[Path], tuple[str, str, str] | None],
) -> None:
    proc, partial = asking
    conv_id = _only_conversation(cli)
    # While `ask` still runs, its answer is streaming, and `history show` says so (it marks nothing).
    alive = cli("history", "show", conv_id)
    assert alive.returncode == 0, alive.stderr
    assert "· streaming]" in alive.stdout and "interrupted" not in alive.stdout

    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # The history file still says streaming: nothing but the next reader can notice the writer died.
    assert newest_exchange(data_dir / "history.db") is not None
    prompt, status, text = newest_exchange(data_dir / "history.db") or ("", "", "")
    assert (prompt, status) == (PROMPT, "streaming") and text.startswith(partial)

    shown = cli("history", "show", conv_id)
    assert shown.returncode == 0, shown.stderr
    assert "· interrupted]" in shown.stdout and "streaming" not in shown.stdout
    assert PROMPT in shown.stdout and partial in shown.stdout  # the partial answer is kept

    as_json = cli("history", "show", "--json", conv_id)
    messages = json.loads(as_json.stdout)["conversations"][0]["messages"]
    assert [m["status"] for m in messages] == ["complete", "interrupted"]
    assert messages[1]["content"].startswith(partial)

    exported = cli("export", conv_id, "--format", "md")
    assert exported.returncode == 0, exported.stderr
    assert "· interrupted" in exported.stdout and "streaming" not in exported.stdout
