"""The three wrong answers the desk gave before accounts, each pinned by a test that would have failed then.

(a) An order could carry any run_id, so anyone could move an agent's run P&L, or pre-empt the client id a run
    would use and make the run report "executed" with an order it never asked for.
(b) Selling the coins an account started with counted as a gain (the starting BTC entered the books at no cost).
(c) With paper trading off, a decision to buy far more than the account holds was booked anyway: cash went
    negative.
"""

import uuid
from decimal import Decimal as D

import pytest
from rest_framework.test import APIClient

from analysis.models import AnalysisRun
from conftest import api_client_for, make_user
from papertrading.errors import OrderValidationError
from papertrading.models import BalanceAdjustment, PaperOrder, SymbolRule
from papertrading.services import default_account_for, place_order
from papertrading.tests.support import LIMIT_BUY, MARKET_BUY, ORDERS_URL, balances
from portfolio.models import Position, Trade
from portfolio.services import client_order_id_for, ledger_problems

RUNS_URL = "/api/analysis/runs"
SUMMARY_URL = "/api/portfolio/summary"
AGENT_PERMISSIONS = ("add_paperorder", "change_paperorder", "view_paperorder", "analysis.add_analysisrun")
RUN_ID_REFUSED = {"run_id": ["No analysis run of this account has this id."]}


@pytest.fixture
def owner_account(market, agent_user):
    """The agent's account, opened after the `market` fixture set its prices (BTC 68000, ETH 3500)."""
    return default_account_for(agent_user)


@pytest.fixture
def intruder(market, db):
    """Another trader with the same permissions, in an account of their own."""
    user = make_user("intruder", *AGENT_PERMISSIONS)
    return api_client_for(user), default_account_for(user)


def post_run(client: APIClient, status: int = 201, **data) -> dict:
    body = {"agent": "momentum", "symbol": "BTCUSDT", "decision": "BUY", "quantity": "0.01", **data}
    response = client.post(RUNS_URL, body, format="json")
    assert response.status_code == status, response.content
    return response.json()


def held(account) -> dict[str, D]:
    return {asset: free + locked for asset, (free, locked) in balances(account).items()}


# --- (a) an order may carry any run_id ----------------------------------------------------------------------------


def test_an_order_with_another_accounts_run_id_is_refused_and_leaves_that_runs_pnl_alone(
    agent_api, owner_account, intruder
):
    intruder_api, intruder_account = intruder
    run = post_run(agent_api)
    assert run["status"] == "executed"
    run_before = agent_api.get(f"{RUNS_URL}/{run['run_id']}").json()
    board_before = agent_api.get("/api/analysis/leaderboard").json()
    intruder_before = balances(intruder_account)

    # A big losing order booked against the agent's run would have dragged its P&L down.
    for terms in ({**MARKET_BUY, "quantity": "0.5"}, LIMIT_BUY):
        response = intruder_api.post(ORDERS_URL, {**terms, "run_id": run["run_id"]}, format="json")
        assert (response.status_code, response.json()) == (400, RUN_ID_REFUSED)

    assert not intruder_account.orders.exists()
    assert balances(intruder_account) == intruder_before
    assert not Trade.objects.filter(run_id=run["run_id"]).exclude(account=owner_account).exists()
    assert agent_api.get(f"{RUNS_URL}/{run['run_id']}").json() == run_before
    assert agent_api.get("/api/analysis/leaderboard").json() == board_before
    assert run_before["pnl"]["trade_count"] == 1


def test_an_order_under_the_client_id_a_run_will_use_does_not_become_that_runs_order(
    agent_api, owner_account, intruder
):
    intruder_api, intruder_account = intruder
    run_id = uuid.uuid4()
    client_order_id = client_order_id_for(run_id)

    # The same terms the run will place, claiming its run_id before the run exists: refused.
    response = intruder_api.post(
        ORDERS_URL, {**MARKET_BUY, "client_order_id": client_order_id, "run_id": str(run_id)}, format="json"
    )
    assert (response.status_code, response.json()) == (400, RUN_ID_REFUSED)
    # Under the client id alone it is an order of the intruder's own account, and only that.
    squatter = intruder_api.post(ORDERS_URL, {**MARKET_BUY, "client_order_id": client_order_id}, format="json")
    assert squatter.status_code == 201, squatter.content

    run = post_run(agent_api, run_id=str(run_id))

    assert run["status"] == "executed"
    order = PaperOrder.objects.get(account=owner_account, run_id=run_id)
    assert order.pk != squatter.json()["id"]
    assert (order.client_order_id, order.quantity, order.status) == (client_order_id, D("0.01"), "FILLED")
    assert [o["id"] for o in run["orders"]] == [order.pk]
    assert [t["order_id"] for t in run["trades"]] == [order.pk]
    assert PaperOrder.objects.get(pk=squatter.json()["id"]).run_id is None
    assert Trade.objects.get(order_id=squatter.json()["id"]).account == intruder_account


