"""An incremental Server-Sent Events decoder (WHATWG HTML, "event stream interpretation").

Bytes in, events out: feed it raw bytes split anywhere (inside a UTF-8 character, between CR and LF) and
it returns the events completed so far. It knows nothing of what the events carry; pure and synchronous.
One leniency: at the end of the body an event that lacks its blank line is dispatched, not discarded.
Bounded: a line still waiting for its end, or an event's data gathered over network reads, may hold at most
``MAX_LINE`` / ``MAX_EVENT`` characters; past that the decoder drops what it held and fails (``SSELimitError``).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import NamedTuple, overload

_LINE_END = re.compile(r"\r\n|\r|\n")

MAX_LINE = 8 * 1024 * 1024
"""The most one unterminated line may hold between network reads, in characters (see ``_PIECE_COST``)."""
MAX_EVENT = 8 * 1024 * 1024
"""The most data one unfinished event may gather between network reads, in characters (see ``_PIECE_COST``)."""
_PIECE_COST = 64  # what each held piece (a read's part of a line, a data line) counts besides its characters


class SSELimitError(ValueError):
    """A line or an event outgrew the decoder's bound; the text says which ("a line longer than 8 MiB")."""


class ServerSentEvent(NamedTuple):
    """One dispatched event; ``retry`` is the retry field given with it, if any."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Bytes in, events out. ``last_event_id`` and ``retry`` persist across events, as the spec says."""

    def __init__(self, *, max_line: int = MAX_LINE, max_event: int = MAX_EVENT) -> None:
        self._max_line = max_line
        self._max_event = max_event
        self._partial_size = 0  # characters in _partial
        self._data_size = 0  # characters in _data, as of the end of the last read
        self.error: SSELimitError | None = None
        """Set when a bound was crossed; every later feed or close raises it."""
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial: list[str] = []  # pieces of the line not yet terminated
        self._after_cr = False  # the previous text ended in CR: a leading LF is not a new line
        self._started = False  # a leading byte-order mark has been handled
        self._event = ""
        self._data: list[str] = []
        self._retry: int | None = None  # the retry field of the event being read
        self._id: str | None = None
        self._reconnect: int | None = None
        self._pending: EventText | None = None  # events handed on whose id and retry fields are not applied yet

    @property
    def buffered(self) -> int:
        """Characters held for the next read: an unterminated line and the data of an unfinished event."""
        return self._partial_size + self._data_size

    @property
    def last_event_id(self) -> str | None:
        self._settle()
        return self._id

    @property
    def retry(self) -> int | None:
        """The reconnection time the stream asked for, in milliseconds."""
        self._settle()
        return self._reconnect

    def feed(self, chunk: bytes) -> Sequence[ServerSentEvent]:
        """The events this chunk completes, in order: an EventText when they end the text decoded so far at a
        blank line, with nothing half read before them and no CR. When the chunk makes a line or an event too
        large, the events before it are returned and ``error`` is set."""
        if self.error is not None:
            raise self.error
        text = self._utf8.decode(chunk)
        events: Sequence[ServerSentEvent]
        if "\n\n" in text and self._started and not self._after_cr and "\r" not in text and self._idle():
            if self._partial:  # an unterminated line: no newline in it
                self._partial.append(text)
                text = "".join(self._partial)
                self._partial.clear()
                self._partial_size = 0
            end = text.rfind("\n\n") + 2
            events = self._pending = EventText(text[:end], self.last_event_id)
            lines = self._lines(text[end:])
            if lines:
                self._events(lines)  # no blank line among them: they start the next event
        else:
            lines = self._lines(text)
            events = self._events(lines) if lines else []
        if self._partial_size > self._max_line or self._data_size > self._max_event:
            self._overflow()
        return events

    def close(self) -> list[ServerSentEvent]:
        """End of stream: finish the last line and dispatch an event that lacked its blank line."""
        if self.error is not None:
            raise self.error
        lines = self._lines(self._utf8.decode(b"", final=True))
        if self._partial:
            lines.append("".join(self._partial))
            self._partial.clear()
            self._partial_size = 0
        lines.append("")  # the end dispatches like a blank line
        return self._events(lines)

    def _overflow(self) -> None:
        if self._partial_size > self._max_line:
            self.error = SSELimitError(f"a line longer than {_mib(self._max_line)}")
        else:
            self.error = SSELimitError(f"an event larger than {_mib(self._max_event)}")
        self._partial.clear()
        self._data.clear()
        self._partial_size = self._data_size = 0

    def _idle(self) -> bool:
        """No event is half read: no data, event type or retry field since the last blank line."""
        return not self._data and not self._event and self._retry is None

    def _settle(self) -> None:
        """Apply the id and retry fields of the events last handed on as text."""
        pending = self._pending
        if pending is not None:
            self._pending = None
            self._id, reconnect = pending.fields_after()
            if reconnect is not None:
                self._reconnect = reconnect

    def _lines(self, text: str) -> list[str]:
        """The lines this text completes; an unterminated rest is kept for the next call."""
        if not text:
            return []
        if not self._started:
            self._started = True
            if text[0] == "\ufeff":
                text = text[1:]
        if self._after_cr and text[:1] == "\n":
            text = text[1:]
        self._after_cr = False
        if not text:
            return []
        if "\r" in text:
            self._after_cr = text[-1] == "\r"
            lines = _LINE_END.split(text)
        else:
            lines = text.split("\n")
        rest = lines.pop()
        if lines and self._partial:
            self._partial.append(lines[0])
            lines[0] = "".join(self._partial)
            self._partial.clear()
            self._partial_size = 0
        if rest:
            self._partial.append(rest)
            self._partial_size += len(rest) + _PIECE_COST
        return lines

    def _events(self, lines: list[str]) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        data = self._data
        carried = len(data)  # data lines of an event begun in an earlier read
        for line in lines:
            if line.startswith("data: "):
                data.append(line[6:])
            elif not line:
                if data:  # no data line: nothing is dispatched, named or not
                    text = data[0] if len(data) == 1 else "\n".join(data)
                    data.clear()
                    event = self._event or "message"
                    events.append(ServerSentEvent(event, text, self.last_event_id, self._retry))
                carried = 0
                self._event = ""
                self._retry = None
            elif line[0] != ":":
                self._field(line)
        if not carried:
            self._data_size = 0
        if len(data) > carried:
            self._data_size += sum(map(len, data[carried:])) + _PIECE_COST * (len(data) - carried)
        return events

    def _field(self, line: str) -> None:
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._settle()
            self._id = value
        elif name == "retry" and value.isascii() and value.isdigit() and len(value) <= 4000:  # int() limit
            self._settle()
            self._retry = self._reconnect = int(value)
        # Any other field name is ignored.


