"""``holysheep ask -c`` / ``--conversation`` / ``--fit``: the stored conversation a prompt continues, and
what is done when it will not fit the model's window (compact, recent turns, or fail with the ways out)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from holysheep_tui.chat.controller import ConversationController
from holysheep_tui.chat.conversation import Conversation
from holysheep_tui.chat.session import Session
from holysheep_tui.cli.ask_text import money_text
from holysheep_tui.cli.attach import check_models
from holysheep_tui.errors import UsageError
from holysheep_tui.i18n import _, ngettext, sentences
from holysheep_tui.textsafety import one_line

if TYPE_CHECKING:
    from holysheep_tui.chat.attachments import Attachment
    from holysheep_tui.economics.money import CurrencyView


def check_continue_flags(args: argparse.Namespace, models: Sequence[str]) -> None:
    """-c / --conversation need the history and one model; --compact-model goes with --fit compact."""
    continuing = args.continue_last or args.conversation is not None
    if args.continue_last and args.conversation is not None:
        raise UsageError(_("-c/--continue and --conversation cannot be used together."))
    if continuing and args.no_history:
        raise UsageError(
            _("Continuing a conversation needs the history; --no-history cannot be used with it.")
        )
    if continuing and models:
        raise UsageError(_("--models cannot continue a conversation."), hint=_("Use -m/--model with -c."))
    if args.compact_model is not None and args.fit != "compact":
        raise UsageError(_("--compact-model goes with --fit compact."))


async def fit_conversation(
    args: argparse.Namespace,
    session: Session,
    controller: ConversationController,
    conversation: Conversation,
    prompt: str,
    attachments: Sequence[Attachment] = (),
) -> tuple[Conversation, int]:
    """The conversation to send ``prompt`` (with ``attachments``) in (a stored one with -c /
    --conversation) and how many of its first turns to leave out, after the ``--fit`` choice when it will
    not fit the model's window. An image for a model that does not read images is refused first."""
    from holysheep_tui.chat.compaction import compact
    from holysheep_tui.chat.context import ContextWontFitError, Windows, plan_context

    if args.continue_last or args.conversation is not None:
        conversation = _stored_conversation(args, session, controller)
    earlier = [a for turn in conversation.turns for a in turn.attachments]
    check_models([conversation.model], [*attachments, *earlier], controller.prices)
    estimator = controller.estimator
    if estimator is None:
        return conversation, 0
    windows = Windows(controller.prices, overrides=session.config.context_windows)
    max_tokens = args.max_tokens if args.max_tokens is not None else conversation.max_tokens

    def plan() -> Any:
        assert estimator is not None
        return plan_context(
            conversation, prompt, conversation.model, windows=windows, estimator=estimator,
            prices=controller.prices, max_tokens=max_tokens, attachments=attachments,
        )  # fmt: skip

    found = plan()
    if found.fits:
        return conversation, 0
    ways = _("Choose with --fit compact or --fit recent, or -m MODEL for a model with a larger window.")
    if args.fit == "fail":
        raise ContextWontFitError(found.describe(), hint=ways)
    if args.fit == "recent":
        if found.recent is None:
            raise ContextWontFitError(
                sentences(found.describe(), _("Leaving out turns is not enough.")), hint=ways
            )
        if not args.quiet:
            sending = _("sending the recent turns only; left out: {left_out} (≈{tokens:,} tokens)")
            print("holysheep: " + sending.format(left_out=found.recent.left_out, tokens=found.recent.tokens),
                  file=sys.stderr)  # fmt: skip
        return conversation, found.recent.omit
    writer = args.compact_model or (found.compact.writers[0].model if found.compact is not None else None)
    if writer is None or found.compact is None:
        raise ContextWontFitError(sentences(found.describe(), _("No model can summarise it.")), hint=ways)
    if not args.quiet:
        compacting = _("compacting the conversation with {model}…").format(model=one_line(writer))
        print("holysheep: " + compacting, file=sys.stderr)
    summary = await compact(controller, conversation, writer, max_tokens=found.compact.summary_tokens)
    if not args.quiet:
        cost = (
            ""
            if summary.cost is None
            else " · " + money_text(summary.cost.usd, summary.cost.estimated, currency_view(session))
        )
        stored = ngettext("summary of {count} turn stored", "summary of {count} turns stored", summary.turns)
        print("holysheep: " + stored.format(count=summary.turns) + cost, file=sys.stderr)
    again = plan()
    if not again.fits:
        raise ContextWontFitError(sentences(again.describe(), _("Even after compaction.")), hint=ways)
    return conversation, 0


def _stored_conversation(
    args: argparse.Namespace, session: Session, controller: ConversationController
) -> Conversation:
    """The conversation -c / --conversation names, rebuilt from the history (its model unless -m)."""
    from holysheep_tui.chat.resume import rebuild_conversation

    store = controller.store
    if store is None:
        raise UsageError(_("The history could not be opened, so there is no conversation to continue."))
    if args.conversation is not None:
        cid = store.resolve_id(args.conversation)
    else:
        found = store.last_conversation_id(profile=session.profile_name)
        if found is None:
            raise UsageError(
                _("Profile {name!r} has no conversation to continue.").format(name=session.profile_name),
                hint=_('Start one with holysheep ask "..." first.'),
            )
        cid = found
    stored = store.get_conversation(cid)
    conversation = rebuild_conversation(stored, session.profile.model)
    if args.model is not None:
        conversation.model = args.model
    if args.system:
        controller.set_system_prompt(conversation, args.system)
    return conversation


def currency_view(session: Session) -> CurrencyView:
    from holysheep_tui.economics.money import CurrencyView

    return CurrencyView.from_config(session.config.pricing)
