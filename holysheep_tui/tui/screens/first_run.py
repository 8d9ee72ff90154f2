"""The first-run screen: no API key for a remote endpoint. Paste one (checked, then kept in the keyring) or
try the built-in demo. Without a keyring it offers what works there: the key for this session only (never
written), HOLYSHEEP_API_KEY, ``api_key_cmd``, keyring's plaintext backend when installed. When the check
cannot reach the relay, the key can be used anyway for this session.

The key is checked with ``GET /models`` against the profile's base URL before it is stored. Keyring calls
run in a thread (they may block up to the keyring time-out). The key is never shown again after entry:
the input is masked and every message uses ``keys.mask``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field, replace

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Input, Static

from holysheep_tui.chat.session import Session, open_session
from holysheep_tui.config import Config, Profile, load_config, resolve_profile
from holysheep_tui.errors import (
    AuthError,
    HolySheepError,
    KeyMissingError,
    NetworkError,
    ReadTimeoutError,
    ServerError,
    TLSError,
)
from holysheep_tui.i18n import _, ngettext, sentences
from holysheep_tui.relay.client import RelayClient
from holysheep_tui.secrets import (
    KeyNotFoundError,
    KeyringUnavailableError,
    Secret,
    mask,
    store_key,
    ways_without_keyring,
)
from holysheep_tui.textsafety import show_control

KEYS_PAGE = "https://www.holysheep.ai/register"


@dataclass(frozen=True)
class KeyEntered:
    """A key that the relay accepted; ``saved`` tells whether it is in the keyring."""

    key: Secret = field(repr=False)
    source: str
    saved: bool


@dataclass(frozen=True)
class DemoChosen:
    """The user chose the built-in simulator instead."""


FirstRunChoice = KeyEntered | DemoChosen


def keyless_session(
    args: argparse.Namespace, problem: HolySheepError | None = None, *, config: Config | None = None
) -> Session:
    """The session ``holysheep`` would open, without a key (the first-run screen asks for one).

    Not on a terminal nobody can answer that screen: ``problem`` is raised instead, with the ways out.
    """
    if problem is not None and not (sys.stdin.isatty() and sys.stdout.isatty()):
        ways = (
            _("Or try `holysheep --demo` (no key needed).")
            if can_not_save(problem)
            else _(
                "Set HOLYSHEEP_API_KEY or run `holysheep key set`; or try `holysheep --demo` (no key needed)."
            )
        )
        problem.hint = (problem.hint + "\n" if problem.hint else "") + ways
        raise problem
    config = config or load_config()
    name, profile = resolve_profile(config, profile=args.profile, base_url=args.base_url, model=args.model)
    return Session(config, name, profile, None, None)


def can_not_save(problem: HolySheepError) -> bool:
    """The key lookup found no keyring that could keep a key (none, disabled, hung or misconfigured)."""
    if isinstance(problem, KeyNotFoundError):
        return problem.no_keyring
    return isinstance(problem, KeyringUnavailableError) and problem.reason in (
        "none",
        "null",
        "timeout",
        "misconfigured",
    )


def unreachable(error: HolySheepError) -> bool:
    """The check could not reach the relay (network down, relay failing): the key may still be right."""
    return isinstance(error, NetworkError | ReadTimeoutError | ServerError) and not isinstance(
        error, TLSError
    )


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be an API key (HTTP headers carry printable ASCII only), or None."""
    if not key:
        return _("Paste the key first.")
    if any(not (0x21 <= ord(ch) <= 0x7E) for ch in key):
        return _("The key contains spaces, line breaks or non-ASCII characters, so it cannot be an API key.")
    return None


