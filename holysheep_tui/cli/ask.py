"""``holysheep ask``: one prompt, the answer streamed to stdout, a summary on stderr."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Coroutine, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from holysheep_tui.chat.compare import MAX_MODELS, MIN_MODELS
from holysheep_tui.chat.controller import ConversationController
from holysheep_tui.chat.conversation import Conversation, Turn, turn_record
from holysheep_tui.chat.session import Session, open_session
from holysheep_tui.cli.ask_text import estimate_line, retrying_text, summary_line
from holysheep_tui.cli.attach import attached_line, attachments_json, check_models, load_files
from holysheep_tui.cli.continuing import check_continue_flags, currency_view, fit_conversation
from holysheep_tui.errors import EXIT_OK, HolySheepError, UsageError
from holysheep_tui.i18n import _
from holysheep_tui.relay.wire import ContentDelta, ReasoningDelta, RetryScheduled, StreamEvent
from holysheep_tui.textsafety import inert_json, one_line, strip_control

if TYPE_CHECKING:
    from holysheep_tui.chat.attachments import Attachment


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "ask",
        parents=[common],
        help=_("ask one question and stream the answer to stdout"),
        description=_(
            "Send one prompt and stream the answer to stdout. The prompt comes from the arguments, "
            "or from stdin when it is piped or given as '-'."
        ),
    )
    p.add_argument("prompt", nargs="*", help=_("the prompt (default: read stdin)"))
    p.add_argument(
        "--models",
        metavar="A,B,...",
        help=_(
            "send the prompt to 2 to 8 models at once (comma-separated; not with -m): each answer printed as "
            "it ends, with its figures; with --json one object per model"
        ),
    )
    p.add_argument(
        "-a",
        "--attach",
        action="append",
        metavar="FILE",
        help=_(
            "send FILE with the prompt (repeatable): an image (PNG, JPEG, WebP, GIF; for a model that reads "
            "images) or a text file (code, Markdown, CSV, JSON, logs; sent as a fenced block under its name)"
        ),
    )
    p.add_argument("-s", "--system", help=_("system prompt"))
    p.add_argument("--temperature", type=float, help=_("sampling temperature"))
    p.add_argument("--max-tokens", type=int, help=_("limit on the answer's length in tokens"))
    p.add_argument(
        "--no-stream", action="store_true", help=_("wait for the whole answer instead of streaming")
    )
    p.add_argument("--show-reasoning", action="store_true", help=_("stream the model's reasoning to stderr"))
    p.add_argument(
        "--max-retries", type=int, metavar="N", help=_("retries before the first answer byte (0: none)")
    )
    p.add_argument("--timeout", type=float, metavar="SECONDS", help=_("read time-out between chunks"))
    p.add_argument("-q", "--quiet", action="store_true", help=_("no summary line on stderr"))
    p.add_argument(
        "--json", action="store_true", help=_("print one JSON object at the end instead of streaming")
    )
    p.add_argument(
        "--no-history", action="store_true", help=_("do not record this exchange in the local history")
    )
    p.add_argument(
        "--over-budget", action="store_true", help=_("send even when the profile's budget is spent")
    )
    p.add_argument(
        "-c",
        "--continue",
        dest="continue_last",
        action="store_true",
        help=_("continue the profile's last conversation (its active path, its model unless -m)"),
    )
    p.add_argument(
        "--conversation", metavar="ID", help=_("continue the conversation ID (a unique prefix will do)")
    )
    p.add_argument(
        "--fit",
        choices=("compact", "recent", "fail"),
        default="fail",
        help=_(
            "when the conversation is longer than the model's window: compact it into a summary, send only "
            "the recent turns that fit, or fail (default; exit 10, naming the ways out)"
        ),
    )
    p.add_argument(
        "--compact-model",
        metavar="MODEL",
        help=_(
            "the model that writes the summary for --fit compact (default: the cheapest whose window reads "
            "it all)"
        ),
    )
    p.set_defaults(func=run)


def read_prompt(args: argparse.Namespace) -> str:
    words: list[str] = args.prompt
    if words and words != ["-"]:
        text = " ".join(words)
    elif words == ["-"] or not sys.stdin.isatty():
        text = sys.stdin.read()
    else:
        raise UsageError(
            _("No prompt given."), hint=_('Usage: holysheep ask "your question"  (or pipe text into it)')
        )
    if not text.strip():
        raise UsageError(_("The prompt is empty."))
    return text


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except HolySheepError as exc:
        if args.json:  # every failure of --json prints the object, the request's or not (usage, config, key)
            print(inert_json(json.dumps({"error": error_json(exc)}, ensure_ascii=False)), flush=True)
        raise


INTERRUPTED_ERROR: dict[str, Any] = {
    "type": "interrupted",
    "status": None,
    "message": "Stopped by Ctrl-C; the partial answer was kept.",
}


def error_json(exc: HolySheepError) -> dict[str, Any]:
    """The ``error`` object of ``ask --json``: as in an answer's record."""
    return {"type": exc.kind, "status": getattr(exc, "status", None), "message": exc.user_text()}


