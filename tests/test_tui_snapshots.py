"""Snapshot tests of the app's screens at 80x24 and 160x48 (pytest-textual-snapshot).

Each scene is the real demo app against the simulator on loopback, with a frozen clock and no cursor
blink (scripts/screenshots.py draws the same scenes for the docs). Update after a deliberate UI change
with ``--snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot

from holysheep_tui.chat.session import Session
from holysheep_tui.simulator import Pacing, RelaySimulator, count_tokens
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.screens.model_picker import ModelPicker
from holysheep_tui.tui.widgets.answer import AnswerView
from holysheep_tui.tui.widgets.prompt import PromptInput

PACING = Pacing(first_token_delay=0.0, tokens_per_second=4000.0, chunk_tokens=3)
Wait = Callable[..., Awaitable[None]]
Scene = Callable[[Pilot[None]], Awaitable[None]]


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _app(pilot: Pilot[None]) -> HolySheepApp:
    assert isinstance(pilot.app, HolySheepApp)
    return pilot.app


async def _ask(wait_until: Wait, pilot: Pilot[None], text: str, *, finish: bool = True) -> None:
    app = _app(pilot)
    app.query_one(PromptInput).load_text(text)
    await pilot.press("enter")
    if finish:
        await wait_until(pilot, lambda: app._turn is None and bool(app.conversation.turns), "the answer")


def scene_mid_stream(clock: FrozenClock, wait_until: Wait) -> Scene:
    """Half an answer on screen; the simulator holds the rest back."""

    async def run(pilot: Pilot[None]) -> None:
        app = _app(pilot)
        await _ask(wait_until, pilot, "请用中文总结一下人民币结算的好处", finish=False)
        sim = app.session.simulator
        assert sim is not None

        def at_the_stall() -> bool:  # the server paused mid-answer and the app shows all it sent
            chats = [r for r in sim.requests if r.path.endswith("/chat/completions")]
            sent = chats[-1].tokens_sent if chats else 0
            answers = app.view.answers()
            return sent > 0 and bool(answers) and count_tokens(answers[-1].text) == sent

        await wait_until(pilot, at_the_stall, "the stalled stream")
        answer = app.view.answers()[-1]
        assert isinstance(answer, AnswerView)
        body = answer.body  # it draws the open block at most 20 times a second
        await wait_until(pilot, lambda: not body._pending, "the renderer to draw all it was sent")
        app.view.release_anchor()  # show the answer from its start: the top does not depend on timing
        app.view.scroll_home(animate=False, immediate=True)
        app.screen.refresh(repaint=True, layout=True)
        clock.now = 2.5
        app.query_one("StatusBar").redraw()  # type: ignore[attr-defined]
        await pilot.pause()

    return run


def scene_model_picker(clock: FrozenClock, wait_until: Wait) -> Scene:
    async def run(pilot: Pilot[None]) -> None:
        app = _app(pilot)
        await wait_until(pilot, lambda: bool(app.relay_models), "the model list")
        await _ask(wait_until, pilot, "你好")
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), "the picker")
        await pilot.press(*"k2")
        await pilot.pause()

    return run


def scene_error(clock: FrozenClock, wait_until: Wait) -> Scene:
    async def run(pilot: Pilot[None]) -> None:
        app = _app(pilot)
        await app.choose_model("kimi-k2+401")
        await _ask(wait_until, pilot, "这个 Key 还能用吗？")
        await pilot.pause()

    return run


def scene_chinese(clock: FrozenClock, wait_until: Wait) -> Scene:
    """A Chinese answer with a code block and a price table, scrolled to its start."""

    async def run(pilot: Pilot[None]) -> None:
        app = _app(pilot)
        await _ask(wait_until, pilot, "用 python 代码示例说明各模型的价格")
        clock.now = 3.0
        app.view.release_anchor()
        app.view.scroll_home(animate=False, immediate=True)
        await wait_until(pilot, lambda: app.view.scroll_y == 0, "the answer's start")
        await pilot.pause()

    return run


SCENES: dict[str, tuple[Callable[[FrozenClock, Wait], Scene], str, str]] = {
    # name: (scene, simulator scenario header, model)
    "main-mid-stream": (scene_mid_stream, "stall", "deepseek-v3.2"),
    "model-picker": (scene_model_picker, "", "kimi-k2"),
    "error-inline": (scene_error, "", "kimi-k2"),
    "chinese-conversation": (scene_chinese, "", "kimi-k2"),
}

SIZES = [(80, 24), (160, 48)]
SnapCompare = Callable[..., bool]


@pytest.fixture
def sim(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    return make_simulator(pacing=PACING)


@pytest.fixture
def compare(
    snap_compare: SnapCompare,
    sim: RelaySimulator,
    make_session: Callable[..., Session],
    make_app: Callable[..., HolySheepApp],
    wait_until: Wait,
) -> Callable[[str, tuple[int, int]], bool]:
    """``compare(scene_name, size)``: the scene's last frame against its stored snapshot."""

    def run(name: str, size: tuple[int, int]) -> bool:
        scene, scenario, model = SCENES[name]
        clock = FrozenClock()
        headers = {"X-Sim-Scenario": scenario} if scenario else {}  # model names stay real
        app = make_app(make_session(sim, model=model, headers=headers), clock=clock)
        return snap_compare(app, terminal_size=size, run_before=scene(clock, wait_until))

    return run


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_main_screen_mid_stream(
    compare: Callable[[str, tuple[int, int]], bool], size: tuple[int, int]
) -> None:
    """You should see, from its start, a Chinese prompt and the first half of a deepseek-v3.2 answer
    (headings, a list) over blank lines kept for the text to come, the DEMO badge, 'streaming' with
    ttft 0.00s, 2.50s elapsed, tok/s, an estimated (≈) token count and ≈¥ cost in the status bar, and an
    empty prompt below."""
    assert compare("main-mid-stream", size)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_model_picker(compare: Callable[[str, tuple[int, int]], bool], size: tuple[int, int]) -> None:
    """You should see the model picker over a finished answer, filtered by 'k2': kimi-k2 first
    (marked ↺ recent), kimi-k2-thinking and deepseek-v3.2 with USD prices per million tokens and
    context sizes, and the typed name itself as 'price unknown'."""
    assert compare("model-picker", size)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_inline_error(compare: Callable[[str, tuple[int, int]], bool], size: tuple[int, int]) -> None:
    """You should see a Chinese prompt answered by a red 'Authentication failed' box quoting the
    relay (API Key 无效), saying how to set the key and 'Press Ctrl+R to try again', and 'error' in
    the status bar."""
    assert compare("error-inline", size)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_chinese_conversation(compare: Callable[[str, tuple[int, int]], bool], size: tuple[int, int]) -> None:
    """You should see, scrolled to the top, a Chinese prompt and kimi-k2's answer: a bold model name,
    a heading, a syntax-highlighted python code block with its label, and (at 160x48 fully, at
    80x24 after the code) a price table whose Chinese columns line up."""
    assert compare("chinese-conversation", size)
