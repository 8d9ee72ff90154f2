"""The key is a secret: a whole session with a known key leaves it in no file, no output, no argv."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from holysheep_tui.simulator import Pacing, RelaySimulator

KEY = "hs-SECRET-e3b0c44298fc1c149afbf4c8"


@pytest.fixture
def relay() -> Iterator[RelaySimulator]:
    with RelaySimulator(require_key=KEY, pacing=Pacing()) as sim:
        yield sim


def test_a_whole_session_never_writes_or_prints_the_key(relay: RelaySimulator, isolated_dirs: Path) -> None:
    config_dir = isolated_dirs / "config" / "holysheep-tui"
    config_dir.mkdir(parents=True)
    (config_dir / "config.toml").write_text(
        f'default_profile = "团队"\n[profiles."团队"]\nbase_url = "{relay.base_url}"\nmodel = "kimi-k2"\n'
        '[profiles."团队".headers]\n"X-Title" = "holysheep-tui-tests"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "HOLYSHEEP_API_KEY": KEY}
    outputs: list[str] = []
    exports = isolated_dirs / "exports"

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "holysheep_tui", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        outputs.extend([proc.stdout, proc.stderr])
        return proc

    assert run("ask", "用中文解释一下成本").returncode == 0
    assert run("ask", "--json", "-m", "kimi-k2+429", "--max-retries", "0", "会被限流").returncode == 5
    assert run("ask", "-m", "kimi-k3", "不存在的模型").returncode == 6
    assert run("ask", "-m", "kimi-k2+cut", "半截回答").returncode == 7
    assert run("ask", "--base-url", relay.base_url, "-m", "kimi-k2+401", "坏钥匙").returncode == 3
    assert run("models").returncode == 0
    exports.mkdir(mode=0o700)
    for fmt in ("md", "json", "html", "txt", "openai"):
        assert run("export", "--last", "--format", fmt, "-o", str(exports / f"会话.{fmt}")).returncode == 0
    assert run("history", "list", "--json").returncode == 0
    assert run("history", "search", "成本").returncode == 0
    assert run("stats", "--json").returncode == 0
    assert run("key", "status").returncode == 0

    # The key did reach the configured relay, and only as a bearer token.
    assert all(r.headers.get("authorization") == f"Bearer {KEY}" for r in relay.requests)

    written = [p for p in isolated_dirs.rglob("*") if p.is_file()]
    assert any(p.name == "history.db" for p in written) and any(p.name == "metrics.jsonl" for p in written)
    needle = KEY.encode()
    tail = KEY[-8:].encode()
    for path in written:
        data = path.read_bytes()
        assert needle not in data, f"key found in {path}"
        assert tail not in data, f"part of the key found in {path}"
    for text in outputs:
        assert KEY not in text and KEY[-8:] not in text
        assert "Traceback" not in text


def test_files_we_create_are_private(relay: RelaySimulator, isolated_dirs: Path, tmp_path: Path) -> None:
    data = tmp_path / "私有数据"
    env = {**os.environ, "HOLYSHEEP_API_KEY": KEY, "HOLYSHEEP_DATA_DIR": str(data)}
    out = subprocess.run(
        [sys.executable, "-m", "holysheep_tui", "ask", "--base-url", relay.base_url, "-q", "你好"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("history.db", "metrics.jsonl"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name


def test_key_never_appears_in_the_process_arguments(relay: RelaySimulator) -> None:
    env = {**os.environ, "HOLYSHEEP_API_KEY": KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "holysheep_tui", "ask", "--base-url", relay.base_url, "-m", "kimi-k2+tps=30", "慢一点"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        proc.stdout.read(1)  # running and streaming
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert KEY.encode() not in cmdline
    finally:
        proc.kill()
        proc.communicate(timeout=10)
