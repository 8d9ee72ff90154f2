"""Stored conversations back into live ones: turns for the controller, pages for the screen.

Core module: no Textual. The app opens a stored conversation by reading it once, rebuilding the
controller's ``Conversation`` (so the next request carries every earlier message and is appended to
the same stored id) and showing it a page of turns at a time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from holysheep_tui.chat.compaction import apply_summary
from holysheep_tui.chat.conversation import Conversation, Turn
from holysheep_tui.economics.prices import Cost
from holysheep_tui.errors import StorageError
from holysheep_tui.i18n import _, ngettext
from holysheep_tui.relay.wire import Answer, Usage
from holysheep_tui.store import Conversation as StoredConversation
from holysheep_tui.store import HistoryStore, Message
from holysheep_tui.textsafety import strip_control
from holysheep_tui.transcripts.export import exporter

PAGE_TURNS = 20
"""Turns shown when a conversation opens, and added per page as the user scrolls."""

_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')
_MAX_NAME_BYTES = 120


@dataclass(frozen=True, slots=True)
class StoredTurn:
    """A prompt and the answer that followed it; either may be missing (a system note has neither)."""

    prompt: Message | None
    answer: Message | None
    note: Message | None = None

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(m.id for m in (self.note, self.prompt, self.answer) if m is not None)


def pair_messages(messages: Sequence[Message]) -> list[StoredTurn]:
    """Group messages into turns: each user message with the assistant message after it."""
    turns: list[StoredTurn] = []
    prompt: Message | None = None
    for m in messages:
        if m.role == "user":
            if prompt is not None:
                turns.append(StoredTurn(prompt, None))
            prompt = m
        elif m.role == "assistant":
            turns.append(StoredTurn(prompt, m))
            prompt = None
        else:
            if prompt is not None:
                turns.append(StoredTurn(prompt, None))
                prompt = None
            turns.append(StoredTurn(None, None, note=m))
    if prompt is not None:
        turns.append(StoredTurn(prompt, None))
    return turns


def places(stored: StoredConversation) -> dict[int, tuple[int, int]]:
    """For each message that has alternatives (siblings: same parent, same role): its place, 1-based,
    and how many there are. Messages without alternatives are left out."""
    groups: dict[tuple[int | None, str], list[int]] = {}
    for m in stored.tree:
        groups.setdefault((m.parent_id, m.role), []).append(m.id)
    out: dict[int, tuple[int, int]] = {}
    for ids in groups.values():
        if len(ids) > 1:
            for n, msg_id in enumerate(ids, 1):
                out[msg_id] = (n, len(ids))
    return out


def live_turn(stored: StoredTurn, default_model: str) -> Turn | None:
    """The controller's Turn for a stored one (None for a system note)."""
    if stored.prompt is None and stored.answer is None:
        return None
    msg = stored.answer
    model = (msg.model if msg else None) or (stored.prompt.model if stored.prompt else None) or default_model
    answer = Answer(model=model)
    turn = Turn(stored.prompt.content if stored.prompt else "", model, answer, status="interrupted")
    if msg is not None:
        if msg.content:
            answer.content_parts.append(msg.content)
        if msg.reasoning:
            answer.reasoning_parts.append(msg.reasoning)
        if msg.prompt_tokens is not None or msg.completion_tokens is not None:
            answer.usage = Usage(
                prompt_tokens=msg.prompt_tokens or 0,
                completion_tokens=msg.completion_tokens or 0,
                total_tokens=(msg.prompt_tokens or 0) + (msg.completion_tokens or 0),
                cached_tokens=msg.cached_tokens or 0,
            )
        turn.status = "interrupted" if msg.status == "streaming" else msg.status
        turn.answer_id = msg.id
        turn.copied = msg.copied_from is not None  # a fork's copy: paid in the original
        if msg.cost_usd is not None:
            turn.cost = Cost(msg.cost_usd, estimated=msg.cost_estimated)
    if stored.prompt is not None:
        turn.prompt_id = stored.prompt.id
    return turn


def rebuild_conversation(stored: StoredConversation, model: str) -> Conversation:
    """The controller's Conversation holding the active path's turns, bound to the stored id; it goes on
    with the model of the path's last answer (``model`` when there is none)."""
    model = next((m.model for m in reversed(stored.messages) if m.role == "assistant" and m.model), model)
    system = stored.system_prompt
    if system is None:
        system = next(
            (m.content for m in stored.messages if m.role == "system" and m.kind != "summary"), None
        )
    conv = Conversation(stored.profile, model, system_prompt=system, id=stored.id)
    conv.temperature, conv.max_tokens = stored.temperature, stored.max_tokens
    for pair in pair_messages(stored.messages):
        turn = live_turn(pair, model)
        if turn is not None:
            if turn.prompt_id is not None:
                turn.attachments = stored.attachments.get(turn.prompt_id, ())
            conv.turns.append(turn)
    apply_summary(conv, stored)
    return conv


