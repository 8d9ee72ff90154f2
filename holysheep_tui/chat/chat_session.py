"""One chat session: profile, client, controller, conversation, prices, money, budget and live figures.

A front end holds one ``ChatSession`` at a time. It starts ``loading`` (seeded from the start-up cache,
no ``Session`` yet) or ``ready``; a new one replaces it when the full load ends, when a key is entered, or
for the demo (``successor`` carries over what the user did). No Textual here: the app mirrors what its
widgets show.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, Protocol

from holysheep_tui.chat.budget_watch import BudgetWatch
from holysheep_tui.chat.conversation import Conversation, Turn
from holysheep_tui.chat.live import LiveFigures
from holysheep_tui.errors import HolySheepError
from holysheep_tui.relay.wire import Answer, Timings

if TYPE_CHECKING:
    from holysheep_tui.chat.controller import ConversationController
    from holysheep_tui.chat.session import Session
    from holysheep_tui.economics.budget import Level
    from holysheep_tui.economics.metrics import MetricsLog
    from holysheep_tui.economics.money import CurrencyView
    from holysheep_tui.economics.prices import PriceBook
    from holysheep_tui.store import HistoryStore

SessionState = Literal["loading", "ready"]


class Seed(Protocol):
    """What a session shows before (and besides) its config: ``startup.FirstFrame``."""

    @property
    def profile_name(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def demo(self) -> bool: ...
    @property
    def theme(self) -> str: ...
    @property
    def sub_title(self) -> str: ...
    @property
    def favourite_models(self) -> tuple[str, ...]: ...
    @property
    def budget_daily_usd(self) -> float | None: ...
    @property
    def budget_monthly_usd(self) -> float | None: ...
    def price_book(self) -> PriceBook: ...
    def currency_view(self) -> CurrencyView: ...


class ChatSession:
    """The state of one chat session; ``session`` is None while it loads."""

    def __init__(
        self,
        seed: Seed,
        session: Session | None = None,
        *,
        metrics: MetricsLog | None = None,
        store: HistoryStore | None = None,
        prices: PriceBook | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.seed = seed
        self.session = session
        if seed.demo and metrics is None:
            from holysheep_tui.economics.metrics import MetricsLog

            metrics = MetricsLog()
        self.metrics = metrics
        """The metrics log; the demo's answers go to it under the profile ``demo``, apart from real totals."""
        self.given_prices = prices
        self.prices = prices if prices is not None else seed.price_book()
        self.money = seed.currency_view()
        self.model = seed.model
        """The model for the next message."""
        self.favourites = list(seed.favourite_models)
        self.compare_models: tuple[str, ...] = ()
        """Models the next prompt goes to at once (a comparison); empty: only ``model``."""
        self.conversation = Conversation(seed.profile_name, self.model)
        limits = session.profile if session is not None else seed
        self.budget = BudgetWatch(seed.profile_name, limits, None if seed.demo else self.metrics)
        self.live = LiveFigures(self.prices, model=self.model)
        self.clock = clock
        """The clock of every answer's ``Timings`` (a test's frozen clock makes figures reproducible)."""
        self._store = store
        self._warn = on_warning
        self._controller: ConversationController | None = None
        self._lock = threading.Lock()
        """Guards ``_controller`` and ``_store``; held for moments only (the UI thread takes it)."""
        self._making = threading.Lock()
        """Held while the controller is made (a while: its HTTP client), by its first user: a thread."""

    @property
    def state(self) -> SessionState:
        return "loading" if self.session is None else "ready"

    @property
    def profile_name(self) -> str:
        return self.seed.profile_name

    @property
    def demo(self) -> bool:
        return self.seed.demo

    @property
    def endpoint(self) -> str:
        """The status bar's name for where answers come from."""
        return "demo" if self.seed.demo else self.seed.profile_name

    @property
    def store(self) -> HistoryStore | None:
        return self._store

    @store.setter
    def store(self, store: HistoryStore | None) -> None:
        with self._lock:
            self._store = store
            if self._controller is not None:
                self._controller.store = store

    @property
    def opened_controller(self) -> ConversationController | None:
        """The controller if made (never makes one)."""
        return self._controller

    @property
    def controller(self) -> ConversationController:
        """Made on first use (its HTTP client takes a while to import and create: call it from a thread)."""
        with self._making:
            with self._lock:
                if self._controller is not None:
                    return self._controller
                store = self._store
            if self.session is None:
                raise HolySheepError("The session is not open yet.")
            from holysheep_tui.chat.controller import ConversationController  # not before the first frame

            made = ConversationController(
                self.session.client(), profile_name=self.profile_name, store=store,
                metrics=self.metrics, prices=self.prices, on_warning=self._warn,
            )  # fmt: skip
            with self._lock:  # the store may have been set meanwhile (the UI thread never waited)
                made.store = self._store
                self._controller = made
            return made

    # ---- a turn -------------------------------------------------------------------------------------
    def start_turn(self) -> Answer:
        """The empty answer of the next turn, timed on this session's clock; the live figures follow it."""
        answer = Answer(self.model, timings=Timings(clock=self.clock))
        self.live.start(answer)
        return answer

    def finish_turn(self, turn: Turn) -> Level | None:
        """A turn ended: its figures and cost count; returns the budget level when it got worse."""
        self.live.finish(turn)
        return self.budget.add(turn.cost)

    def start_comparison(self, models: Sequence[str]) -> list[Answer]:
        """The empty answers of a comparison's legs, one per model; the live figures follow the first."""
        answers = [Answer(model, timings=Timings(clock=self.clock)) for model in models]
        self.compare_models = ()
        self.live.start(answers[0])
        return answers

    def finish_comparison(self, legs: Sequence[Turn], lead: Turn) -> Level | None:
        """Every leg's cost counts; the live figures end on the leg the conversation goes on with.
        Returns the budget level when it got worse."""
        level: Level | None = None
        for leg in [*(leg for leg in legs if leg is not lead), lead]:
            self.live.finish(leg)
            level = self.budget.add(leg.cost) or level
        self.model = self.conversation.model = self.live.model = lead.model
        return level

    def new_conversation(self) -> None:
        self.conversation = Conversation(self.profile_name, self.model)
        self.live.reset_totals()

    def continue_conversation(self, conversation: Conversation, cost_usd: float, estimated: bool) -> None:
        """Continue a stored conversation, on its model, with what it cost so far."""
        self.conversation = conversation
        self.model = self.live.model = conversation.model
        self.live.reset_totals(cost_usd, estimated)

    def choose_model(self, model: str) -> None:
        self.model = self.conversation.model = self.live.model = model

    # ---- the next session ---------------------------------------------------------------------------
    def successor(self, seed: Seed, session: Session, metrics: MetricsLog | None) -> ChatSession:
        """The session that replaces this one; on the same profile the conversation, its totals, a model
        chosen meanwhile and the budget's status carry over."""
        new = ChatSession(
            seed, session, metrics=metrics, store=self._store, prices=self.given_prices, clock=self.clock,
            on_warning=self._warn,
        )  # fmt: skip
        if seed.profile_name == self.profile_name:
            if self.model != self.seed.model:
                new.model = self.model
            new.conversation, new.live = self.conversation, self.live
            new.conversation.model = new.live.model = new.model
            new.live.prices = new.prices
            new.budget.status = self.budget.status if new.budget.enabled else None
        return new

    async def aclose(self) -> None:
        """Close the controller's client (the Session itself is closed by whoever opened it)."""
        controller, self._controller = self._controller, None
        if controller is not None:
            await controller.client.aclose()
