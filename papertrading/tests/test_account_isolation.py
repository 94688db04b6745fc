"""Two accounts trading at once never see or move each other's orders, balances, runs or P&L.

The trader (`api`, `account`) and the rival (`rival_api`, `rival_account`) trade side by side; every read and write
through the API acts on the caller's own account only. Another account's order or run answers 404, exactly like
one that does not exist, and nothing of it moves.
"""

import uuid
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from papertrading.accounts import issue_api_key, revoke_api_key
from papertrading.balances import check_balances
from papertrading.models import PaperOrder
from papertrading.services import open_account, place_order
from papertrading.tests.support import LIMIT_BUY, MARKET_BUY, ORDERS_URL, balances, prepare_race, run_together
from portfolio.models import Trade

OPEN_URL = ORDERS_URL + "/open"
SYNC_URL = ORDERS_URL + "/sync"
ACCOUNT_URL = "/api/paper-trading/account"
RUNS_URL = "/api/analysis/runs"
POSITIONS_URL = "/api/portfolio/positions"
SUMMARY_URL = "/api/portfolio/summary"
TRADES_URL = "/api/portfolio/trades"
# Another account's order or run answers exactly like one that does not exist.
NO_ORDER = (404, {"detail": "No PaperOrder matches the given query."})
NO_RUN = (404, {"detail": "No AnalysisRun matches the given query."})


def may_post_runs(*users) -> None:
    """Posting a run may place an order, so it needs analysis.add_analysisrun next to add_paperorder."""
    permission = Permission.objects.get(content_type__app_label="analysis", codename="add_analysisrun")
    for user in users:
        user.user_permissions.add(permission)
        for cache in ("_perm_cache", "_user_perm_cache"):
            user.__dict__.pop(cache, None)


def key_client(raw: str, **headers) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}", **headers)
    return client


def answer(response) -> tuple[int, dict]:
    return response.status_code, response.json()


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    body = response.json()
    return body["results"] if isinstance(body, dict) and "results" in body else body


def ids(response) -> set[int]:
    return {row["id"] for row in results(response)}


def account_balances(client) -> dict[str, tuple[str, str]]:
    response = client.get(ACCOUNT_URL)
    assert response.status_code == 200, response.content
    return {row["asset"]: (row["free"], row["locked"]) for row in response.json()["balances"]}


def post(client, url, data, status=201) -> dict:
    response = client.post(url, data, format="json")
    assert response.status_code == status, response.content
    return response.json()


# --- orders -------------------------------------------------------------------------------------------------------


def test_each_account_lists_and_opens_only_its_own_orders(market, api, account, rival_api, rival_account):
    # The same client_order_id in both accounts: two orders, one each (the id is the account's own).
    mine = post(api, ORDERS_URL, {**LIMIT_BUY, "client_order_id": "bot-0001"})
    theirs = post(rival_api, ORDERS_URL, {**LIMIT_BUY, "price": "66000", "client_order_id": "bot-0001"})
    their_market = post(rival_api, ORDERS_URL, MARKET_BUY)

    assert mine["id"] != theirs["id"]
    assert PaperOrder.objects.get(pk=mine["id"]).account == account
    assert set(PaperOrder.objects.filter(account=rival_account).values_list("pk", flat=True)) == {
        theirs["id"],
        their_market["id"],
    }
    refs = PaperOrder.objects.filter(client_order_id="bot-0001").values_list("venue_order_ref", flat=True)
    assert len(set(refs)) == 2  # what the exchange sees stays unique

    assert ids(api.get(ORDERS_URL)) == {mine["id"]}
    assert ids(api.get(OPEN_URL)) == {mine["id"]}
    assert ids(rival_api.get(ORDERS_URL)) == {theirs["id"], their_market["id"]}
    assert ids(rival_api.get(OPEN_URL)) == {theirs["id"]}
    # Filters cannot reach past the account either.
    assert ids(api.get(ORDERS_URL, {"status": "FILLED"})) == set()
    assert ids(api.get(ORDERS_URL, {"symbol": "BTCUSDT", "page_size": 500})) == {mine["id"]}

    assert api.get(f"{ORDERS_URL}/{mine['id']}").json()["client_order_id"] == "bot-0001"
    for order_id in (theirs["id"], their_market["id"]):
        assert answer(api.get(f"{ORDERS_URL}/{order_id}")) == NO_ORDER
    assert answer(rival_api.get(f"{ORDERS_URL}/{mine['id']}")) == NO_ORDER
    assert answer(api.get(f"{ORDERS_URL}/999999")) == NO_ORDER


