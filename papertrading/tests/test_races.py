"""Races between real concurrent transactions (threads, each with its own PostgreSQL connection).

SQLite serialises every write, so these only say something on PostgreSQL; elsewhere they are skipped.
"""

from decimal import Decimal as D

import pytest
from django.contrib.auth.models import User

from papertrading.balances import check_balances
from papertrading.errors import OrderNotWorking, OrderRejected
from papertrading.models import Account, OrderFill, PaperOrder, SimulatedBalance
from papertrading.services import cancel_order, match_orders, open_account, place_order
from papertrading.tests.support import balances, prepare_race, run_together

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def racer(market) -> Account:
    """PostgreSQL only: the account that races (USDT 100000, BTC 1, ETH 10)."""
    return prepare_race()


def test_two_posts_with_the_same_client_order_id_at_once_make_one_order_and_one_reservation(racer):
    def post():
        return place_order(
            account=racer, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=D("0.01"), price=D("60000"),
            time_in_force="GTC", client_order_id="same-id",
        )  # fmt: skip

    first, second = run_together(post, post)

    assert {first.order.pk, second.order.pk} == {PaperOrder.objects.get().pk}
    assert sorted([first.created, second.created]) == [False, True]
    assert SimulatedBalance.objects.get(account=racer, asset="USDT").locked == D("600")
    assert check_balances() == []


def test_a_cancel_and_a_fill_of_the_same_order_at_once_end_in_exactly_one_of_them(racer):
    for _ in range(5):
        order = place_order(
            account=racer, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=D("0.01"), price=D("67000"),
            time_in_force="GTC",
        ).order  # fmt: skip

        cancel, fill = run_together(
            lambda order=order: cancel_order(account=racer, order_id=order.pk),
            lambda: match_orders(symbol="BTCUSDT", market_price=D("66000")),
        )

        order.refresh_from_db()
        if order.status == PaperOrder.Status.CANCELLED:
            assert fill == 0 and order.fills.count() == 0
        else:
            assert order.status == PaperOrder.Status.FILLED and fill == 1
            assert isinstance(cancel, OrderNotWorking)
        assert order.events.count() == 2  # placed, then exactly one ending
        assert check_balances() == []


def test_orders_racing_for_the_last_funds_never_overdraw_the_account(racer):
    # 100000 USDT free: ten orders of 15000 each can lock at most six.
    def buy():
        return place_order(
            account=racer, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=D("0.25"), price=D("60000"),
            time_in_force="GTC",
        )  # fmt: skip

    results = run_together(*[buy] * 10)

    placed = [r for r in results if not isinstance(r, Exception)]
    rejected = [r for r in results if isinstance(r, OrderRejected)]
    assert (len(placed), len(rejected)) == (6, 4)
    usdt = SimulatedBalance.objects.get(account=racer, asset="USDT")
    assert (usdt.free, usdt.locked) == (D("10000"), D("90000"))
    assert check_balances() == []


def test_two_accounts_racing_at_once_each_spend_only_their_own_balance(racer):
    """Both accounts try for more than they hold at the same moment: each gets exactly what its own balance allows,
    and each one's balances move by exactly its own fills and reservations, never by the other's."""
    small = open_account(
        owner=User.objects.create_user("small-racer"), name="Small desk", starting_balances={"USDT": "31000"}
    )

    def limit_buy(account):
        # 0.25 BTC at 60000: 15000 USDT locked while it rests below the 68000 market.
        return lambda: place_order(
            account=account, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=D("0.25"), price=D("60000"),
            time_in_force="GTC",
        )  # fmt: skip

    def market_buy(account):
        # 0.01 BTC at 68000 slipped 0.05 %: 680.34 USDT, 0.00001 BTC fee.
        return lambda: place_order(
            account=account, symbol="BTCUSDT", side="BUY", order_type="MARKET", quantity=D("0.01")
        )

    jobs = {racer: [limit_buy(racer)] * 9 + [market_buy(racer)], small: [limit_buy(small)] * 9 + [market_buy(small)]}
    # Interleaved, so the two accounts' statements really meet: racer, small, racer, small, ...
    owners = [racer, small] * 10
    results = run_together(*[job for pair in zip(jobs[racer], jobs[small], strict=True) for job in pair])

    outcomes: dict[Account, dict[str, int]] = {racer: {}, small: {}}
    for owner, result in zip(owners, results, strict=True):
        if isinstance(result, OrderRejected):
            assert (result.code, result.order.account_id) == (-2010, owner.pk)
            outcome = "REJECTED"
        else:
            assert not isinstance(result, Exception), result
            assert result.order.account_id == owner.pk
            outcome = f"{result.order.order_type} {result.order.status}"
        outcomes[owner][outcome] = outcomes[owner].get(outcome, 0) + 1
    # 100000 USDT: the MARKET buy (680.34) and six limits (90000) fit, whichever came first; a seventh does not.
    assert outcomes[racer] == {"LIMIT PENDING": 6, "MARKET FILLED": 1, "REJECTED": 3}
    # 31000 USDT: the MARKET buy and two limits (30680.34 in all); the racer's free funds never helped it.
    assert outcomes[small] == {"LIMIT PENDING": 2, "MARKET FILLED": 1, "REJECTED": 7}

    assert balances(racer) == {
        "USDT": (D("9319.66"), D("90000")),
        "BTC": (D("1.00999"), D("0")),
        "ETH": (D("10"), D("0")),
    }
    assert balances(small) == {"USDT": (D("319.66"), D("30000")), "BTC": (D("0.00999"), D("0"))}
    for account in (racer, small):
        # What the account holds = what it started with + its own fills; what it locks = its own resting orders.
        held = {asset: D(amount) for asset, amount in account.starting_balances.items()}
        for fill in OrderFill.objects.filter(order__account=account).select_related("order"):
            assert fill.order.side == "BUY"
            held["BTC"] = held.get("BTC", D("0")) + fill.quantity - fill.commission
            held["USDT"] -= fill.quantity * fill.price
        assert {asset: free + locked for asset, (free, locked) in balances(account).items()} == held
        resting = account.orders.filter(status=PaperOrder.Status.PENDING)
        assert balances(account)["USDT"][1] == sum(order.locked_amount for order in resting)
    assert check_balances() == []


def test_first_buys_of_an_asset_the_account_does_not_hold_yet_all_fill_when_they_race(racer):
    """Each buy opens the SOL balance if it finds none; one opened by a concurrent buy must not look like a
    shortage (the account has ample USDT for all of them)."""

    def buy():
        return place_order(account=racer, symbol="SOLUSDT", side="BUY", order_type="MARKET", quantity=D("1"))

    results = run_together(*[buy] * 8)

    assert [r.order.status for r in results if not isinstance(r, Exception)] == ["FILLED"] * 8, results
    # 150 slipped 0.05 % to 150.08 on the 0.01 tick; 1 SOL each, less the 0.1 % fee.
    assert balances(racer)["SOL"] == (D("7.992"), D("0"))
    assert balances(racer)["USDT"] == (D("100000") - 8 * D("150.08"), D("0"))
    assert check_balances() == []
