"""The network and relay rows of the fault matrix (docs/RELIABILITY.md), as a user meets them.

Each row runs twice: `holysheep ask` as a subprocess, and the full-screen app under Pilot. Both check what
the user is told, the exit code (ask), that the prompt and any partial answer are kept (on screen and in
the history database), that the app stays usable, and how many requests the server saw.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from holysheep_tui.chat.session import Session
from holysheep_tui.config import Timeouts
from holysheep_tui.errors import (
    EXIT_AUTH,
    EXIT_BAD_REQUEST,
    EXIT_MODEL_NOT_FOUND,
    EXIT_NETWORK,
    EXIT_OK,
    EXIT_PROTOCOL,
    EXIT_QUOTA,
    EXIT_RATE_LIMIT,
)
from holysheep_tui.simulator import Pacing, RelaySimulator
from holysheep_tui.store.models import Message
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.screens.fit_choice import FitChoiceScreen
from holysheep_tui.tui.widgets.answer import AnswerView
from holysheep_tui.tui.widgets.conversation import UserMessage
from holysheep_tui.tui.widgets.prompt import PromptInput

PROMPT = "故障测试：请解释一下上下文窗口"
RETRIES = 2
CONFIG = """
[profiles.holysheep.retry]
base_delay = 0.05
[profiles.holysheep.timeouts]
connect = 1
read = 2
"""
FAST = Pacing(first_token_delay=0.0, tokens_per_second=None, chunk_tokens=3)
FAKE_KEY = "sk-reliability-0123456789abcdef"


# ---- endpoints that fail below HTTP -------------------------------------------------------------------


@dataclass
class Endpoint:
    base_url: str
    seen: Callable[[], int]
    """Connections (or requests) the server side saw so far."""
    env: dict[str, str] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def refused() -> Iterator[Endpoint]:
    yield Endpoint(f"http://127.0.0.1:{_free_port()}/v1", lambda: 0)


@contextmanager
def dns_failure() -> Iterator[Endpoint]:
    # .invalid never resolves (RFC 6761); a remote https URL needs a key to get as far as DNS.
    yield Endpoint("https://relay.holysheep.invalid/v1", lambda: 0, {"HOLYSHEEP_API_KEY": FAKE_KEY})


@contextmanager
def tls_untrusted(cert: Path, key: Path) -> Iterator[Endpoint]:
    """A loopback TLS server with a self-signed certificate; counts TLS handshakes it was offered."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    handshakes: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            # Counted on accept: a client can only reject the certificate after this server sent it.
            handshakes.append("offered")
            conn.settimeout(5)
            try:
                ctx.wrap_socket(conn, server_side=True).close()
            except (OSError, ssl.SSLError):
                pass  # the client refused the certificate
            finally:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield Endpoint(f"https://127.0.0.1:{port}/v1", lambda: len(handshakes))
    finally:
        stop.set()
        thread.join(5)
        listener.close()


