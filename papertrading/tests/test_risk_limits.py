"""Each risk limit through the orders API: exactly at the limit passes, one tick over is refused.

A refusal is a 400 `{"code": "RISK_LIMIT", "limit", "detail", "limit_value", "value"}`; nothing is written,
reserved or sent (no order row, the balances as they were) and a RiskEvent "refused" records the limit and the
values. The market (`market` fixture) is BTCUSDT 68000 and ETHUSDT 3500; the trader's account starts with
100000 USDT, 1 BTC and 10 ETH.
"""

import uuid
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from conftest import api_client_for, make_user
from papertrading import services
from papertrading.models import Account, BalanceAdjustment, OrderEvent, PaperOrder, RiskEvent
from papertrading.services import default_account_for
from papertrading.tests.support import LIMIT_BUY, MARKET_BUY, ORDERS_URL, balances

pytestmark = pytest.mark.django_db

RUNS = "/api/analysis/runs"
ACCOUNTS = "/api/accounts"
# 0.01 BTC at 67000: worth 670.
LIMIT_SELL = {**LIMIT_BUY, "side": "SELL", "price": "69000"}
ETH_BUY = {**LIMIT_BUY, "symbol": "ETHUSDT", "price": "3400", "quantity": "0.1"}


def set_limits(account: Account, **values) -> None:
    Account.objects.filter(pk=account.pk).update(**values)


