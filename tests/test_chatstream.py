"""The chat-completions stream interpreter, fed byte streams modelled on what real providers send.

Every fixture goes through SSEDecoder then ChatStreamParser, whole and split at every byte position,
one event at a time and a network read at a time (StreamReader, the client's path), and must give the
same events.
"""

from __future__ import annotations

import json
import random
import weakref
from dataclasses import dataclass

import pytest

from holysheep_tui.errors import (
    AuthError,
    ContextTooLongError,
    ProtocolError,
    QuotaError,
    RateLimitError,
    RelayError,
    UpstreamError,
)
from holysheep_tui.relay.body import StreamReader
from holysheep_tui.relay.chat_stream import ChatStreamParser, parse_usage
from holysheep_tui.relay.failures import stream_error
from holysheep_tui.relay.sse import ServerSentEvent, SSEDecoder
from holysheep_tui.relay.wire import (
    Answer,
    ContentDelta,
    FinishReason,
    ReasoningDelta,
    RefusalDelta,
    ResponseModel,
    StreamEvent,
    ToolCallDelta,
    Usage,
    UsageReport,
)


@dataclass
class Outcome:
    events: list[StreamEvent]
    error: RelayError | None
    done: bool
    finished: bool
    saw_content: bool

    def key(self) -> tuple[object, ...]:
        err = None if self.error is None else (type(self.error), str(self.error), self.error.status)
        return (joined(self.events), err, self.done, self.finished, self.saw_content)


def joined(events: list[StreamEvent]) -> list[StreamEvent]:
    """Runs of text deltas as one: a read's text is handed on as one delta, where reads fall is chance."""
    out: list[StreamEvent] = []
    for event in events:
        if isinstance(event, ContentDelta | ReasoningDelta) and out and type(out[-1]) is type(event):
            out[-1] = type(event)(out[-1].text + event.text)
        else:
            out.append(event)
    return out


def run(stream: bytes, cuts: list[int] | None = None, model: str = "kimi-k2") -> Outcome:
    """Decode ``stream`` cut at ``cuts`` through ``feed``, ``feed_events`` and StreamReader, which must agree."""
    outcome = run_feed(stream, cuts, model)
    assert run_raw(stream, cuts, model).key() == outcome.key(), "feed_events and feed disagree"
    assert run_raw(stream, cuts, model, reads=True).key() == outcome.key(), "StreamReader and feed disagree"
    return outcome


def run_raw(stream: bytes, cuts: list[int] | None, model: str, *, reads: bool = False) -> Outcome:
    """Each piece's events at once: through ``feed_events`` as plain lists, or StreamReader (``reads``)."""
    bounds = [0, *sorted(cuts or []), len(stream)]
    decoder = SSEDecoder()
    reader = StreamReader(model)
    parser = reader.parser if reads else ChatStreamParser(model)
    events: list[StreamEvent] = []
    error: RelayError | None = None
    try:
        for a, b in zip(bounds, bounds[1:], strict=False):
            if reads:
                reader.read(stream[a:b], events)
            else:
                parser.feed_events(list(decoder.feed(stream[a:b])), events)
        if reads:
            reader.end(events)
        else:
            parser.feed_events(decoder.close(), events)
    except RelayError as exc:
        error = exc
    return Outcome(events, error, parser.done, parser.finished, parser.saw_content)


