"""The key table: the app's bindings, the help screen and the command palette all come from here.

Descriptions are marked with ``N_()`` and translated with ``_()`` where they are shown, so a language
switched while the app runs applies to them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from holysheep_tui.i18n import N_, _

KEYS: list[tuple[str, str, str]] = [
    # (keys, action, description)
    ("escape", "stop", N_("Stop the answer (keeps what arrived)")),
    ("ctrl+o,f2", "pick_model", N_("Choose the model for the next message")),
    ("ctrl+n", "new_conversation", N_("New conversation")),
    ("ctrl+r", "regenerate", N_("Regenerate the last answer / retry after an error")),
    ("ctrl+l", "edit_last", N_("Edit and resend the last prompt (sent as an alternative)")),
    ("ctrl+up", "select_message(-1)", N_("Select the message above (then the message keys below)")),
    ("ctrl+down", "select_message(1)", N_("Select the message below")),
    ("f6", "alternative(-1)", N_("Previous alternative of the selected (or last) message")),
    ("f7", "alternative(1)", N_("Next alternative of the selected (or last) message")),
    ("f3", "system_prompt", N_("This conversation's system prompt, temperature and max tokens")),
    ("f4", "copy_answer", N_("Copy the last answer (OSC 52)")),
    ("f5", "copy_code", N_("Copy a code block from the last answer")),
    ("f10", "attach", N_("Attach a file or an image to the next prompt (pasting a file's path does too)")),
    ("f9", "toggle_reasoning", N_("Show or hide the reasoning of every answer")),
    ("ctrl+t", "change_theme", N_("Choose a theme (remembered in the config)")),
    ("ctrl+b", "toggle_sidebar", N_("Show or hide the history sidebar (refreshes it)")),
    ("ctrl+f", "search_history", N_("Search every stored message")),
    ("ctrl+s", "export_conversation", N_("Export this conversation (md, json, html, txt, openai)")),
    ("f8", "stats", N_("Usage statistics: requests, cost, cache hits and latency per model and per day")),
    ("ctrl+g", "compose_in_editor", N_("Write the prompt in $VISUAL / $EDITOR (the text comes back unsent)")),
    ("f12", "toggle_mouse", N_("Mouse off / on (off: select text with the terminal)")),
    ("f1", "help", N_("Show every key")),
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


DEFAULT_KEYMAP = {binding_id(action): keys for keys, action, _desc in KEYS}


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
            known = ", ".join(sorted(DEFAULT_KEYMAP))
            problems.append(_("[keys] {id}: no such action (known: {known}).").format(id=ident, known=known))
        elif not cleaned:
            problems.append(_("[keys] {id}: no key given.").format(id=ident))
        elif taken := [k for k in cleaned if k in FIXED_KEYS or len(k) == 1]:
            problems.append(
                _("[keys] {id}: {key} is kept for typing, sending or quitting.").format(
                    id=ident, key=key_label(taken[0])
                )
            )
        else:
            applied[ident] = ",".join(cleaned)
    for _round in range(len(DEFAULT_KEYMAP)):  # each round drops at least one entry, or ends
        owners: dict[str, list[str]] = {}
        for ident, keys in {**DEFAULT_KEYMAP, **applied}.items():
            for key in _clean_keys(keys):
                owners.setdefault(key, []).append(ident)
        clashes = [(key, ids) for key, ids in owners.items() if len(ids) > 1]
        if not clashes:
            break
        for key, ids in clashes:
            dropped = [ident for ident in ids if ident in applied]
            kept = [
                _("{id} keeps {keys}").format(id=ident, keys=key_label(DEFAULT_KEYMAP[ident]))
                for ident in dropped
            ]
            # TRANSLATORS: joins two or more binding ids ("new_conversation and stats").
            actions = _(" and ").join(ids)
            # TRANSLATORS: joins the "<id> keeps <keys>" parts of a keymap problem.
            listed = _(", ").join(kept)
            problems.append(
                _("[keys] {key} is given to both {actions}: {kept}.").format(
                    key=key_label(key), actions=actions, kept=listed
                )
            )
            for ident in dropped:
                applied.pop(ident, None)
    return Keymap(applied, problems)


MESSAGE_KEYS = [
    ("Up / Down", N_("The message above / below")),
    ("Left / Right", N_("Its previous / next alternative (‹2/3›)")),
    ("r", N_("Ask it again (a new alternative; nothing replaced)")),
    ("m", N_("Ask it again with another model")),
    ("e", N_("Edit its prompt (sending adds an alternative)")),
    ("f", N_("Fork a new conversation from it")),
    ("Esc / Enter", N_("Back to the prompt (typing does that too)")),
]
PROMPT_KEYS = [
    ("Enter", N_("Send the prompt")),
    ("Ctrl+J / Shift+Enter", N_("New line (Shift+Enter if the terminal has it)")),
    ("Up / Down", N_("Earlier prompts (on an empty prompt)")),
    ("PageUp / PageDown", N_("Scroll the conversation (a tall prompt: itself)")),
    ("Ctrl+Home / Ctrl+End", N_("Top / bottom of the conversation")),
    ("Home / End", N_("The same, on an empty prompt")),
    ("Tab", N_("Into the conversation; Tab or typing: back")),
    ("Shift+Tab", N_("To the attachments above the prompt: Left/Right pick one, Delete removes it")),
    ("Ctrl+P", N_("Command palette: every action, every model")),
    ("Ctrl+Q", N_("Quit")),
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
        key, _sep, what = part.partition(" ")
        rows.append((key, what.capitalize()))
    return rows


HelpSection = tuple[str, list[tuple[str, str]]]


def help_sections(sidebar_keys: str = "", keymap: Keymap | None = None) -> list[HelpSection]:
    """Every key and what it does (the keys in force after ``keymap``), in sections, for the help screen."""
    keymap = keymap or Keymap()
    sections: list[HelpSection] = [
        (_("Anywhere"), [(key_label(keymap.keys_of(a)), _(d)) for _k, a, d in KEYS]),
        (_("The prompt"), [(k, _(d)) for k, d in PROMPT_KEYS]),
        (_("A selected message"), [(k, _(d)) for k, d in MESSAGE_KEYS]),
    ]
    if sidebar_keys:
        sections.append((_("The sidebar (Ctrl+B)"), sidebar_rows(sidebar_keys)))
    return sections


def help_rows(keymap: Keymap | None = None) -> list[HelpSection]:
    """The help screen's sections (the sidebar's keys included)."""
    from holysheep_tui.tui.widgets.sidebar import SIDEBAR_KEYS

    return help_sections(_(SIDEBAR_KEYS), keymap)
