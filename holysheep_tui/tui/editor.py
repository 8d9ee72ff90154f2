"""Compose the prompt in the user's editor (Ctrl+G): ``$VISUAL``, else ``$EDITOR``, else nano or vi.

The prompt's text goes to a private temporary file (0600 in a 0700 directory, removed afterwards); the app
hands the terminal to the editor (``App.suspend``) and the edited text comes back into the prompt, unsent.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from textual.app import App, SuspendNotSupported
from textual.css.query import NoMatches

from holysheep_tui.errors import HolySheepError
from holysheep_tui.i18n import N_, _
from holysheep_tui.textsafety import one_line

FALLBACK_EDITORS = ("nano", "vi")


class EditorError(HolySheepError):
    """The editor could not be started or did not end well; the prompt is left as it was."""

    title = N_("Editor")


def editor_command(
    env: Mapping[str, str] | None = None, which: Callable[[str], str | None] = shutil.which
) -> list[str] | None:
    """The editor to run, split as a shell would (``code -w``); None when there is none."""
    env = os.environ if env is None else env
    for name in ("VISUAL", "EDITOR"):
        value = env.get(name, "").strip()
        if value:
            try:
                words = shlex.split(value)
            except ValueError as exc:
                raise EditorError(
                    _("${name} cannot be read as a command ({error}): {value}").format(
                        name=name, error=exc, value=one_line(value)
                    )
                ) from None
            if words:
                return words
    for fallback in FALLBACK_EDITORS:
        found = which(fallback)
        if found:
            return [found]
    return None


def edit_text(text: str, command: list[str]) -> str:
    """Run ``command`` on a private file holding ``text``; the file's text after the editor ends."""
    folder = Path(tempfile.mkdtemp(prefix="holysheep-prompt-"))  # 0700
    path = folder / "prompt.md"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        shown = one_line(shlex.join(command))
        try:
            with _interrupts_to_the_editor():
                done = subprocess.run([*command, str(path)], check=False)
        except OSError as exc:
            raise EditorError(
                _("Cannot start the editor {editor}: {error}").format(editor=shown, error=exc.strerror or exc)
            ) from None
        if done.returncode != 0:
            if done.returncode < 0 and -done.returncode in signal.valid_signals():
                failed = _("The editor {editor} was stopped by {signal}: the prompt is unchanged.")
                raise EditorError(failed.format(editor=shown, signal=signal.Signals(-done.returncode).name))
            failed = _("The editor {editor} exited with status {status}: the prompt is unchanged.")
            raise EditorError(failed.format(editor=shown, status=done.returncode))
        try:
            edited = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise EditorError(_("Cannot read back the edited prompt: {error}").format(error=exc)) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return edited.removesuffix("\n")  # editors end the file with a newline the prompt did not have


@contextlib.contextmanager
def _interrupts_to_the_editor() -> Iterator[None]:
    """Ctrl+C in the editor's terminal interrupts the editor, not the app waiting for it (as git does).

    A handler that does nothing, not SIG_IGN: an ignored signal would stay ignored in the editor."""
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    except ValueError:  # not the main thread: nothing to change
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def line_mode_terminal(fd: int = 0) -> Iterator[None]:
    """The terminal as a shell leaves it (echo, lines, Enter as a newline) while the editor runs.

    The app started with the terminal already quiet (``startup.hold_early_keys``), and Textual's suspend
    puts back what it found at start: without this an editor that reads lines would see no echo."""
    try:
        import termios
    except ImportError:  # not a POSIX terminal
        yield
        return
    try:
        before = termios.tcgetattr(fd)
        cooked = termios.tcgetattr(fd)
        cooked[0] |= termios.ICRNL
        cooked[3] |= termios.ICANON | termios.ECHO | termios.ISIG | termios.IEXTEN
        termios.tcsetattr(fd, termios.TCSANOW, cooked)
    except (OSError, termios.error):
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError, termios.error):
            termios.tcsetattr(fd, termios.TCSANOW, before)


class EditorApp(App[None]):
    """The app's part that hands the prompt to the editor."""

    def action_compose_in_editor(self) -> None:
        from holysheep_tui.tui.widgets.prompt import PromptInput

        try:
            prompt = self.screen.query_one(PromptInput)
        except NoMatches:  # a dialog is open: its own text is not the prompt
            return
        # Headless (Pilot) there is no terminal to hand over: the editor just runs.
        try:
            command = editor_command()
            if command is None:
                raise EditorError(
                    _("No editor found: set $VISUAL or $EDITOR (e.g. export EDITOR=nano) to compose in it.")
                )
            if self.is_headless:
                text = edit_text(prompt.text, command)
            else:
                failed: EditorError | None = None
                with self.suspend(), line_mode_terminal():
                    try:  # Textual's suspend() resumes only when its block ends without an exception
                        text = edit_text(prompt.text, command)
                    except EditorError as exc:
                        failed = exc
                if failed is not None:
                    raise failed
        except SuspendNotSupported:
            self.notify(
                _("This terminal cannot be handed to an editor."), title=_("Editor"), severity="warning"
            )
            return
        except EditorError as exc:
            self.notify(exc.user_text(), title=_("Editor"), severity="warning")
            return
        prompt.set_prompt(text)
        prompt.focus()
