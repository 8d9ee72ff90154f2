"""The profile's spend against its budgets while a chat session runs.

The status is read from the metrics log once (in a thread), then kept current with each answer's cost and
with the calendar (a new day or month while the app runs starts that budget again from zero).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from holysheep_tui.economics.budget import BudgetLimits, BudgetLine, BudgetStatus, Level, budget_status
from holysheep_tui.economics.money import format_usd
from holysheep_tui.i18n import _

if TYPE_CHECKING:
    from holysheep_tui.economics.metrics import MetricsLog
    from holysheep_tui.economics.prices import Cost

_RANK: dict[Level, int] = {"ok": 0, "warn": 1, "over": 2}


class BudgetWatch:
    """Spend against the profile's daily and monthly budgets; no budget without a metrics log."""

    def __init__(
        self,
        profile_name: str,
        profile: BudgetLimits,
        log: MetricsLog | None,
        *,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.profile_name = profile_name
        self.profile = profile
        self.log = log
        self._status: BudgetStatus | None = None
        self.today = today
        """The local date (a parameter so that a test can move the calendar)."""

    @property
    def status(self) -> BudgetStatus | None:
        """As of today: an app left running past midnight (or into a new month) starts a new budget day."""
        if self._status is not None:
            self._status = self._status.rolled(self.today())
        return self._status

    @status.setter
    def status(self, status: BudgetStatus | None) -> None:
        self._status = status

    @property
    def enabled(self) -> bool:
        has_budget = self.profile.budget_daily_usd is not None or self.profile.budget_monthly_usd is not None
        return self.log is not None and has_budget

    def read(self) -> BudgetStatus | None:
        """The status from the log (blocking file I/O: call it from a thread). Raises StorageError."""
        if not self.enabled:
            return None
        return budget_status(self.profile_name, self.profile, self.log)

    @property
    def level(self) -> Level:
        return "ok" if self.status is None else self.status.level

    @property
    def over(self) -> bool:
        return self.level == "over"

    def add(self, cost: Cost | None) -> Level | None:
        """Count one answer's cost; returns the new level when it got worse, else None."""
        if self.status is None or cost is None:
            return None
        before = self.status.level
        self.status = self.status.with_spend(cost.usd)
        after = self.status.level
        return after if _RANK[after] > _RANK[before] else None

    def _worst(self) -> BudgetLine | None:
        lines = self.status.lines if self.status is not None else ()
        return max(lines, key=lambda line: line.fraction, default=None)

    def alert(self) -> str:
        """The notification for the warning and over levels."""
        line = self._worst()
        if line is None:
            return ""
        spent, limit = format_usd(line.spent_usd), format_usd(line.limit_usd)
        used = _("{spent} of {limit}").format(spent=spent, limit=limit)
        day = line.period == "day"
        if line.level == "over":
            text = (
                _("The daily budget is used up ({used}). The app asks before each message.")
                if day
                else _("The monthly budget is used up ({used}). The app asks before each message.")
            )
            return text.format(used=used)
        text = (
            _("{share} of the daily budget used ({used}).")
            if day
            else _("{share} of the monthly budget used ({used}).")
        )
        return text.format(share=f"{line.fraction:.0%}", used=used)

    def question(self) -> str:
        line = self._worst()
        if line is None:
            return _("Send anyway?")
        text = (
            _("Profile '{profile}' has spent {spent} of its {limit} daily budget.")
            if line.period == "day"
            else _("Profile '{profile}' has spent {spent} of its {limit} monthly budget.")
        )
        spent, limit = format_usd(line.spent_usd), format_usd(line.limit_usd)
        return (
            text.format(profile=self.profile_name, spent=spent, limit=limit)
            + "\n\n"
            + _("Send this message anyway?")
        )
