"""``holysheep batch``: answer every prompt of a file, results as JSON lines, progress and summary on stderr."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any, TextIO

from holysheep_tui.chat.batch import BatchOutput, BatchRunner, BatchSummary, read_items
from holysheep_tui.chat.controller import ConversationController
from holysheep_tui.chat.session import Session, open_session
from holysheep_tui.economics.money import CurrencyView
from holysheep_tui.economics.prices import Cost
from holysheep_tui.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, UsageError
from holysheep_tui.i18n import _, ngettext, sentences
from holysheep_tui.textsafety import strip_control

MAX_CONCURRENCY = 64
_BAR = 20


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "batch",
        parents=[common],
        help=_("answer every prompt of a file; results as JSON lines"),
        description=_(
            "Answer each prompt of INPUT (text: one prompt per line; JSONL: objects with id and "
            "prompt or messages, optional model) and write one JSON line per item to OUT. Running again with "
            "the same OUT skips items already answered. Exit status: 0 all ok, 1 some items failed, "
            "130 interrupted, or the error's own code when the run stopped (auth 3, quota 4, budget 11)."
        ),
    )
    p.add_argument("input", metavar="INPUT", help=_("prompts file (.txt or .jsonl; '-' reads stdin)"))
    p.add_argument(
        "-o", "--output", metavar="OUT", required=True, help=_("results file (JSON lines, appended)")
    )
    p.add_argument(
        "-c", "--concurrency", type=int, default=4, metavar="N", help=_("requests in flight (default 4)")
    )
    p.add_argument("-s", "--system", help=_("system prompt for every item"))
    p.add_argument(
        "--max-retries",
        type=int,
        metavar="N",
        help=_("retries per item, before the first byte and after a cut-off answer (default: the profile's)"),
    )
    p.add_argument("--timeout", type=float, metavar="SECONDS", help=_("read time-out between chunks"))
    p.add_argument(
        "--over-budget", action="store_true", help=_("run even when the profile's budget is spent")
    )
    p.add_argument("-q", "--quiet", action="store_true", help=_("no progress line"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        raise UsageError(_("--concurrency must be between 1 and {most}.").format(most=MAX_CONCURRENCY))
    if args.max_retries is not None and args.max_retries < 0:
        raise UsageError(_("--max-retries must be 0 or more."))
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError(_("--timeout must be a positive number of seconds."))
    items = read_items(args.input)
    out_path = Path(args.output)
    if args.input != "-" and out_path.exists() and out_path.resolve() == Path(args.input).resolve():
        raise UsageError(_("OUT must be another file than INPUT."))
    output = BatchOutput.open(out_path, rerun={item.key for item in items})
    err = sys.stderr
    try:
        if output.repaired:
            torn = _("removed a torn last line from {path} (left by an interrupted run)").format(
                path=out_path
            )
            print(f"holysheep: {torn}", file=err)
        session = open_session(profile=args.profile, base_url=args.base_url, model=args.model, demo=args.demo)
        try:
            return _run(args, session, items, output, err)
        finally:
            session.close()
    finally:
        output.close()


def _run(
    args: argparse.Namespace, session: Session, items: list[Any], output: BatchOutput, err: TextIO
) -> int:
    updates: dict[str, Any] = {}
    profile = session.profile
    if args.max_retries is not None:
        updates["retry"] = profile.retry.model_copy(update={"max_retries": args.max_retries})
    if args.timeout is not None:
        updates["timeouts"] = profile.timeouts.model_copy(update={"read": args.timeout})
    profile = profile.model_copy(update=updates) if updates else profile
    from holysheep_tui.economics.metrics import MetricsLog
    from holysheep_tui.economics.prices import PriceBook

    metrics = MetricsLog()
    budget = None
    if not session.is_demo and not args.over_budget:
        from holysheep_tui.economics.budget import budget_status, check_budget

        budget = budget_status(session.profile_name, profile, metrics)
        check_budget(budget)
        budget = budget if budget.lines else None
    view = CurrencyView.from_config(session.config.pricing)
    progress = ProgressLine(err, tty=err.isatty(), view=view, quiet=args.quiet)
    client = session.client(profile)
    controller = ConversationController(
        client,
        profile_name=session.profile_name,
        metrics=metrics,
        prices=PriceBook(session.config.pricing),
        on_warning=lambda msg: print(
            "holysheep: " + _("warning: {text}").format(text=strip_control(msg)), file=err
        ),
    )
    runner = BatchRunner(
        controller,
        items,
        output,
        model=profile.model,
        system=args.system,
        concurrency=args.concurrency,
        max_retries=profile.retry.max_retries,
        retry_policy=profile.retry,
        budget=budget,
        on_progress=progress.update,
    )

    async def main() -> BatchSummary:
        try:
            return await runner.run()
        finally:
            await client.aclose()

    try:
        summary = asyncio.run(main())
    except KeyboardInterrupt:
        progress.finish()
        print(summary_text(runner.summary, view, output.path), file=err)
        written = ngettext(
            "interrupted; {count} item written to {path}.",
            "interrupted; {count} items written to {path}.",
            runner.summary.done,
        ).format(count=runner.summary.done, path=output.path)
        resume = _("Run the same command again to resume: finished items are skipped.")
        print("holysheep: " + sentences(written, resume), file=err)
        return EXIT_INTERRUPTED
    progress.finish()
    print(summary_text(summary, view, output.path), file=err)
    if summary.stopped_by is not None:
        stop = summary.stopped_by
        said = _("{title}: {text}").format(title=_(stop.title), text=stop.user_text())
        print(strip_control(f"holysheep: {said}"), file=err)  # the relay's words
        print("holysheep: " + _("the batch stopped; run the same command again to resume."), file=err)
        return stop.exit_code
    return EXIT_OK if summary.failed == 0 else EXIT_ERROR


class ProgressLine:
    """One updating line on a terminal; elsewhere a line at every tenth of the way."""

    def __init__(self, stream: TextIO, *, tty: bool, view: CurrencyView, quiet: bool = False) -> None:
        self.stream = stream
        self.tty = tty
        self.view = view
        self.quiet = quiet
        self._shown_tenths = -1
        self._drawn = False

    def update(self, s: BatchSummary) -> None:
        if self.quiet or s.to_run == 0:
            return
        if self.tty:
            self.stream.write("\r\x1b[2K" + progress_text(s, self.view))
            self._drawn = True
        else:
            tenths = s.done * 10 // s.to_run
            if tenths <= self._shown_tenths:
                return
            self._shown_tenths = tenths
            self.stream.write(progress_text(s, self.view) + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._drawn = False


def progress_text(s: BatchSummary, view: CurrencyView) -> str:
    filled = s.done * _BAR // s.to_run if s.to_run else _BAR
    parts = [f"[{'#' * filled}{'.' * (_BAR - filled)}] {s.done}/{s.to_run}"]
    if s.failed:
        parts.append(_("{count} failed").format(count=s.failed))
    tps = s.tokens_per_second
    if tps:
        parts.append(f"{tps:.0f} tok/s")
    parts.append(view.format(s.cost_usd, estimated=s.cost_estimated))
    if s.eta is not None and s.done < s.to_run:
        parts.append(_("ETA {time}").format(time=_duration(s.eta)))
    return " · ".join(parts)


def summary_text(s: BatchSummary, view: CurrencyView, out: Path) -> str:
    lines = [
        _("batch: {items} items · {ok} ok · {failed} failed · {skipped} skipped (done before)").format(
            items=s.items, ok=s.ok, failed=s.failed, skipped=s.skipped
        )
    ]
    if s.interrupted or s.stopped_by is not None:
        lines.append(_("not run: {count}").format(count=s.to_run - s.done))
    lines.append(
        _("tokens: {prompt:,} prompt + {completion:,} completion = {total:,}").format(
            prompt=s.prompt_tokens, completion=s.completion_tokens, total=s.tokens
        )
    )
    cost = view.describe(Cost(s.cost_usd, s.cost_estimated))
    if s.unpriced:
        cost += _("; price unknown for {count} items").format(count=s.unpriced)
    lines.append(_("cost: {cost}").format(cost=cost))
    if s.latencies:
        lines.append(_("latency: p50 {p50:.2f} s · p95 {p95:.2f} s").format(p50=s.p50 or 0, p95=s.p95 or 0))
    lines.append(_("time: {time} · results: {path}").format(time=_duration(s.elapsed), path=out))
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
