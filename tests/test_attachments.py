"""Attachments, unit by unit: sniffing, limits, the fenced block, what goes on the wire, pasted paths, the
vision check, the token estimate; and the simulator's side of images over loopback (its answer, its
usage, its window check and the text-only models' 400), held equal to the client's numbers."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from holysheep_tui.chat.attachments import (
    IMAGE_TOKENS,
    MAX_IMAGE_BYTES,
    MAX_TEXT_BYTES,
    AttachmentError,
    NoVisionError,
    attachment_tokens,
    check_vision,
    chip_label,
    content_parts,
    fenced,
    human_size,
    load_attachment,
    looks_like_pasted_paths,
    make_attachment,
    pasted_paths,
    sniff_image,
)
from holysheep_tui.chat.context import Chars, TokenEstimator
from holysheep_tui.chat.conversation import Conversation, Turn
from holysheep_tui.economics.prices import VISION_MODELS, PriceBook
from holysheep_tui.errors import EXIT_BAD_REQUEST, EXIT_USAGE
from holysheep_tui.relay.wire import Answer, ImagePart, TextPart
from holysheep_tui.simulator import RelaySimulator
from holysheep_tui.simulator import images as sim_images
from holysheep_tui.simulator.content import MODELS

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)
JPEG = b"\xff\xd8\xff\xe0" + bytes(100)
GIF = b"GIF89a" + bytes(50)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(50)


# ---- sniffing and limits -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (GIF, "image/gif"),
        (WEBP, "image/webp"),
        (b"RIFF0000WAVE", None),
    ],
)
def test_images_are_known_by_their_first_bytes(data: bytes, mime: str | None) -> None:
    assert sniff_image(data[:16]) == mime


def test_the_extension_never_makes_an_image(tmp_path: Path) -> None:
    fake = tmp_path / "假图片.png"
    fake.write_text("其实是文字", encoding="utf-8")
    a = load_attachment(fake)
    assert (a.kind, a.mime, a.name) == ("text", "text/plain", "假图片.png")
    real = tmp_path / "照片.txt"
    real.write_bytes(JPEG)
    assert load_attachment(real).kind == "image" and load_attachment(real).mime == "image/jpeg"


def test_text_types_come_from_the_name_and_the_digest_from_the_bytes(tmp_path: Path) -> None:
    table = tmp_path / "销售.csv"
    table.write_text("城市,销量\n上海,12\n", encoding="utf-8")
    a = load_attachment(table)
    assert (a.kind, a.mime, a.size) == ("text", "text/csv", len("城市,销量\n上海,12\n".encode()))
    assert a == make_attachment("销售.csv", table.read_bytes())


@pytest.mark.parametrize("data", [b"\x00\x01\x02", "中文".encode("gbk") + b"\xff", b"abc\x00def"])
def test_neither_text_nor_image_is_refused(data: bytes) -> None:
    with pytest.raises(AttachmentError, match="neither a text file") as caught:
        make_attachment("数据.bin", data)
    assert caught.value.exit_code == EXIT_USAGE


def test_limits_name_the_size_and_the_limit(tmp_path: Path) -> None:
    with pytest.raises(AttachmentError, match=r"too large \(2\.0 MB\): the limit for a text file is 2\.0 MB"):
        make_attachment("大.txt", b"a" * (MAX_TEXT_BYTES + 1))
    with pytest.raises(AttachmentError, match="the limit for an image is 20.0 MB"):
        make_attachment("大.png", PNG + bytes(MAX_IMAGE_BYTES))
    assert make_attachment("刚好.txt", b"a" * MAX_TEXT_BYTES).size == MAX_TEXT_BYTES
    sparse = tmp_path / "稀疏.png"  # checked by its size before a byte is read
    with sparse.open("wb") as f:
        f.write(PNG)
        f.truncate(MAX_IMAGE_BYTES + 1)
    with pytest.raises(AttachmentError, match="too large"):
        load_attachment(sparse)


def test_missing_unreadable_and_special_files_say_so(tmp_path: Path) -> None:
    with pytest.raises(AttachmentError, match="No such file: .*不存在.md"):
        load_attachment(tmp_path / "不存在.md")
    with pytest.raises(AttachmentError, match="not a regular file"):
        load_attachment(tmp_path)
    fifo = tmp_path / "管道"
    os.mkfifo(fifo)
    with pytest.raises(AttachmentError, match="not a regular file"):
        load_attachment(fifo)  # never opened: opening a FIFO would block


def test_sizes_and_chips() -> None:
    assert [human_size(n) for n in (1, 1024, 245_760, 11_010_048)] == ["1 KB", "1 KB", "240 KB", "10.5 MB"]
    assert chip_label(make_attachment("猫.png", PNG), 1) == "[Image #1 猫.png 1 KB]"
    assert chip_label(make_attachment("a\nb.py", b"x"), 2) == "[File #2 a b.py 1 KB]"  # one line, always


# ---- the fenced block and the wire ---------------------------------------------------------------


def test_fenced_uses_the_name_the_language_and_a_fence_longer_than_any_inside() -> None:
    inner = "说明\n```python\nprint('嵌套')\n```\n"
    block = fenced(make_attachment("说明.md", ("\ufeff" + inner).encode()))
    assert block == "说明.md:\n````markdown\n说明\n```python\nprint('嵌套')\n```\n````"
    assert fenced(make_attachment("日志.log", b"ok\n")) == "日志.log:\n```\nok\n```"


def test_content_parts_plain_text_without_images_parts_with_them() -> None:
    code = make_attachment("主.py", b"x = 1\n")
    image = make_attachment("图.png", PNG)
    assert content_parts("看看", [code]) == "看看\n\n主.py:\n```python\nx = 1\n```"
    parts = content_parts("看看", [image, code])
    assert parts == (
        TextPart("看看\n\n主.py:\n```python\nx = 1\n```"),
        ImagePart("data:image/png;base64," + base64.b64encode(PNG).decode()),
    )


# ---- pasted paths --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "paths"),
    [
        ("/home/用户/图片/猫.png", ["/home/用户/图片/猫.png"]),
        ("'/tmp/我的 文件.png'", ["/tmp/我的 文件.png"]),
        ("\"/tmp/报告 2026.md\" '/tmp/另 一个.txt'", ["/tmp/报告 2026.md", "/tmp/另 一个.txt"]),
        ("/tmp/季度\\ 报告\\ 终稿.pdf", ["/tmp/季度 报告 终稿.pdf"]),
        ("file:///tmp/%E7%8C%AB%20%E5%92%AA.png", ["/tmp/猫 咪.png"]),
        ("file://localhost/tmp/a.png", ["/tmp/a.png"]),
        ("/tmp/一.png\n/tmp/二.png\n", ["/tmp/一.png", "/tmp/二.png"]),
        ("~/下载/图.png", ["~/下载/图.png"]),  # ~ is the test's own HOME, known only when it runs
    ],
)
def test_pasted_paths_are_recognised(text: str, paths: list[str]) -> None:
    assert [str(p) for p in pasted_paths(text)] == [str(Path(p).expanduser()) for p in paths]
    assert looks_like_pasted_paths(text)


@pytest.mark.parametrize(
    "text",
    [
        "请看 /tmp/猫.png 这张图",
        "相对/路径.png",
        "'/tmp/没有闭合.png",
        "file://远程主机/tmp/a.png",
        "",
        "   ",
        "/" + "很长" * 9000,
    ],
)
def test_other_text_is_not_a_paste_of_paths(text: str) -> None:
    assert pasted_paths(text) == ()
    assert not looks_like_pasted_paths(text)


# ---- the vision check ----------------------------------------------------------------------------


def test_an_image_for_a_text_only_model_is_refused_with_the_way_out() -> None:
    prices = PriceBook(use_genai_prices=False)
    image, code = make_attachment("图.png", PNG), make_attachment("主.py", b"x")
    with pytest.raises(NoVisionError) as caught:
        check_vision("deepseek-chat", [code, image], prices)
    assert caught.value.exit_code == EXIT_BAD_REQUEST
    assert "deepseek-chat does not read images" in caught.value.message
    assert all(m in (caught.value.hint or "") for m in VISION_MODELS)
    check_vision("deepseek-chat", [code], prices)  # text files go to any model
    check_vision("gpt-4.1", [image], prices)
    check_vision("某个未知模型", [image], prices)  # unknown: the relay decides
    check_vision("deepseek-chat", [image], None)


# ---- tokens: the estimate and the simulator agree ------------------------------------------------


def test_each_image_counts_image_tokens_in_the_estimate() -> None:
    est = TokenEstimator()
    image, notes = make_attachment("图.png", PNG), make_attachment("笔记.md", "要点".encode())
    assert attachment_tokens(image) == IMAGE_TOKENS
    with_files = est.prompt_chars("问题", [image, image, notes])
    assert with_files.fixed == 2 * IMAGE_TOKENS
    assert with_files - Chars(fixed=2 * IMAGE_TOKENS) == est.chars("问题\n\n笔记.md:\n```markdown\n要点\n```")
    conv = Conversation(profile="p", model="gpt-4.1")
    conv.turns.append(Turn("先前", "gpt-4.1", Answer(model="gpt-4.1"), attachments=(image,)))
    assert est.history_chars(conv).fixed == IMAGE_TOKENS  # an earlier image is sent again, and counted
    assert est.request_chars(conv, "再问", attachments=[image]).fixed == 2 * IMAGE_TOKENS


def test_the_simulator_counts_images_as_the_client_does_and_reads_them_where_the_prices_say() -> None:
    assert sim_images.IMAGE_TOKENS == IMAGE_TOKENS
    prices = PriceBook(use_genai_prices=False)
    assert {m: spec.vision for m, spec in MODELS.items()} == {m: prices.reads_images(m) for m in MODELS}


def _ask(sim: RelaySimulator, model: str, content: Any, **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": content}], **extra}
    return httpx.post(f"{sim.base_url}/chat/completions", json=body, timeout=30)


def _parts(text: str, *images: bytes) -> list[dict[str, Any]]:
    urls = [f"data:image/png;base64,{base64.b64encode(i).decode()}" for i in images]
    return [{"type": "text", "text": text}, *({"type": "image_url", "image_url": {"url": u}} for u in urls)]


def test_the_simulator_says_what_it_received_and_counts_it(simulator: RelaySimulator) -> None:
    big = PNG + bytes(245_760 - len(PNG))
    got = _ask(simulator, "gpt-4.1", _parts("描述这两张图", big, PNG))
    assert got.status_code == 200
    answer = got.json()["choices"][0]["message"]["content"]
    assert answer.startswith("收到 2 张图片：image/png，240 KB；image/png，1 KB；文字：「描述这两张图」\n\n")
    plain = _ask(simulator, "gpt-4.1", "描述这两张图").json()["usage"]["prompt_tokens"]
    assert got.json()["usage"]["prompt_tokens"] == plain + 2 * IMAGE_TOKENS


def test_a_text_only_model_answers_an_image_with_openais_400(simulator: RelaySimulator) -> None:
    got = _ask(simulator, "deepseek-v3.2", _parts("这是什么", PNG))
    assert got.status_code == 400
    assert got.json() == {
        "error": {
            "message": "Invalid content type. image_url is only supported by certain models.",
            "type": "invalid_request_error",
            "param": "messages.[0].content.[1].type",
            "code": None,
        }
    }
    assert _ask(simulator, "deepseek-v3.2", [{"type": "text", "text": "只有文字"}]).status_code == 200


def test_the_window_check_counts_the_images(simulator: RelaySimulator) -> None:
    window = MODELS["gpt-4.1"].context_window
    content = _parts("看图", PNG, PNG, PNG)
    prompt = _ask(simulator, "gpt-4.1", content, max_tokens=1).json()["usage"]["prompt_tokens"]
    assert prompt > 3 * IMAGE_TOKENS
    assert _ask(simulator, "gpt-4.1", content, max_tokens=window - prompt).status_code == 200
    over = _ask(simulator, "gpt-4.1", content, max_tokens=window - prompt + 1)
    assert over.status_code == 400
    error = json.loads(over.text)["error"]
    assert error["code"] == "context_length_exceeded" and f"({prompt} in the messages" in error["message"]
