"""Command palette: one entry per model ("Model: gpt-4.1"), next to the app's own actions."""

from __future__ import annotations

from functools import partial
from typing import Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from holysheep_tui.i18n import _
from holysheep_tui.textsafety import one_line


class ModelChooser(Protocol):
    """What the model commands need of the app."""

    def model_ids(self) -> list[str]: ...

    async def choose_model(self, model: str | None) -> None: ...


class ModelCommands(Provider):
    """Switch the model for the next message."""

    @property
    def _chooser(self) -> ModelChooser:
        return cast(ModelChooser, self.app)

    def _entries(self) -> list[tuple[str, str]]:
        return [
            (_("Model: {model}").format(model=one_line(model)), model) for model in self._chooser.model_ids()
        ]

    async def discover(self) -> Hits:
        chooser = self._chooser
        for title, model in self._entries()[:5]:
            yield DiscoveryHit(
                title, partial(chooser.choose_model, model), help=_("Use this model for the next message")
            )

    async def search(self, query: str) -> Hits:
        chooser = self._chooser
        matcher = self.matcher(query)
        for title, model in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(title),
                    partial(chooser.choose_model, model),
                    text=title,
                    help=_("Use this model for the next message"),
                )