def _run(args: argparse.Namespace) -> int:
    if args.max_retries is not None and args.max_retries < 0:
        raise UsageError(_("--max-retries must be 0 or more."))
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError(_("--timeout must be a positive number of seconds."))
    models = compared_models(args)
    check_continue_flags(args, models)
    prompt = read_prompt(args)
    attachments = load_files(args.attach)
    session = open_session(profile=args.profile, base_url=args.base_url, model=args.model, demo=args.demo)
    stop = StopOnInterrupt()
    try:
        if models:
            return asyncio.run(stop.run(_compare(args, session, prompt, models, attachments)))
        return asyncio.run(stop.run(_ask(args, session, prompt, attachments)))
    except asyncio.CancelledError:
        if stop.fired:
            raise KeyboardInterrupt from None
        raise
    finally:
        session.close()


def compared_models(args: argparse.Namespace) -> list[str]:
    """The models of ``--models a,b,c``: 2 to 8 names, no repeats, not with -m; none without the flag."""
    if args.models is None:
        return []
    if args.model is not None:
        raise UsageError(
            _("--models and -m/--model cannot be used together."), hint=_("Put every model in --models.")
        )
    if args.no_stream:
        raise UsageError(_("--models streams every answer; it cannot be used with --no-stream."))
    models = [name.strip() for name in args.models.split(",")]
    if any(not name for name in models):
        raise UsageError(
            _("--models has an empty name."), hint=_("Separate the names by commas: --models kimi-k2,gpt-4.1")
        )
    if len(models) < MIN_MODELS:
        raise UsageError(
            _("--models needs at least {least} models.").format(least=MIN_MODELS),
            hint=_("For one model use -m/--model."),
        )
    if len(models) > MAX_MODELS:
        raise UsageError(
            _("--models takes at most {most} models; {count} were given.").format(
                most=MAX_MODELS, count=len(models)
            )
        )
    repeated = sorted({one_line(name) for name in models if models.count(name) > 1})
    if repeated:
        raise UsageError(_("--models names {names} more than once.").format(names=", ".join(repeated)))
    return models


class StopOnInterrupt:
    """Ctrl-C stops the turn: the first cancels it (the controller stores what arrived as stopped); later
    ones are ignored until the process ends, so none can cut that storing short.

    (asyncio's own handler raises KeyboardInterrupt at the second Ctrl-C wherever the code is, even in the
    middle of the final history write: the answer was then left as its last half-second flush.)
    """

    def __init__(self) -> None:
        self.fired = False
        self._task: asyncio.Task[Any] | None = None

    async def run(self, coro: Coroutine[Any, Any, int]) -> int:
        self._task = asyncio.current_task()
        previous = signal.getsignal(signal.SIGINT)
        if self._task is None or previous is None or previous == signal.SIG_IGN:
            return await coro
        signal.signal(signal.SIGINT, self._interrupted)
        try:
            return await coro
        finally:
            if not self.fired:
                signal.signal(signal.SIGINT, previous)

    def _interrupted(self, signum: int, frame: FrameType | None) -> None:
        if self.fired or self._task is None:
            return
        self.fired = True
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self._task.cancel()
        self._task.get_loop().call_soon_threadsafe(lambda: None)  # wake the loop from its wait


def _profile_with_flags(session: Session, args: argparse.Namespace) -> Any:
    updates: dict[str, Any] = {}
    if args.max_retries is not None:
        updates["retry"] = session.profile.retry.model_copy(update={"max_retries": args.max_retries})
    if args.timeout is not None:
        updates["timeouts"] = session.profile.timeouts.model_copy(update={"read": args.timeout})
    return session.profile.model_copy(update=updates) if updates else session.profile


