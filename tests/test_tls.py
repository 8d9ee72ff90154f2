"""TLS verification stays on; a profile's ca_bundle makes a private CA (a company proxy, a self-hosted relay) trusted."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from holysheep_tui.config import Profile, RetryPolicy
from holysheep_tui.errors import TLSError
from holysheep_tui.relay.client import RelayClient
from holysheep_tui.relay.wire import Answer, ChatMessage, ChatRequest


def _event(delta: dict[str, str], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "kimi-k2", "choices": [choice]}
    return b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"


BODY = _event({"content": "经过 TLS 的回答"}) + _event({}, "stop") + b"data: [DONE]\n\n"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tls_relay(self_signed_cert: tuple[Path, Path]) -> Iterator[tuple[str, Path]]:
    cert, key = self_signed_cert
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/v1", cert
    finally:
        server.shutdown()
        server.server_close()


async def ask(profile: Profile) -> Answer:
    answer = Answer(model="kimi-k2")
    async with RelayClient(profile, "hs-tls-key") as client:
        async for event in client.stream_chat(ChatRequest("kimi-k2", (ChatMessage("user", "你好"),))):
            answer.apply(event)
    return answer


async def test_ca_bundle_trusts_a_private_certificate(tls_relay: tuple[str, Path]) -> None:
    url, cert = tls_relay
    answer = await ask(Profile(base_url=url, ca_bundle=str(cert)))
    assert answer.content == "经过 TLS 的回答"


async def test_without_the_bundle_the_certificate_is_refused(tls_relay: tuple[str, Path]) -> None:
    url, _ = tls_relay
    with pytest.raises(TLSError, match="ca_bundle|CERTIFICATE"):
        await ask(Profile(base_url=url, retry=RetryPolicy(max_retries=0)))
