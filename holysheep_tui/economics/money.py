"""Money shown to people: USD list cost, CNY billed by the relay (¥1 = $1) and CNY at the market rate."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from holysheep_tui.economics.prices import Cost
from holysheep_tui.i18n import N_, _

if TYPE_CHECKING:
    from holysheep_tui.config import PricingConfig

Currency = Literal["USD", "CNY"]
ESTIMATE_MARK = "≈"
PRICE_UNKNOWN = N_("price unknown")
"""Shown translated (``_(PRICE_UNKNOWN)``)."""
_MAX_DECIMALS = 8


def _format_amount(symbol: str, amount: float) -> str:
    """Two decimals from 1 up; below that, at least 4 decimals and 2 significant digits."""
    if not math.isfinite(amount):
        return f"{symbol}?"
    sign = "-" if amount < 0 else ""
    x = abs(amount)
    if x == 0:
        return f"{symbol}0.00"
    if x >= 1:
        return f"{sign}{symbol}{x:,.2f}"
    decimals = min(max(4, 1 - math.floor(math.log10(x))), _MAX_DECIMALS)
    if x < 10**-_MAX_DECIMALS:
        return f"{sign}<{symbol}{10**-_MAX_DECIMALS:.{_MAX_DECIMALS}f}"
    return f"{sign}{symbol}{x:.{decimals}f}"


def format_usd(amount: float) -> str:
    """``$0.0042``, ``$12.50``, ``$0.000012``."""
    return _format_amount("$", amount)


def format_cny(amount: float) -> str:
    """``¥0.0042``, ``¥1,234.00``."""
    return _format_amount("¥", amount)


def format_cny_named(amount: float) -> str:
    """``¥0.0042 CNY``: where a bare ¥ could be read as yen (summaries, the status bar's total)."""
    return f"{format_cny(amount)} CNY"


@dataclass(frozen=True, slots=True)
class MoneyBreakdown:
    usd: float
    billed_cny: float
    market_cny: float
    saved_cny: float
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class CurrencyView:
    """Converts list-price USD to what the relay bills and what the market rate would have cost."""

    relay_rate: float = 1.0
    market_rate: float = 7.3
    currency: Currency = "CNY"

    @classmethod
    def from_config(cls, pricing: PricingConfig) -> CurrencyView:
        return cls(relay_rate=pricing.relay_rate, market_rate=pricing.market_rate, currency=pricing.currency)

    def billed_cny(self, usd: float) -> float:
        return usd * self.relay_rate

    def market_cny(self, usd: float) -> float:
        return usd * self.market_rate

    def saved_cny(self, usd: float) -> float:
        return self.market_cny(usd) - self.billed_cny(usd)

    def breakdown(self, usd: float, *, estimated: bool = False) -> MoneyBreakdown:
        return MoneyBreakdown(usd, self.billed_cny(usd), self.market_cny(usd), self.saved_cny(usd), estimated)

    def format(self, usd: float, *, estimated: bool = False) -> str:
        """The amount in the display currency (CNY = what the relay bills), ``≈`` when estimated."""
        text = format_cny(self.billed_cny(usd)) if self.currency == "CNY" else format_usd(usd)
        return f"{ESTIMATE_MARK}{text}" if estimated else text

    def format_cost(self, cost: Cost | None) -> str:
        """One cost for the status bar: "¥0.0042", "≈$0.0001" or "price unknown"."""
        if cost is None:
            return _(PRICE_UNKNOWN)
        return self.format(cost.usd, estimated=cost.estimated)

    def describe(self, cost: Cost | None) -> str:
        """The long form: list price, billed CNY, market CNY and the saving."""
        if cost is None:
            return _(PRICE_UNKNOWN)
        mark = ESTIMATE_MARK if cost.estimated else ""
        b = self.breakdown(cost.usd)
        return (
            f"{mark}{format_usd(b.usd)} list · billed {mark}{format_cny(b.billed_cny)} "
            f"(market {mark}{format_cny(b.market_cny)}, saved {mark}{format_cny(b.saved_cny)})"
        )
