"""Remembering UI choices in the config file without disturbing the rest of it.

The file is edited as text (only the ``theme`` line of ``[ui]``), so comments, order and every other
setting survive; the result is re-parsed and validated before it replaces the file atomically.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from pathlib import Path

from holysheep_tui import locations
from holysheep_tui.config import parse_config
from holysheep_tui.errors import ConfigError

_TABLE = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(?:#.*)?$")
_THEME = re.compile(r"^\s*theme\s*=")


def with_ui_theme(text: str, theme: str) -> str:
    """``text`` (TOML) with ``[ui] theme`` set to ``theme``."""
    line = f"theme = {json.dumps(theme, ensure_ascii=False)}"
    lines = text.splitlines()
    table = ""
    ui_at: int | None = None
    for i, raw in enumerate(lines):
        if m := _TABLE.match(raw):
            table = m.group(1).strip()
            if table == "ui":
                ui_at = i
            continue
        if table == "ui" and _THEME.match(raw):
            lines[i] = line
            return "\n".join(lines) + "\n"
    if ui_at is not None:
        lines.insert(ui_at + 1, line)
    else:
        if lines and lines[-1].strip():
            lines.append("")
        lines += ["[ui]", line]
    return "\n".join(lines) + "\n"


def save_ui_theme(theme: str, path: Path | None = None) -> Path:
    """Write the theme into the config file; ConfigError if the file cannot be read, parsed or written."""
    path = path or locations.config_file()
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc}") from None
    new = with_ui_theme(text, theme)
    try:
        config = parse_config(tomllib.loads(new), source=str(path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"Not saving the theme: the config file {path} is not valid TOML ({exc})."
        ) from None
    if config.ui.theme != theme:
        raise ConfigError(f"Not saving the theme: could not place it in {path}.")
    try:
        locations.ensure_private_dir(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".toml")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(new)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"Cannot write the config file {path}: {exc.strerror or exc}") from None
    return path
