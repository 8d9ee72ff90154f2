"""The account's balance at the relay: where it is read, reading it, and how often.

A profile's ``balance`` settings name the endpoint and the JSON paths of the amount and currency; without
them the documented endpoints of DeepSeek and Moonshot are known by host. An endpoint with neither has no
balance: nothing is fetched and nothing is shown. The key goes only to the relay's own origin.
"""

from __future__ import annotations

import json
import math
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import httpx

from holysheep_tui.config import Profile
from holysheep_tui.errors import ConfigError, ProtocolError
from holysheep_tui.i18n import _
from holysheep_tui.relay.auth import BearerToOrigin, KeyScrubber, direct_to_loopback, origin
from holysheep_tui.relay.failures import status_error, too_large_error, transport_error
from holysheep_tui.textsafety import one_line

MIN_INTERVAL = 30.0
"""Seconds between two reads of the balance, at the least."""
_MAX_BODY = 1024 * 1024
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class BalanceSource:
    """Where a balance is read and how to find it in the answer."""

    url: str
    amount_path: str
    currency_path: str | None
    currency: str | None
    """The currency when the answer does not carry one."""
    known_as: str
    """``config`` or the provider whose documented endpoint this is."""


@dataclass(frozen=True)
class _Known:
    path: str
    amount_path: str
    currency_path: str | None
    currency: str | None
    provider: str


# Documented endpoints: https://api-docs.deepseek.com/api/get-user-balance and
# https://platform.moonshot.cn/docs/api/misc (GET /v1/users/me/balance, amounts in CNY).
_KNOWN_HOSTS: dict[str, _Known] = {
    "api.deepseek.com": _Known(
        "/user/balance", "balance_infos.0.total_balance", "balance_infos.0.currency", None, "DeepSeek"
    ),
    "api.moonshot.cn": _Known("/v1/users/me/balance", "data.available_balance", None, "CNY", "Moonshot"),
}


@dataclass(frozen=True)
class Balance:
    amount: Decimal
    currency: str
    source: str
    """The URL it was read from."""

    def to_json(self) -> dict[str, Any]:
        return {"amount": float(self.amount), "currency": self.currency, "source": self.source}

    def text(self) -> str:
        """``110.00 CNY``: the code, never a bare ¥ that reads as yen."""
        return f"{self.amount:,.2f} {self.currency}"


def balance_source(profile: Profile) -> BalanceSource | None:
    """Where the profile's balance is read, or None when the endpoint has none we know of."""
    settings = profile.balance
    if not settings.enabled:
        return None
    scheme, host, port = origin(profile.base_url)
    default_port = {"http": 80, "https": 443}.get(scheme)
    root = f"{scheme}://{host if ':' not in host else f'[{host}]'}" + (
        "" if port == default_port else f":{port}"
    )
    if settings.url is not None and settings.amount_path is not None:
        url = settings.url if "://" in settings.url else root + "/" + settings.url.lstrip("/")
        return BalanceSource(url, settings.amount_path, settings.currency_path, settings.currency, "config")
    known = _KNOWN_HOSTS.get(host.lower())
    if known is None:
        return None
    return BalanceSource(
        root + known.path, known.amount_path, known.currency_path, known.currency, known.provider
    )


def _check_origin(source: BalanceSource, profile: Profile) -> None:
    if urlsplit(source.url).scheme not in ("http", "https") or origin(source.url) != origin(profile.base_url):
        host = urlsplit(profile.base_url).netloc
        raise ConfigError(
            f"The balance url {one_line(source.url)} is not on the relay's host {host}, so the key is not sent "
            "there.",
            hint="Set balance.url to a path such as /user/balance, or to a URL on the relay's own host.",
        )


def pick(data: Any, path: str) -> Any:
    """The value at a dotted path (``a.0.b``; ``a[0].b`` too); KeyError when it is not there."""
    here = data
    for part in path.replace("[", ".").replace("]", "").split("."):
        if not part:
            continue
        if isinstance(here, dict) and part in here:
            here = here[part]
        elif isinstance(here, list) and part.isdigit() and int(part) < len(here):
            here = here[int(part)]
        else:
            raise KeyError(path)
    return here


