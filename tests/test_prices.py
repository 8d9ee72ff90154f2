"""Prices, the cost of an answer, estimates and currency display."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from holysheep_tui.config import PriceOverride, PricingConfig, parse_config
from holysheep_tui.economics.money import CurrencyView, format_cny, format_usd
from holysheep_tui.economics.prices import (
    RELAY_PRICES,
    Cost,
    PriceBook,
    cost_usd,
    estimate_tokens,
    estimate_usage,
    name_candidates,
)
from holysheep_tui.relay.wire import Usage


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook()


def test_relay_table_has_the_seed_output_prices_with_sources(book: PriceBook) -> None:
    expected = {"gpt-4.1": 8.0, "claude-sonnet-4-5": 15.0, "gemini-2.5-flash": 2.5, "deepseek-v3.2": 0.42}
    for model, out in expected.items():
        price = book.lookup(model)
        assert price is not None and price.output_per_m == out
        assert "HolySheep relay article" in price.source and price.as_of
    for model in ("kimi-k2", "kimi-k2-thinking", "moonshot-v1-8k", "moonshot-v1-32k", "deepseek-reasoner"):
        assert model in RELAY_PRICES
        assert RELAY_PRICES[model].source and RELAY_PRICES[model].as_of


def test_cached_tokens_are_billed_at_the_cached_price_and_reasoning_as_output(book: PriceBook) -> None:
    # 中文对话: 10k prompt tokens of which 4k cached, 2k completion including 500 reasoning
    usage = Usage(prompt_tokens=10_000, completion_tokens=2_000, total_tokens=12_000, cached_tokens=4_000,
                  reasoning_tokens=500)  # fmt: skip
    cost = book.cost("gpt-4.1", usage)
    # 6000 * $2 + 4000 * $0.50 + 2000 * $8 per million
    assert cost is not None and not cost.estimated
    assert cost.usd == pytest.approx(0.03)


def test_reasoning_reported_outside_completion_is_added_to_output(book: PriceBook) -> None:
    usage = Usage(prompt_tokens=1_000, completion_tokens=1_000, total_tokens=2_500, reasoning_tokens=500)
    cost = book.cost("deepseek-reasoner", usage)
    assert cost is not None
    assert cost.usd == pytest.approx((1_000 * 0.28 + 1_500 * 0.42) / 1e6)


def test_tiered_price_applies_to_the_whole_request_above_200k_prompt_tokens(book: PriceBook) -> None:
    at_limit = Usage(prompt_tokens=200_000, completion_tokens=1_000, cached_tokens=50_000)
    above = Usage(prompt_tokens=250_000, completion_tokens=1_000, cached_tokens=50_000)
    low = book.cost("claude-sonnet-4-5", at_limit)
    high = book.cost("claude-sonnet-4-5-20250929", above)
    assert low is not None and high is not None
    assert low.usd == pytest.approx((150_000 * 3 + 50_000 * 0.30 + 1_000 * 15) / 1e6)
    assert high.usd == pytest.approx((200_000 * 6 + 50_000 * 0.60 + 1_000 * 22.5) / 1e6)


def test_genai_prices_fallback_agrees_with_the_package_own_arithmetic_including_tiers(book: PriceBook) -> None:
    from genai_prices import Usage as GUsage
    from genai_prices import calc_price

    price = book.lookup("gemini-2.5-pro")
    assert price is not None and price.tiers, "gemini-2.5-pro has a >200k tier in genai-prices"
    assert price.source.startswith("genai-prices")
    for prompt in (100_000, 300_000):
        ours = book.cost("google/gemini-2.5-pro", Usage(prompt_tokens=prompt, completion_tokens=5_000,
                                                         cached_tokens=20_000))  # fmt: skip
        theirs = calc_price(GUsage(input_tokens=prompt, cache_read_tokens=20_000, output_tokens=5_000),
                            "gemini-2.5-pro")  # fmt: skip
        assert ours is not None
        assert ours.usd == pytest.approx(float(theirs.total_price))


def test_unknown_model_has_no_price_never_zero(book: PriceBook) -> None:
    usage = Usage(prompt_tokens=100, completion_tokens=100)
    assert book.lookup("我的私有模型-v9") is None
    assert book.cost("我的私有模型-v9", usage) is None
    assert book.estimate_cost("totally-unknown-model", "你好", "世界") is None
    assert CurrencyView().format_cost(None) == "price unknown"


@pytest.mark.parametrize(
    "name",
    ["gpt-4.1", "GPT-4.1", "openai/gpt-4.1", "gpt-4.1-2025-04-14", "openrouter/openai/gpt-4.1-20250414"],
)
def test_prefixed_and_dated_names_find_the_table_entry(book: PriceBook, name: str) -> None:
    assert book.lookup(name) is RELAY_PRICES["gpt-4.1"]


def test_name_candidates_strip_prefix_then_date() -> None:
    assert name_candidates("Anthropic/claude-sonnet-4-5@20250929") == [
        "anthropic/claude-sonnet-4-5@20250929",
        "claude-sonnet-4-5@20250929",
        "claude-sonnet-4-5",
    ]


def test_config_overrides_win_and_cached_defaults_to_input_price() -> None:
    config = parse_config({"pricing": {"overrides": {"kimi-k2": {"input": 1.0, "output": 2.0}}}})
    book = PriceBook(config.pricing)
    price = book.lookup("moonshot/kimi-k2")
    assert price is not None
    assert (price.input_per_m, price.output_per_m) == (1.0, 2.0)
    assert "override" in price.source and price.context_window == 131_072
    cost = book.cost("kimi-k2", Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000, cached_tokens=500_000))
    assert cost is not None and cost.usd == pytest.approx(3.0)


def test_override_prices_a_model_nobody_knows() -> None:
    book = PriceBook({"内部-模型": PriceOverride(input=0.5, output=1.5, cached_input=0.1)})
    cost = book.cost("内部-模型", Usage(prompt_tokens=2_000_000, completion_tokens=1_000_000, cached_tokens=1_000_000))
    assert cost is not None and cost.usd == pytest.approx(0.5 + 0.1 + 1.5)


def test_estimates_count_cjk_as_one_token_and_other_text_as_four_chars() -> None:
    assert estimate_tokens("你好世界") == 4
    assert estimate_tokens("hello world!") == 3
    assert estimate_tokens("价格 price") == 2 + 2  # 2 CJK + " price" (6 chars)
    usage = estimate_usage(["系统提示", "用户：你好"], "回答：你好！")
    assert usage.prompt_tokens == 4 + 5 and usage.completion_tokens == 6
    assert estimate_usage(400, "").prompt_tokens == 100


def test_answer_cost_is_exact_with_usage_and_estimated_without(book: PriceBook) -> None:
    exact = book.answer_cost("kimi-k2", Usage(prompt_tokens=10, completion_tokens=10), "你好", "世界")
    assert exact is not None and not exact.estimated
    guess = book.answer_cost("kimi-k2", None, "请用中文回答" * 100, "好的" * 200)
    assert guess is not None and guess.estimated
    assert guess.usd == pytest.approx(cost_usd(RELAY_PRICES["kimi-k2"], Usage(prompt_tokens=600, completion_tokens=400)))
    assert CurrencyView(currency="USD").format_cost(guess).startswith("≈$")


def test_genai_prices_is_imported_lazily_and_never_touches_the_network() -> None:
    code = textwrap.dedent(
        """
        import sys
        events = []
        def hook(event, args):
            if event in ("socket.connect", "socket.getaddrinfo", "urllib.Request"):
                events.append(event)
        sys.addaudithook(hook)
        from holysheep_tui.economics.prices import PriceBook
        assert "genai_prices" not in sys.modules, "imported at start-up"
        book = PriceBook()
        assert book.lookup("kimi-k2") is not None
        assert "genai_prices" not in sys.modules, "imported for a table model"
        assert book.lookup("claude-opus-4-1") is not None
        assert "genai_prices" in sys.modules
        assert "textual" not in sys.modules
        import holysheep_tui.economics.money, holysheep_tui.economics.metrics, holysheep_tui.economics.stats
        import holysheep_tui.economics.budget, holysheep_tui.relay.rate_limit
        assert "textual" not in sys.modules
        print("events", events)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "events []" in proc.stdout


