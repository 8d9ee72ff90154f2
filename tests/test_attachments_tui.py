"""Attachments in the app, driven by keys as a person would: F10 and a path typed with Tab completion,
a pasted path (a terminal's drag-and-drop), chips above the prompt removed by key and by mouse, an image
sent to a model that reads images (the simulator's request shows the image part), an image refused for a
text-only model before any request, errors said in the dialog, and chips on a reopened conversation.

The app runs under Pilot against the relay simulator on loopback, over a real history file.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual import events
from textual.message import Message
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from holysheep_tui import locations
from holysheep_tui.simulator import RecordedRequest, RelaySimulator
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.screens.attach import AttachScreen, PathInput
from holysheep_tui.tui.screens.model_picker import IMAGE_MARK, ModelPicker
from holysheep_tui.tui.widgets.chips import AttachmentChips
from holysheep_tui.tui.widgets.conversation import UserMessage
from holysheep_tui.tui.widgets.prompt import PromptInput

Wait = Callable[..., Awaitable[None]]
PNG = b"\x89PNG\r\n\x1a\n"
QUESTION = "这张图片里有什么？"


def png(path: Path, size: int) -> bytes:
    """An image file as the app knows images: PNG by its first bytes, ``size`` bytes in all."""
    data = PNG + bytes(i % 251 for i in range(size - len(PNG)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def chips(app: HolySheepApp) -> AttachmentChips:
    return app.query_one(AttachmentChips)


def chip_text(app: HolySheepApp) -> str:
    return str(chips(app).render())


def notices(app: HolySheepApp) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


def last_user_content(request: RecordedRequest) -> Any:
    return [m for m in request.json["messages"] if m["role"] == "user"][-1]["content"]


async def test_attach_with_tab_completion_remove_a_chip_send_an_image_and_see_the_chips_after_a_restart(
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Any],
    simulator: RelaySimulator,
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
    wait_until: Wait,
    tmp_path: Path,
) -> None:
    image = png(tmp_path / "图片" / "小猫.png", 240 * 1024)
    (tmp_path / "图片" / "笔记.md").write_text("# 笔记\n猫喜欢鱼。\n", encoding="utf-8")
    db = locations.history_db()
    app = make_app(make_session(model="gpt-4.1"), store=db)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f10")
        await wait_until(pilot, lambda: isinstance(app.screen, AttachScreen), "the attach dialog")
        path = app.screen.query_one(PathInput)
        path.value = f"{tmp_path}/图"
        await pilot.press("tab")  # one folder starts so: completed, with its slash
        assert path.value == f"{tmp_path}/图片/"
        await pilot.press("tab")  # two files: nothing more in common, both listed
        listed = app.screen.query_one("#attach-matches")
        assert path.value == f"{tmp_path}/图片/"
        assert [o.id for o in listed.options] == ["小猫.png", "笔记.md"]  # type: ignore[attr-defined]
        await pilot.press("小", "tab")
        assert path.value == f"{tmp_path}/图片/小猫.png"
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, AttachScreen), "the dialog closed")
        await wait_until(pilot, lambda: len(app.attachments) == 1, "the image attached")
        assert chips(app).display
        assert "[Image #1 小猫.png 240 KB]" in chip_text(app)

        # A second file, picked from the list with Down and Enter, then removed with Shift+Tab, Right, Delete.
        await pilot.press("f10")
        await wait_until(pilot, lambda: isinstance(app.screen, AttachScreen), "the attach dialog")
        app.screen.query_one(PathInput).value = f"{tmp_path}/图片/"
        await pilot.pause()
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: len(app.attachments) == 2, "the note attached")
        assert "[File #2 笔记.md 1 KB]" in chip_text(app)
        await pilot.press("shift+tab")
        assert app.focused is chips(app)
        await pilot.press("right", "delete")
        await wait_until(pilot, lambda: len(app.attachments) == 1, "the note removed")
        assert "笔记.md" not in chip_text(app)
        await pilot.press("escape")  # back to the prompt
        assert isinstance(app.focused, PromptInput)

        # Sent: the request carries the image part, the prompt shows its chip, the row is cleared.
        app.query_one(PromptInput).load_text(QUESTION)
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.answering and bool(app.view.answers()), "the answer")
        content = last_user_content(chats(simulator)[-1])
        assert content[0] == {"type": "text", "text": QUESTION}
        url = content[1]["image_url"]["url"]
        assert url == "data:image/png;base64," + base64.b64encode(image).decode()
        sent = app.view.query(UserMessage).last()
        assert "[Image #1 小猫.png 240 KB]" in str(sent.render())
        assert app.attachments == ()
        assert not chips(app).display
        # Asked again (Ctrl+R): the prompt goes with its image once more.
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: len(chats(simulator)) == 2 and not app.answering, "the answer again")
        assert last_user_content(chats(simulator)[-1])[1]["image_url"]["url"] == url
        conv_id = app.chat.conversation.id
        assert conv_id is not None

    again = make_app(make_session(model="gpt-4.1"), store=db)
    async with again.run_test(size=(120, 40)) as pilot:
        await again.open_conversation(conv_id)
        await wait_until(pilot, lambda: bool(again.view.answers()), "the conversation reopened")
        reopened = again.view.query(UserMessage).last()
        assert "[Image #1 小猫.png 240 KB]" in str(reopened.render())
        assert [a.data for a in again.chat.conversation.turns[-1].attachments] == [image]


async def test_an_image_for_a_text_only_model_is_refused_before_any_request_and_the_prompt_stays(
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Any],
    simulator: RelaySimulator,
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
    wait_until: Wait,
    tmp_path: Path,
) -> None:
    png(tmp_path / "截图 一.png", 2048)
    app = make_app(make_session(model="gpt-4.1"))
    async with app.run_test(size=(120, 40)) as pilot:
        prompt = app.query_one(PromptInput)
        # What a terminal pastes when a file is dropped on it: the path, quoted (it has a space).
        app.post_message(events.Paste(f"'{tmp_path}/截图 一.png'"))
        await wait_until(pilot, lambda: len(app.attachments) == 1, "the pasted path attached")
        assert prompt.text == ""  # attached, not typed
        assert "attaching, not typing" in notices(app)
        assert "[Image #1 截图 一.png 2 KB]" in chip_text(app)

        # The picker marks the models that read images and says which can take the one attached.
        await wait_until(pilot, lambda: bool(app.relay_models), "the relay's models")
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), "the picker")
        picker = app.screen
        help_line = str(picker.query_one("#model-images", Static).render())
        assert "1 image attached" in help_line and "gpt-4.1" in help_line and "deepseek" not in help_line
        rows = {r.id: r for r in picker.rows}  # type: ignore[attr-defined]
        assert IMAGE_MARK in rows["gpt-4.1"].label() and IMAGE_MARK not in rows["deepseek-v3.2"].label()
        await pilot.press(*"deepseek-v3.2", "enter")
        await wait_until(pilot, lambda: app.chat.model == "deepseek-v3.2", "the text-only model chosen")

        before = len(chats(simulator))
        prompt.load_text(QUESTION)
        await pilot.press("enter")
        await wait_until(pilot, lambda: "does not read images" in notices(app), "the refusal")
        text = notices(app)
        assert "deepseek-v3.2 does not read images, so nothing was sent" in text
        assert "gpt-4.1" in text and "remove the image (Shift+Tab, then Delete)" in text
        assert prompt.text == QUESTION  # nothing lost
        assert len(app.attachments) == 1 and not app.answering
        assert len(chats(simulator)) == before  # no request left the app
        assert not app.view.query(UserMessage)

        # The way out: remove the image, and the same prompt goes to the same model.
        await pilot.press("shift+tab", "delete")
        await wait_until(pilot, lambda: not app.attachments, "the image removed")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.answering and bool(app.view.answers()), "the answer")
        assert last_user_content(chats(simulator)[-1]) == QUESTION


async def test_a_missing_file_is_said_in_the_dialog_and_esc_keeps_the_prompt(
    make_app: Callable[..., HolySheepApp], wait_until: Wait, tmp_path: Path
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(PromptInput).load_text("先写一半的问题")
        await pilot.press("f10")
        await wait_until(pilot, lambda: isinstance(app.screen, AttachScreen), "the attach dialog")
        screen = app.screen
        missing = f"{tmp_path}/没有这个文件.png"
        screen.query_one(PathInput).value = missing
        await pilot.press("enter")
        status = screen.query_one("#attach-status", Static)
        await wait_until(pilot, lambda: "No such file" in str(status.render()), "the error in the dialog")
        assert "没有这个文件.png" in str(status.render())
        assert isinstance(app.screen, AttachScreen) and screen.query_one(PathInput).value == missing
        (tmp_path / "二进制.bin").write_bytes(b"\x00\x01\x02 not text")
        screen.query_one(PathInput).value = f"{tmp_path}/二进制.bin"
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: "neither a text file" in str(status.render()), "the not-text error in the dialog"
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, AttachScreen), "the dialog closed")
        assert app.query_one(PromptInput).text == "先写一半的问题"
        assert app.attachments == ()


async def test_a_paste_that_is_not_only_paths_of_existing_files_is_typed(
    make_app: Callable[..., HolySheepApp], wait_until: Wait, tmp_path: Path
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        prompt = app.query_one(PromptInput)
        for text in (f"看看 {tmp_path}/a.png", f"{tmp_path}/不存在.png"):
            prompt.load_text("")
            app.post_message(events.Paste(text))
            await wait_until(pilot, lambda t=text: prompt.text == t, "the paste typed")
        assert app.attachments == ()


async def test_a_ten_megabyte_image_is_read_in_a_worker_thread(
    make_app: Callable[..., HolySheepApp], wait_until: Wait, tmp_path: Path
) -> None:
    big = png(tmp_path / "大图.png", 10 * 1024 * 1024)
    workers: list[Worker[Any]] = []

    def hook(message: Message) -> None:
        if isinstance(message, Worker.StateChanged) and message.state == WorkerState.RUNNING:
            workers.append(message.worker)

    app = make_app()
    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        await pilot.press("f10")
        await wait_until(pilot, lambda: isinstance(app.screen, AttachScreen), "the attach dialog")
        app.post_message(events.Paste(f"'{tmp_path}/大图.png'"))  # dropped on the terminal: quoted
        path = app.screen.query_one(PathInput)
        await wait_until(pilot, lambda: path.value == str(tmp_path / "大图.png"), "the path without quotes")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.attachments) == 1, "the image attached")
        reading = [w for w in workers if w.group == "attach"]
        assert reading and all(w._thread_worker for w in reading)  # never on the event loop
        assert app.attachments[0].data == big
        assert "[Image #1 大图.png 10.0 MB]" in chip_text(app)
        # Clicking a chip's ✕ removes it.
        column = chips(app).close_offsets()[0]
        await pilot.click(AttachmentChips, offset=(column + 1, 0))  # + the row's left padding
        await wait_until(pilot, lambda: not app.attachments, "the chip removed by a click")


async def test_a_comparison_takes_the_image_to_every_model_and_is_refused_with_a_text_only_one(
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Any],
    simulator: RelaySimulator,
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
    wait_until: Wait,
    tmp_path: Path,
) -> None:
    image = png(tmp_path / "图表.png", 4096)
    app = make_app(make_session(model="gpt-4.1"))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: bool(app.relay_models), "the relay's models")

        async def compare(*models: str) -> None:
            await pilot.press("ctrl+o")
            await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), "the picker")
            for model in models:
                await pilot.press("ctrl+u", *model)
                await pilot.pause()
                await pilot.press("space")
            await pilot.press("enter")
            await wait_until(pilot, lambda: not isinstance(app.screen, ModelPicker), "the picker closed")

        app.post_message(events.Paste(str(tmp_path / "图表.png")))
        await wait_until(pilot, lambda: len(app.attachments) == 1, "the image attached")
        await compare("gpt-4.1", "kimi-k2")
        app.query_one(PromptInput).load_text("比较两种描述")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "kimi-k2 does not read images" in notices(app), "the refusal")
        assert not chats(simulator) and len(app.attachments) == 1
        assert app.query_one(PromptInput).text == "比较两种描述"

        await compare("gpt-4.1", "claude-sonnet-4.5")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(chats(simulator)) == 2 and not app.answering, "both answers")
        expected = "data:image/png;base64," + base64.b64encode(image).decode()
        for request in chats(simulator):
            assert last_user_content(request)[1]["image_url"]["url"] == expected
        assert "[Image #1 图表.png 4 KB]" in str(app.view.query(UserMessage).last().render())
        assert not app.attachments


async def test_a_path_from_home_completes_from_a_tilde(
    make_app: Callable[..., HolySheepApp], wait_until: Wait, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "文档").mkdir()
    (tmp_path / "文档" / "报告.md").write_text("# 报告\n", encoding="utf-8")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f10")
        await wait_until(pilot, lambda: isinstance(app.screen, AttachScreen), "the attach dialog")
        path = app.screen.query_one(PathInput)
        await pilot.press("~", "/", "tab")
        assert path.value == "~/文档/"
        await pilot.press("tab", "enter")
        await wait_until(pilot, lambda: len(app.attachments) == 1, "the file attached")
        assert app.attachments[0].name == "报告.md" and app.attachments[0].kind == "text"
        assert "[File #1 报告.md 1 KB]" in chip_text(app)


async def test_enter_with_only_an_attachment_says_what_is_missing_and_sends_nothing(
    make_app: Callable[..., HolySheepApp],
    make_session: Callable[..., Any],
    simulator: RelaySimulator,
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
    wait_until: Wait,
    tmp_path: Path,
) -> None:
    png(tmp_path / "发票.png", 1024)
    app = make_app(make_session(model="gpt-4.1"))
    async with app.run_test(size=(120, 40)) as pilot:
        app.post_message(events.Paste(str(tmp_path / "发票.png")))
        await wait_until(pilot, lambda: len(app.attachments) == 1, "the pasted path attached")
        before = len(chats(simulator))
        await pilot.press("enter")  # nothing typed: only the image
        await wait_until(pilot, lambda: "with the attached file" in notices(app), "the notice")
        assert "Type what the model should do with the attached file" in notices(app)
        assert len(app.attachments) == 1 and not app.answering  # the image stays attached
        assert len(chats(simulator)) == before and not app.view.query(UserMessage)
        app.query_one(PromptInput).load_text(QUESTION)
        await pilot.press("enter")  # now with words: it goes
        await wait_until(pilot, lambda: not app.answering and bool(app.view.answers()), "the answer")
        assert len(chats(simulator)) == before + 1
