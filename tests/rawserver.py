"""A scripted HTTP server on 127.0.0.1 that writes exact bytes: the socket-level fake relay for client tests.

Each accepted request is answered by the next ``Reply`` in the script (the last one repeats). A reply is a
status, headers and a list of body pieces, each written with its own ``send`` (optionally after a pause), so
tests control how bytes are split across network reads. The server records every request it saw.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/event-stream"})
    pieces: list[bytes] = field(default_factory=list)
    pause: float = 0.0  # seconds between pieces
    stall_after: int | None = None  # stop sending after this many pieces, keep the socket open
    end: str = "close"  # "close": FIN after the body; "reset": RST after the body
    chunked: bool = False


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def sse(*payloads: object, done: bool = True, newline: bytes = b"\n") -> list[bytes]:
    """SSE pieces for JSON payloads (dicts) or raw strings, one piece per event."""
    out: list[bytes] = []
    for p in payloads:
        data = p if isinstance(p, str) else json.dumps(p, ensure_ascii=False)
        out.append(b"data: " + data.encode() + newline + newline)
    if done:
        out.append(b"data: [DONE]" + newline + newline)
    return out


def chunk(content: str | None = None, *, model: str = "kimi-k2", finish: str | None = None, **delta: Any) -> dict[str, Any]:
    d: dict[str, Any] = dict(delta)
    if content is not None:
        d["content"] = content
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": model,
        "choices": [{"index": 0, "delta": d, "finish_reason": finish}],
    }


def gzipped(pieces: list[bytes]) -> list[bytes]:
    """The pieces as one gzip body (send with ``Content-Encoding: gzip``), each flushed so that it decodes as
    soon as it arrives, as a compressing proxy sends a stream."""
    squeeze = zlib.compressobj(6, zlib.DEFLATED, 31)
    out = [squeeze.compress(p) + squeeze.flush(zlib.Z_SYNC_FLUSH) for p in pieces]
    out[-1] += squeeze.flush()
    return out


class RawServer:
    def __init__(self, script: list[Reply]) -> None:
        self.script = script
        self.requests: list[SeenRequest] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._open: list[socket.socket] = []
        self.disconnects = 0  # requests whose client went away before the body was fully sent

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        for s in self._open:
            try:
                s.close()
            except OSError:
                pass
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _read_request(self, conn: socket.socket) -> SeenRequest | None:
        buf = b""
        conn.settimeout(5)
        while b"\r\n\r\n" not in buf:
            data = conn.recv(65536)
            if not data:
                return None
            buf += data
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            data = conn.recv(65536)
            if not data:
                break
            rest += data
        return SeenRequest(method, path, headers, rest[:length])

    def _handle(self, conn: socket.socket) -> None:
        self._open.append(conn)
        try:
            req = self._read_request(conn)
            if req is None:
                return
            index = len(self.requests)
            self.requests.append(req)
            reply = self.script[min(index, len(self.script) - 1)]
            self._write(conn, reply)
        except OSError:
            self.disconnects += 1
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _write(self, conn: socket.socket, reply: Reply) -> None:
        reason = {200: "OK", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}.get(reply.status, "X")
        head = [f"HTTP/1.1 {reply.status} {reason}"]
        headers = dict(reply.headers)
        if reply.chunked:
            headers["Transfer-Encoding"] = "chunked"
        headers.setdefault("Connection", "close")  # one request per connection
        head += [f"{k}: {v}" for k, v in headers.items()]
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        for i, piece in enumerate(reply.pieces):
            if reply.stall_after is not None and i >= reply.stall_after:
                self._stop.wait(60)
                return
            if reply.pause and i:
                time.sleep(reply.pause)
            if reply.chunked:
                conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            else:
                conn.sendall(piece)
        if reply.stall_after is not None:
            self._stop.wait(60)
            return
        if reply.chunked and reply.end == "close":
            conn.sendall(b"0\r\n\r\n")
        if reply.end == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
