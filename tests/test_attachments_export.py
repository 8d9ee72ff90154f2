"""Attachments in exports, imports, `history show` and `history delete`: real subprocesses on a real
history file; the HTML page opened in headless chromium (as tests/test_export_html.py does).

JSON carries every file whole and an import gives back the same bytes; Markdown shows a line per file and
a text file fenced; HTML shows an image inline (the CSP allows ``data:`` images and nothing else) and a
text file as a code block; deleting a conversation removes the bytes no other message holds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import struct
import zlib
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from holysheep_tui.chat.attachments import make_attachment
from holysheep_tui.errors import EXIT_OK, EXIT_USAGE
from holysheep_tui.store import HistoryStore
from tests.browser import PageServer, dump_dom, needs_chromium, page_server, screenshot

Run = Callable[..., CompletedProcess[str]]
TEXT_NAME = "<b>报告</b>.md"
TEXT = "# 季度报告\n\n收入增长 **12%**。\n\n```python\nprint('内部代码块')\n```\n"


def _png(width: int = 40, height: int = 30) -> bytes:
    """A real, decodable PNG (RGB, every pixel red)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _seed(data: Path) -> str:
    """A conversation whose first prompt carries an image and a Markdown file (with a hostile name)."""
    files = (make_attachment("猫咪.png", _png()), make_attachment(TEXT_NAME, TEXT.encode()))
    with HistoryStore.open(data / "history.db") as s:
        cid = s.create_conversation(profile="holysheep", title="图片与报告")
        s.add_user_message(cid, "请看图和报告", model="gpt-4.1", attachments=files)
        msg = s.start_answer(cid, model="gpt-4.1")
        s.finish_answer(msg, status="complete", content="收到 1 张图片。报告显示收入增长。", prompt_tokens=9)
    return cid


def _blobs(data: Path) -> int:
    with sqlite3.connect(data / "history.db") as db:
        return int(db.execute("SELECT count(*) FROM attachment_blobs").fetchone()[0])


def test_json_export_then_import_gives_back_the_same_bytes(holysheep: Run, tmp_path: Path) -> None:
    source, target = tmp_path / "源", tmp_path / "目标"
    cid = _seed(source)
    out = holysheep("export", cid, "--format", "json", "-o", str(tmp_path / "导出.json"), data=source)
    assert out.returncode == EXIT_OK, out.stderr
    doc = json.loads((tmp_path / "导出.json").read_text(encoding="utf-8"))
    (image, text) = doc["conversations"][0]["messages"][0]["attachments"]
    assert base64.b64decode(image["data"]) == _png()
    assert (image["name"], image["mime"], image["kind"], image["size"]) == (
        "猫咪.png",
        "image/png",
        "image",
        len(_png()),
    )
    assert image["sha256"] == hashlib.sha256(_png()).hexdigest()
    assert (text["name"], text["kind"], text["mime"]) == (TEXT_NAME, "text", "text/markdown")
    assert "attachments" not in doc["conversations"][0]["messages"][1]  # the answer has none

    back = holysheep("import", str(tmp_path / "导出.json"), data=target)
    assert back.returncode == EXIT_OK, back.stderr
    with HistoryStore.open(source / "history.db") as s:
        before = s.get_conversation(cid)
    with HistoryStore.open(target / "history.db") as s:
        after = s.get_conversation(back.stdout.split()[0])
    (was,) = before.attachments.values()
    (now,) = after.attachments.values()
    assert now == was  # names, types, kinds, sha256 and every byte
    assert after.attachments.keys() == {after.messages[0].id}


def test_an_import_with_a_tampered_attachment_is_refused_whole(holysheep: Run, tmp_path: Path) -> None:
    source, target = tmp_path / "源", tmp_path / "目标"
    cid = _seed(source)
    out = holysheep("export", cid, "--format", "json", data=source)
    doc = json.loads(out.stdout)
    doc["conversations"][0]["messages"][0]["attachments"][0]["data"] = base64.b64encode(_png(41)).decode()
    tampered = tmp_path / "篡改.json"
    tampered.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    back = holysheep("import", str(tampered), data=target)
    assert back.returncode == EXIT_USAGE
    assert "broken attachment" in back.stderr and "do not match its size and sha256" in back.stderr
    listed = holysheep("history", "list", "--json", data=target)
    assert json.loads(listed.stdout or "[]") == []


def test_markdown_shows_a_line_per_file_and_the_text_file_fenced(holysheep: Run, tmp_path: Path) -> None:
    cid = _seed(tmp_path)
    out = holysheep("export", cid, "--format", "md", data=tmp_path)
    assert out.returncode == EXIT_OK, out.stderr
    md = out.stdout
    assert "\\[Image: 猫咪.png, image/png, 1 KB\\]" in md
    assert "\\[File: \\<b\\>报告\\</b\\>.md, text/markdown, 1 KB\\]" in md
    assert "\n````markdown\n# 季度报告\n" in md and "print('内部代码块')\n```\n````" in md  # a longer fence
    assert md.index("请看图和报告") < md.index("Image: 猫咪.png") < md.index("收到 1 张图片")


