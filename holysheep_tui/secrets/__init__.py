"""The API key: where it comes from, and keeping it in the OS keyring.

Nothing here imports keyring itself until the keyring is first asked.
"""

from holysheep_tui.secrets.key_command import KeyCommandError
from holysheep_tui.secrets.keyring_store import (
    KEYRING_SERVICE,
    KeyringReason,
    KeyringUnavailableError,
    delete_key,
    keyring_problem,
    keyring_timeout,
    store_key,
)
from holysheep_tui.secrets.lookup import KeyNotFoundError, KeyStatus, ResolvedKey, key_status, resolve_key
from holysheep_tui.secrets.secret import KEY_ENV, Secret, mask
from holysheep_tui.secrets.ways import plaintext_backend_installed, ways_text, ways_without_keyring

__all__ = [
    "KEYRING_SERVICE",
    "KEY_ENV",
    "KeyCommandError",
    "KeyNotFoundError",
    "KeyStatus",
    "KeyringReason",
    "KeyringUnavailableError",
    "ResolvedKey",
    "Secret",
    "delete_key",
    "key_status",
    "keyring_problem",
    "keyring_timeout",
    "mask",
    "plaintext_backend_installed",
    "resolve_key",
    "store_key",
    "ways_text",
    "ways_without_keyring",
]
