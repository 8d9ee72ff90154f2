"""Batch runs against the relay simulator over loopback: input, output, retries, concurrency, resume, Ctrl-C."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import stat
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from holysheep_tui import locations
from holysheep_tui.chat.batch import (
    BatchItem,
    BatchOutput,
    BatchRunner,
    BatchSummary,
    parse_items,
    read_items,
)
from holysheep_tui.chat.controller import ConversationController
from holysheep_tui.cli import main
from holysheep_tui.cli.batch import ProgressLine
from holysheep_tui.config import Profile, RetryPolicy
from holysheep_tui.economics.budget import BudgetLine, BudgetStatus
from holysheep_tui.economics.metrics import MetricRecord, MetricsLog
from holysheep_tui.economics.money import CurrencyView
from holysheep_tui.economics.prices import PriceBook
from holysheep_tui.errors import AuthError, BudgetExceededError, StorageError, UsageError
from holysheep_tui.relay.client import RelayClient
from holysheep_tui.relay.wire import ChatMessage
from holysheep_tui.simulator import Pacing, RecordedRequest, RelaySimulator

PROMPTS = [
    "你好，请介绍一下 HolySheep 中转",
    "用一句话解释 p95 延迟",
    "什么是 SSE 流式输出？",
    "人民币结算有什么好处？",
]
NO_WAIT = RetryPolicy(base_delay=0, max_delay=0)


@pytest.fixture
def sim(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    return make_simulator(pacing=Pacing(first_token_delay=0, tokens_per_second=None))


def last_user(req: RecordedRequest) -> str:
    return str([m for m in req.json["messages"] if m["role"] == "user"][-1]["content"])


def read_out(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), "OUT must end with a whole line"
    return [json.loads(line) for line in data.decode().splitlines()]


def make_runner(
    sim: RelaySimulator, items: list[BatchItem], out: Path, tmp_path: Path, **kw: Any
) -> BatchRunner:
    profile = Profile(base_url=sim.base_url, model="kimi-k2", retry=NO_WAIT)
    controller = ConversationController(
        RelayClient(profile, None),
        profile_name="测试",
        metrics=MetricsLog(tmp_path / "metrics.jsonl"),
        prices=PriceBook(),
    )
    output = BatchOutput.open(out, rerun={i.key for i in items})
    return BatchRunner(controller, items, output, model="kimi-k2", retry_policy=NO_WAIT, **kw)


async def run_once(runner: BatchRunner) -> BatchSummary:
    try:
        return await runner.run()
    finally:
        await runner.controller.client.aclose()
        runner.output.close()


def jsonl(*objs: dict[str, Any]) -> str:
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs)


# ---- input ---------------------------------------------------------------------------------------


def test_text_input_one_prompt_per_non_empty_line_id_is_line_number() -> None:
    items = parse_items(f"{PROMPTS[0]}\n\n  {PROMPTS[1]}  \r\n{PROMPTS[2]}\n")
    assert [(i.id, i.prompt) for i in items] == [("1", PROMPTS[0]), ("3", PROMPTS[1]), ("4", PROMPTS[2])]


def test_jsonl_detected_by_first_line_or_extension(tmp_path: Path) -> None:
    text = jsonl({"id": "甲", "prompt": PROMPTS[0], "model": "deepseek-v3.2"}, {"id": 7, "messages": [
        {"role": "system", "content": "简短回答"}, {"role": "user", "content": PROMPTS[1]}]})  # fmt: skip
    items = parse_items("\n" + text)
    assert items[0] == BatchItem("甲", 2, prompt=PROMPTS[0], model="deepseek-v3.2")
    assert items[1].key == "7" and items[1].messages == (
        ChatMessage("system", "简短回答"),
        ChatMessage("user", PROMPTS[1]),
    )
    path = tmp_path / "问题.jsonl"
    path.write_text('\ufeff {"prompt": "编号默认为行号"}\n', encoding="utf-8")
    assert read_items(str(path)) == [BatchItem("1", 1, prompt="编号默认为行号")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "a", "prompt": "未闭合', "line 2: not valid JSON"),
        ('["不是对象"]', "line 2: expected a JSON object"),
        ('{"id": "b"}', 'line 2: give exactly one of "prompt" and "messages"'),
        ('{"id": "b", "prompt": "   "}', "line 2: prompt must be a non-empty string"),
        ('{"id": "b", "messages": [{"role": "tool", "content": "你好"}]}', "line 2: message 1 needs a role"),
        ('{"id": "a", "prompt": "重复的编号"}', "line 2: id 'a' was already used on line 1"),
        ('{"id": true, "prompt": "布尔编号"}', "line 2: id must be"),
    ],
)
def test_malformed_input_names_the_line(line: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_items('{"id": "a", "prompt": "第一行"}\n' + line + "\n", name="in.jsonl")
    assert f"in.jsonl {message}" in str(info.value)


def test_malformed_input_sends_nothing_and_exits_2(
    sim: RelaySimulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(jsonl({"id": "1", "prompt": PROMPTS[0]}) + '{"id": "2", "prompt": 坏}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(src), "-o", str(out), "--base-url", sim.base_url]) == 2
    assert "line 2: not valid JSON" in capsys.readouterr().err
    assert sim.requests == [] and not out.exists()


# ---- running -------------------------------------------------------------------------------------


def test_cli_text_batch_writes_one_private_line_per_item_metrics_and_no_history(
    sim: RelaySimulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    isolated_dirs: Path,
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
) -> None:
    src = tmp_path / "prompts.txt"
    src.write_text("\n".join(PROMPTS) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    rc = main(
        ["batch", str(src), "-o", str(out), "--base-url", sim.base_url, "-m", "kimi-k2", "-s", "用中文回答"]
    )
    assert rc == 0
    lines = read_out(out)
    assert sorted(r["id"] for r in lines) == ["1", "2", "3", "4"]
    for r in lines:
        prompt = PROMPTS[int(r["id"]) - 1]
        assert r["status"] == "ok" and r["error"] is None and r["finish_reason"] == "stop"
        assert prompt in r["content"] and r["model"] == "kimi-k2"
        assert r["usage"]["completion_tokens"] > 0 and r["cost_usd"] > 0 and r["cost_estimated"] is False
        assert r["timings"]["total_ms"] >= r["timings"]["ttft_ms"] >= 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert all(
        r.json["messages"][0] == {"role": "system", "content": "用中文回答"} for r in chats(sim)
    )
    metrics = locations.metrics_file().read_text(encoding="utf-8").splitlines()
    assert len(metrics) == 4 and all(json.loads(m)["success"] for m in metrics)
    assert not list(isolated_dirs.rglob("history.db")), "batch items are not recorded in the history"
    err = capsys.readouterr().err
    assert "4 items · 4 ok · 0 failed · 0 skipped" in err and "p95" in err and "billed ¥" in err


async def test_jsonl_messages_are_sent_as_given_with_per_item_model(
    sim: RelaySimulator, tmp_path: Path, chats: Callable[[RelaySimulator], list[RecordedRequest]]
) -> None:
    history = [
        {"role": "user", "content": "记住：暗号是青山"},
        {"role": "assistant", "content": "好的，我记住了。"},
        {"role": "user", "content": "暗号是什么？"},
    ]
    items = parse_items(
        jsonl(
            {"id": "对话", "messages": history, "model": "deepseek-v3.2"},
            {"id": "单句", "prompt": PROMPTS[1]},
        )
    )
    summary = await run_once(make_runner(sim, items, tmp_path / "out.jsonl", tmp_path, system="简短"))
    assert (summary.ok, summary.failed) == (2, 0)
    by_model = {r.json["model"]: r.json["messages"] for r in chats(sim)}
    assert by_model["deepseek-v3.2"] == [{"role": "system", "content": "简短"}, *history]
    assert by_model["kimi-k2"] == [
        {"role": "system", "content": "简短"},
        {"role": "user", "content": PROMPTS[1]},
    ]
    assert {r["id"]: r["model"] for r in read_out(tmp_path / "out.jsonl")} == {
        "对话": "deepseek-v3.2",
        "单句": "kimi-k2",
    }


async def test_failed_items_are_recorded_and_the_rest_go_on(sim: RelaySimulator, tmp_path: Path) -> None:
    items = parse_items(jsonl(
        {"id": "坏请求", "prompt": PROMPTS[0], "model": "kimi-k2+400"},
        {"id": "总被截断", "prompt": PROMPTS[1], "model": "kimi-k2+cut"},
        {"id": "截断一次", "prompt": PROMPTS[2], "model": "kimi-k2+cutx1"},
        {"id": "正常", "prompt": PROMPTS[3]},
    ))  # fmt: skip
    summary = await run_once(make_runner(sim, items, tmp_path / "out.jsonl", tmp_path, max_retries=2))
    rows = {r["id"]: r for r in read_out(tmp_path / "out.jsonl")}
    assert rows["坏请求"]["status"] == "error" and rows["坏请求"]["error"]["type"] == "bad_request"
    assert rows["坏请求"]["error"]["status"] == 400 and rows["坏请求"]["attempts"] == 1
    cut = rows["总被截断"]
    assert cut["status"] == "error" and cut["error"]["type"] == "stream_cut" and cut["attempts"] == 3
    assert sim.attempts("kimi-k2+cut") == 3, "a cut answer is retried, but only --max-retries times"
    assert rows["截断一次"]["status"] == "ok" and rows["截断一次"]["attempts"] == 2
    assert rows["正常"]["status"] == "ok"
    assert (summary.ok, summary.failed, summary.stopped_by) == (2, 2, None)


def test_concurrency_is_honoured_server_side(
    tmp_path: Path,
    make_simulator: Callable[..., RelaySimulator],
    run_cli: Callable[[list[str]], subprocess.Popen[str]],
) -> None:
    """The server never has more than N requests of the batch open at once, and does reach N."""
    server = make_simulator(pacing=Pacing(first_token_delay=0.15, tokens_per_second=None))
    src = tmp_path / "prompts.txt"
    src.write_text(
        "\n".join(f"第 {i} 个问题：{PROMPTS[i % 4]}" for i in range(9)) + "\n", encoding="utf-8"
    )
    peak = [0]

    def watch() -> None:
        for n in range(1, 10):
            try:
                seen = server.wait_for_requests(n, timeout=60)
            except TimeoutError:
                return
            peak[0] = max(peak[0], sum(not r.finished for r in seen))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    proc = run_cli(
        ["batch", str(src), "-o", str(tmp_path / "out.jsonl"), "--base-url", server.base_url, "-c", "3"]
    )
    assert proc.wait(timeout=60) == 0
    watcher.join(timeout=10)
    assert peak[0] == 3
    assert len(read_out(tmp_path / "out.jsonl")) == 9


async def test_fatal_auth_error_stops_starting_items(sim: RelaySimulator, tmp_path: Path) -> None:
    items = parse_items("\n".join(PROMPTS))
    summary = await run_once(make_runner(sim, items, tmp_path / "out.jsonl", tmp_path, concurrency=1))
    assert summary.stopped_by is None  # control: the same items run fine
    items401 = [BatchItem(i.id, i.line, prompt=i.prompt, model="kimi-k2+401") for i in items]
    summary = await run_once(make_runner(sim, items401, tmp_path / "out401.jsonl", tmp_path, concurrency=1))
    assert isinstance(summary.stopped_by, AuthError) and summary.failed == 1
    assert sim.attempts("kimi-k2+401") == 1 and len(read_out(tmp_path / "out401.jsonl")) == 1


async def test_budget_used_up_mid_run_stops_starting_items(
    sim: RelaySimulator, tmp_path: Path, chats: Callable[[RelaySimulator], list[RecordedRequest]]
) -> None:
    budget = BudgetStatus("测试", daily=BudgetLine("day", limit_usd=1e-9, spent_usd=0.0))
    items = parse_items("\n".join(PROMPTS))
    summary = await run_once(
        make_runner(sim, items, tmp_path / "out.jsonl", tmp_path, concurrency=1, budget=budget)
    )
    assert isinstance(summary.stopped_by, BudgetExceededError)
    assert (summary.ok, len(chats(sim))) == (1, 1)


def test_cli_refuses_a_spent_budget_before_sending_unless_over_budget(
    sim: RelaySimulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
) -> None:
    config = locations.config_file()
    config.parent.mkdir(parents=True)
    config.write_text(
        f'[profiles."本地"]\nbase_url = "{sim.base_url}"\nmodel = "kimi-k2"\nbudget_daily_usd = 0.5\n',
        encoding="utf-8",
    )
    MetricsLog().append(MetricRecord(time=datetime.now(UTC), profile="本地", model="kimi-k2", cost_usd=0.6))
    src = tmp_path / "prompts.txt"
    src.write_text("\n".join(PROMPTS[:2]) + "\n", encoding="utf-8")
    argv = ["batch", str(src), "-o", str(tmp_path / "out.jsonl"), "--profile", "本地"]
    assert main(argv) == 11
    assert "--over-budget" in capsys.readouterr().err and chats(sim) == []
    assert main([*argv, "--over-budget"]) == 0
    assert len(chats(sim)) == 2


# ---- resume --------------------------------------------------------------------------------------


async def test_resume_after_cancel_sends_no_request_twice_for_finished_items(
    sim: RelaySimulator, tmp_path: Path, chats: Callable[[RelaySimulator], list[RecordedRequest]]
) -> None:
    quick = [{"id": f"快{i}", "prompt": f"快速问题 {i}：{PROMPTS[i % 4]}"} for i in range(6)]
    slow = [
        {"id": f"慢{i}", "prompt": f"慢速问题 {i}", "model": f"kimi-k2+hangx1,len={30 + i}"} for i in range(2)
    ]
    items = parse_items(jsonl(*slow[:1], *quick[:3], *slow[1:], *quick[3:]))
    out = tmp_path / "out.jsonl"
    six_done = asyncio.Event()

    def progress(s: BatchSummary) -> None:
        if s.done >= 6:
            six_done.set()

    runner = make_runner(sim, items, out, tmp_path, concurrency=3, on_progress=progress)
    task = asyncio.create_task(run_once(runner))
    await asyncio.wait_for(six_done.wait(), timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runner.summary.interrupted
    first = read_out(out)
    assert sorted(r["id"] for r in first) == sorted(q["id"] for q in quick)
    assert len(chats(sim)) == 8  # the two slow ones were in flight when cancelled

    summary = await run_once(make_runner(sim, items, out, tmp_path, concurrency=3))
    assert (summary.skipped, summary.ok, summary.failed) == (6, 2, 0)
    per_prompt = Counter(last_user(r) for r in chats(sim))
    assert all(per_prompt[q["prompt"]] == 1 for q in quick), per_prompt
    assert all(per_prompt[s["prompt"]] == 2 for s in slow), per_prompt
    final = read_out(out)
    assert sorted(r["id"] for r in final) == sorted(i.key for i in items) and all(
        r["status"] == "ok" for r in final
    )


async def test_torn_last_line_is_cut_and_failed_items_rerun(
    sim: RelaySimulator, tmp_path: Path, chats: Callable[[RelaySimulator], list[RecordedRequest]]
) -> None:
    out = tmp_path / "out.jsonl"
    ok = {"id": "1", "status": "ok", "content": "已完成的回答"}
    failed = {"id": "2", "status": "error", "content": "", "error": {"type": "server"}}
    out.write_bytes(jsonl(ok, failed).encode() + '{"id": "3", "status": "ok", "content": "被截'.encode())
    items = parse_items("\n".join(PROMPTS[:3]))
    summary = await run_once(make_runner(sim, items, out, tmp_path))
    assert (summary.skipped, summary.ok) == (1, 2)
    assert sorted(last_user(r) for r in chats(sim)) == sorted(PROMPTS[1:3])
    rows = read_out(out)
    assert rows[0] == ok and sorted(r["id"] for r in rows) == ["1", "2", "3"]
    assert all(r["status"] == "ok" for r in rows)


def test_output_that_is_not_batch_results_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "notes.jsonl"
    out.write_text('{"标题": "别的文件"}\n', encoding="utf-8")
    with pytest.raises(UsageError, match="line 1 is not a batch result line"):
        BatchOutput.open(out)
    assert out.read_text(encoding="utf-8") == '{"标题": "别的文件"}\n'


def test_unwritable_output_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        BatchOutput.open(tmp_path / "没有这个目录" / "out.jsonl")


# ---- a real process, interrupted -----------------------------------------------------------------


@pytest.fixture
def run_cli(cli: Any) -> Callable[[list[str]], subprocess.Popen[str]]:
    """``run_cli(argv)``: ``holysheep ARGV`` started with unbuffered output (progress lines as they come)."""
    return lambda argv: cli.popen(*argv, env={"PYTHONUNBUFFERED": "1"})


def test_sigint_mid_batch_leaves_valid_jsonl_exits_130_and_resumes(
    tmp_path: Path,
    make_simulator: Callable[..., RelaySimulator],
    run_cli: Callable[[list[str]], subprocess.Popen[str]],
) -> None:
    server = make_simulator(pacing=Pacing(first_token_delay=0, tokens_per_second=60))
    src = tmp_path / "prompts.txt"
    prompts = [f"第 {i} 题：{PROMPTS[i % 4]}" for i in range(8)]
    src.write_text("\n".join(prompts) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    argv = [
        "batch",
        str(src),
        "-o",
        str(out),
        "--base-url",
        server.base_url,
        "-m",
        "kimi-k2+len=40",
        "-c",
        "2",
    ]
    proc = run_cli(argv)
    try:
        for _ in range(600):  # until the first results are written (hang guard: 60 s)
            if out.exists() and out.read_bytes().count(b"\n") >= 2:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert rc == 130, err
    assert "Run the same command again to resume" in err and "Traceback" not in err
    first = read_out(out)
    assert 2 <= len(first) < 8 and all(r["status"] == "ok" for r in first)

    again = run_cli(argv)
    assert again.wait(timeout=60) == 0
    per_prompt = Counter(last_user(r) for r in server.requests)
    for r in first:
        assert per_prompt[prompts[int(r["id"]) - 1]] == 1, "a finished item was sent again"
    assert sorted(int(r["id"]) for r in read_out(out)) == list(range(1, 9))


# ---- progress ------------------------------------------------------------------------------------


def test_progress_without_a_terminal_prints_a_line_every_tenth() -> None:
    stream = io.StringIO()
    line = ProgressLine(stream, tty=False, view=CurrencyView())
    s = BatchSummary(items=40)
    for _ in range(40):
        s.ok += 1
        s.completion_tokens += 10
        s.cost_usd += 0.001
        s.elapsed += 0.5
        line.update(s)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 11 and lines[-1].startswith("[####################] 40/40")
    assert lines[0] == "[....................] 1/40 · 20 tok/s · ¥0.0010 · ETA 0:20"
    assert "ETA 0:16" in lines[2] and "ETA" not in lines[-1]


def test_progress_on_a_terminal_redraws_one_line() -> None:
    stream = io.StringIO()
    line = ProgressLine(stream, tty=True, view=CurrencyView(currency="USD"))
    s = BatchSummary(items=3, failed=1, elapsed=1.0)
    line.update(s)
    line.finish()
    assert stream.getvalue() == "\r\x1b[2K[######..............] 1/3 · 1 failed · $0.00 · ETA 0:02\r\x1b[2K"


# ---- one writer per output file ------------------------------------------------------------------


def test_a_second_writer_of_the_same_output_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    out = tmp_path / "结果.jsonl"
    first = BatchOutput.open(out)
    first.write({"id": "1", "status": "ok", "content": "第一条"})
    with pytest.raises(UsageError, match=f"Another holysheep batch \\(pid {os.getpid()}\\) is writing"):
        BatchOutput.open(tmp_path / "." / "结果.jsonl")  # the same file by another spelling
    other = BatchOutput.open(tmp_path / "另一个.jsonl")  # another file: no conflict
    other.close()
    first.close()
    again = BatchOutput.open(out)
    assert again.done == {"1"}
    again.close()
    assert read_out(out) == [{"id": "1", "status": "ok", "content": "第一条"}]


def test_two_batch_processes_on_one_output_the_second_exits_2_and_the_first_finishes(
    tmp_path: Path,
    make_simulator: Callable[..., RelaySimulator],
    run_cli: Callable[[list[str]], subprocess.Popen[str]],
) -> None:
    server = make_simulator(pacing=Pacing(first_token_delay=0, tokens_per_second=60))
    src = tmp_path / "prompts.txt"
    src.write_text("\n".join(f"第 {i} 题：{PROMPTS[i % 4]}" for i in range(6)) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    argv = ["batch", str(src), "-o", str(out), "--base-url", server.base_url, "-m", "kimi-k2+len=60", "-q"]
    first = run_cli([*argv, "-c", "1"])  # about a second per item
    try:
        for _ in range(600):  # until the first run has written a line (hang guard: 60 s)
            if out.exists() and out.read_bytes().count(b"\n") >= 1:
                break
            time.sleep(0.1)
        second = run_cli(argv)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2, err
        assert f"Another holysheep batch (pid {first.pid}) is writing" in err and "Traceback" not in err
        _, first_err = first.communicate(timeout=60)
        assert first.returncode == 0, first_err
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    rows = read_out(out)
    assert sorted(int(r["id"]) for r in rows) == list(range(1, 7)) and all(r["status"] == "ok" for r in rows)
