"""The context window core: the offline token estimate (and what it learns), windows, and the fit planner."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from holysheep_tui.chat.context import (
    Chars,
    ContextPlan,
    TokenEstimator,
    TokenRates,
    Windows,
    count_chars,
    plan_context,
)
from holysheep_tui.chat.controller import ConversationController
from holysheep_tui.chat.conversation import Conversation, Turn
from holysheep_tui.config import Profile, RetryPolicy
from holysheep_tui.economics.prices import PriceBook
from holysheep_tui.relay.client import RelayClient
from holysheep_tui.relay.wire import Answer
from holysheep_tui.simulator import RelaySimulator

BOOK = PriceBook(use_genai_prices=False)
WINDOWS = Windows(BOOK)


def _conversation(turns: int, prompt_chars: int = 1000, model: str = "kimi-k2") -> Conversation:
    conv = Conversation(profile="holysheep", model=model, system_prompt="你是一个简洁的助手")
    for index in range(turns):
        answer = Answer(model=model)
        answer.content_parts.append(f"第{index + 1}轮的回答。" * 10)
        conv.turns.append(Turn(f"第{index + 1}轮：" + "问" * prompt_chars, model, answer, status="complete"))
    return conv


def test_chinese_and_latin_text_are_counted_apart() -> None:
    assert count_chars("人民币结算 saves money") == Chars(cjk=5, other=12, messages=1)
    assert count_chars("plain ascii") == Chars(cjk=0, other=11, messages=1)
    estimator = TokenEstimator()
    chinese = estimator.tokens("kimi-k2", estimator.chars("汉" * 400))
    english = estimator.tokens("kimi-k2", estimator.chars("word " * 80))  # the same 400 characters
    assert chinese > 3 * english  # a Han character is about a token, Latin text about a quarter


def test_rates_learn_from_reported_usage_per_model_and_persist(tmp_path: Path) -> None:
    path = tmp_path / "token_rates.json"
    rates = TokenRates(path)
    sent = Chars(cjk=1000, other=0, messages=2)
    for _ in range(20):  # the relay keeps reporting 0.6 tokens per Han character
        rates.learn("kimi-k2", sent, 600 + 8)
    learnt = rates.rate("kimi-k2")
    assert learnt.cjk == pytest.approx(0.6, rel=0.02) and learnt.samples == 20
    assert learnt.other == pytest.approx(0.25)  # no Latin text sent: its rate is left alone
    assert rates.rate("gpt-4.1").cjk == 1.0  # other models keep the defaults
    again = TokenRates(path)
    assert again.rate("kimi-k2") == learnt
    assert [p.name for p in tmp_path.iterdir()] == ["token_rates.json"]  # written atomically, no temp left
    path.write_text("{不是 JSON", encoding="utf-8")
    assert TokenRates(path).rate("kimi-k2").cjk == 1.0  # a damaged file means the defaults


async def test_a_finished_answer_teaches_the_estimator_through_the_controller(
    simulator: RelaySimulator,
) -> None:
    client = RelayClient(Profile(base_url=simulator.base_url, retry=RetryPolicy(max_retries=0)), None)
    controller = ConversationController(client, profile_name="holysheep")
    controller.estimator = TokenEstimator()
    try:
        turn = await controller.run_turn(Conversation("holysheep", "kimi-k2"), "请介绍一下长城的历史" * 20)
    finally:
        await client.aclose()
    assert turn.status == "complete"
    assert controller.estimator.rates.rate("kimi-k2").samples == 1


def test_a_keystroke_counts_only_the_new_prompt() -> None:
    counted: list[str] = []

    class Counting(TokenEstimator):
        def chars(self, text: str) -> Chars:
            if text not in self._texts:
                counted.append(text)
            return super().chars(text)

    estimator = Counting()
    conv = _conversation(1000, prompt_chars=200)  # 2,000 messages
    plan = plan_context(conv, "下一个问题", "gpt-4.1", windows=WINDOWS, estimator=estimator, prices=BOOK)
    assert plan.fits and len(counted) > 1000
    counted.clear()
    started = time.perf_counter()
    for n in range(1, 51):
        plan_context(
            conv, "下一个问题" + "字" * n, "gpt-4.1", windows=WINDOWS, estimator=estimator, prices=BOOK
        )
    per_call = (time.perf_counter() - started) / 50
    assert len(counted) == 50  # one new prompt text per call, nothing of the history
    print(f"plan_context per keystroke over 2,000 messages: {per_call * 1000:.3f} ms")
    conv.turns.append(_conversation(1).turns[0])
    plan_context(conv, "再问", "gpt-4.1", windows=WINDOWS, estimator=estimator, prices=BOOK)
    assert any(t.startswith("第1轮：") for t in counted)  # a new turn changes the history: counted again


def test_a_conversation_that_fits_has_its_share_of_the_window_and_its_cost() -> None:
    plan = plan_context(
        _conversation(3), "继续", "kimi-k2", windows=WINDOWS, estimator=TokenEstimator(), prices=BOOK
    )
    assert plan.fits and plan.estimated and plan.window == 131_072
    assert plan.percent is not None and 0 < plan.percent < 5
    assert plan.cost is not None and plan.cost.estimated and plan.cost.usd > 0
    assert plan.compact is None and plan.recent is None and plan.switch is None


def test_an_unknown_window_has_no_meter_and_nothing_automatic() -> None:
    plan = plan_context(
        _conversation(50), "继续", "私有模型-x", windows=WINDOWS, estimator=TokenEstimator(), prices=BOOK
    )
    assert plan.window is None and plan.percent is None and plan.fits and plan.cost is None


@pytest.fixture
def too_long() -> Callable[..., ContextPlan]:
    """A 6-turn conversation of about 6,400 tokens sent to moonshot-v1-8k (8,192, 1,024 kept for the answer)."""

    def plan(**options: object) -> ContextPlan:
        return plan_context(
            _conversation(6, prompt_chars=1000), "接着说", "moonshot-v1-8k",
            windows=WINDOWS, estimator=TokenEstimator(), prices=BOOK, **options,  # type: ignore[arg-type]
        )  # fmt: skip

    return plan


def test_the_answer_reserve_decides_whether_it_fits(too_long: Callable[..., ContextPlan]) -> None:
    plan = too_long()
    assert plan.fits and plan.reserve == 1024
    squeezed = too_long(max_tokens=8192 - plan.tokens + 1)
    assert not squeezed.fits and squeezed.tokens == plan.tokens


def test_a_conversation_that_does_not_fit_offers_three_ways_out_cheapest_first(
    too_long: Callable[..., ContextPlan],
) -> None:
    plan = too_long(max_tokens=3000)
    assert not plan.fits and plan.percent is not None and plan.percent > 70
    assert plan.switch is not None and plan.compact is not None and plan.recent is not None

    switch = [c.model for c in plan.switch.models]
    assert "moonshot-v1-8k" not in switch and "moonshot-v1-32k" in switch
    costs = [c.cost.usd for c in plan.switch.models if c.cost is not None]
    assert costs == sorted(costs)
    assert all(c.tokens + 3000 <= c.window for c in plan.switch.models)

    writers = plan.compact.writers
    assert (
        writers[0].model == "moonshot-v1-8k"
    )  # the cheapest whose window reads it all (without the reserve)
    writer_costs = [c.cost.usd for c in writers if c.cost is not None]
    assert writer_costs == sorted(writer_costs) and all(c.tokens < c.window for c in writers)
    assert plan.compact.tokens + 3000 <= 8192

    recent = plan.recent
    assert recent.tokens + 3000 <= 8192 and recent.total_turns == 6 and 1 <= recent.omit < 6
    conv = _conversation(6, prompt_chars=1000)
    one_more = TokenEstimator().request_chars(conv, "接着说", recent.omit - 1)
    assert TokenEstimator().tokens("moonshot-v1-8k", one_more) + 3000 > 8192  # as many turns as fit
    assert recent.left_out == f"turns 1–{recent.omit} of 6" or recent.left_out == "turn 1 of 6"
    text = plan.describe()
    assert "8,192" in text and "--fit compact" in text and "--fit recent" in text and "-m MODEL" in text


def test_a_summary_and_omitted_turns_shape_the_request() -> None:
    conv = _conversation(4, prompt_chars=10)
    conv.summary, conv.summary_turns = "之前讨论了四个问题", 3
    texts = [m.text for m in conv.messages_for("新问题")]
    assert texts[0] == "你是一个简洁的助手" and "之前讨论了四个问题" in texts[1]
    assert texts[2].startswith("第4轮") and texts[-1] == "新问题" and len(texts) == 5
    recent = [m.text for m in conv.messages_for("新问题", omit=4)]
    assert recent == ["你是一个简洁的助手", "新问题"]  # leaving out more than it covers drops the summary too
    data = json.dumps([m.to_wire() for m in conv.messages_for("新问题")], ensure_ascii=False)
    assert "第1轮" not in data


def test_config_windows_override_the_price_data_and_must_be_positive(tmp_path: Path) -> None:
    from holysheep_tui.config import load_config
    from holysheep_tui.errors import ConfigError

    path = tmp_path / "config.toml"
    path.write_text(
        '# 上下文窗口\n[context_windows]\n"moonshot-v1-8k" = 4096\n"本地模型" = 32768\n', encoding="utf-8"
    )
    windows = Windows(BOOK, overrides=load_config(path).context_windows)
    assert windows.window("moonshot-v1-8k") == 4096 and windows.window("本地模型") == 32768
    assert windows.window("moonshot-v1-32k") == 32_768  # the price data where the config says nothing
    path.write_text('[context_windows]\n"kimi-k2" = 0\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="context_windows"):
        load_config(path)
