"""Pick a model: the relay's list merged with prices and context windows, fuzzy filtered."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from rich.cells import cell_len
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.fuzzy import Matcher
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from holysheep_tui.economics.prices import PriceBook
from holysheep_tui.i18n import _, ngettext
from holysheep_tui.textsafety import one_line
from holysheep_tui.tui.screens.room import leave_room

MAX_COMPARED = 8


@dataclass(frozen=True, slots=True)
class ModelRow:
    id: str
    input_per_m: float | None
    output_per_m: float | None
    context_window: int | None
    favourite: bool = False
    recent: bool = False
    vision: bool | None = None
    """Reads images (the price data's flag; None: not known)."""

    @property
    def name(self) -> str:
        """The id as shown: a relay's ids reach the screen without their control sequences."""
        return one_line(self.id) or "?"

    @property
    def reasoning(self) -> bool:
        """A model that thinks before it answers (slower, and its reasoning tokens are billed)."""
        return is_reasoning_model(self.id)

    def price(self, cny_per_usd: float = 1.0) -> str:
        """``$0.6/¥0.6 CNY in · $2.5/¥2.5 out`` per million tokens: list USD and what the relay bills."""
        if self.input_per_m is None or self.output_per_m is None:
            return _("price unknown")
        i, o = self.input_per_m, self.output_per_m
        # TRANSLATORS: prices per million tokens, input then output: "$0.6/¥0.6 CNY in · $2.5/¥2.5 out".
        return _("{usd_in}/{cny_in} CNY in · {usd_out}/{cny_out} out").format(
            usd_in=f"${i:g}",
            cny_in=f"¥{i * cny_per_usd:.4g}",
            usd_out=f"${o:g}",
            cny_out=f"¥{o * cny_per_usd:.4g}",
        )

    def label(self, width: int = 28, price_width: int = 34, cny_per_usd: float = 1.0) -> str:
        star = "★" if self.favourite else ("↺" if self.recent else " ")
        think = REASONING_MARK if self.reasoning else " "
        eye = IMAGE_MARK if self.vision else " "
        ctx = _context(self.context_window)
        price = self.price(cny_per_usd)
        price += " " * max(0, price_width - cell_len(price))  # Chinese words are two cells wide
        return f"{star}{think}{eye} {self.name:<{width}} {price} {ctx:>5}"


REASONING_MARK = "∴"
IMAGE_MARK = "◉"
_REASONING = re.compile(r"(?:^|[/:])(?:o\d(?:$|[-.])|deepseek-r1|qwq)|reason|think")


def is_reasoning_model(model: str) -> bool:
    """Reasoning models by name: o1/o3/o4-mini, deepseek-reasoner and -r1, kimi-k2-thinking, qwq, …"""
    return bool(_REASONING.search(model.strip().lower()))


def _context(window: int | None) -> str:
    if window is None:
        return "ctx ?"
    if window >= 1_000_000:
        return f"{window / 1_000_000:.3g}M"
    if window % 1000 and window % 1024 == 0:
        return f"{window // 1024}k"  # 8192 -> 8k, 131072 -> 128k: how these windows are usually named
    return f"{window / 1000:.0f}k"  # 128000 -> 128k, 200000 -> 200k


def build_rows(
    ids: Iterable[str],
    prices: PriceBook | None,
    *,
    windows: dict[str, int],
    favourites: Iterable[str] = (),
    recent: Iterable[str] = (),
) -> list[ModelRow]:
    """Favourites first, then recently used (newest first), then the rest by name."""
    favs, recents = list(favourites), list(recent)
    rows: dict[str, ModelRow] = {}
    for model in dict.fromkeys([*favs, *recents, *sorted(ids)]):
        price = prices.lookup(model) if prices is not None else None
        window = windows.get(model) or (price.context_window if price else None)
        rows[model] = ModelRow(
            model,
            price.input_per_m if price else None,
            price.output_per_m if price else None,
            window,
            favourite=model in favs,
            recent=model in recents,
            vision=prices.reads_images(model) if prices is not None else None,
        )

    def rank(row: ModelRow) -> tuple[int, int, str]:
        if row.favourite:
            return (0, favs.index(row.id), row.id)
        if row.recent:
            return (1, recents.index(row.id), row.id)
        return (2, 0, row.id)

    return sorted(rows.values(), key=rank)


class FilterInput(Input):
    """The picker's filter: Space marks the highlighted model instead (model ids have no spaces)."""

    async def _on_key(self, event: events.Key) -> None:
        screen = self.screen
        if event.key == "space" and isinstance(screen, ModelPicker) and screen.compare:
            event.stop()
            event.prevent_default()
            screen.action_mark()
            return
        await super()._on_key(event)


@runtime_checkable
class HoldsImages(Protocol):
    """What the picker needs of the app: how many images wait for the next prompt."""

    @property
    def images_attached(self) -> int: ...


def images_waiting(app: object) -> int:
    return app.images_attached if isinstance(app, HoldsImages) else 0


Choice = str | tuple[str, ...]
"""One model, or the models to compare (two or more)."""


class ModelPicker(ModalScreen[Choice | None]):
    """Type to filter; Enter chooses; Esc cancels. Dismisses with the model id.

    With ``compare``, Space marks models (model ids have no spaces): Enter with two or more marked
    dismisses with all of them, in the order marked, for a comparison."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("down", "cursor(1)", show=False),
        Binding("up", "cursor(-1)", show=False),
        Binding("ctrl+f", "favourite", "Star / unstar the highlighted model"),
    ]

    def __init__(
        self,
        rows: list[ModelRow],
        current: str,
        *,
        compare: bool = False,
        estimate: Callable[[Sequence[str]], str] | None = None,
        title: str | None = None,
        cny_per_usd: float = 1.0,
        on_favourite: Callable[[str], bool] | None = None,
        images: int | None = None,
    ) -> None:
        super().__init__(classes="modal")
        self.rows = rows
        self.cny_per_usd = cny_per_usd
        self._on_favourite = on_favourite
        self.current = current
        self.compare = compare
        self.marked: list[str] = []
        self._estimate = estimate
        self._title = title or _("Model for the next message (now: {model})").format(model=one_line(current))
        self._query = ""
        self.images = images
        """Images attached to the next prompt (the help line says which models take them); None: as
        many as the app says it holds (``HoldsImages``)."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="model-picker"):
            yield Static(self._title, classes="dialog-title", markup=False)
            yield FilterInput(placeholder=_("Type to filter models…"), id="model-filter")
            yield OptionList(id="model-list")
            if self.compare:
                yield Static(
                    _(
                        "Space marks models to compare (up to {most}); Enter with two or more marked "
                        "sends the next prompt to all of them."
                    ).format(most=MAX_COMPARED),
                    classes="dialog-help",
                    id="model-marked",
                    markup=False,
                )
            yield Static(
                _(
                    "★ favourite (Ctrl+F stars)  ↺ recent  {reasoning} reasoning  {image} reads images"
                    " · per million tokens: USD list / CNY billed ({rate} CNY per $1)"
                ).format(reasoning=REASONING_MARK, image=IMAGE_MARK, rate=f"¥{self.cny_per_usd:g}"),
                classes="dialog-help",
                markup=False,
            )
            images = self.images if self.images is not None else images_waiting(self.app)
            if images:
                readers = ", ".join(r.name for r in self.rows if r.vision) or _("none listed")
                yield Static(
                    ngettext(
                        "{count} image attached: only models marked {mark} take it ({models}).",
                        "{count} images attached: only models marked {mark} take them ({models}).",
                        images,
                    ).format(count=images, mark=IMAGE_MARK, models=readers),
                    classes="dialog-help",
                    id="model-images",
                    markup=False,
                )

    def action_mark(self) -> None:
        typed = self.query_one(FilterInput).value.strip()
        if typed != self._query:  # typed faster than the list was filtered: filter first
            self._query = typed
            self._fill(typed)
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return
        model = options.get_option_at_index(options.highlighted).id
        if model is None:
            return
        if model in self.marked:
            self.marked.remove(model)
        elif len(self.marked) >= MAX_COMPARED:
            self.notify(
                _("A comparison takes at most {most} models.").format(most=MAX_COMPARED), severity="warning"
            )
            return
        else:
            self.marked.append(model)
        highlighted = options.highlighted
        self._fill(self._query)
        options.highlighted = highlighted
        help_line = self.query_one("#model-marked", Static)
        if not self.marked:
            help_line.update(_("Space marks models to compare; Enter with two or more marked sends to all."))
            return
        names = ", ".join(one_line(m) for m in self.marked)
        cost = self._estimate(self.marked) if self._estimate is not None else ""
        enter = _("Enter compares them") if len(self.marked) > 1 else _("mark one more to compare")
        # TRANSLATORS: "Marked 2: kimi-k2, glm-4.6 · input ≈$0.01 … · Enter compares them".
        marked = _("Marked {count}: {models}").format(count=len(self.marked), models=names)
        help_line.update(f"{marked}{' · ' + cost if cost else ''} · {enter}")
        self.call_after_refresh(self._leave_room)  # the marked models may take more lines

    def on_mount(self) -> None:
        self._fill("")
        self.call_after_refresh(self._leave_room)

    def on_resize(self) -> None:
        self.call_after_refresh(self._leave_room)

    def _leave_room(self) -> None:
        """The title, the legend and the hints stay in view on a small terminal: the models scroll."""
        if self.is_attached:
            leave_room(self.query_one("#model-picker"), self.query_one(OptionList))

    def action_favourite(self) -> None:
        """Star or unstar the highlighted model; favourites are listed first from the next opening on."""
        options = self.query_one(OptionList)
        if options.highlighted is None or self._on_favourite is None:
            return
        model = options.get_option_at_index(options.highlighted).id
        if model is None:
            return
        starred = self._on_favourite(model)
        known = next((r for r in self.rows if r.id == model), None)
        if known is None:
            self.rows.append(ModelRow(model, None, None, None, favourite=starred))
        else:
            self.rows[self.rows.index(known)] = replace(known, favourite=starred)
        highlighted = options.highlighted
        self._fill(self._query)
        options.highlighted = highlighted
        done = _("Starred {model}.") if starred else _("Unstarred {model}.")
        self.notify(done.format(model=one_line(model)))

    def _fill(self, query: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        width = max((len(r.name) for r in self.rows), default=10)
        price_width = max((cell_len(r.price(self.cny_per_usd)) for r in self.rows), default=13)
        if query:
            matcher = Matcher(query)
            scored = [(matcher.match(r.id), r) for r in self.rows]
            ranked = [r for score, r in sorted(scored, key=lambda p: -p[0]) if score > 0]
        else:
            ranked = list(self.rows)
        for row in ranked:
            label = row.label(width, price_width, self.cny_per_usd)
            options.add_option(Option(Content(self._mark(row.id) + label), id=row.id))
        ids = [r.id for r in ranked]
        if query and query not in ids:  # any name the relay may know, shown apart from the listed models
            typed = "+  " + _("Use “{model}” as typed (not in the relay's list)").format(
                model=one_line(query)
            )
            options.add_option(Option(Content.styled(self._mark(query) + typed, "italic"), id=query))
            ids.append(query)
        if ids:
            options.highlighted = ids.index(self.current) if self.current in ids and not query else 0

    def _mark(self, model: str) -> str:
        return ("☑ " if model in self.marked else "☐ ") if self.compare else ""

    @on(Input.Changed, "#model-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._query = event.value.strip()
        self._fill(self._query)

    def action_cursor(self, step: int) -> None:
        options = self.query_one(OptionList)
        options.action_cursor_down() if step > 0 else options.action_cursor_up()

    @on(Input.Submitted, "#model-filter")
    def _submit(self) -> None:
        if not self.is_active:  # a second Enter typed before the first one closed the picker
            return
        if len(self.marked) > 1:
            self.dismiss(tuple(self.marked))
            return
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self.dismiss(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if not self.is_active:
            return
        if len(self.marked) > 1:
            self.dismiss(tuple(self.marked))
        else:
            self.dismiss(event.option.id)
