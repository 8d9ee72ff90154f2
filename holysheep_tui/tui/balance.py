"""The app's relay balance: read at start and after answers, at most every 30 s, shown in the status bar.

``HolySheepApp`` derives from ``BalanceApp``. A failed read never reaches the chat: the figure already
shown is marked stale, or nothing is shown. The watch runs on the chat session's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import events, on, work
from textual.app import App
from textual.message import Message
from textual.reactive import var
from textual.timer import Timer

from holysheep_tui.chat.chat_session import ChatSession
from holysheep_tui.errors import HolySheepError
from holysheep_tui.tui.messages import SessionReady, TurnFinished

if TYPE_CHECKING:  # loaded with the session (it needs pydantic and httpx), not for the first frame
    from holysheep_tui.economics.balance import Balance, BalanceWatch


@dataclass
class BalanceRead(Message, bubble=False):
    """A read of the balance ended: ``balance``, or ``error`` saying why not."""

    watch: BalanceWatch
    balance: Balance | None
    error: str | None = None


class BalanceApp(App[None]):
    # Provided by the subclass.
    chat: ChatSession
    first_run: HolySheepError | None

    balance_text: var[str | None] = var(None, init=False)
    """The status bar's balance segment; None: nothing to show."""

    _balance_watch: BalanceWatch | None = None
    _balance_timer: Timer | None = None

    @on(events.Mount)
    def _balance_mounted(self) -> None:
        self.call_after_refresh(self.refresh_balance)

    @on(SessionReady)
    def _balance_session(self) -> None:
        self.refresh_balance()  # after the app applied the session (its handler comes first)

    @on(TurnFinished)
    def _balance_after_answer(self) -> None:
        self.refresh_balance()

    def _watch_for_session(self) -> BalanceWatch | None:
        """The watch of the open session: a new one when the session changed."""
        session = self.chat.session
        if session is None or self.first_run is not None or session.is_demo:
            return None
        from holysheep_tui.economics.balance import BalanceWatch, balance_source

        watch = self._balance_watch
        if (
            watch is None
            or watch.source != balance_source(session.profile)
            or watch.clock is not self.chat.clock
        ):
            watch = self._balance_watch = BalanceWatch(balance_source(session.profile), self.chat.clock)
            self.balance_text = None
        return watch

    def refresh_balance(self) -> None:
        """Read the balance now if due; otherwise once it is due (one timer)."""
        watch = self._watch_for_session()
        if watch is None:
            return
        if watch.begin():
            self._read_balance(watch)
            return
        wait = watch.wait()
        if wait:  # an answer inside the 30 s: read once they have passed
            if self._balance_timer is not None:
                self._balance_timer.stop()
            self._balance_timer = self.set_timer(wait, self.refresh_balance, name="balance")

    @work(group="balance", exit_on_error=False)
    async def _read_balance(self, watch: BalanceWatch) -> None:
        from holysheep_tui.economics.balance import fetch_balance

        session = self.chat.session
        assert session is not None and watch.source is not None
        try:
            balance = await fetch_balance(session.profile, session.api_key, watch.source)
        except HolySheepError as exc:
            self.post_message(BalanceRead(watch, None, exc.message))
        except Exception as exc:  # never a traceback over the chat
            self.post_message(BalanceRead(watch, None, f"{type(exc).__name__}: {exc}"))
        else:
            self.post_message(BalanceRead(watch, balance))

    @on(BalanceRead)
    def _balance_read(self, message: BalanceRead) -> None:
        message.watch.done(message.balance, message.error)
        if message.watch is self._balance_watch:
            self.balance_text = message.watch.segment()
