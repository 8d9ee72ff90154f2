"""The relay balance: where it is read, the status-bar segment (Pilot, on the simulator) and ``holysheep balance``.

The simulator serves DeepSeek's ``GET /user/balance``; a profile names it in its ``balance`` settings. The
app's balance watch runs on the session's clock, a frozen one here: time moves only when a test says so.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from holysheep_tui.chat.session import Session
from holysheep_tui.config import BalanceConfig, Profile, parse_config
from holysheep_tui.economics.balance import balance_source, fetch_balance, read_balance
from holysheep_tui.errors import ConfigError, ProtocolError, ServerError
from holysheep_tui.simulator import RelaySimulator
from holysheep_tui.tui.app import HolySheepApp
from holysheep_tui.tui.scenes import FrozenClock

KEY = "sk-hs-balance-0123456789ABCD"  # 余额测试用的密钥
PROFILE = "团队"
DEEPSEEK = BalanceConfig(
    url="/user/balance", amount_path="balance_infos.0.total_balance", currency_path="balance_infos.0.currency"
)
SIM_SAMPLE = "/user/balance"
"""Where the simulator serves DeepSeek's balance answer."""


@pytest.fixture
def sim(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    return make_simulator(require_key=KEY)


def balance_reads(sim: RelaySimulator) -> int:
    return sum(r.path == SIM_SAMPLE for r in sim.requests)


def money_line(app: HolySheepApp) -> str:
    return str(app.query_one("#status-money", Static).render())


@pytest.fixture
def balance_app(
    sim: RelaySimulator,
    make_session: Callable[..., Session],
    make_app: Callable[..., HolySheepApp],
) -> Callable[..., tuple[HolySheepApp, FrozenClock]]:
    """``balance_app(balance=DEEPSEEK)``: the app on a keyed profile of the simulator, on a frozen clock."""

    def build(balance: BalanceConfig = DEEPSEEK) -> tuple[HolySheepApp, FrozenClock]:
        clock = FrozenClock()
        session = make_session(sim, profile=PROFILE, key=KEY, balance=balance)
        return make_app(session, clock=clock), clock

    return build


# ---- the status bar ----------------------------------------------------------------------------------


async def test_status_bar_shows_the_balance_and_reads_it_again_after_answers_at_most_every_30_s(
    sim: RelaySimulator,
    balance_app: Callable[..., tuple[HolySheepApp, FrozenClock]],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[Any]],
) -> None:
    app, clock = balance_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_until(pilot, lambda: "balance 110.00 CNY" in money_line(app), "the balance at start")
        assert balance_reads(sim) == 1
        [read] = [r for r in sim.requests if r.path == SIM_SAMPLE]
        assert read.headers["authorization"] == f"Bearer {KEY}"

        sim.balance = "98.76"
        clock.now += 10
        await send_and_wait(pilot, "你好，第一个问题")
        await send_and_wait(pilot, "你好，第二个问题")
        assert balance_reads(sim) == 1  # two answers inside 30 s: no new read yet
        assert "balance 110.00 CNY" in money_line(app)

        clock.now += 25  # 35 s after the first read
        await send_and_wait(pilot, "你好，第三个问题")
        await wait_until(pilot, lambda: "balance 98.76 CNY" in money_line(app), "the balance after an answer")
        assert balance_reads(sim) == 2


async def test_a_failing_balance_is_marked_stale_and_the_chat_goes_on(
    sim: RelaySimulator,
    balance_app: Callable[..., tuple[HolySheepApp, FrozenClock]],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[Any]],
) -> None:
    app, clock = balance_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_until(pilot, lambda: "balance 110.00 CNY" in money_line(app), "the balance at start")
        sim.balance_status = 503
        clock.now += 31
        answer = await send_and_wait(pilot, "余额查询失败时还能聊天吗？")
        await wait_until(pilot, lambda: balance_reads(sim) == 2, "the second read")
        await wait_until(pilot, lambda: "(stale)" in money_line(app), "the stale mark")
        assert "balance 110.00 CNY (stale)" in money_line(app)
        assert app.conversation.turns[-1].status == "complete" and answer.is_attached
        assert not [n for n in app._notifications if n.severity == "error"]