class FirstRunScreen(Screen[FirstRunChoice]):
    """Explains where a key comes from, checks a pasted key, stores it, or switches to the demo."""

    AUTO_FOCUS = "#first-run-key"

    def __init__(self, profile_name: str, profile: Profile, problem: HolySheepError) -> None:
        super().__init__()
        self.profile_name = profile_name
        self.profile = profile
        self.problem = problem
        self.keyring = not can_not_save(problem)
        """A keyring may keep the key; otherwise a checked key is used for this session only."""
        self._unsaved: Secret | None = None
        self._unchecked = False

    def compose(self) -> ComposeResult:
        base = self.profile.base_url
        problem = (
            self.problem.message if isinstance(self.problem, KeyMissingError) else self.problem.user_text()
        )
        with VerticalScroll(id="first-run"), Vertical(classes="first-run-box"):
            yield Static(_("Welcome to HolySheep"), classes="first-run-title")
            yield Static(show_control(problem), id="first-run-problem", markup=False)
            where = (
                _("then kept in the system keyring for profile '{profile}' (never in a file).").format(
                    profile=self.profile_name
                )
                if self.keyring
                else _(
                    "then used for this session only: it is not written anywhere, and you will be asked "
                    "again next time."
                )
            )
            # TRANSLATORS: {where} is one of the two "then kept in the system keyring …" / "then used for
            # this session only …" messages.
            yield Static(
                _(
                    "An API key for the relay comes from your HolySheep account: sign up or log in at "
                    "{page}, open API keys in the dashboard and create one. Paste it here: it is checked "
                    "against {url}, {where}"
                ).format(page=KEYS_PAGE, url=f"{base}/models", where=where),
                id="first-run-help",
                markup=False,
            )
            if not self.keyring:
                ways = "\n".join(f"• {way}" for way in ways_without_keyring(self.profile_name))
                yield Static(
                    "\n" + _("To keep the key for next time without a keyring:") + f"\n{ways}",
                    id="first-run-ways",
                    markup=False,
                )
            yield Input(placeholder="sk-…", password=True, id="first-run-key")
            yield Static(id="first-run-status", markup=False)
            with Horizontal(classes="buttons"):
                check = _("Check and save") if self.keyring else _("Check and use for this session")
                yield Button(check, variant="primary", id="first-run-check")
                yield Button(_("Use for this session only"), variant="warning", id="first-run-session")
                yield Button(_("Try the demo"), id="first-run-demo")
            later = (
                _("Or set HOLYSHEEP_API_KEY, or run `holysheep key set`, and start again.")
                if self.keyring
                else _("Or set HOLYSHEEP_API_KEY or api_key_cmd and start again.")
            )
            yield Static(
                sentences(
                    _("Enter checks the key · the demo needs no key and no network · Ctrl+Q quits."), later
                ),
                classes="dialog-help",
                markup=False,
            )

    def on_mount(self) -> None:
        self.query_one("#first-run-session").display = False

    def _say(self, text: str, style: str = "") -> None:
        text = show_control(text)  # often the relay's answer to the key check
        self.query_one("#first-run-status", Static).update(Content.styled(text, style) if style else text)

    # ---- checking and storing ------------------------------------------------------------------
    @on(Input.Submitted, "#first-run-key")
    @on(Button.Pressed, "#first-run-check")
    def _check_pressed(self) -> None:
        field_ = self.query_one("#first-run-key", Input)
        key = field_.value.strip()
        problem = key_problem(key)
        if problem:
            self._say(problem, "bold $text-error")
            return
        self._unsaved, self._unchecked = None, False
        self.query_one("#first-run-session").display = False
        self.query_one("#first-run-check", Button).disabled = True
        self._say(
            _("Checking {key} with GET {url} …").format(key=mask(key), url=f"{self.profile.base_url}/models"),
            "$text-muted",
        )
        self._check(Secret(key))

    @work(exclusive=True, group="first-run", exit_on_error=False)
    async def _check(self, key: Secret) -> None:
        try:
            await self._check_and_store(key)
        except Exception as exc:  # never a traceback, never the key
            text = f"{type(exc).__name__}: {exc}".replace(
                key.get_secret_value(), mask(key.get_secret_value())
            )
            self._say(_("Unexpected error: {error}").format(error=text), "bold $text-error")
        finally:
            self.query_one("#first-run-check", Button).disabled = False

    async def _check_and_store(self, key: Secret) -> None:
        secret = key.get_secret_value()
        client = RelayClient(self.profile, secret, key_source=_("the key entered on the first-run screen"))
        try:
            models = await client.list_models()
        except AuthError as exc:
            detail = exc.message.replace(secret, mask(secret))
            self._say(
                _(
                    "The relay rejected this key ({detail}). Check that you copied the whole key "
                    "from the dashboard, or create a new one."
                ).format(detail=detail),
                "bold $text-error",
            )
            return
        except HolySheepError as exc:
            said = exc.user_text().replace(secret, mask(secret))
            if not unreachable(exc):
                self._say(_("Could not check the key: {error}").format(error=said), "bold $text-error")
                return
            self._unsaved, self._unchecked = key, True
            self._say(
                _("Could not reach the relay to check the key: {error}").format(error=said)
                + "\n\n"
                + _(
                    "Press Enter to try again, or use the key anyway for this session (unchecked, not saved)."
                ),
                "bold $text-warning",
            )
            self._offer_session(_("Use it anyway for this session"))
            return
        finally:
            await client.aclose()
        if not self.keyring:
            self.query_one("#first-run-key", Input).value = ""
            self.dismiss(KeyEntered(key, _("entered on the first-run screen (not saved)"), saved=False))
            return
        self._say(
            ngettext(
                "The relay accepted {key} ({count} model). Saving it in the keyring …",
                "The relay accepted {key} ({count} models). Saving it in the keyring …",
                len(models),
            ).format(key=mask(secret), count=len(models))
        )
        try:
            backend = await asyncio.to_thread(store_key, self.profile_name, secret)
        except HolySheepError as exc:
            self._unsaved = key
            self.query_one("#first-run-key", Input).value = ""
            self._say(
                _("The key works, but it could not be saved: {error}").format(error=exc.user_text())
                + "\n\n"
                + _(
                    "Use it for this session only (you will be asked again next time), or set "
                    "HOLYSHEEP_API_KEY and start again."
                ),
                "bold $text-warning",
            )
            self._offer_session(_("Use for this session only"))
            return
        self.query_one("#first-run-key", Input).value = ""
        self.dismiss(KeyEntered(key, _("keyring ({backend})").format(backend=backend), saved=True))

    def _offer_session(self, label: str) -> None:
        button = self.query_one("#first-run-session", Button)
        button.label = label
        button.display = True
        button.focus()

    @on(Button.Pressed, "#first-run-session")
    def _session_only(self) -> None:
        if self._unsaved is not None:
            source = (
                _("entered on the first-run screen (not checked, not saved)")
                if self._unchecked
                else _("entered on the first-run screen (not saved)")
            )
            self.query_one("#first-run-key", Input).value = ""
            self.dismiss(KeyEntered(self._unsaved, source, saved=False))

    @on(Button.Pressed, "#first-run-demo")
    def _demo(self) -> None:
        self.workers.cancel_group(self, "first-run")
        self.dismiss(DemoChosen())


# ---- what the choice opens --------------------------------------------------------------------------


def chosen_session(choice: FirstRunChoice, session: Session) -> tuple[Session, str | None]:
    """The session a first-run choice switches to (the app applies it as any other), and what to say."""
    if isinstance(choice, KeyEntered):
        secret = choice.key.get_secret_value()
        where = _("saved in the keyring") if choice.saved else _("for this session only")
        keyed = replace(session, api_key=secret, key_source=choice.source)
        # TRANSLATORS: {where} is "saved in the keyring" or "for this session only".
        return keyed, _("Using the key {key} ({where}).").format(key=mask(secret), where=where)
    return open_session(demo=True, config=session.config), None
