"""Risk limits and the kill switch in testnet mode, against the `Exchange` fake on `responses`.

The limits are judged under the account's row lock before the order is written or sent: a refusal reaches the
exchange with nothing at all. Halting cancels the account's working orders on the exchange, one DELETE each.
"""

import threading
from decimal import Decimal

import pytest
import requests

from papertrading import services
from papertrading.balances import check_balances
from papertrading.errors import RiskLimitExceeded
from papertrading.models import PaperOrder, RiskEvent
from papertrading.tests.support import balances, prepare_race, run_together
from papertrading.tests.test_testnet_venue import (  # noqa: F401 - the fixtures are used by name
    ORDERS_URL,
    desk_fixture,
    exchange_fixture,
    limit_payload,
    market_payload,
    place,
    testnet_fixture,
)
from papertrading.venues import get_venue

Status = PaperOrder.Status
pytestmark = pytest.mark.django_db


def limited(account, **values):
    return services.set_limits(account=account, values=values, user=None, may_loosen=True)


def figure(text: str | None):
    """A refusal's figure as a number where it is one ("60.00000000" is 60), else as given."""
    try:
        return Decimal(text)
    except (TypeError, ArithmeticError):
        return text


def warm(symbol: str = "BTCUSDT") -> None:
    """Have the venue know the symbol's filters and price (both cached), as after any earlier order: what a refused
    order may then ask the exchange is nothing at all."""
    venue = get_venue()
    assert venue.symbol_rule(symbol) is not None and venue.market_price(symbol) is not None


# Each case: how to bring the desk (USDT 5000, BTC 0.5; BTCUSDT at 68000) to the limit, the order it refuses, and
# the refusal's limit_value and value. limit_payload() is 0.001 BTC at 60000: worth 60.
def at_order_notional(api, desk, market):
    limited(desk, max_order_notional="59.99999999")


def at_market_order_notional(api, desk, market):
    limited(desk, max_order_notional="135.99999999")  # a MARKET order is valued at the market: 0.002 x 68000


def at_position_notional(api, desk, market):
    limited(desk, max_position_notional="30059.99999999")  # (0.5 + 0.001) x 60000 = 30060


def outside_allowed_symbols(api, desk, market):
    limited(desk, allowed_symbols=["ETHUSDT"])


def at_daily_loss(api, desk, market):
    assert services.mark_day_start() >= 1  # 5000 + 0.5 x 68000 = 39000
    market.set("BTCUSDT", "66000")  # 38000: 1000 lost today
    limited(desk, max_daily_loss="999.99999999")


def at_open_orders(api, desk, market):
    assert place(api, limit_payload()).status_code == 201
    limited(desk, max_open_orders=1)


def at_orders_per_minute(api, desk, market):
    order_id = place(api, limit_payload()).json()["id"]
    assert api.delete(f"{ORDERS_URL}/{order_id}").status_code == 200  # cancelled, yet placed in the last minute
    limited(desk, max_orders_per_minute=1)


def halted(api, desk, market):
    services.halt_account(account=desk, reason="Desk closed for the day", actor="trader")


@pytest.mark.parametrize(
    "reach, payload, limit, limit_value, value",
    [
        (at_order_notional, limit_payload(), "max_order_notional", "59.99999999", "60"),
        (at_market_order_notional, market_payload(), "max_order_notional", "135.99999999", "136"),
        (at_position_notional, limit_payload(), "max_position_notional", "30059.99999999", "30060"),
        (outside_allowed_symbols, limit_payload(), "allowed_symbols", "ETHUSDT", "BTCUSDT"),
        (at_daily_loss, limit_payload(), "max_daily_loss", "999.99999999", "1000"),
        (at_open_orders, limit_payload(), "max_open_orders", "1", "2"),
        (at_orders_per_minute, limit_payload(), "max_orders_per_minute", "1", "2"),
        (halted, limit_payload(), "halted", None, None),
    ],
    ids=lambda case: case.__name__ if callable(case) else None,
)
def test_a_refused_order_sends_nothing_to_the_exchange_and_writes_nothing(
    api, desk, exchange, market, reach, payload, limit, limit_value, value
):
    reach(api, desk, market)
    warm()
    orders, held, posts = list(PaperOrder.objects.values_list("pk", "status")), balances(desk), exchange.posts()
    exchange.rsps.calls.reset()

    response = place(api, payload)

    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["code"], body["limit"]) == ("RISK_LIMIT", limit)
    assert (figure(body["limit_value"]), figure(body["value"])) == (figure(limit_value), figure(value))
    assert len(exchange.rsps.calls) == 0  # not the order, not a read: nothing
    assert exchange.posts() == [] and len(exchange.created_orders()) == len(posts)
    assert list(PaperOrder.objects.values_list("pk", "status")) == orders
    assert balances(desk) == held
    [event] = desk.risk_events.filter(kind=RiskEvent.Kind.REFUSED)
    assert (event.limit, event.source) == (limit, "api")


def test_an_order_exactly_at_the_limits_is_sent(api, desk, exchange, market):
    limited(
        desk,
        max_order_notional="60",
        max_position_notional="30060",
        max_open_orders=1,
        max_orders_per_minute=1,
        allowed_symbols=["BTCUSDT"],
    )

    response = place(api, limit_payload())

    assert response.status_code == 201, response.content
    assert len(exchange.posts()) == 1 and response.json()["status"] == "PENDING"


