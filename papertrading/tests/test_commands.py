"""Management commands, run the way an operator runs them (call_command), checked by what they leave behind."""

import json
import re
from decimal import Decimal as D
from io import StringIO

import pytest
import responses
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from papertrading import symbols
from papertrading.accounts import key_for
from papertrading.management.commands.bootstrap_demo import DEMO_AGENT_ACCOUNTS
from papertrading.models import Account, MarketPrice, OrderFill, PaperOrder, SimulatedBalance, SymbolRule
from papertrading.prices import SyntheticPriceSource
from papertrading.services import place_order
from papertrading.tests.support import balances

pytestmark = pytest.mark.django_db


def run(*args, **kwargs) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **kwargs)
    return out.getvalue()


# --- check_balances ----------------------------------------------------------------------------------------------


def test_check_balances_passes_on_consistent_accounts(market, account, rival_account):
    place_order(account=account, symbol="BTCUSDT", side="BUY", order_type="MARKET", quantity=D("0.1"))
    place_order(
        account=account,
        symbol="BTCUSDT",
        side="SELL",
        order_type="LIMIT",
        quantity=D("0.5"),
        price=D("70000"),
        time_in_force="GTC",
    )
    place_order(account=rival_account, symbol="ETHUSDT", side="SELL", order_type="MARKET", quantity=D("2"))

    assert "Balances match" in run("check_balances")


def test_check_balances_fails_after_a_stored_balance_is_tampered_with(account, rival_account):
    SimulatedBalance.objects.filter(account=rival_account, asset="BTC").update(free=D("2"))
    err = StringIO()

    with pytest.raises(CommandError, match=r"1 problem\(s\)"):
        call_command("check_balances", stdout=StringIO(), stderr=err)

    # One line, naming the tampered account only.
    [line] = err.getvalue().strip().splitlines()
    assert line.startswith(f"{rival_account} (#{rival_account.pk}) BTC: stored free 2")
    assert "expected free 1" in line
    # leave the account as the history says
    SimulatedBalance.objects.filter(account=rival_account, asset="BTC").update(free=D("1"))


def test_check_balances_fails_when_a_lock_is_tampered_with(market, account):
    place_order(
        account=account,
        symbol="BTCUSDT",
        side="BUY",
        order_type="LIMIT",
        quantity=D("0.1"),
        price=D("60000"),
        time_in_force="GTC",
    )
    SimulatedBalance.objects.filter(account=account, asset="USDT").update(locked=D("0"), free=D("100000"))

    with pytest.raises(CommandError):
        run("check_balances")

    SimulatedBalance.objects.filter(account=account, asset="USDT").update(locked=D("6000"), free=D("94000"))
    assert "Balances match" in run("check_balances")


# --- refresh_prices ----------------------------------------------------------------------------------------------


def three_refreshes() -> list[str]:
    return [run("refresh_prices").strip() for _ in range(3)]


def test_refresh_prices_repeats_the_same_walk_for_the_same_seed(settings):
    settings.SYNTHETIC_PRICE_SEED = 7
    first = three_refreshes()
    MarketPrice.objects.all().delete()
    second = three_refreshes()

    assert first == second
    assert first[0] == "BNBUSDT=600 BTCUSDT=68000 ETHUSDT=3500 SOLUSDT=150 XRPUSDT=0.5"
    assert first[1] != first[0]
    assert MarketPrice.objects.get(symbol="BTCUSDT").sequence == 2
    assert set(MarketPrice.objects.values_list("source", flat=True)) == {"synthetic"}


def test_refresh_prices_walks_differently_for_another_seed(settings):
    settings.SYNTHETIC_PRICE_SEED = 7
    seven = three_refreshes()
    MarketPrice.objects.all().delete()
    settings.SYNTHETIC_PRICE_SEED = 8
    assert three_refreshes()[1:] != seven[1:]


def test_refresh_prices_of_one_symbol_leaves_the_others(market):
    before = dict(MarketPrice.objects.values_list("symbol", "price"))
    output = run("refresh_prices", "--symbol", "ethusdt")
    assert output.startswith("ETHUSDT=")
    after = dict(MarketPrice.objects.values_list("symbol", "price"))
    assert {s: p for s, p in after.items() if s != "ETHUSDT"} == {s: p for s, p in before.items() if s != "ETHUSDT"}
    assert MarketPrice.objects.get(symbol="ETHUSDT").sequence == 1


