"""A first run on a machine without a system keyring (keyring's fail backend, as the conftest sets it): the
first-run screen offers what works there and never the keyring; offline, the key can be used anyway;
``key set`` and ``key status`` say what works instead of pointing back to ``key set``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input, Static

from holysheep_tui import secrets as keys
from holysheep_tui.chat.session import Session
from holysheep_tui.config import Profile
from holysheep_tui.errors import EXIT_AUTH, HolySheepError, KeyMissingError, KeyringError
from holysheep_tui.secrets import keyring_store
from holysheep_tui.simulator import RelaySimulator
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.screens.first_run import FirstRunScreen
from holysheep_tui.tui.widgets.prompt import PromptInput

GOOD = "sk-hs-good-0123456789abcdefWXYZ"
PROFILE = "团队"
PLAINTEXT = "PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring"


@pytest.fixture(autouse=True)
def fresh_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring_store, "_GUARD", keyring_store._Guard())


@pytest.fixture
def sim(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    return make_simulator(require_key=GOOD)


@pytest.fixture
def plaintext_backend_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A ``keyrings.alt`` package on the import path, as installing keyrings.alt puts one there."""
    package = tmp_path / "site" / "keyrings" / "alt"
    package.mkdir(parents=True)
    (package.parent / "__init__.py").write_text("# 命名空间\n", encoding="utf-8")
    (package / "__init__.py").write_text("# 明文文件后端\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    yield
    for name in ("keyrings.alt", "keyrings"):
        sys.modules.pop(name, None)


def missing_key(profile: Profile) -> HolySheepError:
    try:
        keys.resolve_key(PROFILE, profile, environ={})
    except (KeyMissingError, KeyringError) as exc:
        return exc
    raise AssertionError("a key was found")


@pytest.fixture
def first_run_app(
    make_session: Callable[..., Session], make_app: Callable[..., HolySheepApp]
) -> Callable[[RelaySimulator | None], HolySheepApp]:
    """``first_run_app(sim)``: the app started with no key for '团队' on ``sim`` (None: a relay that is down)."""

    def build(sim: RelaySimulator | None) -> HolySheepApp:
        if sim is None:
            with RelaySimulator() as gone:  # a port nobody listens on once it stopped
                url = gone.base_url
            session = make_session(profile=PROFILE, base_url=url)
        else:
            session = make_session(sim, profile=PROFILE)
        return make_app(session, first_run=missing_key(session.profile))

    return build


def files_holding(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def text(app: HolySheepApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def screen_text(app: HolySheepApp) -> str:
    return " ".join(str(w.render()) for w in app.screen.query(Static))


async def enter_key(pilot: Pilot[None], key: str) -> None:
    field = pilot.app.screen.query_one("#first-run-key", Input)
    assert field.has_focus and field.password
    field.value = key
    await pilot.press("enter")


async def test_no_keyring_screen_offers_what_works_and_uses_the_key_for_this_session_only(
    sim: RelaySimulator,
    isolated_dirs: Path,
    first_run_app: Callable[[RelaySimulator | None], HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    app = first_run_app(sim)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, FirstRunScreen), "the first-run screen")
        assert "No system keyring is available here" in text(app, "#first-run-problem")
        shown = screen_text(app)
        assert "keyring for profile" not in shown and "never in a file" not in shown  # no contradiction
        assert "key set" not in shown
        assert "used for this session only" in text(app, "#first-run-help")
        ways = text(app, "#first-run-ways")
        assert "HOLYSHEEP_API_KEY" in ways and "api_key_cmd" in ways and '[profiles."团队"]' in ways
        assert "keyrings.alt" not in ways  # not installed here: not offered
        check = app.screen.query_one("#first-run-check", Button)
        assert str(check.label) == "Check and use for this session"

        await enter_key(pilot, GOOD)
        await wait_until(pilot, lambda: not isinstance(app.screen, FirstRunScreen), "the chat screen")
        assert app.session.key_source == "entered on the first-run screen (not saved)"
        app.query_one(PromptInput).load_text("你好，这个密钥只用这一次")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.answering and bool(app.conversation.turns), "the answer")
        assert app.conversation.turns[-1].status == "complete"
    with pytest.raises(KeyMissingError):
        keys.resolve_key(PROFILE, Profile(base_url=sim.base_url), environ={})
    assert await asyncio.to_thread(files_holding, isolated_dirs, GOOD) == []  # never written to a file


async def test_the_plaintext_backend_is_offered_when_keyrings_alt_is_installed(
    sim: RelaySimulator,
    plaintext_backend_installed: None,
    first_run_app: Callable[[RelaySimulator | None], HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    app = first_run_app(sim)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, FirstRunScreen), "the first-run screen")
        ways = text(app, "#first-run-ways")
        assert PLAINTEXT in ways and "not encrypted" in ways
        assert 'holysheep key set --profile "团队"' in ways  # chosen explicitly, then key set works


async def test_offline_the_key_can_be_used_anyway_for_this_session(
    first_run_app: Callable[[RelaySimulator | None], HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    app = first_run_app(None)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, FirstRunScreen), "the first-run screen")
        anyway = app.screen.query_one("#first-run-session", Button)
        assert not anyway.display
        await enter_key(pilot, GOOD)
        await wait_until(pilot, lambda: anyway.display, "the way on")
        assert "Could not reach the relay" in text(app, "#first-run-status")
        assert str(anyway.label) == "Use it anyway for this session" and anyway.has_focus
        assert GOOD not in app.export_screenshot()
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, FirstRunScreen), "the chat screen")
        assert app.session.api_key == GOOD
        assert app.session.key_source == "entered on the first-run screen (not checked, not saved)"


# ---- key set and key status without a keyring ------------------------------------------------------------


@pytest.mark.parametrize("backend", ["keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"])
def test_key_set_without_a_keyring_says_what_works_and_reads_no_key(
    cli: Callable[..., subprocess.CompletedProcess[str]], backend: str
) -> None:
    done = cli("key", "set", stdin=GOOD + "\n", env={"PYTHON_KEYRING_BACKEND": backend})
    assert done.returncode == EXIT_AUTH
    assert "HOLYSHEEP_API_KEY" in done.stderr and "api_key_cmd" in done.stderr
    assert "key set" not in done.stderr + done.stdout
    assert GOOD not in done.stderr + done.stdout


def test_key_status_without_a_keyring_lists_the_ways_and_never_key_set(
    cli: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    config = tmp_path / "配置.toml"
    config.write_text(f'[profiles."{PROFILE}"]\nmodel = "deepseek-chat"  # 深度求索\n', encoding="utf-8")
    env = {"HOLYSHEEP_CONFIG": str(config)}
    status = cli("key", "status", "--profile", PROFILE, env=env)
    assert status.returncode == EXIT_AUTH
    assert "No system keyring is available here" in status.stdout
    assert "HOLYSHEEP_API_KEY" in status.stdout and f'api_key_cmd in [profiles."{PROFILE}"]' in status.stdout
    assert "key set" not in status.stdout + status.stderr
    as_json = json.loads(cli("key", "status", "--profile", PROFILE, "--json", env=env).stdout)
    assert as_json["keyring"]["reason"] == "none" and len(as_json["ways"]) == 2
    assert "key set" not in as_json["problem"]

    with_key = cli("key", "status", "--profile", PROFILE, env={**env, "HOLYSHEEP_API_KEY": GOOD})
    assert (
        with_key.returncode == 0 and "****WXYZ from environment variable HOLYSHEEP_API_KEY" in with_key.stdout
    )
    assert "To give this profile a key" not in with_key.stdout
