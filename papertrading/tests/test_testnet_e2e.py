"""End to end through the API against the Binance stand-in (real HTTP on 127.0.0.1, signatures checked).

Place, list, cancel, sync and account in testnet mode, with the stand-in's clock 8 s ahead of ours so the request
timestamps only pass when the client applies the measured server-time offset. Also the sync-cost figure of the
issue's closing note: request weight of one sync cycle for 100 working orders over 5 symbols.
"""

from decimal import Decimal

import pytest

from papertrading import selectors, services
from papertrading.allocation import allocation_rows
from papertrading.binance import BinanceTestnetClient
from papertrading.errors import VenueUnavailable
from papertrading.models import PaperOrder
from papertrading.tests.standin import standin_in_testnet_mode
from papertrading.tests.support import balances as support_balances
from papertrading.venues.testnet import RESET_REASON

API_KEY = "e2e-key-3f9a7c1d5b2e4a6f8c0d2e4f6a8b0c1d"
SECRET = "e2e-secret-0c4d7e1f3a5b4c2d9e8f7a6b5c4d3e2f"
ORDERS_URL = "/api/paper-trading/orders"
Status = PaperOrder.Status
pytestmark = pytest.mark.django_db


@pytest.fixture(name="standin")
def standin_fixture(settings, monkeypatch):
    with standin_in_testnet_mode(settings, monkeypatch, api_key=API_KEY, secret=SECRET, clock_offset_ms=8000) as server:
        yield server


@pytest.fixture(name="desk")
def desk_fixture(standin, trader):
    """The trader's default account, opened on the testnet with the starting balances (the stand-in holds them)."""
    account = services.default_account_for(trader)
    assert account.venue == "testnet"
    return account


def place(api, **fields):
    payload = {"symbol": "BTCUSDT", "side": "BUY", "order_type": "LIMIT", "quantity": "0.001", "price": "60000",
               "time_in_force": "GTC", **fields}  # fmt: skip
    if payload["order_type"] != "LIMIT":
        payload.pop("price")
        payload.pop("time_in_force")
    return api.post(ORDERS_URL, payload, format="json")


def assert_each_local_order_sent_once(standin) -> None:
    """Every order of a desk account was sent exactly once, under its venue_order_ref."""
    sent = [p["newClientOrderId"] for p in standin.calls("POST", "/api/v3/order")]
    assert len(sent) == len(set(sent))
    local = set(PaperOrder.objects.filter(is_external=False).values_list("venue_order_ref", flat=True))
    assert set(sent) == local


