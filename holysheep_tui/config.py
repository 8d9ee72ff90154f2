"""Configuration: pydantic models, one per concern, read from one TOML file.

A missing file means defaults. An invalid file is one ``ConfigError`` naming the file, the key and
what was expected; a config is never half-read.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from holysheep_tui import locations
from holysheep_tui.errors import ConfigError, UsageError

DEFAULT_PROFILE = "holysheep"
DEFAULT_BASE_URL = "https://api.holysheep.ai/v1"
DEFAULT_MODEL = "kimi-k2"


class _Model(BaseModel):
    # The attribute docstrings document the fields for readers; pydantic is not asked to extract them
    # (use_attribute_docstrings parses this file's source at import: ~15 ms of every start-up).
    model_config = ConfigDict(extra="forbid", validate_default=True)


class Timeouts(_Model):
    connect: float = Field(10.0, gt=0)
    """Seconds to wait for the TCP/TLS connection."""
    read: float = Field(60.0, gt=0)
    """Seconds to wait between two chunks of an answer before calling the relay stalled."""
    total: float = Field(1800.0, ge=0)
    """Seconds one request may take in all, from sending it to the end of its answer; 0: no limit."""


class RetryPolicy(_Model):
    max_retries: int = Field(2, ge=0, le=10)
    """Retries after the first attempt (3 attempts in all by default); 0 turns retries off."""
    base_delay: float = Field(0.5, ge=0)
    """First back-off step in seconds; each retry doubles it, with full jitter."""
    max_delay: float = Field(8.0, ge=0)
    """Longest back-off between two attempts."""
    retry_after_cap: float = Field(30.0, ge=0)
    """A server's Retry-After is honoured up to this many seconds."""


class BalanceConfig(_Model):
    enabled: bool = True
    """Show the account's balance (status bar, ``holysheep balance``) when its endpoint is known."""
    url: str | None = None
    """The balance endpoint: a path on the relay's host (``/user/balance``) or a URL on that same host;
    unset: the built-in endpoints (DeepSeek, Moonshot), else no balance."""
    amount_path: str | None = None
    """Where the amount is in the JSON answer, dotted, list items by number: ``balance_infos.0.total_balance``."""
    currency_path: str | None = None
    """Where the currency code is in the JSON answer, e.g. ``balance_infos.0.currency``."""
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    """The currency code when the answer does not say it, e.g. CNY."""

    @model_validator(mode="after")
    def _complete(self) -> BalanceConfig:
        if self.url is not None:
            if any(c.isspace() or _is_control(c) for c in self.url):
                raise ValueError("a URL cannot contain spaces or control characters")
            if not self.amount_path:
                raise ValueError("a balance url needs amount_path (where the amount is in its JSON)")
            if not self.currency_path and not self.currency:
                raise ValueError('a balance url needs currency_path or currency (e.g. "CNY")')
        return self


