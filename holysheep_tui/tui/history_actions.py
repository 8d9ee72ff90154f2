"""The app's history half: sidebar, opening stored conversations, search and export.

``HolySheepApp`` derives from ``HistoryApp``; this class only uses the attributes declared below.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import App

from holysheep_tui.chat.chat_session import ChatSession
from holysheep_tui.economics.money import CurrencyView
from holysheep_tui.errors import HolySheepError
from holysheep_tui.i18n import N_, _
from holysheep_tui.tui.messages import ConversationDeleted, ExportConversation, OpenConversation
from holysheep_tui.tui.widgets.conversation import ConversationView
from holysheep_tui.tui.widgets.prompt import PromptInput
from holysheep_tui.tui.widgets.sidebar import HistorySidebar

if TYPE_CHECKING:  # export, search and the loader load on first use: start-up stays short
    from holysheep_tui.store import Conversation as StoredConversation
    from holysheep_tui.store import HistoryStore, SearchHit
    from holysheep_tui.tui.screens.export import ExportChoice

HISTORY_OFF = {
    "open": N_("History is off for this session, so there is nothing stored to open."),
    "search": N_("History is off for this session, so there is nothing stored to search."),
    "export": N_("History is off for this session, so there is nothing stored to export."),
}


class HistoryApp(App[None]):
    # Provided by the subclass.
    chat: ChatSession
    money: CurrencyView
    revision: int
    _turn: Any
    history_store: HistoryStore | None = None
    """The store as opened; kept for reading even after a write failure made the controller drop it."""
    export_dir: Path | None = None
    """Where exports go by default (None: the current directory when writable, else home)."""

    @property
    def sidebar(self) -> HistorySidebar:
        return self.query_one(HistorySidebar)

    def start_history(self) -> None:
        """At mount: show start-up notices (a corrupt database moved aside, interrupted answers)."""
        from holysheep_tui.chat.resume import startup_notices

        store = self.history_store = self.chat.store
        self.sidebar.store = store
        if store is not None:
            for severity, text in startup_notices(store):
                self.notify(text, title=_("History"), severity=severity, timeout=15)  # type: ignore[arg-type]

    def action_toggle_sidebar(self) -> None:
        holder = self.query_one("#sidebar")
        holder.toggle_class("-visible")
        if holder.has_class("-visible"):
            self.sidebar.current_id = self.chat.conversation.id
            self.sidebar.reload()
            self.sidebar.focus_list()
        else:
            self.query_one(PromptInput).focus()

    def history_turn_finished(self) -> None:
        """A turn ended: its conversation is stored now, so the visible list is read again."""
        if self.query_one("#sidebar").has_class("-visible"):
            self.sidebar.current_id = self.chat.conversation.id
            self.sidebar.reload()

    # ---- opening ---------------------------------------------------------------------------
    @on(OpenConversation)
    async def _open_requested(self, message: OpenConversation) -> None:
        await self.open_conversation(message.conv_id, message.message_id)

    async def open_conversation(
        self, conv_id: str, message_id: int | None = None, *, select: bool = False
    ) -> None:
        """Show a stored conversation (latest page, or the page holding ``message_id``) and continue it.

        ``select``: ``message_id`` is selected for the message keys and the focus stays where it is."""
        from holysheep_tui.chat.resume import open_stored

        store = self.history_store
        if store is None:
            self.notify(_(HISTORY_OFF["open"]), severity="warning")
            return
        try:
            opened = open_stored(store, conv_id, self.chat.model)
        except HolySheepError as exc:
            self.notify(exc.user_text(), title=_("Cannot open the conversation"), severity="error")
            return
        if self._turn is not None:
            await self.run_action("stop")
            self._turn = None
        stored = opened.pager.conversation
        self.chat.continue_conversation(opened.conversation, stored.cost_usd, stored.cost_estimated)
        self.revision += 1
        view = self.query_one(ConversationView)
        await view.show_stored(opened.pager, self.money, message_id=message_id, select=select)
        self.sidebar.mark_current(conv_id)
        if select:
            return
        if message_id is None:
            self.query_one(PromptInput).focus()
        else:
            self.query_one(ConversationView).focus()

    @on(ConversationDeleted)
    async def _deleted(self, message: ConversationDeleted) -> None:
        if self.chat.conversation.id == message.conv_id:
            await self.run_action("new_conversation")

    # ---- search ----------------------------------------------------------------------------
    def action_search_history(self) -> None:
        from holysheep_tui.tui.screens.search import SearchScreen

        if self.history_store is None:
            self.notify(_(HISTORY_OFF["search"]), severity="warning")
            return

        def done(hit: SearchHit | None) -> None:
            if hit is not None:
                self.post_message(OpenConversation(hit.conversation_id, hit.message_id))

        self.push_screen(SearchScreen(self.history_store), done)

    # ---- export ----------------------------------------------------------------------------
    def action_export_conversation(self) -> None:
        if self.history_store is None:
            self.notify(_(HISTORY_OFF["export"]), severity="warning")
        elif self.chat.conversation.id is None:
            self.notify(_("Nothing to export yet: this conversation has no stored messages."))
        else:
            self.export_stored(self.chat.conversation.id)

    @on(ExportConversation)
    def _export_requested(self, message: ExportConversation) -> None:
        self.export_stored(message.conv_id)

    def export_stored(self, conv_id: str) -> None:
        """Ask for a format and a path, then write the file (asking before overwriting one)."""
        from holysheep_tui.chat.resume import default_export_dir
        from holysheep_tui.tui.screens.export import ExportScreen

        store = self.history_store
        if store is None:
            self.notify(_(HISTORY_OFF["export"]), severity="warning")
            return
        try:
            conv = store.get_conversation(conv_id)
        except HolySheepError as exc:
            self.notify(exc.user_text(), title=_("Cannot export"), severity="error")
            return
        directory = self.export_dir or default_export_dir()

        def chosen(choice: ExportChoice | None) -> None:
            if choice is not None:
                self._write_export(conv, choice)

        self.push_screen(ExportScreen(conv.display_title, directory), chosen)

    def _write_export(self, conv: StoredConversation, choice: ExportChoice, *, force: bool = False) -> None:
        from holysheep_tui.transcripts.export import OutputExistsError, export_conversation, write_export
        from holysheep_tui.transcripts.facts import ExportOptions
        from holysheep_tui.tui.screens.dialogs import ConfirmScreen

        options = ExportOptions(all_branches=choice.all_branches, cny_per_usd=self.money.relay_rate)
        try:
            write_export(choice.path, export_conversation(conv, choice.fmt, options), force=force)
        except OutputExistsError:

            def confirmed(yes: bool | None) -> None:
                if yes:
                    self._write_export(conv, choice, force=True)
                else:
                    self.notify(_("Not exported: the file was left as it was."))

            self.push_screen(
                ConfirmScreen(_("{path} exists. Overwrite it?").format(path=choice.path)), confirmed
            )
            return
        except HolySheepError as exc:
            self.notify(exc.user_text(), title=_("Export failed"), severity="error")
            return
        self.notify(
            _("Wrote {path}").format(path=choice.path.resolve()),
            title=_("Exported as {format}").format(format=choice.fmt),
        )
