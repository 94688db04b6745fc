"""POST/GET /api/analysis/runs: a decision becomes a run and, for BUY/SELL, an order or a direct trade."""

import uuid
from decimal import Decimal

import pytest
from django.db import connection

from analysis.models import AnalysisRun
from papertrading.models import PaperOrder, SimulatedBalance
from papertrading.services import open_account
from portfolio.models import Position, Trade

URL = "/api/analysis/runs"


def traded():
    """The ledger's rows of trading: the opening trades (what an account started with) left out."""
    return Trade.objects.exclude(source=Trade.Source.OPENING)


def post(client, **data):
    body = {"agent": "momentum-1", "symbol": "BTCUSDT", "decision": "BUY", **data}
    return client.post(URL, {k: v for k, v in body.items() if v is not None}, format="json")


# --- paper trading on, simulation ---------------------------------------------------------------------------


def test_buy_in_simulation_places_a_market_order_linked_to_the_run_and_books_its_fill(agent_api, agent_account, market):
    response = post(agent_api, quantity="0.01", confidence="0.8", rationale="breakout")

    assert response.status_code == 201, response.data
    body = response.data
    assert body["status"] == "executed" and body["mode"] == "paper:simulation"
    run = AnalysisRun.objects.get()
    assert body["run_id"] == str(run.run_id)
    order = PaperOrder.objects.get()
    assert order.run_id == run.run_id and order.order_type == "MARKET" and order.status == "FILLED"
    assert [o["id"] for o in body["orders"]] == [order.pk]
    # Market 68000 plus 0.05 % slippage = 68034.00; fee 0.1 % of 0.01 BTC = 0.00001 BTC.
    assert run.account == order.account == agent_account
    trade = traded().get()
    assert (trade.price, trade.fee, trade.fee_asset) == (Decimal("68034.00"), Decimal("0.00001"), "BTC")
    assert (trade.run_id, trade.agent, trade.fill_id) == (run.run_id, "momentum-1", order.fills.get().pk)
    # On top of the 1 BTC the account opened with at 68000: 0.00999 BTC for 680.34.
    position = Position.objects.get(account=agent_account, symbol="BTCUSDT")
    assert (position.quantity, position.cost_basis) == (Decimal("1.00999"), Decimal("68680.34"))
    assert body["pnl"]["trade_count"] == 1
    # Marked at the market (68000): 0.00999 x 68000 = 679.32, paid 680.34 -> -1.02.
    assert Decimal(body["pnl"]["pnl"]) == Decimal("-1.02")


def test_quote_amount_is_converted_at_the_fill_price_and_snapped_down_to_the_lot(agent_api, market):
    # A MARKET BUY fills at 68000 + 0.05 % slippage = 68034; 1000 / 68034 = 0.0146985...; BTCUSDT's step is
    # 0.00001, so 0.01469. (At the bare market price it would be 0.01470, which costs 1000.0998.)
    response = post(agent_api, quote_amount="1000")

    assert response.status_code == 201, response.data
    run = AnalysisRun.objects.get()
    assert (run.quantity, run.quote_amount, run.reference_price) == (
        Decimal("0.01469"),
        Decimal("1000"),
        Decimal("68000"),
    )
    assert PaperOrder.objects.get().quantity == Decimal("0.01469")


@pytest.mark.parametrize(
    ("symbol", "quote_amount"), [("ETHUSDT", "35"), ("BTCUSDT", "1000"), ("BTCUSDT", "5000"), ("SOLUSDT", "12.5")]
)
def test_quote_amount_never_spends_more_than_asked(agent_api, agent_account, market, symbol, quote_amount):
    usdt = SimulatedBalance.objects.filter(account=agent_account, asset="USDT")
    usdt_before = usdt.get().free

    response = post(agent_api, symbol=symbol, quote_amount=quote_amount)

    assert response.status_code == 201, response.data
    spent = usdt_before - usdt.get().free
    fill = PaperOrder.objects.get().fills.get()
    assert spent == fill.quantity * fill.price
    assert 0 < spent <= Decimal(quote_amount)


