"""Make the SVG screenshots in screenshots/ from the demo simulator (also the snapshot tests' scenes).

    .venv/bin/python scripts/screenshots.py [OUT_DIR]

Each scene drives the real app with Pilot against the simulator on loopback. The app's clock (the one
every answer's Timings read) is frozen and set by the scene, and the cursor does not blink, so the
pictures are the same every run.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from holysheep_tui.chat.session import Session
from holysheep_tui.config import Config, Profile, RetryPolicy
from holysheep_tui.simulator import Pacing, RelaySimulator, count_tokens
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.screens.model_picker import ModelPicker
from holysheep_tui.tui.widgets.prompt import PromptInput

PACING = Pacing(first_token_delay=0.0, tokens_per_second=4000.0, chunk_tokens=3)


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def demo_app(
    sim: RelaySimulator, clock: FrozenClock, *, scenario: str = "", model: str = "kimi-k2"
) -> HolySheepApp:
    """The demo app on ``sim``; ``scenario`` goes in the simulator's header, so model names stay real."""
    headers = {"X-Sim-Scenario": scenario} if scenario else {}
    profile = Profile(base_url=sim.base_url, model=model, retry=RetryPolicy(max_retries=0), headers=headers)
    session = Session(Config(), "demo", profile, None, None, simulator=sim)
    return HolySheepApp(session, clock=clock, cursor_blink=False, save_theme=False)


async def _wait(pilot: Pilot[None], cond: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if cond():
            return
        await pilot.pause(0.05)
    raise TimeoutError(f"screenshot scene: timed out waiting for {what}")


def _app(pilot: Pilot[None]) -> HolySheepApp:
    assert isinstance(pilot.app, HolySheepApp)
    return pilot.app


async def _ask(pilot: Pilot[None], text: str, *, finish: bool = True) -> None:
    app = _app(pilot)
    app.query_one(PromptInput).load_text(text)
    await pilot.press("enter")
    if finish:
        await _wait(pilot, lambda: app._turn is None and bool(app.conversation.turns), "the answer")


def scene_mid_stream(clock: FrozenClock) -> Callable[[Pilot[None]], Awaitable[None]]:
    """Half an answer on screen; the simulator holds the rest back."""

    async def run(pilot: Pilot[None]) -> None:
        app = _app(pilot)
        await _ask(pilot, "请用中文总结一下人民币结算的好处", finish=False)
        sim = app.session.simulator
        assert sim is not None

        def at_the_stall() -> bool:  # the server paused mid-answer and the app shows all it sent
            chats = [r for r in sim.requests if r.path.endswith("/chat/completions")]
            sent = chats[-1].tokens_sent if chats else 0
            answers = app.view.answers()
            return sent > 0 and bool(answers) and count_tokens(answers[-1].text) == sent

        await _wait(pilot, at_the_stall, "the stalled stream")
        await pilot.pause(0.3)  # the renderer draws the open block at most 20 times a second
        app.view.release_anchor()  # show the answer from its start: the top does not depend on timing
        app.view.scroll_home(animate=False, immediate=True)
        app.screen.refresh(repaint=True, layout=True)
        clock.now = 2.5  # the answer's Timings run on this clock
        app.revision += 1  # the status bar follows the app's state
        await pilot.pause(0.3)

    return run


def scene_model_picker(clock: FrozenClock) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run(pilot: Pilot[None]) -> None:
        app = _app(pilot)
        await _wait(pilot, lambda: bool(app.relay_models), "the model list")
        await _ask(pilot, "你好")
        await pilot.press("ctrl+o")
        await _wait(pilot, lambda: isinstance(app.screen, ModelPicker), "the picker")
        await pilot.press(*"k2")
        await pilot.pause(0.2)

    return run


def scene_error(clock: FrozenClock) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run(pilot: Pilot[None]) -> None:
        app = _app(pilot)
        await app.choose_model("kimi-k2+401")
        await _ask(pilot, "这个 Key 还能用吗？")
        await pilot.pause(0.2)

    return run


def scene_chinese(clock: FrozenClock) -> Callable[[Pilot[None]], Awaitable[None]]:
    """A Chinese answer with a code block and a price table, scrolled to its start."""

    async def run(pilot: Pilot[None]) -> None:
        app = _app(pilot)
        await _ask(pilot, "用 python 代码示例说明各模型的价格")
        clock.now = 3.0
        app.view.release_anchor()
        app.view.scroll_home(animate=False, immediate=True)
        await pilot.pause(0.3)

    return run


Scene = Callable[[FrozenClock], Callable[[Pilot[None]], Awaitable[None]]]
SCENES: dict[str, tuple[Scene, str, str]] = {
    # name: (scene, simulator scenario header, model)
    "main-mid-stream": (scene_mid_stream, "stall", "deepseek-v3.2"),
    "model-picker": (scene_model_picker, "", "kimi-k2"),
    "error-inline": (scene_error, "", "kimi-k2"),
    "chinese-conversation": (scene_chinese, "", "kimi-k2"),
}


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
