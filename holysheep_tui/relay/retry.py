"""Back-off arithmetic: exponential with full jitter, and Retry-After parsing."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from holysheep_tui.config import RetryPolicy


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if seconds == seconds else None  # NaN guard


def backoff_delay(
    policy: RetryPolicy,
    retry_number: int,
    *,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Delay before retry ``retry_number`` (1-based). A server's Retry-After wins, up to the cap."""
    if retry_after is not None:
        return min(retry_after, policy.retry_after_cap)
    ceiling = min(policy.max_delay, policy.base_delay * (2 ** (retry_number - 1)))
    return rand() * ceiling
