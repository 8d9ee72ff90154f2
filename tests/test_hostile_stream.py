"""Hostile relays over loopback: lone surrogates, token counts past 64 bits, endless lines and events, and
Gemini's thought summaries sent as ordinary content. Each attack as it happened, through the real client,
the `holysheep` CLI or the app."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from holysheep_tui.config import Profile, RetryPolicy, Timeouts
from holysheep_tui.errors import ProtocolError, UpstreamError
from holysheep_tui.relay.body import MAX_COMPLETION
from holysheep_tui.relay.chat_stream import MAX_TOKENS
from holysheep_tui.relay.client import RelayClient
from holysheep_tui.relay.sse import MAX_EVENT, MAX_LINE, SSEDecoder, SSELimitError
from holysheep_tui.relay.wire import (
    Answer,
    ChatMessage,
    ChatRequest,
    ContentDelta,
    FinishReason,
    ReasoningDelta,
    RefusalDelta,
    ResponseModel,
    StreamEvent,
    ToolCallDelta,
)
from holysheep_tui.simulator import RecordedRequest, RelaySimulator
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.widgets.answer import AnswerView
from tests.rawserver import RawServer, Reply, chunk, sse

PROMPT = (ChatMessage("user", "讲讲人民币结算的好处"),)
LONE = "\ud800"


def client_for(url: str) -> RelayClient:
    profile = Profile(
        base_url=url,
        model="kimi-k2",
        timeouts=Timeouts(connect=2.0, read=10.0),
        retry=RetryPolicy(max_retries=0),
    )
    return RelayClient(profile, None)


async def stream(url: str, model: str) -> tuple[Answer, list[StreamEvent], Exception | None]:
    """The answer folded from a stream, its events, and the error that ended it (None: it finished)."""
    answer = Answer(model=model)
    events: list[StreamEvent] = []
    error: Exception | None = None
    async with client_for(url) as client:
        try:
            async for event in client.stream_chat(ChatRequest(model, PROMPT), timings=answer.timings):
                answer.apply(event)
                events.append(event)
        except Exception as exc:  # the test looks at which
            error = exc
    return answer, events, error


def strings_of(events: list[StreamEvent]) -> list[str]:
    found: list[str] = []
    for event in events:
        match event:
            case ContentDelta(text) | ReasoningDelta(text) | RefusalDelta(text):
                found.append(text)
            case ResponseModel(model):
                found.append(model)
            case FinishReason(reason):
                found.append(reason)
            case ToolCallDelta(_, call_id, name, arguments):
                found += [call_id or "", name or "", arguments]
    return found


def encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# ---- 3: lone surrogates and counts past 64 bits -----------------------------------------------------


async def test_lone_surrogates_in_every_string_of_a_stream_become_replacement_characters() -> None:
    lone = "\\ud800"  # as the JSON escape the relay sends
    pieces = [
        # The first chunk: a model name with a surrogate, content the short path would take if it could.
        f'{{"model":"kimi{lone}","choices":[{{"index":0,"delta":{{"content":"你好{lone}"}}}}]}}'.encode(),
        *(f'{{"choices":[{{"index":0,"delta":{{"content":"第{i}段\\udc00"}}}}]}}'.encode() for i in range(5)),
        f'{{"choices":[{{"index":0,"delta":{{"reasoning_content":"想{lone}","refusal":"拒{lone}"}}}}]}}'.encode(),
        (
            f'{{"choices":[{{"index":0,"delta":{{"tool_calls":[{{"index":0,"id":"call{lone}","function":'
            f'{{"name":"查询{lone}","arguments":"{{\\"城市\\":\\"上海{lone}\\"}}"}}}}]}}}}]}}'
        ).encode(),
        f'{{"choices":[{{"index":0,"delta":{{}},"finish_reason":"stop{lone}"}}]}}'.encode(),
        b'{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":8,"total_tokens":17}}',
    ]
    body = b"".join(b"data: " + p + b"\n\n" for p in pieces) + b"data: [DONE]\n\n"
    for reads in ([body], [body[i : i + 7] for i in range(0, len(body), 7)]):
        with RawServer([Reply(pieces=reads)]) as srv:
            answer, events, error = await stream(srv.base_url, "kimi-k2")
        assert error is None
        texts = strings_of(events)
        assert all(encodable(t) for t in texts), texts
        assert answer.model == "kimi\ufffd"
        assert answer.content == "你好\ufffd" + "".join(f"第{i}段\ufffd" for i in range(5))
        assert answer.reasoning == "想\ufffd" and answer.refusal == "拒\ufffd"
        calls = [e for e in events if isinstance(e, ToolCallDelta)]
        assert calls == [ToolCallDelta(0, "call\ufffd", "查询\ufffd", '{"城市":"上海\ufffd"}')]
        assert answer.finish_reason == "stop\ufffd"


async def test_a_paired_surrogate_escape_is_still_the_character_it_encodes() -> None:
    pieces = sse(chunk("羊\\ud83d\\udc11"), chunk(finish="stop"))
    with RawServer([Reply(pieces=[p.replace(b"\\\\u", b"\\u") for p in pieces])]) as srv:
        answer, _, error = await stream(srv.base_url, "kimi-k2")
    assert error is None and answer.content == "羊🐑"


async def test_an_error_message_with_a_lone_surrogate_can_be_printed() -> None:
    err = '{"error":{"message":"上游失败\\ud800了","type":"upstream_error","code":"bad\\udfff"}}'
    with RawServer([Reply(pieces=sse(chunk("部分回答"), err, done=False))]) as srv:
        answer, _, error = await stream(srv.base_url, "kimi-k2")
    assert isinstance(error, UpstreamError)
    assert "上游失败\ufffd了" in error.message and encodable(error.user_text())
    assert answer.content == "部分回答"


async def test_usage_past_64_bits_is_clamped(simulator: RelaySimulator) -> None:
    for model in ("gpt-4.1+hugeusage", "kimi-k2+hugeusage", "deepseek-v3.2+hugeusage"):
        answer, _, error = await stream(simulator.base_url, model)
        assert error is None and answer.usage is not None
        usage = answer.usage
        counts = [usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, usage.cached_tokens]
        assert counts + [usage.reasoning_tokens] == [MAX_TOKENS] * 5, model
        assert all(0 <= c < 2**53 for c in counts)


def test_ask_prints_and_stores_an_answer_with_a_lone_surrogate_and_huge_usage(
    simulator: RelaySimulator, tmp_path: Path, cli: Any, stored_turn: Callable[[Path], tuple[Any, Any]]
) -> None:
    data = tmp_path / "数据"
    model = "kimi-k2+lonesurrogate,hugeusage"
    env = {"HOLYSHEEP_DATA_DIR": str(data)}
    out = cli("ask", "--base-url", simulator.base_url, "-m", model, "一个孤立的代理项", env=env)
    assert out.returncode == 0, out.stderr
    assert "\ufffd" in out.stdout and "HolySheep" in out.stdout
    prompt, answer = stored_turn(data / "history.db")
    assert prompt.content == "一个孤立的代理项"
    assert answer.content.strip() == out.stdout.strip()
    assert answer.completion_tokens == MAX_TOKENS and answer.prompt_tokens == MAX_TOKENS


async def test_the_app_keeps_answering_after_a_lone_surrogate(
    simulator: RelaySimulator,
    tmp_path: Path,
    make_app: Callable[..., HolySheepApp],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
) -> None:
    app = make_app(store=tmp_path / "history.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.choose_model("kimi-k2+lonesurrogate,hugeusage")
        first = await send_and_wait(pilot, "第一问：会坏掉吗？")
        assert first.status == "complete" and "\ufffd" in first.text
        second = await send_and_wait(pilot, "第二问：还能继续吗？")
        assert second.status == "complete" and second.text
        sent = chats(simulator)[-1].json
        assert [m["content"] for m in sent["messages"]][1] == first.text
        assert [t.status for t in app.conversation.turns] == ["complete", "complete"]


# ---- 5: an endless line, an endless event -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "bound", "what"),
    [
        ("data: 洪".encode() * 30000, MAX_LINE, "a line longer than 8 MiB"),
        ("data: 洪水\n".encode() * 5000, MAX_EVENT, "an event larger than 8 MiB"),
        ("data: 洪水\r\n".encode() * 5000, MAX_EVENT, "an event larger than 8 MiB"),
    ],
    ids=["line", "data-lines", "data-lines-crlf"],
)
def test_the_decoder_holds_no_more_than_its_bound(body: bytes, bound: int, what: str) -> None:
    decoder = SSEDecoder()
    assert list(decoder.feed('data: {"前":"文"}\n\n'.encode())) == [("message", '{"前":"文"}', None, None)]
    fed = 0
    while decoder.error is None:
        assert fed < 40 * 1024 * 1024, "40 MB went in and the decoder never stopped"
        assert not decoder.feed(body)
        fed += len(body)
        assert decoder.buffered <= bound
    assert str(decoder.error) == what and decoder.buffered == 0
    with pytest.raises(SSELimitError):
        decoder.feed(b"\n\n")


def test_an_event_as_large_as_a_read_still_passes() -> None:
    decoder = SSEDecoder(max_line=1000, max_event=1000)
    big = "大" * 5000
    assert [e.data for e in decoder.feed(f"data: {big}\n\n".encode())] == [big]
    assert decoder.error is None


@pytest.mark.parametrize(
    ("fault", "what"),
    [("floodline", "a line longer than 8 MiB"), ("flooddata", "an event larger than 8 MiB")],
    ids=["floodline", "flooddata"],
)
async def test_40_mb_without_an_end_stops_with_a_protocol_error_and_keeps_the_partial_answer(
    fault: str, what: str, simulator: RelaySimulator
) -> None:
    whole, _, error = await stream(simulator.base_url, "kimi-k2")
    assert error is None
    tracemalloc.start()
    try:
        answer, _, error = await stream(simulator.base_url, f"kimi-k2+{fault}")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(error, ProtocolError)
    assert error.message == f"The relay sent {what} without ending it; reading stopped there."
    assert error.hint is not None and "partial answer was kept" in error.hint
    assert len(answer.content) > 100 and whole.content.startswith(answer.content)
    assert peak < 48 * 1024 * 1024, f"{peak / 1e6:.0f} MB held for a 40 MB flood"
    flood = [r for r in simulator.requests if r.path.endswith("/chat/completions")][-1]
    assert flood.json["model"] == f"kimi-k2+{fault}"  # the error came from the flood, not an earlier request


async def test_a_json_completion_larger_than_its_bound_is_refused() -> None:
    content = "长" * (MAX_COMPLETION // 3 + 1024)
    completion = {"choices": [{"index": 0, "message": {"content": content}, "finish_reason": "stop"}]}
    data = json.dumps(completion, ensure_ascii=False).encode()
    pieces = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    reply = Reply(headers={"Content-Type": "application/json"}, pieces=pieces)
    with RawServer([reply]) as srv:
        answer, _, error = await stream(srv.base_url, "kimi-k2")
    assert isinstance(error, ProtocolError) and "larger than 32 MiB" in error.message
    assert answer.content == ""


# ---- 7: Gemini's thought summaries as content ----------------------------------------------------------


@pytest.mark.parametrize("extra", ["", ",tiny", ",ascii", ",crlf", ",tps=0"])
async def test_gemini_thoughts_go_to_reasoning_without_their_tags(
    extra: str, simulator: RelaySimulator
) -> None:
    plain, _, error = await stream(simulator.base_url, f"gemini-2.5-flash+reasoningfield{extra}")
    assert error is None and plain.reasoning and plain.content
    answer, events, error = await stream(simulator.base_url, f"gemini-2.5-flash+googlethought{extra}")
    assert error is None
    assert answer.reasoning == plain.reasoning
    assert answer.content == plain.content
    assert "thought>" not in answer.content and "thought>" not in answer.reasoning
    kinds = [type(e) for e in events if isinstance(e, ContentDelta | ReasoningDelta)]
    assert kinds.index(ContentDelta) > len(kinds) - 1 - kinds[::-1].index(ReasoningDelta)  # thoughts first


def gemini(content: str, *, thought: bool = False, **delta: Any) -> dict[str, Any]:
    """A chunk as Gemini's OpenAI-compatible endpoint streams it with ``include_thoughts``."""
    body = chunk(content, model="gemini-2.5-flash", **delta)
    if thought:
        body["choices"][0]["delta"]["extra_content"] = {"google": {"thought": True}}
    return body


