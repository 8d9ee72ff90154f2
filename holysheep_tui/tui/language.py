"""The interface's language while the app runs: the palette's "Language: 简体中文" switches it at once and
remembers it in the config (``ui.language``), as Ctrl+T does for the theme (issue 18).

The language is chosen before the app starts (``--lang``, the config, the environment: ``cli.choose_language``);
a switch calls ``i18n.use`` and then redraws what was drawn in the old language: the bindings' descriptions
(what a footer and the key panel show), the status bar, and every widget with a ``retranslate()`` method
(the widgets' own texts: the prompt's placeholder, the sidebar's title and key line, for instance). Text drawn
once and gone (a notification already shown, a finished answer's figures) stays as it was drawn.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.screen import Screen

from holysheep_tui import i18n
from holysheep_tui.chat.chat_session import ChatSession
from holysheep_tui.errors import HolySheepError
from holysheep_tui.i18n import LANGUAGES, _
from holysheep_tui.tui.keys import KEYS, Keymap, binding_id, key_label

if TYPE_CHECKING:
    from holysheep_tui.chat.conversation import Turn

_DESCRIPTIONS = {binding_id(action): desc for _keys, action, desc in KEYS}
"""Each app binding's description in English, by binding id: the source a translation starts from."""


def language_titles() -> list[tuple[str, str]]:
    """(language, the palette's title for switching to it), for every language not in force."""
    return [
        (lang, _("Language: {name}").format(name=name))
        for lang, name in LANGUAGES.items()
        if lang != i18n.current()
    ]


class LanguageApp(App[None]):
    """The app's part that speaks the language in force and switches it."""

    # Provided by the subclass.
    revision: int
    keymap: Keymap
    chat: ChatSession
    _editing: Turn | None

    if TYPE_CHECKING:

        def set_editing(self, turn: Turn | None) -> None: ...

        def set_comparison(self, models: tuple[str, ...]) -> None: ...

        def schedule_meter(self, delay: float = ...) -> None: ...

    def translate_bindings(self) -> None:
        """The app's bindings described in the language in force (the keys a keymap gave them stay)."""
        bindings = self._bindings
        bindings.key_to_bindings = {
            key: [self._translated(binding) for binding in group]
            for key, group in bindings.key_to_bindings.items()
        }
        self.refresh_bindings()

    @staticmethod
    def _translated(binding: Binding) -> Binding:
        english = _DESCRIPTIONS.get(binding.id or "")
        if english is None:
            return binding
        return dataclasses.replace(binding, description=_(english))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Textual's Theme and Quit (with its key); not Maximize, Screenshot or Keys (issue 15 item 14); the
        language switch."""
        ours = {
            "Theme": (_("Theme"), _("Change the current theme")),
            "Quit": (_("Quit"), _("Quit the application as soon as possible")),
        }
        for command in super().get_system_commands(screen):
            if command.title in ours:
                key = key_label(self.keymap.keys_of("change_theme")) if command.title == "Theme" else "Ctrl+Q"
                title, help_text = ours[command.title]
                yield command._replace(
                    title=title, help=_("{help} · Key: {key}").format(help=help_text, key=key)
                )
        for _keys, action, desc in KEYS:
            if action != "change_theme":
                keys = self.keymap.keys_of(action)
                key_text = _("Key: {key}").format(key=key_label(keys))
                yield SystemCommand(_(desc), key_text, lambda a=action: self.run_action(a))
        yield from self.language_commands()

    def language_commands(self) -> Iterable[SystemCommand]:
        """The palette's entries, one per language not in force."""
        for lang, title in language_titles():
            name = LANGUAGES[lang]
            # TRANSLATORS: the palette's help line under "Language: English".
            help_text = _("Switch the interface to {name} now (remembered in the config)").format(name=name)
            yield SystemCommand(title, help_text, partial(self.switch_language, lang))

    def action_command_palette(self) -> None:
        """Ctrl+P: Textual's palette with its prompt in the language in force."""
        if self.use_command_palette and not CommandPalette.is_open(cast("App[object]", self)):
            self.push_screen(CommandPalette(placeholder=_("Search for commands…"), id="--command-palette"))

    def search_themes(self) -> None:
        """Ctrl+T: Textual's theme list with its prompt in the language in force."""
        from textual.theme import ThemeProvider

        self.push_screen(CommandPalette(providers=[ThemeProvider], placeholder=_("Search for themes…")))

    def switch_language(self, language: str) -> None:
        """Speak ``language`` from now on: redraw, remember it in the config, and say so in it."""
        lang = i18n.use(language)
        self.retranslate()
        saved = self._remember_language(lang)
        if saved:
            text = _("The interface speaks {name} now; remembered in the config.")
        else:
            text = _("The interface speaks {name} now (for this session).")
        self.notify(text.format(name=LANGUAGES[lang]), title=_("Language"), timeout=4)

    def _remember_language(self, lang: str) -> bool:
        from holysheep_tui.tui.settings import save_ui_language

        try:
            save_ui_language(lang)
        except HolySheepError as exc:
            self.notify(exc.user_text(), title=_("Language not saved"), severity="warning")
            return False
        session = getattr(self, "open_session", None)
        if session is not None:
            session.config.ui.language = "zh-CN" if lang == "zh-CN" else "en"
        return True

    def retranslate(self) -> None:
        """Redraw what is on screen in the language in force."""
        self.translate_bindings()
        for screen in self.screen_stack:
            for node in screen.walk_children(with_self=True):
                retranslate = getattr(node, "retranslate", None)
                if callable(retranslate):
                    retranslate()
        self.sub_title = self.chat.seed.sub_title  # the header: "DEMO · built-in relay simulator …"
        if self._editing is not None:  # the prompt's titles, said again (turns.py, models.py, fitting.py)
            self.set_editing(self._editing)
        elif self.chat.compare_models:
            self.set_comparison(self.chat.compare_models)
        self.schedule_meter(0)
        self.revision += 1  # the status bar redraws
        self.refresh(layout=True)
