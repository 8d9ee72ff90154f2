"""Make untrusted text safe to show in a terminal or write to a plain file."""

from __future__ import annotations

import re

# String-type sequences (OSC, DCS, SOS, PM, APC) run to BEL or ST; an unterminated one stops at the line end.
_STRING_SEQ = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
_CSI_SEQ = r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
_ESC_SEQ = r"\x1b[ -/]*[0-~]?"
_CONTROL = r"[\x00-\x08\x0b-\x1f\x7f-\x9f]"

_UNSAFE = re.compile(f"{_STRING_SEQ}|{_CSI_SEQ}|{_ESC_SEQ}|{_CONTROL}")


def strip_control(text: str) -> str:
    """Remove ANSI CSI/OSC/DCS/... sequences and C0/C1 controls, keeping ``\\n`` and ``\\t``.

    ``\\r\\n`` becomes ``\\n``; a lone ``\\r`` is dropped.
    """
    return _UNSAFE.sub("", text)


_SHOWN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ ␛ ␇ ...: the Unicode control pictures
    return "␡" if code == 0x7F else "�"


def show_control(text: str) -> str:
    """Make control characters visible and inert (␛[31m instead of a colour change), keeping ``\\n`` and ``\\t``.

    For text the user typed: nothing is hidden from them, and nothing reaches the terminal as a command.
    """
    return _SHOWN.sub(_picture, text)


def one_line(text: str) -> str:
    """Untrusted text for one line (a model name, an id, a title): sequences and controls removed, each run
    of whitespace one space."""
    return " ".join(strip_control(text).split())


_C1_RAW = re.compile(r"[\x7f-\x9f]")


def inert_json(text: str) -> str:
    """JSON text with DEL and the C1 controls escaped (``\\u009b``): the same data, nothing a terminal acts on.

    ``json.dumps`` escapes the C0 controls but writes these raw; outside strings JSON never holds them.
    """
    return _C1_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
