"""An incremental Server-Sent Events decoder (WHATWG HTML, "event stream interpretation").

Feed it raw bytes split anywhere (inside a UTF-8 character, between CR and LF); it returns the events
completed so far. Pure and synchronous: the HTTP client owns the socket.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass

_LINE_END = re.compile(r"\r\n|\r|\n")

RawEvent = tuple[str, str, str | None, int | None]
"""An event as (event, data, id, retry): the fields of ServerSentEvent without the object."""


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
        return [ServerSentEvent(*raw) for raw in self.decode(chunk)]

    def decode(self, chunk: bytes, run: Callable[[str], bool] | None = None) -> list[RawEvent]:
        """What ``feed`` returns, as tuples: the per-token path of the client.

        ``run`` is offered the text of the whole events this read completes when nothing is pending and
        there is no CR; when it returns True it has taken those events, and they are not decoded here.
        """
        text = self._utf8.decode(chunk)
        if (
            run is not None
            and "\n\n" in text
            and self._started
            and not self._after_cr
            and not self._data
            and not self._event
            and self._retry is None
            and "\r" not in text
        ):
            if self._partial:  # an unterminated line: no newline in it
                self._partial.append(text)
                text = "".join(self._partial)
                self._partial.clear()
            end = text.rfind("\n\n") + 2
            if run(text[:end]):
                text = text[end:]  # complete lines here, if any, end no event
        lines = self._lines(text)
        return self._events(lines) if lines else []

    def close(self) -> list[ServerSentEvent]:
        """End of stream: finish the last line and dispatch an event that lacked its blank line."""
        lines = self._lines(self._utf8.decode(b"", final=True))
        if self._partial:
            lines.append("".join(self._partial))
            self._partial.clear()
        lines.append("")  # the end dispatches like a blank line
        return [ServerSentEvent(*raw) for raw in self._events(lines)]

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
        if rest:
            self._partial.append(rest)
        return lines

    def _events(self, lines: list[str]) -> list[RawEvent]:
        events: list[RawEvent] = []
        data = self._data
        for line in lines:
            if line.startswith("data: "):
                data.append(line[6:])
            elif not line:
                if data:
                    text = data[0] if len(data) == 1 else "\n".join(data)
                    data.clear()
                else:
                    text = ""
                if text or self._event:
                    events.append((self._event or "message", text, self.last_event_id, self._retry))
                self._event = ""
                self._retry = None
            elif line[0] != ":":
                self._field(line)
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
            self.last_event_id = value
        elif name == "retry" and value.isascii() and value.isdigit() and len(value) < 10:
            self._retry = self.retry = int(value)
        # Any other field name is ignored.
