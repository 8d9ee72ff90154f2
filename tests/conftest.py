"""Shared fixtures: every test runs with its own config and data directories."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point XDG and HOLYSHEEP_* locations at a fresh temp tree; drop any real key from the environment."""
    root = tmp_path_factory.mktemp("home")
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
    ):
        monkeypatch.setenv(var, str(root / sub))
    monkeypatch.setenv("HOME", str(root))
    for var in (
        "HOLYSHEEP_API_KEY",
        "HOLYSHEEP_CONFIG",
        "HOLYSHEEP_DATA_DIR",
        "HOLYSHEEP_BASE_URL",
        "HOLYSHEEP_MODEL",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(var, raising=False)
    # No keyring backend unless a test sets one up: keyring tests bring their own D-Bus session.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    yield root
