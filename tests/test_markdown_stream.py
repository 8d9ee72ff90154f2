"""StreamingMarkdown: streamed output equals the whole answer, finished blocks render once, untrusted
text stays inert, wide characters align, and the layout follows the width."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import replace

import pytest
from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.pilot import Pilot
from textual.strip import Strip

from holysheep_tui.tui.markdown_blocks import BlockSplitter
from holysheep_tui.tui.markdown_layout import MarkdownLayout
from holysheep_tui.tui.markdown_render import RenderTheme
from holysheep_tui.tui.markdown_stream import StreamingMarkdown

ANSWER = """# 流式渲染测试

这是第一段中文，包含 `行内代码` 和 **粗体**，以及一个[文档链接](https://example.com/docs)。

| 名称 | 数量 | 说明 |
|------|-----:|------|
| 苹果 | 3 | 红色的水果 |
| 香蕉 | 12 | 黄色 |

```python
def 问候(名字: str) -> str:
    # 注释：先空一行


    return f"你好，{名字}"
```

1. 第一步：创建密钥
2. 第二步：设置 `base_url`

3. 第三步：开始对话

> 引用：模型的输出不可信。

最后一段，说完了。
"""

UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class _App(App[None]):
    CSS = "#pane { scrollbar-gutter: stable; }"

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="pane"):
            yield StreamingMarkdown(id="live")
            yield StreamingMarkdown(id="whole")


def _widgets(app: App[None]) -> tuple[StreamingMarkdown, StreamingMarkdown]:
    return app.query_one("#live", StreamingMarkdown), app.query_one("#whole", StreamingMarkdown)


def _lines(widget: StreamingMarkdown) -> list[str]:
    return [widget.render_line(y).text.rstrip() for y in range(widget.size.height)]


def _segments(widget: StreamingMarkdown) -> list[Segment]:
    return [segment for y in range(widget.size.height) for segment in widget.render_line(y)]


async def _stream(pilot: Pilot[None], widget: StreamingMarkdown, text: str, size: int = 3) -> None:
    """Append ``text`` in fragments of ``size`` characters, letting the app run between some of them."""
    for index in range(0, len(text), size):
        widget.append(text[index : index + size])
        if index % (size * 8) == 0:
            await pilot.pause()


async def test_streamed_answer_renders_like_the_whole_answer() -> None:
    app = _App()
    async with app.run_test(size=(100, 60)) as pilot:
        live, whole = _widgets(app)
        await _stream(pilot, live, ANSWER)
        live.finish()
        whole.set_markdown(ANSWER)
        await pilot.pause()
        assert live.text == ANSWER
        assert _lines(live) == _lines(whole)
        shown = "\n".join(_lines(live))
        for expected in (
            "流式渲染测试",
            "行内代码",
            "苹果",
            "红色的水果",
            "python",
            'return f"你好，{名字}"',
            "1. 第一步",
            "3. 第三步",
            "▌ 引用：模型的输出不可信。",
            "最后一段，说完了。",
        ):
            assert expected in shown
        assert "```" not in shown and "|---" not in shown


async def test_the_open_block_is_drawn_while_the_answer_streams() -> None:
    app = _App()
    async with app.run_test(size=(100, 40)) as pilot:
        live, _ = _widgets(app)
        live.append("第一段正在生成，还没有换行")
        for _ in range(100):  # the first frame is not delayed; bounded wait for it
            await pilot.pause(0.01)
            if live.open_renders:
                break
        assert live.open_renders >= 1
        assert "第一段正在生成，还没有换行" in "\n".join(_lines(live))


async def test_finished_blocks_are_rendered_exactly_once_while_tokens_arrive() -> None:
    app = _App()
    async with app.run_test(size=(100, 60)) as pilot:
        live, _ = _widgets(app)
        seen_blocks = 0
        for index in range(0, len(ANSWER), 4):
            live.append(ANSWER[index : index + 4])
            live.flush()
            await pilot.pause()
            counts = live.block_render_counts
            assert all(count == 1 for count in counts), counts
            seen_blocks = len(counts)
        assert seen_blocks >= 6
        open_renders = live.open_renders
        live.finish()
        await pilot.pause()
        counts = live.block_render_counts
        assert counts == [1] * 7  # heading, paragraph, table, code, list, quote, last paragraph
        assert live.blocks_rendered == len(counts)
        assert open_renders > len(counts)  # the open block was redrawn many times meanwhile


async def test_a_fence_split_mid_fence_renders_as_code_and_is_not_cut_at_blank_lines() -> None:
    app = _App()
    async with app.run_test(size=(100, 40)) as pilot:
        live, _ = _widgets(app)
        for fragment in (
            "前言。\n\n``",
            "`pyth",
            "on\nx = 1  # 中文注释\n",
            "\n\n",
            "y = 2\n`",
            "``\n\n后记。",
        ):
            live.append(fragment)
            live.flush()
            await pilot.pause()
            shown = _lines(live)
            assert not any(line.strip().startswith("`") for line in shown), shown
            if "x = 1" in fragment:
                assert "python" in [line.strip() for line in shown]
        live.finish()
        await pilot.pause()
        assert len(live.block_render_counts) == 3  # 前言 / the whole fence / 后记
        base = live.visual_style.rich_style.bgcolor
        code_lines = [
            live.render_line(y)
            for y in range(live.size.height)
            if "x = 1" in live.render_line(y).text or "y = 2" in live.render_line(y).text
        ]
        assert len(code_lines) == 2
        for strip in code_lines:
            backgrounds = {
                segment.style.bgcolor for segment in strip if segment.style and segment.text.strip()
            }
            assert backgrounds and base not in backgrounds  # drawn on the code block background


async def test_escape_sequences_and_control_characters_are_inert() -> None:
    hostile = (
        "标题\x1b[2J\x1b[31m红色\x1b[0m，\x1b]0;窗口标题\x07结束。\x9b31m\x07\x08\x7f\n\n"
        "\x1b]8;;https://evil.example\x1b\\点我\x1b]8;;\x1b\\ 和 \x1bP+q\x1b\\ 完。\r\n\n"
        "```\n代码\x1b[1m加粗\x1b[0m\x00\n```\n"
    )
    app = _App()
    async with app.run_test(size=(100, 40)) as pilot:
        live, whole = _widgets(app)
        await _stream(pilot, live, hostile, size=2)  # sequences cut across fragments
        live.finish()
        whole.set_markdown(hostile)
        await pilot.pause()
        for widget in (live, whole):
            segments = _segments(widget)
            assert not [s.text for s in segments if UNSAFE.search(s.text)]
            assert not [s for s in segments if s.style and s.style.link]
            shown = "\n".join(_lines(widget))
            for expected in ("红色", "结束。", "点我", "完。", "代码加粗"):
                assert expected in shown
        assert _lines(live) == _lines(whole)


async def test_link_targets_that_differ_from_their_text_are_not_clickable() -> None:
    app = _App()
    async with app.run_test(size=(100, 40)) as pilot:
        live, _ = _widgets(app)
        live.set_markdown(
            "请看[官方文档](https://evil.example/phish) 或 <https://example.com/中文>。\n\n![示意图](https://x.example/a.png)"
        )
        await pilot.pause()
        shown = "\n".join(_lines(live))
        assert "官方文档" in shown and "evil" not in shown and "示意图" in shown
        links = {segment.style.link for segment in _segments(live) if segment.style and segment.style.link}
        for link in links:  # only an autolink, whose visible text is its target
            assert link in shown or link.startswith("https://example.com/")
        assert all("evil" not in link and "x.example" not in link for link in links)


async def test_wide_characters_align_in_table_columns() -> None:
    table = "| 名称 | 说明 | 数量 |\n|---|---|--:|\n| 苹果 | 红色的水果 | 3 |\n| 香蕉ABC | 黄 | 12 |\n| 梨 | 很甜很甜很甜 | 100 |\n"
    app = _App()
    async with app.run_test(size=(80, 30)) as pilot:
        live, _ = _widgets(app)
        live.set_markdown(table)
        await pilot.pause()
        lines = _lines(live)
        rows = {name: next(line for line in lines if name in line) for name in ("苹果", "香蕉ABC", "梨")}
        starts = {
            cell_len(line[: line.index(value)])
            for line, value in zip(rows.values(), ("红色的水果", "黄", "很甜很甜很甜"), strict=True)
        }
        ends = {
            cell_len(line[: line.index(value) + len(value)])
            for line, value in zip(rows.values(), ("3", "12", "100"), strict=True)
        }
        assert len(starts) == 1  # second column starts at one cell offset
        assert len(ends) == 1  # right-aligned numbers end at one cell offset


async def test_resize_rewraps_every_block_once_per_width() -> None:
    paragraph = "这是一段很长的中文文字，用来检查换行是否跟随宽度变化。" * 8
    app = _App()
    async with app.run_test(size=(80, 40)) as pilot:
        live, _ = _widgets(app)
        live.set_markdown(f"## 标题\n\n{paragraph}\n\n- 列表项：{paragraph}")
        await pilot.pause()
        narrow = _lines(live)
        assert live.block_render_counts == [1, 1, 1]
        assert all(cell_len(line) <= live.size.width for line in narrow)
        await pilot.resize_terminal(140, 40)
        await pilot.pause()
        wide = _lines(live)
        assert len(wide) < len(narrow)
        assert max(cell_len(line) for line in wide) > 80
        assert all(cell_len(line) <= live.size.width for line in wide)
        assert live.block_render_counts == [2, 2, 2]
        assert "".join(wide).replace(" ", "").count("用来检查") == 16


async def test_theme_change_recolours_code_blocks() -> None:
    app = _App()
    async with app.run_test(size=(80, 30)) as pilot:
        live, _ = _widgets(app)
        live.set_markdown("```python\n打印 = print\n```")
        await pilot.pause()

        def code_background() -> object:
            strip = next(
                live.render_line(y) for y in range(live.size.height) if "打印" in live.render_line(y).text
            )
            return next(s.style.bgcolor for s in strip if s.style and "打印" in s.text)

        dark = code_background()
        app.theme = "textual-light"
        await pilot.pause()
        assert code_background() != dark


# -- the splitter on its own ----------------------------------------------------------------


def _split(text: str, size: int) -> list[str]:
    splitter = BlockSplitter()
    blocks: list[str] = []
    for index in range(0, len(text), size):
        blocks += splitter.feed(text[index : index + size])
    return blocks + splitter.finish()


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50, 10_000])
def test_block_boundaries_do_not_depend_on_fragment_boundaries(size: int) -> None:
    assert _split(ANSWER, size) == _split(ANSWER, len(ANSWER))


def test_blocks_are_cut_at_safe_places_only() -> None:
    blocks = _split(ANSWER, 5)
    assert blocks[0] == "# 流式渲染测试"
    assert blocks[2].startswith("| 名称") and blocks[2].endswith("| 香蕉 | 12 | 黄色 |")
    assert blocks[3].startswith("```python") and blocks[3].endswith("```") and "\n\n\n" in blocks[3]
    assert blocks[4] == "1. 第一步：创建密钥\n2. 第二步：设置 `base_url`\n\n3. 第三步：开始对话"
    assert blocks[-1] == "最后一段，说完了。"


def test_a_list_ends_at_an_unindented_paragraph_but_not_at_indented_continuation() -> None:
    text = "- 第一项\n\n  第一项的续行\n- 第二项\n  ```\n  代码\n\n  ```\n\n之后的段落\n"
    assert _split(text, 3) == ["- 第一项\n\n  第一项的续行\n- 第二项\n  ```\n  代码\n\n  ```", "之后的段落"]


def test_the_open_block_hides_a_closing_fence_still_arriving() -> None:
    splitter = BlockSplitter()
    splitter.feed("```python\n打印(1)\n``")
    assert splitter.open_source() == "```python\n打印(1)"
    assert splitter.feed("`\n") == ["```python\n打印(1)\n```"]


class _RareFlushes(StreamingMarkdown):
    MAX_FPS = 0.001  # only the first frame and explicit flushes draw: the test decides when
    MAX_LAYOUT_FPS = 0.001


class _OneAnswerApp(App[None]):
    def compose(self) -> ComposeResult:
        with VerticalScroll(id="pane"):
            yield _RareFlushes(id="live")


def _painted(app: App[None]) -> list[str]:
    """The screen as Textual's line caches hold it (what the terminal shows)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


@pytest.mark.parametrize("seed", [1, 2, 3, 5, 8, 13, 21, 34])
async def test_what_is_painted_equals_a_full_repaint_whatever_the_fragments_and_frames(seed: int) -> None:
    """A paint between flushes lays out finished blocks; their lines must not keep stale paint."""
    text = (
        "**deepseek-v3.2**（模拟器）收到你的问题：「人民币结算的好处」。\n\n## 成本对比\n\n"
        "人民币结算可以直接用微信或支付宝充值，财务对账也更简单。\n\n## 人民币结算\n\n在成本方面"
    )
    rng = random.Random(seed)
    app = _OneAnswerApp()
    async with app.run_test(size=(60, 30)) as pilot:
        live = app.query_one(_RareFlushes)
        index = 0
        for _ in range(len(text)):  # bounded: each round consumes at least one character
            if index >= len(text):
                break
            size = rng.randint(1, 9)
            live.append(text[index : index + size])
            index += size
            action = rng.random()
            if action < 0.35:
                live.flush()
            elif action < 0.8:  # Textual repaints the last line only: a paint between flushes
                live.refresh(Region(0, max(0, live.size.height - 1), live.size.width, 1))
            await pilot.pause()
        live.flush()
        await pilot.pause()
        painted = _painted(app)
        live.refresh()  # repaint every line from the widget's current state
        await pilot.pause()
        assert live.text == text
        assert painted == _painted(app)
        assert "**deepseek" not in "\n".join(painted)


async def test_a_block_laid_out_by_a_paint_between_flushes_replaces_the_stale_open_block() -> None:
    app = _OneAnswerApp()
    async with app.run_test(size=(60, 30)) as pilot:
        live = app.query_one(_RareFlushes)
        live.append("**粗体")
        await pilot.pause()  # the first frame: the open block shows raw "**粗体"
        live.append("文字**，第一段。\n\n第二段")
        live.refresh(Region(0, live.size.height - 1, live.size.width, 1))  # only the last line repaints
        await pilot.pause()
        live.flush()
        await pilot.pause()
        shown = "\n".join(_painted(app))
        assert "粗体文字，第一段。" in shown and "第二段" in shown
        assert "**粗体" not in shown


# -- the layout on its own ------------------------------------------------------------------

_THEME = RenderTheme(
    base=Style(color="#e0e0e0", bgcolor="#101010"),
    markdown={"markdown.h1": Style(color="#ffcc00", bold=True)},
    code=Style(color="#ffffff", bgcolor="#202020"),
)


def _texts(lines: Sequence[Strip]) -> list[str]:
    return [line.text.strip() for line in lines]


def test_layout_streamed_in_fragments_equals_the_whole_text_and_renders_each_block_once() -> None:
    streamed, whole = MarkdownLayout(), MarkdownLayout(ANSWER)
    for layout in (streamed, whole):
        layout.set_theme(_THEME)
    for index in range(0, len(ANSWER), 5):
        streamed.append(ANSWER[index : index + 5])
        streamed.lay_out(70)
        assert all(count == 1 for count in streamed.block_render_counts)
    streamed.finish()
    streamed.lay_out(70)
    whole.lay_out(70)
    assert streamed.text == whole.text == ANSWER
    assert _texts(streamed.lines) == _texts(whole.lines) and not streamed.open_lines
    assert streamed.block_render_counts == whole.block_render_counts == [1] * 7
    assert streamed.height == len(streamed.lines) and streamed.open_renders > 7
    assert "最后一段，说完了。" in _texts(streamed.lines)[-1]


def test_layout_reports_the_first_changed_line_and_draws_the_open_block_only_when_asked() -> None:
    layout = MarkdownLayout()
    assert layout.lay_out(40) is None and not layout.lines, "nothing renders before a theme"
    layout.set_theme(_THEME)
    layout.append("# 标题\n\n第一段正在")
    assert layout.lay_out(40, render_open=False) == 0, "the open block is drawn once at a new width"
    assert _texts(layout.lines) == ["标题"] and _texts(layout.open_lines) == ["第一段正在"]
    assert layout.lay_out(40) is None, "nothing changed"
    layout.append("生成")
    assert layout.lay_out(40, render_open=False) is None and layout.open_renders == 1
    assert layout.lay_out(40) == 1 and _texts(layout.open_lines) == ["第一段正在生成"]
    assert [layout.line(y) for y in range(4)] == [*layout.lines, layout.gap, *layout.open_lines, None]
    assert layout.height == 3
    layout.append("。\n\n第二段")
    assert layout.lay_out(40) == 1 and _texts(layout.lines) == ["标题", "", "第一段正在生成。"]
    assert _texts(layout.open_lines) == ["第二段"] and layout.height == 5


def test_layout_rewraps_at_a_new_width_and_rerenders_only_for_a_new_theme_or_after_clear() -> None:
    paragraph = "这是一段很长的中文文字，用来检查换行是否跟随宽度变化。" * 4
    layout = MarkdownLayout(f"# 标题\n\n{paragraph}")
    layout.set_theme(_THEME)
    layout.lay_out(30)
    narrow = _texts(layout.lines)
    assert all(cell_len(line) <= 30 for line in narrow) and layout.block_render_counts == [1, 1]
    assert layout.lay_out(60) == 0 and layout.width == 60
    assert len(layout.lines) < len(narrow) and layout.block_render_counts == [2, 2]
    assert "".join(_texts(layout.lines)).count("用来检查") == 4
    assert not layout.set_theme(RenderTheme(_THEME.base, dict(_THEME.markdown), _THEME.code))
    assert layout.lay_out(60) is None and layout.block_render_counts == [2, 2], "an equal theme keeps lines"
    assert layout.set_theme(replace(_THEME, base=Style(color="#000000", bgcolor="#ffffff")))
    assert not layout.lines, "a new theme drops the lines"
    layout.lay_out(60)
    assert layout.block_render_counts == [3, 3] and layout.gap.text == " " * 60
    assert {s.style.bgcolor for s in layout.lines[1] if s.style} == {Style(bgcolor="#ffffff").bgcolor}
    layout.clear()
    assert not layout.lines and layout.height == 0 and layout.text.startswith("# 标题")
    layout.lay_out(60)
    assert layout.block_render_counts == [4, 4]
