"""The start-up cache as a user meets it: `python -m holysheep_tui` launched twice on a real pseudo-terminal."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from holysheep_tui import locations
from holysheep_tui.config import read_config_bytes
from holysheep_tui.simulator import RelaySimulator
from holysheep_tui.startup import (
    FirstFrame,
    cache_key,
    cached_first_frame,
    launch_flags,
    remember_first_frame,
)

ROOT = Path(__file__).resolve().parents[1]
READY = "F1 keys"
ALT_SCREEN = b"\x1b[?1049h"
ANSWER_END = "以上是模拟器生成的示例回答"
KEY = "sk-startup-pty-secret-7315"
_ESCAPES = re.compile(
    rb"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1bP[^\x1b]*\x1b\\|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()*+][0-9A-Za-z]|\x1b[@-_=>78]"
)


class Pty:
    """``holysheep`` on a fresh 160x48 pseudo-terminal; output is kept whole, escapes dropped for searching."""

    def __init__(self, *argv: str) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "LANG": "C.UTF-8"}
        env.pop("HOLYSHEEP_DEBUG", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "holysheep_tui", *argv], stdin=slave, stdout=slave, stderr=slave,
            env=env, cwd=ROOT, start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        self.master = master
        self.raw = bytearray()

    @property
    def text(self) -> str:
        return _ESCAPES.sub(b"", bytes(self.raw)).decode(errors="replace")

    def _read(self, timeout: float) -> bool:
        """False at the end of the output."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:
            data = b""
        self.raw += data
        return bool(data)

    def wait_for(self, text: str, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while text not in self.text:
            if time.monotonic() > end or not self._read(0.05):
                raise AssertionError(f"never saw {text!r}; output:\n{self.text[-2000:]}")

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait_exit(self, timeout: float = 30) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end and self._read(0.05):
            pass
        return self.proc.wait(timeout=max(1.0, end - time.monotonic()))

    def quit(self) -> int:
        self.type("\x11")  # Ctrl+Q
        return self.wait_exit()

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        with contextlib.suppress(OSError):
            os.close(self.master)


@contextlib.contextmanager
def launched(*argv: str) -> Iterator[Pty]:
    app = Pty(*argv)
    try:
        yield app
    finally:
        app.close()


def demo_args() -> argparse.Namespace:
    return argparse.Namespace(profile=None, base_url=None, model=None, demo=True)


def write_config(text: str) -> Path:
    path = locations.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_second_launch_starts_from_the_cache_and_answers() -> None:
    write_config('[ui]\nfavourite_models = ["通义-max"]\n')
    with launched("--demo") as first:
        first.wait_for(READY)
        assert first.quit() == 0
    assert cached_first_frame(demo_args()) is not None  # the next launch's key matches
    with launched("--demo") as second:
        second.wait_for(READY)
        second.type("你好，请介绍一下价格\r")  # typed as soon as the screen is ready
        second.wait_for(ANSWER_END, timeout=60)
        assert "kimi-k2" in second.text and "你好，请介绍一下价格" in second.text
        assert second.quit() == 0
    assert "Traceback" not in second.text


def test_a_relay_profile_draws_its_screen_before_the_key_lookup_and_then_uses_the_key(
    tmp_path: Path, make_simulator: Callable[..., RelaySimulator]
) -> None:
    """The key command waits for a gate file: the second launch's screen is ready while it still waits."""
    gate, secret = tmp_path / "gate", tmp_path / "secret"
    secret.write_text(KEY, encoding="utf-8")
    command = (
        "import pathlib, sys, time\n"
        f"gate = pathlib.Path({str(gate)!r})\n"
        "for _ in range(600):\n"
        "    if gate.exists(): break\n"
        "    time.sleep(0.05)\n"
        f"print(pathlib.Path({str(secret)!r}).read_text())\n"
    )
    relay = make_simulator(require_key=KEY, pacing=None)  # the demo pacing
    write_config(
        f'default_profile = "本地中转"\n\n[profiles."本地中转"]\nbase_url = "{relay.base_url}"\n'
        f'model = "deepseek-v3.2"\napi_key_cmd = [{sys.executable!r}, "-c", {command!r}]\n'
    )
    gate.touch()
    with launched() as first:
        first.wait_for(READY)
        assert first.quit() == 0
    gate.unlink()
    with launched() as second:
        second.wait_for(READY)
        assert not gate.exists()  # so the key command has not returned: the screen did not wait for it
        assert "deepseek-v3.2" in second.text and "本地中转" in second.text
        gate.touch()
        second.type("你好，中转站\r")
        second.wait_for(ANSWER_END, timeout=60)
        assert second.quit() == 0
    home = Path(os.environ["HOME"])
    digest = hashlib.sha256(KEY.encode()).hexdigest().encode()
    for path in (p for p in home.rglob("*") if p.is_file()):
        data = path.read_bytes()
        assert KEY.encode() not in data and digest not in data, path


def test_a_config_edited_to_a_bad_value_is_reported_before_any_screen() -> None:
    path = write_config('[ui]\ntheme = "nord"\n')
    with launched("--demo") as first:
        first.wait_for(READY)
        assert first.quit() == 0
    path.write_text('[ui]\ntheme = "nord"\n"颜色" = "红"\n', encoding="utf-8")
    with launched("--demo") as second:
        code = second.wait_exit()
    assert code == 9
    assert ALT_SCREEN not in second.raw
    assert str(path) in second.text and "'ui.颜色'" in second.text and "unknown setting" in second.text
    assert "Traceback" not in second.text


def test_a_config_broken_between_the_cache_check_and_the_full_load_exits_9_after_the_first_frame() -> None:
    """The race made deterministic: the cache vouches for the very bytes that turn out invalid."""
    path = write_config('[pricing]\ncurrency = "EUR"\n')
    key = cache_key(launch_flags(demo_args()), path, read_config_bytes(path), os.environ)
    remember_first_frame(key, FirstFrame("demo", "kimi-k2", "http://127.0.0.1/v1", True, "textual-dark"))
    with launched("--demo") as app:
        app.wait_for(READY)  # drawn from the cache
        code = app.wait_exit()
    assert code == 9
    tail = app.text[app.text.rindex(READY) :]
    assert str(path) in tail and "'pricing.currency'" in tail
    assert "Traceback" not in app.text
    assert cached_first_frame(demo_args()) is None  # dropped: the next launch validates first


def test_without_a_key_the_second_launch_opens_the_first_run_screen_after_its_first_frame() -> None:
    write_config('[profiles.holysheep]\nmodel = "kimi-k2-thinking"\n')
    with launched() as first:
        first.wait_for("Welcome to HolySheep")  # the key is looked up before the screen
        assert first.quit() == 0
    with launched() as second:
        second.wait_for("Welcome to HolySheep")
        shown = second.text
        assert READY in shown and shown.index(READY) < shown.index("Welcome to HolySheep")
        assert "kimi-k2-thinking" in shown[: shown.index("Welcome to HolySheep")]
        assert second.quit() == 0
