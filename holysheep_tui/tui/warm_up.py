"""The renderer's warm-up: the answer widget's modules and code highlighting's lexers, loaded while the app
waits for the first prompt.

One piece at a time (none takes more than a few tens of milliseconds) with a pause between, so keys typed
meanwhile are drawn in between; no thread competes with the UI for the interpreter. A prompt sent before the
end finishes the rest first. Then everything loaded so far leaves the garbage collector's view (its full
collections would otherwise stall the screen).
"""

from __future__ import annotations

import functools
import gc
import importlib
from collections.abc import Callable, Iterator

WARM_UP_GAP = 0.03
"""Seconds between two steps of the warm-up."""


def _steps() -> Iterator[Callable[[], object]]:
    for module in ("markdown_it", "rich.markdown", "holysheep_tui.tui.widgets.answer"):
        yield functools.partial(importlib.import_module, module)
    from holysheep_tui.tui.markdown_render import COMMON_LANGUAGES, warm_lexers

    for name in COMMON_LANGUAGES:
        yield functools.partial(warm_lexers, (name,))


class WarmUp:
    """``step`` runs one piece and asks ``later`` to run the next; ``finish`` runs what is left at once.

    ``freeze``: move what was loaded out of the collector's view at the end (not in tests, which run many
    apps in one process: their garbage must stay collectable)."""

    def __init__(self, later: Callable[[float, Callable[[], object]], object], *, freeze: bool) -> None:
        self._later = later
        self._freeze = freeze
        self._steps: Iterator[Callable[[], object]] | None = _steps()

    @property
    def done(self) -> bool:
        return self._steps is None

    def step(self) -> None:
        if self._steps is None:
            return
        step = next(self._steps, None)
        if step is None:
            self._done()
            return
        step()
        self._later(WARM_UP_GAP, self.step)  # a frame or two for keys

    def finish(self) -> None:
        """Before the first request: what the first answer would otherwise load while it streams."""
        if self._steps is not None:
            for step in self._steps:
                step()
            self._done()

    def _done(self) -> None:
        self._steps = None
        if self._freeze:
            gc.freeze()
