"""Snapshot tests of the app's screens at 80x24 and 160x48 (pytest-textual-snapshot).

Each scene (holysheep_tui/tui/scenes.py, which scripts/screenshots.py draws for the README too) is the
real demo app against the simulator on loopback, with a frozen clock and no cursor blink. Update after a
deliberate UI change with ``--snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from holysheep_tui.chat.session import Session
from holysheep_tui.simulator import RelaySimulator
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.scenes import PACING, SCENES, FrozenClock

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
) -> Callable[[str, tuple[int, int]], bool]:
    """``compare(scene_name, size)``: the scene's last frame against its stored snapshot."""

    def run(name: str, size: tuple[int, int]) -> bool:
        scene, scenario, model = SCENES[name]
        clock = FrozenClock()
        headers = {"X-Sim-Scenario": scenario} if scenario else {}  # model names stay real
        app = make_app(make_session(sim, model=model, headers=headers), clock=clock)
        return snap_compare(app, terminal_size=size, run_before=scene(clock))

    return run


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_main_screen_mid_stream(
    compare: Callable[[str, tuple[int, int]], bool], size: tuple[int, int]
) -> None:
    """You should see, from its start, a Chinese prompt and the first half of a deepseek-v3.2 answer
    (headings, a list) with no blank lines below its text, the DEMO badge, 'streaming' with
    ttft 0.00s, 2.50s elapsed, tok/s, an estimated (≈) token count and ≈¥ cost in the status bar, the
    conversation's total already moved (≈$, the answer in flight included), and the empty prompt's
    'Ask anything…' placeholder below."""
    assert compare("main-mid-stream", size)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_model_picker(compare: Callable[[str, tuple[int, int]], bool], size: tuple[int, int]) -> None:
    """You should see the model picker over a finished answer, filtered by 'k2': kimi-k2 first
    (marked ↺ recent), kimi-k2-thinking (marked ∴ reasoning) and deepseek-v3.2 with USD/CNY prices
    per million tokens and context sizes, then an italic last row 'Use “k2” as typed (not in the
    relay's list)'."""
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
