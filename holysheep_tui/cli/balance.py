"""``holysheep balance [--json]``: the account's balance at the relay, where the endpoint has one."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from holysheep_tui.chat.session import open_session
from holysheep_tui.economics.balance import Balance, balance_source, fetch_balance
from holysheep_tui.errors import EXIT_ERROR, HolySheepError
from holysheep_tui.i18n import N_, _
from holysheep_tui.textsafety import inert_json, strip_control


class NoBalanceError(HolySheepError):
    title = N_("No balance")
    kind = "no_balance"


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "balance",
        parents=[common],
        help=_("show the account's balance at the relay"),
        description=_(
            "Read the account's balance from the endpoint: the profile's [balance] settings, or the "
            "documented endpoints of DeepSeek (GET /user/balance) and Moonshot (GET /v1/users/me/balance)."
        ),
    )
    p.add_argument(
        "--json", action="store_true", help=_('print {"amount", "currency", "source"} or {"error"}')
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        balance = _read(args)
    except HolySheepError as exc:
        if not args.json:
            raise
        error = {"type": exc.kind, "title": exc.title, "status": getattr(exc, "status", None)}
        error["message"] = exc.user_text()
        print(inert_json(json.dumps({"error": error}, ensure_ascii=False)))
        said = _("{title}: {text}").format(title=_(exc.title), text=exc.user_text())
        print(strip_control(f"holysheep: {said}"), file=sys.stderr)
        return exc.exit_code or EXIT_ERROR
    if args.json:
        print(inert_json(json.dumps(balance.to_json(), ensure_ascii=False)))
    else:
        print(
            strip_control(
                _("{balance}  (from {source})").format(balance=balance.text(), source=balance.source)
            )
        )
    return 0


def _read(args: argparse.Namespace) -> Balance:
    session = open_session(profile=args.profile, base_url=args.base_url, model=args.model, demo=args.demo)
    try:
        source = balance_source(session.profile)
        if source is None:
            raise NoBalanceError(
                _("The endpoint {url} has no balance this program knows of.").format(
                    url=session.profile.base_url
                ),
                hint=_(
                    "Set [profiles.{profile}.balance] url, amount_path and currency_path "
                    "(or currency) in the config file."
                ).format(profile=session.profile_name),
            )
        return asyncio.run(fetch_balance(session.profile, session.api_key, source))
    finally:
        session.close()
