"""`holysheep ask --models a,b,c` as a user runs it: real subprocesses against the simulator."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from holysheep_tui.errors import EXIT_INTERRUPTED, EXIT_MODEL_NOT_FOUND, EXIT_RATE_LIMIT, EXIT_USAGE
from holysheep_tui.simulator import Pacing, RelaySimulator
from holysheep_tui.store import HistoryStore

MODELS = ["kimi-k2", "gpt-4.1", "deepseek-v3.2"]
PROMPT = "三个模型一起回答：人民币结算有什么好处？"


@pytest.fixture
def sim(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    return make_simulator(pacing=Pacing())


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "数据"


def ask(cli: Any, sim: RelaySimulator, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result: subprocess.CompletedProcess[str] = cli(
        "ask", "--base-url", sim.base_url, *args, env={"HOLYSHEEP_DATA_DIR": str(data)}
    )
    return result


def stored_answers(db: Path) -> list[tuple[str, str, str, int]]:
    """(model, status, text, parent id) of every answer in the newest conversation, oldest first, read-only
    as another process sees it."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        rows = con.execute(
            "SELECT model, status, content, parent_id FROM messages WHERE role = 'assistant' AND conversation_id = "
            "(SELECT conversation_id FROM messages ORDER BY id DESC LIMIT 1) ORDER BY id"
        ).fetchall()
    except sqlite3.OperationalError:  # created but not yet migrated
        return []
    finally:
        con.close()
    return [(str(m), str(s), str(c), int(p)) for m, s, c, p in rows]


def test_plain_output_prints_each_answer_with_its_figures_and_the_estimate_first(
    sim: RelaySimulator, data: Path, cli: Any
) -> None:
    out = ask(cli, sim, data, "--models", ",".join(MODELS), PROMPT)
    assert out.returncode == 0, out.stderr
    first = out.stderr.splitlines()[0]
    assert "sending to 3 models" in first and "≈$" in first and "¥" in first
    assert all(model in first for model in MODELS)
    blocks = [b for b in out.stdout.split("── ") if b.strip()]
    assert len(blocks) == 3
    for model in MODELS:
        (block,) = [b for b in blocks if b.startswith(f"{model} (")]
        assert f"**{model}**" in block  # the simulator's answer names its model
        figures = block.rstrip().splitlines()[-1]
        assert figures.startswith(model) and "tokens" in figures and "first token" in figures
        assert "tok/s" in figures and "$" in figures and "billed ¥" in figures and " CNY" in figures
    requests = [r for r in sim.requests if r.path.endswith("/chat/completions")]
    assert sorted(r.json["model"] for r in requests) == sorted(MODELS)
    assert requests[0].json["messages"] == requests[1].json["messages"] == requests[2].json["messages"]

    with HistoryStore.open(data / "history.db") as store:
        (summary,) = store.list_conversations()
        conv = store.get_conversation(summary.id)
    prompts = [m for m in conv.tree if m.role == "user"]
    answers = [m for m in conv.tree if m.role == "assistant"]
    assert [p.content for p in prompts] == [PROMPT]
    assert sorted(a.model or "" for a in answers) == sorted(MODELS)
    assert conv.alternatives(answers[0]) == tuple(answers)
    assert conv.cost_usd == pytest.approx(sum(a.cost_usd or 0 for a in answers)) and conv.cost_usd > 0


def test_each_answer_is_printed_when_it_ends(sim: RelaySimulator, data: Path, cli: Any) -> None:
    out = ask(cli, sim, data, "-q", "--models", "kimi-k2+ttft=1,gpt-4.1", "先到先打印")
    assert out.returncode == 0, out.stderr
    assert out.stdout.index("── gpt-4.1 (2/2)") < out.stdout.index("── kimi-k2+ttft=1 (1/2)")
    assert out.stderr == ""  # -q: no estimate, no figures


