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
from holysheep_tui.economics.prices import PriceBook, cost_usd
from holysheep_tui.errors import UsageError
from holysheep_tui.relay.wire import Usage

GroupBy = Literal["model", "day", "profile"]
GROUPINGS: tuple[GroupBy, ...] = ("model", "day", "profile")
DEMO_PROFILE = "demo"
"""The profile the demo's answers are recorded under: left out of real totals unless asked for."""
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
    cache_saved_usd: float = 0.0
    """What the cached input tokens saved against the full input price (models with known prices)."""

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cache_hit_rate(self) -> float:
        """The share of input tokens the relay served from its cache."""
        return cache_share(self.prompt_tokens, self.cached_tokens)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tokens"] = self.tokens
        data["cache_hit_rate"] = self.cache_hit_rate
        return data


def cache_share(prompt_tokens: int, cached_tokens: int) -> float:
    """Cached over input tokens, 0..1 (0 with no input)."""
    return min(max(cached_tokens, 0), prompt_tokens) / prompt_tokens if prompt_tokens > 0 else 0.0


def cache_saving_usd(prices: PriceBook, model: str, usage: Usage) -> float | None:
    """What the cached input tokens of one request saved: its cost at the full input price less its cost;
    None when the model's price is unknown."""
    price = prices.lookup(model)
    if price is None:
        return None
    uncached = Usage(
        usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, 0, usage.reasoning_tokens
    )
    return max(cost_usd(price, uncached) - cost_usd(price, usage), 0.0)


def _saved(records: Sequence[MetricRecord], prices: PriceBook | None) -> float:
    if prices is None:
        return 0.0
    saved = 0.0
    for r in records:
        if r.cached_tokens > 0:
            usage = Usage(
                r.prompt_tokens, r.completion_tokens, r.prompt_tokens + r.completion_tokens, r.cached_tokens
            )
            saved += cache_saving_usd(prices, r.model, usage) or 0.0
    return saved


def _local_day(record: MetricRecord, tz: tzinfo | None) -> str:
    return record.time.astimezone(tz).date().isoformat()


def _row(
    key: str, records: Sequence[MetricRecord], view: CurrencyView, prices: PriceBook | None = None
) -> StatsRow:
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
        cache_saved_usd=_saved(records, prices),
    )


def of_profile(records: Iterable[MetricRecord], profile: str | None = None) -> list[MetricRecord]:
    """The records of ``profile``; with None, of every real profile (the demo's left out)."""
    if profile:
        return [r for r in records if r.profile == profile]
    return [r for r in records if r.profile != DEMO_PROFILE]


def summarise(
    records: Iterable[MetricRecord],
    by: GroupBy = "model",
    *,
    view: CurrencyView | None = None,
    tz: tzinfo | None = None,
    prices: PriceBook | None = None,
) -> list[StatsRow]:
    """One row per model, local day (``tz``, default the local zone) or profile; with ``prices``, what
    cache hits saved.

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
    rows = [_row(key, group, view, prices) for key, group in groups.items()]
    if by == "day":
        rows.sort(key=lambda r: r.key)
    else:
        rows.sort(key=lambda r: (-r.requests, r.key))
    return rows


def summarise_total(
    records: Iterable[MetricRecord], *, view: CurrencyView | None = None, prices: PriceBook | None = None
) -> StatsRow:
    """One row over all records."""
    return _row("all", list(records), view or CurrencyView(), prices)


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
