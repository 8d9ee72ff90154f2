"""The command line in Simplified Chinese (issue 18): help, argparse's own words, tables, messages and
usage errors in Chinese under LANG=zh_CN.UTF-8, with the exit codes and the machine output of English."""

from __future__ import annotations

import json
import os
import pty
import struct
import zlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from holysheep_tui.economics.metrics import MetricRecord, MetricsLog
from holysheep_tui.errors import EXIT_AUTH, EXIT_BAD_REQUEST, EXIT_OK, EXIT_USAGE
from holysheep_tui.linebreak import cell_len
from holysheep_tui.simulator import RelaySimulator
from tests.harness import Cli

ZH = {"LANG": "zh_CN.UTF-8"}


def test_help_speaks_chinese_argparse_words_included(cli: Cli) -> None:
    english = cli("--help")
    chinese = cli("--help", env=ZH)
    assert english.returncode == chinese.returncode == EXIT_OK
    assert (
        english.stdout.startswith("usage: holysheep") and "show this help message and exit" in english.stdout
    )
    out = chinese.stdout
    assert out.startswith("用法：holysheep"), out
    assert "选项" in out and "位置参数" in out and "显示本帮助信息并退出" in out
    assert "终端聊天客户端" in out  # the description
    assert "在系统密钥环中保存、查看或删除 API 密钥" in out  # a subcommand's one-line help
    assert "使用内置的中转服务模拟器：无需密钥，也不联网" in out  # the common options
    for english_word in ("usage:", "options:", "show this help", "store, inspect or delete"):
        assert english_word not in out, english_word


def test_key_help_speaks_chinese(cli: Cli) -> None:
    done = cli("key", "--help", env=ZH)
    assert done.returncode == EXIT_OK
    out = done.stdout
    assert out.startswith("用法：holysheep key"), out
    assert "管理保存在系统密钥环中的 API 密钥" in out
    assert "显示密钥的来源，密钥只显示最后 4 位" in out and "从密钥环中删除密钥" in out
    assert "选项" in out and "usage:" not in out and "options:" not in out
    status = cli("key", "status", "--help", env=ZH)
    assert "以 JSON 输出状态" in status.stdout and "接入点" in status.stdout