def estimate_lines(turn: StoredTurn, width: int) -> int:
    """Roughly how many lines ``turn`` takes at ``width`` cells (wide characters count twice)."""
    width = max(width, 10)
    lines = 2  # the gaps above the prompt and the answer
    for message, extra in ((turn.note, 0), (turn.prompt, 0), (turn.answer, 2)):  # answer: model, figures
        if message is None:
            continue
        lines += extra
        for line in message.content.splitlines() or [""]:
            cells = len(line) + sum(1 for c in line if ord(c) > 0x2E7F) if not line.isascii() else len(line)
            lines += max(1, -(-cells // width))
    return lines


class TurnPager:
    """Which slice of a conversation's turns is on screen; pages grow it at either end.

    The screen may also forget pages at either end (``forget_older`` / ``forget_newer``) to keep
    only the part near what is shown. A page is ``page`` turns, or fewer when ``lines`` is given:
    as many turns as fill about that many lines at ``width``.
    """

    def __init__(self, stored: StoredConversation, page: int = PAGE_TURNS) -> None:
        self.conversation = stored
        self.turns = pair_messages(stored.messages)
        self.places = places(stored)
        """Where each shown message with alternatives stands among them (``‹2/3›``)."""
        self.page = page
        self.start = self.end = len(self.turns)

    @property
    def has_older(self) -> bool:
        return self.start > 0

    @property
    def has_newer(self) -> bool:
        return self.end < len(self.turns)

    def _count(self, indices: range, lines: int, width: int) -> int:
        """How many of the turns at ``indices`` (walked in order) make one page."""
        if lines <= 0:
            return min(self.page, len(indices))
        count = total = 0
        for index in indices:
            if count >= self.page or (count and total >= lines):
                break
            total += estimate_lines(self.turns[index], width)
            count += 1
        return count

    def latest(self, lines: int = 0, width: int = 80) -> list[StoredTurn]:
        """The last page; what opens first."""
        self.end = len(self.turns)
        self.start = self.end - self._count(range(self.end - 1, -1, -1), lines, width)
        return self.turns[self.start : self.end]

    def first(self, lines: int = 0, width: int = 80) -> list[StoredTurn]:
        """The first page (the top of the conversation)."""
        self.start = 0
        self.end = self._count(range(len(self.turns)), lines, width)
        return self.turns[self.start : self.end]

    def around(self, message_id: int) -> list[StoredTurn]:
        """A page holding ``message_id``: from a few turns before it to a page after (or the end)."""
        index = next((i for i, t in enumerate(self.turns) if message_id in t.ids), None)
        if index is None or index >= len(self.turns) - self.page:
            return self.latest()
        self.start = max(0, index - 3)
        self.end = min(len(self.turns), self.start + self.page)
        return self.turns[self.start : self.end]

    def older(self, lines: int = 0, width: int = 80) -> list[StoredTurn]:
        first = self.start - self._count(range(self.start - 1, -1, -1), lines, width)
        page, self.start = self.turns[first : self.start], first
        return page

    def newer(self, lines: int = 0, width: int = 80) -> list[StoredTurn]:
        last = self.end + self._count(range(self.end, len(self.turns)), lines, width)
        page, self.end = self.turns[self.end : last], last
        return page

    def forget_older(self, count: int) -> None:
        """The first ``count`` turns on screen were taken off it."""
        self.start = min(self.end, self.start + count)

    def forget_newer(self, count: int) -> None:
        """The last ``count`` turns on screen were taken off it."""
        self.end = max(self.start, self.end - count)

    def drop_last(self) -> StoredTurn | None:
        """Forget the conversation's last exchange (regenerate and edit replace it)."""
        for index in range(len(self.turns) - 1, -1, -1):
            if self.turns[index].note is None:
                dropped = self.turns.pop(index)
                self.end = min(self.end, len(self.turns))
                self.start = min(self.start, self.end)
                return dropped
        return None


@dataclass
class OpenedConversation:
    """A stored conversation ready for the screen and the controller."""

    conversation: Conversation
    pager: TurnPager


def open_stored(store: HistoryStore, conv_id: str, model: str, page: int = PAGE_TURNS) -> OpenedConversation:
    """Read a conversation once (raises StorageError / ConversationNotFoundError)."""
    stored = store.get_conversation(conv_id)
    return OpenedConversation(rebuild_conversation(stored, model), TurnPager(stored, page))


def startup_notices(store: HistoryStore) -> list[tuple[str, str]]:
    """(severity, text) to show at start: a corrupt database moved aside, answers found interrupted."""
    notices: list[tuple[str, str]] = []
    if store.recovered_from is not None:
        notices.append(
            (
                "warning",
                _(
                    "The history database was damaged and has been moved aside to {path}. A fresh one was "
                    "created."
                ).format(path=store.recovered_from),
            )
        )
    try:
        count = store.recover_interrupted()
    except StorageError as exc:
        notices.append(("warning", _("History: {error}").format(error=exc.message)))
    else:
        if count:
            cut = ngettext(
                "{count} answer was cut off when holysheep last closed; they are kept and marked interrupted.",
                "{count} answers were cut off when holysheep last closed; they are kept and marked interrupted.",
                count,
            )
            notices.append(("information", cut.format(count=count)))
    return notices


# ---- export file names -------------------------------------------------------------------------------


def safe_filename(title: str, fmt: str) -> str:
    """A file name from a title and the format's extension: no separators or control characters,
    bounded length, Chinese kept."""
    text = unicodedata.normalize("NFC", strip_control(title))
    stem = _UNSAFE.sub("-", text).strip("-.") or "conversation"
    while len(stem.encode("utf-8")) > _MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem.rstrip("-.") + exporter(fmt).extension


def default_export_dir(cwd: Path | None = None) -> Path:
    """The current directory when it is writable, else the home directory."""
    import os

    here = cwd or Path.cwd()
    return here if os.access(here, os.W_OK) else Path.home()


def export_path(directory: Path, title: str, fmt: str) -> Path:
    return directory / safe_filename(title, fmt)