def test_history_show_and_the_text_export_show_the_chips(holysheep: Run, tmp_path: Path) -> None:
    cid = _seed(tmp_path)
    size = f"{max(1, round(len(_png()) / 1024))} KB"
    shown = holysheep("history", "show", cid, data=tmp_path)
    assert shown.returncode == EXIT_OK, shown.stderr
    assert f"[Image #1 猫咪.png {size}] [File #2 {TEXT_NAME} 1 KB]" in shown.stdout
    assert shown.stdout.index("请看图和报告") < shown.stdout.index("[Image #1")


def test_the_openai_export_sends_the_files_as_they_were_sent(holysheep: Run, tmp_path: Path) -> None:
    cid = _seed(tmp_path)
    out = holysheep("export", cid, "--format", "openai", data=tmp_path)
    user = json.loads(out.stdout)[0]
    text, image = user["content"]
    assert text["type"] == "text" and text["text"].startswith(f"请看图和报告\n\n{TEXT_NAME}:\n````markdown\n")
    assert image["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(_png()).decode()


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[dict[str, str | None]] = []
        self.bold = 0
        self.metas: list[dict[str, str | None]] = []
        self.pre = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.imgs.append(dict(attrs))
        elif tag == "b":
            self.bold += 1
        elif tag == "meta":
            self.metas.append(dict(attrs))
        elif tag == "pre":
            self.pre += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _check_page(page: str) -> _Page:
    doc = _Page()
    doc.feed(page)
    doc.close()
    (img,) = doc.imgs
    assert img["src"] == "data:image/png;base64," + base64.b64encode(_png()).decode()
    assert img["alt"] == "猫咪.png"
    assert doc.bold == 0  # the file's name "<b>报告</b>.md" is text, never an element
    text = "".join(doc.text)
    assert f"File: {TEXT_NAME}, text/markdown, 1 KB" in text
    assert "# 季度报告" in text and "print('内部代码块')" in text and doc.pre >= 1  # a code block
    csp = [m.get("content") for m in doc.metas if m.get("http-equiv") == "Content-Security-Policy"]
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'; img-src data:"]
    return doc


@pytest.fixture
def server() -> Iterator[PageServer]:
    with page_server() as srv:
        yield srv


def test_html_shows_the_image_inline_and_the_text_file_as_code(holysheep: Run, tmp_path: Path) -> None:
    cid = _seed(tmp_path)
    out = holysheep("export", cid, "--format", "html", data=tmp_path)
    assert out.returncode == EXIT_OK, out.stderr
    _check_page(out.stdout)


@needs_chromium
def test_a_real_browser_shows_the_attached_image_and_loads_nothing_else(
    holysheep: Run, tmp_path: Path, server: PageServer
) -> None:
    cid = _seed(tmp_path)
    out = holysheep("export", cid, "--format", "html", data=tmp_path)
    server.page = out.stdout.encode("utf-8")
    url = f"{server.origin}/export.html"
    console = screenshot(tmp_path, url, tmp_path / "page.png")
    assert console == [], console  # the CSP blocked nothing: the data: image is allowed
    _check_page(dump_dom(tmp_path, url))
    assert server.paths == ["/export.html", "/export.html"]  # the image came from the page itself


def test_deleting_a_conversation_removes_the_bytes_no_other_message_holds(
    holysheep: Run, tmp_path: Path
) -> None:
    first = _seed(tmp_path)
    second = _seed(tmp_path)  # the same two files again: stored once
    with HistoryStore.open(tmp_path / "history.db") as s:
        forked = s.fork(first, s.get_conversation(first).messages[0].id or 0)
    assert _blobs(tmp_path) == 2
    for cid, left in ((first, 2), (second, 2), (forked, 0)):
        out = holysheep("history", "delete", cid, "--yes", data=tmp_path)
        assert out.returncode == EXIT_OK, out.stderr
        assert _blobs(tmp_path) == left, cid
    with HistoryStore.open(tmp_path / "history.db") as s:
        assert s.last_conversation_id() is None


def test_a_kept_conversation_still_reads_its_files_after_another_is_deleted(
    holysheep: Run, tmp_path: Path
) -> None:
    first, second = _seed(tmp_path), _seed(tmp_path)
    assert holysheep("history", "delete", first, "--yes", data=tmp_path).returncode == EXIT_OK
    with HistoryStore.open(tmp_path / "history.db") as s:
        kept = s.get_conversation(second)
    ((image, text),) = kept.attachments.values()
    assert image.data == _png() and text.data == TEXT.encode()
