"""Make the SVG screenshots in screenshots/ from the demo simulator: the snapshot tests' scenes.

    .venv/bin/python scripts/screenshots.py [OUT_DIR]

The scenes live in holysheep_tui/tui/scenes.py: each drives the real app with Pilot against the simulator
on loopback, with a frozen clock and no cursor blink, so the pictures are the same every run.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from holysheep_tui.chat.session import Session
from holysheep_tui.config import Config, Profile, RetryPolicy
from holysheep_tui.simulator import RelaySimulator
from holysheep_tui.store import HistoryStore
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.scenes import PACING, SCENES, FrozenClock


def demo_app(
    sim: RelaySimulator, clock: FrozenClock, *, scenario: str = "", model: str = "kimi-k2"
) -> HolySheepApp:
    """The demo app on ``sim``; ``scenario`` goes in the simulator's header, so model names stay real."""
    headers = {"X-Sim-Scenario": scenario} if scenario else {}
    profile = Profile(base_url=sim.base_url, model=model, retry=RetryPolicy(max_retries=0), headers=headers)
    session = Session(Config(), "demo", profile, None, None, simulator=sim)
    store = HistoryStore.open(Path(tempfile.mkdtemp()) / "history.db")  # alternatives live in the history
    return HolySheepApp(session, clock=clock, cursor_blink=False, save_theme=False, store=store)


async def make_screenshots(out: Path, size: tuple[int, int] = (120, 36)) -> list[Path]:
    written = []
    for name, (scene, scenario, model) in SCENES.items():
        clock = FrozenClock()
        with RelaySimulator(pacing=PACING) as sim:
            app = demo_app(sim, clock, scenario=scenario, model=model)
            async with app.run_test(size=size) as pilot:
                await scene(clock)(pilot)
                path = out / f"{name}.svg"
                app.save_screenshot(filename=path.name, path=str(out))
                written.append(path)
    return written


if __name__ == "__main__":
    target = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "screenshots"
    )
    target.mkdir(parents=True, exist_ok=True)
    for written_path in asyncio.run(make_screenshots(target)):
        print(written_path)
