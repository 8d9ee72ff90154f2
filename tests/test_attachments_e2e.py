"""`holysheep ask -a FILE`: real subprocesses against the relay simulator over loopback, real SQLite history.

An image reaches a model that reads images as an ``image_url`` part (the simulator's answer says what it
received); a text-only model is refused before any request; text files travel fenced; each bad file is a
clear exit 2; ``--json`` carries the attachments and the error object.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any

from holysheep_tui.chat.attachments import IMAGE_TOKENS, MAX_TEXT_BYTES
from holysheep_tui.errors import EXIT_BAD_REQUEST, EXIT_OK, EXIT_USAGE
from holysheep_tui.simulator import RelaySimulator
from holysheep_tui.store import HistoryStore


def _png(width: int = 4, height: int = 3) -> bytes:
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


def _sent(sim: RelaySimulator) -> list[dict[str, Any]]:
    return [r.json for r in sim.requests if r.path.endswith("/chat/completions")]


def _image_file(tmp_path: Path, name: str = "猫咪.png") -> Path:
    path = tmp_path / name
    path.write_bytes(_png())
    return path


def _image_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    content = body["messages"][-1]["content"]
    assert isinstance(content, list), content
    return [p for p in content if p["type"] == "image_url"]


def test_an_image_reaches_a_vision_model_as_an_image_part(
    simulator: RelaySimulator, cli: Any, tmp_path: Path
) -> None:
    image = _image_file(tmp_path)
    out = cli("ask", "--base-url", simulator.base_url, "-m", "gpt-4.1", "-a", str(image), "这张图里是什么？")
    assert out.returncode == EXIT_OK, out.stderr
    assert "收到 1 张图片：image/png，1 KB" in out.stdout
    assert "这张图里是什么？" in out.stdout
    assert "[Image #1 猫咪.png 1 KB]" in out.stderr
    (body,) = _sent(simulator)
    (part,) = _image_parts(body)
    assert part["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(_png()).decode()
    assert body["messages"][-1]["content"][0] == {"type": "text", "text": "这张图里是什么？"}
    with HistoryStore.open() as store:
        cid = store.last_conversation_id(profile="holysheep")
        assert cid is not None
        stored = store.get_conversation(cid)
    prompt_id = stored.messages[0].id
    (kept,) = stored.attachments[prompt_id]
    assert (kept.name, kept.mime, kept.kind, kept.data) == ("猫咪.png", "image/png", "image", _png())


def test_an_image_for_a_text_only_model_is_refused_before_any_request(
    simulator: RelaySimulator, cli: Any, tmp_path: Path
) -> None:
    image = _image_file(tmp_path)
    out = cli("ask", "--base-url", simulator.base_url, "-m", "deepseek-chat", "-a", str(image), "描述一下")
    assert out.returncode == EXIT_BAD_REQUEST, out.stderr
    assert "deepseek-chat does not read images" in out.stderr
    assert "gpt-4.1" in out.stderr and "drop the image (猫咪.png)" in out.stderr
    assert "Traceback" not in out.stderr
    assert _sent(simulator) == []
    with HistoryStore.open() as store:
        assert store.last_conversation_id(profile="holysheep") is None  # nothing stored either


def test_json_refusal_is_the_documented_error_object(
    simulator: RelaySimulator, cli: Any, tmp_path: Path
) -> None:
    image = _image_file(tmp_path)
    out = cli("ask", "--base-url", simulator.base_url, "-m", "kimi-k2", "--json", "-a", str(image), "看图")
    assert out.returncode == EXIT_BAD_REQUEST
    error = json.loads(out.stdout)["error"]
    assert error["type"] == "no_vision" and error["status"] is None
    assert "kimi-k2 does not read images" in error["message"] and "drop the image" in error["message"]
    assert _sent(simulator) == []


def test_a_text_file_goes_fenced_under_its_name(simulator: RelaySimulator, cli: Any, tmp_path: Path) -> None:
    code = tmp_path / "工具.py"
    code.write_text('def 问候():\n    return "你好"\n', encoding="utf-8")
    out = cli("ask", "--base-url", simulator.base_url, "-m", "deepseek-v3.2", "-a", str(code), "解释这段代码")
    assert out.returncode == EXIT_OK, out.stderr
    (body,) = _sent(simulator)
    content = body["messages"][-1]["content"]
    assert content == '解释这段代码\n\n工具.py:\n```python\ndef 问候():\n    return "你好"\n```'


def test_json_output_lists_the_attachments_and_usage_counts_the_image(
    simulator: RelaySimulator, cli: Any, tmp_path: Path
) -> None:
    image = _image_file(tmp_path)
    notes = tmp_path / "笔记.md"
    notes.write_text("# 标题\n内容", encoding="utf-8")
    out = cli(
        "ask", "--base-url", simulator.base_url, "-m", "gpt-4.1", "--json",
        "-a", str(image), "-a", str(notes), "总结",
    )  # fmt: skip
    assert out.returncode == EXIT_OK, out.stderr
    data = json.loads(out.stdout)
    assert [(a["name"], a["mime"], a["kind"], a["size"]) for a in data["attachments"]] == [
        ("猫咪.png", "image/png", "image", len(_png())),
        ("笔记.md", "text/markdown", "text", len("# 标题\n内容".encode())),
    ]
    assert data["usage"]["prompt_tokens"] > IMAGE_TOKENS
    assert "收到 1 张图片" in data["content"]


def test_the_prompt_from_stdin_with_an_attachment(
    simulator: RelaySimulator, cli: Any, tmp_path: Path
) -> None:
    log = tmp_path / "服务.log"
    log.write_text("2026-01-01 错误：连接超时\n", encoding="utf-8")
    out = cli(
        "ask", "--base-url", simulator.base_url, "-m", "kimi-k2", "-a", str(log), stdin="这个日志说明什么？"
    )
    assert out.returncode == EXIT_OK, out.stderr
    (body,) = _sent(simulator)
    content = body["messages"][-1]["content"]
    assert (
        content.startswith("这个日志说明什么？")
        and "服务.log:\n```\n2026-01-01 错误：连接超时\n```" in content
    )


def test_missing_unreadable_binary_and_too_large_files_exit_2_with_a_message(
    simulator: RelaySimulator, cli: Any, tmp_path: Path
) -> None:
    missing = tmp_path / "不存在.png"
    binary = tmp_path / "数据.bin"
    binary.write_bytes(b"\x00\x01\x02\xff" * 10)
    large = tmp_path / "巨大.txt"
    with large.open("wb") as f:
        f.truncate(MAX_TEXT_BYTES + 1)
    locked = tmp_path / "锁住.txt"
    locked.write_text("秘密", encoding="utf-8")
    locked.chmod(0)
    cases = [
        (missing, "No such file"),
        (binary, "neither a text file"),
        (large, "too large"),
        (tmp_path, "not a regular file"),
    ]
    if not os.access(locked, os.R_OK):  # root reads it all the same
        cases.append((locked, "permission denied"))
    for path, said in cases:
        out = cli("ask", "--base-url", simulator.base_url, "-m", "gpt-4.1", "-a", str(path), "看看")
        assert out.returncode == EXIT_USAGE, (path, out.stderr)
        assert said in out.stderr and "Traceback" not in out.stderr
    as_json = cli("ask", "--base-url", simulator.base_url, "--json", "-a", str(missing), "看看")
    assert as_json.returncode == EXIT_USAGE
    assert json.loads(as_json.stdout)["error"]["type"] == "attachment"
    assert _sent(simulator) == []


def test_continue_with_an_attachment_and_an_earlier_image_refuses_a_text_only_model(
    simulator: RelaySimulator, cli: Any, tmp_path: Path
) -> None:
    image = _image_file(tmp_path)
    first = cli("ask", "--base-url", simulator.base_url, "-m", "gpt-4.1", "-a", str(image), "这是什么？")
    assert first.returncode == EXIT_OK, first.stderr
    notes = tmp_path / "补充.csv"
    notes.write_text("城市,人口\n上海,2487\n", encoding="utf-8")
    second = cli("ask", "--base-url", simulator.base_url, "-c", "-a", str(notes), "结合表格再说说")
    assert second.returncode == EXIT_OK, second.stderr
    body = _sent(simulator)[-1]
    assert body["model"] == "gpt-4.1"
    assert _image_parts({"messages": body["messages"][:1]})  # the earlier image is sent again
    assert "补充.csv:\n```csv\n城市,人口\n上海,2487\n```" in body["messages"][-1]["content"]
    refused = cli("ask", "--base-url", simulator.base_url, "-c", "-m", "deepseek-v3.2", "继续")
    assert refused.returncode == EXIT_BAD_REQUEST and "does not read images" in refused.stderr
    assert len(_sent(simulator)) == 2


def test_a_comparison_sends_the_image_to_every_model_or_to_none(
    simulator: RelaySimulator, cli: Any, tmp_path: Path
) -> None:
    image = _image_file(tmp_path)
    ok = cli(
        "ask", "--base-url", simulator.base_url, "--models", "gpt-4.1,claude-sonnet-4.5", "-a", str(image), "比较"
    )  # fmt: skip
    assert ok.returncode == EXIT_OK, ok.stderr
    assert sorted(b["model"] for b in _sent(simulator)) == ["claude-sonnet-4.5", "gpt-4.1"]
    assert all(len(_image_parts(b)) == 1 for b in _sent(simulator))
    assert ok.stdout.count("收到 1 张图片") == 2
    refused = cli(
        "ask", "--base-url", simulator.base_url, "--models", "gpt-4.1,kimi-k2", "-a", str(image), "比较"
    )  # fmt: skip
    assert refused.returncode == EXIT_BAD_REQUEST and "kimi-k2 does not read images" in refused.stderr
    assert len(_sent(simulator)) == 2


def test_a_file_longer_than_the_window_is_refused_before_sending(
    simulator: RelaySimulator, cli: Any, tmp_path: Path
) -> None:
    book = tmp_path / "长篇.md"
    book.write_text("这是一段很长的中文内容。" * 1000, encoding="utf-8")  # ~12k tokens: over 8k
    out = cli("ask", "--base-url", simulator.base_url, "-m", "moonshot-v1-8k", "-a", str(book), "总结")
    assert out.returncode == EXIT_BAD_REQUEST, out.stderr
    assert "8,192" in out.stderr and "Traceback" not in out.stderr
    assert _sent(simulator) == []
    fits = cli("ask", "--base-url", simulator.base_url, "-m", "kimi-k2", "-a", str(book), "总结")
    assert fits.returncode == EXIT_OK, fits.stderr