def test_cancelling_the_other_accounts_order_is_a_404_and_moves_nothing(market, api, account, rival_api, rival_account):
    theirs = post(rival_api, ORDERS_URL, LIMIT_BUY)
    before = balances()

    assert answer(api.delete(f"{ORDERS_URL}/{theirs['id']}")) == NO_ORDER
    order = PaperOrder.objects.get(pk=theirs["id"])
    assert order.status == PaperOrder.Status.PENDING
    assert order.events.count() == 1  # placed, and nothing since
    assert balances() == before
    assert balances(rival_account)["USDT"] == (D("99330"), D("670"))

    # Its owner still can.
    assert rival_api.delete(f"{ORDERS_URL}/{theirs['id']}").json()["status"] == "CANCELLED"
    assert balances(rival_account)["USDT"] == (D("100000"), D("0"))
    assert balances(account)["USDT"] == (D("100000"), D("0"))


def test_each_account_reads_only_its_own_balances_and_they_move_only_with_its_own_fills(
    market, api, account, rival_api, rival_account
):
    post(api, ORDERS_URL, LIMIT_BUY)  # locks 670 USDT of the trader's
    rival_before = account_balances(rival_api)
    assert rival_before == {
        "BTC": ("1.00000000", "0.00000000"),
        "ETH": ("10.00000000", "0.00000000"),
        "USDT": ("100000.00000000", "0.00000000"),
    }

    post(api, ORDERS_URL, MARKET_BUY)  # 0.01 BTC at 68034 (slippage), fee 0.00001 BTC
    post(api, ORDERS_URL, {"symbol": "ETHUSDT", "side": "SELL", "order_type": "MARKET", "quantity": "1"})

    assert account_balances(rival_api) == rival_before
    mine = account_balances(api)
    assert mine["BTC"] == ("1.00999000", "0.00000000")
    assert mine["ETH"] == ("9.00000000", "0.00000000")
    # 100000 - 670 locked - 680.34 paid + 3498.25 less its 3.49825 fee received
    assert mine["USDT"] == ("102144.41175000", "670.00000000")

    # The rival's fill leaves the trader's balances as they were.
    post(rival_api, ORDERS_URL, MARKET_BUY)
    assert account_balances(api) == mine
    assert account_balances(rival_api)["BTC"] == ("1.00999000", "0.00000000")
    assert check_balances() == []


def test_a_sync_settles_only_the_callers_orders(market, api, account, rival_api, rival_account):
    mine = post(api, ORDERS_URL, LIMIT_BUY)
    theirs = post(rival_api, ORDERS_URL, LIMIT_BUY)
    market.set("BTCUSDT", "66000")  # both rest at 67000 and are now reachable; nothing has matched yet

    body = post(api, SYNC_URL, {}, status=200)

    assert (body["orders_checked"], body["symbols_checked"], body["changed"]) == (1, 1, {"filled": 1})
    assert PaperOrder.objects.get(pk=mine["id"]).status == PaperOrder.Status.FILLED
    assert PaperOrder.objects.get(pk=theirs["id"]).status == PaperOrder.Status.PENDING
    assert balances(rival_account)["USDT"] == (D("99330"), D("670"))
    assert balances(rival_account)["BTC"] == (D("1"), D("0"))

    body = post(rival_api, SYNC_URL, {}, status=200)
    assert (body["orders_checked"], body["changed"]) == (1, {"filled": 1})
    assert PaperOrder.objects.get(pk=theirs["id"]).status == PaperOrder.Status.FILLED
    # The trader's order was filled once: one fill, one ledger row, whatever the rival synced.
    assert PaperOrder.objects.get(pk=mine["id"]).fills.count() == 1
    assert Trade.objects.filter(order_id=mine["id"]).count() == 1


