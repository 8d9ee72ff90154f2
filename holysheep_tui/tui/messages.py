"""Messages between the turn worker, the widgets and the app: small, typed, dataclass-like."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from textual.message import Message

if TYPE_CHECKING:
    from collections.abc import Sequence

    from holysheep_tui.chat.conversation import Turn
    from holysheep_tui.chat.session import Session
    from holysheep_tui.errors import HolySheepError
    from holysheep_tui.relay.wire import StreamEvent
    from holysheep_tui.tui.widgets.answer import AnswerView
    from holysheep_tui.tui.widgets.compare import CompareView


@dataclass
class TurnEvents(Message, bubble=False):
    """The typed stream events of one network read of a turn (every token takes this path), posted to
    the app, which hands them to ``answer`` (the widget drawing that turn) and to the status bar's state.

    One message per read, not per event, and straight to the app: a message costs a dispatch on every
    widget it passes through.
    """

    events: Sequence[StreamEvent]
    answer: AnswerView


@dataclass
class TurnFinished(Message):
    """The turn ended: complete, stopped or error (the Turn says which)."""

    turn: Turn


@dataclass
class LegFinished(Message):
    """One leg of a comparison ended (complete, failed or stopped) and is stored."""

    index: int
    turn: Turn
    view: CompareView


@dataclass
class ComparisonFinished(Message):
    """Every leg of a comparison ended; ``legs`` in the order of its models."""

    legs: list[Turn]
    view: CompareView


@dataclass
class PromptSubmitted(Message):
    """The user pressed Enter in the prompt."""

    text: str


@dataclass
class ModelsLoaded(Message):
    """The relay's model list arrived (or failed: ``error`` is set)."""

    ids: list[str]
    windows: dict[str, int]
    error: str | None = None


@dataclass
class OpenConversation(Message):
    """Show a stored conversation and continue it; ``message_id`` scrolls that message into view."""

    conv_id: str
    message_id: int | None = None


@dataclass
class ExportConversation(Message):
    """Export a stored conversation (the app asks for the format and the path)."""

    conv_id: str


@dataclass
class ConversationDeleted(Message):
    """A stored conversation was deleted from the sidebar."""

    conv_id: str


@dataclass
class SessionReady(Message):
    """A session to switch to: the full load after the first frame, a key entered on the first-run
    screen, or the demo. ``problem``: there is no key, and why (the first-run screen asks for one)."""

    session: Session
    problem: HolySheepError | None = None


@dataclass
class SessionFailed(Message):
    """The session opened after the first frame failed after all (a config edited meanwhile): the app ends."""

    error: BaseException


BranchAction = Literal["alternative", "edit", "regenerate", "reask", "fork", "leave"]


@dataclass
class BranchRequest(Message):
    """A key in the conversation asked for a branch operation on a message (its stored id, or None when
    the message is not stored yet): switch to an alternative (``delta`` -1 or +1), edit its prompt,
    regenerate it, re-ask it with another model, or fork a new conversation from it; or go back to the
    prompt ("leave"), with ``text`` typed meanwhile."""

    action: BranchAction
    message_id: int | None
    role: str
    delta: int = 0
    text: str = ""
