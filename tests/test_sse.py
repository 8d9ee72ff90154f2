"""The SSE decoder: WHATWG field rules, every line ending, and any split of the byte stream."""

from __future__ import annotations

import random
import time

import pytest

from holysheep_tui.relay.sse import ServerSentEvent, SSEDecoder

E = ServerSentEvent


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events


def decode_split(stream: bytes, cuts: list[int]) -> list[ServerSentEvent]:
    bounds = [0, *sorted(cuts), len(stream)]
    return decode(*(stream[a:b] for a, b in zip(bounds, bounds[1:], strict=False)))


# A stream using every feature: comments, named events, ids, retry, multi-line data, Chinese text.
MIXED = (
    ": OPENROUTER PROCESSING\n\n"
    "retry: 3000\n"
    "id: 1\n"
    "data: 你好，世界\n\n"
    "event: progress\n"
    "data:第一行\n"
    "data: 第二行 🐑\n\n"
    ": keep-alive\n"
    "id: 2\n"
    'data: {"k": "v"}\n\n'
    "event: error\n"
    'data: {"error": {"message": "上游错误"}}\n\n'
).encode()
MIXED_EVENTS = [
    E("message", "你好，世界", "1", 3000),
    E("progress", "第一行\n第二行 🐑", "1", None),
    E("message", '{"k": "v"}', "2", None),
    E("error", '{"error": {"message": "上游错误"}}', "2", None),
]


def test_fields_comments_and_multiline_data() -> None:
    assert decode(MIXED) == MIXED_EVENTS


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"], ids=["crlf", "cr"])
def test_crlf_and_lone_cr_line_endings_give_the_same_events(newline: bytes) -> None:
    assert decode(MIXED.replace(b"\n", newline)) == MIXED_EVENTS


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_every_single_split_point_gives_the_same_events(newline: bytes) -> None:
    stream = MIXED.replace(b"\n", newline)
    for cut in range(len(stream) + 1):
        assert decode_split(stream, [cut]) == MIXED_EVENTS, f"split at byte {cut}"


def test_byte_at_a_time_gives_the_same_events() -> None:
    stream = MIXED.replace(b"\n", b"\r\n")
    assert decode(*(stream[i : i + 1] for i in range(len(stream)))) == MIXED_EVENTS


def test_random_multi_splits_give_the_same_events() -> None:
    rng = random.Random(20240611)
    stream = MIXED.replace(b"\n", b"\r\n")
    for _ in range(300):
        cuts = rng.sample(range(1, len(stream)), rng.randint(1, 12))
        assert decode_split(stream, cuts) == MIXED_EVENTS, f"cuts {sorted(cuts)}"


def test_cr_at_end_of_chunk_then_lf_is_one_line_end_not_two() -> None:
    # "data: a\r" | "\n" | "data: b\r\n\r\n": were CR and LF counted twice, "a" would be dispatched alone.
    assert decode(b"data: a\r", b"\ndata: b\r", b"\n\r\n") == [E(data="a\nb")]


def test_cr_then_lf_split_by_an_empty_chunk_is_still_one_line_end() -> None:
    assert decode(b"data: \xe4\xbd\xa0\r", b"", b"\ndata: b\r\n\r\n") == [E(data="你\nb")]


def test_multibyte_character_split_across_reads() -> None:
    text = "data: 深度求索🐑\n\n".encode()
    for cut in range(len(text) + 1):
        assert decode(text[:cut], text[cut:]) == [E(data="深度求索🐑")]


def test_data_with_and_without_the_space() -> None:
    assert decode(b"data:abc\n\ndata: abc\n\ndata:  two spaces\n\n") == [
        E(data="abc"),
        E(data="abc"),
        E(data=" two spaces"),
    ]


def test_field_without_colon_and_unknown_fields() -> None:
    # "data" alone is an empty data line; unknown fields are ignored.
    assert decode(b"data\ndata: x\nfoo: bar\n\n") == [E(data="\nx")]


def test_empty_event_is_not_dispatched_but_named_event_is() -> None:
    assert decode(b"\n\n\ndata:\n\nid: 7\n\nevent: ping\n\n") == [E("ping", "", "7", None)]


def test_id_persists_and_id_with_nul_is_ignored() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"id: 9\ndata: a\n\nid: x\x00y\ndata: b\n\nid\ndata: c\n\n")
    assert [e.id for e in events] == ["9", "9", ""]
    assert decoder.last_event_id == ""


