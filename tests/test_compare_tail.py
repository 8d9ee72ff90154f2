"""A comparison's legs stream in boxes that keep their height: each shows its newest lines, the screen is
not laid out again as they grow, and every line shows once the leg ends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from holysheep_tui import locations
from holysheep_tui.simulator import Pacing
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.widgets.prompt import PromptInput
from tests.test_compare_tui import MODELS, comparison, mark_models

PROMPT = "请各自写一篇关于长城的长文"


async def test_streaming_legs_keep_their_height_show_their_newest_lines_then_every_line(
    make_app: Callable[..., HolySheepApp],
    make_simulator: Callable[..., Any],
    make_session: Callable[..., Any],
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    sim = make_simulator(pacing=Pacing(first_token_delay=0, tokens_per_second=150, chunk_tokens=2))
    app = make_app(make_session(base_url=sim.base_url, model="kimi-k2"), store=locations.history_db())
    async with app.run_test(size=(80, 40)) as pilot:
        await mark_models(pilot, app, MODELS, wait_until)
        app.query_one(PromptInput).load_text(PROMPT)
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(app.view.query(".compare")), "the comparison")
        view = comparison(app)
        first = view.legs[0].body
        await wait_until(
            pilot, lambda: first._layout.height > (first.tail or 0) + 4, "a leg longer than its box"
        )
        tail = first.tail
        assert tail is not None and tail >= 3
        heights = set()
        for _ in range(6):  # several ticks of the stream
            await pilot.pause(0.15)
            if not app.answering:
                break
            heights.add(first.size.height)  # its box (the view may gain a line: a leg's figures)
            shown = first.render_line(tail - 1)  # brings the layout up to date first
            layout = first._layout
            newest = layout.line(layout.height - 1)
            assert newest is not None and shown.text == newest.text  # the box shows the newest line
        assert heights == {tail}  # no change of height while streaming
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.answering, "every leg stopped")
        await wait_until(pilot, lambda: first.size.height == first._layout.height, "every line shown")
        assert first.size.height > tail

