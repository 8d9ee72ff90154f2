"""The app's first frame without pydantic: plain values from a cache of the last config known to be valid.

After a full, successful load (pydantic, profile resolution) the values the first frame shows are written
to ``locations.startup_cache()`` with a key over everything that chose them: the config file's bytes, its
path, this program's version, pydantic's installed files, the profile-choosing flags and environment
variables. A launch whose key matches draws its first frame from the cache and loads the config fully
right after it; any other launch validates first, as before. The cache never holds a key, nor a hash of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from holysheep_tui import __version__, locations
from holysheep_tui.economics.money import CurrencyView
from holysheep_tui.economics.prices import OverridePrice, PriceBook
from holysheep_tui.i18n import _

if TYPE_CHECKING:
    from holysheep_tui.chat.session import Session

FORMAT = 1
CONFIG_ENV = ("HOLYSHEEP_CONFIG", "HOLYSHEEP_BASE_URL", "HOLYSHEEP_MODEL", "HOLYSHEEP_KEYRING_TIMEOUT")
"""Environment variables that config, profile and key-lookup settings read (never a key variable)."""
LAUNCH_FLAGS = ("profile", "base_url", "model", "demo")
_VALIDATION_CODE = ("pydantic", "pydantic_core")
"""Packages whose installed files take part in the key: an upgrade may judge the same file differently."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FirstFrame:
    """What the app shows before its config is fully loaded: the profile, model, money and budget settings."""

    profile_name: str
    model: str
    base_url: str
    demo: bool
    theme: str
    currency: Literal["USD", "CNY"] = "CNY"
    relay_rate: float = 1.0
    market_rate: float = 7.3
    budget_daily_usd: float | None = None
    budget_monthly_usd: float | None = None
    favourite_models: tuple[str, ...] = ()
    price_overrides: tuple[tuple[str, float, float, float | None], ...] = ()
    """(model, input, output, cached input) USD per million tokens, from ``[pricing.overrides]``."""

    @classmethod
    def of(cls, session: Session) -> FirstFrame:
        config, profile, pricing = session.config, session.profile, session.config.pricing
        return cls(
            profile_name=session.profile_name,
            model=profile.model,
            base_url=profile.base_url,
            demo=session.is_demo,
            theme=config.ui.theme,
            currency=pricing.currency,
            relay_rate=pricing.relay_rate,
            market_rate=pricing.market_rate,
            budget_daily_usd=profile.budget_daily_usd,
            budget_monthly_usd=profile.budget_monthly_usd,
            favourite_models=tuple(config.ui.favourite_models),
            price_overrides=tuple(
                (k, o.input, o.output, o.cached_input) for k, o in pricing.overrides.items()
            ),
        )

    @property
    def sub_title(self) -> str:
        if self.demo:
            return "DEMO · " + _("built-in relay simulator · no key, no network")
        return f"{self.profile_name} · {self.base_url}"

    def currency_view(self) -> CurrencyView:
        return CurrencyView(relay_rate=self.relay_rate, market_rate=self.market_rate, currency=self.currency)

    def price_book(self) -> PriceBook:
        return PriceBook({name: OverridePrice(i, o, c) for name, i, o, c in self.price_overrides})


# ---- the cache ---------------------------------------------------------------------------------------


def _stat(path: Path | str | None) -> list[int] | None:
    try:
        st = os.stat(path) if path else None
    except OSError:
        return None
    return None if st is None else [st.st_mtime_ns, st.st_size]


def _validation_code() -> list[object]:
    """pydantic's installed files, found without importing pydantic (an import costs ~50 ms)."""
    from importlib.machinery import PathFinder

    out: list[object] = []
    for name in _VALIDATION_CODE:
        spec = PathFinder.find_spec(name)
        origin = spec.origin if spec is not None else None
        out.append([origin, _stat(origin)])
    return out