def test_sell_decision_books_realized_pnl_on_the_run(agent_api, agent_user, market):
    # An account with cash alone, so the buy below is the whole BTC book.
    open_account(owner=agent_user, name="cash", starting_balances={"USDT": "100000"}, is_default=True)
    post(agent_api, quantity="0.01")
    market.set("BTCUSDT", "70000")

    response = post(agent_api, decision="SELL", quantity="0.00999")

    assert response.status_code == 201, response.data
    sell = Trade.objects.get(side="SELL")
    # Sold 0.00999 at 70000 less 0.05 % slippage = 69965.00 -> 698.95035 USDT; fee 0.1 % = 0.69895035 USDT;
    # proceeds 698.25139965; the whole position cost 680.34 -> realized +17.91139965.
    assert sell.price == Decimal("69965.00")
    assert sell.fee == Decimal("0.69895035")
    assert sell.realized_pnl == Decimal("17.91139965")
    assert Decimal(response.data["pnl"]["realized_pnl"]) == Decimal("17.91139965")
    assert Position.objects.get(symbol="BTCUSDT").quantity == 0


def test_hold_is_recorded_as_skipped_and_places_nothing(agent_api, market):
    response = post(agent_api, decision="HOLD", rationale="sideways")

    assert response.status_code == 201
    assert response.data["status"] == "skipped" and response.data["orders"] == []
    assert AnalysisRun.objects.get().status == AnalysisRun.Status.SKIPPED
    assert not PaperOrder.objects.exists() and not traded().exists()


def test_rejected_order_marks_the_run_failed_with_the_exchange_code_and_reason(agent_api, agent_account, market):
    response = post(agent_api, quantity="100")  # 100 BTC = 6.8 million USDT; the account holds 100000

    # The run was recorded, so 201; its status says it failed and why.
    assert response.status_code == 201, response.data
    assert response.data["status"] == "failed"
    assert response.data["error_code"] == -2010
    assert response.data["reason"] == "Account has insufficient balance for requested action."
    run = AnalysisRun.objects.get()
    order = PaperOrder.objects.get()
    assert (run.status, run.error_code) == ("failed", -2010)
    assert (order.run_id, order.status, order.reject_code) == (run.run_id, "REJECTED", -2010)
    assert [o["status"] for o in response.data["orders"]] == ["REJECTED"]
    assert not traded().exists()
    usdt = SimulatedBalance.objects.get(account=agent_account, asset="USDT")
    assert (usdt.free, usdt.locked) == (Decimal("100000"), Decimal("0"))  # nothing moved or reserved


def test_repeated_run_id_returns_the_same_run_without_a_second_order(agent_api, market):
    run_id = str(uuid.uuid4())
    first = post(agent_api, quantity="0.01", run_id=run_id)
    again = post(agent_api, quantity="0.01", run_id=run_id)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.data["run_id"] == run_id
    assert AnalysisRun.objects.count() == 1 and PaperOrder.objects.count() == 1 and traded().count() == 1


@pytest.mark.parametrize("data", [{"quantity": "0.01"}, {"decision": "HOLD"}])
def test_second_post_of_a_run_id_answers_200_with_the_same_run(agent_api, market, data):
    run_id = str(uuid.uuid4())
    first = post(agent_api, run_id=run_id, **data)
    again = post(agent_api, run_id=run_id, **data)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.data["run_id"] == first.data["run_id"] == run_id
    assert again.data == first.data
    assert AnalysisRun.objects.count() == 1


