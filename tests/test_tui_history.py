"""History in the app: sidebar, open and continue, search, paging, export, storage failures.

Pilot drives the real app against the relay simulator on loopback, over a real SQLite file in tmp_path.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Collapsible, Input, OptionList

from holysheep_tui.chat.resume import StoredTurn, TurnPager, estimate_lines, safe_filename
from holysheep_tui.simulator import RecordedRequest, RelaySimulator
from holysheep_tui.store import Conversation, HistoryStore, Message
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.screens.dialogs import ConfirmScreen
from holysheep_tui.tui.screens.export import ExportScreen
from holysheep_tui.tui.screens.search import SearchScreen
from holysheep_tui.tui.widgets.answer import AnswerView, StoredAnswer
from holysheep_tui.tui.widgets.conversation import ConversationView, UserMessage
from holysheep_tui.tui.widgets.prompt import PromptInput
from holysheep_tui.tui.widgets.sidebar import HistorySidebar, RenameScreen

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore.open(tmp_path / "history.db") as s:
        yield s


def msg(role: Any, content: str, minutes: int, **kw: Any) -> Message:
    return Message(0, "", role, content, T0 + timedelta(minutes=minutes), **kw)


def stored_conversation(title: str | None, pairs: list[tuple[str, str]], **kw: Any) -> Conversation:
    messages: list[Message] = []
    for i, (q, a) in enumerate(pairs):
        messages.append(msg("user", q, 2 * i))
        messages.append(
            msg("assistant", a, 2 * i + 1, model="deepseek-v3.2", prompt_tokens=12, completion_tokens=30,
                cost_usd=0.0021, ttft_ms=420, total_ms=1800)
        )  # fmt: skip
    end = T0 + timedelta(minutes=2 * len(pairs))
    return Conversation("", title, False, T0, end, "holysheep", messages=tuple(messages), **kw)


SETTLE = [
    ("如何用人民币结算 HolySheep 的账单？", "按 **¥1 = $1** 结算，支持支付宝和微信支付。"),
    ("那延迟大概多少？", "国内直连，首字延迟通常在 50 毫秒以内。"),
]


def prefill(store: HistoryStore) -> str:
    return store.insert_conversation(stored_conversation("如何用人民币结算 HolySheep 的账单？", SETTLE))


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def notices(app: HolySheepApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def sidebar_titles(app: HolySheepApp) -> list[str]:
    options = app.query_one("#history-list", OptionList)
    return [str(options.get_option_at_index(i).prompt).split("\n")[0] for i in range(options.option_count)]


def drawn(widget: Widget) -> list[str]:
    """The text of each line the widget draws."""
    return [widget.render_line(y).text for y in range(widget.size.height)]


async def show_sidebar(pilot: Pilot[None]) -> HistorySidebar:
    await pilot.press("ctrl+b")
    await pilot.pause()
    return pilot.app.query_one(HistorySidebar)


@pytest.fixture
def open_row(wait_until: Callable[..., Awaitable[None]]) -> Callable[[Pilot[None], int], Awaitable[None]]:
    """``await open_row(pilot, index)``: open the sidebar's row ``index`` with Enter."""

    async def open_row(pilot: Pilot[None], index: int) -> None:
        app = pilot.app
        assert isinstance(app, HolySheepApp)
        app.query_one("#history-list", OptionList).highlighted = index
        app.query_one("#history-list", OptionList).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.conversation.id is not None, "the conversation to open")
        await pilot.pause()

    return open_row


# ---- sidebar -------------------------------------------------------------------------------------


