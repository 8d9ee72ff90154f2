"""Snapshot tests of the app in Simplified Chinese at 80x24 and 160x48 (issue 18, pytest-textual-snapshot).

The main screen after an answer, the model picker, an inline error and the first-run screen, each drawn
with the app in Chinese (``i18n.use("zh-CN")`` before it starts, as ``holysheep`` does under
``LANG=zh_CN.UTF-8``). The first three are the scenes of holysheep_tui/tui/scenes.py (the README's
screenshots) against the simulator on loopback, with a frozen clock and no cursor blink. Before the
snapshot is taken each test checks, on the screen the app drew, that the words are Chinese and that the
status bar's and the footer's lines are whole at that width. Update after a deliberate UI change with
``--snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from holysheep_tui import i18n
from holysheep_tui import secrets as keys
from holysheep_tui.chat.session import Session
from holysheep_tui.errors import HolySheepError, KeyMissingError, KeyringError
from holysheep_tui.i18n import _
from holysheep_tui.linebreak import cell_len
from holysheep_tui.simulator import RelaySimulator
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.scenes import PACING, SCENES, FrozenClock
from holysheep_tui.tui.screens.first_run import FirstRunScreen

SIZES = [(80, 24), (160, 48)]
SnapCompare = Callable[..., bool]
Check = Callable[[Pilot[None]], None]


def chinese(msgid: str) -> str:
    """``msgid`` in Chinese, failing when the catalog lacks it (English would come back)."""
    said = _(msgid)
    assert said != msgid, f"not translated: {msgid!r}"
    return said


def screen_lines(pilot: Pilot[None]) -> list[str]:
    """What the terminal shows, line by line, as text (a wide character once)."""
    return [strip.text for strip in pilot.app.screen._compositor.render_strips()]


def shows(pilot: Pilot[None], *texts: str) -> str:
    """The screen as plain text, after checking it holds each of ``texts``."""
    screen = "\n".join(screen_lines(pilot))
    for text in texts:
        assert text in screen, f"{text!r} is not on the screen:\n{screen}"
    return screen


def status_bar_whole(pilot: Pilot[None]) -> None:
    """The status bar's key hint, in Chinese, is on its last line whole and the line fits the width."""
    hint = chinese("F1 keys · Ctrl+O model · Esc stop")
    last = screen_lines(pilot)[-1]
    assert last.rstrip().endswith(hint), last
    assert cell_len(last) <= pilot.app.size.width


@pytest.fixture(autouse=True)
def in_chinese() -> None:
    i18n.use("zh-CN")  # conftest puts English back after each test


@pytest.fixture
def sim(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    return make_simulator(pacing=PACING)


@pytest.fixture
def compare(
    snap_compare: SnapCompare,
    sim: RelaySimulator,
    make_session: Callable[..., Session],
    make_app: Callable[..., HolySheepApp],
) -> Callable[[str, tuple[int, int], Check], bool]:
    """``compare(scene_name, size, check)``: the scene's last frame, after ``check(pilot)``, against its
    stored snapshot."""

    def run(name: str, size: tuple[int, int], check: Check) -> bool:
        scene, scenario, model = SCENES[name]
        clock = FrozenClock()
        headers = {"X-Sim-Scenario": scenario} if scenario else {}
        app = make_app(make_session(sim, model=model, headers=headers), clock=clock)

        async def before(pilot: Pilot[None]) -> None:
            await scene(clock)(pilot)
            check(pilot)

        return snap_compare(app, terminal_size=size, run_before=before)

    return run


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_main_screen_after_an_answer_in_chinese(
    compare: Callable[[str, tuple[int, int], Check], bool], size: tuple[int, int]
) -> None:
    """You should see, scrolled to the top, a Chinese prompt and kimi-k2's answer (a heading, a python
    code block, a price table; at 160x48 its figures in Chinese, 词元 … 首词元 … 总耗时 …), and below, the
    prompt's Chinese placeholder and the status bar with 空闲, 合计 and the Chinese key hint, whole."""

    def check(pilot: Pilot[None]) -> None:
        status_bar_whole(pilot)
        screen = shows(pilot, f" · {chinese('idle')} · ")
        assert "Ask anything" not in screen and " idle " not in screen

    assert compare("chinese-conversation", size, check)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_model_picker_in_chinese(
    compare: Callable[[str, tuple[int, int], Check], bool], size: tuple[int, int]
) -> None:
    """You should see the model picker over a finished answer, titled 下一条消息的模型（当前：kimi-k2）,
    filtered by 'k2': kimi-k2 (↺), kimi-k2-thinking (∴) and deepseek-v3.2 with 输入/输出 prices in USD
    and CNY and context sizes, the last row offering 'k2' as typed, and the Chinese legend below."""

    def check(pilot: Pilot[None]) -> None:
        title = chinese("Model for the next message (now: {model})").format(model="kimi-k2")
        screen = shows(pilot, title)
        assert "Model for the next message" not in screen and "as typed" not in screen

    assert compare("model-picker", size, check)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_inline_error_in_chinese(
    compare: Callable[[str, tuple[int, int], Check], bool], size: tuple[int, int]
) -> None:
    """You should see a Chinese prompt answered by a red box titled ✖ 认证失败 (or the catalog's words for
    'Authentication failed') quoting the relay's own message unchanged (API Key 无效), what to do in
    Chinese ending with Ctrl+R, and 出错 in the status bar."""

    def check(pilot: Pilot[None]) -> None:
        screen = shows(pilot, chinese("Authentication failed"), "Ctrl+R")
        assert "Authentication failed" not in screen and "try again" not in screen
        status_bar_whole(pilot)

    assert compare("error-inline", size, check)


@pytest.fixture
def first_run_app(
    keyring_file: Path,
    make_session: Callable[..., Session],
    make_app: Callable[..., HolySheepApp],
) -> HolySheepApp:
    """The app as ``holysheep`` starts it with no key for the relay: a keyring is there (a file-backed
    plug-in), empty. The endpoint is never called before a key is typed."""
    session = make_session(profile="holysheep", base_url="https://api.holysheep.ai/v1")
    try:
        keys.resolve_key("holysheep", session.profile, environ={})
    except (KeyMissingError, KeyringError) as exc:
        problem: HolySheepError = exc
    else:  # pragma: no cover - the keyring is empty
        raise AssertionError("a key was found")
    return make_app(session, first_run=problem)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_first_run_screen_in_chinese(
    snap_compare: SnapCompare,
    first_run_app: HolySheepApp,
    wait_until: Callable[..., Awaitable[None]],
    size: tuple[int, int],
) -> None:
    """You should see the first-run screen in Chinese: no API key for profile holysheep, where a key comes
    from, the masked key field with its Chinese placeholder, the buttons (save to the keyring, this
    session only, try the demo) with their Chinese labels whole, and the Chinese key hints."""

    async def before(pilot: Pilot[None]) -> None:
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, FirstRunScreen), "the first-run screen")
        await pilot.pause()
        screen = shows(pilot)
        assert "No API key" not in screen and "Try the demo" not in screen

    assert snap_compare(first_run_app, terminal_size=size, run_before=before)