def test_a_post_that_loses_the_insert_to_the_same_run_id_answers_200_and_places_nothing(
    agent_api, agent_account, market
):
    """Another post stores the run_id after this one looked it up and before it inserts (the race, in order)."""
    run_id = uuid.uuid4()
    stored = []

    def other_post_stores_it_after_the_lookup(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not stored and sql.startswith("SELECT") and "analysis_analysisrun" in sql:
            stored.append(
                AnalysisRun.objects.create(
                    account=agent_account, run_id=run_id, agent="other-post", symbol="BTCUSDT", decision="BUY"
                )
            )
        return result

    with connection.execute_wrapper(other_post_stores_it_after_the_lookup):
        response = post(agent_api, quantity="0.01", run_id=str(run_id))

    assert response.status_code == 200, response.data
    assert (response.data["run_id"], response.data["agent"]) == (str(run_id), "other-post")
    assert AnalysisRun.objects.get().agent == "other-post"
    assert PaperOrder.objects.count() == 0  # the post that stored the run executes it, not this one


# --- invalid input: 400 per field, nothing stored ----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"symbol": "NOPEUSDT", "quantity": "1"}, "symbol"),
        ({"decision": "SHORT", "quantity": "1"}, "decision"),
        ({"quantity": "0.000001"}, "quantity"),  # off BTCUSDT's 0.00001 lot grid
        ({"quantity": "0.00001"}, "quantity"),  # 0.68 USDT, below the 5 USDT minimum notional
        ({"quote_amount": "1"}, "quote_amount"),  # 1 USDT buys 0.00001 BTC = 0.68, below the minimum notional
        ({"quote_amount": "0.0001"}, "quote_amount"),  # less than one lot
        ({"quantity": "0.01", "quote_amount": "100"}, "quantity"),  # two sizes
        ({}, "quantity"),  # no size
        ({"quantity": "-1"}, "quantity"),
        ({"quantity": "0.01", "confidence": "1.5"}, "confidence"),
        ({"agent": "", "quantity": "0.01"}, "agent"),
    ],
)
def test_invalid_decision_is_400_per_field_and_stores_no_run_and_no_order(agent_api, market, data, field):
    response = post(agent_api, **data)

    assert response.status_code == 400, response.data
    assert field in response.data, response.data
    assert not AnalysisRun.objects.exists()
    assert not PaperOrder.objects.exists() and not traded().exists()


# --- paper trading off: a direct trade ----------------------------------------------------------------------


def test_with_paper_trading_off_a_buy_is_a_direct_trade_at_the_market_with_the_fee(
    agent_api, agent_account, market, settings
):
    settings.PAPER_TRADING_ENABLED = False

    response = post(agent_api, quantity="0.01")

    assert response.status_code == 201, response.data
    assert response.data["status"] == "executed" and response.data["mode"] == "direct"
    assert response.data["orders"] == []
    assert not PaperOrder.objects.exists()
    trade = traded().get()
    # No slippage: the last price, 68000; fee 0.1 % of 0.01 BTC in BTC.
    assert (trade.source, trade.price, trade.fee, trade.fee_asset) == (
        "direct",
        Decimal("68000"),
        Decimal("0.00001"),
        "BTC",
    )
    assert (trade.run_id, trade.agent) == (AnalysisRun.objects.get().run_id, "momentum-1")
    # The 1 BTC the account opened with, and 0.00999 more.
    assert Position.objects.get(account=agent_account, symbol="BTCUSDT").quantity == Decimal("1.00999")
    assert [t["id"] for t in response.data["trades"]] == [trade.pk]
    # The account paid like an instant fill: 680 USDT out, 0.00999 BTC in (the balance check runs after each test).
    assert direct_balances(agent_account)["USDT"] == Decimal("99320")
    assert direct_balances(agent_account)["BTC"] == Decimal("1.00999")


def direct_balances(account) -> dict:
    return dict(SimulatedBalance.objects.filter(account=account).values_list("asset", "free"))


@pytest.mark.parametrize(
    "decision",
    [
        pytest.param({"decision": "BUY", "quantity": "100"}, id="buy-100-btc-with-100000-usdt"),
        pytest.param({"decision": "SELL", "quantity": "2"}, id="sell-more-than-held"),
    ],
)
def test_with_paper_trading_off_a_decision_the_account_cannot_pay_fails_and_moves_nothing(
    agent_api, agent_account, market, settings, decision
):
    settings.PAPER_TRADING_ENABLED = False
    before = direct_balances(agent_account)

    response = post(agent_api, **decision)

    assert response.status_code == 201
    body = response.data
    assert (body["status"], body["error_code"], body["reason"]) == (
        "failed",
        -2010,
        "Account has insufficient balance for requested action.",
    )
    assert not traded().exists() and not PaperOrder.objects.exists()
    assert direct_balances(agent_account) == before
    assert all(amount >= 0 for amount in direct_balances(agent_account).values())


