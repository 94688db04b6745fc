"""The simulated account: opening, reserving, operator adjustments and the self-check that recomputes it."""

from decimal import Decimal as D

import pytest

from papertrading.balances import (
    STARTING_BALANCE_REASON,
    adjust_balance,
    check_balances,
    lock_balances,
    release,
    reservation,
    reserve_free_amount,
)
from papertrading.models import BalanceAdjustment, PaperOrder, SimulatedBalance, SymbolRule
from papertrading.services import cancel_order, default_account_for, open_account, place_order
from papertrading.tests.support import balances

pytestmark = pytest.mark.django_db


def test_account_opens_with_starting_balances_recorded_as_adjustments(account):
    assert balances(account) == {"BTC": (D("1"), D("0")), "ETH": (D("10"), D("0")), "USDT": (D("100000"), D("0"))}
    assert sorted(BalanceAdjustment.objects.filter(account=account).values_list("asset", "amount", "reason")) == [
        ("BTC", D("1"), STARTING_BALANCE_REASON),
        ("ETH", D("10"), STARTING_BALANCE_REASON),
        ("USDT", D("100000"), STARTING_BALANCE_REASON),
    ]
    assert check_balances() == []


def test_an_account_opens_with_its_own_starting_balances_beside_the_others(account, trader):
    other = open_account(owner=trader, name="Small", starting_balances={"USDT": "250.5", "SOL": "3"})

    assert balances(other) == {"SOL": (D("3"), D("0")), "USDT": (D("250.5"), D("0"))}
    assert balances(account)["USDT"] == (D("100000"), D("0"))
    assert sorted(BalanceAdjustment.objects.filter(account=other).values_list("asset", "amount")) == [
        ("SOL", D("3")),
        ("USDT", D("250.5")),
    ]
    assert check_balances() == []


def test_asking_for_the_default_account_again_changes_nothing(settings, trader, account):
    settings.SIMULATOR_STARTING_BALANCES = {"USDT": D("5")}

    assert default_account_for(trader) == account
    assert balances(account)["USDT"] == (D("100000"), D("0"))
    assert BalanceAdjustment.objects.count() == 3


def test_changing_the_starting_setting_later_does_not_make_an_old_account_drift(settings, account):
    settings.SIMULATOR_STARTING_BALANCES = {"USDT": D("1"), "DOGE": D("1000")}
    assert check_balances() == []


def test_lock_balances_creates_empty_rows_for_new_assets(account):
    rows = lock_balances(account.pk, "SOL", "USDT")
    assert set(rows) == {"SOL", "USDT"}
    assert (rows["SOL"].free, rows["SOL"].locked) == (D("0"), D("0"))
    assert (rows["USDT"].free, rows["USDT"].locked) == (D("100000"), D("0"))
    assert SimulatedBalance.objects.get(account=account, asset="SOL").free == 0


def test_reserve_moves_free_to_locked_and_refuses_more_than_free_without_change(account):
    assert reserve_free_amount(account.pk, "USDT", D("40000"))
    assert not reserve_free_amount(account.pk, "USDT", D("60000.00000001"))
    balance = SimulatedBalance.objects.get(account=account, asset="USDT")
    assert (balance.free, balance.locked) == (D("60000"), D("40000"))
    release(balance, D("40000"))  # no working order holds it: give it back for the closing balance check
    balance.save()


def test_reserve_moves_only_the_accounts_own_balance(account, rival_account):
    assert reserve_free_amount(rival_account.pk, "BTC", D("0.5"))
    # The rival's BTC is now short of another 0.6; the trader's full 1 BTC does not lend it any.
    assert not reserve_free_amount(rival_account.pk, "BTC", D("0.6"))

    assert balances(rival_account)["BTC"] == (D("0.5"), D("0.5"))
    assert balances(account)["BTC"] == (D("1"), D("0"))
    balance = SimulatedBalance.objects.get(account=rival_account, asset="BTC")
    release(balance, D("0.5"))
    balance.save()


def test_reserve_of_an_asset_the_account_never_held_opens_an_empty_balance_and_refuses(trader):
    other = open_account(owner=trader, name="Dollars only", starting_balances={"USDT": "1000"})

    assert not reserve_free_amount(other.pk, "BTC", D("0.5"))

    assert balances(other) == {"BTC": (D("0"), D("0")), "USDT": (D("1000"), D("0"))}


@pytest.mark.parametrize(
    ("side", "order_type", "price", "stop_price", "expected"),
    [
        ("BUY", "LIMIT", "67000.01", None, ("USDT", D("670.0001"))),
        ("SELL", "LIMIT", "67000.01", None, ("BTC", D("0.01"))),
        ("BUY", "STOP_LOSS", None, "69000", ("USDT", D("690"))),
        ("BUY", "TAKE_PROFIT", None, "66000", ("USDT", D("660"))),
        ("SELL", "STOP_LOSS", None, "66000", ("BTC", D("0.01"))),
        ("SELL", "TAKE_PROFIT", None, "70000", ("BTC", D("0.01"))),
    ],
)
def test_reservation_holds_quote_for_buys_at_their_price_and_base_for_sells(
    side, order_type, price, stop_price, expected
):
    order = PaperOrder(
        symbol="BTCUSDT",
        side=side,
        order_type=order_type,
        quantity=D("0.01"),
        price=D(price) if price else None,
        stop_price=D(stop_price) if stop_price else None,
    )
    assert reservation(order, SymbolRule.objects.get(symbol="BTCUSDT")) == expected


