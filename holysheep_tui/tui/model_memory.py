"""The models the app remembers across restarts: recently used ones and favourites starred in the picker.

One small JSON file in the data directory (``models.json``, private). Favourites from the config's
``[ui] favourite_models`` stay favourites whatever the file says; the file holds the ones starred with
Ctrl+F in the model picker. A missing, unreadable or malformed file is an empty memory: nothing to recall
is never an error, and a failed write only costs the memory.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from holysheep_tui import locations
from holysheep_tui.textsafety import one_line

RECENT_KEPT = 5
"""How many recently used models are remembered."""
MAX_FAVOURITES = 50


def memory_file() -> Path:
    return locations.data_dir() / "models.json"


def _names(value: object, limit: int) -> list[str]:
    if not isinstance(value, list):
        return []
    names = [one_line(v).strip() for v in value if isinstance(v, str)]
    return list(dict.fromkeys(n for n in names if n and len(n) <= 200))[:limit]


@dataclass
class ModelMemory:
    recent: list[str] = field(default_factory=list)
    favourites: list[str] = field(default_factory=list)
    path: Path | None = None

    @classmethod
    def load(cls, path: Path | None = None) -> ModelMemory:
        path = path or memory_file()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return cls(path=path)
        if not isinstance(data, dict):
            return cls(path=path)
        return cls(
            _names(data.get("recent"), RECENT_KEPT), _names(data.get("favourites"), MAX_FAVOURITES), path
        )

    def used(self, models: list[str]) -> list[str]:
        """``models`` were just used: they go first among the recent ones (saved); returns those."""
        self.recent = [*models, *[m for m in self.recent if m not in models]][:RECENT_KEPT]
        self.save()
        return list(self.recent)

    def toggle_favourite(self, model: str) -> bool:
        """Star or unstar ``model`` (saved); returns whether it is a favourite now."""
        if model in self.favourites:
            self.favourites.remove(model)
            starred = False
        else:
            self.favourites = [*self.favourites, model][-MAX_FAVOURITES:]
            starred = True
        self.save()
        return starred

    def save(self) -> bool:
        """Write the file atomically (0600); False if it could not be written."""
        path = self.path or memory_file()
        text = json.dumps(
            {"recent": self.recent, "favourites": self.favourites}, ensure_ascii=False, indent=1
        )
        try:
            locations.ensure_private_dir(path.parent)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".models-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text + "\n")
                os.chmod(tmp, 0o600)
                os.replace(tmp, path)
            except OSError:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            return False
        return True