def test_with_paper_trading_off_a_decision_meets_the_same_filters_as_an_order(agent_api, market, settings):
    settings.PAPER_TRADING_ENABLED = False

    response = post(agent_api, quantity="9000")  # 9,000 BTC: more than a MARKET order may carry

    assert response.status_code == 400
    assert response.data == {
        "quantity": ["Filter failure: MARKET_LOT_SIZE. Maximum quantity of a MARKET order is 120.5."]
    }
    assert not AnalysisRun.objects.exists() and not traded().exists()


# --- testnet (through `responses`) --------------------------------------------------------------------------


def test_buy_in_testnet_mode_sends_one_market_order_and_books_the_exchange_fills(agent_api, market, settings):
    pytest.importorskip("papertrading.venues.testnet")
    responses = pytest.importorskip("responses")
    import json
    import time
    from pathlib import Path

    from django.core.cache import cache

    cache.clear()
    base = "https://testnet.example"
    settings.PAPER_TRADING_MODE = "testnet"
    settings.BINANCE_TESTNET_API_KEY = "k" * 64
    settings.BINANCE_TESTNET_API_SECRET = "s" * 64
    settings.BINANCE_TESTNET_BASE_URL = base
    info = json.loads((Path(__file__).resolve().parents[2] / "papertrading/data/exchange_info.json").read_text())
    info["symbols"] = [s for s in info["symbols"] if s["symbol"] == "BTCUSDT"]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, f"{base}/api/v3/time", json={"serverTime": int(time.time() * 1000)})
        mock.add(responses.GET, f"{base}/api/v3/exchangeInfo", json=info)
        mock.add(responses.GET, f"{base}/api/v3/ticker/price", json={"symbol": "BTCUSDT", "price": "68000.00"})
        # What the testnet account holds: opening the agent's account allocates its starting balances out of it.
        held = [{"asset": a, "free": f, "locked": "0"} for a, f in (("USDT", "500000"), ("BTC", "5"), ("ETH", "50"))]
        mock.add(responses.GET, f"{base}/api/v3/account", json={"balances": held})

        def order_callback(request):
            from urllib.parse import parse_qs, urlsplit

            client_order_id = parse_qs(urlsplit(request.url).query)["newClientOrderId"][0]
            body = {
                "symbol": "BTCUSDT",
                "orderId": 777,
                "clientOrderId": client_order_id,
                "transactTime": int(time.time() * 1000),
                "origQty": "0.01000000",
                "executedQty": "0.01000000",
                "cummulativeQuoteQty": "680.00400000",
                "status": "FILLED",
                "type": "MARKET",
                "side": "BUY",
                "fills": [
                    {
                        "price": "68000.00",
                        "qty": "0.006",
                        "commission": "0.000006",
                        "commissionAsset": "BTC",
                        "tradeId": 1,
                    },
                    {
                        "price": "68001.00",
                        "qty": "0.004",
                        "commission": "0.000004",
                        "commissionAsset": "BTC",
                        "tradeId": 2,
                    },
                ],
            }
            return 200, {}, json.dumps(body)

        mock.add_callback(responses.POST, f"{base}/api/v3/order", callback=order_callback)

        response = post(agent_api, quantity="0.01")

        order_posts = [c for c in mock.calls if c.request.method == "POST"]
    assert response.status_code == 201, response.data
    assert response.data["status"] == "executed" and response.data["mode"] == "paper:testnet"
    assert len(order_posts) == 1
    order = PaperOrder.objects.get()
    assert (order.venue, order.status, order.binance_order_id) == ("testnet", "FILLED", 777)
    assert order.run_id == AnalysisRun.objects.get().run_id
    assert sorted(traded().values_list("price", "quantity")) == [
        (Decimal("68000.00"), Decimal("0.006")),
        (Decimal("68001.00"), Decimal("0.004")),
    ]
    assert order.account.venue == "testnet"
    # 0.006 x 68000 + 0.004 x 68001 = 408 + 272.004 = 680.004 for 0.01 - 0.00001 fee = 0.00999 BTC, on top of the
    # 1 BTC the account opened with at 68000.
    position = Position.objects.get(account=order.account, symbol="BTCUSDT")
    assert (position.quantity, position.cost_basis) == (Decimal("1.00999"), Decimal("68680.004"))


