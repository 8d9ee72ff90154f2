"""The relay client over real loopback sockets: parsing, errors, retries, headers, cancellation."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from holysheep_tui.config import Profile, RetryPolicy, Timeouts
from holysheep_tui.errors import (
    AuthError,
    ContextTooLongError,
    ModelNotFoundError,
    NetworkError,
    ProtocolError,
    QuotaError,
    ReadTimeoutError,
    RelayError,
    ServerError,
    StreamCutError,
    UpstreamError,
)
from holysheep_tui.relay.client import RelayClient
from holysheep_tui.relay.retry import parse_retry_after
from holysheep_tui.relay.wire import (
    Answer,
    ChatMessage,
    ChatRequest,
    ContentDelta,
    FinishReason,
    ReasoningDelta,
    ResponseModel,
    RetryScheduled,
    StreamOpened,
    Timings,
    Usage,
    UsageReport,
)
from tests.rawserver import RawServer, Reply, chunk, sse

KEY = "hs-test-key-7d1e0c9a"
PROMPT = (ChatMessage("user", "用一句话介绍人民币结算的好处"),)


def make_client(url: str, *, retries: int = 2, read: float = 5.0, delays: list[float] | None = None) -> RelayClient:
    profile = Profile(
        base_url=url,
        model="kimi-k2",
        headers={"X-Title": "holysheep-tui tests", "HTTP-Referer": "https://example.test"},
        timeouts=Timeouts(connect=2.0, read=read),
        retry=RetryPolicy(max_retries=retries, base_delay=0.01, max_delay=0.02, retry_after_cap=0.05),
    )

    async def fake_sleep(seconds: float) -> None:
        if delays is not None:
            delays.append(seconds)

    return RelayClient(profile, KEY, key_source="HOLYSHEEP_API_KEY", sleep=fake_sleep)


async def collect(client: RelayClient, model: str = "kimi-k2") -> tuple[Answer, list[object]]:
    answer = Answer(model=model)
    events: list[object] = []
    async for ev in client.stream_chat(ChatRequest(model, PROMPT), timings=answer.timings):
        answer.apply(ev)
        events.append(ev)
    return answer, events


async def collect_until_error(client: RelayClient) -> tuple[Answer, Exception]:
    answer = Answer(model="kimi-k2")
    with pytest.raises(Exception) as info:
        async for ev in client.stream_chat(ChatRequest("kimi-k2", PROMPT), timings=answer.timings):
            answer.apply(ev)
    return answer, info.value


OK_STREAM = sse(
    chunk("你好，"),
    chunk("人民币"),
    chunk("结算。", finish="stop"),
    {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}},
)


async def test_streams_chinese_answer_with_usage_and_timings_and_headers() -> None:
    with RawServer([Reply(pieces=OK_STREAM, pause=0.01)]) as srv:
        async with make_client(srv.base_url) as client:
            answer, _ = await collect(client)
    assert answer.content == "你好，人民币结算。"
    assert answer.finish_reason == "stop"
    assert answer.usage is not None and answer.usage.total_tokens == 17
    t = answer.timings
    assert t.ttfb is not None and t.ttft is not None and t.total is not None
    assert t.ttfb <= t.ttft <= t.total
    req = srv.requests[0]
    assert req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["user-agent"].startswith("holysheep-tui/")
    assert req.headers["x-title"] == "holysheep-tui tests"
    assert req.headers["http-referer"] == "https://example.test"
    body = req.json()
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"][0]["content"] == PROMPT[0].content


async def test_multibyte_characters_split_across_network_reads() -> None:
    raw = b"".join(sse(chunk("多字节字符：成本与延迟"), chunk(finish="stop")))
    cut = raw.index("成".encode()) + 1  # inside a 3-byte character
    pieces = [raw[:cut], raw[cut : cut + 1], raw[cut + 1 :]]
    with RawServer([Reply(pieces=pieces, pause=0.05)]) as srv:
        async with make_client(srv.base_url) as client:
            answer, _ = await collect(client)
    assert answer.content == "多字节字符：成本与延迟"


async def test_crlf_no_space_comments_and_sse_fields() -> None:
    body = (
        b": OPENROUTER PROCESSING\r\n\r\n"
        b"event: message\r\nid: 1\r\nretry: 3000\r\n"
        + b"data:" + json.dumps(chunk("延迟"), ensure_ascii=False).encode() + b"\r\n\r\n"
        + b": keep-alive\r\n\r\n"
        + b"data:" + json.dumps(chunk("很低", finish="stop"), ensure_ascii=False).encode() + b"\r\n\r\n"
        + b"data: [DONE]\r\n\r\n"
    )
    with RawServer([Reply(pieces=[body[:37], body[37:90], body[90:]], pause=0.02)]) as srv:
        async with make_client(srv.base_url) as client:
            answer, _ = await collect(client)
    assert answer.content == "延迟很低"


async def test_missing_done_after_finish_is_a_complete_answer() -> None:
    with RawServer([Reply(pieces=sse(chunk("完成"), chunk(finish="stop"), done=False))]) as srv:
        async with make_client(srv.base_url) as client:
            answer, _ = await collect(client)
    assert answer.content == "完成" and answer.finish_reason == "stop"


async def test_stream_cut_without_finish_keeps_partial_and_is_not_retried() -> None:
    with RawServer([Reply(pieces=sse(chunk("一半的"), chunk("回答"), done=False))]) as srv:
        async with make_client(srv.base_url) as client:
            answer, error = await collect_until_error(client)
    assert isinstance(error, StreamCutError)
    assert answer.content == "一半的回答"
    assert len(srv.requests) == 1


async def test_reset_mid_stream_is_stream_cut() -> None:
    with RawServer([Reply(pieces=sse(chunk("连接"), chunk("被重置"), done=False), end="reset", chunked=True)]) as srv:
        async with make_client(srv.base_url) as client:
            answer, error = await collect_until_error(client)
    assert isinstance(error, StreamCutError)
    assert answer.content.startswith("连接")
    assert len(srv.requests) == 1


async def test_error_object_inside_200_stream_keeps_partial() -> None:
    err = {"error": {"message": "上游服务错误 upstream overloaded", "code": 502}}
    with RawServer([Reply(pieces=sse(chunk("部分"), err, done=False))]) as srv:
        async with make_client(srv.base_url) as client:
            answer, error = await collect_until_error(client)
    assert isinstance(error, UpstreamError | ServerError)
    assert "upstream overloaded" in str(error)
    assert answer.content == "部分"


async def test_non_json_chunk_is_protocol_error_naming_the_line() -> None:
    pieces = sse(chunk("好的"), done=False) + [b"data: {not json at all\n\n"]
    with RawServer([Reply(pieces=pieces)]) as srv:
        async with make_client(srv.base_url) as client:
            answer, error = await collect_until_error(client)
    assert isinstance(error, ProtocolError)
    assert "{not json" in str(error)
    assert answer.content == "好的"


async def test_usage_in_choice_and_final_chunk_counted_once_with_cached_tokens() -> None:
    usage = {"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107, "cached_tokens": 40}
    finish = chunk("。", finish="stop")
    finish["choices"][0]["usage"] = usage
    pieces = sse(chunk("月之暗面"), finish, {"choices": [], "usage": usage})
    with RawServer([Reply(pieces=pieces)]) as srv:
        async with make_client(srv.base_url) as client:
            answer, events = await collect(client)
    reports = [e for e in events if type(e).__name__ == "UsageReport"]
    assert len(reports) == 1
    assert answer.usage is not None and answer.usage.cached_tokens == 40


def error_reply(status: int, body: object, headers: dict[str, str] | None = None) -> Reply:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    h = {"Content-Type": "application/json", "Content-Length": str(len(data))}
    h.update(headers or {})
    return Reply(status=status, headers=h, pieces=[data])


async def test_401_names_key_source_and_never_prints_the_key() -> None:
    body = {"error": {"message": f"Incorrect API key provided: {KEY}. 密钥无效", "type": "invalid_request_error"}}
    with RawServer([error_reply(401, body)]) as srv:
        async with make_client(srv.base_url) as client:
            _, error = await collect_until_error(client)
    assert isinstance(error, AuthError)
    text = error.user_text()
    assert "HOLYSHEEP_API_KEY" in text and "密钥无效" in text
    assert KEY not in text and KEY not in repr(error)
    assert len(srv.requests) == 1


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (402, {"error": {"message": "余额不足 Insufficient balance", "code": "insufficient_balance"}}),
        (429, {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}}),
    ],
)
async def test_quota_errors_are_not_rate_limits_and_not_retried(status: int, body: object) -> None:
    with RawServer([error_reply(status, body)]) as srv:
        async with make_client(srv.base_url) as client:
            _, error = await collect_until_error(client)
    assert isinstance(error, QuotaError)
    assert len(srv.requests) == 1


async def test_429_with_retry_after_then_success_is_retried_once() -> None:
    delays: list[float] = []
    limited = error_reply(429, {"error": {"message": "请求过于频繁 rate limit"}}, {"Retry-After": "0.03"})
    with RawServer([limited, Reply(pieces=OK_STREAM)]) as srv:
        async with make_client(srv.base_url, delays=delays) as client:
            answer, events = await collect(client)
    assert answer.content == "你好，人民币结算。"
    assert len(srv.requests) == 2
    retries = [e for e in events if isinstance(e, RetryScheduled)]
    assert len(retries) == 1 and delays == [pytest.approx(0.03)]


async def test_retry_after_is_capped() -> None:
    delays: list[float] = []
    limited = error_reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "3600"})
    with RawServer([limited, Reply(pieces=OK_STREAM)]) as srv:
        async with make_client(srv.base_url, delays=delays) as client:
            await collect(client)
    assert delays == [0.05]


async def test_5xx_retried_up_to_the_limit_then_reported() -> None:
    with RawServer([error_reply(503, {"error": {"message": "服务暂不可用"}})]) as srv:
        async with make_client(srv.base_url, retries=2) as client:
            _, error = await collect_until_error(client)
    assert isinstance(error, ServerError) and error.status == 503
    assert len(srv.requests) == 3


async def test_zero_retries_means_one_attempt() -> None:
    with RawServer([error_reply(500, {"error": {"message": "boom"}})]) as srv:
        async with make_client(srv.base_url, retries=0) as client:
            _, error = await collect_until_error(client)
    assert isinstance(error, ServerError)
    assert len(srv.requests) == 1


async def test_html_error_page_from_proxy_gives_its_title_not_the_html() -> None:
    html = b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr>nginx</body></html>"
    reply = Reply(status=502, headers={"Content-Type": "text/html", "Content-Length": str(len(html))}, pieces=[html])
    with RawServer([reply]) as srv:
        async with make_client(srv.base_url, retries=0) as client:
            _, error = await collect_until_error(client)
    assert isinstance(error, ServerError)
    assert "502 Bad Gateway" in str(error) and "<" not in str(error)


async def test_context_too_long_is_its_own_case() -> None:
    body = {"error": {"message": "This model's maximum context length is 8192 tokens", "code": "context_length_exceeded"}}
    with RawServer([error_reply(400, body)]) as srv:
        async with make_client(srv.base_url) as client:
            _, error = await collect_until_error(client)
    assert isinstance(error, ContextTooLongError)


async def test_404_model_not_found_and_suggestions_from_models() -> None:
    models = {"data": [{"id": "kimi-k2"}, {"id": "moonshot-v1-8k"}, {"id": "deepseek-v3.2"}]}
    body = {"error": {"message": "The model `kimi-k3` does not exist", "code": "model_not_found"}}
    with RawServer([error_reply(404, body), error_reply(200, models)]) as srv:
        async with make_client(srv.base_url) as client:
            with pytest.raises(ModelNotFoundError):
                async for _ in client.stream_chat(ChatRequest("kimi-k3", PROMPT)):
                    pass
            assert await client.suggest_models("kimi-k3") == ["kimi-k2"]


async def test_stall_gives_read_timeout_within_configured_time() -> None:
    with RawServer([Reply(pieces=sse(chunk("开始"), chunk("然后"), done=False), stall_after=1)]) as srv:
        async with make_client(srv.base_url, read=0.5) as client:
            started = time.monotonic()
            answer, error = await collect_until_error(client)
            elapsed = time.monotonic() - started
    assert isinstance(error, ReadTimeoutError)
    assert answer.content == "开始"
    assert elapsed < 10  # hang guard only


async def test_connection_refused_is_a_network_error() -> None:
    with RawServer([Reply()]) as srv:
        url = srv.base_url
    async with make_client(url, retries=1) as client:
        _, error = await collect_until_error(client)
    assert isinstance(error, NetworkError)
    assert "127.0.0.1" in str(error)


async def test_authorization_not_forwarded_to_another_origin_on_redirect() -> None:
    with RawServer([Reply(pieces=OK_STREAM)]) as other:
        redirect = Reply(status=307, headers={"Location": f"{other.base_url}/chat/completions", "Content-Length": "0"})
        with RawServer([redirect]) as srv:
            async with make_client(srv.base_url) as client:
                _, error = await collect_until_error(client)
    assert isinstance(error, ProtocolError)  # a redirect to another origin is not followed at all
    assert srv.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert other.requests == []


async def test_closing_the_stream_closes_the_connection_at_once() -> None:
    pieces = sse(*[chunk(f"第{i}段。") for i in range(400)], done=True)
    with RawServer([Reply(pieces=pieces, pause=0.01)]) as srv:
        async with make_client(srv.base_url) as client:
            gen = client.stream_chat(ChatRequest("kimi-k2", PROMPT))
            async for ev in gen:
                if type(ev).__name__ == "ContentDelta":
                    break
            await gen.aclose()
            for _ in range(100):  # bounded wait for the server to notice
                if srv.disconnects:
                    break
                await asyncio.sleep(0.05)
    assert srv.disconnects == 1


async def test_non_streaming_completion() -> None:
    payload = {
        "model": "deepseek-v3.2",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "非流式回答", "reasoning_content": "想一想"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 4, "prompt_cache_hit_tokens": 3},
    }
    with RawServer([error_reply(200, payload)]) as srv:
        async with make_client(srv.base_url) as client:
            answer = await client.complete(ChatRequest("deepseek-v3.2", PROMPT))
    assert answer.content == "非流式回答" and answer.reasoning == "想一想"
    assert answer.usage is not None and answer.usage.cached_tokens == 3 and answer.usage.total_tokens == 13
    assert srv.requests[0].json()["stream"] is False


def test_retry_after_parses_seconds_and_http_dates() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 27, 8, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now=now) == 7
    assert parse_retry_after("Fri, 27 Nov 2026 08:00:30 GMT", now=now) == 30
    assert parse_retry_after("Fri, 27 Nov 2026 07:00:00 GMT", now=now) == 0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


def test_client_repr_hides_key() -> None:
    client = make_client("http://127.0.0.1:9/v1")
    assert KEY not in repr(client) and KEY not in repr(client._http.auth)
    asyncio.run(client.aclose())


def test_timings_tokens_per_second() -> None:
    t = Timings(ttfb=0.1, ttft=0.5, total=2.5)
    assert t.tokens_per_second(100) == 50
    assert Timings().tokens_per_second(10) is None


async def test_in_stream_error_echoing_the_key_is_scrubbed() -> None:
    err = {"error": {"message": f"无效的令牌 invalid token {KEY}", "code": 401}}
    with RawServer([Reply(pieces=sse(chunk("部分"), err, done=False))]) as srv:
        async with make_client(srv.base_url) as client:
            answer, error = await collect_until_error(client)
    assert isinstance(error, AuthError)
    assert KEY not in str(error) and KEY not in (error.provider_message or "") and KEY not in repr(error)
    assert answer.content == "部分"


async def test_http_proxy_variable_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    with RawServer([Reply(pieces=OK_STREAM)]) as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("NO_PROXY", "")
        async with make_client("http://relay.example.test/v1") as client:
            answer, _ = await collect(client)
    assert answer.content == "你好，人民币结算。"
    assert proxy.requests[0].path == "http://relay.example.test/v1/chat/completions"


async def test_socks_proxy_variable_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    with RawServer([Reply(pieces=OK_STREAM)]) as srv:
        # A SOCKS proxy that does not exist: the request fails as a network error, not a crash on the scheme.
        monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:9")
        monkeypatch.setenv("NO_PROXY", "")
        async with make_client("http://relay.example.test/v1", retries=0) as client:
            _, error = await collect_until_error(client)
    assert isinstance(error, NetworkError)
    assert srv.requests == []


async def test_a_server_lingering_after_done_does_not_hold_the_answer() -> None:
    pieces = sse(chunk("结束后"), chunk("还不关连接", finish="stop"))
    with RawServer([Reply(pieces=[*pieces, b": still here\n\n"], stall_after=len(pieces) + 1)]) as srv:
        async with make_client(srv.base_url, read=30) as client:
            started = time.monotonic()
            answer, _ = await collect(client)
            elapsed = time.monotonic() - started
    assert answer.content == "结束后还不关连接"
    assert elapsed < 10  # far below the 30 s read time-out


# ---- the body is read as what its Content-Type says ------------------------------------------

COMPLETION = {
    "id": "chatcmpl-9",
    "object": "chat.completion",
    "model": "kimi-k2-0905-preview",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "整段回答", "reasoning_content": "先想"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15},
}


async def test_a_json_completion_sent_for_a_stream_gives_the_typed_events_of_that_answer() -> None:
    """A server that ignored ``stream: true``: its one completion, over several reads, is folded."""
    data = json.dumps(COMPLETION, ensure_ascii=False).encode()
    cut = data.index("回".encode()) + 1  # inside a character
    reply = Reply(headers={"Content-Type": "application/json; charset=utf-8"}, pieces=[data[:cut], data[cut:]], pause=0.02)
    with RawServer([reply]) as srv:
        async with make_client(srv.base_url) as client:
            answer, events = await collect(client)
    assert [type(e) for e in events] == [StreamOpened, ResponseModel, ReasoningDelta, ContentDelta, FinishReason, UsageReport]
    assert (answer.content, answer.reasoning, answer.finish_reason) == ("整段回答", "先想", "stop")
    assert answer.usage == Usage(11, 4, 15) and answer.model == "kimi-k2-0905-preview"
    assert answer.timings.ttft is not None and len(srv.requests) == 1


async def test_an_html_page_with_200_is_a_protocol_error_naming_what_arrived() -> None:
    page = f"<html><head><title>校园网认证 {KEY}</title></head><body><h1>请先登录</h1></body></html>".encode()
    reply = Reply(headers={"Content-Type": "text/html; charset=utf-8"}, pieces=[page])
    with RawServer([reply]) as srv:
        async with make_client(srv.base_url) as client:
            answer, error = await collect_until_error(client)
    assert isinstance(error, ProtocolError) and error.status == 200
    text = str(error)
    assert "text/html" in text and "校园网认证" in text and "<" not in text
    assert KEY not in text and KEY not in (error.provider_message or "")
    assert answer.content == "" and len(srv.requests) == 1


@pytest.mark.parametrize(
    "headers",
    [{}, {"Content-Type": "text/plain; charset=utf-8"}, {"Content-Type": "application/octet-stream"}],
    ids=["none", "text-plain", "octet-stream"],
)
async def test_a_stream_without_a_stream_content_type_is_read_as_a_stream(headers: dict[str, str]) -> None:
    with RawServer([Reply(headers=headers, pieces=OK_STREAM)]) as srv:
        async with make_client(srv.base_url) as client:
            answer, _ = await collect(client)
    assert answer.content == "你好，人民币结算。" and answer.finish_reason == "stop"


async def test_complete_reads_a_stream_sent_for_a_completion_and_names_an_html_page() -> None:
    page = b"<html><head><title>Access denied</title></head></html>"
    html = Reply(headers={"Content-Type": "text/html"}, pieces=[page])
    with RawServer([Reply(pieces=OK_STREAM), html]) as srv:
        async with make_client(srv.base_url) as client:
            answer = await client.complete(ChatRequest("kimi-k2", PROMPT))
            with pytest.raises(ProtocolError, match="text/html.*Access denied"):
                await client.complete(ChatRequest("kimi-k2", PROMPT))
    assert answer.content == "你好，人民币结算。"
    assert answer.usage is not None and answer.usage.total_tokens == 17


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"error": {"message": "Incorrect API key", "code": "invalid_api_key"}}, AuthError),
        ({"error": {"message": "余额不足", "code": "insufficient_user_quota"}}, QuotaError),
        ({"error": {"message": "maximum context length is 8192 tokens", "code": "context_length_exceeded"}}, ContextTooLongError),
        ({"error": {"message": "The model `kimi-k3` does not exist", "code": "model_not_found"}}, ModelNotFoundError),
    ],
)
async def test_an_error_object_is_one_error_class_in_a_4xx_body_in_a_stream_and_as_a_200_completion(
    body: dict[str, object], kind: type[RelayError]
) -> None:
    replies = [error_reply(400, body), Reply(pieces=sse(chunk("部分"), body, done=False)), error_reply(200, body)]
    for reply in replies:
        with RawServer([reply]) as srv:
            async with make_client(srv.base_url, retries=0) as client:
                _, error = await collect_until_error(client)
        assert type(error) is kind, reply.status
