"""The test harness: isolated directories for every test; the simulator, the app, condition waits, the CLI.

Fixtures only: tests never import a test module. The helpers behind them are in ``tests/harness.py``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from holysheep_tui import i18n
from holysheep_tui.chat.session import Session
from holysheep_tui.config import Config, Profile, RetryPolicy
from holysheep_tui.simulator import RecordedRequest, RelaySimulator
from holysheep_tui.startup import FirstFrame
from holysheep_tui.store import HistoryStore
from holysheep_tui.tui.app import HolySheepApp
from tests import harness, keyring_backends


@pytest.fixture(autouse=True)
def isolated_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Point XDG and HOLYSHEEP_* locations at a fresh temp tree; drop any real key from the environment."""
    root = tmp_path_factory.mktemp("home")
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
    ):
        monkeypatch.setenv(var, str(root / sub))
    monkeypatch.setenv("HOME", str(root))
    for var in (
        "HOLYSHEEP_API_KEY",
        "HOLYSHEEP_CONFIG",
        "HOLYSHEEP_DATA_DIR",
        "HOLYSHEEP_BASE_URL",
        "HOLYSHEEP_MODEL",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(var, raising=False)
    # No keyring backend unless a test sets one up: keyring tests bring their own D-Bus session.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    # The interface speaks English unless a test chooses otherwise, whatever the machine's locale.
    monkeypatch.setenv("LANG", "C.UTF-8")
    for var in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    i18n.use("en")
    yield root
    i18n.use("en")


# ---- the relay simulator -------------------------------------------------------------------------------


@pytest.fixture
def make_simulator() -> Iterator[Callable[..., RelaySimulator]]:
    """``make_simulator(pacing=..., require_key=...)``: a started RelaySimulator on loopback. Every one is
    stopped in teardown, which fails if the simulator itself raised."""
    started: list[RelaySimulator] = []

    def make(**options: Any) -> RelaySimulator:
        options.setdefault("pacing", harness.FAST)
        sim = RelaySimulator(**options).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()
    errors = [e for sim in started for e in sim.errors]
    assert not errors, "the simulator failed:\n" + "\n".join(errors)


@pytest.fixture
def simulator(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    """A started simulator with fast pacing (many small events, a few milliseconds in all), no key needed."""
    return make_simulator()


@pytest.fixture
def chats() -> Callable[[RelaySimulator], list[RecordedRequest]]:
    """``chats(sim)``: the chat requests the simulator saw, oldest first (model-list requests left out)."""
    return harness.chats


@pytest.fixture
def finished_chat() -> Callable[..., RecordedRequest]:
    """``finished_chat(sim, timeout=10)``: the last chat request once the simulator finished with it."""
    return harness.finished_chat


# ---- the app -------------------------------------------------------------------------------------------


@pytest.fixture
def make_session(request: pytest.FixtureRequest) -> Iterator[Callable[..., Session]]:
    """``make_session(sim=None, *, profile="demo", model="kimi-k2", retries=0, key=None, demo=None,
    config=None, **profile_fields)``: a Session for ``sim`` (the ``simulator`` fixture by default; a
    ``base_url`` in ``profile_fields`` needs none). The "demo" profile is served by ``sim`` (demo mode);
    any other is a keyed profile on loopback. Closed in teardown."""
    sessions: list[Session] = []

    def make(
        sim: RelaySimulator | None = None,
        *,
        profile: str = "demo",
        model: str = "kimi-k2",
        retries: int = 0,
        key: str | None = None,
        demo: bool | None = None,
        config: Config | None = None,
        **profile_fields: Any,
    ) -> Session:
        if "base_url" not in profile_fields:
            sim = sim if sim is not None else request.getfixturevalue("simulator")
            profile_fields["base_url"] = sim.base_url
        profile_fields.setdefault("retry", RetryPolicy(max_retries=retries, base_delay=0.05))
        settings = Profile(model=model, **profile_fields)
        demo = profile == "demo" if demo is None else demo
        session = Session(
            config or Config(),
            profile,
            settings,
            key,
            "HOLYSHEEP_API_KEY" if key else None,
            simulator=sim if demo else None,
        )
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()


@pytest.fixture
def make_app(make_session: Callable[..., Session]) -> Iterator[Callable[..., HolySheepApp]]:
    """``make_app(session=None, *, store=None, **options)``: the HolySheepApp as tests run it (no cursor
    blink, no theme saving unless ``save_theme=True``). ``session`` is a Session or a FirstFrame (then
    with ``open_later=``), by default ``make_session()``; ``store`` a HistoryStore or a database path
    (opened here). Other options go to HolySheepApp. Teardown closes the history and the session."""
    apps: list[HolySheepApp] = []

    def make(
        session: Session | FirstFrame | None = None,
        *,
        store: HistoryStore | Path | None = None,
        **options: Any,
    ) -> HolySheepApp:
        options.setdefault("cursor_blink", False)
        options.setdefault("save_theme", False)
        if isinstance(store, Path):
            store = HistoryStore.open(store)
        app = HolySheepApp(session if session is not None else make_session(), store=store, **options)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close_history()
        if app.open_session is not None:
            app.open_session.close()


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    """``await wait_until(pilot, predicate, what, timeout=30)``: run the app until ``predicate()`` holds;
    fails naming ``what`` on time-out."""
    return harness.wait_until


@pytest.fixture
def send() -> Callable[..., Any]:
    """``await send(pilot, text)``: type ``text`` into the prompt and press Enter."""
    return harness.send


@pytest.fixture
def send_and_wait() -> Callable[..., Any]:
    """``await send_and_wait(pilot, text, timeout=30)``: send, then return the new AnswerView once its
    turn has ended."""
    return harness.send_and_wait


@pytest.fixture
def stored_turn() -> Callable[[Path], tuple[Any, Any]]:
    """``stored_turn(db)``: the (prompt, answer) messages of the last conversation in a history file."""
    return harness.stored_turn


# ---- processes, certificates, keyrings -----------------------------------------------------------------


@pytest.fixture
def cli() -> harness.Cli:
    """``cli(*args, stdin=None, env=None, timeout=60)`` runs ``holysheep`` in a subprocess (the isolated
    environment plus ``env`` and ``cli.env``); ``cli.popen(*args, env=None, **popen_options)`` starts it."""
    return harness.Cli()


@pytest.fixture
def newest_exchange() -> Callable[[Path], tuple[str, str, str] | None]:
    """``newest_exchange(db)``: (prompt, answer status, answer text) of the newest exchange in ``db``."""
    return harness.newest_exchange


@pytest.fixture
def flushed_partial() -> Callable[..., str]:
    """``flushed_partial(db, timeout=30)``: wait for a streaming answer's partial text in ``db``."""
    return harness.flushed_partial


@pytest.fixture
def tmpfs() -> Callable[..., Any]:
    """``with tmpfs(where, *options, size="512k") as path:`` a real tmpfs (e.g. "ro"); the test is skipped
    where this process may not mount."""
    return harness.tmpfs


@pytest.fixture
def fill_disk() -> Callable[[Path], None]:
    """``fill_disk(directory)``: write until the filesystem holding ``directory`` is full."""
    return harness.fill


@pytest.fixture
def holysheep(cli: harness.Cli) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``holysheep(*args, data=dir, stdin=None, **env)``: the CLI with its data directory at ``dir``."""

    def run(*args: str, data: Path, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return cli(*args, stdin=stdin, env={"HOLYSHEEP_DATA_DIR": str(data), **env})

    return run


@pytest.fixture
def self_signed_cert(tmp_path: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem): a certificate for 127.0.0.1 signed by itself, and its key."""
    directory = tmp_path / "tls"
    directory.mkdir()
    return harness.self_signed_cert(directory)


@pytest.fixture
def keyring_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Makes a real keyring plug-in (a JSON file store, tests/keyring_backends.py) the keyring backend;
    yields the file it writes."""
    module_dir = keyring_backends.install(tmp_path / "backends", "hs_test_keyring_backends")
    monkeypatch.syspath_prepend(str(module_dir))
    store = tmp_path / "钥匙串.json"
    monkeypatch.setenv("TEST_KEYRING_FILE", str(store))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "hs_test_keyring_backends.FileStore")
    sys.modules.pop("hs_test_keyring_backends", None)
    yield store
    sys.modules.pop("hs_test_keyring_backends", None)
