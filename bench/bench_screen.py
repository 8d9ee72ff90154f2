"""Scenario 1 on a real terminal: chunk-to-screen delay, longest screen freeze and peak RSS while streaming.

``holysheep --base-url URL`` runs in a private tmux server (160x48) against a relay simulator in this
process (the ``--demo`` pacing: first token after 0.4 s, 3-token chunks); a prompt asks for a 4,000-token
mixed Markdown answer (model suffix ``+len=4000,tps=100`` and ``+len=4000,fast``). ``capture-pane`` is
polled; the answer text is deterministic (``mixed_markdown`` seeded by the prompt), so each poll says how
far into the answer the screen is. The simulator logs when each write left it (``RecordedRequest.sent``),
so a chunk's delay is the first poll showing it minus the moment it was sent, on one clock.

    .venv/bin/python bench/bench_screen.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Deadline,
    Result,
    Target,
    fmt,
    isolated_env,
    median,
    p95,
    peak_rss_mb,
    scratch_home,
    tree_cpu_time,
)
from bench_startup import APP_MARKER
from bench_typing import Tmux, status_lines

from holysheep_tui.simulator import RelaySimulator
from holysheep_tui.simulator.content import mixed_markdown, seed_of, split_tokens
from holysheep_tui.simulator.scenarios import DEMO_PACING
from holysheep_tui.simulator.server import RecordedRequest

PROMPT = "请写一篇很长的回答 long answer"
TTFT = 0.4  # the demo pacing's first-token delay (``fast`` makes it 0)
CHUNK = 3
POLL = 0.01
LAST_WORD_TARGET = 0.2
FREEZE_TARGET = 0.25
RSS_TARGET = 150.0
FULL_SPEED_CPU_TARGET = 3.0  # s of CPU for the 4,000-token answer at full speed
CORES_TARGET = 0.15  # at 100 tok/s
SLACK = 400  # characters the matched position may step back (a fragment seen again higher up)
_SPLIT = re.compile(r"\s{2,}|[│┃║|─━═┌┐└┘├┤┬┴┼╭╮╯╰▌▐█▎▊]")


class Answer:
    """The answer the simulator will stream, with the due time of every character."""

    def __init__(self, tokens: int, tps: float | None) -> None:
        self.text = mixed_markdown(tokens, seed=seed_of(PROMPT))
        parts = split_tokens(self.text)
        ttft = TTFT if tps else 0.0
        self.ends: list[int] = []  # character offset where chunk j ends
        self.token_ends: list[int] = []  # answer tokens up to the end of chunk j
        self.due: list[float] = []  # seconds after the request when chunk j is due by the pacing
        pos = 0
        for j in range(0, len(parts), CHUNK):
            pos += sum(len(p) for p in parts[j : j + CHUNK])
            self.ends.append(pos)
            self.token_ends.append(min(j + CHUNK, len(parts)))
            self.due.append(ttft + (j / tps if tps else 0.0))

    def arrivals(self, sent: list[tuple[float, int]], t0: float) -> list[float]:
        """When each chunk left the simulator (its write log), in seconds after the request."""
        out: list[float] = []
        i = 0
        for need in self.token_ends:
            while i < len(sent) and sent[i][1] < need:
                i += 1
            out.append(sent[min(i, len(sent) - 1)][0] - t0)
        return out

    def arrived_chars(self, t: float) -> int:
        """Characters sent by ``t`` seconds after the request (plus nothing else: an upper bound for matches)."""
        n = 0
        for end, due in zip(self.ends, self.due, strict=True):
            if due > t:
                break
            n = end
        return n

    def position(self, screen: str, prev: int, limit: int, bottom: int = 3) -> int:
        """The furthest answer offset visible on ``screen``, searched near ``prev``, at most ``limit``;
        the last ``bottom`` lines (a prompt, a status bar) are left out."""
        best = prev
        lines = screen.splitlines()
        lines = lines[: len(lines) - bottom]
        for line in lines:
            for run in _SPLIT.split(line):
                run = run.strip()
                if len(run) < 6:
                    if run and limit == len(self.text) and self.text.endswith(run):
                        best = limit  # the short tail of the whole answer
                    continue
                frag = run[-10:]
                at = self.text.find(frag, max(0, prev - SLACK), limit + len(frag))
                if at >= 0 and at + len(frag) <= limit:
                    best = max(best, at + len(frag))
        return best


def chat_request(sim: RelaySimulator, *, finished: bool = False) -> RecordedRequest:
    """The chat request as the simulator recorded it (``started`` and ``sent`` use ``time.monotonic``,
    CLOCK_MONOTONIC, as ``time.perf_counter`` does on Linux)."""
    deadline = Deadline(10)
    while not deadline.passed:
        chats = [r for r in sim.requests if r.path.endswith("/chat/completions")]
        if chats and (chats[0].finished or not finished):
            return chats[0]
        time.sleep(0.002)
    raise RuntimeError("the app sent no chat request")


def sim_model(tokens: int, tps: float | None) -> str:
    """The model name that makes the simulator stream a ``tokens`` answer at ``tps`` (None: full speed)."""
    return f"kimi-k2+len={tokens},tps={int(tps)}" if tps else f"kimi-k2+len={tokens},fast"


@dataclass
class Client:
    """A chat client to drive in tmux: typing PROMPT and Enter once ``ready`` is on screen asks for the answer."""

    name: str
    command: list[str]
    env: dict[str, str]
    ready: str
    busy: Callable[[str], bool]  # whether this screen says an answer is still arriving
    bottom: int = 3  # lines under the answer (prompt, status bar) that never show it


def holysheep_client(tokens: int, tps: float | None, home: Path, sim: RelaySimulator) -> Client:
    command = [
        sys.executable,
        "-m",
        "holysheep_tui",
        "--base-url",
        sim.base_url,
        "--model",
        sim_model(tokens, tps),
    ]
    env = isolated_env(home, HOLYSHEEP_API_KEY="sk-bench-placeholder")
    return Client("holysheep", command, env, APP_MARKER, lambda screen: "streaming" in status_lines(screen))


def measure(
    tokens: int, tps: float | None, home: Path, sim: RelaySimulator, client: Client | None = None
) -> dict[str, Any]:
    answer = Answer(tokens, tps)
    client = client or holysheep_client(tokens, tps, home, sim)
    sim.reset()
    tmux = Tmux(client.command, client.env)
    polls: list[tuple[float, int, bool]] = []  # (seconds after request, answer offset, screen changed)
    try:
        if tmux.wait_for(client.ready, 30) is None:
            raise RuntimeError(f"{client.name}: {client.ready!r} never drawn; screen:\n{tmux.screen()}")
        tmux.keys(PROMPT)
        if tmux.wait_for(PROMPT, 10) is None:
            raise RuntimeError("the prompt never appeared")
        cpu_before, wall_before = tree_cpu_time(tmux.pid), time.perf_counter()
        tmux.keys("Enter", literal=False)
        t0 = chat_request(sim).started
        last_due = answer.due[-1]
        deadline = Deadline(last_due + 30)
        pos, screen_before, idle_at = 0, "", None
        while not deadline.passed:
            screen = tmux.screen()
            t = time.perf_counter() - t0
            pos = answer.position(screen, pos, answer.arrived_chars(t + 0.02), client.bottom)
            polls.append((t, pos, screen != screen_before))
            screen_before = screen
            if t > last_due and not client.busy(screen):
                idle_at = t if idle_at is None else idle_at
            else:
                idle_at = None
            if pos >= len(answer.text) or (idle_at is not None and t > idle_at + 3):
                break
            time.sleep(POLL)
        cpu_after, wall_after = tree_cpu_time(tmux.pid), time.perf_counter()
        rss = peak_rss_mb(tmux.pid)
    finally:
        tmux.close()
    cpu = cpu_after - cpu_before if cpu_after is not None and cpu_before is not None else None
    # Chunk delays: first poll whose offset reaches the chunk's end, minus when the chunk left the simulator.
    rec = chat_request(sim, finished=True)
    arrived = answer.arrivals(rec.sent, t0)
    delays: list[float] = []
    i = 0
    for end, at in zip(answer.ends, arrived, strict=True):
        while i < len(polls) and polls[i][1] < end:
            i += 1
        if i == len(polls):
            break
        delays.append(max(0.0, polls[i][0] - at))
    complete = len(delays) == len(answer.ends)
    last_word = delays[-1] if complete else None
    # Longest freeze: longest interval between screen changes from the first chunk's arrival until the last
    # chunk was on screen (the last screen change when it never was: a client that stops following the answer).
    shown_end = polls[i][0] if complete else max((t for t, _, changed in polls if changed), default=0.0)
    changes = [t for t, _, changed in polls if changed and arrived[0] <= t <= shown_end]
    edges = [arrived[0], *changes, shown_end]
    freeze = max((b - a for a, b in zip(edges, edges[1:], strict=False)), default=0.0)
    gaps = [b[0] - a[0] for a, b in zip(polls, polls[1:], strict=False)]
    return {
        "tokens": tokens, "tps": tps, "chunks": len(answer.ends), "chunks_seen": len(delays),
        "delays_s": delays, "p50": median(delays), "p95": p95(delays), "last_word": last_word,
        "freeze": freeze, "rss_mb": rss, "polls": len(polls), "poll_interval": median(gaps),
        "cpu": cpu, "cores": cpu / (wall_after - wall_before) if cpu is not None else None,
        "wall": wall_after - wall_before,
        "streamed_for": last_due, "sent_for": arrived[-1] - arrived[0],
    }  # fmt: skip


def bench(tokens: int, repeat: int) -> Result:
    result = Result("screen", "1b. Streaming in a real terminal: screen delay, freezes, memory")
    result.columns = [
        "speed", "tokens", "chunks seen", "chunk-to-screen p50 s", "p95 s", "last word s",
        "longest freeze s", "peak RSS MB", "app CPU s", "app cores", "poll interval s",
    ]  # fmt: skip
    result.runs = repeat
    with scratch_home("screen") as home, RelaySimulator(pacing=DEMO_PACING) as sim:
        for tps in (100.0, None):
            runs = [measure(tokens, tps, home, sim) for _ in range(repeat)]
            result.data[f"tps={tps or 'fast'}"] = [
                {k: v for k, v in r.items() if k != "delays_s"} for r in runs
            ]

            def med(key: str, runs: list[dict[str, Any]] = runs) -> float | None:
                vals = [r[key] for r in runs if r[key] is not None]
                return median(vals) if vals else None

            label = f"{int(tps)} tok/s" if tps else "full speed"
            result.rows.append(
                [label, tokens, f"{min(r['chunks_seen'] for r in runs)}/{runs[0]['chunks']}", fmt(med("p50"), 3),
                 fmt(med("p95"), 3), fmt(med("last_word"), 3), fmt(med("freeze"), 3), fmt(med("rss_mb"), 1),
                 fmt(med("cpu"), 2), fmt(med("cores"), 3), fmt(med("poll_interval"), 3)]
            )  # fmt: skip
            result.targets += [
                Target(f"chunk-to-screen delay p50, {label}", med("p50"), LAST_WORD_TARGET, "s"),
                Target(f"chunk-to-screen delay p95, {label}", med("p95"), LAST_WORD_TARGET, "s"),
                Target(
                    f"last word on screen after its arrival, {label}", med("last_word"), LAST_WORD_TARGET, "s"
                ),
                Target(f"longest freeze while streaming, {label}", med("freeze"), FREEZE_TARGET, "s"),
                Target(f"peak RSS while streaming, {label}", med("rss_mb"), RSS_TARGET, "MB"),
                Target(f"app CPU for the whole answer, {label}", med("cpu"), FULL_SPEED_CPU_TARGET, "s")
                if tps is None
                else Target(f"app cores while streaming, {label}", med("cores"), CORES_TARGET, "cores"),
            ]
    result.notes.append(
        "tmux 160x48 on a private socket, `capture-pane` polled about every 10 ms (its own cost included: "
        "the poll interval column). The app talks to a relay simulator in the benchmark's process (the demo's "
        "pacing) over loopback. Delays run from the moment the simulator wrote a chunk to the socket (its "
        "write log) to the first poll showing it; a freeze is the longest interval without a screen change "
        "between the first chunk's sending and the last chunk on screen. Peak RSS is the app's VmHWM; app CPU "
        "is the whole app process's (user + system, /proc) from Enter until the last word was on screen, "
        "cores that over the same wall time. The chunk-to-screen rows use the last-word limit (0.2 s) "
        "as their yardstick."
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a 1,000-token answer, one run per speed")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    tokens, repeat = (1000, 1) if args.quick else (4000, max(1, min(args.repeat, 5)))
    result = bench(tokens, repeat)
    return result.report(args.json)


if __name__ == "__main__":
    raise SystemExit(main())
