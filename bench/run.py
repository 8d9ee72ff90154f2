"""Run the benchmark suite and write bench/RESULTS.md and bench/results.json.

    .venv/bin/python bench/run.py                 # every scenario (about 10-15 minutes)
    .venv/bin/python bench/run.py --quick         # a smoke run (about 2 minutes)
    .venv/bin/python bench/run.py --only startup --only client
    .venv/bin/python bench/run.py --peers --only peers   # llm and oterm beside holysheep (bench/peers.py)

Each scenario runs in fresh subprocesses with a time limit; one that fails or times out is reported
as such and the others still run. Scenarios: render, screen, conversation, startup, client, history,
typing, meter, attach, branches, compare, scroll, and with ``--peers`` peers (installs llm and oterm under bench/.work/peers/).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_DIR, ROOT, Result, Target, machine_info

FLAT_TARGET = 1.5
VS_BASELINE_TARGET = 0.2
FULL_SPEED_CPU_TARGET = 3.0
PACED_CORE_TARGET = 0.15


@dataclass
class Scenario:
    name: str
    script: str
    full: list[str] = field(default_factory=list)
    quick: list[str] = field(default_factory=list)
    timeout: float = 600.0


SCENARIOS = [
    Scenario("conversation", "bench_conversation.py", [], ["--quick"], 900),
    Scenario("startup", "bench_startup.py", [], ["--quick"], 300),
    Scenario("client", "bench_client.py", ["--profile"], ["--quick"], 400),
    Scenario("history", "bench_history.py", [], ["--quick"], 600),
    Scenario("typing", "bench_typing.py", [], ["--quick"], 300),
    Scenario("meter", "bench_meter.py", [], ["--quick"], 300),
    Scenario("attach", "bench_attach.py", [], ["--quick"], 300),
    Scenario("screen", "bench_screen.py", [], ["--quick"], 600),
    Scenario("branches", "bench_branches.py", [], ["--quick"], 300),
    Scenario("compare", "bench_compare.py", [], ["--quick"], 400),
    Scenario("scroll", "bench_scroll.py", [], ["--quick"], 900),
    Scenario("peers", "peers.py", ["--repeat", "2"], ["--quick"], 1200),  # only with --peers
]

# bench_render.py (scenario 1) is called once per job; the runs of all jobs are merged.
RENDER_FULL: list[list[str]] = [
    ["--sizes", "2000", "4000", "8000", "--rates", "0", "--repeat", "3"],
    ["--sizes", "20000", "--rates", "0", "--repeat", "1"],
    [
        "--sizes",
        "2000",
        "20000",
        "--rates",
        "200",
        "--kinds",
        "streaming",
        "--repeat",
        "1",
        "--budget",
        "150",
    ],
    ["--sizes", "2000", "--rates", "200", "--kinds", "baseline", "--repeat", "1"],
    ["--sizes", "4000", "--rates", "100", "--kinds", "streaming", "--repeat", "1"],
]
RENDER_QUICK: list[list[str]] = [["--sizes", "2000", "--rates", "0", "--repeat", "1"]]
RENDER_TIMEOUT = 600.0
NAMES = ["render", *(s.name for s in SCENARIOS)]


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_script(script: str, args: list[str], timeout: float, out: Path) -> tuple[dict[str, Any] | None, str]:
    """Run one scenario script; its JSON result, or None and why not."""
    cmd = [sys.executable, str(BENCH_DIR / script), *args, "--json", str(out)]
    print(f"$ {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    sys.stderr.write(proc.stderr[-3000:])
    if proc.returncode != 0:
        return None, f"exited with {proc.returncode}:\n{_tail(proc.stderr)}"
    try:
        return json.loads(out.read_text(encoding="utf-8")), ""
    except (OSError, ValueError) as exc:
        return None, f"wrote no JSON result ({exc})"


def _speed(rate: float) -> str:
    return "full speed" if not rate else f"{rate:g} tok/s"


def render_result(quick: bool, scratch: Path) -> dict[str, Any]:
    """Scenario 1 through bench/bench_render.py (another module's CLI: ``--json PATH``, ``runs`` in it)."""
    result = Result("render", "1. Streaming render")
    if not (BENCH_DIR / "bench_render.py").exists():
        result.available, result.reason = False, "bench/bench_render.py is missing"
        return result.to_json()
    runs: list[dict[str, Any]] = []
    raw: list[dict[str, Any]] = []
    for i, args in enumerate(RENDER_QUICK if quick else RENDER_FULL):
        data, error = run_script("bench_render.py", args, RENDER_TIMEOUT, scratch / f"render-{i}.json")
        if data is None:
            result.notes.append(f"`bench_render.py {' '.join(args)}` {error}")
            continue
        raw.append(data)
        runs += [r for r in data.get("runs", []) if isinstance(r, dict)]
        result.notes += [str(s) for s in data.get("skipped", [])]
    if not runs:
        result.available, result.reason = False, "; ".join(result.notes) or "no runs"
        return result.to_json()
    keys = [k for k in runs[0] if k not in ("kind", "tokens", "rate")]
    for run in runs[1:]:
        keys += [k for k in run if k not in keys and k not in ("kind", "tokens", "rate")]
    by_case = {(r.get("kind"), r.get("tokens"), r.get("rate")): r for r in runs}
    result.columns = ["widget", "speed", "tokens", *keys, "last/first", "vs baseline"]
    for r in runs:
        first, last = r.get("first_1k_cpu"), r.get("last_1k_cpu")
        flat = (
            last / first
            if isinstance(first, int | float) and first and isinstance(last, int | float)
            else None
        )
        base = by_case.get(("baseline", r.get("tokens"), r.get("rate")))
        versus = ""
        if base and r.get("kind") != "baseline" and base.get("total_cpu"):
            versus = f"{r['total_cpu'] / base['total_cpu']:.3f}x"
        cells = [_cell(r.get(k)) for k in keys]
        result.rows.append(
            [r.get("kind"), _speed(r.get("rate") or 0), r.get("tokens"), *cells, _cell(flat), versus]
        )
    result.runs = max((int(d.get("repeat", 1)) for d in raw), default=1)
    result.data = {"render": raw}
    ours = {(r.get("tokens"), r.get("rate")): r for r in runs if r.get("kind") == "streaming"}
    s8, b8 = ours.get((8000, 0.0)), by_case.get(("baseline", 8000, 0.0))
    if s8 and b8 and b8.get("total_cpu"):
        result.targets.append(
            Target(
                "8k tokens, full speed: CPU vs MarkdownStream",
                s8["total_cpu"] / b8["total_cpu"],
                VS_BASELINE_TARGET,
                "x",
            )
        )
    paced = [r for (tokens, rate), r in ours.items() if tokens == 20000 and rate]
    for r in paced:
        flat = r["last_1k_cpu"] / r["first_1k_cpu"] if r.get("first_1k_cpu") else math.nan
        result.targets.append(
            Target(f"20k tokens at {_speed(r['rate'])}: last 1k / first 1k CPU", flat, FLAT_TARGET, "x")
        )
    s4 = ours.get((4000, 0.0))
    if s4:
        result.targets.append(
            Target("4k tokens at full speed: CPU (render only)", s4["total_cpu"], FULL_SPEED_CPU_TARGET, "s")
        )
    s4p = ours.get((4000, 100.0))
    if s4p and s4p.get("wall"):
        core = s4p["total_cpu"] / s4p["wall"]
        result.targets.append(
            Target("4k tokens at 100 tok/s: cores used (render only)", core, PACED_CORE_TARGET, "cores")
        )
    result.notes.append(
        "Headless Textual app (160x48) per bench/bench_render.py; CPU seconds of the rendering process. "
        "`vs baseline`: our total over Textual's Markdown + MarkdownStream on the same stream."
    )
    return result.to_json()


def _cell(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.3f}"
    return str(value)


# ---- the report ----------------------------------------------------------------------------------


def _md(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(columns: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(_md(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return out


def _value(t: dict[str, Any]) -> str:
    value = t.get("value")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    unit = t.get("unit") or ""
    return f"{value:.3g} {unit}".strip() if value < 100 else f"{value:.0f} {unit}".strip()


def write_markdown(path: Path, report: dict[str, Any]) -> None:
    m = report["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{report['command']}` on {report['date']} ({report['mode']} run, "
        f"{report['elapsed_s']:.0f} s). Benchmarks measure; tests don't time things. See bench/README.md.",
        "",
        "| machine | |",
        "|---|---|",
        f"| CPU | {_md(m['cpu'])}, {m['cores']} cores |",
        f"| Python | {m['python']} |",
        f"| Textual | {m['textual']} |",
        f"| OS | {_md(m['platform'])} |",
        f"| load average at the end (1, 5, 15 min) | {m.get('load', '?')} (a quiet machine has under 0.5) |",
        f"| commit | {m['commit']}{' (with local changes)' if m['dirty'] else ''} |",
        "",
        "## Targets (issues 7 and 14)",
        "",
    ]
    rows: list[list[Any]] = []
    for sc in report["scenarios"]:
        if not sc.get("available", False):
            rows.append([sc["title"], "–", "–", "–", f"not available: {sc.get('reason', '')}"])
            continue
        for t in sc.get("targets", []):
            limit = f"≤ {t['limit']:g} {t.get('unit', '')}".strip()
            rows.append([sc["title"], t["name"], _value(t), limit, t["status"]])
    lines += _table(["scenario", "target", "measured", "limit", "result"], rows)
    for sc in report["scenarios"]:
        lines += ["", f"## {sc['title']}", ""]
        if not sc.get("available", False):
            lines += [f"Not available: {sc.get('reason', '')}"]
            continue
        if sc.get("runs"):
            lines += [f"Medians of {sc['runs']} runs unless a column says otherwise.", ""]
        if sc.get("rows"):
            lines += _table(sc["columns"], sc["rows"])
        for note in sc.get("notes", []):
            lines += ["", f"- {note}"] if not lines[-1].startswith("- ") else [f"- {note}"]
        profile = (sc.get("data") or {}).get("profile")
        if profile and any(t.get("status") == "MISS" for t in sc.get("targets", [])):
            lines += [
                "",
                "<details><summary>Where the client's time goes (cProfile, by own time)</summary>",
                "",
            ]
            lines += ["```", *profile.strip().splitlines()[:40], "```", "", "</details>"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer and smaller cases")
    parser.add_argument("--only", action="append", choices=NAMES, help="run only this scenario (repeatable)")
    parser.add_argument(
        "--peers", action="store_true", help="also install llm and oterm and measure them beside holysheep"
    )
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "RESULTS.md")
    parser.add_argument("--json", type=Path, default=BENCH_DIR / "results.json")
    args = parser.parse_args(argv)
    wanted = args.only or [n for n in NAMES if n != "peers"]
    if args.peers and "peers" not in wanted:
        wanted.append("peers")
    began = time.perf_counter()
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    scenarios: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="holysheep-bench-") as tmp:
        scratch = Path(tmp)
        if "render" in wanted:
            scenarios.append(render_result(args.quick, scratch))
        for sc in SCENARIOS:
            if sc.name not in wanted:
                continue
            data, error = run_script(
                sc.script, sc.quick if args.quick else sc.full, sc.timeout, scratch / f"{sc.name}.json"
            )
            if data is None:
                title = f"{sc.name} ({sc.script})"
                data = Result(
                    sc.name, title, available=False, reason=f"the benchmark failed: {error}"
                ).to_json()
            scenarios.append(data)
    order = {
        "render": 1,
        "screen": 1.5,
        "peers": 1.6,
        "conversation": 2,
        "startup": 3,
        "client": 4,
        "history": 5,
        "typing": 6,
        "meter": 6.5,
        "attach": 10,
        "branches": 8,
        "compare": 7,
        "scroll": 9,
    }
    scenarios.sort(key=lambda s: order.get(s["scenario"], 99))
    command = (
        "python bench/run.py"
        + (" --quick" if args.quick else "")
        + (" --peers" if args.peers else "")
        + "".join(f" --only {n}" for n in args.only or [])
    )
    report = {
        "command": command,
        "date": date,
        "mode": "quick" if args.quick else "full",
        "elapsed_s": time.perf_counter() - began,
        "machine": machine_info(),
        "scenarios": scenarios,
    }
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_markdown(args.out, report)
    misses = [
        f"{s['title']}: {t['name']}"
        for s in scenarios
        for t in s.get("targets", [])
        if t.get("status") == "MISS"
    ]
    print(f"\nwrote {args.out} and {args.json} in {report['elapsed_s']:.0f} s", file=sys.stderr)
    for miss in misses:
        print(f"  MISS {miss}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
