"""Stats: nearest-rank percentiles on known data, grouping, --since, and `holysheep stats` as a subprocess."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from holysheep_tui.economics.metrics import MetricRecord, MetricsLog
from holysheep_tui.economics.money import CurrencyView
from holysheep_tui.economics.stats import Distribution, parse_since, percentile, summarise, summarise_total
from holysheep_tui.errors import EXIT_USAGE, UsageError
from holysheep_tui.linebreak import cell_len

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_nearest_rank_percentiles_on_known_data() -> None:
    hundred = [float(v) for v in range(100, 0, -1)]  # 1..100, unsorted
    assert (percentile(hundred, 50), percentile(hundred, 95), percentile(hundred, 99)) == (50, 95, 99)
    ten = [float(v) for v in range(1, 11)]
    assert (percentile(ten, 50), percentile(ten, 95), percentile(ten, 99)) == (5, 10, 10)
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    d = Distribution.of([100.0, 200.0, 300.0, 400.0])
    assert (d.count, d.mean, d.p50, d.p95, d.p99) == (4, 250.0, 200.0, 400.0, 400.0)


def _rec(i: int, model: str, *, ok: bool = True, ms: float = 1000.0, cost: float | None = 0.01,
         profile: str = "默认", when: datetime = T0) -> MetricRecord:  # fmt: skip
    return MetricRecord(time=when + timedelta(seconds=i), profile=profile, model=model, prompt_tokens=100,
                        completion_tokens=10, cached_tokens=5, ttft_ms=ms / 10, total_ms=ms, cost_usd=cost,
                        success=ok, http_status=200 if ok else 503, error_type=None if ok else "server")  # fmt: skip


def test_summary_by_model_counts_failures_tokens_cost_and_latency_of_successes() -> None:
    records = [_rec(i, "kimi-k2", ms=float(i)) for i in range(1, 21)]
    records += [_rec(100, "kimi-k2", ok=False, ms=99_999.0, cost=None)]
    records += [_rec(200, "通义千问", cost=None)]
    rows = summarise(records, by="model", view=CurrencyView(market_rate=7.0))
    assert [r.key for r in rows] == ["kimi-k2", "通义千问"]
    kimi = rows[0]
    assert (kimi.requests, kimi.failures) == (21, 1)
    assert kimi.failure_rate == pytest.approx(1 / 21)
    assert (kimi.prompt_tokens, kimi.completion_tokens, kimi.cached_tokens, kimi.tokens) == (2100, 210, 105, 2310)
    assert kimi.cost_usd == pytest.approx(0.20)
    assert (kimi.billed_cny, kimi.market_cny, kimi.saved_cny) == pytest.approx((0.20, 1.40, 1.20))
    assert kimi.latency_ms.count == 20, "the failed request's 99.999 s is not latency"
    assert (kimi.latency_ms.p50, kimi.latency_ms.p95, kimi.latency_ms.p99) == (10.0, 19.0, 20.0)
    assert kimi.ttft_ms.p50 == pytest.approx(1.0)
    qwen = rows[1]
    assert (qwen.priced, qwen.unpriced, qwen.cost_usd) == (0, 1, 0.0)
    total = summarise_total(records)
    assert (total.requests, total.failures) == (22, 1)


def test_summary_by_day_uses_local_dates_and_by_profile_groups_profiles() -> None:
    shanghai = timezone(timedelta(hours=8))
    late = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    records = [_rec(0, "kimi-k2", when=late), _rec(3600, "kimi-k2", when=late, profile="工作")]
    by_day = summarise(records, by="day", tz=shanghai)
    assert [(r.key, r.requests) for r in by_day] == [("2026-03-01", 1), ("2026-03-02", 1)]
    by_profile = summarise(records, by="profile")
    assert sorted(r.key for r in by_profile) == ["工作", "默认"]
    with pytest.raises(UsageError):
        summarise(records, by="week")  # type: ignore[arg-type]


def test_parse_since() -> None:
    now = datetime(2026, 3, 31, 12, tzinfo=UTC)
    assert parse_since("24h", now=now) == now - timedelta(hours=24)
    assert parse_since("7d", now=now) == now - timedelta(days=7)
    assert parse_since("30d", now=now) == now - timedelta(days=30)
    assert parse_since("ALL", now=now) is None
    for bad in ("", "7", "d7", "0d", "7 天", "-1h"):
        with pytest.raises(UsageError):
            parse_since(bad, now=now)


def test_cell_len_counts_wide_characters_twice() -> None:
    assert cell_len("kimi-k2") == 7
    assert cell_len("通义千问") == 8
    assert cell_len("ＡＢ") == 4


@pytest.fixture
def stats_cli(cli: Any) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``stats_cli(data_dir, *args)``: ``holysheep stats ARGS`` over the metrics in ``data_dir`` (no config file)."""

    def run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
        env = {"HOLYSHEEP_DATA_DIR": str(data_dir), "HOLYSHEEP_CONFIG": str(data_dir / "none.toml")}
        result: subprocess.CompletedProcess[str] = cli("stats", *args, env=env)
        return result

    return run


