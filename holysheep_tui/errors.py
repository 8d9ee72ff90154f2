"""The domain error tree.

Every failure a user can meet is one of these: a short title, a message a person can act on, and the
exit code the CLI returns. Low-level exceptions (httpx, sqlite3, OSError, keyring) are translated at the
boundary where they occur; nothing above that boundary sees them.
"""

from __future__ import annotations

from typing import ClassVar

from holysheep_tui.i18n import N_

# Exit codes of the CLI, documented in the README.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_QUOTA = 4
EXIT_RATE_LIMIT = 5
EXIT_MODEL_NOT_FOUND = 6
EXIT_NETWORK = 7
EXIT_PROTOCOL = 8
EXIT_CONFIG = 9
EXIT_BAD_REQUEST = 10
EXIT_BUDGET = 11
EXIT_STORAGE = 12
EXIT_INTERRUPTED = 130


class HolySheepError(Exception):
    """Base of every error this program reports to a person."""

    title: ClassVar[str] = N_("Error")
    kind: ClassVar[str] = "error"
    exit_code: ClassVar[int] = EXIT_ERROR
    needs_change: ClassVar[bool] = False
    """The same request fails again until the user changes something (the hint says what)."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def user_text(self) -> str:
        """The message and, when there is one, what to do about it."""
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class UsageError(HolySheepError):
    title = N_("Usage error")
    kind = "usage"
    exit_code = EXIT_USAGE
    needs_change = True


class ConfigError(HolySheepError):
    title = N_("Configuration error")
    kind = "config"
    exit_code = EXIT_CONFIG
    needs_change = True


class StorageError(HolySheepError):
    title = N_("Storage error")
    kind = "storage"
    exit_code = EXIT_STORAGE


class BudgetExceededError(HolySheepError):
    title = N_("Budget reached")
    kind = "budget"
    exit_code = EXIT_BUDGET
    needs_change = True


class KeyMissingError(HolySheepError):
    title = N_("No API key")
    kind = "auth"
    exit_code = EXIT_AUTH
    needs_change = True


class KeyringError(HolySheepError):
    title = N_("Keyring unavailable")
    kind = "keyring"
    exit_code = EXIT_AUTH
    needs_change = True


class RelayError(HolySheepError):
    """A failure talking to the relay. ``provider_message`` is the server's own words, if any."""

    title = N_("Relay error")
    kind = "relay"
    exit_code = EXIT_NETWORK
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        provider_message: str | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.provider_message = provider_message
        self.retry_after = retry_after


class AuthError(RelayError):
    title = N_("Authentication failed")
    kind = "auth"
    exit_code = EXIT_AUTH
    needs_change = True


class QuotaError(RelayError):
    title = N_("Out of balance or quota")
    kind = "quota"
    exit_code = EXIT_QUOTA
    needs_change = True


class RateLimitError(RelayError):
    title = N_("Rate limited")
    kind = "rate_limit"
    exit_code = EXIT_RATE_LIMIT
    retryable = True


class ModelNotFoundError(RelayError):
    title = N_("Model not found")
    kind = "model_not_found"
    exit_code = EXIT_MODEL_NOT_FOUND
    needs_change = True

    def __init__(self, message: str, *, suggestions: list[str] | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.suggestions = suggestions or []


class BadRequestError(RelayError):
    title = N_("Request rejected")
    kind = "bad_request"
    exit_code = EXIT_BAD_REQUEST
    needs_change = True


class ContextTooLongError(BadRequestError):
    title = N_("Conversation too long for the model")
    kind = "context_too_long"


class ServerError(RelayError):
    title = N_("Relay server error")
    kind = "server"
    exit_code = EXIT_NETWORK
    retryable = True


class NetworkError(RelayError):
    title = N_("Network error")
    kind = "network"
    exit_code = EXIT_NETWORK
    retryable = True


class TLSError(NetworkError):
    """The TLS handshake failed (untrusted or wrong certificate): retrying cannot help."""

    title = N_("TLS failure")
    kind = "tls"
    retryable = False
    needs_change = True


class ReadTimeoutError(RelayError):
    title = N_("Relay stopped answering")
    kind = "timeout"
    exit_code = EXIT_NETWORK


class StreamCutError(RelayError):
    title = N_("Answer cut off")
    kind = "stream_cut"
    exit_code = EXIT_NETWORK


class UpstreamError(RelayError):
    """An error object the relay sent inside a stream that had already started."""

    title = N_("Error from the model provider")
    kind = "upstream"
    exit_code = EXIT_NETWORK


class ProtocolError(RelayError):
    title = N_("Unexpected data from the relay")
    kind = "protocol"
    exit_code = EXIT_PROTOCOL


_RELAY_ERRORS: dict[str, type[RelayError]] = {
    cls.kind: cls
    for cls in (
        AuthError,
        QuotaError,
        RateLimitError,
        ModelNotFoundError,
        ContextTooLongError,
        BadRequestError,
    )
}


def relay_error_class(kind: str, *, otherwise: type[RelayError]) -> type[RelayError]:
    """The class for an error kind (``relay.error_body.classify_error``); ``otherwise`` for a server failure
    or a kind no class names (a relay's 5xx is a ``ServerError``, an error inside a stream an ``UpstreamError``)."""
    return _RELAY_ERRORS.get(kind, otherwise)


class CancelledByUser(HolySheepError):
    title = N_("Stopped")
    kind = "stopped"
    exit_code = EXIT_INTERRUPTED