class EventText(Sequence[ServerSentEvent]):
    """Whole events as the text that carried them (LF line ends), decoded when first looked at.

    The decoder hands on a read's events this way when it can, so that a consumer reading them in bulk
    (``data_matches``) needs no object per event. Otherwise it is a list of the events.
    """

    __slots__ = ("_after", "_events", "last_event_id", "text")

    def __init__(self, text: str, last_event_id: str | None) -> None:
        self.text = text  # ends in a blank line; no CR
        self.last_event_id = last_event_id  # before the first of these events
        self._events: list[ServerSentEvent] | None = None
        self._after: tuple[str | None, int | None] | None = None

    def data_matches(self, pattern: re.Pattern[str]) -> list[str] | None:
        """When every event is a ``message`` of one data line that ``pattern`` (one group, matching no line
        end) matches whole: the group of each, in order. Else None. One regex pass, no event objects."""
        parts = _framed(pattern).split(self.text)
        if any(parts[::2]):  # text between the matches: a line of another kind
            return None
        self._after = (self.last_event_id, None)  # no id or retry field among them
        return parts[1::2]

    def fields_after(self) -> tuple[str | None, int | None]:
        """The last event ID after these events, and the retry time they set (None: not set)."""
        if self._after is None:
            self._decoded()
        assert self._after is not None
        return self._after

    def _decoded(self) -> list[ServerSentEvent]:
        if self._events is None:
            decoder = SSEDecoder()
            decoder._started = True
            decoder._id = self.last_event_id
            self._events = decoder._events(self.text.split("\n")[:-1])
            self._after = (decoder._id, decoder._reconnect)
        return self._events

    def __len__(self) -> int:
        return len(self._decoded())

    @overload
    def __getitem__(self, index: int) -> ServerSentEvent: ...
    @overload
    def __getitem__(self, index: slice) -> list[ServerSentEvent]: ...
    def __getitem__(self, index: int | slice) -> ServerSentEvent | list[ServerSentEvent]:
        return self._decoded()[index]

    def __iter__(self) -> Iterator[ServerSentEvent]:
        return iter(self._decoded())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EventText):
            other = other._decoded()
        return isinstance(other, list) and self._decoded() == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"EventText({self._decoded()!r})"


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB"


@lru_cache(maxsize=64)
def _framed(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """``pattern`` as a whole event: a ``data: `` line and the blank line after it."""
    if pattern.groups != 1:
        raise ValueError("data_matches needs a pattern with exactly one group")
    return re.compile(f"data: (?:{pattern.pattern})\n\n", pattern.flags)
