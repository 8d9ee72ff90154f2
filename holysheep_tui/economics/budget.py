"""Daily and monthly spending budgets per profile, measured from the metrics log in local time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Literal, Protocol

from holysheep_tui.economics.money import format_usd
from holysheep_tui.errors import BudgetExceededError
from holysheep_tui.i18n import _

if TYPE_CHECKING:  # the log is read after the first frame
    from holysheep_tui.economics.metrics import MetricRecord, MetricsLog

Level = Literal["ok", "warn", "over"]
Period = Literal["day", "month"]
WARN_AT = 0.8
_RANK: dict[Level, int] = {"ok": 0, "warn": 1, "over": 2}


def level_for(spent: float, limit: float) -> Level:
    fraction = spent / limit
    if fraction >= 1.0:
        return "over"
    if fraction >= WARN_AT:
        return "warn"
    return "ok"


@dataclass(frozen=True, slots=True)
class BudgetLine:
    period: Period
    limit_usd: float
    spent_usd: float

    @property
    def fraction(self) -> float:
        return self.spent_usd / self.limit_usd

    @property
    def level(self) -> Level:
        return level_for(self.spent_usd, self.limit_usd)

    @property
    def label(self) -> str:
        return "daily" if self.period == "day" else "monthly"


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    profile: str
    daily: BudgetLine | None = None
    monthly: BudgetLine | None = None
    as_of: date | None = None
    """The local day the spend was counted for (None: not tied to a day)."""

    @property
    def lines(self) -> tuple[BudgetLine, ...]:
        return tuple(line for line in (self.daily, self.monthly) if line is not None)

    @property
    def level(self) -> Level:
        """The worst level of the two budgets ("ok" when none is set)."""
        levels = [line.level for line in self.lines]
        return max(levels, key=_RANK.__getitem__) if levels else "ok"

    def with_spend(self, usd: float) -> BudgetStatus:
        """The status after another ``usd`` was spent (for the status bar, without re-reading the log)."""

        def add(line: BudgetLine | None) -> BudgetLine | None:
            return None if line is None else replace(line, spent_usd=line.spent_usd + usd)

        return replace(self, daily=add(self.daily), monthly=add(self.monthly))

    def rolled(self, today: date) -> BudgetStatus:
        """The status on ``today``: a new day starts the daily spend at zero, a new month the monthly one."""
        if self.as_of is None or today == self.as_of:
            return self
        new_month = (today.year, today.month) != (self.as_of.year, self.as_of.month)

        def zero(line: BudgetLine | None, reset: bool) -> BudgetLine | None:
            return replace(line, spent_usd=0.0) if line is not None and reset else line

        return replace(self, daily=zero(self.daily, True), monthly=zero(self.monthly, new_month), as_of=today)

    def summary(self) -> str:
        """"$8.10 of $10.00 today (81%) · $40.00 of $100.00 this month (40%)", or "" with no budget."""
        parts = []
        for line in self.lines:
            text = (
                _("{spent} of {limit} today ({share})")
                if line.period == "day"
                else _("{spent} of {limit} this month ({share})")
            )
            spent, limit = format_usd(line.spent_usd), format_usd(line.limit_usd)
            parts.append(text.format(spent=spent, limit=limit, share=f"{line.fraction:.0%}"))
        return " · ".join(parts)


def spend(
    records: Iterable[MetricRecord], profile: str, *, now: datetime | None = None, tz: tzinfo | None = None
) -> tuple[float, float]:
    """USD spent by ``profile`` (today, this month) in local time; estimates count, unknown prices don't."""
    now_local = (now or datetime.now().astimezone()).astimezone(tz)
    day = month = 0.0
    for r in records:
        if r.profile != profile or r.cost_usd is None:
            continue
        t = r.time.astimezone(tz)
        if (t.year, t.month) == (now_local.year, now_local.month):
            month += r.cost_usd
            if t.day == now_local.day:
                day += r.cost_usd
    return day, month


def start_of_month(now: datetime | None = None, tz: tzinfo | None = None) -> datetime:
    local = (now or datetime.now().astimezone()).astimezone(tz)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


class BudgetLimits(Protocol):
    """A profile's budgets: the config's ``Profile``, or the start-up's ``FirstFrame``."""

    @property
    def budget_daily_usd(self) -> float | None: ...

    @property
    def budget_monthly_usd(self) -> float | None: ...


def budget_status(
    profile_name: str,
    profile: BudgetLimits,
    log: MetricsLog | None = None,
    *,
    now: datetime | None = None,
    tz: tzinfo | None = None,
) -> BudgetStatus:
    """The profile's spend against its budgets. Reads the log only when a budget is set.

    Raises StorageError when the log cannot be read.
    """
    daily, monthly = profile.budget_daily_usd, profile.budget_monthly_usd
    if daily is None and monthly is None:
        return BudgetStatus(profile_name)
    if log is None:
        from holysheep_tui.economics.metrics import MetricsLog

        log = MetricsLog()
    records = log.read(since=start_of_month(now, tz)).records
    day, month = spend(records, profile_name, now=now, tz=tz)
    return BudgetStatus(
        profile_name,
        daily=BudgetLine("day", daily, day) if daily is not None else None,
        monthly=BudgetLine("month", monthly, month) if monthly is not None else None,
        as_of=(now or datetime.now().astimezone()).astimezone(tz).date(),
    )


def check_budget(status: BudgetStatus, *, override: bool = False) -> None:
    """Refuse to send when a budget is used up, unless the user overrode it."""
    if override:
        return
    for line in status.lines:
        if line.level == "over":
            if line.period == "day":
                text = _("Profile '{profile}' has spent {spent} of its {limit} daily budget.")
                hint = _(
                    "Pass --over-budget to send anyway, or raise budget_daily_usd in the profile's config."
                )
            else:
                text = _("Profile '{profile}' has spent {spent} of its {limit} monthly budget.")
                hint = _(
                    "Pass --over-budget to send anyway, or raise budget_monthly_usd in the profile's config."
                )
            spent, limit = format_usd(line.spent_usd), format_usd(line.limit_usd)
            raise BudgetExceededError(
                text.format(profile=status.profile, spent=spent, limit=limit), hint=hint
            )
