"""The conversation controller against the simulator and a real history file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from holysheep_tui.chat.controller import ConversationController
from holysheep_tui.chat.conversation import Conversation
from holysheep_tui.config import Profile
from holysheep_tui.economics.metrics import MetricsLog
from holysheep_tui.economics.prices import PriceBook
from holysheep_tui.relay.client import RelayClient
from holysheep_tui.relay.wire import ContentDelta
from holysheep_tui.simulator import Pacing, RelaySimulator
from holysheep_tui.store import HistoryStore


@pytest.fixture
def sim(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    return make_simulator(pacing=Pacing())


@pytest.fixture
async def make(
    sim: RelaySimulator, tmp_path: Path
) -> AsyncIterator[Callable[..., tuple[ConversationController, HistoryStore]]]:
    """``make(**controller_options)``: a controller on the simulator over a history file in tmp_path, and
    that store. Clients and stores close in teardown."""
    made: list[tuple[ConversationController, HistoryStore]] = []

    def build(**kw: Any) -> tuple[ConversationController, HistoryStore]:
        store = HistoryStore.open(tmp_path / "history.db")
        client = RelayClient(Profile(base_url=sim.base_url), None)
        metrics = MetricsLog(tmp_path / "metrics.jsonl")
        controller = ConversationController(
            client, profile_name="测试", store=store, metrics=metrics, prices=PriceBook(), **kw
        )
        made.append((controller, store))
        return controller, store

    yield build
    for controller, store in made:
        await controller.client.aclose()
        store.close()


async def test_a_turn_is_stored_with_usage_cost_and_timings(
    sim: RelaySimulator, tmp_path: Path, make: Callable[..., tuple[ConversationController, HistoryStore]]
) -> None:
    controller, store = make()
    conv = Conversation(profile="测试", model="deepseek-v3.2", system_prompt="用中文回答")
    turn = await controller.run_turn(conv, "缓存命中怎么计费？")
    assert turn.status == "complete" and turn.cost is not None and not turn.cost.estimated
    stored = store.get_conversation(conv.id or "")
    assert stored.system_prompt == "用中文回答"
    user, answer = stored.messages
    assert (user.role, user.content) == ("user", "缓存命中怎么计费？")
    assert answer.content == turn.answer.content and answer.status == "complete"
    assert answer.model == "deepseek-v3.2" and answer.cost_usd == pytest.approx(turn.cost.usd)
    assert answer.completion_tokens == turn.answer.usage.completion_tokens  # type: ignore[union-attr]
    assert answer.ttft_ms is not None and answer.total_ms is not None
    lines = (tmp_path / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and '"success":true' in lines[0]


async def test_second_turn_sends_the_whole_conversation_to_a_new_model(
    sim: RelaySimulator, tmp_path: Path, make: Callable[..., tuple[ConversationController, HistoryStore]]
) -> None:
    controller, store = make()
    conv = Conversation(profile="测试", model="kimi-k2")
    first = await controller.run_turn(conv, "第一个问题")
    await controller.run_turn(conv, "第二个问题", model="gpt-4.1")
    body = sim.requests[-1].json
    assert body["model"] == "gpt-4.1"
    assert [m["content"] for m in body["messages"]] == ["第一个问题", first.answer.content, "第二个问题"]
    models = [m.model for m in store.get_conversation(conv.id or "").messages if m.role == "assistant"]
    assert models == ["kimi-k2", "gpt-4.1"]


async def test_cancel_mid_answer_stores_the_partial_answer_as_stopped(
    sim: RelaySimulator, tmp_path: Path, make: Callable[..., tuple[ConversationController, HistoryStore]]
) -> None:
    controller, store = make(flush_interval=0.05)
    conv = Conversation(profile="测试", model="kimi-k2+tps=40")
    seen = asyncio.Event()

    def on_events(events: Sequence[object]) -> None:
        if any(isinstance(event, ContentDelta) for event in events):
            seen.set()

    task = asyncio.create_task(controller.run_turn(conv, "慢慢说", on_events=on_events))
    await asyncio.wait_for(seen.wait(), 10)

    def flushed() -> bool:
        return bool(conv.id and store.get_conversation(conv.id).messages[-1].content)

    for _ in range(500):  # until the partial answer has reached the history file (hang guard: 10 s)
        if flushed():
            break
        await asyncio.sleep(0.02)
    assert flushed(), "the partial answer was flushed while streaming"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    answer = store.get_conversation(conv.id or "").messages[-1]
    assert answer.status == "stopped" and answer.content
    assert answer.content == conv.turns[-1].answer.content


async def test_errors_are_stored_with_the_partial_answer(
    sim: RelaySimulator, tmp_path: Path, make: Callable[..., tuple[ConversationController, HistoryStore]]
) -> None:
    controller, store = make()
    conv = Conversation(profile="测试", model="kimi-k2+cut")
    turn = await controller.run_turn(conv, "会被截断")
    assert turn.status == "error" and turn.answer.content
    answer = store.get_conversation(conv.id or "").messages[-1]
    assert answer.status == "error" and answer.content == turn.answer.content and answer.error_text


async def test_regenerate_adds_an_answer_and_keeps_the_one_it_replaces(
    sim: RelaySimulator, tmp_path: Path, make: Callable[..., tuple[ConversationController, HistoryStore]]
) -> None:
    controller, store = make()
    conv = Conversation(profile="测试", model="kimi-k2")
    await controller.run_turn(conv, "保留的问题")
    await controller.run_turn(conv, "要重新生成的问题")
    dropped = controller.take_last_turn(conv)
    assert dropped is not None and dropped.prompt == "要重新生成的问题"
    await controller.run_turn(conv, dropped.prompt, branch=("answer", dropped))
    stored = store.get_conversation(conv.id or "")
    assert [m.content for m in stored.messages if m.role == "user"] == ["保留的问题", "要重新生成的问题"]
    answers = [m for m in stored.tree if m.role == "assistant"]
    assert len(answers) == 3 and answers[1].id not in [m.id for m in stored.messages]  # kept, off the path
    controller.set_system_prompt(conv, "新的系统提示")
    assert store.get_conversation(conv.id or "").system_prompt == "新的系统提示"


async def test_storage_failure_warns_and_keeps_the_answer(
    sim: RelaySimulator, tmp_path: Path, make: Callable[..., tuple[ConversationController, HistoryStore]]
) -> None:
    warnings: list[str] = []
    controller, store = make(on_warning=warnings.append)

    conv = Conversation(profile="测试", model="kimi-k2")
    await controller.run_turn(conv, "先存一条")
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "database or disk is full"
    turn = await controller.run_turn(conv, "磁盘满了还能回答吗" * 2000)
    assert turn.status == "complete" and turn.answer.content
    assert warnings and "not being saved" in warnings[0]


async def test_the_front_end_gets_each_read_as_one_list_after_the_answer_took_it(
    sim: RelaySimulator, tmp_path: Path, make: Callable[..., tuple[ConversationController, HistoryStore]]
) -> None:
    controller, store = make()
    conv = Conversation(profile="测试", model="kimi-k2+len=2000")
    seen: list[tuple[int, str]] = []

    def on_events(events: Sequence[object]) -> None:
        seen.append((len(events), conv.turns[-1].answer.content))

    turn = await controller.run_turn(conv, "写一篇长文", on_events=on_events)
    assert turn.status == "complete"
    assert sum(n for n, _ in seen) > len(seen), "several events per call"
    assert seen[-1][1] == turn.answer.content and "。" in turn.answer.content
