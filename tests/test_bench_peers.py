"""bench/peers.py, the parts that need no network: the peers' configuration points at the loopback
simulator, carries no real key, and their environment cannot leave loopback."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SIM_URL = "http://127.0.0.1:43117/v1"
REAL_KEY = "sk-real-真的密钥-0123456789"


@pytest.fixture(scope="module")
def peers() -> ModuleType:
    """bench/peers.py as a module (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_peers_under_test", BENCH / "peers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def test_llm_models_file_points_each_speed_at_the_simulator_without_a_key(peers: ModuleType) -> None:
    models = ["kimi-k2+len=4000,tps=100", "kimi-k2+len=4000,fast", "模型-甲+len=10,fast"]
    text = peers.llm_models_yaml(SIM_URL, models)
    entries = json.loads(text)  # JSON is YAML: llm's yaml.safe_load reads it as written
    assert [e["model_name"] for e in entries] == models
    assert {e["api_base"] for e in entries} == {SIM_URL}
    assert {e["api_key_name"] for e in entries} == {peers.KEY_NAME}
    ids = [e["model_id"] for e in entries]
    assert len(set(ids)) == len(ids)
    assert all(i.isascii() and " " not in i for i in ids)
    assert not any("api_key" in e for e in entries)
    assert peers.PLACEHOLDER_KEY not in text


def test_oterm_config_names_the_simulator_and_refers_to_the_key_by_variable(peers: ModuleType) -> None:
    config = peers.oterm_config(SIM_URL)
    endpoint = config["openaiCompatible"][peers.KEY_NAME]
    assert endpoint == {"base_url": SIM_URL, "api_key": "${" + peers.OTERM_KEY_ENV + "}"}
    assert config["splash-screen"] is False
    assert peers.PLACEHOLDER_KEY not in json.dumps(config, ensure_ascii=False)


def test_peer_environment_drops_our_secrets_and_closes_every_way_off_loopback(
    peers: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPENAI_API_KEY", "HOLYSHEEP_API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, REAL_KEY)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    home = tmp_path / "家"
    env = peers.peer_env(home, OPENAI_API_KEY=peers.PLACEHOLDER_KEY)
    assert REAL_KEY not in env.values()
    assert env["OPENAI_API_KEY"] == peers.PLACEHOLDER_KEY
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        assert env[name].startswith("http://127.0.0.1:")
    assert "127.0.0.1" in env["NO_PROXY"].split(",")
    assert env["HOME"] == str(home)


def test_an_installed_peer_is_reused_without_running_pip(peers: ModuleType, tmp_path: Path) -> None:
    exe = tmp_path / "llm" / "bin" / "llm"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\necho 已安装\n", encoding="utf-8")
    assert peers.install("llm", 0.0, tmp_path) == (exe, "")


def test_llm_chat_is_busy_until_its_prompt_returns(peers: ModuleType) -> None:
    streaming = "Chatting with sim-len-4000-tps-100\n> 请写一篇很长的回答\n## 成本对比\n- 人民币结算\n\n"
    assert peers._llm_busy(streaming)
    assert not peers._llm_busy(streaming + "> \n\n\n")
