"""Cache hits: an answer's footer shows its share of cached input tokens and what they saved, and
``holysheep stats`` shows cached tokens, the hit rate and the saving per model (issue 15, item 23)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from holysheep_tui.economics.metrics import MetricRecord, MetricsLog
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.widgets.answer import AnswerView


def footer(answer: AnswerView) -> str:
    return str(answer.query_one(".answer-figures", Static).render())


@pytest.mark.parametrize("model", ["gpt-4.1", "deepseek-v3.2"])
async def test_a_follow_up_answer_shows_its_cache_share_and_saving(
    model: str,
    make_app: Callable[..., HolySheepApp],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await app.choose_model(model)
        first = await send_and_wait(pilot, "第一个问题：缓存是什么？")
        assert "cached" not in footer(first), "nothing was cached before the first prompt"
        second = await send_and_wait(pilot, "第二个问题：前面的对话会命中缓存吗？")
        usage = app.conversation.turns[-1].answer.usage
        assert usage is not None and 0 < usage.cached_tokens < usage.prompt_tokens
        shown = footer(second)
        assert f"{usage.cached_tokens / usage.prompt_tokens:.0%} cached (saved " in shown


def _record(model: str, prompt: int, cached: int, when: datetime) -> MetricRecord:
    return MetricRecord(
        time=when, profile="工作", model=model, prompt_tokens=prompt, completion_tokens=50,
        cached_tokens=cached, ttft_ms=100.0, total_ms=900.0, cost_usd=0.001, success=True,
        http_status=200, error_type=None,
    )  # fmt: skip


@pytest.fixture
def cached_log(tmp_path: Path) -> Path:
    now = datetime.now(UTC) - timedelta(minutes=5)
    log = MetricsLog(tmp_path / "metrics.jsonl")
    log.append(_record("kimi-k2", 40_000, 30_000, now))
    log.append(_record("kimi-k2", 60_000, 50_000, now + timedelta(seconds=1)))
    log.append(_record("通义千问-max", 1000, 0, now + timedelta(seconds=2)))
    return tmp_path


def _stats(cli: Any, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"HOLYSHEEP_DATA_DIR": str(data), "HOLYSHEEP_CONFIG": str(data / "none.toml")}
    result: subprocess.CompletedProcess[str] = cli("stats", *args, env=env)
    assert result.returncode == 0, result.stderr
    return result


def test_stats_json_has_cached_tokens_hit_rate_and_saving_per_model(cached_log: Path, cli: Any) -> None:
    rows = {r["key"]: r for r in json.loads(_stats(cli, cached_log, "--json").stdout)["rows"]}
    kimi = rows["kimi-k2"]
    assert kimi["cached_tokens"] == 80_000
    assert kimi["cache_hit_rate"] == pytest.approx(0.8)
    # kimi-k2: $0.60 per million input tokens, $0.15 cached: 80,000 cached tokens save $0.036
    assert kimi["cache_saved_usd"] == pytest.approx(80_000 * (0.60 - 0.15) / 1e6)
    assert rows["通义千问-max"]["cached_tokens"] == 0 and rows["通义千问-max"]["cache_saved_usd"] == 0


def test_stats_table_shows_the_cache_columns(cached_log: Path, cli: Any) -> None:
    lines = _stats(cli, cached_log).stdout.splitlines()
    header, kimi = lines[0], next(line for line in lines if line.startswith("kimi-k2"))
    assert "CACHED" in header and "CACHE SAVED $" in header
    assert "80.0k 80%" in kimi
    assert "$0.036" in kimi
    assert "CACHED: input tokens served from the relay's cache" in "\n".join(lines)
