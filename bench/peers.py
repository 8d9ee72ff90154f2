"""Peers measured in the same run: ``llm`` and oterm beside holysheep, on the same simulator stream.

Each peer is pip-installed from the package registry into its own virtualenv under bench/.work/peers/
(kept and reused by later runs; an install that fails or outlasts ``--install-timeout`` leaves that peer
out with the reason in the results). Every client then runs in tmux 160x48 against one relay simulator
on 127.0.0.1 and is measured by bench_screen.measure, as the screen scenario measures holysheep: a
4,000-token mixed Markdown answer at 100 tok/s and at full speed.

- llm: `llm chat -m sim-...` with an extra-openai-models.yaml in its LLM_USER_PATH pointing at the
  simulator's /v1; the key is a placeholder read from OPENAI_API_KEY (through ``api_key_name``).
- oterm: its ``openaiCompatible`` endpoint in config.json under OTERM_DATA_DIR, the key a
  ``${HOLYSHEEP_SIM_KEY}`` reference to a placeholder; a chat for the simulator's model is saved into its
  store first (through oterm's own Store), so the prompt takes the question at start-up.

Peers see no real key (variables naming a key, token or secret are dropped) and no host but loopback:
every proxy variable points at a closed loopback port, so a request elsewhere (oterm asks the package
registry for its latest version at start-up) fails at once.

    .venv/bin/python bench/peers.py [--quick] [--repeat N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, WORK_DIR, Result, Target, fmt, isolated_env, median, scratch_home
from bench_screen import Client, holysheep_client, measure, sim_model

from holysheep_tui.simulator import RelaySimulator
from holysheep_tui.simulator.scenarios import DEMO_PACING

PEERS_DIR = WORK_DIR / "peers"
PEERS = ("llm", "oterm")
PLACEHOLDER_KEY = "sk-bench-placeholder"  # sent in a header: ASCII only
KEY_NAME = "holysheep-sim"  # llm's api_key_name and oterm's endpoint name
OTERM_KEY_ENV = "HOLYSHEEP_SIM_KEY"
CLOSED_PORT = "http://127.0.0.1:9"  # every proxy variable: nothing listens there
CHAT_NAME = "bench-sim 基准"
INSTALL_TIMEOUT = 300.0
VS_LLM_TARGET = 1.0  # issue 17 item 1: the app's CPU at 100 tok/s at most llm's in the same run
_SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL", re.IGNORECASE)
_PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


# ---- install -------------------------------------------------------------------------------------


def executable(name: str, root: Path = PEERS_DIR) -> Path:
    return root / name / "bin" / name


def install(name: str, timeout: float, root: Path = PEERS_DIR) -> tuple[Path | None, str]:
    """The peer's executable, installed into ``root/name`` if missing; or None and why not."""
    exe = executable(name, root)
    if exe.exists():
        return exe, ""
    venv = root / name
    shutil.rmtree(venv, ignore_errors=True)  # a half-made one from an interrupted install
    began = time.monotonic()
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", name],
    ]
    print(f"installing {name} into {venv}", file=sys.stderr, flush=True)
    for cmd in steps:
        left = timeout - (time.monotonic() - began)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=max(1.0, left))
        except subprocess.TimeoutExpired:
            shutil.rmtree(venv, ignore_errors=True)
            return None, f"`pip install {name}` took over {timeout:.0f} s (left out)"
        if proc.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            tail = " ".join(proc.stderr.strip().splitlines()[-2:])
            return None, f"`{' '.join(cmd[-2:])}` failed ({proc.returncode}): {tail}"
    if not exe.exists():
        return None, f"`pip install {name}` installed no `{name}` command"
    return exe, ""


def version(exe: Path, name: str) -> str:
    python = exe.parent / "python"
    code = f"from importlib.metadata import version; print(version({name!r}))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    return out.stdout.strip() or "?"


# ---- configuration (pure) ---------------------------------------------------------------------


def peer_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a peer: files under ``home``, no secrets of ours, no way off loopback."""
    env = {k: v for k, v in isolated_env(home).items() if not _SECRET.search(k)}
    for name in _PROXIES:
        env[name] = env[name.lower()] = CLOSED_PORT
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,::1"
    env.update(extra)
    return env


def model_id(model: str) -> str:
    """llm's name for a simulator model: ``kimi-k2+len=4000,tps=100`` -> ``sim-len-4000-tps-100``."""
    return "sim-" + re.sub(r"[^a-z0-9]+", "-", model.split("+", 1)[-1].lower()).strip("-")


def llm_models_yaml(base_url: str, models: list[str]) -> str:
    """llm's extra-openai-models.yaml for ``models`` on the simulator (JSON is YAML: no dependency)."""
    entries = [
        {"model_id": model_id(m), "model_name": m, "api_base": base_url, "api_key_name": KEY_NAME}
        for m in models
    ]
    return json.dumps(entries, indent=2, ensure_ascii=False) + "\n"


