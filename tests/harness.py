"""What the fixtures in conftest.py hand out. Tests take these through fixtures, never by import."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from holysheep_tui.simulator import Pacing, RecordedRequest, RelaySimulator
from holysheep_tui.store import HistoryStore
from holysheep_tui.store.models import Message
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.widgets.answer import AnswerView
from holysheep_tui.tui.widgets.prompt import PromptInput

FAST = Pacing(first_token_delay=0.0, tokens_per_second=3000.0, chunk_tokens=3)
"""The simulator fixture's pacing: streamed in many small events, done in a few milliseconds."""


async def wait_until(
    pilot: Pilot[Any], predicate: Callable[[], object], what: str, timeout: float = 30.0
) -> None:
    """Let the app run until ``predicate()`` is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await pilot.pause(0.02)


def chats(sim: RelaySimulator) -> list[RecordedRequest]:
    """The chat requests the simulator saw (the model list is fetched too, at a time of its own)."""
    return [r for r in sim.requests if r.path.endswith("/chat/completions")]


def finished_chat(sim: RelaySimulator, timeout: float = 10.0) -> RecordedRequest:
    """The last chat request once the simulator has finished with it (blocking, up to ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [r for r in chats(sim) if r.finished]
        if done:
            return done[-1]
        time.sleep(0.02)
    raise AssertionError("no chat request finished")


async def send(pilot: Pilot[Any], text: str) -> None:
    """Type ``text`` into the prompt and press Enter."""
    pilot.app.query_one(PromptInput).load_text(text)
    await pilot.press("enter")


async def send_and_wait(pilot: Pilot[Any], text: str, timeout: float = 30.0) -> AnswerView:
    """Send ``text``; return the new answer once its turn has ended (finished, failed or stopped)."""
    app = pilot.app
    assert isinstance(app, HolySheepApp)
    count = len(app.view.answers())
    await send(pilot, text)
    ended = lambda: not app.answering and len(app.view.answers()) > count  # noqa: E731
    await wait_until(pilot, ended, "the answer to end", timeout)
    answer = app.view.answers()[-1]
    assert isinstance(answer, AnswerView)
    return answer


def stored_turn(db: Path) -> tuple[Message, Message]:
    """The prompt and answer of the last conversation in the history database ``db``."""
    with HistoryStore.open(db) as store:
        conv_id = store.last_conversation_id()
        assert conv_id is not None, "the exchange was recorded"
        messages = store.get_conversation(conv_id).messages
    assert len(messages) == 2
    return messages[0], messages[1]


class Cli:
    """``holysheep`` as a user runs it: ``python -m holysheep_tui`` in a subprocess, in the test's isolated
    environment (the autouse ``isolated_dirs``) plus what a call adds."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = dict(env or {})
        """Added to every call's environment (a test sets e.g. HOLYSHEEP_DATA_DIR once)."""

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "holysheep_tui", *args]

    def environ(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**os.environ, **self.env, **(env or {})}

    def __call__(
        self, *args: str, stdin: str | None = None, env: Mapping[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run to the end; stdout and stderr captured as text."""
        return subprocess.run(
            self.command(*args),
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            env=self.environ(env),
        )

    def popen(
        self, *args: str, env: Mapping[str, str] | None = None, **options: Any
    ) -> subprocess.Popen[str]:
        """Start it for a test that signals or reads it while it runs (stdout and stderr piped, UTF-8 text
        unless ``options`` say otherwise)."""
        options.setdefault("stdout", subprocess.PIPE)
        options.setdefault("stderr", subprocess.PIPE)
        if options.setdefault("text", True):
            options.setdefault("encoding", "utf-8")
        return subprocess.Popen(self.command(*args), env=self.environ(env), **options)


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself, and its key: ``(cert.pem, key.pem)`` in ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "自签名测试中继")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


# ---- real small and read-only disks ------------------------------------------------------------------


@contextlib.contextmanager
def tmpfs(where: Path, *options: str, size: str = "512k") -> Iterator[Path]:
    """A tmpfs mounted at ``where`` with ``options`` (e.g. "ro"); skips the test when this process may not
    mount (tests/test_store.py covers the store's side without mounts)."""
    where.mkdir(parents=True, exist_ok=True)
    opts = ",".join((f"size={size}", "mode=0700", *options))
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def fill(directory: Path) -> None:
    """Fill the filesystem holding ``directory`` until a write fails with ENOSPC (bounded by its size)."""
    with open(directory / "填满.bin", "wb", buffering=0) as f:
        for _ in range(10_000):
            try:
                f.write(b"\0" * 4096)
            except OSError:
                return
    raise AssertionError("the small filesystem never filled up")


# ---- the history as another process sees it ------------------------------------------------------------


def newest_exchange(db: Path) -> tuple[str, str, str] | None:
    """(prompt, answer status, answer text) of the newest exchange, read-only, as another process sees it;
    None before the app has created and migrated the file."""
    if not db.exists():
        return None
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        rows = con.execute(
            "SELECT role, status, content FROM messages WHERE conversation_id = "
            "(SELECT conversation_id FROM messages ORDER BY id DESC LIMIT 1) ORDER BY id"
        ).fetchall()
    except sqlite3.OperationalError:  # created but not yet migrated
        return None
    finally:
        con.close()
    if len(rows) < 2:
        return None
    return rows[-2][2], rows[-1][1], rows[-1][2]


def flushed_partial(db: Path, timeout: float = 30) -> str:
    """Wait until a streaming answer's partial text has been flushed to ``db``; return it."""
    for _ in range(int(timeout / 0.1)):
        row = newest_exchange(db)
        if row and row[1] == "streaming" and len(row[2]) > 20:
            return row[2]
        time.sleep(0.1)
    raise AssertionError(f"no partial answer was flushed; last row: {newest_exchange(db)}")