def run_feed(stream: bytes, cuts: list[int] | None, model: str) -> Outcome:
    """Decode ``stream`` cut at ``cuts`` one event at a time: stop at the first error."""
    bounds = [0, *sorted(cuts or []), len(stream)]
    decoder = SSEDecoder()
    parser = ChatStreamParser(model)
    events: list[StreamEvent] = []
    error: RelayError | None = None
    pieces = [stream[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    try:
        for piece in pieces:
            for sse in decoder.feed(piece):
                events.extend(parser.feed(sse))
        for sse in decoder.close():
            events.extend(parser.feed(sse))
    except RelayError as exc:
        error = exc
    return Outcome(events, error, parser.done, parser.finished, parser.saw_content)


def sse(*payloads: str, newline: str = "\n", prefix: str = "data: ") -> bytes:
    return "".join(f"{prefix}{p}{newline}{newline}" for p in payloads).encode()


# ---- fixtures modelled on real providers -----------------------------------------------------

OA = (
    '{"id":"chatcmpl-C1aBq","object":"chat.completion.chunk","created":1754000000,'
    '"model":"gpt-4.1-2025-04-14","service_tier":"default","system_fingerprint":"fp_b3f1157249",'
)
OPENAI = sse(
    OA + '"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"q1"}',
    OA + '"choices":[{"index":0,"delta":{"content":"你好"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"Zk3"}',
    OA + '"choices":[{"index":0,"delta":{"content":"！有什么可以帮你？"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"p"}',
    OA + '"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null,"obfuscation":"aa"}',
    OA + '"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":8,"total_tokens":17,'
    '"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,'
    '"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"obfuscation":"x"}',
    "[DONE]",
)
OPENAI_EVENTS = [
    ResponseModel("gpt-4.1-2025-04-14"),
    ContentDelta("你好"),
    ContentDelta("！有什么可以帮你？"),
    FinishReason("stop"),
    UsageReport(Usage(9, 8, 17, 0, 0)),
]

OPENAI_REFUSAL = sse(
    OA + '"choices":[{"index":0,"delta":{"role":"assistant","content":null,"refusal":""},"logprobs":null,"finish_reason":null}],"usage":null}',
    OA + '"choices":[{"index":0,"delta":{"refusal":"抱歉，"},"logprobs":null,"finish_reason":null}],"usage":null}',
    OA + '"choices":[{"index":0,"delta":{"refusal":"我无法协助。"},"logprobs":null,"finish_reason":null}],"usage":null}',
    OA + '"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}',
    "[DONE]",
)

# n=2: both choices in each chunk, index 1 first; choice 1 finishes earlier and differently.
OPENAI_N2 = sse(
    OA + '"choices":[{"index":1,"delta":{"role":"assistant","content":""},"finish_reason":null},{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}',
    OA + '"choices":[{"index":1,"delta":{"content":"乙：第二个回答"},"finish_reason":null},{"index":0,"delta":{"content":"甲：第一个"},"finish_reason":null}],"usage":null}',
    OA + '"choices":[{"index":1,"delta":{},"finish_reason":"length"}],"usage":null}',
    OA + '"choices":[{"index":0,"delta":{"content":"回答"},"finish_reason":null}],"usage":null}',
    OA + '"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}',
    OA + '"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":20,"total_tokens":25}}',
    "[DONE]",
)

OPENAI_TOOLS = sse(
    OA + '"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_Qx9","type":"function","function":{"name":"get_weather","arguments":""}}],"refusal":null},"finish_reason":null}],"usage":null}',
    OA + '"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"city\\":"}}]},"finish_reason":null}],"usage":null}',
    OA + '"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\\"北京\\"}"}}]},"finish_reason":null}],"usage":null}',
    # Partial and odd entries some relays send: no function, null function, non-dict entries.
    OA + '"choices":[{"index":0,"delta":{"tool_calls":[{"index":1},{"index":1,"function":null},null,5,{"function":{"name":null,"arguments":null}}]},"finish_reason":null}],"usage":null}',
    OA + '"choices":[{"index":0,"delta":{"tool_calls":"oops"},"finish_reason":null}],"usage":null}',
    OA + '"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":null}',
    "[DONE]",
)

DS = '{"id":"9f3c2b1a-4d5e","object":"chat.completion.chunk","created":1754000100,"model":"deepseek-reasoner","system_fingerprint":"fp_7e0991cad4_prod0820_fp8_kvcache",'
DEEPSEEK = (
    b": keep-alive\n\n"
    + sse(
        DS + '"choices":[{"index":0,"delta":{"role":"assistant","content":null,"reasoning_content":""},"logprobs":null,"finish_reason":null}]}',
        DS + '"choices":[{"index":0,"delta":{"content":null,"reasoning_content":"嗯，用户"},"logprobs":null,"finish_reason":null}]}',
        DS + '"choices":[{"index":0,"delta":{"content":null,"reasoning_content":"在打招呼。"},"logprobs":null,"finish_reason":null}]}',
    )
    + b": keep-alive\n\n"
    + sse(
        DS + '"choices":[{"index":0,"delta":{"content":"你好！","reasoning_content":null},"logprobs":null,"finish_reason":null}]}',
        DS + '"choices":[{"index":0,"delta":{"content":"","reasoning_content":null},"logprobs":null,"finish_reason":"stop"}],'
        '"usage":{"prompt_tokens":75,"completion_tokens":20,"total_tokens":95,"completion_tokens_details":{"reasoning_tokens":12},'
        '"prompt_cache_hit_tokens":64,"prompt_cache_miss_tokens":11}}',
        "[DONE]",
    )
)
DEEPSEEK_EVENTS = [
    ResponseModel("deepseek-reasoner"),
    ReasoningDelta("嗯，用户"),
    ReasoningDelta("在打招呼。"),
    ContentDelta("你好！"),
    FinishReason("stop"),
    UsageReport(Usage(75, 20, 95, 64, 12)),
]

MS = '{"id":"chatcmpl-68a1f0c2e5","object":"chat.completion.chunk","created":1754000200,"model":"kimi-k2-0905-preview",'
MOONSHOT_USAGE = '{"prompt_tokens":19,"completion_tokens":13,"total_tokens":32,"cached_tokens":16}'
MOONSHOT = sse(
    MS + '"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"system_fingerprint":"fpv0_ff52a3ef"}',
    MS + '"choices":[{"index":0,"delta":{"content":"月之暗面"},"finish_reason":null}],"system_fingerprint":"fpv0_ff52a3ef"}',
    MS + '"choices":[{"index":0,"delta":{"content":"向你问好。"},"finish_reason":null}],"system_fingerprint":"fpv0_ff52a3ef"}',
    MS + '"choices":[{"index":0,"delta":{},"finish_reason":"stop","usage":' + MOONSHOT_USAGE + '}],"system_fingerprint":"fpv0_ff52a3ef"}',
    # With include_usage the same usage comes again at the top level: counted once.
    MS + '"choices":[],"usage":' + MOONSHOT_USAGE + "}",
    "[DONE]",
)
MOONSHOT_EVENTS = [
    ResponseModel("kimi-k2-0905-preview"),
    ContentDelta("月之暗面"),
    ContentDelta("向你问好。"),
    FinishReason("stop"),
    UsageReport(Usage(19, 13, 32, 16, 0)),
]

OR = '{"id":"gen-1754000300-AbCdEf","provider":"Moonshot AI","model":"moonshotai/kimi-k2","object":"chat.completion.chunk","created":1754000300,'
OPENROUTER_ERROR = (
    b": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\n"
    + sse(
        OR + '"choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning":"先想一想","reasoning_details":[{"type":"reasoning.text","text":"先想一想","format":"unknown","index":0}]},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}',
        OR + '"choices":[{"index":0,"delta":{"role":"assistant","content":"部分回答"},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}',
    )
    + b": OPENROUTER PROCESSING\n\n"
    + sse(
        OR + '"error":{"code":"server_error","message":"Provider disconnected unexpectedly"},'
        '"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error","native_finish_reason":"error"}]}',
        "[DONE]",
    )
)

GM = '"created":1754000400,"id":"kPqXaO3fG5","model":"gemini-2.5-flash","object":"chat.completion.chunk"'
GEMINI = sse(
    '{"choices":[{"delta":{"content":"谷歌","role":"assistant"},"index":0}],' + GM + "}",
    '{"choices":[{"delta":{"content":"的回答。","role":"assistant"},"finish_reason":"stop","index":0}],' + GM
    + ',"usage":{"completion_tokens":6,"prompt_tokens":5,"total_tokens":40}}',
    "[DONE]",
    newline="\r\n",
)

AN = '"created":1754000500,"model":"claude-sonnet-4-5-20250929","object":"chat.completion.chunk"'
ANTHROPIC = sse(
    '{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","choices":[{"index":0,"delta":{"role":"assistant","content":""}}],' + AN + "}",
    '{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","choices":[{"index":0,"delta":{"content":"你好，我是 Claude。"}}],' + AN + "}",
    '{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],' + AN
    + ',"usage":{"prompt_tokens":14,"completion_tokens":9,"total_tokens":23}}',
    "[DONE]",
)

# A relay passing provider quirks through: Azure's empty first chunk, `data:` without the space, CRLF,
# id/retry lines, a ping event, reasoning in both fields, a native finish reason, null usage fields,
# usage after the finish chunk, and no [DONE].
RL = '"model":"claude-sonnet-4.5","object":"chat.completion.chunk","created":1754000600'
RELAY = (
    b"retry: 2000\r\n"
    + sse('{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}', newline="\r\n", prefix="data:")
    + b"event: ping\r\ndata: {\"type\": \"ping\"}\r\n\r\n"
    + b"id: 42\r\n"
    + sse(
        '{"id":"r1","choices":[{"index":0,"delta":{"reasoning_content":"推理","reasoning":"推理"},"finish_reason":null}],' + RL + "}",
        '{"id":"r1","choices":[{"index":0,"delta":{"reasoning_content":"甲","reasoning":"乙"},"finish_reason":null}],' + RL + "}",
        '{"id":"r1","choices":[{"index":0,"delta":{"content":"答案","reasoning_content":null,"reasoning":null},"finish_reason":null}],' + RL + "}",
        '{"id":"r1","choices":[{"index":0,"delta":{"content":null},"finish_reason":"end_turn"}],' + RL + "}",
        '{"id":"r1","choices":[{"index":0,"delta":{},"finish_reason":"MAX_TOKENS"}],' + RL + "}",
        '{"id":"r1","choices":[],' + RL + ',"usage":{"prompt_tokens":null,"completion_tokens":7,"total_tokens":null,"prompt_tokens_details":null,"completion_tokens_details":null}}',
        newline="\r\n",
        prefix="data:",
    )
)
RELAY_EVENTS = [
    ResponseModel("claude-sonnet-4.5"),
    ReasoningDelta("推理"),
    ReasoningDelta("甲"),
    ContentDelta("答案"),
    FinishReason("end_turn"),
    UsageReport(Usage(0, 7, 7, 0, 0)),
]

EVENT_ERROR = sse(
    MS + '"choices":[{"index":0,"delta":{"content":"写到一半"},"finish_reason":null}]}'
) + "event: error\ndata: {\"error\":{\"message\":\"上游过载 Overloaded\",\"type\":\"overloaded_error\"}}\n\n".encode()

NOT_JSON = sse(MS + '"choices":[{"index":0,"delta":{"content":"保留的部分"},"finish_reason":null}]}') + (
    "data: <html><head><title>502 Bad Gateway</title></head><body>网关错误 " + "x" * 300 + "</body></html>\n\n"
).encode()

FIXTURES = {
    "openai": OPENAI,
    "openai_refusal": OPENAI_REFUSAL,
    "openai_n2": OPENAI_N2,
    "openai_tools": OPENAI_TOOLS,
    "deepseek": DEEPSEEK,
    "moonshot": MOONSHOT,
    "openrouter_error": OPENROUTER_ERROR,
    "gemini": GEMINI,
    "anthropic": ANTHROPIC,
    "relay": RELAY,
    "event_error": EVENT_ERROR,
    "not_json": NOT_JSON,
}


# ---- provider behaviour ----------------------------------------------------------------------


def test_openai_stream_with_usage_after_the_finish_chunk() -> None:
    out = run(OPENAI)
    assert out.events == OPENAI_EVENTS
    assert (out.error, out.done, out.finished, out.saw_content) == (None, True, True, True)


def test_deepseek_reasoning_content_and_prompt_cache_hit_tokens() -> None:
    assert run(DEEPSEEK).events == DEEPSEEK_EVENTS


def test_moonshot_usage_in_choice_and_at_top_level_counts_once() -> None:
    assert run(MOONSHOT).events == MOONSHOT_EVENTS


def test_gemini_crlf_stream_keeps_the_given_total() -> None:
    assert run(GEMINI).events == [
        ResponseModel("gemini-2.5-flash"),
        ContentDelta("谷歌"),
        ContentDelta("的回答。"),
        FinishReason("stop"),
        UsageReport(Usage(5, 6, 40, 0, 0)),
    ]


def test_anthropic_compatible_stream() -> None:
    out = run(ANTHROPIC)
    assert out.events == [
        ResponseModel("claude-sonnet-4-5-20250929"),
        ContentDelta("你好，我是 Claude。"),
        FinishReason("stop"),
        UsageReport(Usage(14, 9, 23, 0, 0)),
    ]
    assert out.done


def test_relay_quirks_without_done() -> None:
    out = run(RELAY)
    assert out.events == RELAY_EVENTS
    assert out.error is None
    assert not out.done and out.finished


def test_refusal_deltas() -> None:
    out = run(OPENAI_REFUSAL)
    assert [e for e in out.events if isinstance(e, RefusalDelta)] == [RefusalDelta("抱歉，"), RefusalDelta("我无法协助。")]
    assert not any(isinstance(e, ContentDelta) for e in out.events)
    assert out.saw_content


def test_only_choice_zero_is_shown_when_n_is_two() -> None:
    assert run(OPENAI_N2).events == [
        ResponseModel("gpt-4.1-2025-04-14"),
        ContentDelta("甲：第一个"),
        ContentDelta("回答"),
        FinishReason("stop"),
        UsageReport(Usage(5, 20, 25, 0, 0)),
    ]


def test_tool_call_deltas_including_partial_entries() -> None:
    out = run(OPENAI_TOOLS)
    assert out.error is None
    assert [e for e in out.events if isinstance(e, ToolCallDelta)] == [
        ToolCallDelta(0, "call_Qx9", "get_weather", ""),
        ToolCallDelta(0, None, None, '{"city":'),
        ToolCallDelta(0, None, None, '"北京"}'),
    ]
    assert FinishReason("tool_calls") in out.events
    assert out.saw_content


def test_openrouter_error_mid_stream_keeps_the_partial_answer() -> None:
    out = run(OPENROUTER_ERROR)
    assert out.events == [
        ResponseModel("moonshotai/kimi-k2"),
        ReasoningDelta("先想一想"),
        ContentDelta("部分回答"),
    ]
    assert type(out.error) is UpstreamError
    assert out.error.provider_message == "Provider disconnected unexpectedly"
    assert "Provider disconnected unexpectedly" in str(out.error)


def test_event_error_raises_with_the_provider_message() -> None:
    out = run(EVENT_ERROR)
    assert out.events == [ResponseModel("kimi-k2-0905-preview"), ContentDelta("写到一半")]
    assert type(out.error) is UpstreamError
    assert out.error.provider_message == "上游过载 Overloaded"


def test_chunk_that_is_not_json_is_a_protocol_error_naming_the_line() -> None:
    out = run(NOT_JSON)
    assert out.events == [ResponseModel("kimi-k2-0905-preview"), ContentDelta("保留的部分")]
    assert isinstance(out.error, ProtocolError)
    message = str(out.error)
    assert "<html><head><title>502 Bad Gateway" in message
    assert "x" * 100 not in message  # the line is shortened
    assert len(message) < 160


# ---- every fixture is split-invariant --------------------------------------------------------


@pytest.mark.parametrize("name", list(FIXTURES))
def test_every_split_point_gives_the_same_outcome(name: str) -> None:
    stream = FIXTURES[name]
    whole = run(stream).key()
    assert whole[0], "fixture produced no events"
    for cut in range(1, len(stream)):
        assert run(stream, [cut]).key() == whole, f"{name}: split at byte {cut}"


@pytest.mark.parametrize("name", list(FIXTURES))
def test_random_multi_splits_give_the_same_outcome(name: str) -> None:
    stream = FIXTURES[name]
    whole = run(stream).key()
    rng = random.Random(name)
    for _ in range(60):
        cuts = rng.sample(range(1, len(stream)), min(len(stream) - 1, rng.randint(2, 40)))
        assert run(stream, cuts).key() == whole, f"{name}: cuts {sorted(cuts)}"


@pytest.mark.parametrize("name", ["openai", "deepseek", "moonshot", "relay"])
def test_line_endings_do_not_change_the_outcome(name: str) -> None:
    stream = FIXTURES[name].replace(b"\r\n", b"\n")
    whole = run(stream).key()
    assert run(stream.replace(b"\n", b"\r\n")).key() == whole
    assert run(stream.replace(b"\n", b"\r")).key() == whole


def test_events_fold_into_the_answer() -> None:
    answer = Answer(model="deepseek-reasoner")
    for event in run(DEEPSEEK).events:
        answer.apply(event)
    assert (answer.content, answer.reasoning, answer.finish_reason) == ("你好！", "嗯，用户在打招呼。", "stop")
    assert answer.usage == Usage(75, 20, 95, 64, 12)


# ---- rules, one event at a time --------------------------------------------------------------


_TWINS: weakref.WeakKeyDictionary[ChatStreamParser, ChatStreamParser] = weakref.WeakKeyDictionary()


def feed(parser: ChatStreamParser, obj: object, event: str = "message") -> list[StreamEvent]:
    """One event through ``feed``, and through ``feed_events`` on a twin parser: both must agree."""
    data = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)
    twin = _TWINS.setdefault(parser, ChatStreamParser(parser.requested_model))
    raw: list[StreamEvent] = []
    try:
        events = parser.feed(ServerSentEvent(event=event, data=data))
    except RelayError as exc:
        with pytest.raises(type(exc)) as caught:
            twin.feed_events([ServerSentEvent(event, data)], raw)
        assert (str(caught.value), caught.value.status) == (str(exc), exc.status)
        raise
    twin.feed_events([ServerSentEvent(event, data)], raw)
    assert raw == events
    assert (twin.done, twin.finished, twin.saw_content) == (parser.done, parser.finished, parser.saw_content)
    return events


def delta_chunk(delta: dict[str, object], **extra: object) -> dict[str, object]:
    return {"model": "kimi-k2", "choices": [{"index": 0, "delta": delta, "finish_reason": None}], **extra}


def test_done_with_whitespace_ends_the_stream_and_later_events_are_ignored() -> None:
    parser = ChatStreamParser("kimi-k2")
    assert feed(parser, "  [DONE] \n") == []
    assert parser.done
    assert feed(parser, delta_chunk({"content": "不应出现"})) == []
    assert feed(parser, "not json") == []
    assert feed(parser, {"error": {"message": "忽略"}}) == []


def test_response_model_is_emitted_once_even_when_it_matches_the_request() -> None:
    parser = ChatStreamParser("kimi-k2")
    assert feed(parser, delta_chunk({"content": "一"})) == [ResponseModel("kimi-k2"), ContentDelta("一")]
    assert feed(parser, {**delta_chunk({"content": "二"}), "model": "kimi-k2-0905"}) == [ContentDelta("二")]


def test_empty_and_null_fields_produce_nothing() -> None:
    parser = ChatStreamParser("kimi-k2")
    feed(parser, delta_chunk({}))  # consume the model
    deltas: list[dict[str, object]] = [
        {"content": ""},
        {"content": None, "reasoning_content": None, "reasoning": None, "refusal": None, "tool_calls": None},
        {"reasoning_content": "", "reasoning": ""},
        {"role": "assistant"},
    ]
    for delta in deltas:
        assert feed(parser, delta_chunk(delta)) == [], delta
    chunks: list[dict[str, object]] = [
        {"choices": []},
        {"choices": None, "usage": None},
        {"choices": [None, 3, {"index": 0, "delta": None, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": ""}], "usage": {}},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": 7}], "usage": {"foo": 1}},
        {"error": None, "choices": []},
    ]
    for chunk in chunks:
        assert feed(parser, chunk) == [], chunk
    assert feed(parser, "") == []
    assert not parser.saw_content and not parser.finished


def test_first_chunk_with_empty_choices_and_no_usage_produces_nothing() -> None:
    parser = ChatStreamParser("gpt-4.1")
    assert feed(parser, {"choices": [], "created": 0, "id": "", "model": "", "prompt_filter_results": []}) == []


def test_reasoning_field_alone_and_both_fields() -> None:
    parser = ChatStreamParser("r")
    feed(parser, delta_chunk({}))
    assert feed(parser, delta_chunk({"reasoning": "思"})) == [ReasoningDelta("思")]
    assert feed(parser, delta_chunk({"reasoning_content": "考", "reasoning": "考"})) == [ReasoningDelta("考")]
    assert feed(parser, delta_chunk({"reasoning_content": "甲", "reasoning": "乙"})) == [ReasoningDelta("甲")]
    assert feed(parser, delta_chunk({"reasoning_content": "", "reasoning": "丙"})) == [ReasoningDelta("丙")]


def test_content_given_as_a_list_of_parts() -> None:
    parser = ChatStreamParser("m")
    feed(parser, delta_chunk({}))
    parts = [{"type": "text", "text": "图"}, {"type": "image_url"}, {"type": "text", "text": "文"}]
    assert feed(parser, delta_chunk({"content": parts})) == [ContentDelta("图文")]


def test_finish_reason_once_for_any_string() -> None:
    parser = ChatStreamParser("m")
    finish = {"choices": [{"index": 0, "delta": {}, "finish_reason": "content_filter"}]}
    assert feed(parser, finish) == [FinishReason("content_filter")]
    assert parser.finished
    assert feed(parser, {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}) == []


def test_finish_reason_of_another_choice_does_not_finish() -> None:
    parser = ChatStreamParser("m")
    assert feed(parser, {"choices": [{"index": 1, "delta": {"content": "乙"}, "finish_reason": "eos"}]}) == []
    assert not parser.finished and not parser.saw_content


def test_usage_changes_are_reported_and_repeats_are_not() -> None:
    parser = ChatStreamParser("m")
    first = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    later = {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12}
    assert feed(parser, {"choices": [], "usage": first}) == [UsageReport(Usage(3, 1, 4))]
    assert feed(parser, {"choices": [], "usage": first}) == []
    assert feed(parser, {"choices": [], "usage": later}) == [UsageReport(Usage(3, 9, 12))]


def test_choice_usage_and_top_level_usage_in_one_chunk_counted_once() -> None:
    parser = ChatStreamParser("m")
    usage = {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12, "cached_tokens": 8}
    chunk = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "usage": usage}], "usage": usage}
    assert feed(parser, chunk) == [FinishReason("stop"), UsageReport(Usage(10, 2, 12, 8))]


