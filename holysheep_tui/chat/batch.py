"""Batch runs: many prompts from a file, answered concurrently, one JSON line per item in an output file.

The core knows nothing of terminals: progress goes to a callback, the summary is a value. Every request
goes through the conversation controller, so cost and metrics follow the same path as ``ask``; no
history is kept for batch items.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from holysheep_tui.chat.attachments import Attachment
from holysheep_tui.chat.controller import ConversationController
from holysheep_tui.chat.conversation import Conversation, Turn, turn_record
from holysheep_tui.config import RetryPolicy
from holysheep_tui.economics.budget import BudgetStatus
from holysheep_tui.economics.stats import percentile
from holysheep_tui.errors import (
    AuthError,
    BudgetExceededError,
    HolySheepError,
    ProtocolError,
    QuotaError,
    ReadTimeoutError,
    StorageError,
    StreamCutError,
    UsageError,
)
from holysheep_tui.locations import data_dir, ensure_private_dir
from holysheep_tui.relay.retry import backoff_delay
from holysheep_tui.relay.wire import Answer, ChatMessage
from holysheep_tui.store.schema import replace_surrogates

MID_STREAM_RETRYABLE: tuple[type[HolySheepError], ...] = (StreamCutError, ReadTimeoutError)
"""Failures after the first answer byte that a fresh attempt may fix (the client retries only before it)."""
FATAL: tuple[type[HolySheepError], ...] = (AuthError, QuotaError)
"""Failures that no other item can escape: the batch stops starting new items."""
_ROLES = ("system", "user", "assistant")


# ---- input ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One prompt to answer. ``key`` is the id as text, used for duplicates and resume."""

    id: str | int
    line: int
    prompt: str | None = None
    messages: tuple[ChatMessage, ...] | None = None
    model: str | None = None

    @property
    def key(self) -> str:
        return str(self.id)


def parse_items(text: str, *, name: str = "INPUT", jsonl: bool | None = None) -> list[BatchItem]:
    """Items from text (one prompt per non-empty line) or JSONL; UsageError naming the bad line."""
    lines = text.splitlines()
    if jsonl is None:
        first = next((ln.strip() for ln in lines if ln.strip()), "")
        jsonl = first.startswith("{")
    items: list[BatchItem] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        if jsonl:
            items.append(_json_item(raw, number, name))
        else:
            items.append(BatchItem(str(number), number, prompt=raw.strip()))
    if not items:
        raise UsageError(
            f"{name} has no prompts.", hint="Give one prompt per line, or JSON lines with a prompt."
        )
    seen: dict[str, int] = {}
    for item in items:
        if item.key in seen:
            raise UsageError(
                f"{name} line {item.line}: id {item.key!r} was already used on line {seen[item.key]}."
            )
        seen[item.key] = item.line
    return items


def read_items(path: str) -> list[BatchItem]:
    """Read INPUT (``-`` is stdin); JSONL by the ``.jsonl`` extension or a first line starting with ``{``."""
    import sys

    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UsageError(f"{path} line {line}: not valid UTF-8.") from None
    return parse_items(text, name=path, jsonl=True if path.lower().endswith(".jsonl") else None)


def _json_item(raw: str, number: int, name: str) -> BatchItem:
    where = f"{name} line {number}"
    try:
        obj = json.loads(raw)
    except ValueError as exc:
        raise UsageError(f"{where}: not valid JSON ({exc}).") from None
    if not isinstance(obj, dict):
        raise UsageError(f"{where}: expected a JSON object with a prompt or messages.")
    item_id = obj.get("id", str(number))
    if isinstance(item_id, bool) or not isinstance(item_id, str | int) or item_id == "":
        raise UsageError(f"{where}: id must be a non-empty string or an integer.")
    model = obj.get("model")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise UsageError(f"{where}: model must be a non-empty string.")
    prompt, messages = obj.get("prompt"), obj.get("messages")
    if (prompt is None) == (messages is None):
        raise UsageError(f'{where}: give exactly one of "prompt" and "messages".')
    if prompt is not None:
        if not isinstance(prompt, str) or not prompt.strip():
            raise UsageError(f"{where}: prompt must be a non-empty string.")
        return BatchItem(item_id, number, prompt=prompt, model=model)
    if not isinstance(messages, list) or not messages:
        raise UsageError(f"{where}: messages must be a non-empty list.")
    parsed: list[ChatMessage] = []
    for i, msg in enumerate(messages, start=1):
        role = msg.get("role") if isinstance(msg, dict) else None
        content = msg.get("content") if isinstance(msg, dict) else None
        if role not in _ROLES or not isinstance(content, str):
            raise UsageError(
                f"{where}: message {i} needs a role (system, user or assistant) and a text content."
            )
        parsed.append(ChatMessage(role, content))
    return BatchItem(item_id, number, messages=tuple(parsed), model=model)