async def test_an_endpoint_without_a_known_balance_shows_nothing_and_asks_nothing(
    sim: RelaySimulator,
    balance_app: Callable[..., tuple[HolySheepApp, FrozenClock]],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[Any]],
) -> None:
    app, _clock = balance_app(BalanceConfig())  # the simulator's host is none of the documented ones
    async with app.run_test(size=(160, 30)) as pilot:
        await send_and_wait(pilot, "没有余额接口")
        assert "balance" not in money_line(app)
        assert balance_reads(sim) == 0


async def test_a_failing_first_read_shows_no_figure(
    sim: RelaySimulator,
    balance_app: Callable[..., tuple[HolySheepApp, FrozenClock]],
    wait_until: Callable[..., Awaitable[None]],
    send_and_wait: Callable[..., Awaitable[Any]],
) -> None:
    sim.balance_status = 500
    app, _clock = balance_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_until(pilot, lambda: balance_reads(sim) == 1, "the first read")
        await send_and_wait(pilot, "第一次读取失败")
        assert "balance" not in money_line(app)
        assert app.balance_text is None


# ---- where the balance lives ---------------------------------------------------------------------------


def test_documented_endpoints_are_known_by_host_and_others_have_none() -> None:
    deepseek = balance_source(Profile(base_url="https://api.deepseek.com/v1"))
    assert deepseek is not None and deepseek.url == "https://api.deepseek.com/user/balance"
    moonshot = balance_source(Profile(base_url="https://api.moonshot.cn/v1"))
    assert moonshot is not None and moonshot.url == "https://api.moonshot.cn/v1/users/me/balance"
    assert balance_source(Profile()) is None  # the HolySheep relay documents none
    assert (
        balance_source(Profile(base_url="https://api.deepseek.com", balance=BalanceConfig(enabled=False)))
        is None
    )


def test_documented_answers_give_amount_and_currency() -> None:
    deepseek = balance_source(Profile(base_url="https://api.deepseek.com"))
    moonshot = balance_source(Profile(base_url="https://api.moonshot.cn/v1"))
    assert deepseek is not None and moonshot is not None
    ds = b'{"is_available":true,"balance_infos":[{"currency":"CNY","total_balance":"110.00",'
    ds += b'"granted_balance":"10.00","topped_up_balance":"100.00"}]}'
    assert (read_balance(ds, deepseek).amount, read_balance(ds, deepseek).currency) == (
        Decimal("110.00"),
        "CNY",
    )
    ms = b'{"code":0,"data":{"available_balance":49.58,"voucher_balance":46.58,"cash_balance":3.0},"status":true}'
    got = read_balance(ms, moonshot)
    assert (got.amount, got.currency, got.text()) == (Decimal("49.58"), "CNY", "49.58 CNY")


@pytest.mark.parametrize(
    "body",
    [
        '{"balance_infos": []}',
        '{"balance_infos": [{"currency": "CNY", "total_balance": "一百元"}]}',
        '{"balance_infos": [{"currency": "CNY", "total_balance": true}]}',
        '{"balance_infos": [{"currency": "CNY", "total_balance": "NaN"}]}',
        '{"balance_infos": [{"currency": "人民币", "total_balance": "1.00"}]}',
        "<html>余额</html>",
    ],
)
def test_an_answer_without_a_clear_figure_is_an_error_not_a_wrong_number(body: str) -> None:
    source = balance_source(Profile(base_url="https://api.deepseek.com"))
    assert source is not None
    with pytest.raises(ProtocolError):
        read_balance(body.encode(), source)


def test_config_needs_the_amount_path_with_a_url() -> None:
    with pytest.raises(ConfigError, match="amount_path"):
        parse_config({"profiles": {PROFILE: {"balance": {"url": "/余额"}}}})
    config = parse_config(
        {"profiles": {PROFILE: {"balance": {"url": "/b", "amount_path": "a", "currency": "CNY"}}}}
    )
    assert config.profiles[PROFILE].balance.currency == "CNY"