async def test_sidebar_lists_app_and_stored_conversations_and_sees_another_window(
    store: HistoryStore,
    tmp_path: Path,
    make_app: Callable[..., HolySheepApp],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
) -> None:
    prefill(store)
    app = make_app(store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await send_and_wait(pilot, "第二个对话：请介绍一下 DeepSeek 的价格")
        sidebar = await show_sidebar(pilot)
        titles = sidebar_titles(app)
        assert titles[0].startswith("▸ 第二个对话") and titles[1].startswith("如何用人民币结算")
        lines = str(app.query_one("#history-list", OptionList).get_option_at_index(1).prompt).split("\n")
        assert lines[1] == "2024-03-01 · ¥0.0042" and lines[2] == "deepseek-v3.2"
        assert all(sum(2 if ord(c) > 0x2E7F else 1 for c in t) <= sidebar.options.size.width for t in titles)
        with HistoryStore.open(tmp_path / "history.db") as other:  # a second window writes
            other_id = other.create_conversation(profile="holysheep", title="另一个窗口的对话")
        assert not any("另一个窗口" in t for t in titles)
        await pilot.press("u")
        await pilot.pause()
        assert sidebar_titles(app)[0] == "另一个窗口的对话"
        assert sidebar.rows[0].id == other_id


async def test_open_and_continue_sends_the_earlier_messages_to_the_same_conversation(
    simulator: RelaySimulator,
    store: HistoryStore,
    make_app: Callable[..., HolySheepApp],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
    open_row: Callable[[Pilot[None], int], Awaitable[None]],
) -> None:
    conv_id = prefill(store)
    app = make_app(store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_sidebar(pilot)
        await open_row(pilot, 0)
        assert app.conversation.id == conv_id
        assert [u.text for u in app.view.query(UserMessage)] == [q for q, _ in SETTLE]
        assert [a.text for a in app.view.answers()] == [a for _, a in SETTLE]
        await send_and_wait(pilot, "第三个问题：怎么开发票？")
        body = chats(simulator)[-1].json
        contents = [(m["role"], m["content"]) for m in body["messages"]]
        assert contents == [
            ("user", SETTLE[0][0]), ("assistant", SETTLE[0][1]),
            ("user", SETTLE[1][0]), ("assistant", SETTLE[1][1]),
            ("user", "第三个问题：怎么开发票？"),
        ]  # fmt: skip
        stored = store.get_messages(conv_id)
        assert len(stored) == 6 and stored[4].content == "第三个问题：怎么开发票？"
        assert stored[5].role == "assistant" and stored[5].status == "complete" and stored[5].content
        assert len(store.list_conversations()) == 1


async def test_rename_archive_and_delete_with_confirmation(
    store: HistoryStore, make_app: Callable[..., HolySheepApp], wait_until: Callable[..., Awaitable[None]]
) -> None:
    conv_id = prefill(store)
    app = make_app(store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_sidebar(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RenameScreen), "the rename dialog")
        app.screen.query_one(Input).value = "人民币结算笔记"
        await pilot.press("enter")
        await wait_until(pilot, lambda: sidebar_titles(app) == ["人民币结算笔记"], "the new title")
        assert store.get_conversation(conv_id).title == "人民币结算笔记"

        await pilot.press("a")
        await wait_until(
            pilot, lambda: sidebar_titles(app) == [], "the archived conversation to leave the list"
        )
        assert store.get_conversation(conv_id).archived
        await pilot.press("v")
        await wait_until(
            pilot, lambda: sidebar_titles(app) == ["人民币结算笔记"], "archived conversations shown"
        )
        await pilot.press("a")
        await pilot.pause()
        assert not store.get_conversation(conv_id).archived

        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("n")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the answered confirmation")
        await pilot.pause()
        assert store.get_conversation(conv_id).title == "人民币结算笔记"
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: sidebar_titles(app) == [], "the deleted conversation to leave the list")
        assert store.list_conversations(include_archived=True) == []


# ---- search --------------------------------------------------------------------------------------


@pytest.fixture
def search_and_jump(wait_until: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[SearchScreen]]:
    """``await search_and_jump(pilot, query)``: open the search screen, type ``query``, wait for hits."""

    async def search_and_jump(pilot: Pilot[None], query: str) -> SearchScreen:
        app = pilot.app
        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen), "the search screen")
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        await pilot.press(*query)
        await wait_until(pilot, lambda: screen.shown_query == query and bool(screen.hits), f"hits for {query!r}")
        return screen

    return search_and_jump


