"""Budgets: levels at 79/80/100 %, local day and month, and the refusal before sending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from holysheep_tui.config import Profile
from holysheep_tui.economics.budget import BudgetStatus, budget_status, check_budget, spend
from holysheep_tui.economics.metrics import MetricRecord, MetricsLog
from holysheep_tui.errors import EXIT_BUDGET, BudgetExceededError

SHANGHAI = timezone(timedelta(hours=8))
NOW = datetime(2026, 3, 15, 10, 0, tzinfo=SHANGHAI)


def _spent(log: MetricsLog, usd: float, *, when: datetime = NOW - timedelta(hours=1), profile: str = "默认",
           estimated: bool = False) -> None:  # fmt: skip
    log.append(MetricRecord(time=when, profile=profile, model="kimi-k2", cost_usd=usd, cost_estimated=estimated))


@pytest.mark.parametrize(("spent", "level"), [(7.9, "ok"), (8.0, "warn"), (9.99, "warn"), (10.0, "over")])
def test_daily_budget_levels_at_79_80_and_100_percent(tmp_path: Path, spent: float, level: str) -> None:
    log = MetricsLog(tmp_path / "metrics.jsonl")
    _spent(log, spent / 2)
    _spent(log, spent / 2, estimated=True)  # estimates count too
    status = budget_status("默认", Profile(budget_daily_usd=10.0), log, now=NOW, tz=SHANGHAI)
    assert status.daily is not None and status.daily.spent_usd == pytest.approx(spent)
    assert status.level == level
    assert status.monthly is None


def test_day_and_month_follow_local_time_and_ignore_other_profiles(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "metrics.jsonl")
    _spent(log, 1.0, when=datetime(2026, 3, 14, 16, 30, tzinfo=UTC))  # 00:30 on the 15th in Shanghai
    _spent(log, 2.0, when=datetime(2026, 3, 14, 15, 30, tzinfo=UTC))  # 23:30 on the 14th
    _spent(log, 4.0, when=datetime(2026, 2, 28, 15, 59, tzinfo=UTC))  # 23:59 on Feb 28: last month
    _spent(log, 8.0, profile="工作")
    log.append(MetricRecord(time=NOW, profile="默认", model="未知模型", cost_usd=None))
    records = log.read().records
    assert spend(records, "默认", now=NOW, tz=SHANGHAI) == (1.0, 3.0)
    status = budget_status("默认", Profile(budget_daily_usd=1.25, budget_monthly_usd=3.0), log, now=NOW, tz=SHANGHAI)
    assert status.daily is not None and status.daily.level == "warn"
    assert status.monthly is not None and status.monthly.level == "over"
    assert status.level == "over"


def test_check_refuses_over_budget_with_a_clear_message_unless_overridden(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "metrics.jsonl")
    _spent(log, 50.0)
    status = budget_status("默认", Profile(budget_monthly_usd=50.0), log, now=NOW, tz=SHANGHAI)
    with pytest.raises(BudgetExceededError) as info:
        check_budget(status)
    err = info.value
    assert err.exit_code == EXIT_BUDGET
    assert str(err) == "Profile '默认' has spent $50.00 of its $50.00 monthly budget."
    assert err.hint is not None and "--over-budget" in err.hint and "budget_monthly_usd" in err.hint
    check_budget(status, override=True)


def test_warning_level_does_not_block_and_no_budget_reads_nothing(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "metrics.jsonl")
    _spent(log, 9.0)
    check_budget(budget_status("默认", Profile(budget_daily_usd=10.0), log, now=NOW, tz=SHANGHAI))
    unreadable = MetricsLog(tmp_path)  # a directory: reading it would fail
    free = budget_status("默认", Profile(), unreadable, now=NOW)
    assert free == BudgetStatus("默认") and free.level == "ok" and free.summary() == ""


def test_with_spend_moves_the_status_bar_without_rereading(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "metrics.jsonl")
    _spent(log, 7.0)
    status = budget_status("默认", Profile(budget_daily_usd=10.0, budget_monthly_usd=100.0), log, now=NOW, tz=SHANGHAI)
    assert status.level == "ok"
    after = status.with_spend(1.5)
    assert after.level == "warn"
    assert after.summary() == "$8.50 of $10.00 today (85%) · $8.50 of $100.00 this month (8%)"


def test_a_new_day_starts_the_daily_spend_again_and_a_new_month_the_monthly(tmp_path: Path) -> None:
    """An app (or a batch) still running after midnight does not carry yesterday's spend."""
    log = MetricsLog(tmp_path / "metrics.jsonl")
    _spent(log, 9.5)
    limits = Profile(budget_daily_usd=10.0, budget_monthly_usd=100.0)
    status = budget_status("默认", limits, log, now=NOW, tz=SHANGHAI).with_spend(0.6)
    assert status.as_of == NOW.date() and status.level == "over"
    assert status.rolled(NOW.date()) is status
    tomorrow = status.rolled(NOW.date() + timedelta(days=1))
    assert tomorrow.daily is not None and tomorrow.daily.spent_usd == 0.0 and tomorrow.level == "ok"
    assert tomorrow.monthly is not None and tomorrow.monthly.spent_usd == pytest.approx(10.1)
    next_month = tomorrow.rolled(datetime(2026, 4, 1, tzinfo=SHANGHAI).date())
    assert next_month.monthly is not None and next_month.monthly.spent_usd == 0.0
    assert "$0.00 of $10.00 today" in next_month.summary()