def test_refresh_prices_fills_a_resting_order_the_new_price_crosses(market, settings, account):
    rule = SymbolRule.objects.get(symbol="BTCUSDT")
    current = MarketPrice.objects.get(symbol="BTCUSDT")
    # Find a seed whose next step moves BTC at all (the walk may stand still), then rest an order at that price.
    for seed in range(1, 50):
        next_price, _ = SyntheticPriceSource(seed).next_prices([rule], {"BTCUSDT": current})["BTCUSDT"]
        if next_price != current.price:
            break
    settings.SYNTHETIC_PRICE_SEED = seed
    side = "BUY" if next_price < current.price else "SELL"
    order = place_order(
        account=account,
        symbol="BTCUSDT",
        side=side,
        order_type="LIMIT",
        quantity=D("0.01"),
        price=next_price,
        time_in_force="GTC",
    ).order
    assert order.status == PaperOrder.Status.PENDING

    output = run("refresh_prices", "--symbol", "BTCUSDT")

    assert output.strip() == f"BTCUSDT={next_price.normalize():f}"
    order = PaperOrder.objects.get(pk=order.pk)
    assert order.status == PaperOrder.Status.FILLED
    fill = order.fills.get()
    assert (fill.price, fill.market_price, fill.rule) == (next_price, next_price, OrderFill.Rule.LIMIT_CROSSED)


# --- refresh_symbols ---------------------------------------------------------------------------------------------


def exchange_info(*entries: dict) -> dict:
    return {"timezone": "UTC", "symbols": list(entries)}


def exchange_info_file(tmp_path, *entries: dict) -> str:
    """The path of a file holding exchangeInfo with these symbols, for `refresh_symbols --file`."""
    path = tmp_path / "exchange_info.json"
    path.write_text(json.dumps(exchange_info(*entries)))
    return str(path)


def symbol_entry(symbol: str, base: str, tick: str, step: str, min_notional: str, status: str = "TRADING") -> dict:
    return {
        "symbol": symbol,
        "status": status,
        "baseAsset": base,
        "quoteAsset": "USDT",
        "orderTypes": ["LIMIT", "MARKET"],
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "100000.00", "tickSize": tick},
            {"filterType": "LOT_SIZE", "minQty": step, "maxQty": "90000.00", "stepSize": step},
            {
                "filterType": "NOTIONAL",
                "minNotional": min_notional,
                "applyMinToMarket": False,
                "maxNotional": "9000000.00",
            },
        ],
    }


def test_refresh_symbols_from_a_file_updates_known_and_named_symbols(tmp_path, db):
    path = exchange_info_file(
        tmp_path,
        symbol_entry("BTCUSDT", "BTC", "0.10000000", "0.00010000", "10.00000000"),
        symbol_entry("ADAUSDT", "ADA", "0.00010000", "1.00000000", "5.00000000"),
    )

    output = run("refresh_symbols", "BTCUSDT", "ADAUSDT", file=path)

    assert "Updated 2 symbol(s): BTCUSDT, ADAUSDT" in output
    btc = SymbolRule.objects.get(symbol="BTCUSDT")
    assert (btc.tick_size, btc.step_size, btc.min_notional, btc.apply_min_notional_to_market) == (
        D("0.1"),
        D("0.0001"),
        D("10"),
        False,
    )
    assert btc.order_types == ["LIMIT", "MARKET"]
    ada = SymbolRule.objects.get(symbol="ADAUSDT")
    assert (ada.base_asset, ada.quote_asset, ada.tick_size, ada.step_size) == ("ADA", "USDT", D("0.0001"), D("1"))
    # Orders now follow the new grid.
    assert symbols.get_symbol_rule("BTCUSDT").tick_size == D("0.1")


def test_refresh_symbols_from_a_file_without_names_touches_only_known_symbols(tmp_path, db):
    path = exchange_info_file(
        tmp_path,
        symbol_entry("ETHUSDT", "ETH", "0.01000000", "0.00100000", "5.00000000", status="BREAK"),
        symbol_entry("ADAUSDT", "ADA", "0.00010000", "1.00000000", "5.00000000"),
    )

    output = run("refresh_symbols", file=path)

    assert "Updated 1 symbol(s): ETHUSDT" in output
    assert SymbolRule.objects.get(symbol="ETHUSDT").status == "BREAK"
    assert not SymbolRule.objects.filter(symbol="ADAUSDT").exists()


