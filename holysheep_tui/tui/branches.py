"""The app's branches: select a message, move between its alternatives, ask it again (with another
model), edit an earlier prompt, fork a new conversation from it.

Every operation leaves what was written and paid for in the history: the store's tree gains a branch
or its active path moves (``HistoryStore.set_active``), and the conversation is shown again from the
store. ``HolySheepApp`` derives from ``BranchesApp``; this class only uses the attributes declared below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual import on
from textual.app import App

from holysheep_tui.chat.chat_session import ChatSession
from holysheep_tui.chat.conversation import Turn
from holysheep_tui.errors import HolySheepError
from holysheep_tui.i18n import N_, _
from holysheep_tui.tui.messages import BranchRequest
from holysheep_tui.tui.widgets.conversation import ConversationView, UserMessage
from holysheep_tui.tui.widgets.prompt import PromptInput

if TYPE_CHECKING:
    from holysheep_tui.chat.conversation import Branch
    from holysheep_tui.store import HistoryStore
    from holysheep_tui.tui.widgets.compare import CompareView

NOT_STORED = N_(
    "This message is not in the history (history is off or it was not saved), so there is nothing to "
    "branch from here."
)


class BranchesApp(App[None]):
    # Provided by the subclass.
    chat: ChatSession
    revision: int
    _turn: Any
    history_store: HistoryStore | None

    if TYPE_CHECKING:

        @property
        def view(self) -> ConversationView: ...

        async def open_conversation(
            self, conv_id: str, message_id: int | None = None, *, select: bool = False
        ) -> None: ...

        async def send_prompt(
            self,
            text: str,
            *,
            over_budget_ok: bool = False,
            branch: Branch | None = None,
            model: str | None = None,
        ) -> None: ...

        def edit_turn(self, turn: Turn) -> None: ...

        def picker_rows(self) -> Any: ...

    # ---- keys from anywhere ------------------------------------------------------------------
    def action_select_message(self, delta: int) -> None:
        """Ctrl+Up / Ctrl+Down: read the conversation message by message; the message keys act on it."""
        view = self.view
        view.focus()
        view.action_select_message(delta)

    def action_alternative(self, delta: int) -> None:
        """F6 / F7: the previous or next alternative of the selected message, else of the last one that has
        alternatives (the last answer when none has)."""
        view = self.view
        target = view.selected
        if target is None:
            shown = view.messages()
            target = next((w for w in reversed(shown) if getattr(w, "place", None)), None)
            target = target or next((w for w in reversed(shown) if not isinstance(w, UserMessage)), None)
        if target is None:
            self.notify(_("There is nothing in this conversation yet."))
            return
        role = "user" if isinstance(target, UserMessage) else "assistant"
        self.post_message(BranchRequest("alternative", getattr(target, "message_id", None), role, delta))

    # ---- what the message keys ask for -------------------------------------------------------
    @on(BranchRequest)
    async def _branch_requested(self, request: BranchRequest) -> None:
        if request.action == "leave":
            prompt = self.query_one(PromptInput)
            prompt.focus()
            if request.text:
                prompt.insert(request.text)
            return
        if self._turn is not None:
            self.notify(_("Wait for the answer or stop it with Esc first."), severity="warning")
            return
        if request.action == "alternative" and request.message_id is not None:
            compare = self._last_comparison(request.message_id)
            if compare is not None:
                self._choose_leg(compare, request.delta)
                return
        store, conv_id = self.history_store, self.chat.conversation.id
        if request.message_id is None or store is None or conv_id is None:
            self.notify(_(NOT_STORED), severity="warning")
            return
        try:
            if request.action == "alternative":
                await self._switch(store, conv_id, request.message_id, request.delta)
            elif request.action == "fork":
                await self._fork(store, conv_id, request.message_id, request.role)
            else:
                turn = self._turn_of(request.message_id)
                if turn is None:
                    self.notify(_(NOT_STORED), severity="warning")
                elif request.action == "edit":
                    self.edit_turn(turn)
                elif request.action == "regenerate":
                    await self.ask_again(turn)
                else:
                    self._reask(turn)
        except HolySheepError as exc:
            self.notify(exc.user_text(), title=_("History"), severity="error")

    def _last_comparison(self, message_id: int) -> CompareView | None:
        """The comparison on screen holding answer ``message_id`` when the conversation ends with it (its
        legs are then chosen in place, side by side as they are)."""
        turns = self.chat.conversation.turns
        for widget in reversed(self.view.messages()):
            if widget.has_class("compare"):
                compare = cast("CompareView", widget)
                legs = compare.turns
                if (
                    any(leg.answer_id == message_id for leg in legs)
                    and turns
                    and any(turns[-1] is leg for leg in legs)
                ):
                    return compare
                return None
        return None

    def _choose_leg(self, compare: CompareView, delta: int) -> None:
        """Carry the conversation on with another leg of the comparison just made."""
        current = compare.chosen or 0
        index = current + delta
        if not 0 <= index < len(compare.turns):
            where = _("{number} of {count}").format(number=current + 1, count=len(compare.turns))
            if index < 0:
                self.notify(_("The answer carried on ({where}) is the first one.").format(where=where))
            else:
                self.notify(_("The answer carried on ({where}) is the last one.").format(where=where))
            return
        chat = self.chat
        turn = compare.turns[index]
        chat.controller.choose(chat.conversation, compare.turns, turn)
        chat.choose_model(turn.model)
        compare.choose(index)
        self.revision += 1

    def _turn_of(self, message_id: int) -> Turn | None:
        return next(
            (t for t in self.chat.conversation.turns if message_id in (t.prompt_id, t.answer_id)), None
        )

    async def _switch(self, store: HistoryStore, conv_id: str, message_id: int, delta: int) -> None:
        from holysheep_tui.tui.widgets.conversation import place_label

        siblings = store.siblings(message_id)
        if len(siblings) < 2:
            self.notify(
                _(
                    "No alternatives here yet. With the message selected: r asks again, m asks another "
                    "model, e edits the prompt."
                )
            )
            return
        index = siblings.index(message_id) if message_id in siblings else 0
        target = index + delta
        if not 0 <= target < len(siblings):
            where = place_label((index + 1, len(siblings)))
            if target < 0:
                self.notify(_("{where} is the first alternative.").format(where=where))
            else:
                self.notify(_("{where} is the last alternative.").format(where=where))
            return
        store.set_active(conv_id, siblings[target])
        await self.open_conversation(conv_id, siblings[target], select=True)

    async def _fork(self, store: HistoryStore, conv_id: str, message_id: int, role: str) -> None:
        prompt_text = ""
        if role == "user":
            shown = next(
                (w for w in self.view.messages() if getattr(w, "message_id", None) == message_id), None
            )
            prompt_text = shown.text if isinstance(shown, UserMessage) else ""
        new_id = store.fork(conv_id, message_id, include=role != "user")
        await self.open_conversation(new_id)
        prompt = self.query_one(PromptInput)
        if prompt_text:
            prompt.set_prompt(prompt_text)
        prompt.focus()
        if prompt_text:
            text = _(
                "Forked into a new conversation with that prompt ready to edit. The original is unchanged "
                "(Ctrl+B lists both)."
            )
        else:
            text = _(
                "Forked into a new conversation continuing from that answer. The original is unchanged "
                "(Ctrl+B lists both)."
            )
        self.notify(text)

    async def branch_point(self, turn: Turn) -> Turn | None:
        """Make ``turn`` the last turn of the conversation, to branch there: the active path is moved to
        end at it and the conversation shown again (the later turns stay in the history, on their
        branch). Returns the conversation's last turn now, or None when that cannot be done."""
        conversation = self.chat.conversation
        if conversation.turns and conversation.turns[-1] is turn:
            return turn
        store, conv_id = self.history_store, conversation.id
        leaf = turn.answer_id if turn.answer_id is not None else turn.prompt_id
        if store is None or conv_id is None or leaf is None:
            self.notify(_(NOT_STORED), severity="warning")
            return None
        try:
            store.set_active(conv_id, leaf, exact=True)
        except HolySheepError as exc:
            self.notify(exc.user_text(), title=_("History"), severity="error")
            return None
        await self.open_conversation(conv_id)
        turns = self.chat.conversation.turns
        return turns[-1] if turns and turns[-1].prompt_id == turn.prompt_id else None

    async def ask_again(self, turn: Turn, model: str | None = None) -> None:
        """A new answer to ``turn``'s prompt (from ``model`` when given) next to the ones it has."""
        at = await self.branch_point(turn)
        if at is not None:
            await self.send_prompt(at.prompt, branch=("answer", at), model=model)

    def _reask(self, turn: Turn) -> None:
        from holysheep_tui.tui.screens.model_picker import ModelPicker

        async def chosen(model: str | tuple[str, ...] | None) -> None:
            if isinstance(model, str) and model:
                await self.ask_again(turn, model)

        title = _("Ask this prompt again with another model (the answer there stays)")
        self.push_screen(ModelPicker(self.picker_rows(), turn.model, title=title), chosen)
