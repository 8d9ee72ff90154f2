"""The simulator's HTTP side: the threading server, the request handler and the chunked writer.

Streams are chunked transfer encoding written by hand, one HTTP chunk per SSE event when paced
(coalesced up to 16 KiB at full speed), so clients exercise keep-alive pools and byte-level parsing.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import struct
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from holysheep_tui.simulator.content import (
    MODELS,
    completion_body,
    plan_answer,
    prompt_text,
    prompt_usage,
    usage_body,
)
from holysheep_tui.simulator.images import (
    IMAGE_TOKENS,
    image_counts,
    last_user_images,
    no_vision_error,
    receipt,
)
from holysheep_tui.simulator.request_log import RecordedRequest
from holysheep_tui.simulator.scenarios import (
    SCENARIO_HEADER,
    ErrorReply,
    Hangup,
    Pacing,
    Pause,
    ScenarioError,
    Send,
    Step,
    context_error,
    error_reply,
    hostile_usage,
    model_not_found,
    model_object,
    parse_scenario,
    read_chat,
    status_reply,
    stream_steps,
)

if TYPE_CHECKING:
    from holysheep_tui.simulator.server import RelaySimulator

MAX_BODY = 32 * 1024 * 1024
BALANCE_PATH = "/user/balance"
"""DeepSeek's balance path (on the host, not under /v1)."""
COALESCE_BYTES = 16 * 1024


class _ClientGone(Exception):
    pass


class _Stopped(Exception):
    pass