class Profile(_Model):
    base_url: str = DEFAULT_BASE_URL
    """The OpenAI-compatible endpoint, up to and including /v1."""
    model: str = DEFAULT_MODEL
    """Model used when none is chosen."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra request headers, e.g. HTTP-Referer and X-Title for the relay's dashboard."""
    timeouts: Timeouts = Field(default_factory=Timeouts)
    """Connection and read time-outs."""
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    """Retry policy for failures before the first answer byte."""
    api_key_env: str | None = None
    """An environment variable holding this profile's key (checked before HOLYSHEEP_API_KEY)."""
    api_key_cmd: list[str] | None = None
    """A command (argv list, run without a shell) that prints the key, e.g. a password manager."""
    allow_insecure_http: bool = False
    """Allow an http:// base URL on a non-loopback host (the key would travel unencrypted)."""
    ca_bundle: str | None = None
    """Path to a PEM bundle of extra trusted CAs (TLS verification is always on)."""
    budget_daily_usd: float | None = Field(None, gt=0)
    """Optional daily spending budget in USD."""
    budget_monthly_usd: float | None = Field(None, gt=0)
    """Optional monthly spending budget in USD."""
    rate_limit_rpm: int | None = Field(None, gt=0)
    """Optional client-side limit of requests per minute."""
    balance: BalanceConfig = Field(default_factory=BalanceConfig)
    """Where the account's balance is read (``[profiles.NAME.balance]``)."""

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if any(c.isspace() or _is_control(c) for c in value):
            raise ValueError("a URL cannot contain spaces or control characters")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http:// or https:// URL such as https://api.holysheep.ai/v1")
        try:
            port = parts.port
        except ValueError:
            port = 0
        if port == 0:
            raise ValueError("the port must be a number from 1 to 65535")
        if "@" in parts.netloc:
            raise ValueError(
                "a base URL cannot carry a user name or password (they would be shown and stored with it); "
                "store the API key with `holysheep key set`, or send other credentials in the profile's headers"
            )
        return value.rstrip("/")

    @field_validator("ca_bundle")
    @classmethod
    def _expand_ca_bundle(cls, value: str | None) -> str | None:
        return str(Path(value).expanduser()) if value and "\0" not in value else value

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not name.isascii() or not name.replace("-", "").replace("_", "").isalnum():
                raise ValueError(f"header name {name!r} must be ASCII letters, digits and '-'")
            if not text.isascii() or any(ord(c) < 32 for c in text):
                raise ValueError(
                    f"header {name!r} must be printable ASCII (HTTP headers cannot carry other text); "
                    "percent-encode it, e.g. %E5%9B%A2%E9%98%9F for 团队"
                )
        return value


def _is_control(c: str) -> bool:
    return ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F


def redact_url(text: str) -> str:
    """``text`` with any user name and password after ``scheme://`` replaced by ``***``."""
    return _USERINFO.sub(r"\1***@", text)


_USERINFO = re.compile(r"(\w+://)[^/?#\s]*@")


class PriceOverride(_Model):
    input: float = Field(ge=0)
    """USD per million input tokens."""
    output: float = Field(ge=0)
    """USD per million output tokens."""
    cached_input: float | None = Field(None, ge=0)
    """USD per million cached input tokens (defaults to the input price)."""


class PricingConfig(_Model):
    market_rate: float = Field(7.3, gt=0)
    """CNY per USD at the market rate, to show what the relay's ¥1 = $1 billing saves."""
    relay_rate: float = Field(1.0, gt=0)
    """CNY billed per USD of list price by the relay."""
    currency: Literal["USD", "CNY"] = "CNY"
    """Currency shown first in the status bar and stats."""
    overrides: dict[str, PriceOverride] = Field(default_factory=dict)
    """Per-model price overrides, keyed by model name."""


class UIConfig(_Model):
    theme: str = "textual-dark"
    """Textual theme name; the app remembers the last choice here."""
    show_reasoning: bool = True
    """Show the model's reasoning section while it thinks."""
    favourite_models: list[str] = Field(default_factory=list)
    """Models listed first in the model picker."""
    mouse: bool = True
    """Let the app take the mouse (clicks, wheel); false leaves selecting text to the terminal (F12 toggles)."""
    language: Literal["en", "zh-CN"] | None = None
    """The interface's language (``"zh-CN"`` or ``"en"``); unset: the environment's (``LC_ALL``,
    ``LC_MESSAGES``, ``LANG``). ``--lang`` wins over it."""


class Config(_Model):
    default_profile: str = DEFAULT_PROFILE
    """Profile used when --profile is not given."""
    profiles: dict[str, Profile] = Field(default_factory=dict)
    """Named endpoints. The 'holysheep' profile always exists."""
    ui: UIConfig = Field(default_factory=UIConfig)
    """Appearance and behaviour of the full-screen app."""
    pricing: PricingConfig = Field(default_factory=PricingConfig)
    """Currencies and price overrides."""
    keys: dict[str, str] = Field(default_factory=dict)
    """The app's keys, by action: ``new_conversation = "ctrl+t"``; F1 lists the actions and the keys in force."""
    context_windows: dict[str, PositiveInt] = Field(default_factory=dict)
    """Context window in tokens per model name (``[context_windows]`` ``"moonshot-v1-8k" = 8192``); wins
    over the relay's ``/models`` and the price table."""

    def model_post_init(self, __context: Any) -> None:
        self.profiles.setdefault(DEFAULT_PROFILE, Profile())


