"""The interface's language (issue 18): chosen by --lang, the config or the environment; catalogs that
hold every message the code uses; machine output and exit codes the same in every language."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from holysheep_tui import i18n
from tests.harness import Cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LANG": "zh_CN.UTF-8"}, "zh-CN"),
        ({"LANG": "zh_TW.UTF-8"}, "zh-CN"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"LC_ALL": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "zh-CN"),
        ({"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "zh-CN"),
        ({"LANG": "en_US.UTF-8", "LANGUAGE": "zh_CN:en"}, "zh-CN"),
        ({}, None),
    ],
)
def test_the_environment_chooses_as_posix_orders_it(environ: dict[str, str], expected: str | None) -> None:
    assert i18n.from_environment(environ) == expected


def test_lang_beats_the_config_which_beats_the_environment() -> None:
    zh = {"LANG": "zh_CN.UTF-8"}
    assert i18n.resolve(None, None, zh) == "zh-CN"
    assert i18n.resolve(None, "en", zh) == "en"
    assert i18n.resolve("en", "zh-CN", zh) == "en"
    assert i18n.resolve("zh-CN", None, {"LANG": "C"}) == "zh-CN"
    assert i18n.resolve(None, None, {}) == "en"


def test_a_message_missing_from_the_catalog_falls_back_to_english() -> None:
    i18n.use("zh-CN")
    try:
        assert i18n._("No API key") == "缺少 API 密钥"
        assert i18n._("a message no catalog has") == "a message no catalog has"
        assert i18n.sentences("第一句。", "第二句。") == "第一句。第二句。"
    finally:
        i18n.use("en")
    assert i18n._("No API key") == "No API key"
    assert i18n.sentences("One.", "", "Two.") == "One. Two."


def test_every_message_the_code_uses_is_in_the_chinese_catalog_and_compiled() -> None:
    """Fails when code wraps a new message in _() / N_() / ngettext() and zh_CN's .po lacks it (or its
    compiled .mo is older than the .po): ``scripts/i18n.py`` updates both, a translator fills the .po."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "i18n.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_catalogs_ship_in_the_wheel(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("holysheep_tui-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "holysheep_tui/locale/zh_CN/LC_MESSAGES/holysheep.mo" in names


def test_ask_without_a_key_says_so_in_chinese_with_the_same_exit_code(cli: Cli) -> None:
    """LANG=zh_CN.UTF-8 holysheep ask, no key anywhere: the error in Chinese, the exit code of English."""
    english = cli("ask", "你好")
    chinese = cli("ask", "你好", env={"LANG": "zh_CN.UTF-8"})
    assert english.returncode == chinese.returncode == 3
    assert "No API key" in english.stderr
    assert "缺少 API 密钥" in chinese.stderr and "No API key" not in chinese.stderr
    assert "Traceback" not in chinese.stderr
    forced = cli("ask", "你好", "--lang", "en", env={"LANG": "zh_CN.UTF-8"})
    assert "No API key" in forced.stderr and forced.returncode == 3


def test_the_config_sets_the_language(cli: Cli, isolated_dirs: Path) -> None:
    config = isolated_dirs / "config" / "holysheep-tui" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[ui]\nlanguage = "zh-CN"\n', encoding="utf-8")
    done = cli("ask", "你好", env={"LANG": "C.UTF-8"})
    assert done.returncode == 3 and "缺少 API 密钥" in done.stderr


def test_json_output_is_the_same_in_every_language(cli: Cli) -> None:
    english = cli("ask", "你好", "--json")
    chinese = cli("ask", "你好", "--json", env={"LANG": "zh_CN.UTF-8"})
    assert english.returncode == chinese.returncode == 3
    assert json.loads(english.stdout) == json.loads(chinese.stdout)
    assert "error" in json.loads(chinese.stdout)
