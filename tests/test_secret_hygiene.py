"""The key is a secret: a whole session with a known key leaves it in no file, no output, no argv."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from holysheep_tui.simulator import Pacing, RelaySimulator

KEY = "hs-SECRET-e3b0c44298fc1c149afbf4c8"


@pytest.fixture
def relay(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    return make_simulator(require_key=KEY, pacing=Pacing())


def test_a_whole_session_never_writes_or_prints_the_key(
    relay: RelaySimulator, isolated_dirs: Path, cli: Any
) -> None:
    config_dir = isolated_dirs / "config" / "holysheep-tui"
    config_dir.mkdir(parents=True)
    (config_dir / "config.toml").write_text(
        f'default_profile = "团队"\n[profiles."团队"]\nbase_url = "{relay.base_url}"\nmodel = "kimi-k2"\n'
        '[profiles."团队".headers]\n"X-Title" = "holysheep-tui-tests"\n',
        encoding="utf-8",
    )
    outputs: list[str] = []
    exports = isolated_dirs / "exports"

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        proc: subprocess.CompletedProcess[str] = cli(*args, stdin=stdin, env={"HOLYSHEEP_API_KEY": KEY})
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


def test_files_we_create_are_private(relay: RelaySimulator, tmp_path: Path, cli: Any) -> None:
    data = tmp_path / "私有数据"
    env = {"HOLYSHEEP_API_KEY": KEY, "HOLYSHEEP_DATA_DIR": str(data)}
    out = cli("ask", "--base-url", relay.base_url, "-q", "你好", env=env)
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("history.db", "metrics.jsonl"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name


def test_key_never_appears_in_the_process_arguments(relay: RelaySimulator, cli: Any) -> None:
    proc = cli.popen(
        "ask", "--base-url", relay.base_url, "-m", "kimi-k2+tps=30", "慢一点", env={"HOLYSHEEP_API_KEY": KEY}
    )
    try:
        assert proc.stdout is not None
        proc.stdout.read(1)  # running and streaming
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert KEY.encode() not in cmdline
    finally:
        proc.kill()
        proc.communicate(timeout=10)
