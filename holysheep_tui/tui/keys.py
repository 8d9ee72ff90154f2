"""The key table: the app's bindings, the help screen and the command palette all come from here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

KEYS: list[tuple[str, str, str]] = [
    # (keys, action, description)
    ("escape", "stop", "Stop the answer (keeps what arrived)"),
    ("ctrl+o,f2", "pick_model", "Choose the model for the next message"),
    ("ctrl+n", "new_conversation", "New conversation"),
    ("ctrl+r", "regenerate", "Regenerate the last answer / retry after an error"),
    ("ctrl+l", "edit_last", "Edit and resend the last prompt (sent as an alternative)"),
    ("ctrl+up", "select_message(-1)", "Select the message above (then the message keys below)"),
    ("ctrl+down", "select_message(1)", "Select the message below"),
    ("f6", "alternative(-1)", "Previous alternative of the selected (or last) message"),
    ("f7", "alternative(1)", "Next alternative of the selected (or last) message"),
    ("f3", "system_prompt", "This conversation's system prompt, temperature and max tokens"),
    ("f4", "copy_answer", "Copy the last answer (OSC 52)"),
    ("f5", "copy_code", "Copy a code block from the last answer"),
    ("f10", "attach", "Attach a file or an image to the next prompt (pasting a file's path does too)"),
    ("f9", "toggle_reasoning", "Show or hide the reasoning of every answer"),
    ("ctrl+t", "change_theme", "Choose a theme (remembered in the config)"),
    ("ctrl+b", "toggle_sidebar", "Show or hide the history sidebar (refreshes it)"),
    ("ctrl+f", "search_history", "Search every stored message"),
    ("ctrl+s", "export_conversation", "Export this conversation (md, json, html, txt, openai)"),
    ("f8", "stats", "Usage statistics: requests, cost, cache hits and latency per model and per day"),
    ("ctrl+g", "compose_in_editor", "Write the prompt in $VISUAL / $EDITOR (the text comes back unsent)"),
    ("f12", "toggle_mouse", "Mouse off / on (off: select text with the terminal)"),
    ("f1", "help", "Show every key"),
]
PRIORITY_KEYS = frozenset({"ctrl+up", "ctrl+down", "f6", "f7"})
"""Keys that work wherever the focus is (the prompt's own F6/F7 select line and text otherwise)."""

_IDS = {
    "select_message(-1)": "select_message_above",
    "select_message(1)": "select_message_below",
    "alternative(-1)": "previous_alternative",
    "alternative(1)": "next_alternative",
}
FIXED_KEYS = frozenset(
    {
        "ctrl+q",
        "ctrl+p",
        "ctrl+c",
        "enter",
        "tab",
        "shift+tab",
        "escape",
        "ctrl+j",
        "shift+enter",
        "alt+enter",
    }
    | {"ctrl+home", "ctrl+end", "up", "down", "left", "right", "pageup", "pagedown", "home", "end"}
    | {"backspace", "delete", "ctrl+a", "ctrl+e", "ctrl+k", "ctrl+u", "ctrl+w", "ctrl+x", "ctrl+v", "ctrl+z"}
    | {"ctrl+y", "ctrl+d", "ctrl+left", "ctrl+right"}
)
"""Keys a keymap may not take: quit, the palette, sending, focus, and what the prompt uses for editing."""


def binding_id(action: str) -> str:
    """The id a ``[keys]`` table names a binding by: the action's name (``new_conversation``)."""
    return _IDS.get(action, action)


DEFAULT_KEYMAP = {binding_id(action): keys for keys, action, _ in KEYS}


@dataclass(frozen=True)
class Keymap:
    """A ``[keys]`` table checked against the key table: what is applied and what was refused."""

    applied: dict[str, str] = field(default_factory=dict)
    """Binding id to keys, for ``App.set_keymap`` (only entries that clash with nothing)."""
    problems: list[str] = field(default_factory=list)

    def keys_of(self, action: str) -> str:
        """The keys in force for ``action`` (a ``KEYS`` action)."""
        return self.applied.get(binding_id(action), DEFAULT_KEYMAP[binding_id(action)])


def _clean_keys(keys: str) -> list[str]:
    return [key.strip().lower() for key in keys.split(",") if key.strip()]


def resolve_keymap(wanted: Mapping[str, str]) -> Keymap:
    """Check a ``[keys]`` table: unknown ids, keys the app keeps for itself and two actions on one key are
    problems, and the entries involved keep their default keys."""
    problems: list[str] = []
    applied: dict[str, str] = {}
    for ident, keys in wanted.items():
        cleaned = _clean_keys(keys)
        if ident not in DEFAULT_KEYMAP:
            problems.append(f"[keys] {ident}: no such action (known: {', '.join(sorted(DEFAULT_KEYMAP))}).")
        elif not cleaned:
            problems.append(f"[keys] {ident}: no key given.")
        elif taken := [k for k in cleaned if k in FIXED_KEYS or len(k) == 1]:
            problems.append(f"[keys] {ident}: {key_label(taken[0])} is kept for typing, sending or quitting.")
        else:
            applied[ident] = ",".join(cleaned)
    for _ in range(len(DEFAULT_KEYMAP)):  # each round drops at least one entry, or ends
        owners: dict[str, list[str]] = {}
        for ident, keys in {**DEFAULT_KEYMAP, **applied}.items():
            for key in _clean_keys(keys):
                owners.setdefault(key, []).append(ident)
        clashes = [(key, ids) for key, ids in owners.items() if len(ids) > 1]
        if not clashes:
            break
        for key, ids in clashes:
            dropped = [ident for ident in ids if ident in applied]
            problems.append(
                f"[keys] {key_label(key)} is given to both {' and '.join(ids)}: "
                + ", ".join(f"{ident} keeps {key_label(DEFAULT_KEYMAP[ident])}" for ident in dropped)
                + "."
            )
            for ident in dropped:
                applied.pop(ident, None)
    return Keymap(applied, problems)


MESSAGE_KEYS = [
    ("Up / Down", "The message above / below"),
    ("Left / Right", "Its previous / next alternative (‹2/3›)"),
    ("r", "Ask it again (a new alternative; nothing replaced)"),
    ("m", "Ask it again with another model"),
    ("e", "Edit its prompt (sending adds an alternative)"),
    ("f", "Fork a new conversation from it"),
    ("Esc / Enter", "Back to the prompt (typing does that too)"),
]
PROMPT_KEYS = [
    ("Enter", "Send the prompt"),
    ("Ctrl+J / Shift+Enter", "New line (Shift+Enter if the terminal has it)"),
    ("Up / Down", "Earlier prompts (on an empty prompt)"),
    ("PageUp / PageDown", "Scroll the conversation (a tall prompt: itself)"),
    ("Ctrl+Home / Ctrl+End", "Top / bottom of the conversation"),
    ("Home / End", "The same, on an empty prompt"),
    ("Tab", "Into the conversation; Tab or typing: back"),
    ("Shift+Tab", "To the attachments above the prompt: Left/Right pick one, Delete removes it"),
    ("Ctrl+P", "Command palette: every action, every model"),
    ("Ctrl+Q", "Quit"),
]

_NAMES = {"escape": "Esc", "pageup": "PageUp", "pagedown": "PageDown", "enter": "Enter", "tab": "Tab"}


def _key_name(key: str) -> str:
    """One key as people write it: ``ctrl+o`` is ``Ctrl+O``, ``f2`` is ``F2``, ``up`` is ``Up``."""
    *mods, base = key.split("+")
    if len(base) == 1:
        name = base.upper() if mods else base  # a bare letter is typed as it is shown: r, not R
    else:
        name = _NAMES.get(base) or (base.upper() if base[1:].isdigit() else base.capitalize())
    return "+".join([*(m.capitalize() for m in mods), name])


def key_label(keys: str) -> str:
    """``"ctrl+o,f2"`` as the help screen and the palette show it: ``"Ctrl+O / F2"``."""
    return " / ".join(_key_name(k.strip()) for k in keys.split(","))


def sidebar_rows(sidebar_keys: str) -> list[tuple[str, str]]:
    """The sidebar's one-line key list (``"Enter open · r rename"``) as help rows."""
    rows = []
    for part in sidebar_keys.split(" · "):
        key, _, what = part.partition(" ")
        rows.append((key, what.capitalize()))
    return rows


HelpSection = tuple[str, list[tuple[str, str]]]


def help_sections(sidebar_keys: str = "", keymap: Keymap | None = None) -> list[HelpSection]:
    """Every key and what it does (the keys in force after ``keymap``), in sections, for the help screen."""
    keymap = keymap or Keymap()
    sections: list[HelpSection] = [
        ("Anywhere", [(key_label(keymap.keys_of(a)), d) for _, a, d in KEYS]),
        ("The prompt", PROMPT_KEYS),
        ("A selected message", MESSAGE_KEYS),
    ]
    if sidebar_keys:
        sections.append(("The sidebar (Ctrl+B)", sidebar_rows(sidebar_keys)))
    return sections


def help_rows(keymap: Keymap | None = None) -> list[HelpSection]:
    """The help screen's sections (the sidebar's keys included)."""
    from holysheep_tui.tui.widgets.sidebar import SIDEBAR_KEYS

    return help_sections(SIDEBAR_KEYS, keymap)