# ---- output --------------------------------------------------------------------------------------


class BatchOutput:
    """The results file: append-only JSON lines, each written whole by one ``write`` on an O_APPEND fd."""

    def __init__(
        self, path: Path, fd: int, done: set[str], *, repaired: bool, dropped: int, lock: int | None = None
    ) -> None:
        self.path = path
        self._fd: int | None = fd
        self._lock = lock
        self.done = done
        """Ids already recorded with status ok: skipped on this run."""
        self.repaired = repaired
        """A torn last line (from a killed run) was cut away."""
        self.dropped = dropped
        """Earlier error lines removed because their items run again."""

    @classmethod
    def open(cls, path: Path, *, rerun: set[str] | None = None) -> BatchOutput:
        """Open ``path`` for appending, reading what an earlier run finished.

        Error lines for ids in ``rerun`` are dropped (the item runs again and gets a fresh line); a torn
        last line is cut away. Raises UsageError when the file is not a batch output or another batch is
        writing it, StorageError on I/O.
        """
        lock = _lock_output(path)
        try:
            return cls._open(path, rerun, lock)
        except BaseException:
            if lock is not None:
                os.close(lock)
            raise

    @classmethod
    def _open(cls, path: Path, rerun: set[str] | None, lock: int | None) -> BatchOutput:
        try:
            data = path.read_bytes() if path.exists() else b""
        except OSError as exc:
            raise StorageError(f"Cannot read {path}: {exc.strerror or exc}.") from None
        cut = data.rfind(b"\n") + 1
        torn = cut < len(data)
        kept: list[bytes] = []
        done: set[str] = set()
        records: list[tuple[bytes, str, str]] = []
        for number, line in enumerate(data[:cut].split(b"\n")[:-1], start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            if not isinstance(obj, dict) or "id" not in obj or obj.get("status") not in ("ok", "error"):
                raise UsageError(
                    f"{path} line {number} is not a batch result line.",
                    hint="Choose another output file; batch only appends to its own results.",
                )
            records.append((line, str(obj["id"]), obj["status"]))
            if obj["status"] == "ok":
                done.add(str(obj["id"]))
        rerun = rerun or set()
        for line, key, status in records:
            if status == "error" and key in rerun and key not in done:
                continue
            kept.append(line)
        dropped = len(records) - len(kept)
        try:
            if torn or dropped:
                _replace(path, b"".join(line + b"\n" for line in kept))
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.fchmod(fd, 0o600)
        except OSError as exc:
            raise StorageError(f"Cannot write {path}: {exc.strerror or exc}.") from None
        return cls(path, fd, done, repaired=torn, dropped=dropped, lock=lock)

    def write(self, record: dict[str, Any]) -> None:
        if self._fd is None:
            raise StorageError(f"{self.path} is closed.")
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        line = replace_surrogates(text).encode()  # a relay's lone surrogate: U+FFFD, not a failed run
        try:
            written = os.write(self._fd, line)
            while written < len(line):  # a short write (full disk): finish the line or fail
                written += os.write(self._fd, line[written:])
        except OSError as exc:
            raise StorageError(f"Cannot write {self.path}: {exc.strerror or exc}.") from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._lock is not None:
            os.close(self._lock)  # closing drops the lock
            self._lock = None


def _lock_output(path: Path) -> int | None:
    """Hold an exclusive lock on OUT (by its real path) while this run writes it, so two batches never
    interleave their lines or rewrite each other's file. The lock file lives in the data directory, not
    beside OUT; the kernel drops the lock when the process ends, even by SIGKILL. None where there is no
    ``fcntl`` (Windows) or no writable data directory: the run goes on unlocked."""
    try:
        import fcntl
    except ImportError:
        return None
    digest = hashlib.sha256(os.path.realpath(path).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    try:
        lock_dir = ensure_private_dir(data_dir() / "batch-locks")
        fd = os.open(lock_dir / f"{digest}.lock", os.O_CREAT | os.O_RDWR, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 16, 0).decode(errors="replace").strip()
        os.close(fd)
        who = f" (pid {holder})" if holder.isdigit() else ""
        raise UsageError(
            f"Another holysheep batch{who} is writing {path}.",
            hint="Wait for it to finish (the same command then resumes), or choose another output file.",
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def result_record(item: BatchItem, turn: Turn, attempts: int) -> dict[str, Any]:
    """The output line for one item: the turn's record (as `ask --json`) with the item's id, status and attempts."""
    record = turn_record(turn)
    return {"id": item.id, "status": "ok" if turn.status == "complete" else "error", "attempts": attempts, **record}


# ---- progress and summary ------------------------------------------------------------------------


@dataclass(slots=True)
class BatchSummary:
    """What a run did so far; live while it runs, final when it returns or is interrupted."""

    items: int
    skipped: int = 0
    ok: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cost_estimated: bool = False
    unpriced: int = 0
    """Items whose model has no known price (not counted in cost_usd)."""
    latencies: list[float] = field(default_factory=list)
    """Seconds per successful item, from request to last byte."""
    started: float = field(default_factory=time.monotonic)
    elapsed: float = 0.0
    interrupted: bool = False
    stopped_by: HolySheepError | None = None
    """The fatal or budget error that made the run stop starting items."""

    @property
    def to_run(self) -> int:
        return self.items - self.skipped

    @property
    def done(self) -> int:
        return self.ok + self.failed

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def p50(self) -> float | None:
        return percentile(self.latencies, 50)

    @property
    def p95(self) -> float | None:
        return percentile(self.latencies, 95)

    @property
    def tokens_per_second(self) -> float | None:
        """Completion tokens per second of wall time over the whole run."""
        return self.completion_tokens / self.elapsed if self.elapsed > 0 and self.completion_tokens else None

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace so far; None before the first item finishes."""
        if not self.done or self.elapsed <= 0:
            return None
        return self.elapsed / self.done * (self.to_run - self.done)

    @property
    def complete(self) -> bool:
        return self.done == self.to_run and not self.interrupted and self.stopped_by is None

    def add(self, turn: Turn) -> None:
        usage, cost = turn.answer.usage, turn.cost
        if turn.status == "complete":
            self.ok += 1
            if turn.answer.timings.total is not None:
                self.latencies.append(turn.answer.timings.total)
        else:
            self.failed += 1
        if usage is not None:
            self.prompt_tokens += usage.prompt_tokens
            self.completion_tokens += usage.completion_tokens
        if cost is not None:
            self.cost_usd += cost.usd
            self.cost_estimated = self.cost_estimated or cost.estimated
        elif turn.status == "complete":
            self.unpriced += 1
        self.tick()

    def tick(self) -> None:
        self.elapsed = time.monotonic() - self.started


ProgressCallback = Callable[[BatchSummary], None]


# ---- the runner ----------------------------------------------------------------------------------


@dataclass
class _GivenMessages(Conversation):
    """A conversation that sends an item's own messages as they are."""

    given: tuple[ChatMessage, ...] = ()

    def messages_for(
        self, prompt: str, attachments: Sequence[Attachment] = (), *, omit: int = 0
    ) -> tuple[ChatMessage, ...]:
        return self.given


class BatchRunner:
    """Answers items with at most ``concurrency`` requests in flight; writes each result as it finishes.

    Cancelling ``run()`` cancels the items in flight; they are not written, so a later run retries them.
    """

    def __init__(
        self,
        controller: ConversationController,
        items: list[BatchItem],
        output: BatchOutput,
        *,
        model: str,
        system: str | None = None,
        concurrency: int = 4,
        max_retries: int = 2,
        retry_policy: RetryPolicy | None = None,
        budget: BudgetStatus | None = None,
        on_progress: ProgressCallback | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if concurrency < 1:
            raise UsageError("--concurrency must be 1 or more.")
        self.controller = controller
        self.output = output
        self.model = model
        self.system = system
        self.concurrency = concurrency
        self.max_retries = max(0, max_retries)
        self.retry_policy = retry_policy or RetryPolicy()
        self.budget = budget
        self._progress = on_progress or (lambda _s: None)
        self._sleep = sleep
        self.pending = [item for item in items if item.key not in output.done]
        self.summary = BatchSummary(items=len(items), skipped=len(items) - len(self.pending))

    async def run(self) -> BatchSummary:
        """Answer every pending item; returns the summary. Re-raises cancellation after marking it."""
        summary = self.summary
        summary.started = time.monotonic()
        self._progress(summary)
        queue: Iterator[BatchItem] = iter(self.pending)
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self.concurrency, len(self.pending))):
                    group.create_task(self._worker(queue))
        except asyncio.CancelledError:
            summary.interrupted = True
            summary.tick()
            raise
        except BaseExceptionGroup as group_error:  # a worker failed: surface its own error
            summary.tick()
            raise group_error.exceptions[0] from None
        summary.tick()
        return summary

    async def _worker(self, queue: Iterator[BatchItem]) -> None:
        for item in queue:
            if self.summary.stopped_by is not None:
                return
            turn, attempts = await self._answer(item)
            self.output.write(result_record(item, turn, attempts))
            self.summary.add(turn)
            self._check_stop(turn)
            self._progress(self.summary)

    async def _answer(self, item: BatchItem) -> tuple[Turn, int]:
        attempts = 0
        while True:
            attempts += 1
            conversation, prompt = self._conversation(item)
            model = item.model or self.model
            try:
                turn = await self.controller.run_turn(conversation, prompt, model=model)
            except Exception as exc:  # what a hostile answer broke fails this item only
                error = ProtocolError(f"The answer could not be processed ({type(exc).__name__}: {exc}).")
                return Turn(prompt, model, Answer(model=model), status="error", error=error), attempts
            retry = attempts - 1 < self.max_retries and isinstance(turn.error, MID_STREAM_RETRYABLE)
            if not retry or self.summary.stopped_by is not None:
                return turn, attempts
            await self._sleep(backoff_delay(self.retry_policy, attempts))

    def _conversation(self, item: BatchItem) -> tuple[Conversation, str]:
        profile, model = self.controller.profile_name, item.model or self.model
        if item.messages is None:
            return Conversation(profile=profile, model=model, system_prompt=self.system), item.prompt or ""
        given = item.messages
        if self.system and not any(m.role == "system" for m in given):
            given = (ChatMessage("system", self.system), *given)
        prompt = next((m.text for m in reversed(given) if m.role == "user"), "")
        return _GivenMessages(profile=profile, model=model, given=given), prompt

    def _check_stop(self, turn: Turn) -> None:
        if self.summary.stopped_by is not None:
            return
        if isinstance(turn.error, FATAL):
            self.summary.stopped_by = turn.error
            return
        if self.budget is not None and turn.cost is not None:
            self.budget = self.budget.rolled(date.today()).with_spend(turn.cost.usd)  # a run past midnight
            if self.budget.level == "over":
                self.summary.stopped_by = BudgetExceededError(
                    f"The budget of profile '{self.budget.profile}' is used up: {self.budget.summary()}.",
                    hint="Pass --over-budget to go on anyway; finished items are kept.",
                )