def test_adjust_balance_changes_free_and_writes_the_reason(admin_user, account):
    balance = adjust_balance(
        account_id=account.pk, asset="usdt", amount=D("-250.5"), reason="Fee refund reversal", user=admin_user
    )

    assert (balance.free, balance.locked) == (D("99749.5"), D("0"))
    assert balances(account)["USDT"] == (D("99749.5"), D("0"))
    adjustment = BalanceAdjustment.objects.exclude(reason=STARTING_BALANCE_REASON).get()
    assert (adjustment.account, adjustment.asset, adjustment.amount, adjustment.reason, adjustment.created_by) == (
        account,
        "USDT",
        D("-250.5"),
        "Fee refund reversal",
        admin_user,
    )
    assert check_balances() == []


def test_adjust_balance_changes_only_its_own_account(account, rival_account):
    adjust_balance(account_id=rival_account.pk, asset="USDT", amount=D("7"), reason="bonus")

    assert balances(rival_account)["USDT"] == (D("100007"), D("0"))
    assert balances(account)["USDT"] == (D("100000"), D("0"))
    assert check_balances() == []


def test_adjust_balance_of_a_new_asset_opens_it(account):
    adjust_balance(account_id=account.pk, asset="SOL", amount=D("3"), reason="airdrop")
    assert balances(account)["SOL"] == (D("3"), D("0"))
    assert check_balances() == []


@pytest.mark.parametrize("reason", ["", "   "])
def test_adjust_balance_without_a_reason_changes_nothing(reason, account):
    with pytest.raises(ValueError, match="Say why"):
        adjust_balance(account_id=account.pk, asset="USDT", amount=D("5"), reason=reason)
    assert balances(account)["USDT"] == (D("100000"), D("0"))
    assert BalanceAdjustment.objects.count() == 3


def test_adjust_balance_below_zero_free_is_refused(market, account):
    place_order(
        account=account,
        symbol="BTCUSDT",
        side="SELL",
        order_type="LIMIT",
        quantity=D("0.6"),
        price=D("70000"),
        time_in_force="GTC",
    )
    # 0.4 BTC is free, 0.6 locked: locked amounts cannot be taken by an adjustment.
    with pytest.raises(ValueError, match="negative"):
        adjust_balance(account_id=account.pk, asset="BTC", amount=D("-0.5"), reason="oops")
    assert balances(account)["BTC"] == (D("0.4"), D("0.6"))


def test_check_balances_is_clean_after_fills_rests_and_cancels(market, account):
    place_order(account=account, symbol="BTCUSDT", side="BUY", order_type="MARKET", quantity=D("0.123"))
    resting = place_order(
        account=account,
        symbol="BTCUSDT",
        side="BUY",
        order_type="LIMIT",
        quantity=D("0.01"),
        price=D("60000.01"),
        time_in_force="GTC",
    ).order
    place_order(
        account=account,
        symbol="ETHUSDT",
        side="SELL",
        order_type="STOP_LOSS",
        quantity=D("1.2345"),
        stop_price=D("3400"),
    )
    cancel_order(account=account, order_id=resting.pk)
    market.move("ETHUSDT", "3399.99")

    assert check_balances() == []
    assert balances(account)["ETH"][1] == D("0")


def test_check_balances_reports_a_tampered_free_amount(market, account):
    SimulatedBalance.objects.filter(account=account, asset="USDT").update(free=D("100000.01"))

    drifts = check_balances()

    assert [
        (d.account, d.asset, d.stored_free, d.expected_free, d.stored_locked, d.expected_locked) for d in drifts
    ] == [(account, "USDT", D("100000.01"), D("100000"), D("0"), D("0"))]
    assert f"{account} (#{account.pk}) USDT: stored free 100000.01" in str(drifts[0])
    SimulatedBalance.objects.filter(account=account, asset="USDT").update(free=D("100000"))
    assert check_balances() == []


def test_check_balances_names_the_account_that_drifted_and_checks_only_those_asked(market, account, rival_account):
    SimulatedBalance.objects.filter(account=rival_account, asset="ETH").update(free=D("9"))

    assert [(d.account, d.asset, d.stored_free, d.expected_free) for d in check_balances()] == [
        (rival_account, "ETH", D("9"), D("10"))
    ]
    assert check_balances([account]) == []
    assert [d.account for d in check_balances([rival_account])] == [rival_account]
    SimulatedBalance.objects.filter(account=rival_account, asset="ETH").update(free=D("10"))


def test_check_balances_reports_locked_that_no_working_order_explains(market, account):
    place_order(
        account=account,
        symbol="BTCUSDT",
        side="SELL",
        order_type="LIMIT",
        quantity=D("0.5"),
        price=D("70000"),
        time_in_force="GTC",
    )
    # An order finishing behind the services' back leaves its lock orphaned.
    PaperOrder.objects.update(status=PaperOrder.Status.CANCELLED)

    drifts = check_balances()

    assert [(d.account, d.asset, d.stored_locked, d.expected_locked, d.expected_free) for d in drifts] == [
        (account, "BTC", D("0.5"), D("0"), D("1"))
    ]
    PaperOrder.objects.update(status=PaperOrder.Status.PENDING)
    assert check_balances() == []


def test_check_balances_reports_a_deleted_balance_row(account):
    SimulatedBalance.objects.filter(account=account, asset="ETH").delete()

    drifts = check_balances()

    assert [(d.account, d.asset, d.stored_free, d.expected_free) for d in drifts] == [(account, "ETH", D("0"), D("10"))]
    SimulatedBalance.objects.create(account=account, asset="ETH", free=D("10"))
