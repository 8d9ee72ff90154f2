"""Model prices and the cost of an answer.

Three sources, tried in order: per-model overrides from the config, the relay's own table below, then
the offline data bundled with the ``genai-prices`` package (imported lazily, never updated online).
An unknown model has no price (``None``), never $0.
"""

from __future__ import annotations

import contextlib
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from holysheep_tui.relay.wire import Usage

if TYPE_CHECKING:
    from holysheep_tui.config import PricingConfig

PER_MILLION = 1_000_000


@dataclass(frozen=True, slots=True)
class PriceTier:
    """Prices that apply to the whole request once its prompt exceeds ``above_prompt_tokens``."""

    above_prompt_tokens: int
    input_per_m: float
    output_per_m: float
    cached_input_per_m: float | None = None


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per million tokens. ``cached_input_per_m`` None means cached tokens cost the input price."""

    input_per_m: float
    output_per_m: float
    cached_input_per_m: float | None
    source: str
    as_of: str
    context_window: int | None = None
    tiers: tuple[PriceTier, ...] = ()
    vision: bool | None = None
    """Reads image parts (True), refuses them (False), or not known (None: images are let through)."""

    def rates_for(self, prompt_tokens: int) -> tuple[float, float, float]:
        """(input, cached input, output) USD per million tokens for a prompt of this size."""
        inp, out, cached = self.input_per_m, self.output_per_m, self.cached_input_per_m
        for tier in sorted(self.tiers, key=lambda t: t.above_prompt_tokens, reverse=True):
            if prompt_tokens > tier.above_prompt_tokens:
                inp, out, cached = tier.input_per_m, tier.output_per_m, tier.cached_input_per_m
                break
        return inp, (inp if cached is None else cached), out


@dataclass(frozen=True, slots=True)
class Cost:
    usd: float
    estimated: bool = False


class PriceOverride(Protocol):
    """A ``[pricing.overrides.NAME]`` entry: the config's model, or ``OverridePrice`` (no pydantic)."""

    @property
    def input(self) -> float: ...

    @property
    def output(self) -> float: ...

    @property
    def cached_input(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class OverridePrice:
    input: float
    output: float
    cached_input: float | None = None


# ---- the relay's table ---------------------------------------------------------------------------

_SEED = "HolySheep relay article (output price)"
_AS_OF = "2026-01"


def _entry(names: tuple[str, ...], price: ModelPrice) -> dict[str, ModelPrice]:
    return dict.fromkeys(names, price)


_GPT41 = ModelPrice(
    2.00, 8.00, 0.50,
    f"{_SEED}; input and cached input: OpenAI list price, openai.com/api/pricing",
    _AS_OF, 1_047_576, vision=True,
)  # fmt: skip
_SONNET45 = ModelPrice(
    3.00, 15.00, 0.30,
    f"{_SEED}; input, cache read and the >200k-prompt tier: Anthropic list price, anthropic.com/pricing",
    _AS_OF, 200_000,
    tiers=(PriceTier(200_000, 6.00, 22.50, 0.60),), vision=True,
)  # fmt: skip
_FLASH25 = ModelPrice(
    0.30, 2.50, 0.03,
    f"{_SEED}; input (text) and context cache: Google list price, ai.google.dev/gemini-api/docs/pricing",
    _AS_OF, 1_048_576, vision=True,
)  # fmt: skip
_DEEPSEEK = "DeepSeek list price (V3.2, cache miss / cache hit / output), api-docs.deepseek.com/quick_start/pricing"
_DSV32 = ModelPrice(
    0.28, 0.42, 0.028, f"{_SEED}; input and cache hit: {_DEEPSEEK}", _AS_OF, 128_000, vision=False
)
_DSR = ModelPrice(0.28, 0.42, 0.028, _DEEPSEEK, _AS_OF, 128_000, vision=False)
_MOONSHOT = "Moonshot AI list price, platform.moonshot.ai/docs/pricing"
_KIMI_K2 = ModelPrice(
    0.60, 2.50, 0.15, f"{_MOONSHOT} (kimi-k2-0905-preview); window: the relay's /models (128k)", _AS_OF,
    131_072, vision=False,
)  # fmt: skip
_KIMI_K2_THINKING = ModelPrice(
    0.60, 2.50, 0.15, f"{_MOONSHOT} (kimi-k2-thinking)", _AS_OF, 262_144, vision=False
)
_MOONSHOT_8K = ModelPrice(0.20, 2.00, None, f"{_MOONSHOT} (moonshot-v1-8k)", _AS_OF, 8_192, vision=False)
_MOONSHOT_32K = ModelPrice(1.00, 3.00, None, f"{_MOONSHOT} (moonshot-v1-32k)", _AS_OF, 32_768, vision=False)

RELAY_PRICES: Mapping[str, ModelPrice] = {
    **_entry(("gpt-4.1",), _GPT41),
    **_entry(("claude-sonnet-4-5", "claude-sonnet-4.5", "claude-4.5-sonnet"), _SONNET45),
    **_entry(("gemini-2.5-flash",), _FLASH25),
    **_entry(("deepseek-v3.2", "deepseek-v3.2-exp", "deepseek-chat"), _DSV32),
    **_entry(("deepseek-reasoner",), _DSR),
    **_entry(("kimi-k2", "kimi-k2-0905-preview"), _KIMI_K2),
    **_entry(("kimi-k2-thinking",), _KIMI_K2_THINKING),
    **_entry(("moonshot-v1-8k",), _MOONSHOT_8K),
    **_entry(("moonshot-v1-32k",), _MOONSHOT_32K),
}
"""The relay's own price table, keyed by canonical (lower-case, unprefixed, undated) model name."""

VISION_MODELS: tuple[str, ...] = ("gpt-4.1", "claude-sonnet-4.5", "gemini-2.5-flash")
"""The relay's models that read images (``ModelPrice.vision``), as the relay names them."""


# ---- model names ---------------------------------------------------------------------------------

_DATE_SUFFIX = re.compile(r"(?:[-@]\d{4}-\d{2}-\d{2}|[-@]20\d{6})$")


def name_candidates(model: str) -> list[str]:
    """Spellings to try for a model name, most specific first: as given, unprefixed, undated."""
    name = model.strip().lower()
    out = [name]
    if "/" in name:
        name = name.rsplit("/", 1)[1]
        out.append(name)
    undated = _DATE_SUFFIX.sub("", name)
    if undated != name:
        out.append(undated)
    return [n for i, n in enumerate(out) if n and n not in out[:i]]


# ---- genai-prices (offline) ----------------------------------------------------------------------


_BUNDLED: list[tuple[Any, str]] = []
_BUNDLED_LOCK = threading.Lock()


def bundled_genai_prices() -> tuple[Any, str]:
    """genai-prices' bundled data (a snapshot) and its version, read once per process: its data module
    takes about 0.1 s to import, so the app reads it in a thread while it waits for the first prompt
    (``preload_genai_prices``) rather than at the first lookup of a model our table lacks."""
    with _BUNDLED_LOCK:
        if not _BUNDLED:
            from importlib.metadata import version

            from genai_prices import data
            from genai_prices.data_snapshot import DataSnapshot

            snapshot = DataSnapshot(providers=data.providers, from_auto_update=False)
            _BUNDLED.append((snapshot, f"genai-prices {version('genai-prices')}"))
        return _BUNDLED[0]


def preload_genai_prices() -> threading.Thread:
    """Read genai-prices' bundled data in a daemon thread (a broken data package is left for the first
    lookup to meet: it means "price unknown")."""

    def load() -> None:
        with contextlib.suppress(Exception):
            bundled_genai_prices()

    thread = threading.Thread(target=load, name="genai-prices", daemon=True)
    thread.start()
    return thread


class _GenaiSource:
    """Lookups in the data bundled with genai-prices. Uses its own snapshot of the bundled data, so a
    ``genai_prices.UpdatePrices`` started elsewhere in the process cannot make us use fetched prices."""

    def __init__(self) -> None:
        self._snapshot: Any = None
        self._label = "genai-prices"
        self._version = "genai-prices"

    def _load(self) -> Any:
        if self._snapshot is None:
            self._snapshot, self._version = bundled_genai_prices()
            self._label = f"{self._version} bundled data"
        return self._snapshot

    def lookup(self, model: str) -> ModelPrice | None:
        try:
            snapshot = self._load()
        except Exception:  # a broken optional data package means "price unknown", not a crash
            return None
        name = model.strip().lower()
        prefix = name.split("/", 1)[0] if "/" in name else None
        for candidate in name_candidates(model):
            for provider_id in (prefix, None) if prefix else (None,):
                try:
                    provider, info = snapshot.find_provider_model(candidate, None, provider_id, None)
                    prices = info.get_prices(datetime.now(UTC))
                except (LookupError, ValueError):
                    continue
                source = f"{self._label} ({provider.id}/{info.id})"
                converted = _convert(prices, info.context_window, source, self._version)
                if converted is not None:
                    return converted
        return None


def _convert(prices: Any, context_window: int | None, source: str, as_of: str) -> ModelPrice | None:
    from genai_prices.types import TieredPrices

    raw = {key: getattr(prices, key, None) for key in ("input_mtok", "output_mtok", "cache_read_mtok")}
    if raw["input_mtok"] is None or raw["output_mtok"] is None:
        return None

    def at(value: Any, prompt_tokens: int) -> float | None:
        if value is None:
            return None
        if isinstance(value, TieredPrices):
            price = value.base
            for tier in value.tiers:
                if prompt_tokens > tier.start:
                    price = tier.price
            return float(price)
        return float(value)

    starts = sorted({t.start for v in raw.values() if isinstance(v, TieredPrices) for t in v.tiers})
    tiers = []
    for start in starts:
        inp, out = at(raw["input_mtok"], start + 1), at(raw["output_mtok"], start + 1)
        assert inp is not None and out is not None
        tiers.append(PriceTier(start, inp, out, at(raw["cache_read_mtok"], start + 1)))
    inp, out = at(raw["input_mtok"], 0), at(raw["output_mtok"], 0)
    assert inp is not None and out is not None
    return ModelPrice(
        inp, out, at(raw["cache_read_mtok"], 0), source, as_of, context_window, tuple(tiers)
    )


# ---- the price book ------------------------------------------------------------------------------


class PriceBook:
    """Prices by model name, cached per name. Cheap to build; genai-prices loads on first miss.

    ``pricing`` is the config's PricingConfig (its ``overrides`` are used) or the overrides mapping itself.
    """

    def __init__(
        self,
        pricing: PricingConfig | Mapping[str, PriceOverride] | None = None,
        *,
        table: Mapping[str, ModelPrice] = RELAY_PRICES,
        use_genai_prices: bool = True,
    ) -> None:
        overrides: Mapping[str, PriceOverride] = (
            {} if pricing is None else pricing if isinstance(pricing, Mapping) else pricing.overrides
        )
        self._overrides = {k.strip().lower(): v for k, v in overrides.items()}
        self._table = table
        self._genai = _GenaiSource() if use_genai_prices else None
        self._cache: dict[str, ModelPrice | None] = {}

    @property
    def uses_genai_prices(self) -> bool:
        """Whether a model our table lacks is looked up in genai-prices' bundled data."""
        return self._genai is not None

    def lookup(self, model: str) -> ModelPrice | None:
        try:
            return self._cache[model]
        except KeyError:
            pass
        found = self._find(model)
        if len(self._cache) > 1024:
            self._cache.clear()
        self._cache[model] = found
        return found

    def _find(self, model: str) -> ModelPrice | None:
        candidates = name_candidates(model)
        for name in candidates:
            if name in self._overrides:
                return self._from_override(name, candidates)
        for name in candidates:
            if name in self._table:
                return self._table[name]
        return self._genai.lookup(model) if self._genai is not None else None

    def _from_override(self, key: str, candidates: list[str]) -> ModelPrice:
        o = self._overrides[key]
        base = next((self._table[n] for n in candidates if n in self._table), None)
        window = base.context_window if base is not None else None
        vision = base.vision if base is not None else None
        source = f"config override [pricing.overrides.{key}]"
        return ModelPrice(o.input, o.output, o.cached_input, source, "", window, vision=vision)

    def reads_images(self, model: str) -> bool | None:
        """Whether ``model`` reads image parts; None when no price entry says."""
        price = self.lookup(model)
        return None if price is None else price.vision

    def cost(self, model: str, usage: Usage, *, estimated: bool = False) -> Cost | None:
        """The cost of one request, or None when the model's price is unknown."""
        price = self.lookup(model)
        return None if price is None else Cost(cost_usd(price, usage), estimated)

    def estimate_cost(self, model: str, prompt: str | Iterable[str] | int, completion_text: str) -> Cost | None:
        """A rough cost (``estimated=True``) from the texts, for when the server reported no usage."""
        return self.cost(model, estimate_usage(prompt, completion_text), estimated=True)

    def input_cost(self, model: str, prompt_tokens: int) -> Cost | None:
        """The estimated input cost of a request of ``prompt_tokens`` (None: price unknown)."""
        return self.cost(model, Usage(prompt_tokens, 0, prompt_tokens), estimated=True)

    def answer_cost(
        self, model: str, usage: Usage | None, prompt: str | Iterable[str] | int, completion_text: str
    ) -> Cost | None:
        """The exact cost when the server sent usage, else the estimate."""
        if usage is not None:
            return self.cost(model, usage)
        return self.estimate_cost(model, prompt, completion_text)


def output_tokens(usage: Usage) -> int:
    """Billed output tokens. OpenAI-style usage already counts reasoning inside completion_tokens; when
    total_tokens shows the server counted reasoning separately, it is added."""
    out = usage.completion_tokens
    reasoning = usage.reasoning_tokens
    if (
        reasoning > 0
        and usage.total_tokens == usage.prompt_tokens + out + reasoning
        and usage.total_tokens != usage.prompt_tokens + out
    ):
        out += reasoning
    return out


def cost_usd(price: ModelPrice, usage: Usage) -> float:
    """Cached tokens are part of prompt_tokens and billed at the cached price; the rest at input price."""
    prompt = max(usage.prompt_tokens, 0)
    cached = min(max(usage.cached_tokens, 0), prompt)
    inp, cached_rate, out = price.rates_for(prompt)
    total = (prompt - cached) * inp + cached * cached_rate + max(output_tokens(usage), 0) * out
    return total / PER_MILLION


# ---- estimates -----------------------------------------------------------------------------------


def _is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def estimate_tokens(text: str) -> int:
    """CJK and other wide characters ~1 token each; other text ~4 characters per token."""
    if not text:
        return 0
    wide = sum(1 for ch in text if ord(ch) > 0x2E7F and _is_wide(ch))
    other = len(text) - wide
    return wide + (other + 3) // 4


def estimate_usage(prompt: str | Iterable[str] | int, completion_text: str) -> Usage:
    """A usage estimate. ``prompt`` is the prompt text, its parts, or just its length in characters."""
    if isinstance(prompt, int):
        prompt_tokens = (max(prompt, 0) + 3) // 4
    elif isinstance(prompt, str):
        prompt_tokens = estimate_tokens(prompt)
    else:
        prompt_tokens = sum(estimate_tokens(part) for part in prompt)
    completion = estimate_tokens(completion_text)
    return Usage(prompt_tokens=prompt_tokens, completion_tokens=completion, total_tokens=prompt_tokens + completion)
