"""The full-screen app: composes the widgets, holds the chat session, routes messages.

The app holds one ``ChatSession`` (``chat``) and mirrors what widgets show into reactives (``chat``,
``money``, ``revision``); the status bar and the sidebar follow them by ``data_bind``. A session is switched
in one place, ``apply_session``: after the first frame (``SessionReady`` from the load), for a key entered on
the first-run screen and for the demo. Turns: ``tui/turns.py``; the history: ``tui/history_actions.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal
from textual.reactive import var
from textual.widgets import Header
from textual.worker import Worker, WorkerState

from holysheep_tui.chat.chat_session import ChatSession
from holysheep_tui.chat.conversation import Conversation
from holysheep_tui.economics.money import CurrencyView
from holysheep_tui.economics.prices import PriceBook
from holysheep_tui.errors import HolySheepError, StorageError
from holysheep_tui.i18n import _
from holysheep_tui.startup import FirstFrame, Once, cached_first_frame, forget_first_frame
from holysheep_tui.tui.actions import ActionsApp
from holysheep_tui.tui.attaching import AttachingApp
from holysheep_tui.tui.balance import BalanceApp
from holysheep_tui.tui.branches import BranchesApp
from holysheep_tui.tui.commands import ModelCommands
from holysheep_tui.tui.editor import EditorApp
from holysheep_tui.tui.fitting import FittingApp
from holysheep_tui.tui.gc_pacing import StreamCollections
from holysheep_tui.tui.history_actions import HistoryApp
from holysheep_tui.tui.keys import KEYS, PRIORITY_KEYS, binding_id
from holysheep_tui.tui.language import LanguageApp
from holysheep_tui.tui.lifecycle import (
    EarlyKeys,
    install_exit_signals,
    open_app_session,
    open_history,
    remove_exit_signals,
)
from holysheep_tui.tui.messages import SessionFailed, SessionReady
from holysheep_tui.tui.model_memory import ModelMemory
from holysheep_tui.tui.models import ModelsApp
from holysheep_tui.tui.plain import PlainTextApp
from holysheep_tui.tui.recall import stored_prompts
from holysheep_tui.tui.strip_cycles import install as free_strips_at_once
from holysheep_tui.tui.turns import TURN_GROUP, TurnsApp
from holysheep_tui.tui.user_keys import UserKeysApp
from holysheep_tui.tui.warm_up import WarmUp
from holysheep_tui.tui.widgets.budget import BudgetLoaded, BudgetWatch
from holysheep_tui.tui.widgets.chips import AttachmentChips
from holysheep_tui.tui.widgets.conversation import ConversationView
from holysheep_tui.tui.widgets.prompt import PromptInput
from holysheep_tui.tui.widgets.sidebar import HistorySidebar
from holysheep_tui.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:  # the store opens in a thread after the first frame; pydantic loads with the session
    from holysheep_tui.chat.controller import ConversationController
    from holysheep_tui.chat.session import Session
    from holysheep_tui.economics.metrics import MetricsLog
    from holysheep_tui.store import HistoryStore

__all__ = ["KEYS", "HolySheepApp", "run_app"]


def _unset() -> ChatSession:
    raise RuntimeError("the app sets its chat session in __init__")


HistoryOpener = Callable[[], "tuple[HistoryStore | None, str | None]"]
SessionOpener = Callable[[], "tuple[Session, HolySheepError | None]"]


class HolySheepApp(
    PlainTextApp,
    TurnsApp,
    ActionsApp,
    BranchesApp,
    ModelsApp,
    HistoryApp,
    BalanceApp,
    EditorApp,
    UserKeysApp,
    AttachingApp,
    FittingApp,
    LanguageApp,
):
    CSS_PATH = "app.tcss"
    TITLE = "HolySheep"
    COMMANDS = App.COMMANDS | {ModelCommands}
    BINDINGS = [
        Binding(keys, action, desc, show=False, priority=keys in PRIORITY_KEYS, id=binding_id(action))
        for keys, action, desc in KEYS
    ]

    chat: var[ChatSession] = var(_unset, init=False)
    """The chat session; replaced (never edited in place) by ``apply_session``."""
    money: var[CurrencyView] = var(CurrencyView(), init=False)
    revision: var[int] = var(0, init=False)
    """Bumped when the session's state changed otherwise than by a stream event (a turn began or ended,
    another model, another conversation): the status bar redraws."""

    def __init__(
        self,
        session: Session | FirstFrame,
        *,
        open_later: SessionOpener | None = None,
        store: HistoryStore | None = None,
        metrics: MetricsLog | None = None,
        prices: PriceBook | None = None,
        clock: Callable[[], float] = time.monotonic,
        cursor_blink: bool = True,
        save_theme: bool = True,
        first_run: HolySheepError | None = None,
        history: HistoryOpener | None = None,
    ) -> None:
        """``history`` opens the store after the first frame, in a thread (``store`` is then ignored).

        Given a ``FirstFrame`` (a start-up cache hit), the first frame is drawn from it: the session is
        ``loading`` until ``open_later`` (run in a thread right after that frame) opens it."""
        super().__init__()
        free_strips_at_once()  # painted lines are freed when dropped, not left to the collector
        self.stream_collections = StreamCollections()  # no full collection every second while streaming
        self.translate_bindings()  # described in the language in force (``language.py`` switches it)
        self.pending_session: Once[tuple[Session, HolySheepError | None]] | None = None
        if isinstance(session, FirstFrame):
            if open_later is None:
                raise TypeError("a FirstFrame needs open_later")
            self.pending_session = Once(open_later)
            frame, opened = session, None
        else:
            frame, opened = FirstFrame.of(session), session
        self._metrics = metrics
        warn = functools.partial(self.notify, severity="warning")
        chat = ChatSession(
            frame, opened, metrics=metrics, store=store, prices=prices, clock=clock, on_warning=warn
        )
        self.set_reactive(HolySheepApp.chat, chat)
        self.set_reactive(HolySheepApp.money, chat.money)
        self.startup_error: BaseException | None = None
        """Why the session opened after the first frame failed after all (the app then exits)."""
        self._history_opener = history
        self._history_worker: Worker[tuple[HistoryStore | None, str | None]] | None = None
        """Opening the history; None once its result is taken."""
        self._warm_up = WarmUp(self.set_timer, freeze=False)
        self._early_keys = EarlyKeys(self._keys_have_a_home)
        self._started = False
        self.model_memory = ModelMemory.load()  # recent and starred models, kept across restarts
        self.recent: list[str] = list(self.model_memory.recent)
        self.relay_models: list[str] = []
        self.model_windows: dict[str, int] = {}
        self._cursor_blink = cursor_blink
        self._save_theme = save_theme
        self.first_run = first_run
        """Why there is no key: the app opens on the first-run screen."""
        self.sub_title = frame.sub_title

    # ---- layout --------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Horizontal(id="main"):
            with Container(id="sidebar"):
                yield HistorySidebar(self.money).data_bind(HolySheepApp.money)
            yield ConversationView(id="conversation")
        yield AttachmentChips(id="chips").data_bind(HolySheepApp.attachments)
        prompt = PromptInput(id="prompt")
        prompt.cursor_blink = self._cursor_blink
        prompt.recall_source = lambda: stored_prompts(self.chat.store, self.conversation.id)
        yield prompt
        yield StatusBar(id="status").data_bind(
            HolySheepApp.chat,
            HolySheepApp.revision,
            HolySheepApp.balance_text,
            meter=HolySheepApp.context_meter,
        )

    def on_mount(self) -> None:
        self._warm_up = WarmUp(self.set_timer, freeze=not self.is_headless)
        theme = self.chat.seed.theme
        if theme in self.available_themes:
            self.theme = theme
        # After the theme set above is published: that one is no change to remember.
        self.call_next(self.theme_changed_signal.subscribe, self, self._remember_theme)
        self.query_one(PromptInput).focus()
        self.call_after_refresh(self._replay_early_keys)
        self._exit_signals = install_exit_signals(self)
        if self._history_opener is None:
            self.start_history()
        if self.first_run is not None:
            self._open_first_run(self.first_run)
        self._read_budget(self.chat.budget)
        if self.chat.session is not None:
            self.apply_user_keys(self.chat.session.config)
        self.call_after_refresh(self._after_first_frame)

    def _after_first_frame(self) -> None:
        """What the first frame does not wait for: the session, the model list, the history, the warm-up."""
        if self._started:
            return
        self._started = True
        if not gc.isenabled():  # the command line turned collections off for the start-up
            gc.freeze()  # what start-up made stays: not one long collection of all of it at the first key
            gc.enable()
        if self.pending_session is not None:
            self._load_session(self.pending_session)  # then the models, or the first-run screen
        else:
            self._preload_prices()
            if self.first_run is None:
                self._load_models()
        if self._history_opener is not None:
            self._history_worker = self._open_history(self._history_opener)
        self._warm_up.step()

    async def on_event(self, event: events.Event) -> None:
        """Keys typed before anything has the focus wait for it (issue 15 item 5), then go first."""
        if self._early_keys.hold(event):
            return
        await self._replay_early_keys()
        await super().on_event(event)

    async def _replay_early_keys(self) -> None:
        for held in self._early_keys.take():
            await super().on_event(held)

    def _keys_have_a_home(self) -> bool:
        return isinstance(self.focused, PromptInput) or len(self.screen_stack) > 1

    def before_first_request(self) -> None:
        self._after_first_frame()  # a prompt sent before the first frame was drawn
        self._warm_up.finish()

    # ---- the session: one path for every switch --------------------------------------------
    @work(group="session", exit_on_error=False)
    async def _load_session(self, pending: Once[tuple[Session, HolySheepError | None]]) -> None:
        try:
            session, problem = await asyncio.to_thread(pending.result)
        except Exception as exc:  # the app exits and the front end reports it
            self.post_message(SessionFailed(exc))
            return
        self._preload_prices()
        self.post_message(SessionReady(session, problem))

    def _preload_prices(self) -> None:
        """genai-prices' data read in a thread now, so that a model our table lacks is not read on the
        UI thread (about 0.1 s) by the first meter reading, the picker or the first send."""
        from holysheep_tui.economics.prices import preload_genai_prices

        if self.chat.prices.uses_genai_prices:
            preload_genai_prices()

    @on(SessionReady)
    def _session_ready(self, message: SessionReady) -> None:
        if message.session is not self.chat.session:  # not already applied by ``ready_chat``
            self.apply_session(message.session, message.problem)

    @on(SessionFailed)
    def _session_failed(self, message: SessionFailed) -> None:
        self._fail(message.error)

    def _fail(self, error: BaseException) -> None:
        if self.pending_session is None:
            return
        self.pending_session = None
        forget_first_frame()
        self.startup_error = error
        self.exit(return_code=error.exit_code if isinstance(error, HolySheepError) else 1)

    def apply_session(self, session: Session, problem: HolySheepError | None = None) -> None:
        """Switch to ``session``: what depends on it is reset here and nowhere else."""
        self.pending_session = None
        old = self.chat
        new = old.successor(FirstFrame.of(session), session, self._metrics)
        self.chat = new
        self.money = new.money
        self.sub_title = new.seed.sub_title
        if new.seed.theme != old.seed.theme and new.seed.theme in self.available_themes:
            self.theme = new.seed.theme
        if old.opened_controller is not None:
            self.run_worker(old.aclose(), group="session-close", exit_on_error=False)
        if old.session is not None and old.session.simulator is not session.simulator:
            old.session.close()
        self.apply_user_keys(session.config)
        self.first_run = problem
        if problem is not None:
            self._open_first_run(problem)
            return
        self._load_models()
        if new.budget.status is None:
            self._read_budget(new.budget)

    def ready_chat(self) -> ChatSession:
        """The session once open: a use before then waits for its load and applies it."""
        pending = self.pending_session
        if pending is not None:
            try:
                session, problem = pending.result()
            except Exception as exc:
                self._fail(exc)
            else:
                self.apply_session(session, problem)
        if self.chat.session is None:
            raise self.startup_error or HolySheepError(_("The session is not open."))
        return self.chat

    def _open_first_run(self, problem: HolySheepError) -> None:
        """Cover the chat with the first-run screen; a key or the demo is one more ``SessionReady``."""
        from holysheep_tui.tui.screens.first_run import FirstRunChoice, FirstRunScreen, chosen_session

        session = self.session

        def chosen(choice: FirstRunChoice | None) -> None:
            if choice is None:
                return
            new, notice = chosen_session(choice, session)
            if notice:
                self.notify(notice, title=_("Key ready"))
            self.post_message(SessionReady(new))

        self.push_screen(FirstRunScreen(session.profile_name, session.profile, problem), chosen)

    @property
    def session(self) -> Session:
        """Opened before the app, or right after its first frame; a use before then waits for it."""
        session = self.ready_chat().session
        assert session is not None
        return session

    @property
    def open_session(self) -> Session | None:
        """The session if it is open (never waits for it)."""
        return self.chat.session

    @property
    def controller(self) -> ConversationController:
        return self.ready_chat().controller

    @property
    def conversation(self) -> Conversation:
        return self.chat.conversation

    @property
    def model(self) -> str:
        return self.chat.model

    @property
    def budget(self) -> BudgetWatch:
        return self.chat.budget

    @property
    def prices(self) -> PriceBook:
        return self.chat.prices

    # ---- the budget, read from the metrics log in a thread ---------------------------------
    @work(thread=True, group="budget", exit_on_error=False)
    def _read_budget(self, watch: BudgetWatch) -> None:
        if not watch.enabled:
            return
        try:
            self.post_message(BudgetLoaded(watch, watch.read()))
        except StorageError as exc:
            self.post_message(BudgetLoaded(watch, None, exc.user_text()))

    @on(BudgetLoaded)
    def _budget_loaded(self, message: BudgetLoaded) -> None:
        watch = message.watch
        if message.error:
            self.notify(message.error, title=_("Budget not checked"), severity="warning")
        watch.status = message.status
        if watch is self.chat.budget:
            if watch.level != "ok":
                self.notify(watch.alert(), title=_("Budget"), severity="error" if watch.over else "warning")
            self.revision += 1

    # ---- the history, opened in a thread (a large database's integrity check takes a while) ---
    @work(thread=True, group="history-open", exit_on_error=False)
    def _open_history(self, opener: HistoryOpener) -> tuple[HistoryStore | None, str | None]:
        return opener()

    def take_history(self) -> None:
        """The opening finished: the controller stores from now on; start-up notices are shown."""
        worker, self._history_worker = self._history_worker, None
        if worker is None or worker.state != WorkerState.SUCCESS or worker.result is None:
            return
        store, warning = worker.result
        self.chat.store = store
        if not self._exit:
            self.start_history()
            self.history_turn_finished()  # the sidebar, if already shown, lists what is stored
            if warning:
                self.notify(_("History is off: {reason}").format(reason=warning), severity="warning")

    def close_history(self) -> None:
        """After the app has ended: close the store (one whose opening finished meanwhile too)."""
        self.take_history()
        if self.chat.store is not None:
            self.chat.store.close()

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        """The one place worker endings and failures arrive; nothing escapes as a traceback."""
        worker, state = event.worker, event.state
        if worker is self._history_worker and worker.is_finished:
            self.take_history()
        if state == WorkerState.ERROR:
            error = worker.error
            text = (
                error.user_text() if isinstance(error, HolySheepError) else f"{type(error).__name__}: {error}"
            )
            title = _("Internal error") if worker.group == TURN_GROUP else _("Error")
            self.notify(text, title=title, severity="error")
        if worker.group == TURN_GROUP:
            if state == WorkerState.RUNNING:
                self.stream_collections.hold(worker)
            elif worker.is_finished:
                self.stream_collections.release(worker)
            self.turn_worker_ended(worker, state)

    # ---- theme ---------------------------------------------------------------------------
    def _remember_theme(self, theme: object) -> None:
        name = getattr(theme, "name", None)
        if not self._save_theme or not name or name == self.session.config.ui.theme:
            return
        from holysheep_tui.tui.settings import save_ui_theme

        try:
            save_ui_theme(name)
            self.session.config.ui.theme = name
        except HolySheepError as exc:
            self.notify(exc.user_text(), title=_("Theme not saved"), severity="warning")

    async def on_unmount(self) -> None:
        self.stream_collections.release_all()  # a stream cut by the exit gives its hold back too
        remove_exit_signals(getattr(self, "_exit_signals", []))
        await self.chat.aclose()


def _metrics_log() -> MetricsLog:
    from holysheep_tui.economics.metrics import MetricsLog  # its reading and writing: after the first frame

    return MetricsLog()


def run_app(args: argparse.Namespace, session: Session | None = None) -> int:
    """``holysheep`` with no subcommand: open the session, run the app, close everything.

    With a start-up cache hit on a terminal, the first frame comes first and the session right after it;
    otherwise the config is validated before the screen, so a bad one never flashes it."""
    problem: HolySheepError | None = None
    app: HolySheepApp | None = None
    frame: FirstFrame | None = None
    if session is None and sys.stdin.isatty() and sys.stdout.isatty():
        frame = cached_first_frame(args)
    if session is None and frame is None:
        session, problem = open_app_session(args)
    try:
        demo = frame.demo if frame is not None else session is not None and session.is_demo
        metrics = None if demo else _metrics_log()  # the demo is still recorded in the history
        if frame is not None:
            later = functools.partial(open_app_session, args)
            app = HolySheepApp(frame, open_later=later, metrics=metrics, history=open_history)
        elif session is not None:
            app = HolySheepApp(session, metrics=metrics, first_run=problem, history=open_history)
        if app is not None:
            app.run()
    finally:
        if app is not None:
            app.close_history()
        if session is not None:
            session.close()
        if app is not None and app.open_session is not None:
            app.open_session.close()  # opened after the first frame, or the demo the first-run screen chose
    if app is not None and app.startup_error is not None:
        raise app.startup_error  # the front end prints it: one clear line, its exit code
    return 0 if app is None or app.return_code is None else app.return_code
