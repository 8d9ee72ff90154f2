"""The app's models: the relay's model list, the picker, the switch for the next message.

``HolySheepApp`` derives from ``ModelsApp``; this class only uses the attributes declared below.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App

from holysheep_tui.chat.chat_session import ChatSession
from holysheep_tui.economics.prices import estimate_tokens
from holysheep_tui.errors import RelayError
from holysheep_tui.tui.messages import ModelsLoaded

if TYPE_CHECKING:  # the picker loads on first use: start-up stays short
    from holysheep_tui.tui.screens.model_picker import ModelRow
    from holysheep_tui.tui.widgets.conversation import ConversationView


class ModelsApp(App[None]):
    # Provided by the subclass.
    chat: ChatSession
    revision: int
    recent: list[str]

    if TYPE_CHECKING:

        @property
        def view(self) -> ConversationView: ...

    model_windows: dict[str, int]
    relay_models: list[str]

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
            self.notify(f"Could not list the relay's models: {message.error}", severity="warning")

    def model_ids(self) -> list[str]:
        return [row.id for row in self.picker_rows()]

    def picker_rows(self) -> list[ModelRow]:
        from holysheep_tui.tui.screens.model_picker import build_rows

        chat = self.chat
        ids = self.relay_models or [chat.model]
        return build_rows(
            ids, chat.prices, windows=self.model_windows, favourites=chat.favourites,
            recent=self.recent,
        )  # fmt: skip

    def action_pick_model(self) -> None:
        from holysheep_tui.tui.screens.model_picker import ModelPicker

        self.push_screen(ModelPicker(self.picker_rows(), self.chat.model), self.choose_model)

    async def choose_model(self, model: str | None) -> None:
        """Switch the model for the next message; the whole conversation goes to it."""
        chat = self.chat
        if not model or model == chat.model:
            return
        old = chat.model
        chat.choose_model(model)
        self.revision += 1
        conversation = chat.conversation
        if conversation.turns:
            await self.view.add_marker(
                f"Model changed: {old} → {model} (the whole conversation goes to {model})"
            )
        price = chat.prices.lookup(model)
        window = self.model_windows.get(model) or (price.context_window if price else None)
        size = sum(estimate_tokens(m.content) for m in conversation.messages_for(""))
        if window is not None and size > window:
            text = f"⚠ This conversation (~{size:,} tokens) is larger than {model}'s context window ({window:,}). Start a new conversation (Ctrl+N) or pick a larger model."
            await self.view.add_marker(text, warning=True)
            self.notify(text, severity="warning")