# --- reads, auth and permissions ----------------------------------------------------------------------------


def test_list_filters_by_agent_symbol_decision_and_status(agent_api, market):
    post(agent_api, quantity="0.01")
    post(agent_api, agent="contrarian", symbol="ETHUSDT", decision="HOLD")
    post(agent_api, agent="contrarian", quantity="100")  # rejected

    def agents(query):
        response = agent_api.get(URL + query)
        assert response.status_code == 200
        return [(r["agent"], r["symbol"], r["status"]) for r in response.data["results"]]

    assert agents("") == [
        ("contrarian", "BTCUSDT", "failed"),
        ("contrarian", "ETHUSDT", "skipped"),
        ("momentum-1", "BTCUSDT", "executed"),
    ]
    assert agents("?agent=contrarian&symbol=ethusdt") == [("contrarian", "ETHUSDT", "skipped")]
    assert agents("?decision=BUY&status=executed") == [("momentum-1", "BTCUSDT", "executed")]
    assert agents("?status=failed&status=skipped") == [
        ("contrarian", "BTCUSDT", "failed"),
        ("contrarian", "ETHUSDT", "skipped"),
    ]


def test_detail_shows_the_run_with_its_orders_and_outcome(agent_api, viewer_api, market):
    run_id = post(agent_api, quantity="0.01").data["run_id"]

    response = agent_api.get(f"{URL}/{run_id}")

    assert response.status_code == 200
    assert response.data["run_id"] == run_id
    assert response.data["orders"][0]["status"] == "FILLED"
    assert response.data["trades"][0]["side"] == "BUY"
    assert agent_api.get(f"{URL}/{uuid.uuid4()}").status_code == 404
    # Another user's account has no such run: the same 404 as one that does not exist.
    assert viewer_api.get(f"{URL}/{run_id}").status_code == 404


def test_anonymous_requests_are_401(client, db):
    from rest_framework.test import APIClient

    anonymous = APIClient()
    assert anonymous.get(URL).status_code == 401
    assert anonymous.post(URL, {}, format="json").status_code == 401


def test_viewer_and_a_trader_without_the_run_permission_get_403_on_post(viewer_api, api, market):
    assert post(viewer_api, quantity="0.01").status_code == 403
    assert post(api, quantity="0.01").status_code == 403  # may place orders, may not post runs
    assert not AnalysisRun.objects.exists() and not PaperOrder.objects.exists()
    assert viewer_api.get(URL).status_code == 200


def test_leaderboard_ranks_agents_by_pnl(agent_api, viewer_api, market):
    post(agent_api, agent="early", quantity="0.01")
    market.set("BTCUSDT", "69000")
    post(agent_api, agent="late", quantity="0.01")
    market.set("BTCUSDT", "70000")

    response = agent_api.get("/api/analysis/leaderboard")

    assert response.status_code == 200
    # early: 0.00999 x 70000 - 680.34 = 699.30 - 680.34 = +18.96
    # late: bought at 69000 x 1.0005 = 69034.50 -> paid 690.345; 699.30 - 690.345 = +8.955
    assert [(row["agent"], Decimal(row["pnl"])) for row in response.data] == [
        ("early", Decimal("18.96")),
        ("late", Decimal("8.955")),
    ]
    # The leaderboard is of the account's own agents: the viewer's account has none.
    assert viewer_api.get("/api/analysis/leaderboard").data == []
