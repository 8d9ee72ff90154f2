"""`holysheep ask` and `holysheep models` as a user runs them: real subprocesses against the simulator."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from holysheep_tui.errors import (
    EXIT_AUTH,
    EXIT_BAD_REQUEST,
    EXIT_INTERRUPTED,
    EXIT_MODEL_NOT_FOUND,
    EXIT_NETWORK,
    EXIT_PROTOCOL,
    EXIT_QUOTA,
    EXIT_RATE_LIMIT,
    EXIT_USAGE,
)
from holysheep_tui.simulator import Pacing, RelaySimulator


@pytest.fixture
def sim(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    return make_simulator(pacing=Pacing(first_token_delay=0, tokens_per_second=None))


def test_ask_streams_an_answer_from_a_simulate_subprocess(cli: Any) -> None:
    server = cli.popen("simulate", "--port", "0", "--tps", "0", "--ttft", "0", stderr=None)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        out = cli("ask", "--base-url", url, "-m", "kimi-k2", "你好")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)
        if server.stdout:
            server.stdout.close()
    assert out.returncode == 0, out.stderr
    assert "你好" in out.stdout and len(out.stdout) > 50
    assert "kimi-k2" in out.stderr and "tokens" in out.stderr and "first token" in out.stderr


def test_ask_demo_needs_no_key_and_no_network(cli: Any) -> None:
    out = cli("ask", "--demo", "-m", "deepseek-v3.2", "用一句话介绍人民币结算")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
    assert "deepseek-v3.2" in out.stderr


def test_prompt_from_stdin_and_system_prompt_reach_the_server(sim: RelaySimulator, cli: Any) -> None:
    out = cli("ask", "--base-url", sim.base_url, "-s", "你是成本分析师", stdin="从标准输入来的问题\n")
    assert out.returncode == 0, out.stderr
    body = sim.requests[-1].json
    assert body["messages"][0] == {"role": "system", "content": "你是成本分析师"}
    assert body["messages"][1]["content"] == "从标准输入来的问题\n"
    assert body["model"] == "kimi-k2" and body["stream"] is True


def test_json_output_has_every_field(sim: RelaySimulator, cli: Any) -> None:
    out = cli("ask", "--base-url", sim.base_url, "-m", "gpt-4.1", "--json", "成本是多少？")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) >= {"content", "reasoning", "refusal", "model", "finish_reason", "usage", "timings", "cost_usd"}
    assert data["model"] == "gpt-4.1" and data["finish_reason"] == "stop"
    assert data["usage"]["completion_tokens"] > 0
    assert set(data["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens"}
    assert data["timings"]["ttft_ms"] is not None and data["cost_usd"] > 0
    assert "error" not in data


def test_reasoning_goes_to_stderr_only_when_asked(sim: RelaySimulator, cli: Any) -> None:
    plain = cli("ask", "--base-url", sim.base_url, "-m", "deepseek-reasoner", "-q", "先想一想")
    shown = cli("ask", "--base-url", sim.base_url, "-m", "deepseek-reasoner", "--show-reasoning", "-q", "先想一想")
    assert plain.returncode == shown.returncode == 0
    assert plain.stderr == ""
    assert len(shown.stderr.strip()) > 0
    assert shown.stdout == plain.stdout  # the answer itself is the same; reasoning never mixes into stdout


@pytest.mark.parametrize(
    ("scenario", "code", "words"),
    [
        ("401", EXIT_AUTH, "key"),
        ("402", EXIT_QUOTA, "balance"),
        ("quota", EXIT_QUOTA, "quota"),
        ("429", EXIT_RATE_LIMIT, "Rate limited"),
        ("500", EXIT_NETWORK, "HTTP 500"),
        ("502", EXIT_NETWORK, "502"),
        ("400ctx", EXIT_BAD_REQUEST, "context"),
        ("malformed", EXIT_PROTOCOL, "not JSON"),
        ("cut", EXIT_NETWORK, "before the answer finished"),
    ],
)
def test_failures_have_their_exit_code_and_json_error(
    sim: RelaySimulator, scenario: str, code: int, words: str, cli: Any
) -> None:
    out = cli("ask", "--base-url", sim.base_url, "-m", f"kimi-k2+{scenario}", "--max-retries", "0", "--json", "测试故障")
    assert out.returncode == code, out.stderr
    assert "Traceback" not in out.stderr
    assert words.lower() in out.stderr.lower()
    data = json.loads(out.stdout)
    assert data["error"]["type"] and data["error"]["message"]
    if scenario in ("malformed", "cut"):
        assert data["content"]  # what streamed before the failure stays


def test_unknown_model_suggests_close_names(sim: RelaySimulator, cli: Any) -> None:
    out = cli("ask", "--base-url", sim.base_url, "-m", "kimi-k3", "你好")
    assert out.returncode == EXIT_MODEL_NOT_FOUND
    assert "kimi-k2" in out.stderr


def test_retries_then_success_counted_on_the_server(sim: RelaySimulator, cli: Any) -> None:
    out = cli("ask", "--base-url", sim.base_url, "-m", "kimi-k2+503x2", "重试两次")
    assert out.returncode == 0, out.stderr
    assert sim.attempts("kimi-k2+503x2") == 3
    assert out.stderr.count("retrying in") == 2


def test_no_retry_after_content_has_streamed(sim: RelaySimulator, cli: Any) -> None:
    out = cli("ask", "--base-url", sim.base_url, "-m", "kimi-k2+cut", "只试一次")
    assert out.returncode == EXIT_NETWORK
    assert sim.attempts("kimi-k2+cut") == 1
    assert out.stdout.strip()  # the partial answer was printed and kept


def test_stall_gives_read_timeout_within_the_configured_time(sim: RelaySimulator, cli: Any) -> None:
    started = time.monotonic()
    out = cli("ask", "--base-url", sim.base_url, "-m", "kimi-k2+stall", "--timeout", "1", "会卡住的问题")
    assert out.returncode == EXIT_NETWORK
    assert "sent nothing for 1 s" in out.stderr
    assert out.stdout.strip()
    assert time.monotonic() - started < 30  # hang guard


def test_ctrl_c_exits_at_once_with_130_and_keeps_the_partial_answer(sim: RelaySimulator, cli: Any) -> None:
    proc = cli.popen("ask", "--base-url", sim.base_url, "-m", "kimi-k2+tps=20", "慢慢回答")
    assert proc.stdout is not None
    first = proc.stdout.read(1)  # wait for the answer to start
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == EXIT_INTERRUPTED
    assert first + out
    assert "Traceback" not in err
    rec = sim.requests[-1]
    for _ in range(100):
        if rec.client_disconnected:
            break
        time.sleep(0.05)
        rec = sim.requests[-1]
    assert rec.client_disconnected


def test_remote_endpoint_without_a_key_names_the_ways_to_set_one(cli: Any) -> None:
    out = cli("ask", "你好")
    assert out.returncode == EXIT_AUTH
    # No keyring in the test's environment: the ways that work here, not `key set`.
    assert "HOLYSHEEP_API_KEY" in out.stderr and "api_key_cmd" in out.stderr


def test_empty_prompt_is_a_usage_error(sim: RelaySimulator, cli: Any) -> None:
    out = cli("ask", "--base-url", sim.base_url, stdin="   \n")
    assert out.returncode == EXIT_USAGE and "empty" in out.stderr
    assert sim.requests == []


def test_key_is_sent_to_the_configured_relay(
    sim: RelaySimulator, cli: Any, make_simulator: Callable[..., RelaySimulator]
) -> None:
    key = "hs-cli-key-0123456789"
    guarded = make_simulator(require_key=key, pacing=Pacing())
    ok = cli("ask", "--base-url", guarded.base_url, "-q", "你好", env={"HOLYSHEEP_API_KEY": key})
    bad = cli("ask", "--base-url", guarded.base_url, "你好", env={"HOLYSHEEP_API_KEY": "hs-wrong"})
    assert ok.returncode == 0, ok.stderr
    assert bad.returncode == EXIT_AUTH and "HOLYSHEEP_API_KEY" in bad.stderr
    assert key not in bad.stderr + bad.stdout


def test_ask_records_history_unless_told_not_to(sim: RelaySimulator, tmp_path: Path, cli: Any) -> None:
    env = {"HOLYSHEEP_DATA_DIR": str(tmp_path / "data")}
    assert cli("ask", "--base-url", sim.base_url, "-q", "记住这个问题", env=env).returncode == 0
    assert cli("ask", "--base-url", sim.base_url, "-q", "--no-history", "别记住这个", env=env).returncode == 0
    listing = cli("history", "list", "--json", env=env)
    convs = json.loads(listing.stdout)
    assert len(convs) == 1
    shown = cli("history", "show", convs[0]["id"], "--json", env=env)
    assert "记住这个问题" in shown.stdout and "别记住这个" not in shown.stdout


def test_models_lists_context_and_prices(sim: RelaySimulator, cli: Any) -> None:
    out = cli("models", "--base-url", sim.base_url, "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["id"]: r for r in json.loads(out.stdout)}
    assert rows["gpt-4.1"]["output_per_m"] == 8.0
    assert rows["moonshot-v1-8k"]["context_window"] == 8192
    table = cli("models", "--base-url", sim.base_url)
    assert "deepseek-v3.2" in table.stdout and "CONTEXT" in table.stdout


def test_ask_says_where_a_damaged_history_went(sim: RelaySimulator, tmp_path: Path, cli: Any) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "history.db").write_bytes("这不是数据库 not a database".encode() * 100)
    out = cli("ask", "--base-url", sim.base_url, "-q", "历史坏了还能问吗", env={"HOLYSHEEP_DATA_DIR": str(data)})
    assert out.returncode == 0, out.stderr
    assert "moved to" in out.stderr and "history.db.corrupt-" in out.stderr
    assert out.stdout.strip()
