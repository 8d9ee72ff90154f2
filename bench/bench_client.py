"""Scenario 4, client throughput: RelayClient against raw httpx line iteration on one 100,000-chunk stream.

The simulator runs in its own process (``holysheep simulate``) so its CPU does not count; each
consumer runs in a fresh process and reports the CPU time it spent from sending the request to
the end of the stream. Four consumers, alternated:

- ``httpx-raw``: ``AsyncClient.stream`` + ``aiter_raw()``, only counting reads (the transport's own cost);
- ``httpx``: ``AsyncClient.stream`` + ``aiter_lines()``, counting ``data:`` lines (the issue's baseline);
- ``httpx+json``: the same plus ``json.loads`` of every event (the least any client that reads them does);
- ``client``: ``RelayClient.stream_chat_batches``, the typed events of each network read in a list (what the
  conversation controller, and so the app, ``ask`` and ``batch``, consume), every event looked at;
- ``client-events``: ``RelayClient.stream_chat``, the same events one generator step each (not in the target).

    .venv/bin/python bench/bench_client.py [--quick] [--repeat 5] [--json out.json] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, Result, Target, cpu_time, fmt, isolated_env, median, scratch_home

MODEL = "kimi-k2+len={tokens},chunk=1,fast"
KINDS = ("httpx-raw", "httpx", "httpx+json", "client", "client-events")
TARGET_RATIO = 1.2
RUN_TIMEOUT = 120.0


def _body(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "写一段很长的回答"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def _consume_raw(url: str, model: str) -> tuple[int, float]:
    import httpx

    count = 0
    async with httpx.AsyncClient(timeout=60) as http:
        began = cpu_time()
        async with http.stream("POST", f"{url}/chat/completions", json=_body(model)) as response:
            async for _ in response.aiter_raw():
                count += 1
        return count, cpu_time() - began


async def _consume_httpx(url: str, model: str, parse: bool) -> tuple[int, float]:
    import httpx

    count = 0
    async with httpx.AsyncClient(timeout=60) as http:
        began = cpu_time()
        async with http.stream("POST", f"{url}/chat/completions", json=_body(model)) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    if parse:
                        data = line[6:]
                        if data != "[DONE]":
                            chunk = json.loads(data)
                            choices = chunk.get("choices") or [{}]
                            if choices[0].get("delta", {}).get("content"):
                                count += 1
                    else:
                        count += 1
        return count, cpu_time() - began


async def _consume_client(url: str, model: str, batches: bool) -> tuple[int, float]:
    from holysheep_tui.config import Profile
    from holysheep_tui.relay.client import RelayClient
    from holysheep_tui.relay.wire import ChatMessage, ChatRequest, ContentDelta

    request = ChatRequest(model, (ChatMessage("user", "写一段很长的回答"),))
    count = 0
    async with RelayClient(Profile(base_url=url, model="kimi-k2"), None) as client:
        began = cpu_time()
        if batches:
            async for batch in client.stream_chat_batches(request):
                for event in batch:
                    if isinstance(event, ContentDelta):
                        count += len(event.text)
        else:
            async for event in client.stream_chat(request):
                if isinstance(event, ContentDelta):
                    count += len(event.text)
        return count, cpu_time() - began


def consume(kind: str, url: str, tokens: int, profile_path: str | None) -> dict[str, Any]:
    """Run in the consumer process: one stream, its CPU time and what it saw (reads, data lines, or the
    characters of content for the client, whose events carry a network read's text as one delta)."""
    model = MODEL.format(tokens=tokens)
    if kind.startswith("client"):
        coro = _consume_client(url, model, batches=kind == "client")
    elif kind == "httpx-raw":
        coro = _consume_raw(url, model)
    else:
        coro = _consume_httpx(url, model, kind == "httpx+json")
    profiler = cProfile.Profile() if profile_path else None
    wall = time.perf_counter()
    if profiler:
        profiler.enable()
    count, cpu = asyncio.run(coro)
    if profiler:
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        Path(profile_path or "").write_text(out.getvalue(), encoding="utf-8")
    json_decoder = _json_decoder() if kind.startswith("client") else None
    return {"kind": kind, "chunks": count, "cpu": cpu, "wall": time.perf_counter() - wall, "json": json_decoder}


def _json_decoder() -> str:
    """The JSON decoder the client's stream parser uses in this environment."""
    from holysheep_tui.relay import chat_stream as chatstream

    module = getattr(chatstream._fast_loads, "__module__", None) or "json"
    if module.startswith("orjson"):
        import orjson

        return f"orjson {orjson.__version__}"
    return "json (standard library)"


def _run_consumer(kind: str, url: str, tokens: int, profile: Path | None = None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--consume", kind, "--url", url, "--tokens", str(tokens)]
    if profile is not None:
        cmd += ["--profile-out", str(profile)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} consumer failed: {out.stderr.strip()[-800:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


class Simulator:
    """``holysheep simulate`` at full speed in a child process on 127.0.0.1."""

    def __init__(self, home: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "holysheep_tui", "simulate", "--tps", "0", "--ttft", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=isolated_env(home),
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"the simulator did not start (said {self.url!r})")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _span(counts: list[int]) -> str:
    low, high = min(counts), max(counts)
    return str(low) if low == high else f"{low}–{high}"


def bench(repeat: int, tokens: int, profile_dir: Path | None) -> Result:
    result = Result("client", "4. Client throughput", runs=repeat)
    samples: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    with scratch_home("client") as home:
        sim = Simulator(home)
        try:
            for kind in KINDS:  # warm-up: page cache, .pyc files
                _run_consumer(kind, sim.url, min(tokens, 2000))
            for _ in range(repeat):
                for kind in KINDS:
                    samples[kind].append(_run_consumer(kind, sim.url, tokens))
            profile_text = ""
            if profile_dir is not None:
                path = profile_dir / "client-profile.txt"
                _run_consumer("client", sim.url, tokens, path)
                profile_text = path.read_text(encoding="utf-8")
        finally:
            sim.stop()
    base = median([s["cpu"] for s in samples["httpx"]])
    floor = median([s["cpu"] for s in samples["httpx+json"]])
    result.columns = [
        "consumer",
        "CPU s (median)",
        "min",
        "max",
        "wall s",
        "seen (reads / lines / content chars)",
        "vs httpx lines",
        "vs httpx lines + json.loads",
    ]
    for kind in KINDS:
        cpus = [s["cpu"] for s in samples[kind]]
        cpu = median(cpus)
        result.rows.append(
            [
                kind,
                fmt(cpu),
                fmt(min(cpus)),
                fmt(max(cpus)),
                fmt(median([s["wall"] for s in samples[kind]]), 2),
                _span([s["chunks"] for s in samples[kind]]),
                f"{cpu / base:.2f}x",
                f"{cpu / floor:.2f}x",
            ]
        )
        result.data[kind] = samples[kind]
    client = median([s["cpu"] for s in samples["client"]])
    result.targets.append(Target("client CPU vs raw httpx aiter_lines", client / base, TARGET_RATIO, "x"))
    result.targets.append(
        Target("client CPU vs httpx lines + json.loads (not in the issue)", client / floor, TARGET_RATIO, "x")
    )
    one_by_one = median([s["cpu"] for s in samples["client-events"]])
    result.notes.append(
        f"One stream of {tokens:,} content chunks (model `{MODEL.format(tokens=tokens)}`), simulator in its "
        "own process; CPU of the consuming process from the request to the end of the stream."
    )
    raw = median([s["cpu"] for s in samples["httpx-raw"]])
    result.notes.append(
        f"Client {client:.3f} s = {client / base:.2f}x raw httpx lines ({base:.3f} s) and "
        f"{client / floor:.2f}x httpx lines + json.loads ({floor:.3f} s); httpx's transport alone "
        f"(`aiter_raw`, no line splitting) takes {raw:.3f} s of that baseline. "
        f"The client's JSON decoder here: {samples['client'][0].get('json', '?')}. "
        f"`client` reads the events a network read at a time, as the app and the CLI do; handing them on one "
        f"generator step each (`client-events`, `stream_chat`) costs {one_by_one:.3f} s "
        f"({one_by_one / base:.2f}x)."
    )
    if profile_text:
        result.data["profile"] = profile_text
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="one run of each consumer")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--profile", action="store_true", help="also profile one client run (cProfile)")
    parser.add_argument("--profile-dir", type=Path, default=None)
    parser.add_argument("--consume", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.consume:
        print(json.dumps(consume(args.consume, args.url, args.tokens, args.profile_out)))
        return 0
    repeat = 1 if args.quick else max(1, min(args.repeat, 20))
    profile_dir = None
    if args.profile:
        profile_dir = args.profile_dir or (ROOT / "bench" / ".work")
        profile_dir.mkdir(parents=True, exist_ok=True)
    result = bench(repeat, args.tokens, profile_dir)
    return result.report(args.json)


if __name__ == "__main__":
    raise SystemExit(main())