@pytest.mark.parametrize(
    ("amount", "usd", "cny"),
    [
        (0.0042, "$0.0042", "¥0.0042"),
        (0.0000123, "$0.000012", "¥0.000012"),
        (0, "$0.00", "¥0.00"),
        (12.5, "$12.50", "¥12.50"),
        (1234.5, "$1,234.50", "¥1,234.50"),
        (0.25, "$0.2500", "¥0.2500"),
    ],
)
def test_money_formats_keep_tiny_amounts_readable(amount: float, usd: str, cny: str) -> None:
    assert format_usd(amount) == usd
    assert format_cny(amount) == cny


def test_currency_view_bills_at_relay_rate_and_shows_the_saving() -> None:
    view = CurrencyView.from_config(PricingConfig(market_rate=7.3))
    b = view.breakdown(10.0)
    assert b.billed_cny == 10.0 and b.market_cny == pytest.approx(73.0)
    assert b.saved_cny == pytest.approx(63.0)
    assert view.format(0.0042) == "¥0.0042"
    assert view.format(0.0042, estimated=True) == "≈¥0.0042"
    text = view.describe(Cost(1.0, estimated=True))
    assert text == "≈$1.00 list · billed ≈¥1.00 (market ≈¥7.30, saved ≈¥6.30)"
    assert CurrencyView.from_config(PricingConfig(currency="USD")).format(2.0) == "$2.00"
