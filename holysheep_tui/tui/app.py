"""The full-screen app: composes the widgets, runs each turn in a worker, routes messages.

Every token: controller ``on_events`` -> ``TurnEvents`` (one per network read) posted to the app ->
the answer widget (which draws it) and the status bar's state.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import importlib
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container, Horizontal
from textual.screen import Screen
from textual.widgets import Header
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from holysheep_tui.chat.controller import Conversation, ConversationController, Turn
from holysheep_tui.economics.metrics import MetricsLog
from holysheep_tui.economics.prices import PriceBook, estimate_tokens
from holysheep_tui.errors import HolySheepError, RelayError
from holysheep_tui.relay.wire import Answer, StreamEvent
from holysheep_tui.startup import FirstFrame, Once, cached_first_frame
from holysheep_tui.tui.commands import ModelCommands
from holysheep_tui.tui.history_actions import HistoryApp
from holysheep_tui.tui.lifecycle import (
    adopt_session,
    install_exit_signals,
    load_session_later,
    open_app_session,
    open_history,
    remove_exit_signals,
)
from holysheep_tui.tui.messages import ModelsLoaded, PromptSubmitted, TurnEvents, TurnFinished
from holysheep_tui.tui.widgets.budget import BudgetWatch, ask_before_sending
from holysheep_tui.tui.widgets.conversation import ConversationView
from holysheep_tui.tui.widgets.prompt import PromptInput
from holysheep_tui.tui.widgets.sidebar import HistorySidebar
from holysheep_tui.tui.widgets.status_bar import LiveState, StatusBar

if TYPE_CHECKING:  # the screens and the answer widget load on first use: start-up stays short
    from holysheep_tui.chat.session import Session
    from holysheep_tui.store import HistoryStore
    from holysheep_tui.tui.screens.model_picker import ModelRow
    from holysheep_tui.tui.widgets.answer import AnswerView

HistoryOpener = Callable[[], "tuple[HistoryStore | None, str | None]"]
SessionOpener = Callable[[], "tuple[Session, HolySheepError | None]"]

# (keys, action, description): the bindings, the help screen and the command palette all come from here.
KEYS: list[tuple[str, str, str]] = [
    ("escape", "stop", "Stop the answer (keeps what arrived)"),
    ("ctrl+o,f2", "pick_model", "Choose the model for the next message"),
    ("ctrl+n", "new_conversation", "New conversation"),
    ("ctrl+r", "regenerate", "Regenerate the last answer / retry after an error"),
    ("ctrl+l", "edit_last", "Edit and resend the last prompt"),
    ("f3", "system_prompt", "Set this conversation's system prompt"),
    ("f4", "copy_answer", "Copy the last answer (OSC 52)"),
    ("f5", "copy_code", "Copy a code block from the last answer"),
    ("f9", "toggle_reasoning", "Show or hide the reasoning of every answer"),
    ("ctrl+t", "change_theme", "Choose a theme (remembered in the config)"),
    ("ctrl+b", "toggle_sidebar", "Show or hide the history sidebar (refreshes it)"),
    ("ctrl+f", "search_history", "Search every stored message"),
    ("ctrl+s", "export_conversation", "Export this conversation (md, json, html, txt, openai)"),
    ("f8", "stats", "Usage statistics: requests, cost and latency per model and per day"),
    ("f1", "help", "Show every key"),
]
PROMPT_KEYS = [
    ("Enter", "Send the prompt"),
    ("Ctrl+J / Shift+Enter", "New line in the prompt (Shift+Enter where the terminal reports it)"),
    ("Up / Down", "Recall earlier prompts (on an empty prompt)"),
    ("Ctrl+P", "Command palette: every action, every model"),
    ("Ctrl+Q", "Quit"),
]


WARM_UP_GAP = 0.03
"""Seconds between two steps of the warm-up."""


def _warm_up_steps() -> Iterator[Callable[[], object]]:
    for module in ("markdown_it", "rich.markdown", "holysheep_tui.tui.widgets.answer"):
        yield functools.partial(importlib.import_module, module)
    from holysheep_tui.tui.markdown_render import COMMON_LANGUAGES, warm_lexers

    for name in COMMON_LANGUAGES:
        yield functools.partial(warm_lexers, (name,))


def _key_label(keys: str) -> str:
    return " / ".join(
        k.replace("ctrl+", "Ctrl+").replace("escape", "Esc").upper()
        if k.startswith("f") and k[1:].isdigit()
        else k.replace("ctrl+", "Ctrl+").replace("escape", "Esc")
        for k in keys.split(",")
    )


@dataclass
class _Running:
    conversation: Conversation
    turns_before: int
    prompt: str
    model: str
    answer: AnswerView


class HolySheepApp(HistoryApp):
    CSS_PATH = "app.tcss"
    TITLE = "HolySheep"
    COMMANDS = App.COMMANDS | {ModelCommands}
    BINDINGS = [Binding(keys, action, desc, show=False) for keys, action, desc in KEYS]

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

        Given a ``FirstFrame`` (a start-up cache hit), the first frame is drawn from it and ``open_later``
        opens the session (and says why there is no key) right after that frame."""
        super().__init__()
        if isinstance(session, FirstFrame):
            if open_later is None:
                raise TypeError("a FirstFrame needs open_later")
            self._session: Session | None = None
            self.pending_session: Once[tuple[Session, HolySheepError | None]] | None = Once(open_later)
            frame = session
        else:
            self._session, self.pending_session, frame = session, None, FirstFrame.of(session)
        self.first_frame = frame
        self.startup_error: BaseException | None = None
        """Why the session opened after the first frame failed after all (the app then exits)."""
        self.prices = prices if prices is not None else frame.price_book()
        self.money = frame.currency_view()
        self._store, self._metrics, self._history_opener = store, metrics, history
        self._history_worker: Worker[tuple[HistoryStore | None, str | None]] | None = None
        """Opening the history; None once its result is taken."""
        self._controller: ConversationController | None = None
        self._warm_steps: Iterator[Callable[[], object]] | None = _warm_up_steps()
        self._controller_lock = threading.Lock()  # made by the first user: the UI thread or the model-list load
        self._started = False
        self.model = frame.model
        self.conversation = Conversation(frame.profile_name, self.model)
        self.live = LiveState(clock=clock, model=self.model)
        self.budget = BudgetWatch(frame.profile_name, frame, metrics)
        self.recent: list[str] = []
        self.favourites = list(frame.favourite_models)
        self.model_windows: dict[str, int] = {}
        self.relay_models: list[str] = []
        self._cursor_blink = cursor_blink
        self._save_theme = save_theme
        self.first_run = first_run
        """Why there is no key: the app opens on the first-run screen."""
        self._turn: _Running | None = None
        self._worker: Worker[Turn] | None = None
        self.sub_title = frame.sub_title

    # ---- layout --------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Horizontal(id="main"):
            with Container(id="sidebar"):
                yield HistorySidebar(self.money)
            yield ConversationView(id="conversation")
        prompt = PromptInput(id="prompt")
        prompt.cursor_blink = self._cursor_blink
        yield prompt
        frame = self.first_frame
        endpoint = "demo" if frame.demo else frame.profile_name
        yield StatusBar(self.live, self.money, endpoint=endpoint, demo=frame.demo, budget=self.budget, id="status")

    def on_mount(self) -> None:
        theme = self.first_frame.theme
        if theme in self.available_themes:
            self.theme = theme
        # After the theme set above is published: that one is no change to remember.
        self.call_next(self.theme_changed_signal.subscribe, self, self._remember_theme)
        self.query_one(PromptInput).focus()
        self._exit_signals = install_exit_signals(self)
        if self._history_opener is None:
            self.start_history()
        if self.first_run is not None:
            from holysheep_tui.tui.screens.first_run import open_first_run

            open_first_run(self, self.first_run)
        self.call_after_refresh(self._after_first_frame)

    def _after_first_frame(self) -> None:
        """What the first frame does not wait for: the HTTP client, the model list, the history."""
        if self._started:
            return
        self._started = True
        if not gc.isenabled():  # the command line turned collections off for the start-up
            gc.freeze()  # what start-up made stays: not one long collection of all of it at the first key
            gc.enable()
        if self.pending_session is not None:
            load_session_later(self)  # then the models, or the first-run screen
        elif self.first_run is None:
            self._load_models()
        if self._history_opener is not None:
            self._history_worker = self._open_history(self._history_opener)
        self._warm_renderer()

    def _warm_renderer(self) -> None:
        """Load the answer widget's modules and code highlighting's lexers while the app waits for the first
        prompt, one piece at a time (none takes more than a few tens of milliseconds) with a pause between,
        so keys typed meanwhile are drawn in between; no thread competes with the UI for the interpreter.
        A prompt sent before the end finishes the rest first (``_finish_warm_up``). Then everything loaded
        so far leaves the garbage collector's view (its full collections would otherwise stall the screen)."""
        if self._warm_steps is None:
            return
        step = next(self._warm_steps, None)
        if step is None:
            self._warmed()
            return
        step()
        self.set_timer(WARM_UP_GAP, self._warm_renderer)  # a frame or two for keys

    def _finish_warm_up(self) -> None:
        """Before the first request: what the first answer would otherwise load while it streams."""
        if self._warm_steps is not None:
            for step in self._warm_steps:
                step()
            self._warmed()

    def _warmed(self) -> None:
        self._warm_steps = None
        if not self.is_headless:  # tests run many apps in one process: their garbage must stay collectable
            gc.freeze()

    @property
    def session(self) -> Session:
        """Opened before the app, or right after its first frame; a use before then waits for it."""
        if self._session is None:
            pending = self.pending_session
            if pending is not None:
                try:
                    result: tuple[Session, HolySheepError | None] | BaseException = pending.result()
                except Exception as exc:
                    result = exc
                adopt_session(self, result)
            if self._session is None:
                raise self.startup_error or HolySheepError("The session is not open.")
        return self._session

    @session.setter
    def session(self, session: Session) -> None:
        self._session = session

    @property
    def open_session(self) -> Session | None:
        """The session if it is open (never waits for it)."""
        return self._session

    @property
    def controller(self) -> ConversationController:
        """Made on first use, after the first frame (usually in a thread, by the model-list load: its HTTP
        client takes a while to import and create)."""
        with self._controller_lock:
            if self._controller is None:
                self._controller = ConversationController(
                    self.session.client(), profile_name=self.session.profile_name, store=self._store,
                    metrics=self._metrics, prices=self.prices,
                    on_warning=lambda text: self.notify(text, severity="warning"),
                )  # fmt: skip
            return self._controller

    @controller.setter
    def controller(self, controller: ConversationController) -> None:
        self._controller = controller

    # ---- the history, opened in a thread (a large database's integrity check takes a while) ---
    @work(thread=True, group="history-open", exit_on_error=False)
    def _open_history(self, opener: HistoryOpener) -> tuple[HistoryStore | None, str | None]:
        return opener()

    def _take_history(self) -> None:
        """The opening finished: the controller stores from now on; start-up notices are shown."""
        worker, self._history_worker = self._history_worker, None
        if worker is None or worker.state != WorkerState.SUCCESS or worker.result is None:
            return
        store, warning = worker.result
        with self._controller_lock:
            self._store = store
            if self._controller is not None:
                self._controller.store = store
        if not self._exit:
            self.start_history()
            self.history_turn_finished()  # the sidebar, if already shown, lists what is stored
            if warning:
                self.notify(f"History is off: {warning}", severity="warning")

    def close_history(self) -> None:
        """After the app has ended: close the store (one whose opening finished meanwhile too)."""
        self._take_history()
        if self._store is not None:
            self._store.close()

    @property
    def view(self) -> ConversationView:
        return self.query_one(ConversationView)

    def _redraw_status(self) -> None:
        self.query_one(StatusBar).redraw()

    # ---- a turn --------------------------------------------------------------------------
    @on(PromptSubmitted)
    async def _prompt_submitted(self, message: PromptSubmitted) -> None:
        await self.send_prompt(message.text)

    async def send_prompt(self, text: str, *, over_budget_ok: bool = False) -> None:
        if self._turn is not None:
            self.notify("An answer is still streaming; Esc stops it.", severity="warning")
            return
        if self.budget.over and not over_budget_ok:
            ask_before_sending(self, self.budget, text, lambda: self.send_prompt(text, over_budget_ok=True))
            return
        self._after_first_frame()  # a prompt sent before the first frame was drawn
        self._finish_warm_up()
        if self._history_worker is not None:  # wait until the history is open, so this turn is stored
            with contextlib.suppress(WorkerFailed, WorkerCancelled):
                await self._history_worker.wait()
            self._take_history()
        prompt = self.query_one(PromptInput)
        prompt.remember(text)
        prompt.clear()
        model = self.model
        answer = await self.view.add_turn(text, model)
        self._turn = _Running(self.conversation, len(self.conversation.turns), text, model, answer)
        self.live.start(model, self.prices.lookup(model))
        self.recent = [model, *[m for m in self.recent if m != model]][:5]
        self._redraw_status()
        self._worker = self._run_turn(self.conversation, text, model, answer)

    @work(exclusive=True, group="turn", exit_on_error=False)
    async def _run_turn(
        self, conversation: Conversation, prompt: str, model: str, answer: AnswerView
    ) -> Turn:
        def on_events(events: Sequence[StreamEvent]) -> None:
            self.post_message(TurnEvents(events, answer))

        turn = await self.controller.run_turn(conversation, prompt, model=model, on_events=on_events)
        self.post_message(TurnFinished(turn))
        return turn

    @on(TurnEvents)
    def _turn_events(self, message: TurnEvents) -> None:
        if message.answer.is_attached:
            message.answer.apply_all(message.events)
        if self._turn is not None and self._turn.answer is message.answer:
            apply = self.live.apply
            for event in message.events:
                apply(event)

    @on(TurnFinished)
    def _turn_finished(self, message: TurnFinished) -> None:
        if self._turn is not None and message.turn in self._turn.conversation.turns:
            self._finish(message.turn)

    def _finish(self, turn: Turn) -> None:
        running, self._turn = self._turn, None
        phase = {"complete": "idle", "stopped": "stopped"}.get(turn.status, "error")
        self.live.finish(phase, turn.cost)  # type: ignore[arg-type]
        self.query_one(StatusBar).add_spend(turn.cost)
        if running is not None and running.answer.is_attached:
            live = self.live
            running.answer.finish(turn, self.money, live.ttft(), live.elapsed(), live.tokens_per_second())
        self._redraw_status()
        self.history_turn_finished()

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        """The one place worker endings and failures arrive; nothing escapes as a traceback."""
        worker, state = event.worker, event.state
        if worker is self._history_worker and worker.is_finished:
            self._take_history()
        if state == WorkerState.ERROR:
            error = worker.error
            text = (
                error.user_text() if isinstance(error, HolySheepError) else f"{type(error).__name__}: {error}"
            )
            self.notify(text, title="Internal error" if worker.group == "turn" else "Error", severity="error")
        if worker.group != "turn" or worker is not self._worker or self._turn is None:
            return
        running = self._turn
        if state == WorkerState.CANCELLED:
            turns = running.conversation.turns
            turn = (
                turns[-1]
                if len(turns) > running.turns_before
                else Turn(running.prompt, running.model, Answer(running.model), status="stopped")
            )
            turn.status = "stopped"
            self._finish(turn)
        elif state == WorkerState.ERROR:
            failed = Turn(running.prompt, running.model, Answer(running.model), status="error")
            failed.error = HolySheepError(f"Internal error: {worker.error}", hint="Please report it.")
            self._finish(failed)

    # ---- actions -------------------------------------------------------------------------
    def action_stop(self) -> None:
        if self._turn is not None and self._worker is not None:
            self._worker.cancel()

    async def action_new_conversation(self) -> None:
        self.action_stop()
        self._turn = None
        self.conversation = Conversation(self.session.profile_name, self.model)
        self.live.reset_totals()
        await self.view.clear()
        self._redraw_status()
        self.query_one(PromptInput).focus()

    async def _take_last_turn(self) -> Turn | None:
        if self._turn is not None:
            self.notify("Wait for the answer or stop it with Esc first.", severity="warning")
            return None
        if not self.conversation.turns:
            self.notify("There is no earlier prompt in this conversation.")
            return None
        turn = self.controller.drop_last_turn(self.conversation)
        await self.view.drop_last_turn()
        return turn

    async def action_regenerate(self) -> None:
        turn = await self._take_last_turn()
        if turn is not None:
            await self.send_prompt(turn.prompt)

    async def action_edit_last(self) -> None:
        turn = await self._take_last_turn()
        if turn is not None:
            prompt = self.query_one(PromptInput)
            prompt.set_prompt(turn.prompt)
            prompt.focus()

    def _last_answer(self) -> str:
        turns = self.conversation.turns
        return turns[-1].answer.content if turns else ""

    def action_copy_answer(self) -> None:
        text = self._last_answer()
        if not text:
            self.notify("No answer to copy yet.")
            return
        self.copy_to_clipboard(text)
        self.notify(f"Copied the last answer ({len(text)} characters).")

    def action_copy_code(self) -> None:
        from holysheep_tui.tui.screens.dialogs import ChoiceScreen
        from holysheep_tui.tui.widgets.answer import code_blocks

        blocks = code_blocks(self._last_answer())
        if not blocks:
            self.notify("The last answer has no code block.")
            return

        def copy(index: int | None) -> None:
            if index is not None:
                self.copy_to_clipboard(blocks[index][1])
                self.notify(f"Copied code block {index + 1} ({blocks[index][0] or 'text'}).")

        if len(blocks) == 1:
            copy(0)
            return
        labels = [
            f"{i + 1}. [{lang or 'text'}] {code.splitlines()[0] if code else ''}"[:70]
            for i, (lang, code) in enumerate(blocks)
        ]
        self.push_screen(ChoiceScreen("Copy which code block?", labels), copy)

    def action_toggle_reasoning(self) -> None:
        shown = self.view.toggle_reasoning()
        self.notify("Reasoning shown for every answer." if shown else "Reasoning folded.", timeout=2)

    def action_system_prompt(self) -> None:
        from holysheep_tui.tui.screens.dialogs import SystemPromptScreen

        async def done(text: str | None) -> None:
            if text is None:
                return
            self.controller.set_system_prompt(self.conversation, text)
            await self.view.add_marker(f"System prompt: {text}" if text else "System prompt removed")

        self.push_screen(SystemPromptScreen(self.conversation.system_prompt or ""), done)

    def action_stats(self) -> None:
        from holysheep_tui.tui.screens.stats import StatsScreen

        self.push_screen(StatsScreen(self.controller.metrics or MetricsLog(), self.money))

    def action_help(self) -> None:
        from holysheep_tui.tui.screens.dialogs import HelpScreen

        keys = [(_key_label(k), d) for k, _, d in KEYS] + PROMPT_KEYS
        self.push_screen(HelpScreen(keys))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for keys, action, desc in KEYS:
            if action != "change_theme":
                yield SystemCommand(desc, f"Key: {_key_label(keys)}", lambda a=action: self.run_action(a))

    # ---- models --------------------------------------------------------------------------
    @work(group="models", exit_on_error=False)
    async def _load_models(self) -> None:
        try:
            controller = await asyncio.to_thread(lambda: self.controller)  # keys stay answered meanwhile
            models = await controller.client.list_models()
        except RelayError as exc:
            self.post_message(ModelsLoaded([], {}, error=exc.message))
            return
        windows = {m.id: m.context_window for m in models if m.context_window}
        self.post_message(ModelsLoaded([m.id for m in models], windows))

    @on(ModelsLoaded)
    def _models_loaded(self, message: ModelsLoaded) -> None:
        self.relay_models, self.model_windows = message.ids, message.windows
        if message.error:
            self.notify(f"Could not list the relay's models: {message.error}", severity="warning")

    def model_ids(self) -> list[str]:
        return [row.id for row in self._rows()]

    def _rows(self) -> list[ModelRow]:
        from holysheep_tui.tui.screens.model_picker import build_rows

        ids = self.relay_models or [self.model]
        return build_rows(
            ids, self.prices, windows=self.model_windows, favourites=self.favourites, recent=self.recent
        )

    def action_pick_model(self) -> None:
        from holysheep_tui.tui.screens.model_picker import ModelPicker

        self.push_screen(ModelPicker(self._rows(), self.model), self.choose_model)

    async def choose_model(self, model: str | None) -> None:
        """Switch the model for the next message; the whole conversation goes to it."""
        if not model or model == self.model:
            return
        old, self.model = self.model, model
        self.conversation.model = model
        self.live.model = model
        self._redraw_status()
        if self.conversation.turns:
            await self.view.add_marker(
                f"Model changed: {old} → {model} (the whole conversation goes to {model})"
            )
        price = self.prices.lookup(model)
        window = self.model_windows.get(model) or (price.context_window if price else None)
        size = sum(estimate_tokens(m.content) for m in self.conversation.messages_for(""))
        if window is not None and size > window:
            text = f"⚠ This conversation (~{size:,} tokens) is larger than {model}'s context window ({window:,}). Start a new conversation (Ctrl+N) or pick a larger model."
            await self.view.add_marker(text, warning=True)
            self.notify(text, severity="warning")

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
            self.notify(exc.user_text(), title="Theme not saved", severity="warning")

    async def on_unmount(self) -> None:
        remove_exit_signals(getattr(self, "_exit_signals", []))
        if self._controller is not None:
            await self._controller.client.aclose()


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
        metrics = None if demo else MetricsLog()  # the demo is still recorded in the history
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
