"""The relay simulator over real loopback sockets: SSE bytes, usage, keep-alive, faults, the CLI."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from holysheep_tui.simulator import MODELS, Pacing, RelaySimulator, count_tokens, mixed_markdown, split_tokens

PROMPT = "请用表格比较各个模型的成本，并说明人民币结算的好处"


@pytest.fixture
def sim(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    """Full speed: no first-token delay, small events coalesced into 16 KiB chunks."""
    return make_simulator(pacing=Pacing(first_token_delay=0, tokens_per_second=None))


def body(model: str, *, stream: bool = True, prompt: str = PROMPT, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "stream": stream,
    }
    if stream:
        out["stream_options"] = {"include_usage": True}
    out.update(extra)
    return out


def data_lines(raw: bytes) -> list[str]:
    """The payload of every ``data:`` line of an LF-framed SSE body."""
    text = raw.decode()
    return [line[len("data: ") :] for line in text.split("\n") if line.startswith("data: ")]


def chunks(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(d) for d in data_lines(raw) if d != "[DONE]"]


def stream_raw(sim: RelaySimulator, payload: dict[str, Any], **headers: str) -> bytes:
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", f"{sim.base_url}/chat/completions", json=payload, headers=headers) as r,
    ):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        return b"".join(r.iter_raw())


def content_of(events: list[dict[str, Any]], field: str = "content", index: int = 0) -> str:
    return "".join(
        c["delta"].get(field) or ""
        for e in events
        for c in e.get("choices", [])
        if c["index"] == index and "delta" in c
    )


def raw_http(
    sim: RelaySimulator, payload: dict[str, Any], *, close: bool = True
) -> tuple[bytes, BaseException | None]:
    """POST over a plain socket; read until EOF or an error. Returns (bytes, the error if any)."""
    port = int(sim.base_url.rsplit(":", 1)[1].split("/")[0])
    data = json.dumps(payload).encode()
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: {'close' if close else 'keep-alive'}\r\n\r\n"
    ).encode() + data
    got = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        for _ in range(100_000):
            try:
                piece = conn.recv(65536)
            except OSError as exc:
                return bytes(got), exc
            if not piece:
                break
            got += piece
    return bytes(got), None


def http_chunks(raw: bytes) -> tuple[list[bytes], bool]:
    """Decode a chunked body: (chunk payloads, whether the terminating 0-chunk arrived)."""
    rest = raw.split(b"\r\n\r\n", 1)[1]
    out: list[bytes] = []
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return out, True
        out.append(rest[:size])
        rest = rest[size + 2 :]
    return out, False


# ---- shapes and accounting -------------------------------------------------------------------


def test_models_lists_every_relay_model_with_owner_and_context_window(sim: RelaySimulator) -> None:
    r = httpx.get(f"{sim.base_url}/models")
    listing = r.json()
    assert r.status_code == 200 and listing["object"] == "list"
    by_id = {m["id"]: m for m in listing["data"]}
    assert set(by_id) >= {"kimi-k2", "moonshot-v1-8k", "moonshot-v1-32k", "deepseek-v3.2", "gpt-4.1",
                          "claude-sonnet-4.5", "gemini-2.5-flash", "deepseek-reasoner"}  # fmt: skip
    assert by_id["moonshot-v1-8k"]["context_window"] == 8192
    assert by_id["gpt-4.1"]["owned_by"] == "openai"


@pytest.mark.parametrize("model", ["gpt-4.1", "kimi-k2", "deepseek-v3.2", "claude-sonnet-4.5"])
def test_stream_is_openai_chunks_with_usage_equal_to_what_was_streamed(
    sim: RelaySimulator, model: str
) -> None:
    raw = stream_raw(sim, body(model))
    assert data_lines(raw)[-1] == "[DONE]"
    events = chunks(raw)
    assert {e["object"] for e in events} == {"chat.completion.chunk"}
    assert len({e["id"] for e in events}) == 1 and {e["model"] for e in events} == {model}
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    content = content_of(events)
    assert "人民币" in content and "|" in content and "```" in content
    if model.startswith("kimi"):  # Moonshot: usage inside choices[0] of the finish chunk, no extra chunk
        finish = events[-1]["choices"][0]
        assert finish["finish_reason"] == "stop"
        usage = finish["usage"]
    else:  # OpenAI: a final chunk with empty choices after the finish chunk
        assert events[-1]["choices"] == [] and events[-2]["choices"][0]["finish_reason"] == "stop"
        usage = events[-1]["usage"]
    assert usage["completion_tokens"] == count_tokens(content)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    if model.startswith("deepseek"):
        assert "prompt_cache_hit_tokens" in usage
    else:
        assert "cached_tokens" in usage["prompt_tokens_details"]
    assert sim.wait_for_finished(1)[0].completed


def test_without_include_usage_openai_models_send_no_usage(sim: RelaySimulator) -> None:
    events = chunks(stream_raw(sim, body("gpt-4.1", stream_options={"include_usage": False})))
    assert all("usage" not in e for e in events)


def test_thinking_model_streams_reasoning_before_content(sim: RelaySimulator) -> None:
    events = chunks(stream_raw(sim, body("deepseek-reasoner")))
    kinds = [
        k for e in events for c in e["choices"] for k in c["delta"] if k in ("reasoning_content", "content")
    ]
    first_content = kinds.index("content", 1)  # index 0 is the role chunk's empty content
    assert "reasoning_content" in kinds[:first_content]
    assert "reasoning_content" not in kinds[first_content:]
    usage = events[-1]["usage"]
    reasoning = content_of(events, "reasoning_content")
    assert usage["completion_tokens_details"]["reasoning_tokens"] == count_tokens(reasoning)
    assert usage["completion_tokens"] == count_tokens(reasoning) + count_tokens(content_of(events))


def test_same_prompt_gives_the_same_chinese_answer_naming_the_model(sim: RelaySimulator) -> None:
    answers = [
        httpx.post(f"{sim.base_url}/chat/completions", json=body("kimi-k2", stream=False)).json()
        for _ in range(2)
    ]
    assert answers[0]["choices"] == answers[1]["choices"]
    assert answers[0]["object"] == "chat.completion"
    text = answers[0]["choices"][0]["message"]["content"]
    assert "kimi-k2" in text and "请用表格比较各个模型的成本" in text
    han = sum("\u4e00" <= ch <= "\u9fff" for ch in text)
    assert han > 2 * len(re.findall("[A-Za-z]+", text))  # mostly Chinese


def test_max_tokens_cuts_the_answer_with_finish_reason_length(sim: RelaySimulator) -> None:
    events = chunks(stream_raw(sim, body("gpt-4.1", max_tokens=7)))
    assert count_tokens(content_of(events)) == 7
    assert events[-2]["choices"][0]["finish_reason"] == "length"
    assert events[-1]["usage"]["completion_tokens"] == 7


def test_len_gives_an_answer_of_exactly_that_many_tokens(sim: RelaySimulator) -> None:
    events = chunks(stream_raw(sim, body("kimi-k2+len=321")))
    assert count_tokens(content_of(events)) == 321
    assert events[-1]["choices"][0]["usage"]["completion_tokens"] == 321


@pytest.mark.parametrize("tokens", [1, 9, 2000, 8000])
def test_mixed_markdown_has_exactly_the_requested_tokens(tokens: int) -> None:
    text = mixed_markdown(tokens, seed=3)
    assert count_tokens(text) == tokens and "".join(split_tokens(text)) == text


def test_mixed_markdown_is_rich_and_bilingual() -> None:
    text = mixed_markdown(3000, seed=1)
    for mark in ("\n## ", "\n- ", "\n1. ", "| --", "\n> ", "```python", "```sql", "](http", "人民币"):
        assert mark in text.replace("|---", "| --"), mark


def test_tokens_split_cjk_per_character() -> None:
    assert split_tokens("你好，world!") == ["你", "好", "，", "world", "!"]


# ---- request errors --------------------------------------------------------------------------


def test_malformed_json_and_missing_messages_get_openai_shaped_400(sim: RelaySimulator) -> None:
    url = f"{sim.base_url}/chat/completions"
    bad = httpx.post(
        url, content=b'{"model": "kimi-k2", "messages": [', headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
    missing = httpx.post(url, json={"model": "kimi-k2"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "messages"


def test_unknown_model_is_404_model_not_found(sim: RelaySimulator) -> None:
    r = httpx.post(f"{sim.base_url}/chat/completions", json=body("kimi-k3"))
    assert r.status_code == 404
    assert r.json()["error"] == {"message": "The model `kimi-k3` does not exist", "type": "invalid_request_error",
                                 "param": None, "code": "model_not_found"}  # fmt: skip


def test_unknown_scenario_is_a_400_naming_it(sim: RelaySimulator) -> None:
    r = httpx.post(f"{sim.base_url}/chat/completions", json=body("kimi-k2+爆炸"))
    assert r.status_code == 400 and "爆炸" in r.json()["error"]["message"]


def test_prompt_longer_than_the_context_window_is_context_length_exceeded(sim: RelaySimulator) -> None:
    r = httpx.post(f"{sim.base_url}/chat/completions", json=body("moonshot-v1-8k", prompt="长" * 9000))
    assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded"


def test_require_key_answers_401_without_echoing_the_key(
    make_simulator: Callable[..., RelaySimulator],
) -> None:
    secret = "sk-hs-0123456789abcdef"  # keys are ASCII; the prompt carries the Chinese
    sim = make_simulator(require_key=secret, pacing=Pacing())
    url = f"{sim.base_url}/chat/completions"
    missing = httpx.post(url, json=body("kimi-k2", stream=False))
    wrong = httpx.post(url, json=body("kimi-k2", stream=False), headers={"Authorization": "Bearer sk-wrong"})
    models = httpx.get(f"{sim.base_url}/models")
    ok = httpx.post(url, json=body("kimi-k2", stream=False), headers={"Authorization": f"Bearer {secret}"})
    assert missing.status_code == wrong.status_code == models.status_code == 401
    for r in (missing, wrong, models):
        assert r.json()["error"]["code"] == "invalid_api_key"
        assert "sk-" not in r.text
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("scenario", "status", "code"),
    [
        ("401", 401, "invalid_api_key"),
        ("402", 402, "insufficient_balance"),
        ("403", 403, "permission_denied"),
        ("404", 404, "model_not_found"),
        ("408", 408, "request_timeout"),
        ("413", 413, "request_too_large"),
        ("429ra0", 429, "rate_limit_exceeded"),
        ("quota", 429, "insufficient_quota"),
        ("500", 500, "internal_error"),
        ("503", 503, "service_unavailable"),
        ("504", 504, "gateway_timeout"),
        ("400ctx", 400, "context_length_exceeded"),
    ],
)
def test_status_scenarios_answer_openai_shaped_errors(
    sim: RelaySimulator, scenario: str, status: int, code: str
) -> None:
    r = httpx.post(f"{sim.base_url}/chat/completions", json=body(f"kimi-k2+{scenario}"))
    assert r.status_code == status and r.json()["error"]["code"] == code
    assert "retry-after" not in r.headers


def test_429_carries_retry_after_and_402_says_balance_in_chinese(sim: RelaySimulator) -> None:
    url = f"{sim.base_url}/chat/completions"
    limited = httpx.post(url, json=body("gpt-4.1+429"))
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    broke = httpx.post(url, json=body("gpt-4.1+402"))
    assert broke.json()["error"]["message"] == "Insufficient balance / 余额不足"


def test_502_is_an_nginx_html_page(sim: RelaySimulator) -> None:
    r = httpx.post(f"{sim.base_url}/chat/completions", json=body("kimi-k2+502"))
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html")
    assert "<center>nginx</center>" in r.text


def test_status_x_k_fails_only_the_first_k_attempts_counted_per_model_string(sim: RelaySimulator) -> None:
    url = f"{sim.base_url}/chat/completions"
    with httpx.Client() as client:
        statuses = [client.post(url, json=body("kimi-k2+503x2", stream=False)).status_code for _ in range(3)]
        other = client.post(url, json=body("gpt-4.1+503x2", stream=False)).status_code
    assert statuses == [503, 503, 200] and other == 503
    assert sim.attempts("kimi-k2+503x2") == 3 and sim.attempts("gpt-4.1+503x2") == 1


def test_scenario_header_works_like_the_model_suffix(sim: RelaySimulator) -> None:
    r = httpx.post(
        f"{sim.base_url}/chat/completions", json=body("kimi-k2"), headers={"X-Sim-Scenario": "quota"}
    )
    assert r.status_code == 429 and r.json()["error"]["code"] == "insufficient_quota"


# ---- connections ---------------------------------------------------------------------------------


def test_keep_alive_serves_a_stream_and_a_second_request_on_one_connection(sim: RelaySimulator) -> None:
    with httpx.Client() as client:
        with client.stream("POST", f"{sim.base_url}/chat/completions", json=body("kimi-k2")) as r:
            r.read()
        client.get(f"{sim.base_url}/models")
    first, second = sim.wait_for_finished(2)
    assert first.peer == second.peer
    assert first.completed and second.completed


def test_client_closing_mid_stream_is_recorded_as_a_disconnect(
    make_simulator: Callable[..., RelaySimulator],
) -> None:
    sim = make_simulator(pacing=Pacing(0, 50.0, 1))
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", f"{sim.base_url}/chat/completions", json=body("kimi-k2+len=2000")) as r,
    ):
        for _ in zip(range(3), r.iter_lines(), strict=False):
            pass
    rec = sim.wait_for_finished(1, timeout=30)[0]
    assert rec.client_disconnected and not rec.completed
    assert 0 < rec.tokens_sent < 2000


def test_stop_ends_a_paced_stream_and_the_client_is_not_left_hanging() -> None:
    sim = RelaySimulator(pacing=Pacing(0, 5.0, 1)).start()
    started = threading.Event()
    outcome: list[BaseException | None] = []

    def consume() -> None:
        try:
            with (
                httpx.Client(timeout=30) as client,
                client.stream("POST", f"{sim.base_url}/chat/completions", json=body("kimi-k2+len=500")) as r,
            ):
                for _ in r.iter_raw():
                    started.set()
            outcome.append(None)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=consume)
    worker.start()
    assert started.wait(10)
    sim.stop()
    worker.join(30)
    assert outcome and isinstance(outcome[0], httpx.TransportError)
    assert sim.requests[0].client_disconnected is False


# ---- faults at the byte level -------------------------------------------------------------------


def test_cut_closes_the_socket_without_terminating_chunk_or_done(sim: RelaySimulator) -> None:
    raw, error = raw_http(sim, body("kimi-k2+cut"), close=False)
    payloads, terminated = http_chunks(raw)
    assert error is None and not terminated
    text = b"".join(payloads)
    assert b'"content"' in text and b"[DONE]" not in text and b'finish_reason":"stop' not in text


def test_reset_sends_a_tcp_rst_mid_stream(sim: RelaySimulator) -> None:
    _, error = raw_http(sim, body("kimi-k2+reset,len=200"), close=False)
    assert isinstance(error, ConnectionResetError)


def test_stall_goes_silent_after_some_content(sim: RelaySimulator) -> None:
    seen: list[str] = []
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=1.0)) as client,
        client.stream("POST", f"{sim.base_url}/chat/completions", json=body("kimi-k2+stall")) as r,
        pytest.raises(httpx.ReadTimeout),
    ):
        for line in r.iter_lines():
            seen.append(line)
    assert any('"content"' in line for line in seen) and "data: [DONE]" not in seen


def test_nodone_finishes_cleanly_without_done(sim: RelaySimulator) -> None:
    raw, _ = raw_http(sim, body("gpt-4.1+nodone"))
    payloads, terminated = http_chunks(raw)
    text = b"".join(payloads)
    assert terminated and b'"finish_reason":"stop"' in text and b"[DONE]" not in text


def test_malformed_puts_one_non_json_data_line_mid_stream(sim: RelaySimulator) -> None:
    lines = [d for d in data_lines(stream_raw(sim, body("kimi-k2+malformed"))) if d != "[DONE]"]
    broken = []
    for line in lines:
        try:
            json.loads(line)
        except ValueError:
            broken.append(line)
    assert len(broken) == 1 and 0 < lines.index(broken[0]) < len(lines) - 1


def test_inerror_sends_an_error_object_after_content(sim: RelaySimulator) -> None:
    events = chunks(stream_raw(sim, body("kimi-k2+inerror")))
    assert content_of(events) and "error" in events[-1]
    assert "上游" in events[-1]["error"]["message"]


def test_splitutf8_splits_a_character_across_http_chunks(sim: RelaySimulator) -> None:
    raw, _ = raw_http(sim, body("kimi-k2+splitutf8,len=30"))
    payloads, terminated = http_chunks(raw)
    assert terminated
    undecodable = 0
    for payload in payloads:
        try:
            payload.decode()
        except UnicodeDecodeError:
            undecodable += 1
    assert undecodable > 0
    assert count_tokens(content_of(chunks(b"".join(payloads)))) == 30


def test_badutf8_puts_invalid_bytes_inside_a_content_string(sim: RelaySimulator) -> None:
    raw, _ = raw_http(sim, body("kimi-k2+badutf8"))
    text = b"".join(http_chunks(raw)[0])
    line = next(li for li in text.split(b"\n") if b"\xff\xfe" in li)
    assert line.startswith(b"data: {") and b'"content":"' in line


def test_crlf_nospace_and_comments_change_the_framing(sim: RelaySimulator) -> None:
    raw = stream_raw(sim, body("kimi-k2+crlf,nospace,comments,len=20"))
    assert b"\r\n\r\n" in raw and b"\n\n" not in raw.replace(b"\r\n", b"")
    text = raw.decode()
    assert "data:{" in text and "data: " not in text
    assert ": keep-alive" in text and ": OPENROUTER PROCESSING" in text
    assert "retry: 3000" in text and "id: 1\r\nevent: message\r\n" in text


def test_tiny_sends_one_character_per_chunk(sim: RelaySimulator) -> None:
    events = chunks(stream_raw(sim, body("kimi-k2+tiny,len=40")))
    pieces = [c["delta"]["content"] for e in events for c in e["choices"] if c["delta"].get("content")]
    assert all(len(p) == 1 for p in pieces) and count_tokens("".join(pieces)) == 40


def test_bigchunk_sends_one_megabyte_delta(sim: RelaySimulator) -> None:
    events = chunks(stream_raw(sim, body("kimi-k2+bigchunk")))
    sizes = [len(c["delta"].get("content") or "") for e in events for c in e["choices"]]
    assert max(sizes) >= 1_000_000 // 3
    big = max(len((c["delta"].get("content") or "").encode()) for e in events for c in e["choices"])
    assert big >= 1_000_000


def test_n2_interleaves_two_choices_and_tools_stream_tool_call_deltas(sim: RelaySimulator) -> None:
    events = chunks(stream_raw(sim, body("gpt-4.1+n2,len=12")))
    indexes = [e["choices"][0]["index"] for e in events if e["choices"]]
    assert indexes[:4] == [0, 1, 0, 1]
    assert content_of(events, index=0) != content_of(events, index=1)
    assert events[-1]["usage"]["completion_tokens"] == 24
    tools = chunks(stream_raw(sim, body("gpt-4.1+tools")))
    calls = [c["delta"]["tool_calls"][0] for e in tools for c in e["choices"] if "tool_calls" in c["delta"]]
    assert calls[0]["function"]["name"] == "get_weather"
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {
        "city": "上海",
        "unit": "celsius",
    }
    assert tools[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_reasoningdup_carries_both_fields_and_emptyfirst_opens_with_empty_choices(
    sim: RelaySimulator,
) -> None:
    events = chunks(stream_raw(sim, body("kimi-k2+reasoningdup,emptyfirst")))
    assert events[0]["choices"] == [] and "usage" not in events[0]
    both = [c["delta"] for e in events for c in e["choices"] if "reasoning" in c["delta"]]
    assert both and all(d["reasoning"] == d["reasoning_content"] for d in both)


# ---- the CLI and hygiene ---------------------------------------------------------------------------


def test_simulate_command_prints_a_working_url_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "holysheep_tui", "simulate", "--port", "0", "--tps", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "no URL printed"
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        answer = httpx.post(f"{url}/chat/completions", json=body("kimi-k2", stream=False), timeout=10)
        assert "kimi-k2" in answer.json()["choices"][0]["message"]["content"]
        assert httpx.get(f"{url}/models", timeout=10).status_code == 200
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0 and "Traceback" not in err


def test_simulate_refuses_a_non_loopback_host() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "holysheep_tui", "simulate", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "--allow-remote" in result.stderr and "Traceback" not in result.stderr


def test_simulator_imports_neither_textual_nor_httpx() -> None:
    code = "import sys, holysheep_tui.simulator; print(sorted(m for m in ('textual', 'httpx') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=os.environ
    )
    assert out.stdout.strip() == "[]"


def test_every_model_answers(sim: RelaySimulator) -> None:
    with httpx.Client() as client:
        for model in MODELS:
            r = client.post(f"{sim.base_url}/chat/completions", json=body(model, stream=False, prompt="你好"))
            assert r.json()["model"] == model and r.json()["choices"][0]["message"]["content"]


def test_error_body_variants_for_robust_extraction(sim: RelaySimulator) -> None:
    url = f"{sim.base_url}/chat/completions"
    array = httpx.post(url, json=body("gemini-2.5-flash+errarray"))
    assert array.status_code == 400 and array.json()[0]["error"]["code"] == 400
    raw = httpx.post(url, json=body("kimi-k2+errraw"))
    inner = json.loads(raw.json()["error"]["metadata"]["raw"])
    assert raw.status_code == 502 and "上游过载" in inner["error"]["message"]
    text = httpx.post(url, json=body("kimi-k2+errtext"))
    assert text.status_code == 500 and text.headers["content-type"].startswith("text/plain")


def test_models_endpoint_takes_a_status_scenario_from_the_header(sim: RelaySimulator) -> None:
    with httpx.Client() as client:
        first = client.get(f"{sim.base_url}/models", headers={"X-Sim-Scenario": "500x1"})
        second = client.get(f"{sim.base_url}/models", headers={"X-Sim-Scenario": "500x1"})
    assert (first.status_code, second.status_code) == (500, 200)


def test_event_error_ascii_refusal_and_usage_in_both_places(sim: RelaySimulator) -> None:
    raw = stream_raw(sim, body("kimi-k2+eventerror"))
    assert b'event: error\ndata: {"error"' in raw and b"[DONE]" not in raw
    escaped = stream_raw(sim, body("kimi-k2+ascii"))
    assert b"\\u" in escaped and all(b < 0x80 for b in escaped)
    refusal = chunks(stream_raw(sim, body("gpt-4.1+refusal")))
    assert "抱歉" in content_of(refusal, "refusal") and content_of(refusal) == ""
    both = chunks(stream_raw(sim, body("gpt-4.1+usageboth")))
    assert both[-2]["choices"][0]["usage"] == both[-1]["usage"]


def test_earlier_turns_count_as_cached_prompt_tokens(sim: RelaySimulator) -> None:
    turns = [
        {"role": "system", "content": "你是一个简洁的助手。"},
        {"role": "user", "content": "你好"},
        {"role": "assistant", "content": "你好！有什么可以帮你？"},
        {"role": "user", "content": "人民币结算怎么算？"},
    ]
    usage = httpx.post(
        f"{sim.base_url}/chat/completions", json={"model": "deepseek-v3.2", "messages": turns}
    ).json()["usage"]
    assert 0 < usage["prompt_cache_hit_tokens"] < usage["prompt_tokens"]
    assert usage["prompt_cache_hit_tokens"] + usage["prompt_cache_miss_tokens"] == usage["prompt_tokens"]


def test_non_stream_cut_sends_half_a_body_then_closes(sim: RelaySimulator) -> None:
    raw, error = raw_http(sim, body("kimi-k2+cut", stream=False), close=False)
    head, _, rest = raw.partition(b"\r\n\r\n")
    length = int(
        next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1]
    )
    assert error is None and 0 < len(rest) < length


def test_hang_holds_back_even_the_headers(sim: RelaySimulator) -> None:
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=0.3)) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.post(f"{sim.base_url}/chat/completions", json=body("kimi-k2+hang,stall=30"))
    assert sim.wait_for_finished(1)[0].client_disconnected


def test_the_record_says_when_each_token_left_the_server(
    make_simulator: Callable[..., RelaySimulator],
) -> None:
    """``sent`` logs (time, tokens so far) per socket write: paced writes spread out, the last one has them all."""
    paced = make_simulator(pacing=Pacing(first_token_delay=0, tokens_per_second=200, chunk_tokens=3))
    stream_raw(paced, body("kimi-k2+len=60"))
    rec = paced.wait_for_finished(1)[0]
    times = [t for t, _ in rec.sent]
    counts = [n for _, n in rec.sent]
    assert counts == sorted(counts) and times == sorted(times)
    assert counts[-1] == rec.tokens_sent == 60
    assert rec.started <= times[0]
    first_answer = next(t for t, n in rec.sent if n > 0)
    last_answer = next(t for t, n in rec.sent if n == 60)
    assert last_answer - first_answer > 0.2  # 60 tokens at 200 tok/s: about 0.3 s between first and last
