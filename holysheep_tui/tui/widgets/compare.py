"""A comparison in the conversation: one prompt's answers from several models, side by side.

Each leg is an ``AnswerView`` fed like any answer (``TurnEvents`` name the leg's view); the columns stack
when the pane is too narrow for them. Once the legs end, one is marked as the one the conversation goes
on with; Left and Right on the selected comparison (or F6/F7) choose another.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import events
from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.widgets import Static

from holysheep_tui.chat.conversation import Turn
from holysheep_tui.i18n import _
from holysheep_tui.textsafety import one_line
from holysheep_tui.tui.widgets.answer import AnswerView
from holysheep_tui.tui.widgets.conversation import UserMessage

MIN_COLUMN = 38
"""Narrowest column before the legs stack one above the other."""
MIN_TAIL = 3
"""Fewest lines of each streaming leg shown (its last ones: every line once it ends)."""
SCREEN_CHROME = 12
"""Rows of the screen that are not the conversation's (title, status bar, prompt) and the prompt above."""
LEG_CHROME = 3
"""Rows of a leg around its text (model, figures, spacing)."""


class CompareView(Vertical):
    """The legs of one comparison; ``chosen`` is the index of the leg the conversation goes on with."""

    DEFAULT_CSS = """
    CompareView { height: auto; }
    CompareView > .compare-header { color: $text-secondary; text-style: bold; height: auto; }
    CompareView > .compare-legs { layout: horizontal; height: auto; }
    CompareView > .compare-legs.-stacked { layout: vertical; }
    CompareView > .compare-legs > AnswerView { width: 1fr; height: auto; padding: 0 1 0 0; }
    CompareView > .compare-legs.-stacked > AnswerView { width: 100%; }
    CompareView > .compare-legs > AnswerView.-chosen { background: $boost; }
    CompareView > .compare-footer { color: $text-muted; height: auto; }
    """

    def __init__(self, models: Sequence[str], estimate: str = "", *, show_reasoning: bool = False) -> None:
        super().__init__(classes="answer compare")
        self.legs = [AnswerView(model, show_reasoning=show_reasoning) for model in models]
        for leg in self.legs:
            leg.cost_in_both = True
        self.prompt_widget: UserMessage | None = None
        self.chosen: int | None = None
        self.turns: list[Turn] = []
        """Each leg's Turn once the comparison has ended, in the order of ``legs``."""
        self._estimate = estimate

    @property
    def message_id(self) -> int | None:
        """The chosen leg's stored answer (what the message keys act on)."""
        index = self.chosen if self.chosen is not None else 0
        return self.legs[index].message_id

    @property
    def place(self) -> tuple[int, int] | None:
        """The leg carried on among the legs, once they have ended (what F6/F7 move)."""
        if not self.turns:
            return None
        return ((self.chosen or 0) + 1, len(self.legs))

    @property
    def text(self) -> str:
        return self.legs[self.chosen if self.chosen is not None else 0].text

    def compose(self) -> ComposeResult:
        names = ", ".join(one_line(leg.model) for leg in self.legs)
        header = _("Comparing {count} models: {names}").format(count=len(self.legs), names=names)
        yield Static(header, classes="compare-header", markup=False)
        with Container(classes="compare-legs"):
            yield from self.legs
        yield Static(self._estimate, classes="compare-footer", markup=False)

    def on_resize(self, event: events.Resize) -> None:
        stacked = event.size.width < MIN_COLUMN * len(self.legs)
        self.query_one(".compare-legs").set_class(stacked, "-stacked")
        rows = len(self.legs) if stacked else 1
        tail = max(MIN_TAIL, (self.screen.size.height - SCREEN_CHROME) // rows - LEG_CHROME)
        for leg in self.legs:
            leg.show_tail(None if self.turns else tail)

    def show_every_line(self) -> None:
        """The comparison ended: every leg shows all its lines (until then, each its last ones, in a box
        that keeps its height, so legs that ended early do not stretch their row while others stream)."""
        for leg in self.legs:
            leg.show_tail(None)

    def choose(self, index: int) -> None:
        """Mark leg ``index`` as the one the conversation goes on with."""
        self.chosen = index
        for n, leg in enumerate(self.legs):
            leg.set_class(n == index, "-chosen")
        leg = self.legs[index]
        self.query_one(".compare-footer", Static).update(
            _(
                "✓ The conversation goes on with {model} ({place} of {count}). "
                "Another: F6/F7, or Ctrl+Up then Left/Right. Every answer stays in the history."
            ).format(model=one_line(leg.model), place=index + 1, count=len(self.legs))
        )