def test_max_open_orders_on_the_testnet_counts_its_working_orders_and_those_whose_outcome_is_unknown(
    api, desk, exchange
):
    limited(desk, max_open_orders=2)
    # A filled order is not working: it does not count.
    assert place(api, market_payload()).json()["status"] == "FILLED"
    working = place(api, limit_payload()).json()
    assert working["status"] == "PENDING"
    # Accepted by the exchange, but the answer is lost: it may be working there, so it counts.
    exchange.post_script.append((True, requests.ReadTimeout("read timed out")))
    assert place(api, limit_payload(price="59000")).json()["status"] == "UNKNOWN"
    assert len(exchange.posts()) == 3

    refused = place(api, limit_payload(price="58000"))

    assert refused.status_code == 400, refused.content
    body = refused.json()
    assert (body["limit"], body["limit_value"], body["value"]) == ("max_open_orders", "2", "3")
    assert len(exchange.posts()) == 3
    # Once one of them ends, the next order is sent.
    assert api.delete(f"{ORDERS_URL}/{working['id']}").status_code == 200
    assert place(api, limit_payload(price="58000")).status_code == 201
    assert len(exchange.posts()) == 4
    assert desk.orders.filter(status__in=PaperOrder.OPEN_STATUSES).count() == 2


def test_another_accounts_working_testnet_orders_do_not_count(api, desk, exchange, rival):
    other = services.open_account(
        owner=rival, name="Rival desk", venue="testnet", starting_balances={"USDT": "1000"}, is_default=True
    )
    for price in ("60000", "59000"):
        services.place_order(
            account=other, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=Decimal("0.001"),
            price=Decimal(price), time_in_force="GTC",
        )  # fmt: skip
    limited(desk, max_open_orders=1)

    assert place(api, limit_payload()).status_code == 201
    assert place(api, limit_payload()).json()["limit"] == "max_open_orders"
    assert len(exchange.posts()) == 3


def test_halting_cancels_the_working_testnet_orders_on_the_exchange_and_the_next_order_is_refused_unsent(
    api, desk, exchange
):
    ids = [place(api, limit_payload(price=price)).json()["id"] for price in ("60000", "59000", "58000")]
    assert place(api, market_payload()).json()["status"] == "FILLED"
    placed = {order.pk: order.binance_order_id for order in PaperOrder.objects.filter(pk__in=ids)}
    assert len(set(placed.values())) == 3 and None not in placed.values()
    exchange.rsps.calls.reset()

    result = services.halt_account(account=desk, reason="Runaway agent", actor="trader")

    assert sorted(result.cancelled) == sorted(ids) and result.not_cancelled == {}
    deletes = exchange.calls("DELETE", "/api/v3/order")
    assert sorted(int(delete["orderId"]) for delete in deletes) == sorted(placed.values())  # one DELETE each
    assert {exchange.orders[order_id]["status"] for order_id in placed.values()} == {"CANCELED"}
    assert not desk.orders.filter(status__in=PaperOrder.OPEN_STATUSES).exists()
    assert set(PaperOrder.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Status.CANCELLED}
    assert balances(desk)["USDT"][1] == 0  # every reservation given back
    desk.refresh_from_db()
    assert (desk.halted_reason, desk.halted_by) == ("Runaway agent", "trader")

    warm()
    exchange.rsps.calls.reset()
    orders = PaperOrder.objects.count()
    response = place(api, limit_payload())

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["limit"]) == ("RISK_LIMIT", "halted")
    assert "Runaway agent" in response.json()["detail"]
    assert len(exchange.rsps.calls) == 0
    assert PaperOrder.objects.count() == orders


@pytest.mark.django_db(transaction=True)
def test_twenty_testnet_orders_at_once_against_max_open_orders_5_send_exactly_five(exchange, trader, monkeypatch):
    account = prepare_race(trader)  # PostgreSQL only; on the testnet, allocated what the exchange holds
    assert account.venue == "testnet"
    limited(account, max_open_orders=5)
    warm()
    exchange.rsps.calls.reset()
    # The fake exchange numbers its orders; the threads take turns at it.
    turn, accept = threading.Lock(), exchange._accept_order

    def accept_in_turn(params):
        with turn:
            return accept(params)

    monkeypatch.setattr(exchange, "_accept_order", accept_in_turn)

    def order():
        return services.place_order(
            account=account, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=Decimal("0.001"),
            price=Decimal("60000"), time_in_force="GTC",
        )  # fmt: skip

    results = run_together(*[order] * 20)

    refused = [r for r in results if isinstance(r, RiskLimitExceeded)]
    placed = [r.order for r in results if not isinstance(r, Exception)]
    assert len(placed) + len(refused) == 20, [r for r in results if isinstance(r, Exception) and r not in refused]
    assert len(exchange.posts()) == 5 and len(exchange.created_orders()) == 5
    assert [(r.limit, r.value) for r in refused] == [("max_open_orders", 6)] * 15
    assert sorted(PaperOrder.objects.filter(account=account).values_list("status", flat=True)) == [Status.PENDING] * 5
    assert {o.venue_order_ref for o in PaperOrder.objects.all()} == {p["newClientOrderId"] for p in exchange.posts()}
    assert balances(account)["USDT"][1] == Decimal("300")  # 5 x 60 reserved, nothing for the refused
    assert check_balances() == []
