"""Remembering UI choices in the config file without disturbing the rest of it.

The file is edited as text (only the ``theme`` or ``language`` line of ``[ui]``), so comments, order and
every other setting survive; the result is re-parsed and validated before it replaces the file atomically.
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
from holysheep_tui.i18n import N_, _

_TABLE = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(?:#.*)?$")
_NOT_TOML = {
    "theme": N_("Not saving the theme: the config file {path} is not valid TOML ({error})."),
    "language": N_("Not saving the language: the config file {path} is not valid TOML ({error})."),
}
_NOT_PLACED = {
    "theme": N_("Not saving the theme: could not place it in {path}."),
    "language": N_("Not saving the language: could not place it in {path}."),
}


def with_ui_theme(text: str, theme: str) -> str:
    """``text`` (TOML) with ``[ui] theme`` set to ``theme``."""
    return with_ui_setting(text, "theme", theme)


def with_ui_setting(text: str, name: str, value: str) -> str:
    """``text`` (TOML) with ``[ui] <name>`` set to ``value``."""
    line = f"{name} = {json.dumps(value, ensure_ascii=False)}"
    setting = re.compile(rf"^\s*{re.escape(name)}\s*=")
    lines = text.splitlines()
    table = ""
    ui_at: int | None = None
    for i, raw in enumerate(lines):
        if m := _TABLE.match(raw):
            table = m.group(1).strip()
            if table == "ui":
                ui_at = i
            continue
        if table == "ui" and setting.match(raw):
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
    return _save_ui_setting("theme", theme, path)


def save_ui_language(language: str, path: Path | None = None) -> Path:
    """Write ``ui.language`` (``"zh-CN"`` or ``"en"``) into the config file; ConfigError as for the theme."""
    return _save_ui_setting("language", language, path)


def _save_ui_setting(name: str, value: str, path: Path | None) -> Path:
    path = path or locations.config_file()
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            _("Cannot read the config file {path}: {error}").format(path=path, error=exc)
        ) from None
    new = with_ui_setting(text, name, value)
    try:
        config = parse_config(tomllib.loads(new), source=str(path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_(_NOT_TOML[name]).format(path=path, error=exc)) from None
    if getattr(config.ui, name) != value:
        raise ConfigError(_(_NOT_PLACED[name]).format(path=path))
    try:
        locations.ensure_private_dir(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".toml")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(new)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(
            _("Cannot write the config file {path}: {error}").format(path=path, error=exc.strerror or exc)
        ) from None
    return path
