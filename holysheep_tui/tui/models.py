"""The app's models: the relay's model list, the picker, the switch for the next message.

``HolySheepApp`` derives from ``ModelsApp``; this class only uses the attributes declared below.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App

from holysheep_tui.chat.chat_session import ChatSession
from holysheep_tui.economics.money import format_cny, format_usd
from holysheep_tui.errors import RelayError
from holysheep_tui.i18n import _, ngettext
from holysheep_tui.textsafety import one_line
from holysheep_tui.tui.messages import ModelsLoaded
from holysheep_tui.tui.widgets.prompt import PromptInput

if TYPE_CHECKING:  # the picker loads on first use: start-up stays short
    from holysheep_tui.tui.model_memory import ModelMemory
    from holysheep_tui.tui.screens.model_picker import ModelRow
    from holysheep_tui.tui.widgets.conversation import ConversationView


class ModelsApp(App[None]):
    # Provided by the subclass.
    chat: ChatSession
    revision: int
    recent: list[str]
    model_memory: ModelMemory

    if TYPE_CHECKING:

        @property
        def view(self) -> ConversationView: ...

        def overflow_warning(self, model: str) -> str | None: ...

    model_windows: dict[str, int]
    relay_models: list[str]
    _comparison_title: str | None = None
    """The prompt's title while the next prompt goes to several models (cleared with the comparison)."""

    @work(group="models", exit_on_error=False)
    async def _load_models(self) -> None:
        chat = self.chat
        try:
            controller = await asyncio.to_thread(lambda: chat.controller)  # keys stay answered meanwhile
            models = await controller.client.list_models()
        except RelayError as exc:
            self.post_message(ModelsLoaded([], {}, error=exc.message))
            return
        windows = {m.id: m.context_window for m in models if m.context_window}
        self.post_message(ModelsLoaded([m.id for m in models], windows))

    @on(ModelsLoaded)
    def _models_loaded(self, message: ModelsLoaded) -> None:
        self.relay_models, self.model_windows = message.ids, message.windows
        if message.error:
            self.notify(
                _("Could not list the relay's models: {error}").format(error=message.error),
                severity="warning",
            )

    def model_ids(self) -> list[str]:
        return [row.id for row in self.picker_rows()]

    def picker_rows(self) -> list[ModelRow]:
        from holysheep_tui.tui.screens.model_picker import build_rows

        chat = self.chat
        ids = self.relay_models or [chat.model]
        return build_rows(
            ids, chat.prices, windows=self.model_windows,
            favourites=[*chat.favourites, *self.model_memory.favourites], recent=self.recent,
        )  # fmt: skip

    def action_pick_model(self) -> None:
        from holysheep_tui.tui.screens.model_picker import ModelPicker

        picker = ModelPicker(
            self.picker_rows(), self.chat.model, compare=True, estimate=self.comparison_estimate,
            cny_per_usd=self.chat.money.relay_rate, on_favourite=self.toggle_favourite,
        )  # fmt: skip
        self.push_screen(picker, self.choose_model)

    def toggle_favourite(self, model: str) -> bool:
        """Star or unstar ``model`` in the picker (kept across restarts); returns whether it is starred."""
        if model in self.chat.favourites:
            self.notify(_("Starred in the config file ([ui] favourite_models): unstar it there."))
            return True
        return self.model_memory.toggle_favourite(model)

    def comparison_estimate(self, models: Sequence[str]) -> str:
        """What sending the prompt as typed to ``models`` would cost in input, estimated from its text."""
        from holysheep_tui.chat.compare import estimate_comparison

        chat = self.chat
        text = self.query_one(PromptInput).text
        costs = [cost for _model, cost in estimate_comparison(chat.prices, chat.conversation, text, models)]
        known = [cost.usd for cost in costs if cost is not None]
        if not known:
            return _("input cost unknown (no prices for these models)")
        usd = sum(known)
        out = _("input ≈{usd} (≈{cny} CNY), answers extra").format(
            usd=format_usd(usd), cny=format_cny(chat.money.billed_cny(usd))
        )
        if len(known) < len(costs):
            missing = len(costs) - len(known)
            unpriced = ngettext("{count} model without a price", "{count} models without a price", missing)
            # TRANSLATORS: "input ≈$0.01 (≈¥0.01 CNY), answers extra; 1 model without a price".
            out = _("{estimate}; {unpriced}").format(estimate=out, unpriced=unpriced.format(count=missing))
        return out

    def set_comparison(self, models: tuple[str, ...]) -> None:
        """The next prompt goes to every one of ``models`` (empty: to the chosen model only)."""
        chat = self.chat
        chat.compare_models = models
        prompt = self.query_one(PromptInput)
        if models:
            names = ", ".join(one_line(m) for m in models)
            title = _("Next prompt goes to {count} models: {names} · {estimate}").format(
                count=len(models), names=names, estimate=self.comparison_estimate(models)
            )
            prompt.border_title = self._comparison_title = title
        elif prompt.border_title and prompt.border_title == self._comparison_title:
            prompt.border_title = self._comparison_title = None
        self.revision += 1

    async def choose_model(self, model: str | tuple[str, ...] | None) -> None:
        """Switch the model for the next message; the whole conversation goes to it. Several models:
        the next prompt goes to each of them at once (a comparison)."""
        chat = self.chat
        if isinstance(model, tuple):
            self.set_comparison(model)
            return
        if model and chat.compare_models:
            self.set_comparison(())
        if not model or model == chat.model:
            return
        old = chat.model
        chat.choose_model(model)
        self.revision += 1
        conversation = chat.conversation
        if conversation.turns:
            await self.view.add_marker(
                _("Model changed: {old} → {new} (the whole conversation goes to {new})").format(
                    old=old, new=model
                )
            )
        text = self.overflow_warning(model)  # tui/fitting.py; sending then offers the ways out
        if text is not None:
            await self.view.add_marker(text, warning=True)
            self.notify(text, severity="warning")