def oterm_config(base_url: str) -> dict[str, Any]:
    """oterm's config.json: no splash screen, one OpenAI-compatible endpoint, the key by reference."""
    endpoint = {"base_url": base_url, "api_key": "${" + OTERM_KEY_ENV + "}"}
    return {"theme": "textual-dark", "splash-screen": False, "openaiCompatible": {KEY_NAME: endpoint}}


_OTERM_SEED = """
import asyncio, sys
from oterm.store.store import Store
from oterm.types import ChatModel

async def main() -> None:
    store = await Store.get_store()
    await store.save_chat(ChatModel(name=sys.argv[1], model=sys.argv[2], provider=sys.argv[3]))

asyncio.run(main())
"""


# ---- clients ------------------------------------------------------------------------------------


def _llm_busy(screen: str) -> bool:
    """llm chat prints ``> `` on the last line once an answer is done."""
    lines = [line for line in screen.splitlines() if line.strip()]
    return not lines or lines[-1].strip() != ">"


class ScreenChanging:
    """``busy`` for a client that shows no sign of streaming: the screen changed in the last ``quiet`` s."""

    def __init__(self, quiet: float = 1.0) -> None:
        self.quiet, self.last, self.at = quiet, "", time.monotonic()

    def __call__(self, screen: str) -> bool:
        now = time.monotonic()
        if screen != self.last:
            self.last, self.at = screen, now
        return now - self.at < self.quiet


def llm_client(exe: Path, model: str, home: Path, sim: RelaySimulator) -> Client:
    user_path = home / "llm"
    user_path.mkdir(parents=True, exist_ok=True)
    (user_path / "extra-openai-models.yaml").write_text(
        llm_models_yaml(sim.base_url, [model]), encoding="utf-8"
    )
    env = peer_env(home, LLM_USER_PATH=str(user_path), OPENAI_API_KEY=PLACEHOLDER_KEY)
    return Client("llm", [str(exe), "chat", "-m", model_id(model)], env, "Chatting with", _llm_busy, 0)


def oterm_client(exe: Path, model: str, home: Path, sim: RelaySimulator, run: int) -> Client:
    data = home / "oterm" / f"run-{run}"  # a fresh store: no earlier answers to load
    data.mkdir(parents=True, exist_ok=True)
    (data / "config.json").write_text(json.dumps(oterm_config(sim.base_url)), encoding="utf-8")
    env = peer_env(home, OTERM_DATA_DIR=str(data), **{OTERM_KEY_ENV: PLACEHOLDER_KEY})
    seed = [str(exe.parent / "python"), "-c", _OTERM_SEED, CHAT_NAME, model, f"openai-compat/{KEY_NAME}"]
    proc = subprocess.run(seed, env=env, cwd=data, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"saving oterm's chat failed: {proc.stderr.strip()[-300:]}")
    return Client("oterm", [str(exe)], env, CHAT_NAME.split()[0], ScreenChanging(), 0)


FLOOR_READY = "floor-ready 基准"
_TEXTUAL_FLOOR = r"""
import json, sys
import httpx
from textual import work
from textual.app import App
from textual.widgets import Input, Log, Markdown

BASE, MODEL, KIND = sys.argv[1], sys.argv[2], sys.argv[3]

class Floor(App):
    AUTO_FOCUS = "Input"
    CSS = "Markdown { height: auto; } #answers { height: 1fr; overflow-y: auto; }"

    def compose(self):
        from textual.containers import VerticalScroll
        if KIND == "log":
            yield Log(id="answers")
        else:
            with VerticalScroll(id="answers"):
                yield Markdown()
        yield Input(placeholder=sys.argv[4])

    def on_input_submitted(self, event):
        self.ask(event.value)

    @work(exclusive=True)
    async def ask(self, prompt):
        if KIND == "log":
            log = self.query_one(Log)
        else:
            view = self.query_one(Markdown)
            self.query_one("#answers").anchor()  # follow the end as it grows
        stream = Markdown.get_stream(view) if KIND == "markdown" else None
        body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": prompt}]}
        text = ""
        async with httpx.AsyncClient(timeout=60) as client:
            async with client.stream("POST", BASE + "/chat/completions", json=body,
                                     headers={"Authorization": "Bearer sk-bench-placeholder"}) as r:
                async for line in r.aiter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    choices = json.loads(line[6:]).get("choices") or [{}]
                    delta = (choices[0].get("delta") or {}).get("content") or ""
                    if KIND == "log":
                        log.write(delta)
                    elif stream is not None:
                        await stream.write(delta)
                    else:
                        text += delta
                        view.update(text)
        if stream is not None:
            await stream.stop()

Floor().run()
"""