async def test_the_key_goes_only_to_the_relays_own_host(
    make_simulator: Callable[..., RelaySimulator],
) -> None:
    relay, elsewhere = make_simulator(), make_simulator()
    settings = DEEPSEEK.model_copy(update={"url": elsewhere.base_url.removesuffix("/v1") + "/user/balance"})
    profile = Profile(base_url=relay.base_url, balance=settings)
    source = balance_source(profile)
    assert source is not None
    with pytest.raises(ConfigError, match="not on the relay's host"):
        await fetch_balance(profile, KEY, source)
    assert elsewhere.requests == [] and relay.requests == []


async def test_a_failing_endpoint_is_a_relay_error_without_the_key(sim: RelaySimulator) -> None:
    sim.balance_status = 503
    profile = Profile(base_url=sim.base_url, balance=DEEPSEEK)
    source = balance_source(profile)
    assert source is not None
    with pytest.raises(ServerError) as caught:
        await fetch_balance(profile, KEY, source)
    assert "余额查询失败" in caught.value.message and KEY not in caught.value.user_text()


# ---- holysheep balance -----------------------------------------------------------------------------------


@pytest.fixture
def balance_config(sim: RelaySimulator, tmp_path: Path) -> dict[str, str]:
    """The environment of a CLI whose profile '团队' reads the simulator's balance with the key."""
    path = tmp_path / "配置.toml"
    path.write_text(
        f'[profiles."{PROFILE}"]\nbase_url = "{sim.base_url}"  # 模拟器\n'
        f'[profiles."{PROFILE}".balance]\nurl = "/user/balance"\n'
        'amount_path = "balance_infos.0.total_balance"\ncurrency_path = "balance_infos.0.currency"\n',
        encoding="utf-8",
    )
    return {"HOLYSHEEP_CONFIG": str(path), "HOLYSHEEP_API_KEY": KEY}


def test_cli_prints_the_balance_and_its_json(
    cli: Callable[..., subprocess.CompletedProcess[str]], sim: RelaySimulator, balance_config: dict[str, str]
) -> None:
    shown = cli("balance", "--profile", PROFILE, env=balance_config)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("110.00 CNY")
    as_json = cli("balance", "--json", "--profile", PROFILE, env=balance_config)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == {
        "amount": 110.0,
        "currency": "CNY",
        "source": sim.base_url.removesuffix("/v1") + "/user/balance",
    }
    assert KEY not in shown.stdout + shown.stderr + as_json.stdout + as_json.stderr


def test_cli_json_reports_a_failure_as_an_error_object_and_exit_code(
    cli: Callable[..., subprocess.CompletedProcess[str]], sim: RelaySimulator, balance_config: dict[str, str]
) -> None:
    sim.balance_status = 503
    failed = cli("balance", "--json", "--profile", PROFILE, env=balance_config)
    assert failed.returncode != 0
    error = json.loads(failed.stdout)["error"]
    assert error["status"] == 503 and "余额查询失败" in error["message"]
    no_key = cli(
        "balance", "--json", "--profile", PROFILE, env={**balance_config, "HOLYSHEEP_API_KEY": "wrong-钥匙"}
    )
    assert no_key.returncode != 0 and "error" in json.loads(no_key.stdout)


def test_cli_for_an_endpoint_without_a_balance_says_so(
    cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    done = cli("balance", "--json", env={"HOLYSHEEP_API_KEY": KEY, "HOLYSHEEP_MODEL": "kimi-k2"})
    assert done.returncode != 0
    error = json.loads(done.stdout)["error"]
    assert error["type"] == "no_balance" and "api.holysheep.ai" in error["message"]
    plain = cli("balance", env={"HOLYSHEEP_API_KEY": KEY})
    assert plain.returncode != 0 and plain.stdout == "" and "no balance" in plain.stderr


def test_the_simulator_serves_deepseeks_shape(sim: RelaySimulator) -> None:
    async def read() -> Any:
        profile = Profile(base_url=sim.base_url, balance=DEEPSEEK)
        source = balance_source(profile)
        assert source is not None
        return await fetch_balance(profile, KEY, source)

    sim.balance, sim.balance_currency = "12.34", "USD"
    got = asyncio.run(read())
    assert (got.amount, got.currency) == (Decimal("12.34"), "USD")
