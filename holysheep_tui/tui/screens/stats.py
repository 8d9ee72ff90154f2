"""The usage statistics screen: the metrics log summed per model (with a cost bar each) and per day.

The log is read in a thread; the numbers come from ``holysheep_tui.economics.stats``, as in ``holysheep stats``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Literal

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Select, Sparkline, Static

from holysheep_tui.economics.metrics import MetricRecord, MetricsLog
from holysheep_tui.economics.money import ESTIMATE_MARK, PRICE_UNKNOWN, CurrencyView, format_cny, format_usd
from holysheep_tui.economics.prices import PriceBook
from holysheep_tui.economics.stats import (
    DEMO_PROFILE,
    StatsRow,
    of_profile,
    parse_since,
    summarise,
    summarise_total,
)
from holysheep_tui.errors import HolySheepError
from holysheep_tui.i18n import N_, _, sentences
from holysheep_tui.textsafety import one_line

SINCE_CHOICES: list[tuple[str, str]] = [
    ("24h", N_("Last 24 hours")),
    ("7d", N_("Last 7 days")),
    ("30d", N_("Last 30 days")),
    ("all", N_("All time")),
]
DayMetric = Literal["requests", "cost"]
BAR_WIDTH = 14
MAX_DAYS = 3660
_EIGHTHS = " ▏▎▍▌▋▊▉"
COLUMNS = (
    N_("Model"),
    N_("Requests"),
    N_("Failed"),
    N_("Tokens in/out"),
    N_("Cost USD"),
    N_("Billed ¥"),
    N_("Market ¥"),
    N_("Saved ¥"),
    N_("Latency p50/p95"),
    N_("TTFT p50/p95"),
    # TRANSLATORS: the title of the column of cost bars.
    N_("Cost"),
)
"""The columns' titles in English (marked for the catalog: ``_()`` them where they are shown)."""
CACHE_COLUMNS = (N_("Cached in"), N_("Cache saved"))
"""Shown after COLUMNS when some model's answers had cached input tokens (the same figures as
``holysheep stats``: cached tokens, their share of the input, what they saved)."""
ALL_COLUMNS = COLUMNS + CACHE_COLUMNS


COLUMN_PRIORITY = (0, 4, 1, 5, 10, 8, 11, 2, 3, 12, 9, 7, 6)
"""Which columns stay when the screen is narrow, most wanted first (indices into ALL_COLUMNS): the model,
its cost in USD, requests, billed ¥, the bar, latency, cached input, failures, tokens, cache savings,
TTFT, saved ¥, market ¥. The total line above the table always gives every figure."""
CELL_PADDING = 2  # a DataTable cell's padding, left and right


def fitting_columns(rows: Sequence[Sequence[Text]], width: int, *, cache: bool = False) -> list[int]:
    """The columns, in table order, that fit ``width`` cells, keeping the most wanted ones (the cache
    columns only with ``cache``)."""
    names = ALL_COLUMNS if cache else COLUMNS
    sizes = [
        max([Text(_(name)).cell_len, *(row[i].cell_len for row in rows)]) + CELL_PADDING
        for i, name in enumerate(names)
    ]
    room = max(width - 2, 0)  # the scrollbar's gutter
    shown: list[int] = []
    for index in (i for i in COLUMN_PRIORITY if i < len(names)):
        if sizes[index] <= room or not shown:
            shown.append(index)
            room -= sizes[index]
    return sorted(shown)


