"""Full garbage collections wait while answers stream.

A full (oldest-generation) collection walks every object the app holds: 15-70 ms with an answer on
screen, and while an answer streams CPython starts one every second or so (each generation-1 collection
counts toward it), so a key typed then waited for it. While any answer streams, ``StreamCollections``
raises the oldest generation's threshold a hundredfold: the young generations are still collected as
usual (they are small and quick), and a full collection still comes, every couple of minutes instead of
every second, so a very long stream's memory stays bounded. When the last stream ends the thresholds are
given back and CPython collects when it next would.

Little cyclic garbage is made while streaming (``strip_cycles`` removes the painted lines' cycles), so
holding the full collections costs little memory.
"""

from __future__ import annotations

import gc
from collections.abc import Hashable

__all__ = ["HELD_FACTOR", "StreamCollections"]

HELD_FACTOR = 100
"""How much rarer full collections are while answers stream."""


class StreamCollections:
    """Holders (the streaming workers) keep full collections rare until the last lets go."""

    def __init__(self) -> None:
        self._holders: set[Hashable] = set()
        self._saved: tuple[int, int, int] | None = None

    @property
    def held(self) -> bool:
        return bool(self._holders)

    def hold(self, holder: Hashable) -> None:
        if not self._holders:
            self._saved = gc.get_threshold()
            young, middle, old = self._saved
            gc.set_threshold(young, middle, max(1, old) * HELD_FACTOR)
        self._holders.add(holder)

    def release(self, holder: Hashable) -> None:
        self._holders.discard(holder)
        if not self._holders and self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def release_all(self) -> None:
        for holder in list(self._holders):
            self.release(holder)
