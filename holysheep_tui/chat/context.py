"""The context window: each model's window, an offline token estimate, and the plan for the next request.

Core module (no Textual). The front ends ask ``plan_context`` what the next request will send against the
target model's window; when it will not fit, the plan carries the three ways out, each with its estimated
input cost: compact (a summary, ``chat/compaction.py``), recent (leave the oldest turns out) and switch
(a model whose window fits).

The estimate counts CJK and other characters apart and turns them into tokens with per-model rates that
start from sensible defaults and learn from the ``prompt_tokens`` each model reports (``TokenRates``,
persisted in ``token_rates.json`` in the data directory). Every figure it gives is marked estimated.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from holysheep_tui import locations
from holysheep_tui.chat.attachments import IMAGE_TOKENS, prompt_with_files
from holysheep_tui.errors import EXIT_BAD_REQUEST, HolySheepError
from holysheep_tui.i18n import N_, _, sentences

if TYPE_CHECKING:
    from holysheep_tui.chat.attachments import Attachment
    from holysheep_tui.chat.conversation import Conversation
    from holysheep_tui.economics.prices import Cost, PriceBook
    from holysheep_tui.relay.wire import ModelInfo

CJK_RATE = 1.0
"""Default tokens per CJK (wide) character: Chinese tokenizers give 0.6-1.5; 1 errs on the safe side."""
LATIN_RATE = 0.25
"""Default tokens per other character (about four characters per token in English and code)."""
MESSAGE_OVERHEAD = 4
"""Tokens each message costs beyond its text (role and separators)."""
DEFAULT_RESERVE = 4096
"""Tokens left for the answer when no max_tokens is set (at most an eighth of the window)."""
_LEARN_WEIGHT = 0.3
_WIDE = re.compile(
    "[\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff]"
)


class ContextWontFitError(HolySheepError):
    """The next request is larger than the model's window and the user chose to stop (``--fit fail``)."""

    title = N_("Conversation too long for the model")
    kind = "context_too_long"
    exit_code = EXIT_BAD_REQUEST
    needs_change = True


# ---- windows -------------------------------------------------------------------------------------


class Windows:
    """Each model's context window in tokens: the config's ``[context_windows]``, else what the relay's
    ``/models`` said (``listed``), else the price data; None when unknown (no meter, nothing automatic)."""

    def __init__(
        self,
        prices: PriceBook | None = None,
        *,
        overrides: Mapping[str, int] | None = None,
        listed: Iterable[ModelInfo] = (),
    ) -> None:
        self._prices = prices
        self._overrides = {k.strip().lower(): v for k, v in (overrides or {}).items()}
        self._listed: dict[str, int] = {}
        self.add_listed(listed)

    def add_listed(self, models: Iterable[ModelInfo]) -> None:
        """Take in the windows of a ``/models`` listing (models without one are left to the price data)."""
        for info in models:
            if info.context_window:
                self._listed[info.id.strip().lower()] = info.context_window

    def window(self, model: str) -> int | None:
        name = model.strip().lower()
        if name in self._overrides:
            return self._overrides[name]
        if name in self._listed:
            return self._listed[name]
        price = self._prices.lookup(model) if self._prices is not None else None
        return price.context_window if price is not None else None


RELAY_MODELS: tuple[str, ...] = (
    "deepseek-v3.2", "deepseek-reasoner", "moonshot-v1-8k", "moonshot-v1-32k", "kimi-k2", "kimi-k2-thinking",
    "gemini-2.5-flash", "gpt-4.1", "claude-sonnet-4.5",
)  # fmt: skip
"""The relay's models as its ``/models`` names them: the candidates for compaction and switching when
the front end has no listing of its own."""


def relay_models() -> list[str]:
    """The default candidates (``RELAY_MODELS``)."""
    return list(RELAY_MODELS)


# ---- the estimate --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Chars:
    """What the estimate counts in some text: CJK characters, other characters, messages."""

    cjk: int = 0
    other: int = 0
    messages: int = 0
    fixed: int = 0
    """Tokens that do not depend on the model's rates (images)."""

    def __add__(self, more: Chars) -> Chars:
        return Chars(
            self.cjk + more.cjk,
            self.other + more.other,
            self.messages + more.messages,
            self.fixed + more.fixed,
        )

    def __sub__(self, less: Chars) -> Chars:
        return Chars(
            self.cjk - less.cjk,
            self.other - less.other,
            self.messages - less.messages,
            self.fixed - less.fixed,
        )


