"""Keyring backends for tests, loaded by keyring through PYTHON_KEYRING_BACKEND.

``install`` copies this file into a test's temporary directory under the module name the test chooses
(a fresh module per test, importable by subprocesses through PYTHONPATH). Real plug-ins, not mocks:
keyring loads and calls them as it would any backend.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked, PasswordDeleteError

RELEASE = threading.Event()


class FileStore(KeyringBackend):
    """Keeps passwords in the JSON file named by TEST_KEYRING_FILE (tests only)."""

    priority = 0

    def _load(self) -> dict[str, Any]:
        try:
            with open(os.environ["TEST_KEYRING_FILE"], encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def _save(self, data: dict[str, Any]) -> None:
        with open(os.environ["TEST_KEYRING_FILE"], "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}/{username}"] = password
        self._save(data)

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError("No such password!")
        self._save(data)


class Locked(KeyringBackend):
    priority = 0

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("Failed to unlock the collection!")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("Failed to unlock the collection!")

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringLocked("Failed to unlock the collection!")


class Hanging(KeyringBackend):
    """Never answers until RELEASE is set, like a SIGSTOPped daemon."""

    priority = 0

    def get_password(self, service: str, username: str) -> str | None:
        RELEASE.wait()
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        RELEASE.wait()

    def delete_password(self, service: str, username: str) -> None:
        RELEASE.wait()


class Leaky(KeyringBackend):
    """Fails with the password in its error message."""

    priority = 0

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise OSError(f"磁盘已满, could not write {password}")

    def delete_password(self, service: str, username: str) -> None:
        raise PasswordDeleteError("No such password!")


def install(directory: Path, module: str) -> Path:
    """Copy these backends to ``directory/module.py``; return the directory (for sys.path / PYTHONPATH)."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(__file__, directory / f"{module}.py")
    sys.modules.pop(module, None)
    return directory

