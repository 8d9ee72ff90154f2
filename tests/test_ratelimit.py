"""The client-side rate limiter, driven by a fake clock (no real waiting)."""

from __future__ import annotations

import asyncio

import pytest

from holysheep_tui.relay.rate_limit import RateLimiter, RateLimiters


class FakeClock:
    """A monotonic clock whose sleep advances time instantly and records each wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def _limiter(rpm: int | None, clock: FakeClock) -> RateLimiter:
    return RateLimiter(rpm, clock=clock, sleep=clock.sleep)


async def test_allows_rpm_requests_per_window_then_waits_for_the_oldest_to_leave() -> None:
    clock = FakeClock()
    limiter = _limiter(3, clock)
    waits = []
    for _ in range(3):
        waits.append(await limiter.acquire())
        clock.now += 5
    assert waits == [0.0, 0.0, 0.0]
    assert limiter.wait_time() == pytest.approx(45.0)  # first request at t=0 leaves the window at t=60
    assert await limiter.acquire() == pytest.approx(45.0)
    assert clock.sleeps == [pytest.approx(45.0)]
    assert limiter.wait_time() == pytest.approx(5.0)  # the second started at t=5


async def test_concurrent_acquirers_are_spaced_by_the_window() -> None:
    clock = FakeClock()
    limiter = _limiter(2, clock)
    start = clock.now
    starts: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        starts.append(clock.now - start)

    await asyncio.wait_for(asyncio.gather(*(one() for _ in range(5))), timeout=5)
    assert sorted(starts) == pytest.approx([0, 0, 60, 60, 120])


async def test_penalize_blocks_for_retry_after_and_halves_the_rate() -> None:
    clock = FakeClock()
    limiter = _limiter(60, clock)
    await limiter.acquire()
    assert limiter.penalize(retry_after=7.5) == 7.5
    assert limiter.wait_time() == pytest.approx(7.5)
    assert limiter.current_rpm == 30
    assert await limiter.acquire() == pytest.approx(7.5)
    limiter.penalize(None)
    assert limiter.current_rpm == 15
    clock.now += 60
    assert limiter.current_rpm == 30, "a quiet minute doubles the rate back"
    clock.now += 600
    assert limiter.current_rpm == 60, "never above the configured limit"


async def test_penalize_without_retry_after_backs_off_doubling() -> None:
    clock = FakeClock()
    limiter = _limiter(None, clock)
    assert limiter.wait_time() == 0.0
    assert [limiter.penalize(None) for _ in range(3)] == [1.0, 2.0, 4.0]
    assert limiter.wait_time() == pytest.approx(4.0)
    assert limiter.current_rpm is None
    for _ in range(10):  # unlimited otherwise
        clock.now += 10
        assert await limiter.acquire() == 0.0


async def test_cancelled_wait_takes_no_slot() -> None:
    clock = FakeClock()

    async def never(seconds: float) -> None:
        await asyncio.Event().wait()

    limiter = RateLimiter(1, clock=clock, sleep=never)
    await limiter.acquire()
    task = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    clock.now += 60
    assert limiter.wait_time() == 0.0


async def test_real_clock_waits_briefly() -> None:
    limiter = RateLimiter(120)  # 2 per second -> at most 120 per minute
    limiter.penalize(retry_after=0.2)
    waited = await asyncio.wait_for(limiter.acquire(), timeout=5)
    assert waited >= 0.15


def test_one_limiter_per_profile_replaced_when_the_limit_changes() -> None:
    limiters = RateLimiters()
    a = limiters.get("默认", 10)
    assert limiters.get("默认", 10) is a
    assert limiters.get("工作", 10) is not a
    assert limiters.get("默认", 20).rpm == 20
    with pytest.raises(ValueError):
        RateLimiter(0)
