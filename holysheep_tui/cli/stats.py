"""``holysheep stats``: requests, failures, tokens, cost and latency from the metrics log."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from holysheep_tui.config import load_config
from holysheep_tui.economics.metrics import MetricsLog
from holysheep_tui.economics.money import ESTIMATE_MARK, CurrencyView, format_cny, format_usd
from holysheep_tui.economics.prices import PriceBook
from holysheep_tui.economics.stats import (
    GROUPINGS,
    StatsRow,
    of_profile,
    parse_since,
    summarise,
    summarise_total,
)
from holysheep_tui.i18n import N_, _, ngettext
from holysheep_tui.linebreak import cell_len
from holysheep_tui.textsafety import inert_json, one_line


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "stats",
        parents=[common],
        help=_("requests, failure rate, tokens, cost and latency percentiles from the metrics log"),
        description=_(
            "Summarise the metrics log: requests, failure rate, tokens, cost in USD and CNY "
            "(billed at the relay rate, at the market rate, and saved) and mean/p50/p95/p99 latency and "
            "time to first token. --profile and -m filter the records; the demo's answers (profile demo) "
            "count only with --profile demo."
        ),
    )
    p.add_argument("--since", default="30d", help=_("24h, 7d, 30d (default), any N with m/h/d/w, or all"))
    p.add_argument("--by", choices=GROUPINGS, default="model", help=_("group rows by (default: model)"))
    p.add_argument("--json", action="store_true", help=_("print JSON"))
    p.set_defaults(func=run)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * max(width - cell_len(text), 0)
    return gap + text if right else text + gap


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> list[str]:
    widths = [max(cell_len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(_pad(cell, widths[i], right[i]) for i, cell in enumerate(row)).rstrip()
        for row in [header, *rows]
    ]


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}ms" if value < 1000 else f"{value / 1000:.2f}s"


def _tokens(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.2f}M"
    if n >= 10_000:
        return f"{n / 1000:.1f}k"
    return str(n)


def _cells(row: StatsRow) -> list[str]:
    mark = ESTIMATE_MARK if row.cost_estimated else ""
    usd = f"{mark}{format_usd(row.cost_usd)}" + ("+?" if row.unpriced else "")
    money = [usd, *(f"{mark}{format_cny(v)}" for v in (row.billed_cny, row.market_cny, row.saved_cny))]
    if row.unpriced and not row.priced:
        money = [_("unknown")] * 4
    return [
        one_line(row.key) or "?",  # a model name as a relay sent it, kept in the metrics log
        str(row.requests),
        f"{row.failure_rate:.1%}",
        _tokens(row.prompt_tokens),
        _tokens(row.completion_tokens),
        f"{_tokens(row.cached_tokens)} {row.cache_hit_rate:.0%}",
        *money,
        format_usd(row.cache_saved_usd),
        _ms(row.latency_ms.mean),
        _ms(row.latency_ms.p50),
        _ms(row.latency_ms.p95),
        _ms(row.latency_ms.p99),
        _ms(row.ttft_ms.p50),
        _ms(row.ttft_ms.p95),
    ]


HEADER = (
    N_("REQS"), N_("FAIL"), N_("IN TOK"), N_("OUT TOK"), N_("CACHED"), N_("COST $"), N_("BILLED ¥"),
    N_("MARKET ¥"), N_("SAVED ¥"), N_("CACHE SAVED $"), N_("MEAN"), "P50", "P95", "P99", N_("TTFT P50"),
    N_("TTFT P95"),
)  # fmt: skip
GROUP_TITLES = {"model": N_("MODEL"), "day": N_("DAY"), "profile": N_("PROFILE")}
"""The first column's title, by ``--by``."""


def run(args: argparse.Namespace) -> int:
    since = parse_since(args.since)
    config = load_config()
    view = CurrencyView.from_config(config.pricing)
    result = MetricsLog().read(since=since)
    records = [r for r in of_profile(result.records, args.profile) if not args.model or r.model == args.model]
    prices = PriceBook(config.pricing)
    rows = summarise(records, by=args.by, view=view, prices=prices)
    total = summarise_total(records, view=view, prices=prices)
    if result.skipped:
        skipped = ngettext(
            "skipped {count} unreadable line in the metrics log",
            "skipped {count} unreadable lines in the metrics log",
            result.skipped,
        ).format(count=result.skipped)
        print(f"holysheep: {skipped}", file=sys.stderr)
    if args.json:
        out = {
            "since": since.isoformat() if since else None,
            "by": args.by,
            "percentile_method": "nearest-rank",
            "relay_rate": view.relay_rate,
            "market_rate": view.market_rate,
            "rows": [r.to_json() for r in rows],
            "total": total.to_json(),
            "skipped_lines": result.skipped,
        }
        print(inert_json(json.dumps(out, ensure_ascii=False, indent=2)))
        return 0
    if not records:
        if since is None:
            print(_("No requests recorded."))
        else:
            print(_("No requests recorded in the last {span}.").format(span=args.since))
        return 0
    header = [_(GROUP_TITLES.get(args.by, args.by.upper())), *(_(title) for title in HEADER)]
    body = [_cells(r) for r in rows]
    if len(rows) > 1:
        body.append([_("all"), *_cells(total)[1:]])  # the total row
    right = [False] + [True] * len(HEADER)
    for line in render_table(header, body, right):
        print(line)
    notes = [
        _(
            "Latency over successful requests; percentiles by nearest rank. "
            "¥ at {relay:g} billed, {market:g} market per $."
        ).format(relay=view.relay_rate, market=view.market_rate)
    ]
    if total.cached_tokens:
        notes.append(
            _(
                "CACHED: input tokens served from the relay's cache and their share of the input; "
                "CACHE SAVED $: what they saved against the full input price."
            )
        )
    if total.cost_estimated:
        notes.append(
            _("{mark} marks costs estimated from text length (the server sent no usage).").format(
                mark=ESTIMATE_MARK
            )
        )
    if total.unpriced:
        notes.append(
            ngettext(
                "+? {count} request of a model with unknown prices is not in the cost.",
                "+? {count} requests of models with unknown prices are not in the cost.",
                total.unpriced,
            ).format(count=total.unpriced)
        )
    for note in notes:
        print(note)
    return 0
