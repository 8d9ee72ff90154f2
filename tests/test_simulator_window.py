"""The simulator enforces each model's context window with the provider's 400 body, and the client maps it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from holysheep_tui.chat.context import Windows
from holysheep_tui.config import Profile, RetryPolicy, Timeouts
from holysheep_tui.errors import EXIT_BAD_REQUEST, ContextTooLongError
from holysheep_tui.relay.client import RelayClient
from holysheep_tui.relay.wire import Answer, ChatMessage, ChatRequest
from holysheep_tui.simulator import RelaySimulator

WINDOW = 8192  # moonshot-v1-8k
OVERHEAD = 4  # the simulator's tokens per message beyond its text


@pytest.fixture
async def client(simulator: RelaySimulator) -> AsyncIterator[RelayClient]:
    c = RelayClient(
        Profile(base_url=simulator.base_url, timeouts=Timeouts(read=10), retry=RetryPolicy(max_retries=0)),
        None,
    )
    yield c
    await c.aclose()


def _prompt(tokens: int) -> str:
    return "长" * (tokens - OVERHEAD)  # one token per Han character in the simulator's count


def test_over_the_window_is_the_providers_context_length_body(simulator: RelaySimulator) -> None:
    body = {"model": "moonshot-v1-8k", "messages": [{"role": "user", "content": _prompt(WINDOW + 1)}]}
    reply = httpx.post(f"{simulator.base_url}/chat/completions", json=body, timeout=10)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == "context_length_exceeded" and error["type"] == "invalid_request_error"
    assert error["param"] == "messages"
    assert (
        f"maximum context length is {WINDOW} tokens" in error["message"]
        and str(WINDOW + 1) in error["message"]
    )


@pytest.mark.parametrize(("max_tokens", "prompt_tokens", "fits"), [
    (None, WINDOW, True), (None, WINDOW + 1, False), (100, WINDOW - 100, True), (100, WINDOW - 99, False),
])  # fmt: skip
async def test_the_window_counts_the_prompt_and_max_tokens_to_the_token(
    client: RelayClient, max_tokens: int | None, prompt_tokens: int, fits: bool
) -> None:
    request = ChatRequest(
        "moonshot-v1-8k", (ChatMessage("user", _prompt(prompt_tokens)),), max_tokens=max_tokens
    )
    answer = Answer(model="moonshot-v1-8k")
    try:
        async for event in client.stream_chat(request, timings=answer.timings):
            answer.apply(event)
    except ContextTooLongError as exc:
        assert not fits
        assert exc.status == 400 and exc.exit_code == EXIT_BAD_REQUEST
        assert "context window" in exc.user_text() and str(WINDOW) in (exc.provider_message or "")
    else:
        assert fits and answer.content
        assert answer.usage is not None and answer.usage.prompt_tokens == prompt_tokens


async def test_windows_come_from_the_model_list_and_the_config_wins(client: RelayClient) -> None:
    windows = Windows(overrides={"moonshot-v1-32k": 30000}, listed=await client.list_models())
    assert windows.window("moonshot-v1-8k") == WINDOW
    assert windows.window("kimi-k2") == 131072  # what the relay lists, over the price data
    assert windows.window("moonshot-v1-32k") == 30000
    assert windows.window("本地模型-unknown") is None