@pytest.fixture
def metrics_dir(tmp_path: Path) -> Path:
    """A metrics log with two models (one named in Chinese, one without a price) and a torn last line."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    log = MetricsLog(tmp_path / "metrics.jsonl")
    for i, (model, cost) in enumerate([("kimi-k2", 0.01), ("kimi-k2", 0.02), ("通义千问-max", None)]):
        log.append(
            MetricRecord(
                time=now + timedelta(seconds=i),
                profile="默认",
                model=model,
                prompt_tokens=100,
                completion_tokens=10,
                cached_tokens=0,
                ttft_ms=80.0,
                total_ms=900.0,
                cost_usd=cost,
                success=True,
                http_status=200,
                error_type=None,
            )  # fmt: skip
        )
    with (tmp_path / "metrics.jsonl").open("ab") as fh:
        fh.write(b'{"time": "2026-')
    return tmp_path


def test_stats_table_has_chinese_headers_and_stays_aligned(cli: Cli, metrics_dir: Path) -> None:
    env = {**ZH, "HOLYSHEEP_DATA_DIR": str(metrics_dir), "HOLYSHEEP_CONFIG": str(metrics_dir / "none.toml")}
    done = cli("stats", env=env)
    assert done.returncode == EXIT_OK, done.stderr
    table = done.stdout.splitlines()[:4]
    assert table[0].split()[:4] == ["模型", "请求数", "失败率", "输入词元"], table[0]
    assert "首词元" in table[0] and "REQS" not in table[0]
    assert table[1].startswith("kimi-k2") and table[2].startswith("通义千问-max")
    assert "未知" in table[2], "a model without a price says so in Chinese"
    assert table[3].startswith("合计")
    assert len({cell_len(line) for line in table}) == 1, "columns align with wide characters"
    rest = done.stdout.splitlines()[4:]
    assert any(line.startswith("延迟只统计成功的请求") for line in rest), rest
    assert "指标日志中 1 行无法读取" in done.stderr and "unreadable" not in done.stderr


def test_history_list_with_no_history_says_so_in_chinese(cli: Cli, tmp_path: Path) -> None:
    env = {"HOLYSHEEP_DATA_DIR": str(tmp_path)}
    english = cli("history", "list", env=env)
    chinese = cli("history", "list", env={**env, **ZH})
    assert english.returncode == chinese.returncode == EXIT_OK
    assert "No conversations yet." in english.stderr
    assert chinese.stderr.strip() == "还没有对话。" and chinese.stdout == ""


@pytest.mark.parametrize(
    ("args", "english_words", "chinese_words"),
    [
        (
            ("history", "list", "--bogus"),
            "error: unrecognized arguments: --bogus",
            "错误：无法识别的参数：--bogus",
        ),
        (("stats", "--by", "星期"), "invalid choice: '星期'", "无效的选择：'星期'（可选值："),
        (("batch",), "the following arguments are required: INPUT", "缺少必需的参数：INPUT"),
    ],
)
def test_a_usage_error_is_in_chinese_with_the_exit_code_of_english(
    cli: Cli, args: tuple[str, ...], english_words: str, chinese_words: str
) -> None:
    english = cli(*args)
    chinese = cli(*args, env=ZH)
    assert english.returncode == chinese.returncode == EXIT_USAGE
    assert english_words in english.stderr and english.stderr.startswith("usage: ")
    assert chinese_words in chinese.stderr, chinese.stderr
    assert chinese.stderr.startswith("用法：holysheep") and "usage:" not in chinese.stderr
    assert "Traceback" not in chinese.stderr


def test_models_table_in_chinese_and_json_the_same_in_both_languages(
    cli: Cli, make_simulator: Callable[..., RelaySimulator]
) -> None:
    sim = make_simulator()
    english = cli("models", "--base-url", sim.base_url, "--json", env={"HOLYSHEEP_API_KEY": "sk-x"})
    chinese = cli("models", "--base-url", sim.base_url, "--json", env={"HOLYSHEEP_API_KEY": "sk-x", **ZH})
    assert english.returncode == chinese.returncode == EXIT_OK, chinese.stderr
    assert english.stdout == chinese.stdout
    assert json.loads(chinese.stdout)[0]["id"]
    table = cli("models", "--base-url", sim.base_url, env={"HOLYSHEEP_API_KEY": "sk-x", **ZH})
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["模型", "上下文", "输入", "$/百万", "输出", "$/百万"], lines[0]
    assert len({cell_len(line) for line in lines}) == 1, "columns align with wide characters"


def test_a_relay_error_reads_in_chinese_with_the_same_exit_code(
    cli: Cli, make_simulator: Callable[..., RelaySimulator]
) -> None:
    """A key the relay refuses (401): the relay failure's message and hint in Chinese, exit code 3."""
    sim = make_simulator(require_key="sk-right")
    args = ("models", "--base-url", sim.base_url)
    english = cli(*args, env={"HOLYSHEEP_API_KEY": "sk-wrong"})
    chinese = cli(*args, env={"HOLYSHEEP_API_KEY": "sk-wrong", **ZH})
    assert english.returncode == chinese.returncode == EXIT_AUTH
    assert "The relay rejected the API key" in english.stderr
    assert "中转服务拒绝了 API 密钥（来源：环境变量 HOLYSHEEP_API_KEY；HTTP 401）。" in chinese.stderr, (
        chinese.stderr
    )
    assert "请检查密钥" in chinese.stderr and "rejected" not in chinese.stderr
    assert "sk-wrong" not in chinese.stderr, "the key never appears in an error"


# ---- holysheep ask ---------------------------------------------------------------------------------


def test_ask_help_speaks_chinese(cli: Cli) -> None:
    english = cli("ask", "--help")
    done = cli("ask", "--help", env=ZH)
    assert english.returncode == done.returncode == EXIT_OK
    assert "Send one prompt and stream the answer to stdout." in english.stdout
    out = done.stdout
    assert out.startswith("用法：holysheep ask"), out
    assert "发送一条提示词" in out  # the description
    assert "提示词（默认：从标准输入读取）" in out and "采样温度" in out and "随提示词发送 FILE" in out
    assert "对话超出模型的上下文窗口时" in out and "接入点" in out
    assert "--attach FILE" in out and "{compact,recent,fail}" in out  # options and choices stay as typed
    for english_words in ("usage:", "Send one prompt", "sampling temperature", "the prompt (default"):
        assert english_words not in out, english_words


def _ask_at_a_terminal(cli: Cli, env: Mapping[str, str]) -> tuple[int, str]:
    """``holysheep ask`` with no prompt, typed at a terminal (stdin a pty: nothing is piped in)."""
    primary, secondary = pty.openpty()
    try:
        proc = cli.popen("ask", env=env, stdin=secondary)
        os.close(secondary)
        secondary = -1
        _out, err = proc.communicate(timeout=60)
    finally:
        os.close(primary)
        if secondary >= 0:
            os.close(secondary)
    return proc.returncode, err


