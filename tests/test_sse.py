"""The SSE decoder on its own: bytes in, events out, per the WHATWG "event stream interpretation".

Every stream must give the same events whole, split at any byte, and a byte at a time; the spec's own
examples are here word for word.
"""

from __future__ import annotations

import random
import re
import time

import pytest

from holysheep_tui.relay.sse import EventText, ServerSentEvent, SSEDecoder

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


def every_split(stream: bytes) -> list[list[ServerSentEvent]]:
    """The events of ``stream`` whole, at every single split point and a byte at a time."""
    outcomes = [decode(stream), decode(*(stream[i : i + 1] for i in range(len(stream))))]
    outcomes += [decode_split(stream, [cut]) for cut in range(1, len(stream))]
    return outcomes


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
    "data: 甲\n\ndata: 乙\n\n"
    "event: error\n"
    'data: {"error": {"message": "上游错误"}}\n\n'
).encode()
MIXED_EVENTS = [
    E("message", "你好，世界", "1", 3000),
    E("progress", "第一行\n第二行 🐑", "1", None),
    E("message", '{"k": "v"}', "2", None),
    E("message", "甲", "2", None),
    E("message", "乙", "2", None),
    E("error", '{"error": {"message": "上游错误"}}', "2", None),
]


# ---- the spec's examples ---------------------------------------------------------------------


def test_spec_example_multi_line_data_is_joined_with_newlines() -> None:
    stream = b"data: YHOO\ndata: +2\ndata: 10\n\n"
    assert all(events == [E(data="YHOO\n+2\n10")] for events in every_split(stream))


def test_spec_example_ids_comments_and_a_leading_space() -> None:
    # "id" with no colon sets the last event ID to the empty string; only one leading space is removed.
    stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"
    expected = [E(data="first event", id="1"), E(data="second event", id=""), E(data=" third event", id="")]
    assert all(events == expected for events in every_split(stream))


def test_spec_example_empty_data_lines() -> None:
    # An empty data line dispatches an empty message; two give a single newline. The spec discards a
    # last block without its blank line; this decoder dispatches it at the end of the body (the leniency).
    stream = b"data\n\ndata\ndata\n\ndata:"
    expected = [E(data=""), E(data="\n"), E(data="")]
    assert all(events == expected for events in every_split(stream))


def test_spec_example_the_space_after_the_colon_is_optional() -> None:
    stream = b"data:test\n\ndata: test\n\n"
    assert all(events == [E(data="test"), E(data="test")] for events in every_split(stream))


# ---- field and dispatch rules ----------------------------------------------------------------


def test_an_event_without_data_is_not_dispatched_even_when_named() -> None:
    assert decode(b"event: ping\n\nid: 7\n\nretry: 5\n\n\n\n") == []
    assert decode(b"event: ping\n\nevent: pong\ndata: x\n\n") == [E("pong", "x", None, None)]


def test_event_type_and_retry_belong_to_one_event_but_the_id_persists() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"event: a\nretry: 10\nid: 4\ndata: 1\n\ndata: 2\n\n")
    assert list(events) == [E("a", "1", "4", 10), E("message", "2", "4", None)]
    assert (decoder.last_event_id, decoder.retry) == ("4", 10)


def test_id_with_nul_is_ignored() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"id: 9\ndata: a\n\nid: x\x00y\ndata: b\n\n")
    assert [e.id for e in events] == ["9", "9"]
    assert decoder.last_event_id == "9"


def test_retry_only_ascii_digits() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(
        "retry: 15s\ndata: a\n\nretry: 250\ndata: b\n\nretry: ２\ndata: c\n\nretry: 99999999999999\ndata: d\n\n".encode()
    )
    assert [e.retry for e in events] == [None, 250, None, 99999999999999]
    assert decoder.retry == 99999999999999


def test_field_without_colon_and_unknown_fields() -> None:
    # "data" alone is an empty data line; unknown fields are ignored.
    assert decode(b"data\ndata: x\nfoo: bar\nDATA: no\n\n") == [E(data="\nx")]


def test_only_one_leading_byte_order_mark_is_dropped() -> None:
    bom = "\ufeff".encode()
    assert decode(bom[:1], bom[1:] + b"data: x\n\n") == [E(data="x")]
    # A second one is part of the first line's field name, which no field has.
    assert decode(bom + bom + b"data: x\n\ndata: y\n\n") == [E(data="y")]


def test_close_dispatches_a_final_event_without_blank_line() -> None:
    assert decode(b"data: \xe5\xae\x8c\xe6\x88\x90") == [E(data="完成")]
    assert decode(b"data: [DONE]\n") == [E(data="[DONE]")]
    assert decode(b"data: x\n\n") == [E(data="x")]


# ---- line ends, UTF-8, splits ----------------------------------------------------------------


def test_fields_comments_and_multiline_data() -> None:
    assert decode(MIXED) == MIXED_EVENTS


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_every_split_point_and_byte_at_a_time_give_the_same_events(newline: bytes) -> None:
    stream = MIXED.replace(b"\n", newline)
    for cut, events in enumerate(every_split(stream)):
        assert events == MIXED_EVENTS, f"outcome {cut}"