def load_config(path: Path | None = None) -> Config:
    """Read the config file (or defaults when it does not exist)."""
    path = path or locations.config_file()
    return config_from_bytes(read_config_bytes(path), path)


def read_config_bytes(path: Path) -> bytes | None:
    """The config file's bytes; None when it does not exist. Raises ConfigError when it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc.strerror or exc}") from None


def config_from_bytes(raw: bytes | None, path: Path) -> Config:
    """The config these bytes hold (None: no file, the defaults); ``path`` names them in errors."""
    if raw is None:
        return Config()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"The config file {path} is not UTF-8 text.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The config file {path} is not valid TOML: {exc}") from None
    return parse_config(data, source=str(path))


def parse_config(data: Mapping[str, Any], *, source: str = "config") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        got = first.get("input")
        detail = first["msg"]
        if first["type"] == "extra_forbidden":
            detail = "unknown setting"
        shown = "" if isinstance(got, dict) else f" (got {redact_url(repr(got))})"
        more = f" and {len(exc.errors()) - 1} more problem(s)" if len(exc.errors()) > 1 else ""
        raise ConfigError(f"Invalid config file {source}: key '{key}': {detail}{shown}{more}.") from None


def is_loopback_host(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_profile(
    config: Config,
    *,
    profile: str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[str, Profile]:
    """The effective profile: flags beat environment variables, which beat the config file."""
    env = os.environ if environ is None else environ
    name = profile or config.default_profile
    if name not in config.profiles:
        known = ", ".join(sorted(config.profiles))
        raise UsageError(f"Unknown profile '{name}'. Known profiles: {known}.")
    chosen = config.profiles[name]
    updates: dict[str, Any] = {}
    url = base_url or env.get("HOLYSHEEP_BASE_URL")
    if url:
        updates["base_url"] = url
    mdl = model or env.get("HOLYSHEEP_MODEL")
    if mdl:
        updates["model"] = mdl
    if updates:
        try:
            chosen = Profile.model_validate({**chosen.model_dump(), **updates})
        except ValidationError as exc:
            shown = redact_url(repr(url))
            raise UsageError(f"Invalid base URL {shown}: {exc.errors()[0]['msg']}") from None
    check_transport_security(chosen)
    check_ca_bundle(name, chosen)
    return name, chosen


def check_transport_security(profile: Profile) -> None:
    """Refuse to send a key over plain http to anything but this machine, unless the profile allows it."""
    parts = urlsplit(profile.base_url)
    if (
        parts.scheme == "http"
        and not is_loopback_host(parts.hostname or "")
        and not profile.allow_insecure_http
    ):
        raise ConfigError(
            f"Refusing plain http:// for {parts.hostname}: the API key would travel unencrypted.",
            hint="Use https://, or set allow_insecure_http = true in that profile if you accept the risk.",
        )


def check_ca_bundle(name: str, profile: Profile) -> None:
    """A ConfigError unless the profile's ``ca_bundle`` is a readable file of PEM certificates."""
    if not profile.ca_bundle:
        return
    import ssl

    where = f"The ca_bundle {profile.ca_bundle!r} of profile '{name}'"
    hint = "Set ca_bundle to a PEM file of CA certificates, or remove it to trust the system's CAs."
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=profile.ca_bundle)
    except ssl.SSLError:
        raise ConfigError(f"{where} holds no PEM certificate.", hint=hint) from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or "not a file name"
        raise ConfigError(f"{where} cannot be read: {reason}.", hint=hint) from None
