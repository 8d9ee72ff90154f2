"""Command palette: one entry per model ("Model: gpt-4.1"), next to the app's own actions."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from holysheep_tui.tui.app import HolySheepApp


class ModelCommands(Provider):
    """Switch the model for the next message."""

    def _entries(self) -> list[tuple[str, str]]:
        app = cast("HolySheepApp", self.app)
        return [(f"Model: {model}", model) for model in app.model_ids()]

    async def discover(self) -> Hits:
        app = cast("HolySheepApp", self.app)
        for title, model in self._entries()[:5]:
            yield DiscoveryHit(
                title, partial(app.choose_model, model), help="Use this model for the next message"
            )

    async def search(self, query: str) -> Hits:
        app = cast("HolySheepApp", self.app)
        matcher = self.matcher(query)
        for title, model in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(title),
                    partial(app.choose_model, model),
                    text=title,
                    help="Use this model for the next message",
                )
