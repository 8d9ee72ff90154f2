"""The fit dialog: the conversation will not fit the model's window, so the user chooses how to send it.

Each way out shows its estimated cost in USD and CNY: compact (a summary by a model the user picks, the
cheapest first), send only the recent turns (naming those left out), or switch to a model whose window
holds it all. Esc sends nothing and leaves the prompt as typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from holysheep_tui.economics.money import format_cny, format_usd
from holysheep_tui.i18n import _, sentences
from holysheep_tui.textsafety import one_line
from holysheep_tui.tui.screens.room import leave_room

if TYPE_CHECKING:
    from holysheep_tui.chat.context import ContextPlan
    from holysheep_tui.economics.prices import Cost


@dataclass(frozen=True, slots=True)
class FitChoice:
    """What the user chose: ``model`` writes the summary (compact) or takes the conversation (switch);
    ``omit``: the first turns left out (recent)."""

    kind: Literal["compact", "recent", "switch"]
    model: str | None = None
    omit: int = 0


def cost_text(cost: Cost | None, cny_per_usd: float) -> str:
    """``≈$0.0021 · ¥0.0021 CNY`` (estimated), or that the price is unknown."""
    if cost is None:
        return _("cost unknown (no price)")
    return f"≈{format_usd(cost.usd)} · ≈{format_cny(cost.usd * cny_per_usd)} CNY"


def fit_choices(plan: ContextPlan, cny_per_usd: float) -> list[tuple[FitChoice, str]]:
    """The ways out of ``plan`` in the order shown, each with its label."""
    out: list[tuple[FitChoice, str]] = []
    if plan.compact is not None:
        compact = plan.compact
        after = _("then ≈{tokens} tokens {cost}").format(
            tokens=f"{compact.tokens:,}", cost=cost_text(compact.cost, cny_per_usd)
        )
        for index, writer in enumerate(compact.writers):
            name, summary = one_line(writer.model), cost_text(writer.cost, cny_per_usd)
            label = (
                # TRANSLATORS: {after} is "then ≈12,000 tokens ≈$0.01 · ≈¥0.01 CNY" (the compacted size).
                _("Compact: summary by {model} (cheapest) {cost}, {after}").format(
                    model=name, cost=summary, after=after
                )
                if index == 0
                else "   " + _("…or summary by {model} {cost}").format(model=name, cost=summary)
            )
            out.append((FitChoice("compact", writer.model), label))
    if plan.recent is not None:
        recent = plan.recent
        out.append((
            FitChoice("recent", omit=recent.omit),
            _("Send only the recent turns (leaves out {left_out}): ≈{tokens} tokens {cost}").format(
                left_out=recent.left_out, tokens=f"{recent.tokens:,}", cost=cost_text(recent.cost, cny_per_usd)
            ),
        ))  # fmt: skip
    if plan.switch is not None:
        for choice in plan.switch.models:
            out.append((
                FitChoice("switch", choice.model),
                _("Switch to {model} (window {window}): ≈{tokens} tokens {cost}").format(
                    model=one_line(choice.model), window=f"{choice.window:,}", tokens=f"{choice.tokens:,}",
                    cost=cost_text(choice.cost, cny_per_usd),
                ),
            ))  # fmt: skip
    return out


class FitChoiceScreen(ModalScreen["FitChoice | None"]):
    """Pick a way out; Enter chooses, Esc sends nothing (the prompt stays as typed)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, plan: ContextPlan, cny_per_usd: float) -> None:
        super().__init__(classes="modal")
        self.plan = plan
        self.choices = fit_choices(plan, cny_per_usd)

    def compose(self) -> ComposeResult:
        plan, model = self.plan, one_line(self.plan.model)
        head = _(
            "The next request needs about {tokens} tokens plus {reserve} for the answer; "
            "{model}'s context window is {window} tokens. Nothing has been sent."
        ).format(
            tokens=f"{plan.tokens:,}",
            reserve=f"{plan.reserve:,}",
            model=model,
            window=f"{plan.window or 0:,}",
        )
        with Vertical(classes="dialog", id="fit-choice"):
            yield Static(_("Too long for {model}").format(model=model), classes="dialog-title", markup=False)
            yield Static(head, markup=False, id="fit-head")
            if self.choices:
                yield OptionList(
                    *[Option(Content(label), id=str(i)) for i, (_choice, label) in enumerate(self.choices)],
                    id="fit-options",
                )
                help_text = sentences(
                    _(
                        "Costs are estimated input costs in USD and CNY (a summary's: reading the conversation)."
                    ),
                    _("Compacting keeps every message in the history, search and exports."),
                    _("Enter chooses · Esc cancels (the prompt stays as typed)."),
                )
            else:
                help_text = sentences(
                    _(
                        "No way out fits: the prompt with room for the answer is too long for {model} even "
                        "without the earlier turns, and no model with a known window takes the conversation."
                    ).format(model=model),
                    _("Shorten the prompt, or start a new conversation (Ctrl+N)."),
                    _("Esc returns to the prompt."),
                )
            yield Static(help_text, classes="dialog-help", markup=False, id="fit-help")

    def on_mount(self) -> None:
        self.call_after_refresh(self._leave_room)

    def on_resize(self) -> None:
        self.call_after_refresh(self._leave_room)

    def _leave_room(self) -> None:
        """The head and the help stay in view on a small terminal: the ways out scroll."""
        if self.is_attached and self.choices:
            leave_room(self.query_one("#fit-choice"), self.query_one(OptionList))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.choices[int(event.option.id or 0)][0])