def read_balance(payload: bytes, source: BalanceSource) -> Balance:
    """The balance in an answer; a ProtocolError rather than a wrong figure."""
    where = one_line(source.url)
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        raise ProtocolError(f"The balance from {where} is not JSON.", status=200) from None
    try:
        raw = pick(data, source.amount_path)
    except KeyError:
        raise ProtocolError(
            f"The balance from {where} has no amount at {one_line(source.amount_path)}.", status=200
        ) from None
    amount: Decimal | None = None
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        amount = Decimal(str(raw))
    elif isinstance(raw, str) and len(raw) <= 40:
        try:
            amount = Decimal(raw.strip())
        except InvalidOperation:
            amount = None
        if amount is not None and not amount.is_finite():
            amount = None
    if amount is None:
        raise ProtocolError(
            f"The balance from {where} is not a number: {one_line(repr(raw))[:60]}.", status=200
        )
    currency: Any = source.currency
    if source.currency_path:
        try:
            currency = pick(data, source.currency_path)
        except KeyError:
            currency = source.currency
    if not isinstance(currency, str) or not _CURRENCY.match(currency.strip().upper()):
        raise ProtocolError(f"The balance from {where} names no currency.", status=200)
    return Balance(amount, currency.strip().upper(), source.url)


async def fetch_balance(
    profile: Profile,
    api_key: str | None,
    source: BalanceSource,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Balance:
    """GET the balance (no redirects followed); RelayError, ConfigError or ProtocolError when it fails."""
    _check_origin(source, profile)
    scrub = KeyScrubber(api_key)
    verify: ssl.SSLContext | bool = True
    if profile.ca_bundle:
        verify = ssl.create_default_context(cafile=profile.ca_bundle)
    headers = {k: v for k, v in profile.headers.items() if k.lower() != "authorization"}
    timeout = httpx.Timeout(profile.timeouts.read, connect=profile.timeouts.connect)
    async with httpx.AsyncClient(
        headers=headers,
        timeout=timeout,
        auth=BearerToOrigin(api_key, profile.base_url) if api_key else None,
        follow_redirects=False,
        verify=verify,
        transport=transport,
        trust_env=True,
        mounts=direct_to_loopback(profile.base_url),
    ) as http:
        try:
            async with http.stream("GET", source.url, headers={"Accept": "application/json"}) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > _MAX_BODY:
                        raise too_large_error("balance", _MAX_BODY)
        except httpx.HTTPError as exc:
            raise transport_error(exc, profile.base_url, profile.timeouts) from None
    if response.status_code != 200:
        raise status_error(
            response.status_code, response.headers, bytes(body), model=None, key_source="the key", scrub=scrub
        )
    return read_balance(bytes(body), source)


class BalanceWatch:
    """When to read the balance again (at most every ``MIN_INTERVAL`` s) and what the last read gave.

    ``shown`` stays after a failed read and is then ``stale``; before any good read nothing is shown.
    """

    def __init__(self, source: BalanceSource | None, clock: Callable[[], float]) -> None:
        self.source = source
        self.clock = clock
        self.shown: Balance | None = None
        self.stale = False
        self.error: str | None = None
        """Why the last read failed."""
        self.reading = False
        self._last: float | None = None

    def wait(self) -> float | None:
        """Seconds until the next read is allowed (0: now); None when there is nothing to read."""
        if self.source is None:
            return None
        if self._last is None:
            return 0.0
        return max(0.0, self._last + MIN_INTERVAL - self.clock())

    def begin(self) -> bool:
        """Start a read if one is due and none is running; True when the caller should fetch now."""
        if self.reading or self.wait() != 0.0:
            return False
        self.reading, self._last = True, self.clock()
        return True

    def done(self, balance: Balance | None, error: str | None = None) -> None:
        self.reading = False
        if balance is not None:
            self.shown, self.stale, self.error = balance, False, None
        else:
            self.stale, self.error = self.shown is not None, error

    def segment(self) -> str | None:
        """The status bar's text: ``balance 110.00 CNY``; None when there is no figure to show."""
        if self.shown is None:
            return None
        if self.stale:
            # TRANSLATORS: the status bar's balance when the last read failed (the figure is older).
            return _("balance {amount} (stale)").format(amount=self.shown.text())
        return _("balance {amount}").format(amount=self.shown.text())
