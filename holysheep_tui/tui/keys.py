"""The key table: the app's bindings, the help screen and the command palette all come from here."""

from __future__ import annotations

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
    ("f3", "system_prompt", "Set this conversation's system prompt"),
    ("f4", "copy_answer", "Copy the last answer (OSC 52)"),
    ("f5", "copy_code", "Copy a code block from the last answer"),
    ("f9", "toggle_reasoning", "Show or hide the reasoning of every answer"),
    ("ctrl+t", "change_theme", "Choose a theme (remembered in the config)"),
    ("ctrl+b", "toggle_sidebar", "Show or hide the history sidebar (refreshes it)"),
    ("ctrl+f", "search_history", "Search every stored message"),
    ("ctrl+s", "export_conversation", "Export this conversation (md, json, html, txt, openai)"),
    ("f8", "stats", "Usage statistics: requests, cost and latency per model and per day"),
    ("f1", "help", "Show every key"),
]
PRIORITY_KEYS = frozenset({"ctrl+up", "ctrl+down", "f6", "f7"})
"""Keys that work wherever the focus is (the prompt's own F6/F7 select line and text otherwise)."""

MESSAGE_KEYS = [
    ("Up / Down", "With a message selected: the message above / below"),
    ("Left / Right", "With a message selected: its previous / next alternative (‹2/3›)"),
    ("r", "With a message selected: ask it again (a new alternative; nothing is replaced)"),
    ("m", "With a message selected: ask it again with another model"),
    ("e", "With a message selected: edit its prompt (sending adds an alternative)"),
    ("f", "With a message selected: fork a new conversation from it"),
    ("Esc / Enter", "With a message selected: back to the prompt (typing does that too)"),
]
PROMPT_KEYS = [
    ("Enter", "Send the prompt"),
    ("Ctrl+J / Shift+Enter", "New line in the prompt (Shift+Enter where the terminal reports it)"),
    ("Up / Down", "Recall earlier prompts (on an empty prompt)"),
    ("Ctrl+P", "Command palette: every action, every model"),
    ("Ctrl+Q", "Quit"),
]


def key_label(keys: str) -> str:
    """``"ctrl+o,f2"`` as the help screen shows it: ``"Ctrl+o / F2"``."""
    return " / ".join(
        k.replace("ctrl+", "Ctrl+").replace("escape", "Esc").upper()
        if k.startswith("f") and k[1:].isdigit()
        else k.replace("ctrl+", "Ctrl+").replace("escape", "Esc")
        for k in keys.split(",")
    )


def help_rows() -> list[tuple[str, str]]:
    """Every key and what it does, for the help screen."""
    return [(key_label(k), d) for k, _, d in KEYS] + PROMPT_KEYS + MESSAGE_KEYS