@pytest.mark.parametrize("query", ["延迟", "人民币结算"])
async def test_search_finds_chinese_terms_highlights_them_and_jumps(
    store: HistoryStore,
    query: str,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    search_and_jump: Callable[..., Awaitable[SearchScreen]],
) -> None:
    prefill(store)
    pairs = [(f"第{i}个无关问题", f"无关回答 {i}") for i in range(60)]
    target_id = store.insert_conversation(stored_conversation("很长的对话", [*SETTLE, *pairs]))
    app = make_app(store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await search_and_jump(pilot, query)
        assert {h.conversation_id for h in screen.hits} >= {target_id}
        hit = next(h for h in screen.hits if h.conversation_id == target_id)
        assert hit.spans and all(hit.snippet[a:b] == query for a, b in hit.spans)
        index = screen.hits.index(hit)
        label = screen.query_one(OptionList).get_option_at_index(index).prompt
        styled = [label.plain[s.start : s.end] for s in label.spans if "accent" in str(s.style)]  # type: ignore[union-attr]
        assert query in styled
        screen.query_one(OptionList).highlighted = index
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.conversation.id == target_id, "the jump")
        view = app.view
        await wait_until(pilot, lambda: view.query(f"#msg-{hit.message_id}"), "the found message")
        found = view.query_one(f"#msg-{hit.message_id}")
        assert found.has_class("-found")

        def in_view() -> bool:
            top, bottom = view.scroll_y, view.scroll_y + view.scrollable_content_region.height
            return top <= found.virtual_region.y < bottom

        await wait_until(pilot, in_view, "the found message to be scrolled into view")
        assert len(app.conversation.turns) == 62, "the whole conversation continues, not just the page"


# ---- a long conversation -------------------------------------------------------------------------