def test_ask_without_a_prompt_is_a_chinese_usage_error_with_the_exit_code_of_english(cli: Cli) -> None:
    english_code, english = _ask_at_a_terminal(cli, {})
    code, chinese = _ask_at_a_terminal(cli, ZH)
    assert english_code == code == EXIT_USAGE
    assert "No prompt given." in english and 'Usage: holysheep ask "your question"' in english
    assert chinese.startswith("holysheep: 用法错误：没有给出提示词。"), chinese
    assert '用法：holysheep ask "你的问题"（或通过管道输入文本）' in chinese
    assert "No prompt" not in chinese and "Usage" not in chinese and "Traceback" not in chinese
    empty = cli("ask", stdin="  \n", env=ZH)  # piped, but nothing in it
    assert empty.returncode == EXIT_USAGE
    assert empty.stderr.strip() == "holysheep: 用法错误：提示词为空。", empty.stderr


def _png() -> bytes:
    """A real, decodable PNG (4 x 3, every pixel red)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 4 for _ in range(3))
    header = struct.pack(">IIBBBBB", 4, 3, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_an_image_for_a_text_only_model_is_refused_in_chinese_with_exit_10(
    cli: Cli, simulator: RelaySimulator, tmp_path: Path
) -> None:
    image = tmp_path / "猫咪.png"
    image.write_bytes(_png())
    args = ("ask", "--base-url", simulator.base_url, "-m", "deepseek-v3.2", "-a", str(image))
    english = cli(*args, "你好")
    chinese = cli(*args, "你好", env=ZH)
    assert english.returncode == chinese.returncode == EXIT_BAD_REQUEST
    assert "deepseek-v3.2 does not read images" in english.stderr
    err = chinese.stderr
    assert err.startswith("holysheep: 该模型无法识别图片：deepseek-v3.2 无法识别图片。"), err
    assert "请用 -m 换一个能识别图片的模型（gpt-4.1" in err and "或从 -a 中去掉图片（猫咪.png）。" in err
    assert "does not read images" not in err and "Traceback" not in err
    assert not [r for r in simulator.requests if r.path.endswith("/chat/completions")], "nothing was sent"
    machine = cli(*args, "--json", "你好", env=ZH)  # what a program reads is English in every language
    assert machine.returncode == EXIT_BAD_REQUEST
    error = json.loads(machine.stdout)["error"]
    assert error["type"] == "no_vision" and "deepseek-v3.2 does not read images" in error["message"]


def test_a_successful_ask_gives_the_figures_in_chinese_and_the_answer_unchanged(
    cli: Cli, simulator: RelaySimulator
) -> None:
    args = ("ask", "--base-url", simulator.base_url, "-m", "kimi-k2", "用一句话介绍长城")
    english = cli(*args)
    chinese = cli(*args, env=ZH)
    assert english.returncode == chinese.returncode == EXIT_OK, chinese.stderr
    assert "长城" in chinese.stdout and chinese.stdout == english.stdout
    assert "tokens · first token" in english.stderr and "· billed ¥" in english.stderr
    (line,) = chinese.stderr.splitlines()
    assert line.startswith("kimi-k2 · 词元 "), line
    assert "· 首词元 " in line and " 毫秒 · 总耗时 " in line and "· 计费 ¥" in line and line.endswith(" CNY")
    for english_words in ("tokens", "first token", "total", "billed"):
        assert english_words not in line, english_words


def test_a_comparison_speaks_chinese_on_both_streams(cli: Cli, simulator: RelaySimulator) -> None:
    """``ask --models``: the estimate line on stderr and each answer's figures under its header."""
    done = cli(
        "ask", "--base-url", simulator.base_url, "--models", "kimi-k2,deepseek-v3.2", "对比一下", env=ZH
    )
    assert done.returncode == EXIT_OK, done.stderr
    first = done.stderr.splitlines()[0]
    assert first.startswith("holysheep: 正在发送给 2 个模型；输入 ≈$"), first
    assert "（计费 ≈¥" in first and "sending" not in first
    out = done.stdout
    assert "── kimi-k2 (1/2) ──" in out and "── deepseek-v3.2 (2/2) ──" in out
    figures = [line for line in out.splitlines() if " · 词元 " in line]
    assert len(figures) == 2 and all("· 计费 ¥" in line for line in figures), out
    assert "first token" not in out and "billed" not in out