def test_place_list_cancel_sync_account_against_the_standin(api, desk, standin):
    # Place: a resting limit and a market order that fills at once.
    resting = place(api)
    market = place(api, order_type="MARKET", quantity="0.002")
    assert resting.status_code == 201, resting.content
    assert market.status_code == 201, market.content
    resting, market = resting.json(), market.json()
    assert resting["status"] == "PENDING" and resting["binance_order_id"] in standin.orders
    assert market["status"] == "FILLED"
    assert [Decimal(f["price"]) for f in market["fills"]] == [Decimal("68000")]
    assert market["fills"][0]["trade_id"]

    # List.
    listed = api.get(ORDERS_URL).json()
    assert {o["id"] for o in listed["results"]} == {resting["id"], market["id"]}
    assert [o["id"] for o in api.get(f"{ORDERS_URL}/open").json()["results"]] == [resting["id"]]

    # Cancel.
    cancelled = api.delete(f"{ORDERS_URL}/{resting['id']}")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "CANCELLED"
    assert standin.orders[resting["binance_order_id"]].status == "CANCELED"

    # Sync: a resting sell fills on the exchange, an ETH order keeps working, someone else's order is imported.
    sell = place(api, side="SELL", price="70000").json()
    eth = place(api, symbol="ETHUSDT", quantity="0.01", price="3000").json()
    external_id = standin.add_external_order("ETHUSDT", "BUY", "0.02", "2900.00")
    standin.set_price("BTCUSDT", "70000")
    weight_before = standin.weight_used

    synced = services.sync_orders()

    assert synced.changed == {"filled": 1, "imported": 1}
    # 2 symbols × openOrders (6) + GET order (4) + myTrades by orderId (5), as the stand-in counted it too.
    assert synced.request_weight == 21
    assert standin.weight_used - weight_before == 21
    filled = PaperOrder.objects.get(pk=sell["id"])
    assert filled.status == Status.FILLED and filled.fills.get().price == Decimal("70000")
    assert PaperOrder.objects.get(pk=eth["id"]).status == Status.PENDING
    imported = PaperOrder.objects.get(binance_order_id=external_id)
    assert imported.is_external and imported.placed_by is None and imported.venue == "testnet"
    assert imported.account.is_external
    # The account's own sync asks for its one open order, and finds nothing new.
    account_sync = api.post(f"{ORDERS_URL}/sync")
    assert account_sync.status_code == 200 and account_sync.json()["changed"] == {}
    assert account_sync.json()["orders_checked"] == 1

    # Account: the desk's own share; the exchange holds it and the other order's 58 USDT besides.
    account = api.get("/api/paper-trading/account")
    assert account.status_code == 200
    assert account.json()["venue"] == "testnet"
    balances = {b["asset"]: (Decimal(b["free"]), Decimal(b["locked"])) for b in account.json()["balances"]}
    assert balances == {
        "BTC": (Decimal("1") + Decimal("0.002") - Decimal("0.001"), Decimal("0")),
        "ETH": (Decimal("10"), Decimal("0")),
        "USDT": (Decimal("100000") - 136 + 70 - 30, Decimal("30")),
    }
    _, on_exchange = selectors.venue_balances()
    exchange_usdt = next(b for b in on_exchange if b.asset == "USDT")
    assert (exchange_usdt.free, exchange_usdt.locked) == (Decimal("100000") - 136 + 70 - 30 - 58, Decimal("88"))
    rows = {row.asset: row for row in allocation_rows()}
    assert (rows["USDT"].exchange_total, rows["USDT"].accounts_total) == (Decimal("99934"), Decimal("99934"))
    assert (rows["BTC"].unallocated, rows["SOL"].unallocated) == (Decimal("0"), Decimal("100"))
    assert not any(row.differs for row in rows.values())

    # Every signed request passed the stand-in's signature and timestamp checks.
    assert standin.refused == []
    assert_each_local_order_sent_once(standin)


def test_cancel_of_an_order_filled_meanwhile_answers_409_and_records_the_fill(api, desk, standin):
    order = place(api).json()
    standin.fill(order["binance_order_id"])

    response = api.delete(f"{ORDERS_URL}/{order['id']}")

    assert response.status_code == 409
    local = PaperOrder.objects.get(pk=order["id"])
    assert local.status == Status.FILLED and local.fills.count() == 1
    assert [code for _, code in standin.refused] == [-2011]
    assert support_balances(desk)["USDT"] == (Decimal("100000") - 60, Decimal("0"))
    assert support_balances(desk)["BTC"] == (Decimal("1.001"), Decimal("0"))


def test_an_order_the_desk_cannot_pay_for_is_refused_before_it_reaches_the_standin(api, desk, standin):
    response = place(api, quantity="5", price="60000")  # 300,000 USDT on a 100,000 USDT account

    assert response.status_code == 400
    assert response.json()["code"] == -2010
    assert response.json()["detail"] == "Account has insufficient balance for requested action."
    assert standin.calls("POST", "/api/v3/order") == []


def test_rejection_by_the_standin_is_400_with_its_code_and_message_and_frees_the_reservation(api, desk, standin):
    standin.balances["USDT"][0] = Decimal("100")  # the exchange account was spent from elsewhere

    response = place(api, quantity="0.01", price="60000")  # 600 USDT: the desk has it, the exchange does not

    assert response.status_code == 400
    assert response.json()["code"] == -2010
    assert response.json()["detail"] == "Account has insufficient balance for requested action."
    assert standin.refused == [("/api/v3/order", -2010)]
    assert support_balances(desk)["USDT"] == (Decimal("100000"), Decimal("0"))
    assert [row.differs for row in allocation_rows() if row.asset == "USDT"] == [True]