class RelayServer(ThreadingHTTPServer):
    """One thread per connection; keeps the open sockets so ``close_all`` can end keep-alive ones."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sim: RelaySimulator) -> None:
        self.sim = sim
        self.conns: set[socket.socket] = set()
        self.conns_lock = threading.Lock()
        super().__init__(address, RelayHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.conns_lock:
            self.conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.conns_lock:
            self.conns.discard(request)
        super().shutdown_request(request)

    def close_all(self) -> None:
        with self.conns_lock:
            conns = list(self.conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client hanging up is not our failure
            self.sim.log.note_error(traceback.format_exc())


class ChunkWriter:
    """Writes HTTP chunks; coalesces small ones when streaming at full speed."""

    def __init__(self, handler: RelayHandler, rec: RecordedRequest, *, coalesce: bool) -> None:
        self.handler = handler
        self.rec = rec
        self.coalesce = coalesce
        self.buf: list[bytes] = []
        self.size = self.events = self.tokens = 0

    def send(self, step: Send) -> None:
        if step.alone or not self.coalesce:
            self.flush()
            self._write(step.data, step.events, step.tokens)
            return
        self.buf.append(step.data)
        self.size += len(step.data)
        self.events += step.events
        self.tokens += step.tokens
        if self.size >= COALESCE_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            data, events, tokens = b"".join(self.buf), self.events, self.tokens
            self.buf, self.size, self.events, self.tokens = [], 0, 0, 0
            self._write(data, events, tokens)

    def end(self) -> None:
        self.flush()
        self.handler._write(b"0\r\n\r\n")

    def _write(self, data: bytes, events: int, tokens: int) -> None:
        if data:
            self.handler._write(b"%x\r\n%s\r\n" % (len(data), data))
        self.handler.server.sim.log.count(self.rec, events, tokens)


class RelayHandler(BaseHTTPRequestHandler):
    """Answers ``/v1/models`` and ``/v1/chat/completions`` as the model suffix and scenario header say."""

    protocol_version = "HTTP/1.1"
    server_version = "holysheep-simulator"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 300.0  # idle keep-alive connections
    server: RelayServer
    rec: RecordedRequest

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    do_PUT = do_DELETE = do_PATCH = do_GET

    # ---- plumbing ----

    @property
    def sim(self) -> RelaySimulator:
        return self.server.sim

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
        except OSError as exc:  # broken pipe, reset, time-out: the client is gone
            raise _ClientGone from exc

    def _read_body(self) -> bytes | None:
        """The request body; None when it is chunked or too large (the connection then closes)."""
        length = int(self.headers.get("content-length") or 0)
        if "chunked" in self.headers.get("transfer-encoding", "").lower() or length > MAX_BODY:
            return None
        return self.rfile.read(length)

    def _dispatch(self) -> None:
        try:
            raw = self._read_body()
        except ValueError:
            raw = None
        body: Any = None
        parsed = False
        if raw:
            try:
                body, parsed = json.loads(raw), True
            except ValueError:
                pass
        headers = {k.lower(): v for k, v in self.headers.items()}
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        rec = RecordedRequest(self.command, self.path, headers, body, time.monotonic(), peer)
        self.sim.log.record(rec)
        self.rec = rec
        try:
            if raw is None:
                self.close_connection = True
                message = "Send the body with a Content-Length of at most 32 MiB"
                self._reply(error_reply(413, message, "invalid_request_error", "request_too_large"))
            else:
                self._route(body, parsed)
        except (_ClientGone, OSError):
            self.close_connection = True
            if not self.sim.stopping.is_set():
                self.sim.log.update(rec, client_disconnected=True)
        except _Stopped:
            self.close_connection = True
        finally:
            self.sim.log.update(rec, finished=True)

    def _reply(self, reply: ErrorReply) -> None:
        self._send(reply.status, reply.body, reply.content_type, reply.headers)

    def _send_json(self, status: int, obj: object) -> None:
        self._send(status, json.dumps(obj, ensure_ascii=False).encode(), "application/json", ())

    def _send(self, status: int, body: bytes, ctype: str, extra: tuple[tuple[str, str], ...]) -> None:
        self.sim.log.update(self.rec, status=status)
        self.send_response(status)
        self.send_header("Content-Type", ctype if "charset" in ctype else f"{ctype}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self._write(body)
        self.sim.log.update(self.rec, completed=True)

    def _idle(self, seconds: float) -> None:
        """Sleep, noticing stop() and a client that hangs up meanwhile."""
        deadline = time.monotonic() + seconds
        peek = True
        while (left := deadline - time.monotonic()) > 0:
            if self.sim.stopping.is_set():
                raise _Stopped
            wait = min(left, 0.05)
            if not peek:
                self.sim.stopping.wait(wait)
                continue
            readable, _, _ = select.select([self.connection], [], [], wait)
            if readable:
                try:
                    data = self.connection.recv(1, socket.MSG_PEEK)
                except OSError as exc:
                    raise _ClientGone from exc
                if not data:
                    raise _ClientGone
                peek = False  # the client sent more: nothing left to learn by peeking
        if self.sim.stopping.is_set():
            raise _Stopped

    def _hangup(self, reset: bool) -> None:
        self.close_connection = True
        if reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(OSError):
                self.rfile.close()
                self.connection.close()

    # ---- routes ----

    def _route(self, body: Any, parsed: bool) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        known = path == "/v1/models" or path.startswith("/v1/models/") or path == "/v1/chat/completions"
        known = known or (path == BALANCE_PATH and self.sim.balance is not None)
        if not known:
            self._reply(
                error_reply(404, f"Invalid URL ({self.command} {path})", "invalid_request_error", None)
            )
            return
        if not self.sim.key_ok(self.headers.get("authorization")):
            if self.headers.get("authorization"):
                message = "Incorrect API key provided / API Key 无效"
            else:
                message = "You didn't provide an API key in an Authorization: Bearer header / 缺少 API Key"
            self._reply(error_reply(401, message, "invalid_request_error", "invalid_api_key"))
            return
        wanted = "POST" if path == "/v1/chat/completions" else "GET"
        if self.command != wanted:
            self._reply(
                error_reply(
                    405, f"Method {self.command} not allowed for {path}", "invalid_request_error", None
                )
            )
            return
        if path == "/v1/chat/completions":
            self._chat(body, parsed)
        elif path == "/v1/models":
            self._models()
        elif path == BALANCE_PATH:
            self._balance()
        else:
            spec = MODELS.get(path.removeprefix("/v1/models/"))
            if spec is None:
                self._reply(model_not_found(path.removeprefix("/v1/models/")))
            else:
                self._send_json(200, model_object(spec))

    def _balance(self) -> None:
        """DeepSeek's ``GET /user/balance`` (https://api-docs.deepseek.com/api/get-user-balance)."""
        if self.sim.balance_status is not None:
            status = self.sim.balance_status
            self._reply(
                error_reply(status, f"Balance unavailable / 余额查询失败 ({status})", "server_error", None)
            )
            return
        info = {"currency": self.sim.balance_currency, "total_balance": self.sim.balance}
        info |= {"granted_balance": "0.00", "topped_up_balance": self.sim.balance}
        self._send_json(200, {"is_available": True, "balance_infos": [info]})

    def _models(self) -> None:
        header = self.headers.get(SCENARIO_HEADER, "")
        if header:
            try:
                sc = parse_scenario(header, self.sim.log.next_attempt(f"GET /v1/models|{header}"))
            except ScenarioError as exc:
                self._reply(error_reply(400, str(exc), "invalid_request_error", "unknown_scenario"))
                return
            if sc.status:
                self._reply(status_reply(sc.status, MODELS["kimi-k2"]))
                return
        self._send_json(200, {"object": "list", "data": [model_object(m) for m in MODELS.values()]})

    def _chat(self, body: Any, parsed: bool) -> None:
        ask = read_chat(body, parsed)
        if isinstance(ask, ErrorReply):
            self._reply(ask)
            return
        header = self.headers.get(SCENARIO_HEADER, "")
        key = f"{ask.model}|{header}" if header else ask.model
        try:
            sc = parse_scenario(f"{ask.suffix},{header}", self.sim.log.next_attempt(key))
        except ScenarioError as exc:
            self._reply(error_reply(400, str(exc), "invalid_request_error", "unknown_scenario"))
            return
        if sc.status:
            self._reply(status_reply(sc.status, ask.spec))
            return
        spec = ask.spec
        if not spec.vision and (refusal := no_vision_error(ask.messages)) is not None:
            self._reply(refusal)
            return
        prompt, texts = prompt_text(ask.messages)
        prompt_tokens, cached = prompt_usage(texts, image_counts(ask.messages), IMAGE_TOKENS)
        if prompt_tokens + (ask.max_tokens or 0) > spec.context_window:
            self._reply(context_error(spec, prompt_tokens, ask.max_tokens))
            return
        n = 2 if sc.has("n2") else ask.n
        images = last_user_images(ask.messages)
        preface = receipt(images, prompt) if images else ""
        plans = plan_answer(spec, prompt, n=n, max_tokens=ask.max_tokens, length=sc.length, faults=sc.faults,
                            finish=sc.finish, preface=preface)  # fmt: skip
        usage = usage_body(spec, prompt_tokens, cached, plans)
        if sc.has("hugeusage"):
            usage = hostile_usage(usage)
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        pacing = sc.pacing(self.sim.pacing)
        if sc.has("hang"):
            self._idle(sc.stall)
        if ask.stream:
            steps = stream_steps(spec, sc, plans, usage, include_usage=ask.include_usage,
                                 chunk_tokens=pacing.chunk_tokens, cid=cid, created=created)  # fmt: skip
            self._stream(steps, pacing)
            return
        tokens = sum(p.completion_tokens for p in plans)
        tps = pacing.tokens_per_second
        self._idle(
            pacing.first_token_delay + (tokens / tps if tps else 0) + (sc.stall if sc.has("stall") else 0)
        )
        obj = completion_body(
            spec, plans, usage, cid=cid, created=created, reasoning_fields=sc.reasoning_fields
        )
        data = json.dumps(obj, ensure_ascii=False).encode()
        if sc.has("cut") or sc.has("reset"):
            self.sim.log.update(self.rec, status=200)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self._write(data[: len(data) // 2])
            self._hangup(sc.has("reset"))
            return
        self._send(200, data, "application/json", ())

    def _stream(self, steps: list[Step], pacing: Pacing) -> None:
        self.sim.log.update(self.rec, status=200)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        tps = pacing.tokens_per_second
        out = ChunkWriter(self, self.rec, coalesce=tps is None)
        first: float | None = None
        done = 0
        for step in steps:
            if self.sim.stopping.is_set():
                raise _Stopped
            if isinstance(step, Send):
                if step.answer and first is None:
                    out.flush()
                    self._idle(pacing.first_token_delay)
                    first = time.monotonic()
                elif step.answer and first is not None and tps:
                    out.flush()
                    self._idle(first + done / tps - time.monotonic())
                done += step.tokens
                out.send(step)
            elif isinstance(step, Pause):
                out.flush()
                self._idle(step.seconds)
            elif isinstance(step, Hangup):
                out.flush()
                self._hangup(step.reset)
                return
        out.end()
        self.sim.log.update(self.rec, completed=True)
