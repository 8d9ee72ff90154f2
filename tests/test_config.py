"""Config file, profiles and the order of overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from holysheep_tui import locations
from holysheep_tui.config import DEFAULT_BASE_URL, load_config, resolve_profile
from holysheep_tui.errors import ConfigError, UsageError

GOOD = """
default_profile = "本地"

[profiles."本地"]
base_url = "http://127.0.0.1:8080/v1"
model = "qwen-本地"
headers = { "X-Title" = "team-terminal" }

[profiles."本地".timeouts]
read = 12.5

[profiles.deepseek]
base_url = "https://api.deepseek.com/v1"
model = "deepseek-chat"

[pricing]
market_rate = 7.1
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_means_defaults_and_creates_nothing(tmp_path: Path) -> None:
    config = load_config(tmp_path / "missing.toml")
    assert config.profiles["holysheep"].base_url == DEFAULT_BASE_URL
    assert config.profiles["holysheep"].model == "kimi-k2"
    assert not (tmp_path / "missing.toml").exists()


def test_default_location_follows_xdg(isolated_dirs: Path) -> None:
    assert locations.config_file() == isolated_dirs / "config" / "holysheep-tui" / "config.toml"
    assert not locations.data_dir().exists()  # nothing is created by asking


def test_holysheep_config_points_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, GOOD)
    monkeypatch.setenv("HOLYSHEEP_CONFIG", str(path))
    config = load_config()
    assert config.default_profile == "本地"
    local = config.profiles["本地"]
    assert local.timeouts.read == 12.5 and local.headers == {"X-Title": "team-terminal"}
    assert "holysheep" in config.profiles  # the default profile always exists
    assert config.pricing.market_rate == 7.1


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[profiles.x]\nbase_url = \nmodel = 'kimi-k2'\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and "line 2" in str(info.value)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[profiles.x.timeouts]\nread = 'fast'\n", "profiles.x.timeouts.read"),
        ("[profiles.x]\nbase_url = 'ftp://example.com'\n", "profiles.x.base_url"),
        ("[ui]\ncolour = 'red'\n", "ui.colour"),
        ("[pricing]\ncurrency = 'EUR'\n", "pricing.currency"),
        ("[profiles.x.headers]\nX-Title = '团队终端'\n", "profiles.x.headers"),
    ],
)
def test_wrong_values_name_file_key_and_expectation(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message and f"'{key}'" in message


def test_override_order_flags_then_env_then_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    env = {"HOLYSHEEP_BASE_URL": "http://localhost:9000/v1", "HOLYSHEEP_MODEL": "env-模型"}
    name, p = resolve_profile(config, environ={})
    assert (name, p.base_url, p.model) == ("本地", "http://127.0.0.1:8080/v1", "qwen-本地")
    _, p = resolve_profile(config, environ=env)
    assert (p.base_url, p.model) == ("http://localhost:9000/v1", "env-模型")
    _, p = resolve_profile(config, base_url="http://127.0.0.2:1/v1", model="flag-model", environ=env)
    assert (p.base_url, p.model) == ("http://127.0.0.2:1/v1", "flag-model")
    _, p = resolve_profile(config, profile="deepseek", environ={})
    assert p.model == "deepseek-chat"


def test_unknown_profile_is_a_usage_error(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    with pytest.raises(UsageError, match="deepseek"):
        resolve_profile(config, profile="nope", environ={})


def test_plain_http_refused_for_remote_hosts_unless_allowed(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[profiles.r]\nbase_url = 'http://relay.example.com/v1'\n"))
    with pytest.raises(ConfigError, match="unencrypted"):
        resolve_profile(config, profile="r", environ={})
    config = load_config(
        write(tmp_path, "[profiles.r]\nbase_url = 'http://relay.example.com/v1'\nallow_insecure_http = true\n")
    )
    assert resolve_profile(config, profile="r", environ={})[1].allow_insecure_http


def test_cli_reports_bad_config_in_one_clear_line(tmp_path: Path, cli: Any) -> None:
    path = write(tmp_path, "[profiles.x.timeouts]\nread = -1\n")
    out = cli("ask", "你好", env={"HOLYSHEEP_CONFIG": str(path)})
    assert out.returncode == 9
    assert "Traceback" not in out.stderr
    assert str(path) in out.stderr and "profiles.x.timeouts.read" in out.stderr


def test_bad_flag_gets_one_line_error_and_usage(cli: Any) -> None:
    out = cli("ask", "--no-such-flag")
    assert out.returncode == 2
    assert "usage:" in out.stderr and "unrecognized arguments: --no-such-flag" in out.stderr