def count_chars(text: str) -> Chars:
    """One message's counts."""
    cjk = 0 if text.isascii() else len(_WIDE.findall(text))
    return Chars(cjk, len(text) - cjk, 1)


@dataclass(frozen=True, slots=True)
class Rate:
    cjk: float = CJK_RATE
    other: float = LATIN_RATE
    samples: int = 0

    def tokens(self, chars: Chars) -> int:
        text = math.ceil(chars.cjk * self.cjk + chars.other * self.other)
        return text + chars.messages * MESSAGE_OVERHEAD + chars.fixed


class TokenRates:
    """Tokens per character for each model, CJK and other text apart, learnt from reported usage.

    ``path`` None keeps them in memory only; else they are read from and written (atomically) to it.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._rates: dict[str, Rate] = {}
        if path is not None:
            self._rates = _read_rates(path)

    @classmethod
    def open(cls) -> TokenRates:
        """The rates in the data directory (``token_rates.json``)."""
        return cls(locations.data_dir() / "token_rates.json")

    def rate(self, model: str) -> Rate:
        return self._rates.get(model.strip().lower(), Rate())

    def learn(self, model: str, sent: Chars, prompt_tokens: int) -> None:
        """Move the model's rates toward what the server reported for a request of ``sent`` characters;
        each kind of text takes the share of the error it accounts for."""
        rate = self.rate(model)
        guess = sent.cjk * rate.cjk + sent.other * rate.other
        target = prompt_tokens - sent.messages * MESSAGE_OVERHEAD
        if guess <= 0 or target <= 0:
            return
        factor = min(max(target / guess, 0.25), 4.0)
        weight = max(_LEARN_WEIGHT, 1 / (rate.samples + 1))
        cjk_share = sent.cjk * rate.cjk / guess
        new = Rate(
            rate.cjk * (1 + weight * cjk_share * (factor - 1)),
            rate.other * (1 + weight * (1 - cjk_share) * (factor - 1)),
            rate.samples + 1,
        )
        self._rates[model.strip().lower()] = new
        if self.path is not None:
            _write_rates(self.path, self._rates)


def _read_rates(path: Path) -> dict[str, Rate]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out: dict[str, Rate] = {}
    if isinstance(raw, dict):
        for name, value in raw.items():
            if isinstance(value, dict):
                cjk, other, n = value.get("cjk"), value.get("other"), value.get("samples", 0)
                if (
                    isinstance(cjk, float | int)
                    and isinstance(other, float | int)
                    and isinstance(n, int)
                    and 0 < cjk < 10
                    and 0 < other < 10
                ):
                    out[str(name)] = Rate(float(cjk), float(other), n)
    return out


def _write_rates(path: Path, rates: Mapping[str, Rate]) -> None:
    """Best effort: a rates file that cannot be written leaves the defaults in the next run."""
    data = {
        k: {"cjk": round(v.cjk, 5), "other": round(v.other, 5), "samples": v.samples}
        for k, v in rates.items()
    }
    try:
        locations.ensure_private_dir(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=".token_rates.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False, indent=0)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass


class TokenEstimator:
    """Token estimates for what a conversation sends. Message counts are cached by text and the
    conversation's fixed part by its shape, so a call per keystroke counts only the new prompt."""

    def __init__(self, rates: TokenRates | None = None) -> None:
        self.rates = rates or TokenRates()
        self._texts: dict[str, Chars] = {}
        self._head: tuple[tuple[object, ...], Chars] | None = None

    def chars(self, text: str) -> Chars:
        found = self._texts.get(text)
        if found is None:
            if len(self._texts) > 50_000:
                self._texts.clear()
            found = self._texts[text] = count_chars(text)
        return found

    def texts_chars(self, texts: Iterable[str]) -> Chars:
        total = Chars()
        for text in texts:
            total += self.chars(text)
        return total

    def tokens(self, model: str, chars: Chars) -> int:
        return self.rates.rate(model).tokens(chars)

    def history_chars(self, conversation: Conversation, omit: int = 0) -> Chars:
        """Everything ``conversation.messages_for`` sends before the new prompt."""
        turns = conversation.turns
        last = turns[-1] if turns else None
        shape = (
            id(conversation), len(turns), id(last), len(last.answer.content) if last else 0,
            conversation.system_prompt, omit, conversation.summary, conversation.summary_turns,
        )  # fmt: skip
        if self._head is not None and self._head[0] == shape:
            return self._head[1]
        total = Chars()
        for message in conversation.messages_for("", omit=omit)[:-1]:
            total += self.chars(message.text)
            if message.images:
                total += Chars(fixed=message.images * IMAGE_TOKENS)
        self._head = (shape, total)
        return total

    def request_chars(
        self, conversation: Conversation, prompt: str, omit: int = 0, attachments: Sequence[Attachment] = ()
    ) -> Chars:
        """What sending ``prompt`` (with ``attachments``) next sends, as counts."""
        return self.history_chars(conversation, omit) + self.prompt_chars(prompt, attachments)

    def prompt_chars(self, prompt: str, attachments: Sequence[Attachment] = ()) -> Chars:
        """One user message: its text with the text files fenced in, and its images."""
        if not attachments:
            return self.chars(prompt)
        images = sum(1 for a in attachments if a.kind == "image")
        return self.chars(prompt_with_files(prompt, attachments)) + Chars(fixed=images * IMAGE_TOKENS)

    def learn(self, model: str, texts: Sequence[str], prompt_tokens: int) -> None:
        """A finished answer's reported prompt tokens for the texts that were sent."""
        self.rates.learn(model, self.texts_chars(texts), prompt_tokens)


