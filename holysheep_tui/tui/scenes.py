"""Scenes of the demo app for the README's screenshots and the snapshot tests: one definition for both.

A scene drives the real app with Pilot against the simulator on loopback. The app's clock (the one every
answer's Timings read) is frozen and set by the scene, and the cursor does not blink, so each picture is
the same every run. Waits are on conditions, never on fixed pauses.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from textual.pilot import Pilot

from holysheep_tui.simulator import Pacing, count_tokens
from holysheep_tui.tui.screens.model_picker import ModelPicker
from holysheep_tui.tui.widgets.answer import AnswerView
from holysheep_tui.tui.widgets.prompt import PromptInput

if TYPE_CHECKING:
    from textual.screen import Screen

    from holysheep_tui.chat.conversation import Conversation
    from holysheep_tui.chat.session import Session
    from holysheep_tui.tui.widgets.conversation import ConversationView

PACING = Pacing(first_token_delay=0.0, tokens_per_second=4000.0, chunk_tokens=3)
"""The simulator's pacing for every scene: fast, and three tokens to a chunk."""


class SceneApp(Protocol):
    """What a scene uses of the app."""

    @property
    def answering(self) -> bool: ...
    @property
    def conversation(self) -> Conversation: ...
    @property
    def session(self) -> Session: ...
    @property
    def view(self) -> ConversationView: ...
    @property
    def screen(self) -> Screen[Any]: ...

    relay_models: list[str]
    revision: int

    def query_one(self, selector: type[PromptInput]) -> PromptInput: ...
    async def choose_model(self, model: str | None) -> None: ...


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


Scene = Callable[[Pilot[None]], Awaitable[None]]


async def wait_until(
    pilot: Pilot[None], condition: Callable[[], bool], what: str, timeout: float = 20.0
) -> None:
    """Let the app run until ``condition`` holds; TimeoutError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"scene: timed out waiting for {what}")
        await pilot.pause(0.02)


def _app(pilot: Pilot[None]) -> SceneApp:
    app: SceneApp = pilot.app  # type: ignore[assignment]
    return app


async def _ask(pilot: Pilot[None], text: str, *, finish: bool = True) -> None:
    app = _app(pilot)
    app.query_one(PromptInput).load_text(text)
    await pilot.press("enter")
    if finish:
        await wait_until(pilot, lambda: not app.answering and bool(app.conversation.turns), "the answer")


def scene_mid_stream(clock: FrozenClock) -> Scene:
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

        await wait_until(pilot, at_the_stall, "the stalled stream")
        answer = app.view.answers()[-1]
        assert isinstance(answer, AnswerView)
        await wait_until(pilot, lambda: answer.body.drawn, "the renderer to draw all it was sent")
        app.view.release_anchor()  # show the answer from its start: the top does not depend on timing
        app.view.scroll_home(animate=False, immediate=True)
        app.screen.refresh(repaint=True, layout=True)
        clock.now = 2.5  # the answer's Timings run on this clock
        app.revision += 1  # the status bar follows the app's state
        await pilot.pause()

    return run


def scene_model_picker(clock: FrozenClock) -> Scene:
    """The picker over a finished answer, filtered by 'k2'."""

    async def run(pilot: Pilot[None]) -> None:
        app = _app(pilot)
        await wait_until(pilot, lambda: bool(app.relay_models), "the model list")
        await _ask(pilot, "你好")
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), "the picker")
        await pilot.press(*"k2")
        await pilot.pause()

    return run


def scene_error(clock: FrozenClock) -> Scene:
    """A prompt answered by the relay's 401, shown inline with what to do."""

    async def run(pilot: Pilot[None]) -> None:
        app = _app(pilot)
        await app.choose_model("kimi-k2+401")
        await _ask(pilot, "这个 Key 还能用吗？")
        await pilot.pause()

    return run


def scene_chinese(clock: FrozenClock) -> Scene:
    """A Chinese answer with a code block and a price table, scrolled to its start."""

    async def run(pilot: Pilot[None]) -> None:
        app = _app(pilot)
        await _ask(pilot, "用 python 代码示例说明各模型的价格")
        clock.now = 3.0
        app.view.release_anchor()
        app.view.scroll_home(animate=False, immediate=True)
        await wait_until(pilot, lambda: app.view.scroll_y == 0, "the answer's start")
        await pilot.pause()

    return run