# --- runs ---------------------------------------------------------------------------------------------------------


def run_payload(**extra) -> dict:
    return {"agent": "momentum", "symbol": "BTCUSDT", "decision": "BUY", "quantity": "0.01", **extra}


def test_each_account_lists_and_opens_only_its_own_runs(market, trader, rival, api, account, rival_api):
    may_post_runs(trader, rival)
    mine = post(api, RUNS_URL, run_payload())
    theirs = post(rival_api, RUNS_URL, run_payload(agent="contrarian", decision="SELL"))
    # The same run_id in both accounts is two runs, one each.
    shared = str(uuid.uuid4())
    my_shared = post(api, RUNS_URL, run_payload(run_id=shared, decision="HOLD"))
    their_shared = post(rival_api, RUNS_URL, run_payload(run_id=shared, agent="contrarian", quantity="0.02"))
    assert (my_shared["status"], their_shared["status"]) == ("skipped", "executed")

    assert {run["run_id"] for run in results(api.get(RUNS_URL))} == {mine["run_id"], shared}
    assert {run["run_id"] for run in results(rival_api.get(RUNS_URL))} == {theirs["run_id"], shared}

    assert answer(api.get(f"{RUNS_URL}/{theirs['run_id']}")) == NO_RUN
    assert answer(rival_api.get(f"{RUNS_URL}/{mine['run_id']}")) == NO_RUN
    assert answer(api.get(f"{RUNS_URL}/{uuid.uuid4()}")) == NO_RUN

    # The shared run_id reads as each account's own run, with its own orders and trades.
    mine_shared = api.get(f"{RUNS_URL}/{shared}").json()
    assert (mine_shared["decision"], mine_shared["orders"], mine_shared["trades"]) == ("HOLD", [], [])
    theirs_shared = rival_api.get(f"{RUNS_URL}/{shared}").json()
    assert theirs_shared["decision"] == "BUY"
    assert [order["quantity"] for order in theirs_shared["orders"]] == ["0.02000000"]
    assert len(theirs_shared["trades"]) == 1
    assert results(api.get(TRADES_URL, {"run_id": shared})) == []
    assert len(results(rival_api.get(TRADES_URL, {"run_id": shared}))) == 1

    # Leaderboards hold each account's own agents only.
    assert {row["agent"] for row in results(api.get("/api/analysis/leaderboard"))} == {"momentum"}
    assert {row["agent"] for row in results(rival_api.get("/api/analysis/leaderboard"))} == {"contrarian"}


# --- the portfolio ------------------------------------------------------------------------------------------------