# ---- the plan ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """A model offered by a way out, with what its request would send and cost (input, estimated)."""

    model: str
    window: int
    tokens: int
    cost: Cost | None


@dataclass(frozen=True, slots=True)
class CompactOption:
    """Summarise the conversation so far with one of ``writers`` (cheapest first), then send the summary
    in place of the messages; ``tokens``: the request after compaction (the summary at its longest)."""

    kind: ClassVar[Literal["compact"]] = "compact"
    writers: tuple[ModelChoice, ...]
    tokens: int
    cost: Cost | None
    summary_tokens: int


@dataclass(frozen=True, slots=True)
class RecentOption:
    """Send only the most recent turns: turns ``1..omit`` (of ``total_turns``) are left out."""

    kind: ClassVar[Literal["recent"]] = "recent"
    omit: int
    total_turns: int
    tokens: int
    cost: Cost | None

    @property
    def left_out(self) -> str:
        if self.omit == 1:
            return _("turn 1 of {total}").format(total=self.total_turns)
        return _("turns 1–{last} of {total}").format(last=self.omit, total=self.total_turns)


@dataclass(frozen=True, slots=True)
class SwitchOption:
    """Send everything to a model whose window holds it: ``models``, cheapest first."""

    kind: ClassVar[Literal["switch"]] = "switch"
    models: tuple[ModelChoice, ...]


@dataclass(frozen=True, slots=True)
class ContextPlan:
    """What the next request sends against the target model's window (always an estimate)."""

    model: str
    tokens: int
    """Input tokens of the request as the conversation stands (summary and omissions applied)."""
    window: int | None
    reserve: int
    """Tokens kept for the answer (the max_tokens asked for, else a default)."""
    cost: Cost | None
    """The request's input cost (estimated); None when the price is unknown."""
    compact: CompactOption | None = None
    recent: RecentOption | None = None
    switch: SwitchOption | None = None
    estimated: bool = True

    @property
    def fits(self) -> bool:
        """True when the window is unknown (nothing automatic) or holds the request and the answer."""
        return self.window is None or self.tokens + self.reserve <= self.window

    @property
    def percent(self) -> float | None:
        return None if self.window is None else 100 * self.tokens / self.window

    def describe(self) -> str:
        """One paragraph naming the window, the tokens and the ways out (the CLI's message)."""
        head = _(
            "The conversation needs about {tokens:,} tokens plus {reserve:,} for the answer; "
            "{model}'s context window is {window:,} tokens."
        ).format(tokens=self.tokens, reserve=self.reserve, model=self.model, window=self.window or 0)
        ways = []
        if self.compact is not None:
            first = self.compact.writers[0]
            ways.append(
                _("--fit compact (a summary by {model}, about {tokens:,} tokens{cost})").format(
                    model=first.model, tokens=self.compact.tokens, cost=_cost(first.cost)
                )
            )
        if self.recent is not None:
            ways.append(
                _("--fit recent (leaves out {left_out}{cost})").format(
                    left_out=self.recent.left_out, cost=_cost(self.recent.cost)
                )
            )
        if self.switch is not None:
            names = ", ".join(f"{c.model}{_cost(c.cost)}" for c in self.switch.models[:3])
            ways.append(_("-m MODEL with a larger window ({models})").format(models=names))
        if not ways:
            return sentences(head, _("Nothing fits: shorten the prompt."))
        # TRANSLATORS: what separates the ways out in "Ways out: A; B; C."
        separator = _("; ")
        return sentences(head, _("Ways out: {ways}.").format(ways=separator.join(ways)))


