"""Every parsing quirk real providers send, through the client over a real socket from the simulator.

The reference for each case is the same request without the quirk: the client must end with the same
answer (or the documented error, keeping what streamed before it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from holysheep_tui.config import Profile, RetryPolicy, Timeouts
from holysheep_tui.errors import ProtocolError, RelayError, StreamCutError, UpstreamError
from holysheep_tui.relay.client import RelayClient
from holysheep_tui.relay.wire import (
    Answer,
    ChatMessage,
    ChatRequest,
    ContentDelta,
    StreamEvent,
    ToolCallDelta,
)
from holysheep_tui.simulator import Pacing, RelaySimulator

PROMPT = (ChatMessage("user", "请用中文比较一下各个模型的价格和延迟"),)


@pytest.fixture
def sim(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    """The shared harness's simulator at full speed: many events to a network read."""
    return make_simulator(pacing=Pacing())


@pytest.fixture
async def client(sim: RelaySimulator) -> AsyncIterator[RelayClient]:
    profile = Profile(base_url=sim.base_url, timeouts=Timeouts(read=10), retry=RetryPolicy(max_retries=0))
    c = RelayClient(profile, None)
    yield c
    await c.aclose()


async def run(client: RelayClient, model: str) -> tuple[Answer, list[object], Exception | None]:
    answer = Answer(model=model)
    events: list[object] = []
    try:
        async for event in client.stream_chat(ChatRequest(model, PROMPT), timings=answer.timings):
            answer.apply(event)
            events.append(event)
    except RelayError as exc:
        return answer, events, exc
    return answer, events, None


@pytest.mark.parametrize("quirk", ["crlf", "nospace", "comments", "ascii", "splitutf8", "tiny", "emptyfirst", "nodone"])
async def test_framing_quirks_give_the_same_answer(client: RelayClient, quirk: str) -> None:
    reference, _, _ = await run(client, "kimi-k2")
    answer, _, error = await run(client, f"kimi-k2+{quirk}")
    assert error is None
    assert answer.content == reference.content and "价格" in answer.content
    assert answer.finish_reason == "stop"
    assert answer.usage == reference.usage


@pytest.mark.parametrize("model", ["gpt-4.1", "kimi-k2", "deepseek-v3.2"])
async def test_usage_in_each_provider_style_and_both_places_counted_once(client: RelayClient, model: str) -> None:
    answer, events, error = await run(client, f"{model}+usageboth" if model == "gpt-4.1" else model)
    assert error is None and answer.usage is not None
    assert sum(type(e).__name__ == "UsageReport" for e in events) == 1
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


@pytest.mark.parametrize("model", ["deepseek-reasoner", "kimi-k2-thinking", "kimi-k2+reasoningdup", "gpt-4.1+reasoningfield"])
async def test_reasoning_in_either_field_arrives_once_before_the_answer(client: RelayClient, model: str) -> None:
    answer, events, error = await run(client, model)
    assert error is None and answer.reasoning and answer.content
    kinds = [type(e).__name__ for e in events if type(e).__name__ in ("ReasoningDelta", "ContentDelta")]
    assert kinds.index("ContentDelta") > kinds.index("ReasoningDelta")
    assert answer.reasoning.count(answer.reasoning[:20]) == 1  # not doubled


async def test_n2_shows_choice_zero_only(client: RelayClient) -> None:
    reference, _, _ = await run(client, "gpt-4.1")
    answer, _, error = await run(client, "gpt-4.1+n2")
    assert error is None
    assert answer.content == reference.content


async def test_tool_call_deltas_do_not_crash(client: RelayClient) -> None:
    answer, events, error = await run(client, "gpt-4.1+tools")
    assert error is None
    assert answer.content == "我来查一下上海的天气。" and answer.finish_reason == "tool_calls"
    args = "".join(e.arguments for e in events if isinstance(e, ToolCallDelta))
    assert '"city": "上海"' in args


async def test_refusal_and_unknown_finish_reasons(client: RelayClient) -> None:
    refused, _, error = await run(client, "gpt-4.1+refusal")
    assert error is None and refused.refusal and not refused.content
    odd, _, error = await run(client, "kimi-k2+finish=end_turn")
    assert error is None and odd.finish_reason == "end_turn"


async def test_one_megabyte_delta_and_invalid_utf8(client: RelayClient) -> None:
    big, _, error = await run(client, "kimi-k2+bigchunk")
    assert error is None and len(big.content.encode()) >= 1_000_000
    bad, _, error = await run(client, "kimi-k2+badutf8")
    assert error is None and "\ufffd" in bad.content


async def test_max_tokens_finishes_with_length(client: RelayClient) -> None:
    answer = Answer(model="kimi-k2")
    async for event in client.stream_chat(ChatRequest("kimi-k2", PROMPT, max_tokens=12)):
        answer.apply(event)
    assert answer.finish_reason == "length" and answer.usage is not None and answer.usage.completion_tokens == 12


@pytest.mark.parametrize(
    ("quirk", "kind"),
    [("inerror", UpstreamError), ("eventerror", UpstreamError), ("malformed", ProtocolError), ("cut", StreamCutError), ("reset", StreamCutError)],
)
async def test_failures_mid_stream_keep_the_partial_answer(
    client: RelayClient, sim: RelaySimulator, quirk: str, kind: type[Exception]
) -> None:
    before = sim.attempts(f"kimi-k2+{quirk}")
    answer, _, error = await run(client, f"kimi-k2+{quirk}")
    assert isinstance(error, kind)
    assert answer.content  # the part that arrived stays
    assert sim.attempts(f"kimi-k2+{quirk}") == before + 1


async def test_keep_alive_reuses_one_connection(client: RelayClient, sim: RelaySimulator) -> None:
    sim.reset()
    await run(client, "kimi-k2")
    await run(client, "gpt-4.1")
    peers = {r.peer for r in sim.requests}
    assert len(peers) == 1


async def test_models_list_has_context_windows(client: RelayClient) -> None:
    models = {m.id: m for m in await client.list_models()}
    assert models["moonshot-v1-8k"].context_window == 8192
    assert models["kimi-k2"].owned_by == "moonshotai"


async def test_a_fast_stream_arrives_a_network_read_at_a_time_with_the_same_answer(
    sim: RelaySimulator, client: RelayClient
) -> None:
    """``stream_chat_batches`` hands on one list per read, a read's text as one delta: nothing lost or reordered."""
    model = "kimi-k2+len=3000"
    reference, one_by_one, _ = await run(client, model)
    batches: list[list[StreamEvent]] = []
    async for batch in client.stream_chat_batches(ChatRequest(model, PROMPT)):
        batches.append(list(batch))
    assert all(batches), "no empty lists"
    flat = [event for batch in batches for event in batch]
    text = "".join(e.text for e in flat if isinstance(e, ContentDelta))
    assert text == reference.content and "价格" in text
    others = [e for e in flat[1:] if not isinstance(e, ContentDelta)]  # StreamOpened's ttfb differs
    assert others == [e for e in one_by_one[1:] if not isinstance(e, ContentDelta)]
    chunks = sim.requests[-1].chunks_sent
    deltas = sum(isinstance(e, ContentDelta) for e in flat)
    assert len(batches) < chunks // 5 and deltas <= len(batches), "many chunks per read, one delta per read"
    for batch in batches:  # never two text deltas side by side
        kinds = [type(e) for e in batch]
        assert all(not (a is b is ContentDelta) for a, b in zip(kinds, kinds[1:], strict=False))
