"""``holysheep models``: what the relay serves, with context windows and prices where known."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from holysheep_tui.chat.session import open_session
from holysheep_tui.i18n import _
from holysheep_tui.linebreak import cell_len
from holysheep_tui.relay.wire import ModelInfo
from holysheep_tui.textsafety import inert_json, one_line


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "models",
        parents=[common],
        help=_("list the relay's models with context windows and prices"),
        description=_(
            "List the models the endpoint serves (GET /models), with context windows and prices when known."
        ),
    )
    p.add_argument("--json", action="store_true", help=_("print JSON"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    session = open_session(profile=args.profile, base_url=args.base_url, model=args.model, demo=args.demo)
    try:
        models = asyncio.run(_fetch(session))
    finally:
        session.close()
    rows = [_row(m, session.config) for m in models]
    if args.json:
        print(inert_json(json.dumps(rows, ensure_ascii=False, indent=2)))
        return 0
    if not rows:
        print(_("The endpoint listed no models."))
        return 0
    unknown = _("unknown")
    table = [[_("MODEL"), _("CONTEXT"), _("INPUT $/M"), _("OUTPUT $/M")]]
    for r in rows:
        table.append(
            [
                one_line(r["id"]) or "?",  # the relay's ids, never raw on the terminal
                f"{r['context_window']:,}" if r["context_window"] else "?",
                f"{r['input_per_m']:.2f}" if r["input_per_m"] is not None else unknown,
                f"{r['output_per_m']:.2f}" if r["output_per_m"] is not None else unknown,
            ]
        )
    # The English layout: the name column as wide as its widest cell, the figures right-aligned in 9,
    # 9 and 10 cells (or wider, for a longer title in another language).
    widths = [max(cell_len(row[i]) for row in table) for i in range(4)]
    widths[1:] = [max(w, least) for w, least in zip(widths[1:], (9, 9, 10), strict=True)]
    for row in table:
        name, *figures = row
        cells = [name + " " * (widths[0] - cell_len(name))]
        cells += [" " * (w - cell_len(cell)) + cell for cell, w in zip(figures, widths[1:], strict=True)]
        print("  ".join(cells))
    return 0


async def _fetch(session: Any) -> list[ModelInfo]:
    async with session.client() as client:
        return await client.list_models()


def _row(model: ModelInfo, config: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": model.id,
        "owned_by": model.owned_by,
        "context_window": model.context_window,
        "input_per_m": None,
        "output_per_m": None,
        "cached_input_per_m": None,
    }
    try:
        from holysheep_tui.economics.prices import PriceBook
    except ImportError:
        return row
    price = PriceBook(config.pricing).lookup(model.id)
    if price is not None:
        row["input_per_m"] = price.input_per_m
        row["output_per_m"] = price.output_per_m
        row["cached_input_per_m"] = price.cached_input_per_m
        if row["context_window"] is None:
            row["context_window"] = price.context_window
    return row
