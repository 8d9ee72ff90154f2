"""How the app starts and ends: its session (before or right after the first frame), the history's
recovery on start, a clean stop on SIGTERM and SIGHUP.

A streaming answer is flushed to the history every half second. SIGKILL leaves it 'streaming'; the next
start marks it 'interrupted'. SIGTERM (``kill``) and SIGHUP (the terminal closed) cancel the running turn
first, so the controller stores the partial answer as 'stopped', then the app exits with 128 + signal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import events
from textual.app import App

from holysheep_tui import locations
from holysheep_tui.errors import HolySheepError, KeyMissingError, KeyringError, StorageError
from holysheep_tui.startup import FirstFrame, cache_key, launch_flags, remember_first_frame

if TYPE_CHECKING:
    from holysheep_tui.chat.session import Session
    from holysheep_tui.store import HistoryStore

EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
TURN_GROUP = "turn"
STOP_GRACE = 5.0
"""Seconds the stopped turn gets to store its partial answer before the app exits anyway."""
EXIT_GRACE = 3.0
"""Seconds a clean shutdown may take after that. With the terminal gone (SIGHUP), Textual's output thread
dies on EIO and its shutdown can block on a full write queue, so the process then ends by ``os._exit``."""


def open_history() -> tuple[HistoryStore | None, str | None]:
    """The user's history store with answers left by dead processes marked interrupted; or a warning."""
    try:
        from holysheep_tui.store import HistoryStore

        store = HistoryStore.open()
    except StorageError as exc:
        return None, exc.user_text()
    try:
        store.recover_interrupted()
    except StorageError as exc:
        return store, exc.user_text()
    return store, None


def install_exit_signals(app: App[Any]) -> list[signal.Signals]:
    """Handle SIGTERM and SIGHUP on the app's loop; returns the signals handled (none off the main thread)."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in EXIT_SIGNALS:
        try:
            loop.add_signal_handler(sig, _on_signal, app, sig)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
            continue
        installed.append(sig)
    return installed


def remove_exit_signals(installed: list[signal.Signals]) -> None:
    with contextlib.suppress(RuntimeError):
        loop = asyncio.get_running_loop()
        for sig in installed:
            loop.remove_signal_handler(sig)


def _on_signal(app: App[Any], sig: signal.Signals) -> None:
    tasks: set[asyncio.Task[None]] = getattr(app, "_exit_signal_tasks", set())
    app._exit_signal_tasks = tasks  # type: ignore[attr-defined]  # keep a reference until it ends
    task = asyncio.get_running_loop().create_task(stop_and_exit(app, 128 + int(sig)))
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def stop_and_exit(app: App[Any], return_code: int) -> None:
    """Cancel the running turn, wait (bounded) until it has stored what arrived, then exit."""
    workers = app.workers.cancel_group(app, TURN_GROUP)
    pending = [asyncio.ensure_future(w.wait()) for w in workers]
    if pending:
        done, still = await asyncio.wait(pending, timeout=STOP_GRACE)
        for future in (*done, *still):
            future.cancel()
            if future.done() and not future.cancelled():
                future.exception()  # a cancelled worker's wait() raises; nothing to report
    _exit_soon_regardless(return_code, EXIT_GRACE)  # the answer is stored; nothing else may hold us
    app.exit(return_code=return_code)


def _exit_soon_regardless(return_code: int, delay: float) -> None:
    timer = threading.Timer(delay, os._exit, args=(return_code,))
    timer.daemon = True  # a normal exit does not wait for it
    timer.start()


# ---- the session: opened before the screen, or (start-up cache hit) right after the first frame ------


def open_app_session(args: argparse.Namespace) -> tuple[Session, HolySheepError | None]:
    """The app's session and, without a key, why (the first-run screen asks for one).

    The config's bytes are read once: the start-up cache's key is over the very bytes validated."""
    from holysheep_tui.chat.session import open_session
    from holysheep_tui.config import config_from_bytes, read_config_bytes

    path = locations.config_file()
    raw = read_config_bytes(path)
    key = cache_key(launch_flags(args), path, raw, os.environ)
    config = config_from_bytes(raw, path)
    problem: HolySheepError | None = None
    try:
        session = open_session(
            profile=args.profile, base_url=args.base_url, model=args.model, demo=args.demo,
            config=config, lazy_demo=True,
        )  # fmt: skip
    except (KeyMissingError, KeyringError) as exc:
        from holysheep_tui.tui.screens.first_run import keyless_session

        session, problem = keyless_session(args, exc, config=config), exc
    remember_first_frame(key, FirstFrame.of(session))
    return session, problem


# ---- keys typed before the prompt has the focus ------------------------------------------------------


class EarlyKeys:
    """Keys (and pastes) that arrive before the prompt has the focus, kept in order and replayed once it
    has (or once another screen, such as the first-run screen, is up): the terminal delivers what was typed
    during start-up all at once, before the prompt is mounted, and Textual would hand those keys to the
    screen or to whichever widget its auto-focus picked first."""

    def __init__(self, ready: Callable[[], bool]) -> None:
        self._ready = ready
        self.held: list[events.Key | events.Paste] | None = []
        """None once replayed: from then on keys go their normal way."""

    def is_ready(self) -> bool:
        try:
            return self._ready()
        except Exception:  # no screen yet (NoScreen, or the mode not initialised)
            return False

    def hold(self, event: events.Event) -> bool:
        """True if ``event`` was kept for later (the prompt has not got the focus yet)."""
        if self.held is None or not isinstance(event, (events.Key, events.Paste)) or event.is_forwarded:
            return False
        if self.is_ready():
            return False
        self.held.append(event)
        return True

    def take(self) -> list[events.Key | events.Paste]:
        """What to replay now (in order, before any later key); empty until the prompt has the focus."""
        if self.held is None or not self.is_ready():
            return []
        held, self.held = self.held, None
        return held