@pytest.fixture
def written_log(tmp_path: Path) -> Path:
    now = datetime.now(UTC) - timedelta(minutes=5)
    log = MetricsLog(tmp_path / "metrics.jsonl")
    for i in range(1, 11):
        log.append(_rec(-i, "kimi-k2", ms=100.0 * i, when=now))
    log.append(_rec(-20, "kimi-k2", ok=False, cost=None, when=now))
    for i in range(1, 5):
        log.append(_rec(-30 - i, "通义千问-max", ms=50.0 * i, cost=None, when=now))
    log.append(_rec(0, "deepseek-chat", when=now - timedelta(days=10)))
    with (tmp_path / "metrics.jsonl").open("ab") as fh:
        fh.write(b'{"time": "2026-')  # torn last line
    return tmp_path


def test_stats_command_prints_an_aligned_table(
    written_log: Path, stats_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    proc = stats_cli(written_log, "--since", "7d")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    table = lines[:4]
    assert table[0].split()[:3] == ["MODEL", "REQS", "FAIL"]
    assert table[1].split()[:3] == ["kimi-k2", "11", "9.1%"]
    assert table[2].startswith("通义千问-max")
    assert "unknown" in table[2], "a model without a price never shows $0"
    assert table[3].startswith("all")
    assert "deepseek-chat" not in proc.stdout, "older than --since"
    assert len({cell_len(line.rstrip()) for line in table}) == 1, "columns align with wide characters"
    header = table[0]
    p95_end = header.index("P95") + len("P95")
    assert table[1][:p95_end].endswith("1.00s")  # nearest-rank p95 of 100..1000 ms
    assert "skipped 1 unreadable line" in proc.stderr


def test_stats_command_json_by_profile_and_all(
    written_log: Path, stats_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    proc = stats_cli(written_log, "--since", "all", "--by", "profile", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["since"] is None and out["by"] == "profile" and out["skipped_lines"] == 1
    assert [r["key"] for r in out["rows"]] == ["默认"]
    total = out["total"]
    assert (total["requests"], total["failures"]) == (16, 1)
    assert total["cost_usd"] == pytest.approx(0.11)
    assert total["saved_cny"] == pytest.approx(0.11 * 6.3)
    # 15 successes: 50 100 100 150 200 200 300 400 ...; rank ceil(0.5 * 15) = 8
    assert total["latency_ms"]["p50"] == 400.0


def test_stats_command_with_no_records_and_bad_since(
    tmp_path: Path, stats_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    empty = stats_cli(tmp_path)
    assert empty.returncode == 0 and "No requests recorded" in empty.stdout
    bad = stats_cli(tmp_path, "--since", "一周")
    assert bad.returncode == EXIT_USAGE
    assert "Cannot understand --since" in bad.stderr and "Traceback" not in bad.stderr


def test_stats_command_filters_by_profile_and_model(
    written_log: Path, stats_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    log = MetricsLog(written_log / "metrics.jsonl")
    log.append(_rec(0, "kimi-k2", profile="工作", when=datetime.now(UTC)))
    out = json.loads(stats_cli(written_log, "--profile", "工作", "--json").stdout)
    assert out["total"]["requests"] == 1
    out = json.loads(stats_cli(written_log, "-m", "通义千问-max", "--json").stdout)
    assert [r["key"] for r in out["rows"]] == ["通义千问-max"] and out["total"]["requests"] == 4