def test_each_account_has_its_own_positions_summary_and_ledger(market, api, account, rival_api, rival_account):
    mine = post(api, ORDERS_URL, MARKET_BUY)
    summary_before = api.get(SUMMARY_URL).json()
    positions_before = results(api.get(POSITIONS_URL))
    trades_before = results(api.get(TRADES_URL))

    # The rival trades a lot meanwhile, at the same prices.
    theirs = [
        post(rival_api, ORDERS_URL, {**MARKET_BUY, "quantity": "0.5"}),
        post(rival_api, ORDERS_URL, {"symbol": "ETHUSDT", "side": "SELL", "order_type": "MARKET", "quantity": "5"}),
        post(rival_api, ORDERS_URL, {"symbol": "SOLUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "10"}),
    ]

    assert api.get(SUMMARY_URL).json() == summary_before
    assert results(api.get(POSITIONS_URL)) == positions_before
    assert results(api.get(TRADES_URL)) == trades_before

    assert summary_before["trade_count"] == 1
    assert {row["order_id"] for row in trades_before} == {mine["id"], None}  # the fill and the opening trades
    assert {row["symbol"] for row in positions_before} == {"BTCUSDT", "ETHUSDT"}

    rival_summary = rival_api.get(SUMMARY_URL).json()
    assert rival_summary["trade_count"] == 3
    rival_trades = results(rival_api.get(TRADES_URL))
    assert {row["order_id"] for row in rival_trades} - {None} == {order["id"] for order in theirs}
    assert {row["symbol"] for row in results(rival_api.get(POSITIONS_URL))} == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
    sol = next(row for row in results(rival_api.get(POSITIONS_URL)) if row["symbol"] == "SOLUSDT")
    assert sol["quantity"] == "9.99000000"  # 10 less the 0.01 SOL fee

    # Filtering the ledger by what only the other account traded finds nothing.
    assert results(api.get(TRADES_URL, {"symbol": "SOLUSDT"})) == []
    assert not Trade.objects.filter(account=account, order__account=rival_account).exists()


# --- account keys and the X-Account header ------------------------------------------------------------------------


def test_an_account_key_acts_as_its_account_only(market, trader, api, account, rival_api, rival_account):
    second = open_account(owner=trader, name="Second desk", starting_balances={"USDT": "5000"})
    raw = issue_api_key(second, name="bot", created_by=trader).raw
    keyed = key_client(raw)
    post(api, ORDERS_URL, LIMIT_BUY)  # the trader's own (default) account
    post(rival_api, ORDERS_URL, LIMIT_BUY)

    placed = post(keyed, ORDERS_URL, {**LIMIT_BUY, "quantity": "0.001"})

    order = PaperOrder.objects.get(pk=placed["id"])
    assert order.account == second
    assert order.placed_by == trader
    assert ids(keyed.get(ORDERS_URL)) == {placed["id"]}
    assert ids(keyed.get(OPEN_URL)) == {placed["id"]}
    assert account_balances(keyed) == {"USDT": ("4933.00000000", "67.00000000")}
    assert ids(api.get(ORDERS_URL)) == set(account.orders.values_list("pk", flat=True))
    assert placed["id"] not in ids(api.get(ORDERS_URL))

    # The other accounts' orders are out of the key's reach, including the key owner's default account.
    for other in PaperOrder.objects.exclude(account=second):
        for response in (keyed.get(f"{ORDERS_URL}/{other.pk}"), keyed.delete(f"{ORDERS_URL}/{other.pk}")):
            assert answer(response) == NO_ORDER
        assert other.events.count() == 1 and other.status == PaperOrder.Status.PENDING

    # A key may not name any other account, not even one its owner may act as.
    for other in (account, rival_account):
        response = key_client(raw, HTTP_X_ACCOUNT=str(other.pk)).get(ORDERS_URL)
        assert response.status_code == 404
        response = key_client(raw, HTTP_X_ACCOUNT=str(other.pk)).post(ORDERS_URL, MARKET_BUY, format="json")
        assert response.status_code == 404
    assert not PaperOrder.objects.filter(order_type="MARKET").exists()
    # Naming its own account is the same as naming none.
    assert ids(key_client(raw, HTTP_X_ACCOUNT=str(second.pk)).get(ORDERS_URL)) == {placed["id"]}

    # Revoked, it answers 401 and places nothing.
    revoke_api_key(second.api_keys.get())
    before = PaperOrder.objects.count()
    for response in (keyed.get(ORDERS_URL), keyed.post(ORDERS_URL, MARKET_BUY, format="json")):
        assert response.status_code == 401
    assert PaperOrder.objects.count() == before
    # An unknown key too.
    assert key_client("ptk_" + "x" * 43).get(ACCOUNT_URL).status_code == 401


def test_a_user_may_name_their_own_accounts_but_not_anothers(market, trader, api, account, rival_api, rival_account):
    second = open_account(owner=trader, name="Second desk", starting_balances={"USDT": "5000"})
    post(rival_api, ORDERS_URL, LIMIT_BUY)

    placed = api.post(ORDERS_URL, {**LIMIT_BUY, "quantity": "0.001"}, format="json", HTTP_X_ACCOUNT=str(second.pk))
    assert placed.status_code == 201, placed.content
    assert PaperOrder.objects.get(pk=placed.json()["id"]).account == second
    assert ids(api.get(ORDERS_URL, HTTP_X_ACCOUNT=str(second.pk))) == {placed.json()["id"]}
    assert ids(api.get(ORDERS_URL)) == set()

    before = balances()
    for url in (ORDERS_URL, OPEN_URL, ACCOUNT_URL, RUNS_URL, POSITIONS_URL, SUMMARY_URL, TRADES_URL):
        response = api.get(url, HTTP_X_ACCOUNT=str(rival_account.pk))
        assert response.status_code == 404, url
    for url, data in ((ORDERS_URL, MARKET_BUY), (SYNC_URL, {})):
        response = api.post(url, data, format="json", HTTP_X_ACCOUNT=str(rival_account.pk))
        assert response.status_code == 404, url
    for missing in ("999999", "not-a-number"):
        assert api.get(ORDERS_URL, HTTP_X_ACCOUNT=missing).status_code == 404
    assert balances() == before
    assert not rival_account.orders.filter(order_type="MARKET").exists()


# --- two accounts at once, for real (PostgreSQL) ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_accounts_placing_orders_at_once_each_move_only_their_own_balances(market, trader, rival):
    mine = prepare_race(trader)
    theirs = prepare_race(rival)

    def trading(account, side: str, symbol: str, quantity: str, price: str):
        def job():
            placed = []
            for i in range(6):
                order_type = "MARKET" if i % 2 else "LIMIT"
                terms = dict(account=account, symbol=symbol, side=side, order_type=order_type, quantity=D(quantity))
                if order_type == "LIMIT":
                    terms.update(price=D(price), time_in_force="GTC")
                placed.append(place_order(**terms).order.pk)
            return placed

        return job

    mine_ids, their_ids = run_together(
        trading(mine, "BUY", "BTCUSDT", "0.01", "67000"),
        trading(theirs, "SELL", "BTCUSDT", "0.02", "69000"),
    )

    assert not isinstance(mine_ids, Exception), mine_ids
    assert not isinstance(their_ids, Exception), their_ids
    assert set(mine.orders.values_list("pk", flat=True)) == set(mine_ids)
    assert set(theirs.orders.values_list("pk", flat=True)) == set(their_ids)
    assert check_balances() == []
    for account in (mine, theirs):
        held = {asset: free + locked for asset, (free, locked) in balances(account).items()}
        starting = {asset: D(amount) for asset, amount in account.starting_balances.items()}
        flows = {asset: D("0") for asset in starting}
        for trade in Trade.objects.filter(account=account).exclude(source=Trade.Source.OPENING):
            assert trade.order.account_id == account.pk
            flows[trade.base_asset] += trade.base_delta
            flows[trade.quote_asset] += trade.quote_delta
        assert held == {asset: starting[asset] + flows[asset] for asset in starting}, account
        locked = sum(o.locked_amount for o in account.orders.filter(status=PaperOrder.Status.PENDING))
        assert locked == balances(account)["USDT" if account == mine else "BTC"][1]
    # Three MARKET fills each: the trader bought 0.03 BTC (less fees), the rival sold 0.06.
    assert Trade.objects.filter(account=mine, source=Trade.Source.FILL).count() == 3
    assert Trade.objects.filter(account=theirs, source=Trade.Source.FILL).count() == 3
    assert balances(mine)["BTC"] == (D("1.02997"), D("0"))
    assert balances(theirs)["BTC"] == (D("0.88"), D("0.06"))