def test_mixed_line_endings_in_one_stream() -> None:
    assert decode(b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r") == [E(data="a\nb\nc"), E(data="d")]


def test_random_multi_splits_give_the_same_events() -> None:
    rng = random.Random(20240611)
    for newline in (b"\n", b"\r\n"):
        stream = MIXED.replace(b"\n", newline)
        for _ in range(300):
            cuts = rng.sample(range(1, len(stream)), rng.randint(1, 12))
            assert decode_split(stream, cuts) == MIXED_EVENTS, f"cuts {sorted(cuts)}"


def test_cr_at_end_of_chunk_then_lf_is_one_line_end_not_two() -> None:
    # "data: a\r" | "\n" | "data: b\r\n\r\n": were CR and LF counted twice, "a" would be dispatched alone.
    assert decode(b"data: a\r", b"\ndata: b\r", b"\n\r\n") == [E(data="a\nb")]


def test_cr_then_lf_split_by_an_empty_chunk_is_still_one_line_end() -> None:
    assert decode(b"data: \xe4\xbd\xa0\r", b"", b"\ndata: b\r\n\r\n") == [E(data="你\nb")]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    # A lone continuation byte, and a truncated character at end of stream.
    assert decode(b"data: a\x80b\n\ndata: \xe4\xbd") == [E(data="a\ufffdb"), E(data="\ufffd")]


def test_feed_returns_events_as_soon_as_they_complete() -> None:
    decoder = SSEDecoder()
    assert list(decoder.feed("data: 你".encode())) == []
    assert list(decoder.feed(b"\n")) == []
    assert list(decoder.feed(b"\n")) == [E(data="你")]
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


# ---- events handed on as their text ----------------------------------------------------------

PLAIN = b"data: {\"n\": 1}\n\ndata: {\"n\": 22}\n\ndata: {\"n\": 333}\n\n"
NUMBER = re.compile(r'\{"n": (\d+)\}')


def started() -> SSEDecoder:
    """A decoder past its first read (the one that may carry a byte-order mark)."""
    decoder = SSEDecoder()
    assert list(decoder.feed(b": hello\n\n")) == []
    return decoder


def test_a_read_of_whole_events_is_handed_on_as_text_that_reads_as_the_events() -> None:
    events = started().feed(PLAIN + b"data: {\"n\": 4")
    assert isinstance(events, EventText)
    assert events == [E(data='{"n": 1}'), E(data='{"n": 22}'), E(data='{"n": 333}')]
    assert len(events) == 3 and events[-1].data == '{"n": 333}'


def test_data_matches_gives_a_group_per_event_only_when_every_event_is_one_matching_data_line() -> None:
    events = started().feed(PLAIN)
    assert isinstance(events, EventText)
    assert events.data_matches(NUMBER) == ["1", "22", "333"]
    for odd in (
        b"data: {\"n\": 1}\n\nevent: named\ndata: {\"n\": 2}\n\n",  # a named event
        b"data: {\"n\": 1}\n\n: comment\ndata: {\"n\": 2}\n\n",  # a comment line
        b"data: {\"n\": 1}\ndata: {\"n\": 2}\n\n",  # two data lines in one event
        b"data: {\"n\": 1}\n\ndata: {\"n\": x}\n\n",  # data the pattern does not match
        b"data: {\"n\": 1}\n\n\n\ndata: {\"n\": 2}\n\n",  # a blank line more
        b"data:{\"n\": 1}\n\n",  # no space after the colon: the same event, but not this text
    ):
        text = started().feed(odd)
        assert isinstance(text, EventText) and text.data_matches(NUMBER) is None, odd
    with pytest.raises(ValueError, match="one group"):
        events.data_matches(re.compile(r"\{.*\}"))


def test_id_and_retry_fields_in_events_handed_on_as_text_count_whether_or_not_they_are_read() -> None:
    for look in (False, True):
        decoder = started()
        text = decoder.feed(b"data: a\n\nretry: 70\nid: 5\ndata: b\n\ndata: c\n\n")
        assert isinstance(text, EventText)
        if look:
            assert [e.id for e in text] == [None, "5", "5"]
        assert list(decoder.feed(b"data: d\n\n")) == [E(data="d", id="5")]
        assert (decoder.last_event_id, decoder.retry) == ("5", 70)


def test_an_id_line_after_events_handed_on_as_text_comes_after_them() -> None:
    decoder = started()
    text = decoder.feed(b"id: 1\ndata: a\n\nid: 2\n")
    assert list(decoder.feed(b"data: b\n\n")) == [E(data="b", id="2")]
    assert list(text) == [E(data="a", id="1")]


def test_events_read_by_data_matches_keep_the_id_from_before_them() -> None:
    decoder = started()
    list(decoder.feed(b"id: 3\ndata: {\"n\": 0}\n\n"))
    text = decoder.feed(PLAIN)
    assert isinstance(text, EventText) and text.data_matches(NUMBER) == ["1", "22", "333"]
    assert list(decoder.feed(b"data: z\n\n")) == [E(data="z", id="3")]
    assert decoder.last_event_id == "3"
