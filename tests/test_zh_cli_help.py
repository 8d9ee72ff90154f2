"""``--help`` in Chinese laid out in terminal cells, and ``--lang`` taken wherever it stands (issue 18).

argparse measures with ``len()``: a Chinese character counts one but takes two cells, so Chinese help ran
to twice the terminal's width and broke only at spaces. Each test runs ``holysheep`` as a subprocess.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from holysheep_tui import i18n
from holysheep_tui.cli import build_parser
from holysheep_tui.errors import EXIT_OK, EXIT_USAGE
from holysheep_tui.linebreak import cell_len
from tests.harness import Cli

ZH = {"LANG": "zh_CN.UTF-8", "COLUMNS": "60"}
EN = {"COLUMNS": "60"}
NO_BREAK_BEFORE = "，。、；：？！）」』”…"


def _subparsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield sub
                yield from _subparsers(sub)


def test_chinese_ask_help_fits_60_cells_and_breaks_between_characters(cli: Cli) -> None:
    done = cli("ask", "--help", env=ZH)
    assert done.returncode == EXIT_OK, done.stderr
    lines = done.stdout.splitlines()
    too_wide = [line for line in lines if cell_len(line) > 60]
    assert not too_wide, "\n".join(too_wide)
    # The description, once a single 107-cell line, now fills lines and breaks between characters.
    assert lines[lines.index("") + 1].startswith("发送一条提示词，回答以流式输出到标准输出。")
    assert sum(1 for line in lines if cell_len(line) >= 50 and not line.isascii()) >= 5
    starts = [line.strip()[0] for line in lines if line.strip()]
    assert not [ch for ch in starts if ch in NO_BREAK_BEFORE], "a line starts with ，or ）"
    # Continued usage lines stand under the first option, after the wide 用法：(6 cells, not 3).
    assert lines[0].startswith("用法：holysheep ask [-h]")
    first_option = cell_len(lines[0][: lines[0].index("[-h]")])
    assert lines[1].startswith(" " * first_option + "[") and lines[1][first_option - 1] == " "
    # Section headings end with a full-width colon, as Chinese writes them.
    assert "位置参数：" in lines and "选项：" in lines and "接入点：" in lines
    assert "http://127.0.0.1:8080/v1" in done.stdout  # a URL is never split


@pytest.mark.parametrize(
    "args",
    [("--help",), ("history", "list", "--help"), ("export", "--help"), ("key", "set", "--help")],
)
def test_chinese_help_of_each_command_fits(cli: Cli, args: tuple[str, ...]) -> None:
    done = cli(*args, env=ZH)
    assert done.returncode == EXIT_OK, done.stderr
    assert done.stdout.startswith("用法：holysheep")
    # argparse leaves an option's invocation whole (export's "--format {md,...}, -f {md,...}" is as
    # wide in English): every line with Chinese in it fits.
    too_wide = [line for line in done.stdout.splitlines() if cell_len(line) > 60 and not line.isascii()]
    assert not too_wide, "\n".join(too_wide)


def test_english_help_keeps_argparse_shape(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """English goes through argparse's own wrapping: the same bytes its plain formatter gives."""
    monkeypatch.setenv("COLUMNS", "60")  # argparse's width, in this process as in the subprocess
    i18n.use("en")
    ask = next(p for p in _subparsers(build_parser()) if p.prog == "holysheep ask")
    ours = cli("ask", "--help", env=EN)
    assert ours.returncode == EXIT_OK
    ask.formatter_class = argparse.HelpFormatter
    assert ours.stdout == ask.format_help()
    assert ours.stdout.startswith("usage: holysheep ask [-h]")
    assert "positional arguments:\n" in ours.stdout and "options:\n" in ours.stdout
    assert max(map(len, ours.stdout.splitlines())) <= 60


@pytest.mark.parametrize(
    ("args", "english", "chinese", "code"),
    [
        (("history", "list"), "No conversations yet.", "还没有对话。", EXIT_OK),
        (("history", "search", "人民币"), "No messages contain", "没有消息包含 '人民币'", EXIT_OK),
        (("history", "show", "不存在"), "No such conversation", "对话不存在", EXIT_USAGE),
        (("stats",), "No requests", "没有请求记录", EXIT_OK),
    ],
)
def test_lang_is_taken_after_the_action(
    cli: Cli, args: tuple[str, ...], english: str, chinese: str, code: int
) -> None:
    """``history list --lang zh-CN`` was refused ("unrecognized arguments"): each action takes it now."""
    before = cli(*args)
    after = cli(*args, "--lang", "zh-CN")
    assert before.returncode == after.returncode == code, after.stderr
    assert english.lower() in (before.stdout + before.stderr).lower()
    assert chinese in after.stdout + after.stderr
    assert "unrecognized" not in after.stderr and "无法识别" not in after.stderr
    back = cli(*args, "--lang=en", env={"LANG": "zh_CN.UTF-8"})
    assert back.returncode == code and english.lower() in (back.stdout + back.stderr).lower()


def test_every_command_and_action_accepts_lang() -> None:
    parser = build_parser()
    subparsers = list(_subparsers(parser))
    assert {"holysheep history list", "holysheep simulate", "holysheep key"} <= {p.prog for p in subparsers}
    missing = [p.prog for p in subparsers if "--lang" not in p._option_string_actions]
    assert not missing, missing


def test_simulate_help_in_chinese_by_lang(cli: Cli) -> None:
    done = cli("simulate", "--help", "--lang", "zh-CN", env=EN)
    assert done.returncode == EXIT_OK, done.stderr
    assert done.stdout.startswith("用法：holysheep simulate") and "--lang {en,zh-CN}" in done.stdout