def bar(value: float, largest: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar in eighths of a cell, ``width`` cells for ``largest``."""
    if largest <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / largest * width * 8))
    return "█" * (eighths // 8) + (_EIGHTHS[eighths % 8] if eighths % 8 else "")


def _seconds_pair(p50_ms: float | None, p95_ms: float | None) -> str:
    if p50_ms is None or p95_ms is None:
        return "–"
    return f"{p50_ms / 1000:.2f}/{p95_ms / 1000:.2f} s"


def _count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.1f}k"
    return f"{n:,}"


@dataclass(frozen=True)
class StatsData:
    """What the screen shows for one --since choice."""

    since: str
    total: StatsRow
    models: list[StatsRow]
    days: list[tuple[date, StatsRow | None]]
    """Every local day from the start of the range to today, None for a day without requests."""
    skipped: int = 0
    path: Path = field(default_factory=Path)

    @property
    def empty(self) -> bool:
        return self.total.requests == 0

    def day_series(self, metric: DayMetric) -> list[float]:
        if metric == "cost":
            return [row.cost_usd if row else 0.0 for _, row in self.days]
        return [float(row.requests) if row else 0.0 for _, row in self.days]


def build_stats(
    records: Sequence[MetricRecord],
    since: str,
    *,
    start: datetime | None,
    now: datetime,
    view: CurrencyView,
    tz: tzinfo | None = None,
    skipped: int = 0,
    path: Path | None = None,
    prices: PriceBook | None = None,
) -> StatsData:
    """The summaries for the screen: totals, rows per model (with ``prices``, what cache hits saved), and a
    row (or None) for each day."""
    by_day = {row.key: row for row in summarise(records, "day", view=view, tz=tz)}
    today = now.astimezone(tz).date()
    if start is not None:
        first = start.astimezone(tz).date()
    else:
        first = min((date.fromisoformat(key) for key in by_day), default=today)
    first = max(first, today - timedelta(days=MAX_DAYS - 1))
    days = [first + timedelta(days=i) for i in range((today - first).days + 1)]
    return StatsData(
        since=since,
        total=summarise_total(records, view=view, prices=prices),
        models=summarise(records, "model", view=view, tz=tz, prices=prices),
        days=[(day, by_day.get(day.isoformat())) for day in days],
        skipped=skipped,
        path=path or Path(),
    )


@dataclass
class StatsLoaded(Message):
    data: StatsData | None
    error: str | None = None


class StatsScreen(Screen[None]):
    """Requests, failures, tokens, money and latency per model, and requests or cost per day."""

    AUTO_FOCUS = "#stats-models"
    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("1", "since('24h')", "24 hours", show=False),
        Binding("2", "since('7d')", "7 days", show=False),
        Binding("3", "since('30d')", "30 days", show=False),
        Binding("4", "since('all')", "All time", show=False),
        Binding("c", "toggle_metric", "Requests / cost per day", show=False),
        Binding("r", "reload", "Reload", show=False),
    ]

    def __init__(
        self,
        log: MetricsLog,
        view: CurrencyView,
        *,
        since: str = "30d",
        now: Callable[[], datetime] | None = None,
        tz: tzinfo | None = None,
        profile: str | None = None,
        prices: PriceBook | None = None,
    ) -> None:
        """``profile``: show only that profile's requests (None: every real profile's, or, for the log of
        an app running the demo, the demo's). ``prices``: the price book, for what cache hits saved."""
        super().__init__()
        self.prices = prices
        self.metrics = log
        self.profile = profile
        self.view = view
        self.since = since
        self.metric: DayMetric = "requests"
        self.data: StatsData | None = None
        self._shown_width = 0
        self._now = now or (lambda: datetime.now().astimezone())
        self._tz = tz

    def compose(self) -> ComposeResult:
        with Vertical(id="stats"):
            with Horizontal(id="stats-head"):
                yield Static(_("Usage statistics"), id="stats-title", classes="stats-title", markup=False)
                yield Select(
                    [(_(label), value) for value, label in SINCE_CHOICES],
                    value=self.since,
                    allow_blank=False,
                    id="stats-since",
                )
            yield Static(_("Reading the metrics log …"), id="stats-total", markup=False)
            yield Static(id="stats-empty", markup=False)
            yield DataTable(id="stats-models", cursor_type="row", zebra_stripes=True)
            yield Static(id="stats-days-title", markup=False)
            yield Sparkline([], id="stats-days")
            with Horizontal(id="stats-days-axis"):
                yield Static(id="stats-axis-first", markup=False)
                yield Static(id="stats-axis-last", markup=False)
            yield Static(
                _("1 24 h · 2 7 days · 3 30 days · 4 all · C requests/cost per day · R reload · Esc close"),
                classes="stats-help",
                markup=False,
            )

    def on_mount(self) -> None:
        chat = getattr(self.app, "chat", None)
        if (
            self.profile is None
            and getattr(chat, "demo", False)
            and getattr(chat, "metrics", None) is self.metrics
        ):
            self.profile = DEMO_PROFILE  # the demo app's own log: its answers, kept apart from real ones
        if self.profile == DEMO_PROFILE:
            title = _("Usage statistics · the demo's answers only (profile demo)")
            self.query_one("#stats-title", Static).update(title)
        elif self.profile:
            self.query_one("#stats-title", Static).update(
                _("Usage statistics · profile {profile}").format(profile=one_line(self.profile))
            )
        self._load(self.since)

    # ---- loading ------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="stats", exit_on_error=False)
    def _load(self, since: str) -> None:
        try:
            now = self._now()
            start = parse_since(since, now=now)
            read = self.metrics.read(since=start)
            data = build_stats(
                of_profile(read.records, self.profile), since, start=start, now=now, view=self.view, tz=self._tz,
                skipped=read.skipped, path=self.metrics.path, prices=self.prices,
            )  # fmt: skip
        except HolySheepError as exc:
            self.post_message(StatsLoaded(None, exc.user_text()))
            return
        self.post_message(StatsLoaded(data))

    @on(StatsLoaded)
    def _loaded(self, message: StatsLoaded) -> None:
        message.stop()
        if message.data is None:
            self.query_one("#stats-total", Static).update(
                _("Cannot show statistics: {error}").format(error=message.error)
            )
            return
        if message.data.since == self.since:
            self.data = message.data
            self._show(message.data)

    # ---- drawing ------------------------------------------------------------------------------
    def _label(self) -> str:
        label = dict(SINCE_CHOICES).get(self.since)
        return _(label).lower() if label else self.since

    def _show(self, data: StatsData) -> None:
        self.set_class(data.empty, "-empty")
        total = data.total
        note = (
            " · " + _("{count} unreadable lines skipped").format(count=data.skipped) if data.skipped else ""
        )
        self.query_one("#stats-total", Static).update(self._total_line(total) + note)
        self.query_one("#stats-empty", Static).update(
            _("No requests recorded ({period}).").format(period=self._label())
            + "\n\n"
            + sentences(
                _(
                    "Each answer adds a line to the metrics log ({path}): ask a few questions and come back."
                ).format(path=data.path),
                _("Press 4 to look at all time."),
            )
            + note
        )
        table = self.query_one(DataTable)
        table.clear(columns=True)  # columns and rows in one go: the header is sized with the rows
        largest = max((row.cost_usd for row in data.models), default=0.0)
        rows = [(row.key, self._cells(row, largest)) for row in data.models]
        cache = data.total.cached_tokens > 0
        shown = fitting_columns(
            [cells for _key, cells in rows], table.size.width or self.size.width, cache=cache
        )
        table.add_columns(*(_(ALL_COLUMNS[i]) for i in shown))
        for key, cells in rows:
            table.add_row(*(cells[i] for i in shown), key=key)
        self._shown_width = table.size.width or self.size.width
        self._draw_days()

    def on_resize(self) -> None:
        table = self.query_one(DataTable)
        if self.data is not None and table.size.width and table.size.width != self._shown_width:
            self._show(self.data)  # the columns that fit change with the width

    def _money(
        self,
        row: StatsRow,
        amount: float,
        fmt: Callable[[float], str],
        *,
        plus: bool = True,
        unknown: str = "–",
    ) -> str:
        """The amount, ≈ when estimated; "+?" when some requests had no known price."""
        if row.priced == 0:
            return unknown if row.unpriced else "–"
        mark = ESTIMATE_MARK if row.cost_estimated else ""
        return f"{mark}{fmt(amount)}{' +?' if row.unpriced and plus else ''}"

    def _total_line(self, t: StatsRow) -> str:
        if t.requests == 0:
            return _("No requests ({period}).").format(period=self._label())
        failed = _("{count} failed ({rate})").format(count=t.failures, rate=f"{t.failure_rate:.1%}")
        usd, billed, market, saved = (
            self._money(t, amount, fmt, plus=False, unknown=_(PRICE_UNKNOWN))
            for amount, fmt in (
                (t.cost_usd, format_usd),
                (t.billed_cny, format_cny),
                (t.market_cny, format_cny),
                (t.saved_cny, format_cny),
            )
        )
        v = self.view
        money = _(
            "Cost {usd} list = {billed} billed ({relay_rate} = $1) vs {market} at the market rate "
            "({market_rate}) · saved {saved}"
        ).format(
            usd=usd, billed=billed, relay_rate=f"¥{v.relay_rate:g}", market=market,
            market_rate=f"{v.market_rate:g}", saved=saved,
        )  # fmt: skip
        if t.unpriced and t.priced:
            money += " · " + _("{count} more without a known price").format(count=t.unpriced)
        if t.cached_tokens:
            cached = _("Cached input {tokens} tokens ({rate} of input)").format(
                tokens=f"{t.cached_tokens:,}", rate=f"{t.cache_hit_rate:.0%}"
            )
            money += f"\n{cached} · {self._cache_saved(t)}"
        # TRANSLATORS: {period} is "Last 30 days" and the like; then the totals of that period.
        line = _(
            "{period}: {requests} requests · {failed} · {tokens} tokens · latency p50/p95 {latency} · "
            "time to first token p50/p95 {ttft}"
        ).format(
            period=self._label().capitalize(), requests=f"{t.requests:,}", failed=failed, tokens=f"{t.tokens:,}",
            latency=_seconds_pair(t.latency_ms.p50, t.latency_ms.p95),
            ttft=_seconds_pair(t.ttft_ms.p50, t.ttft_ms.p95),
        )  # fmt: skip
        return f"{line}\n{money}"

    def _cells(self, row: StatsRow, largest: float) -> list[Text]:
        right: Literal["right"] = "right"
        return [
            Text(one_line(row.key), overflow="ellipsis", no_wrap=True),  # a relay's model name, as logged
            Text(f"{row.requests:,}", justify=right),
            Text(f"{row.failures} ({row.failure_rate:.0%})" if row.failures else "0", justify=right),
            Text(f"{_count(row.prompt_tokens)} / {_count(row.completion_tokens)}", justify=right),
            Text(self._money(row, row.cost_usd, format_usd, unknown=_(PRICE_UNKNOWN)), justify=right),
            Text(self._money(row, row.billed_cny, format_cny), justify=right),
            Text(self._money(row, row.market_cny, format_cny), justify=right),
            Text(self._money(row, row.saved_cny, format_cny), justify=right),
            Text(_seconds_pair(row.latency_ms.p50, row.latency_ms.p95), justify=right),
            Text(_seconds_pair(row.ttft_ms.p50, row.ttft_ms.p95), justify=right),
            Text(
                bar(row.cost_usd, largest).ljust(BAR_WIDTH), style=self.app.theme_variables.get("accent", "")
            ),
            Text(
                f"{_count(row.cached_tokens)} ({row.cache_hit_rate:.0%})" if row.cached_tokens else "–",
                justify=right,
            ),
            Text(self._cache_saved(row, short=True) if row.cached_tokens else "–", justify=right),
        ]

    def _cache_saved(self, row: StatsRow, *, short: bool = False) -> str:
        """What cache hits saved against the full input price: USD and CNY billed (¥1 = $1 at the relay)."""
        usd = row.cache_saved_usd
        both = f"{format_usd(usd)} / {format_cny(self.view.billed_cny(usd))}"
        return both if short else _("cache hits saved {amount} billed").format(amount=both)

    def _draw_days(self) -> None:
        data = self.data
        if data is None:
            return
        series = data.day_series(self.metric)
        spark = self.query_one(Sparkline)
        spark.data = series
        other = _("cost") if self.metric == "requests" else _("requests")
        peak = max(range(len(series)), key=series.__getitem__) if series else None
        if peak is None or series[peak] == 0:
            top = _("none")
        else:
            value = series[peak]
            amount = f"{value:.0f}" if self.metric == "requests" else self.view.format(value)
            # TRANSLATORS: the day with the most requests (or cost): "3 on 2026-11-27".
            top = _("{amount} on {day}").format(amount=amount, day=data.days[peak][0].isoformat())
        what = _("Requests per day") if self.metric == "requests" else _("Cost (billed) per day")
        self.query_one("#stats-days-title", Static).update(
            # TRANSLATORS: {what} is "Requests per day" or "Cost (billed) per day"; {other} "cost" or "requests".
            _("{what}, {days} days · most: {top}   (C shows {other})").format(
                what=what, days=len(series), top=top, other=other
            )
        )
        self.query_one("#stats-axis-first", Static).update(data.days[0][0].isoformat())
        self.query_one("#stats-axis-last", Static).update(data.days[-1][0].isoformat())

    # ---- actions ------------------------------------------------------------------------------
    @on(Select.Changed, "#stats-since")
    def _since_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.since:
            self.since = event.value
            self._load(self.since)

    def action_since(self, since: str) -> None:
        self.query_one("#stats-since", Select).value = since

    def action_toggle_metric(self) -> None:
        self.metric = "cost" if self.metric == "requests" else "requests"
        self._draw_days()

    def action_reload(self) -> None:
        self._load(self.since)

    def action_close(self) -> None:
        self.dismiss(None)