@contextmanager
def connect_timeout() -> Iterator[Endpoint]:
    """A loopback listener that never accepts, its backlog filled: new SYNs are dropped, connect() hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(4):  # backlog 0 still queues one or two; the rest wait in SYN_SENT
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(s)
        probe = socket.socket()
        probe.settimeout(0.5)
        try:
            probe.connect(("127.0.0.1", port))
            pytest.skip("this kernel accepts connections beyond a full backlog")
        except TimeoutError:
            pass
        finally:
            probe.close()
        yield Endpoint(f"http://127.0.0.1:{port}/v1", lambda: 0)
    finally:
        for s in fillers:
            s.close()
        listener.close()


# ---- the table ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: str
    where: str
    """'sim' (the relay simulator with ``model``) or a special endpoint."""
    model: str
    exit_code: int
    words: str
    """Shown by ask (stderr) and by the app (the answer's notice)."""
    attempts: int
    """Requests (handshakes, for TLS) the server saw with two retries allowed."""
    partial: bool = False
    """Some answer arrived before the failure and must be kept."""


ROWS = [
    Row("connection-refused", "refused", "kimi-k2", EXIT_NETWORK, "Could not connect", 0),
    Row("dns-failure", "dns", "kimi-k2", EXIT_NETWORK, "Could not resolve relay.holysheep.invalid", 0),
    Row("tls-untrusted", "tls", "kimi-k2", EXIT_NETWORK, "TLS failure", 1),  # not retried: it cannot help
    Row("connect-timeout", "connect_timeout", "kimi-k2", EXIT_NETWORK, "within 1 s", 0),
    Row("401", "sim", "kimi-k2+401", EXIT_AUTH, "rejected the API key", 1),
    Row("402", "sim", "kimi-k2+402", EXIT_QUOTA, "余额不足", 1),
    Row("403", "sim", "kimi-k2+403", EXIT_AUTH, "无权访问该模型", 1),
    Row("404", "sim", "kimi-k2+404", EXIT_MODEL_NOT_FOUND, "Did you mean: kimi-k2", 1),
    Row("408", "sim", "kimi-k2+408", EXIT_NETWORK, "请求超时", RETRIES + 1),
    Row("413", "sim", "kimi-k2+413", EXIT_BAD_REQUEST, "请求体过大", 1),
    Row("429-retry-after", "sim", "kimi-k2+429", EXIT_RATE_LIMIT, "Retry after 1 s", RETRIES + 1),
    Row("429-no-retry-after", "sim", "kimi-k2+429ra0", EXIT_RATE_LIMIT, "请求过于频繁", RETRIES + 1),
    Row("429-insufficient-quota", "sim", "kimi-k2+quota", EXIT_QUOTA, "额度已用完", 1),
    Row("500", "sim", "kimi-k2+500", EXIT_NETWORK, "HTTP 500", RETRIES + 1),
    Row("502-html-from-proxy", "sim", "kimi-k2+502", EXIT_NETWORK, "502 Bad Gateway", RETRIES + 1),
    Row("503", "sim", "kimi-k2+503", EXIT_NETWORK, "服务繁忙", RETRIES + 1),
    Row("504", "sim", "kimi-k2+504", EXIT_NETWORK, "上游响应超时", RETRIES + 1),
    Row("reset-mid-stream", "sim", "kimi-k2+reset", EXIT_NETWORK, "partial answer is kept", 1, True),
    Row("cut-without-finish-or-done", "sim", "kimi-k2+cut", EXIT_NETWORK, "before the answer finished", 1, True),
    Row("finish-without-done", "sim", "kimi-k2+nodone", EXIT_OK, "", 1),
    Row("stall-past-read-timeout", "sim", "kimi-k2+stall", EXIT_NETWORK, "sent nothing for 2 s", 1, True),
    Row("one-megabyte-chunk", "sim", "kimi-k2+bigchunk", EXIT_OK, "", 1),
    Row("10000-one-character-chunks", "sim", "kimi-k2+tiny,len=4000", EXIT_OK, "", 1),
    Row("utf8-split-across-reads", "sim", "kimi-k2+splitutf8", EXIT_OK, "", 1),
    Row("invalid-utf8", "sim", "kimi-k2+badutf8", EXIT_OK, "", 1),
    Row("non-json-chunk", "sim", "kimi-k2+malformed", EXIT_PROTOCOL, "not JSON", 1, True),
    Row("in-stream-error", "sim", "kimi-k2+inerror", EXIT_NETWORK, "上游模型服务暂时不可用", 1, True),
]
ROW_IDS = [r.id for r in ROWS]


@pytest.fixture
def relay(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    return make_simulator(pacing=FAST)


@contextmanager
def endpoint_for(row: Row, relay: RelaySimulator, cert: tuple[Path, Path]) -> Iterator[Endpoint]:
    with ExitStack() as stack:
        if row.where == "sim":
            yield Endpoint(relay.base_url, lambda: relay.attempts(row.model))
        elif row.where == "refused":
            yield stack.enter_context(refused())
        elif row.where == "dns":
            yield stack.enter_context(dns_failure())
        elif row.where == "tls":
            yield stack.enter_context(tls_untrusted(*cert))
        else:
            yield stack.enter_context(connect_timeout())


def check_answer_content(row: Row, content: str, relay: RelaySimulator) -> None:
    """What the answer text must be for the rows that finish or keep a partial answer."""
    if row.partial:
        assert content.strip(), "the partial answer is kept"
    if row.exit_code != EXIT_OK:
        return
    assert content.strip()
    if row.id == "one-megabyte-chunk":
        assert len(content.encode()) >= 1_000_000
    elif row.id == "10000-one-character-chunks":
        rec = [r for r in relay.requests if r.json and r.json.get("model") == row.model][-1]
        assert rec.chunks_sent >= 10_000 and len(content) >= 10_000
    elif row.id == "invalid-utf8":
        assert content.count("\ufffd") == 2  # FF FE each become one replacement character, nothing else is lost
    else:
        assert "\ufffd" not in content
    if row.id in ("utf8-split-across-reads", "finish-without-done", "invalid-utf8"):
        assert "HolySheep 本地模拟器" in content


# ---- ask -----------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_ask_under_each_network_fault(
    row: Row,
    relay: RelaySimulator,
    tmp_path: Path,
    self_signed_cert: tuple[Path, Path],
    cli: Any,
    stored_turn: Callable[[Path], tuple[Message, Message]],
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    data = tmp_path / "数据"
    with endpoint_for(row, relay, self_signed_cert) as ep:
        before = ep.seen()
        proc = cli(
            "ask", "--base-url", ep.base_url, "-m", row.model, "--max-retries", str(RETRIES), PROMPT,
            env={"HOLYSHEEP_CONFIG": str(config), "HOLYSHEEP_DATA_DIR": str(data), **ep.env},
        )  # fmt: skip
        seen = ep.seen() - before
    assert proc.returncode == row.exit_code, proc.stderr
    assert "Traceback" not in proc.stderr
    assert FAKE_KEY not in proc.stderr + proc.stdout
    assert "<html" not in proc.stderr.lower()
    assert row.words in proc.stderr
    assert seen == row.attempts, f"the server saw {seen} requests"
    if row.attempts > 1:
        assert proc.stderr.count("retrying in") == RETRIES
    prompt, answer = stored_turn(data / "history.db")
    assert (prompt.role, prompt.content) == ("user", PROMPT)
    assert answer.status == ("complete" if row.exit_code == EXIT_OK else "error")
    assert proc.stdout.rstrip("\n") == answer.content.rstrip("\n"), "what was printed is what was kept"
    check_answer_content(row, answer.content, relay)
    if row.partial:
        assert "the partial answer above was kept" in proc.stderr
    if row.exit_code != EXIT_OK:
        assert answer.error_text and row.words in answer.error_text


# ---- the app -------------------------------------------------------------------------------------------


@pytest.fixture
def app_for(
    make_session: Callable[..., Session], make_app: Callable[..., HolySheepApp]
) -> Callable[[Endpoint, str, Path], HolySheepApp]:
    """``app_for(endpoint, model, db)``: the app on the "holysheep" profile at ``endpoint``, history in ``db``."""

    def build(ep: Endpoint, model: str, db: Path) -> HolySheepApp:
        session = make_session(
            profile="holysheep",
            model=model,
            retries=RETRIES,
            key=ep.env.get("HOLYSHEEP_API_KEY"),
            base_url=ep.base_url,
            timeouts=Timeouts(connect=1, read=2),
        )
        return make_app(session, store=db)

    return build


def notice(answer: AnswerView) -> str:
    return str(answer.query_one(".answer-notice", Static).render())


@pytest.mark.slow
@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
async def test_app_under_each_network_fault(
    row: Row,
    relay: RelaySimulator,
    tmp_path: Path,
    self_signed_cert: tuple[Path, Path],
    app_for: Callable[[Endpoint, str, Path], HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[AnswerView]],
    stored_turn: Callable[[Path], tuple[Message, Message]],
) -> None:
    db = tmp_path / "history.db"
    with endpoint_for(row, relay, self_signed_cert) as ep:
        app = app_for(ep, row.model, db)
        async with app.run_test(size=(100, 30)) as pilot:
            loaded = lambda: app._started and not any(w.group == "models" for w in app.workers)  # noqa: E731
            await wait_until(pilot, loaded, "the model list to load or fail", 30)
            before = ep.seen()
            answer = await send_and_wait(pilot, PROMPT)
            seen = ep.seen() - before
            turn = app.conversation.turns[-1]
            assert seen == row.attempts, f"the server saw {seen} requests"
            assert [str(m.text) for m in app.query(UserMessage)] == [PROMPT], "the prompt stays on screen"
            assert answer.text == turn.answer.content
            check_answer_content(row, answer.text, relay)
            if row.exit_code == EXIT_OK:
                assert turn.status == "complete" and notice(answer) == ""
            else:
                assert turn.status == "error" and turn.error is not None
                assert turn.error.exit_code == row.exit_code
                text = notice(answer)
                assert turn.error.title in text and row.words in text and "Ctrl+R" in text
                assert "error" in str(app.query_one("#status-live", Static).render())
            prompt_row, answer_row = stored_turn(db)
            assert prompt_row.content == PROMPT
            assert answer_row.status == turn.status and answer_row.content == turn.answer.content
            # Still usable: the next prompt goes out and ends on its own (healthy model on the simulator).
            if row.where == "sim":
                await app.choose_model("kimi-k2")
            if row.id == "one-megabyte-chunk":  # a 1 MB answer fills the window: the next turn is not sent blind
                ask = app.query_one(PromptInput)
                ask.insert("接着问：还能继续吗？")
                served = ep.seen()
                await pilot.press("enter")
                await wait_until(pilot, lambda: isinstance(app.screen, FitChoiceScreen), "the fit choice")
                await pilot.press("escape")
                await wait_until(pilot, lambda: not isinstance(app.screen, FitChoiceScreen), "the choice closed")
                assert ask.text == "接着问：还能继续吗？" and ep.seen() == served, "kept, and nothing was sent"
                ask.clear()
                await pilot.press("ctrl+n")
            again = await send_and_wait(pilot, "再试一次：现在好了吗？")
            assert again.status == ("complete" if row.where == "sim" else "error")
            assert len(app.conversation.turns) == (1 if row.id == "one-megabyte-chunk" else 2)