def scene_attachments(clock: FrozenClock) -> Scene:
    """An image sent with a prompt (its chip under the prompt, the answer saying what arrived), and
    another one attached to the next prompt: its chip above the prompt, its tokens in the context meter."""

    async def run(pilot: Pilot[None]) -> None:
        import tempfile
        from pathlib import Path

        from textual import events

        app = _app(pilot)
        folder = Path(tempfile.mkdtemp())
        for name, size in (("小猫.png", 240 * 1024), ("架构图.png", 96 * 1024)):
            (folder / name).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(size - 8))
        for name, prompt in (("小猫.png", "这张图片里有什么？"), ("架构图.png", "")):
            pilot.app.post_message(events.Paste(str(folder / name)))
            await wait_until(pilot, lambda: "[Image #1" in str(pilot.app.query_one("#chips").render()), name)
            if prompt:
                await _ask(pilot, prompt)
        app.query_one(PromptInput).load_text("再看这张架构图：哪里会是瓶颈？")
        clock.now = 3.0
        app.revision += 1
        app.view.release_anchor()  # the prompt sent, with its chip, and the start of its answer
        app.view.scroll_home(animate=False, immediate=True)
        await wait_until(pilot, lambda: app.view.scroll_y == 0, "the conversation's start")
        await pilot.pause(0.3)  # the meter and the estimate follow the prompt 0.1 s after the last change

    return run


def scene_branches(clock: FrozenClock) -> Scene:
    """An answer asked again twice (‹3/3›), then F6 back to the second, selected with Ctrl+Up. Needs a
    history store (alternatives live there)."""

    async def run(pilot: Pilot[None]) -> None:
        app = _app(pilot)
        await _ask(pilot, "用一句话介绍你自己")
        for n in (2, 3):
            await pilot.press("ctrl+r")
            place = f"‹{n}/{n}›"
            await wait_until(pilot, partial(_ended_with, app, place), f"answer {place}")
        await pilot.press("f6")
        await wait_until(pilot, lambda: _shows(app, "‹2/3›"), "the second answer")
        clock.now = 3.0
        app.revision += 1
        await pilot.pause()

    return run


def _ended_with(app: SceneApp, text: str) -> bool:
    return not app.answering and _shows(app, text)


def _shows(app: SceneApp, text: str) -> bool:
    return any(text in str(getattr(w, "header", "")) or text in _header(w) for w in app.view.answers())


def _header(widget: Any) -> str:
    if isinstance(widget, AnswerView):
        return str(widget.query_one(".answer-header").render())
    return ""


def scene_compare(clock: FrozenClock) -> Scene:
    """Three models marked in the picker answer one prompt side by side."""

    async def run(pilot: Pilot[None]) -> None:
        app = _app(pilot)
        await wait_until(pilot, lambda: bool(app.relay_models), "the model list")
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), "the picker")
        for model in ("kimi-k2", "deepseek-v3.2", "gpt-4.1"):
            await pilot.press("ctrl+u", *model)
            await pilot.pause()
            await pilot.press("space")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, ModelPicker), "the picker closed")
        await _ask(pilot, "一句话：为什么用人民币结算？", finish=False)
        await wait_until(
            pilot,
            lambda: (
                not app.answering and "goes on with" in str(app.screen.query_one(".compare-footer").render())
            ),
            "the comparison",
        )
        clock.now = 3.0  # shown at the end: each column's figures and the one the conversation goes on with
        app.revision += 1
        await pilot.pause()

    return run


SCENES: dict[str, tuple[Callable[[FrozenClock], Scene], str, str]] = {
    # name: (scene, simulator scenario header, model)
    "main-mid-stream": (scene_mid_stream, "stall", "deepseek-v3.2"),
    "model-picker": (scene_model_picker, "", "kimi-k2"),
    "error-inline": (scene_error, "", "kimi-k2"),
    "branches": (scene_branches, "", "kimi-k2"),
    "compare": (scene_compare, "", "kimi-k2"),
    "attachments": (scene_attachments, "", "gpt-4.1"),
    "chinese-conversation": (scene_chinese, "", "kimi-k2"),
}
