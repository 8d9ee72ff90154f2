"""The start-up cache: written after a full load, read without pydantic, keyed on all that chose it."""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from holysheep_tui import locations
from holysheep_tui.errors import ConfigError
from holysheep_tui.startup import FirstFrame, cached_first_frame
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.lifecycle import open_app_session

CONFIG = """
default_profile = "本地"

[profiles."本地"]
base_url = "http://127.0.0.1:9/v1"
model = "qwen-本地"
budget_daily_usd = 2.5

[ui]
theme = "nord"
favourite_models = ["deepseek-chat", "通义-max"]

[pricing]
currency = "USD"
market_rate = 7.1

[pricing.overrides."qwen-本地"]
input = 0.5
output = 1.5
"""
KEY = "sk-startup-secret-4242"


def args(**over: object) -> argparse.Namespace:
    values: dict[str, object] = {"profile": None, "base_url": None, "model": None, "demo": False} | over
    return argparse.Namespace(**values)


@pytest.fixture
def config() -> Path:
    path = locations.config_file()
    path.parent.mkdir(parents=True)
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_a_full_load_leaves_a_private_cache_that_gives_the_same_first_frame(config: Path) -> None:
    session, problem = open_app_session(args())
    assert problem is None
    frame = cached_first_frame(args())
    assert frame == FirstFrame.of(session)
    assert frame is not None and frame.model == "qwen-本地" and frame.theme == "nord"
    assert frame.favourite_models == ("deepseek-chat", "通义-max") and frame.budget_daily_usd == 2.5
    price = frame.price_book().lookup("qwen-本地")
    assert price is not None and (price.input_per_m, price.output_per_m) == (0.5, 1.5)
    cache = locations.startup_cache()
    assert cache.stat().st_mode & 0o777 == 0o600
    assert cache.parent.stat().st_mode & 0o777 == 0o700


def test_the_cache_holds_no_key_nor_its_hash(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOLYSHEEP_API_KEY", KEY)
    session, problem = open_app_session(args())
    assert problem is None and session.api_key == KEY
    home = Path(os.environ["HOME"])
    digests = [hashlib.sha256(KEY.encode()).hexdigest(), hashlib.sha256(KEY.encode()).hexdigest().upper()]
    written = [p for p in home.rglob("*") if p.is_file()]
    assert locations.startup_cache() in written
    for path in written:
        data = path.read_bytes()
        assert KEY.encode() not in data, path
        assert not any(d.encode() in data for d in digests), path


@pytest.mark.parametrize(
    "change",
    [
        "config edited",
        "--model",
        "--profile",
        "--demo",
        "HOLYSHEEP_MODEL",
        "HOLYSHEEP_BASE_URL",
        "HOLYSHEEP_CONFIG",
    ],
)
def test_anything_that_chooses_the_first_frame_changes_the_key(
    config: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, change: str
) -> None:
    open_app_session(args())
    launch = args()
    if change == "config edited":
        config.write_text(CONFIG.replace("qwen-本地", "qwen-新"), encoding="utf-8")
    elif change.startswith("--"):
        value: object = True if change == "--demo" else "holysheep" if change == "--profile" else "别的模型"
        launch = args(**{change[2:]: value})
    elif change == "HOLYSHEEP_CONFIG":
        other = tmp_path / "其他.toml"
        other.write_text(CONFIG, encoding="utf-8")
        monkeypatch.setenv(change, str(other))
    else:
        monkeypatch.setenv(change, "http://127.0.0.1:10/v1" if "URL" in change else "环境-模型")
    assert cached_first_frame(launch) is None


def test_a_different_key_in_the_environment_keeps_the_cache(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOLYSHEEP_API_KEY", KEY)
    open_app_session(args())
    monkeypatch.setenv("HOLYSHEEP_API_KEY", "sk-another-key-0000")
    assert cached_first_frame(args()) is not None


@pytest.mark.parametrize(
    "damage",
    ["garbage", "truncated", "not an object", "wrong type", "missing field", "directory"],
)
def test_a_damaged_cache_is_a_miss_and_the_next_full_load_repairs_it(config: Path, damage: str) -> None:
    open_app_session(args())
    cache = locations.startup_cache()
    text = cache.read_text(encoding="utf-8")
    record = json.loads(text)
    if damage == "garbage":
        cache.write_bytes(b"\xff\xfe\x00 " + "缓存损坏".encode())
    elif damage == "truncated":
        cache.write_text(text[: len(text) // 2], encoding="utf-8")
    elif damage == "not an object":
        cache.write_text("[1, 2, 3]", encoding="utf-8")
    elif damage == "wrong type":
        record["frame"]["relay_rate"] = "一"
        cache.write_text(json.dumps(record), encoding="utf-8")
    elif damage == "missing field":
        del record["frame"]["theme"]
        cache.write_text(json.dumps(record), encoding="utf-8")
    else:
        cache.unlink()
        cache.mkdir()
    assert cached_first_frame(args()) is None
    if damage == "directory":
        cache.rmdir()
    open_app_session(args())
    assert cached_first_frame(args()) is not None


def test_reading_the_cache_and_drawing_the_first_frame_import_no_pydantic(config: Path) -> None:
    """pydantic is first imported by the full load that starts after the first frame."""
    open_app_session(args())
    script = """
import argparse, functools, sys
from holysheep_tui.startup import cached_first_frame
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.lifecycle import open_app_session

args = argparse.Namespace(profile=None, base_url=None, model=None, demo=False)
frame = cached_first_frame(args)
assert frame is not None, "cache miss"
seen = {}

def later():
    seen["pydantic before the full load"] = "pydantic" in sys.modules
    seen["first frame drawn"] = app._started
    return open_app_session(args)

app = HolySheepApp(frame, open_later=later, cursor_blink=False)

async def main():
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(200):
            if app.open_session is not None:
                break
            await pilot.pause(0.05)
        seen["model"] = app.session.profile.model
        seen["pydantic after"] = "pydantic" in sys.modules

import asyncio
asyncio.run(main())
print(seen)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=os.environ
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(
        {
            "pydantic before the full load": False,
            "first frame drawn": True,
            "model": "qwen-本地",
            "pydantic after": True,
        }
    )


def write_bad(config: Path) -> None:
    config.write_text(CONFIG.replace("budget_daily_usd = 2.5", "budget_daily_usd = -1"), encoding="utf-8")


async def test_a_config_broken_after_the_cache_was_read_ends_the_app_with_its_error(
    config: Path, make_app: Callable[..., HolySheepApp], wait_until: Callable[..., Awaitable[None]]
) -> None:
    """The file is edited between the cache check and the full load: exit 9 with the clear error."""
    session, _ = open_app_session(args())
    frame = FirstFrame.of(session)
    write_bad(config)
    app = make_app(frame, open_later=functools.partial(open_app_session, args()))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.startup_error is not None, "the start-up error")
    assert app.return_code == 9
    assert isinstance(app.startup_error, ConfigError)
    assert str(config) in str(app.startup_error) and "profiles.本地.budget_daily_usd" in str(
        app.startup_error
    )
    assert not locations.startup_cache().exists()  # the next launch validates before its screen