def textual_floor_client(model: str, home: Path, sim: RelaySimulator, kind: str = "markdown") -> Client:
    """A bare Textual app that reads the stream with httpx and shows it in Textual's own streaming
    Markdown (``Markdown.get_stream``; ``kind`` "markdown") or as plain text in a ``Log`` ("log"): what
    the framework costs for the same screen, without any of our code."""
    script = home / "textual_floor.py"
    script.write_text(_TEXTUAL_FLOOR, encoding="utf-8")
    env = isolated_env(home, PYTHONPATH="")
    command = [sys.executable, str(script), sim.base_url, model, kind, FLOOR_READY]
    name = "textual-markdown" if kind == "markdown" else "textual-log"
    return Client(name, command, env, FLOOR_READY.split()[0], ScreenChanging(), 3)


# ---- the scenario ---------------------------------------------------------------------------------


def bench(tokens: int, repeat: int, install_timeout: float) -> Result:
    result = Result("peers", "1c. Peers measured in the same run: holysheep, llm and oterm on one stream")
    result.columns = [
        "client", "speed", "CPU s (process tree)", "wall s", "cores", "longest freeze s",
        "chunk-to-screen p50 s", "p95 s", "last word s", "peak RSS MB", "chunks seen",
    ]  # fmt: skip
    result.runs = repeat
    exes: dict[str, Path] = {}
    for name in PEERS:
        exe, why = install(name, install_timeout)
        if exe is None:
            result.notes.append(f"{name} left out: {why}")
        else:
            exes[name] = exe
            result.notes.append(f"{name} {version(exe, name)} in {exe.parent.parent.relative_to(ROOT)}")
    cpu: dict[tuple[str, str], float | None] = {}
    with scratch_home("peers") as home, RelaySimulator(pacing=DEMO_PACING) as sim:
        counter = iter(range(10**6))
        makers: dict[str, Callable[[float | None], Client]] = {
            "holysheep": lambda tps: holysheep_client(tokens, tps, home, sim),
            "textual-markdown": lambda tps: textual_floor_client(sim_model(tokens, tps), home, sim),
            "textual-log": lambda tps: textual_floor_client(sim_model(tokens, tps), home, sim, "log"),
            "llm": lambda tps: llm_client(exes["llm"], sim_model(tokens, tps), home, sim),
            "oterm": lambda tps: oterm_client(
                exes["oterm"], sim_model(tokens, tps), home, sim, next(counter)
            ),
        }
        for tps in (100.0, None):
            label = f"{int(tps)} tok/s" if tps else "full speed"
            for name in ("holysheep", "textual-markdown", "textual-log", *exes):
                try:
                    runs = [measure(tokens, tps, home, sim, makers[name](tps)) for _ in range(repeat)]
                except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                    result.notes.append(f"{name} at {label} failed: {str(exc)[:300]}")
                    continue
                result.data[f"{name} {label}"] = [
                    {k: v for k, v in r.items() if k != "delays_s"} for r in runs
                ]

                def med(key: str, runs: list[dict[str, Any]] = runs) -> float | None:
                    vals = [r[key] for r in runs if r.get(key) is not None]
                    return median(vals) if vals else None

                cpu[(name, label)] = med("cpu")
                result.rows.append(
                    [name, label, fmt(med("cpu"), 2), fmt(med("wall"), 1), fmt(med("cores"), 3),
                     fmt(med("freeze"), 3), fmt(med("p50"), 3), fmt(med("p95"), 3), fmt(med("last_word"), 3),
                     fmt(med("rss_mb"), 1), f"{min(r['chunks_seen'] for r in runs)}/{runs[0]['chunks']}"]
                )  # fmt: skip
    ours, theirs = cpu.get(("holysheep", "100 tok/s")), cpu.get(("llm", "100 tok/s"))
    if ours is not None and theirs:
        result.targets.append(
            Target("holysheep CPU at 100 tok/s over llm's, same run", ours / theirs, VS_LLM_TARGET, "x")
        )
    result.notes.append(
        "Each client in tmux 160x48 on a private socket against one relay simulator on 127.0.0.1 (the demo's "
        "pacing: first token after 0.4 s at 100 tok/s), measured by bench_screen.measure: CPU is the client's "
        "whole process tree (user + system, /proc, children included) from Enter until the last word was on "
        "screen or the screen settled, wall and cores over the same span; freezes and chunk delays from "
        "`capture-pane` polled about every 10 ms. llm prints the answer's Markdown as plain text; holysheep "
        "and oterm render it. textual-markdown and textual-log are a bare Textual app (one Input, httpx reading "
        "the stream) showing the answer in Textual's own streaming Markdown (Markdown.get_stream) or as plain "
        "text in a Log: what the framework itself costs for the same screen, without any of our code."
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a 1,000-token answer, one run per speed")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--install-timeout", type=float, default=INSTALL_TIMEOUT, metavar="SECONDS")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    tokens, repeat = (1000, 1) if args.quick else (4000, max(1, min(args.repeat, 5)))
    return bench(tokens, repeat, args.install_timeout).report(args.json)


if __name__ == "__main__":
    raise SystemExit(main())
