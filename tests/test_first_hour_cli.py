"""The CLI as a first-time user meets it (issue 15): ``--json`` failures on stdout, no cost for a request
rejected before any answer, the demo's answers kept out of real totals. Real subprocesses."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from holysheep_tui.errors import EXIT_AUTH, EXIT_INTERRUPTED, EXIT_MODEL_NOT_FOUND, EXIT_USAGE
from holysheep_tui.simulator import Pacing, RelaySimulator


@pytest.fixture
def sim(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    return make_simulator(pacing=Pacing(first_token_delay=0, tokens_per_second=None))


def error_of(stdout: str) -> dict[str, Any]:
    data = json.loads(stdout)
    assert isinstance(data, dict)
    error = data["error"]
    assert isinstance(error, dict) and set(error) >= {"type", "status", "message"}
    return error


def stats_json(cli: Any, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    out = cli("stats", "--json", *args, env=env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert isinstance(data, dict)
    return data


def test_ask_json_without_a_key_prints_the_error_object(cli: Any) -> None:
    out = cli("ask", "你好", "--json")
    assert out.returncode == EXIT_AUTH
    error = error_of(out.stdout)
    assert error["type"] and "HOLYSHEEP_API_KEY" in error["message"]
    assert "Traceback" not in out.stderr and out.stderr.strip()  # the message on stderr too


@pytest.mark.parametrize(
    "args",
    [
        ("--max-retries", "-1", "问题"),
        ("--models", "kimi-k2", "问题"),
        ("-m", "kimi-k2", "--models", "kimi-k2,gpt-4.1", "问题"),
    ],
)
def test_ask_json_usage_errors_print_the_error_object(
    sim: RelaySimulator, cli: Any, args: tuple[str, ...]
) -> None:
    out = cli("ask", "--base-url", sim.base_url, "--json", *args)
    assert out.returncode == EXIT_USAGE
    assert error_of(out.stdout)["message"]
    assert sim.requests == []


def test_ask_json_empty_prompt_prints_the_error_object(sim: RelaySimulator, cli: Any) -> None:
    out = cli("ask", "--base-url", sim.base_url, "--json", stdin="  \n")
    assert out.returncode == EXIT_USAGE and "empty" in error_of(out.stdout)["message"]


def test_a_request_rejected_before_any_answer_costs_nothing(sim: RelaySimulator, cli: Any) -> None:
    out = cli("ask", "--base-url", sim.base_url, "-m", "kimi-k3", "你好", "--json", "--max-retries", "0")
    assert out.returncode == EXIT_MODEL_NOT_FOUND
    data = json.loads(out.stdout)
    assert data["error"]["status"] == 404
    assert data["cost_usd"] is None and data["cost_estimated"] is False
    stats = stats_json(cli)
    assert stats["total"]["requests"] == 1 and stats["total"]["failures"] == 1
    assert stats["total"]["cost_usd"] == 0 and stats["total"]["priced"] == 0


def test_a_cut_answer_keeps_its_estimate(sim: RelaySimulator, cli: Any) -> None:
    out = cli("ask", "--base-url", sim.base_url, "-m", "kimi-k2+cut", "讲个故事", "--json")
    data = json.loads(out.stdout)
    assert data["content"] and data["error"]
    assert data["cost_usd"] and data["cost_estimated"] is True


def test_demo_answers_count_only_under_the_demo_profile(sim: RelaySimulator, cli: Any) -> None:
    for args in (("--base-url", sim.base_url, "真实的问题"), ("--demo", "演示的问题")):
        out = cli("ask", *args)
        assert out.returncode == 0, out.stderr
    real = stats_json(cli)
    assert real["total"]["requests"] == 1
    by_profile = stats_json(cli, "--by", "profile")
    assert "demo" not in [row["key"] for row in by_profile["rows"]]
    demo = stats_json(cli, "--profile", "demo")
    assert demo["total"]["requests"] == 1 and [row["key"] for row in demo["rows"]] == ["kimi-k2"]


def test_the_summary_writes_one_amount_one_way_and_says_cny(sim: RelaySimulator, cli: Any) -> None:
    out = cli("ask", "--base-url", sim.base_url, "-m", "deepseek-v3.2", "一句话")
    assert out.returncode == 0, out.stderr
    (line,) = [line for line in out.stderr.splitlines() if "billed" in line]
    match = re.search(r"\$(\d+\.\d+) · billed ¥(\d+\.\d+) CNY", line)
    assert match, line
    assert match.group(1) == match.group(2)  # billed at ¥1 = $1: the same amount, the same digits


def test_a_stopped_answer_has_estimated_token_counts_and_cost(
    sim: RelaySimulator, tmp_path: Path, cli: Any, flushed_partial: Callable[..., str]
) -> None:
    env = {"HOLYSHEEP_DATA_DIR": str(tmp_path / "数据")}
    proc = cli.popen(
        "ask", "--base-url", sim.base_url, "-m", "kimi-k2+tps=20", "--json", "慢慢讲一个长故事", env=env
    )
    try:
        partial = flushed_partial(tmp_path / "数据" / "history.db")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == EXIT_INTERRUPTED, err
    data = json.loads(out)
    assert data["content"].startswith(partial[:10])
    assert data["usage_estimated"] is True and data["cost_estimated"] is True
    assert data["usage"]["prompt_tokens"] > 0 and data["usage"]["completion_tokens"] > 0
    assert data["cost_usd"] > 0
    stats = stats_json(cli, env=env)
    assert stats["total"]["completion_tokens"] == data["usage"]["completion_tokens"]
    assert stats["total"]["cost_estimated"] is True
    listed = cli("history", "list", "--json", env=env)
    shown = json.loads(cli("history", "show", "--json", json.loads(listed.stdout)[0]["id"], env=env).stdout)
    (stored,) = [m for m in shown["conversations"][0]["messages"] if m["role"] == "assistant"]
    assert stored["status"] == "stopped" and stored["cost_estimated"] is True
    assert stored["prompt_tokens"] == data["usage"]["prompt_tokens"]
    assert stored["completion_tokens"] == data["usage"]["completion_tokens"]
