"""`holysheep ask -c` / `--conversation` continuing a stored conversation, and `--fit` when it is longer than
the model's window: real subprocesses against the simulator, real SQLite history."""

from __future__ import annotations

import json
from typing import Any

import pytest

from holysheep_tui.errors import EXIT_BAD_REQUEST, EXIT_OK, EXIT_USAGE
from holysheep_tui.locations import metrics_file
from holysheep_tui.simulator import RelaySimulator
from holysheep_tui.store import HistoryStore

TURNS = 4
TOPICS = ("长城", "运河", "丝绸", "瓷器")


def _marker(index: int) -> str:
    return f"第{index + 1}轮标记{TOPICS[index]}"


def _seed_long_conversation(profile: str = "holysheep") -> str:
    """A kimi-k2 conversation of four long Chinese turns (about 11k tokens): too long for moonshot-v1-8k."""
    with HistoryStore.open() as store:
        cid = store.create_conversation(profile=profile, system_prompt=None)
        for index in range(TURNS):
            prompt = _marker(index) + "：" + f"请详细介绍{TOPICS[index]}的历史与文化影响。" * 180
            store.add_user_message(cid, prompt, model="kimi-k2")
            answer = store.start_answer(cid, model="kimi-k2")
            store.finish_answer(
                answer,
                status="complete",
                content=f"关于{TOPICS[index]}的回答，" * 20,
                reasoning="",
                model="kimi-k2",
            )
        return cid


def _sent(sim: RelaySimulator) -> list[dict[str, Any]]:
    return [r.json for r in sim.requests if r.path.endswith("/chat/completions")]


def _text(body: dict[str, Any]) -> str:
    return json.dumps(body["messages"], ensure_ascii=False)


def test_fit_fail_names_the_window_the_tokens_and_the_ways_out(simulator: RelaySimulator, cli: Any) -> None:
    _seed_long_conversation()
    out = cli("ask", "--base-url", simulator.base_url, "-c", "-m", "moonshot-v1-8k", "接着说")
    assert out.returncode == EXIT_BAD_REQUEST, out.stderr
    assert "8,192" in out.stderr and "tokens" in out.stderr
    assert "--fit compact" in out.stderr and "--fit recent" in out.stderr and "-m MODEL" in out.stderr
    assert _sent(simulator) == []  # never sent blind


def test_fit_recent_sends_only_the_turns_that_fit_and_says_which_are_left_out(
    simulator: RelaySimulator, cli: Any
) -> None:
    cid = _seed_long_conversation()
    out = cli(
        "ask", "--base-url", simulator.base_url, "-c", "-m", "moonshot-v1-8k", "--fit", "recent", "接着说"
    )
    assert out.returncode == EXIT_OK, out.stderr
    assert "left out: turns 1–" in out.stderr
    (body,) = _sent(simulator)
    sent = _text(body)
    assert body["model"] == "moonshot-v1-8k"
    assert _marker(0) not in sent and _marker(TURNS - 1) in sent and "接着说" in sent
    with HistoryStore.open() as store:
        stored = store.get_conversation(cid)
    assert stored.messages[-2].content == "接着说" and stored.messages[-1].model == "moonshot-v1-8k"
    assert stored.messages[0].content.startswith(_marker(0))  # nothing left the history


def test_fit_compact_stores_a_summary_sent_instead_of_the_turns_and_keeps_the_originals(
    simulator: RelaySimulator, cli: Any
) -> None:
    cid = _seed_long_conversation()
    out = cli(
        "ask", "--base-url", simulator.base_url, "-c", "-m", "moonshot-v1-8k", "--fit", "compact", "接着说"
    )
    assert out.returncode == EXIT_OK, out.stderr
    summary_request, answer_request = _sent(simulator)
    assert summary_request["model"] == "deepseek-v3.2"  # the cheapest whose window reads it all
    assert all(_marker(i) in _text(summary_request) for i in range(TURNS))
    assert answer_request["model"] == "moonshot-v1-8k"
    assert not any(_marker(i) in _text(answer_request) for i in range(TURNS))
    assert "Summary of the earlier conversation" in _text(answer_request)
    logged = [json.loads(line) for line in metrics_file().read_text(encoding="utf-8").splitlines()]
    assert [r["model"] for r in logged] == ["deepseek-v3.2", "moonshot-v1-8k"]  # the summary was paid for too
    assert logged[0]["cost_usd"] and logged[0]["prompt_tokens"] > 0

    with HistoryStore.open() as store:
        stored = store.get_conversation(cid)
        hits = store.search(TOPICS[0])
    kinds = [m.kind for m in stored.messages]
    assert kinds.count("summary") == 1 and kinds[-3] == "summary"
    assert stored.messages[0].content.startswith(_marker(0))
    assert any(h.message_id == stored.messages[0].id for h in hits)  # the originals stay searchable

    again = cli("ask", "--base-url", simulator.base_url, "-c", "-m", "moonshot-v1-8k", "再问一次")
    assert again.returncode == EXIT_OK, again.stderr
    later = _sent(simulator)[-1]
    assert "Summary of the earlier conversation" in _text(later) and _marker(0) not in _text(later)
    assert "接着说" in _text(later)
    assert later["messages"][0]["content"].startswith(
        "Summary of the earlier conversation"
    )  # not a system prompt
    assert sum("Summary of the earlier" in m["content"] for m in later["messages"]) == 1


def test_compact_model_flag_picks_the_summary_writer(simulator: RelaySimulator, cli: Any) -> None:
    _seed_long_conversation()
    out = cli(
        "ask", "--base-url", simulator.base_url, "-c", "-m", "moonshot-v1-8k",
        "--fit", "compact", "--compact-model", "gemini-2.5-flash", "接着说",
    )  # fmt: skip
    assert out.returncode == EXIT_OK, out.stderr
    assert [b["model"] for b in _sent(simulator)] == ["gemini-2.5-flash", "moonshot-v1-8k"]


def test_conversation_id_continues_that_one_with_its_model(simulator: RelaySimulator, cli: Any) -> None:
    with HistoryStore.open() as store:
        first = store.create_conversation(profile="holysheep", system_prompt="你是历史老师")
        store.add_user_message(first, "秦朝是哪一年统一的？", model="gpt-4.1")
        answer = store.start_answer(first, model="gpt-4.1")
        store.finish_answer(answer, status="complete", content="公元前221年。", reasoning="", model="gpt-4.1")
    _seed_long_conversation()  # newer: -c would pick this one
    out = cli("ask", "--base-url", simulator.base_url, "--conversation", first[:8], "那汉朝呢？")
    assert out.returncode == EXIT_OK, out.stderr
    (body,) = _sent(simulator)
    assert body["model"] == "gpt-4.1"
    assert [m["content"] for m in body["messages"]] == [
        "你是历史老师",
        "秦朝是哪一年统一的？",
        "公元前221年。",
        "那汉朝呢？",
    ]
    with HistoryStore.open() as store:
        assert store.get_conversation(first).messages[-2].content == "那汉朝呢？"


@pytest.mark.parametrize(
    "args",
    [("-c",), ("-c", "--conversation", "abc"), ("-c", "--no-history"), ("--compact-model", "gpt-4.1")],
)
def test_continue_flag_misuse_is_a_usage_error(
    simulator: RelaySimulator, cli: Any, args: tuple[str, ...]
) -> None:
    out = cli("ask", "--base-url", simulator.base_url, *args, "你好")
    assert out.returncode == EXIT_USAGE, out.stderr
    assert _sent(simulator) == []
