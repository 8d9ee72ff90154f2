"""Where files live. Resolved lazily on each call; nothing is created at import.

Overrides: ``HOLYSHEEP_CONFIG`` (the config file), ``HOLYSHEEP_DATA_DIR`` (history, metrics).
XDG variables are honoured through platformdirs. The cache directory holds only what can be rebuilt.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "holysheep-tui"


def config_file() -> Path:
    override = os.environ.get("HOLYSHEEP_CONFIG")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def data_dir() -> Path:
    override = os.environ.get("HOLYSHEEP_DATA_DIR")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME))


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME))


def startup_cache() -> Path:
    """The start-up cache: what the first frame shows for a config known to be valid (never a key)."""
    return cache_dir() / "startup.json"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if missing; directories we create are 0700."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)
    return path


def history_db() -> Path:
    return data_dir() / "history.db"


def metrics_file() -> Path:
    return data_dir() / "metrics.jsonl"