def test_a_run_whose_client_id_its_own_account_already_used_fails_instead_of_claiming_that_order(
    agent_api, owner_account
):
    run_id = uuid.uuid4()
    client_order_id = client_order_id_for(run_id)
    terms = dict(symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=D("0.01"), price=D("67000"),
                 time_in_force="GTC", client_order_id=client_order_id)  # fmt: skip
    with pytest.raises(OrderValidationError) as refused:
        place_order(account=owner_account, **terms, run_id=run_id)
    assert refused.value.errors == RUN_ID_REFUSED
    # A person on the desk happens to use the id first, with no run.
    earlier = place_order(account=owner_account, **terms).order

    run = post_run(agent_api, run_id=str(run_id))

    assert (run["status"], run["error_code"]) == ("failed", -2010)
    assert "Duplicate order sent." in run["reason"]
    assert (run["orders"], run["trades"]) == ([], [])
    earlier.refresh_from_db()
    assert (earlier.run_id, earlier.status, earlier.events.count()) == (None, "PENDING", 1)
    assert owner_account.orders.count() == 1


# --- (b) selling starting coins shows as a gain -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paper_trading", "loss"),
    [
        # SELL 1 BTC at 68000 less 0.05 % slippage = 67966, fee 0.1 % = 67.966 USDT: 34 + 67.966 below the opening.
        (True, D("101.966")),
        # A direct trade fills at the last price with no slippage: only the 68 USDT fee is lost.
        (False, D("68")),
    ],
)
def test_selling_the_starting_coins_right_after_opening_loses_the_costs_instead_of_gaining_their_value(
    settings, agent_api, owner_account, paper_trading, loss
):
    settings.PAPER_TRADING_ENABLED = paper_trading
    opening = Trade.objects.get(account=owner_account, symbol="BTCUSDT", source=Trade.Source.OPENING)
    assert (opening.quantity, opening.price) == (D("1"), D("68000"))
    before = agent_api.get(SUMMARY_URL).json()
    # 100000 USDT + 1 BTC at 68000 + 10 ETH at 3500
    assert (D(before["equity"]), D(before["total_pnl"])) == (D("203000"), D("0"))

    run = post_run(agent_api, decision="SELL", quantity="1")

    assert run["status"] == "executed"
    summary = agent_api.get(SUMMARY_URL).json()
    assert D(summary["total_pnl"]) == -loss
    assert D(summary["realized_pnl"]) == -loss
    assert D(summary["equity"]) == D("203000") - loss
    assert D(summary["cash"]) == D("100000") + D("68000") - loss
    btc = Position.objects.get(account=owner_account, symbol="BTCUSDT")
    assert (btc.quantity, btc.cost_basis, btc.realized_pnl) == (D("0"), D("0"), -loss)
    assert D(run["pnl"]["pnl"]) == -loss
    assert held(owner_account)["BTC"] == D("0")
    assert held(owner_account)["USDT"] == D("168000") - loss
    assert ledger_problems(owner_account) == []


# --- (c) with paper trading off, cash goes negative ---------------------------------------------------------------


@pytest.mark.parametrize(
    "quantity",
    [
        "100",  # 6,800,000 USDT of BTC, within the shipped filters
        "9000",  # the decision; its size passes only once MARKET_LOT_SIZE (at most 120.5) is lifted
    ],
)
def test_with_paper_trading_off_a_buy_beyond_the_cash_fails_with_2010_and_moves_nothing(
    settings, agent_api, owner_account, quantity
):
    settings.PAPER_TRADING_ENABLED = False
    if quantity == "9000":
        rule = SymbolRule.objects.get(symbol="BTCUSDT")
        rule.market_max_quantity = D("0")
        rule.save()
    before = balances(owner_account)
    adjustments = set(BalanceAdjustment.objects.values_list("pk", flat=True))  # the starting balances
    summary_before = agent_api.get(SUMMARY_URL).json()

    run = post_run(agent_api, quantity=quantity)

    assert (run["status"], run["error_code"], run["mode"]) == ("failed", -2010, "direct")
    assert run["reason"] == "Account has insufficient balance for requested action."
    assert (run["orders"], run["trades"]) == ([], [])
    assert AnalysisRun.objects.get().status == AnalysisRun.Status.FAILED
    assert balances(owner_account) == before
    assert set(BalanceAdjustment.objects.values_list("pk", flat=True)) == adjustments
    assert not Trade.objects.filter(account=owner_account).exclude(source=Trade.Source.OPENING).exists()
    assert not PaperOrder.objects.exists()
    summary = agent_api.get(SUMMARY_URL).json()
    assert summary == summary_before
    assert D(summary["cash"]) == D("100000")
