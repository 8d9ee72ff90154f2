"""The HTML export renders the Markdown and nothing from the model runs or loads: checked in a real browser.

The conversation is written to a real history file, exported by `holysheep export --format html` as a
subprocess, and opened in Debian's chromium (headless) from a loopback HTTP server that records every
request it gets. The model's text tries an <img>, a Markdown image, a <script>, a <style> with a
background image and javascript:/data: links, all aimed at that server.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from holysheep_tui.store import HistoryStore
from tests.browser import PageServer, dump_dom, needs_chromium, page_server, screenshot

Run = Callable[..., CompletedProcess[str]]
TITLE = "成本表：人民币结算"
CHINESE = "这是一段很长的中文句子，用来检查浏览器在中文标点前后换行时，不会把句号或逗号放到行首。"


def answer_text(origin: str) -> str:
    return f"""# 价格表

## Cost

| 模型 | 输入 | 输出 |
|---|---:|---:|
| kimi-k2 | ¥4 | ¥16 |

```python
def 成本(tokens: int) -> float:
    return tokens * 0.000004  # 每个 token
```

{CHINESE}

<img src={origin}/x.png onerror="document.title='被注入'">
![远程图片]({origin}/y.png)
<script>document.title='被注入'</script>
<style>body {{ background: url({origin}/bg.png) }}</style>
[点我](javascript:alert(1)) [数据](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)
[官网](https://example.com/价格) [写信](mailto:help@example.com) [本机]({origin}/link)
"""


@pytest.fixture
def server() -> Iterator[PageServer]:
    with page_server() as srv:
        yield srv


@pytest.fixture
def exported(holysheep: Run, tmp_path: Path, server: PageServer) -> str:
    """The HTML page `holysheep export` writes for a conversation whose answer tries to load and run things."""
    origin = server.origin
    data = tmp_path / "数据"
    with HistoryStore.open(data / "history.db") as s:
        cid = s.create_conversation(profile="holysheep", title=TITLE, system_prompt="你是一位**简洁**的助手")
        s.add_user_message(cid, "列出价格，<b>用表格</b>", model="kimi-k2")
        msg = s.start_answer(cid, model="kimi-k2")
        s.finish_answer(msg, status="complete", content=answer_text(origin), cost_usd=0.0042, prompt_tokens=9)
    out = holysheep("export", "--format", "html", "-o", str(tmp_path / "export.html"), data=data)
    assert out.returncode == 0, out.stderr
    page = (tmp_path / "export.html").read_text(encoding="utf-8")
    server.page = page.encode("utf-8")
    return page


HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
VOID = ("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr")


class Elements(HTMLParser):
    """Every element's tag and attributes, the page's text, each heading's level and text, and how many
    elements with a class sit inside a <pre> (highlighted code)."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.text: list[str] = []
        self.headings: list[tuple[int, str]] = []
        self.in_pre_spans = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "span" and "pre" in self.stack and dict(attrs).get("class"):
            self.in_pre_spans += 1
        if tag in HEADINGS:
            self.headings.append((int(tag[1]), ""))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.headings and any(t in HEADINGS for t in self.stack):
            level, text = self.headings[-1]
            self.headings[-1] = (level, text + data)

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.elements if tag == name]


def parsed(page: str) -> Elements:
    p = Elements()
    p.feed(page)
    p.close()
    return p


def check_rendered_and_inert(page: str) -> Elements:
    """What a rendered, sanitised export holds; the same checks for the file and the browser's DOM."""
    doc = parsed(page)
    assert doc.tags("table") and doc.tags("th") and doc.tags("td")
    assert doc.in_pre_spans >= 3, "Pygments spans with classes in the code block"
    text = "".join(doc.text)
    assert CHINESE in text and TITLE in text
    assert "<b>用表格</b>" in text  # raw HTML from a message is shown as text, never made an element
    for tag in ("script", "img", "iframe", "object", "embed", "link", "b"):
        assert doc.tags(tag) == [], tag
    assert len(doc.tags("style")) == 1  # the page's own stylesheet; the model's <style> is text
    assert all(not name.startswith("on") for _tag, attrs in doc.elements for name in attrs)
    hrefs = [a.get("href") or "" for a in doc.tags("a")]
    assert hrefs and all(h.startswith(("http://", "https://", "mailto:")) for h in hrefs), hrefs
    assert "[点我](javascript:alert(1))" in text and "data:text/html" in text  # left as text, not links
    assert "[image: 远程图片]" in text and "/y.png" in text  # the alt text and address, not the image
    csp = [m for m in doc.tags("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    assert [m.get("content") for m in csp] == ["default-src 'none'; style-src 'unsafe-inline'; img-src data:"]
    return doc


def test_the_html_export_renders_markdown_and_keeps_model_text_inert(exported: str) -> None:
    doc = check_rendered_and_inert(exported)
    # Each message has a level-2 heading; the answer's own "# 价格表" and "## Cost" nest below it.
    assert [text.split()[0] for level, text in doc.headings if level == 2] == [
        "System",
        "User",
        "Assistant",
    ]
    assert (3, "价格表") in doc.headings and (4, "Cost") in doc.headings
    assert "System prompt (current)" in "".join(doc.text)
    assert "$0.0042 · CNY 0.0042" in "".join(doc.text)
    assert "¥0.0042" not in exported  # money is never a bare ¥
    # Chinese typography and a print style are in the page's own stylesheet.
    assert "line-break: strict" in exported and "Noto Sans CJK SC" in exported and "@media print" in exported


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "a PNG file"
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


@needs_chromium
def test_a_real_browser_renders_the_page_without_errors_or_network_requests(
    exported: str, server: PageServer, tmp_path: Path
) -> None:
    url = f"{server.origin}/export.html"
    shot = tmp_path / "export.png"
    console = screenshot(tmp_path, url, shot, "--window-size=1000,1400")
    assert _png_size(shot) == (1000, 1400) and shot.stat().st_size > 20_000  # a drawn page, not a blank one
    assert console == [], console  # no script errors, no blocked loads (CSP reports them here)

    dom = dump_dom(tmp_path, url)
    doc = check_rendered_and_inert(dom)  # the DOM after the browser loaded it: nothing ran
    assert f"<title>{TITLE}</title>" in dom  # the model's script did not run to change it
    assert [level for level, _text in doc.headings].count(2) == 3

    # Only the page itself was fetched, once per browser run: no image, stylesheet or favicon.
    assert server.paths == ["/export.html", "/export.html"]