def test_retry_only_digits() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"retry: 15s\ndata: a\n\nretry: 250\ndata: b\n\nretry: 99999999999999\ndata: c\n\n")
    assert [e.retry for e in events] == [None, 250, None]
    assert decoder.retry == 250


def test_close_dispatches_a_final_event_without_blank_line() -> None:
    assert decode(b"data: \xe5\xae\x8c\xe6\x88\x90") == [E(data="完成")]
    assert decode(b"data: [DONE]\n") == [E(data="[DONE]")]
    assert decode(b"data: x\n\n") == [E(data="x")]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    # A lone continuation byte, and a truncated character at end of stream.
    assert decode(b"data: a\x80b\n\ndata: \xe4\xbd") == [E(data="a\ufffdb"), E(data="\ufffd")]


def test_leading_byte_order_mark_is_dropped() -> None:
    bom = "\ufeff".encode()
    assert decode(bom[:1], bom[1:] + b"data: x\n\n") == [E(data="x")]


def test_feed_returns_events_as_soon_as_they_complete() -> None:
    decoder = SSEDecoder()
    assert decoder.feed("data: 你".encode()) == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\n") == [E(data="你")]
    assert decoder.close() == []


def test_one_megabyte_line_in_small_chunks() -> None:
    payload = ("汉字" * 180_000).encode()  # ~1 MB, no line break until the end
    stream = b"data: " + payload + b"\n\n"
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    start = time.perf_counter()
    for i in range(0, len(stream), 997):  # odd chunk size: splits characters
        events.extend(decoder.feed(stream[i : i + 997]))
    elapsed = time.perf_counter() - start
    assert events == [E(data="汉字" * 180_000)]
    # Hang guard against quadratic buffering (quadratic would take minutes), not a benchmark.
    assert elapsed < 20


def test_lf_after_a_cr_is_skipped_once_not_again_in_the_next_read() -> None:
    # "a\r" | "\n" is one line end; the next "\n" is the blank line that dispatches the event.
    decoder = SSEDecoder()
    assert decoder.feed("data: 你\r".encode()) == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\n") == [E(data="你")]


def test_decode_gives_the_fields_of_feed_as_tuples() -> None:
    decoder = SSEDecoder()
    raw = decoder.decode(MIXED.replace(b"\n", b"\r\n"))
    assert [E(*fields) for fields in raw] == MIXED_EVENTS


def decode_with_run(*chunks: bytes) -> tuple[list[ServerSentEvent], list[str]]:
    """Decode with a run that takes every text of only one-line ``data: `` events: the events and the texts offered."""
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    offered: list[str] = []

    def run(text: str) -> bool:
        offered.append(text)
        blocks = text[:-2].split("\n\n")
        if not all(b.startswith("data: ") and len(b) > 6 and "\n" not in b for b in blocks):
            return False
        events.extend(E(data=b[6:], id=decoder.last_event_id) for b in blocks)
        return True

    for chunk in chunks:
        events.extend(E(*raw) for raw in decoder.decode(chunk, run))
    events.extend(decoder.close())
    return events, offered


def test_a_run_is_offered_only_whole_events_with_nothing_pending() -> None:
    cases = [
        [b"data: \xe4\xb8\x80\n", b"data: \xe4\xba\x8c\n\n"],  # one event of two data lines
        ["event: 名\n".encode(), "data: 一\n\n".encode()],
        [b"retry: 5\n", "data: 一\n\n".encode()],
        ["data: 一\n\nid: 3\ndata: 二".encode(), "\n\ndata: 三\n\n".encode()],
    ]
    for chunks in cases:
        assert decode_with_run(*chunks)[0] == decode(*chunks), chunks
    events, offered = decode_with_run(b"data: a", "\n\ndata: 乙\n\ndata: c".encode(), b"\n\n")
    assert events == [E(data="a"), E(data="乙"), E(data="c")]
    assert offered == ["data: a\n\ndata: 乙\n\n", "data: c\n\n"]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_a_run_changes_no_event_at_any_split_point(newline: bytes) -> None:
    stream = MIXED.replace(b"\n", newline) + "data: 尾\n\n".encode()
    expected = [*MIXED_EVENTS, E(data="尾", id="2")]
    for cut in range(len(stream) + 1):
        assert decode_with_run(stream[:cut], stream[cut:])[0] == expected, f"split at byte {cut}"
