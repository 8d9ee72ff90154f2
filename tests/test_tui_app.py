"""The full-screen app driven by Pilot against the relay simulator on loopback."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.widgets import Collapsible, Static, TextArea

from holysheep_tui.chat.session import Session
from holysheep_tui.relay.wire import ContentDelta, RetryScheduled
from holysheep_tui.simulator import RecordedRequest, RelaySimulator
from holysheep_tui.tui.app import KEYS, HolySheepApp
from holysheep_tui.tui.keys import PRIORITY_KEYS
from holysheep_tui.tui.messages import TurnEvents, TurnFinished
from holysheep_tui.tui.screens.dialogs import ChoiceScreen, HelpScreen
from holysheep_tui.tui.screens.model_picker import ModelPicker
from holysheep_tui.tui.settings import with_ui_theme
from holysheep_tui.tui.widgets.answer import AnswerView, StoredAnswer, code_blocks
from holysheep_tui.tui.widgets.conversation import Marker
from holysheep_tui.tui.widgets.prompt import PromptInput


def notice(answer: AnswerView | StoredAnswer) -> str:
    return str(answer.query_one(".answer-notice", Static).render())


def figures(answer: AnswerView) -> str:
    return str(answer.query_one(".answer-figures", Static).render())


async def test_prompt_streams_a_rendered_answer_with_its_figures(
    make_app: Callable[..., HolySheepApp], send_and_wait: Callable[..., Awaitable[AnswerView]]
) -> None:
    seen: list[Message] = []
    app = make_app()
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        answer = await send_and_wait(pilot, "请用 python 举个例子，并说明价格")
        turn = app.conversation.turns[-1]
        assert turn.status == "complete"
        assert answer.text == turn.answer.content
        assert "HolySheep 本地模拟器" in answer.text
        assert answer.body.blocks_rendered > 3  # rendered as Markdown blocks, not one string
        deltas = [
            m for m in seen if isinstance(m, TurnEvents) and any(isinstance(e, ContentDelta) for e in m.events)
        ]
        assert len(deltas) > 10, "the answer arrived as a stream of events"
        assert seen.index(deltas[-1]) < next(i for i, m in enumerate(seen) if isinstance(m, TurnFinished))
        usage = turn.answer.usage
        assert usage is not None
        assert f"{usage.prompt_tokens} in · {usage.completion_tokens} out" in figures(answer)
        assert "ttft" in figures(answer) and "tok/s" in figures(answer) and "¥" in figures(answer)
        money = str(app.query_one("#status-money", Static).render())
        assert "billed" in money and "at market" in money and "tok ¥" in money
        live = str(app.query_one("#status-live", Static).render())
        assert "DEMO" in live and "kimi-k2" in live and "idle" in live
        assert "DEMO" in app.sub_title
        assert str(answer.query_one(".answer-header", Static).render()) == "kimi-k2"


async def test_switching_model_sends_the_whole_conversation_to_the_new_model(
    simulator: RelaySimulator,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        first = await send_and_wait(pilot, "第一个问题：人民币怎么结算？")
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), "the model picker")
        await pilot.press(*"gpt41")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.model == "gpt-4.1", "the model switch")
        markers = [str(m.render()) for m in app.query(Marker)]
        assert any("kimi-k2 → gpt-4.1" in m for m in markers)
        second = await send_and_wait(pilot, "第二个问题：延迟大概多少？")
        body = chats(simulator)[-1].json
        assert body["model"] == "gpt-4.1"
        contents = [m["content"] for m in body["messages"]]
        assert contents[0] == "第一个问题：人民币怎么结算？"
        assert contents[1] == first.text
        assert contents[2] == "第二个问题：延迟大概多少？"
        assert str(first.query_one(".answer-header", Static).render()) == "kimi-k2"
        assert str(second.query_one(".answer-header", Static).render()) == "gpt-4.1"
        assert [t.model for t in app.conversation.turns] == ["kimi-k2", "gpt-4.1"]


async def test_escape_closes_the_connection_and_keeps_the_partial_answer(
    simulator: RelaySimulator,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
    finished_chat: Callable[..., RecordedRequest],
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.choose_model("kimi-k2+tps=40")
        await send(pilot, "慢一点回答：讲讲 HolySheep")
        answers = app.view.answers()
        await wait_until(
            pilot, lambda: len(app.view.answers()) == 1 and len(app.view.answers()[0].text) > 20, "tokens"
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.answering, "the stop")
        answers = app.view.answers()
        turn = app.conversation.turns[-1]
        assert turn.status == "stopped"
        assert answers[-1].text and answers[-1].text == turn.answer.content
        assert "Stopped" in notice(answers[-1])
        assert "stopped" in str(app.query_one("#status-live", Static).render())
        rec = finished_chat(simulator)
        assert rec.client_disconnected and not rec.completed
        assert rec.tokens_sent < 400  # the server did not get to send the whole answer
        await app.choose_model("kimi-k2")
        again = await send_and_wait(pilot, "再问一次")
        assert again.status == "complete"


@pytest.mark.parametrize(
    ("model", "title", "advice"),
    [
        ("kimi-k2+401", "Authentication failed", "HOLYSHEEP_API_KEY"),
        ("kimi-k3", "Model not found", "Did you mean: kimi-k2"),
        ("kimi-k2+429", "Rate limited", "wait 1 s"),
        ("kimi-k2+quota", "Out of balance or quota", "Top up"),
        ("kimi-k2+500", "Relay server error", "retry"),
        ("kimi-k2+cut", "", "partial answer is kept"),
        ("kimi-k2+inerror", "Error from the model provider", "上游模型服务暂时不可用"),
    ],
)
async def test_each_error_shows_inline_and_the_app_stays_usable(
    model: str,
    title: str,
    advice: str,
    make_app: Callable[..., HolySheepApp],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.choose_model(model)
        failed = await send_and_wait(pilot, "这个请求会失败吗？")
        turn = app.conversation.turns[-1]
        assert turn.status == "error" and turn.error is not None
        text = notice(failed)
        assert turn.error.title in text and title in text
        assert advice in text
        assert "Ctrl+R" in text
        assert "error" in str(app.query_one("#status-live", Static).render())
        await app.choose_model("kimi-k2")
        ok = await send_and_wait(pilot, "那这个呢？")
        assert ok.status == "complete" and ok.text


async def test_rate_limit_retry_counts_down_then_answers(
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Session],
    wait_until: Callable[..., Awaitable[None]],
    send: Callable[..., Awaitable[None]],
) -> None:
    seen: list[Message] = []
    lines: list[str] = []
    app = make_app(make_session(retries=1))
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await app.choose_model("kimi-k2+429x1")

        def retrying() -> bool:
            lines.append(str(app.query_one("#status-live", Static).render()))
            return "retrying in" in lines[-1]

        await send(pilot, "限流之后会自动重试吗？")
        await wait_until(pilot, retrying, "the retry countdown")
        assert "retrying in" in notice(app.view.answers()[-1])
        await wait_until(pilot, lambda: not app.answering, "the answer")
        assert any(
            isinstance(m, TurnEvents) and any(isinstance(e, RetryScheduled) for e in m.events) for m in seen
        )
        assert app.conversation.turns[-1].status == "complete"
        assert notice(app.view.answers()[-1]) == ""


async def test_ctrl_r_retries_after_an_error(
    simulator: RelaySimulator,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.choose_model("kimi-k2+500x1")
        failed = await send_and_wait(pilot, "服务器出错后重试")
        assert failed.status == "error"
        await pilot.press("ctrl+r")
        await wait_until(
            pilot, lambda: not app.answering and app.conversation.turns[-1].status == "complete", "retry"
        )
        assert len(app.conversation.turns) == 1 and len(app.view.answers()) == 1
        assert [r.json["messages"][-1]["content"] for r in chats(simulator)[-2:]] == ["服务器出错后重试"] * 2


async def test_edit_and_resend_the_last_prompt(
    simulator: RelaySimulator,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await send_and_wait(pilot, "原来的问题")
        await pilot.press("ctrl+l")
        prompt = app.query_one(PromptInput)
        assert prompt.text == "原来的问题" and len(app.conversation.turns) == 1  # nothing changes until sent
        await pilot.press("end", *"改")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.answering and len(app.conversation.turns) == 1, "the resend")
        assert chats(simulator)[-1].json["messages"] == [{"role": "user", "content": "原来的问题改"}]


async def test_prompt_newline_key_and_recall(
    simulator: RelaySimulator,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        prompt = app.query_one(PromptInput)
        await pilot.press(*"ab")
        await pilot.press("ctrl+j")
        await pilot.press(*"cd")
        assert prompt.text == "ab\ncd"
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.answering and len(app.conversation.turns) == 1, "the answer")
        assert chats(simulator)[-1].json["messages"][-1]["content"] == "ab\ncd"
        assert prompt.text == ""
        await send_and_wait(pilot, "第二条")
        await pilot.press("up")
        assert prompt.text == "第二条"
        await pilot.press("up")
        assert prompt.text == "ab\ncd"
        await pilot.press("down")
        assert prompt.text == "第二条"
        await pilot.press("down")
        assert prompt.text == ""  # back to the (empty) draft


async def test_reasoning_streams_then_folds(
    make_app: Callable[..., HolySheepApp], send_and_wait: Callable[..., Awaitable[AnswerView]]
) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await app.choose_model("kimi-k2-thinking")
        answer = await send_and_wait(pilot, "想一想再回答：价格怎么算？")
        collapsible = answer.query_one(Collapsible)
        assert not collapsible.has_class("-empty") and collapsible.collapsed
        assert "用户问的是" in app.conversation.turns[-1].answer.reasoning


async def test_refusal_and_length_are_shown(
    make_app: Callable[..., HolySheepApp], send_and_wait: Callable[..., Awaitable[AnswerView]]
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.choose_model("kimi-k2+refusal")
        refused = await send_and_wait(pilot, "请帮我做坏事")
        assert "Refused" in notice(refused) and "抱歉" in notice(refused)
        await app.choose_model("kimi-k2+finish=length")
        cut = await send_and_wait(pilot, "写一篇很长的文章")
        assert "token limit" in notice(cut)


async def test_copy_answer_and_code_block(
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        answer = await send_and_wait(pilot, "给我 python 和 curl 命令的代码示例")
        await pilot.press("f4")
        assert app.clipboard == answer.text
        blocks = code_blocks(answer.text)
        assert len(blocks) >= 2
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen), "the code block list")
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: app.clipboard == blocks[1][1], "the copied code")


async def test_context_window_warning_on_switch(
    make_app: Callable[..., HolySheepApp], send_and_wait: Callable[..., Awaitable[AnswerView]]
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await send_and_wait(pilot, "长对话" * 3000)
        await app.choose_model("moonshot-v1-8k")
        warnings = [str(m.render()) for m in app.query(Marker) if m.has_class("-warning")]
        assert warnings and "context window (8,192)" in warnings[0]


async def test_new_conversation_and_system_prompt(
    simulator: RelaySimulator,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await send_and_wait(pilot, "旧对话")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: not app.view.answers(), "the cleared view")
        assert not app.conversation.turns
        await pilot.press("f3")
        await wait_until(pilot, lambda: bool(app.screen.query("#system-text")), "the system prompt editor")
        app.screen.query_one("#system-text", TextArea).load_text("你是一位简洁的助手")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.conversation.system_prompt is not None, "the system prompt")
        await send_and_wait(pilot, "新对话")
        assert chats(simulator)[-1].json["messages"] == [
            {"role": "system", "content": "你是一位简洁的助手"},
            {"role": "user", "content": "新对话"},
        ]


async def test_help_lists_every_key_and_palette_has_every_action(
    make_app: Callable[..., HolySheepApp], wait_until: Callable[..., Awaitable[None]]
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        text = "\n".join(str(s.render()) for s in app.screen.query(".help-column").results(Static))
        for _keys, _action, description in KEYS:
            assert description in text
        assert "Ctrl+J" in text and "Enter" in text
        await pilot.press("escape")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for _keys, action, description in KEYS:
            assert description in titles or action == "change_theme"
        assert "Theme" in titles
        assert "gpt-4.1" in app.model_ids()  # from the relay's /models


async def test_theme_choice_is_written_to_the_config_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '# 我的配置\ndefault_profile = "holysheep"\n\n[ui]\nshow_reasoning = false\n', encoding="utf-8"
    )
    monkeypatch.setenv("HOLYSHEEP_CONFIG", str(path))
    app = make_app(save_theme=True)
    async with app.run_test(size=(80, 24)) as pilot:
        app.theme = "nord"
        await wait_until(pilot, lambda: "nord" in path.read_text(encoding="utf-8"), "the saved theme")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# 我的配置\n") and "show_reasoning = false" in text and 'theme = "nord"' in text


def test_with_ui_theme_keeps_other_settings() -> None:
    assert with_ui_theme("", "nord") == '[ui]\ntheme = "nord"\n'
    before = '[ui]\ntheme = "textual-dark"  # 旧的\n[pricing]\nmarket_rate = 7.2\n'
    assert with_ui_theme(before, "gruvbox") == '[ui]\ntheme = "gruvbox"\n[pricing]\nmarket_rate = 7.2\n'
    assert with_ui_theme("[pricing]\nmarket_rate = 7.2\n", "nord").endswith('\n\n[ui]\ntheme = "nord"\n')


def test_missing_key_exits_with_a_clear_message(cli: Any) -> None:
    proc = cli(stdin="")  # not a terminal: no first-run screen, the message and exit code 3
    assert proc.returncode == 3
    assert "--demo" in proc.stderr and "HOLYSHEEP_API_KEY" in proc.stderr
    assert "Traceback" not in proc.stderr


async def test_view_follows_the_stream_until_scrolled_up_and_again_at_the_bottom(
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send: Callable[..., Awaitable[None]],
) -> None:
    """A long answer at 150 tok/s: the view stays at the bottom; scrolled up, it stays put; back at the end, it follows."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.choose_model("kimi-k2+len=1500,tps=150")
        await send(pilot, "写一篇很长的中文回答")
        view = app.view
        await wait_until(pilot, lambda: view.max_scroll_y > 20, "the answer to overflow the screen")
        following = lambda: view.scroll_y >= view.max_scroll_y - 4  # noqa: E731  (the renderer grows in small steps)
        await wait_until(pilot, following, "the view to follow the stream")
        view.scroll_home(animate=False, immediate=True)  # as the Home key or the wheel does: releases the anchor
        grown_from = view.max_scroll_y
        await wait_until(pilot, lambda: view.max_scroll_y > grown_from + 10, "more of the answer")
        assert view.scroll_y == 0  # the reader's place is kept while the answer grows
        view.scroll_end(animate=False, immediate=True)  # back at the bottom: following resumes
        await wait_until(pilot, lambda: not app.answering, "the answer to finish", timeout=30)
        at_end = lambda: view.scroll_y >= view.max_scroll_y - 1  # noqa: E731
        await wait_until(pilot, at_end, "the view to follow to the last word")


def test_no_app_key_is_taken_by_the_focused_prompt() -> None:
    """The prompt has focus nearly always: a key it binds itself would never reach the app."""
    from textual.binding import Binding

    taken: set[str] = set()
    for cls in PromptInput.__mro__:
        for binding in cls.__dict__.get("BINDINGS", []):
            keys = binding.key if isinstance(binding, Binding) else binding[0]
            taken.update(k.strip() for k in keys.split(","))
    ours = {k for keys, _, _ in KEYS for k in keys.split(",") if keys not in PRIORITY_KEYS}
    assert ours.isdisjoint(taken), f"taken by the prompt: {sorted(ours & taken)}"
    # The few the prompt also binds (F6/F7 select a line / all) are the app's first: priority bindings.
    priority = {b.key for b in HolySheepApp.BINDINGS if isinstance(b, Binding) and b.priority}
    assert priority == set(PRIORITY_KEYS)
