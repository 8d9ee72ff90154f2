"""Make the SVG screenshots in screenshots/ from the demo simulator: the snapshot tests' scenes.

    .venv/bin/python scripts/screenshots.py [OUT_DIR]

The scenes live in holysheep_tui/tui/scenes.py: each drives the real app with Pilot against the simulator
on loopback, with a frozen clock and no cursor blink, so the pictures are the same every run. The scenes
in ``IN_CHINESE`` are drawn once more with the app in Simplified Chinese (``zh-main.svg`` for README.zh-CN.md).
"""

from __future__ import annotations

import asyncio
import html
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from rich.cells import cell_len

from holysheep_tui import i18n
from holysheep_tui.chat.session import Session
from holysheep_tui.config import Config, Profile, RetryPolicy
from holysheep_tui.simulator import RelaySimulator
from holysheep_tui.store import HistoryStore
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.scenes import PACING, SCENES, FrozenClock, Scene

IN_CHINESE = {"zh-main": "chinese-conversation"}
"""Screenshot name: the scene drawn with the app in Chinese (``i18n.use("zh-CN")`` before it starts, as
``holysheep`` does under ``LANG=zh_CN.UTF-8``)."""


def demo_app(
    sim: RelaySimulator, clock: FrozenClock, *, scenario: str = "", model: str = "kimi-k2"
) -> HolySheepApp:
    """The demo app on ``sim``; ``scenario`` goes in the simulator's header, so model names stay real."""
    headers = {"X-Sim-Scenario": scenario} if scenario else {}
    profile = Profile(base_url=sim.base_url, model=model, retry=RetryPolicy(max_retries=0), headers=headers)
    session = Session(Config(), "demo", profile, None, None, simulator=sim)
    store = HistoryStore.open(Path(tempfile.mkdtemp()) / "history.db")  # alternatives live in the history
    return HolySheepApp(session, clock=clock, cursor_blink=False, save_theme=False, store=store)


SceneMaker = Callable[[FrozenClock], Scene]
_TEXT = re.compile(r'(<text [^>]*?textLength=")([0-9.]+)("[^>]*>)([^<]*)(</text>)')


def wide_text_fitted(svg: str) -> str:
    """Each run of text stretched over the cells it takes on the terminal. Rich's SVG export gives a run
    ``textLength`` for one cell per character, so a browser squeezes Chinese (two cells a character)
    into half its width, one glyph over the next."""

    def fit(match: re.Match[str]) -> str:
        text = html.unescape(match[4])
        if not text or cell_len(text) == len(text):
            return match[0]
        cells = float(match[2]) / len(text) * cell_len(text)
        return f"{match[1]}{cells:g}{match[3]}{match[4]}{match[5]}"

    return _TEXT.sub(fit, svg)


async def screenshot(
    out: Path, name: str, scene: SceneMaker, scenario: str, model: str, size: tuple[int, int]
) -> Path:
    clock = FrozenClock()
    with RelaySimulator(pacing=PACING) as sim:
        app = demo_app(sim, clock, scenario=scenario, model=model)
        async with app.run_test(size=size) as pilot:
            await scene(clock)(pilot)
            path = out / f"{name}.svg"
            path.write_text(wide_text_fitted(app.export_screenshot()), encoding="utf-8")
    return path


async def make_screenshots(out: Path, size: tuple[int, int] = (120, 36)) -> list[Path]:
    written = []
    for name, (scene, scenario, model) in SCENES.items():
        written.append(await screenshot(out, name, scene, scenario, model, size))
    for name, scene_name in IN_CHINESE.items():
        scene, scenario, model = SCENES[scene_name]
        i18n.use("zh-CN")
        try:
            written.append(await screenshot(out, name, scene, scenario, model, size))
        finally:
            i18n.use("en")
    return written


if __name__ == "__main__":
    target = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "screenshots"
    )
    target.mkdir(parents=True, exist_ok=True)
    for written_path in asyncio.run(make_screenshots(target)):
        print(written_path)