@pytest.mark.parametrize(
    ("raw", "usage"),
    [
        ({"prompt_tokens": 10, "completion_tokens": 5}, Usage(10, 5, 15)),
        ({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": None}, Usage(10, 5, 15)),
        ({"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105, "prompt_tokens_details": {"cached_tokens": 80}}, Usage(100, 5, 105, 80)),
        ({"prompt_tokens": 100, "completion_tokens": 5, "prompt_cache_hit_tokens": 64, "prompt_cache_miss_tokens": 36}, Usage(100, 5, 105, 64)),
        ({"prompt_tokens": 100, "completion_tokens": 5, "cached_tokens": 32}, Usage(100, 5, 105, 32)),
        ({"prompt_tokens": 1, "completion_tokens": 50, "completion_tokens_details": {"reasoning_tokens": 40}}, Usage(1, 50, 51, 0, 40)),
        ({"prompt_tokens": None, "completion_tokens": None, "total_tokens": 9}, Usage(0, 0, 9)),
        ({"prompt_tokens": "12", "completion_tokens": True, "total_tokens": -1}, None),
        ({"prompt_tokens": 2.0, "completion_tokens": 3}, Usage(2, 3, 5)),
        ({"prompt_tokens": 1, "prompt_tokens_details": {"cached_tokens": None}, "completion_tokens_details": []}, Usage(1, 0, 1)),
        ({"input_tokens": 7, "output_tokens": 2}, Usage(7, 2, 9)),
        ({}, None),
        (None, None),
        ([1, 2], None),
    ],
)
def test_parse_usage(raw: object, usage: Usage | None) -> None:
    assert parse_usage(raw) == usage


@pytest.mark.parametrize(
    ("payload", "error_type", "status"),
    [
        ({"error": {"message": "Provider returned error", "code": 429, "metadata": {"raw": "{\"error\":{\"message\":\"请求过多\"}}", "provider_name": "Moonshot AI"}}}, RateLimitError, 429),
        ({"error": {"message": "You exceeded your current quota, please check your plan and billing details.", "type": "insufficient_quota", "code": "insufficient_quota"}}, QuotaError, None),
        ({"error": {"message": "This model's maximum context length is 131072 tokens.", "code": "context_length_exceeded"}}, ContextTooLongError, None),
        ({"error": {"message": "Invalid API key 无效", "code": 401}}, AuthError, 401),
        ({"error": {"message": "余额不足", "code": "insufficient_user_quota"}}, QuotaError, None),
        ({"error": "内部错误"}, UpstreamError, None),
        ({"object": "error", "message": "vLLM 引擎出错", "type": "InternalServerError", "code": 500}, UpstreamError, 500),
        ([{"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}}], RateLimitError, 429),
    ],
)
def test_in_stream_errors_map_to_the_specific_error_class(payload: object, error_type: type[RelayError], status: int | None) -> None:
    parser = ChatStreamParser("kimi-k2")
    with pytest.raises(RelayError) as caught:
        feed(parser, payload)
    assert type(caught.value) is error_type
    assert caught.value.status == status
    assert caught.value.provider_message
    assert caught.value.provider_message in str(caught.value)
    assert caught.value.hint == "Whatever streamed before the error is kept."


def test_openrouter_raw_message_is_preferred_in_stream() -> None:
    error = stream_error({"error": {"message": "Provider returned error", "code": 429, "metadata": {"raw": "{\"error\":{\"message\":\"请求过多\"}}", "provider_name": "Moonshot AI"}}})
    assert error.provider_message == "Moonshot AI: 请求过多"


def test_event_error_without_json_or_data() -> None:
    parser = ChatStreamParser("m")
    with pytest.raises(UpstreamError, match="服务暂不可用"):
        feed(parser, "服务暂不可用", event="error")
    with pytest.raises(UpstreamError, match="gave no reason"):
        feed(ChatStreamParser("m"), "", event="error")


def test_unknown_named_event_with_non_json_data_is_ignored() -> None:
    assert feed(ChatStreamParser("m"), "keep-alive 心跳", event="ping") == []


def test_json_that_is_not_an_object_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not a JSON object"):
        feed(ChatStreamParser("m"), "[1, 2]")
    with pytest.raises(ProtocolError, match="not JSON"):
        feed(ChatStreamParser("m"), '{"choices": [' + "中" * 500)


def test_deeply_nested_json_is_a_protocol_error_not_a_crash() -> None:
    with pytest.raises(ProtocolError):
        feed(ChatStreamParser("m"), "[" * 100_000)


def test_chunks_close_to_the_common_shape_keep_every_rule() -> None:
    # Each differs from {"choices":[{"index":0,"delta":{"content":...}}]} in one way the short path must not miss.
    parser = ChatStreamParser("kimi-k2")
    assert feed(parser, delta_chunk({"content": "起"})) == [ResponseModel("kimi-k2"), ContentDelta("起")]
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    cases: list[tuple[object, list[StreamEvent]]] = [
        ({"choices": [{"delta": {"content": "无序号"}}]}, [ContentDelta("无序号")]),
        ({"choices": [{"index": None, "delta": {"content": "空序号"}}]}, [ContentDelta("空序号")]),
        ({"choices": [{"index": 1, "delta": {"content": "第二个"}}]}, []),
        ({"choices": [{"index": 0.0, "delta": {"content": "浮点"}}]}, [ContentDelta("浮点")]),
        (delta_chunk({"content": "带用量"}, usage=usage), [ContentDelta("带用量"), UsageReport(Usage(3, 2, 5))]),
        (delta_chunk({"content": "空用量"}, usage=None, error=None), [ContentDelta("空用量")]),
        ({"choices": [{"index": 0, "delta": {"content": "选项用量"}, "usage": {**usage, "total_tokens": 6}}]},
         [ContentDelta("选项用量"), UsageReport(Usage(3, 2, 6))]),
        (delta_chunk({"role": "assistant", "content": "角色"}), [ContentDelta("角色")]),
        (delta_chunk({"content": [{"type": "text", "text": "片段"}]}), [ContentDelta("片段")]),
        (delta_chunk({"content": "思考后", "reasoning_content": "思考"}), [ReasoningDelta("思考"), ContentDelta("思考后")]),
        (delta_chunk({"refusal": "拒绝"}), [RefusalDelta("拒绝")]),
        ({"choices": [{"index": 0, "message": {"content": "整条"}}]}, [ContentDelta("整条")]),
        ({"choices": [{"index": 0, "delta": {"content": "完"}, "finish_reason": "stop"}]},
         [ContentDelta("完"), FinishReason("stop")]),
    ]  # fmt: skip
    for chunk, expected in cases:
        assert feed(parser, chunk) == expected, chunk
    with pytest.raises(UpstreamError, match="上游失败"):
        feed(parser, {**delta_chunk({"content": "错"}), "error": {"message": "上游失败"}})
    with pytest.raises(UpstreamError, match="对象错误"):
        feed(ChatStreamParser("m"), {**delta_chunk({"content": "错"}), "object": "error", "message": "对象错误"})


def test_first_chunk_without_a_model_then_one_with_it() -> None:
    parser = ChatStreamParser("kimi-k2")
    assert feed(parser, {"choices": [{"index": 0, "delta": {"content": "无模型"}}]}) == [ContentDelta("无模型")]
    assert feed(parser, delta_chunk({"content": "有"})) == [ResponseModel("kimi-k2"), ContentDelta("有")]


def test_json_the_fast_decoder_rejects_is_read_like_json_loads() -> None:
    # NaN, a lone surrogate and a huge integer are valid for json.loads; the result must not depend on the decoder.
    parser = ChatStreamParser("m")
    assert feed(parser, '{"model":"m","x":NaN,"choices":[{"index":0,"delta":{"content":"非数"}}]}') == [
        ResponseModel("m"),
        ContentDelta("非数"),
    ]
    assert feed(parser, '{"choices":[{"index":0,"delta":{"content":"\\ud800孤"}}]}') == [ContentDelta("\ufffd孤")]
    assert feed(parser, '{"n":' + "9" * 40 + ',"choices":[{"delta":{"content":"大数"}}]}') == [ContentDelta("大数")]


# ---- chunks that repeat their envelope around the content ------------------------------------

KM = '{"id":"chatcmpl-kimi1","object":"chat.completion.chunk","created":1754000000,"model":"kimi-k2",'


def reads(stream: bytes) -> list[list[int]]:
    """Cuts that feed ``stream`` in network reads of several events, at event boundaries and inside events."""
    ends = [i + 2 for i in range(len(stream)) if stream[i : i + 2] == b"\n\n"]
    return [ends[2::3], ends[1::4], list(range(301, len(stream), 301)), list(range(1999, len(stream), 1999))]


def kimi(token: str, *, created: int = 1754000000, tail: str = "") -> str:
    head = KM.replace("1754000000", str(created))
    return head + '"choices":[{"index":0,"delta":{"content":' + token + '},"finish_reason":null}]' + tail + "}"


def test_repeated_envelope_with_any_json_string_gives_the_parsed_content() -> None:
    stream = sse(
        kimi('"月"'),
        kimi('"之"'),
        kimi('"暗面"'),
        kimi('"引号\\"和反斜杠\\\\"'),
        kimi('"\\u4e2d\\u6587"'),
        kimi('"换行\\n制表\\t"'),
        kimi('"\\ud83d\\udc11羊"'),
        kimi(' "两边空白" '),
        kimi('"零宽\u2063字符"'),
        kimi('""'),
        kimi('"末"'),
        '{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
        "[DONE]",
    )
    texts = ["月", "之", "暗面", '引号"和反斜杠\\', "中文", "换行\n制表\t", "🐑羊", "两边空白", "零宽\u2063字符", "末"]
    expected = [ResponseModel("kimi-k2"), *(ContentDelta(t) for t in texts), FinishReason("stop")]
    assert run(stream).events == expected
    for cuts in reads(stream):
        assert run(stream, cuts).events == expected, cuts


def test_same_envelope_around_something_else_than_one_string_is_parsed_in_full() -> None:
    stream = sse(
        kimi('"一"'),
        kimi('"二"'),
        kimi('"三"'),
        kimi("null"),
        kimi("42"),
        kimi('"甲","refusal":"乙"'),
        kimi('"丙","content":"丁"'),
        kimi('["戊"]'),
        kimi('[{"type":"text","text":"己"}]'),
        kimi('"控制\x01字符"'),
    )
    whole = run(stream)
    for cuts in reads(stream):
        assert run(stream, cuts).key() == whole.key(), cuts
    out = whole
    assert out.events == [
        ResponseModel("kimi-k2"),
        ContentDelta("一"),
        ContentDelta("二"),
        ContentDelta("三"),
        ContentDelta("甲"),
        RefusalDelta("乙"),
        ContentDelta("丁"),
        ContentDelta("己"),
    ]
    assert isinstance(out.error, ProtocolError)  # a raw control character is not JSON


def test_envelope_that_changes_mid_stream_or_every_chunk() -> None:
    # `created` ticks over after a while; OpenAI adds a different `obfuscation` to every chunk.
    ticking = [kimi(f'"字{i}"', created=1754000000 + i // 70) for i in range(300)]
    obfuscated = [kimi(f'"词{i}"', tail=f',"obfuscation":"{"x" * (i % 7)}"') for i in range(40)]
    stream = sse(*ticking, *obfuscated)
    out = run(stream)
    for cuts in reads(stream):
        assert run(stream, cuts).key() == out.key(), cuts
    assert out.events == [
        ResponseModel("kimi-k2"),
        *(ContentDelta(f"字{i}") for i in range(300)),
        *(ContentDelta(f"词{i}") for i in range(40)),
    ]


def test_a_content_key_elsewhere_in_the_chunk_is_not_taken_for_the_delta() -> None:
    # Same delta every time, a different "content" after it: only the delta's counts.
    stream = sse(*(kimi('"真"', tail=f',"extra":{{"content":"假{i}"}}') for i in range(8)))
    for cuts in [[], *reads(stream)]:
        assert run(stream, cuts).events == [ResponseModel("kimi-k2"), *(ContentDelta("真") for _ in range(8))]


def test_reads_of_whole_plain_events_mixed_with_other_sse_fields() -> None:
    # Comments, ids, a named event and multi-line data between runs of plain chunks.
    plain = [kimi(f'"段{i}"') for i in range(12)]
    stream = (
        sse(*plain[:6])
        + b": keep-alive\n\nid: 7\n"
        + sse(*plain[6:9])
        + b"event: ping\ndata: {}\n\n"
        + ("data: " + plain[9].replace(",", ",\ndata: ", 1) + "\n\n").encode()  # a newline between JSON tokens
        + sse(*plain[10:], "[DONE]")
    )
    expected = [ResponseModel("kimi-k2"), *(ContentDelta(f"段{i}") for i in range(12))]
    for cuts in [[], *reads(stream), list(range(1, len(stream)))]:
        assert run(stream, cuts).events == expected, cuts


@pytest.mark.parametrize(
    "token",
    ['"控制\x01字符"', '"坏\\q转义"', '"孤\\ud800"', '"截\\u12"', '"反斜杠\\\\"', '"引号\\""'],
    ids=["control", "bad-escape", "lone-surrogate", "short-unicode", "backslash", "quote"],
)
def test_a_read_of_plain_events_with_one_odd_string_matches_the_general_path(token: str) -> None:
    stream = sse(*(kimi(f'"前{i}"') for i in range(5)), kimi(token), *(kimi(f'"后{i}"') for i in range(5)))
    whole = run(stream)
    assert whole.events[:6] == [ResponseModel("kimi-k2"), *(ContentDelta(f"前{i}") for i in range(5))]
    ends = [i + 2 for i in range(len(stream)) if stream[i : i + 2] == b"\n\n"]
    for cuts in [ends[2::3], ends[3::4], ends[:4] + ends[7:]]:
        assert run(stream, cuts).key() == whole.key(), cuts


@pytest.mark.parametrize("name", ["openai", "deepseek", "relay"])
def test_one_read_hands_on_each_run_of_text_as_one_delta(name: str) -> None:
    """A whole stream in one read: the same events in order, runs of content or reasoning joined."""
    stream = FIXTURES[name]
    one_read = run_raw(stream, None, "kimi-k2", reads=True).events
    per_event = run_feed(stream, None, "kimi-k2").events
    assert one_read == joined(per_event)
    assert len(one_read) < len(per_event)
    kinds = [type(e) for e in one_read]
    assert not any(a is b and a in (ContentDelta, ReasoningDelta) for a, b in zip(kinds, kinds[1:], strict=False))
    if name == "openai":
        assert ContentDelta("你好！有什么可以帮你？") in one_read
