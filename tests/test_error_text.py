"""Error and retry notices under an answer never contradict what is happening (issue 15, item 8)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from textual.widgets import Static

from holysheep_tui.chat.session import Session
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.widgets.answer import AnswerView


def notice(answer: AnswerView) -> str:
    return str(answer.query_one(".answer-notice", Static).render())


@pytest.mark.parametrize(
    ("model", "advice"),
    [
        ("kimi-k2+402", "retrying will not help"),
        ("kimi-k2+400", "Sending it unchanged will not help"),
        ("moonshot-v1-8k+400ctx", "Start a new conversation"),
    ],
)
async def test_an_error_retrying_cannot_fix_does_not_invite_a_plain_retry(
    model: str,
    advice: str,
    make_app: Callable[..., HolySheepApp],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await app.choose_model(model)
        failed = await send_and_wait(pilot, "这个请求原样重发也会失败")
        text = notice(failed)
        assert failed.status == "error"
        assert advice in text
        assert "try again" not in text
        assert "Once that is done, press Ctrl+R to send the prompt again." in text


async def test_a_passing_server_error_still_offers_a_retry(
    make_app: Callable[..., HolySheepApp],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await app.choose_model("kimi-k2+503")
        failed = await send_and_wait(pilot, "服务器暂时出错了")
        text = notice(failed)
        assert "Press Ctrl+R to try again." in text
        assert "will not help" not in text


async def test_the_retry_notice_goes_once_the_retried_answer_streams(
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Session],
    wait_until: Callable[..., Awaitable[None]],
    send: Callable[..., Awaitable[None]],
) -> None:
    app = make_app(make_session(retries=2))
    async with app.run_test(size=(100, 30)) as pilot:
        await app.choose_model("kimi-k2+503x1,ttft=0.4,len=300,tps=60")
        await send(pilot, "重试之后应该正常输出")
        await wait_until(pilot, lambda: app.view.answers(), "the answer to appear")
        answer = app.view.answers()[-1]
        assert isinstance(answer, AnswerView)
        await wait_until(pilot, lambda: "retrying in" in notice(answer), "the retry notice")
        await wait_until(pilot, lambda: answer.text, "the retried answer to stream")
        assert answer.status == "streaming", "the answer is still coming in"
        assert notice(answer) == ""
        await wait_until(pilot, lambda: not app.answering, "the answer to end")
        assert answer.status == "complete" and notice(answer) == ""
