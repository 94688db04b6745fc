"""Trailing stops (trailingDelta) through the gateway: Binance's parameters, the desk's trailing orders underneath."""

import pytest

from papertrading.models import PaperOrder

pytestmark = pytest.mark.django_db

STOP_SELL = {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_LOSS", "quantity": "0.01"}


def test_a_trailing_stop_without_a_stop_price_is_placed_and_shown_with_its_delta(binance, account, market):
    answer = binance.signed("POST", "order", **STOP_SELL, trailingDelta="150", newOrderRespType="RESULT")

    assert answer.status_code == 200, answer.content
    body = answer.json()
    order = PaperOrder.objects.get(account=account)
    assert (order.order_type, order.trailing_delta, order.stop_price) == ("STOP_LOSS", 150, None)
    assert body["trailingDelta"] == 150 and "stopPrice" not in body
    # Tracking from placement: Binance shows when it started.
    assert body["trailingTime"] > 0
    shown = binance.signed("GET", "order", symbol="BTCUSDT", orderId=order.pk).json()
    assert (shown["type"], shown["trailingDelta"], shown["status"]) == ("STOP_LOSS", 150, "NEW")


def test_a_trailing_stop_limit_with_a_stop_price_waits_for_the_stop(binance, account, market):
    params = {**STOP_SELL, "type": "STOP_LOSS_LIMIT", "timeInForce": "GTC", "price": "60000", "stopPrice": "61000"}
    answer = binance.signed("POST", "order", **params, trailingDelta="200", newOrderRespType="RESULT")

    assert answer.status_code == 200, answer.content
    order = PaperOrder.objects.get(account=account)
    assert (order.trailing_delta, order.stop_price, order.trailing_started_at) == (200, 61000, None)
    assert "trailingTime" not in answer.json()


@pytest.mark.parametrize(
    "params, expected",
    [
        (
            STOP_SELL,
            {"code": -1102, "msg": "Param 'stopPrice' or 'trailingDelta' must be sent, but both were empty/null!"},
        ),
        (
            {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
             "price": "60000", "trailingDelta": "100"},
            {"code": -1106, "msg": "Parameter 'trailingDelta' sent when not required."},
        ),
        ({**STOP_SELL, "trailingDelta": "5"}, {"code": -1013, "msg": "Filter failure: TRAILING_DELTA"}),
        ({**STOP_SELL, "trailingDelta": "1.5"}, None),
    ],
)  # fmt: skip
def test_bad_trailing_deltas_get_binances_answer_and_write_nothing(binance, account, market, params, expected):
    answer = binance.signed("POST", "order", **params)
    assert answer.status_code == 400, answer.content
    if expected is not None:
        assert answer.json() == expected
    else:
        assert answer.json()["code"] == -1100
    assert not PaperOrder.objects.filter(account=account).exists()


def test_exchange_info_offers_trailing_stops_with_the_symbols_filter(binance, market):
    btc = next(s for s in binance.public("exchangeInfo").json()["symbols"] if s["symbol"] == "BTCUSDT")
    assert btc["allowTrailingStop"] is True
    [trailing] = [f for f in btc["filters"] if f["filterType"] == "TRAILING_DELTA"]
    assert trailing == {
        "filterType": "TRAILING_DELTA",
        "minTrailingAboveDelta": 10,
        "maxTrailingAboveDelta": 2000,
        "minTrailingBelowDelta": 10,
        "maxTrailingBelowDelta": 2000,
    }