def cache_key(
    flags: Mapping[str, object], config_path: Path, config_bytes: bytes | None, environ: Mapping[str, str]
) -> str:
    """sha256 over what chooses the first frame. No key (nor anything derived from one) takes part."""
    parts = {
        "format": FORMAT,
        "version": __version__,
        "config_code": _stat(Path(__file__).with_name("config.py")),
        "validation": _validation_code(),
        "config_path": str(config_path),
        "config": "no file" if config_bytes is None else hashlib.sha256(config_bytes).hexdigest(),
        "flags": [flags.get(name) for name in LAUNCH_FLAGS],
        "env": [environ.get(name) for name in CONFIG_ENV],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def launch_flags(args: object) -> dict[str, object]:
    return {name: getattr(args, name, None) for name in LAUNCH_FLAGS}


def _frame_from(data: object) -> FirstFrame | None:
    """The frame a cache record holds, or None when anything in it is not as written."""
    if not isinstance(data, dict) or set(data) != {f.name for f in fields(FirstFrame)}:
        return None
    num = (int, float)
    checks: dict[str, Callable[[Any], bool]] = {
        "profile_name": lambda v: isinstance(v, str),
        "model": lambda v: isinstance(v, str),
        "base_url": lambda v: isinstance(v, str),
        "demo": lambda v: isinstance(v, bool),
        "theme": lambda v: isinstance(v, str),
        "currency": lambda v: v in ("USD", "CNY"),
        "relay_rate": lambda v: isinstance(v, num) and not isinstance(v, bool),
        "market_rate": lambda v: isinstance(v, num) and not isinstance(v, bool),
        "budget_daily_usd": lambda v: v is None or isinstance(v, num),
        "budget_monthly_usd": lambda v: v is None or isinstance(v, num),
        "favourite_models": lambda v: isinstance(v, list) and all(isinstance(m, str) for m in v),
        "price_overrides": lambda v: isinstance(v, list)
        and all(
            isinstance(o, list) and len(o) == 4 and isinstance(o[0], str)
            and all(isinstance(x, num) for x in o[1:3]) and (o[3] is None or isinstance(o[3], num))
            for o in v
        ),
    }  # fmt: skip
    if not all(check(data[name]) for name, check in checks.items()):
        return None
    values = dict(data)
    values["favourite_models"] = tuple(values["favourite_models"])
    values["price_overrides"] = tuple(tuple(o) for o in values["price_overrides"])
    return FirstFrame(**values)


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def cached_first_frame(args: object, environ: Mapping[str, str] | None = None) -> FirstFrame | None:
    """The first frame for this launch if the cache was written for exactly this config; else None.

    Never raises: an unreadable config file or cache is a miss (the full load then reports the problem)."""
    env = os.environ if environ is None else environ
    try:
        path = locations.config_file()
        raw = path.read_bytes() if path.exists() else None
        key = cache_key(launch_flags(args), path, raw, env)
    except OSError:
        return None
    record = _read_record(locations.startup_cache())
    frame = record.get("frame") if record is not None else None
    if isinstance(frame, dict) and _has_userinfo(frame.get("base_url")):
        forget_first_frame()  # an older release cached a password from base_url: never show or keep it
        return None
    if record is None or record.get("key") != key:
        return None
    return _frame_from(frame)


def _has_userinfo(url: object) -> bool:
    return isinstance(url, str) and "@" in url.partition("://")[2].split("/", 1)[0]


def remember_first_frame(key: str, frame: FirstFrame) -> None:
    """Record ``frame`` as valid for ``key`` (0600, atomic). Call only after a full, successful load.

    Skipped when the cache already says so; a cache that cannot be written is no error."""
    pydantic_version = getattr(sys.modules.get("pydantic"), "VERSION", None)
    record = {"key": key, "pydantic": pydantic_version, "frame": asdict(frame)}
    path = locations.startup_cache()
    if _read_record(path) == json.loads(json.dumps(record)):
        return
    with contextlib.suppress(OSError):
        locations.ensure_private_dir(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=".startup-", suffix=".tmp", dir=path.parent)  # 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(record, out, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def forget_first_frame() -> None:
    """Drop the cache (the config it vouched for turned out invalid)."""
    with contextlib.suppress(OSError):
        locations.startup_cache().unlink()


class Once(Generic[T]):
    """Runs ``work`` once, in whichever thread asks first; later callers wait for its result (or error)."""

    def __init__(self, work: Callable[[], T]) -> None:
        self._work = work
        self._lock = threading.Lock()
        self._done = False
        self._value: T | None = None
        self._error: BaseException | None = None

    def result(self) -> T:
        with self._lock:
            if not self._done:
                try:
                    self._value = self._work()
                except BaseException as exc:  # handed to every caller
                    self._error = exc
                self._done = True
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def hold_early_keys(fd: int = 0) -> Callable[[], None]:
    """Keys typed before the app's screen is up: neither echoed nor held for a line by the terminal.

    Python and Textual take a few tenths of a second to start. Until Textual puts the terminal in raw
    mode, the terminal's line discipline echoes what is typed and keeps it back until Enter; the app then
    received it all at once before its prompt was there. From here on the keys wait, unechoed, in the
    terminal's input queue (nothing is flushed) and the app reads them once its input thread starts.
    Returns what puts the terminal back as it was (call it after the app has ended)."""
    try:
        import termios
    except ImportError:  # not a POSIX terminal
        return lambda: None
    try:
        if not os.isatty(fd):
            return lambda: None
        before = termios.tcgetattr(fd)
        quiet = termios.tcgetattr(fd)
        quiet[0] &= ~(termios.ICRNL | termios.INLCR | termios.IGNCR | termios.IXON)  # Enter stays Enter
        quiet[3] &= ~(termios.ICANON | termios.ECHO)  # lflag: ISIG stays (Ctrl+C still interrupts)
        quiet[6][termios.VMIN], quiet[6][termios.VTIME] = 1, 0
        termios.tcsetattr(fd, termios.TCSANOW, quiet)  # TCSANOW: what was typed already stays queued
    except (OSError, termios.error):
        return lambda: None

    def restore() -> None:
        with contextlib.suppress(OSError, termios.error):
            termios.tcsetattr(fd, termios.TCSANOW, before)

    return restore