@responses.activate
def test_refresh_symbols_asks_the_exchange_when_no_file_is_given(db):
    responses.get(
        f"{django_settings.MARKET_DATA_BASE_URL}/api/v3/exchangeInfo",
        json=exchange_info(symbol_entry("SOLUSDT", "SOL", "0.01000000", "0.01000000", "5.00000000")),
        match=[responses.matchers.query_param_matcher({"symbols": '["SOLUSDT"]'})],
    )

    output = run("refresh_symbols", "solusdt")

    assert "Updated 1 symbol(s): SOLUSDT" in output
    assert SymbolRule.objects.get(symbol="SOLUSDT").step_size == D("0.01")


@responses.activate
def test_refresh_symbols_reports_an_unreachable_exchange_and_changes_nothing(db):
    responses.get(f"{django_settings.MARKET_DATA_BASE_URL}/api/v3/exchangeInfo", status=503)
    before = list(SymbolRule.objects.values_list("symbol", "tick_size", "step_size"))

    with pytest.raises(CommandError, match="Could not reach"):
        run("refresh_symbols", "BTCUSDT")

    assert list(SymbolRule.objects.values_list("symbol", "tick_size", "step_size")) == before


# --- bootstrap_demo ----------------------------------------------------------------------------------------------


def printed_keys(output: str) -> dict[int, str]:
    """Account id -> the API key bootstrap_demo printed for it."""
    return {int(pk): raw for pk, raw in re.findall(r"Account #(\d+) .* API key \(shown once\): (\S+)", output)}


def test_bootstrap_demo_creates_the_login_token_and_accounts_and_prints_them(settings):
    settings.DEMO_AGENTS_ENABLED = True
    output = run("bootstrap_demo")

    user = get_user_model().objects.get(username="demo")
    assert user.is_superuser and user.is_staff
    assert user.check_password("demo-trader")
    token = Token.objects.get(user=user)
    assert "Demo login: demo / demo-trader" in output
    assert f"API token: {token.key}" in output
    desk = Account.objects.get(owner=user, is_default=True)
    assert set(user.paper_accounts.values_list("name", flat=True)) == {desk.name, *DEMO_AGENT_ACCOUNTS}
    assert balances(desk) == {"BTC": (D("1"), D("0")), "ETH": (D("10"), D("0")), "USDT": (D("100000"), D("0"))}
    # The demo agents start with cash only: their returns are their trading, not the market moving starting coins.
    for account in user.paper_accounts.exclude(pk=desk.pk):
        assert balances(account) == {"USDT": (D("10000"), D("0"))}
    # Each account's key is printed once, and acts as that account.
    keys = printed_keys(output)
    assert set(keys) == set(user.paper_accounts.values_list("pk", flat=True))
    assert all(key_for(raw).account_id == pk for pk, raw in keys.items())
    assert MarketPrice.objects.filter(symbol="BTCUSDT").exists()


def test_bootstrap_demo_without_demo_agents_opens_only_the_desk(settings):
    settings.DEMO_AGENTS_ENABLED = False
    output = run("bootstrap_demo")

    user = get_user_model().objects.get(username="demo")
    assert list(user.paper_accounts.values_list("is_default", flat=True)) == [True]
    assert set(printed_keys(output)) == {user.paper_accounts.get().pk}


def test_bootstrap_demo_twice_keeps_the_password_token_and_accounts():
    first = run("bootstrap_demo", "--username", "desk", "--password", "first-pass")

    output = run("bootstrap_demo", "--username", "desk", "--password", "second-pass")

    user = get_user_model().objects.get(username="desk")
    assert user.check_password("first-pass")
    assert "Demo login: desk / (unchanged)" in output
    assert Token.objects.filter(user=user).count() == 1
    assert f"API token: {Token.objects.get(user=user).key}" in output
    # No second account and no new key: the keys printed the first time still work.
    assert user.paper_accounts.count() == len(printed_keys(first))
    assert printed_keys(output) == {}
    assert all(key_for(raw).account_id == pk for pk, raw in printed_keys(first).items())