def test_json_prints_one_object_per_model_in_order_with_one_comparison_id(
    sim: RelaySimulator, data: Path, cli: Any
) -> None:
    out = ask(cli, sim, data, "--json", "--models", ",".join(MODELS), PROMPT)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["model"] for line in lines] == MODELS
    assert [line["leg"] for line in lines] == [0, 1, 2]
    assert len({line["comparison"] for line in lines}) == 1 and lines[0]["comparison"]
    for line in lines:
        assert line["content"] and line["finish_reason"] == "stop" and "error" not in line
        assert line["usage"]["completion_tokens"] > 0 and line["cost_usd"] > 0
    metrics = (data / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    assert {json.loads(m)["comparison"] for m in metrics} == {lines[0]["comparison"]}


def test_failing_legs_show_their_errors_and_exit_with_the_first_ones_code(
    sim: RelaySimulator, data: Path, cli: Any
) -> None:
    models = "kimi-k2+429ra0,kimi-k2,gpt-4.1+404"
    plain = ask(cli, sim, data, "--max-retries", "0", "--models", models, "两条腿会失败")
    assert plain.returncode == EXIT_RATE_LIMIT, plain.stderr  # the first failed leg in --models order
    assert "Traceback" not in plain.stderr
    blocks = {b.split(" (")[0]: b for b in plain.stdout.split("── ") if b.strip()}
    assert "error: Rate limited" in blocks["kimi-k2+429ra0"]
    assert "error: Model not found" in blocks["gpt-4.1+404"]
    assert "**kimi-k2**" in blocks["kimi-k2"] and "error" not in blocks["kimi-k2"]

    as_json = ask(cli, sim, data, "--json", "--models", "kimi-k2,gpt-4.1+404", "一条腿找不到模型")
    assert as_json.returncode == EXIT_MODEL_NOT_FOUND
    ok, failed = (json.loads(line) for line in as_json.stdout.splitlines())
    assert "error" not in ok and ok["content"]
    assert failed["error"]["type"] == "model_not_found" and failed["error"]["status"] == 404
    assert failed["leg"] == 1 and failed["comparison"] == ok["comparison"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--models", "kimi-k2"], "at least 2"),
        (["--models", ",".join(f"m{i}" for i in range(9))], "at most 8"),
        (["--models", "kimi-k2,gpt-4.1,kimi-k2"], "kimi-k2 more than once"),
        (["--models", "kimi-k2,,gpt-4.1"], "empty name"),
        (["--models", "kimi-k2,gpt-4.1", "-m", "kimi-k2"], "cannot be used together"),
        (["--models", "kimi-k2,gpt-4.1", "--no-stream"], "--no-stream"),
    ],
    ids=["one-model", "nine-models", "duplicate", "empty-name", "with-model", "with-no-stream"],
)
def test_bad_model_lists_are_usage_errors_and_send_nothing(
    sim: RelaySimulator, data: Path, cli: Any, args: list[str], words: str
) -> None:
    out = ask(cli, sim, data, *args, "不该发出的问题")
    assert out.returncode == EXIT_USAGE
    assert words in out.stderr and "Traceback" not in out.stderr
    assert sim.requests == []


def test_ctrl_c_stops_every_leg_stores_each_partial_and_exits_130(
    make_simulator: Callable[..., RelaySimulator], data: Path, cli: Any
) -> None:
    slow = make_simulator(pacing=Pacing(first_token_delay=0, tokens_per_second=25))
    proc = cli.popen(
        "ask", "--base-url", slow.base_url, "--models", ",".join(MODELS), "慢慢比较，然后被打断",
        stdin=subprocess.DEVNULL, env={"HOLYSHEEP_DATA_DIR": str(data)},
    )  # fmt: skip
    try:
        partial = wait_for_partials(data / "history.db", proc)
    finally:
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == EXIT_INTERRUPTED and "Traceback" not in err
    stored = stored_answers(data / "history.db")
    assert [s[:2] for s in stored] == [(m, "stopped") for m in MODELS]
    for (_model, _status, text, _parent), flushed in zip(stored, partial, strict=True):
        assert text.startswith(flushed) and len(text) >= len(flushed) > 0


def test_kill_9_keeps_each_legs_flushed_partial_text(
    make_simulator: Callable[..., RelaySimulator], data: Path, cli: Any
) -> None:
    slow = make_simulator(pacing=Pacing(first_token_delay=0, tokens_per_second=25))
    prompt = "比较到一半进程被杀掉"
    proc = cli.popen(
        "ask", "--base-url", slow.base_url, "--models", ",".join(MODELS), prompt,
        stdin=subprocess.DEVNULL, env={"HOLYSHEEP_DATA_DIR": str(data)},
    )  # fmt: skip
    try:
        wait_for_partials(data / "history.db", proc)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    stored = stored_answers(data / "history.db")
    assert len(stored) == 3 and len({parent for *_rest, parent in stored}) == 1  # siblings of one prompt

    fast = ",".join(f"{m}+fast" for m in MODELS)  # the same answers, whole: the simulator's are deterministic
    full = cli("ask", "--base-url", slow.base_url, "--no-history", "--json", "--models", fast, prompt)
    assert full.returncode == 0, full.stderr
    whole = [json.loads(line)["content"] for line in full.stdout.splitlines()]
    for (model, status, text, _parent), answer in zip(stored, whole, strict=True):
        assert status == "streaming", model  # as the killed process left it
        assert text and answer.startswith(text) and len(text) < len(answer), model
    with HistoryStore.open(data / "history.db") as store:
        assert store.recover_interrupted() == 3
    assert [s[1] for s in stored_answers(data / "history.db")] == ["interrupted"] * 3


def wait_for_partials(db: Path, proc: subprocess.Popen[str], tries: int = 300) -> list[str]:
    """Wait (0.1 s steps, bounded) until every leg's answer row holds flushed text; return the texts."""
    for _ in range(tries):
        assert proc.poll() is None, "ask --models ended before its answers were flushed"
        if db.exists():
            rows = stored_answers(db)
            if len(rows) == 3 and all(status == "streaming" and text for _m, status, text, _p in rows):
                return [text for _m, _s, text, _p in rows]
        time.sleep(0.1)
    raise AssertionError(
        f"no partial answers were flushed; rows: {stored_answers(db) if db.exists() else None}"
    )
