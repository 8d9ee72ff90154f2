"""The core never imports Textual: the CLI and the app are thin front ends over it."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import holysheep_tui


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(holysheep_tui.__path__, "holysheep_tui."):
        if info.name.startswith("holysheep_tui.tui") or info.name == "holysheep_tui.__main__":
            continue
        names.append(info.name)
    return names


def test_there_is_a_core_to_check() -> None:
    mods = core_modules()
    assert "holysheep_tui.relay.client" in mods and "holysheep_tui.cli" in mods


def test_core_modules_do_not_import_textual() -> None:
    mods = core_modules()
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_cli_help_does_not_import_textual() -> None:
    code = (
        "import sys\nfrom holysheep_tui.cli import build_parser\nbuild_parser()\n"
        "print(any(m.startswith('textual') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_the_app_module_leaves_the_history_store_and_the_network_for_later() -> None:
    """Start-up: the first frame is drawn before the history (sqlite3), the relay client (httpx), the
    conversation controller, attachments (and the store's models) and the metrics log are imported; they
    load after it, in the background or with their first use."""
    code = (
        "import sys\nimport holysheep_tui.cli, holysheep_tui.tui.app\n"
        "late = ('holysheep_tui.store.history', 'sqlite3', 'httpx', 'pydantic', 'holysheep_tui.chat.controller',"
        " 'holysheep_tui.chat.attachments', 'holysheep_tui.store.models', 'holysheep_tui.economics.metrics')\n"
        "print(','.join(m for m in late if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
