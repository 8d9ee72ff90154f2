"""Line breaking by the Unicode rules (UAX #14) for Chinese, Japanese and Latin text (issue 15, item 6)."""

from __future__ import annotations

import pytest
from rich.cells import cell_len as rich_cell_len
from rich.console import Console

from holysheep_tui.linebreak import cell_len, divide, units, wrap
from holysheep_tui.tui.breaking_text import BreakingText

CLOSERS = "。，、）」』！？：；…"
SENTENCE = (
    "人民币结算的好处在于按一比一的汇率计费，所以同样的美元标价用人民币支付时实际花费大约只有原来的七分之一。"
    " 另外充值可以直接用微信或支付宝，财务对账也更简单，不需要外币信用卡。"
)


def assert_full(source: str, lines: list[str], width: int) -> None:
    """Each line but the last is full: what starts the next line (a character and the closers it
    carries), after the spaces that ended this one, would not have fitted."""
    position = 0
    for line, after in zip(lines, lines[1:], strict=False):
        position = source.index(line, position) + len(line)
        spaces = len(source[position:]) - len(source[position:].lstrip(" "))
        first = after[0] + "".join(ch for ch in after[1:3] if ch in CLOSERS)
        assert cell_len(line) + spaces + cell_len(first) > width, (width, line, after)


def test_ideographs_break_between_any_two() -> None:
    assert units("中文换行") == ["中", "文", "换", "行"]


@pytest.mark.parametrize(
    ("text", "piece"),
    [
        ("他说了。然后", "了。"),
        ("第一，第二", "一，"),
        ("甲、乙", "甲、"),
        ("真的！好", "的！"),
        ("问题？答", "题？"),
        ("如下：一", "下："),
        ("注意（括号）后", "号）"),
        ("他说「你好」后", "好」"),
        ("书名『红楼梦』后", "梦』"),
        ("然后……走了", "后……"),
        ("カップ", "カッ"),
    ],
)
def test_closing_punctuation_and_small_kana_stay_with_what_precedes(text: str, piece: str) -> None:
    assert piece in units(text)


@pytest.mark.parametrize(
    ("text", "piece"), [("看（括号", "（括"), ("说「你好", "「你"), ("书『红", "『红"), ("“引号", "“引")]
)
def test_opening_marks_stay_with_what_follows(text: str, piece: str) -> None:
    assert piece in units(text)


@pytest.mark.parametrize(
    "word", ["3.14", "https://example.com/a?b=1", "well-known", "kimi-k2", "f(x)", "¥7.3", "50%"]
)
def test_latin_words_and_numbers_stay_whole_between_chinese(word: str) -> None:
    pieces = units(f"价格{word}元")
    assert word in pieces or f"{word}元" in pieces or any(p.startswith(word) for p in pieces)
    assert "".join(pieces) == f"价格{word}元"


def test_a_break_comes_after_spaces_and_the_pieces_join_back() -> None:
    text = "  模型 kimi-k2 很快， 真的。  "
    pieces = units(text)
    assert "".join(pieces) == text
    assert pieces[:3] == ["  模", "型 ", "kimi-k2 "]
    assert pieces[-1] == "的。  "


def test_marks_and_emoji_sequences_stay_whole() -> None:
    assert units("好👍🏻了") == ["好", "👍🏻", "了"]
    assert "👨\u200d👩\u200d👧" in units("家👨\u200d👩\u200d👧人")
    assert "e\u0301t\u00e9 " in units("e\u0301t\u00e9 中")


def test_wrapped_chinese_fills_every_line_and_no_line_starts_with_a_closer() -> None:
    for width in range(6, 60):
        lines = wrap(SENTENCE, width)
        assert "".join(lines).replace(" ", "") == SENTENCE.replace(" ", "")
        assert all(cell_len(line) <= width for line in lines), width
        assert not any(line[:1] in CLOSERS for line in lines), (width, lines)
        assert_full(SENTENCE, lines, width)


def test_ascii_text_breaks_at_spaces_as_rich_does() -> None:
    from rich._wrap import divide_line

    text = "The relay answers in streaming mode; see https://example.com/docs/streaming for details."
    for width in range(5, 40):
        assert divide(text, width) == divide_line(text, width), width


def test_a_piece_wider_than_the_line_folds_or_stays_whole() -> None:
    url = "https://example.com/" + "a" * 30
    assert divide(f"链接{url}", 12) == [2, 14, 26, 38, 50]  # the URL starts a line, then folds
    assert divide(f"链接 {url}", 12, fold=False) == [3]


def test_cell_widths_agree_with_rich() -> None:
    for text in [SENTENCE, "ｶﾀｶﾅ　全角", "e\u0301t\u00e9", "👍🏻表情", "plain"]:
        assert cell_len(text) == rich_cell_len(text), text


def test_rich_text_wraps_by_the_rules_where_rich_alone_breaks_at_the_space() -> None:
    console = Console(width=40, file=None, force_terminal=False, color_system=None, legacy_windows=False)
    lines = [line.plain.rstrip() for line in BreakingText(SENTENCE).wrap(console, 40)]
    assert lines == wrap(SENTENCE, 40)
    assert all(rich_cell_len(line) >= 38 for line in lines[:-1]), lines


@pytest.mark.parametrize("width", [1, 2, 3, 7, 10, 23, 40])
def test_prompt_rows_fit_their_width_spaces_included(width: int) -> None:
    """The prompt's rows (``text_area_wrap.wrap_offsets``) keep trailing spaces within the width, so the
    cursor after a typed space never stands past the edge; every character is kept, in order."""
    from holysheep_tui.tui.text_area_wrap import wrap_offsets

    text = "价格是 ¥2.50 每百万词元，  supercalifragilisticexpialidocious 和「中文」。 好"
    cuts = [0, *wrap_offsets(text, width), len(text)]
    rows = [text[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    assert "".join(rows) == text
    assert all(rows), rows
    assert all(cell_len(row) <= max(width, 2) for row in rows), rows
    if width >= 7:
        assert not [row for row in rows[1:] if row[:1] in "。，、）」"], rows
