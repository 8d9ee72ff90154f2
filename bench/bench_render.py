"""Streaming render benchmark: StreamingMarkdown against Textual's Markdown + MarkdownStream.

A mixed Markdown answer (headings, lists, tables, code, Chinese) is fed in fragments of a few
tokens into each widget inside a headless App, and the process CPU time is measured for the whole
run, for the first 1k and the last 1k tokens, and for settling after the last token.

    .venv/bin/python bench/bench_render.py              # 2k, 8k, 20k tokens; full speed and 1000 tok/s
    .venv/bin/python bench/bench_render.py --sizes 2000 --rates 0 --repeat 3 --json out.json

At full speed the whole answer arrives faster than a frame, so the figures are mostly the final
render; the first/last 1k figures mean something in the paced runs, where frames are drawn as the
tokens arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from typing import Any

import textual
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown

from holysheep_tui.tui.markdown_stream import StreamingMarkdown

try:
    from holysheep_tui.simulator.content import mixed_markdown, split_tokens
except ImportError:  # the simulator is optional here: fall back to a local generator
    _TOKEN = re.compile(r"\s*(?:[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]|\w+|[^\s\w]+)|\s+")
    _LOCAL_BLOCKS = (
        "## 成本对比",
        "在成本方面，按 ¥1 = $1 结算，而市场汇率约为 ¥7.3，所以同样的美元标价，用人民币支付时实际花费"
        "大约只有原来的七分之一。See the [reference](https://example.com/docs) and `base_url`.",
        "| 模型 | 输出价格 | 上下文 |\n|---|---:|---:|\n| DeepSeek V3.2 | 0.42 | 128,000 |\n"
        "| Kimi K2 | 2.50 | 256,000 |",
        '```python\nimport httpx\n\nfor line in httpx.stream("GET", url).iter_lines():\n'
        '    if line.startswith("data:"):\n        print(line[5:].strip())\n```',
        "1. 创建 API Key\n2. 修改 `base_url`\n3. 选择模型，例如 **kimi-k2**",
        "- **延迟**：中转开销通常低于 50 ms\n- **支付**：支持微信、支付宝",
        "> 提示：不要把 API Key 写进代码仓库。",
    )

    def split_tokens(text: str) -> list[str]:
        return _TOKEN.findall(text)

    def mixed_markdown(tokens: int, seed: int = 0) -> str:
        rng = random.Random(seed)
        pieces: list[str] = []
        while len(pieces) < tokens:
            pieces.extend(split_tokens(rng.choice(_LOCAL_BLOCKS) + "\n\n"))
        return "".join(pieces[:tokens])


KINDS = ("streaming", "baseline")


@dataclass
class Run:
    kind: str
    tokens: int
    rate: float
    total_cpu: float
    first_1k_cpu: float
    last_1k_cpu: float
    settle_cpu: float
    wall: float
    fed_tokens: int
    note: str = ""


class _BenchApp(App[None]):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="pane"):
            yield StreamingMarkdown(id="answer") if self.kind == "streaming" else Markdown(id="answer")


def _fragments(tokens: int, seed: int, per: int) -> list[tuple[int, str]]:
    """(token count so far, fragment) pairs of ``per`` tokens each."""
    pieces = split_tokens(mixed_markdown(tokens, seed))
    return [(min(i + per, len(pieces)), "".join(pieces[i : i + per])) for i in range(0, len(pieces), per)]


async def _run(kind: str, tokens: int, seed: int, per: int, rate: float, budget: float) -> Run:
    fragments = _fragments(tokens, seed, per)
    total = fragments[-1][0] if fragments else 0
    marks: dict[str, float] = {}
    note = ""
    app = _BenchApp(kind)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.query_one("#pane", VerticalScroll)
        pane.anchor()
        write: Callable[[str], Coroutine[Any, Any, None]]
        stop: Callable[[], Coroutine[Any, Any, None]]
        if kind == "streaming":
            widget = app.query_one("#answer", StreamingMarkdown)

            async def write(fragment: str) -> None:
                widget.append(fragment)
                await asyncio.sleep(0)

            async def stop() -> None:
                widget.finish()
        else:
            stream = Markdown.get_stream(app.query_one("#answer", Markdown))
            write, stop = stream.write, stream.stop
        await pilot.pause()
        wall0 = time.perf_counter()
        cpu0 = marks["start"] = time.process_time()
        fed = 0
        for count, fragment in fragments:
            if fed < 1000 <= count:
                marks["first_1k"] = time.process_time()
            if fed < total - 1000 <= count:
                marks["last_1k_start"] = time.process_time()
            await write(fragment)
            fed = count
            if rate:  # keep to the schedule rather than sleeping a fixed time per fragment
                await asyncio.sleep(max(0.0, wall0 + count / rate - time.perf_counter()))
            if time.perf_counter() - wall0 > budget:
                note = f"stopped after {fed} tokens: over the {budget:.0f} s budget"
                break
        marks["fed"] = time.process_time()
        await stop()
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        marks["settled"] = time.process_time()
        wall = time.perf_counter() - wall0
    first = marks.get("first_1k", marks["fed"]) - cpu0
    last = marks["fed"] - marks.get("last_1k_start", cpu0)
    return Run(
        kind=kind,
        tokens=total,
        rate=rate,
        total_cpu=marks["settled"] - cpu0,
        first_1k_cpu=first,
        last_1k_cpu=last,
        settle_cpu=marks["settled"] - marks["fed"],
        wall=wall,
        fed_tokens=fed,
        note=note,
    )


def _speed(rate: float) -> str:
    return f"{rate:g} tok/s" if rate else "full"


def _median_run(runs: list[Run]) -> Run:
    def med(attr: str) -> float:
        return float(statistics.median(getattr(run, attr) for run in runs))

    first = runs[0]
    return Run(
        kind=first.kind,
        tokens=first.tokens,
        rate=first.rate,
        total_cpu=med("total_cpu"),
        first_1k_cpu=med("first_1k_cpu"),
        last_1k_cpu=med("last_1k_cpu"),
        settle_cpu=med("settle_cpu"),
        wall=med("wall"),
        fed_tokens=min(run.fed_tokens for run in runs),
        note="; ".join(sorted({run.note for run in runs if run.note})),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 8000, 20000])
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--fragment", type=int, default=4, help="tokens per fragment")
    parser.add_argument(
        "--rates", type=float, nargs="+", default=[0.0, 1000.0], help="tokens per second; 0 = full speed"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; medians are reported")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--budget", type=float, default=60.0, help="wall seconds before a run is cut short")
    parser.add_argument(
        "--baseline-skip-after",
        type=float,
        default=60.0,
        help="skip larger baseline cases once a baseline run took this many CPU seconds",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)

    for kind in args.kinds:  # load lexers and widget code once, untimed
        asyncio.run(_run(kind, 3000, args.seed + 1, args.fragment, 0.0, args.budget))
    results: list[Run] = []
    skipped: list[str] = []
    for rate in args.rates:
        baseline_slow = False
        for size in args.sizes:
            for kind in args.kinds:
                if kind == "baseline" and baseline_slow:
                    skipped.append(
                        f"baseline {size} tokens at {_speed(rate)}: skipped, a smaller baseline run took "
                        f"over {args.baseline_skip_after:.0f} s of CPU or was cut short"
                    )
                    continue
                runs = [
                    asyncio.run(_run(kind, size, args.seed, args.fragment, rate, args.budget))
                    for _ in range(args.repeat)
                ]
                run = _median_run(runs)
                results.append(run)
                print(
                    f"  {kind:9} {size:6} tokens {_speed(rate):>10}: {run.total_cpu:7.2f} s CPU {run.note}",
                    file=sys.stderr,
                )
                if kind == "baseline" and (run.total_cpu > args.baseline_skip_after or run.note):
                    baseline_slow = True

    print(
        f"\nPython {platform.python_version()}, Textual {textual.__version__}, {os.cpu_count()} cores, "
        f"fragments of {args.fragment} tokens, 160x48, medians of {args.repeat}; CPU in seconds"
    )
    print(
        f"{'widget':10} {'speed':>10} {'tokens':>7} {'CPU total':>10} {'first 1k':>9} {'last 1k':>9} "
        f"{'last/first':>10} {'settle':>8} {'wall':>7}  vs baseline"
    )
    by_case = {(run.kind, run.tokens, run.rate): run for run in results}
    for run in results:
        ratio = run.last_1k_cpu / run.first_1k_cpu if run.first_1k_cpu else float("nan")
        base = by_case.get(("baseline", run.tokens, run.rate))
        versus = f"{run.total_cpu / base.total_cpu:.3f}x" if base and run.kind != "baseline" else ""
        print(
            f"{run.kind:10} {_speed(run.rate):>10} {run.tokens:7} {run.total_cpu:10.2f} {run.first_1k_cpu:9.3f} "
            f"{run.last_1k_cpu:9.3f} {ratio:10.2f} {run.settle_cpu:8.2f} {run.wall:7.2f}  {versus} {run.note}"
        )
    for line in skipped:
        print(line)
    if args.json:
        payload = {
            "python": platform.python_version(),
            "textual": textual.__version__,
            "cores": os.cpu_count(),
            "fragment_tokens": args.fragment,
            "rates": args.rates,
            "repeat": args.repeat,
            "runs": [asdict(run) for run in results],
            "skipped": skipped,
        }
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
