"""An incremental Server-Sent Events decoder (WHATWG HTML, "event stream interpretation").

Feed it raw bytes split anywhere (inside a UTF-8 character, between CR and LF); it returns the events
completed so far. Pure and synchronous: the HTTP client owns the socket.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Bytes in, events out. ``last_event_id`` and ``retry`` persist across events, as the spec says."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial: list[str] = []  # pieces of the line not yet terminated
        self._after_cr = False  # the previous text ended in CR: a leading LF is not a new line
        self._started = False  # a leading byte-order mark has been handled
        self._event = ""
        self._data: list[str] = []
        self._retry: int | None = None
        self.last_event_id: str | None = None
        self.retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        return self._feed_text(self._utf8.decode(chunk))

    def close(self) -> list[ServerSentEvent]:
        """End of stream: finish the last line and dispatch an event that lacked its blank line."""
        events = self._feed_text(self._utf8.decode(b"", final=True))
        if self._partial:
            line = "".join(self._partial)
            self._partial.clear()
            self._line(line, events)
        self._dispatch(events)
        return events

    def _feed_text(self, text: str) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        if not text:
            return events
        if not self._started:
            self._started = True
            if text[0] == "\ufeff":
                text = text[1:]
        if self._after_cr and text[:1] == "\n":
            text = text[1:]
        if not text:
            return events
        self._after_cr = text[-1] == "\r"
        pieces = _LINE_END.split(text)
        if len(pieces) == 1:
            self._partial.append(text)
            return events
        first = pieces[0]
        if self._partial:
            self._partial.append(first)
            first = "".join(self._partial)
            self._partial.clear()
        self._line(first, events)
        for i in range(1, len(pieces) - 1):
            self._line(pieces[i], events)
        if pieces[-1]:
            self._partial.append(pieces[-1])
        return events

    def _line(self, line: str, events: list[ServerSentEvent]) -> None:
        if not line:
            self._dispatch(events)
            return
        if line[0] == ":":
            return
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self.last_event_id = value
        elif name == "retry" and value.isascii() and value.isdigit() and len(value) < 10:
            self._retry = self.retry = int(value)
        # Any other field name is ignored.

    def _dispatch(self, events: list[ServerSentEvent]) -> None:
        data = "\n".join(self._data)
        if data or self._event:
            events.append(ServerSentEvent(self._event or "message", data, self.last_event_id, self._retry))
        self._event = ""
        self._data.clear()
        self._retry = None