async def test_a_thought_after_plain_content_in_one_read_is_still_reasoning() -> None:
    # Plain chunks first (the client learns their shape), then a thought, then the answer closing its tag.
    chunks = [gemini(f"前言{i}") for i in range(6)]
    chunks += [
        gemini("<thought>**想一想**\n\n", thought=True, role="assistant"),
        gemini("再想想", thought=True),
    ]
    chunks += [
        gemini("</thought>结论：可以。"),
        *(gemini(f"后文{i}") for i in range(6)),
        gemini("", finish="stop"),
    ]
    body = b"".join(sse(*chunks))
    with RawServer([Reply(pieces=[body])]) as srv:
        answer, _, error = await stream(srv.base_url, "gemini-2.5-flash")
    assert error is None
    assert answer.reasoning == "**想一想**\n\n再想想"
    expected = "".join(f"前言{i}" for i in range(6)) + "结论：可以。" + "".join(f"后文{i}" for i in range(6))
    assert answer.content == expected


async def test_deepseek_and_openrouter_reasoning_still_read(simulator: RelaySimulator) -> None:
    for model in ("deepseek-reasoner", "gpt-4.1+reasoningfield", "kimi-k2+reasoningdup"):
        answer, _, error = await stream(simulator.base_url, model)
        assert error is None and answer.reasoning and answer.content, model
        assert answer.reasoning.count(answer.reasoning[:12]) == 1, model  # a duplicate field is read once