def _open_extras(args: argparse.Namespace, session: Session) -> dict[str, Any]:
    """History, metrics and prices; each optional, none may stop the answer."""
    extras: dict[str, Any] = {}
    try:
        from holysheep_tui.economics.prices import PriceBook

        extras["prices"] = PriceBook(session.config.pricing)
    except ImportError:
        pass
    try:
        from holysheep_tui.economics.metrics import MetricsLog

        extras["metrics"] = MetricsLog()
    except ImportError:
        pass
    if not args.no_history:
        from holysheep_tui.errors import StorageError

        try:
            from holysheep_tui.store import HistoryStore

            store = HistoryStore.open()
            if store.recovered_from is not None:
                damaged = _(
                    "the history database was damaged; it was moved to {path} and a new one was started."
                ).format(path=store.recovered_from)
                print("holysheep: " + _("warning: {text}").format(text=damaged), file=sys.stderr)
            store.recover_interrupted()
            extras["store"] = store
        except ImportError:
            pass
        except StorageError as exc:
            not_saved = _("history not saved: {reason}").format(reason=exc.message)
            print("holysheep: " + _("warning: {text}").format(text=not_saved), file=sys.stderr)
    return extras


def _controller(args: argparse.Namespace, session: Session) -> tuple[ConversationController, Conversation]:
    """The controller (on the profile with the command's flags, history, metrics and prices) and a new
    conversation; refuses to go on when the budget is spent (unless --over-budget)."""
    profile = _profile_with_flags(session, args)
    extras = _open_extras(args, session)
    if not session.is_demo and "metrics" in extras:
        from holysheep_tui.economics.budget import budget_status, check_budget

        check_budget(
            budget_status(session.profile_name, profile, extras["metrics"]), override=args.over_budget
        )
    controller = ConversationController(
        session.client(profile),
        profile_name=session.profile_name,
        on_warning=lambda msg: print(
            "holysheep: " + _("warning: {text}").format(text=strip_control(msg)), file=sys.stderr
        ),
        **extras,
    )
    from holysheep_tui.chat.context import TokenEstimator, TokenRates

    controller.estimator = TokenEstimator(TokenRates.open())
    conversation = Conversation(profile=session.profile_name, model=profile.model, system_prompt=args.system)
    return controller, conversation


async def _close(controller: ConversationController, store: Any) -> None:
    try:
        await controller.client.aclose()
    finally:
        if store is not None:
            store.close()


async def _ask(
    args: argparse.Namespace, session: Session, prompt: str, attachments: Sequence[Attachment] = ()
) -> int:
    tty = sys.stdout.isatty()
    out = sys.stdout
    err = sys.stderr
    controller, conversation = _controller(args, session)
    store = controller.store
    try:
        conversation, omit = await fit_conversation(
            args, session, controller, conversation, prompt, attachments
        )
    except BaseException:
        await _close(controller, store)
        raise
    if attachments and not args.quiet and not args.json:
        print(attached_line(attachments), file=err)
    streaming_out = not args.json
    wrote_reasoning = False

    def on_events(events: Sequence[StreamEvent]) -> None:
        nonlocal wrote_reasoning
        for event in events:  # each stream flushed before the other is written: the terminal keeps the order
            if isinstance(event, ContentDelta) and streaming_out:
                if wrote_reasoning:
                    err.flush()
                out.write(strip_control(event.text) if tty else event.text)
            elif isinstance(event, ReasoningDelta) and args.show_reasoning:
                out.flush()
                err.write(strip_control(event.text))
                wrote_reasoning = True
            elif isinstance(event, RetryScheduled) and not args.quiet:
                out.flush()
                print("holysheep: " + retrying_text(event), file=err)
        out.flush()
        err.flush()

    try:
        turn = await controller.run_turn(
            conversation,
            prompt,
            on_events=on_events,
            temperature=args.temperature,
            max_tokens=args.max_tokens,
            stream=not args.no_stream,
            omit=omit,
            attachments=attachments,
        )
    except asyncio.CancelledError:  # Ctrl-C: with --json, the stopped answer's object (error "interrupted")
        if args.json and conversation.turns:
            stopped = {**turn_json(conversation.turns[-1]), "error": INTERRUPTED_ERROR}
            print(inert_json(json.dumps(stopped, ensure_ascii=False)), file=out, flush=True)
        raise
    finally:
        await _close(controller, store)
    if args.no_stream and streaming_out and turn.answer.content:
        out.write(strip_control(turn.answer.content) if tty else turn.answer.content)
    if wrote_reasoning:
        err.write("\n")
    answer = turn.answer
    if streaming_out and answer.content and not answer.content.endswith("\n"):
        out.write("\n")
    if answer.refusal and streaming_out:
        print(_("[refused] {text}").format(text=strip_control(answer.refusal)), file=out)
    if args.json:
        print(inert_json(json.dumps(turn_json(turn), ensure_ascii=False)), file=out)
    out.flush()
    if turn.error is not None:
        said = _("{title}: {text}").format(title=_(turn.error.title), text=turn.error.user_text())
        print(strip_control(f"holysheep: {said}"), file=err)
        if answer.content and not args.json:
            print("holysheep: " + _("the partial answer above was kept."), file=err)
        return turn.error.exit_code
    if not args.quiet:
        print(summary_line(turn, currency_view(session)), file=err)
    return EXIT_OK