def test_limit_maker_rests_on_the_standin_fills_as_maker_and_a_taking_one_is_refused(api, desk, standin):
    maker = {"symbol": "BTCUSDT", "side": "BUY", "order_type": "LIMIT_MAKER", "quantity": "0.001", "price": "60000"}
    resting = api.post(ORDERS_URL, maker, format="json")
    assert resting.status_code == 201, resting.content
    assert resting.json()["status"] == "PENDING"

    standin.set_price("BTCUSDT", "59000")  # the market comes down to it
    services.sync_orders()

    order = PaperOrder.objects.get(pk=resting.json()["id"])
    assert order.status == Status.FILLED
    assert [(fill.price, fill.is_maker) for fill in order.fills.all()] == [(Decimal("60000"), True)]

    taking = api.post(ORDERS_URL, {**maker, "price": "59500"}, format="json")  # at or above the market: it would take
    assert taking.status_code == 400
    assert (taking.json()["code"], taking.json()["detail"]) == (-2010, "Order would immediately match and take.")
    assert [code for _, code in standin.refused] == [-2010]


def test_testnet_reset_on_the_standin_closes_orders_and_resends_nothing(api, desk, standin):
    ids = [place(api).json()["id"] for _ in range(3)]
    standin.reset()

    report = services.sync_orders()

    assert report.changed == {"reset_closed": 3}
    assert set(PaperOrder.objects.filter(pk__in=ids).values_list("status", "reject_reason")) == {
        (Status.CANCELLED, RESET_REASON)
    }
    assert len(standin.calls("POST", "/api/v3/order")) == 3
    assert standin.orders == {}


def test_wrong_secret_is_refused_by_the_standin_and_answers_503(api, desk, standin, settings):
    settings.BINANCE_TESTNET_API_SECRET = "not-the-secret"

    with pytest.raises(VenueUnavailable, match="refused the API credentials"):
        selectors.venue_balances()
    placed = place(api)

    assert placed.status_code == 503
    assert "refused the API credentials" in placed.json()["detail"]
    assert standin.refused == [("/api/v3/account", -1022), ("/api/v3/order", -1022)]
    assert support_balances(desk)["USDT"] == (Decimal("100000"), Decimal("0"))


def test_unreachable_exchange_answers_503(api, desk, standin, monkeypatch):
    monkeypatch.setattr(BinanceTestnetClient, "retry_backoff_seconds", (0.0, 0.0))
    standin.stop()

    response = place(api)

    assert response.status_code == 503
    assert not PaperOrder.objects.exists()


def test_sync_cost_for_100_working_orders_over_5_symbols(api, desk, standin):
    """The closing-note figure: one openOrders per symbol, nothing per unchanged order."""
    plan = {
        "BTCUSDT": ("0.001", "34000"),
        "ETHUSDT": ("0.01", "1750"),
        "BNBUSDT": ("0.02", "300"),
        "SOLUSDT": ("0.1", "75"),
        "XRPUSDT": ("40", "0.25"),
    }
    for symbol, (quantity, price) in plan.items():
        for _ in range(20):
            assert place(api, symbol=symbol, quantity=quantity, price=price).status_code == 201
    assert PaperOrder.objects.filter(status=Status.PENDING).count() == 100

    steady = services.sync_orders()
    standin.set_price("BTCUSDT", "34000")  # the 20 BTC orders fill on the exchange
    after_fills = services.sync_orders()

    print(f"\nsync of 100 working orders over 5 symbols: {steady.request_weight} weight when nothing changed, "
          f"{after_fills.request_weight} when 20 of them filled")  # fmt: skip
    assert steady.changed == {} and steady.orders_checked == 100
    assert steady.request_weight == 5 * 6
    assert after_fills.changed == {"filled": 20}
    assert after_fills.request_weight == 5 * 6 + 20 * (4 + 5)
    assert_each_local_order_sent_once(standin)
