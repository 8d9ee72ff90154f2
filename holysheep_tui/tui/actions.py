"""The app's small actions: copy the last answer or one of its code blocks (F4, F5), fold the reasoning
(F9), the conversation's settings (F3), the usage statistics (F8) and the key list (F1).

``HolySheepApp`` derives from ``ActionsApp``; the screens these open are imported when first opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import App

from holysheep_tui.i18n import _, ngettext
from holysheep_tui.tui.keys import Keymap, help_rows

if TYPE_CHECKING:
    from holysheep_tui.chat.controller import ConversationController
    from holysheep_tui.chat.conversation import Conversation
    from holysheep_tui.economics.money import CurrencyView
    from holysheep_tui.economics.prices import PriceBook
    from holysheep_tui.tui.widgets.conversation import ConversationView


class ActionsApp(App[None]):
    if TYPE_CHECKING:  # provided by the app

        @property
        def conversation(self) -> Conversation: ...
        @property
        def controller(self) -> ConversationController: ...
        @property
        def prices(self) -> PriceBook: ...
        @property
        def view(self) -> ConversationView: ...

        money: CurrencyView
        keymap: Keymap

    def _last_answer(self) -> str:
        turns = self.conversation.turns
        return turns[-1].answer.content if turns else ""

    def action_copy_answer(self) -> None:
        text = self._last_answer()
        if not text:
            self.notify(_("No answer to copy yet."))
            return
        self.copy_to_clipboard(text)
        self.notify(
            ngettext(
                "Copied the last answer ({count} character).",
                "Copied the last answer ({count} characters).",
                len(text),
            ).format(count=len(text))
        )

    def action_copy_code(self) -> None:
        from holysheep_tui.tui.screens.dialogs import ChoiceScreen
        from holysheep_tui.tui.widgets.answer import code_blocks

        blocks = code_blocks(self._last_answer())
        if not blocks:
            self.notify(_("The last answer has no code block."))
            return

        def copy(index: int | None) -> None:
            if index is not None:
                self.copy_to_clipboard(blocks[index][1])
                lang = blocks[index][0] or _("text")
                self.notify(
                    _("Copied code block {number} ({language}).").format(number=index + 1, language=lang)
                )

        if len(blocks) == 1:
            copy(0)
            return
        labels = [
            f"{i + 1}. [{lang or _('text')}] {code.splitlines()[0] if code else ''}"[:70]
            for i, (lang, code) in enumerate(blocks)
        ]
        self.push_screen(ChoiceScreen(_("Copy which code block?"), labels), copy)

    def action_toggle_reasoning(self) -> None:
        shown = self.view.toggle_reasoning()
        self.notify(_("Reasoning shown for every answer.") if shown else _("Reasoning folded."), timeout=2)

    def action_system_prompt(self) -> None:
        """F3: this conversation's system prompt, temperature and max tokens."""
        from holysheep_tui.tui.screens.settings import (
            ConversationSettings,
            ConversationSettingsScreen,
            apply_settings,
        )

        async def done(chosen: ConversationSettings | None) -> None:
            if chosen is not None:
                for line in apply_settings(self.controller, self.conversation, chosen):
                    await self.view.add_marker(line)

        self.push_screen(ConversationSettingsScreen(self.conversation), done)

    def action_stats(self) -> None:
        from holysheep_tui.economics.metrics import MetricsLog
        from holysheep_tui.tui.screens.stats import StatsScreen

        metrics = self.controller.metrics or MetricsLog()
        self.push_screen(StatsScreen(metrics, self.money, prices=self.prices))

    def action_help(self) -> None:
        from holysheep_tui.tui.screens.dialogs import HelpScreen

        self.push_screen(HelpScreen(help_rows(self.keymap)))
