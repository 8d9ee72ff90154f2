"""A client-side rate limiter: at most N requests in any 60-second window, slowed down by 429s.

Sliding window over the start times of recent requests. ``penalize`` (after a 429) blocks until the
server's Retry-After (or a doubling back-off) and halves the allowed rate; each quiet minute doubles it
back up to the configured limit. Without a configured limit, only the 429 block applies.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

WINDOW = 60.0
_MAX_ROUNDS = 64


class RateLimiter:
    def __init__(
        self,
        rpm: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        base_penalty: float = 1.0,
        max_penalty: float = 60.0,
    ) -> None:
        if rpm is not None and rpm < 1:
            raise ValueError("rpm must be at least 1")
        self.rpm = rpm
        self._clock = clock
        self._sleep = sleep
        self._base_penalty = base_penalty
        self._max_penalty = max_penalty
        self._starts: deque[float] = deque()
        self._limit = rpm
        self._blocked_until = 0.0
        self._strikes = 0
        self._last_change = clock()
        self._lock = asyncio.Lock()

    @property
    def current_rpm(self) -> int | None:
        """The limit in force now (lower than ``rpm`` for a while after a 429)."""
        self._recover(self._clock())
        return self._limit

    def _recover(self, now: float) -> None:
        if self.rpm is None or self._limit is None:
            return
        for _ in range(_MAX_ROUNDS):
            if self._limit >= self.rpm or now - self._last_change < WINDOW:
                break
            self._limit = min(self.rpm, self._limit * 2)
            self._last_change += WINDOW
        if self._limit >= self.rpm:
            self._strikes = 0

    def wait_time(self) -> float:
        """Seconds until a request may start (0.0 when it may start now)."""
        now = self._clock()
        self._recover(now)
        while self._starts and self._starts[0] <= now - WINDOW:
            self._starts.popleft()
        wait = max(0.0, self._blocked_until - now)
        if self._limit is not None and len(self._starts) >= self._limit:
            # the oldest start that must leave the window before one more fits
            oldest = self._starts[len(self._starts) - self._limit]
            wait = max(wait, oldest + WINDOW - now)
        return wait

    async def acquire(self) -> float:
        """Wait for a slot and take it; returns the seconds waited."""
        start = self._clock()
        async with self._lock:
            for _ in range(_MAX_ROUNDS):
                wait = self.wait_time()
                if wait <= 0:
                    break
                await self._sleep(wait)
            self._starts.append(self._clock())
        return max(0.0, self._clock() - start)

    def penalize(self, retry_after: float | None = None) -> float:
        """After a 429: block for ``retry_after`` seconds (or a doubling back-off) and halve the rate.

        Returns the block in seconds.
        """
        now = self._clock()
        self._recover(now)
        if retry_after is not None and retry_after >= 0:
            delay = min(retry_after, self._max_penalty * 5)
        else:
            delay = min(self._base_penalty * 2**self._strikes, self._max_penalty)
        self._strikes = min(self._strikes + 1, 16)
        self._blocked_until = max(self._blocked_until, now + delay)
        if self._limit is not None:
            self._limit = max(1, self._limit // 2)
            self._last_change = now
        return delay


class RateLimiters:
    """One limiter per profile, owned by whoever sends requests (the app, a batch run)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._by_profile: dict[str, RateLimiter] = {}

    def get(self, profile: str, rpm: int | None) -> RateLimiter:
        limiter = self._by_profile.get(profile)
        if limiter is None or limiter.rpm != rpm:
            limiter = RateLimiter(rpm, clock=self._clock)
            self._by_profile[profile] = limiter
        return limiter
