"""The app's export dialog offers the exporter table: every format, in its order, named by its extension."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.widgets import Checkbox, Input, OptionList

from holysheep_tui.transcripts.export import EXPORTERS, Exporter
from holysheep_tui.tui.screens.export import ExportChoice, ExportScreen

TITLE = "价格对比: a/b"
STEM = "价格对比-a-b"


class Host(App[None]):
    """Shows one ExportScreen and keeps what it returns."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory
        self.choices: list[ExportChoice | None] = []

    def on_mount(self) -> None:
        self.push_screen(ExportScreen(TITLE, self.directory), self.choices.append)


async def test_the_dialog_lists_every_exporter_in_table_order(tmp_path: Path) -> None:
    app = Host(tmp_path)
    async with app.run_test() as pilot:
        await pilot.pause()
        options = app.screen.query_one(OptionList)
        shown = [options.get_option_at_index(i) for i in range(options.option_count)]
        assert [o.id for o in shown] == [e.name for e in EXPORTERS]
        assert all(e.description in str(o.prompt) for o, e in zip(shown, EXPORTERS, strict=True))


@pytest.mark.parametrize(("index", "entry"), list(enumerate(EXPORTERS)), ids=[e.name for e in EXPORTERS])
async def test_choosing_a_format_names_the_file_with_its_extension(
    tmp_path: Path, wait_until: Callable[..., Any], index: int, entry: Exporter
) -> None:
    app = Host(tmp_path)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ExportScreen), "the export dialog")
        for _ in range(index):
            await pilot.press("down")
        path = app.screen.query_one(Input)
        await wait_until(pilot, lambda: path.value.endswith(entry.extension), f"the {entry.extension} name")
        assert Path(path.value) == tmp_path / f"{STEM}{entry.extension}"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.choices, "the choice")
    assert app.choices == [ExportChoice(entry.name, tmp_path / f"{STEM}{entry.extension}")]


async def test_include_alternatives_is_offered_for_markdown_and_html_only(
    tmp_path: Path, wait_until: Callable[..., Any]
) -> None:
    app = Host(tmp_path)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ExportScreen), "the export dialog")
        box = app.screen.query_one("#export-branches", Checkbox)
        await pilot.press("down", "down", "down")  # txt follows the active path: nothing to include
        await wait_until(pilot, lambda: box.disabled, "the box disabled for txt")
        await pilot.press("up")  # html
        await wait_until(pilot, lambda: not box.disabled, "the box enabled for html")
        await pilot.press("tab", "space")
        await wait_until(pilot, lambda: box.value, "the box ticked")
        await pilot.press("shift+tab", "enter")
        await wait_until(pilot, lambda: app.choices, "the choice")
    assert app.choices == [ExportChoice("html", tmp_path / f"{STEM}.html", all_branches=True)]
