"""The first-run screen: no key for the endpoint. Driven by Pilot against a simulator that requires a key.

The keyring is a real keyring plug-in loaded by keyring through PYTHON_KEYRING_BACKEND (a file store
written below, as in test_keys.py); without it the conftest's fail backend stands for "no keyring".
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input, Static

from holysheep_tui import secrets as keys
from holysheep_tui.chat.session import Session
from holysheep_tui.config import Profile, RetryPolicy
from holysheep_tui.economics.metrics import MetricsLog
from holysheep_tui.errors import HolySheepError, KeyMissingError, KeyringError
from holysheep_tui.secrets import keyring_store
from holysheep_tui.simulator import RelaySimulator
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.screens.first_run import FirstRunScreen, key_problem, keyless_session
from holysheep_tui.tui.widgets.prompt import PromptInput

GOOD = "sk-hs-good-0123456789abcdefWXYZ"
BAD = "sk-hs-bad-9876543210zyxwvutQRST"
PROFILE = "团队"

@pytest.fixture(autouse=True)
def fresh_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring_store, "_GUARD", keyring_store._Guard())


@pytest.fixture
def sim(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    return make_simulator(require_key=GOOD)


def profile_for(sim: RelaySimulator) -> Profile:
    return Profile(base_url=sim.base_url, model="kimi-k2", retry=RetryPolicy(max_retries=0))


def missing_key(profile: Profile) -> HolySheepError:
    """What the key lookup really says for this profile (no env variable, nothing in the keyring)."""
    try:
        keys.resolve_key(PROFILE, profile, environ={})
    except (KeyMissingError, KeyringError) as exc:
        return exc
    raise AssertionError("a key was found")


@pytest.fixture
def first_run_app(
    sim: RelaySimulator,
    tmp_path: Path,
    make_session: Callable[..., Session],
    make_app: Callable[..., HolySheepApp],
) -> Callable[[], HolySheepApp]:
    """``first_run_app()``: the app as started with no key for the profile (the first-run screen)."""

    def build() -> HolySheepApp:
        session = make_session(sim, profile=PROFILE)
        metrics = MetricsLog(tmp_path / "metrics.jsonl")
        return make_app(session, metrics=metrics, first_run=missing_key(session.profile))

    return build


def status(app: HolySheepApp) -> str:
    return str(app.screen.query_one("#first-run-status", Static).render())


async def enter_key(pilot: Pilot[None], key: str) -> None:
    app = pilot.app
    field = app.screen.query_one("#first-run-key", Input)
    assert field.has_focus and field.password
    field.value = key
    await pilot.press("enter")


@pytest.fixture
def chat_works(
    wait_until: Callable[..., Awaitable[None]],
) -> Callable[[Pilot[None], HolySheepApp, RelaySimulator | None], Awaitable[None]]:
    """``await chat_works(pilot, app, sim)``: a prompt gets a complete answer (sent with the good key)."""

    async def check(pilot: Pilot[None], app: HolySheepApp, sim: RelaySimulator | None) -> None:
        app.query_one(PromptInput).load_text("你好，密钥可以用了吗？")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.answering and bool(app.conversation.turns), "the answer")
        assert app.conversation.turns[-1].status == "complete"
        if sim is not None:
            chat = [r for r in sim.requests if r.path.endswith("/chat/completions")][-1]
            assert chat.headers["authorization"] == f"Bearer {GOOD}"

    return check


def no_key_on_screen(app: HolySheepApp, *secrets: str) -> None:
    shot = app.export_screenshot()
    for secret in secrets:
        assert secret not in shot


async def test_wrong_key_stays_then_right_key_is_stored_and_chat_works(
    sim: RelaySimulator,
    keyring_file: Path,
    first_run_app: Callable[[], HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    chat_works: Callable[[Pilot[None], HolySheepApp, RelaySimulator | None], Awaitable[None]],
) -> None:
    app = first_run_app()
    async with app.run_test(size=(100, 36)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, FirstRunScreen), "the first-run screen")
        problem = str(app.screen.query_one("#first-run-problem", Static).render())
        assert f"No API key for profile '{PROFILE}'" in problem
        assert [r.path for r in sim.requests] == []  # the app did not call the relay without a key

        await enter_key(pilot, BAD)
        await wait_until(pilot, lambda: "rejected" in status(app), "the rejection")
        assert "The relay rejected this key" in status(app) and "API Key 无效" in status(app)
        assert isinstance(app.screen, FirstRunScreen)
        assert not await asyncio.to_thread(keyring_file.exists)
        no_key_on_screen(app, BAD)

        await enter_key(pilot, GOOD)
        await wait_until(pilot, lambda: not isinstance(app.screen, FirstRunScreen), "the chat screen")
        stored = json.loads(await asyncio.to_thread(keyring_file.read_text, encoding="utf-8"))
        assert stored == {f"holysheep-tui/{PROFILE}": GOOD}
        checks = [r for r in sim.requests if r.path == "/v1/models"]
        assert [r.headers.get("authorization") for r in checks][:2] == [f"Bearer {BAD}", f"Bearer {GOOD}"]
        ready = f"Using the key {keys.mask(GOOD)} (saved in the keyring)."
        await wait_until(pilot, lambda: ready in [n.message for n in app._notifications], "the key notification")
        assert app.session.key_source == "keyring (hs_test_keyring_backends.FileStore)"
        await chat_works(pilot, app, sim)
        no_key_on_screen(app, GOOD, BAD)
    # the next start finds it
    assert keys.resolve_key(PROFILE, profile_for(sim), environ={}).value == keys.Secret(GOOD)


async def test_a_keyring_that_fails_to_save_offers_the_key_for_this_session_only(
    sim: RelaySimulator,
    keyring_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    first_run_app: Callable[[], HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    chat_works: Callable[[Pilot[None], HolySheepApp, RelaySimulator | None], Awaitable[None]],
) -> None:
    # No keyring at all: tests/test_first_run_nokeyring.py. Here one that reads but fails to write.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "hs_test_keyring_backends.Leaky")
    app = first_run_app()
    async with app.run_test(size=(100, 36)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, FirstRunScreen), "the first-run screen")
        session_only = app.screen.query_one("#first-run-session", Button)
        assert not session_only.display
        await enter_key(pilot, GOOD)
        await wait_until(pilot, lambda: "could not be saved" in status(app), "the keyring failure")
        assert "The system keyring failed" in status(app)
        assert "for this session only" in status(app)
        assert session_only.display and session_only.has_focus
        assert app.screen.query_one("#first-run-key", Input).value == ""
        no_key_on_screen(app, GOOD)
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, FirstRunScreen), "the chat screen")
        assert app.session.key_source == "entered on the first-run screen (not saved)"
        await chat_works(pilot, app, sim)
    with pytest.raises(KeyMissingError):
        keys.resolve_key(PROFILE, profile_for(sim), environ={})


async def test_try_the_demo_switches_to_the_simulator(
    sim: RelaySimulator,
    first_run_app: Callable[[], HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    chat_works: Callable[[Pilot[None], HolySheepApp, RelaySimulator | None], Awaitable[None]],
) -> None:
    app = first_run_app()
    async with app.run_test(size=(100, 36)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, FirstRunScreen), "the first-run screen")
        await pilot.click("#first-run-demo")
        await wait_until(pilot, lambda: app.session.is_demo, "the demo session")
        assert not isinstance(app.screen, FirstRunScreen)
        assert "DEMO" in app.sub_title
        assert "DEMO" in str(app.query_one("#status-live", Static).render())
        await chat_works(pilot, app, None)
        assert sim.requests == []  # the real endpoint was never asked
        assert app.controller.metrics is not None and not app.budget.enabled  # logged as profile demo


async def test_locked_keyring_message_is_shown(
    sim: RelaySimulator,
    keyring_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    first_run_app: Callable[[], HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "hs_test_keyring_backends.Locked")
    app = first_run_app()
    assert isinstance(app.first_run, KeyringError)
    async with app.run_test(size=(100, 36)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, FirstRunScreen), "the first-run screen")
        problem = str(app.screen.query_one("#first-run-problem", Static).render())
        assert "The system keyring is locked" in problem and "Unlock the keyring" in problem


async def test_keys_that_cannot_be_keys_are_refused_before_any_request(
    sim: RelaySimulator,
    first_run_app: Callable[[], HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    app = first_run_app()
    async with app.run_test(size=(100, 36)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, FirstRunScreen), "the first-run screen")
        await enter_key(pilot, "sk-钥匙 两行")
        assert "non-ASCII" in status(app)
        await enter_key(pilot, "   ")
        assert status(app) == "Paste the key first."
        assert sim.requests == []


def test_key_problem() -> None:
    assert key_problem(GOOD) is None
    assert key_problem("") == "Paste the key first."
    assert key_problem("sk-abc\nsk-def") is not None
    assert key_problem("密钥") is not None


def test_keyless_session_resolves_the_profile(sim: RelaySimulator) -> None:
    args = argparse.Namespace(profile=None, base_url=sim.base_url, model="deepseek-v3.2")
    session = keyless_session(args)
    assert session.api_key is None and session.profile.base_url == sim.base_url
    assert session.profile.model == "deepseek-v3.2" and not session.is_demo
