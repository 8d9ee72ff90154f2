"""The metrics log: exact line fields, no text or key, permissions, rotation, torn lines, errors."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from holysheep_tui import locations
from holysheep_tui.economics.metrics import MetricRecord, MetricsLog
from holysheep_tui.economics.prices import Cost
from holysheep_tui.errors import RateLimitError, StorageError
from holysheep_tui.relay.wire import Answer, ContentDelta, RetryScheduled, Timings, Usage, UsageReport

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
FIELDS = {
    "time", "profile", "model", "prompt_tokens", "completion_tokens", "cached_tokens", "ttft_ms", "total_ms",
    "tokens_per_s", "cost_usd", "cost_estimated", "success", "http_status", "error_type", "retries",
}  # fmt: skip
SECRET = "sk-holysheep-秘密-0123456789"


def _record(i: int = 0, **kw: object) -> MetricRecord:
    base: dict[str, object] = dict(time=T0 + timedelta(minutes=i), profile="默认", model="kimi-k2",
                                   prompt_tokens=100 + i, completion_tokens=50)  # fmt: skip
    base.update(kw)
    return MetricRecord(**base)  # type: ignore[arg-type]


def test_answer_record_has_exactly_the_documented_fields_and_no_text(tmp_path: Path) -> None:
    answer = Answer(model="kimi-k2")
    answer.apply(RetryScheduled(attempt=1, delay=0.5, reason="429"))
    answer.apply(ContentDelta(f"这是回答，不要记录它 {SECRET}"))
    answer.apply(UsageReport(Usage(prompt_tokens=1200, completion_tokens=300, total_tokens=1500, cached_tokens=200)))
    answer.timings = Timings(ttfb=0.1, ttft=0.25, total=1.25)
    log = MetricsLog(tmp_path / "m" / "metrics.jsonl")
    log.append(MetricRecord.for_answer("默认", answer, Cost(0.00123, estimated=False), when=T0))

    raw = (tmp_path / "m" / "metrics.jsonl").read_text(encoding="utf-8")
    assert raw.endswith("\n") and raw.count("\n") == 1
    assert "这是回答" not in raw and SECRET not in raw
    line = json.loads(raw)
    assert set(line) == FIELDS
    assert line == {
        "time": "2026-03-01T12:00:00.000Z", "profile": "默认", "model": "kimi-k2", "prompt_tokens": 1200,
        "completion_tokens": 300, "cached_tokens": 200, "ttft_ms": 250.0, "total_ms": 1250.0,
        "tokens_per_s": 300.0, "cost_usd": 0.00123, "cost_estimated": False, "success": True,
        "http_status": 200, "error_type": None, "retries": 1,
    }  # fmt: skip


def test_failure_record_keeps_kind_and_status_but_not_the_message(tmp_path: Path) -> None:
    err = RateLimitError(f"请求太多了 {SECRET}", status=429, provider_message=f"慢一点 {SECRET}", retry_after=3)
    log = MetricsLog(tmp_path / "metrics.jsonl")
    log.append(MetricRecord.for_failure("默认", "deepseek-chat", err, retries=2, when=T0))
    raw = (tmp_path / "metrics.jsonl").read_text(encoding="utf-8")
    assert SECRET not in raw and "请求太多了" not in raw and "慢一点" not in raw
    line = json.loads(raw)
    assert (line["success"], line["http_status"], line["error_type"], line["retries"]) == (False, 429, "rate_limit", 2)
    assert line["cost_usd"] is None


def test_file_is_0600_in_a_0700_dir_created_lazily_under_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOLYSHEEP_DATA_DIR", str(tmp_path / "数据"))
    log = MetricsLog()
    assert not (tmp_path / "数据").exists(), "nothing is created before the first append"
    log.append(_record())
    assert log.path == locations.metrics_file()
    assert stat.S_IMODE(os.stat(tmp_path / "数据").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(log.path).st_mode) == 0o600


def test_records_round_trip_and_since_filters(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "metrics.jsonl")
    records = [_record(i, cost_usd=0.001 * i, cost_estimated=i % 2 == 0) for i in range(5)]
    for r in records:
        log.append(r)
    assert log.read().records == records
    got = log.read(since=T0 + timedelta(minutes=3))
    assert got.records == records[3:] and got.skipped == 0


def test_rotation_keeps_n_files_and_reads_them_oldest_first(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    line_len = len(json.dumps(_record(0).to_json(), ensure_ascii=False, separators=(",", ":")).encode()) + 1
    log = MetricsLog(path, max_bytes=line_len * 3 + 10, keep=2)
    for i in range(10):  # 3 lines per file: [0-2] [3-5] [6-8] [9]
        log.append(_record(i))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.jsonl", "metrics.jsonl.1", "metrics.jsonl.2"]
    assert all(p.stat().st_size <= log.max_bytes for p in tmp_path.iterdir())
    assert [r.prompt_tokens - 100 for r in log.read().records] == [3, 4, 5, 6, 7, 8, 9]


def test_torn_last_line_and_garbage_are_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    log = MetricsLog(path)
    log.append(_record(0))
    with path.open("ab") as fh:
        fh.write(b"not json at all \xff\xfe\n")
        fh.write(b'{"time": "yesterday", "profile": "x"}\n')
        fh.write(b"[1, 2, 3]\n\n")
    log.append(_record(1))
    with path.open("ab") as fh:
        fh.write(json.dumps(_record(2).to_json(), ensure_ascii=False).encode()[:40])  # a crash mid-write
    got = log.read()
    assert [r.prompt_tokens for r in got.records] == [100, 101]
    assert got.skipped == 4
    log.append(_record(3))  # the next line starts on its own line after the torn one
    got = log.read()
    assert [r.prompt_tokens for r in got.records] == [100, 101, 103]
    assert got.skipped == 4


def test_missing_log_reads_as_empty(tmp_path: Path) -> None:
    got = MetricsLog(tmp_path / "nothing" / "metrics.jsonl").read()
    assert got.records == [] and got.skipped == 0


def test_disk_errors_become_storage_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "文件"
    blocker.write_text("a file where the directory should be", encoding="utf-8")
    log = MetricsLog(blocker / "metrics.jsonl")
    with pytest.raises(StorageError, match="Cannot write the metrics log"):
        log.append(_record())
    unreadable = MetricsLog(tmp_path)  # a directory in place of the file
    with pytest.raises(StorageError, match="Cannot read the metrics log"):
        unreadable.read()


def test_estimated_usage_fills_in_when_the_server_sent_none(tmp_path: Path) -> None:
    answer = Answer(model="moonshot-v1-8k")
    answer.apply(ContentDelta("你好"))
    estimate = Usage(prompt_tokens=12, completion_tokens=2, total_tokens=14)
    record = MetricRecord.for_answer("默认", answer, Cost(0.00001, estimated=True), usage=estimate, when=T0)
    assert (record.prompt_tokens, record.completion_tokens, record.cost_estimated) == (12, 2, True)
    assert record.tokens_per_s is None, "no timings, no speed"