def place(api, payload: dict) -> dict:
    response = api.post(ORDERS_URL, payload, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def refused(api, account, payload: dict, *, limit: str, limit_value, value, detail: str) -> dict:
    """Post `payload`: a 400 with exactly this body, no order row, the balances unchanged, one RiskEvent."""
    orders = set(PaperOrder.objects.values_list("pk", flat=True))
    before = balances(account)
    events = set(RiskEvent.objects.values_list("pk", flat=True))

    response = api.post(ORDERS_URL, payload, format="json")

    assert response.status_code == 400, response.content
    body = {"code": "RISK_LIMIT", "limit": limit, "detail": detail, "limit_value": limit_value, "value": value}
    assert response.json() == body
    assert set(PaperOrder.objects.values_list("pk", flat=True)) == orders
    assert balances(account) == before
    [event] = RiskEvent.objects.exclude(pk__in=events)
    assert (event.account_id, event.kind, event.limit) == (account.pk, RiskEvent.Kind.REFUSED, limit)
    assert (event.limit_value, event.value, event.detail) == (limit_value or "", value or "", detail)
    assert (event.source, event.actor) == (OrderEvent.Source.API, "trader")
    return body


# --- max_order_notional --------------------------------------------------------------------------------------------


def test_a_limit_order_is_valued_at_its_price(api, account, market):
    set_limits(account, max_order_notional=D("670"))  # 0.01 × 67000

    at_limit = place(api, LIMIT_BUY)

    assert at_limit["status"] == "PENDING"
    refused(
        api, account, {**LIMIT_BUY, "price": "67000.01"},  # one tick over: 670.0001
        limit="max_order_notional", limit_value="670.00000000", value="670.00010000",
        detail="The order is worth 670.0001, above the account's largest order value 670.",
    )  # fmt: skip


def test_a_stop_order_is_valued_at_its_stop_price_whatever_its_side(api, account, market):
    set_limits(account, max_order_notional=D("600"))
    stop = {"symbol": "BTCUSDT", "side": "SELL", "order_type": "STOP_LOSS", "quantity": "0.01", "stop_price": "60000"}

    assert place(api, stop)["status"] == "PENDING"
    refused(
        api, account, {**stop, "stop_price": "60000.01"},
        limit="max_order_notional", limit_value="600.00000000", value="600.00010000",
        detail="The order is worth 600.0001, above the account's largest order value 600.",
    )  # fmt: skip


def test_a_market_order_is_valued_at_the_market_price_not_its_fill(api, account, market):
    set_limits(account, max_order_notional=D("680"))  # 0.01 × 68000

    at_limit = place(api, MARKET_BUY)

    # It filled at the market plus slippage, above 680: the limit judges the order at the market price.
    assert at_limit["status"] == "FILLED"
    assert D(at_limit["cumulative_quote_quantity"]) > D("680")
    market.set("BTCUSDT", "68000.01")  # the same order is now one tick over
    refused(
        api, account, MARKET_BUY,
        limit="max_order_notional", limit_value="680.00000000", value="680.00010000",
        detail="The order is worth 680.0001, above the account's largest order value 680.",
    )  # fmt: skip


# --- max_position_notional -----------------------------------------------------------------------------------------


def test_a_buy_may_take_the_position_up_to_its_limit_and_not_a_tick_past(api, account, market):
    # 1 BTC held; after a 0.01 BUY at 67000: 1.01 × 67000 = 67670.
    set_limits(account, max_position_notional=D("67670"))

    place(api, LIMIT_BUY)

    refused(
        api, account, {**LIMIT_BUY, "price": "67000.01"},  # 1.01 × 67000.01 = 67670.0101
        limit="max_position_notional", limit_value="67670.00000000", value="67670.01010000",
        detail="This order would make 67670.0101 worth of BTC after this order, above the account's limit of 67670.",
    )  # fmt: skip


def test_a_market_buy_counts_the_holding_before_it_fills(api, account, market):
    set_limits(account, max_position_notional=D("68680"))  # (1 + 0.01) × 68000

    filled = place(api, MARKET_BUY)

    assert filled["status"] == "FILLED"
    # Now 1.00999 BTC (the fee was taken in BTC): 0.01 more at 68000 is worth 69359.32.
    refused(
        api, account, MARKET_BUY,
        limit="max_position_notional", limit_value="68680.00000000", value="69359.32000000",
        detail="This order would make 69359.32 worth of BTC after this order, above the account's limit of 68680.",
    )  # fmt: skip


def test_sells_pass_a_position_limit_the_holding_is_already_past(api, account, market):
    set_limits(account, max_position_notional=D("1000"))  # 1 BTC is worth 68000 already

    refused(
        api, account, LIMIT_BUY,
        limit="max_position_notional", limit_value="1000.00000000", value="67670.00000000",
        detail="This order would make 67670 worth of BTC after this order, above the account's limit of 1000.",
    )  # fmt: skip
    assert place(api, LIMIT_SELL)["status"] == "PENDING"
    assert place(api, {**MARKET_BUY, "side": "SELL"})["status"] == "FILLED"
    # Another asset's position is judged on its own: 10.1 ETH at 3400 is 34340, also past 1000.
    refused(
        api, account, ETH_BUY,
        limit="max_position_notional", limit_value="1000.00000000", value="34340.00000000",
        detail="This order would make 34340 worth of ETH after this order, above the account's limit of 1000.",
    )  # fmt: skip


# --- max_open_orders -----------------------------------------------------------------------------------------------


def test_the_nth_working_order_passes_and_the_next_is_refused(api, account, market):
    set_limits(account, max_open_orders=3)
    orders = [place(api, {**LIMIT_BUY, "price": str(67000 - i)}) for i in range(3)]

    assert [order["status"] for order in orders] == ["PENDING"] * 3
    refused(
        api, account, {**LIMIT_BUY, "price": "66000"},
        limit="max_open_orders", limit_value="3", value="4",
        detail="This order would make 4 working orders, above the account's limit of 3.",
    )  # fmt: skip
    # A MARKET order is a new order too, even though it would not rest.
    refused(
        api, account, MARKET_BUY,
        limit="max_open_orders", limit_value="3", value="4",
        detail="This order would make 4 working orders, above the account's limit of 3.",
    )  # fmt: skip
    # Once one is cancelled there is room for one again.
    assert api.delete(f"{ORDERS_URL}/{orders[0]['id']}").status_code == 200
    assert place(api, {**LIMIT_BUY, "price": "66000"})["status"] == "PENDING"


# --- max_orders_per_minute -----------------------------------------------------------------------------------------


def test_the_nth_order_of_a_minute_passes_and_the_next_waits_for_the_window(api, account, market):
    set_limits(account, max_orders_per_minute=3)
    first = place(api, MARKET_BUY)
    place(api, LIMIT_BUY)
    place(api, {**MARKET_BUY, "side": "SELL"})

    body = refused(
        api, account, MARKET_BUY,
        limit="max_orders_per_minute", limit_value="3", value="4",
        detail="This order would make 4 orders in the last 60 seconds, above the account's limit of 3.",
    )  # fmt: skip

    assert body["limit"] == "max_orders_per_minute"
    # Filled or working, every order placed counts; a refused one does not. The first leaves the window:
    PaperOrder.objects.filter(pk=first["id"]).update(created_at=timezone.now() - timedelta(seconds=61))
    place(api, MARKET_BUY)
    refused(
        api, account, MARKET_BUY,
        limit="max_orders_per_minute", limit_value="3", value="4",
        detail="This order would make 4 orders in the last 60 seconds, above the account's limit of 3.",
    )  # fmt: skip


# --- max_daily_loss ------------------------------------------------------------------------------------------------


def start_the_day(account) -> D:
    """Record the account's equity now as today's start (as the beat task does at 00:00 UTC)."""
    Account.objects.filter(pk=account.pk).update(day_started_on=None, day_start_equity=None)
    services.mark_day_start()
    account.refresh_from_db()
    assert account.day_started_on == timezone.now().date()
    return account.day_start_equity


def test_a_loss_at_the_daily_limit_passes_and_one_tick_more_refuses_buys_but_not_sells(api, account, market):
    # 100000 USDT + 1 BTC × 68000 + 10 ETH × 3500.
    assert start_the_day(account) == D("203000")
    set_limits(account, max_daily_loss=D("1000"))
    market.set("BTCUSDT", "67000")  # equity 202000: lost exactly 1000

    assert place(api, {**LIMIT_BUY, "price": "66000"})["status"] == "PENDING"
    market.set("BTCUSDT", "66999.99")  # lost 1000.01

    refused(
        api, account, {**LIMIT_BUY, "price": "66000"},
        limit="max_daily_loss", limit_value="1000.00000000", value="1000.01000000",
        detail="The account has lost 1000.01 since 00:00 UTC, more than its daily limit 1000: orders that add "
        "exposure are refused today; orders that reduce it still pass.",
    )  # fmt: skip
    refused(
        api, account, ETH_BUY,
        limit="max_daily_loss", limit_value="1000.00000000", value="1000.01000000",
        detail="The account has lost 1000.01 since 00:00 UTC, more than its daily limit 1000: orders that add "
        "exposure are refused today; orders that reduce it still pass.",
    )  # fmt: skip
    assert place(api, {**MARKET_BUY, "side": "SELL"})["status"] == "FILLED"
    assert place(api, LIMIT_SELL)["status"] == "PENDING"
    assert not Account.objects.get(pk=account.pk).halted_at  # halt_on_daily_loss is off by default


def test_halt_on_daily_loss_halts_the_account_at_the_refusal(api, account, market):
    start_the_day(account)
    set_limits(account, max_daily_loss=D("1000"), halt_on_daily_loss=True)
    resting = place(api, {**LIMIT_BUY, "price": "60000"})
    market.set("BTCUSDT", "66999.99")

    orders = PaperOrder.objects.count()

    response = api.post(ORDERS_URL, {**LIMIT_BUY, "price": "66000"}, format="json")

    assert response.status_code == 400, response.content
    assert response.json() == {
        "code": "RISK_LIMIT",
        "limit": "max_daily_loss",
        "detail": "The account has lost 1000.01 since 00:00 UTC, more than its daily limit 1000: orders that add "
        "exposure are refused today; orders that reduce it still pass.",
        "limit_value": "1000.00000000",
        "value": "1000.01000000",
    }
    assert PaperOrder.objects.count() == orders
    account.refresh_from_db()
    assert account.halted_at is not None and account.halted_by == "risk limits"
    assert account.halted_reason.startswith("Daily loss limit breached: The account has lost 1000.01")
    assert PaperOrder.objects.get(pk=resting["id"]).status == PaperOrder.Status.CANCELLED
    assert balances(account)["USDT"] == (D("100000"), D("0"))
    assert list(RiskEvent.objects.filter(account=account).values_list("kind", "limit", "actor")) == [
        ("halted", "", "risk limits"),
        ("refused", "max_daily_loss", "trader"),
    ]
    # Now even a SELL, which the daily loss lets through, is refused: the account is halted.
    refused(
        api, account, LIMIT_SELL, limit="halted", limit_value=None, value=None,
        detail=f"The account is halted: {account.halted_reason}. Every new order is refused until it is resumed.",
    )  # fmt: skip


# --- allowed_symbols -----------------------------------------------------------------------------------------------


def test_only_the_allowed_symbols_may_be_traded(api, account, market):
    set_limits(account, allowed_symbols=["BTCUSDT", "SOLUSDT"])

    assert place(api, LIMIT_BUY)["status"] == "PENDING"

    refused(
        api, account, ETH_BUY,
        limit="allowed_symbols", limit_value="BTCUSDT,SOLUSDT", value="ETHUSDT",
        detail="ETHUSDT is not among the symbols this account may trade (BTCUSDT, SOLUSDT).",
    )  # fmt: skip
    refused(
        api, account, {**ETH_BUY, "side": "SELL", "price": "3600"},  # selling is trading too
        limit="allowed_symbols", limit_value="BTCUSDT,SOLUSDT", value="ETHUSDT",
        detail="ETHUSDT is not among the symbols this account may trade (BTCUSDT, SOLUSDT).",
    )  # fmt: skip


# --- the kill switch -----------------------------------------------------------------------------------------------


def test_a_halted_account_refuses_every_order_and_a_resumed_one_takes_them_again(api, account, market):
    services.halt_account(account=account, reason="strategy misbehaving", actor="trader")

    for payload in (LIMIT_BUY, LIMIT_SELL, MARKET_BUY):
        refused(
            api, account, payload, limit="halted", limit_value=None, value=None,
            detail="The account is halted: strategy misbehaving. Every new order is refused until it is resumed.",
        )  # fmt: skip

    services.resume_account(account=account, actor="trader")
    assert place(api, LIMIT_BUY)["status"] == "PENDING"
    assert place(api, MARKET_BUY)["status"] == "FILLED"


def test_halting_cancels_the_working_orders_and_frees_what_they_reserved(api, account, market):
    start = balances(account)
    buys = [place(api, {**LIMIT_BUY, "price": price}) for price in ("67000", "66000")]
    sell = place(api, LIMIT_SELL)
    stop = place(api, {"symbol": "BTCUSDT", "side": "SELL", "order_type": "STOP_LOSS", "quantity": "0.01",
                       "stop_price": "60000"})  # fmt: skip
    assert balances(account)["USDT"] == (D("98670"), D("1330"))
    assert balances(account)["BTC"] == (D("0.98"), D("0.02"))

    response = api.post(f"{ACCOUNTS}/{account.pk}/halt", {"reason": "end of the experiment"}, format="json")

    assert response.status_code == 200, response.content
    ids = [order["id"] for order in (*buys, sell, stop)]
    assert (response.json()["cancelled"], response.json()["not_cancelled"]) == (ids, {})
    assert not PaperOrder.objects.filter(account=account, status__in=PaperOrder.OPEN_STATUSES).exists()
    assert set(PaperOrder.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"CANCELLED"}
    assert balances(account) == start
    # The market reaching them fills nothing: they are gone.
    assert market.move("BTCUSDT", "59000") == 0
    assert balances(account) == start


def test_resuming_lets_orders_through_again(api, account, market):
    assert api.post(f"{ACCOUNTS}/{account.pk}/halt", {"reason": "pause"}, format="json").status_code == 200
    refused(
        api, account, LIMIT_BUY, limit="halted", limit_value=None, value=None,
        detail="The account is halted: pause. Every new order is refused until it is resumed.",
    )  # fmt: skip

    assert api.post(f"{ACCOUNTS}/{account.pk}/resume").status_code == 200

    assert place(api, LIMIT_BUY)["status"] == "PENDING"
    assert list(RiskEvent.objects.filter(account=account).values_list("kind", flat=True)) == [
        "resumed",
        "refused",
        "halted",
    ]


# --- defaults and agents -------------------------------------------------------------------------------------------


def test_the_defaults_from_settings_apply_to_an_account_without_its_own(api, account, market, settings):
    settings.RISK_DEFAULTS = {**settings.RISK_DEFAULTS, "max_order_notional": D("670"), "max_open_orders": 1}

    place(api, LIMIT_BUY)

    refused(
        api, account, LIMIT_BUY,
        limit="max_open_orders", limit_value="1", value="2",
        detail="This order would make 2 working orders, above the account's limit of 1.",
    )  # fmt: skip
    set_limits(account, max_open_orders=5)  # its own value wins over the default
    refused(
        api, account, {**LIMIT_BUY, "price": "67000.01"},
        limit="max_order_notional", limit_value="670", value="670.00010000",
        detail="The order is worth 670.0001, above the account's largest order value 670.",
    )  # fmt: skip
    assert place(api, {**LIMIT_BUY, "price": "66000"})["status"] == "PENDING"


@pytest.fixture
def agent(db) -> User:
    return make_user("agent", "add_paperorder", "analysis.add_analysisrun")


@pytest.mark.parametrize("paper_trading", [True, False], ids=["paper-order", "direct"])
def test_a_run_refused_by_a_limit_is_stored_failed_with_the_limit_named(agent, market, settings, paper_trading):
    settings.PAPER_TRADING_ENABLED = paper_trading
    client = api_client_for(agent)
    account = default_account_for(agent)
    set_limits(account, max_order_notional=D("680"))  # 0.01 BTC at the market, 68000
    run = {"agent": "risky-bot", "symbol": "BTCUSDT", "decision": "BUY", "quantity": "0.01"}

    at_limit = client.post(RUNS, run, format="json")

    assert at_limit.status_code == 201, at_limit.content
    assert at_limit.json()["status"] == "executed"
    before = balances(account)
    orders, adjustments = PaperOrder.objects.count(), BalanceAdjustment.objects.count()
    market.set("BTCUSDT", "68000.01")

    run_id = str(uuid.uuid4())
    response = client.post(RUNS, {**run, "run_id": run_id}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["error_code"]) == ("failed", None)
    assert body["reason"] == (
        "Refused by the risk limit max_order_notional: The order is worth 680.0001, above the account's largest "
        "order value 680."
    )
    assert body["orders"] == [] and client.get(f"{RUNS}/{run_id}").json()["status"] == "failed"
    assert (PaperOrder.objects.count(), BalanceAdjustment.objects.count()) == (orders, adjustments)
    assert balances(account) == before
    event = RiskEvent.objects.get(account=account, kind=RiskEvent.Kind.REFUSED)
    assert (event.limit, event.limit_value, event.value) == ("max_order_notional", "680.00000000", "680.00010000")
    assert event.source == OrderEvent.Source.AGENT


def test_direct_trades_are_judged_by_the_same_limits(agent, market, settings):
    settings.PAPER_TRADING_ENABLED = False
    client = api_client_for(agent)
    account = default_account_for(agent)
    set_limits(account, allowed_symbols=["ETHUSDT"])

    response = client.post(RUNS, {"agent": "bot", "symbol": "BTCUSDT", "decision": "SELL", "quantity": "0.01"})

    assert response.json()["reason"].startswith("Refused by the risk limit allowed_symbols: BTCUSDT is not among")
    services.halt_account(account=account, reason="stop", actor="agent")
    response = client.post(RUNS, {"agent": "bot", "symbol": "ETHUSDT", "decision": "SELL", "quantity": "0.1"})
    assert response.json()["reason"] == (
        "Refused by the risk limit halted: The account is halted: stop. Every new order is refused until it is resumed."
    )
    assert [event.limit for event in RiskEvent.objects.filter(account=account, kind="refused")] == [
        "halted",
        "allowed_symbols",
    ]