async def test_two_thousand_messages_open_at_the_end_and_load_older_pages_on_scroll(
    store: HistoryStore, make_app: Callable[..., HolySheepApp], wait_until: Callable[..., Awaitable[None]]
) -> None:
    pairs = [
        (f"问题 {i}：第 {i} 个", f"## 回答 {i}\n\n第 {i} 个回答，包含 **粗体** 和 `代码`。")
        for i in range(1000)
    ]
    conv_id = store.insert_conversation(stored_conversation("两千条消息", pairs))
    app = make_app(store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        started = time.monotonic()
        await app.open_conversation(conv_id)
        view = app.view
        at_end = lambda: view.max_scroll_y > 0 and view.scroll_y >= view.max_scroll_y - 1  # noqa: E731
        await wait_until(pilot, at_end, "the conversation to open at the latest message")
        assert time.monotonic() - started < 30  # hang guard only
        prompts = [u.text for u in app.view.query(UserMessage)]
        assert prompts[-1] == "问题 999：第 999 个"
        assert len(prompts) < 100
        assert len(list(app.view.query("*"))) < 600, "far fewer widgets than the 2,000 messages"
        last = app.view.answers()[-1]
        assert last.text.startswith("## 回答 999")

        loaded = len(prompts)
        first = app.view.query(UserMessage).first()
        view.scroll_home(animate=False, immediate=True)
        await wait_until(pilot, lambda: len(app.view.query(UserMessage)) > loaded, "an older page")
        await wait_until(pilot, lambda: view.scroll_y > 0, "the view to keep its place below the older page")
        assert first.is_attached, "the older page went above, the view did not jump"
        assert view.scroll_y <= first.virtual_region.y <= view.scroll_y + view.size.height
        assert len(app.view.query(UserMessage)) < 200


def long_conversation(store: HistoryStore, turns: int = 1000) -> str:
    pairs = [
        (f"问题 {i}：第 {i} 个", f"## 回答 {i}\n\n第 {i} 个回答，包含 **粗体** 和 `代码`。")
        for i in range(turns)
    ]
    return store.insert_conversation(stored_conversation("两千条消息", pairs))


async def settle(pilot: Pilot[None], view: ConversationView) -> None:
    """Let a page load (bounded)."""
    for _ in range(200):
        await pilot.pause()
        if not view._loading:
            return
    raise AssertionError("the page did not load")


def prompts(app: HolySheepApp) -> list[str]:
    return [u.text for u in app.view.query(UserMessage)]


async def test_a_stored_turn_is_two_widgets_and_its_reasoning_is_built_only_when_unfolded(
    store: HistoryStore, make_app: Callable[..., HolySheepApp]
) -> None:
    messages = (
        msg("user", "为什么天空是蓝色的？", 0),
        msg("assistant", "因为**瑞利散射**。", 1, model="deepseek-r1", reasoning="先想想光的波长：蓝光更短。",
            prompt_tokens=9, completion_tokens=40, cost_usd=0.003),
        msg("user", "再说一遍？", 2),
        msg("assistant", "", 3, model="kimi-k2", status="error", error_text="中继返回 502：上游超时"),
    )  # fmt: skip
    conv_id = store.insert_conversation(
        Conversation("", "天空", False, T0, T0, "holysheep", messages=messages)
    )
    app = make_app(store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.open_conversation(conv_id)
        await pilot.pause()
        assert len(app.view.query("*")) == 4, "a prompt and a StoredAnswer per stored turn, no descendants"
        first, second = app.view.answers()
        assert isinstance(first, StoredAnswer) and isinstance(second, StoredAnswer)
        shown = drawn(first)
        assert shown[0].strip() == "deepseek-r1" and shown[1].strip() == "▶ Reasoning"
        assert "因为瑞利散射。" in shown[2] and "9 in · 40 out" in shown[-1]
        assert not any("波长" in line for line in shown), "folded reasoning is not drawn"
        assert first.reasoning_lines == 0, "nor rendered"
        await pilot.click(first, offset=(3, 1))  # border and padding take two cells
        await pilot.pause()
        shown = drawn(first)
        assert shown[1].strip() == "▼ Reasoning" and "先想想光的波长：蓝光更短。" in shown[2]
        assert first.reasoning_lines > 0
        await pilot.click(first, offset=(3, 1))
        await pilot.pause()
        assert first.reasoning_lines == 0 and not any("波长" in line for line in drawn(first))
        shown = drawn(second)
        assert shown[0].strip() == "kimi-k2 · error" and "✖ 中继返回 502：上游超时" in "".join(shown)
        assert second.has_class("-error")


async def test_f9_unfolds_every_answers_reasoning_then_folds_it_and_new_answers_follow(
    store: HistoryStore,
    make_app: Callable[..., HolySheepApp],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
) -> None:
    messages = (
        msg("user", "为什么天空是蓝色的？", 0),
        msg("assistant", "因为**瑞利散射**。", 1, model="deepseek-r1", reasoning="先想想光的波长：蓝光更短。"),
        msg("user", "那晚霞呢？", 2),
        msg("assistant", "晚霞偏红。", 3, model="deepseek-r1", reasoning="日落时光程更长，蓝光被散射掉。"),
    )
    conv_id = store.insert_conversation(Conversation("", "天空", False, T0, T0, "holysheep", messages=messages))
    app = make_app(store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.open_conversation(conv_id)
        await pilot.pause()
        first, second = app.view.answers()
        assert isinstance(first, StoredAnswer) and isinstance(second, StoredAnswer)
        await pilot.press("f9")
        await pilot.pause()
        assert "先想想光的波长：蓝光更短。" in "".join(drawn(first))
        assert "日落时光程更长，蓝光被散射掉。" in "".join(drawn(second))
        await app.choose_model("kimi-k2-thinking")
        live = await send_and_wait(pilot, "想一想再回答：价格怎么算？")
        assert not live.query_one(Collapsible).collapsed, "a new answer keeps its reasoning shown"
        await pilot.press("f9")
        await pilot.pause()
        assert live.query_one(Collapsible).collapsed
        assert not any("波长" in line for line in drawn(first)) and first.reasoning_lines == 0


async def test_scrolling_through_a_long_conversation_keeps_few_pages_mounted_and_reaches_both_ends(
    store: HistoryStore, make_app: Callable[..., HolySheepApp]
) -> None:
    conv_id = long_conversation(store, 300)  # 600 messages, some 35 pages
    app = make_app(store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.open_conversation(conv_id)
        await pilot.pause()
        view = app.view
        assert view.pager is not None and prompts(app)[-1] == "问题 299：第 299 个"
        most = 0
        for _ in range(200):  # a page per step
            top = view.children[0]
            view.scroll_home(animate=False, immediate=True)
            await settle(pilot, view)
            most = max(most, len(view.query("*")))
            assert top.is_attached and abs(top.virtual_region.y - view.scroll_y) <= 1, "the view did not jump"
            if view.scroll_y == 0 and not view.pager.has_older:
                break
        assert prompts(app)[0] == "问题 0：第 0 个", "the first message is reached"
        assert view.pager.has_newer and "问题 299：第 299 个" not in prompts(app), "far pages were unmounted"
        assert most < 100, "a bounded number of widgets on the way up"

        for _ in range(200):  # and down again: pages above go as pages below come
            last = view.children[-1]
            view.scroll_end(animate=False, immediate=True)
            await settle(pilot, view)
            height = view.scrollable_content_region.height
            assert (
                last.is_attached and abs(last.virtual_region_with_margin.bottom - view.scroll_y - height) <= 1
            )
            if not view.pager.has_newer and view.scroll_y >= view.max_scroll_y:
                break
        assert prompts(app)[-1] == "问题 299：第 299 个" and "问题 0：第 0 个" not in prompts(app)
        assert len(view.query("*")) < 100


async def test_home_and_end_jump_to_the_first_and_the_latest_message(
    store: HistoryStore,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
) -> None:
    conv_id = long_conversation(store)
    app = make_app(store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.open_conversation(conv_id)
        await pilot.pause()
        view = app.view
        view.focus()
        await pilot.press("home")
        await wait_until(
            pilot, lambda: prompts(app)[0] == "问题 0：第 0 个" and view.scroll_y == 0, "the first message"
        )
        assert "问题 999：第 999 个" not in prompts(app) and len(view.query("*")) < 100
        await pilot.press("end")
        await wait_until(pilot, lambda: prompts(app)[-1] == "问题 999：第 999 个", "the latest message")
        await pilot.pause()
        assert view.scroll_y >= view.max_scroll_y - 1 and view.is_anchored, "at the end and following again"
        app.query_one(PromptInput).focus()
        answer = await send_and_wait(pilot, "第 1001 个问题：继续")
        assert app.view.answers()[-1] is answer and prompts(app)[-2] == "问题 999：第 999 个"


def test_pages_hold_about_a_line_budget_and_the_pager_forgets_what_left_the_screen() -> None:
    long_answer = "\n\n".join(f"第 {n} 段：长的回答" for n in range(30))  # some 60 lines
    pairs = [(f"问题 {i}", long_answer if i % 2 else "短回答") for i in range(40)]
    pager = TurnPager(stored_conversation("分页", pairs), page=20)
    assert len(pager.latest()) == 20, "no budget: a page of 20 turns"
    latest = pager.latest(lines=100, width=80)
    assert [t.prompt.content for t in latest if t.prompt] == ["问题 37", "问题 38", "问题 39"]
    assert estimate_lines(latest[1], 80) < 10 < estimate_lines(latest[0], 80)
    assert estimate_lines(StoredTurn(msg("user", "宽" * 80, 0), None), 80) > estimate_lines(
        StoredTurn(msg("user", "w" * 80, 0), None), 80
    ), "wide characters take two cells"
    older = pager.older(lines=100, width=80)
    assert (pager.start, pager.end, len(older)) == (33, 40, 4)
    pager.forget_newer(3)
    assert (pager.start, pager.end, pager.has_newer) == (33, 37, True)
    assert [t.prompt.content for t in pager.newer(lines=1) if t.prompt] == ["问题 37"]
    pager.forget_older(4)
    assert (pager.start, pager.end) == (37, 38)
    assert [t.prompt.content for t in pager.first(lines=100, width=80) if t.prompt][0] == "问题 0"
    assert pager.start == 0 and not pager.has_older
    dropped = pager.drop_last()
    assert dropped is not None and dropped.prompt is not None and dropped.prompt.content == "问题 39"
    assert len(pager.turns) == 39


# ---- export --------------------------------------------------------------------------------------


async def test_export_writes_a_private_file_and_asks_before_overwriting(
    store: HistoryStore,
    tmp_path: Path,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    open_row: Callable[[Pilot[None], int], Awaitable[None]],
) -> None:
    prefill(store)
    app = make_app(store=store)
    app.export_dir = tmp_path / "导出"
    app.export_dir.mkdir()
    async with app.run_test(size=(120, 40)) as pilot:
        await show_sidebar(pilot)
        await open_row(pilot, 0)

        async def export(fmt_steps: int) -> ExportScreen:
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, ExportScreen), "the export dialog")
            screen = app.screen
            assert isinstance(screen, ExportScreen)
            for _ in range(fmt_steps):
                await pilot.press("down")
            await pilot.pause()
            return screen

        screen = await export(1)
        path = Path(screen.query_one(Input).value)
        assert screen.fmt == "json" and path == tmp_path / "导出" / "如何用人民币结算-HolySheep-的账单？.json"
        await pilot.press("enter")
        await wait_until(pilot, lambda: path.exists(), "the file")
        assert mode(path) == 0o600
        assert '"如何用人民币结算 HolySheep 的账单？"' in read(path)
        await wait_until(pilot, lambda: any(str(path) in n for n in notices(app)), "where it went")

        write(path, "旧内容")
        await export(1)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the overwrite question")
        await pilot.press("n")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the answered question")
        await pilot.pause()
        assert read(path) == "旧内容"
        await export(1)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the overwrite question")
        await pilot.press("y")
        await wait_until(pilot, lambda: read(path) != "旧内容", "the overwrite")
        assert mode(path) == 0o600


# ---- storage robustness --------------------------------------------------------------------------


async def test_corrupt_database_is_moved_aside_and_the_user_is_told(
    tmp_path: Path, make_app: Callable[..., HolySheepApp], send_and_wait: Callable[..., Awaitable[AnswerView]]
) -> None:
    db = tmp_path / "history.db"
    db.write_bytes("这不是数据库".encode() * 200)
    with HistoryStore.open(db) as store:
        assert store.recovered_from is not None
        app = make_app(store=store)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert any("moved aside" in n and str(store.recovered_from) in n for n in notices(app))
            assert store.recovered_from.read_bytes().startswith("这不是数据库".encode())
            await send_and_wait(pilot, "恢复之后还能保存吗？")
            assert len(store.list_conversations()) == 1


async def test_read_only_database_warns_and_the_answer_still_shows(
    store: HistoryStore,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
) -> None:
    prefill(store)
    app = make_app(store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        store._db.execute("PRAGMA query_only = ON")  # SQLite refuses every write: 'readonly database'
        answer = await send_and_wait(pilot, "只读的时候还能回答吗？")
        assert answer.status == "complete" and "HolySheep" in answer.text
        await wait_until(pilot, lambda: any("read-only" in n for n in notices(app)), "the storage warning")
        assert any("not being saved" in n for n in notices(app))
        assert app.view.answers()[-1] is answer and answer.is_attached
        await show_sidebar(pilot)
        assert sidebar_titles(app) == ["如何用人民币结算 HolySheep…"], "reading still works"


async def test_interrupted_answer_is_recovered_at_start_and_shown_as_such(
    store: HistoryStore, tmp_path: Path, make_app: Callable[..., HolySheepApp]
) -> None:
    with HistoryStore.open(tmp_path / "history.db") as dead:  # a window that died mid-answer
        conv_id = dead.create_conversation(profile="holysheep")
        dead.add_user_message(conv_id, "写到一半就被关掉了", model="kimi-k2")
        answer_id = dead.start_answer(conv_id, model="kimi-k2")
        dead.update_answer(answer_id, content="这是前半段回答")
    app = make_app(store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert any("1 answer was cut off" in n for n in notices(app))
        await app.open_conversation(conv_id)
        await pilot.pause()
        view = app.view.answers()[-1]
        assert view.has_class("-interrupted") and view.text == "这是前半段回答"
        shown = drawn(view)
        assert "kimi-k2 · interrupted" in shown[0] and "Interrupted" in "".join(shown)
        assert app.conversation.turns[-1].status == "interrupted"


# ---- snapshot ------------------------------------------------------------------------------------

SnapCompare = Callable[..., bool]


def test_sidebar_and_chinese_conversation(
    snap_compare: SnapCompare,
    store: HistoryStore,
    monkeypatch: pytest.MonkeyPatch,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    """You should see the history sidebar on the left listing two conversations (dated 2024-03-01,
    with deepseek-v3.2 and a ¥ cost under each title, the open one marked ▸), and on the right the
    opened Chinese conversation: two prompts and their Markdown answers (bold ¥1 = $1), each answer
    headed deepseek-v3.2 with '12 in · 30 out · ttft 0.42s · total 1.80s · 22 tok/s · ¥0.0021 · 2024-03-01 12:01'."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    store.insert_conversation(
        stored_conversation("另一个对话：模型价格对比", [("哪个模型最便宜？", "看价格表。")])
    )
    conv_id = prefill(store)
    app = make_app(store=store)

    async def scene(pilot: Pilot[None]) -> None:
        await pilot.press("ctrl+b")
        await app.open_conversation(conv_id)
        app.sidebar.focus_list()
        shown = lambda: app.conversation.id == conv_id and len(app.view.answers()) == 2  # noqa: E731
        await wait_until(pilot, shown, "the conversation on screen")
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=(160, 48), run_before=scene)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_export_file_names_are_safe_and_keep_chinese() -> None:
    assert safe_filename("../../etc/passwd", "md") == "etc-passwd.md"
    assert safe_filename("价格\x1b[31m对比: a/b\\c", "openai") == "价格对比-a-b-c.openai.json"
    assert safe_filename("   ", "txt") == "conversation.txt"
    long = safe_filename("很长的标题" * 40, "html")
    assert len(long.encode()) <= 130 and long.endswith(".html") and long.startswith("很长的标题")
