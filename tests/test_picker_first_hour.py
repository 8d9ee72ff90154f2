"""The model picker as a new user meets it at 80x24: USD and CNY prices on one line per model, reasoning
models marked, typed text offered apart from the relay's models (issue 15, items 12 and 15)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import OptionList, Static

from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.model_memory import ModelMemory
from holysheep_tui.tui.screens.model_picker import REASONING_MARK, ModelPicker, is_reasoning_model


def rows(app: HolySheepApp) -> list[str]:
    """Each option of the open picker as it is drawn."""
    options = app.screen.query_one(OptionList)
    return [options.render_line(y).text.rstrip() for y in range(options.size.height)]


async def open_picker(
    app: HolySheepApp, pilot: Pilot[None], wait_until: Callable[..., Awaitable[None]]
) -> None:
    await wait_until(pilot, lambda: len(app.relay_models) > 3, "the relay's model list")
    await pilot.press("ctrl+o")
    await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), "the model picker")
    await pilot.pause()


async def test_prices_show_usd_and_cny_on_one_line_per_model_at_80x24(
    make_app: Callable[..., HolySheepApp], wait_until: Callable[..., Awaitable[None]]
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_picker(app, pilot, wait_until)
        options = app.screen.query_one(OptionList)
        assert set(options._heights.values()) == {1}, "no model's row wraps onto a second line"
        drawn = rows(app)
        kimi = next(line for line in drawn if " kimi-k2 " in line)
        assert "$0.6/¥0.6 CNY in · $2.5/¥2.5 out" in kimi and kimi.endswith("128k"), kimi
        assert all("CNY in" in line or "price unknown" in line for line in drawn if line)
        help_text = " ".join(str(s.render()) for s in app.screen.query(".dialog-help").results(Static))
        assert "USD list / CNY billed" in help_text and "人民币" not in help_text
        legend = next(s for s in app.screen.query(".dialog-help").results(Static) if "★" in str(s.render()))
        dialog = app.screen.query_one("#model-picker")
        assert legend.region.bottom <= dialog.region.bottom  # the legend is in view at 80x24, not cut off


async def test_reasoning_models_are_marked(
    make_app: Callable[..., HolySheepApp], wait_until: Callable[..., Awaitable[None]]
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_picker(app, pilot, wait_until)
        seen = set(rows(app))
        for _ in range(app.screen.query_one(OptionList).option_count):  # scroll down the whole list
            await pilot.press("down")
            seen |= set(rows(app))
        marked = {line.split(REASONING_MARK)[1].split()[0] for line in seen if REASONING_MARK in line}
        assert marked == {"kimi-k2-thinking", "deepseek-reasoner"}
    for name in ("o1", "o3-mini", "openai/o4-mini", "deepseek-r1", "qwq-32b", "通义-thinking"):
        assert is_reasoning_model(name), name
    for name in ("gpt-4o", "kimi-k2", "deepseek-v3.2", "moonshot-v1-8k", "claude-sonnet-4.5"):
        assert not is_reasoning_model(name), name


async def test_typed_text_is_a_distinct_last_row_not_a_model(
    make_app: Callable[..., HolySheepApp], wait_until: Callable[..., Awaitable[None]]
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_picker(app, pilot, wait_until)
        await pilot.press(*"deepseek-v")
        await pilot.pause()
        drawn = [line for line in rows(app) if line]
        assert "deepseek-v3.2" in drawn[0]
        assert drawn[-1].endswith("Use “deepseek-v” as typed (not in the relay's list)")
        assert not any("price unknown" in line and "deepseek-v " in line for line in drawn)
        await pilot.press("enter")  # Enter takes the best match, not the typed fragment
        await wait_until(pilot, lambda: not isinstance(app.screen, ModelPicker), "the picker to close")
        assert app.model == "deepseek-v3.2"

        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), "the model picker")
        await pilot.press(*"团队-私有模型")
        await pilot.pause()
        drawn = [line for line in rows(app) if line]
        assert drawn == ["☐ +  Use “团队-私有模型” as typed (not in the relay's list)"]
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.model == "团队-私有模型", "the typed model to be chosen")


async def test_ctrl_f_stars_a_model_and_stars_and_recent_models_survive_a_restart(
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[object]],
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.choose_model("gpt-4.1")
        await send_and_wait(pilot, "第一次用 gpt-4.1：人民币怎么结算？")
        await open_picker(app, pilot, wait_until)
        await pilot.press(*"deepseek-v3")
        await pilot.pause()
        assert "deepseek-v3.2" in rows(app)[0] and "★" not in rows(app)[0]
        await pilot.press("ctrl+f")
        await pilot.pause()
        assert rows(app)[0].startswith("☐ ★ ") and "deepseek-v3.2" in rows(app)[0]
        await pilot.press("escape")

    again = make_app()  # a restart: the same data directory
    async with again.run_test(size=(80, 24)) as pilot:
        await open_picker(again, pilot, wait_until)
        drawn = [line for line in rows(again) if line]
        assert drawn[0].startswith("☐ ★ ") and "deepseek-v3.2" in drawn[0]
        assert drawn[1].startswith("☐ ↺ ") and "gpt-4.1" in drawn[1]
        await pilot.press(*"deepseek-v3")
        await pilot.pause()
        await pilot.press("ctrl+f")  # unstar
        await pilot.pause()
        assert "★" not in rows(again)[0]
    assert make_app().model_memory.favourites == []


def test_the_model_memory_file_is_private_and_a_damaged_one_is_an_empty_memory(tmp_path: Path) -> None:
    path = tmp_path / "data" / "models.json"
    memory = ModelMemory.load(path)
    assert memory.recent == [] and memory.favourites == []
    assert memory.used(["团队-私有模型", "kimi-k2"]) == ["团队-私有模型", "kimi-k2"]
    assert memory.toggle_favourite("团队-私有模型")
    assert path.stat().st_mode & 0o777 == 0o600
    again = ModelMemory.load(path)
    assert again.recent == ["团队-私有模型", "kimi-k2"] and again.favourites == ["团队-私有模型"]
    path.write_text('{"recent": "不是列表", "favourites": [1, "\\u001b[31mkimi-k2"]}', encoding="utf-8")
    damaged = ModelMemory.load(path)
    assert damaged.recent == [] and len(damaged.favourites) == 1
    assert "\x1b" not in damaged.favourites[0], "a control sequence from the file never reaches the screen"
    path.write_bytes(b"\xff\xfe not json")
    assert ModelMemory.load(path).recent == []
