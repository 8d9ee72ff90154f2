"""Hostile settings: values in the config file, flags and environment that crashed or leaked secrets.

Every case runs ``holysheep`` as a real subprocess in the isolated environment; relays are the simulator
on loopback. A bad setting is one clear line and its exit code, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from holysheep_tui.errors import EXIT_AUTH, EXIT_CONFIG, EXIT_USAGE
from holysheep_tui.simulator import RelaySimulator

Run = Callable[..., subprocess.CompletedProcess[str]]
PASSWORD = "hunter2mima"
KEY_IN_STDERR = "sk-live-Q7x9ZpL3mN8vR2tY6wK4"


@pytest.fixture
def with_config(cli: Any, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``with_config(toml, *args, stdin="", **env)``: the CLI with this config file."""

    def run(toml: str, *args: str, stdin: str | None = "", **env: str) -> subprocess.CompletedProcess[str]:
        config = tmp_path / "配置.toml"
        config.write_text(toml, encoding="utf-8")
        return cli(*args, stdin=stdin, env={"HOLYSHEEP_CONFIG": str(config), **env})

    return run


def toml_str(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def chat_requests(sim: RelaySimulator) -> int:
    return sum(1 for r in sim.requests if r.path.endswith("/chat/completions"))


# ---- 16: settings that crashed now exit 9 -----------------------------------------------------------


def _not_a_certificate(tmp_path: Path) -> str:
    fake = tmp_path / "不是证书.pem"
    fake.write_text("这只是一段中文说明，不是 PEM 证书。\n", encoding="utf-8")
    return str(fake)


@pytest.mark.parametrize(
    ("profile", "words"),
    [
        (lambda _t: 'base_url = "https://api.holysheep.ai:99999/v1"', ["base_url", "port"]),
        (lambda _t: 'base_url = "https://api.holysheep.ai\\u0000/v1"', ["base_url", "control characters"]),
        (lambda t: f"ca_bundle = {toml_str(str(t / '没有这个文件.pem'))}", ["ca_bundle", "cannot be read"]),
        (lambda t: f"ca_bundle = {toml_str(_not_a_certificate(t))}", ["ca_bundle", "no PEM certificate"]),
        (lambda t: f"ca_bundle = {toml_str(str(t))}", ["ca_bundle"]),
    ],
    ids=["port-99999", "nul-in-base-url", "ca-bundle-missing", "ca-bundle-not-a-cert", "ca-bundle-a-folder"],
)
@pytest.mark.parametrize("command", [["ask", "你好"], []], ids=["ask", "app"])
def test_a_bad_setting_exits_9_with_one_clear_message(
    with_config: Run, tmp_path: Path, profile: Callable[[Path], str], words: list[str], command: list[str]
) -> None:
    toml = f"[profiles.holysheep]\n{profile(tmp_path)}\n"
    out = with_config(toml, *command, HOLYSHEEP_API_KEY="hs-设置测试-0123456789")
    assert out.returncode == EXIT_CONFIG, out.stderr
    assert all(w in out.stderr for w in words), out.stderr
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) <= 3


def test_simulate_with_a_port_out_of_range_is_a_usage_error(cli: Any) -> None:
    out = cli("simulate", "--port", "99999")
    assert out.returncode == EXIT_USAGE, out.stderr
    assert "--port" in out.stderr and "65535" in out.stderr
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr


# ---- 11: user info in base_url is never shown or stored ---------------------------------------------