async def _compare(
    args: argparse.Namespace,
    session: Session,
    prompt: str,
    models: list[str],
    attachments: Sequence[Attachment] = (),
) -> int:
    """``ask --models``: every model at once; each answer printed as it ends (JSON Lines in model order)."""
    tty = sys.stdout.isatty()
    out, err = sys.stdout, sys.stderr
    controller, conversation = _controller(args, session)
    store = controller.store
    try:
        check_models(models, attachments, controller.prices)
    except BaseException:
        await _close(controller, store)
        raise
    if attachments and not args.quiet and not args.json:
        print(attached_line(attachments), file=err)
    if controller.prices is not None and not args.quiet:
        from holysheep_tui.chat.compare import estimate_comparison

        estimates = estimate_comparison(controller.prices, conversation, prompt, models, attachments)
        print(estimate_line(estimates), file=err)

    def on_events(leg: int, events: Sequence[StreamEvent]) -> None:
        for event in events:
            if isinstance(event, RetryScheduled) and not args.quiet:
                print(f"holysheep: {one_line(models[leg])}: {retrying_text(event)}", file=err)
        err.flush()

    def on_leg_end(leg: int, turn: Turn) -> None:
        if args.json or turn.status == "stopped":  # stopped: Ctrl-C, the process is on its way out
            return
        clean = strip_control if tty else str
        name = one_line(models[leg])
        if args.show_reasoning and turn.answer.reasoning:
            head = _("── {model} ({number}/{count}) reasoning ──").format(
                model=name, number=leg + 1, count=len(models)
            )
            err.write(f"{head}\n{strip_control(turn.answer.reasoning).rstrip()}\n")
            err.flush()
        lines = [f"── {name} ({leg + 1}/{len(models)}) ──"]
        if turn.answer.content:
            lines.append(clean(turn.answer.content).rstrip("\n"))
        if turn.answer.refusal:
            lines.append(_("[refused] {text}").format(text=strip_control(turn.answer.refusal)))
        if turn.error is not None:
            failed = _("error: {title}: {text}").format(
                title=_(turn.error.title), text=turn.error.user_text()
            )
            lines.append(strip_control(failed))
            if turn.answer.content:
                lines.append(_("(the partial answer above was kept)"))
        elif not args.quiet:
            lines.append(summary_line(turn, currency_view(session)))
        out.write("\n".join(lines) + "\n\n")
        out.flush()

    try:
        legs = await controller.run_comparison(
            conversation,
            prompt,
            models,
            on_events=on_events,
            on_leg_end=on_leg_end,
            temperature=args.temperature,
            max_tokens=args.max_tokens,
            attachments=attachments,
        )
    finally:
        await _close(controller, store)
    if args.json:
        for index, turn in enumerate(legs):
            print(inert_json(json.dumps({**turn_json(turn), "leg": index}, ensure_ascii=False)), file=out)
        out.flush()
    failed = [turn for turn in legs if turn.error is not None]
    for turn in failed:
        assert turn.error is not None
        said = _("{title}: {text}").format(title=_(turn.error.title), text=turn.error.user_text())
        print(strip_control(f"holysheep: {one_line(turn.model)}: {said}"), file=err)
    return failed[0].error.exit_code if failed and failed[0].error is not None else EXIT_OK


def turn_json(turn: Turn) -> dict[str, Any]:
    data = turn_record(turn)
    if data["error"] is None:
        del data["error"]  # `ask --json` adds "error" only on failure
    if turn.attachments:
        data["attachments"] = attachments_json(turn.attachments)
    return data
