"""For random sequences of gateway calls, the account seen through the gateway is the account seen through /api/."""

from decimal import Decimal as D

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from papertrading.models import MarketPrice, SymbolRule
from papertrading.money import round_to_step

pytestmark = pytest.mark.django_db
SYMBOLS = ["BTCUSDT", "ETHUSDT"]
STATUS = {"PENDING": "NEW", "CANCELLED": "CANCELED"}


class Rollback(Exception):
    pass


PLACE = st.tuples(
    st.just("place"),
    st.sampled_from(SYMBOLS),
    st.sampled_from(["BUY", "SELL"]),
    st.sampled_from(["MARKET", "MARKET_QUOTE", "LIMIT", "LIMIT", "LIMIT_MAKER", "STOP_LOSS", "TAKE_PROFIT"]),
    st.sampled_from(["GTC", "GTC", "IOC", "FOK"]),
    st.integers(min_value=-300, max_value=300),  # price or stop, in basis points from the market
    st.integers(min_value=1, max_value=40),  # quantity in UNITs (quoteOrderQty: 20 USDT each)
)
CANCEL = st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=20))
CANCEL_ALL = st.tuples(st.just("cancel_all"), st.sampled_from(SYMBOLS))
MOVE = st.tuples(st.just("move"), st.sampled_from(SYMBOLS), st.integers(min_value=-400, max_value=400))
ACTIONS = st.lists(st.one_of(PLACE, PLACE, CANCEL, CANCEL_ALL, MOVE), min_size=3, max_size=15)
# One step of quantity per symbol: 0.001 BTC (about 68 USDT), 0.01 ETH (about 35 USDT).
UNIT = {"BTCUSDT": D("0.001"), "ETHUSDT": D("0.01")}


def grid(rule: SymbolRule, price: D, bps: int) -> D:
    return max(round_to_step(price * (1 + D(bps) / 10000), rule.tick_size, up=False), rule.tick_size)


def run(action, binance, market, rules) -> None:
    kind = action[0]
    if kind == "place":
        _, symbol, side, order_type, time_in_force, bps, units = action
        price = grid(rules[symbol], MarketPrice.objects.get(symbol=symbol).price, bps)
        params = {"symbol": symbol, "side": side, "type": order_type, "quantity": str(UNIT[symbol] * units)}
        if order_type == "MARKET_QUOTE":
            params.update(type="MARKET", quantity=None, quoteOrderQty=str(D(20) * units))
        elif order_type == "LIMIT":
            params.update(price=str(price), timeInForce=time_in_force)
        elif order_type == "LIMIT_MAKER":
            params.update(price=str(price))
        elif order_type in ("STOP_LOSS", "TAKE_PROFIT"):
            params.update(stopPrice=str(price))
        response = binance.signed("POST", "order", **params)
        body = response.json()
        event(f"{order_type}: {body.get('status') or body.get('code') or 'accepted (ACK)'}")
        assert response.status_code in (200, 400), body
    elif kind == "cancel":
        working = [o for symbol in SYMBOLS for o in binance.signed("GET", "openOrders", symbol=symbol).json()]
        if working:
            target = working[action[1] % len(working)]
            answer = binance.signed("DELETE", "order", symbol=target["symbol"], orderId=target["orderId"])
            assert answer.json()["status"] == "CANCELED"
    elif kind == "cancel_all":
        binance.signed("DELETE", "openOrders", symbol=action[1])
    else:
        _, symbol, bps = action
        market.move(symbol, grid(rules[symbol], MarketPrice.objects.get(symbol=symbol).price, bps))


def seen_through_the_gateway(binance):
    account = binance.signed("GET", "account").json()
    balances = {b["asset"]: (D(b["free"]), D(b["locked"])) for b in account["balances"]}
    orders = {
        o["orderId"]: (o["clientOrderId"], o["status"], D(o["origQty"]), D(o["executedQty"]), D(o["price"]))
        for symbol in SYMBOLS
        for o in binance.signed("GET", "allOrders", symbol=symbol).json()
    }
    return balances, orders


def seen_through_the_api(api):
    balances = {
        b["asset"]: (D(b["free"]), D(b["locked"])) for b in api.get("/api/paper-trading/account").json()["balances"]
    }
    orders = {
        o["id"]: (
            o["client_order_id"],
            STATUS.get(o["status"], o["status"]),
            D(o["quantity"]),
            D(o["executed_quantity"]),
            D(o["price"] or 0),
        )
        for o in api.get("/api/paper-trading/orders", {"page_size": 200}).json()["results"]
    }
    return balances, orders


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS)
def test_gateway_and_api_show_the_same_account(binance, api, account, market, actions, settings):
    settings.GATEWAY_WEIGHT_LIMIT_1M = 10**9
    settings.GATEWAY_ORDER_LIMIT_10S = settings.GATEWAY_ORDER_LIMIT_1D = 10**9
    rules = {rule.symbol: rule for rule in SymbolRule.objects.filter(symbol__in=SYMBOLS)}
    try:
        with transaction.atomic():
            for action in actions:
                run(action, binance, market, rules)
            assert seen_through_the_gateway(binance) == seen_through_the_api(api)
            raise Rollback
    except Rollback:
        pass
