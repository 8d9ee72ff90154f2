"""Hostile relays and odd bytes (issue 13): each attack replayed over loopback, against a real `holysheep`
subprocess or the client, with the byte-exact server (tests/rawserver.py) or the simulator."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from holysheep_tui.config import Profile, RetryPolicy, Timeouts
from holysheep_tui.errors import RateLimitError
from holysheep_tui.relay.client import RelayClient
from holysheep_tui.relay.rate_limit import RateLimiter
from holysheep_tui.relay.wire import (
    Answer,
    ChatMessage,
    ChatRequest,
    RateLimitWait,
    RetryScheduled,
    StreamEvent,
)
from holysheep_tui.store.models import Message
from tests.rawserver import RawServer, Reply, chunk, gzipped, sse

KEY = "hs-9f8e7d6c5b4a3928170605f4e3d2c1b0"
PROMPT = "用一句话说明人民币结算的好处"
ANSWER = ("人民币结算，", "省去换汇。")
USAGE = {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}


def answer_pieces(*, done: bool = True) -> list[bytes]:
    return sse(chunk(ANSWER[0]), chunk(ANSWER[1], finish="stop"), {"choices": [], "usage": USAGE}, done=done)


def json_reply(status: int, body: object, headers: dict[str, str] | None = None) -> Reply:
    data = json.dumps(body, ensure_ascii=False).encode()
    return Reply(
        status=status,
        headers={"Content-Type": "application/json", "Content-Length": str(len(data)), **(headers or {})},
        pieces=[data],
    )


def ask(
    cli: Any, tmp_path: Path, base_url: str, *args: str, config: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    """`holysheep ask` against ``base_url`` with its own config file and history in ``tmp_path``."""
    path = tmp_path / "config.toml"
    path.write_text(config, encoding="utf-8")
    env = {"HOLYSHEEP_CONFIG": str(path), "HOLYSHEEP_DATA_DIR": str(tmp_path / "数据"), **env}
    return cli("ask", "--base-url", base_url, "-m", "kimi-k2", *args, PROMPT, env=env)


# ---- 8. a finished answer held open -------------------------------------------------------------------


def test_finish_and_usage_then_a_connection_held_open_is_a_complete_answer(
    cli: Any, tmp_path: Path, stored_turn: Callable[[Path], tuple[Message, Message]]
) -> None:
    """The relay sends the finish reason and usage, then neither [DONE] nor the end of the body."""
    pieces = answer_pieces(done=False)
    with RawServer([Reply(pieces=pieces, stall_after=len(pieces))]) as srv:
        proc = ask(cli, tmp_path, srv.base_url, "--timeout", "3")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "".join(ANSWER) + "\n"
    _, answer = stored_turn(tmp_path / "数据" / "history.db")
    assert answer.status == "complete" and answer.content == "".join(ANSWER)
    assert answer.completion_tokens == 6


async def test_a_finish_reason_then_silence_without_usage_is_still_complete() -> None:
    pieces = sse(chunk(ANSWER[0]), chunk(ANSWER[1], finish="stop"), done=False)
    with RawServer([Reply(pieces=pieces, stall_after=len(pieces))]) as srv:
        async with RelayClient(Profile(base_url=srv.base_url, timeouts=Timeouts(read=0.5)), None) as client:
            answer = Answer(model="kimi-k2")
            async for event in client.stream_chat(ChatRequest("kimi-k2", (ChatMessage("user", PROMPT),))):
                answer.apply(event)
    assert answer.content == "".join(ANSWER) and answer.finish_reason == "stop"


# ---- 10. Retry-After past the cap ---------------------------------------------------------------------

HUGE_RETRY_AFTER = ["999999", "Fri, 31 Dec 2100 23:59:59 GMT", "inf", "1e400"]


@pytest.mark.parametrize("retry_after", HUGE_RETRY_AFTER, ids=["999999", "http-date-2100", "inf", "1e400"])
async def test_a_huge_retry_after_waits_the_cap_and_no_longer_for_every_request_of_the_profile(
    retry_after: str,
) -> None:
    """One 429 must not stall the profile's shared rate limiter (a batch's other items) past the cap."""
    now = [0.0]

    async def sleep(seconds: float) -> None:  # time passes only when someone waits
        now[0] += seconds

    limiter = RateLimiter(None, clock=lambda: now[0], sleep=sleep)
    policy = RetryPolicy(max_retries=1, retry_after_cap=2.0)
    limited = json_reply(429, {"error": {"message": "请求过于频繁"}}, {"Retry-After": retry_after})
    request = ChatRequest("kimi-k2", (ChatMessage("user", PROMPT),))
    with RawServer([limited, Reply(pieces=answer_pieces())]) as srv:
        profile = Profile(base_url=srv.base_url, retry=policy)
        events: list[StreamEvent] = []
        async with RelayClient(profile, None, sleep=sleep, limiter=limiter) as first:
            events += [e async for e in first.stream_chat(request)]
        async with RelayClient(profile, None, sleep=sleep, limiter=limiter) as second:  # the next batch item
            events += [e async for e in second.stream_chat(request)]
    retries = [e for e in events if isinstance(e, RetryScheduled)]
    assert [e.delay for e in retries] == [2.0], "the message says the wait that happens"
    assert [e for e in events if isinstance(e, RateLimitWait)] == []
    assert now[0] == 2.0, "nothing waited beyond the cap"
    assert len(srv.requests) == 3


async def test_the_rate_limit_message_says_the_capped_wait_and_what_was_asked() -> None:
    limited = json_reply(
        429, {"error": {"message": "请求过于频繁"}}, {"Retry-After": "Fri, 31 Dec 2100 23:59:59 GMT"}
    )
    with RawServer([limited]) as srv:
        profile = Profile(base_url=srv.base_url, retry=RetryPolicy(max_retries=0, retry_after_cap=2.0))
        async with RelayClient(profile, None) as client:
            with pytest.raises(RateLimitError) as info:
                async for _ in client.stream_chat(ChatRequest("kimi-k2", (ChatMessage("user", PROMPT),))):
                    pass
    assert info.value.retry_after == 2.0
    assert "Retry after 2 s" in info.value.message and "more than a day" in info.value.message


def test_ask_after_a_huge_retry_after_retries_at_the_cap_and_answers(cli: Any, tmp_path: Path) -> None:
    limited = json_reply(429, {"error": {"message": "请求过于频繁"}}, {"Retry-After": "999999"})
    config = "[profiles.holysheep.retry]\nretry_after_cap = 0.5\n"
    with RawServer([limited, Reply(pieces=answer_pieces())]) as srv:
        proc = ask(cli, tmp_path, srv.base_url, config=config)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("retrying in 0.5 s") == 1
    assert proc.stdout == "".join(ANSWER) + "\n"


# ---- 12. the key echoed back, cut short or upper-cased ------------------------------------------------

_FILLER = "请检查令牌是否正确" * 40


def _cut_inside_the_key(kept: int) -> str:
    """An error message that the 300-character limit cuts ``kept`` characters into the key."""
    return _FILLER[: 299 - kept] + KEY + "，已拒绝。"


ECHOES = {
    "401-cut-at-300": json_reply(
        401, {"error": {"message": _cut_inside_the_key(14), "type": "invalid_request_error"}}
    ),
    "401-upper-case": json_reply(
        401, {"error": {"message": f"令牌 {KEY.upper()} 无效", "type": "invalid_request_error"}}
    ),
    "in-stream-cut-at-300": Reply(
        pieces=sse(chunk("部分"), {"error": {"message": _cut_inside_the_key(14), "code": 401}})
    ),
    "in-stream-upper-case": Reply(
        pieces=sse(chunk("部分"), {"error": {"message": f"令牌 {KEY.upper()} 无效", "code": 401}})
    ),
}


@pytest.mark.parametrize("reply", ECHOES.values(), ids=ECHOES.keys())
def test_a_key_echoed_cut_short_or_upper_cased_is_masked(
    reply: Reply, cli: Any, tmp_path: Path, stored_turn: Callable[[Path], tuple[Message, Message]]
) -> None:
    with RawServer([reply]) as srv:
        proc = ask(cli, tmp_path, srv.base_url, "--json", HOLYSHEEP_API_KEY=KEY)
    assert proc.returncode == 3, proc.stderr
    shown = (proc.stdout + proc.stderr).lower()
    assert "****" in shown
    assert KEY[:8].lower() not in shown, "no part of the key that identifies it"
    _, answer = stored_turn(tmp_path / "数据" / "history.db")
    assert answer.error_text and KEY[:8].lower() not in answer.error_text.lower()


# ---- 15. redirects ------------------------------------------------------------------------------------


def test_a_redirect_to_another_origin_is_refused_naming_where_it_went(cli: Any, tmp_path: Path) -> None:
    with RawServer([Reply(pieces=answer_pieces())]) as elsewhere:
        target = f"{elsewhere.base_url}/chat/completions"
        moved = Reply(status=307, headers={"Location": target, "Content-Length": "0"})
        with RawServer([moved]) as srv:
            proc = ask(cli, tmp_path, srv.base_url, HOLYSHEEP_API_KEY=KEY)
    assert proc.returncode == 8, proc.stderr
    assert target in proc.stderr and "not followed" in proc.stderr
    assert elsewhere.requests == [], "neither the conversation nor the key went to the other origin"
    assert len(srv.requests) == 1


async def test_a_redirect_within_the_origin_is_followed_with_the_conversation() -> None:
    with RawServer(
        [
            Reply(status=308, headers={"Location": "/v2/chat/completions", "Content-Length": "0"}),
            Reply(pieces=answer_pieces()),
        ]
    ) as srv:
        async with RelayClient(Profile(base_url=srv.base_url), KEY) as client:
            answer = Answer(model="kimi-k2")
            async for event in client.stream_chat(ChatRequest("kimi-k2", (ChatMessage("user", PROMPT),))):
                answer.apply(event)
    assert answer.content == "".join(ANSWER)
    first, second = srv.requests
    assert second.path == "/v2/chat/completions" and second.body == first.body
    assert second.headers["authorization"] == f"Bearer {KEY}"


# ---- 14. a proxy in the environment -------------------------------------------------------------------


@pytest.mark.parametrize("relay", ["demo", "loopback-key"])
def test_loopback_relays_bypass_a_proxy_from_the_environment(relay: str, cli: Any, tmp_path: Path) -> None:
    captured = Reply(pieces=sse(chunk("代理截获了这段对话", finish="stop")))
    with RawServer([captured]) as proxy, RawServer([Reply(pieces=answer_pieces())]) as srv:
        url = f"http://127.0.0.1:{proxy.port}"
        env = {
            name: url
            for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
        }
        env |= {"NO_PROXY": "", "no_proxy": ""}
        if relay == "demo":
            proc = cli("ask", "--demo", PROMPT, env={"HOLYSHEEP_DATA_DIR": str(tmp_path / "数据"), **env})
        else:
            proc = ask(cli, tmp_path, srv.base_url, HOLYSHEEP_API_KEY=KEY, **env)
    assert proc.returncode == 0, proc.stderr
    assert proxy.requests == [], "nothing went to the proxy"
    assert "代理截获" not in proc.stdout
    if relay == "loopback-key":
        assert proc.stdout == "".join(ANSWER) + "\n"
        assert srv.requests[0].headers["authorization"] == f"Bearer {KEY}"


# ---- 4. compression -----------------------------------------------------------------------------------


def test_a_gzipped_event_stream_is_decoded(cli: Any, tmp_path: Path) -> None:
    """A proxy that gzips the SSE reply, flushing each event."""
    headers = {"Content-Type": "text/event-stream", "Content-Encoding": "gzip"}
    with RawServer(
        [Reply(headers=headers, pieces=gzipped(answer_pieces()), chunked=True, pause=0.01)]
    ) as srv:
        proc = ask(cli, tmp_path, srv.base_url)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "".join(ANSWER) + "\n"
    assert srv.requests[0].headers["accept-encoding"].startswith("gzip")


@pytest.fixture(scope="module")
def bomb() -> list[bytes]:
    """About 1 MB of gzip that inflates to 1 GiB of JSON-looking text, in 64 KiB pieces. Built from one
    compressed MiB repeated (a full flush makes each block stand alone), with a true CRC and size."""
    head = '{"data": [{"id": "模型"}, '.encode()
    block = b" " * (1 << 20)
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = squeeze.compress(head) + squeeze.flush(zlib.Z_FULL_FLUSH)
    middle = squeeze.compress(block) + squeeze.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(head)
    for _ in range(1024):
        crc = zlib.crc32(block, crc)
    trailer = struct.pack("<II", crc, (len(head) + 1024 * len(block)) & 0xFFFFFFFF)
    data = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + first + middle * 1024 + squeeze.flush() + trailer
    return [data[i : i + 65536] for i in range(0, len(data), 65536)]


def _bomb_reply(pieces: list[bytes]) -> Reply:
    size = sum(len(p) for p in pieces)
    return Reply(
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip", "Content-Length": str(size)},
        pieces=pieces,
    )


def _run_measured(cli: Any, *args: str, env: dict[str, str]) -> tuple[int, str, int]:
    """(exit code, stderr, peak resident bytes) of one `holysheep` run."""
    proc = cli.popen(*args, env=env)
    guard = threading.Timer(120, proc.kill)
    guard.start()
    try:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.read()
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        guard.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    proc.stderr.close()
    return proc.returncode, err, usage.ru_maxrss * 1024


BOMB_PATHS = {
    "models": lambda bomb: ([_bomb_reply(bomb)], ["models"]),
    "ask-no-stream": lambda bomb: ([_bomb_reply(bomb)], ["ask", "-m", "kimi-k2", "--no-stream", PROMPT]),
    "404-suggestions": lambda bomb: (
        [json_reply(404, {"error": {"message": "模型不存在", "code": "model_not_found"}}), _bomb_reply(bomb)],
        ["ask", "-m", "kimi-k3", PROMPT],
    ),
}


@pytest.mark.parametrize("path", BOMB_PATHS.values(), ids=BOMB_PATHS.keys())
def test_a_compression_bomb_is_not_inflated_past_the_bound(
    path: Callable[[list[bytes]], tuple[list[Reply], list[str]]], bomb: list[bytes], cli: Any, tmp_path: Path
) -> None:
    """1 MB of gzip that inflates to 1 GiB: reading stops at the bound (it took 2.1 GB of memory)."""
    script, (command, *args) = path(bomb)
    with RawServer(script) as srv:
        code, err, peak = _run_measured(
            cli,
            command,
            "--base-url",
            srv.base_url,
            *args,
            env={"HOLYSHEEP_DATA_DIR": str(tmp_path / "数据")},
        )
    assert peak < 512 * 1024 * 1024, f"peak memory {peak / 2**20:.0f} MiB"
    assert "Traceback" not in err
    if "kimi-k3" in args:
        assert code == 6 and "模型不存在" in err  # the suggestions are best effort
    else:
        assert code == 8 and "larger than 32 MiB" in err, err


# ---- 9. an overall deadline ---------------------------------------------------------------------------


def test_a_relay_sending_only_pings_is_stopped_at_the_overall_limit(
    cli: Any, tmp_path: Path, stored_turn: Callable[[Path], tuple[Message, Message]]
) -> None:
    pings = Reply(pieces=[b": ping\n\n"] * 4000, pause=0.05)  # 200 s of keep-alives
    config = "[profiles.holysheep.timeouts]\ntotal = 1\nread = 5\n"
    with RawServer([pings]) as srv:
        proc = ask(cli, tmp_path, srv.base_url, "--max-retries", "2", config=config)
    assert proc.returncode == 7, proc.stderr
    assert "overall limit of 1 s" in proc.stderr and "timeouts.total" in proc.stderr
    assert len(srv.requests) == 1, "a request past its limit is not retried"
    _, answer = stored_turn(tmp_path / "数据" / "history.db")
    assert answer.status == "error"


# ---- 6. usage in a non-streamed reply -----------------------------------------------------------------


def test_ask_no_stream_reads_input_and_output_tokens_and_costs_the_reply(cli: Any, tmp_path: Path) -> None:
    completion: dict[str, Any] = {
        "id": "resp-1",
        "object": "chat.completion",
        "model": "kimi-k2",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(ANSWER)},
                "finish_reason": "stop",
            }
        ],
        "usage": {"input_tokens": 1200, "output_tokens": 800},
    }
    with RawServer([json_reply(200, completion)]) as srv:
        proc = ask(cli, tmp_path, srv.base_url, "--no-stream", "--json")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["content"] == "".join(ANSWER)
    assert record["usage"]["prompt_tokens"] == 1200 and record["usage"]["completion_tokens"] == 800
    assert record["cost_usd"] > 0 and not record["cost_estimated"]
