"""The testnet allocation: per asset, what the one exchange account holds next to what the desk accounts hold of it
and the rest, flagged where the accounts hold more than the exchange. Against the `Exchange` fake of
test_testnet_venue.py, which holds BTC 1 and USDT 9803.999992 free + 60 locked.
"""

from decimal import Decimal

import pytest
import responses

from papertrading import services
from papertrading.accounts import external_account
from papertrading.allocation import AllocationRow, allocation_rows
from papertrading.balances import adjust_balance
from papertrading.errors import VenueUnavailable
from papertrading.models import SimulatedBalance
from papertrading.tests.test_testnet_venue import (  # noqa: F401 - the fixtures are used by name
    desk_fixture,
    exchange_fixture,
    limit_payload,
    open_testnet_account,
    place,
    testnet_fixture,
)

pytestmark = pytest.mark.django_db


def test_each_asset_shows_the_exchange_the_accounts_and_the_unallocated_rest(exchange, trader, rival):
    open_testnet_account(trader, USDT="5000", BTC="0.5")
    open_testnet_account(rival, "Rival desk", USDT="1000.5")

    assert allocation_rows() == [
        AllocationRow("BTC", Decimal("1"), Decimal("0.5"), Decimal("0.5"), differs=False),
        AllocationRow("USDT", Decimal("9863.999992"), Decimal("6000.5"), Decimal("3863.499992"), differs=False),
    ]


def test_what_an_accounts_working_order_holds_still_counts_as_the_accounts(api, desk, exchange):
    assert place(api, limit_payload()).status_code == 201
    assert SimulatedBalance.objects.get(account=desk, asset="USDT").locked == Decimal("60")

    [btc, usdt] = allocation_rows()

    assert (usdt.accounts_total, usdt.unallocated) == (Decimal("5000"), Decimal("4863.999992"))
    assert btc.accounts_total == Decimal("0.5")


def test_an_asset_only_the_exchange_holds_is_all_unallocated_and_empty_rows_are_left_out(exchange, trader):
    exchange.balances.append({"asset": "BNB", "free": "2.50000000", "locked": "0.50000000"})
    account = open_testnet_account(trader, USDT="100")
    SimulatedBalance.objects.create(account=account, asset="XRP")  # opened by an order, never funded

    rows = {row.asset: row for row in allocation_rows()}

    assert sorted(rows) == ["BNB", "BTC", "USDT"]
    assert rows["BNB"] == AllocationRow("BNB", Decimal("3"), Decimal("0"), Decimal("3"), differs=False)
    assert rows["BTC"].unallocated == Decimal("1")


def test_accounts_holding_more_than_the_exchange_are_flagged(exchange, trader):
    account = open_testnet_account(trader, USDT="9000", BTC="1")
    # Funds left the exchange account from elsewhere, and an operator credited the desk besides.
    exchange.balances[0]["free"] = "0.40000000"
    adjust_balance(account_id=account.pk, asset="USDT", amount=Decimal("900"), reason="Credited by hand")

    rows = {row.asset: row for row in allocation_rows()}

    assert rows["BTC"] == AllocationRow("BTC", Decimal("0.4"), Decimal("1"), Decimal("-0.6"), differs=True)
    assert rows["USDT"] == AllocationRow(
        "USDT", Decimal("9863.999992"), Decimal("9900"), Decimal("-36.000008"), differs=True
    )


def test_only_desk_accounts_on_the_testnet_count(exchange, trader, settings):
    open_testnet_account(trader, USDT="5000")
    settings.PAPER_TRADING_MODE = "simulation"
    services.open_account(owner=trader, name="Simulated", venue="simulation")  # 100000 USDT, 1 BTC, 10 ETH
    external = external_account("testnet")
    assert not SimulatedBalance.objects.filter(account=external).exists()

    rows = {row.asset: row for row in allocation_rows()}

    assert sorted(rows) == ["BTC", "USDT"]
    assert rows["USDT"].accounts_total == Decimal("5000")
    assert rows["BTC"].accounts_total == Decimal("0")
    assert not any(row.differs for row in rows.values())


def test_without_the_exchange_there_is_no_allocation_to_show(exchange, trader, testnet):
    open_testnet_account(trader)
    testnet.BINANCE_TESTNET_API_KEY = ""

    with responses.RequestsMock() as rsps, pytest.raises(VenueUnavailable, match="BINANCE_TESTNET_API_KEY"):
        allocation_rows()
    assert len(rsps.calls) == 0