def _cost(cost: Cost | None) -> str:
    if cost is None:
        return ""
    from holysheep_tui.economics.money import format_usd

    return _(", input ≈{cost}").format(cost=format_usd(cost.usd))


def reserve_for(window: int | None, max_tokens: int | None) -> int:
    if max_tokens is not None:
        return max_tokens
    return 0 if window is None else min(DEFAULT_RESERVE, window // 8)


SUMMARY_INSTRUCTION_TOKENS = 120
"""About what the summary request's instruction adds (``compaction.SUMMARY_INSTRUCTION``)."""


def plan_context(
    conversation: Conversation,
    prompt: str,
    model: str,
    *,
    windows: Windows,
    estimator: TokenEstimator,
    prices: PriceBook | None = None,
    candidates: Sequence[str] = (),
    max_tokens: int | None = None,
    attachments: Sequence[Attachment] = (),
) -> ContextPlan:
    """The plan for sending ``prompt`` next in ``conversation`` to ``model``. Cheap enough per keystroke
    while it fits; the ways out (counted over every turn) are worked out only when it does not.
    ``candidates``: the models to offer for compaction and switching (default: the relay table's)."""
    window = windows.window(model)
    reserve = reserve_for(window, max_tokens)
    sent = estimator.request_chars(conversation, prompt, attachments=attachments)
    tokens = estimator.tokens(model, sent)

    def input_cost(name: str, n: int) -> Cost | None:
        return None if prices is None else prices.input_cost(name, n)

    plan = ContextPlan(model, tokens, window, reserve, input_cost(model, tokens))
    if plan.fits or window is None:
        return plan
    names = list(dict.fromkeys(candidates or relay_models()))

    def fitting(n_chars: Chars, extra: int) -> list[ModelChoice]:
        out = []
        for name in names:
            w = windows.window(name)
            n = estimator.tokens(name, n_chars)
            if w is not None and n + extra <= w:
                out.append(ModelChoice(name, w, n, input_cost(name, n)))
        return sorted(out, key=lambda c: (c.cost is None, c.cost.usd if c.cost else 0.0, -c.window))

    # switch: the same request to a model whose window holds it
    switch_models = [c for c in fitting(sent, reserve_for(None, max_tokens) or 0) if c.model != model]
    switch_models = [c for c in switch_models if c.tokens + reserve_for(c.window, max_tokens) <= c.window]
    switch = SwitchOption(tuple(switch_models)) if switch_models else None

    # compact: a summary of everything before the prompt, written by a model whose window reads it all
    prompt_chars = estimator.prompt_chars(prompt, attachments)
    system_chars = estimator.chars(conversation.system_prompt) if conversation.system_prompt else Chars()
    summary_tokens = max(256, min(1024, window // 8))
    compact = None
    after = estimator.tokens(model, system_chars + prompt_chars) + summary_tokens + MESSAGE_OVERHEAD
    if conversation.turns and after + reserve <= window:
        history = sent - prompt_chars
        writers = fitting(history, SUMMARY_INSTRUCTION_TOKENS + summary_tokens)
        if writers:
            compact = CompactOption(tuple(writers), after, input_cost(model, after), summary_tokens)

    # recent: leave the oldest turns out (with any summary) until it fits
    recent = None
    turns = conversation.turns
    base = system_chars + prompt_chars
    suffix = [Chars()] * (len(turns) + 1)
    for index in range(len(turns) - 1, -1, -1):
        turn = turns[index]
        here = estimator.prompt_chars(turn.prompt, turn.attachments)
        if turn.answer.content:
            here += estimator.chars(turn.answer.content)
        suffix[index] = suffix[index + 1] + here
    first = conversation.summary_turns + 1 if conversation.summary else 1
    for omit in range(first, len(turns) + 1):
        n = estimator.tokens(model, base + suffix[omit])
        if n + reserve <= window:
            recent = RecentOption(omit, len(turns), n, input_cost(model, n))
            break
    return ContextPlan(model, tokens, window, reserve, plan.cost, compact, recent, switch)
