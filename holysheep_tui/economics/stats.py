"""Summaries of the metrics log: requests, failures, tokens, cost and latency percentiles per group.

Percentiles use the nearest-rank method: the p-th percentile of n sorted values is the value at rank
ceil(p/100 * n) (1-based), so it is always an observed value. Latency and time to first token are taken
over successful requests only; a failed request's duration says nothing about the relay's speed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal

from holysheep_tui.economics.metrics import MetricRecord
from holysheep_tui.economics.money import CurrencyView
from holysheep_tui.errors import UsageError

GroupBy = Literal["model", "day", "profile"]
GROUPINGS: tuple[GroupBy, ...] = ("model", "day", "profile")
_SINCE = re.compile(r"^(\d{1,5})([mhdw])$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (``p`` in 0..100) of ``values``; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True, slots=True)
class Distribution:
    count: int = 0
    mean: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None

    @classmethod
    def of(cls, values: Sequence[float]) -> Distribution:
        if not values:
            return cls()
        return cls(
            len(values),
            sum(values) / len(values),
            percentile(values, 50),
            percentile(values, 95),
            percentile(values, 99),
        )


@dataclass(frozen=True, slots=True)
class StatsRow:
    key: str
    requests: int
    failures: int
    failure_rate: float
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_usd: float
    cost_estimated: bool
    """True when any cost in the row is an estimate (show it with ≈)."""
    priced: int
    """Requests with a cost (exact or estimated)."""
    unpriced: int
    """Successful requests whose model had no known price (left out of the cost)."""
    billed_cny: float
    market_cny: float
    saved_cny: float
    latency_ms: Distribution
    ttft_ms: Distribution

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tokens"] = self.tokens
        return data


def _local_day(record: MetricRecord, tz: tzinfo | None) -> str:
    return record.time.astimezone(tz).date().isoformat()


def _row(key: str, records: Sequence[MetricRecord], view: CurrencyView) -> StatsRow:
    failures = sum(1 for r in records if not r.success)
    costs = [r.cost_usd for r in records if r.cost_usd is not None]
    usd = sum(costs)
    ok = [r for r in records if r.success]
    return StatsRow(
        key=key,
        requests=len(records),
        failures=failures,
        failure_rate=failures / len(records) if records else 0.0,
        prompt_tokens=sum(r.prompt_tokens for r in records),
        completion_tokens=sum(r.completion_tokens for r in records),
        cached_tokens=sum(r.cached_tokens for r in records),
        cost_usd=usd,
        cost_estimated=any(r.cost_estimated for r in records if r.cost_usd is not None),
        priced=len(costs),
        unpriced=sum(1 for r in ok if r.cost_usd is None),
        billed_cny=view.billed_cny(usd),
        market_cny=view.market_cny(usd),
        saved_cny=view.saved_cny(usd),
        latency_ms=Distribution.of([r.total_ms for r in ok if r.total_ms is not None]),
        ttft_ms=Distribution.of([r.ttft_ms for r in ok if r.ttft_ms is not None]),
    )


def summarise(
    records: Iterable[MetricRecord],
    by: GroupBy = "model",
    *,
    view: CurrencyView | None = None,
    tz: tzinfo | None = None,
) -> list[StatsRow]:
    """One row per model, local day (``tz``, default the local zone) or profile.

    Rows by day are in date order; by model or profile, busiest first.
    """
    if by not in GROUPINGS:
        raise UsageError(f"Cannot group by {by!r}; choose one of {', '.join(GROUPINGS)}.")
    view = view or CurrencyView()
    keyfunc: Callable[[MetricRecord], str] = {
        "model": lambda r: r.model,
        "profile": lambda r: r.profile,
        "day": lambda r: _local_day(r, tz),
    }[by]
    groups: dict[str, list[MetricRecord]] = {}
    for record in records:
        groups.setdefault(keyfunc(record), []).append(record)
    rows = [_row(key, group, view) for key, group in groups.items()]
    if by == "day":
        rows.sort(key=lambda r: r.key)
    else:
        rows.sort(key=lambda r: (-r.requests, r.key))
    return rows


def summarise_total(records: Iterable[MetricRecord], *, view: CurrencyView | None = None) -> StatsRow:
    """One row over all records."""
    return _row("all", list(records), view or CurrencyView())


def parse_since(text: str, *, now: datetime | None = None) -> datetime | None:
    """``24h``, ``7d``, ``30d``, ``2w``, ``90m`` -> the moment that long ago; ``all`` -> None."""
    value = text.strip().lower()
    if value == "all":
        return None
    match = _SINCE.match(value)
    if not match or int(match.group(1)) == 0:
        raise UsageError(
            f"Cannot understand --since {text!r}.",
            hint="Use a number with m, h, d or w (e.g. 24h, 7d, 30d), or 'all'.",
        )
    now = now or datetime.now().astimezone()
    return now - timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
