"""An exported page in a real browser: a loopback HTTP server serves it and records every request, and
Debian's chromium opens it headless to draw it (``--screenshot``) or to give back its DOM (``--dump-dom``).
A test helper (not a test): ``with page_server() as server``, then ``screenshot`` and ``dump_dom``."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

__all__ = ["CHROMIUM", "PageServer", "dump_dom", "needs_chromium", "page_server", "screenshot"]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (scripts/system-deps.sh installs it)"
)


class PageServer(ThreadingHTTPServer):
    """Serves ``page`` at ``/export.html`` (404 for any other path) and records every path asked for."""

    page = b""
    paths: list[str]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: PageServer

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        found = self.path == "/export.html"
        body = self.server.page if found else b"not here"
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8" if found else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def page_server() -> Iterator[PageServer]:
    """A page server on a free loopback port, shut down afterwards."""
    srv = PageServer(("127.0.0.1", 0), _Handler)
    srv.paths = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(10)


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless chromium with a profile of its own (no sandbox: tests may run as root) and nothing of its
    own on the network (no extensions, updates, sync or background requests)."""
    return subprocess.run(
        [
            str(CHROMIUM), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--hide-scrollbars",
            f"--user-data-dir={profile}", *args,
        ],
        capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=90,
    )  # fmt: skip


def screenshot(tmp_path: Path, url: str, shot: Path, *args: str) -> list[str]:
    """Draw ``url`` into the PNG ``shot`` (``args``: more chromium flags, e.g. ``--window-size=W,H``); the
    page's console lines (script errors, loads the CSP blocked), which should be none."""
    drawn = _chromium(
        tmp_path / "chromium-profile", f"--screenshot={shot}", *args, "--enable-logging=stderr", "--v=0", url
    )
    assert drawn.returncode == 0, drawn.stderr[-3000:]
    return [line for line in drawn.stderr.splitlines() if ":CONSOLE" in line]


def dump_dom(tmp_path: Path, url: str) -> str:
    """The DOM of ``url`` once chromium has loaded it, as HTML."""
    dom = _chromium(tmp_path / "chromium-profile", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-3000:]
    return dom.stdout
