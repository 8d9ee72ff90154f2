"""One prompt to several models at once (``ConversationController.run_comparison``), against the simulator
over loopback, with a real history file and metrics log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from holysheep_tui.chat.compare import estimate_comparison
from holysheep_tui.chat.controller import ConversationController
from holysheep_tui.chat.conversation import Conversation, Turn, turn_record
from holysheep_tui.config import Profile, RetryPolicy
from holysheep_tui.economics.metrics import MetricRecord, MetricsLog
from holysheep_tui.economics.prices import PriceBook, estimate_tokens
from holysheep_tui.errors import ModelNotFoundError, RateLimitError, StreamCutError
from holysheep_tui.relay.client import RelayClient
from holysheep_tui.relay.wire import Answer, ContentDelta, StreamEvent
from holysheep_tui.simulator import Pacing, RecordedRequest, RelaySimulator
from holysheep_tui.store import HistoryStore

PROMPT = "请比较一下这几个模型：谁更快、谁更便宜？"
MODELS = ["kimi-k2", "gpt-4.1", "deepseek-v3.2"]

Make = Callable[..., tuple[ConversationController, HistoryStore]]


@pytest.fixture
def sim(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    return make_simulator(pacing=Pacing())


@pytest.fixture
async def make(sim: RelaySimulator, tmp_path: Path) -> AsyncIterator[Make]:
    """``make(relay=sim, retries=0, **controller_options)``: a controller on the simulator over a history
    file and a metrics log in tmp_path, and that store. Clients and stores close in teardown."""
    made: list[tuple[ConversationController, HistoryStore]] = []

    def build(
        relay: RelaySimulator | None = None, retries: int = 0, **kw: Any
    ) -> tuple[ConversationController, HistoryStore]:
        store = HistoryStore.open(tmp_path / "历史.db")
        base_url = (relay or sim).base_url
        profile = Profile(base_url=base_url, retry=RetryPolicy(max_retries=retries, base_delay=0.01))
        controller = ConversationController(
            RelayClient(profile, None),
            profile_name="比较",
            store=store,
            metrics=MetricsLog(tmp_path / "metrics.jsonl"),
            prices=PriceBook(),
            **kw,
        )
        made.append((controller, store))
        return controller, store

    yield build
    for controller, store in made:
        await controller.client.aclose()
        store.close()


def chat_requests(sim: RelaySimulator) -> list[RecordedRequest]:
    return [r for r in sim.requests if r.path.endswith("/chat/completions")]


def metric_lines(tmp_path: Path) -> list[dict[str, Any]]:
    text = (tmp_path / "metrics.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


async def test_three_models_get_one_prompt_and_their_answers_are_stored_as_siblings(
    sim: RelaySimulator, tmp_path: Path, make: Make
) -> None:
    controller, store = make()
    conv = Conversation(profile="比较", model="kimi-k2", system_prompt="用中文回答")
    streamed: dict[int, list[str]] = {0: [], 1: [], 2: []}

    def on_events(leg: int, events: Sequence[StreamEvent]) -> None:
        streamed[leg] += [e.text for e in events if isinstance(e, ContentDelta)]

    ended: list[tuple[int, str]] = []
    legs = await controller.run_comparison(
        conv,
        PROMPT,
        MODELS,
        on_events=on_events,
        on_leg_end=lambda i, t: ended.append((i, t.status)),
        comparison_id="对比-1",
    )
    assert sorted(ended) == [(0, "complete"), (1, "complete"), (2, "complete")]
    assert [leg.model for leg in legs] == MODELS
    assert all(leg.status == "complete" and leg.comparison == "对比-1" for leg in legs)
    for i, leg in enumerate(legs):  # each leg's events went to its own index
        assert "".join(streamed[i]) == leg.answer.content and f"**{MODELS[i]}**" in leg.answer.content

    requests = chat_requests(sim)
    assert sorted(r.json["model"] for r in requests) == sorted(MODELS)
    sent = [r.json["messages"] for r in requests]
    assert sent[0] == sent[1] == sent[2]
    assert sent[0] == [{"role": "system", "content": "用中文回答"}, {"role": "user", "content": PROMPT}]

    stored = store.get_conversation(conv.id or "")
    prompts = [m for m in stored.tree if m.role == "user"]
    answers = [m for m in stored.tree if m.role == "assistant"]
    assert len(prompts) == 1 and prompts[0].content == PROMPT
    assert len(answers) == 3 and all(a.parent_id == prompts[0].id for a in answers)
    assert stored.alternatives(answers[0]) == tuple(answers)
    by_id = {a.id: a for a in answers}
    for leg in legs:
        row = by_id[leg.answer_id or -1]
        assert leg.cost is not None and leg.answer.usage is not None
        assert (row.model, row.status, row.content) == (leg.model, "complete", leg.answer.content)
        assert row.completion_tokens == leg.answer.usage.completion_tokens
        assert row.cost_usd == pytest.approx(leg.cost.usd) and row.cost_usd
    assert len({a.cost_usd for a in answers}) == 3  # three prices, three costs
    assert stored.cost_usd == pytest.approx(sum(a.cost_usd or 0 for a in answers))
    assert stored.completion_tokens == sum(a.completion_tokens or 0 for a in answers)

    assert conv.turns == [legs[0]]  # the conversation goes on with the first leg that completed
    assert stored.active_leaf == legs[0].answer_id
    lines = metric_lines(tmp_path)
    assert sorted(line["model"] for line in lines) == sorted(MODELS)
    assert {line["comparison"] for line in lines} == {"对比-1"}
    assert all(
        MetricsLog(tmp_path / "metrics.jsonl").read().records[i].comparison == "对比-1" for i in range(3)
    )
    assert turn_record(legs[1])["comparison"] == "对比-1"


async def test_without_an_id_every_leg_shares_a_new_short_one(sim: RelaySimulator, make: Make) -> None:
    controller, _store = make()
    first = await controller.run_comparison(Conversation("比较", "kimi-k2"), "第一次比较", MODELS[:2])
    second = await controller.run_comparison(Conversation("比较", "kimi-k2"), "第二次比较", MODELS[:2])
    assert first[0].comparison == first[1].comparison and len(first[0].comparison or "") == 12
    assert second[0].comparison != first[0].comparison


@pytest.mark.parametrize(
    ("bad", "error", "attempts"),
    [
        ("kimi-k2+404", ModelNotFoundError, 1),
        ("kimi-k2+429ra0", RateLimitError, 2),  # retried once, then failed
        ("deepseek-v3.2+cut", StreamCutError, 1),
    ],
    ids=["404", "429-then-fails", "cut-mid-stream"],
)
async def test_one_failing_leg_ends_alone_with_its_error_and_the_others_complete(
    sim: RelaySimulator, tmp_path: Path, make: Make, bad: str, error: type[Exception], attempts: int
) -> None:
    controller, store = make(retries=1)
    conv = Conversation(profile="比较", model="kimi-k2")
    legs = await controller.run_comparison(conv, "一条腿会失败", [bad, "kimi-k2", "gpt-4.1"])
    failed, *good = legs
    assert failed.status == "error" and isinstance(failed.error, error)
    assert sim.attempts(bad) == attempts
    assert all(leg.status == "complete" and leg.error is None and leg.answer.content for leg in good)
    rows = {m.id: m for m in store.get_conversation(conv.id or "").tree}
    row = rows[failed.answer_id or -1]
    assert row.status == "error" and row.error_text and row.content == failed.answer.content
    if bad.endswith("+cut"):
        assert failed.answer.content  # what streamed before the cut is kept
    assert all(rows[leg.answer_id or -1].status == "complete" for leg in good)
    assert conv.turns == [good[0]]  # the first leg that completed carries the conversation on
    assert store.get_conversation(conv.id or "").active_leaf == good[0].answer_id
    lines = metric_lines(tmp_path)
    assert [line["success"] for line in lines].count(False) == 1 and len(lines) == 3
    assert len({line["comparison"] for line in lines}) == 1


async def test_when_every_leg_fails_the_first_carries_the_conversation(
    sim: RelaySimulator, make: Make
) -> None:
    controller, _store = make()
    conv = Conversation(profile="比较", model="kimi-k2")
    legs = await controller.run_comparison(conv, "全部失败", ["kimi-k2+500", "gpt-4.1+404"])
    assert [leg.status for leg in legs] == ["error", "error"]
    assert conv.turns == [legs[0]]


async def test_cancel_mid_stream_stops_every_leg_and_keeps_each_partial_answer(
    make_simulator: Callable[..., RelaySimulator], make: Make
) -> None:
    slow = make_simulator(pacing=Pacing(first_token_delay=0, tokens_per_second=40))
    controller, store = make(slow, flush_interval=0.05)
    conv = Conversation(profile="比较", model="kimi-k2")
    started: set[int] = set()

    def on_events(leg: int, events: Sequence[StreamEvent]) -> None:
        if any(isinstance(e, ContentDelta) for e in events):
            started.add(leg)

    ended: list[tuple[int, str]] = []
    task = asyncio.create_task(
        controller.run_comparison(
            conv,
            "慢慢地比较",
            MODELS,
            on_events=on_events,
            on_leg_end=lambda i, t: ended.append((i, t.status)),
        )
    )

    def flushed() -> bool:
        if conv.id is None:
            return False
        answers = [m for m in store.get_conversation(conv.id).tree if m.role == "assistant"]
        return len(answers) == 3 and all(m.content for m in answers)

    for _ in range(500):  # until every leg's partial answer has reached the history file (hang guard: 10 s)
        if len(started) == 3 and flushed():
            break
        await asyncio.sleep(0.02)
    assert flushed(), "every leg's partial answer was flushed while streaming"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    answers = {m.model: m for m in store.get_conversation(conv.id or "").tree if m.role == "assistant"}
    assert set(answers) == set(MODELS)
    for model in MODELS:
        assert answers[model].status == "stopped" and answers[model].content
    assert sorted(ended) == [(0, "stopped"), (1, "stopped"), (2, "stopped")]
    for _ in range(200):  # the server sees every connection closed (hang guard: 10 s)
        if all(r.client_disconnected for r in chat_requests(slow)):
            break
        await asyncio.sleep(0.05)
    assert all(r.client_disconnected and not r.completed for r in chat_requests(slow))


async def test_cancel_at_once_leaves_no_leg_streaming(
    make_simulator: Callable[..., RelaySimulator], make: Make, tmp_path: Path
) -> None:
    slow = make_simulator(pacing=Pacing(first_token_delay=5, tokens_per_second=40))
    controller, store = make(slow)
    conv = Conversation(profile="比较", model="kimi-k2")
    task = asyncio.create_task(controller.run_comparison(conv, "刚发出就取消", MODELS))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    answers = [m for m in store.get_conversation(conv.id or "").tree if m.role == "assistant"]
    assert [m.status for m in answers] == ["stopped"] * 3
    assert [line["success"] for line in metric_lines(tmp_path)] == [False] * 3


async def test_choose_moves_the_conversation_and_the_active_leaf_to_another_leg(
    sim: RelaySimulator, make: Make, tmp_path: Path
) -> None:
    controller, store = make()
    conv = Conversation(profile="比较", model="kimi-k2")
    legs = await controller.run_comparison(conv, "选一个回答继续", MODELS)
    controller.choose(conv, legs, legs[2])
    assert conv.turns == [legs[2]]
    with HistoryStore.open(tmp_path / "历史.db") as reopened:
        stored = reopened.get_conversation(conv.id or "")
    assert stored.active_leaf == legs[2].answer_id
    assert [m.content for m in stored.messages] == ["选一个回答继续", legs[2].answer.content]
    assert len([m for m in stored.off_path if m.role == "assistant"]) == 2  # the others stay as siblings

    follow = await controller.run_turn(conv, "接着上一个回答说")
    sent = sim.requests[-1].json["messages"]
    assert [m["content"] for m in sent] == ["选一个回答继续", legs[2].answer.content, "接着上一个回答说"]
    stored = store.get_conversation(conv.id or "")
    assert [m.id for m in stored.messages][-3:] == [legs[2].answer_id, follow.prompt_id, follow.answer_id]
    with pytest.raises(ValueError, match="not one of"):
        controller.choose(conv, legs, follow)


async def test_answers_given_by_the_front_end_are_the_ones_filled(sim: RelaySimulator, make: Make) -> None:
    controller, _store = make()
    mine = [Answer(model=m) for m in MODELS[:2]]
    legs = await controller.run_comparison(
        Conversation("比较", "kimi-k2"), "用我的答案对象", MODELS[:2], answers=mine
    )
    assert [leg.answer for leg in legs] == mine and all(a.content for a in mine)
    with pytest.raises(ValueError, match="one answer per model"):
        await controller.run_comparison(Conversation("比较", "kimi-k2"), "数量不对", MODELS, answers=mine)


def test_the_combined_estimate_prices_the_text_that_would_be_sent_for_each_model() -> None:
    prices = PriceBook()
    conv = Conversation(profile="比较", model="kimi-k2", system_prompt="你是一个严谨的助手")
    conv.turns.append(Turn("上一个问题", "kimi-k2", _answer("上一个回答")))
    estimates = estimate_comparison(prices, conv, PROMPT, ["kimi-k2", "gpt-4.1", "没有价格的模型"])
    assert [model for model, _cost in estimates] == ["kimi-k2", "gpt-4.1", "没有价格的模型"]
    kimi, gpt, unknown = (cost for _model, cost in estimates)
    assert unknown is None
    assert kimi is not None and gpt is not None and kimi.estimated and gpt.estimated
    tokens = sum(estimate_tokens(t) for t in ("你是一个严谨的助手", "上一个问题", "上一个回答", PROMPT))
    assert kimi.usd == pytest.approx(tokens * 0.60 / 1_000_000)  # input only, history included
    assert gpt.usd == pytest.approx(tokens * 2.00 / 1_000_000)


def test_a_metrics_line_carries_the_comparison_only_when_set_and_old_lines_still_read() -> None:
    when = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    plain = MetricRecord(time=when, profile="比较", model="kimi-k2")
    tagged = MetricRecord(time=when, profile="比较", model="kimi-k2", comparison="对比-2")
    assert "comparison" not in plain.to_json()
    assert MetricRecord.from_json(tagged.to_json()) == tagged
    old = {"time": "2026-12-04T12:00:00Z", "profile": "旧的", "model": "kimi-k2", "success": True}
    assert MetricRecord.from_json(old).comparison is None


def _answer(text: str) -> Answer:
    answer = Answer(model="kimi-k2")
    answer.apply(ContentDelta(text))
    return answer