def _files_holding(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


@pytest.mark.parametrize("where", ["config", "flag", "env"])
@pytest.mark.parametrize("command", [["ask", "密码测试：你好"], []], ids=["ask", "app"])
def test_a_password_in_base_url_is_refused_and_never_shown_or_stored(
    simulator: RelaySimulator,
    with_config: Run,
    isolated_dirs: Path,
    tmp_path: Path,
    where: str,
    command: list[str],
) -> None:
    url = simulator.base_url.replace("http://", f"http://alice:{PASSWORD}@")
    toml, flags, env = "", [], {}
    if where == "config":
        toml = f"[profiles.holysheep]\nbase_url = {toml_str(url)}\n"
    elif where == "flag":
        flags = ["--base-url", url]
    else:
        env = {"HOLYSHEEP_BASE_URL": url}
    args = [*command[:1], *flags, *command[1:]]
    out = with_config(toml, *args, **env)
    assert out.returncode == (EXIT_CONFIG if where == "config" else EXIT_USAGE), out.stderr
    assert "user name or password" in out.stderr and "***@" in out.stderr
    assert PASSWORD not in out.stderr + out.stdout and "alice" not in out.stderr + out.stdout
    assert chat_requests(simulator) == 0
    assert _files_holding(isolated_dirs, PASSWORD) == []  # no history, start-up cache or metrics line has it


# ---- 13: api_key_cmd ---------------------------------------------------------------------------------


def _key_command(tmp_path: Path, body: str) -> str:
    script = tmp_path / "取钥匙.py"
    script.write_text(body, encoding="utf-8")
    return f"api_key_cmd = [{toml_str(sys.executable)}, {toml_str(str(script))}]"


def test_a_failing_key_command_is_shown_without_escapes_or_the_key(with_config: Run, tmp_path: Path) -> None:
    body = (
        "import sys\n"
        "sys.stderr.write('\\x1b]0;标题被改了\\x07\\x1b[31m')\n"
        f"sys.stderr.write('解密失败：密钥 {KEY_IN_STDERR} 已过期\\x1b[0m\\n')\n"
        "sys.exit(1)\n"
    )
    toml = f'[profiles.holysheep]\nbase_url = "https://relay.invalid/v1"\n{_key_command(tmp_path, body)}\n'
    out = with_config(toml, "ask", "你好")
    assert out.returncode == EXIT_AUTH, out.stderr
    assert "failed with exit status 1" in out.stderr and "解密失败" in out.stderr
    assert "\x1b" not in out.stderr and "\x07" not in out.stderr
    assert KEY_IN_STDERR not in out.stderr and KEY_IN_STDERR[8:] not in out.stderr


def test_a_key_command_printing_megabytes_is_stopped_before_any_request(
    simulator: RelaySimulator, with_config: Run, tmp_path: Path
) -> None:
    body = "import sys\nsys.stdout.write('钥' * (2 * 1024 * 1024))\n"  # one 6 MB line, no newline
    toml = (
        f"[profiles.holysheep]\nbase_url = {toml_str(simulator.base_url)}\n{_key_command(tmp_path, body)}\n"
    )
    out = with_config(toml, "ask", "你好")
    assert out.returncode == EXIT_AUTH, out.stderr
    assert "more than 64 KiB" in out.stderr and "Traceback" not in out.stderr
    assert chat_requests(simulator) == 0


def test_a_failing_key_command_is_reported_for_a_loopback_relay_too(
    simulator: RelaySimulator, with_config: Run, tmp_path: Path
) -> None:
    body = "import sys\nsys.stderr.write('钥匙串已锁定\\n')\nsys.exit(2)\n"
    toml = (
        f"[profiles.holysheep]\nbase_url = {toml_str(simulator.base_url)}\n{_key_command(tmp_path, body)}\n"
    )
    out = with_config(toml, "ask", "你好")
    assert out.returncode == EXIT_AUTH, out.stderr
    assert "api_key_cmd" in out.stderr and "钥匙串已锁定" in out.stderr
    assert chat_requests(simulator) == 0


def test_a_nul_byte_in_the_key_command_is_a_clear_error(with_config: Run) -> None:
    toml = (
        '[profiles.holysheep]\nbase_url = "https://relay.invalid/v1"\napi_key_cmd = ["pass\\u0000", "show"]\n'
    )
    out = with_config(toml, "ask", "你好")
    assert out.returncode == EXIT_AUTH, out.stderr
    assert (
        "api_key_cmd" in out.stderr and "Traceback" not in out.stderr and "internal error" not in out.stderr
    )


def test_a_start_up_cache_holding_a_password_is_dropped_unread() -> None:
    """A cache an older release wrote while it let user info into base_url: never drawn, and deleted."""
    import argparse

    from holysheep_tui import locations
    from holysheep_tui.startup import cached_first_frame

    cache = locations.startup_cache()
    cache.parent.mkdir(parents=True, exist_ok=True)
    frame = {
        "profile_name": "holysheep",
        "model": "kimi-k2",
        "base_url": f"https://alice:{PASSWORD}@中继.example/v1",
    }
    cache.write_text(json.dumps({"key": "旧版本", "frame": frame}, ensure_ascii=False), encoding="utf-8")
    args = argparse.Namespace(profile=None, base_url=None, model=None, demo=False)
    assert cached_first_frame(args) is None
    assert not cache.exists()
